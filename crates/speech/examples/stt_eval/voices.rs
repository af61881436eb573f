//! The talkers of the evaluation: the product's own voices (Piper, espeak-ng) through the
//! product's own synthesizers, and Debian's `flite` voices, a third synthesizer (cluster-unit
//! and statistical-parametric voices: `slt`, `rms`, `awb`, `kal`), run as a program.
//!
//! Every voice yields 8 kHz linear PCM; the phone line (noise, mu-law) comes after.

use std::path::{Path, PathBuf};
use std::process::Command;

use parley_speech::models::Models;
use parley_speech::tts::{EspeakTts, PiperConfig, PiperTts, Resampler};
use parley_speech::{TextToSpeech, PHONE_RATE};

/// espeak-ng's speed for every espeak-ng talker (words per minute), as `stt_wer` uses.
const ESPEAK_SPEED: u32 = 160;
/// Peak level of a flite utterance, as the product's voices normalise theirs (`TARGET_PEAK`).
const FLITE_PEAK: f32 = 0.9;

/// One talker, by the name `--voices` takes: `piper`, `piper:LENGTH_SCALE` (0.8 faster, 1.2
/// slower), `flite:NAME`, or any espeak-ng voice name (`en-us`, `en-us+f3`, `en-gb` ...).
pub enum Voice {
    Piper(PiperTts),
    Espeak(EspeakTts),
    Flite(Flite),
}

impl Voice {
    pub fn open(name: &str, models: &Models, scratch: &Path) -> Result<Self, String> {
        if let Some(rest) = name.strip_prefix("piper") {
            let length_scale = match rest.strip_prefix(':') {
                Some(s) => Some(s.parse::<f32>().map_err(|_| format!("{name}: piper:LENGTH_SCALE"))?),
                None if rest.is_empty() => None,
                None => return Err(format!("unknown voice {name:?}")),
            };
            let config = PiperConfig {
                length_scale,
                ..PiperConfig::default()
            };
            return PiperTts::from_models(models, config)
                .map(Voice::Piper)
                .map_err(|e| e.to_string());
        }
        if let Some(voice) = name.strip_prefix("flite:") {
            return Flite::new(voice, scratch).map(Voice::Flite);
        }
        EspeakTts::new(name, ESPEAK_SPEED)
            .map(Voice::Espeak)
            .map_err(|e| e.to_string())
    }

    /// `text` spoken at 8 kHz.
    pub fn speak(&self, text: &str) -> Vec<i16> {
        let out = match self {
            Voice::Piper(tts) => tts.synthesize(text).map_err(|e| e.to_string()),
            Voice::Espeak(tts) => tts.synthesize(text).map_err(|e| e.to_string()),
            Voice::Flite(tts) => tts.speak(text),
        };
        out.unwrap_or_else(|e| panic!("synthesis of {text:?} failed: {e}"))
    }
}

/// Whether the `flite` program runs here (Debian package `flite`).
pub fn flite_available() -> bool {
    Command::new("flite")
        .arg("-lv")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A voice of the `flite` program, which writes a WAV file (16 kHz, `kal` 8 kHz).
pub struct Flite {
    voice: String,
    wav: PathBuf,
}

impl Flite {
    fn new(voice: &str, scratch: &Path) -> Result<Self, String> {
        if !voice.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || voice.is_empty() {
            return Err(format!("invalid flite voice {voice:?}"));
        }
        if !flite_available() {
            return Err("flite is not installed (Debian: apt-get install flite)".into());
        }
        let flite = Self {
            voice: voice.to_string(),
            wav: scratch.join(format!("flite-{voice}.wav")),
        };
        flite.speak("test")?;
        Ok(flite)
    }

    fn speak(&self, text: &str) -> Result<Vec<i16>, String> {
        let out = Command::new("flite")
            .args(["-voice", &self.voice, "-t", text, "-o"])
            .arg(&self.wav)
            .output()
            .map_err(|e| format!("cannot run flite: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "flite -voice {}: {}",
                self.voice,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let bytes = std::fs::read(&self.wav).map_err(|e| e.to_string())?;
        let (rate, samples) = parse_wav(&bytes).ok_or_else(|| format!("flite -voice {}: not a WAV", self.voice))?;
        let audio = if rate == PHONE_RATE {
            samples
        } else {
            Resampler::new(rate, PHONE_RATE).process(&samples)
        };
        let peak = audio.iter().fold(0f32, |m, v| m.max(v.abs()));
        let gain = if peak > 0.0 { FLITE_PEAK / peak } else { 1.0 };
        Ok(audio
            .iter()
            .map(|v| (v * gain * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
            .collect())
    }
}

/// (sample rate, samples in [-1, 1]) of a mono 16-bit PCM WAV.
fn parse_wav(bytes: &[u8]) -> Option<(u32, Vec<f32>)> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let mut pos = 12;
    let mut rate = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().ok()?) as usize;
        let body = pos + 8;
        if id == b"fmt " && body + 8 <= bytes.len() {
            rate = Some(u32::from_le_bytes(bytes[body + 4..body + 8].try_into().ok()?));
        } else if id == b"data" {
            let end = (body + size).min(bytes.len());
            let samples = bytes[body..end]
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
                .collect();
            return Some((rate?, samples));
        }
        pos = body + size + (size & 1);
    }
    None
}
