//! The playback pacer: the agent's audio out, one 20 ms frame per tick of the call's clock.
//!
//! Wraps the [`Playback`] queue: the current turn's sentences and markers in, a frame per
//! tick out (silence when nothing plays), paused and resumed by the barge-in judge and cleared
//! by a new turn. It tells the processors before it when the agent's floor changes (the judge
//! needs it to tell over-talk from a turn) and when the agent's turn ends with a listen.

use crate::frame::{Effect, Floor, Frame, Marker, Out, Phase, Processor};
use crate::pipeline::{CallEnd, CallNote};
use crate::playback::{Playback, Played};

pub struct Pacer {
    playback: Playback<Marker>,
    played: Vec<Played<Marker>>,
    turn: u64,
    phase: Phase,
    /// The current turn's end (listen, hang up, transfer) is not queued yet.
    turn_open: bool,
    /// A sentence of the current turn has started playing.
    spoke: bool,
    floor: Floor,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer {
            playback: Playback::default(),
            played: vec![],
            turn: 0,
            phase: Phase::Screening,
            turn_open: false,
            spoke: false,
            floor: Floor::default(),
        }
    }
}

impl Pacer {
    fn floor(&self) -> Floor {
        let has_audio = self.playback.has_audio();
        Floor {
            speaking: self.playback.is_speaking(),
            has_audio,
            holds: has_audio || (self.turn_open && self.spoke),
        }
    }

    fn tick(&mut self, now: tokio::time::Instant, out: &mut Out) {
        self.played.clear();
        let pcm = self.playback.next_frame(&mut self.played);
        out.down(Frame::AgentFrame { pcm });
        for p in self.played.drain(..) {
            match p {
                Played::SentenceStarted { turn, text } => {
                    self.spoke |= turn == self.turn;
                    out.down(Frame::SentenceStarted { turn, text, at: now });
                }
                Played::Marker { marker, .. } => match marker {
                    Marker::Listen => out.up(Frame::Listening { at: now }),
                    Marker::Hangup => {
                        let end = match self.phase {
                            Phase::Messaging => CallEnd::Voicemail { message_left: true },
                            _ => CallEnd::AgentHungUp,
                        };
                        out.down(Frame::Do(Effect::End(end)));
                    }
                    Marker::Transfer(n) => {
                        out.down(Frame::Do(Effect::Note(CallNote::Transferring {
                            phone_number: n.clone(),
                        })));
                        out.down(Frame::Do(Effect::Transfer(n)));
                    }
                },
            }
        }
    }
}

impl Processor for Pacer {
    fn process(&mut self, frame: Frame, out: &mut Out) {
        match frame {
            Frame::Phase(p) => {
                self.phase = p;
                out.pass(frame);
            }
            Frame::NewTurn { turn, .. } | Frame::Superseded { turn } => {
                if self.playback.has_audio() {
                    // What the carrier still buffers of the old turn must go too (barge-in).
                    out.down(Frame::Do(Effect::ClearLine));
                }
                self.playback.clear();
                self.turn = turn;
                self.turn_open = matches!(frame, Frame::NewTurn { .. });
                self.spoke = false;
                out.pass(frame);
            }
            Frame::AgentAudio {
                turn,
                text,
                pcm,
                work,
                ready_at,
            } => {
                if turn == self.turn {
                    self.playback.push_audio(turn, pcm, text);
                    out.down(Frame::SentenceQueued { turn, ready_at, work });
                }
            }
            Frame::AgentMarker { turn, marker } => {
                if turn == self.turn {
                    self.playback.push_marker(turn, marker);
                    self.turn_open = false;
                }
            }
            Frame::Pause => self.playback.pause(),
            Frame::Resume => self.playback.resume(),
            Frame::Tick { now } => {
                self.tick(now, out);
                out.pass(frame);
            }
            other => out.pass(other),
        }
        let floor = self.floor();
        if floor != self.floor {
            self.floor = floor;
            out.up(Frame::Floor(floor));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Dir;
    use crate::processors::test_util::*;
    use std::time::Duration;
    use tokio::time::Instant;

    fn audio(turn: u64, frames: usize) -> Frame {
        Frame::AgentAudio {
            turn,
            text: format!("{frames} frames"),
            pcm: vec![100i16; frames * 160].into(),
            work: Duration::ZERO,
            ready_at: Instant::now(),
        }
    }

    fn floors(out: &[(Dir, Frame)]) -> Vec<Floor> {
        out.iter()
            .filter_map(|(d, f)| match f {
                Frame::Floor(fl) if *d == Dir::Up => Some(*fl),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_agent_holds_the_floor_between_its_sentences_until_its_turn_ends() {
        let mut p = Pacer::default();
        feed(&mut p, Frame::Phase(Phase::Talking));
        feed(
            &mut p,
            Frame::NewTurn {
                turn: 1,
                at: Instant::now(),
                heard: None,
            },
        );
        let out = feed(&mut p, audio(1, 2));
        assert_eq!(
            floors(&out),
            [Floor {
                speaking: true,
                has_audio: true,
                holds: true
            }]
        );
        let now = Instant::now();
        let out = feed(&mut p, Frame::Tick { now });
        assert!(matches!(&out[0].1, Frame::AgentFrame { pcm } if pcm[0] == 100));
        assert!(matches!(&out[1].1, Frame::SentenceStarted { turn: 1, .. }));
        let out = feed(&mut p, Frame::Tick { now });
        // The sentence is over; the next is still being synthesized: the agent holds the floor.
        assert_eq!(
            floors(&out),
            [Floor {
                speaking: false,
                has_audio: false,
                holds: true
            }]
        );
        // Its turn ends with a listen: the floor is the caller's once the listen has played.
        assert_eq!(
            floors(&feed(
                &mut p,
                Frame::AgentMarker {
                    turn: 1,
                    marker: Marker::Listen
                }
            )),
            [Floor::default()]
        );
        let out = feed(&mut p, Frame::Tick { now });
        assert!(out.contains(&(Dir::Up, Frame::Listening { at: now })));
    }

    #[test]
    fn pause_keeps_the_place_and_a_new_turn_drops_the_stale_reply() {
        let mut p = Pacer::default();
        feed(&mut p, Frame::Superseded { turn: 4 });
        feed(&mut p, audio(3, 5));
        let now = Instant::now();
        let silent = |out: &[(Dir, Frame)]| matches!(&out[0].1, Frame::AgentFrame { pcm } if pcm[0] == 0);
        assert!(
            silent(&feed(&mut p, Frame::Tick { now })),
            "a stale turn's audio is dropped"
        );
        feed(&mut p, audio(4, 5));
        feed(&mut p, Frame::Pause);
        assert!(silent(&feed(&mut p, Frame::Tick { now })));
        feed(&mut p, Frame::Resume);
        assert!(matches!(
            &feed(&mut p, Frame::Tick { now })[1].1,
            Frame::SentenceStarted { .. }
        ));
        let out = feed(&mut p, Frame::Superseded { turn: 5 });
        assert!(
            out.contains(&(Dir::Down, Frame::Do(Effect::ClearLine))),
            "audio was queued: the carrier's copy is cleared too"
        );
        assert!(silent(&feed(&mut p, Frame::Tick { now })));
        let out = feed(&mut p, Frame::Superseded { turn: 6 });
        assert!(
            !out.contains(&(Dir::Down, Frame::Do(Effect::ClearLine))),
            "nothing queued, nothing to clear"
        );
    }
}
