//! The `loop` step: evaluates its list and enters its body with the first item.

use super::{fail, Flow, StepCtx, StepResult};
use crate::model::Step;
use crate::state::{LoopFrame, RunState};
use serde_json::{json, Value};

/// A `loop` step: pushes its frame (the list, at most `max_items` items) and goes to `body`;
/// with no items it goes on to `next`.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_loop(
    ctx: &StepCtx<'_>,
    step: &Step,
    items: &str,
    body: &str,
    max_items: u32,
    vars: &Value,
    state: &mut RunState,
    next: Flow,
) -> StepResult {
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
    if list.len() > max_items as usize {
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
        flow: Flow::Goto(Some(body.to_string())),
        contact: None,
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
