//! Speech through `POST {base}/audio/speech` (OpenAI's API reference "Create speech"): a JSON
//! body `{model, input, voice, response_format}` (plus `speed` and `instructions` when set),
//! answered with the audio streamed as it is made. `pcm` is raw 24 kHz signed 16-bit
//! little-endian mono; `wav` carries its own rate in the header (OpenAI streams it with the
//! sizes unknown), which suits OpenAI-compatible servers that speak at another rate.
//!
//! One request per sentence, one at a time and in order, so audio keeps the order of the text;
//! each answer is resampled to 8 kHz as it arrives (a [`StreamingResampler`]) and goes out in
//! pieces, the first naming its sentence. `Flush` is a `Done` after the audio before it;
//! `Cancel` drops the turn's queued sentences and abandons its request under way. Any failure
//! (a refused key, a server error, a timeout) fails the session, so the call falls back to the
//! embedded voice.

use super::super::{wire, ApiKey};
use super::http;
use crate::session::{EngineSide, EngineTiming, StreamingTts, TtsEvent, TtsInput, TtsSession};
use crate::tts::{Resampler, StreamingResampler};
use crate::SpeechError;
use serde_json::json;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use url::Url;

const WHO: &str = "OpenAI speech";

/// The rate of OpenAI's `pcm` answers.
pub const OPENAI_PCM_RATE: u32 = 24_000;

/// The audio format asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechFormat {
    /// `pcm`: raw s16le at [`OPENAI_PCM_RATE`] (OpenAI's own; no header to wait for).
    Pcm,
    /// `wav`: the rate read from the header (for compatible servers with other rates).
    Wav,
}

/// An OpenAI (or OpenAI-compatible) voice for Parley's calls.
#[derive(Debug, Clone)]
pub struct OpenAiTtsConfig {
    /// Includes the version: `https://api.openai.com/v1`, or e.g. `http://127.0.0.1:8880/v1`.
    pub base_url: Url,
    /// `Authorization: Bearer <key>`; none for a server that takes no key (no header then).
    pub api_key: Option<ApiKey>,
    /// e.g. `gpt-4o-mini-tts`, `tts-1`.
    pub model: String,
    /// e.g. `alloy`, `coral`.
    pub voice: String,
    pub format: SpeechFormat,
    /// 0.25 to 4.0; none: the server's 1.0.
    pub speed: Option<f32>,
    /// How to speak (`gpt-4o-mini-tts` only).
    pub instructions: Option<String>,
}

impl OpenAiTtsConfig {
    /// The defaults: OpenAI's API, `pcm`, no speed or instructions.
    pub fn new(api_key: Option<ApiKey>, model: impl Into<String>, voice: impl Into<String>) -> Self {
        OpenAiTtsConfig {
            base_url: Url::parse(http::OPENAI).expect("a valid URL"),
            api_key,
            model: model.into(),
            voice: voice.into(),
            format: SpeechFormat::Pcm,
            speed: None,
            instructions: None,
        }
    }
}

/// OpenAI speech as a [`StreamingTts`].
pub struct OpenAiTts {
    config: Arc<OpenAiTtsConfig>,
    client: reqwest::Client,
}

impl OpenAiTts {
    /// Checks the config (an `http`/`https` base URL, a model, a voice, a speed OpenAI takes).
    pub fn new(config: OpenAiTtsConfig) -> Result<Self, SpeechError> {
        http::check_base(WHO, &config.base_url)?;
        let bad = |what: &str| Err(SpeechError::Engine(format!("{WHO} config: {what}")));
        if config.model.trim().is_empty() || config.voice.trim().is_empty() {
            return bad("a model and a voice are needed");
        }
        if config.speed.is_some_and(|s| !(0.25..=4.0).contains(&s)) {
            return bad("the speed is 0.25 to 4.0");
        }
        Ok(OpenAiTts {
            config: Arc::new(config),
            client: http::client()?,
        })
    }
}

impl StreamingTts for OpenAiTts {
    fn name(&self) -> &str {
        "openai"
    }

    fn open(&self) -> TtsSession {
        let (session, side) = TtsSession::pair();
        tokio::spawn(serve(self.config.clone(), self.client.clone(), side));
        session
    }
}

enum Item {
    Sentence { context: u64, text: String },
    Done { context: u64 },
}

/// What a request under way reports: audio at 8 kHz, then its end (or its failure).
enum Piece {
    Audio(Vec<i16>),
    End,
    Failed(SpeechError),
}

/// The request under way: whose sentence, and its pieces. Dropping it abandons the request.
struct Current {
    context: u64,
    text: String,
    asked: Instant,
    named: bool,
    pieces: mpsc::UnboundedReceiver<Piece>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Current {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(config: Arc<OpenAiTtsConfig>, client: reqwest::Client, mut side: EngineSide<TtsInput, TtsEvent>) {
    let mut queue: VecDeque<Item> = VecDeque::new();
    let mut current: Option<Current> = None;
    loop {
        // Start the next request, passing the `Done`s before it.
        while current.is_none() {
            match queue.pop_front() {
                Some(Item::Done { context }) => {
                    if !side.emit(TtsEvent::Done { context }) {
                        return;
                    }
                }
                Some(Item::Sentence { context, text }) => {
                    let (tx, pieces) = mpsc::unbounded_channel();
                    let task = tokio::spawn(speak(config.clone(), client.clone(), text.clone(), tx));
                    current = Some(Current {
                        context,
                        text,
                        asked: Instant::now(),
                        named: false,
                        pieces,
                        task,
                    });
                }
                None => break,
            }
        }
        tokio::select! {
            input = side.input.recv() => match input {
                None => return,
                Some(TtsInput::Text { context, text, .. }) => {
                    if !text.trim().is_empty() {
                        queue.push_back(Item::Sentence { context, text: text.trim().to_string() });
                    }
                }
                Some(TtsInput::Flush { context }) => queue.push_back(Item::Done { context }),
                Some(TtsInput::Cancel { context }) => {
                    queue.retain(|item| !matches!(item, Item::Sentence { context: c, .. } | Item::Done { context: c } if *c == context));
                    if current.as_ref().is_some_and(|c| c.context == context) {
                        current = None;
                    }
                }
            },
            piece = next_piece(&mut current) => match piece {
                Piece::Audio(pcm) => {
                    let Some(c) = current.as_mut() else { continue };
                    if pcm.is_empty() {
                        continue;
                    }
                    let (text, work) = if c.named {
                        (String::new(), Duration::ZERO)
                    } else {
                        c.named = true;
                        (c.text.clone(), c.asked.elapsed())
                    };
                    let event = TtsEvent::Audio {
                        context: c.context,
                        text,
                        pcm: pcm.into(),
                        timing: EngineTiming { queue: Duration::ZERO, work },
                    };
                    if !side.emit(event) {
                        return;
                    }
                }
                Piece::End => current = None,
                Piece::Failed(error) => {
                    side.emit(TtsEvent::Failed(error));
                    return;
                }
            },
        }
    }
}

async fn next_piece(current: &mut Option<Current>) -> Piece {
    match current.as_mut() {
        Some(c) => c.pieces.recv().await.unwrap_or(Piece::End),
        None => std::future::pending().await,
    }
}

/// One sentence's request: its audio, resampled to 8 kHz as it streams in.
async fn speak(config: Arc<OpenAiTtsConfig>, client: reqwest::Client, text: String, out: mpsc::UnboundedSender<Piece>) {
    let result = stream(&config, &client, &text, &out).await;
    let _ = out.send(match result {
        Ok(()) => Piece::End,
        Err(error) => Piece::Failed(error),
    });
}

async fn stream(
    c: &OpenAiTtsConfig,
    client: &reqwest::Client,
    text: &str,
    out: &mpsc::UnboundedSender<Piece>,
) -> Result<(), SpeechError> {
    let mut body = json!({
        "model": c.model,
        "input": text,
        "voice": c.voice,
        "response_format": match c.format { SpeechFormat::Pcm => "pcm", SpeechFormat::Wav => "wav" },
    });
    if let Some(speed) = c.speed {
        body["speed"] = json!(speed);
    }
    if let Some(instructions) = &c.instructions {
        body["instructions"] = json!(instructions);
    }
    let url = http::endpoint(&c.base_url, "speech");
    let request = client.post(url.clone()).json(&body);
    let mut response = http::authorize(request, c.api_key.as_ref())
        .send()
        .await
        .map_err(|e| http::unreachable(WHO, &url, e))?;
    if !response.status().is_success() {
        return Err(http::refused(WHO, response).await);
    }
    let mut decoder = match c.format {
        SpeechFormat::Pcm => Decoder::pcm(OPENAI_PCM_RATE),
        SpeechFormat::Wav => Decoder::wav(),
    };
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| SpeechError::Engine(format!("{WHO}: the audio stream broke: {}", e.without_url())))?
    {
        let pcm = decoder.push(&chunk)?;
        let _ = out.send(Piece::Audio(pcm));
    }
    let _ = out.send(Piece::Audio(decoder.finish()));
    Ok(())
}

/// The answer's bytes to 8 kHz PCM: a WAV header first (for `wav`), then s16le samples.
struct Decoder {
    /// Bytes of a WAV header not yet complete; none once the samples begin.
    header: Option<Vec<u8>>,
    carry: Option<u8>,
    resampler: Option<StreamingResampler>,
}

impl Decoder {
    fn pcm(rate: u32) -> Decoder {
        Decoder {
            header: None,
            carry: None,
            resampler: Some(StreamingResampler::new(Resampler::new(rate, crate::PHONE_RATE))),
        }
    }

    fn wav() -> Decoder {
        Decoder {
            header: Some(Vec::new()),
            carry: None,
            resampler: None,
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Result<Vec<i16>, SpeechError> {
        let samples = match self.header.as_mut() {
            Some(header) => {
                header.extend_from_slice(bytes);
                let Some((rate, data)) = wav_header(header)? else {
                    return Ok(Vec::new());
                };
                let rest = header.split_off(data);
                self.header = None;
                self.resampler = Some(StreamingResampler::new(Resampler::new(rate, crate::PHONE_RATE)));
                wire::s16le_to_pcm(&mut self.carry, &rest)
            }
            None => wire::s16le_to_pcm(&mut self.carry, bytes),
        };
        let Some(r) = self.resampler.as_mut() else {
            return Ok(Vec::new());
        };
        let wide: Vec<f32> = samples.iter().map(|&x| f32::from(x) / 32768.0).collect();
        Ok(to_i16(r.push(&wide)))
    }

    fn finish(self) -> Vec<i16> {
        self.resampler.map(|r| to_i16(r.finish())).unwrap_or_default()
    }
}

fn to_i16(samples: Vec<f32>) -> Vec<i16> {
    samples
        .into_iter()
        .map(|y| (y * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// A WAV header's rate and where its samples begin, once the `data` chunk's header is in;
/// none while more bytes are needed. Only 16-bit mono PCM is taken.
fn wav_header(bytes: &[u8]) -> Result<Option<(u32, usize)>, SpeechError> {
    let bad = |what: &str| Err(SpeechError::Engine(format!("{WHO}: the WAV answer {what}")));
    if bytes.len() < 12 {
        return Ok(None);
    }
    if &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return bad("is not a WAV");
    }
    let mut at = 12;
    let mut rate = None;
    while bytes.len() >= at + 8 {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]) as usize;
        if id == b"data" {
            return match rate {
                Some(rate) => Ok(Some((rate, at + 8))),
                None => bad("has no fmt chunk before its data"),
            };
        }
        if bytes.len() < at + 8 + size {
            return Ok(None);
        }
        if id == b"fmt " {
            let f = &bytes[at + 8..at + 8 + size];
            if size < 16 {
                return bad("has a short fmt chunk");
            }
            let (format, channels, bits) = (
                u16::from_le_bytes([f[0], f[1]]),
                u16::from_le_bytes([f[2], f[3]]),
                u16::from_le_bytes([f[14], f[15]]),
            );
            if format != 1 || channels != 1 || bits != 16 {
                return bad("is not 16-bit mono PCM");
            }
            rate = Some(u32::from_le_bytes([f[4], f[5], f[6], f[7]])).filter(|&r| r > 0);
        }
        at += 8 + size + size % 2;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wav_header_is_read_in_pieces() {
        let mut w = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\0\0\0\x01\0\x01\0".to_vec();
        w.extend_from_slice(&22_050u32.to_le_bytes());
        w.extend_from_slice(&44_100u32.to_le_bytes());
        w.extend_from_slice(b"\x02\0\x10\0data\xff\xff\xff\xff");
        assert_eq!(wav_header(&w[..30]).expect("ok"), None);
        assert_eq!(wav_header(&w).expect("ok"), Some((22_050, 44)));
        let mut d = Decoder::wav();
        let mut n = 0;
        for piece in w
            .iter()
            .chain([0u8; 2 * 2205].iter())
            .copied()
            .collect::<Vec<_>>()
            .chunks(101)
        {
            n += d.push(piece).expect("decodes").len();
        }
        n += d.finish().len();
        assert_eq!(n, 800, "0.1 s at 8 kHz");
        assert!(wav_header(b"RIFF\0\0\0\0WAVEdata\0\0\0\0").is_err());
    }
}
