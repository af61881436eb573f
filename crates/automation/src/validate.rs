//! The whole-graph check a save must pass. [`validate`] reports every problem it finds, each
//! located like the parse errors of [`crate::model::parse_spec`]: `steps[2] (notify).url`,
//! `steps[0] (check).rules[1].value`, `trigger.cron`, `time_zone`, `calling.start`, `name`.
//!
//! What it checks:
//! - the automation: `name` (1..=200 characters), `time_zone` (IANA), the trigger (a schedule's
//!   `cron`, or its `cadence` with the fields that cadence needs, and that it ever fires; call
//!   statuses and agent ids of `call_completed`; tags of `tag_added`), the calling rules;
//! - the graph: at least one step, slugs unique and `^[a-z][a-z0-9_]{0,63}$`, `start` exists,
//!   every edge (`next`, `then`, `else`, `body`) names a step, `end` and `condition` steps have
//!   no `next`, no cycles (only a loop step repeats steps: its body chain ends with no `next`
//!   and returns to the loop), every step reachable from the start, and loop bodies closed: the
//!   steps reachable from a loop's `body` are entered only through that `body` edge (no other
//!   step's edge leads into them, including the loop's own `next`). Nested loops are fine.
//! - each step's fields (durations, zones, HTTP method / URL / headers / timeout / retries, loop
//!   `max_items`, tags, agent ids, rules and their values, `matches` patterns);
//! - every template and expression parses;
//! - every variable a step reads can exist when it runs: the root is one of
//!   [`crate::template::ROOTS`]; `steps.X` names a step that **dominates** this one (runs
//!   before it on every path from the start, so never a step on another branch nor one inside a
//!   loop body read after the loop), and `steps.X.F` names an output field of X's type
//!   ([`step_outputs`]); `contact.*` (and steps that act on the run's contact) needs a contact
//!   on every path (the trigger brings one, or a step that sets it ran before on every path);
//!   `loop.*` only inside a loop body (`loop.item`, `loop.index`); a schedule's payload has only
//!   `scheduled_at` and `fired_at`. The variable of an `exists` / `not_exists` rule may be
//!   missing by design, so for it only the shape is checked (known root, existing step, known
//!   output field), not the ordering nor the contact. Paths are the attribute chains a template
//!   reads (`steps.x.body.items` for `steps.x.body.items[0]`); dynamic lookups (`steps[name]`)
//!   are not checked.
//!
//! Not checked here: that agents exist (the API does), unknown filters (they fail at run time).

use crate::condition::build_regex;
use crate::model::{Cadence, CallingRules, Op, Spec, Step, StepKind, Trigger, MAX_LOOP_ITEMS};
use crate::template::{Templates, ROOTS};
use chrono::{DateTime, Utc, Weekday};
use chrono_tz::Tz;
use croner::Cron;
use parley_core::call::CallStatus;
use parley_core::contact::{MAX_ATTRIBUTES, MAX_ATTRIBUTE_KEY_LEN, MAX_TAG_LEN};
use parley_core::error::ValidationError;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

/// The longest automation and step name.
pub const MAX_NAME_LEN: usize = 200;
/// The most steps an automation may have.
pub const MAX_STEPS: usize = 500;
/// The most retries of an HTTP request or of the calling rules.
pub const MAX_RETRIES: u32 = 10;
/// The longest HTTP request timeout.
pub const MAX_TIMEOUT_SECS: u64 = 60;
/// The longest delay, `delay_until` offset or retry spacing.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
pub const HTTP_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/// Call statuses a `call_completed` trigger may filter on (`CallStatus` names).
pub const CALL_STATUSES: [&str; 8] = [
    "NOT_STARTED",
    "IN_PROGRESS",
    "ENDED",
    "NO_ANSWER",
    "VOICEMAIL",
    "TRANSFERRED",
    "FAILED",
    "VIOLATION",
];

/// The payload of a schedule trigger's runs.
pub const SCHEDULE_PAYLOAD: [&str; 2] = ["scheduled_at", "fired_at"];

/// A contact's fields (the output of contact steps, and `contact.*`).
pub const CONTACT_FIELDS: [&str; 12] = [
    "id",
    "phone_number",
    "name",
    "email",
    "attributes",
    "tags",
    "status",
    "created",
    "updated",
    "version",
    "lead_source",
    "team_id",
];
const CONTACT_STEP_OUTPUT: [&str; 13] = [
    "id",
    "phone_number",
    "name",
    "email",
    "attributes",
    "tags",
    "status",
    "created",
    "updated",
    "version",
    "lead_source",
    "team_id",
    "created_new",
];
const CALL_STEP_OUTPUT: [&str; 8] = [
    "call_id",
    "status",
    "outcome",
    "variables",
    "duration_ms",
    "end_reason",
    "contact_id",
    "attempts",
];

/// The output fields of a step type (what `steps.<slug>.<field>` may read).
pub fn step_outputs(kind: &StepKind) -> &'static [&'static str] {
    match kind {
        StepKind::CreateContact { .. } | StepKind::UpdateContact { .. } => &CONTACT_STEP_OUTPUT,
        StepKind::CallContact { .. } | StepKind::CallPhoneNumber { .. } => &CALL_STEP_OUTPUT,
        StepKind::AddTag { .. } | StepKind::RemoveTag { .. } => &["contact_id", "tags"],
        StepKind::Delay { .. } | StepKind::DelayUntil { .. } => &["due_at", "skipped", "late_ms"],
        StepKind::Condition { .. } => &["matched", "rules"],
        StepKind::HttpRequest { .. } => &["status", "headers", "body"],
        StepKind::Loop { .. } => &["count"],
        StepKind::End { .. } => &["outcome"],
    }
}

// ---------------------------------------------------------------------------------------------
// Small parsers, public for the engine.

/// `HH:MM` (24-hour; one-digit hours allowed) into (hour, minute).
pub fn parse_hhmm(s: &str) -> Option<(u32, u32)> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

/// `mon` ... `sun` (case-insensitive).
pub fn parse_day(s: &str) -> Option<Weekday> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

/// An IANA time zone name.
pub fn parse_zone(s: &str) -> Option<Tz> {
    s.trim().parse::<Tz>().ok()
}

/// A human duration (`"2h 30m"`, `"90s"`, `"1day"`), at most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("`{s}` is not a duration ({e}); write e.g. \"2h 30m\", \"90s\", \"1day\""))?;
    if d > MAX_DURATION {
        return Err(format!("`{s}` is longer than 365 days"));
    }
    Ok(d)
}

/// A duration with an optional leading `-` or `+` (`"-24h"`).
pub fn parse_offset(s: &str) -> Result<chrono::Duration, String> {
    let t = s.trim();
    let (negative, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let d = chrono::Duration::from_std(parse_duration(rest)?).map_err(|_| format!("`{s}` is too long"))?;
    Ok(if negative { -d } else { d })
}

/// An agent (interview) id: 8 letters or digits.
pub fn is_interview_id(s: &str) -> bool {
    parley_core::ids::is_agent_id(s)
}

/// A step slug: `^[a-z][a-z0-9_]{0,63}$`.
pub fn is_slug(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(b'a'..=b'z'))
        && s.len() <= 64
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

// ---------------------------------------------------------------------------------------------
// Schedules.

/// The cron expression of a schedule trigger (its `cron`, or one built from the simple form),
/// or every problem, located (`trigger.cron`, `trigger.every`, ...).
///
/// The simple form: `minutes` every N: `0 */N * * * <days>` (N < 60; the count restarts at every
/// hour, so N that does not divide 60 leaves a shorter gap at the hour) or `0 0 */H * * <days>`
/// (N = 60·H; the same at midnight); other N are refused. `hourly`: at the minute of `time` (or
/// 0). `daily`: at `time` on `days` (every day when empty). `weekly`: the same, at least one day.
pub fn schedule_cron_expression(trigger: &Trigger) -> Result<String, Vec<(&'static str, String)>> {
    let Trigger::Schedule {
        cadence,
        time,
        days,
        every,
        cron,
        ..
    } = trigger
    else {
        return Err(vec![("trigger", "not a schedule trigger".into())]);
    };
    let mut problems = Vec::new();
    let expr = match (cron.as_deref().map(str::trim), cadence) {
        (Some(_), Some(_)) => {
            problems.push(("trigger.cron", "set either `cron` or `cadence`, not both".into()));
            None
        }
        (Some(c), None) => match Cron::new(c).with_seconds_optional().parse() {
            Ok(_) => Some(c.to_string()),
            Err(e) => {
                problems.push((
                    "trigger.cron",
                    format!("`{c}` is not a cron expression ({e}); write 5 fields (minute hour day month weekday), or 6 with seconds first"),
                ));
                None
            }
        },
        (None, None) => {
            problems.push((
                "trigger.cadence",
                "a schedule needs `cron` or a `cadence` (minutes, hourly, daily, weekly)".into(),
            ));
            None
        }
        (None, Some(cadence)) => {
            let mut dow = Vec::new();
            for d in days {
                match parse_day(d) {
                    Some(w) => dow.push(w.num_days_from_sunday().to_string()),
                    None => problems.push((
                        "trigger.days",
                        format!("unknown day `{d}` (mon, tue, wed, thu, fri, sat, sun)"),
                    )),
                }
            }
            let dow = if dow.is_empty() { "*".to_string() } else { dow.join(",") };
            let at = match time.as_deref() {
                None => None,
                Some(t) => match parse_hhmm(t) {
                    Some(hm) => Some(hm),
                    None => {
                        problems.push(("trigger.time", format!("`{t}` is not a time of day (HH:MM, 24-hour)")));
                        None
                    }
                },
            };
            match cadence {
                Cadence::Minutes => match every {
                    None => {
                        problems.push((
                            "trigger.every",
                            "required by the minutes cadence: every N minutes (1 to 1440)".into(),
                        ));
                        None
                    }
                    Some(n) if !(1..=1440).contains(n) => {
                        problems.push(("trigger.every", format!("{n} is out of range: every 1 to 1440 minutes")));
                        None
                    }
                    Some(n) if *n < 60 => Some(format!("0 */{n} * * * {dow}")),
                    Some(n) if n % 60 == 0 => {
                        let hours = if n / 60 == 24 {
                            "0".to_string()
                        } else {
                            format!("*/{}", n / 60)
                        };
                        Some(format!("0 0 {hours} * * {dow}"))
                    }
                    Some(n) => {
                        problems.push((
                            "trigger.every",
                            format!("every {n} minutes cannot be scheduled: use fewer than 60 minutes or a whole number of hours"),
                        ));
                        None
                    }
                },
                Cadence::Hourly => Some(format!("0 {} * * * {dow}", at.map_or(0, |(_, m)| m))),
                Cadence::Daily | Cadence::Weekly => {
                    if *cadence == Cadence::Weekly && days.is_empty() {
                        problems.push(("trigger.days", "a weekly schedule needs at least one day".into()));
                    }
                    match (time, at) {
                        (None, _) => {
                            problems.push(("trigger.time", "required: the time of day (HH:MM) it runs at".into()));
                            None
                        }
                        (Some(_), Some((h, m))) => Some(format!("0 {m} {h} * * {dow}")),
                        (Some(_), None) => None,
                    }
                }
            }
        }
    };
    match expr {
        Some(e) if problems.is_empty() => Ok(e),
        _ => Err(problems),
    }
}

/// The cron and zone of a schedule trigger (the trigger's `time_zone`, else the automation's).
pub fn schedule_cron(trigger: &Trigger, automation_zone: &str) -> Result<(Cron, Tz), String> {
    let Trigger::Schedule { time_zone, .. } = trigger else {
        return Err("not a schedule trigger".into());
    };
    let zone_name = time_zone.as_deref().unwrap_or(automation_zone);
    let tz = parse_zone(zone_name).ok_or_else(|| format!("unknown time zone `{zone_name}`"))?;
    let expr = schedule_cron_expression(trigger).map_err(|p| {
        p.into_iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let cron = Cron::new(&expr)
        .with_seconds_optional()
        .parse()
        .map_err(|e| format!("`{expr}`: {e}"))?;
    Ok((cron, tz))
}

/// The first time strictly after `after` that the cron fires, reading the cron in `tz`. Local
/// times skipped by a DST change fire at the first valid time after them; repeated local times
/// fire once (the first of the two).
pub fn next_fire(cron: &Cron, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut from = after.with_timezone(&tz);
    // A repeated (DST fall-back) hour maps to its first instance, which can be before `after`;
    // step through such matches (at most an hour's worth of them).
    for _ in 0..4000 {
        let next = cron.find_next_occurrence(&from, false).ok()?;
        let utc = next.with_timezone(&Utc);
        if utc > after {
            return Some(utc);
        }
        from = next;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The check.

struct Problems(Vec<ValidationError>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(ValidationError::new(field, message));
    }
}

/// `steps[3] (notify)`: where a problem of a step is reported (as [`crate::model::step_location`]).
pub(crate) fn step_loc(i: usize, slug: &str) -> String {
    if slug.is_empty() {
        format!("steps[{i}]")
    } else {
        format!("steps[{i}] ({slug})")
    }
}

/// Checks a whole automation; every problem, located.
pub fn validate(spec: &Spec, templates: &Templates) -> Result<(), Vec<ValidationError>> {
    crate::bounds::check(spec)?;
    let mut p = Problems(Vec::new());
    let name = spec.name.trim();
    if name.is_empty() {
        p.add("name", "required");
    } else if name.chars().count() > MAX_NAME_LEN {
        p.add("name", format!("at most {MAX_NAME_LEN} characters"));
    }
    if parse_zone(&spec.time_zone).is_none() {
        p.add(
            "time_zone",
            format!(
                "unknown time zone `{}` (an IANA name like America/New_York)",
                spec.time_zone
            ),
        );
    }
    check_trigger(spec, &mut p);
    check_calling(&spec.calling, &mut p);
    check_steps(spec, templates, &mut p);
    if p.0.is_empty() {
        Ok(())
    } else {
        Err(p.0)
    }
}

fn check_trigger(spec: &Spec, p: &mut Problems) {
    match &spec.trigger {
        Trigger::Webhook { .. } | Trigger::ContactCreated {} => {}
        Trigger::CallCompleted {
            interview_ids,
            statuses,
            outcomes,
        } => {
            for (k, id) in interview_ids.iter().enumerate() {
                if !is_interview_id(id) {
                    p.add(
                        format!("trigger.interview_ids[{k}]"),
                        format!("`{id}` is not an agent id (8 letters or digits)"),
                    );
                }
            }
            for (k, s) in statuses.iter().enumerate() {
                if CallStatus::parse(s).is_none() {
                    p.add(
                        format!("trigger.statuses[{k}]"),
                        format!("unknown call status `{s}` (one of {})", CALL_STATUSES.join(", ")),
                    );
                }
            }
            for (k, o) in outcomes.iter().enumerate() {
                if o.trim().is_empty() {
                    p.add(format!("trigger.outcomes[{k}]"), "empty");
                }
            }
        }
        Trigger::TagAdded { tags } => {
            for (k, t) in tags.iter().enumerate() {
                if let Err(e) = check_tag(t) {
                    p.add(format!("trigger.tags[{k}]"), e);
                }
            }
        }
        Trigger::Schedule { time_zone, .. } => {
            if let Some(z) = time_zone {
                if parse_zone(z).is_none() {
                    p.add(
                        "trigger.time_zone",
                        format!("unknown time zone `{z}` (an IANA name like America/New_York)"),
                    );
                }
            }
            match schedule_cron_expression(&spec.trigger) {
                Err(problems) => problems.into_iter().for_each(|(f, m)| p.add(f, m)),
                Ok(expr) => {
                    if let Ok((cron, tz)) = schedule_cron(&spec.trigger, &spec.time_zone) {
                        if next_fire(&cron, tz, Utc::now()).is_none() {
                            p.add("trigger.cron", format!("`{expr}` never fires"));
                        }
                    }
                }
            }
        }
    }
}

fn check_tag(t: &str) -> Result<(), String> {
    if t.trim().is_empty() {
        Err("an empty tag".into())
    } else if !is_template(t) && t.chars().count() > MAX_TAG_LEN {
        Err(format!("a tag is at most {MAX_TAG_LEN} characters"))
    } else {
        Ok(())
    }
}

fn check_calling(c: &CallingRules, p: &mut Problems) {
    let start = parse_hhmm(&c.start);
    let end = parse_hhmm(&c.end);
    if start.is_none() {
        p.add(
            "calling.start",
            format!("`{}` is not a time of day (HH:MM, 24-hour)", c.start),
        );
    }
    if end.is_none() {
        p.add(
            "calling.end",
            format!("`{}` is not a time of day (HH:MM, 24-hour)", c.end),
        );
    }
    if let (Some(s), Some(e)) = (start, end) {
        if s >= e {
            p.add("calling.end", format!("must be later than start ({})", c.start));
        }
    }
    for d in &c.days {
        if parse_day(d).is_none() {
            p.add(
                "calling.days",
                format!("unknown day `{d}` (mon, tue, wed, thu, fri, sat, sun)"),
            );
        }
    }
    if c.retries > MAX_RETRIES {
        p.add("calling.retries", format!("at most {MAX_RETRIES}"));
    }
    if let Err(e) = parse_duration(&c.retry_spacing) {
        p.add("calling.retry_spacing", e);
    }
}

/// An edge of the graph: from step, its field (`next`, `then`, `else`, `body`), to step.
#[derive(Clone, Copy)]
struct Edge {
    from: usize,
    label: &'static str,
    to: usize,
}

/// A template or expression a step reads, with the field it is in.
struct Source<'a> {
    field: String,
    text: &'a str,
    expression: bool,
    /// Read by `exists` / `not_exists`: it may be missing, so only its shape is checked (a known
    /// root, an existing step, a known output field), not that it is set when the step runs.
    lenient: bool,
}

fn check_steps(spec: &Spec, templates: &Templates, p: &mut Problems) {
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

fn fields_of(root: &str, segs: &[&str], fields: &[&str]) -> Option<String> {
    let f = segs.get(1)?;
    (!fields.contains(f)).then(|| format!("`{root}` has no `{f}` (it has {})", fields.join(", ")))
}

fn no_contact_reason(trigger: &Trigger) -> String {
    format!(
        "a {} trigger brings no contact and no step before this one on every path sets one (create_contact, call_phone_number)",
        trigger.kind()
    )
}

/// Every template and expression of a step, with its field.
fn sources(s: &Step) -> Vec<Source<'_>> {
    let mut v: Vec<Source<'_>> = Vec::new();
    fn add<'a>(v: &mut Vec<Source<'a>>, field: impl Into<String>, text: &'a str) {
        v.push(Source {
            field: field.into(),
            text,
            expression: false,
            lenient: false,
        });
    }
    fn add_opt<'a>(v: &mut Vec<Source<'a>>, field: &str, text: &'a Option<String>) {
        if let Some(t) = text {
            add(v, field, t);
        }
    }
    fn add_map<'a>(v: &mut Vec<Source<'a>>, field: &str, m: &'a std::collections::BTreeMap<String, String>) {
        for (k, t) in m {
            add(v, format!("{field}.{k}"), t);
        }
    }
    fn add_json<'a>(v: &mut Vec<Source<'a>>, field: String, j: &'a Value) {
        match j {
            Value::String(t) => add(v, field, t),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .for_each(|(k, i)| add_json(v, format!("{field}[{k}]"), i)),
            Value::Object(m) => m.iter().for_each(|(k, i)| add_json(v, format!("{field}.{k}"), i)),
            _ => {}
        }
    }
    match &s.kind {
        StepKind::CreateContact {
            phone_number,
            name,
            email,
            country_code,
            attributes,
            tags,
        } => {
            add(&mut v, "phone_number", phone_number);
            add_opt(&mut v, "name", name);
            add_opt(&mut v, "email", email);
            add_opt(&mut v, "country_code", country_code);
            add_map(&mut v, "attributes", attributes);
            tags.iter()
                .enumerate()
                .for_each(|(k, t)| add(&mut v, format!("tags[{k}]"), t));
        }
        StepKind::UpdateContact {
            contact,
            name,
            email,
            attributes,
        } => {
            add_opt(&mut v, "contact", contact);
            add_opt(&mut v, "name", name);
            add_opt(&mut v, "email", email);
            add_map(&mut v, "attributes", attributes);
        }
        StepKind::CallContact {
            contact,
            metadata,
            from_number,
            ..
        } => {
            add_opt(&mut v, "contact", contact);
            add_map(&mut v, "metadata", metadata);
            add_opt(&mut v, "from_number", from_number);
        }
        StepKind::CallPhoneNumber {
            phone_number,
            name,
            country_code,
            metadata,
            from_number,
            ..
        } => {
            add(&mut v, "phone_number", phone_number);
            add_opt(&mut v, "name", name);
            add_opt(&mut v, "country_code", country_code);
            add_map(&mut v, "metadata", metadata);
            add_opt(&mut v, "from_number", from_number);
        }
        StepKind::AddTag { contact, tags } | StepKind::RemoveTag { contact, tags } => {
            add_opt(&mut v, "contact", contact);
            tags.iter()
                .enumerate()
                .for_each(|(k, t)| add(&mut v, format!("tags[{k}]"), t));
        }
        StepKind::Delay { .. } => {}
        StepKind::DelayUntil { at, .. } => add(&mut v, "at", at),
        StepKind::Condition { rules, .. } => {
            for (k, r) in rules.iter().enumerate() {
                if !r.variable.trim().is_empty() {
                    v.push(Source {
                        field: format!("rules[{k}].variable"),
                        text: &r.variable,
                        expression: true,
                        lenient: !r.op.needs_value(),
                    });
                }
                if r.op.needs_value() {
                    add_opt(&mut v, &format!("rules[{k}].value"), &r.value);
                }
            }
        }
        StepKind::HttpRequest { url, headers, body, .. } => {
            add(&mut v, "url", url);
            add_map(&mut v, "headers", headers);
            if let Some(b) = body {
                add_json(&mut v, "body".into(), b);
            }
        }
        StepKind::Loop { items, .. } => {
            if !items.trim().is_empty() {
                v.push(Source {
                    field: "items".into(),
                    text: items,
                    expression: true,
                    lenient: false,
                });
            }
        }
        StepKind::End { outcome } => add_opt(&mut v, "outcome", outcome),
    }
    v
}

/// The checks of a step's own fields (not its templates' variables).
fn check_fields(at: &str, kind: &StepKind, p: &mut Problems) {
    let mut bad = |field: &str, msg: String| p.add(format!("{at}.{field}"), msg);
    let required = |s: &str| s.trim().is_empty();
    match kind {
        StepKind::CreateContact {
            phone_number,
            country_code,
            attributes,
            tags,
            ..
        } => {
            if required(phone_number) {
                bad("phone_number", "required".into());
            }
            check_country_code(country_code, &mut bad);
            check_keys("attributes", attributes, &mut bad);
            for (k, t) in tags.iter().enumerate() {
                if let Err(e) = check_tag(t) {
                    bad(&format!("tags[{k}]"), e);
                }
            }
        }
        StepKind::UpdateContact {
            contact, attributes, ..
        } => {
            check_contact_ref(contact, &mut bad);
            check_keys("attributes", attributes, &mut bad);
        }
        StepKind::CallContact {
            interview_id,
            contact,
            metadata,
            ..
        } => {
            check_interview(interview_id, &mut bad);
            check_contact_ref(contact, &mut bad);
            check_keys("metadata", metadata, &mut bad);
        }
        StepKind::CallPhoneNumber {
            interview_id,
            phone_number,
            country_code,
            metadata,
            ..
        } => {
            check_interview(interview_id, &mut bad);
            if required(phone_number) {
                bad("phone_number", "required".into());
            }
            check_country_code(country_code, &mut bad);
            check_keys("metadata", metadata, &mut bad);
        }
        StepKind::AddTag { contact, tags } | StepKind::RemoveTag { contact, tags } => {
            check_contact_ref(contact, &mut bad);
            if tags.is_empty() {
                bad("tags", "at least one tag".into());
            }
            for (k, t) in tags.iter().enumerate() {
                if let Err(e) = check_tag(t) {
                    bad(&format!("tags[{k}]"), e);
                }
            }
        }
        StepKind::Delay { duration } => {
            if let Err(e) = parse_duration(duration) {
                bad("duration", e);
            }
        }
        StepKind::DelayUntil {
            at, offset, time_zone, ..
        } => {
            if required(at) {
                bad(
                    "at",
                    "required: the time to wait for (a template such as {{ trigger.payload.appointment }})".into(),
                );
            }
            if let Some(o) = offset {
                if let Err(e) = parse_offset(o) {
                    bad("offset", e);
                }
            }
            if let Some(z) = time_zone {
                if z != "contact" && z != "automation" && parse_zone(z).is_none() {
                    bad(
                        "time_zone",
                        format!("`{z}` is not `contact`, `automation` or an IANA time zone"),
                    );
                }
            }
        }
        StepKind::Condition { rules, .. } => {
            if rules.is_empty() {
                bad("rules", "at least one rule".into());
            }
            for (k, r) in rules.iter().enumerate() {
                if required(&r.variable) {
                    bad(
                        &format!("rules[{k}].variable"),
                        "required: the variable to compare (e.g. steps.call.outcome)".into(),
                    );
                }
                match (&r.value, r.op.needs_value()) {
                    (None, true) => bad(&format!("rules[{k}].value"), "required by this operator".into()),
                    (Some(val), true) if r.op == Op::Matches && !is_template(val) => {
                        if let Err(e) = build_regex(val) {
                            bad(&format!("rules[{k}].value"), e);
                        }
                    }
                    _ => {}
                }
            }
        }
        StepKind::HttpRequest {
            method,
            url,
            headers,
            timeout_secs,
            retries,
            ..
        } => {
            if !HTTP_METHODS.contains(&method.as_str()) {
                bad(
                    "method",
                    format!("`{method}` is not one of {}", HTTP_METHODS.join(", ")),
                );
            }
            check_url(url, &mut bad);
            for name in headers.keys() {
                if name.is_empty() || !name.bytes().all(is_token_byte) {
                    bad(
                        &format!("headers.{name}"),
                        format!("`{name}` is not a valid header name"),
                    );
                }
            }
            if !(1..=MAX_TIMEOUT_SECS).contains(timeout_secs) {
                bad(
                    "timeout_secs",
                    format!("{timeout_secs} is out of range: 1 to {MAX_TIMEOUT_SECS} seconds"),
                );
            }
            if *retries > MAX_RETRIES {
                bad("retries", format!("at most {MAX_RETRIES}"));
            }
        }
        StepKind::Loop { items, max_items, .. } => {
            if required(items) {
                bad(
                    "items",
                    "required: an expression naming a list (e.g. trigger.payload.leads)".into(),
                );
            }
            if !(1..=MAX_LOOP_ITEMS).contains(max_items) {
                bad(
                    "max_items",
                    format!("{max_items} is out of range: 1 to {MAX_LOOP_ITEMS}"),
                );
            }
        }
        StepKind::End { .. } => {}
    }
}

fn check_interview(id: &str, bad: &mut impl FnMut(&str, String)) {
    if !is_interview_id(id) {
        bad(
            "interview_id",
            format!("`{id}` is not an agent id (8 letters or digits)"),
        );
    }
}

fn check_contact_ref(contact: &Option<String>, bad: &mut impl FnMut(&str, String)) {
    if contact.as_deref().is_some_and(|c| c.trim().is_empty()) {
        bad("contact", "empty: leave it out to use the run's contact".into());
    }
}

fn check_country_code(cc: &Option<String>, bad: &mut impl FnMut(&str, String)) {
    if let Some(cc) = cc.as_deref().filter(|c| !is_template(c)) {
        let digits = cc.trim().trim_start_matches('+');
        if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            bad(
                "country_code",
                format!("`{cc}` is not a country calling code (1 to 3 digits, e.g. \"1\", \"44\")"),
            );
        }
    }
}

fn check_keys(field: &str, m: &std::collections::BTreeMap<String, String>, bad: &mut impl FnMut(&str, String)) {
    if m.len() > MAX_ATTRIBUTES {
        bad(field, format!("at most {MAX_ATTRIBUTES} entries"));
    }
    for k in m.keys() {
        if k.trim().is_empty() {
            bad(field, "an empty key".into());
        } else if k.chars().count() > MAX_ATTRIBUTE_KEY_LEN {
            bad(
                &format!("{field}.{k}"),
                format!("a key is at most {MAX_ATTRIBUTE_KEY_LEN} characters"),
            );
        }
    }
}

fn check_url(url: &str, bad: &mut impl FnMut(&str, String)) {
    let u = url.trim();
    if u.is_empty() {
        bad("url", "required".into());
        return;
    }
    if is_template(u) {
        // The literal start, if any, must already be an http(s) URL's.
        let prefix = &u[..u.find("{{").into_iter().chain(u.find("{%")).min().unwrap_or(0)];
        let lower = prefix.to_ascii_lowercase();
        let ok = ["https://", "http://"]
            .iter()
            .any(|s| s.starts_with(&lower) || lower.starts_with(s));
        if !ok {
            bad("url", format!("`{url}` must be an http:// or https:// URL"));
        }
        return;
    }
    match url::Url::parse(u) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {}
        Ok(_) => bad("url", format!("`{url}` must be an http:// or https:// URL")),
        Err(e) => bad("url", format!("`{url}` is not a URL ({e})")),
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_spec;
    use chrono::TimeZone;
    use serde_json::json;

    fn check(v: Value) -> Result<(), Vec<ValidationError>> {
        let spec = parse_spec(&v).unwrap_or_else(|e| panic!("does not parse: {e:?}"));
        validate(&spec, &Templates::new())
    }

    fn fields(errs: &[ValidationError]) -> Vec<(String, String)> {
        errs.iter().map(|e| (e.field.clone(), e.message.clone())).collect()
    }

    #[test]
    fn a_valid_workflow_passes() {
        let v = json!({
            "name": "New lead", "time_zone": "America/New_York",
            "trigger": {"type": "webhook"},
            "steps": [
                {"slug": "lead", "type": "create_contact", "phone_number": "{{ trigger.payload.phone }}",
                 "name": "{{ trigger.payload.first }} {{ trigger.payload.last | default('') }}",
                 "attributes": {"source": "{{ trigger.payload.source | default('web') }}"}, "tags": ["lead"],
                 "next": "call"},
                {"slug": "call", "type": "call_contact", "interview_id": "abcd1234",
                 "metadata": {"name": "{{ contact.name }}", "id": "{{ steps.lead.id }}"}, "next": "check"},
                {"slug": "check", "type": "condition", "mode": "any",
                 "rules": [{"variable": "steps.call.outcome", "op": "equals", "value": "booked"},
                           {"variable": "steps.call.variables.day", "op": "exists"},
                           {"variable": "contact.email", "op": "matches", "value": "@example\\.com$"}],
                 "then": "notify", "else": "wait"},
                {"slug": "notify", "type": "http_request", "url": "https://hooks.example.com/{{ steps.lead.id }}",
                 "headers": {"Authorization": "Bearer x"},
                 "body": {"contact": "{{ contact }}", "status": "{{ steps.call.status }}", "matched": "{{ steps.check.matched }}",
                          "day": "{{ steps.call.variables.day }}", "n": 3, "now": "{{ now }}", "run": "{{ run.id }}"}},
                {"slug": "wait", "type": "delay", "duration": "1day", "next": "again"},
                {"slug": "again", "type": "loop", "items": "trigger.payload.numbers", "body": "dial", "max_items": 5},
                {"slug": "dial", "type": "call_phone_number", "interview_id": "abcd1234",
                 "phone_number": "{{ loop.item.phone }}", "metadata": {"i": "{{ loop.index }}", "w": "{{ steps.wait.due_at }}"},
                 "next": "tag"},
                {"slug": "tag", "type": "add_tag", "tags": ["called"]}
            ],
            "calling": {"start": "09:00", "end": "18:30", "days": ["mon", "tue"], "retries": 2, "retry_spacing": "30m"}
        });
        check(v).unwrap();

        let scheduled = json!({
            "name": "Daily", "trigger": {"type": "schedule", "cadence": "weekly", "time": "09:30", "days": ["mon", "fri"]},
            "steps": [{"slug": "ping", "type": "http_request", "method": "GET", "url": "https://example.com/?at={{ trigger.payload.scheduled_at }}"}]
        });
        check(scheduled).unwrap();
    }

    #[test]
    fn every_problem_is_reported_with_its_location() {
        let v = json!({
            "name": " ", "time_zone": "Mars/Olympus",
            "trigger": {"type": "schedule", "cron": "61 * * * *"},
            "start": "first",
            "steps": [
                {"slug": "first", "type": "delay", "duration": "soon", "next": "call"},
                {"slug": "call", "type": "call_contact", "interview_id": "abc", "next": "ghost"},
                {"slug": "Bad-Slug", "type": "end", "next": "first"},
                {"slug": "check", "type": "condition", "rules": [], "next": "first"},
                {"slug": "notify", "type": "http_request", "method": "FETCH", "url": "ftp://example.com",
                 "timeout_secs": 0, "retries": 11, "body": {"a": ["{{ steps.later.status }}", "{{ oops"]}, "next": "later"},
                {"slug": "later", "type": "delay_until", "at": "{{ steps.notify.missing }}", "offset": "-1 fortnight",
                 "time_zone": "Nowhere", "next": "notify"},
                {"slug": "cond", "type": "condition", "rules": [
                    {"variable": "steps.first.due_at", "op": "greater"},
                    {"variable": "foo.bar", "op": "matches", "value": "(unclosed"},
                    {"variable": "loop.item", "op": "exists"}
                ]},
                {"slug": "cond", "type": "end"},
                {"slug": "tags", "type": "add_tag", "tags": ["", "x"]},
                {"slug": "again", "type": "loop", "items": "trigger.payload.x", "body": "again", "max_items": 5000}
            ],
            "calling": {"start": "25:00", "end": "08:00", "days": ["funday"], "retries": 20, "retry_spacing": "often"}
        });
        let errs = check(v).unwrap_err();
        let got = fields(&errs);
        let expect: &[(&str, &str)] = &[
            ("name", "required"),
            ("time_zone", "unknown time zone `Mars/Olympus`"),
            ("trigger.cron", "is not a cron expression"),
            ("calling.start", "is not a time of day"),
            ("calling.days", "unknown day `funday`"),
            ("calling.retries", "at most 10"),
            ("calling.retry_spacing", "is not a duration"),
            ("steps[2] (Bad-Slug).slug", "is not a slug"),
            ("steps[7] (cond).slug", "also the slug of steps[6]"),
            ("steps[1] (call).next", "no step has the slug `ghost`"),
            ("steps[2] (Bad-Slug).next", "an end step ends the run"),
            ("steps[3] (check).next", "a condition continues with `then` and `else`"),
            ("steps[5] (later).next", "makes a cycle (notify → later → notify)"),
            ("steps[2] (Bad-Slug)", "unreachable"),
            ("steps[3] (check)", "unreachable"),
            ("steps[4] (notify)", "unreachable"),
            ("steps[0] (first).duration", "`soon` is not a duration"),
            ("steps[1] (call).interview_id", "`abc` is not an agent id"),
            (
                "steps[1] (call)",
                "needs a contact: a schedule trigger brings no contact",
            ),
            ("steps[3] (check).rules", "at least one rule"),
            ("steps[4] (notify).method", "`FETCH` is not one of GET"),
            ("steps[4] (notify).url", "must be an http:// or https:// URL"),
            ("steps[4] (notify).timeout_secs", "out of range"),
            ("steps[4] (notify).retries", "at most 10"),
            (
                "steps[4] (notify).body.a[1]",
                "syntax error: unexpected end of input, expected end of variable block (line 1: `{{ oops`)",
            ),
            (
                "steps[6] (cond).rules[1].value",
                "invalid regular expression: unclosed group",
            ),
            ("steps[5] (later).offset", "is not a duration"),
            ("steps[5] (later).time_zone", "`Nowhere` is not `contact`, `automation`"),
            ("steps[6] (cond).rules[0].value", "required by this operator"),
            ("steps[6] (cond).rules[1].value", "invalid regular expression"),
            ("steps[6] (cond).rules[1].variable", "`foo.bar`: unknown variable `foo`"),
            (
                "steps[6] (cond).rules[2].variable",
                "`loop.item`: `loop` exists only inside a loop's body",
            ),
            ("steps[9] (again).body", "a loop's body cannot be the loop itself"),
            ("steps[9] (again).max_items", "out of range"),
            ("steps[8] (tags).tags[0]", "an empty tag"),
        ];
        for (field, msg) in expect {
            assert!(
                got.iter().any(|(f, m)| f == field && m.contains(msg)),
                "missing {field}: {msg}\n got: {got:#?}"
            );
        }
        // Unreachable steps get their fields checked but not their variables' ordering.
        assert!(!got.iter().any(|(f, _)| f == "steps[5] (later).at"), "{got:#?}");
    }

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

    #[test]
    fn schedules_build_crons_and_fire_across_dst() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let daily = json!({"type": "schedule", "cadence": "daily", "time": "09:30"});
        let trigger: Trigger = serde_json::from_value(daily).unwrap();
        assert_eq!(schedule_cron_expression(&trigger).unwrap(), "0 30 9 * * *");
        let (cron, tz) = schedule_cron(&trigger, "America/New_York").unwrap();
        assert_eq!(tz, ny);
        // 2025-03-09 is the spring-forward day in New York: 09:30 EDT is 13:30 UTC (EST: 14:30).
        let before = Utc.with_ymd_and_hms(2025, 3, 8, 15, 0, 0).unwrap();
        assert_eq!(
            next_fire(&cron, tz, before).unwrap(),
            Utc.with_ymd_and_hms(2025, 3, 9, 13, 30, 0).unwrap()
        );
        let prev = Utc.with_ymd_and_hms(2025, 3, 7, 15, 0, 0).unwrap();
        assert_eq!(
            next_fire(&cron, tz, prev).unwrap(),
            Utc.with_ymd_and_hms(2025, 3, 8, 14, 30, 0).unwrap()
        );

        let secs: Trigger =
            serde_json::from_value(json!({"type": "schedule", "cron": "*/2 * * * * *", "time_zone": "UTC"})).unwrap();
        let (cron, tz) = schedule_cron(&secs, "America/New_York").unwrap();
        assert_eq!(tz, chrono_tz::UTC);
        let t = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 1).unwrap();
        let n1 = next_fire(&cron, tz, t).unwrap();
        assert_eq!(n1, Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 2).unwrap());
        assert_eq!(
            next_fire(&cron, tz, n1).unwrap(),
            Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 4).unwrap()
        );

        // In the repeated hour of a fall-back day, the next slot is never in the past.
        let every15: Trigger =
            serde_json::from_value(json!({"type": "schedule", "cadence": "minutes", "every": 15})).unwrap();
        assert_eq!(schedule_cron_expression(&every15).unwrap(), "0 */15 * * * *");
        let (cron, tz) = schedule_cron(&every15, "America/New_York").unwrap();
        let second_pass = Utc.with_ymd_and_hms(2025, 11, 2, 6, 20, 0).unwrap(); // 01:20 EST
        assert!(next_fire(&cron, tz, second_pass).unwrap() > second_pass);

        let weekly: Trigger = serde_json::from_value(
            json!({"type": "schedule", "cadence": "weekly", "time": "8:05", "days": ["mon", "sun"]}),
        )
        .unwrap();
        assert_eq!(schedule_cron_expression(&weekly).unwrap(), "0 5 8 * * 1,0");
        let hours: Trigger =
            serde_json::from_value(json!({"type": "schedule", "cadence": "minutes", "every": 1440})).unwrap();
        assert_eq!(schedule_cron_expression(&hours).unwrap(), "0 0 0 * * *");
        let hourly: Trigger =
            serde_json::from_value(json!({"type": "schedule", "cadence": "hourly", "time": "00:45"})).unwrap();
        assert_eq!(schedule_cron_expression(&hourly).unwrap(), "0 45 * * * *");

        let bad: Trigger =
            serde_json::from_value(json!({"type": "schedule", "cadence": "weekly", "every": 90})).unwrap();
        let problems = schedule_cron_expression(&bad).unwrap_err();
        let fields: Vec<_> = problems.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["trigger.days", "trigger.time"]);
        let bad: Trigger =
            serde_json::from_value(json!({"type": "schedule", "cadence": "minutes", "every": 90})).unwrap();
        assert!(schedule_cron_expression(&bad).unwrap_err()[0]
            .1
            .contains("cannot be scheduled"));
        assert!(schedule_cron(&secs, "x").is_ok(), "the trigger's zone wins");
        assert!(schedule_cron(&every15, "Nowhere").is_err());
    }

    #[test]
    fn a_cron_that_never_fires_is_refused() {
        let started = std::time::Instant::now();
        let v = json!({"name": "x", "trigger": {"type": "schedule", "cron": "0 0 30 2 *"},
                       "steps": [{"slug": "a", "type": "end"}]});
        let got = fields(&check(v).unwrap_err());
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!(got[0].0, "trigger.cron");
        assert!(got[0].1.contains("never fires"), "{got:#?}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn small_parsers() {
        assert_eq!(parse_hhmm("09:30"), Some((9, 30)));
        assert_eq!(parse_hhmm("24:00"), None);
        assert_eq!(parse_hhmm("9:3"), None);
        assert_eq!(parse_offset("-24h").unwrap(), chrono::Duration::hours(-24));
        assert_eq!(parse_offset("+1day").unwrap(), chrono::Duration::days(1));
        assert!(parse_duration("400days").is_err());
        assert!(is_slug("a_1") && !is_slug("1a") && !is_slug("") && !is_slug(&"a".repeat(65)));
    }
}
