//! The agent bridge: numbers the agent's turns and gives the agent its inputs.
//!
//! Every frame of the agent's output carries its turn id; a new input or a barge-in bumps the
//! turn, so a stale reply is dropped wherever it is (the agent's work in flight is cancelled,
//! the speaker skips its sentences, playback clears its queue).
//!
//! It also tells a new utterance from the rest of the last one: a caller who starts again soon
//! after their turn ended, before the agent's reply was heard out, had only paused, and the
//! agent gets both parts as one ([`AgentInput::Continued`]).

use crate::agent::{AgentInput, AgentOutput};
use crate::frame::{Effect, Frame, Out, Processor, Utterance};
use std::time::Duration;
use tokio::time::Instant;

/// The caller's last utterance, while the caller may still go on with it.
struct Answered {
    /// What the agent was given (both parts, after a continuation).
    text: String,
    /// When the turn ended.
    at: Instant,
    /// When the agent's reply had played to its end and it listened again.
    listened: Option<Instant>,
}

#[derive(Default)]
pub struct TurnManager {
    turn: u64,
    /// See [`crate::processors::endpointer::TurnConfig::continue_window`].
    continue_window: Duration,
    /// The utterance the current turn answers, if that is what it answers.
    last: Option<Answered>,
}

impl TurnManager {
    pub fn new(continue_window: Duration) -> Self {
        TurnManager {
            continue_window,
            ..Default::default()
        }
    }

    /// Sends one input to the agent as a new turn (cancelling whatever it was doing).
    fn new_turn(&mut self, input: AgentInput, at: Instant, heard: Option<Utterance>, out: &mut Out) {
        self.turn += 1;
        self.last = None;
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

    /// The caller's utterance, as the agent gets it: on its own, or as the rest of the last
    /// one when the caller started it soon after that one ended the turn, before the reply
    /// played out (the reply, cut by the judge or not yet begun, is dropped with the turn).
    fn utterance(&mut self, utterance: Utterance, at: Instant, out: &mut Out) {
        let added = utterance.text.clone();
        let went_on = self.last.take().filter(|prev| {
            let since_end = utterance.started.saturating_duration_since(prev.at);
            !self.continue_window.is_zero()
                && since_end <= self.continue_window
                && prev.listened.is_none_or(|l| utterance.started < l)
        });
        out.down(Frame::UserLine {
            at: utterance.started,
            text: added.clone(),
        });
        let (input, text) = match went_on {
            Some(prev) => {
                let whole = joined(&prev.text, &added);
                let input = AgentInput::Continued {
                    whole: whole.clone(),
                    added,
                };
                (input, whole)
            }
            None => (AgentInput::Utterance { text: added.clone() }, added),
        };
        self.new_turn(input, at, Some(utterance), out);
        self.last = Some(Answered {
            text,
            at,
            listened: None,
        });
    }
}

/// One sentence from two parts the recognizer wrote as two ("So the thing is." and "My card
/// expired last week."): the first loses its full stop, the second its capital, unless it is
/// "I" or looks like a name or an acronym (capitals after the first letter); after a question
/// or an exclamation both stay as they are. A name at the start of the second part ("Tuesday
/// works") loses its capital: the lesser harm than a capital in mid-sentence on every other
/// word.
fn joined(first: &str, added: &str) -> String {
    let first = first.trim_end();
    let (first, mid_sentence) = match first.strip_suffix('.') {
        Some(f) if !f.ends_with('.') => (f, true),
        _ => (first, !first.ends_with(['.', '?', '!'])),
    };
    let word = added
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .next()
        .unwrap_or("");
    let keep = word == "I" || word.starts_with("I'") || word.chars().skip(1).any(char::is_uppercase);
    let mut chars = added.chars();
    match chars.next() {
        Some(c) if mid_sentence && !keep => format!("{first} {}{}", c.to_lowercase(), chars.as_str()),
        _ => format!("{first} {added}"),
    }
}

impl Processor for TurnManager {
    fn process(&mut self, frame: Frame, out: &mut Out) {
        match frame {
            Frame::StartAgent { at } => self.new_turn(AgentInput::Start, at, None, out),
            Frame::UtteranceEnded { utterance, at } => {
                if !utterance.text.is_empty() {
                    self.utterance(utterance, at, out);
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
                self.last = None;
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
            // Upstream from playback: the reply to the last utterance was heard out.
            Frame::Listening { at } => {
                if let Some(last) = self.last.as_mut().filter(|l| l.listened.is_none()) {
                    last.listened = Some(at);
                }
                out.pass(frame);
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

    /// The agent's input for an utterance `text` spoken from `started` and ending the turn at `end`.
    fn input_for(t: &mut TurnManager, text: &str, started: Instant, end: Instant) -> AgentInput {
        let utterance = Utterance {
            text: text.into(),
            started,
            ..heard_at(started)
        };
        let out = feed(t, Frame::UtteranceEnded { utterance, at: end });
        match out.into_iter().find_map(|(_, f)| match f {
            Frame::Do(Effect::ToAgent { input, .. }) => Some(input),
            _ => None,
        }) {
            Some(i) => i,
            None => panic!("no input for {text}"),
        }
    }

    #[test]
    fn a_caller_going_on_before_the_reply_is_heard_out_continues_the_utterance() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut t = TurnManager::new(Duration::from_millis(800));
        feed(&mut t, Frame::StartAgent { at: t0 });
        let first = input_for(&mut t, "So the thing is.", ms(1000), ms(2200));
        assert_eq!(
            first,
            AgentInput::Utterance {
                text: "So the thing is.".into()
            }
        );
        // The caller goes on 600 ms after the turn ended; the judge cut the reply.
        assert_eq!(feed(&mut t, Frame::Interruption).len(), 2);
        let whole = "So the thing is my card expired last week.";
        assert_eq!(
            input_for(&mut t, "My card expired last week.", ms(2800), ms(4500)),
            AgentInput::Continued {
                whole: whole.into(),
                added: "My card expired last week.".into()
            }
        );
        // And again: the whole so far is what goes on ("I" keeps its capital).
        assert_eq!(
            input_for(&mut t, "I can't pay.", ms(5000), ms(6000)),
            AgentInput::Continued {
                whole: "So the thing is my card expired last week I can't pay.".into(),
                added: "I can't pay.".into()
            }
        );
        // Once the reply has played to its end, what follows answers it.
        feed_up(&mut t, Frame::Listening { at: ms(6500) });
        assert_eq!(
            input_for(&mut t, "Hello?", ms(6600), ms(7200)),
            AgentInput::Utterance { text: "Hello?".into() }
        );
        // Too long after the end of the turn: a new utterance.
        assert_eq!(
            input_for(&mut t, "Yes.", ms(8100), ms(8600)),
            AgentInput::Utterance { text: "Yes.".into() }
        );
        // Any other input in between: a new utterance.
        feed(
            &mut t,
            Frame::Dtmf {
                digit: '1',
                at: ms(8700),
            },
        );
        assert_eq!(
            input_for(&mut t, "One.", ms(8800), ms(9200)),
            AgentInput::Utterance { text: "One.".into() }
        );
        // Off (a zero window): never.
        let mut off = TurnManager::default();
        input_for(&mut off, "So.", ms(0), ms(100));
        assert_eq!(
            input_for(&mut off, "Then.", ms(100), ms(300)),
            AgentInput::Utterance { text: "Then.".into() }
        );
    }

    #[test]
    fn two_parts_read_as_one_sentence() {
        assert_eq!(
            joined("I'd like to book.", "An appointment."),
            "I'd like to book an appointment."
        );
        assert_eq!(joined("Is it", "NASA's?"), "Is it NASA's?");
        assert_eq!(joined("Wait...", "McDonald's."), "Wait... McDonald's.");
        assert_eq!(joined("Yes?", "I'm here."), "Yes? I'm here.");
        assert_eq!(joined("Well,", "Sure."), "Well, sure.");
        assert_eq!(joined("Who is this?", "And why?"), "Who is this? And why?");
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
