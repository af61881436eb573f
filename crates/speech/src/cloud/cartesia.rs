//! Cartesia (Sonic) text-to-speech over its WebSocket.
//!
//! The protocol, as Cartesia documents it (API reference "Text to Speech (WebSocket)", the
//! guides "Contexts" and "Context Flushing and Flush IDs", "API conventions", and the types
//! of its official Python client generated from its OpenAPI definition):
//! - Handshake: `wss://api.cartesia.ai/tts/websocket`; the version as the `Cartesia-Version`
//!   header and/or the `cartesia_version` query parameter (for WebSockets the query wins);
//!   server-side clients authenticate with the `X-API-Key` header (or `Authorization: Bearer`;
//!   browsers use `?access_token=`, and the 2024 docs a `?api_key=` query). Parley sends the
//!   key as a header, so it never sits in a URL.
//! - A generation request: `{model_id, transcript, voice: {mode: "id", id}, output_format:
//!   {container: "raw", encoding, sample_rate}, language, context_id, continue}`; the
//!   transcripts of a context are concatenated verbatim; inputs on one context keep every
//!   field but `transcript`, `continue` (and `duration`) the same; `continue: false` with an
//!   empty transcript ends a context. A manual flush is `continue: true, flush: true` with an
//!   empty transcript: the audio of the transcripts before it carries `flush_id` n, after it
//!   n+1 (starting at 1), and a `flush_done` message follows each flush.
//! - `{"context_id": …, "cancel": true}` stops a context's generation.
//! - Server messages: `{"type":"chunk","data":base64,"done":false,"status_code","step_time",
//!   "context_id","flush_id"}`, `{"type":"flush_done",…}`, `{"type":"done","done":true,…}`,
//!   `{"type":"timestamps",…}`, `{"type":"error","error":…,"status_code",…}`.
//! - "Contexts automatically expire 1 second after the last audio output is streamed out";
//!   inputs to an expired context are not supported.
//!
//! How Parley uses it: a context per turn; each sentence is a transcript (`continue: true`)
//! followed by a manual flush, so flush id n is the n-th sentence and the first chunk of each
//! names its sentence. `Flush` sends the empty `continue: false` input and `Done` follows the
//! `done` message; `Cancel` sends `cancel`, and audio still arriving for it is dropped. A
//! sentence that comes after its turn's context fell quiet (every flush answered, nothing
//! heard for [`QUIET`]) opens a new context rather than risk an expired one. An `error`
//! message for a live context fails the session (the caller falls back to another engine).

use super::tts_order::Order;
use super::wire::{self, Header, Pacing, Protocol};
use super::ApiKey;
use crate::session::{StreamingTts, TtsEvent, TtsInput, TtsSession};
use crate::SpeechError;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

/// How long a context may be silent, with every flush answered, before Parley stops sending to
/// it: well inside Cartesia's one second of expiry.
pub const QUIET: Duration = Duration::from_millis(500);

/// How Cartesia encodes the 8 kHz audio it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartesiaEncoding {
    /// `pcm_s16le`: exact samples (16 kB/s before base64).
    PcmS16le,
    /// `pcm_mulaw`: G.711 mu-law, the phone's own (8 kB/s).
    PcmMulaw,
}

impl CartesiaEncoding {
    fn wire_name(self) -> &'static str {
        match self {
            CartesiaEncoding::PcmS16le => "pcm_s16le",
            CartesiaEncoding::PcmMulaw => "pcm_mulaw",
        }
    }
}

/// A Cartesia voice for Parley's calls.
#[derive(Debug, Clone)]
pub struct CartesiaConfig {
    /// Sent as `X-API-Key`.
    pub api_key: ApiKey,
    /// The `Cartesia-Version` date, e.g. `2025-04-16`.
    pub version: String,
    /// `wss://api.cartesia.ai`.
    pub base_url: Url,
    /// e.g. `sonic-2`.
    pub model_id: String,
    pub voice_id: String,
    /// e.g. `en`; Cartesia's default when absent.
    pub language: Option<String>,
    pub encoding: CartesiaEncoding,
}

impl CartesiaConfig {
    /// The defaults: Cartesia's public server, version `2025-04-16`, no language, 16-bit PCM.
    pub fn new(api_key: impl Into<ApiKey>, model_id: impl Into<String>, voice_id: impl Into<String>) -> Self {
        CartesiaConfig {
            api_key: api_key.into(),
            version: "2025-04-16".into(),
            base_url: Url::parse("wss://api.cartesia.ai").expect("a valid URL"),
            model_id: model_id.into(),
            voice_id: voice_id.into(),
            language: None,
            encoding: CartesiaEncoding::PcmS16le,
        }
    }

    fn url(&self) -> Url {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .expect("a ws(s) URL has a path")
            .pop_if_empty()
            .extend(["tts", "websocket"]);
        url.query_pairs_mut()
            .clear()
            .append_pair("cartesia_version", &self.version);
        url
    }

    /// The fields every input of a context repeats.
    fn request(&self, context: &str, transcript: &str) -> serde_json::Map<String, Value> {
        let mut r = json!({
            "model_id": self.model_id,
            "transcript": transcript,
            "voice": {"mode": "id", "id": self.voice_id},
            "output_format": {
                "container": "raw",
                "encoding": self.encoding.wire_name(),
                "sample_rate": crate::PHONE_RATE,
            },
            "context_id": context,
        });
        if let (Some(lang), Some(map)) = (&self.language, r.as_object_mut()) {
            map.insert("language".into(), json!(lang));
        }
        match r {
            Value::Object(map) => map,
            _ => unreachable!("built as an object"),
        }
    }
}

/// Cartesia as a [`StreamingTts`]: one WebSocket per session (per call).
pub struct CartesiaTts {
    config: Arc<CartesiaConfig>,
    stall: Duration,
}

impl CartesiaTts {
    /// Checks the config (a `ws`/`wss` base URL, a version, a model, a voice).
    pub fn new(config: CartesiaConfig) -> Result<Self, SpeechError> {
        let bad = |what: &str| Err(SpeechError::Engine(format!("Cartesia config: {what}")));
        if !matches!(config.base_url.scheme(), "ws" | "wss") || config.base_url.cannot_be_a_base() {
            return bad("the base URL must be ws:// or wss://");
        }
        if [&config.version, &config.model_id, &config.voice_id]
            .iter()
            .any(|s| s.trim().is_empty())
        {
            return bad("a version, a model id and a voice id are needed");
        }
        Ok(CartesiaTts {
            config: Arc::new(config),
            stall: Duration::from_secs(15),
        })
    }
}

impl StreamingTts for CartesiaTts {
    fn name(&self) -> &str {
        "cartesia"
    }

    fn open(&self) -> TtsSession {
        let (session, side) = TtsSession::pair();
        let config = self.config.clone();
        let pacing = Pacing {
            keepalive: None,
            stall: self.stall,
        };
        tokio::spawn(async move {
            let url = config.url();
            let connect = || {
                let headers = [
                    Header {
                        name: "x-api-key",
                        value: config.api_key.expose().to_string(),
                        secret: true,
                    },
                    Header {
                        name: "cartesia-version",
                        value: config.version.clone(),
                        secret: false,
                    },
                ];
                let url = url.clone();
                async move { wire::connect(&url, &headers).await }
            };
            let proto = Contexts {
                config: config.clone(),
                order: Order::default(),
                state: HashMap::new(),
            };
            wire::run(proto, connect, pacing, side).await;
        });
        session
    }
}

/// What Parley tracks of one Cartesia context.
struct State {
    /// Flushes sent and answered (`flush_done`).
    flushes: u32,
    answered: u32,
    heard: Instant,
    /// An odd byte of 16-bit PCM waiting for its pair.
    carry: Option<u8>,
}

/// Cartesia's context protocol, sans I/O.
struct Contexts {
    config: Arc<CartesiaConfig>,
    order: Order,
    state: HashMap<String, State>,
}

#[derive(Deserialize)]
struct ServerMessage {
    #[serde(rename = "type")]
    kind: String,
    context_id: Option<String>,
    data: Option<String>,
    flush_id: Option<u32>,
    error: Option<Value>,
    status_code: Option<u16>,
}

impl Contexts {
    fn send(&self, vendor: &str, transcript: &str, extra: Value) -> String {
        let mut request = self.config.request(vendor, transcript);
        if let Value::Object(extra) = extra {
            request.extend(extra);
        }
        Value::Object(request).to_string()
    }
}

impl Protocol for Contexts {
    type Input = TtsInput;
    type Event = TtsEvent;
    type Out = String;

    fn input(&mut self, input: TtsInput) -> Vec<String> {
        match input {
            TtsInput::Text { context, text, .. } => {
                if text.trim().is_empty() {
                    return Vec::new();
                }
                // A quiet context may have expired: retire it, the sentence opens a new one.
                if let Some(open) = self.order.open(context).map(str::to_string) {
                    let quiet = self
                        .state
                        .get(&open)
                        .is_some_and(|s| s.answered == s.flushes && s.heard.elapsed() > QUIET);
                    if quiet {
                        self.state.remove(&open);
                        self.order.finished(&open);
                    }
                }
                // Transcripts are joined verbatim: each sentence ends with a space.
                let transcript = format!("{} ", text.trim());
                let placed = self.order.text(context, text);
                let state = self.state.entry(placed.vendor.clone()).or_insert(State {
                    flushes: 0,
                    answered: 0,
                    heard: Instant::now(),
                    carry: None,
                });
                state.flushes += 1;
                vec![
                    self.send(&placed.vendor, &transcript, json!({"continue": true})),
                    self.send(&placed.vendor, "", json!({"continue": true, "flush": true})),
                ]
            }
            TtsInput::Flush { context } => match self.order.flush(context) {
                Some(vendor) => vec![self.send(&vendor, "", json!({"continue": false}))],
                None => Vec::new(),
            },
            TtsInput::Cancel { context } => self
                .order
                .cancel(context)
                .into_iter()
                .map(|(vendor, _)| {
                    self.state.remove(&vendor);
                    json!({"context_id": vendor, "cancel": true}).to_string()
                })
                .collect(),
        }
    }

    fn message(&mut self, text: &str) -> Result<(), SpeechError> {
        let m: ServerMessage = serde_json::from_str(text)
            .map_err(|e| SpeechError::Engine(format!("Cartesia sent an unreadable message: {e}")))?;
        let vendor = m.context_id.unwrap_or_default();
        let live = self.order.sentences(&vendor).is_some();
        if let Some(state) = self.state.get_mut(&vendor) {
            state.heard = Instant::now();
        }
        match m.kind.as_str() {
            "chunk" if live => {
                let data = m.data.unwrap_or_default();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .map_err(|e| SpeechError::Engine(format!("Cartesia audio is not base64: {e}")))?;
                let pcm = match self.config.encoding {
                    CartesiaEncoding::PcmMulaw => wire::mulaw_to_pcm(&bytes),
                    CartesiaEncoding::PcmS16le => match self.state.get_mut(&vendor) {
                        Some(state) => wire::s16le_to_pcm(&mut state.carry, &bytes),
                        None => wire::s16le_to_pcm(&mut None, &bytes),
                    },
                };
                let begins = m.flush_id.and_then(|n| (n as usize).checked_sub(1));
                self.order.audio(&vendor, begins, pcm);
            }
            "flush_done" if live => {
                if let Some(state) = self.state.get_mut(&vendor) {
                    state.answered += 1;
                }
            }
            "done" if live => {
                self.state.remove(&vendor);
                self.order.finished(&vendor);
            }
            "error" if live || vendor.is_empty() => {
                let error = m.error.map(|e| e.to_string()).unwrap_or_default();
                let status = m.status_code.map(|s| s.to_string()).unwrap_or_default();
                return Err(SpeechError::Engine(format!("Cartesia: {error} (status {status})")));
            }
            kind => tracing::debug!(kind, live, "Cartesia message ignored"),
        }
        Ok(())
    }

    fn events(&mut self) -> Vec<TtsEvent> {
        self.order.events()
    }

    fn idle(&self) -> bool {
        self.order.idle()
    }

    fn owed(&self) -> bool {
        self.order.owed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protocol() -> Contexts {
        let mut c = CartesiaConfig::new("k", "sonic-2", "v-1");
        c.language = Some("en".into());
        Contexts {
            config: Arc::new(c),
            order: Order::default(),
            state: HashMap::new(),
        }
    }

    #[test]
    fn the_url_carries_only_the_version() {
        let c = CartesiaConfig::new("secret-key", "sonic-2", "v");
        assert_eq!(
            c.url().as_str(),
            "wss://api.cartesia.ai/tts/websocket?cartesia_version=2025-04-16"
        );
        assert!(!format!("{c:?}").contains("secret-key"));
    }

    #[test]
    fn a_sentence_is_a_transcript_and_a_flush_and_flush_ids_name_sentences() {
        let mut p = protocol();
        let say = |text: &str| TtsInput::Text {
            context: 1,
            text: text.into(),
            fixed: false,
        };
        let sent = p.input(say("One."));
        let first: Value = serde_json::from_str(&sent[0]).expect("json");
        assert_eq!(first["transcript"], "One. ");
        assert_eq!(first["continue"], true);
        assert_eq!(first["voice"], json!({"mode": "id", "id": "v-1"}));
        assert_eq!(first["language"], "en");
        assert_eq!(first["output_format"]["sample_rate"], 8000);
        let flush: Value = serde_json::from_str(&sent[1]).expect("json");
        assert_eq!(
            (flush["transcript"].clone(), flush["flush"].clone()),
            (json!(""), json!(true))
        );
        p.input(say("Two."));
        let end: Value = serde_json::from_str(&p.input(TtsInput::Flush { context: 1 })[0]).expect("json");
        assert_eq!(end["continue"], false);
        let chunk = |flush: u32, data: &str| {
            format!(
                r#"{{"type":"chunk","data":"{data}","done":false,"status_code":206,"step_time":1.0,"context_id":"parley-1-1","flush_id":{flush}}}"#
            )
        };
        for m in [chunk(1, "AQA="), chunk(1, "AgA="), chunk(2, "AwA=")] {
            p.message(&m).expect("chunk");
        }
        p.message(r#"{"type":"done","done":true,"status_code":206,"context_id":"parley-1-1"}"#)
            .expect("done");
        let texts: Vec<String> = p
            .events()
            .into_iter()
            .map(|e| match e {
                TtsEvent::Audio { text, pcm, .. } => format!("{text}{}", pcm[0]),
                TtsEvent::Done { .. } => "done".into(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(texts, ["One.1", "2", "Two.3", "done"]);
    }
}
