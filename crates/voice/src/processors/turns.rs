//! The agent bridge: numbers the agent's turns and gives the agent its inputs.
//!
//! Every frame of the agent's output carries its turn id; a new input or a barge-in bumps the
//! turn, so a stale reply is dropped wherever it is (the agent's work in flight is cancelled,
//! the speaker skips its sentences, playback clears its queue).

use crate::agent::{AgentInput, AgentOutput};
use crate::frame::{Effect, Frame, Out, Processor, Utterance};
use tokio::time::Instant;

#[derive(Default)]
pub struct TurnManager {
    turn: u64,
}

impl TurnManager {
    /// Sends one input to the agent as a new turn (cancelling whatever it was doing).
    fn new_turn(&mut self, input: AgentInput, at: Instant, heard: Option<Utterance>, out: &mut Out) {
        self.turn += 1;
        out.down(Frame::Do(Effect::Turn(self.turn)));
        out.down(Frame::NewTurn {
            turn: self.turn,
            at,
            heard,
        });
        out.down(Frame::Do(Effect::ToAgent { turn: self.turn, input }));
    }

    /// A turn with no input: whatever the agent was saying is stale.
    fn supersede(&mut self, out: &mut Out) -> u64 {
        self.turn += 1;
        out.down(Frame::Do(Effect::Turn(self.turn)));
        out.down(Frame::Superseded { turn: self.turn });
        self.turn
    }
}

impl Processor for TurnManager {
    fn process(&mut self, frame: Frame, out: &mut Out) {
        match frame {
            Frame::StartAgent { at } => self.new_turn(AgentInput::Start, at, None, out),
            Frame::UtteranceEnded { utterance, at } => {
                if !utterance.text.is_empty() {
                    out.down(Frame::UserLine {
                        at: utterance.started,
                        text: utterance.text.clone(),
                    });
                    let text = utterance.text.clone();
                    self.new_turn(AgentInput::Utterance { text }, at, Some(utterance), out);
                }
            }
            Frame::Dtmf { digit, at } => {
                out.down(Frame::UserLine {
                    at,
                    text: format!("[pressed {digit}]"),
                });
                self.new_turn(AgentInput::Dtmf(digit), at, None, out);
            }
            Frame::Silence { at } => self.new_turn(AgentInput::Silence, at, None, out),
            Frame::Interruption => {
                self.supersede(out);
            }
            Frame::LeaveMessage { message } => {
                // Spoken like the agent's words, as a turn of its own that hangs up after.
                let turn = self.supersede(out);
                out.down(Frame::AgentText {
                    turn,
                    text: message,
                    fixed: false,
                });
                out.down(Frame::AgentControl {
                    turn,
                    out: AgentOutput::Hangup,
                });
            }
            other => out.pass(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Dir;
    use crate::processors::test_util::*;
    use std::time::Duration;

    #[test]
    fn each_input_is_a_new_turn_and_a_barge_in_supersedes_the_reply() {
        let mut t = TurnManager::default();
        let at = Instant::now();
        let out = feed(&mut t, Frame::StartAgent { at });
        assert_eq!(
            out,
            [
                (Dir::Down, Frame::Do(Effect::Turn(1))),
                (
                    Dir::Down,
                    Frame::NewTurn {
                        turn: 1,
                        at,
                        heard: None
                    }
                ),
                (
                    Dir::Down,
                    Frame::Do(Effect::ToAgent {
                        turn: 1,
                        input: AgentInput::Start
                    })
                ),
            ]
        );
        let heard = Utterance {
            id: 1,
            text: "Yes.".into(),
            started: at,
            last_voice: at,
            ended_at: at,
            stt_queue: Duration::ZERO,
            stt: Duration::ZERO,
        };
        let out = feed(
            &mut t,
            Frame::UtteranceEnded {
                utterance: heard.clone(),
                at,
            },
        );
        assert_eq!(
            out[0],
            (
                Dir::Down,
                Frame::UserLine {
                    at,
                    text: "Yes.".into()
                }
            )
        );
        assert_eq!(
            out[2],
            (
                Dir::Down,
                Frame::NewTurn {
                    turn: 2,
                    at,
                    heard: Some(heard)
                }
            )
        );
        assert_eq!(
            feed(&mut t, Frame::Interruption),
            [
                (Dir::Down, Frame::Do(Effect::Turn(3))),
                (Dir::Down, Frame::Superseded { turn: 3 })
            ]
        );
        // Noise (no words) is no turn.
        let noise = Frame::UtteranceEnded {
            utterance: Utterance {
                text: String::new(),
                ..heard_at(at)
            },
            at,
        };
        assert_eq!(feed(&mut t, noise), []);
    }

    fn heard_at(at: Instant) -> Utterance {
        Utterance {
            id: 9,
            text: "x".into(),
            started: at,
            last_voice: at,
            ended_at: at,
            stt_queue: Duration::ZERO,
            stt: Duration::ZERO,
        }
    }
}
