//! The `condition` step: evaluates its rules and goes to `then` or `else`.

use super::{fail, Flow, StepCtx, StepResult};
use crate::condition;
use crate::model::{Match, Rule};
use serde_json::Value;

/// A `condition` step: `then` when its rules hold (in `mode`), else `else`.
pub(super) fn condition(
    ctx: &StepCtx<'_>,
    mode: Match,
    rules: &[Rule],
    then: &Option<String>,
    otherwise: &Option<String>,
    vars: &Value,
) -> StepResult {
    match condition::evaluate(ctx.templates, mode, rules, vars) {
        Ok(ev) => {
            let matched = ev.matched;
            StepResult::Done {
                output: serde_json::to_value(&ev).unwrap_or(Value::Null),
                flow: Flow::Goto(if matched { then.clone() } else { otherwise.clone() }),
                contact: None,
            }
        }
        Err(e) => fail(e.to_string()),
    }
}
