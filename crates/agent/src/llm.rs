//! A client for any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp's
//! server, Ollama, LiteLLM, …), streaming.
//!
//! Streaming is the point: on a call, the time to the first spoken word is the time to the
//! first *sentence*, not to the whole reply. The wire protocol is `POST {base_url}/chat/completions`
//! with `"stream": true`, answered by server-sent events `data: {json}` whose
//! `choices[0].delta.content` carries the text, ending with `data: [DONE]`. A server that ignores
//! `stream` and answers with one JSON completion is accepted too.
//!
//! `timeout` bounds every wait for the server (the response head, and each chunk after it), not
//! the whole reply: a long reply that keeps flowing is fine; a server that stops answering is not
//! allowed to hold a call.

use parley_jobs::outbound::{error_chain, operator_client_builder, ProxyUrl};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// Where the LLM is and how long to wait for it.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmConfig {
    /// The API base, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1`
    /// (`/chat/completions` is appended).
    pub base_url: String,
    /// Sent as `Authorization: Bearer …` when set.
    pub api_key: Option<String>,
    pub model: String,
    /// The longest wait for the response head or for the next chunk of the stream.
    pub timeout: Duration,
    /// Parley's outbound proxy (`PARLEY_OUTBOUND_PROXY`), if any. The endpoint is the
    /// operator's, so it is not subject to the private-address guard; but like every outbound
    /// client this one never takes a proxy from `HTTP_PROXY` and friends silently.
    pub proxy: Option<ProxyUrl>,
}

impl LlmConfig {
    /// A config with no key, model `default` and a 20 s timeout.
    pub fn new(base_url: impl Into<String>) -> Self {
        LlmConfig {
            base_url: base_url.into(),
            api_key: None,
            model: "default".into(),
            timeout: Duration::from_secs(20),
            proxy: None,
        }
    }
}

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Message {
            role: Role::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Message {
            role: Role::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Message {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// Sampling options sent with a request (unset ones are left to the server).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ChatOptions {
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
}

/// Everything that can go wrong talking to the LLM.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    #[error("the LLM client could not be built: {0}")]
    Config(String),
    #[error("the LLM request failed: {0}")]
    Request(String),
    #[error("the LLM endpoint answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the LLM endpoint did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the LLM endpoint sent something unexpected: {0}")]
    Protocol(String),
}

/// A cheap-to-clone handle on one LLM endpoint.
#[derive(Clone)]
pub struct LlmClient {
    cfg: Arc<LlmConfig>,
    http: reqwest::Client,
}

impl std::fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmClient")
            .field("base_url", &self.cfg.base_url)
            .field("model", &self.cfg.model)
            .finish_non_exhaustive()
    }
}

impl LlmClient {
    pub fn new(cfg: LlmConfig) -> Result<Self, LlmError> {
        let http = operator_client_builder(cfg.proxy.as_ref(), concat!("Parley/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(cfg.timeout)
            .build()
            .map_err(|e| LlmError::Config(e.to_string()))?;
        Ok(LlmClient {
            cfg: Arc::new(cfg),
            http,
        })
    }

    pub fn config(&self) -> &LlmConfig {
        &self.cfg
    }

    /// Starts a streamed chat completion; read the text with [`ChatStream::next`].
    pub async fn stream_chat(&self, messages: Vec<Message>) -> Result<ChatStream, LlmError> {
        self.stream_chat_with(messages, ChatOptions::default()).await
    }

    /// [`LlmClient::stream_chat`] with sampling options.
    pub async fn stream_chat_with(&self, messages: Vec<Message>, opts: ChatOptions) -> Result<ChatStream, LlmError> {
        let url = format!("{}/chat/completions", self.cfg.base_url.trim_end_matches('/'));
        let mut body = json!({"model": self.cfg.model, "messages": messages, "stream": true});
        if let Some(t) = opts.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(m) = opts.max_tokens {
            body["max_tokens"] = json!(m);
        }
        let mut req = self
            .http
            .post(url)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&body);
        if let Some(key) = self.cfg.api_key.as_deref().filter(|k| !k.is_empty()) {
            req = req.bearer_auth(key);
        }
        let timeout = self.cfg.timeout;
        let resp = tokio::time::timeout(timeout, req.send())
            .await
            .map_err(|_| LlmError::Timeout(timeout))?
            .map_err(|e| LlmError::Request(error_chain(&e.without_url())))?;
        let status = resp.status();
        if !status.is_success() {
            let text = tokio::time::timeout(timeout, resp.text())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            return Err(LlmError::Status {
                status: status.as_u16(),
                body: text.chars().take(500).collect(),
            });
        }
        let is_json = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json"));
        Ok(ChatStream {
            resp,
            timeout,
            buf: Vec::new(),
            pending: VecDeque::new(),
            done: false,
            whole_json: is_json,
            failed: None,
        })
    }

    /// The whole reply of a chat completion (streamed underneath).
    pub async fn complete(&self, messages: Vec<Message>) -> Result<String, LlmError> {
        self.complete_with(messages, ChatOptions::default()).await
    }

    /// [`LlmClient::complete`] with sampling options.
    pub async fn complete_with(&self, messages: Vec<Message>, opts: ChatOptions) -> Result<String, LlmError> {
        let mut stream = self.stream_chat_with(messages, opts).await?;
        let mut out = String::new();
        while let Some(delta) = stream.next().await {
            out.push_str(&delta?);
        }
        Ok(out)
    }
}

/// The text of a streamed reply, delta by delta. Dropping it closes the connection.
pub struct ChatStream {
    resp: reqwest::Response,
    timeout: Duration,
    buf: Vec<u8>,
    pending: VecDeque<String>,
    done: bool,
    /// The server answered with one JSON completion instead of events.
    whole_json: bool,
    /// An error to hand out once the deltas before it are.
    failed: Option<LlmError>,
}

impl ChatStream {
    /// The next non-empty text delta; `None` at the end of the reply. After an error, `None`.
    pub async fn next(&mut self) -> Option<Result<String, LlmError>> {
        loop {
            if let Some(d) = self.pending.pop_front() {
                return Some(Ok(d));
            }
            if let Some(e) = self.failed.take() {
                return Some(Err(e));
            }
            if self.done {
                return None;
            }
            let chunk = match tokio::time::timeout(self.timeout, self.resp.chunk()).await {
                Err(_) => return self.fail(LlmError::Timeout(self.timeout)),
                Ok(Err(e)) => return self.fail(LlmError::Request(error_chain(&e.without_url()))),
                Ok(Ok(c)) => c,
            };
            match chunk {
                Some(bytes) => {
                    self.buf.extend_from_slice(&bytes);
                    if self.buf.len() > 4 << 20 {
                        return self.fail(LlmError::Protocol("more than 4 MiB without a line break".into()));
                    }
                    if !self.whole_json {
                        if let Err(e) = self.parse_lines() {
                            // The deltas before the bad event are still handed out first.
                            self.failed = Some(e);
                            self.done = true;
                        }
                    }
                }
                None => {
                    self.done = true;
                    let rest = std::mem::take(&mut self.buf);
                    if self.whole_json {
                        match whole_completion(&rest) {
                            Ok(text) if !text.is_empty() => self.pending.push_back(text),
                            Ok(_) => {}
                            Err(e) => return self.fail(e),
                        }
                    } else if !rest.is_empty() {
                        // A last event without its line break.
                        self.buf = rest;
                        self.buf.push(b'\n');
                        if let Err(e) = self.parse_lines() {
                            self.failed = Some(e);
                        }
                        self.done = true;
                    }
                }
            }
        }
    }

    fn fail(&mut self, e: LlmError) -> Option<Result<String, LlmError>> {
        self.done = true;
        self.pending.clear();
        Some(Err(e))
    }

    /// Moves the text of every complete `data:` line of the buffer to `pending`.
    fn parse_lines(&mut self) -> Result<(), LlmError> {
        while let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=nl).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim();
            let Some(data) = line.strip_prefix("data:") else {
                continue; // comments (": keep-alive"), "event:", "id:", blank separators
            };
            let data = data.trim();
            if data == "[DONE]" {
                self.done = true;
                self.buf.clear();
                return Ok(());
            }
            let v: Value =
                serde_json::from_str(data).map_err(|e| LlmError::Protocol(format!("bad event JSON: {e}")))?;
            if let Some(err) = v.get("error") {
                let msg = err.get("message").and_then(Value::as_str).map(str::to_string);
                return Err(LlmError::Protocol(msg.unwrap_or_else(|| err.to_string())));
            }
            if let Some(text) = v
                .pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                self.pending.push_back(text.to_string());
            }
        }
        Ok(())
    }
}

fn whole_completion(body: &[u8]) -> Result<String, LlmError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| LlmError::Protocol(format!("bad completion JSON: {e}")))?;
    v.pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| LlmError::Protocol("no choices[0].message.content".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;
    use axum::Router;

    /// A server that answers every request with this exact body and content type.
    async fn raw_server(body: &'static str, content_type: &'static str) -> LlmClient {
        let app = Router::new().route(
            "/v1/chat/completions",
            post(move || async move { ([(axum::http::header::CONTENT_TYPE, content_type)], body) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let mut cfg = LlmConfig::new(format!("http://{addr}/v1/"));
        cfg.timeout = Duration::from_secs(5);
        LlmClient::new(cfg).unwrap()
    }

    async fn deltas(client: &LlmClient) -> Vec<Result<String, LlmError>> {
        let mut s = client.stream_chat(vec![Message::user("x")]).await.unwrap();
        let mut out = Vec::new();
        while let Some(d) = s.next().await {
            out.push(d);
        }
        out
    }

    #[tokio::test]
    async fn reads_server_sent_events_as_servers_really_send_them() {
        let body = ": keep-alive\r\n\r\nevent: message\r\nid: 1\r\n\
                    data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\r\n\r\n\
                    data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\r\n\r\n\
                    data:{\"choices\":[{\"delta\":{\"content\":\"\"}}]}\n\n\
                    data: {\"choices\":[{\"delta\":{\"content\":\" there\"},\"finish_reason\":\"stop\"}]}\n\n\
                    data: [DONE]\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"ignored\"}}]}\n\n";
        let client = raw_server(body, "text/event-stream").await;
        let got: Vec<String> = deltas(&client).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(got, vec!["Hi", " there"]);
    }

    #[tokio::test]
    async fn a_last_event_without_a_line_break_or_done_still_counts() {
        let body = "data: {\"choices\":[{\"delta\":{\"content\":\"A\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"B\"}}]}";
        let client = raw_server(body, "text/event-stream").await;
        assert_eq!(client.complete(vec![Message::user("x")]).await.unwrap(), "AB");
    }

    #[tokio::test]
    async fn error_events_and_garbage_are_errors() {
        let body = "data: {\"choices\":[{\"delta\":{\"content\":\"A\"}}]}\n\ndata: {\"error\":{\"message\":\"context too long\"}}\n\n";
        let client = raw_server(body, "text/event-stream").await;
        let got = deltas(&client).await;
        assert_eq!(got[0], Ok("A".to_string()));
        assert_eq!(got[1], Err(LlmError::Protocol("context too long".into())));
        assert_eq!(got.len(), 2, "nothing after an error");

        let client = raw_server("data: {not json\n\n", "text/event-stream").await;
        assert!(matches!(
            client.complete(vec![Message::user("x")]).await,
            Err(LlmError::Protocol(_))
        ));

        let client = raw_server("{\"unexpected\": true}", "application/json").await;
        assert!(matches!(
            client.complete(vec![Message::user("x")]).await,
            Err(LlmError::Protocol(_))
        ));
    }
}
