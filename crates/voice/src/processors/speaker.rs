//! The speaker: the agent's text to speech, sentence by sentence, in order.
//!
//! The processor drops what belongs to a stale turn and hands the rest to the speaker task
//! (`pipeline::speech_link::spawn_speaker`) in the agent's order; the task has each sentence
//! synthesized through the call's text-to-speech session (the first is sent to the caller
//! before the rest are ready) and hands back the audio, and the markers in their place after
//! it (so a hang-up plays after the goodbye).

use crate::agent::AgentOutput;
use crate::frame::{Effect, Frame, Marker, Out, Processor, SpeakerJob};
use crate::pipeline::CallNote;

#[derive(Default)]
pub struct Speaker {
    turn: u64,
}

impl Processor for Speaker {
    fn process(&mut self, frame: Frame, out: &mut Out) {
        match frame {
            Frame::NewTurn { turn, .. } | Frame::Superseded { turn } => {
                self.turn = turn;
                out.pass(frame);
            }
            Frame::AgentText { turn, text, fixed } if turn == self.turn => {
                out.down(Frame::Do(Effect::Speak {
                    turn,
                    job: SpeakerJob::Say { text, fixed },
                }));
            }
            Frame::AgentControl { turn, out: o } if turn == self.turn => {
                let marker = match o {
                    AgentOutput::Say { text, fixed } => {
                        let job = SpeakerJob::Say { text, fixed };
                        return out.down(Frame::Do(Effect::Speak { turn, job }));
                    }
                    AgentOutput::ActionFailed { action, error } => {
                        return out.down(Frame::Do(Effect::Note(CallNote::ActionFailed { action, error })));
                    }
                    AgentOutput::Listen => Marker::Listen,
                    AgentOutput::Hangup => Marker::Hangup,
                    AgentOutput::Transfer { phone_number } => Marker::Transfer(phone_number),
                };
                out.down(Frame::Do(Effect::Speak {
                    turn,
                    job: SpeakerJob::Mark(marker),
                }));
            }
            // A stale turn's output.
            Frame::AgentText { .. } | Frame::AgentControl { .. } => {}
            other => out.pass(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Dir;
    use crate::processors::test_util::*;

    #[test]
    fn the_current_turns_words_go_to_the_speaker_and_stale_ones_nowhere() {
        let mut s = Speaker::default();
        feed(&mut s, Frame::Superseded { turn: 2 });
        let say = |turn| Frame::AgentText {
            turn,
            text: "Hi.".into(),
            fixed: true,
        };
        assert_eq!(feed(&mut s, say(1)), []);
        assert_eq!(
            feed(&mut s, say(2)),
            [(
                Dir::Down,
                Frame::Do(Effect::Speak {
                    turn: 2,
                    job: SpeakerJob::Say {
                        text: "Hi.".into(),
                        fixed: true
                    }
                })
            )]
        );
        let listen = Frame::AgentControl {
            turn: 2,
            out: AgentOutput::Listen,
        };
        assert_eq!(
            feed(&mut s, listen),
            [(
                Dir::Down,
                Frame::Do(Effect::Speak {
                    turn: 2,
                    job: SpeakerJob::Mark(Marker::Listen)
                })
            )]
        );
    }
}
