//! The call's results for the CRM: the plain and the LLM-written summary, and the tags.

use super::{FlowAgent, OUTCOME_TRANSFERRED};
use crate::llm::Message;
use crate::template;
use parley_voice::agent::Summary;
use serde_json::Value;

/// How a captured value reads in a summary.
fn summary_value(v: &Value) -> String {
    match v {
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Object(o) if o.contains_key("iso") => {
            let text = o.get("text").and_then(Value::as_str).unwrap_or("");
            let iso = o.get("iso").and_then(Value::as_str).unwrap_or("").replace('T', " ");
            format!("{text} ({iso})")
        }
        other => template::value_text(other),
    }
}

impl FlowAgent {
    /// The summary built from the outcome and the variables, without an LLM.
    pub fn plain_summary(&self) -> String {
        let mut s = match &self.outcome {
            Some(o) => format!("Outcome: {o}."),
            None => "Outcome: none (the call ended before the flow finished).".to_string(),
        };
        if let Some(n) = &self.transferred_to {
            s.push_str(&format!(" Transferred to {n}."));
        }
        if !self.variables.is_empty() {
            let vars: Vec<String> = self
                .variables
                .iter()
                .map(|(k, v)| format!("{k}: {}", summary_value(v)))
                .collect();
            s.push(' ');
            s.push_str(&vars.join("; "));
            s.push('.');
        }
        s
    }

    /// The tags of the call: its outcome (or `incomplete`), and `transferred` if it was.
    pub fn response_tags(&self) -> Vec<String> {
        let mut tags = vec![self.outcome.clone().unwrap_or_else(|| "incomplete".into())];
        if self.transferred_to.is_some() && !tags.iter().any(|t| t == OUTCOME_TRANSFERRED) {
            tags.push(OUTCOME_TRANSFERRED.into());
        }
        tags
    }

    /// The call's summary, written by the LLM when there is one, else the plain summary.
    pub(super) async fn call_summary(&self, transcript: &str) -> Summary {
        let plain = self.plain_summary();
        let mut summary = plain.clone();
        if let Some(llm) = &self.cfg.llm {
            let system = "You write the summary of a finished phone call for a CRM record: one short paragraph \
                          of plain text saying who was called, what they said and how the call ended. No lists, \
                          no headings.";
            let user = format!(
                "Transcript:\n{}\n\nResult: {plain}\nVariables: {}",
                transcript.trim(),
                Value::Object(self.variables.clone())
            );
            match llm.complete(vec![Message::system(system), Message::user(user)]).await {
                Ok(s) if !s.trim().is_empty() => summary = s.trim().to_string(),
                Ok(_) => tracing::warn!("the LLM returned an empty summary"),
                Err(e) => tracing::warn!(error = %e, "the LLM could not summarize the call"),
            }
        }
        Summary {
            summary,
            response_tags: self.response_tags(),
        }
    }
}
