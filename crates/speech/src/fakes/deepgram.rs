//! A loopback Deepgram live-transcription WebSocket (`/v1/listen`), after Deepgram's API
//! reference and feature pages: options in the query (raw audio must name `encoding` and
//! `sample_rate`; `utterance_end_ms` needs `interim_results`), the key as
//! `Authorization: Token <key>` (a wrong one: HTTP 401 with Deepgram's JSON body), audio as
//! binary frames, control messages `KeepAlive`, `Finalize` (optionally with `channel`) and
//! `CloseStream` as text frames; anything else is a violation.
//!
//! Its "recognizer" works on the stream's clock: a stretch of constant level is a word
//! ([`WORDS`]), silence is no word. It answers as Deepgram does: `SpeechStarted` (with
//! `vad_events`), interim `Results` as words complete, a final `Results` with `speech_final`
//! after `endpointing` ms of silence, `UtteranceEnd` after `utterance_end_ms` of silence after
//! the last word, a final with `from_finalize: true` for a `Finalize`, and for `CloseStream` the
//! rest, a `Metadata` and a normal close. With no audio or `KeepAlive` for `idle_timeout` it
//! closes with 1011 `NET-0001`, and `fail_after` samples it closes with 1011 `NET-0000`.

use super::{header, listen, query, violation, Fake, Shared};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// The words the fake hears, by the level of the audio that says them.
pub const WORDS: [(&str, i16); 5] = [
    ("hello", 2000),
    ("there", 4000),
    ("yes", 6000),
    ("please", 8000),
    ("no", 10000),
];

/// The query parameters Deepgram's live endpoint documents (a subset is enough for the check).
const PARAMS: [&str; 24] = [
    "model",
    "language",
    "encoding",
    "sample_rate",
    "channels",
    "interim_results",
    "smart_format",
    "punctuate",
    "endpointing",
    "utterance_end_ms",
    "vad_events",
    "diarize",
    "keyterm",
    "keywords",
    "multichannel",
    "numerals",
    "profanity_filter",
    "redact",
    "replace",
    "search",
    "tag",
    "version",
    "filler_words",
    "mip_opt_out",
];

const RATE: f64 = 8000.0;

#[derive(Clone)]
pub struct Options {
    pub key: String,
    pub idle_timeout: Duration,
    pub fail_after: Option<usize>,
    /// Leaves `Finalize` unanswered (a stalled service).
    pub ignore_finalize: bool,
}

impl Options {
    pub fn new(key: &str) -> Options {
        Options {
            key: key.into(),
            idle_timeout: Duration::from_secs(10),
            fail_after: None,
            ignore_finalize: false,
        }
    }
}

pub async fn start(options: Options) -> Fake {
    let o = options.clone();
    let check = move |request: &tokio_tungstenite::tungstenite::handshake::server::Request, log: &Shared| {
        if request.uri().path() != "/v1/listen" {
            violation(log, format!("path {}", request.uri().path()));
            return Err((StatusCode::NOT_FOUND, "not found".into()));
        }
        let q = query(request);
        log.lock().expect("log").messages.push(json!({"query": q}));
        for name in q.keys().filter(|n| !PARAMS.contains(&n.as_str())) {
            violation(log, format!("undocumented query parameter {name}"));
        }
        for (name, value) in [("encoding", "mulaw"), ("sample_rate", "8000"), ("channels", "1")] {
            if q.get(name).map(String::as_str) != Some(value) {
                violation(log, format!("{name} must be {value}: {:?}", q.get(name)));
            }
        }
        if q.contains_key("utterance_end_ms") && q.get("interim_results").map(String::as_str) != Some("true") {
            violation(log, "utterance_end_ms needs interim_results=true");
        }
        match header(request, "authorization") {
            Some(h) if h == format!("Token {}", o.key) => Ok(()),
            _ => Err((
                StatusCode::UNAUTHORIZED,
                json!({"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.", "request_id": "0000"})
                    .to_string(),
            )),
        }
    };
    listen(check, move |ws, log| {
        let options = options.clone();
        async move {
            // The handshake's query was logged last: read the options back from it.
            let q = log.lock().expect("log").messages.last().cloned().unwrap_or_default();
            connection(ws, log, options, q["query"].clone()).await
        }
    })
    .await
}

struct Word {
    word: &'static str,
    start: f64,
    end: f64,
}

/// The recognizer's state on the stream's clock (seconds are samples / 8000).
#[derive(Default)]
struct Ear {
    samples: usize,
    /// Where the current segment (since the last final result) began.
    segment_start: f64,
    words: Vec<Word>,
    /// The word being said: (word, start sample).
    current: Option<(&'static str, usize)>,
    /// Samples of silence since the last word ended.
    quiet: usize,
    /// Words since the last UtteranceEnd.
    since_utterance_end: bool,
    /// A SpeechStarted went out since the last final result.
    speaking: bool,
}

fn word_of(level: i32) -> Option<&'static str> {
    if level.abs() < 500 {
        return None;
    }
    WORDS
        .iter()
        .min_by_key(|(_, l)| (i32::from(*l) - level).abs())
        .filter(|(_, l)| (i32::from(*l) - level).abs() < 600)
        .map(|(w, _)| *w)
}

/// G.711 mu-law decoding, the fake's own (the reference `ulaw2linear`).
fn ulaw(b: u8) -> i32 {
    let b = !b;
    let t = ((i32::from(b & 0x0F) << 3) + 0x84) << ((b & 0x70) >> 4);
    if b & 0x80 != 0 {
        0x84 - t
    } else {
        t - 0x84
    }
}

fn results(start: f64, end: f64, words: &[Word], is_final: bool, speech_final: bool, from_finalize: bool) -> Message {
    let list: Vec<Value> = words
        .iter()
        .map(|w| json!({"word": w.word, "start": w.start, "end": w.end, "confidence": 0.98, "punctuated_word": w.word}))
        .collect();
    let transcript = words.iter().map(|w| w.word).collect::<Vec<_>>().join(" ");
    Message::text(
        json!({
            "type": "Results", "channel_index": [0, 1], "duration": end - start, "start": start,
            "is_final": is_final, "speech_final": speech_final, "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": transcript, "confidence": 0.98, "words": list}]},
            "metadata": {"request_id": "0000", "model_info": {"name": "fake", "version": "1", "arch": "fake"}, "model_uuid": "0000"}
        })
        .to_string(),
    )
}

impl Ear {
    fn now(&self) -> f64 {
        self.samples as f64 / RATE
    }

    /// Ends the word being said, if any; true if one ended.
    fn end_word(&mut self) -> bool {
        match self.current.take() {
            Some((word, from)) => {
                self.words.push(Word {
                    word,
                    start: from as f64 / RATE,
                    end: self.now(),
                });
                true
            }
            None => false,
        }
    }

    /// A final result for the segment so far; a new segment begins.
    fn finalize(&mut self, speech_final: bool, from_finalize: bool) -> Message {
        self.end_word();
        let m = results(
            self.segment_start,
            self.now(),
            &self.words,
            true,
            speech_final,
            from_finalize,
        );
        self.words.clear();
        self.segment_start = self.now();
        self.speaking = false;
        m
    }

    fn hear(
        &mut self,
        sample: i32,
        endpointing: Option<usize>,
        utterance_end: Option<usize>,
        vad: bool,
    ) -> Vec<Message> {
        let mut out = Vec::new();
        let word = word_of(sample);
        if word.is_some() && !self.speaking {
            self.speaking = true;
            if vad {
                out.push(Message::text(
                    json!({"type": "SpeechStarted", "channel": [0, 1], "timestamp": self.now()}).to_string(),
                ));
            }
        }
        if self.current.map(|(w, _)| w) != word {
            if self.end_word() {
                out.push(results(
                    self.segment_start,
                    self.now(),
                    &self.words,
                    false,
                    false,
                    false,
                ));
            }
            if let Some(w) = word {
                self.current = Some((w, self.samples));
                self.since_utterance_end = true;
            }
        }
        self.samples += 1;
        if word.is_some() {
            self.quiet = 0;
            return out;
        }
        self.quiet += 1;
        if endpointing == Some(self.quiet) && !self.words.is_empty() {
            out.push(self.finalize(true, false));
        }
        if utterance_end == Some(self.quiet) && self.since_utterance_end {
            self.since_utterance_end = false;
            let last = self.words.last().map(|w| w.end).unwrap_or(self.now());
            out.push(Message::text(
                json!({"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": last}).to_string(),
            ));
        }
        out
    }
}

async fn connection(
    ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    log: Shared,
    options: Options,
    q: Value,
) {
    let ms = |name: &str| q[name].as_str().and_then(|v| v.parse::<usize>().ok()).map(|ms| ms * 8);
    let (endpointing, utterance_end) = (ms("endpointing"), ms("utterance_end_ms"));
    let vad = q["vad_events"] == "true";
    let interim = q["interim_results"] == "true";
    let (mut sink, mut stream) = ws.split();
    let mut ear = Ear::default();
    let close = |code: CloseCode, reason: &str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.to_string().into(),
        }))
    };
    loop {
        let message = match tokio::time::timeout(options.idle_timeout, stream.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(_) => return,
            Err(_) => {
                let _ = sink
                    .send(close(
                        CloseCode::Error,
                        "NET-0001: Deepgram did not receive audio data or a text message within the timeout window.",
                    ))
                    .await;
                return;
            }
        };
        let mut out = Vec::new();
        match message {
            Message::Binary(bytes) => {
                log.lock().expect("log").audio_bytes += bytes.len();
                for &b in bytes.iter() {
                    for m in ear.hear(ulaw(b), endpointing, utterance_end, vad) {
                        let interim_result = m.to_text().is_ok_and(|t| t.contains("\"is_final\":false"));
                        if interim || !interim_result {
                            out.push(m);
                        }
                    }
                }
                if options.fail_after.is_some_and(|n| ear.samples >= n) {
                    let _ = sink.send(close(CloseCode::Error, "NET-0000: The service has not transmitted a Text frame to the client within the timeout window.")).await;
                    return;
                }
            }
            Message::Text(text) => {
                let Ok(m) = serde_json::from_str::<Value>(&text) else {
                    violation(&log, format!("not JSON: {text}"));
                    continue;
                };
                log.lock().expect("log").messages.push(m.clone());
                let keys: Vec<&str> = m
                    .as_object()
                    .map(|o| o.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                match m["type"].as_str() {
                    Some("KeepAlive") | Some("CloseStream") if keys.len() == 1 => {}
                    Some("Finalize") if keys.iter().all(|k| ["type", "channel"].contains(k)) => {}
                    _ => violation(&log, format!("not a documented control message: {text}")),
                }
                match m["type"].as_str() {
                    Some("Finalize") if !options.ignore_finalize => out.push(ear.finalize(false, true)),
                    Some("CloseStream") => {
                        if ear.now() > ear.segment_start {
                            out.push(ear.finalize(false, false));
                        }
                        out.push(Message::text(
                            json!({"type": "Metadata", "transaction_key": "deprecated", "request_id": "0000",
                                   "sha256": "00", "created": "2026-01-01T00:00:00.000Z", "duration": ear.now(), "channels": 1})
                            .to_string(),
                        ));
                        out.push(close(CloseCode::Normal, ""));
                    }
                    _ => {}
                }
            }
            Message::Close(_) => {
                log.lock().expect("log").close_frames += 1;
                return;
            }
            _ => {}
        }
        for m in out {
            if sink.send(m).await.is_err() {
                return;
            }
        }
    }
}
