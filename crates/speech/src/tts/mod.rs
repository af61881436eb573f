//! Text-to-speech engines, all returning the phone's 8 kHz mono i16.
//!
//! - [`PiperTts`]: the embedded default, a Piper voice (natural, ~20× faster than real time on
//!   one core) run through ONNX Runtime, which is loaded at run time from the library
//!   `scripts/setup` installs ([`onnxruntime`]).
//! - [`EspeakTts`]: the `espeak-ng` program's own voice; robotic but intelligible and ~100×
//!   faster than real time. A fallback, and a source of test speech in several voices.
//! - [`CachedTts`]: wraps either, so fixed texts (greetings, prompts) are synthesized once.
//! - [`Voices`]: one voice per language (Piper where installed, else espeak-ng for the languages
//!   of [`ESPEAK_FALLBACKS`]), loaded on first use.
//!
//! Phonemes come from the `espeak-ng` *program* (see [`phonemes`]): running it rather than
//! linking libespeak-ng (GPL-3+) keeps Parley's own licence free.
//!
//! Every engine ends the same way: anti-aliased resampling to 8 kHz ([`Resampler`]), leading and
//! trailing silence trimmed to 30 ms so a reply starts promptly, the peak set to −0.9 dBFS.

mod audio;
mod cache;
mod espeak;
pub mod phonemes;
mod piper;
mod resample;
mod voices;

pub use audio::{KEEP_SILENCE_MS, TARGET_PEAK};
pub use cache::{CacheStats, CachedTts};
pub use espeak::{EspeakTts, ESPEAK_DEFAULT_SPEED};
pub use phonemes::Espeak;
pub use piper::{onnxruntime, PiperConfig, PiperTts, SynthesisTimings};
pub use resample::{Resampler, StreamingResampler};
pub use voices::{LanguageVoice, VoiceInfo, VoiceKind, Voices, ESPEAK_FALLBACKS, ESPEAK_FALLBACK_SPEED};
