//! Answering-machine screening: before the agent speaks on an outbound call, listen for a
//! person's "Hello?" or a machine's greeting; on a machine, wait for its beep (or the end of its
//! greeting) and leave the voicemail message, or hang up.
//!
//! Owns the call's [`Phase`]; the caller's utterances reach the agent only once it is
//! `Talking`.

use crate::frame::{Effect, Frame, Out, Phase, Processor};
use crate::pipeline::CallEnd;
use crate::tone::ToneDetector;
use std::time::Duration;
use tokio::time::Instant;

/// Nobody said hello within this: a person waiting for us, most likely.
const HELLO_WAIT: Duration = Duration::from_millis(1500);
/// Quiet after a machine's greeting that counts as its end (when no beep was heard).
const GREETING_OVER: Duration = Duration::from_millis(2500);
/// The longest wait for a machine's beep.
const MACHINE_MAX: Duration = Duration::from_secs(30);

enum State {
    Screening {
        since: Instant,
    },
    Machine {
        since: Instant,
        quiet_since: Option<Instant>,
    },
    Messaging,
    Talking,
}

pub struct Screening {
    state: State,
    tone: ToneDetector,
    /// A first utterance longer than this is an answering machine's greeting.
    machine_greeting: Duration,
    /// What to leave on an answering machine (None: hang up without a message).
    voicemail_message: Option<String>,
    speaking: bool,
    /// The open utterance's start.
    utterance: Option<Instant>,
}

impl Screening {
    pub fn new(
        screen_for_machine: bool,
        answered: Instant,
        machine_greeting: Duration,
        voicemail_message: Option<String>,
    ) -> Self {
        Screening {
            state: if screen_for_machine {
                State::Screening { since: answered }
            } else {
                State::Talking
            },
            tone: ToneDetector::default(),
            machine_greeting,
            voicemail_message,
            speaking: false,
            utterance: None,
        }
    }

    fn phase(&self) -> Phase {
        match self.state {
            State::Screening { .. } => Phase::Screening,
            State::Machine { .. } => Phase::Machine,
            State::Messaging => Phase::Messaging,
            State::Talking => Phase::Talking,
        }
    }

    /// Moves to `state`, telling the stages below and the endpointer above (it waits longer
    /// while screening).
    fn set(&mut self, state: State, out: &mut Out) {
        self.state = state;
        out.down(Frame::Phase(self.phase()));
        out.up(Frame::Phase(self.phase()));
    }

    fn talk(&mut self, at: Instant, out: &mut Out) {
        self.set(State::Talking, out);
        out.down(Frame::StartAgent { at });
    }

    /// Answering machine: queue the voicemail message (then hang up), or hang up at once.
    fn leave_message(&mut self, out: &mut Out) {
        self.set(State::Messaging, out);
        match self.voicemail_message.clone() {
            Some(message) => out.down(Frame::LeaveMessage { message }),
            None => out.down(Frame::Do(Effect::End(CallEnd::Voicemail { message_left: false }))),
        }
    }

    fn tick(&mut self, now: Instant, out: &mut Out) {
        match self.state {
            State::Screening { since } => {
                if self.utterance.is_none() && now.saturating_duration_since(since) >= HELLO_WAIT {
                    self.talk(now, out);
                } else if self.utterance.is_some_and(|started| {
                    // Still talking after the length of a greeting: a machine.
                    self.speaking && now.saturating_duration_since(started) >= self.machine_greeting
                }) {
                    self.set(
                        State::Machine {
                            since: now,
                            quiet_since: None,
                        },
                        out,
                    );
                }
            }
            State::Machine { since, quiet_since } => {
                let quiet = !self.speaking && !self.tone.in_tone();
                let quiet_since = if quiet { quiet_since.or(Some(now)) } else { None };
                self.state = State::Machine { since, quiet_since };
                let greeting_over = quiet_since.is_some_and(|q| now.saturating_duration_since(q) >= GREETING_OVER);
                if greeting_over || now.saturating_duration_since(since) >= MACHINE_MAX {
                    out.up(Frame::DropUtterance);
                    self.leave_message(out);
                }
            }
            State::Messaging | State::Talking => {}
        }
    }
}

impl Processor for Screening {
    fn process(&mut self, frame: Frame, out: &mut Out) {
        match frame {
            Frame::Answered { at } => {
                out.down(Frame::Phase(self.phase()));
                out.up(Frame::Phase(self.phase()));
                if let State::Talking = self.state {
                    out.down(Frame::StartAgent { at });
                }
                out.pass(frame);
            }
            Frame::CallerAudio { pcm, .. } => {
                let beep_ended = self.tone.push(&pcm);
                out.pass(frame);
                if beep_ended && matches!(self.state, State::Machine { .. }) {
                    self.leave_message(out);
                }
            }
            Frame::SpeechStarted { .. } => {
                self.speaking = true;
                out.pass(frame);
            }
            Frame::SpeechEnded { .. } => {
                self.speaking = false;
                out.pass(frame);
            }
            Frame::UtteranceStarted { at, .. } => {
                self.utterance = Some(at);
                out.pass(frame);
            }
            Frame::UtteranceDropped { .. } => {
                self.utterance = None;
                out.pass(frame);
            }
            Frame::UtteranceEnded { ref utterance, at } => {
                self.utterance = None;
                if !matches!(self.state, State::Talking) {
                    // Not a turn of the conversation: the processors after this one only learn
                    // that the utterance is closed.
                    out.down(Frame::UtteranceDropped { id: utterance.id });
                }
                match self.state {
                    State::Talking => out.pass(frame),
                    State::Screening { .. } => {
                        let u = utterance;
                        if !u.text.is_empty() {
                            out.down(Frame::UserLine {
                                at: u.started,
                                text: u.text.clone(),
                            });
                        }
                        if u.last_voice.saturating_duration_since(u.started) >= self.machine_greeting {
                            self.set(
                                State::Machine {
                                    since: at,
                                    quiet_since: Some(at),
                                },
                                out,
                            );
                        } else {
                            self.talk(at, out);
                        }
                    }
                    State::Machine { since, .. } => {
                        self.state = State::Machine {
                            since,
                            quiet_since: Some(at),
                        }
                    }
                    State::Messaging => {}
                }
            }
            // Keys count only in the conversation.
            Frame::Dtmf { .. } if !matches!(self.state, State::Talking) => {}
            Frame::Tick { now } => {
                self.tick(now, out);
                out.pass(frame);
            }
            other => out.pass(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Dir, Utterance};
    use crate::processors::test_util::*;
    use parley_telephony::audio::FRAME;

    fn screening(message: Option<&str>) -> (Screening, Instant) {
        let t0 = Instant::now();
        let s = Screening::new(true, t0, Duration::from_millis(2500), message.map(str::to_string));
        (s, t0)
    }

    fn said(started: Instant, ms: u64, text: &str) -> Utterance {
        Utterance {
            id: 1,
            text: text.into(),
            started,
            last_voice: started + Duration::from_millis(ms),
            ended_at: started + Duration::from_millis(ms + 400),
            stt_queue: Duration::ZERO,
            stt: Duration::ZERO,
        }
    }

    #[test]
    fn a_hello_starts_the_agent_and_is_a_line_of_the_conversation() {
        let (mut s, t0) = screening(None);
        let out = feed(&mut s, Frame::Answered { at: t0 });
        assert_eq!(out[0], (Dir::Down, Frame::Phase(Phase::Screening)));
        // The endpointer above learns it too: it waits longer while screening.
        assert_eq!(out[1], (Dir::Up, Frame::Phase(Phase::Screening)));
        let at = t0 + Duration::from_millis(900);
        let hello = Frame::UtteranceEnded {
            utterance: said(t0, 400, "Hello?"),
            at,
        };
        let out = feed(&mut s, hello);
        assert_eq!(
            out,
            [
                (Dir::Down, Frame::UtteranceDropped { id: 1 }),
                (
                    Dir::Down,
                    Frame::UserLine {
                        at: t0,
                        text: "Hello?".into()
                    }
                ),
                (Dir::Down, Frame::Phase(Phase::Talking)),
                (Dir::Up, Frame::Phase(Phase::Talking)),
                (Dir::Down, Frame::StartAgent { at }),
            ]
        );
        // From now on the caller's turns go on to the agent.
        let next = Frame::UtteranceEnded {
            utterance: said(at, 400, "Yes."),
            at,
        };
        assert_eq!(feed(&mut s, next.clone()), [(Dir::Down, next)]);
    }

    #[test]
    fn nobody_saying_hello_starts_the_agent_after_a_wait() {
        let (mut s, t0) = screening(None);
        let tick = |ms| Frame::Tick {
            now: t0 + Duration::from_millis(ms),
        };
        assert_eq!(feed(&mut s, tick(1480)).len(), 1);
        let out = feed(&mut s, tick(1500));
        assert!(out.contains(&(
            Dir::Down,
            Frame::StartAgent {
                at: t0 + Duration::from_millis(1500)
            }
        )));
    }

    #[test]
    fn a_long_greeting_then_quiet_leaves_the_message() {
        let (mut s, t0) = screening(Some("Please call us back."));
        feed(&mut s, Frame::UtteranceStarted { id: 1, at: t0 });
        feed(&mut s, Frame::SpeechStarted { at: t0, frames_ago: 1 });
        let out = feed(
            &mut s,
            Frame::Tick {
                now: t0 + Duration::from_millis(2500),
            },
        );
        assert_eq!(
            out[0],
            (Dir::Down, Frame::Phase(Phase::Machine)),
            "still talking: a machine"
        );
        feed(
            &mut s,
            Frame::SpeechEnded {
                last_voice: t0 + Duration::from_secs(4),
                frames_ago: 6,
            },
        );
        let end = t0 + Duration::from_millis(4500);
        feed(
            &mut s,
            Frame::UtteranceEnded {
                utterance: said(t0, 4000, "Hi, you've reached Erin."),
                at: end,
            },
        );
        let mut left = None;
        for i in 0..200u32 {
            let out = feed(&mut s, Frame::Tick { now: end + FRAME * i });
            if out.iter().any(|(_, f)| matches!(f, Frame::LeaveMessage { .. })) {
                assert!(out.contains(&(Dir::Up, Frame::DropUtterance)));
                left = Some(i);
                break;
            }
        }
        // 2.5 s of quiet after the greeting.
        assert_eq!(left, Some(125));
    }

    #[test]
    fn a_beep_leaves_the_message_at_once_and_no_message_hangs_up() {
        let (mut s, t0) = screening(None);
        s.state = State::Machine {
            since: t0,
            quiet_since: None,
        };
        let mut audio = crate::tone::beep(300);
        audio.extend(vec![0i16; 320]);
        let outs: Vec<_> = parley_telephony::audio::frames(&audio)
            .flat_map(|pcm| feed(&mut s, Frame::CallerAudio { pcm, at: t0 }))
            .filter(|(_, f)| !matches!(f, Frame::CallerAudio { .. }))
            .collect();
        assert_eq!(
            outs,
            [
                (Dir::Down, Frame::Phase(Phase::Messaging)),
                (Dir::Up, Frame::Phase(Phase::Messaging)),
                (
                    Dir::Down,
                    Frame::Do(Effect::End(CallEnd::Voicemail { message_left: false }))
                ),
            ]
        );
    }
}
