//! Voice activity: which 20 ms frames hold speech, with the hysteresis that turns frame
//! decisions into speech start and end events.
//!
//! WebRTC's VAD (GMM-based, a few microseconds per frame) decides per frame; an energy floor
//! keeps line noise out. Onset needs two voiced frames in a row (40 ms): short enough for the
//! 100 ms barge-in bound, long enough to ignore a click. The end needs `hangover` unvoiced
//! frames, so the gaps between words do not split an utterance.

use crate::frame::{Frame, Out, Processor};
use parley_telephony::audio::{level_dbfs, PcmFrame, FRAME};

/// A frame classifier. Wraps the C detector, which holds a raw pointer.
struct Detector(webrtc_vad::Vad);

// SAFETY: the WebRTC VAD instance is plain heap state with no thread affinity (no thread-locals,
// no callbacks); it is only ever used through `&mut self`, so moving it between threads is sound.
#[allow(unsafe_code)] // the one way to say a C handle may move between threads
unsafe impl Send for Detector {}

/// What the hysteresis reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech began `frames_ago` frames before the current one (its first voiced frame).
    Start { frames_ago: u32 },
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
    /// Frames quieter than this are never speech.
    pub floor_dbfs: f32,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadConfig {
            onset_frames: 2,
            hangover_frames: 6,
            floor_dbfs: -45.0,
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
}

impl Vad {
    pub fn new(cfg: VadConfig) -> Self {
        Vad {
            det: Detector(webrtc_vad::Vad::new_with_rate_and_mode(
                webrtc_vad::SampleRate::Rate8kHz,
                webrtc_vad::VadMode::Aggressive,
            )),
            cfg,
            speaking: false,
            voiced_run: 0,
            unvoiced_run: 0,
            last_voiced: false,
        }
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

    /// Classifies one frame.
    pub fn is_voiced(&mut self, frame: &PcmFrame) -> bool {
        level_dbfs(frame) > self.cfg.floor_dbfs && self.det.0.is_voice_segment(frame).unwrap_or(false)
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
                frames_ago: self.voiced_run - 1,
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

/// The chain's first listener: the caller's audio in; the audio and speech start and end out.
pub struct VadStage {
    vad: Vad,
}

impl VadStage {
    pub fn new(cfg: VadConfig) -> Self {
        VadStage { vad: Vad::new(cfg) }
    }
}

impl Processor for VadStage {
    fn process(&mut self, frame: Frame, out: &mut Out) {
        let Frame::CallerAudio { pcm, at } = frame else {
            return out.pass(frame);
        };
        let event = self.vad.push(&pcm);
        // The audio first: whatever follows from the event sees this frame already counted.
        out.pass(frame);
        match event {
            Some(VadEvent::Start { frames_ago }) => out.down(Frame::SpeechStarted {
                at: at - FRAME * frames_ago,
                frames_ago,
            }),
            Some(VadEvent::End { frames_ago }) => out.down(Frame::SpeechEnded {
                last_voice: at - FRAME * frames_ago,
                frames_ago,
            }),
            None => {}
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
        assert_eq!(events.len(), 2, "{events:?}");
        let (at, start) = events[0];
        assert!(matches!(start, VadEvent::Start { .. }));
        assert!((11..=13).contains(&at), "onset detected at frame {at}");
        assert_eq!(events[1], (45, VadEvent::End { frames_ago: 6 }));
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
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(
            matches!(events[0], (_, Frame::SpeechStarted { at, .. }) if (t0 + FRAME * 10..=t0 + FRAME * 12).contains(&at)),
            "{events:?}"
        );
        assert_eq!(
            events[1],
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
