//! The process's speech engines, loaded once.
//!
//! Engines are process-wide (models are read-only, and a second copy of Whisper's weights
//! would only cost memory): every server started in this process, the tests' included, shares
//! them. Missing models stop the server at start with the setup command to run.

use parley_speech::models::Models;
use parley_speech::stt::{AudioWindow, WhisperConfig, WhisperStt};
use parley_speech::tts::{PiperConfig, PiperTts};
use parley_speech::SpeechError;
use parley_voice::engines::{SttPool, TtsService};
use parley_voice::pipeline::CallEngines;
use parley_voice::vad::{VadEngine, VadKind};
use std::sync::{Arc, Mutex};

/// The engines every call uses.
#[derive(Clone)]
pub struct Speech {
    pub stt: SttPool,
    pub tts: TtsService,
    /// The voice activity detector (Silero's model is shared; each call runs its own stream).
    pub vad: VadEngine,
}

/// How many of each engine run at once.
#[derive(Debug, Clone, Copy)]
pub struct SpeechSettings {
    pub stt_workers: usize,
    pub stt_threads: usize,
    pub stt_idle_threads: usize,
    pub stt_min_window_ms: u32,
    pub tts_workers: usize,
    pub vad: VadKind,
}

impl Speech {
    /// The engines of a call that uses the embedded ones (nothing to fall back to).
    pub fn embedded(&self) -> CallEngines {
        CallEngines::new(Arc::new(self.stt.clone()), Arc::new(self.tts.clone()))
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
    let stt = WhisperStt::new(
        whisper,
        WhisperConfig {
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
        },
    )?;
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
    let sp = Speech {
        stt: SttPool::new(Arc::new(stt), s.stt_workers),
        tts: TtsService::new(Arc::new(tts), s.tts_workers),
        vad,
    };
    *slot = Some(sp.clone());
    Ok(sp)
}
