//! ElevenLabs text-to-speech over its multi-context WebSocket.
//!
//! The protocol, as ElevenLabs documents it (API reference "Multi-Context WebSocket",
//! `GET /v1/text-to-speech/{voice_id}/multi-stream-input`, its AsyncAPI definition, and the
//! guide "Multi-Context Websocket"):
//! - Handshake: the key in the `xi-api-key` header; query `model_id`, `language_code`,
//!   `output_format` (`ulaw_8000`: 8 kHz G.711 mu-law, the phone's own format),
//!   `inactivity_timeout` (seconds, at most 180; default 20), `sync_alignment`, `auto_mode`
//!   ("reduces latency by disabling chunk schedule and buffers; recommended for full
//!   sentences", which is what Parley sends).
//! - Client messages: a context starts with `{"text":" ","context_id":…}`; text is
//!   `{"text":"… ","context_id":…,"flush":true}` (text "should end with a single space"; the
//!   guide recommends `flush` at the end of each sentence); `{"context_id":…,"close_context":
//!   true}` closes a context ("if it has already been set to flush it will continue
//!   flushing"); `{"text":"","context_id":…}` resets a context's inactivity timeout;
//!   `{"close_socket":true}` closes every context and the connection.
//! - Server messages: `{"audio":base64,"contextId":…,"alignment":…,"normalizedAlignment":…}`
//!   and, when a context is over, `{"isFinal":true,"contextId":…}` (camelCase on the server's
//!   side, snake_case on the client's).
//! - At most 5 contexts per connection (the guide); the multi-context socket is not available
//!   for `eleven_v3`.
//!
//! How Parley uses it: one context per turn (a turn flushed twice gets a second one). Each
//! sentence goes with `flush: true`; Parley's `Flush` closes the context and `Done` follows its
//! `isFinal`. `Cancel` closes the context too (ElevenLabs documents no immediate cancel) and
//! the audio still coming for it is dropped here. Which sentence a chunk begins is read from
//! its character `alignment` (requested with `sync_alignment=true`): the characters of the
//! sentences sent are counted (whitespace aside) and a chunk in which a sentence begins is cut
//! at that character's start time; without alignment, only a context's first chunk names its
//! sentence. Between turns no context is open, so nothing needs keeping alive; if ElevenLabs
//! closes an idle connection, the next sentence opens a new one.
//!
//! Not implemented: the single-context `stream-input` endpoint (a fallback for accounts or
//! models without multi-context); `ElevenLabsConfig::base_url` selects a regional server.

use super::tts_order::Order;
use super::wire::{self, Header, Pacing, Protocol};
use super::ApiKey;
use crate::session::{StreamingTts, TtsEvent, TtsInput, TtsSession};
use crate::SpeechError;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The phone's format, as ElevenLabs names it.
const OUTPUT_FORMAT: &str = "ulaw_8000";

/// An ElevenLabs voice for Parley's calls.
#[derive(Debug, Clone)]
pub struct ElevenLabsConfig {
    /// Sent as `xi-api-key`.
    pub api_key: ApiKey,
    /// `wss://api.elevenlabs.io` (or a regional server, e.g. `wss://api.eu.residency.elevenlabs.io`).
    pub base_url: Url,
    pub voice_id: String,
    /// e.g. `eleven_flash_v2_5` (not `eleven_v3`: no multi-context socket for it).
    pub model_id: String,
    /// ISO 639-1, for the models that take one.
    pub language_code: Option<String>,
    /// Seconds a context may stay idle before ElevenLabs closes it (at most 180).
    pub inactivity_timeout: u16,
    /// ElevenLabs' `auto_mode`: no chunk schedule, for whole sentences.
    pub auto_mode: bool,
}

impl ElevenLabsConfig {
    /// The defaults: ElevenLabs' public server, no language code, the longest inactivity
    /// timeout, `auto_mode` on.
    pub fn new(api_key: impl Into<ApiKey>, voice_id: impl Into<String>, model_id: impl Into<String>) -> Self {
        ElevenLabsConfig {
            api_key: api_key.into(),
            base_url: Url::parse("wss://api.elevenlabs.io").expect("a valid URL"),
            voice_id: voice_id.into(),
            model_id: model_id.into(),
            language_code: None,
            inactivity_timeout: 180,
            auto_mode: true,
        }
    }

    /// The multi-context socket's URL for this voice.
    fn url(&self) -> Url {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .expect("a ws(s) URL has a path")
            .pop_if_empty()
            .extend(["v1", "text-to-speech", &self.voice_id, "multi-stream-input"]);
        {
            let mut q = url.query_pairs_mut();
            q.clear();
            q.append_pair("model_id", &self.model_id);
            if let Some(lang) = &self.language_code {
                q.append_pair("language_code", lang);
            }
            q.append_pair("output_format", OUTPUT_FORMAT);
            q.append_pair("inactivity_timeout", &self.inactivity_timeout.to_string());
            q.append_pair("sync_alignment", "true");
            q.append_pair("auto_mode", if self.auto_mode { "true" } else { "false" });
        }
        url
    }
}

/// ElevenLabs as a [`StreamingTts`]: one WebSocket per session (per call).
pub struct ElevenLabsTts {
    config: Arc<ElevenLabsConfig>,
    pacing: (Option<Duration>, Duration),
}

impl ElevenLabsTts {
    /// Checks the config (a `ws`/`wss` base URL, a voice, a model, a timeout ElevenLabs takes).
    pub fn new(config: ElevenLabsConfig) -> Result<Self, SpeechError> {
        let bad = |what: &str| Err(SpeechError::Engine(format!("ElevenLabs config: {what}")));
        if !matches!(config.base_url.scheme(), "ws" | "wss") || config.base_url.cannot_be_a_base() {
            return bad("the base URL must be ws:// or wss://");
        }
        if config.voice_id.trim().is_empty() || config.model_id.trim().is_empty() {
            return bad("a voice id and a model id are needed");
        }
        if !(1..=180).contains(&config.inactivity_timeout) {
            return bad("the inactivity timeout is 1 to 180 seconds");
        }
        // Keep-alives well inside the inactivity timeout; a stalled answer fails the session.
        let keepalive = Duration::from_secs(u64::from(config.inactivity_timeout).saturating_sub(5).max(1));
        Ok(ElevenLabsTts {
            config: Arc::new(config),
            pacing: (Some(keepalive), Duration::from_secs(15)),
        })
    }

    /// Shorter pacing, for tests of the keep-alive and the stall.
    #[doc(hidden)]
    pub fn with_pacing(mut self, keepalive: Duration, stall: Duration) -> Self {
        self.pacing = (Some(keepalive), stall);
        self
    }
}

impl StreamingTts for ElevenLabsTts {
    fn name(&self) -> &str {
        "elevenlabs"
    }

    fn open(&self) -> TtsSession {
        let (session, side) = TtsSession::pair();
        let config = self.config.clone();
        let pacing = Pacing {
            keepalive: self.pacing.0,
            stall: self.pacing.1,
        };
        tokio::spawn(async move {
            let url = config.url();
            let connect = || {
                let headers = [Header {
                    name: "xi-api-key",
                    value: config.api_key.expose().to_string(),
                    secret: true,
                }];
                let url = url.clone();
                async move { wire::connect(&url, &headers).await }
            };
            wire::run(MultiContext::default(), connect, pacing, side).await;
        });
        session
    }
}

/// The multi-context protocol, sans I/O.
#[derive(Default)]
struct MultiContext {
    order: Order,
    /// Non-whitespace characters of alignment seen, per context.
    seen: HashMap<String, usize>,
}

#[derive(Deserialize)]
struct ServerMessage {
    audio: Option<String>,
    #[serde(rename = "contextId")]
    context_id: Option<String>,
    #[serde(rename = "isFinal")]
    is_final: Option<bool>,
    alignment: Option<Alignment>,
    error: Option<serde_json::Value>,
    message: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Alignment {
    chars: Vec<String>,
    #[serde(rename = "charStartTimesMs")]
    char_start_times_ms: Vec<u64>,
}

impl Protocol for MultiContext {
    type Input = TtsInput;
    type Event = TtsEvent;
    type Out = String;

    fn input(&mut self, input: TtsInput) -> Vec<String> {
        match input {
            TtsInput::Text { context, text, .. } => {
                if text.trim().is_empty() {
                    return Vec::new();
                }
                let sent = format!("{} ", text.trim());
                let placed = self.order.text(context, text);
                let mut out = Vec::new();
                if placed.new {
                    out.push(json!({"text": " ", "context_id": placed.vendor}).to_string());
                }
                out.push(json!({"text": sent, "context_id": placed.vendor, "flush": true}).to_string());
                out
            }
            TtsInput::Flush { context } => self.order.flush(context).map(close).into_iter().collect(),
            // A flushed context was closed already (and keeps flushing: its audio is dropped).
            TtsInput::Cancel { context } => self
                .order
                .cancel(context)
                .into_iter()
                .filter(|(_, flushed)| !flushed)
                .map(|(vendor, _)| close(vendor))
                .collect(),
        }
    }

    fn message(&mut self, text: &str) -> Result<(), SpeechError> {
        let m: ServerMessage = serde_json::from_str(text)
            .map_err(|e| SpeechError::Engine(format!("ElevenLabs sent an unreadable message: {e}")))?;
        if m.error.is_some() || (m.message.is_some() && m.audio.is_none()) {
            let what = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
            return Err(SpeechError::Engine(format!(
                "ElevenLabs: {} {}",
                what(&m.error),
                what(&m.message)
            )));
        }
        let Some(vendor) = m.context_id else {
            tracing::debug!("ElevenLabs message without a contextId ignored");
            return Ok(());
        };
        if let Some(audio) = m.audio.filter(|a| !a.is_empty()) {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(audio)
                .map_err(|e| SpeechError::Engine(format!("ElevenLabs audio is not base64: {e}")))?;
            let pcm = wire::mulaw_to_pcm(&bytes);
            let starts = match (self.order.sentences(&vendor), m.alignment) {
                (Some(sentences), Some(alignment)) => {
                    let firsts = first_chars(sentences.iter().map(|s| s.text.as_str()));
                    let seen = self.seen.entry(vendor.clone()).or_default();
                    sentence_starts(seen, &alignment, &firsts)
                }
                _ => Vec::new(),
            };
            for (begins, piece) in cut(pcm, &starts) {
                self.order.audio(&vendor, begins, piece);
            }
        }
        if m.is_final == Some(true) {
            self.seen.remove(&vendor);
            self.order.finished(&vendor);
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

    fn keepalive(&self) -> Vec<String> {
        self.order
            .live()
            .map(|vendor| json!({"text": "", "context_id": vendor}).to_string())
            .collect()
    }

    fn goodbye(&self) -> Vec<String> {
        vec![json!({"close_socket": true}).to_string()]
    }
}

fn close(vendor: String) -> String {
    json!({"context_id": vendor, "close_context": true}).to_string()
}

/// Where each sentence begins, counted in non-whitespace characters from the context's start.
fn first_chars<'a>(sentences: impl Iterator<Item = &'a str>) -> Vec<usize> {
    let mut at = 0;
    sentences
        .map(|s| {
            let first = at;
            at += s.chars().filter(|c| !c.is_whitespace()).count();
            first
        })
        .collect()
}

/// The sentences that begin in a chunk and the sample where each does, from the chunk's
/// alignment; `seen` counts the context's non-whitespace characters before the chunk.
fn sentence_starts(seen: &mut usize, alignment: &Alignment, firsts: &[usize]) -> Vec<(usize, usize)> {
    let mut starts = Vec::new();
    for (j, c) in alignment.chars.iter().enumerate() {
        if c.trim().is_empty() {
            continue;
        }
        if let Some(k) = firsts.iter().rposition(|&f| f == *seen) {
            let ms = alignment.char_start_times_ms.get(j).copied().unwrap_or(0);
            starts.push((k, (ms * u64::from(crate::PHONE_RATE) / 1000) as usize));
        }
        *seen += 1;
    }
    starts
}

/// Cuts a chunk where sentences begin: pieces, each with the sentence it begins (if any).
fn cut(pcm: Vec<i16>, starts: &[(usize, usize)]) -> Vec<(Option<usize>, Vec<i16>)> {
    if starts.is_empty() {
        return vec![(None, pcm)];
    }
    let mut pieces = Vec::new();
    let mut from = 0;
    let mut begins = None;
    for &(k, at) in starts {
        let at = at.clamp(from, pcm.len());
        if at > from {
            pieces.push((begins, pcm[from..at].to_vec()));
            from = at;
        }
        begins = Some(k);
    }
    pieces.push((begins, pcm[from..].to_vec()));
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_carries_the_voice_in_the_path_and_the_format_in_the_query() {
        let mut c = ElevenLabsConfig::new("k", "voice 1", "eleven_flash_v2_5");
        c.language_code = Some("de".into());
        assert_eq!(
            c.url().as_str(),
            "wss://api.elevenlabs.io/v1/text-to-speech/voice%201/multi-stream-input?model_id=eleven_flash_v2_5\
             &language_code=de&output_format=ulaw_8000&inactivity_timeout=180&sync_alignment=true&auto_mode=true"
        );
        assert!(!format!("{c:?}").contains("\"k\""));
    }

    #[test]
    fn a_chunk_is_cut_where_the_next_sentence_begins() {
        // "Hi. " then "Yes. ": the chunk ends the first sentence and begins the second.
        let firsts = first_chars(["Hi.", "Yes."].into_iter());
        assert_eq!(firsts, [0, 3]);
        let mut seen = 2; // "H", "i" were in an earlier chunk
        let alignment = Alignment {
            chars: [".", " ", "Y", "e", "s"].map(String::from).to_vec(),
            char_start_times_ms: vec![0, 10, 20, 30, 40],
        };
        let starts = sentence_starts(&mut seen, &alignment, &firsts);
        assert_eq!(starts, [(1, 160)]);
        assert_eq!(seen, 6);
        let pieces = cut(vec![0; 400], &starts);
        assert_eq!(
            pieces.iter().map(|(b, p)| (*b, p.len())).collect::<Vec<_>>(),
            [(None, 160), (Some(1), 240)]
        );
    }

    #[test]
    fn messages_follow_the_documented_shapes() {
        let mut p = MultiContext::default();
        let sent = p.input(TtsInput::Text {
            context: 4,
            text: "Hello there.".into(),
            fixed: false,
        });
        assert_eq!(
            sent,
            [
                r#"{"context_id":"parley-4-1","text":" "}"#,
                r#"{"context_id":"parley-4-1","flush":true,"text":"Hello there. "}"#
            ]
        );
        assert_eq!(
            p.input(TtsInput::Flush { context: 4 }),
            [r#"{"close_context":true,"context_id":"parley-4-1"}"#]
        );
        p.message(r#"{"audio":"/w==","contextId":"parley-4-1","alignment":null}"#)
            .expect("audio");
        p.message(r#"{"isFinal":true,"contextId":"parley-4-1"}"#)
            .expect("final");
        let events = p.events();
        assert!(matches!(&events[0], TtsEvent::Audio { text, pcm, .. } if text == "Hello there." && pcm[..] == [0]));
        assert!(matches!(events[1], TtsEvent::Done { context: 4 }));
        assert!(p.message(r#"{"error":"quota_exceeded","message":"…"}"#).is_err());
    }
}
