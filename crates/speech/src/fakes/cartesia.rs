//! A loopback Cartesia TTS WebSocket (`/tts/websocket`), after Cartesia's API reference and the
//! types of its official client: the version as `cartesia_version` (query) and
//! `Cartesia-Version` (header), the key in `X-API-Key`; generation requests and cancels of the
//! documented fields only, every input of a context repeating the same fields but
//! `transcript`/`continue`/`duration`/`flush`; transcripts buffered until a manual flush (audio
//! tagged with the flush id, starting at 1, then `flush_done`) or the end (`continue: false`,
//! then `done`); `cancel` stops a context after the chunk in flight.

use super::{header, level_of, listen, mulaw, query, read_texts, violation, Fake, Shared};
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

const CHUNK: usize = 160;
const CHUNKS: usize = 3;

#[derive(Clone)]
pub struct Options {
    pub key: String,
    pub version: String,
    pub delay: Duration,
    /// After this many transcripts, an error message and a close frame (code 1011).
    pub fail_after: Option<usize>,
}

impl Options {
    pub fn new(key: &str) -> Options {
        Options {
            key: key.into(),
            version: "2025-04-16".into(),
            delay: Duration::from_millis(5),
            fail_after: None,
        }
    }
}

/// The generation request's fields (Cartesia's `GenerationRequest`).
const FIELDS: [&str; 17] = [
    "model_id",
    "transcript",
    "voice",
    "output_format",
    "context_id",
    "continue",
    "flush",
    "duration",
    "language",
    "add_timestamps",
    "add_phoneme_timestamps",
    "use_normalized_timestamps",
    "max_buffer_delay_ms",
    "speed",
    "generation_config",
    "pronunciation_dict_id",
    "pronunciation_dict_ids",
];

pub async fn start(options: Options) -> Fake {
    let o = options.clone();
    let check = move |request: &tokio_tungstenite::tungstenite::handshake::server::Request, log: &Shared| {
        if request.uri().path() != "/tts/websocket" {
            violation(log, format!("path {}", request.uri().path()));
            return Err((StatusCode::NOT_FOUND, "not found".into()));
        }
        let q = query(request);
        for name in q
            .keys()
            .filter(|n| !["cartesia_version", "api_key", "access_token"].contains(&n.as_str()))
        {
            violation(log, format!("undocumented query parameter {name}"));
        }
        if q.get("cartesia_version") != Some(&o.version) {
            violation(log, format!("cartesia_version {:?}", q.get("cartesia_version")));
        }
        if header(request, "cartesia-version") != Some(o.version.as_str()) {
            violation(log, "no Cartesia-Version header");
        }
        if q.contains_key("api_key") {
            violation(log, "the key belongs in the X-API-Key header, not the URL");
        }
        match header(request, "x-api-key") {
            Some(k) if k == o.key => Ok(()),
            _ => Err((StatusCode::UNAUTHORIZED, "Invalid API key".into())),
        }
    };
    listen(check, move |ws, log| connection(ws, log, options.clone())).await
}

enum Command {
    Transcript(String),
    Flush,
    End,
}

struct Context {
    /// The first input's fields but transcript/continue/duration/flush: later inputs repeat them.
    fixed: Map<String, Value>,
    commands: mpsc::UnboundedSender<Command>,
    cancelled: Arc<AtomicBool>,
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
    let mut contexts: HashMap<String, Context> = HashMap::new();
    let mut ended: HashSet<String> = HashSet::new();
    let mut transcripts = 0;
    let log2 = log.clone();
    read_texts(&mut stream, &log2, |text| {
        let Ok(Value::Object(m)) = serde_json::from_str::<Value>(text) else {
            return violation(&log, format!("not a JSON object: {text}"));
        };
        log.lock().expect("log").messages.push(Value::Object(m.clone()));
        let id = match m.get("context_id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => return violation(&log, format!("no context_id: {text}")),
        };
        if m.contains_key("cancel") {
            if m.len() != 2 || m["cancel"] != true {
                violation(&log, format!("a cancel is exactly {{context_id, cancel: true}}: {text}"));
            }
            if let Some(c) = contexts.remove(&id) {
                c.cancelled.store(true, Ordering::SeqCst);
            }
            ended.insert(id);
            return;
        }
        for k in m.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
            violation(&log, format!("unknown field {k} in {text}"));
        }
        for k in ["model_id", "transcript", "voice", "output_format"] {
            if !m.contains_key(k) {
                violation(&log, format!("missing {k} in {text}"));
            }
        }
        if m.get("voice").and_then(Value::as_object).is_none_or(|v| v.len() != 2 || v.get("mode") != Some(&json!("id")) || !v.get("id").is_some_and(Value::is_string)) {
            violation(&log, format!("voice must be {{mode: \"id\", id}}: {text}"));
        }
        let format = m.get("output_format").and_then(Value::as_object);
        let encoding = format.and_then(|f| f.get("encoding")).and_then(Value::as_str).unwrap_or("").to_string();
        if format.is_none_or(|f| f.len() != 3 || f.get("container") != Some(&json!("raw")) || f.get("sample_rate") != Some(&json!(8000)))
            || !["pcm_s16le", "pcm_mulaw", "pcm_alaw", "pcm_f32le"].contains(&encoding.as_str())
        {
            violation(&log, format!("output_format must be raw 8000 Hz PCM: {text}"));
        }
        let transcript = m.get("transcript").and_then(Value::as_str).unwrap_or("").to_string();
        let go_on = m.get("continue").and_then(Value::as_bool).unwrap_or(false);
        let flush = m.get("flush").and_then(Value::as_bool).unwrap_or(false);
        if flush && !(transcript.is_empty() && go_on) {
            violation(&log, "a manual flush is continue: true, flush: true and an empty transcript");
        }
        if ended.contains(&id) {
            return violation(&log, format!("input to the ended context {id}"));
        }
        let mut fixed = m.clone();
        for k in ["transcript", "continue", "duration", "flush"] {
            fixed.remove(k);
        }
        let context = contexts.entry(id.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let cancelled = Arc::new(AtomicBool::new(false));
            tokio::spawn(generate(id.clone(), rx, out.clone(), options.delay, cancelled.clone(), encoding.clone()));
            Context { fixed: fixed.clone(), commands: tx, cancelled }
        });
        if context.fixed != fixed {
            violation(&log, format!("inputs of context {id} differ in more than transcript/continue: {text}"));
        }
        if !transcript.is_empty() {
            let _ = context.commands.send(Command::Transcript(transcript));
            transcripts += 1;
            if options.fail_after == Some(transcripts) {
                let _ = out.send(Message::text(
                    json!({"type": "error", "done": true, "error": "Internal server error", "status_code": 500, "context_id": id}).to_string(),
                ));
                let _ = out.send(Message::Close(Some(CloseFrame { code: CloseCode::Error, reason: "internal error".into() })));
            }
        }
        if flush {
            let _ = context.commands.send(Command::Flush);
        }
        if !go_on {
            let _ = context.commands.send(Command::End);
            contexts.remove(&id);
            ended.insert(id);
        }
    })
    .await;
}

/// Generates a context: buffered transcripts on each flush (then `flush_done`) and at the end
/// (then `done`), in chunks shaped like Cartesia's.
async fn generate(
    id: String,
    mut commands: mpsc::UnboundedReceiver<Command>,
    out: mpsc::UnboundedSender<Message>,
    delay: Duration,
    cancelled: Arc<AtomicBool>,
    encoding: String,
) {
    let mut buffer = String::new();
    let mut flush_id = 1;
    while let Some(command) = commands.recv().await {
        let end = matches!(command, Command::End);
        match command {
            Command::Transcript(t) => {
                buffer.push_str(&t);
                continue;
            }
            Command::Flush | Command::End => {
                if !buffer.trim().is_empty() {
                    let level = level_of(&buffer);
                    for _ in 0..CHUNKS {
                        tokio::time::sleep(delay).await;
                        if cancelled.load(Ordering::SeqCst) {
                            return;
                        }
                        let bytes: Vec<u8> = match encoding.as_str() {
                            "pcm_mulaw" => vec![mulaw(level); CHUNK],
                            _ => (0..CHUNK).flat_map(|_| level.to_le_bytes()).collect(),
                        };
                        let chunk = json!({
                            "type": "chunk",
                            "data": base64::engine::general_purpose::STANDARD.encode(bytes),
                            "done": false,
                            "status_code": 206,
                            "step_time": 12.5,
                            "context_id": id,
                            "flush_id": flush_id,
                        });
                        let _ = out.send(Message::text(chunk.to_string()));
                    }
                    buffer.clear();
                }
            }
        }
        if end {
            let _ = out.send(Message::text(
                json!({"type": "done", "done": true, "status_code": 206, "context_id": id}).to_string(),
            ));
            return;
        }
        let _ = out.send(Message::text(
            json!({"type": "flush_done", "done": false, "flush_done": true, "flush_id": flush_id, "status_code": 206, "context_id": id}).to_string(),
        ));
        flush_id += 1;
    }
}
