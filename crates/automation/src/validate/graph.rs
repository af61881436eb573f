//! The step graph: slugs, edges, cycles, reachability, loop bodies, and the variables each step reads.

use super::fields::check_fields;
use super::limits::{step_outputs, MAX_NAME_LEN, MAX_STEPS, SCHEDULE_PAYLOAD};
use super::parsers::is_slug;
use super::reads::{fields_of, no_contact_reason, sources};
use super::{step_loc, Problems};
use crate::model::{Spec, StepKind, Trigger};
use crate::template::{Templates, ROOTS};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// An edge of the graph: from step, its field (`next`, `then`, `else`, `body`), to step.
#[derive(Clone, Copy)]
struct Edge {
    from: usize,
    label: &'static str,
    to: usize,
}

pub(super) fn check_steps(spec: &Spec, templates: &Templates, p: &mut Problems) {
    let steps = &spec.steps;
    if steps.is_empty() {
        p.add("steps", "an automation needs at least one step");
        return;
    }
    if steps.len() > MAX_STEPS {
        p.add("steps", format!("at most {MAX_STEPS} steps"));
        return;
    }
    let n = steps.len();
    let loc: Vec<String> = steps.iter().enumerate().map(|(i, s)| step_loc(i, &s.slug)).collect();

    // Slugs.
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, s) in steps.iter().enumerate() {
        if !is_slug(&s.slug) {
            p.add(
                format!("{}.slug", loc[i]),
                format!(
                    "`{}` is not a slug: a lowercase letter, then up to 63 lowercase letters, digits or `_`",
                    s.slug
                ),
            );
        }
        match index.get(s.slug.as_str()) {
            Some(&j) => p.add(
                format!("{}.slug", loc[i]),
                format!("`{}` is also the slug of steps[{j}]; slugs must be unique", s.slug),
            ),
            None => {
                index.insert(&s.slug, i);
            }
        }
        if let Some(label) = &s.label {
            if label.chars().count() > MAX_NAME_LEN {
                p.add(
                    format!("{}.label", loc[i]),
                    format!("at most {MAX_NAME_LEN} characters"),
                );
            }
        }
    }
    let start = match spec.start.as_deref() {
        None => Some(0),
        Some(s) => match index.get(s) {
            Some(&i) => Some(i),
            None => {
                p.add("start", format!("no step has the slug `{s}`"));
                None
            }
        },
    };

    // Edges.
    let mut edges: Vec<Edge> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let mut outs: Vec<(&'static str, &str)> = Vec::new();
        match &s.kind {
            StepKind::Condition { then, otherwise, .. } => {
                if s.next.is_some() {
                    p.add(
                        format!("{}.next", loc[i]),
                        "a condition continues with `then` and `else`, not `next`",
                    );
                }
                outs.extend(then.as_deref().map(|t| ("then", t)));
                outs.extend(otherwise.as_deref().map(|t| ("else", t)));
            }
            StepKind::End { .. } => {
                if s.next.is_some() {
                    p.add(format!("{}.next", loc[i]), "an end step ends the run: it has no `next`");
                }
            }
            StepKind::Loop { body, .. } => {
                outs.push(("body", body));
                outs.extend(s.next.as_deref().map(|t| ("next", t)));
            }
            _ => outs.extend(s.next.as_deref().map(|t| ("next", t))),
        }
        for (label, target) in outs {
            match index.get(target) {
                None => p.add(
                    format!("{}.{label}", loc[i]),
                    format!("no step has the slug `{target}`"),
                ),
                Some(&j) if j == i && label == "body" => {
                    p.add(format!("{}.body", loc[i]), "a loop's body cannot be the loop itself")
                }
                Some(&j) => edges.push(Edge { from: i, label, to: j }),
            }
        }
    }

    // Cycles: report each back edge found by a depth-first search, then drop it so the rest of
    // the analysis works on a DAG.
    let mut outs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (k, e) in edges.iter().enumerate() {
        outs[e.from].push(k);
    }
    let mut back = vec![false; edges.len()];
    let mut color = vec![0u8; n];
    let roots = start.into_iter().chain(0..n);
    for root in roots {
        if color[root] != 0 {
            continue;
        }
        color[root] = 1;
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(top) = stack.last_mut() {
            let (u, k) = *top;
            if k == outs[u].len() {
                color[u] = 2;
                stack.pop();
                continue;
            }
            top.1 += 1;
            let e = edges[outs[u][k]];
            match color[e.to] {
                0 => {
                    color[e.to] = 1;
                    stack.push((e.to, 0));
                }
                1 => {
                    back[outs[u][k]] = true;
                    let from = stack.iter().position(|&(v, _)| v == e.to).unwrap_or(0);
                    let mut path: Vec<&str> = stack[from..].iter().map(|&(v, _)| steps[v].slug.as_str()).collect();
                    path.push(&steps[e.to].slug);
                    p.add(
                        format!("{}.{}", loc[u], e.label),
                        format!(
                            "makes a cycle ({}); steps repeat only through a loop step",
                            path.join(" → ")
                        ),
                    );
                }
                _ => {}
            }
        }
    }
    let dag: Vec<Edge> = edges.iter().zip(&back).filter(|(_, b)| !**b).map(|(e, _)| *e).collect();
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in &dag {
        succ[e.from].push(e.to);
        preds[e.to].push(e.from);
    }
    let reach_from = |root: usize| -> Vec<bool> {
        let mut seen = vec![false; n];
        let mut queue = VecDeque::from([root]);
        seen[root] = true;
        while let Some(u) = queue.pop_front() {
            for &v in &succ[u] {
                if !seen[v] {
                    seen[v] = true;
                    queue.push_back(v);
                }
            }
        }
        seen
    };

    // Reachability.
    let reachable = match start {
        Some(s) => reach_from(s),
        None => vec![false; n],
    };
    if let Some(s) = start {
        for i in 0..n {
            if !reachable[i] {
                p.add(
                    loc[i].clone(),
                    format!(
                        "unreachable: no path from the start step `{}` leads here",
                        steps[s].slug
                    ),
                );
            }
        }
    }

    // Loop bodies: closed regions.
    let mut in_body = vec![false; n];
    let mut regions: Vec<(usize, Vec<bool>)> = Vec::new();
    for e in dag.iter().filter(|e| e.label == "body") {
        let region = reach_from(e.to);
        if region[e.from] {
            continue; // a cycle, reported above
        }
        for other in &dag {
            let into = region[other.to] && !region[other.from];
            if into && !(other.from == e.from && other.label == "body") {
                p.add(
                    format!("{}.{}", loc[other.from], other.label),
                    format!(
                        "leads into the body of loop `{}` (to `{}`); a loop's body is entered only through the loop",
                        steps[e.from].slug, steps[other.to].slug
                    ),
                );
            }
        }
        for (i, r) in region.iter().enumerate() {
            in_body[i] |= *r;
        }
        regions.push((e.from, region));
    }

    // What holds on every path to each step: the steps that ran before it (its strict
    // dominators) and whether the run has a contact. Forward "must" analysis over the DAG in
    // topological order.
    let mut order = Vec::with_capacity(n);
    if let Some(s) = start {
        let mut indeg: Vec<usize> = (0..n)
            .map(|v| preds[v].iter().filter(|&&u| reachable[u]).count())
            .collect();
        let mut queue = VecDeque::from([s]);
        indeg[s] = 0;
        while let Some(u) = queue.pop_front() {
            order.push(u);
            for &v in &succ[u] {
                indeg[v] -= 1;
                if indeg[v] == 0 {
                    queue.push_back(v);
                }
            }
        }
    }
    let mut before: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    let mut has_contact = vec![false; n];
    for (k, &v) in order.iter().enumerate() {
        if k == 0 {
            has_contact[v] = spec.trigger.has_contact();
            continue;
        }
        let mut dom: Option<BTreeSet<usize>> = None;
        let mut contact = true;
        for &u in preds[v].iter().filter(|&&u| reachable[u]) {
            let mut d = before[u].clone();
            d.insert(u);
            dom = Some(match dom {
                None => d,
                Some(prev) => prev.intersection(&d).copied().collect(),
            });
            contact &= has_contact[u] || steps[u].kind.sets_run_contact();
        }
        before[v] = dom.unwrap_or_default();
        has_contact[v] = contact;
    }
    let mut ancestors_cache: HashMap<usize, Vec<bool>> = HashMap::new();

    // Each step.
    for (i, s) in steps.iter().enumerate() {
        let at = &loc[i];
        check_fields(at, &s.kind, p);
        let analysed = reachable[i];
        if analysed && s.kind.uses_run_contact() && !has_contact[i] {
            p.add(
                at.clone(),
                format!(
                    "needs a contact: {}; or set `contact`",
                    no_contact_reason(&spec.trigger)
                ),
            );
        }
        for src in sources(s) {
            let field = format!("{at}.{}", src.field);
            let vars = if src.expression {
                templates.expression_variables(src.text)
            } else {
                templates.variables(src.text)
            };
            let vars = match vars {
                Ok(v) => v,
                Err(e) => {
                    p.add(field, e.to_string());
                    continue;
                }
            };
            for path in vars {
                let segs: Vec<&str> = path.split('.').collect();
                let problem = match segs[0] {
                    "steps" if segs.len() > 1 && analysed => {
                        let x = segs[1];
                        match index.get(x) {
                            None => Some(format!("there is no step `{x}`")),
                            Some(&j) if j == i => Some("a step cannot read its own output".to_string()),
                            Some(&j) if !src.lenient && !before[i].contains(&j) => {
                                let anc = ancestors_cache.entry(j).or_insert_with(|| reach_from(j));
                                let outer_loop = regions.iter().find(|(_, r)| r[j] && !r[i]).map(|(l, _)| *l);
                                Some(if let Some(l) = outer_loop {
                                    format!(
                                        "step `{x}` is inside the body of loop `{}`: it can be read only inside that body",
                                        steps[l].slug
                                    )
                                } else if anc[i] {
                                    format!(
                                        "step `{x}` does not run before this step on every path (it is on another branch)"
                                    )
                                } else {
                                    format!("step `{x}` does not run before this step")
                                })
                            }
                            Some(&j) => segs.get(2).and_then(|f| {
                                let outputs = step_outputs(&steps[j].kind);
                                (!outputs.contains(f)).then(|| {
                                    format!(
                                        "a {} step's output has no `{f}` (it has {})",
                                        steps[j].kind.type_name(),
                                        outputs.join(", ")
                                    )
                                })
                            }),
                        }
                    }
                    "steps" => None,
                    "contact" if analysed && !src.lenient && !has_contact[i] => {
                        Some(format!("needs a contact: {}", no_contact_reason(&spec.trigger)))
                    }
                    "contact" => None,
                    "loop" if !in_body[i] => Some("`loop` exists only inside a loop's body".to_string()),
                    "loop" => fields_of("loop", &segs, &["item", "index"]),
                    "trigger" => match (segs.get(1), segs.get(2)) {
                        (Some(&"payload"), Some(f))
                            if matches!(spec.trigger, Trigger::Schedule { .. }) && !SCHEDULE_PAYLOAD.contains(f) =>
                        {
                            Some(format!(
                                "a schedule trigger's payload has only {}",
                                SCHEDULE_PAYLOAD.join(", ")
                            ))
                        }
                        _ => fields_of("trigger", &segs, &["payload", "type"]),
                    },
                    "automation" => fields_of("automation", &segs, &["id", "name", "time_zone"]),
                    "run" => fields_of("run", &segs, &["id", "started"]),
                    "now" => (segs.len() > 1).then(|| "`now` is a time (RFC 3339 text); it has no fields".to_string()),
                    root => Some(format!(
                        "unknown variable `{root}`; variables start with {}",
                        ROOTS.join(", ")
                    )),
                };
                if let Some(msg) = problem {
                    p.add(field.clone(), format!("`{path}`: {msg}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, fields};
    use serde_json::json;

    #[test]
    fn variables_must_exist_when_the_step_runs() {
        let v = json!({
            "name": "vars", "trigger": {"type": "webhook"},
            "steps": [
                {"slug": "start", "type": "condition", "rules": [{"variable": "trigger.payload.x", "op": "exists"}],
                 "then": "yes", "else": "no"},
                {"slug": "yes", "type": "create_contact", "phone_number": "{{ trigger.payload.phone }}", "next": "join"},
                {"slug": "no", "type": "http_request", "url": "https://example.com", "next": "join"},
                {"slug": "join", "type": "http_request", "url": "https://example.com/{{ contact.id }}",
                 "headers": {"X-Yes": "{{ steps.yes.id }}", "X-Start": "{{ steps.start.matched }}",
                             "X-Bad": "{{ steps.start.outcome }}", "X-Self": "{{ steps.join.status }}",
                             "X-Later": "{{ steps.each.count }}", "X-Run": "{{ run.nope }}", "X-Ok": "{{ automation.name }}"},
                 "next": "each"},
                {"slug": "each", "type": "loop", "items": "steps.no.body.items", "body": "inner", "next": "after"},
                {"slug": "inner", "type": "update_contact", "contact": "{{ loop.item.id }}", "name": "{{ loop.item.name }}"},
                {"slug": "after", "type": "condition", "rules": [
                    {"variable": "steps.inner.id", "op": "exists"}, {"variable": "steps.yes.created_new", "op": "not_exists"},
                    {"variable": "contact.email", "op": "exists"}, {"variable": "steps.yes.nope", "op": "exists"}],
                 "then": "end"},
                {"slug": "end", "type": "end", "outcome": "{{ steps.inner.id }}"}
            ]
        });
        let got = fields(&check(v).unwrap_err());
        let expect: &[(&str, &str)] = &[
            (
                "steps[3] (join).url",
                "`contact.id`: needs a contact: a webhook trigger brings no contact",
            ),
            (
                "steps[3] (join).headers.X-Yes",
                "step `yes` does not run before this step on every path",
            ),
            (
                "steps[3] (join).headers.X-Bad",
                "a condition step's output has no `outcome`",
            ),
            ("steps[3] (join).headers.X-Self", "a step cannot read its own output"),
            (
                "steps[3] (join).headers.X-Later",
                "step `each` does not run before this step",
            ),
            ("steps[3] (join).headers.X-Run", "`run` has no `nope`"),
            (
                "steps[4] (each).items",
                "step `no` does not run before this step on every path",
            ),
            (
                "steps[6] (after).rules[3].variable",
                "a create_contact step's output has no `nope`",
            ),
            (
                "steps[7] (end).outcome",
                "step `inner` is inside the body of loop `each`: it can be read only inside",
            ),
        ];
        for (field, msg) in expect {
            assert!(
                got.iter().any(|(f, m)| f == field && m.contains(msg)),
                "missing {field}: {msg}\n got: {got:#?}"
            );
        }
        assert_eq!(got.len(), expect.len(), "{got:#?}");
    }

    #[test]
    fn loop_bodies_are_entered_only_through_the_loop() {
        let v = json!({
            "name": "loops", "trigger": {"type": "contact_created"},
            "steps": [
                {"slug": "a", "type": "loop", "items": "trigger.payload.tags", "body": "b", "next": "c"},
                {"slug": "b", "type": "add_tag", "tags": ["{{ loop.item }}"], "next": "c"},
                {"slug": "c", "type": "remove_tag", "tags": ["x"]}
            ]
        });
        let got = fields(&check(v).unwrap_err());
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!(got[0].0, "steps[0] (a).next");
        assert!(got[0].1.contains("leads into the body of loop `a`"), "{got:#?}");
    }
}
