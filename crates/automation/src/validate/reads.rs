//! What a step reads: its templates and expressions, and the wording of the problems about them.

use crate::model::{Step, StepKind, Trigger};
use serde_json::Value;

/// A template or expression a step reads, with the field it is in.
pub(super) struct Source<'a> {
    pub(super) field: String,
    pub(super) text: &'a str,
    pub(super) expression: bool,
    /// Read by `exists` / `not_exists`: it may be missing, so only its shape is checked (a known
    /// root, an existing step, a known output field), not that it is set when the step runs.
    pub(super) lenient: bool,
}

pub(super) fn fields_of(root: &str, segs: &[&str], fields: &[&str]) -> Option<String> {
    let f = segs.get(1)?;
    (!fields.contains(f)).then(|| format!("`{root}` has no `{f}` (it has {})", fields.join(", ")))
}

pub(super) fn no_contact_reason(trigger: &Trigger) -> String {
    format!(
        "a {} trigger brings no contact and no step before this one on every path sets one (create_contact, call_phone_number)",
        trigger.kind()
    )
}

/// Every template and expression of a step, with its field.
pub(super) fn sources(s: &Step) -> Vec<Source<'_>> {
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
