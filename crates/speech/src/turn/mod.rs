//! End-of-turn detection: is the caller done, or only pausing?
//!
//! - [`rules`]: the transcript rule, a pure function of the words so far (Whisper's closing
//!   punctuation, the last word: a conjunction, a preposition, a filler, a number) and the wait
//!   it calls for. The endpointer's default (see `bench/turn_eval.sh` for why).
//! - [`smart_turn`]: Smart Turn v3.2, an audio model of the turn's end, through ONNX Runtime.
//! - [`features`]: the Whisper log-mel features Smart Turn reads.
//!
//! Measured on synthetic call-centre sentences with mid-sentence pauses (`bench/turn_eval.sh`,
//! figures in `bench/README.md`), Smart Turn ranks pauses *above* ends (AUC 0.17 on 8 kHz
//! mu-law; Pipecat's own Python feature code and ONNX Runtime give the same inversion, 0.22 on
//! the wideband audio, so it is the model on these voices, not this port). It is therefore
//! kept for the evaluation and not used in calls; the transcript rule is the default.

pub mod features;
pub mod rules;
pub mod smart_turn;

pub use rules::{text_end, TextEnd, TurnWaits};
pub use smart_turn::SmartTurn;
