//! The speaker: the agent's text to speech, sentence by sentence, in order.
//!
//! The processor drops what belongs to a stale turn and hands the rest to the speaker task in
//! the agent's order; the task synthesizes each sentence (the first is sent to the caller
//! before the rest are synthesized) and hands back the audio, and the markers in their place
//! after it (so a hang-up plays after the goodbye).

use crate::agent::AgentOutput;
use crate::engines::TtsService;
use crate::frame::{Effect, Frame, Marker, Out, Processor, SpeakerJob};
use crate::pipeline::CallNote;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::warn;

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

/// The speaker task: synthesizes the jobs in order and hands back frames; skips stale turns.
pub fn spawn_speaker(
    tts: TtsService,
    mut jobs: mpsc::UnboundedReceiver<(u64, SpeakerJob)>,
    current: watch::Receiver<u64>,
    back: mpsc::UnboundedSender<Frame>,
) {
    tokio::spawn(async move {
        while let Some((turn, job)) = jobs.recv().await {
            if *current.borrow() != turn {
                continue;
            }
            let frame = match job {
                SpeakerJob::Say { text, fixed } => match tts.synthesize(&text, fixed).await {
                    Ok(s) => Frame::AgentAudio {
                        turn,
                        text,
                        pcm: s.pcm,
                        work: s.work,
                        ready_at: Instant::now(),
                    },
                    Err(e) => {
                        warn!(error = %e, "text-to-speech failed; sentence skipped");
                        continue;
                    }
                },
                SpeakerJob::Mark(marker) => Frame::AgentMarker { turn, marker },
            };
            let _ = back.send(frame);
        }
    });
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
