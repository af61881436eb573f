//! The process's speech engines, loaded once.
//!
//! Engines are process-wide (models are read-only, and a second copy of Whisper's weights
//! would only cost memory): every server started in this process, the tests' included, shares
//! them. Missing models stop the server at start with the setup command to run.

use parley_speech::models::Models;
use parley_speech::session::{SttOptions, SttWithOptions};
use parley_speech::stt::{AudioWindow, WhisperConfig, WhisperStt};
use parley_speech::tts::{PiperConfig, PiperTts, Voices};
use parley_speech::{Language, SpeechError, TextToSpeech};
use parley_voice::engines::{SttPool, TtsService};
use parley_voice::pipeline::CallEngines;
use parley_voice::vad::{VadEngine, VadKind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The engines every call uses.
#[derive(Clone)]
pub struct Speech {
    /// Speech-to-text of English calls: Whisper tiny.en when installed and chosen
    /// (`PARLEY_STT_ENGLISH_MODEL`), else `multilingual`.
    pub stt: SttPool,
    /// Whisper base, the multilingual model: every other language (told each call's language).
    multilingual: SttPool,
    /// The English voice (Piper), loaded and warmed at start.
    pub tts: TtsService,
    /// The voice activity detector (Silero's model is shared; each call runs its own stream).
    pub vad: VadEngine,
    /// The voices of the other installed languages, loaded on a call's first need.
    voices: Arc<Voices>,
    /// A voice service per other language once used (each with its own phrase cache).
    by_language: Arc<Mutex<HashMap<Language, TtsService>>>,
    tts_workers: usize,
}

/// How many of each engine run at once.
#[derive(Debug, Clone, Copy)]
pub struct SpeechSettings {
    pub stt_workers: usize,
    pub stt_threads: usize,
    pub stt_idle_threads: usize,
    pub stt_min_window_ms: u32,
    /// English calls on Whisper tiny.en (when installed).
    pub stt_english_tiny: bool,
    pub tts_workers: usize,
    pub vad: VadKind,
}

impl Speech {
    /// The engines of an English call that uses the embedded ones (nothing to fall back to).
    pub fn embedded(&self) -> CallEngines {
        CallEngines::new(Arc::new(self.stt.clone()), Arc::new(self.tts.clone()))
    }

    /// The embedded engines of a call in the agent's `lang` (a BCP-47 tag): Whisper told the
    /// language and that language's voice. A language without an installed voice (the API
    /// refuses such agents, but an agent saved before that check may still have one) is
    /// spoken and heard in English, as every call was before languages, with a warning.
    pub fn embedded_for(&self, lang: &str) -> CallEngines {
        let language = Language::parse(lang).unwrap_or(Language::ENGLISH);
        if language == Language::ENGLISH {
            return self.embedded();
        }
        let voice = match self.voice_for(language) {
            Ok(Some(v)) => v,
            Ok(None) => {
                tracing::warn!(%language, "no embedded voice speaks the agent's language: the call is in English");
                return self.embedded();
            }
            Err(e) => {
                tracing::warn!(%language, error = %e, "the language's voice could not load: the call is in English");
                return self.embedded();
            }
        };
        let stt = SttWithOptions {
            engine: self.multilingual.clone(),
            options: SttOptions::language(language),
        };
        CallEngines::new(Arc::new(stt), Arc::new(voice))
    }

    /// The embedded voice of a language tag (English when none is installed for it).
    pub fn voice(&self, lang: &str) -> TtsService {
        match Language::parse(lang) {
            Some(l) if l != Language::ENGLISH => match self.voice_for(l) {
                Ok(Some(v)) => v,
                _ => self.tts.clone(),
            },
            _ => self.tts.clone(),
        }
    }

    /// The languages the embedded engines speak on both sides (English first).
    pub fn languages(&self) -> Vec<Language> {
        let mut all = vec![Language::ENGLISH];
        all.extend(self.voices.languages().into_iter().filter(|l| *l != Language::ENGLISH));
        all
    }

    fn voice_for(&self, language: Language) -> Result<Option<TtsService>, SpeechError> {
        let mut map = self
            .by_language
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(t) = map.get(&language) {
            return Ok(Some(t.clone()));
        }
        let Some(voice) = self.voices.get(language)? else {
            return Ok(None);
        };
        let service = TtsService::new(voice as Arc<dyn TextToSpeech>, self.tts_workers);
        map.insert(language, service.clone());
        Ok(Some(service))
    }
}

static LOADED: Mutex<Option<Speech>> = Mutex::new(None);

/// Loads the embedded engines (once per process).
pub fn load(s: SpeechSettings) -> Result<Speech, SpeechError> {
    let mut slot = LOADED.lock().expect("speech lock");
    if let Some(sp) = slot.as_ref() {
        return Ok(sp.clone());
    }
    let models = Models::locate();
    let whisper = models.whisper()?;
    let (voice, voice_json) = models.piper_voice()?;
    let ort = models.onnxruntime()?;
    let whisper_config = WhisperConfig {
        threads: s.stt_threads.max(1),
        idle_threads: s
            .stt_idle_threads
            .min(std::thread::available_parallelism().map_or(1, |n| n.get())),
        workers: s.stt_workers.max(1),
        window: AudioWindow::Fitted {
            margin_ms: 1000,
            min_frames: (s.stt_min_window_ms / 20).max(64),
        },
        ..WhisperConfig::default()
    };
    let multilingual = SttPool::new(
        Arc::new(WhisperStt::new(whisper, whisper_config.clone())?),
        s.stt_workers,
    );
    let english = match models.whisper_tiny_en().filter(|_| s.stt_english_tiny) {
        Some(tiny) => {
            tracing::info!(model = %tiny.display(), "English calls use Whisper tiny.en");
            SttPool::new(Arc::new(WhisperStt::new(tiny, whisper_config)?), s.stt_workers)
        }
        None => {
            if s.stt_english_tiny {
                tracing::info!("Whisper tiny.en is not installed (scripts/setup): English calls use Whisper base");
            }
            multilingual.clone()
        }
    };
    let tts = PiperTts::new(
        &ort,
        &voice,
        &voice_json,
        PiperConfig {
            sessions: s.tts_workers.max(1),
            ..PiperConfig::default()
        },
    )?;
    // Optional: without Silero's model, calls fall back to WebRTC's VAD (with a warning).
    let vad = VadEngine::load(s.vad, &models);
    let voices = Voices::discover(
        &models,
        PiperConfig {
            sessions: s.tts_workers.max(1),
            ..PiperConfig::default()
        },
    );
    let sp = Speech {
        stt: english,
        multilingual,
        tts: TtsService::new(Arc::new(tts), s.tts_workers),
        vad,
        voices: Arc::new(voices),
        by_language: Arc::new(Mutex::new(HashMap::new())),
        tts_workers: s.tts_workers,
    };
    tracing::info!(languages = ?sp.languages(), "embedded speech engines loaded");
    *slot = Some(sp.clone());
    Ok(sp)
}
