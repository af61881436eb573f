//! Twilio Media Streams: the WebSocket's JSON text frames, and a sans-I/O session over them.
//!
//! [`Inbound`] and [`Outbound`] are the messages exactly as Twilio spells them (an `event` tag,
//! camelCase fields, `sequenceNumber`, `chunk` and `timestamp` as strings); each event's body is
//! nested under a key named after the event (`"start": {…}`, `"media": {…}`), as on the wire.
//! [`MediaStream`] is one call's stream: text frames and time in, [`StreamEvent`]s and text
//! frames out. It owns no socket and reads no clock, so tests and the fuzzer drive it directly.
//!
//! Decision: a bad frame is an `Err` from [`MediaStream::handle_text`] that leaves the session as
//! it was, not a reason to end the call. The socket shell decides (log and go on is the usual
//! answer: one garbled frame should not hang up on a caller). Audio is re-chunked rather than
//! refused when a payload is not 160 bytes: Twilio sends 20 ms, but nothing in the protocol
//! promises it, and the rest of Parley only ever sees whole 160-byte frames.

use crate::audio::{MulawFrame, FRAME_SAMPLES};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

/// The largest text frame accepted (Twilio's are a few hundred bytes; 64 KiB leaves room for
/// large `customParameters` without letting a peer make us parse megabytes).
pub const MAX_TEXT_FRAME: usize = 64 * 1024;

/// The only media format of a Twilio stream.
pub const MULAW_ENCODING: &str = "audio/x-mulaw";

/// A message Twilio sends to Parley.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Inbound {
    /// First message on a new socket.
    Connected { protocol: String, version: String },
    /// Stream metadata; sent once, right after `connected`.
    #[serde(rename_all = "camelCase")]
    Start {
        sequence_number: String,
        stream_sid: String,
        start: StartBody,
    },
    /// Caller audio.
    #[serde(rename_all = "camelCase")]
    Media {
        sequence_number: String,
        stream_sid: String,
        media: MediaBody,
    },
    /// A key the caller pressed.
    #[serde(rename_all = "camelCase")]
    Dtmf {
        sequence_number: String,
        stream_sid: String,
        dtmf: DtmfBody,
    },
    /// Audio sent before a mark of ours has played (or was cleared).
    #[serde(rename_all = "camelCase")]
    Mark {
        sequence_number: String,
        stream_sid: String,
        mark: MarkBody,
    },
    /// The stream ended (hang-up, or the call left the `<Connect>`).
    #[serde(rename_all = "camelCase")]
    Stop {
        sequence_number: String,
        stream_sid: String,
        stop: StopBody,
    },
}

/// The body of `start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartBody {
    pub stream_sid: String,
    pub account_sid: String,
    pub call_sid: String,
    #[serde(default)]
    pub tracks: Vec<String>,
    /// The `<Parameter>` children of `<Stream>`.
    #[serde(default)]
    pub custom_parameters: BTreeMap<String, String>,
    pub media_format: MediaFormat,
}

/// `start.mediaFormat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaFormat {
    pub encoding: String,
    pub sample_rate: u32,
    pub channels: u32,
}

impl MediaFormat {
    /// The format of every Twilio stream: mu-law, 8000 Hz, mono.
    pub fn mulaw() -> Self {
        MediaFormat {
            encoding: MULAW_ENCODING.into(),
            sample_rate: 8000,
            channels: 1,
        }
    }
}

/// The body of an inbound `media` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaBody {
    pub track: String,
    pub chunk: String,
    pub timestamp: String,
    /// Base64 of raw mu-law bytes.
    pub payload: String,
}

/// The body of `dtmf`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DtmfBody {
    pub track: String,
    pub digit: String,
}

/// The body of `mark`, both ways.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkBody {
    pub name: String,
}

/// The body of `stop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopBody {
    pub account_sid: String,
    pub call_sid: String,
}

/// A message Parley sends to Twilio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Outbound {
    /// Audio to play to the caller, queued after what is already queued.
    #[serde(rename_all = "camelCase")]
    Media { stream_sid: String, media: OutboundMedia },
    /// Asks Twilio to echo `name` once the audio queued before it has played.
    #[serde(rename_all = "camelCase")]
    Mark { stream_sid: String, mark: MarkBody },
    /// Empties Twilio's playback queue (barge-in); pending marks are echoed at once.
    #[serde(rename_all = "camelCase")]
    Clear { stream_sid: String },
}

/// The body of an outbound `media` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundMedia {
    /// Base64 of raw mu-law bytes.
    pub payload: String,
}

/// Why a frame was refused, or an operation could not be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("text frame of {0} bytes is over the {MAX_TEXT_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("malformed media-stream message: {0}")]
    Malformed(String),
    #[error("media payload is not base64")]
    BadPayload,
    #[error("unsupported media format {0}")]
    UnsupportedFormat(String),
    #[error("bad DTMF digit {0:?}")]
    BadDigit(String),
    #[error("bad sequence number {0:?}")]
    BadSequence(String),
    #[error("message for stream {got}, this is {expected}")]
    WrongStream { expected: String, got: String },
    #[error("{0} before the stream started")]
    NotStarted(&'static str),
    #[error("a second start message")]
    AlreadyStarted,
    #[error("the stream has stopped")]
    Stopped,
}

/// What the session tells its owner, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Started {
        stream_sid: String,
        call_sid: String,
        account_sid: String,
        custom_parameters: BTreeMap<String, String>,
    },
    /// 20 ms of caller audio.
    Audio(MulawFrame),
    Dtmf(char),
    /// A mark of ours was reached in playback (or dropped by a `clear`).
    Marked(String),
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitingStart,
    Streaming,
    Stopped,
}

/// One media stream, sans I/O.
#[derive(Debug)]
pub struct MediaStream {
    state: State,
    stream_sid: Option<String>,
    /// Caller audio not yet making a whole frame.
    partial: Vec<u8>,
    events: VecDeque<StreamEvent>,
    transmit: VecDeque<Queued>,
    /// Marks sent and not yet echoed, oldest first.
    pending_marks: VecDeque<String>,
    last_sequence: Option<u64>,
    last_received: Option<Instant>,
}

#[derive(Debug)]
enum Queued {
    Media(String),
    Other(String),
}

impl Default for MediaStream {
    fn default() -> Self {
        Self::new()
    }
}

impl MediaStream {
    pub fn new() -> Self {
        MediaStream {
            state: State::AwaitingStart,
            stream_sid: None,
            partial: Vec::with_capacity(FRAME_SAMPLES),
            events: VecDeque::new(),
            transmit: VecDeque::new(),
            pending_marks: VecDeque::new(),
            last_sequence: None,
            last_received: None,
        }
    }

    /// The stream's sid, once `start` arrived.
    pub fn stream_sid(&self) -> Option<&str> {
        self.stream_sid.as_deref()
    }

    /// Whether `stop` arrived.
    pub fn is_stopped(&self) -> bool {
        self.state == State::Stopped
    }

    /// When the last well-formed frame arrived (for a silence watchdog).
    pub fn last_received(&self) -> Option<Instant> {
        self.last_received
    }

    /// Marks sent and not yet echoed, oldest first: what Twilio has still to play.
    pub fn pending_marks(&self) -> impl Iterator<Item = &str> {
        self.pending_marks.iter().map(String::as_str)
    }

    /// Takes one text frame from Twilio. On `Err` nothing changed.
    pub fn handle_text(&mut self, text: &str, now: Instant) -> Result<(), FrameError> {
        self.handle(parse_inbound(text)?)?;
        self.last_received = Some(now);
        Ok(())
    }

    /// Takes one parsed message (what [`Self::handle_text`] does after parsing).
    pub fn handle(&mut self, msg: Inbound) -> Result<(), FrameError> {
        match msg {
            Inbound::Connected { .. } => {
                if self.state == State::Stopped {
                    return Err(FrameError::Stopped);
                }
                Ok(())
            }
            Inbound::Start {
                sequence_number,
                stream_sid,
                start,
            } => {
                match self.state {
                    State::AwaitingStart => {}
                    State::Streaming => return Err(FrameError::AlreadyStarted),
                    State::Stopped => return Err(FrameError::Stopped),
                }
                let seq = parse_sequence(&sequence_number)?;
                let f = &start.media_format;
                if f.encoding != MULAW_ENCODING || f.sample_rate != 8000 || f.channels != 1 {
                    return Err(FrameError::UnsupportedFormat(format!(
                        "{} {} Hz x{}",
                        f.encoding, f.sample_rate, f.channels
                    )));
                }
                if start.stream_sid != stream_sid {
                    return Err(FrameError::WrongStream {
                        expected: stream_sid,
                        got: start.stream_sid,
                    });
                }
                self.last_sequence = Some(seq);
                self.state = State::Streaming;
                self.stream_sid = Some(stream_sid.clone());
                self.events.push_back(StreamEvent::Started {
                    stream_sid,
                    call_sid: start.call_sid,
                    account_sid: start.account_sid,
                    custom_parameters: start.custom_parameters,
                });
                Ok(())
            }
            Inbound::Media {
                sequence_number,
                stream_sid,
                media,
            } => {
                let seq = self.check("media", &sequence_number, &stream_sid)?;
                // Validate everything before touching state.
                parse_sequence(&media.chunk)?;
                parse_sequence(&media.timestamp)?;
                let bytes = B64
                    .decode(media.payload.as_bytes())
                    .map_err(|_| FrameError::BadPayload)?;
                self.last_sequence = Some(seq);
                // Only the caller's side is ours to hear (a bidirectional stream sends only it).
                if media.track == "inbound" || media.track == "inbound_track" {
                    self.push_audio(&bytes);
                }
                Ok(())
            }
            Inbound::Dtmf {
                sequence_number,
                stream_sid,
                dtmf,
            } => {
                let seq = self.check("dtmf", &sequence_number, &stream_sid)?;
                let digit = parse_digit(&dtmf.digit)?;
                self.last_sequence = Some(seq);
                self.events.push_back(StreamEvent::Dtmf(digit));
                Ok(())
            }
            Inbound::Mark {
                sequence_number,
                stream_sid,
                mark,
            } => {
                let seq = self.check("mark", &sequence_number, &stream_sid)?;
                self.last_sequence = Some(seq);
                if let Some(i) = self.pending_marks.iter().position(|m| *m == mark.name) {
                    self.pending_marks.remove(i);
                }
                self.events.push_back(StreamEvent::Marked(mark.name));
                Ok(())
            }
            Inbound::Stop {
                sequence_number,
                stream_sid,
                stop: _,
            } => {
                let seq = self.check("stop", &sequence_number, &stream_sid)?;
                self.last_sequence = Some(seq);
                if !self.partial.is_empty() {
                    // The tail of the caller's audio, padded with mu-law silence.
                    let mut f = crate::audio::MULAW_SILENCE;
                    f[..self.partial.len()].copy_from_slice(&self.partial);
                    self.partial.clear();
                    self.events.push_back(StreamEvent::Audio(f));
                }
                self.state = State::Stopped;
                self.transmit.clear();
                self.events.push_back(StreamEvent::Stopped);
                Ok(())
            }
        }
    }

    /// Checks a message that needs a started stream; returns its sequence number.
    fn check(&self, what: &'static str, seq: &str, sid: &str) -> Result<u64, FrameError> {
        match self.state {
            State::AwaitingStart => return Err(FrameError::NotStarted(what)),
            State::Stopped => return Err(FrameError::Stopped),
            State::Streaming => {}
        }
        let seq = parse_sequence(seq)?;
        let expected = self.stream_sid.as_deref().unwrap_or_default();
        if sid != expected {
            return Err(FrameError::WrongStream {
                expected: expected.to_string(),
                got: sid.to_string(),
            });
        }
        Ok(seq)
    }

    fn push_audio(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let take = (FRAME_SAMPLES - self.partial.len()).min(bytes.len());
            self.partial.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.partial.len() == FRAME_SAMPLES {
                let mut f = [0u8; FRAME_SAMPLES];
                f.copy_from_slice(&self.partial);
                self.partial.clear();
                self.events.push_back(StreamEvent::Audio(f));
            }
        }
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<StreamEvent> {
        self.events.pop_front()
    }

    fn sid_for_send(&self) -> Result<String, FrameError> {
        match self.state {
            State::AwaitingStart => Err(FrameError::NotStarted("sending")),
            State::Stopped => Err(FrameError::Stopped),
            State::Streaming => Ok(self.stream_sid.clone().unwrap_or_default()),
        }
    }

    /// Queues 20 ms of audio for the caller.
    pub fn send_audio(&mut self, frame: &MulawFrame) -> Result<(), FrameError> {
        let stream_sid = self.sid_for_send()?;
        let msg = Outbound::Media {
            stream_sid,
            media: OutboundMedia {
                payload: B64.encode(frame),
            },
        };
        self.transmit.push_back(Queued::Media(to_json(&msg)));
        Ok(())
    }

    /// Queues a mark: [`StreamEvent::Marked`] with this name comes back once the audio sent
    /// before it has played (or was cleared).
    pub fn mark(&mut self, name: &str) -> Result<(), FrameError> {
        let stream_sid = self.sid_for_send()?;
        let msg = Outbound::Mark {
            stream_sid,
            mark: MarkBody { name: name.into() },
        };
        self.pending_marks.push_back(name.to_string());
        self.transmit.push_back(Queued::Other(to_json(&msg)));
        Ok(())
    }

    /// Barge-in: drops our own not-yet-transmitted audio and tells Twilio to empty its queue.
    /// Queued marks are kept (so they are echoed, as Twilio echoes marks it clears).
    pub fn clear(&mut self) -> Result<(), FrameError> {
        let stream_sid = self.sid_for_send()?;
        self.transmit.retain(|q| !matches!(q, Queued::Media(_)));
        self.transmit
            .push_back(Queued::Other(to_json(&Outbound::Clear { stream_sid })));
        Ok(())
    }

    /// The next text frame to write to the socket.
    pub fn poll_transmit(&mut self) -> Option<String> {
        self.transmit.pop_front().map(|q| match q {
            Queued::Media(s) | Queued::Other(s) => s,
        })
    }
}

/// Parses one of Twilio's messages, within [`MAX_TEXT_FRAME`].
pub fn parse_inbound(text: &str) -> Result<Inbound, FrameError> {
    parse_bounded(text)
}

/// Parses one of Parley's messages (what Twilio, or the fake Twilio, reads).
pub fn parse_outbound(text: &str) -> Result<Outbound, FrameError> {
    parse_bounded(text)
}

fn parse_bounded<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, FrameError> {
    if text.len() > MAX_TEXT_FRAME {
        return Err(FrameError::TooLarge(text.len()));
    }
    serde_json::from_str(text).map_err(|e| FrameError::Malformed(truncate(&e.to_string())))
}

fn to_json(msg: &Outbound) -> String {
    // Serializing these plain structs cannot fail.
    serde_json::to_string(msg).unwrap_or_default()
}

/// `sequenceNumber`, `chunk` and `timestamp` are decimal strings.
fn parse_sequence(s: &str) -> Result<u64, FrameError> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FrameError::BadSequence(truncate(s)));
    }
    s.parse().map_err(|_| FrameError::BadSequence(truncate(s)))
}

fn parse_digit(s: &str) -> Result<char, FrameError> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c @ ('0'..='9' | '*' | '#' | 'A'..='D')), None) => Ok(c),
        _ => Err(FrameError::BadDigit(truncate(s))),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SID: &str = "MZ18ad3ab5a668481ce02b83e7395059f0";

    fn start_msg() -> String {
        json!({
            "event": "start", "sequenceNumber": "1", "streamSid": SID,
            "start": {
                "accountSid": "AC123", "streamSid": SID, "callSid": "CA456",
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": {"call_id": "c-1"}
            }
        })
        .to_string()
    }

    fn media_msg(seq: u64, bytes: &[u8]) -> String {
        json!({
            "event": "media", "sequenceNumber": seq.to_string(), "streamSid": SID,
            "media": {"track": "inbound", "chunk": seq.to_string(), "timestamp": "5",
                      "payload": B64.encode(bytes)}
        })
        .to_string()
    }

    fn started() -> MediaStream {
        let mut s = MediaStream::new();
        let now = Instant::now();
        s.handle_text(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#, now)
            .unwrap();
        s.handle_text(&start_msg(), now).unwrap();
        assert!(matches!(s.poll_event(), Some(StreamEvent::Started { .. })));
        s
    }

    #[test]
    fn start_carries_the_sids_and_custom_parameters() {
        let mut s = MediaStream::new();
        s.handle_text(&start_msg(), Instant::now()).unwrap();
        assert_eq!(
            s.poll_event(),
            Some(StreamEvent::Started {
                stream_sid: SID.into(),
                call_sid: "CA456".into(),
                account_sid: "AC123".into(),
                custom_parameters: [("call_id".to_string(), "c-1".to_string())].into(),
            })
        );
        assert_eq!(s.stream_sid(), Some(SID));
        assert_eq!(
            s.handle_text(&start_msg(), Instant::now()),
            Err(FrameError::AlreadyStarted)
        );
    }

    #[test]
    fn audio_is_rechunked_into_160_byte_frames() {
        let mut s = started();
        let now = Instant::now();
        s.handle_text(&media_msg(2, &[1; 160]), now).unwrap();
        assert_eq!(s.poll_event(), Some(StreamEvent::Audio([1; 160])));
        // 100 + 300 bytes: two whole frames, 80 left over.
        s.handle_text(&media_msg(3, &[2; 100]), now).unwrap();
        assert_eq!(s.poll_event(), None);
        s.handle_text(&media_msg(4, &[3; 300]), now).unwrap();
        let Some(StreamEvent::Audio(a)) = s.poll_event() else {
            panic!()
        };
        assert_eq!((&a[..100], &a[100..]), (&[2u8; 100][..], &[3u8; 60][..]));
        assert_eq!(s.poll_event(), Some(StreamEvent::Audio([3; 160])));
        assert_eq!(s.poll_event(), None);
        // The 80-byte tail is flushed, padded with silence, on stop.
        s.handle_text(
            &json!({"event":"stop","sequenceNumber":"5","streamSid":SID,
                    "stop":{"accountSid":"AC123","callSid":"CA456"}})
            .to_string(),
            now,
        )
        .unwrap();
        let Some(StreamEvent::Audio(t)) = s.poll_event() else {
            panic!()
        };
        assert_eq!((&t[..80], &t[80..]), (&[3u8; 80][..], &[0xFFu8; 80][..]));
        assert_eq!(s.poll_event(), Some(StreamEvent::Stopped));
        assert!(s.is_stopped());
        assert_eq!(s.send_audio(&[0; 160]), Err(FrameError::Stopped));
        assert_eq!(s.handle_text(&media_msg(6, &[1; 160]), now), Err(FrameError::Stopped));
    }

    #[test]
    fn dtmf_and_mark_echo() {
        let mut s = started();
        let now = Instant::now();
        s.handle_text(
            &json!({"event":"dtmf","sequenceNumber":"2","streamSid":SID,
                    "dtmf":{"track":"inbound_track","digit":"#"}})
            .to_string(),
            now,
        )
        .unwrap();
        assert_eq!(s.poll_event(), Some(StreamEvent::Dtmf('#')));
        s.mark("turn-1").unwrap();
        assert_eq!(s.pending_marks().collect::<Vec<_>>(), ["turn-1"]);
        s.handle_text(
            &json!({"event":"mark","sequenceNumber":"3","streamSid":SID,"mark":{"name":"turn-1"}}).to_string(),
            now,
        )
        .unwrap();
        assert_eq!(s.poll_event(), Some(StreamEvent::Marked("turn-1".into())));
        assert_eq!(s.pending_marks().count(), 0);
        assert_eq!(s.last_received(), Some(now));
    }

    #[test]
    fn outbound_frames_are_twilios_json() {
        let mut s = MediaStream::new();
        assert_eq!(s.send_audio(&[0; 160]), Err(FrameError::NotStarted("sending")));
        let mut s = started();
        s.send_audio(&[0xFF; 160]).unwrap();
        s.mark("m1").unwrap();
        let v: serde_json::Value = serde_json::from_str(&s.poll_transmit().unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"event":"media","streamSid":SID,"media":{"payload":B64.encode([0xFF; 160])}})
        );
        let v: serde_json::Value = serde_json::from_str(&s.poll_transmit().unwrap()).unwrap();
        assert_eq!(v, json!({"event":"mark","streamSid":SID,"mark":{"name":"m1"}}));
        assert_eq!(s.poll_transmit(), None);
    }

    #[test]
    fn clear_drops_untransmitted_audio_but_keeps_marks() {
        let mut s = started();
        s.send_audio(&[1; 160]).unwrap();
        s.mark("a").unwrap();
        s.send_audio(&[2; 160]).unwrap();
        s.clear().unwrap();
        let sent: Vec<serde_json::Value> = std::iter::from_fn(|| s.poll_transmit())
            .map(|t| serde_json::from_str(&t).unwrap())
            .collect();
        assert_eq!(
            sent,
            [
                json!({"event":"mark","streamSid":SID,"mark":{"name":"a"}}),
                json!({"event":"clear","streamSid":SID}),
            ]
        );
    }

    #[test]
    fn malformed_frames_are_errors_and_change_nothing() {
        let mut s = started();
        let now = Instant::now();
        let bad = [
            "",
            "null",
            "{}",
            r#"{"event":"hello"}"#,
            r#"{"event":"media","sequenceNumber":"2","streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0"}"#,
            r#"{"event":"media","sequenceNumber":2,"streamSid":"x","media":{}}"#,
        ];
        for b in bad {
            assert!(matches!(s.handle_text(b, now), Err(FrameError::Malformed(_))), "{b}");
        }
        let mut m: serde_json::Value = serde_json::from_str(&media_msg(2, &[0; 160])).unwrap();
        m["media"]["payload"] = json!("not base64!");
        assert_eq!(s.handle_text(&m.to_string(), now), Err(FrameError::BadPayload));
        m["media"]["payload"] = json!(B64.encode([0; 160]));
        m["sequenceNumber"] = json!("-1");
        assert!(matches!(
            s.handle_text(&m.to_string(), now),
            Err(FrameError::BadSequence(_))
        ));
        m["sequenceNumber"] = json!("2");
        m["streamSid"] = json!("MZother");
        assert!(matches!(
            s.handle_text(&m.to_string(), now),
            Err(FrameError::WrongStream { .. })
        ));
        let dtmf = json!({"event":"dtmf","sequenceNumber":"2","streamSid":SID,
                          "dtmf":{"track":"inbound_track","digit":"12"}});
        assert!(matches!(
            s.handle_text(&dtmf.to_string(), now),
            Err(FrameError::BadDigit(_))
        ));
        let huge = format!(
            r#"{{"event":"connected","protocol":"{}","version":"1"}}"#,
            "x".repeat(MAX_TEXT_FRAME)
        );
        assert!(matches!(s.handle_text(&huge, now), Err(FrameError::TooLarge(_))));
        assert_eq!(s.poll_event(), None);
    }

    /// What the fuzz target does, on a budget that runs on stable: every prefix of real frames,
    /// and every byte of them replaced, into a started session. Nothing panics.
    #[test]
    fn truncated_and_mutated_frames_never_panic() {
        let frames = [
            start_msg(),
            media_msg(2, &[5; 200]),
            json!({"event":"dtmf","sequenceNumber":"3","streamSid":SID,
                   "dtmf":{"track":"inbound_track","digit":"7"}})
            .to_string(),
            json!({"event":"mark","sequenceNumber":"4","streamSid":SID,"mark":{"name":"x"}}).to_string(),
            json!({"event":"stop","sequenceNumber":"5","streamSid":SID,
                   "stop":{"accountSid":"AC123","callSid":"CA456"}})
            .to_string(),
        ];
        let now = Instant::now();
        for f in &frames {
            let mut s = started();
            for i in 0..f.len() {
                let _ = s.handle_text(&f[..i], now);
                for b in [b'"', b'{', b'0', b'\\', 0xFF] {
                    let mut m = f.clone().into_bytes();
                    m[i] = b;
                    let _ = s.handle_text(&String::from_utf8_lossy(&m), now);
                    let _ = parse_outbound(&String::from_utf8_lossy(&m));
                }
                while s.poll_event().is_some() {}
            }
        }
    }

    #[test]
    fn outbound_messages_parse_back() {
        let mut s = started();
        s.send_audio(&[3; 160]).unwrap();
        s.mark("a").unwrap();
        let mut sent: Vec<String> = std::iter::from_fn(|| s.poll_transmit()).collect();
        s.clear().unwrap();
        sent.extend(std::iter::from_fn(|| s.poll_transmit()));
        let back: Vec<Outbound> = sent.iter().map(|t| parse_outbound(t).unwrap()).collect();
        assert!(matches!(
            &back[..],
            [Outbound::Media { .. }, Outbound::Mark { .. }, Outbound::Clear { .. }]
        ));
        assert!(matches!(
            parse_outbound(r#"{"event":"clear"}"#),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn media_before_start_and_odd_formats_are_refused() {
        let mut s = MediaStream::new();
        assert_eq!(
            s.handle_text(&media_msg(2, &[0; 160]), Instant::now()),
            Err(FrameError::NotStarted("media"))
        );
        let mut v: serde_json::Value = serde_json::from_str(&start_msg()).unwrap();
        v["start"]["mediaFormat"]["sampleRate"] = json!(16000);
        assert!(matches!(
            s.handle_text(&v.to_string(), Instant::now()),
            Err(FrameError::UnsupportedFormat(_))
        ));
        assert_eq!(s.poll_event(), None);
    }
}
