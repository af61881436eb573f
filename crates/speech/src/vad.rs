//! Silero VAD (MIT) through ONNX Runtime: the probability that a chunk of 8 kHz audio is speech.
//!
//! The model is a small network with an LSTM state: at 8 kHz it takes 256-sample chunks (32 ms)
//! with the previous chunk's last 32 samples prepended as context, the LSTM state `[2, 1, 128]`
//! carried from call to call, and the sample rate as an `int64` scalar `sr`. It answers one
//! probability per chunk and the next state.
//!
//! Decision: one [`SileroVad`] per process holds a few ONNX sessions (one per core: a run costs
//! about a tenth of a millisecond and is done on the caller's thread, so no more runs than cores
//! can be under way at once, and a run rarely waits for a session), and each stream of audio has
//! its own [`SileroStream`] with its state and context, so calls never see each other's audio.
//! The state lives in the stream, not the session, which is why sessions can be shared.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;

use crate::{SpeechError, PHONE_RATE};

/// Samples per chunk at 8 kHz.
pub const CHUNK: usize = 256;
/// Samples of the previous chunk prepended to each chunk at 8 kHz.
const CONTEXT: usize = 32;
/// Size of the LSTM state: `[2, 1, 128]`.
const STATE: usize = 2 * 128;
/// The inputs and outputs the model must have (Silero v5 and v6).
const INPUTS: [&str; 3] = ["input", "state", "sr"];
const OUTPUTS: [&str; 2] = ["output", "stateN"];

/// The loaded Silero model, shared by every stream of the process.
pub struct SileroVad {
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for SileroVad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SileroVad")
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl SileroVad {
    /// Loads ONNX Runtime from `onnxruntime_lib` (once per process, shared with the TTS) and
    /// the model from `model`. A model without Silero v5's inputs and outputs is refused with a
    /// message naming what it has.
    pub fn new(onnxruntime_lib: &Path, model: &Path) -> Result<Self, SpeechError> {
        if !model.is_file() {
            return Err(SpeechError::MissingModel(format!(
                "Silero VAD model not found at {}",
                model.display()
            )));
        }
        let env = crate::tts::onnxruntime(onnxruntime_lib)?;
        let count = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
        let sessions = (0..count)
            .map(|_| build_session(&env, model).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        let vad = Self {
            sessions,
            next: AtomicUsize::new(0),
        };
        // The first run of each session allocates; pay it here, not in a call's first frames.
        for s in &vad.sessions {
            let mut session = s.lock().unwrap_or_else(PoisonError::into_inner);
            infer(&mut session, &[0.0; CONTEXT + CHUNK], &mut [0.0; STATE])?;
        }
        Ok(vad)
    }

    /// [`SileroVad::new`] with the paths of an installed models directory.
    pub fn from_models(models: &crate::models::Models) -> Result<Self, SpeechError> {
        Self::new(&models.onnxruntime()?, &models.silero_vad()?)
    }

    /// A new stream (one per call): its own LSTM state and context.
    pub fn stream(self: &Arc<Self>) -> SileroStream {
        SileroStream {
            model: self.clone(),
            state: vec![0.0; STATE],
            input: vec![0.0; CONTEXT + CHUNK],
        }
    }

    /// One run on a free session (or, when all are busy, on the next one in turn).
    fn run(&self, input: &[f32], state: &mut [f32]) -> Result<f32, SpeechError> {
        for session in &self.sessions {
            if let Ok(mut s) = session.try_lock() {
                return infer(&mut s, input, state);
            }
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.sessions.len();
        let mut s = self.sessions[i].lock().unwrap_or_else(PoisonError::into_inner);
        infer(&mut s, input, state)
    }
}

fn build_session(env: &ort::environment::Environment, model: &Path) -> Result<Session, SpeechError> {
    let engine = |e: String| SpeechError::Engine(format!("loading Silero VAD {}: {e}", model.display()));
    let session = Session::builder(env)
        .map_err(|e| engine(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| engine(e.to_string()))?
        // A run is a tenth of a millisecond: more threads would cost more in handing over.
        .with_intra_threads(1)
        .map_err(|e| engine(e.to_string()))?
        .with_inter_threads(1)
        .map_err(|e| engine(e.to_string()))?
        // Spinning threads would only burn a core between runs.
        .with_intra_op_spinning(false)
        .map_err(|e| engine(e.to_string()))?
        .commit_from_file(model)
        .map_err(|e| engine(e.to_string()))?;
    let inputs: Vec<String> = session.inputs().iter().map(|i| i.name().to_string()).collect();
    let outputs: Vec<String> = session.outputs().iter().map(|o| o.name().to_string()).collect();
    let has = |names: &[String], want: &[&str]| want.iter().all(|w| names.iter().any(|n| n == w));
    if !has(&inputs, &INPUTS) || !has(&outputs, &OUTPUTS) {
        return Err(engine(format!(
            "not a Silero v5/v6 VAD: inputs {inputs:?} (want {INPUTS:?}), outputs {outputs:?} (want {OUTPUTS:?})"
        )));
    }
    Ok(session)
}

/// One run: `input` (context + chunk) and `state` in; the probability out, `state` updated.
fn infer(session: &mut Session, input: &[f32], state: &mut [f32]) -> Result<f32, SpeechError> {
    let engine = |e: ort::Error| SpeechError::Engine(format!("Silero VAD: {e}"));
    let sr = [i64::from(PHONE_RATE)];
    let outputs = session
        .run(ort::inputs! {
            "input" => TensorRef::from_array_view(([1usize, CONTEXT + CHUNK], input)).map_err(engine)?,
            "state" => TensorRef::from_array_view(([2usize, 1, 128], &*state)).map_err(engine)?,
            "sr" => TensorRef::from_array_view(((), &sr[..])).map_err(engine)?,
        })
        .map_err(engine)?;
    let (_, p) = outputs["output"].try_extract_tensor::<f32>().map_err(engine)?;
    let p = *p
        .first()
        .ok_or_else(|| SpeechError::Engine("Silero VAD: empty output".into()))?;
    let (_, next) = outputs["stateN"].try_extract_tensor::<f32>().map_err(engine)?;
    if next.len() != STATE {
        return Err(SpeechError::Engine(format!(
            "Silero VAD: state of {} values, want {STATE}",
            next.len()
        )));
    }
    state.copy_from_slice(next);
    Ok(p)
}

/// One stream's Silero state: feed it 256-sample chunks in order, get a probability for each.
pub struct SileroStream {
    model: Arc<SileroVad>,
    state: Vec<f32>,
    /// The context (the last 32 samples of the previous chunk), then the chunk.
    input: Vec<f32>,
}

impl SileroStream {
    /// The probability (0 to 1) that `chunk`, the next 256 samples of the stream, is speech.
    pub fn probability(&mut self, chunk: &[i16; CHUNK]) -> Result<f32, SpeechError> {
        self.input.copy_within(CHUNK.., 0);
        for (x, &s) in self.input[CONTEXT..].iter_mut().zip(chunk) {
            *x = f32::from(s) / 32768.0;
        }
        self.model.run(&self.input, &mut self.state)
    }

    /// Forgets the audio heard so far.
    pub fn reset(&mut self) {
        self.state.fill(0.0);
        self.input.fill(0.0);
    }
}
