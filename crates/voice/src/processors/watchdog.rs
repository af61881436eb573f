//! Every call ends: no audio at all from the network for the watchdog period means the line is
//! dead, and no call outlasts the maximum duration.

use crate::frame::{Effect, Frame, Out, Processor};
use crate::pipeline::CallEnd;
use std::time::Duration;
use tokio::time::Instant;

pub struct Watchdog {
    answered: Instant,
    last_audio: Instant,
    line_watchdog: Duration,
    max_duration: Duration,
    fired: bool,
}

impl Watchdog {
    pub fn new(answered: Instant, line_watchdog: Duration, max_duration: Duration) -> Self {
        Watchdog {
            answered,
            last_audio: answered,
            line_watchdog,
            max_duration,
            fired: false,
        }
    }
}

impl Processor for Watchdog {
    fn process(&mut self, frame: Frame, out: &mut Out) {
        match &frame {
            Frame::CallerAudio { at, .. } | Frame::Dtmf { at, .. } => self.last_audio = *at,
            Frame::Tick { now } if !self.fired => {
                let end = if now.saturating_duration_since(self.last_audio) >= self.line_watchdog {
                    Some(CallEnd::LineSilent)
                } else if now.saturating_duration_since(self.answered) >= self.max_duration {
                    Some(CallEnd::MaxDuration)
                } else {
                    None
                };
                if let Some(e) = end {
                    self.fired = true;
                    out.down(Frame::Do(Effect::End(e)));
                }
            }
            _ => {}
        }
        out.pass(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processors::test_util::*;

    #[test]
    fn a_silent_line_ends_the_call_and_audio_keeps_it_alive() {
        let t0 = Instant::now();
        let mut w = Watchdog::new(t0, Duration::from_secs(10), Duration::from_secs(60));
        let tick = |s| Frame::Tick {
            now: t0 + Duration::from_secs(s),
        };
        assert_eq!(feed(&mut w, tick(9)).len(), 1);
        feed(
            &mut w,
            Frame::CallerAudio {
                pcm: [0; 160],
                at: t0 + Duration::from_secs(9),
            },
        );
        assert_eq!(feed(&mut w, tick(18)).len(), 1);
        let out = feed(&mut w, tick(19));
        assert!(
            matches!(&out[0].1, Frame::Do(Effect::End(CallEnd::LineSilent))),
            "{out:?}"
        );
        assert_eq!(feed(&mut w, tick(30)).len(), 1, "fires once");
    }
}
