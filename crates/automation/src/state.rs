//! A run's durable state: where it is in the graph and the variables its templates read.
//!
//! Stored as JSON in the run row and rewritten in the same transaction that records a step's
//! end, so a restarted process resumes exactly after the last recorded step. The steps' outputs
//! are not part of that JSON: each is in its own step row, written in the same transaction, and
//! a resumed run reads them back ([`RunState::restore_outputs`]). Rewriting every earlier output
//! at each step made a run's writes grow with the square of its length.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunState {
    /// The step to run next; `None` when the current chain has ended.
    pub cursor: Option<String>,
    /// The sequence number the next recorded step gets.
    pub seq: i64,
    /// Loops being iterated, innermost last.
    #[serde(default)]
    pub loops: Vec<LoopFrame>,
    /// `trigger`, `steps`, `contact`: what templates read (with `automation`, `run`, `now`,
    /// `loop` added at render time).
    pub vars: Vars,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoopFrame {
    pub slug: String,
    pub items: Vec<Value>,
    pub index: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Vars {
    /// `{type, payload}`.
    pub trigger: Value,
    /// Each finished step's output by slug (a loop body's steps: the latest item's). Not
    /// serialized: see the module doc.
    #[serde(default, skip_serializing)]
    pub steps: Map<String, Value>,
    /// The run's contact (the API object), once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Value>,
}

impl RunState {
    /// The state of a new run of a trigger (`trigger_type`) with its payload.
    pub fn new(start: Option<&str>, trigger_type: &str, payload: Value, contact: Option<Value>) -> Self {
        RunState {
            cursor: start.map(str::to_string),
            seq: 1,
            loops: Vec::new(),
            vars: Vars {
                trigger: json!({ "type": trigger_type, "payload": payload }),
                steps: Map::new(),
                contact,
            },
        }
    }

    /// Puts back the outputs of a resumed run's recorded steps, `(slug, output)` in the order
    /// they ran (a later output of the same slug, a loop body's next item, wins).
    pub fn restore_outputs(&mut self, outputs: impl IntoIterator<Item = (String, Value)>) {
        for (slug, output) in outputs {
            self.vars.steps.insert(slug, output);
        }
    }

    /// The object templates render against.
    pub fn template_vars(&self, automation: &Value, run: &Value, now_rfc3339: &str) -> Value {
        let mut v = Map::new();
        v.insert("trigger".into(), self.vars.trigger.clone());
        v.insert("steps".into(), Value::Object(self.vars.steps.clone()));
        if let Some(c) = &self.vars.contact {
            v.insert("contact".into(), c.clone());
        }
        v.insert("automation".into(), automation.clone());
        v.insert("run".into(), run.clone());
        v.insert("now".into(), Value::String(now_rfc3339.to_string()));
        if let Some(f) = self.loops.last() {
            v.insert(
                "loop".into(),
                json!({ "item": f.items.get(f.index).cloned().unwrap_or(Value::Null), "index": f.index }),
            );
        }
        Value::Object(v)
    }
}
