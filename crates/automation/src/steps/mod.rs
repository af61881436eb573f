//! What each step type does when the engine runs it.
//!
//! A step first renders its fields ([`render_input`]: that rendered input is recorded before the
//! step acts), then [`execute`] acts and answers with a [`StepResult`]. Steps that wait (delays,
//! calls, HTTP retries) answer `Wait` with the durable state they need to resume: the step row
//! keeps it, so a step resumed after a crash finds its due time or its placed call again.

mod call;
mod condition;
mod contact;
mod delay;
mod http;
mod loops;
mod tags;

pub use tags::{tag_change, tagged};

use crate::model::{Spec, Step, StepKind};
use crate::state::RunState;
use crate::template::Templates;
use chrono_tz::Tz;
use parley_core::contact::Contact;
use parley_jobs::outbound::Outbound;
use parley_store::automations::StepRow;
use parley_store::Store;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// Where the run goes after a step.
#[derive(Debug, PartialEq)]
pub enum Flow {
    /// To this step; `None` ends the chain (the run, or the loop's current item).
    Goto(Option<String>),
    /// The run ends here, whatever loops are open.
    End,
}

#[derive(Debug)]
pub enum StepResult {
    Done {
        output: Value,
        flow: Flow,
        /// The run's contact from now on.
        contact: Option<Contact>,
    },
    /// Resume this step at `until` (ms), with `state` kept in the step row.
    Wait {
        until: i64,
        state: Value,
        waiting_call: Option<Uuid>,
    },
    /// The step decided the run ends without acting (a `delay_until` time already past, with
    /// `if_past: skip`).
    Skipped {
        output: Value,
    },
    Failed {
        error: String,
    },
}

/// What a step needs from the engine to act.
pub struct StepCtx<'a> {
    pub store: &'a Store,
    pub templates: &'a Templates,
    /// The guarded client (see `parley_jobs::outbound`).
    pub http: &'a Outbound,
    pub team_id: &'a str,
    pub allow_premium: bool,
    pub run_id: Uuid,
    pub spec: &'a Spec,
    pub automation_zone: Tz,
    /// How long a call step waits between looks at its call (it is also woken when the call ends).
    pub call_poll: Duration,
}

fn fail(error: impl Into<String>) -> StepResult {
    StepResult::Failed { error: error.into() }
}

/// Renders a step's fields against the run's variables: the input recorded before it runs.
pub fn render_input(t: &Templates, step: &Step, vars: &Value) -> Result<Value, String> {
    let r = |s: &str| t.render(s, vars).map_err(|e| e.to_string());
    let ro = |s: &Option<String>| s.as_deref().map(r).transpose();
    let rmap = |m: &BTreeMap<String, String>| -> Result<Map<String, Value>, String> {
        m.iter().map(|(k, v)| Ok((k.clone(), Value::String(r(v)?)))).collect()
    };
    let rlist = |l: &[String]| l.iter().map(|s| r(s)).collect::<Result<Vec<_>, _>>();
    Ok(match &step.kind {
        StepKind::CreateContact {
            phone_number,
            name,
            email,
            country_code,
            attributes,
            tags,
        } => json!({
            "phone_number": r(phone_number)?, "name": ro(name)?, "email": ro(email)?,
            "country_code": ro(country_code)?, "attributes": rmap(attributes)?, "tags": rlist(tags)?,
        }),
        StepKind::UpdateContact {
            contact,
            name,
            email,
            attributes,
        } => json!({
            "contact_id": contact_id(t, contact, vars)?, "name": ro(name)?, "email": ro(email)?,
            "attributes": rmap(attributes)?,
        }),
        StepKind::CallContact {
            interview_id,
            contact,
            metadata,
            from_number,
        } => json!({
            "interview_id": interview_id, "contact_id": contact_id(t, contact, vars)?,
            "metadata": rmap(metadata)?, "from_number": ro(from_number)?,
        }),
        StepKind::CallPhoneNumber {
            interview_id,
            phone_number,
            name,
            country_code,
            metadata,
            from_number,
        } => json!({
            "interview_id": interview_id, "phone_number": r(phone_number)?, "name": ro(name)?,
            "country_code": ro(country_code)?, "metadata": rmap(metadata)?, "from_number": ro(from_number)?,
        }),
        StepKind::AddTag { contact, tags } | StepKind::RemoveTag { contact, tags } => json!({
            "contact_id": contact_id(t, contact, vars)?, "tags": rlist(tags)?,
        }),
        StepKind::Delay { duration } => json!({ "duration": duration }),
        StepKind::DelayUntil {
            at,
            offset,
            time_zone,
            if_past,
        } => json!({ "at": r(at)?, "offset": offset, "time_zone": time_zone, "if_past": if_past }),
        StepKind::Condition { mode, rules, .. } => json!({ "mode": mode, "rules": rules }),
        StepKind::HttpRequest {
            method,
            url,
            headers,
            body,
            timeout_secs,
            retries,
        } => json!({
            "method": method, "url": r(url)?, "headers": rmap(headers)?,
            "body": body.as_ref().map(|b| t.render_value(b, vars).map_err(|e| e.to_string())).transpose()?,
            "timeout_secs": timeout_secs, "retries": retries,
        }),
        StepKind::Loop { items, max_items, .. } => json!({ "items": items, "max_items": max_items }),
        StepKind::End { outcome } => json!({ "outcome": ro(outcome)? }),
    })
}

/// The contact a step acts on: its `contact` template rendered to an id, or the run's contact.
fn contact_id(t: &Templates, contact: &Option<String>, vars: &Value) -> Result<String, String> {
    match contact {
        Some(tpl) => t.render(tpl, vars).map_err(|e| e.to_string()),
        None => vars
            .get("contact")
            .and_then(|c| c.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| "the run has no contact (no trigger contact and no earlier create_contact step)".into()),
    }
}

fn s<'a>(input: &'a Value, key: &str) -> Option<&'a str> {
    input.get(key).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn string_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Runs one step. `row` is its record (attempt, durable state); `state` the run's state (loop
/// steps push their frame onto it).
pub async fn execute(
    ctx: &StepCtx<'_>,
    step: &Step,
    input: &Value,
    vars: &Value,
    row: &StepRow,
    state: &mut RunState,
) -> StepResult {
    let next = Flow::Goto(step.next.clone());
    match &step.kind {
        StepKind::CreateContact { .. } => contact::create_contact(ctx, input, next).await,
        StepKind::UpdateContact { .. } => contact::update_contact(ctx, input, next).await,
        StepKind::AddTag { .. } | StepKind::RemoveTag { .. } => tags::change_tags(ctx, step, input).await,
        StepKind::CallContact { .. } | StepKind::CallPhoneNumber { .. } => {
            call::call(ctx, step, input, row, next).await
        }
        StepKind::Delay { duration } => delay::delay(row, duration, next),
        StepKind::DelayUntil {
            offset,
            time_zone,
            if_past,
            ..
        } => delay::delay_until(ctx, input, row, offset, time_zone, *if_past, state, next),
        StepKind::HttpRequest { .. } => http::http_request(ctx, input, row)
            .await
            .unwrap_or_else(|r| r)
            .with_flow(next),
        StepKind::Condition { .. } | StepKind::Loop { .. } | StepKind::End { .. } => {
            decide(ctx, step, input, vars, state)
        }
    }
}

/// Whether a step must be recorded as started before it runs: it acts outside the run's own
/// record (a contact, a call, an HTTP request), or its timing counts from its recorded start (a
/// delay). The others (a condition, a loop, an end) decide only where the run goes: run again
/// after a crash, they decide the same, so their whole row is written after them, with the
/// run's next record (`Store::advance`).
pub fn needs_start_record(kind: &StepKind) -> bool {
    !matches!(
        kind,
        StepKind::Condition { .. } | StepKind::Loop { .. } | StepKind::End { .. }
    )
}

/// Runs a step that needs no start record (see [`needs_start_record`]).
pub fn decide(ctx: &StepCtx<'_>, step: &Step, input: &Value, vars: &Value, state: &mut RunState) -> StepResult {
    let next = Flow::Goto(step.next.clone());
    match &step.kind {
        StepKind::Condition {
            mode,
            rules,
            then,
            otherwise,
        } => condition::condition(ctx, *mode, rules, then, otherwise, vars),
        StepKind::Loop { items, body, max_items } => {
            loops::run_loop(ctx, step, items, body, *max_items, vars, state, next)
        }
        StepKind::End { .. } => StepResult::Done {
            output: json!({ "outcome": input.get("outcome").cloned().unwrap_or(Value::Null) }),
            flow: Flow::End,
            contact: None,
        },
        other => fail(format!("{} is not a step that decides alone", other.type_name())),
    }
}

impl StepResult {
    /// Sets the flow of a finished step (HTTP requests decide only whether they finished).
    fn with_flow(self, flow: Flow) -> StepResult {
        match self {
            StepResult::Done { output, contact, .. } => StepResult::Done { output, flow, contact },
            other => other,
        }
    }
}

pub fn rfc3339(ms: i64) -> String {
    parley_core::time::Timestamp(ms).to_rfc3339()
}
