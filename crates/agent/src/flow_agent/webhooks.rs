//! Webhook nodes: the request made mid-call, and what it saves.

use super::FlowAgent;
use crate::template::{self, render};
use parley_jobs::outbound::OutboundError;
use parley_voice::agent::AgentOutput;
use serde_json::{json, Value};
use tokio::sync::mpsc;

impl FlowAgent {
    pub(super) async fn webhook(&mut self, id: &str, d: &Value, out: &mpsc::Sender<AgentOutput>) {
        self.reached_the_world();
        match self.call_webhook(d).await {
            Ok(v) => {
                if let Some(name) = d.get("save_as").and_then(Value::as_str).filter(|s| !s.is_empty()) {
                    self.variables.insert(name.to_string(), v);
                }
                self.follow(id, "next");
            }
            Err(e) => {
                tracing::warn!(node = id, error = %e, "webhook node failed");
                let has_error_edge = self.edges.contains_key(&(id.to_string(), "error".to_string()));
                self.follow(id, if has_error_edge { "error" } else { "next" });
                let action = AgentOutput::ActionFailed {
                    action: "webhook".into(),
                    error: format!("webhook node '{id}': {e}"),
                };
                self.emit(out, action).await;
            }
        }
    }

    /// Makes a webhook node's request; the response (JSON, else text, else null) or an error.
    /// Not retried: the caller is waiting on the line, and the node's `error` edge decides.
    async fn call_webhook(&self, d: &Value) -> Result<Value, WebhookError> {
        let s = |k: &str| d.get(k).and_then(Value::as_str);
        let method = s("method").unwrap_or("POST").to_ascii_uppercase();
        let url = self.http.check_url(&self.render(s("url").unwrap_or("")))?;
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| WebhookError::Method(method))?;
        let mut req = self.http.request(method.clone(), &url);
        if let Some(hs) = d.get("headers").and_then(Value::as_object) {
            for (k, v) in hs {
                let value = self.render(v.as_str().unwrap_or(""));
                req = req.with(|r| r.header(k.as_str(), value));
            }
        }
        let scope = self.scope();
        req = match d.get("body") {
            Some(Value::String(b)) => {
                let body = render(b, &scope);
                let ct = if serde_json::from_str::<Value>(&body).is_ok() {
                    "application/json"
                } else {
                    "text/plain; charset=utf-8"
                };
                req.with(|r| r.header(reqwest::header::CONTENT_TYPE, ct).body(body))
            }
            Some(v) if !v.is_null() => {
                let body = template::render_json(v, &scope);
                req.with(|r| r.json(&body))
            }
            _ if method != reqwest::Method::GET && method != reqwest::Method::DELETE => {
                let body = self.context_json();
                req.with(|r| r.json(&body))
            }
            _ => req,
        };
        let timeout = self.cfg.webhook_timeout;
        let send = async {
            let mut resp = req.send().await?;
            let status = resp.status();
            if !status.is_success() {
                return Err(OutboundError::status(&url, status.as_u16()).into());
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| OutboundError::from_reqwest(&url, e))? {
                body.extend_from_slice(&chunk);
                if body.len() > 1 << 20 {
                    return Err(WebhookError::TooLarge);
                }
            }
            Ok(body)
        };
        let body = match tokio::time::timeout(timeout, send).await {
            Ok(Err(WebhookError::Outbound(OutboundError::Timeout { .. }))) | Err(_) => {
                return Err(OutboundError::timeout(&url, timeout).into())
            }
            Ok(r) => r?,
        };
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        Ok(
            serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned())),
        )
    }

    /// What a webhook without a body of its own receives: the call's data so far.
    fn context_json(&self) -> Value {
        json!({
            "contact": {
                "id": self.ctx.contact_id,
                "name": self.ctx.contact_name,
                "phone_number": self.ctx.contact_phone,
                "email": self.ctx.contact_email,
            },
            "attributes": self.ctx.attributes,
            "metadata": self.ctx.metadata,
            "variables": self.variables,
        })
    }
}

/// Why a webhook node failed (each message free of the URL's credentials and query values).
#[derive(Debug, thiserror::Error)]
enum WebhookError {
    #[error(transparent)]
    Outbound(#[from] OutboundError),
    #[error("bad method '{0}'")]
    Method(String),
    #[error("the response is larger than 1 MiB")]
    TooLarge,
}
