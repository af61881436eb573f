//! Deepgram's live protocol, sans I/O: Parley's speech-to-text inputs become frames to send,
//! Deepgram's messages become session events.
//!
//! The utterance is placed on the stream's clock. Deepgram times every result in seconds of
//! the audio it was sent (`start`, `duration`, and each word's `start`), and Parley counts the
//! samples it sends, so a `Reset` is a point on that clock: results (or words) before it belong
//! to the utterance the caller has moved past, however late they arrive.

use super::super::wire::{self, Protocol};
use crate::session::{EngineTiming, SttEvent, SttInput};
use crate::SpeechError;
use serde::Deserialize;
use serde_json::json;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tracing::debug;

/// Slack between Parley's count of audio and Deepgram's times (one 20 ms frame).
const SLACK: f64 = 0.02;

/// A `Finalize` waiting for Deepgram's results to cover the audio sent before it.
struct Pending {
    id: u64,
    /// Seconds of audio sent when it was asked.
    at: f64,
    asked: Instant,
}

#[derive(Default)]
pub(super) struct Live {
    /// Samples sent on this connection.
    sent: u64,
    /// Where the current utterance began on the stream's clock (seconds).
    since: f64,
    /// The utterance's final segments, in order.
    finals: Vec<String>,
    /// The latest interim transcript of the segment after them.
    interim: String,
    /// The end of the last final result (seconds): audio before it is transcribed for good.
    covered: f64,
    pending: VecDeque<Pending>,
    /// An `EndOfSpeech` went out and no word has come since.
    ended: bool,
    out: Vec<SttEvent>,
}

#[derive(Deserialize)]
struct ServerMessage {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    start: f64,
    #[serde(default)]
    duration: f64,
    #[serde(default)]
    is_final: bool,
    #[serde(default)]
    speech_final: bool,
    #[serde(default)]
    from_finalize: bool,
    channel: Option<serde_json::Value>,
    err_code: Option<String>,
    err_msg: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
struct Channel {
    alternatives: Vec<Alternative>,
}

#[derive(Deserialize)]
struct Alternative {
    transcript: String,
    #[serde(default)]
    words: Vec<Word>,
}

#[derive(Deserialize)]
struct Word {
    word: String,
    start: f64,
    punctuated_word: Option<String>,
}

impl Live {
    fn now(&self) -> f64 {
        self.sent as f64 / f64::from(crate::PHONE_RATE)
    }

    /// The utterance so far: its final segments and the interim one after them.
    fn so_far(&self) -> String {
        let mut parts: Vec<&str> = self.finals.iter().map(String::as_str).collect();
        if !self.interim.is_empty() {
            parts.push(&self.interim);
        }
        parts.join(" ")
    }

    fn answer(&mut self, pending: Pending) {
        self.out.push(SttEvent::Final {
            id: pending.id,
            text: self.finals.join(" "),
            timing: EngineTiming {
                queue: Duration::ZERO,
                work: pending.asked.elapsed(),
            },
        });
    }

    /// Answers the `Finalize`s whose audio the final results now cover.
    fn answer_covered(&mut self) {
        while self.pending.front().is_some_and(|p| p.at <= self.covered + SLACK) {
            let p = self.pending.pop_front().expect("a front");
            self.answer(p);
        }
    }

    fn end_of_speech(&mut self) {
        if !self.ended {
            self.ended = true;
            self.out.push(SttEvent::EndOfSpeech);
        }
    }

    /// A result's text within the current utterance: all of it, none (it ended before the
    /// utterance began), or the words from the utterance's start on.
    fn text_in_utterance(&self, m: &ServerMessage, alternative: &Alternative) -> String {
        if m.start + SLACK >= self.since {
            return alternative.transcript.trim().to_string();
        }
        if m.start + m.duration <= self.since + SLACK {
            return String::new();
        }
        alternative
            .words
            .iter()
            .filter(|w| w.start + SLACK >= self.since)
            .map(|w| w.punctuated_word.as_deref().unwrap_or(&w.word))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn results(&mut self, m: &ServerMessage) -> Result<(), SpeechError> {
        let channel: Channel = serde_json::from_value(m.channel.clone().unwrap_or_default())
            .map_err(|e| SpeechError::Engine(format!("Deepgram sent an unreadable result: {e}")))?;
        let Some(alternative) = channel.alternatives.first() else {
            return Ok(());
        };
        let text = self.text_in_utterance(m, alternative);
        if !text.is_empty() {
            self.ended = false;
        }
        if m.is_final {
            self.interim.clear();
            if !text.is_empty() {
                self.finals.push(text);
                self.out.push(SttEvent::Partial { text: self.so_far() });
            }
            self.covered = self.covered.max(m.start + m.duration);
            if m.from_finalize {
                // Deepgram flushed what it had: the oldest Finalize is answered.
                if let Some(p) = self.pending.pop_front() {
                    self.answer(p);
                }
            }
            self.answer_covered();
            if m.speech_final && !self.finals.is_empty() {
                self.end_of_speech();
            }
        } else if !text.is_empty() && text != self.interim {
            self.interim = text;
            self.out.push(SttEvent::Partial { text: self.so_far() });
        }
        Ok(())
    }
}

impl Protocol for Live {
    type Input = SttInput;
    type Event = SttEvent;
    type Out = Message;

    fn input(&mut self, input: SttInput) -> Vec<Message> {
        match input {
            SttInput::Audio(pcm) => {
                if pcm.is_empty() {
                    // An empty binary frame once meant "close the stream" to Deepgram.
                    return Vec::new();
                }
                self.sent += pcm.len() as u64;
                vec![Message::binary(wire::pcm_to_mulaw(&pcm))]
            }
            SttInput::Finalize { id, .. } => {
                // Deepgram takes no prompt: the context is not sent.
                let pending = Pending {
                    id,
                    at: self.now(),
                    asked: Instant::now(),
                };
                if pending.at <= self.covered + SLACK && self.pending.is_empty() {
                    self.answer(pending);
                    return Vec::new();
                }
                self.pending.push_back(pending);
                vec![Message::text(json!({"type": "Finalize"}).to_string())]
            }
            SttInput::Reset => {
                self.since = self.now();
                self.finals.clear();
                self.interim.clear();
                // The caller has moved past them.
                self.pending.clear();
                self.ended = false;
                Vec::new()
            }
        }
    }

    fn message(&mut self, text: &str) -> Result<(), SpeechError> {
        let m: ServerMessage = serde_json::from_str(text)
            .map_err(|e| SpeechError::Engine(format!("Deepgram sent an unreadable message: {e}")))?;
        match m.kind.as_deref() {
            Some("Results") => self.results(&m)?,
            Some("SpeechStarted") => {
                self.ended = false;
                self.out.push(SttEvent::SpeechStarted);
            }
            Some("UtteranceEnd") => {
                if !self.finals.is_empty() || !self.interim.is_empty() {
                    self.end_of_speech();
                }
            }
            Some("Metadata") => debug!("Deepgram metadata"),
            _ if m.err_code.is_some() || m.description.is_some() => {
                return Err(SpeechError::Engine(format!(
                    "Deepgram: {} {}",
                    m.err_code.or(m.kind).unwrap_or_default(),
                    m.err_msg.or(m.description).unwrap_or_default()
                )));
            }
            other => debug!(kind = ?other, "Deepgram message ignored"),
        }
        Ok(())
    }

    fn events(&mut self) -> Vec<SttEvent> {
        std::mem::take(&mut self.out)
    }

    /// Never: a new connection would restart the stream's clock, and with it lose the place
    /// of the utterance's audio; a closed connection fails the session.
    fn idle(&self) -> bool {
        false
    }

    fn owed(&self) -> bool {
        !self.pending.is_empty()
    }

    fn keepalive(&self) -> Vec<Message> {
        vec![Message::text(json!({"type": "KeepAlive"}).to_string())]
    }

    fn goodbye(&self) -> Vec<Message> {
        vec![Message::text(json!({"type": "CloseStream"}).to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(start: f64, duration: f64, is_final: bool, transcript: &str, words: &[(&str, f64)]) -> String {
        let words: Vec<_> = words
            .iter()
            .map(|(w, s)| json!({"word": w.to_lowercase(), "start": s, "end": s + 0.2, "confidence": 0.9, "punctuated_word": w}))
            .collect();
        json!({
            "type": "Results", "channel_index": [0, 1], "start": start, "duration": duration,
            "is_final": is_final, "speech_final": false, "from_finalize": false,
            "channel": {"alternatives": [{"transcript": transcript, "confidence": 0.9, "words": words}]}
        })
        .to_string()
    }

    fn audio(seconds: f64) -> SttInput {
        SttInput::Audio(vec![100i16; (seconds * 8000.0) as usize].into())
    }

    fn texts(events: Vec<SttEvent>) -> Vec<String> {
        events
            .into_iter()
            .map(|e| match e {
                SttEvent::Partial { text } => format!("partial {text}"),
                SttEvent::Final { id, text, .. } => format!("final {id} {text}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn audio_goes_as_mulaw_and_a_covered_finalize_is_answered_at_once() {
        let mut p = Live::default();
        let sent = p.input(audio(1.0));
        assert!(matches!(&sent[..], [Message::Binary(b)] if b.len() == 8000));
        p.message(&result(0.0, 0.6, false, "hello", &[("hello", 0.1)]))
            .expect("interim");
        p.message(&result(
            0.0,
            1.0,
            true,
            "Hello there.",
            &[("Hello", 0.1), ("there.", 0.5)],
        ))
        .expect("final");
        assert!(p
            .input(SttInput::Finalize {
                id: 3,
                context: String::new()
            })
            .is_empty());
        assert_eq!(
            texts(p.events()),
            ["partial hello", "partial Hello there.", "final 3 Hello there."]
        );
    }

    #[test]
    fn an_uncovered_finalize_asks_deepgram_and_results_before_a_reset_are_dropped() {
        let mut p = Live::default();
        p.input(audio(1.0));
        let sent = p.input(SttInput::Finalize {
            id: 1,
            context: "Hi".into(),
        });
        assert!(matches!(&sent[..], [Message::Text(t)] if t.as_str() == r#"{"type":"Finalize"}"#));
        assert!(p.owed());
        p.input(SttInput::Reset);
        assert!(!p.owed());
        p.input(audio(1.0));
        // A late final result straddling the reset keeps only the words after it.
        p.message(&result(0.5, 1.0, true, "no yes", &[("no", 0.6), ("yes", 1.1)]))
            .expect("final");
        p.input(SttInput::Finalize {
            id: 2,
            context: String::new(),
        });
        let mut flushed: serde_json::Value =
            serde_json::from_str(&result(1.5, 0.5, true, "please", &[("please", 1.6)])).expect("json");
        flushed["from_finalize"] = true.into();
        p.message(&flushed.to_string()).expect("final");
        assert_eq!(
            texts(p.events()),
            ["partial yes", "partial yes please", "final 2 yes please"]
        );
    }

    #[test]
    fn speech_final_and_utterance_end_make_one_end_of_speech() {
        let mut p = Live::default();
        p.input(audio(1.0));
        p.message(r#"{"type":"SpeechStarted","channel":[0,1],"timestamp":0.1}"#)
            .expect("vad");
        let mut last: serde_json::Value =
            serde_json::from_str(&result(0.0, 1.0, true, "Yes.", &[("Yes.", 0.1)])).expect("json");
        last["speech_final"] = true.into();
        p.message(&last.to_string()).expect("final");
        p.message(r#"{"type":"UtteranceEnd","channel":[0,1],"last_word_end":0.3}"#)
            .expect("end");
        p.message(r#"{"type":"Metadata","request_id":"x","duration":1.0,"channels":1}"#)
            .expect("meta");
        assert_eq!(texts(p.events()), ["SpeechStarted", "partial Yes.", "EndOfSpeech"]);
        assert!(p
            .message(r#"{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials."}"#)
            .is_err());
    }
}
