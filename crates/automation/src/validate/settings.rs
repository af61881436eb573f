//! The checks of the automation's trigger (and its tags) and of its calling rules.

use super::limits::{CALL_STATUSES, MAX_RETRIES};
use super::parsers::{is_interview_id, is_template, parse_day, parse_duration, parse_hhmm, parse_zone};
use super::schedule::{next_fire, schedule_cron, schedule_cron_expression};
use super::Problems;
use crate::model::{CallingRules, Spec, Trigger};
use chrono::Utc;
use parley_core::call::CallStatus;
use parley_core::contact::MAX_TAG_LEN;

pub(super) fn check_trigger(spec: &Spec, p: &mut Problems) {
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
pub(super) fn check_tag(t: &str) -> Result<(), String> {
    if t.trim().is_empty() {
        Err("an empty tag".into())
    } else if !is_template(t) && t.chars().count() > MAX_TAG_LEN {
        Err(format!("a tag is at most {MAX_TAG_LEN} characters"))
    } else {
        Ok(())
    }
}
pub(super) fn check_calling(c: &CallingRules, p: &mut Problems) {
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

#[cfg(test)]
mod tests {
    use super::super::tests::{check, fields};
    use serde_json::json;

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
}
