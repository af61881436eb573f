//! The conversation as it happened: the transcript (each line timed from the answer) and each
//! turn's latency, from the caller's last voiced frame to the agent's first sound.

use crate::frame::{Effect, Frame, Out, Processor};
use crate::pipeline::Line;
use parley_core::call::TurnLatency;
use std::time::Duration;
use tokio::time::Instant;

/// A reply being timed.
struct Pending {
    turn: u64,
    last_voice: Instant,
    endpointing: Duration,
    stt_queue: Duration,
    stt: Duration,
    sent_at: Instant,
    /// When the first sentence's audio was ready, and what its synthesis cost.
    first_ready: Option<(Instant, Duration)>,
}

pub struct Conversation {
    answered: Instant,
    pub lines: Vec<Line>,
    pub latency: Vec<TurnLatency>,
    pending: Option<Pending>,
}

impl Conversation {
    pub fn new(answered: Instant) -> Self {
        Conversation {
            answered,
            lines: vec![],
            latency: vec![],
            pending: None,
        }
    }

    fn line(&mut self, at: Instant, author: &'static str, text: String) {
        let at_ms = at.saturating_duration_since(self.answered).as_millis() as i64;
        self.lines.push(Line { at_ms, author, text });
    }
}

impl Processor for Conversation {
    fn process(&mut self, frame: Frame, out: &mut Out) {
        match frame {
            Frame::UserLine { at, text } => self.line(at, "user", text),
            Frame::SentenceStarted { turn, text, at } => {
                self.line(at, "ai", text);
                if let Some(p) = self.pending.take_if(|p| p.turn == turn) {
                    let (ready_at, tts_work) = p.first_ready.unwrap_or((at, Duration::ZERO));
                    let agent = ready_at.saturating_duration_since(p.sent_at).saturating_sub(tts_work);
                    self.latency.push(TurnLatency {
                        endpointing_ms: p.endpointing.as_millis() as i64,
                        stt_queue_ms: p.stt_queue.as_millis() as i64,
                        stt_ms: p.stt.as_millis() as i64,
                        agent_ms: agent.as_millis() as i64,
                        tts_first_audio_ms: tts_work.as_millis() as i64,
                        total_ms: at.saturating_duration_since(p.last_voice).as_millis() as i64,
                    });
                }
            }
            Frame::SentenceQueued { turn, ready_at, work } => {
                if let Some(p) = self
                    .pending
                    .as_mut()
                    .filter(|p| p.turn == turn && p.first_ready.is_none())
                {
                    p.first_ready = Some((ready_at, work));
                }
            }
            Frame::NewTurn { turn, at, ref heard } => {
                self.pending = heard.as_ref().map(|u| Pending {
                    turn,
                    last_voice: u.last_voice,
                    endpointing: u.ended_at.saturating_duration_since(u.last_voice),
                    stt_queue: u.stt_queue,
                    stt: u.stt,
                    sent_at: at,
                    first_ready: None,
                });
                out.pass(frame);
            }
            Frame::Superseded { .. } => {
                self.pending = None;
                out.pass(frame);
            }
            // The agent's last words prime the recognizer.
            Frame::Do(Effect::Transcribe {
                utterance,
                samples,
                pcm,
                primed: true,
                ..
            }) => {
                let context = self
                    .lines
                    .iter()
                    .rev()
                    .find(|l| l.author == "ai")
                    .map(|l| l.text.clone())
                    .unwrap_or_default();
                out.pass(Frame::Do(Effect::Transcribe {
                    utterance,
                    samples,
                    pcm,
                    primed: true,
                    context,
                }));
            }
            other => out.pass(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Utterance;
    use crate::processors::test_util::*;
    use std::sync::Arc;

    #[test]
    fn a_turn_is_timed_from_the_last_voiced_frame_to_the_first_sound() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut c = Conversation::new(t0);
        feed(
            &mut c,
            Frame::SentenceStarted {
                turn: 1,
                text: "Can you make it?".into(),
                at: ms(100),
            },
        );
        let heard = Utterance {
            id: 1,
            text: "Yes.".into(),
            started: ms(2000),
            last_voice: ms(2500),
            ended_at: ms(2900),
            stt_queue: Duration::from_millis(10),
            stt: Duration::from_millis(300),
        };
        feed(
            &mut c,
            Frame::UserLine {
                at: ms(2000),
                text: "Yes.".into(),
            },
        );
        feed(
            &mut c,
            Frame::NewTurn {
                turn: 2,
                at: ms(2900),
                heard: Some(heard),
            },
        );
        feed(
            &mut c,
            Frame::SentenceQueued {
                turn: 2,
                ready_at: ms(3200),
                work: Duration::from_millis(150),
            },
        );
        feed(
            &mut c,
            Frame::SentenceStarted {
                turn: 2,
                text: "Great.".into(),
                at: ms(3220),
            },
        );
        let l = &c.latency[0];
        assert_eq!(
            (l.endpointing_ms, l.stt_ms, l.agent_ms, l.tts_first_audio_ms, l.total_ms),
            (400, 300, 150, 150, 720)
        );
        let said: Vec<(i64, &str)> = c.lines.iter().map(|l| (l.at_ms, l.author)).collect();
        assert_eq!(said, [(100, "ai"), (2000, "user"), (3220, "ai")]);
        // A transcription asked for now is primed with the agent's last words.
        let ask = Frame::Do(Effect::Transcribe {
            utterance: 2,
            samples: 0,
            pcm: Arc::new(vec![]),
            primed: true,
            context: String::new(),
        });
        let out = feed(&mut c, ask);
        assert!(matches!(&out[0].1, Frame::Do(Effect::Transcribe { context, .. }) if context == "Great."));
    }
}
