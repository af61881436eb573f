//! The barge-in gate: is the speech VAD just heard the caller's own voice, loud enough to stop
//! the agent, or a cough, a door, a voice in the room behind them?
//!
//! VAD says "speech" to anything speech-like; stopping the agent for it is what makes a noisy
//! line unusable. The gate looks at the last few frames (100 ms by default, so it decides
//! within the 100 ms barge-in bound) and opens when all three hold:
//! - **speech**: enough frames of the window have a speech probability over the VAD's threshold
//!   (Silero's network tells speech from noise; WebRTC's says yes to most loud sounds);
//! - **a pitch**: enough frames are periodic ([`super::features::periodicity`]): a voice has
//!   one, a cough's or a door's broadband burst has none;
//! - **the caller's level**: the window's loudest speech frame is within `margin_db` of the
//!   caller's own speech level, learnt from their earlier speech, so a talker 10-20 dB below
//!   the caller (a television, a colleague) does not count. Before the caller has said
//!   anything long enough to learn from, an absolute floor stands in.
//!
//! The level is learnt only from long, pitched speech segments as loud as the level so far (or
//! louder): a quieter background voice never drags it down. The price: a caller who becomes
//! much quieter for good cannot barge in until they speak up (their turns are unaffected; the
//! gate only decides over-talk).
//!
//! **Going on after a pause.** Speech that starts within `rejoin_frames` of the end of a segment
//! the gate passed is most likely the same caller going on after a comma, and gets a wider margin
//! (`rejoin_margin_db`). The level learnt is a segment's loudest frame, and a stressed first word
//! sets it high: in "Yes, I can make it." (Piper, 300-440 ms at the comma) the words after the
//! comma start 3-5 dB under "Yes", and an over-talk judged a backchannel at "Yes," had its
//! continuation refused as a voice behind the caller and dropped, the caller's answer lost.

use std::collections::VecDeque;

/// What the gate knows of one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameFacts {
    /// Level, dBFS.
    pub level: f32,
    /// The VAD's probability reached its threshold.
    pub speech: bool,
    /// Periodicity (0 to 1); 0 when not measured (no speech).
    pub periodicity: f32,
}

/// Tuning of [`BargeGate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateConfig {
    /// Off: the gate opens at the VAD's onset, as before the gate existed (a baseline).
    pub enabled: bool,
    /// Frames the gate looks back over.
    pub window: usize,
    /// Frames of the window that must be speech.
    pub min_speech: usize,
    /// Frames of the window that must be periodic...
    pub min_periodic: usize,
    /// ...at least this much.
    pub periodic: f32,
    /// The window's loudest speech frame may be this far below the caller's level.
    pub margin_db: f32,
    /// Before the caller's level is known, the loudest speech frame must reach this.
    pub floor_dbfs: f32,
    /// A segment teaches the caller's level when it has this many speech frames.
    pub learn_frames: usize,
    /// How far one segment moves the learnt level towards its own (0 to 1).
    pub learn_rate: f32,
    /// The gate decides within this many frames of a segment's onset, or not at all for that
    /// segment: a voice behind the caller talks on for seconds, and given all that time one of
    /// its loudest syllables would reach the caller's level; the caller's own interruption is
    /// loud from its first syllable.
    pub deadline_frames: usize,
    /// A segment's level is this quantile of its speech frames' levels (0 to 1).
    pub level_quantile: f32,
    /// Speech starting within this many frames of the end of a segment the gate passed...
    pub rejoin_frames: usize,
    /// ...may be this far below the caller's level (see the module docs).
    pub rejoin_margin_db: f32,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            enabled: true,
            window: 5,
            min_speech: 2,
            min_periodic: 2,
            periodic: 0.5,
            margin_db: 5.0,
            floor_dbfs: -40.0,
            learn_frames: 8,
            learn_rate: 0.3,
            deadline_frames: 8,
            level_quantile: 1.0,
            rejoin_frames: 25,
            rejoin_margin_db: 8.0,
        }
    }
}

impl GateConfig {
    /// The gate for a detector. Silero's network already tells a cough or a door from speech
    /// (bench/barge_in.sh: none of either reached its threshold), so on Silero the gate only
    /// checks the level, from the first speech frame; WebRTC says yes to any loud burst, so
    /// on WebRTC it also wants two speech frames of the window with a pitch.
    pub fn for_kind(kind: super::VadKind) -> Self {
        match kind {
            super::VadKind::WebRtc => GateConfig::default(),
            super::VadKind::Silero => GateConfig {
                min_speech: 1,
                min_periodic: 0,
                ..GateConfig::default()
            },
        }
    }

    /// No gate: every VAD onset stops the agent.
    pub fn off() -> Self {
        GateConfig {
            enabled: false,
            ..GateConfig::default()
        }
    }
}

/// One stream's gate (sans-I/O: frames in, "open" out).
#[derive(Debug)]
pub struct BargeGate {
    cfg: GateConfig,
    recent: VecDeque<FrameFacts>,
    /// The caller's speech level (dBFS), once learnt.
    reference: Option<f32>,
    /// Levels of the speech frames of the segment in progress, and how many were periodic.
    segment: Vec<f32>,
    segment_periodic: usize,
    /// Opened in this segment already.
    opened: bool,
    /// Frames since the segment's onset.
    segment_frames: usize,
    /// Quiet frames since the end of a segment the gate passed (`None`: the last segment was
    /// not passed, or none has ended).
    since_passed: Option<usize>,
}

impl BargeGate {
    pub fn new(cfg: GateConfig) -> Self {
        BargeGate {
            cfg,
            recent: VecDeque::with_capacity(cfg.window.max(1)),
            reference: None,
            segment: Vec::new(),
            segment_periodic: 0,
            opened: false,
            segment_frames: 0,
            since_passed: None,
        }
    }

    /// The caller's speech level as learnt so far (dBFS).
    pub fn reference(&self) -> Option<f32> {
        self.reference
    }

    /// One frame; `speaking`: the VAD has speech in progress. True when the gate opens: at most
    /// once per speech segment.
    pub fn push(&mut self, facts: FrameFacts, speaking: bool) -> bool {
        if self.recent.len() == self.cfg.window.max(1) {
            self.recent.pop_front();
        }
        self.recent.push_back(facts);
        if speaking && facts.speech {
            self.segment.push(facts.level);
            if facts.periodicity >= self.cfg.periodic {
                self.segment_periodic += 1;
            }
        }
        if !speaking {
            if let Some(n) = self.since_passed.as_mut() {
                *n += 1;
            }
            return false;
        }
        if self.opened {
            return false;
        }
        self.segment_frames += 1;
        if self.cfg.enabled && self.segment_frames > self.cfg.deadline_frames {
            return false;
        }
        if !self.cfg.enabled || self.decides_voice() {
            self.opened = true;
            return true;
        }
        false
    }

    fn decides_voice(&self) -> bool {
        let speech = self.recent.iter().filter(|f| f.speech);
        let (mut n, mut periodic, mut loudest) = (0, 0, f32::NEG_INFINITY);
        for f in speech {
            n += 1;
            if f.periodicity >= self.cfg.periodic {
                periodic += 1;
            }
            loudest = loudest.max(f.level);
        }
        let rejoining = self.since_passed.is_some_and(|n| n <= self.cfg.rejoin_frames);
        let margin = if rejoining {
            self.cfg.rejoin_margin_db.max(self.cfg.margin_db)
        } else {
            self.cfg.margin_db
        };
        let loud_enough = match self.reference {
            Some(r) => loudest >= r - margin,
            None => loudest >= self.cfg.floor_dbfs,
        };
        n >= self.cfg.min_speech && periodic >= self.cfg.min_periodic && loud_enough
    }

    /// The VAD's speech segment ended: a long pitched one, as loud as the caller, teaches
    /// their level.
    pub fn segment_ended(&mut self) {
        let long = self.segment.len() >= self.cfg.learn_frames;
        let pitched = self.segment_periodic * 3 >= self.segment.len();
        if long && pitched {
            let level = segment_level(&mut self.segment, self.cfg.level_quantile);
            self.reference = match self.reference {
                None => Some(level),
                Some(r) if level >= r - self.cfg.margin_db => Some(r + self.cfg.learn_rate * (level - r)),
                Some(r) => Some(r),
            };
        }
        self.since_passed = self.opened.then_some(0);
        self.segment.clear();
        self.segment_periodic = 0;
        self.opened = false;
        self.segment_frames = 0;
    }
}

/// A segment's speech level: a high quantile of its speech frames' levels (its stressed
/// vowels; the upper quartile sat 5 dB lower, among consonants and the VAD's hangover, and let
/// the loud syllables of a voice 10 dB behind the caller pass for the caller's).
fn segment_level(levels: &mut [f32], quantile: f32) -> f32 {
    levels.sort_by(f32::total_cmp);
    let i = (levels.len() as f32 * quantile.clamp(0.0, 1.0)) as usize;
    levels[i.min(levels.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice(level: f32) -> FrameFacts {
        FrameFacts {
            level,
            speech: true,
            periodicity: 0.8,
        }
    }

    /// Pushes `n` frames of speech; returns the one that opened the gate.
    fn push_n(g: &mut BargeGate, f: FrameFacts, n: usize) -> Option<usize> {
        (0..n).find(|_| g.push(f, true))
    }

    /// The segment ends, and a pause follows.
    fn pause(g: &mut BargeGate) {
        g.segment_ended();
        let quiet = FrameFacts {
            level: -70.0,
            speech: false,
            periodicity: 0.0,
        };
        for _ in 0..10 {
            assert!(!g.push(quiet, false));
        }
    }

    #[test]
    fn a_voice_opens_the_gate_once_per_segment() {
        let mut g = BargeGate::new(GateConfig::default());
        assert_eq!(push_n(&mut g, voice(-20.0), 10), Some(1), "two speech frames");
        assert_eq!(push_n(&mut g, voice(-20.0), 10), None, "once per segment");
        pause(&mut g);
        assert_eq!(push_n(&mut g, voice(-20.0), 10), Some(1));
    }

    #[test]
    fn noise_without_a_pitch_does_not_open_it() {
        let mut g = BargeGate::new(GateConfig::default());
        let burst = FrameFacts {
            periodicity: 0.2,
            ..voice(-10.0)
        };
        assert_eq!(push_n(&mut g, burst, 20), None);
        // Off, it opens at once.
        let mut g = BargeGate::new(GateConfig::off());
        assert_eq!(push_n(&mut g, burst, 20), Some(0));
    }

    #[test]
    fn a_voice_well_below_the_callers_does_not_open_it() {
        let mut g = BargeGate::new(GateConfig::default());
        // Not learnt yet: the absolute floor.
        assert_eq!(push_n(&mut g, voice(-45.0), 6), None);
        pause(&mut g);
        // The caller's sentence teaches their level...
        for _ in 0..40 {
            g.push(voice(-18.0), true);
        }
        pause(&mut g);
        assert_eq!(g.reference(), Some(-18.0));
        // ...a voice 10 dB below does not open the gate; the caller's does.
        assert_eq!(push_n(&mut g, voice(-28.0), 40), None);
        assert_eq!(g.reference(), Some(-18.0));
        pause(&mut g);
        assert_eq!(g.reference(), Some(-18.0), "the quieter voice taught nothing");
        assert_eq!(push_n(&mut g, voice(-21.0), 10), Some(1));
    }

    /// `n` quiet frames.
    fn quiet(g: &mut BargeGate, n: usize) {
        let quiet = FrameFacts {
            level: -70.0,
            speech: false,
            periodicity: 0.0,
        };
        for _ in 0..n {
            assert!(!g.push(quiet, false));
        }
    }

    /// `n` frames of speech, all of them (the segment's levels); the one that opened the gate.
    fn say(g: &mut BargeGate, f: FrameFacts, n: usize) -> Option<usize> {
        (0..n).filter(|_| g.push(f, true)).min()
    }

    #[test]
    fn the_caller_going_on_after_a_comma_may_be_quieter() {
        let mut g = BargeGate::new(GateConfig::default());
        // "Yes," loud and stressed: passed, and it sets the level.
        assert_eq!(say(&mut g, voice(-12.0), 14), Some(1));
        g.segment_ended();
        assert_eq!(g.reference(), Some(-12.0));
        // "I can make it." 400 ms later, 6 dB under "Yes": the caller going on.
        quiet(&mut g, 20);
        assert_eq!(say(&mut g, voice(-18.0), 10), Some(1));
        g.segment_ended();
        // The same level a second after the caller's last passed words: not the caller.
        quiet(&mut g, 50);
        assert_eq!(say(&mut g, voice(-18.0), 10), None);
        g.segment_ended();
        // Nor right after a segment the gate refused (no chain through a voice behind them),
        quiet(&mut g, 5);
        assert_eq!(say(&mut g, voice(-18.0), 10), None);
        g.segment_ended();
        // nor 10 dB under, however soon.
        quiet(&mut g, 30);
        assert_eq!(say(&mut g, voice(-12.0), 14), Some(1));
        g.segment_ended();
        quiet(&mut g, 5);
        assert_eq!(say(&mut g, voice(-22.5), 10), None);
    }
}
