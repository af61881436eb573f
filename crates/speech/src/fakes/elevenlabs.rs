//! A loopback ElevenLabs multi-context WebSocket (`/v1/text-to-speech/{voice_id}/multi-stream-input`),
//! after ElevenLabs' AsyncAPI definition of it: the key in `xi-api-key`, the documented query
//! parameters only, client messages of the documented shapes only (initialise a context with
//! `" "`, text ending in a space with `flush`, `close_context`, keep-alive `""`, `close_socket`),
//! audio as `{audio, normalizedAlignment, alignment, contextId}` and `{isFinal: true, contextId}`
//! once a closed context has spoken everything flushed (a closed context "continues flushing").
//! At most 5 contexts at once, as ElevenLabs allows.

use super::{header, level_of, listen, mulaw, query, read_texts, violation, Fake, Shared};
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// Samples per audio message (20 ms) and messages per sentence.
const CHUNK: usize = 160;
const CHUNKS: usize = 3;

#[derive(Clone)]
pub struct Options {
    pub key: String,
    pub voice: String,
    pub model: String,
    /// Between audio messages of a context.
    pub delay: Duration,
    /// After this many sentences, an error message and a close frame (code 1011).
    pub fail_after: Option<usize>,
}

impl Options {
    pub fn new(key: &str) -> Options {
        Options {
            key: key.into(),
            voice: "voice-1".into(),
            model: "eleven_flash_v2_5".into(),
            delay: Duration::from_millis(5),
            fail_after: None,
        }
    }
}

/// The query parameters ElevenLabs documents for the handshake.
const QUERY: [&str; 11] = [
    "authorization",
    "model_id",
    "language_code",
    "enable_logging",
    "enable_ssml_parsing",
    "output_format",
    "inactivity_timeout",
    "sync_alignment",
    "auto_mode",
    "apply_text_normalization",
    "seed",
];

pub async fn start(options: Options) -> Fake {
    let o = options.clone();
    let check = move |request: &tokio_tungstenite::tungstenite::handshake::server::Request, log: &Shared| {
        let path = format!("/v1/text-to-speech/{}/multi-stream-input", o.voice);
        if request.uri().path() != path {
            violation(log, format!("path {}", request.uri().path()));
            return Err((StatusCode::NOT_FOUND, "not found".into()));
        }
        let q = query(request);
        for name in q.keys().filter(|n| !QUERY.contains(&n.as_str())) {
            violation(log, format!("undocumented query parameter {name}"));
        }
        if q.get("model_id") != Some(&o.model) {
            violation(log, format!("model_id {:?}", q.get("model_id")));
        }
        if q.get("output_format").map(String::as_str) != Some("ulaw_8000") {
            violation(log, format!("output_format {:?}", q.get("output_format")));
        }
        if let Some(t) = q.get("inactivity_timeout") {
            if !t.parse::<u32>().is_ok_and(|t| (1..=180).contains(&t)) {
                violation(log, format!("inactivity_timeout {t}"));
            }
        }
        for flag in ["sync_alignment", "auto_mode", "enable_logging", "enable_ssml_parsing"] {
            if q.get(flag).is_some_and(|v| v != "true" && v != "false") {
                violation(log, format!("{flag} is not a boolean"));
            }
        }
        if q.contains_key("authorization") {
            violation(log, "the key belongs in the xi-api-key header, not the query");
        }
        match header(request, "xi-api-key") {
            Some(k) if k == o.key => Ok(()),
            _ => Err((
                StatusCode::UNAUTHORIZED,
                r#"{"detail":{"status":"invalid_api_key"}}"#.into(),
            )),
        }
    };
    listen(check, move |ws, log| connection(ws, log, options.clone())).await
}

enum Command {
    Speak(String),
    Close,
}

async fn connection(ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, log: Shared, options: Options) {
    let (mut sink, mut stream) = ws.split();
    let (out, mut outgoing) = mpsc::unbounded_channel::<Message>();
    tokio::spawn(async move {
        while let Some(message) = outgoing.recv().await {
            let closing = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || closing {
                break;
            }
        }
    });
    let active = Arc::new(AtomicUsize::new(0));
    let mut contexts: HashMap<String, mpsc::UnboundedSender<Command>> = HashMap::new();
    let mut closed: HashSet<String> = HashSet::new();
    let mut sentences = 0;
    let log2 = log.clone();
    read_texts(&mut stream, &log2, |text| {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            return violation(&log, format!("not JSON: {text}"));
        };
        log.lock().expect("log").messages.push(message.clone());
        let Some(m) = message.as_object() else {
            return violation(&log, format!("not an object: {text}"));
        };
        let keys: HashSet<&str> = m.keys().map(String::as_str).collect();
        let id = m.get("context_id").and_then(Value::as_str).map(str::to_string);
        let only = |allowed: &[&str], required: &[&str]| {
            for k in keys.iter().filter(|k| !allowed.contains(k)) {
                violation(&log, format!("unknown field {k} in {text}"));
            }
            for k in required.iter().filter(|k| !keys.contains(*k)) {
                violation(&log, format!("missing {k} in {text}"));
            }
        };
        if keys.contains("close_socket") {
            only(&["close_socket"], &["close_socket"]);
            if m["close_socket"] != true {
                violation(&log, "close_socket must be true");
            }
            for (_, tx) in contexts.drain() {
                let _ = tx.send(Command::Close);
            }
        } else if keys.contains("close_context") {
            only(&["context_id", "close_context"], &["context_id", "close_context"]);
            let id = id.unwrap_or_default();
            match contexts.remove(&id) {
                Some(tx) if m["close_context"] == true => {
                    let _ = tx.send(Command::Close);
                    closed.insert(id);
                }
                Some(_) => violation(&log, "close_context must be true"),
                None => violation(&log, format!("close_context of an unknown context {id}")),
            }
        } else if let Some(t) = m.get("text") {
            let allowed = [
                "text",
                "context_id",
                "flush",
                "voice_settings",
                "generation_config",
                "pronunciation_dictionary_locators",
            ];
            only(&allowed, &["text", "context_id"]);
            let (Some(t), Some(id)) = (t.as_str(), id) else {
                return violation(&log, format!("text and context_id must be strings: {text}"));
            };
            if m.get("flush").is_some_and(|f| !f.is_boolean()) {
                violation(&log, "flush must be a boolean");
            }
            if closed.contains(&id) {
                return violation(&log, format!("text for the closed context {id}"));
            }
            if t.is_empty() {
                // Keep-alive: documented as exactly text "" and the context.
                only(&["text", "context_id"], &[]);
                if !contexts.contains_key(&id) {
                    violation(&log, format!("keep-alive for an unknown context {id}"));
                }
                return;
            }
            if !t.ends_with(' ') {
                violation(&log, format!("text should end with a single space: {t:?}"));
            }
            let tx = match contexts.get(&id) {
                Some(tx) => tx.clone(),
                None => {
                    if t != " " {
                        violation(&log, format!("context {id} not initialised with \" \""));
                    }
                    if active.load(Ordering::SeqCst) >= 5 {
                        let _ = out.send(Message::text(
                            json!({"message": "Maximum simultaneous contexts per WebSocket connection exceeded (5).", "error": "max_active_conversations", "code": 1008}).to_string(),
                        ));
                        let _ = out.send(Message::Close(Some(CloseFrame { code: CloseCode::Policy, reason: "max_active_conversations".into() })));
                        return;
                    }
                    active.fetch_add(1, Ordering::SeqCst);
                    let (tx, rx) = mpsc::unbounded_channel();
                    tokio::spawn(speak(id.clone(), rx, out.clone(), options.delay, active.clone()));
                    contexts.insert(id.clone(), tx.clone());
                    tx
                }
            };
            if t.trim().is_empty() {
                return;
            }
            if m.get("flush") != Some(&Value::Bool(true)) {
                violation(&log, "Parley flushes every sentence");
            }
            let _ = tx.send(Command::Speak(t.to_string()));
            sentences += 1;
            if options.fail_after == Some(sentences) {
                let _ = out.send(Message::text(
                    json!({"message": "An internal server error occurred.", "error": "internal_error", "code": 1011}).to_string(),
                ));
                let _ = out.send(Message::Close(Some(CloseFrame { code: CloseCode::Error, reason: "internal_error".into() })));
            }
        } else if keys.contains("flush") {
            only(&["context_id", "flush"], &["context_id", "flush"]);
        } else {
            violation(&log, format!("a message of no documented shape: {text}"));
        }
    })
    .await;
}

/// Speaks a context's sentences in order, then `isFinal` once it is closed.
async fn speak(
    id: String,
    mut commands: mpsc::UnboundedReceiver<Command>,
    out: mpsc::UnboundedSender<Message>,
    delay: Duration,
    active: Arc<AtomicUsize>,
) {
    while let Some(command) = commands.recv().await {
        match command {
            Command::Speak(text) => {
                let level = level_of(&text);
                let chars: Vec<String> = text.chars().map(String::from).collect();
                let per = chars.len().div_ceil(CHUNKS);
                for part in 0..CHUNKS {
                    tokio::time::sleep(delay).await;
                    let audio: Vec<u8> = (0..CHUNK).map(|_| mulaw(level)).collect();
                    let mine: Vec<String> = chars.iter().skip(part * per).take(per).cloned().collect();
                    let step = 20 / mine.len().max(1) as u64;
                    let alignment = json!({
                        "chars": mine,
                        "charStartTimesMs": (0..mine.len() as u64).map(|i| i * step).collect::<Vec<_>>(),
                        "charDurationsMs": vec![step; mine.len()],
                    });
                    let message = json!({
                        "audio": base64::engine::general_purpose::STANDARD.encode(audio),
                        "normalizedAlignment": alignment,
                        "alignment": alignment,
                        "contextId": id,
                    });
                    if out.send(Message::text(message.to_string())).is_err() {
                        return;
                    }
                }
            }
            Command::Close => break,
        }
    }
    active.fetch_sub(1, Ordering::SeqCst);
    let _ = out.send(Message::text(json!({"isFinal": true, "contextId": id}).to_string()));
}
