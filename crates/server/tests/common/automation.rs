//! Helpers of the automation tests: a short agent to call, the public webhook, waiting for runs.

use super::{eventually, into_resp, Client, Resp};
use serde_json::{json, Value};

/// A short qualifying agent: one yes/no question, an outcome per answer.
pub async fn qualifying_agent(c: &Client) -> Value {
    c.post(
        "/interview/create",
        json!({
            "title": "Lead qualifier",
            "flow": {
                "nodes": [
                    {"id": "start", "type": "start", "data": {}},
                    {"id": "ask", "type": "question", "data": {
                        "question": "Hi {{contact.name}}, is now a good time to talk about your quote?",
                        "variable": "interested", "kind": "yes_no", "max_attempts": 1}},
                    {"id": "yes", "type": "end", "data": {"outcome": "interested", "message": "Great, goodbye."}},
                    {"id": "no", "type": "end", "data": {"outcome": "not_interested", "message": "Okay, goodbye."}},
                    {"id": "unclear", "type": "end", "data": {"outcome": "unclear", "message": "Goodbye."}}
                ],
                "edges": [
                    {"id": "e1", "source": "start", "sourceHandle": "next", "target": "ask"},
                    {"id": "e2", "source": "ask", "sourceHandle": "yes", "target": "yes"},
                    {"id": "e3", "source": "ask", "sourceHandle": "no", "target": "no"},
                    {"id": "e4", "source": "ask", "sourceHandle": "no_match", "target": "unclear"}
                ]
            }
        }),
    )
    .await
    .ok()
    .clone()
}

/// Posts to an automation's public webhook URL (no auth headers).
pub async fn fire(c: &Client, id: &str, body: Value) -> Resp {
    into_resp(
        c.http
            .post(format!("{}/webhook/automation/{id}", c.base))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Waits until a run has finished; returns it with its steps.
pub async fn wait_run(c: &Client, run_id: &str, secs: u64) -> Value {
    eventually(secs, "the run to finish", || async {
        let r = c.get(&format!("/automation_run/{run_id}")).await;
        let run = r.ok().clone();
        matches!(run["status"].as_str(), Some("completed" | "failed" | "canceled")).then_some(run)
    })
    .await
}

pub fn step<'a>(run: &'a Value, slug: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|s| s["slug"] == slug)
        .unwrap_or_else(|| panic!("no step {slug} in {run}"))
}

pub fn slugs(run: &Value) -> Vec<String> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["slug"].as_str().unwrap().to_string())
        .collect()
}
