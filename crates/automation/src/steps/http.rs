//! The `http_request` step: the guarded request, its output, and its retries.

use super::{fail, s, string_map, Flow, StepCtx, StepResult};
use parley_jobs::outbound::{Backoff, OutboundError};
use parley_store::automations::StepRow;
use parley_store::now_ms;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// What an HTTP step remembers between tries.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct HttpState {
    tries: u32,
    last_error: Option<String>,
}

/// The largest response body kept as the step's output.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;
pub(super) async fn http_request(ctx: &StepCtx<'_>, input: &Value, row: &StepRow) -> Result<StepResult, StepResult> {
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
