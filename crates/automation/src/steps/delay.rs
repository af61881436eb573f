//! The `delay` and `delay_until` steps: when they are due, and the wait until then.

use super::{fail, rfc3339, s, Flow, StepCtx, StepResult};
use crate::calling;
use crate::model::IfPast;
use crate::state::RunState;
use crate::timing;
use chrono_tz::Tz;
use parley_core::contact::Contact;
use parley_store::automations::StepRow;
use parley_store::now_ms;
use serde_json::{json, Value};

/// A `delay` step: done once its duration from the step's start has passed.
pub(super) fn delay(row: &StepRow, duration: &str, next: Flow) -> StepResult {
    let due = match step_due(row) {
        Some(d) => d,
        None => match timing::signed_duration_ms(duration) {
            Ok(ms) => row.started + ms.max(0),
            Err(e) => return fail(e),
        },
    };
    wait_until(due, next)
}

/// A `delay_until` step: done at its rendered time (shifted by `offset`), or skipped when that
/// time had already passed when the step began and `if_past` is `skip`.
#[allow(clippy::too_many_arguments)]
pub(super) fn delay_until(
    ctx: &StepCtx<'_>,
    input: &Value,
    row: &StepRow,
    offset: &Option<String>,
    time_zone: &Option<String>,
    if_past: IfPast,
    state: &RunState,
    next: Flow,
) -> StepResult {
    let due = match step_due(row) {
        Some(d) => d,
        None => match delay_until_due(ctx, input, offset.as_deref(), time_zone.as_deref(), state) {
            Ok(d) => d,
            Err(e) => return fail(e),
        },
    };
    // Past already when the step began (not merely reached while it waited).
    if due <= row.started && step_due(row).is_none() && if_past == IfPast::Skip {
        return StepResult::Skipped {
            output: json!({ "due_at": rfc3339(due), "skipped": true }),
        };
    }
    wait_until(due, next)
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
