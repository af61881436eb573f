//! Smart Turn v3.2 (Pipecat's end-of-turn model, BSD-2-Clause) through ONNX Runtime.
//!
//! A Whisper-tiny encoder with a linear head: it reads the last 8 s of the caller's audio as
//! Whisper log-mel features ([`super::features`]) and returns the probability that the turn is
//! complete. It was trained on wideband speech; on the phone the 8 kHz audio is upsampled with
//! the same resampler Whisper uses, so everything above 4 kHz is empty. Whether it still
//! discriminates there is what `bench/turn_eval.sh` measures.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;

use super::features::{LogMel, N_FRAMES, N_MELS};
use crate::models::Models;
use crate::stt::upsample_phone_to_whisper;
use crate::SpeechError;

/// The model's input: Whisper features, `[batch, 80, 800]`.
const INPUT: &str = "input_features";

/// Smart Turn over one ONNX Runtime session (a decision is one run, ~10-250 ms of one core).
pub struct SmartTurn {
    session: Mutex<Session>,
    output: String,
    mel: LogMel,
}

impl std::fmt::Debug for SmartTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartTurn")
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

impl SmartTurn {
    /// Loads the model with `threads` intra-op threads, from ONNX Runtime at `onnxruntime`.
    /// Checks the model's input and output against what this code feeds and reads.
    pub fn new(onnxruntime: &Path, model: &Path, threads: usize) -> Result<Self, SpeechError> {
        if !model.is_file() {
            return Err(SpeechError::MissingModel(format!(
                "Smart Turn model not found at {}",
                model.display()
            )));
        }
        let env = crate::tts::onnxruntime(onnxruntime)?;
        let engine = |e: String| SpeechError::Engine(format!("loading Smart Turn {}: {e}", model.display()));
        let session = Session::builder(&env)
            .map_err(|e| engine(e.to_string()))?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| engine(e.to_string()))?
            .with_intra_threads(threads.max(1))
            .map_err(|e| engine(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| engine(e.to_string()))?
            // Spinning threads would burn the core speech-to-text needs between runs.
            .with_intra_op_spinning(false)
            .map_err(|e| engine(e.to_string()))?
            .commit_from_file(model)
            .map_err(|e| engine(e.to_string()))?;
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        if inputs != [INPUT] {
            return Err(engine(format!(
                "expected one input {INPUT:?}, the model has {inputs:?}"
            )));
        }
        let output = match session.outputs() {
            [one] => one.name().to_string(),
            more => {
                let names: Vec<&str> = more.iter().map(|o| o.name()).collect();
                return Err(engine(format!("expected one output, the model has {names:?}")));
            }
        };
        Ok(SmartTurn {
            session: Mutex::new(session),
            output,
            mel: LogMel::new(),
        })
    }

    /// Loads the installed model (`models/turn/smart-turn-v3.2-cpu.onnx`).
    pub fn from_models(models: &Models, threads: usize) -> Result<Self, SpeechError> {
        Self::new(&models.onnxruntime()?, &models.smart_turn()?, threads)
    }

    /// The probability that the turn is complete, from the caller's 8 kHz phone audio up to now
    /// (the speech and the silence heard after it; only the last 8 s count).
    pub fn complete_probability(&self, pcm: &[i16]) -> Result<f32, SpeechError> {
        let tail = &pcm[pcm.len().saturating_sub(8 * crate::PHONE_RATE as usize)..];
        self.complete_probability_16k(&upsample_phone_to_whisper(tail))
    }

    /// The same from 16 kHz audio in [-1, 1].
    pub fn complete_probability_16k(&self, audio: &[f32]) -> Result<f32, SpeechError> {
        let engine = |e: ort::Error| SpeechError::Engine(format!("Smart Turn inference: {e}"));
        let features = self.mel.features(audio);
        let input = Tensor::from_array(([1usize, N_MELS, N_FRAMES], features.into_boxed_slice())).map_err(engine)?;
        let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let outputs = session.run(ort::inputs! { INPUT => input }).map_err(engine)?;
        let (_, p) = outputs[self.output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(engine)?;
        p.first()
            .copied()
            .ok_or_else(|| SpeechError::Engine("Smart Turn returned no value".into()))
    }
}
