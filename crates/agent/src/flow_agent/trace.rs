//! The walk's trace: each node the agent entered, when, and how it left it (the outcome handle
//! it followed, the caller's words that decided a question, the variables captured there). The
//! call keeps it (`path`), so the dashboard can replay a call on the agent's canvas: which node
//! was active at each moment and why each transition fired.

use super::FlowAgent;
use crate::llm::Role;
use parley_core::time::Timestamp;
use serde_json::{json, Map, Value};

/// One node of the walk.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Step {
    pub node: String,
    pub kind: String,
    pub entered: Timestamp,
    /// The variables as they were on entry (to tell what this node captured).
    before: Map<String, Value>,
    /// How the walk left: the handle, when it did leave (an end or transfer node does not).
    pub handle: Option<String>,
    /// What the caller said that decided the handle (questions).
    pub heard: Option<String>,
    pub captured: Map<String, Value>,
}

impl Step {
    pub(super) fn to_json(&self) -> Value {
        json!({
            "node": self.node, "type": self.kind, "at": self.entered, "handle": self.handle,
            "heard": self.heard, "captured": self.captured,
        })
    }
}

impl FlowAgent {
    /// The walk enters `id`.
    pub(super) fn trace_enter(&mut self, id: &str) {
        let kind = self.nodes.get(id).map(|n| n.kind.clone()).unwrap_or_default();
        self.trace.push(Step {
            node: id.to_string(),
            kind,
            entered: Timestamp::now(),
            before: self.variables.clone(),
            handle: None,
            heard: None,
            captured: Map::new(),
        });
    }

    /// The walk leaves `id` through `handle`.
    pub(super) fn trace_leave(&mut self, id: &str, handle: &str) {
        let heard = self
            .conversation
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.clone());
        let vars = &self.variables;
        let Some(step) = self.trace.iter_mut().rev().find(|s| s.node == id && s.handle.is_none()) else {
            return;
        };
        step.handle = Some(handle.to_string());
        if step.kind == "question" {
            step.heard = heard;
        }
        step.captured = vars
            .iter()
            .filter(|(k, v)| step.before.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        step.before = Map::new();
    }
}
