//! The checks of a step's own fields (durations, zones, HTTP request, tags, ids, rules, loop bounds).

use super::limits::{HTTP_METHODS, MAX_RETRIES, MAX_TIMEOUT_SECS};
use super::parsers::{is_interview_id, is_template, parse_duration, parse_offset, parse_zone};
use super::settings::check_tag;
use super::Problems;
use crate::condition::build_regex;
use crate::model::{Op, StepKind, MAX_LOOP_ITEMS};
use parley_core::contact::{MAX_ATTRIBUTES, MAX_ATTRIBUTE_KEY_LEN};

/// The checks of a step's own fields (not its templates' variables).
pub(super) fn check_fields(at: &str, kind: &StepKind, p: &mut Problems) {
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
