//! The order of a cloud text-to-speech session's audio, sans I/O.
//!
//! Why: a vendor with per-turn contexts (ElevenLabs' multi-context socket, Cartesia's contexts)
//! generates several contexts at once and interleaves their audio on one connection, while a
//! session promises audio in the order of the text. So each of Parley's turns maps to one or
//! more *segments* (one vendor context each: a turn flushed twice, or a Cartesia context that
//! expired, needs a fresh one), kept in the order their text arrived. The head segment's audio
//! goes out at once; a later segment's waits until every segment before it is finished. A
//! segment's `Done` follows its vendor's end of the context when Parley flushed it.

use crate::session::{EngineTiming, TtsEvent};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One of Parley's sentences as sent to the vendor.
pub(crate) struct Sentence {
    pub text: String,
    sent: Instant,
}

struct Segment {
    context: u64,
    vendor: String,
    sentences: Vec<Sentence>,
    /// Sentences whose first audio went out.
    announced: usize,
    /// Parley flushed it: a `Done` follows the vendor's end.
    flushed: bool,
    /// The vendor ended it (or it was retired): no more audio comes.
    finished: bool,
    /// Events waiting for the segments before this one.
    held: Vec<TtsEvent>,
}

/// Where a sentence went: its vendor context, and whether that context is new.
pub(crate) struct Placed {
    pub vendor: String,
    pub new: bool,
}

#[derive(Default)]
pub(crate) struct Order {
    segments: VecDeque<Segment>,
    /// Makes vendor context ids unique within the connection.
    generation: u64,
    out: Vec<TtsEvent>,
}

impl Order {
    /// Adds a sentence of `context` to its open segment, or to a new one.
    pub fn text(&mut self, context: u64, text: String) -> Placed {
        let now = Instant::now();
        if let Some(s) = self.open_mut(context) {
            s.sentences.push(Sentence { text, sent: now });
            return Placed {
                vendor: s.vendor.clone(),
                new: false,
            };
        }
        self.generation += 1;
        let vendor = format!("parley-{context}-{}", self.generation);
        self.segments.push_back(Segment {
            context,
            vendor: vendor.clone(),
            sentences: vec![Sentence { text, sent: now }],
            announced: 0,
            flushed: false,
            finished: false,
            held: Vec::new(),
        });
        Placed { vendor, new: true }
    }

    /// Parley flushed `context`: the vendor context to end, if one is open. With none (a flush
    /// without text), its `Done` comes in turn after the audio before it.
    pub fn flush(&mut self, context: u64) -> Option<String> {
        if let Some(s) = self.open_mut(context) {
            s.flushed = true;
            return Some(s.vendor.clone());
        }
        self.segments.push_back(Segment {
            context,
            vendor: String::new(),
            sentences: Vec::new(),
            announced: 0,
            flushed: true,
            finished: true,
            held: Vec::new(),
        });
        self.advance();
        None
    }

    /// Drops `context`'s segments and any audio held for them; the vendor contexts still
    /// generating (to cancel there), each with whether Parley already flushed it. Their later
    /// audio is ignored (unknown vendor ids).
    pub fn cancel(&mut self, context: u64) -> Vec<(String, bool)> {
        let live = self
            .segments
            .iter()
            .filter(|s| s.context == context && !s.finished)
            .map(|s| (s.vendor.clone(), s.flushed))
            .collect();
        self.segments.retain(|s| s.context != context);
        self.advance();
        live
    }

    /// Audio of a vendor context; `begins` names the sentence it starts, if the vendor says.
    /// The first audio of a segment begins its first sentence either way.
    pub fn audio(&mut self, vendor: &str, begins: Option<usize>, pcm: Vec<i16>) {
        if pcm.is_empty() {
            return;
        }
        let Some(i) = self.find(vendor) else { return };
        let s = &mut self.segments[i];
        let begins = begins.or((s.announced == 0).then_some(0));
        let (text, work) = match begins {
            Some(k) if k >= s.announced && k < s.sentences.len() => {
                s.announced = k + 1;
                (s.sentences[k].text.clone(), s.sentences[k].sent.elapsed())
            }
            _ => (String::new(), Duration::ZERO),
        };
        let event = TtsEvent::Audio {
            context: s.context,
            text,
            pcm: pcm.into(),
            timing: EngineTiming {
                queue: Duration::ZERO,
                work,
            },
        };
        if i == 0 {
            self.out.push(event);
        } else {
            s.held.push(event);
        }
    }

    /// The vendor ended a context (or it is retired: no more audio will come for it).
    pub fn finished(&mut self, vendor: &str) {
        if let Some(i) = self.find(vendor) {
            self.segments[i].finished = true;
            self.advance();
        }
    }

    /// The sentences sent on a vendor context, if it is still wanted.
    pub fn sentences(&self, vendor: &str) -> Option<&[Sentence]> {
        self.find(vendor).map(|i| self.segments[i].sentences.as_slice())
    }

    /// The open (not flushed, not finished) vendor context of `context`.
    pub fn open(&self, context: u64) -> Option<&str> {
        self.segments
            .iter()
            .rev()
            .find(|s| s.context == context && !s.flushed && !s.finished)
            .map(|s| s.vendor.as_str())
    }

    /// Vendor contexts still generating or waiting for text.
    pub fn live(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter(|s| !s.finished).map(|s| s.vendor.as_str())
    }

    /// The vendor owes an answer: a flushed context's end, or a context's first audio.
    /// (An open context whose audio came may just be waiting for Parley's next sentence.)
    pub fn owed(&self) -> bool {
        self.segments
            .iter()
            .any(|s| !s.finished && (s.flushed || (s.announced == 0 && !s.sentences.is_empty())))
    }

    /// No vendor context is live: a connection closed now loses nothing.
    pub fn idle(&self) -> bool {
        self.segments.iter().all(|s| s.finished)
    }

    pub fn events(&mut self) -> Vec<TtsEvent> {
        std::mem::take(&mut self.out)
    }

    fn open_mut(&mut self, context: u64) -> Option<&mut Segment> {
        self.segments
            .iter_mut()
            .rev()
            .find(|s| s.context == context && !s.flushed && !s.finished)
    }

    fn find(&self, vendor: &str) -> Option<usize> {
        self.segments
            .iter()
            .position(|s| s.vendor == vendor && !vendor.is_empty())
    }

    /// Releases the head's held audio; pops finished heads (with their `Done` when flushed).
    fn advance(&mut self) {
        while let Some(head) = self.segments.front_mut() {
            self.out.append(&mut head.held);
            if !head.finished {
                break;
            }
            if head.flushed {
                self.out.push(TtsEvent::Done { context: head.context });
            }
            self.segments.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(events: Vec<TtsEvent>) -> Vec<String> {
        events
            .into_iter()
            .map(|e| match e {
                TtsEvent::Audio { context, text, pcm, .. } => format!("{context}:{text}:{}", pcm[0]),
                TtsEvent::Done { context } => format!("{context}:done"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_later_turns_audio_waits_for_the_turn_before_it() {
        let mut o = Order::default();
        let a = o.text(1, "One.".into()).vendor;
        assert_eq!(o.flush(1), Some(a.clone()));
        let b = o.text(2, "Two.".into());
        assert!(b.new);
        o.audio(&b.vendor, Some(0), vec![2]);
        o.audio(&a, None, vec![1]);
        assert_eq!(summary(o.events()), ["1:One.:1"]);
        o.finished(&b.vendor);
        o.audio(&a, None, vec![11]);
        o.finished(&a);
        // Turn 2 was never flushed: its audio plays, no Done.
        assert_eq!(summary(o.events()), ["1::11", "1:done", "2:Two.:2"]);
        assert!(o.idle());
    }

    #[test]
    fn a_cancel_drops_held_and_later_audio_and_releases_the_next_turn() {
        let mut o = Order::default();
        let a = o.text(1, "One.".into()).vendor;
        let b = o.text(2, "Two.".into()).vendor;
        o.flush(2);
        o.audio(&b, None, vec![2]);
        assert_eq!(o.cancel(1), vec![(a.clone(), false)]);
        o.audio(&a, None, vec![1]);
        o.finished(&b);
        assert_eq!(summary(o.events()), ["2:Two.:2", "2:done"]);
    }

    #[test]
    fn sentences_are_named_once_and_a_flush_without_text_is_done_in_turn() {
        let mut o = Order::default();
        let a = o.text(1, "One.".into()).vendor;
        assert!(!o.text(1, "Two.".into()).new);
        o.flush(1);
        assert_eq!(o.flush(1), None, "nothing open: an empty segment");
        o.audio(&a, Some(0), vec![1]);
        o.audio(&a, Some(0), vec![2]);
        o.audio(&a, Some(1), vec![3]);
        o.finished(&a);
        assert_eq!(
            summary(o.events()),
            ["1:One.:1", "1::2", "1:Two.:3", "1:done", "1:done"]
        );
        let again = o.text(1, "Three.".into());
        assert!(
            again.new && again.vendor != a,
            "a flushed turn's next text opens a new context"
        );
    }
}
