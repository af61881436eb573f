//! The frame classifiers behind [`super::Vad`]: WebRTC's VAD or Silero's network, each giving a
//! 20 ms frame a speech probability.
//!
//! WebRTC's VAD (a GMM over band energies, ~2 µs a frame) answers yes or no, and says yes to
//! most loud sounds: a cough, a door, a voice in the room. Silero (a small neural network, ~70 µs
//! per 32 ms chunk) was trained to tell speech from noise and answers a probability. Which one
//! a server uses is a setting (`PARLEY_VAD`), chosen by `bench/barge_in.sh`'s measurements.

use parley_speech::models::Models;
use parley_speech::vad::{SileroStream, SileroVad, CHUNK};
use parley_telephony::audio::{PcmFrame, FRAME_SAMPLES};
use std::sync::Arc;

/// Which detector decides speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VadKind {
    /// WebRTC's GMM VAD: fast, fooled by loud noise.
    WebRtc,
    /// Silero VAD through ONNX Runtime: a neural speech probability.
    Silero,
}

impl VadKind {
    pub fn name(self) -> &'static str {
        match self {
            VadKind::WebRtc => "webrtc",
            VadKind::Silero => "silero",
        }
    }
}

impl std::fmt::Display for VadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for VadKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "webrtc" => Ok(VadKind::WebRtc),
            "silero" => Ok(VadKind::Silero),
            other => Err(format!("unknown VAD {other:?} (expected silero or webrtc)")),
        }
    }
}

/// A detector ready to give each call a stream of its own: what a pipeline is configured with.
#[derive(Debug, Clone, Default)]
pub enum VadEngine {
    #[default]
    WebRtc,
    /// The process's one Silero model; each call runs its own stream on it.
    Silero(Arc<SileroVad>),
}

impl VadEngine {
    pub fn kind(&self) -> VadKind {
        match self {
            VadEngine::WebRtc => VadKind::WebRtc,
            VadEngine::Silero(_) => VadKind::Silero,
        }
    }

    /// The engine of `kind` from the installed models. Silero falls back to WebRTC, with a
    /// warning, when its model or ONNX Runtime cannot be loaded: calls keep working, only less
    /// robust to noise.
    pub fn load(kind: VadKind, models: &Models) -> VadEngine {
        match kind {
            VadKind::WebRtc => VadEngine::WebRtc,
            VadKind::Silero => match SileroVad::from_models(models) {
                Ok(vad) => VadEngine::Silero(Arc::new(vad)),
                Err(e) => {
                    tracing::warn!(error = %e, "Silero VAD unavailable; calls use WebRTC's VAD");
                    VadEngine::WebRtc
                }
            },
        }
    }
}

/// WebRTC's detector. Wraps the C detector, which holds a raw pointer.
pub(super) struct WebRtc(webrtc_vad::Vad);

// SAFETY: the WebRTC VAD instance is plain heap state with no thread affinity (no thread-locals,
// no callbacks); it is only ever used through `&mut self`, so moving it between threads is sound.
#[allow(unsafe_code)] // the one way to say a C handle may move between threads
unsafe impl Send for WebRtc {}

impl WebRtc {
    fn new() -> Self {
        WebRtc(webrtc_vad::Vad::new_with_rate_and_mode(
            webrtc_vad::SampleRate::Rate8kHz,
            webrtc_vad::VadMode::Aggressive,
        ))
    }

    fn probability(&mut self, frame: &PcmFrame) -> f32 {
        if self.0.is_voice_segment(frame).unwrap_or(false) {
            1.0
        } else {
            0.0
        }
    }
}

/// Silero on 20 ms frames: frames are gathered into the model's 32 ms chunks, and each frame
/// gets the probability of the last complete chunk (so a frame's answer is at most one chunk
/// old).
pub(super) struct Silero {
    stream: SileroStream,
    pending: [i16; CHUNK + FRAME_SAMPLES],
    filled: usize,
    last: f32,
}

impl Silero {
    fn probability(&mut self, frame: &PcmFrame) -> Result<f32, parley_speech::SpeechError> {
        self.pending[self.filled..self.filled + FRAME_SAMPLES].copy_from_slice(frame);
        self.filled += FRAME_SAMPLES;
        if self.filled >= CHUNK {
            let mut chunk = [0i16; CHUNK];
            chunk.copy_from_slice(&self.pending[..CHUNK]);
            self.last = self.stream.probability(&chunk)?;
            self.pending.copy_within(CHUNK..self.filled, 0);
            self.filled -= CHUNK;
        }
        Ok(self.last)
    }
}

/// One stream's classifier.
pub(super) enum Detector {
    WebRtc(WebRtc),
    Silero(Box<Silero>),
}

impl Detector {
    pub(super) fn new(engine: &VadEngine) -> Self {
        match engine {
            VadEngine::WebRtc => Detector::WebRtc(WebRtc::new()),
            VadEngine::Silero(model) => Detector::Silero(Box::new(Silero {
                stream: model.stream(),
                pending: [0; CHUNK + FRAME_SAMPLES],
                filled: 0,
                last: 0.0,
            })),
        }
    }

    pub(super) fn kind(&self) -> VadKind {
        match self {
            Detector::WebRtc(_) => VadKind::WebRtc,
            Detector::Silero(_) => VadKind::Silero,
        }
    }

    /// The probability that `frame` (the next of the stream) is speech: 0 or 1 from WebRTC.
    /// A Silero run that fails hands the rest of the stream to WebRTC, with a warning.
    pub(super) fn probability(&mut self, frame: &PcmFrame) -> f32 {
        match self {
            Detector::WebRtc(d) => d.probability(frame),
            Detector::Silero(s) => match s.probability(frame) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "Silero VAD failed; this call goes on with WebRTC's VAD");
                    let mut d = WebRtc::new();
                    let p = d.probability(frame);
                    *self = Detector::WebRtc(d);
                    p
                }
            },
        }
    }
}
