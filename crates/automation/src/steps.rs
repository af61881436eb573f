//! What each step type does when the engine runs it.
//!
//! A step first renders its fields ([`render_input`]: that rendered input is recorded before the
//! step acts), then [`execute`] acts and answers with a [`StepResult`]. Steps that wait (delays,
//! calls, HTTP retries) answer `Wait` with the durable state they need to resume: the step row
//! keeps it, so a step resumed after a crash finds its due time or its placed call again.

use crate::calling;
use crate::condition;
use crate::model::{CallingRules, IfPast, Spec, Step, StepKind};
use crate::state::{LoopFrame, RunState};
use crate::template::Templates;
use crate::timing;
use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use parley_core::call::CallStatus;
use parley_core::contact::{self, Contact, LeadSource};
use parley_core::phone::{self, PhonePolicy};
use parley_core::ValidationError;
use parley_jobs::outbound::{Backoff, Outbound, OutboundError};
use parley_store::automations::{StepRow, StepTags};
use parley_store::contacts::ContactWrite;
use parley_store::{now_ms, Store, StoreError};
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
        StepKind::CreateContact { .. } => create_contact(ctx, input, next).await,
        StepKind::UpdateContact { .. } => update_contact(ctx, input, next).await,
        StepKind::AddTag { .. } | StepKind::RemoveTag { .. } => change_tags(ctx, step, input).await,
        StepKind::CallContact { .. } | StepKind::CallPhoneNumber { .. } => call(ctx, step, input, row, next).await,
        StepKind::Delay { duration } => {
            let due = match step_due(row) {
                Some(d) => d,
                None => match timing::signed_duration_ms(duration) {
                    Ok(ms) => row.started + ms.max(0),
                    Err(e) => return fail(e),
                },
            };
            wait_until(due, next)
        }
        StepKind::DelayUntil {
            offset,
            time_zone,
            if_past,
            ..
        } => {
            let due = match step_due(row) {
                Some(d) => d,
                None => match delay_until_due(ctx, input, offset.as_deref(), time_zone.as_deref(), state) {
                    Ok(d) => d,
                    Err(e) => return fail(e),
                },
            };
            // Past already when the step began (not merely reached while it waited).
            if due <= row.started && step_due(row).is_none() && *if_past == IfPast::Skip {
                return StepResult::Skipped {
                    output: json!({ "due_at": rfc3339(due), "skipped": true }),
                };
            }
            wait_until(due, next)
        }
        StepKind::HttpRequest { .. } => http_request(ctx, input, row)
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
        } => match condition::evaluate(ctx.templates, *mode, rules, vars) {
            Ok(ev) => {
                let matched = ev.matched;
                StepResult::Done {
                    output: serde_json::to_value(&ev).unwrap_or(Value::Null),
                    flow: Flow::Goto(if matched { then.clone() } else { otherwise.clone() }),
                    contact: None,
                }
            }
            Err(e) => fail(e.to_string()),
        },
        StepKind::Loop { items, body, max_items } => {
            let list = match ctx.templates.eval(items, vars) {
                Ok(Value::Array(a)) => a,
                Ok(Value::Null) => Vec::new(),
                Ok(other) => {
                    return fail(format!(
                        "loop items `{items}` is not a list (it is {})",
                        type_name(&other)
                    ))
                }
                Err(e) => return fail(e.to_string()),
            };
            if list.len() > *max_items as usize {
                return fail(format!(
                    "loop items: {} items, more than max_items {max_items}",
                    list.len()
                ));
            }
            let count = list.len();
            if count == 0 {
                return StepResult::Done {
                    output: json!({ "count": 0 }),
                    flow: next,
                    contact: None,
                };
            }
            state.loops.push(LoopFrame {
                slug: step.slug.clone(),
                items: list,
                index: 0,
            });
            StepResult::Done {
                output: json!({ "count": count }),
                flow: Flow::Goto(Some(body.clone())),
                contact: None,
            }
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

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

pub fn rfc3339(ms: i64) -> String {
    parley_core::time::Timestamp(ms).to_rfc3339()
}

fn step_due(row: &StepRow) -> Option<i64> {
    row.state.as_ref().and_then(|s| s.get("due_at")).and_then(Value::as_i64)
}

/// Done when `due` has come, else a wait that remembers it.
fn wait_until(due: i64, next: Flow) -> StepResult {
    let now = now_ms();
    if now >= due {
        StepResult::Done {
            output: json!({ "due_at": rfc3339(due), "skipped": false, "late_ms": now - due }),
            flow: next,
            contact: None,
        }
    } else {
        StepResult::Wait {
            until: due,
            state: json!({ "due_at": due }),
            waiting_call: None,
        }
    }
}

fn delay_until_due(
    ctx: &StepCtx<'_>,
    input: &Value,
    offset: Option<&str>,
    zone: Option<&str>,
    state: &RunState,
) -> Result<i64, String> {
    let at = s(input, "at").ok_or("delay_until: `at` rendered to nothing")?;
    let tz = match zone.unwrap_or("contact") {
        "automation" => ctx.automation_zone,
        "contact" => state
            .vars
            .contact
            .as_ref()
            .and_then(|c| serde_json::from_value::<Contact>(c.clone()).ok())
            .map(|c| calling::callee_zones(&c, ctx.automation_zone))
            .and_then(|z| (z.len() == 1).then(|| z[0]))
            .unwrap_or(ctx.automation_zone),
        iana => iana.parse::<Tz>().map_err(|_| format!("unknown time zone `{iana}`"))?,
    };
    let when = timing::parse_time(at, tz)?;
    let shift = offset.map(timing::signed_duration_ms).transpose()?.unwrap_or(0);
    Ok(when.timestamp_millis() + shift)
}

/// The id a step's `contact_id` input names.
fn team_contact_id(input: &Value) -> Result<Uuid, String> {
    let id = s(input, "contact_id").ok_or("no contact")?;
    parley_core::ids::parse_uuid(id).ok_or_else(|| format!("`{id}` is not a contact id"))
}

async fn team_contact(ctx: &StepCtx<'_>, input: &Value) -> Result<Contact, String> {
    let uuid = team_contact_id(input)?;
    match ctx.store.contact(ctx.team_id, uuid).await {
        Ok(c) => Ok(c),
        Err(StoreError::NotFound) => Err(format!("contact {uuid} not found")),
        Err(e) => Err(e.to_string()),
    }
}

/// A call step's route (see `Store::route_call`): its rendered `from_number`, read like the
/// step's `phone_number` (in `country_code`, default `+1`).
async fn route(ctx: &StepCtx<'_>, input: &Value, to: &str) -> Result<parley_core::number::CallRoute, String> {
    let from = match s(input, "from_number").map(str::trim).filter(|f| !f.is_empty()) {
        Some(f) => {
            let cc = phone::parse_country_code(s(input, "country_code").unwrap_or("+1")).map_err(|e| e.to_string())?;
            let policy = PhonePolicy {
                allow_premium: ctx.allow_premium,
            };
            Some(phone::normalize("from_number", f, cc, policy).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    ctx.store
        .route_call(ctx.team_id, to, from.as_deref())
        .await
        .map_err(|e| e.to_string())
}

fn contact_write(ctx: &StepCtx<'_>, input: &Value) -> Result<ContactWrite, String> {
    let cc = phone::parse_country_code(s(input, "country_code").unwrap_or("+1")).map_err(|e| e.to_string())?;
    let number = phone::normalize(
        "phone_number",
        s(input, "phone_number").unwrap_or_default(),
        cc,
        PhonePolicy {
            allow_premium: ctx.allow_premium,
        },
    )
    .map_err(|e| e.to_string())?;
    let attributes = string_map(&input["attributes"]);
    contact::check_attributes(&attributes).map_err(|e| e.to_string())?;
    Ok(ContactWrite {
        phone_number: number,
        name: contact::clean_name("name", s(input, "name")).map_err(|e| e.to_string())?,
        email: contact::clean_email(s(input, "email")).map_err(|e| e.to_string())?,
        tags: contact::clean_tags(&string_list(&input["tags"])).map_err(|e| e.to_string())?,
        attributes,
        lead_source: LeadSource::Automation,
    })
}

fn contact_output(c: &Contact, created: Option<bool>) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let (Some(created), Some(o)) = (created, v.as_object_mut()) {
        o.insert("created_new".into(), Value::Bool(created));
    }
    v
}

async fn create_contact(ctx: &StepCtx<'_>, input: &Value, next: Flow) -> StepResult {
    let write = match contact_write(ctx, input) {
        Ok(w) => w,
        Err(e) => return fail(e),
    };
    // An upsert by number: re-running it after a crash finds the same contact.
    match ctx.store.upsert_contact(ctx.team_id, &write).await {
        Ok(up) => StepResult::Done {
            output: contact_output(&up.contact, Some(up.created)),
            flow: next,
            contact: Some(up.contact),
        },
        Err(e) => fail(e.to_string()),
    }
}

async fn update_contact(ctx: &StepCtx<'_>, input: &Value, next: Flow) -> StepResult {
    let c = match team_contact(ctx, input).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let mut attributes = c.attributes.clone();
    attributes.extend(string_map(&input["attributes"]));
    if let Err(e) = contact::check_attributes(&attributes) {
        return fail(e.to_string());
    }
    let name = match contact::clean_name("name", s(input, "name")) {
        Ok(n) => n.or(c.name.clone()),
        Err(e) => return fail(e.to_string()),
    };
    let email = match contact::clean_email(s(input, "email")) {
        Ok(e) => e.or(c.email.clone()),
        Err(e) => return fail(e.to_string()),
    };
    let write = ContactWrite {
        phone_number: c.phone_number.clone(),
        name,
        email,
        tags: Vec::new(),
        attributes,
        lead_source: c.lead_source,
    };
    match ctx.store.upsert_contact(ctx.team_id, &write).await {
        Ok(up) => StepResult::Done {
            output: contact_output(&up.contact, Some(false)),
            flow: next,
            contact: Some(up.contact),
        },
        Err(e) => fail(e.to_string()),
    }
}

/// A tag step's change, made in the same transaction as its start record (`Store::advance`):
/// `None` for other steps, an error when its input names no contact.
pub fn tag_change(team_id: &str, step: &Step, input: &Value) -> Option<Result<StepTags, String>> {
    let add = match step.kind {
        StepKind::AddTag { .. } => true,
        StepKind::RemoveTag { .. } => false,
        _ => return None,
    };
    Some(team_contact_id(input).map(|contact_id| StepTags {
        team_id: team_id.to_string(),
        contact_id,
        change: Box::new(tag_edit(add, string_list(&input["tags"]))),
    }))
}

/// The new tag list from the old one.
fn tag_edit(add: bool, tags: Vec<String>) -> impl Fn(&[String]) -> Result<Vec<String>, ValidationError> {
    move |old| {
        if add {
            contact::merge_tags(old, &contact::clean_tags(&tags)?)
        } else {
            Ok(old.iter().filter(|t| !tags.contains(t)).cloned().collect())
        }
    }
}

/// A tag step's result from what its change found.
pub fn tagged(
    step: &Step,
    contact_id: Uuid,
    changed: Result<Result<Contact, ValidationError>, StoreError>,
) -> StepResult {
    match changed {
        Ok(Ok(c)) => StepResult::Done {
            output: json!({ "contact_id": c.id, "tags": c.tags }),
            flow: Flow::Goto(step.next.clone()),
            contact: Some(c),
        },
        Ok(Err(e)) => fail(e.to_string()),
        Err(StoreError::NotFound) => fail(format!("contact {contact_id} not found")),
        Err(e) => fail(e.to_string()),
    }
}

/// A tag step on its own (the engine makes the change with the step's start instead; see
/// [`tag_change`]).
async fn change_tags(ctx: &StepCtx<'_>, step: &Step, input: &Value) -> StepResult {
    let t = match tag_change(ctx.team_id, step, input) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return fail(e),
        None => return fail(format!("{} is not a tag step", step.kind.type_name())),
    };
    let id = t.contact_id;
    let changed = ctx.store.change_tags(ctx.team_id, id, t.change).await;
    tagged(step, id, changed)
}

/// What a call step remembers across restarts.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct CallState {
    /// The call in flight (placed, not yet seen ended).
    call_id: Option<Uuid>,
    /// Calls placed so far.
    attempts: u32,
    /// Not before this time (the spacing of a retry).
    not_before: Option<i64>,
    contact_id: Option<Uuid>,
    calls: Vec<Uuid>,
}

/// Statuses after which a call is not answered and may be retried.
fn unanswered(status: CallStatus) -> bool {
    matches!(status, CallStatus::NoAnswer | CallStatus::Failed)
}

async fn call(ctx: &StepCtx<'_>, step: &Step, input: &Value, row: &StepRow, next: Flow) -> StepResult {
    let mut st: CallState = row
        .state
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let rules: &CallingRules = &ctx.spec.calling;
    let now = now_ms();
    if let Some(call_id) = st.call_id {
        let call = match ctx.store.call(ctx.team_id, call_id).await {
            Ok(c) => c,
            Err(e) => return fail(format!("call {call_id}: {e}")),
        };
        if !call.status.is_final() {
            return StepResult::Wait {
                until: now + ctx.call_poll.as_millis() as i64,
                state: serde_json::to_value(&st).unwrap_or_default(),
                waiting_call: Some(call_id),
            };
        }
        if unanswered(call.status) && st.attempts <= rules.retries {
            let spacing = timing::signed_duration_ms(&rules.retry_spacing)
                .unwrap_or(3_600_000)
                .max(0);
            st.call_id = None;
            st.not_before = Some(now + spacing);
            return StepResult::Wait {
                until: now + spacing,
                state: serde_json::to_value(&st).unwrap_or_default(),
                waiting_call: None,
            };
        }
        return StepResult::Done {
            output: json!({
                "call_id": call.id, "status": call.status.as_str(), "outcome": call.outcome,
                "variables": call.variables, "duration_ms": call.duration_ms,
                "end_reason": call.end_reason, "contact_id": st.contact_id, "attempts": st.attempts,
            }),
            flow: next,
            contact: call.contact.clone(),
        };
    }
    if let Some(t) = st.not_before.filter(|t| *t > now) {
        return StepResult::Wait {
            until: t,
            state: serde_json::to_value(&st).unwrap_or_default(),
            waiting_call: None,
        };
    }
    // The contact: the step's own (a number to call) or the run's / the named one.
    let contact = match &step.kind {
        StepKind::CallPhoneNumber { .. } => {
            let write = match contact_write(ctx, input) {
                Ok(w) => w,
                Err(e) => return fail(e),
            };
            match ctx.store.upsert_contact(ctx.team_id, &write).await {
                Ok(up) => up.contact,
                Err(e) => return fail(e.to_string()),
            }
        }
        _ => match team_contact(ctx, input).await {
            Ok(c) => c,
            Err(e) => return fail(e),
        },
    };
    if contact.status == parley_core::contact::ContactStatus::Dnc {
        return fail(format!("contact {} is on the do-not-call list", contact.id));
    }
    // Calling hours, in the callee's time.
    let zones = calling::callee_zones(&contact, ctx.automation_zone);
    let now_utc = Utc.timestamp_millis_opt(now).single().unwrap_or_else(Utc::now);
    match calling::next_allowed(now_utc, rules, &zones) {
        None => return fail("the calling rules allow no time to call"),
        Some(t) if t > now_utc => {
            return StepResult::Wait {
                until: t.timestamp_millis(),
                state: serde_json::to_value(&st).unwrap_or_default(),
                waiting_call: None,
            }
        }
        Some(_) => {}
    }
    // The network and caller id: the step's `from_number` (one of the team's numbers) or the
    // team's default number; a call no number of the team can place fails the step.
    let route = match route(ctx, input, &contact.phone_number).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let interview_id = input["interview_id"].as_str().unwrap_or_default().to_string();
    let metadata = string_map(&input["metadata"]);
    let contact_id = contact.id;
    let placed = ctx
        .store
        .place_step_call(
            ctx.team_id,
            ctx.run_id,
            row.seq,
            &interview_id,
            contact,
            metadata,
            route,
            |call| {
                st.call_id = Some(call.id);
                st.attempts += 1;
                st.not_before = None;
                st.contact_id = Some(contact_id);
                st.calls.push(call.id);
                serde_json::to_value(&st).unwrap_or_default()
            },
        )
        .await;
    match placed {
        Ok(call) => StepResult::Wait {
            until: now + ctx.call_poll.as_millis() as i64,
            state: serde_json::to_value(&st).unwrap_or_default(),
            waiting_call: Some(call.id),
        },
        Err(e) => fail(e.to_string()),
    }
}

/// What an HTTP step remembers between tries.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct HttpState {
    tries: u32,
    last_error: Option<String>,
}

/// The largest response body kept as the step's output.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

async fn http_request(ctx: &StepCtx<'_>, input: &Value, row: &StepRow) -> Result<StepResult, StepResult> {
    let mut st: HttpState = row
        .state
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let url = s(input, "url").ok_or_else(|| fail("url rendered to nothing"))?;
    let url = ctx.http.check_url(url).map_err(|e| fail(format!("url: {e}")))?;
    let method = reqwest::Method::from_bytes(s(input, "method").unwrap_or("POST").to_ascii_uppercase().as_bytes())
        .map_err(|_| fail("method: not an HTTP method"))?;
    let timeout = Duration::from_secs(input["timeout_secs"].as_u64().unwrap_or(10).clamp(1, 60));
    let retries = input["retries"].as_u64().unwrap_or(3).min(10) as u32;
    let req = ctx.http.request(method, &url).with(|mut req| {
        // Receivers can drop a repeat: a request re-sent after a crash carries the same key.
        req = req
            .timeout(timeout)
            .header("Idempotency-Key", format!("{}-{}", ctx.run_id, row.seq));
        for (k, v) in string_map(&input["headers"]) {
            req = req.header(k, v);
        }
        match &input["body"] {
            Value::Null => req,
            Value::String(s) => req.body(s.clone()),
            other => req.json(other),
        }
    });
    st.tries += 1;
    let outcome = match req.send().await {
        Ok(resp) => {
            let status = resp.status();
            let headers: Map<String, Value> = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        Value::String(v.to_str().unwrap_or_default().to_string()),
                    )
                })
                .collect();
            let bytes = read_capped(resp).await;
            let body = serde_json::from_slice::<Value>(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            let output = json!({ "status": status.as_u16(), "headers": headers, "body": body });
            if status.is_server_error() {
                Err(OutboundError::status(&url, status.as_u16()))
            } else if status.is_client_error() {
                // A 4xx will not change on retry: fail now, with what the server said.
                return Err(fail(format!(
                    "{}: {}",
                    OutboundError::status(&url, status.as_u16()),
                    short(&output["body"])
                )));
            } else {
                Ok(output)
            }
        }
        // A refused address (or a URL that cannot be sent to) will not change on retry either.
        Err(e) if !e.is_retryable() => return Err(fail(e.to_string())),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(output) => Ok(StepResult::Done {
            output,
            flow: Flow::Goto(None),
            contact: None,
        }),
        Err(e) if st.tries <= retries => {
            st.last_error = Some(e.to_string());
            Ok(StepResult::Wait {
                until: now_ms() + Backoff::HTTP_STEP.delay_ms(st.tries),
                state: serde_json::to_value(&st).unwrap_or_default(),
                waiting_call: None,
            })
        }
        Err(e) => Err(fail(format!("{e} (after {} tries)", st.tries))),
    }
}

async fn read_capped(mut resp: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_RESPONSE_BYTES.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    out
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    s.chars().take(200).collect()
}
