//! The `call_contact` and `call_phone_number` steps: placing the call, waiting for it, retrying.

use super::contact::{contact_write, team_contact};
use super::{fail, s, string_map, Flow, StepCtx, StepResult};
use crate::calling;
use crate::model::{CallingRules, Step, StepKind};
use crate::timing;
use chrono::{TimeZone, Utc};
use parley_core::call::CallStatus;
use parley_core::phone::{self, PhonePolicy};
use parley_store::automations::StepRow;
use parley_store::now_ms;
use serde_json::{json, Value};
use uuid::Uuid;

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
pub(super) async fn call(ctx: &StepCtx<'_>, step: &Step, input: &Value, row: &StepRow, next: Flow) -> StepResult {
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
