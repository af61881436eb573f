//! The espeak-ng voice: robotic but intelligible, ~100× faster than real time, no model files.

use std::path::PathBuf;
use std::process::Command;

use super::audio::to_phone;
use super::phonemes::{check_program, run_bytes, ESPEAK_PROGRAM};
use super::resample::Resampler;
use crate::{SpeechError, TextToSpeech, PHONE_RATE};

/// Text-to-speech by the `espeak-ng` program (`--stdout` WAV at 22 050 Hz, resampled to 8 kHz).
///
/// The fallback when the Piper voice is not installed, and a cheap source of test speech in
/// many voices (`en-us`, `en-gb`, variants such as `en-us+f3` or `en+m7`). The program is run,
/// never linked, so its GPL does not reach Parley's binary. One process per call (~10 ms).
#[derive(Debug, Clone)]
pub struct EspeakTts {
    program: PathBuf,
    voice: String,
    speed: u32,
    resampler: std::sync::Arc<Resampler>,
}

/// espeak-ng's default speed, words per minute.
pub const ESPEAK_DEFAULT_SPEED: u32 = 175;

impl EspeakTts {
    /// A voice by espeak-ng name (e.g. `en-us`, `en-us+f3`) speaking at `speed` words per
    /// minute (80–450; espeak-ng's default is [`ESPEAK_DEFAULT_SPEED`]). Checks that the program
    /// runs and knows the voice.
    pub fn new(voice: &str, speed: u32) -> Result<Self, SpeechError> {
        Self::with_program(ESPEAK_PROGRAM, voice, speed)
    }

    /// [`EspeakTts::new`] with an explicit path to the espeak-ng program.
    pub fn with_program(program: impl Into<PathBuf>, voice: &str, speed: u32) -> Result<Self, SpeechError> {
        let program = program.into();
        if voice.is_empty()
            || voice.starts_with('-')
            || !voice.chars().all(|c| c.is_ascii_alphanumeric() || "-_+/.".contains(c))
        {
            return Err(SpeechError::Engine(format!("invalid espeak-ng voice name {voice:?}")));
        }
        check_program(&program)?;
        let mut tts = Self {
            program,
            voice: voice.to_string(),
            speed: speed.clamp(80, 450),
            resampler: std::sync::Arc::new(Resampler::new(22050, PHONE_RATE)),
        };
        // An unknown voice makes espeak-ng print an error and no audio: find out now, and learn
        // the rate it writes (22 050 Hz for its own voices).
        let (rate, _) = parse_wav(&tts.wav("a")?)?;
        if rate != tts.resampler.from_rate() {
            tts.resampler = std::sync::Arc::new(Resampler::new(rate, PHONE_RATE));
        }
        Ok(tts)
    }

    /// The espeak-ng voice name.
    pub fn voice(&self) -> &str {
        &self.voice
    }

    fn wav(&self, text: &str) -> Result<Vec<u8>, SpeechError> {
        let mut cmd = Command::new(&self.program);
        // -b 1: UTF-8 input; --stdin: the whole input is one text (not line by line).
        cmd.args([
            "-b",
            "1",
            "-v",
            &self.voice,
            "-s",
            &self.speed.to_string(),
            "--stdout",
            "--stdin",
        ]);
        let wav = run_bytes(cmd, text)?;
        if wav.len() < 44 {
            return Err(SpeechError::Engine(format!(
                "espeak-ng produced no audio for voice {:?} (unknown voice?)",
                self.voice
            )));
        }
        Ok(wav)
    }
}

/// Parses the mono 16-bit WAV espeak-ng writes to stdout. Writing to a pipe it cannot seek back
/// to fill in the sizes, so the RIFF and data sizes are placeholders: the samples are whatever
/// follows the `data` header, up to the declared size.
fn parse_wav(wav: &[u8]) -> Result<(u32, Vec<f32>), SpeechError> {
    let bad = |why: &str| SpeechError::Engine(format!("espeak-ng WAV: {why}"));
    if wav.len() < 12 || &wav[0..4] != b"RIFF" || &wav[8..12] != b"WAVE" {
        return Err(bad("not a RIFF/WAVE stream"));
    }
    let mut pos = 12;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    while pos + 8 <= wav.len() {
        let id = &wav[pos..pos + 4];
        let size = u32::from_le_bytes([wav[pos + 4], wav[pos + 5], wav[pos + 6], wav[pos + 7]]) as usize;
        let body = pos + 8;
        if id == b"fmt " {
            let f = wav.get(body..body + 16).ok_or_else(|| bad("short fmt chunk"))?;
            format = Some((
                u16::from_le_bytes([f[0], f[1]]),
                u16::from_le_bytes([f[2], f[3]]),
                u32::from_le_bytes([f[4], f[5], f[6], f[7]]),
                u16::from_le_bytes([f[14], f[15]]),
            ));
        } else if id == b"data" {
            let (tag, channels, rate, bits) = format.ok_or_else(|| bad("data before fmt"))?;
            if tag != 1 || channels != 1 || bits != 16 {
                return Err(bad(&format!(
                    "expected mono 16-bit PCM, got tag {tag}, {channels} ch, {bits} bit"
                )));
            }
            let end = body.saturating_add(size).min(wav.len());
            let samples = wav[body..end]
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
                .collect();
            return Ok((rate, samples));
        }
        pos = body.saturating_add(size + (size & 1));
    }
    Err(bad("no data chunk"))
}

impl TextToSpeech for EspeakTts {
    fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError> {
        if !text.chars().any(char::is_alphanumeric) {
            return Ok(Vec::new());
        }
        let (rate, samples) = parse_wav(&self.wav(text)?)?;
        if rate != self.resampler.from_rate() {
            return Ok(to_phone(&samples, &Resampler::new(rate, PHONE_RATE)));
        }
        Ok(to_phone(&samples, &self.resampler))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_streamed_wav_with_placeholder_sizes() {
        let mut wav = Vec::new();
        wav.extend(b"RIFF");
        wav.extend(0x7fff_f024u32.to_le_bytes());
        wav.extend(b"WAVEfmt ");
        wav.extend(16u32.to_le_bytes());
        wav.extend(1u16.to_le_bytes());
        wav.extend(1u16.to_le_bytes());
        wav.extend(22050u32.to_le_bytes());
        wav.extend(44100u32.to_le_bytes());
        wav.extend(2u16.to_le_bytes());
        wav.extend(16u16.to_le_bytes());
        wav.extend(b"data");
        wav.extend(0x7fff_f000u32.to_le_bytes());
        wav.extend(16384i16.to_le_bytes());
        wav.extend((-16384i16).to_le_bytes());
        let (rate, samples) = parse_wav(&wav).unwrap();
        assert_eq!(rate, 22050);
        assert_eq!(samples, vec![0.5, -0.5]);
        assert!(parse_wav(b"nonsense").is_err());
    }
}
