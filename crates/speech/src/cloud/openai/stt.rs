//! Transcription through `POST {base}/audio/transcriptions` (OpenAI's API reference "Create
//! transcription"): a `multipart/form-data` body with the audio as `file` (a WAV here), `model`
//! (`gpt-4o-mini-transcribe`, `gpt-4o-transcribe`, `whisper-1`, or a local server's), and the
//! optional `language` (ISO 639-1), `prompt` ("text to guide the model's style or continue a
//! previous audio segment") and `response_format` (`json`: `{"text": …}`).
//!
//! The endpoint takes a whole file, so the session keeps the utterance's audio (since the last
//! `Reset`) and each `Finalize` sends all of it, with what the caller just heard as the
//! prompt. Several requests may be under way (a later `Finalize` covers a longer utterance);
//! each answers its own id, and a `Reset` abandons them.

use super::super::ApiKey;
use super::http;
use crate::session::{EngineSide, EngineTiming, StreamingStt, SttEvent, SttInput, SttOptions, SttSession};
use crate::tts::Resampler;
use crate::SpeechError;
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use url::Url;

/// Shorter audio is answered with no words without asking (OpenAI refuses files under 0.1 s).
const MIN_SAMPLES: usize = crate::PHONE_RATE as usize / 10;

/// How long one transcription may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The sample rate of the WAV sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadRate {
    /// The phone's 8 kHz as it is (half the bytes; OpenAI resamples what it is sent).
    Phone,
    /// Upsampled to 16 kHz, Whisper's own rate: some local servers take no other.
    Whisper,
}

impl UploadRate {
    fn hz(self) -> u32 {
        match self {
            UploadRate::Phone => crate::PHONE_RATE,
            UploadRate::Whisper => 16_000,
        }
    }
}

/// An OpenAI (or OpenAI-compatible) transcription setup.
#[derive(Debug, Clone)]
pub struct OpenAiSttConfig {
    /// Includes the version: `https://api.openai.com/v1`, or e.g. `http://127.0.0.1:8000/v1`.
    pub base_url: Url,
    /// `Authorization: Bearer <key>`; none for a server that takes no key (no header then).
    pub api_key: Option<ApiKey>,
    /// e.g. `gpt-4o-mini-transcribe`, `whisper-1`.
    pub model: String,
    /// ISO 639-1 (`en`, `de`); none lets the model detect it.
    pub language: Option<String>,
    pub upload_rate: UploadRate,
}

impl OpenAiSttConfig {
    /// The defaults: OpenAI's API, language detected, 16 kHz uploads.
    pub fn new(api_key: Option<ApiKey>, model: impl Into<String>) -> Self {
        OpenAiSttConfig {
            base_url: Url::parse(http::OPENAI).expect("a valid URL"),
            api_key,
            model: model.into(),
            language: None,
            upload_rate: UploadRate::Whisper,
        }
    }
}

/// OpenAI transcription as a [`StreamingStt`].
pub struct OpenAiStt {
    config: Arc<OpenAiSttConfig>,
    client: reqwest::Client,
    upsample: Option<Arc<Resampler>>,
}

impl OpenAiStt {
    /// Checks the config (an `http`/`https` base URL, a model) and makes the HTTP client.
    pub fn new(config: OpenAiSttConfig) -> Result<Self, SpeechError> {
        http::check_base("OpenAI transcription", &config.base_url)?;
        if config.model.trim().is_empty() {
            return Err(SpeechError::Engine(
                "OpenAI transcription config: a model is needed".into(),
            ));
        }
        let upsample = (config.upload_rate != UploadRate::Phone)
            .then(|| Arc::new(Resampler::new(crate::PHONE_RATE, config.upload_rate.hz())));
        Ok(OpenAiStt {
            config: Arc::new(config),
            client: http::client()?,
            upsample,
        })
    }
}

impl StreamingStt for OpenAiStt {
    fn name(&self) -> &str {
        "openai"
    }

    fn open(&self) -> SttSession {
        self.open_config(self.config.clone())
    }

    /// The caller's language replaces the configured one (or the model's detection).
    fn open_with(&self, options: &SttOptions) -> SttSession {
        match options.language {
            Some(language) if self.config.language.as_deref() != Some(language.as_str()) => {
                let mut config = (*self.config).clone();
                config.language = Some(language.to_string());
                self.open_config(Arc::new(config))
            }
            _ => self.open(),
        }
    }
}

impl OpenAiStt {
    fn open_config(&self, config: Arc<OpenAiSttConfig>) -> SttSession {
        let (session, side) = SttSession::pair();
        let engine = Engine {
            config,
            client: self.client.clone(),
            upsample: self.upsample.clone(),
        };
        tokio::spawn(engine.serve(side));
        session
    }
}

#[derive(Clone)]
struct Engine {
    config: Arc<OpenAiSttConfig>,
    client: reqwest::Client,
    upsample: Option<Arc<Resampler>>,
}

type Answer = (u64, Result<String, SpeechError>, Duration);

impl Engine {
    async fn serve(self, mut side: EngineSide<SttInput, SttEvent>) {
        let mut audio: Vec<i16> = Vec::new();
        // Dropped with the task: the requests under way are abandoned with the session.
        let mut requests: JoinSet<Answer> = JoinSet::new();
        loop {
            tokio::select! {
                input = side.input.recv() => match input {
                    None => return,
                    Some(SttInput::Audio(pcm)) => audio.extend_from_slice(&pcm),
                    Some(SttInput::Reset) => {
                        audio.clear();
                        requests.abort_all();
                    }
                    Some(SttInput::Finalize { id, context }) => {
                        if audio.len() < MIN_SAMPLES {
                            let timing = EngineTiming::default();
                            if !side.emit(SttEvent::Final { id, text: String::new(), timing }) {
                                return;
                            }
                            continue;
                        }
                        let wav = self.wav(&audio);
                        let engine = self.clone();
                        requests.spawn(async move {
                            let started = Instant::now();
                            let text = engine.transcribe(wav, &context).await;
                            (id, text, started.elapsed())
                        });
                    }
                },
                Some(done) = requests.join_next(), if !requests.is_empty() => match done {
                    Ok((id, Ok(text), work)) => {
                        let timing = EngineTiming { queue: Duration::ZERO, work };
                        if !side.emit(SttEvent::Final { id, text, timing }) {
                            return;
                        }
                    }
                    Ok((_, Err(error), _)) => {
                        side.emit(SttEvent::Failed(error));
                        return;
                    }
                    // Abandoned by a reset.
                    Err(_) => {}
                },
            }
        }
    }

    /// The utterance as a 16-bit mono WAV file at the upload rate.
    fn wav(&self, pcm: &[i16]) -> Vec<u8> {
        match &self.upsample {
            Some(r) => {
                let wide: Vec<i16> = r
                    .process(&pcm.iter().map(|&x| f32::from(x) / 32768.0).collect::<Vec<_>>())
                    .into_iter()
                    .map(|y| (y * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
                    .collect();
                wav(&wide, r.to_rate())
            }
            None => wav(pcm, crate::PHONE_RATE),
        }
    }

    async fn transcribe(&self, wav: Vec<u8>, context: &str) -> Result<String, SpeechError> {
        const WHO: &str = "OpenAI transcription";
        let c = &self.config;
        let mut fields = vec![("model", c.model.as_str()), ("response_format", "json")];
        if let Some(language) = &c.language {
            fields.push(("language", language));
        }
        if !context.trim().is_empty() {
            fields.push(("prompt", context.trim()));
        }
        let (boundary, body) = multipart(&fields, &wav);
        let url = http::endpoint(&c.base_url, "transcriptions");
        let request = self
            .client
            .post(url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .timeout(REQUEST_TIMEOUT);
        let response = http::authorize(request, c.api_key.as_ref())
            .send()
            .await
            .map_err(|e| http::unreachable(WHO, &url, e))?;
        if !response.status().is_success() {
            return Err(http::refused(WHO, response).await);
        }
        #[derive(Deserialize)]
        struct Transcription {
            text: String,
        }
        let answer: Transcription = response
            .json()
            .await
            .map_err(|e| SpeechError::Engine(format!("{WHO}: an unreadable answer: {}", e.without_url())))?;
        Ok(answer.text.trim().to_string())
    }
}

/// A canonical 44-byte-header WAV of 16-bit mono PCM.
fn wav(pcm: &[i16], rate: u32) -> Vec<u8> {
    let data = (pcm.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // bytes per frame
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    for s in pcm {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// A `multipart/form-data` body (RFC 7578): the text fields, then the WAV as `file`. Written
/// here rather than with reqwest's `multipart` feature, which would change a dependency shared
/// by the whole workspace for a few lines. The boundary is made anew until no part contains it.
fn multipart(fields: &[(&str, &str)], wav: &[u8]) -> (String, Vec<u8>) {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let boundary = loop {
        let b = format!("parley-{nanos:08x}-{:016x}", COUNTER.fetch_add(1, Ordering::Relaxed));
        let inside = |part: &[u8]| part.windows(b.len()).any(|w| w == b.as_bytes());
        if !inside(wav) && fields.iter().all(|(_, v)| !inside(v.as_bytes())) {
            break b;
        }
    };
    let mut body = Vec::with_capacity(wav.len() + 512);
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"audio.wav\"\r\n\
             Content-Type: audio/wav\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(wav);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (boundary, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wav_has_the_canonical_header() {
        let w = wav(&[1, -2], 16_000);
        assert_eq!(w.len(), 48);
        assert_eq!(&w[..4], b"RIFF");
        assert_eq!(u32::from_le_bytes([w[24], w[25], w[26], w[27]]), 16_000);
        assert_eq!(u32::from_le_bytes([w[40], w[41], w[42], w[43]]), 4);
        assert_eq!(&w[44..], &[1, 0, 0xFE, 0xFF]);
    }

    #[test]
    fn a_multipart_body_has_each_field_and_the_file() {
        let (b, body) = multipart(&[("model", "whisper-1"), ("prompt", "Hi there")], b"RIFFxx");
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
        )));
        assert!(text.contains("name=\"prompt\"\r\n\r\nHi there\r\n"));
        assert!(text.contains("filename=\"audio.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFFxx\r\n"));
        assert!(text.ends_with(&format!("--{b}--\r\n")));
    }
}
