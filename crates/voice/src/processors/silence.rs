//! The caller's silence: once the agent has finished its turn and listens, a caller who says
//! nothing for the silence window gets a re-prompt (the agent decides what to say).

use crate::frame::{Floor, Frame, Out, Phase, Processor};
use std::time::Duration;
use tokio::time::Instant;

pub struct SilenceHandler {
    timeout: Duration,
    phase: Phase,
    floor: Floor,
    /// The agent listens since then (cleared when the caller speaks).
    listening_since: Option<Instant>,
    /// An utterance is open (the caller may still be finishing a turn).
    utterance: bool,
}

impl SilenceHandler {
    pub fn new(timeout: Duration) -> Self {
        SilenceHandler {
            timeout,
            phase: Phase::Screening,
            floor: Floor::default(),
            listening_since: None,
            utterance: false,
        }
    }
}

impl Processor for SilenceHandler {
    fn process(&mut self, frame: Frame, out: &mut Out) {
        match frame {
            Frame::Phase(p) => self.phase = p,
            Frame::Floor(f) => self.floor = f,
            Frame::Listening { at } => {
                self.listening_since = Some(at);
                return; // for this processor only
            }
            Frame::SpeechStarted { .. } | Frame::Dtmf { .. } => self.listening_since = None,
            Frame::UtteranceStarted { .. } => self.utterance = true,
            Frame::UtteranceDropped { .. } => self.utterance = false,
            Frame::UtteranceEnded { ref utterance, at } => {
                self.utterance = false;
                if self.phase == Phase::Talking && utterance.text.is_empty() && !self.floor.has_audio {
                    // Noise, or a cough: keep waiting as before.
                    self.listening_since = Some(at);
                }
            }
            Frame::Tick { now }
                if self.phase == Phase::Talking
                    && !self.utterance
                    && self
                        .listening_since
                        .is_some_and(|since| now.saturating_duration_since(since) >= self.timeout) =>
            {
                self.listening_since = None;
                out.down(Frame::Silence { at: now });
            }
            _ => {}
        }
        out.pass(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Dir;
    use crate::processors::test_util::*;

    #[test]
    fn silence_after_the_agent_listens_reprompts_once() {
        let t0 = Instant::now();
        let mut s = SilenceHandler::new(Duration::from_secs(2));
        feed(&mut s, Frame::Phase(Phase::Talking));
        let tick = |ms| Frame::Tick {
            now: t0 + Duration::from_millis(ms),
        };
        assert_eq!(feed(&mut s, tick(5000)).len(), 1, "not listening yet");
        assert_eq!(feed_up(&mut s, Frame::Listening { at: t0 }), []);
        assert_eq!(feed(&mut s, tick(1980)).len(), 1);
        let out = feed(&mut s, tick(2000));
        assert_eq!(
            out[0],
            (
                Dir::Down,
                Frame::Silence {
                    at: t0 + Duration::from_millis(2000)
                }
            )
        );
        assert_eq!(feed(&mut s, tick(9000)).len(), 1, "once");
    }

    #[test]
    fn the_caller_speaking_stops_the_clock_and_noise_restarts_it() {
        let t0 = Instant::now();
        let mut s = SilenceHandler::new(Duration::from_secs(2));
        feed(&mut s, Frame::Phase(Phase::Talking));
        feed_up(&mut s, Frame::Listening { at: t0 });
        feed(&mut s, Frame::SpeechStarted { at: t0, frames_ago: 1 });
        feed(&mut s, Frame::UtteranceStarted { id: 1, at: t0 });
        let late = Frame::Tick {
            now: t0 + Duration::from_secs(5),
        };
        assert_eq!(feed(&mut s, late.clone()).len(), 1);
        let noise = crate::frame::Utterance {
            id: 1,
            text: String::new(),
            started: t0,
            last_voice: t0,
            ended_at: t0,
            stt_queue: Duration::ZERO,
            stt: Duration::ZERO,
        };
        let at = t0 + Duration::from_secs(5);
        feed(&mut s, Frame::UtteranceEnded { utterance: noise, at });
        assert_eq!(feed(&mut s, late).len(), 1);
        let out = feed(
            &mut s,
            Frame::Tick {
                now: at + Duration::from_secs(2),
            },
        );
        assert!(matches!(out[0].1, Frame::Silence { .. }), "{out:?}");
    }
}
