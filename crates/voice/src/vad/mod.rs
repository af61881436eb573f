//! Voice activity: which 20 ms frames hold speech, the hysteresis that turns frame decisions
//! into speech start and end events, and the barge-in gate that says which speech is the
//! caller's own voice.
//!
//! The detector ([`VadKind`]) gives each frame a speech probability: WebRTC's VAD (GMM-based,
//! a few microseconds a frame, 0 or 1) or Silero's network (a probability per 32 ms chunk); an
//! energy floor keeps line noise out. Onset needs `onset_frames` speech frames in a row: short
//! enough for the 100 ms barge-in bound, long enough to ignore a click. The end needs
//! `hangover_frames` frames below the (lower) stay threshold, so the gaps between words do not
//! split an utterance. Speech start and end drive the endpointer (turns); the
//! [`gate::BargeGate`] decides, within the same speech, whether it may stop the agent
//! ([`Frame::CallerVoice`]).

mod detector;
pub mod features;
pub mod gate;

use crate::frame::{Frame, Out, Processor};
use detector::Detector;
pub use detector::{VadEngine, VadKind};
use gate::{BargeGate, FrameFacts, GateConfig};
use parley_telephony::audio::{level_dbfs, PcmFrame, FRAME};

/// What the hysteresis reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech began `frames_ago` frames before the current one (its first voiced frame).
    Start { frames_ago: u32 },
    /// The speech in progress has been quiet for `pause_frames` frames (`frames_ago` since the
    /// last voiced one); it ends if the quiet lasts `hangover_frames`.
    Pause { frames_ago: u32 },
    /// Speech ended; the last voiced frame was `frames_ago` frames before the current one.
    End { frames_ago: u32 },
}

/// Tuning of [`Vad`].
#[derive(Debug, Clone, Copy)]
pub struct VadConfig {
    /// Voiced frames in a row that start speech.
    pub onset_frames: u32,
    /// Unvoiced frames in a row that end speech.
    pub hangover_frames: u32,
    /// Unvoiced frames in a row that report a pause ([`VadEvent::Pause`]): the early start of
    /// speech-to-text. 0 (or not below `hangover_frames`): no pauses reported.
    pub pause_frames: u32,
    /// Frames quieter than this are never speech.
    pub floor_dbfs: f32,
    /// A frame whose speech probability reaches this is voiced...
    pub threshold: f32,
    /// ...and, once speech is in progress, one that reaches this (Silero's own hysteresis).
    pub stay_threshold: f32,
    /// Frames before the first voiced one that a start reports as speech already: how late the
    /// detector wakes up in a word that starts softly. The utterance keeps that audio, or its
    /// first sound is lost ("Thursday" heard as "First day" with Silero over SIP and Twilio).
    pub onset_lookback_frames: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadConfig {
            onset_frames: 2,
            hangover_frames: 6,
            pause_frames: 3,
            floor_dbfs: -45.0,
            threshold: 0.5,
            stay_threshold: 0.35,
            onset_lookback_frames: 0,
        }
    }
}

impl VadConfig {
    /// The tuning for a detector: Silero's probability already integrates the audio of a
    /// 32 ms chunk and its past (an LSTM), so one frame over the threshold starts speech.
    pub fn for_kind(kind: VadKind) -> Self {
        match kind {
            VadKind::WebRtc => VadConfig::default(),
            VadKind::Silero => VadConfig {
                onset_frames: 1,
                // Its probability rises ~100 ms into a soft onset ("th", "f", "h"): measured by
                // the every-network test, whose "Thursday" lost its first sound without it.
                onset_lookback_frames: 5,
                ..VadConfig::default()
            },
        }
    }
}

/// Per-stream voice activity detector (sans-I/O: feed frames, get events).
pub struct Vad {
    det: Detector,
    cfg: VadConfig,
    speaking: bool,
    voiced_run: u32,
    unvoiced_run: u32,
    last_voiced: bool,
    last_probability: f32,
    last_level: f32,
}

impl Vad {
    /// A WebRTC VAD.
    pub fn new(cfg: VadConfig) -> Self {
        Self::with_engine(&VadEngine::WebRtc, cfg)
    }

    /// A VAD on `engine`'s detector (its own stream of it).
    pub fn with_engine(engine: &VadEngine, cfg: VadConfig) -> Self {
        Vad {
            det: Detector::new(engine),
            cfg,
            speaking: false,
            voiced_run: 0,
            unvoiced_run: 0,
            last_voiced: false,
            last_probability: 0.0,
            last_level: -100.0,
        }
    }

    /// The detector this VAD runs (Silero hands over to WebRTC if its runtime fails).
    pub fn kind(&self) -> VadKind {
        self.det.kind()
    }

    /// Whether speech is in progress (between a start and an end event).
    pub fn speaking(&self) -> bool {
        self.speaking
    }

    /// Voiced frames in a row up to the last one pushed.
    pub fn voiced_run(&self) -> u32 {
        self.voiced_run
    }

    /// Whether the last frame pushed was voiced.
    pub fn last_voiced(&self) -> bool {
        self.last_voiced
    }

    /// The detector's speech probability for the last frame pushed (0 under the energy floor).
    pub fn last_probability(&self) -> f32 {
        self.last_probability
    }

    /// The level of the last frame pushed, dBFS.
    pub fn last_level(&self) -> f32 {
        self.last_level
    }

    /// The speech threshold.
    pub fn threshold(&self) -> f32 {
        self.cfg.threshold
    }

    /// Classifies one frame (the next of the stream: Silero carries state from frame to frame).
    pub fn is_voiced(&mut self, frame: &PcmFrame) -> bool {
        self.last_level = level_dbfs(frame);
        // The detector hears every frame, so its state follows the stream even through quiet.
        let p = self.det.probability(frame);
        self.last_probability = if self.last_level > self.cfg.floor_dbfs { p } else { 0.0 };
        let threshold = if self.speaking {
            self.cfg.stay_threshold
        } else {
            self.cfg.threshold
        };
        self.last_probability >= threshold
    }

    /// Feeds one frame; returns an event when speech starts or ends.
    pub fn push(&mut self, frame: &PcmFrame) -> Option<VadEvent> {
        let voiced = self.is_voiced(frame);
        self.last_voiced = voiced;
        if voiced {
            self.voiced_run += 1;
            self.unvoiced_run = 0;
        } else {
            self.unvoiced_run += 1;
            self.voiced_run = 0;
        }
        if !self.speaking && self.voiced_run >= self.cfg.onset_frames {
            self.speaking = true;
            return Some(VadEvent::Start {
                frames_ago: self.voiced_run - 1 + self.cfg.onset_lookback_frames,
            });
        }
        if self.speaking
            && self.cfg.pause_frames > 0
            && self.cfg.pause_frames < self.cfg.hangover_frames
            && self.unvoiced_run == self.cfg.pause_frames
        {
            return Some(VadEvent::Pause {
                frames_ago: self.unvoiced_run,
            });
        }
        if self.speaking && self.unvoiced_run >= self.cfg.hangover_frames {
            self.speaking = false;
            return Some(VadEvent::End {
                frames_ago: self.unvoiced_run,
            });
        }
        None
    }
}

/// The chain's first listener: the caller's audio in; the audio, speech start and end, and the
/// barge-in gate's verdict out.
pub struct VadStage {
    vad: Vad,
    gate: BargeGate,
    prev: PcmFrame,
}

impl VadStage {
    /// A WebRTC VAD with the gate off (every onset may stop the agent).
    pub fn new(cfg: VadConfig) -> Self {
        VadStage::with_engine(&VadEngine::WebRtc, cfg, GateConfig::off())
    }

    /// A VAD on `engine` with the barge-in gate `gate`.
    pub fn with_engine(engine: &VadEngine, cfg: VadConfig, gate: GateConfig) -> Self {
        VadStage {
            vad: Vad::with_engine(engine, cfg),
            gate: BargeGate::new(gate),
            prev: [0; parley_telephony::audio::FRAME_SAMPLES],
        }
    }

    /// The detector in use.
    pub fn kind(&self) -> VadKind {
        self.vad.kind()
    }

    /// The caller's speech level the gate has learnt (dBFS).
    pub fn caller_level(&self) -> Option<f32> {
        self.gate.reference()
    }

    /// Runs one frame through the VAD and the gate: the hysteresis' event, and whether the
    /// gate opened on this frame.
    pub fn push(&mut self, pcm: &PcmFrame) -> (Option<VadEvent>, bool) {
        let event = self.vad.push(pcm);
        let speech = self.vad.last_probability() >= self.vad.threshold();
        // Periodicity costs ~10 µs: measured only on frames that may be speech.
        let periodicity = if speech || self.vad.last_voiced() {
            features::periodicity(&self.prev, pcm)
        } else {
            0.0
        };
        self.prev = *pcm;
        let facts = FrameFacts {
            level: self.vad.last_level(),
            speech,
            periodicity,
        };
        let opened = self.gate.push(facts, self.vad.speaking());
        if matches!(event, Some(VadEvent::End { .. })) {
            self.gate.segment_ended();
        }
        (event, opened)
    }
}

impl Processor for VadStage {
    fn process(&mut self, frame: Frame, out: &mut Out) {
        let Frame::CallerAudio { pcm, at } = frame else {
            return out.pass(frame);
        };
        let (event, opened) = self.push(&pcm);
        // The audio first: whatever follows from the event sees this frame already counted.
        out.pass(frame);
        if let Some(VadEvent::Start { frames_ago }) = event {
            out.down(Frame::SpeechStarted {
                at: at - FRAME * frames_ago,
                frames_ago,
            });
        }
        if opened {
            out.down(Frame::CallerVoice { at });
        }
        if let Some(VadEvent::Pause { frames_ago }) = event {
            out.down(Frame::SpeechPaused {
                last_voice: at - FRAME * frames_ago,
            });
        }
        if let Some(VadEvent::End { frames_ago }) = event {
            out.down(Frame::SpeechEnded {
                last_voice: at - FRAME * frames_ago,
                frames_ago,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, amp: f64) -> PcmFrame {
        let mut f = [0i16; 160];
        for (i, s) in f.iter_mut().enumerate() {
            // A voiced-speech-like signal: a harmonic stack on a 120 Hz fundamental.
            let t = i as f64 / 8000.0;
            let v: f64 = (1..8)
                .map(|h| (2.0 * std::f64::consts::PI * freq * h as f64 * t).sin() / h as f64)
                .sum();
            *s = (amp * v) as i16;
        }
        f
    }

    #[test]
    fn silence_is_never_speech() {
        let mut v = Vad::new(VadConfig::default());
        for _ in 0..100 {
            assert_eq!(v.push(&[0; 160]), None);
        }
    }

    #[test]
    fn speech_start_and_end_follow_the_hysteresis() {
        let mut v = Vad::new(VadConfig::default());
        let voiced = tone(120.0, 6000.0);
        let mut events = vec![];
        for i in 0..60 {
            let f = if (10..40).contains(&i) { voiced } else { [0; 160] };
            if let Some(e) = v.push(&f) {
                events.push((i, e));
            }
        }
        assert_eq!(events.len(), 3, "{events:?}");
        let (at, start) = events[0];
        assert!(matches!(start, VadEvent::Start { .. }));
        assert!((11..=13).contains(&at), "onset detected at frame {at}");
        assert_eq!(events[1], (42, VadEvent::Pause { frames_ago: 3 }));
        assert_eq!(events[2], (45, VadEvent::End { frames_ago: 6 }));
    }

    #[test]
    fn the_stage_passes_the_audio_on_then_the_speech_events() {
        use crate::processors::test_util::feed;
        let mut st = VadStage::new(VadConfig::default());
        let t0 = tokio::time::Instant::now();
        let voiced = tone(120.0, 6000.0);
        let mut events = vec![];
        for i in 0..60u32 {
            let f = if (10..40).contains(&i) { voiced } else { [0; 160] };
            let at = t0 + FRAME * i;
            let out = feed(&mut st, Frame::CallerAudio { pcm: f, at });
            assert_eq!(out[0].1, Frame::CallerAudio { pcm: f, at }, "the audio comes first");
            events.extend(out.into_iter().skip(1).map(|(_, e)| (i, e)));
        }
        assert_eq!(events.len(), 4, "{events:?}");
        assert!(
            matches!(events[0], (_, Frame::SpeechStarted { at, .. }) if (t0 + FRAME * 10..=t0 + FRAME * 12).contains(&at)),
            "{events:?}"
        );
        // The gate is off: the onset is the caller's voice at once.
        assert!(
            matches!(events[1], (i, Frame::CallerVoice { .. }) if i == events[0].0),
            "{events:?}"
        );
        // The pause three frames into the quiet, with the same last voiced frame.
        assert_eq!(
            events[2],
            (
                42,
                Frame::SpeechPaused {
                    last_voice: t0 + FRAME * 39
                }
            )
        );
        assert_eq!(
            events[3],
            (
                45,
                Frame::SpeechEnded {
                    last_voice: t0 + FRAME * 39,
                    frames_ago: 6
                }
            )
        );
    }
}
