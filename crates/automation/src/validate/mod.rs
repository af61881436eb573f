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

mod fields;
mod graph;
mod limits;
mod parsers;
mod reads;
mod schedule;
mod settings;

pub use limits::{
    step_outputs, CALL_STATUSES, CONTACT_FIELDS, HTTP_METHODS, MAX_DURATION, MAX_NAME_LEN, MAX_RETRIES, MAX_STEPS,
    MAX_TIMEOUT_SECS, SCHEDULE_PAYLOAD,
};
pub use parsers::{is_interview_id, is_slug, parse_day, parse_duration, parse_hhmm, parse_offset, parse_zone};
pub use schedule::{next_fire, schedule_cron, schedule_cron_expression};

use crate::model::Spec;
use crate::template::Templates;
use graph::check_steps;
use parley_core::error::ValidationError;
use settings::{check_calling, check_trigger};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_spec;
    use serde_json::{json, Value};

    /// Parses `v` as an automation and validates it (shared by the submodules' tests).
    pub(super) fn check(v: Value) -> Result<(), Vec<ValidationError>> {
        let spec = parse_spec(&v).unwrap_or_else(|e| panic!("does not parse: {e:?}"));
        validate(&spec, &Templates::new())
    }

    /// The (field, message) of each problem.
    pub(super) fn fields(errs: &[ValidationError]) -> Vec<(String, String)> {
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
}
