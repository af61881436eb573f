//! A fake OpenAI-compatible LLM server on loopback, for tests (feature `fake-llm`).
//!
//! It speaks the same wire protocol as the real thing (`POST /v1/chat/completions`, server-sent
//! events of `choices[0].delta.content`, `data: [DONE]`) so tests exercise the real client over
//! real HTTP, with realistic timing: a time to first token and a delay between tokens. Replies
//! come from canned rules or a closure, and can also fail (an HTTP error, a hang, a stream cut
//! off midway). Every request is recorded for assertions.
//!
//! ```no_run
//! # async fn demo() {
//! use parley_agent::fake::{FakeLlm, FakeLlmConfig, Reply};
//! let llm = FakeLlm::start(
//!     FakeLlmConfig::default()
//!         .when_last_user("can you make it", Reply::text("yes"))
//!         .otherwise(Reply::text("Hello there. How are you?")),
//! )
//! .await;
//! let client = llm.client();
//! # }
//! ```

use crate::llm::{LlmClient, LlmConfig, Message, Role};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// What the fake answers to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Stream this text, a word (with its leading space) per token.
    Text(String),
    /// Answer with this HTTP status and body, no stream.
    Status(u16, String),
    /// Never answer (the client's timeout must fire).
    Hang,
    /// Stream the first `tokens` tokens of the text, then break the connection.
    Cut { text: String, tokens: usize },
}

impl Reply {
    pub fn text(t: impl Into<String>) -> Self {
        Reply::Text(t.into())
    }
}

/// Which messages a rule reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Match {
    /// The last `user` message contains this (case-insensitive).
    LastUser(String),
    /// Some message, of any role, contains this (case-insensitive).
    Any(String),
}

/// A canned rule: the first one that matches gives the reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub when: Match,
    pub reply: Reply,
}

type ReplyFn = Arc<dyn Fn(&RecordedRequest) -> Reply + Send + Sync>;

/// How the fake behaves.
#[derive(Clone)]
pub struct FakeLlmConfig {
    /// The delay before the first token (and before an error status or a non-streamed answer).
    pub first_token_delay: Duration,
    /// The delay between tokens.
    pub token_delay: Duration,
    pub rules: Vec<Rule>,
    /// The reply when no rule matches (default: "OK.").
    pub default_reply: Reply,
    /// When set, decides every reply (the rules are not read).
    pub responder: Option<ReplyFn>,
    /// Answer with one JSON completion even when asked to stream, as some servers do.
    pub ignore_stream: bool,
}

impl Default for FakeLlmConfig {
    /// 200 ms to the first token, 20 ms between tokens, no rules, "OK." by default.
    fn default() -> Self {
        FakeLlmConfig {
            first_token_delay: Duration::from_millis(200),
            token_delay: Duration::from_millis(20),
            rules: Vec::new(),
            default_reply: Reply::text("OK."),
            responder: None,
            ignore_stream: false,
        }
    }
}

impl std::fmt::Debug for FakeLlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeLlmConfig")
            .field("first_token_delay", &self.first_token_delay)
            .field("token_delay", &self.token_delay)
            .field("rules", &self.rules)
            .field("default_reply", &self.default_reply)
            .field("responder", &self.responder.is_some())
            .field("ignore_stream", &self.ignore_stream)
            .finish()
    }
}

impl FakeLlmConfig {
    /// No delays at all.
    pub fn instant() -> Self {
        FakeLlmConfig {
            first_token_delay: Duration::ZERO,
            token_delay: Duration::ZERO,
            ..Self::default()
        }
    }

    pub fn delays(mut self, first_token: Duration, between_tokens: Duration) -> Self {
        self.first_token_delay = first_token;
        self.token_delay = between_tokens;
        self
    }

    /// Replies `reply` when the last user message contains `needle`.
    pub fn when_last_user(mut self, needle: impl Into<String>, reply: Reply) -> Self {
        self.rules.push(Rule {
            when: Match::LastUser(needle.into()),
            reply,
        });
        self
    }

    /// Replies `reply` when any message contains `needle`.
    pub fn when_any(mut self, needle: impl Into<String>, reply: Reply) -> Self {
        self.rules.push(Rule {
            when: Match::Any(needle.into()),
            reply,
        });
        self
    }

    pub fn otherwise(mut self, reply: Reply) -> Self {
        self.default_reply = reply;
        self
    }

    pub fn responder(mut self, f: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static) -> Self {
        self.responder = Some(Arc::new(f));
        self
    }

    fn reply_for(&self, req: &RecordedRequest) -> Reply {
        if let Some(f) = &self.responder {
            return f(req);
        }
        let has = |text: &str, needle: &str| text.to_lowercase().contains(&needle.to_lowercase());
        for r in &self.rules {
            let hit = match &r.when {
                Match::LastUser(n) => req
                    .messages
                    .iter()
                    .rev()
                    .find(|m| m.role == Role::User)
                    .is_some_and(|m| has(&m.content, n)),
                Match::Any(n) => req.messages.iter().any(|m| has(&m.content, n)),
            };
            if hit {
                return r.reply.clone();
            }
        }
        self.default_reply.clone()
    }
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// The JSON body as sent.
    pub body: Value,
    pub messages: Vec<Message>,
    pub model: Option<String>,
    pub stream: bool,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

impl RecordedRequest {
    /// The content of the last `user` message, or "".
    pub fn last_user(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .unwrap_or("")
    }
}

struct Shared {
    cfg: FakeLlmConfig,
    requests: Mutex<Vec<RecordedRequest>>,
}

/// A running fake; the server stops when this is dropped.
pub struct FakeLlm {
    /// `http://127.0.0.1:PORT/v1`, to use as [`LlmConfig::base_url`].
    pub base_url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeLlm {
    /// Binds a loopback port and serves until dropped.
    pub async fn start(cfg: FakeLlmConfig) -> FakeLlm {
        let shared = Arc::new(Shared {
            cfg,
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeLlm {
            base_url: format!("http://{addr}/v1"),
            shared,
            task,
        }
    }

    /// A client config for this fake (model `fake-model`, key `test-key`, 5 s timeout).
    pub fn config(&self) -> LlmConfig {
        LlmConfig {
            base_url: self.base_url.clone(),
            api_key: Some("test-key".into()),
            model: "fake-model".into(),
            timeout: Duration::from_secs(5),
            proxy: None,
        }
    }

    /// A client for this fake, with [`FakeLlm::config`].
    pub fn client(&self) -> LlmClient {
        LlmClient::new(self.config()).expect("a valid client config")
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().expect("not poisoned").clone()
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Splits a reply into tokens of a word with its leading whitespace: "Hi", " there", ".".
pub fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    for c in text.chars() {
        if c.is_whitespace() && in_word {
            out.push(std::mem::take(&mut cur));
            in_word = false;
        } else if !c.is_whitespace() {
            in_word = true;
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn event(v: Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

/// Breaks the connection, after a pause that lets the tokens before it reach the client (an
/// aborted connection discards what is still buffered).
async fn cut(tx: &mpsc::Sender<Result<Bytes, std::io::Error>>, between: Duration) {
    tokio::time::sleep(between.max(Duration::from_millis(20))).await;
    let _ = tx.send(Err(std::io::Error::other("cut off"))).await;
}

async fn chat(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad JSON: {e}")).into_response(),
    };
    let messages: Vec<Message> = match serde_json::from_value(body.get("messages").cloned().unwrap_or(Value::Null)) {
        Ok(m) => m,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad messages: {e}")).into_response(),
    };
    let req = RecordedRequest {
        model: body.get("model").and_then(Value::as_str).map(str::to_string),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        messages,
        body,
    };
    let reply = s.cfg.reply_for(&req);
    let stream = req.stream && !s.cfg.ignore_stream;
    s.requests.lock().expect("not poisoned").push(req);
    let (first, between) = (s.cfg.first_token_delay, s.cfg.token_delay);

    let (text, cut_after) = match reply {
        Reply::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        Reply::Status(code, msg) => {
            tokio::time::sleep(first).await;
            let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (code, axum::Json(json!({"error": {"message": msg}}))).into_response();
        }
        Reply::Text(t) => (t, None),
        Reply::Cut { text, tokens } => (text, Some(tokens)),
    };
    if !stream {
        tokio::time::sleep(first).await;
        return axum::Json(json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": "fake-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]
        }))
        .into_response();
    }

    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        let chunk = |content: Value, finish: Value| {
            event(json!({
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "model": "fake-model",
                "choices": [{"index": 0, "delta": content, "finish_reason": finish}]
            }))
        };
        tokio::time::sleep(first).await;
        if tx
            .send(Ok(chunk(json!({"role": "assistant"}), Value::Null)))
            .await
            .is_err()
        {
            return;
        }
        for (i, tok) in tokens(&text).into_iter().enumerate() {
            if cut_after == Some(i) {
                return cut(&tx, between).await;
            }
            if i > 0 {
                tokio::time::sleep(between).await;
            }
            if tx.send(Ok(chunk(json!({"content": tok}), Value::Null))).await.is_err() {
                return;
            }
        }
        if cut_after.is_some() {
            return cut(&tx, between).await;
        }
        let _ = tx.send(Ok(chunk(json!({}), json!("stop")))).await;
        let _ = tx.send(Ok(Bytes::from_static(b"data: [DONE]\n\n"))).await;
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(body))
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::LlmError;
    use std::time::Instant;

    #[test]
    fn tokens_keep_leading_spaces() {
        assert_eq!(tokens("Hi there.  Bye"), vec!["Hi", " there.", "  Bye"]);
        assert_eq!(tokens(""), Vec::<String>::new());
        assert_eq!(tokens("x").concat(), "x");
    }

    #[tokio::test]
    async fn streams_deltas_with_delays_and_records_requests() {
        let llm = FakeLlm::start(
            FakeLlmConfig::default()
                .delays(Duration::from_millis(100), Duration::from_millis(30))
                .when_last_user("weather", Reply::text("Sunny and warm today."))
                .otherwise(Reply::text("I don't know.")),
        )
        .await;
        let client = llm.client();
        let started = Instant::now();
        let mut s = client
            .stream_chat(vec![Message::system("Be brief."), Message::user("What's the WEATHER?")])
            .await
            .unwrap();
        let mut deltas = Vec::new();
        let mut first_at = None;
        while let Some(d) = s.next().await {
            first_at.get_or_insert_with(|| started.elapsed());
            deltas.push(d.unwrap());
        }
        let total = started.elapsed();
        assert_eq!(deltas, vec!["Sunny", " and", " warm", " today."]);
        assert!(first_at.unwrap() >= Duration::from_millis(100), "{first_at:?}");
        assert!(total >= Duration::from_millis(190), "{total:?}");
        assert!(
            total - first_at.unwrap() >= Duration::from_millis(80),
            "tokens are spread out"
        );

        assert_eq!(
            client.complete(vec![Message::user("hi")]).await.unwrap(),
            "I don't know."
        );
        let reqs = llm.requests();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].model.as_deref(), Some("fake-model"));
        assert!(reqs[0].stream);
        assert_eq!(reqs[0].authorization.as_deref(), Some("Bearer test-key"));
        assert_eq!(reqs[0].messages[0], Message::system("Be brief."));
        assert_eq!(reqs[1].last_user(), "hi");
    }

    #[tokio::test]
    async fn failures_surface_as_errors() {
        let llm = FakeLlm::start(
            FakeLlmConfig::instant()
                .when_last_user("status", Reply::Status(503, "overloaded".into()))
                .when_last_user("hang", Reply::Hang)
                .when_last_user(
                    "cut",
                    Reply::Cut {
                        text: "one two three four".into(),
                        tokens: 2,
                    },
                ),
        )
        .await;
        let mut cfg = llm.config();
        cfg.timeout = Duration::from_millis(300);
        let client = LlmClient::new(cfg).unwrap();

        let e = client.complete(vec![Message::user("status")]).await.unwrap_err();
        assert!(
            matches!(&e, LlmError::Status { status: 503, body } if body.contains("overloaded")),
            "{e}"
        );

        let started = Instant::now();
        let e = client.complete(vec![Message::user("hang")]).await.unwrap_err();
        assert_eq!(e, LlmError::Timeout(Duration::from_millis(300)));
        assert!(started.elapsed() < Duration::from_secs(2));

        let mut s = client.stream_chat(vec![Message::user("cut")]).await.unwrap();
        assert_eq!(s.next().await.unwrap().unwrap(), "one");
        assert_eq!(s.next().await.unwrap().unwrap(), " two");
        assert!(matches!(s.next().await, Some(Err(LlmError::Request(_)))));
        assert!(s.next().await.is_none());

        let refused = LlmClient::new(crate::llm::LlmConfig::new("http://127.0.0.1:9/v1")).unwrap();
        assert!(matches!(
            refused.complete(vec![Message::user("x")]).await,
            Err(LlmError::Request(_))
        ));
    }

    #[tokio::test]
    async fn a_responder_closure_decides_and_non_streaming_servers_work() {
        let llm = FakeLlm::start(
            FakeLlmConfig::instant().responder(|r| Reply::text(format!("You said {} words.", r.messages.len()))),
        )
        .await;
        let client = llm.client();
        let got = client
            .complete(vec![Message::user("a"), Message::assistant("b"), Message::user("c")])
            .await
            .unwrap();
        assert_eq!(got, "You said 3 words.");

        // A server that ignores "stream": the same client reads its one JSON completion.
        let whole = FakeLlm::start(FakeLlmConfig {
            ignore_stream: true,
            ..FakeLlmConfig::instant().otherwise(Reply::text("All at once. Really."))
        })
        .await;
        let mut s = whole.client().stream_chat(vec![Message::user("x")]).await.unwrap();
        assert_eq!(s.next().await.unwrap().unwrap(), "All at once. Really.");
        assert!(s.next().await.is_none());
        assert_eq!(
            whole.requests()[0].body["stream"],
            json!(true),
            "the client asked for a stream"
        );
    }
}
