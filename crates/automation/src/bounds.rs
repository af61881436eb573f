//! The size bounds of an automation, checked before the whole-graph validation looks at
//! anything: the number of steps, and every list and map a step or the trigger holds.
//!
//! Why first: [`crate::validate`] compiles every template and regular expression and walks the
//! graph several times; with every collection bounded its work is bounded too (measured in the
//! `largest_automation_validates_quickly` test), and an oversized document is refused for the
//! price of counting, whatever else is wrong with it.

use crate::model::{Spec, StepKind, Trigger};
use crate::validate::MAX_STEPS;
use parley_core::contact::{MAX_ATTRIBUTES, MAX_TAGS};
use parley_core::error::ValidationError;

/// The most rules of one condition step.
pub const MAX_RULES: usize = 50;
/// The most headers of one HTTP request step.
pub const MAX_HEADERS: usize = 50;
/// The most entries of a trigger's filter lists (`interview_ids`, `statuses`, `outcomes`,
/// `tags`) and of the days of a schedule or of the calling rules.
pub const MAX_FILTER_ENTRIES: usize = 100;

fn over(p: &mut Vec<ValidationError>, field: String, n: usize, max: usize) {
    if n > max {
        p.push(ValidationError::new(field, format!("at most {max} entries (got {n})")));
    }
}

/// Every collection over its bound, located like the validation's problems; `Ok` when none is.
pub fn check(spec: &Spec) -> Result<(), Vec<ValidationError>> {
    let mut p = Vec::new();
    over(&mut p, "steps".into(), spec.steps.len(), MAX_STEPS);
    match &spec.trigger {
        Trigger::CallCompleted {
            interview_ids,
            statuses,
            outcomes,
        } => {
            over(
                &mut p,
                "trigger.interview_ids".into(),
                interview_ids.len(),
                MAX_FILTER_ENTRIES,
            );
            over(&mut p, "trigger.statuses".into(), statuses.len(), MAX_FILTER_ENTRIES);
            over(&mut p, "trigger.outcomes".into(), outcomes.len(), MAX_FILTER_ENTRIES);
        }
        Trigger::TagAdded { tags } => over(&mut p, "trigger.tags".into(), tags.len(), MAX_FILTER_ENTRIES),
        Trigger::Schedule { days, .. } => over(&mut p, "trigger.days".into(), days.len(), MAX_FILTER_ENTRIES),
        Trigger::Webhook { .. } | Trigger::ContactCreated {} => {}
    }
    over(
        &mut p,
        "calling.days".into(),
        spec.calling.days.len(),
        MAX_FILTER_ENTRIES,
    );
    if !p.is_empty() {
        return Err(p);
    }
    for (i, s) in spec.steps.iter().enumerate() {
        let at = crate::validate::step_loc(i, &s.slug);
        let field = |f: &str| format!("{at}.{f}");
        match &s.kind {
            StepKind::CreateContact { attributes, tags, .. } => {
                over(&mut p, field("attributes"), attributes.len(), MAX_ATTRIBUTES);
                over(&mut p, field("tags"), tags.len(), MAX_TAGS);
            }
            StepKind::UpdateContact { attributes, .. } => {
                over(&mut p, field("attributes"), attributes.len(), MAX_ATTRIBUTES)
            }
            StepKind::CallContact { metadata, .. } | StepKind::CallPhoneNumber { metadata, .. } => {
                over(&mut p, field("metadata"), metadata.len(), MAX_ATTRIBUTES)
            }
            StepKind::AddTag { tags, .. } | StepKind::RemoveTag { tags, .. } => {
                over(&mut p, field("tags"), tags.len(), MAX_TAGS)
            }
            StepKind::Condition { rules, .. } => over(&mut p, field("rules"), rules.len(), MAX_RULES),
            StepKind::HttpRequest { headers, .. } => over(&mut p, field("headers"), headers.len(), MAX_HEADERS),
            StepKind::Delay { .. } | StepKind::DelayUntil { .. } | StepKind::Loop { .. } | StepKind::End { .. } => {}
        }
    }
    if p.is_empty() {
        Ok(())
    } else {
        Err(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_spec;
    use serde_json::json;

    /// The largest automation the bounds admit, as far as the validation's work goes: 500 steps
    /// in one chain (every step dominated by all before it), each with 100 tag templates that
    /// read the step before, and a 50-rule condition with regular expressions. At ~1.8 MB it is
    /// more than a request body may carry; measured ~230 ms in a debug build, which is why the
    /// service validates on a blocking thread.
    #[test]
    fn largest_automation_validates_quickly() {
        let mut steps: Vec<serde_json::Value> = (0..crate::validate::MAX_STEPS - 1)
            .map(|i| {
                let tags: Vec<String> = (0..MAX_TAGS)
                    .map(|k| match i {
                        0 => format!("{{{{ contact.name }}}}-{k}"),
                        _ => format!("{{{{ steps.s{}.tags | length }}}}-{k}", i - 1),
                    })
                    .collect();
                json!({"slug": format!("s{i}"), "type": "add_tag", "tags": tags, "next": format!("s{}", i + 1)})
            })
            .collect();
        let rules: Vec<_> = (0..MAX_RULES)
            .map(|k| json!({"variable": format!("steps.s{k}.tags"), "op": "matches", "value": "^(a|b)+[0-9]{1,3}$"}))
            .collect();
        steps
            .push(json!({"slug": format!("s{}", crate::validate::MAX_STEPS - 1), "type": "condition", "rules": rules}));
        let body = json!({"name": "largest", "trigger": {"type": "contact_created"}, "steps": steps});
        let size = serde_json::to_vec(&body).unwrap().len();
        let templates = crate::template::Templates::new();
        let started = std::time::Instant::now();
        let spec = parse_spec(&body).unwrap();
        crate::validate::validate(&spec, &templates).unwrap();
        let took = started.elapsed();
        eprintln!("largest automation: {size} bytes, parsed and validated in {took:?}");
        // Debug build on shared cores: generous, yet a quadratic pass would take far longer.
        assert!(took < std::time::Duration::from_secs(3), "{took:?}");
    }

    #[test]
    fn oversized_collections_are_located() {
        let rules: Vec<_> = (0..=MAX_RULES)
            .map(|_| json!({"variable": "trigger.payload.x", "op": "exists"}))
            .collect();
        let spec = parse_spec(&json!({
            "name": "big", "trigger": {"type": "tag_added", "tags": vec!["t"; MAX_FILTER_ENTRIES + 1]},
            "steps": [{"slug": "c", "type": "condition", "rules": rules}]
        }))
        .unwrap();
        let errs = check(&spec).unwrap_err();
        assert_eq!(errs.len(), 1, "the trigger first: {errs:?}");
        assert_eq!(errs[0].to_string(), "trigger.tags: at most 100 entries (got 101)");
        let spec = parse_spec(&json!({
            "name": "big", "trigger": {"type": "webhook"},
            "steps": [{"slug": "c", "type": "condition", "rules": rules},
                      {"slug": "h", "type": "http_request", "url": "https://example.com",
                       "headers": (0..=MAX_HEADERS).map(|i| (format!("x-{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}]
        }))
        .unwrap();
        let text: Vec<String> = check(&spec).unwrap_err().iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "steps[0] (c).rules: at most 50 entries (got 51)",
                "steps[1] (h).headers: at most 50 entries (got 51)"
            ]
        );
    }
}
