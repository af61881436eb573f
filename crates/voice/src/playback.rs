//! The agent's outgoing audio: a queue of synthesized sentences and control markers, read one
//! 20 ms frame per clock tick.
//!
//! Items carry the turn they belong to, so a barge-in drops exactly the stale reply; a pause
//! keeps the read position, so a backchannel costs the caller nothing of the sentence.

use parley_telephony::audio::{PcmFrame, FRAME_SAMPLES};
use std::collections::VecDeque;
use std::sync::Arc;

/// What playback reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Played<M> {
    /// The first frame of a sentence was just sent.
    SentenceStarted { turn: u64, text: String },
    /// Playback reached a marker (everything queued before it has been sent).
    Marker { turn: u64, marker: M },
}

enum Item<M> {
    Audio {
        turn: u64,
        pcm: Arc<[i16]>,
        pos: usize,
        text: String,
    },
    Marker {
        turn: u64,
        marker: M,
    },
}

/// The outgoing queue.
pub struct Playback<M> {
    items: VecDeque<Item<M>>,
    paused: bool,
}

impl<M> Default for Playback<M> {
    fn default() -> Self {
        Playback {
            items: VecDeque::new(),
            paused: false,
        }
    }
}

impl<M: Clone> Playback<M> {
    pub fn push_audio(&mut self, turn: u64, pcm: Arc<[i16]>, text: String) {
        self.items.push_back(Item::Audio {
            turn,
            pcm,
            pos: 0,
            text,
        });
    }

    pub fn push_marker(&mut self, turn: u64, marker: M) {
        self.items.push_back(Item::Marker { turn, marker });
    }

    /// Whether audio is queued and not paused (the agent is talking).
    pub fn is_speaking(&self) -> bool {
        !self.paused && self.has_audio()
    }

    /// Whether any audio is queued (paused or not).
    pub fn has_audio(&self) -> bool {
        self.items.iter().any(|i| matches!(i, Item::Audio { .. }))
    }

    /// Whether nothing at all is queued, markers included.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn pause(&mut self) {
        self.paused = true;
    }

    pub fn resume(&mut self) {
        self.paused = false;
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Drops everything queued (a barge-in); returns whether any audio was dropped.
    pub fn clear(&mut self) -> bool {
        let had = self.has_audio();
        self.items.clear();
        self.paused = false;
        had
    }

    /// The next 20 ms frame (silence when nothing plays) and what happened on the way.
    pub fn next_frame(&mut self, events: &mut Vec<Played<M>>) -> PcmFrame {
        let mut frame = [0i16; FRAME_SAMPLES];
        if self.paused {
            return frame;
        }
        let mut filled = 0;
        while filled < FRAME_SAMPLES {
            match self.items.front_mut() {
                None => break,
                Some(Item::Marker { turn, marker }) => {
                    events.push(Played::Marker {
                        turn: *turn,
                        marker: marker.clone(),
                    });
                    self.items.pop_front();
                    if filled > 0 {
                        break; // a marker ends the frame: what follows it starts on the next one
                    }
                }
                Some(Item::Audio { turn, pcm, pos, text }) => {
                    // Empty text: a later piece of the sentence before it (streamed audio).
                    if *pos == 0 && !text.is_empty() {
                        events.push(Played::SentenceStarted {
                            turn: *turn,
                            text: std::mem::take(text),
                        });
                    }
                    let n = (pcm.len() - *pos).min(FRAME_SAMPLES - filled);
                    frame[filled..filled + n].copy_from_slice(&pcm[*pos..*pos + n]);
                    filled += n;
                    *pos += n;
                    if *pos >= pcm.len() {
                        self.items.pop_front();
                    }
                }
            }
        }
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plays_in_order_pauses_keep_position_and_markers_follow_audio() {
        let mut p: Playback<&str> = Playback::default();
        p.push_audio(1, vec![5i16; 200].into(), "hi".into());
        p.push_marker(1, "listen");
        let mut ev = vec![];
        let f = p.next_frame(&mut ev);
        assert_eq!(f, [5; 160]);
        assert_eq!(
            ev,
            [Played::SentenceStarted {
                turn: 1,
                text: "hi".into()
            }]
        );
        p.pause();
        assert_eq!(p.next_frame(&mut ev), [0; 160]);
        assert!(!p.is_speaking() && p.has_audio());
        p.resume();
        ev.clear();
        let f = p.next_frame(&mut ev);
        assert_eq!(&f[..40], &[5; 40]);
        assert_eq!(&f[40..], &[0; 120]);
        assert_eq!(
            ev,
            [Played::Marker {
                turn: 1,
                marker: "listen"
            }]
        );
        assert!(!p.has_audio());
    }

    #[test]
    fn clear_drops_the_stale_reply() {
        let mut p: Playback<()> = Playback::default();
        p.push_audio(2, vec![1i16; 1600].into(), "long".into());
        assert!(p.clear());
        assert_eq!(p.next_frame(&mut vec![]), [0; 160]);
    }
}
