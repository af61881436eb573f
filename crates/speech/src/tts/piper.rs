//! Piper voices (VITS exported to ONNX) run through ONNX Runtime.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;
use serde::Deserialize;

use super::audio::to_phone;
use super::phonemes::{Espeak, PhonemeIds, ESPEAK_PROGRAM};
use super::resample::Resampler;
use crate::{SpeechError, TextToSpeech, PHONE_RATE};

/// The process's one ONNX Runtime environment, with the library path it was loaded from.
static ORT: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);

/// Loads ONNX Runtime from `lib` (once per process) and returns its environment.
///
/// ONNX Runtime is loaded with `dlopen` at run time (`ort`'s `load-dynamic`), from the library
/// `scripts/setup` installs, so nothing is downloaded at build time. A process can load it only
/// once: later calls return the same environment, and a different `lib` path is logged and
/// ignored. A failed load is not remembered, so a corrected path can be tried again. Other ONNX
/// models of the process (a neural VAD) should get their environment here too.
pub fn onnxruntime(lib: &Path) -> Result<Environment, SpeechError> {
    let mut slot = ORT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((loaded, env)) = slot.as_ref() {
        if loaded != lib {
            tracing::warn!(
                loaded = %loaded.display(),
                requested = %lib.display(),
                "ONNX Runtime is already loaded; keeping the first library"
            );
        }
        return Ok(env.clone());
    }
    if !lib.is_file() {
        return Err(SpeechError::MissingModel(format!(
            "ONNX Runtime library not found at {}",
            lib.display()
        )));
    }
    let env = ort::init_from(lib)
        .map_err(|e| SpeechError::Engine(format!("loading ONNX Runtime from {}: {e}", lib.display())))?
        .with_name("parley")
        .build()
        .map_err(|e| SpeechError::Engine(format!("creating the ONNX Runtime environment: {e}")))?;
    *slot = Some((lib.to_path_buf(), env.clone()));
    Ok(env)
}

/// Settings of a [`PiperTts`]. `Default` suits a 2-core server.
#[derive(Debug, Clone)]
pub struct PiperConfig {
    /// ONNX Runtime intra-op threads per synthesis. 1 by default: on a small server the calls run
    /// side by side, and speech-to-text needs the other core; Piper at one thread is already ~20×
    /// faster than real time.
    pub threads: usize,
    /// Sessions that can synthesize at the same time (each holds its own copy of the weights,
    /// ~100 MB for a medium voice). Calls beyond this wait for a free session.
    pub sessions: usize,
    /// Phoneme duration factor; > 1 speaks slower. `None`: the voice config's value.
    pub length_scale: Option<f32>,
    /// Voice variability (VITS `noise_scale`). `None`: the voice config's value.
    pub noise_scale: Option<f32>,
    /// Duration variability (VITS `noise_w`). `None`: the voice config's value.
    pub noise_w: Option<f32>,
    /// Speaker of a multi-speaker voice (0 if `None`); ignored for single-speaker voices.
    pub speaker_id: Option<i64>,
    /// The espeak-ng program used for phonemes.
    pub espeak_program: PathBuf,
    /// Synthesize a short phrase in [`PiperTts::new`], so the first real call does not pay
    /// ONNX Runtime's first-run allocations.
    pub warm_up: bool,
}

impl Default for PiperConfig {
    fn default() -> Self {
        Self {
            threads: 1,
            sessions: 1,
            length_scale: None,
            noise_scale: None,
            noise_w: None,
            speaker_id: None,
            espeak_program: PathBuf::from(ESPEAK_PROGRAM),
            warm_up: true,
        }
    }
}

/// The parts of a Piper voice's `.onnx.json` that synthesis needs.
#[derive(Debug, Deserialize)]
struct VoiceConfig {
    audio: AudioSection,
    espeak: EspeakSection,
    inference: InferenceSection,
    #[serde(default)]
    phoneme_type: Option<String>,
    #[serde(default)]
    num_speakers: Option<u32>,
    phoneme_id_map: HashMap<String, Vec<i64>>,
}

#[derive(Debug, Deserialize)]
struct AudioSection {
    sample_rate: u32,
}

#[derive(Debug, Deserialize)]
struct EspeakSection {
    voice: String,
}

#[derive(Debug, Deserialize)]
struct InferenceSection {
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}

/// Timings of one synthesis, for latency figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct SynthesisTimings {
    /// Time spent phonemizing (the espeak-ng process).
    pub phonemize: std::time::Duration,
    /// Time spent in ONNX Runtime, all sentences.
    pub inference: std::time::Duration,
    /// Resampling, trimming and levelling.
    pub post: std::time::Duration,
    /// Sentences synthesized (one ONNX run each).
    pub sentences: usize,
}

/// Natural-sounding text-to-speech: a Piper voice run through ONNX Runtime, phonemes from the
/// `espeak-ng` program (see [`super::phonemes`]). Each sentence is one ONNX run, as in Piper;
/// the sentences' audio is joined, resampled to 8 kHz, trimmed and levelled.
pub struct PiperTts {
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
    espeak: Espeak,
    ids: PhonemeIds,
    scales: [f32; 3],
    speaker: Option<i64>,
    resampler: Arc<Resampler>,
    sample_rate: u32,
}

impl std::fmt::Debug for PiperTts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiperTts")
            .field("sessions", &self.sessions.len())
            .field("espeak_voice", &self.espeak.voice())
            .field("scales", &self.scales)
            .field("sample_rate", &self.sample_rate)
            .finish_non_exhaustive()
    }
}

impl PiperTts {
    /// Loads ONNX Runtime from `onnxruntime_lib` (once per process, see [`onnxruntime`]) and the
    /// voice from `voice_onnx` and its config `voice_json`. Missing files and a missing espeak-ng
    /// program are [`SpeechError::MissingModel`].
    pub fn new(
        onnxruntime_lib: &Path,
        voice_onnx: &Path,
        voice_json: &Path,
        config: PiperConfig,
    ) -> Result<Self, SpeechError> {
        for (path, what) in [(voice_onnx, "Piper voice"), (voice_json, "Piper voice config")] {
            if !path.is_file() {
                return Err(SpeechError::MissingModel(format!(
                    "{what} not found at {}",
                    path.display()
                )));
            }
        }
        let raw = std::fs::read_to_string(voice_json)
            .map_err(|e| SpeechError::Engine(format!("reading {}: {e}", voice_json.display())))?;
        let voice: VoiceConfig = serde_json::from_str(&raw)
            .map_err(|e| SpeechError::Engine(format!("parsing {}: {e}", voice_json.display())))?;
        if let Some(kind) = voice.phoneme_type.as_deref() {
            if kind != "espeak" {
                return Err(SpeechError::Engine(format!(
                    "{}: phoneme_type {kind:?} is not supported (only espeak)",
                    voice_json.display()
                )));
            }
        }
        let ids = PhonemeIds::new(&voice.phoneme_id_map)?;
        let espeak = Espeak::new(&config.espeak_program, &voice.espeak.voice)?;
        let env = onnxruntime(onnxruntime_lib)?;
        let sessions = (0..config.sessions.max(1))
            .map(|_| build_session(&env, voice_onnx, config.threads.max(1)).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        let speaker = (voice.num_speakers.unwrap_or(1) > 1).then_some(config.speaker_id.unwrap_or(0));
        let tts = Self {
            sessions,
            next: AtomicUsize::new(0),
            espeak,
            ids,
            scales: [
                config.noise_scale.unwrap_or(voice.inference.noise_scale),
                config.length_scale.unwrap_or(voice.inference.length_scale),
                config.noise_w.unwrap_or(voice.inference.noise_w),
            ],
            speaker,
            resampler: Arc::new(Resampler::new(voice.audio.sample_rate, PHONE_RATE)),
            sample_rate: voice.audio.sample_rate,
        };
        if config.warm_up {
            // Each session allocates on its first run; warm them all.
            let ids = tts.ids.ids("həlˈoʊ.");
            for session in &tts.sessions {
                let mut session = session.lock().unwrap_or_else(PoisonError::into_inner);
                tts.infer(&mut session, &ids)?;
            }
        }
        Ok(tts)
    }

    /// [`PiperTts::new`] with the paths of an installed models directory.
    pub fn from_models(models: &crate::models::Models, config: PiperConfig) -> Result<Self, SpeechError> {
        let (onnx, json) = models.piper_voice()?;
        Self::new(&models.onnxruntime()?, &onnx, &json, config)
    }

    /// The voice's native sample rate (22 050 Hz for medium voices).
    pub fn native_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The phoneme strings Piper synthesizes for `text`, one per sentence (for diagnostics).
    pub fn phonemize(&self, text: &str) -> Result<Vec<String>, SpeechError> {
        self.espeak.phonemize(text)
    }

    /// The model's input ids for each sentence of `text` (for diagnostics).
    pub fn phoneme_ids(&self, text: &str) -> Result<Vec<Vec<i64>>, SpeechError> {
        Ok(self.phonemize(text)?.iter().map(|s| self.ids.ids(s)).collect())
    }

    /// Synthesizes `text` at the voice's native rate, unprocessed (no resampling, trimming or
    /// levelling).
    pub fn synthesize_native(&self, text: &str) -> Result<Vec<f32>, SpeechError> {
        Ok(self.synthesize_timed(text)?.0)
    }

    /// [`TextToSpeech::synthesize`] that also reports where the time went.
    pub fn synthesize_with_timings(&self, text: &str) -> Result<(Vec<i16>, SynthesisTimings), SpeechError> {
        let (native, mut timings) = self.synthesize_timed(text)?;
        let t = std::time::Instant::now();
        let pcm = to_phone(&native, &self.resampler);
        timings.post = t.elapsed();
        Ok((pcm, timings))
    }

    fn synthesize_timed(&self, text: &str) -> Result<(Vec<f32>, SynthesisTimings), SpeechError> {
        let mut timings = SynthesisTimings::default();
        let t = std::time::Instant::now();
        let sentences = self.espeak.phonemize(text)?;
        timings.phonemize = t.elapsed();
        let t = std::time::Instant::now();
        let mut audio = Vec::new();
        for sentence in &sentences {
            let ids = self.ids.ids(sentence);
            if ids.len() <= 3 {
                continue;
            }
            audio.extend(self.with_session(|s| self.infer(s, &ids))?);
            timings.sentences += 1;
        }
        timings.inference = t.elapsed();
        Ok((audio, timings))
    }

    /// Runs `f` on a free session, or waits for one (round robin) when all are busy.
    fn with_session<R>(&self, f: impl FnOnce(&mut Session) -> R) -> R {
        for session in &self.sessions {
            if let Ok(mut s) = session.try_lock() {
                return f(&mut s);
            }
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.sessions.len();
        let mut s = self.sessions[i].lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut s)
    }

    /// One ONNX run: phoneme ids to audio at the native rate.
    fn infer(&self, session: &mut Session, ids: &[i64]) -> Result<Vec<f32>, SpeechError> {
        let engine = |e: ort::Error| SpeechError::Engine(format!("Piper inference: {e}"));
        let n = ids.len();
        let input = Tensor::from_array(([1usize, n], ids.to_vec().into_boxed_slice())).map_err(engine)?;
        let lengths = Tensor::from_array(([1usize], vec![n as i64].into_boxed_slice())).map_err(engine)?;
        let scales = Tensor::from_array(([3usize], self.scales.to_vec().into_boxed_slice())).map_err(engine)?;
        let outputs = match self.speaker {
            None => session.run(ort::inputs! {
                "input" => input,
                "input_lengths" => lengths,
                "scales" => scales,
            }),
            Some(sid) => {
                let sid = Tensor::from_array(([1usize], vec![sid].into_boxed_slice())).map_err(engine)?;
                session.run(ort::inputs! {
                    "input" => input,
                    "input_lengths" => lengths,
                    "scales" => scales,
                    "sid" => sid,
                })
            }
        }
        .map_err(engine)?;
        let (_, audio) = outputs[0].try_extract_tensor::<f32>().map_err(engine)?;
        Ok(audio.to_vec())
    }
}

fn build_session(env: &Environment, model: &Path, threads: usize) -> Result<Session, SpeechError> {
    let engine = |e: String| SpeechError::Engine(format!("loading Piper voice {}: {e}", model.display()));
    Session::builder(env)
        .map_err(|e| engine(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| engine(e.to_string()))?
        .with_intra_threads(threads)
        .map_err(|e| engine(e.to_string()))?
        .with_inter_threads(1)
        .map_err(|e| engine(e.to_string()))?
        // Spinning threads would burn the core speech-to-text needs between runs.
        .with_intra_op_spinning(false)
        .map_err(|e| engine(e.to_string()))?
        .commit_from_file(model)
        .map_err(|e| engine(e.to_string()))
}

impl TextToSpeech for PiperTts {
    fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError> {
        Ok(self.synthesize_with_timings(text)?.0)
    }
}
