//! Parley's speech engines, behind two traits so a cloud engine can replace an embedded one.
//!
//! - [`stt`]: speech-to-text. The embedded default is Whisper (whisper.cpp through `whisper-rs`)
//!   with the base model converted to ggml at install time.
//! - [`tts`]: text-to-speech. The embedded default is a Piper voice run through ONNX Runtime
//!   (`ort`), with phonemes from the `espeak-ng` *program* (running it, not linking the GPL
//!   library, keeps Parley's licence free).
//! - [`session`]: the streaming interfaces a call uses (a session per call and engine: audio or
//!   text in as it arrives, transcripts or audio out as they are ready); the blocking engines
//!   above are served through them by the voice crate's bounded pools.
//! - [`cloud`]: the cloud engines users bring (Deepgram live transcription, OpenAI and any
//!   OpenAI-compatible server for both directions, ElevenLabs, Cartesia), each over its vendor's
//!   own protocol, behind the same session traits.
//! - [`turn`]: end-of-turn detection: the transcript rule the endpointer uses, and Smart Turn
//!   (an audio model) for the evaluation that chose between them.
//! - [`vad`]: Silero VAD through ONNX Runtime (speech probability per 32 ms chunk), the
//!   neural detector the voice crate can use beside WebRTC's to tell a caller's voice from noise.
//! - `fakes` (feature `fakes`, tests only): loopback fakes of the cloud services that speak and
//!   check their wire protocols.
//! - [`language`]: the language a call is spoken in; [`offline_languages`] lists those the
//!   installed engines speak on both sides (a Whisper that transcribes it and a voice that says
//!   it: see [`tts::Voices`]).
//! - [`models`]: where the installed models live (`PARLEY_MODELS_DIR`) and the check that they
//!   are there, naming the setup command when they are not.
//!
//! Everything here works on the phone's format: 8 kHz mono signed 16-bit PCM. Engines resample
//! internally to what their model wants. Both traits are blocking and CPU-bound on purpose: the
//! caller runs them on a bounded worker pool so their queueing shows up in latency figures
//! instead of starving the 20 ms frame clock.

pub mod cloud;
#[cfg(feature = "fakes")]
pub mod fakes;
pub mod language;
pub mod models;
pub mod session;
pub mod stt;
pub mod tts;
pub mod turn;
pub mod vad;

pub use language::Language;

/// The languages the installed offline engines speak on both sides: the Whisper model
/// transcribes it (any of Whisper's languages for the multilingual base model `scripts/setup`
/// installs, English only for an `.en` model) and [`tts::Voices`] has a voice for it. English
/// first when its voice is installed. Empty without a Whisper model. Cheap (no model is
/// loaded: a directory listing, the voices' configs, `espeak-ng --voices`), but it does run a
/// process: call it at start or per API request, not per audio frame.
pub fn offline_languages(models: &models::Models) -> Vec<Language> {
    let multilingual = match models.whisper_multilingual() {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    tts::Voices::discover(models, tts::PiperConfig::default())
        .languages()
        .into_iter()
        .filter(|&l| {
            if multilingual {
                stt::whisper_knows(l)
            } else {
                l == Language::ENGLISH
            }
        })
        .collect()
}

/// The phone's sample rate: every engine takes or returns audio at this rate.
pub const PHONE_RATE: u32 = 8000;

/// The one error type of the speech layer.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    /// A model file is not installed (or fails its checksum).
    #[error("speech model missing: {0}. Install the models with `scripts/setup` (or set PARLEY_MODELS_DIR)")]
    MissingModel(String),
    /// The engine failed on this input.
    #[error("speech engine error: {0}")]
    Engine(String),
}

/// Speech-to-text over one whole utterance.
pub trait SpeechToText: Send + Sync + 'static {
    /// Transcribes one utterance of 8 kHz mono PCM. Blocking and CPU-bound: call it from a
    /// worker thread, never from the async runtime's threads.
    fn transcribe(&self, pcm: &[i16]) -> Result<String, SpeechError>;

    /// Transcribes an utterance that answers `context` (what the speaker just heard). Engines
    /// that can be primed with preceding text use it; the default ignores it.
    fn transcribe_in_context(&self, pcm: &[i16], context: &str) -> Result<String, SpeechError> {
        let _ = context;
        self.transcribe(pcm)
    }

    /// Transcribes an utterance spoken in `language` that answers `context`. One engine can
    /// serve calls in several languages this way (a multilingual Whisper). The default, for
    /// engines that know one language, transcribes English and refuses any other rather than
    /// write Spanish speech down as English words.
    fn transcribe_in_language(&self, pcm: &[i16], context: &str, language: Language) -> Result<String, SpeechError> {
        if language == Language::ENGLISH {
            self.transcribe_in_context(pcm, context)
        } else {
            Err(SpeechError::Engine(format!(
                "this speech-to-text engine transcribes English only, not {language}"
            )))
        }
    }
}

/// Text-to-speech of one sentence or phrase.
pub trait TextToSpeech: Send + Sync + 'static {
    /// Synthesizes `text` into 8 kHz mono PCM. Blocking and CPU-bound, like [`SpeechToText`].
    fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError>;
}
