//! Barge-in and backchannels: caller speech over the agent.
//!
//! Caller speech that starts while the agent holds the floor silences the agent at once (the
//! judge pauses playback as soon as the barge-in gate says the speech is the caller's own voice,
//! [`Frame::CallerVoice`], within 100 ms of its onset; a cough, a door or a voice behind the
//! caller never gets that far), and is then judged: speech that outlasts a
//! backchannel (`backchannel_max`) interrupts the agent and drops its stale reply; a short one
//! followed by quiet is a backchannel if its words are acknowledgements ("mhm", "yeah"), and the
//! agent carries on from where it paused; short words that are not ("Sorry, wait") interrupt
//! after all. A backchannel is no turn: the endpointer holds the utterance while it is judged
//! and drops it after.
//!
//! Speech over the agent that the gate does not pass (a voice behind the caller, a cough) is
//! held too, without pausing the agent: the endpointer waits while it lasts, and it is dropped
//! when it ends, so a television's words never become the caller's turn. If the agent's floor
//! has ended by then, it is let through as a turn like any speech into the agent's silence.
//!
//! The agent holds the floor from the first sentence of its turn until the turn's end is
//! queued, gaps included: caller speech between two sentences (the next one still being
//! synthesized) is over-talk too, not an answer.
//!
//! Over-talk is measured in media time (caller frames since its onset), not on the wall clock:
//! a loaded machine delivers the caller's frames late and in bursts, and a "yeah" must not grow
//! into an interruption while its frames are in transit.
//!
//! A backchannel's words are not thrown away at once: if the caller's next utterance starts
//! within [`GO_ON_WINDOW`] of the verdict, it was the caller going on after a comma ("Yes, I can
//! make it.": Piper pauses 300-440 ms there, past the 250 ms the verdict waits), and the turn
//! gets the words back in front ("Yes. I can make it."). Without them, a "yes" to the agent's
//! question was heard as "I can make it." or, worse, "But only in the morning."

use crate::frame::{Effect, Floor, Frame, Out, Phase, Processor};
use parley_telephony::audio::FRAME;
use std::time::Duration;

/// Quiet after a short over-talk (counted from its last voiced frame) before it is judged: a
/// backchannel if its words are backchannel words, else an interruption.
const BACKCHANNEL_QUIET: Duration = Duration::from_millis(250);

/// An utterance starting this soon after a backchannel verdict (caller frames up to the VAD's
/// onset decision) carries the backchannel's words in front of its own.
const GO_ON_WINDOW: Duration = Duration::from_millis(600);

pub struct BargeJudge {
    /// Caller speech over the agent no longer than this is a backchannel, not a barge-in.
    backchannel_max: Duration,
    phase: Phase,
    floor: Floor,
    speaking: bool,
    /// The barge-in gate said the speech in progress is the caller's voice.
    voice: bool,
    /// Speech over the agent the gate has not passed: held (the endpointer waits), dropped
    /// at its end.
    held: bool,
    /// Caller frames since the onset of their current speech.
    speech_frames: u32,
    /// Over-talk being judged: caller frames since its onset...
    barge: Option<u32>,
    /// ...and since it went quiet (set once it stopped short enough to be a backchannel).
    quiet: Option<u32>,
    /// The open utterance, and its latest transcript.
    utterance: Option<u64>,
    heard: Option<String>,
    /// The words of the last backchannel, and caller frames since its verdict...
    acknowledged: Option<(String, u32)>,
    /// ...given to this utterance, which started soon after it.
    going_on: Option<(u64, String)>,
    pub barge_ins: u32,
    pub backchannels: u32,
}

impl BargeJudge {
    pub fn new(backchannel_max: Duration) -> Self {
        BargeJudge {
            backchannel_max,
            phase: Phase::Screening,
            floor: Floor::default(),
            speaking: false,
            voice: false,
            held: false,
            speech_frames: 0,
            barge: None,
            quiet: None,
            utterance: None,
            heard: None,
            acknowledged: None,
            going_on: None,
            barge_ins: 0,
            backchannels: 0,
        }
    }

    /// Over-talk begins: silence the agent now; decide shortly.
    fn open(&mut self, frames: u32, out: &mut Out) {
        self.held = false;
        self.barge = Some(frames);
        self.quiet = None;
        out.down(Frame::Pause);
        out.up(Frame::Judging(true));
    }

    fn tick(&mut self, out: &mut Out) {
        // Never start talking over the caller: a sentence that begins while the caller speaks
        // waits, judged like any over-talk (from the onset of the caller's speech).
        if self.speaking && self.voice && self.barge.is_none() && self.floor.speaking && self.phase == Phase::Talking {
            self.open(self.speech_frames, out);
        }
        let Some(frames) = self.barge else { return };
        let mut interrupt = false;
        if let Some(q) = self.quiet {
            let heard = match self.utterance {
                Some(_) => self.heard.clone(),
                None => Some(String::new()),
            };
            if let (false, true, Some(text)) = (self.speaking, FRAME * q >= BACKCHANNEL_QUIET, heard) {
                if is_backchannel(&text) {
                    self.acknowledged = Some((text, 0)).filter(|(t, _)| !t.trim().is_empty());
                    self.backchannels += 1;
                    self.barge = None;
                    self.quiet = None;
                    out.down(Frame::Resume);
                    out.up(Frame::Backchannel);
                    return;
                }
                // Short, but words ("Sorry, wait"): an interruption after all.
                interrupt = true;
            }
        }
        let voiced = frames.saturating_sub(self.quiet.unwrap_or(0));
        if interrupt || FRAME * voiced > self.backchannel_max {
            self.barge_ins += 1;
            self.barge = None;
            self.quiet = None;
            out.down(Frame::Interruption);
            out.up(Frame::Judging(false));
        }
    }
}

impl Processor for BargeJudge {
    fn process(&mut self, frame: Frame, out: &mut Out) {
        match frame {
            Frame::Phase(p) => {
                self.phase = p;
                out.pass(frame);
            }
            Frame::Floor(f) => {
                self.floor = f;
                out.pass(frame);
            }
            Frame::CallerAudio { .. } => {
                if let Some((_, n)) = self.acknowledged.as_mut() {
                    *n += 1;
                }
                if let Some(b) = self.barge.as_mut() {
                    *b += 1;
                }
                if let Some(q) = self.quiet.as_mut() {
                    *q += 1;
                }
                if self.speaking {
                    self.speech_frames += 1;
                }
                out.pass(frame);
            }
            Frame::UtteranceStarted { id, .. } => {
                self.utterance = Some(id);
                self.heard = None;
                // Counted to the VAD's onset decision, a few frames after the first word began.
                self.going_on = self
                    .acknowledged
                    .take()
                    .filter(|(_, n)| FRAME * *n <= GO_ON_WINDOW)
                    .map(|(text, _)| (id, text));
                out.pass(frame);
            }
            Frame::UtteranceEnded { mut utterance, at } => {
                self.utterance = None;
                self.heard = None;
                if let Some((_, before)) = self.going_on.take().filter(|(id, _)| *id == utterance.id) {
                    if !utterance.text.is_empty() {
                        utterance.text = format!("{} {}", before.trim(), utterance.text);
                    }
                }
                out.pass(Frame::UtteranceEnded { utterance, at });
            }
            Frame::UtteranceDropped { id } => {
                self.utterance = None;
                self.heard = None;
                self.going_on = self.going_on.take().filter(|(g, _)| *g != id);
                out.pass(frame);
            }
            Frame::Transcript { utterance, ref text } => {
                if self.utterance == Some(utterance) {
                    self.heard = Some(text.clone());
                }
                out.pass(frame);
            }
            Frame::SpeechStarted { frames_ago, .. } => {
                self.speaking = true;
                self.speech_frames = frames_ago + 1;
                self.heard = None;
                // The caller went on: not quiet any more (the over-talk keeps its onset).
                self.quiet = None;
                out.pass(frame);
                if self.barge.is_none() && !self.held && self.floor.holds && self.phase == Phase::Talking {
                    // Not the caller's voice yet (the gate decides within 100 ms): the agent
                    // goes on, and the utterance waits for the verdict.
                    self.held = true;
                    out.up(Frame::Judging(true));
                }
            }
            Frame::CallerVoice { .. } => {
                self.voice = true;
                out.pass(frame);
                if self.barge.is_none() && self.floor.holds && self.phase == Phase::Talking {
                    self.open(self.speech_frames, out);
                }
            }
            Frame::SpeechEnded { frames_ago, .. } => {
                self.speaking = false;
                self.voice = false;
                if std::mem::take(&mut self.held) {
                    // Never the caller's voice: noise or a voice behind them, over the agent.
                    if self.floor.holds {
                        out.up(Frame::DropUtterance);
                    } else {
                        out.up(Frame::Judging(false));
                    }
                }
                self.heard = None;
                if let Some(b) = self.barge {
                    if FRAME * b.saturating_sub(frames_ago) <= self.backchannel_max {
                        // Short so far: a backchannel if the caller now stays quiet and said
                        // a backchannel word (decided on a tick, once the transcription asked
                        // for at this stop is back). Longer: the next tick interrupts.
                        self.quiet = Some(frames_ago);
                    }
                }
                out.pass(frame);
            }
            Frame::Do(Effect::Transcribe {
                utterance,
                samples,
                pcm,
                context,
                ..
            }) if self.quiet.is_some() => {
                // Not primed with the agent's words for a short over-talk: primed, Whisper
                // turns a lone "mhm" into words of the prompt.
                out.pass(Frame::Do(Effect::Transcribe {
                    utterance,
                    samples,
                    pcm,
                    primed: false,
                    context,
                }));
            }
            Frame::Tick { .. } => {
                self.tick(out);
                out.pass(frame);
            }
            other => out.pass(other),
        }
    }
}

/// Whether a short over-talk's words are an acknowledgement ("mhm", "yeah", "okay, right"),
/// which lets the agent carry on, rather than the start of something the caller wants to say.
fn is_backchannel(text: &str) -> bool {
    const WORDS: [&str; 22] = [
        "m", "h", "mm", "mhm", "hmm", "mm-hmm", "uh-huh", "uh", "huh", "ah", "yeah", "yes", "yep", "yup", "ok", "okay",
        "right", "sure", "alright", "i", "see", "gotcha",
    ];
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '.' || c == '!' || c == '?')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect();
    words.len() <= 4 && words.iter().all(|w| WORDS.contains(&w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Dir, Utterance};
    use crate::processors::test_util::*;
    use std::sync::Arc;
    use tokio::time::Instant;

    #[test]
    fn backchannels_are_acknowledgements_only() {
        for b in ["Mhm.", "M. H. M.", "Yeah.", "Okay, right.", "Uh-huh", ""] {
            assert!(is_backchannel(b), "{b}");
        }
        for n in ["Sorry,", "Wait.", "No.", "Stop", "Yeah, but wait a second"] {
            assert!(!is_backchannel(n), "{n}");
        }
    }

    const HOLDS: Floor = Floor {
        speaking: true,
        has_audio: true,
        holds: true,
    };

    /// A judge in conversation, the agent holding the floor as given.
    fn judge(floor: Floor) -> BargeJudge {
        let mut j = BargeJudge::new(Duration::from_millis(700));
        feed(&mut j, Frame::Phase(Phase::Talking));
        feed_up(&mut j, Frame::Floor(floor));
        j
    }

    /// Feeds `n` caller frames (with a tick after each); returns the new frames.
    fn frames(j: &mut BargeJudge, n: usize) -> Vec<(Dir, Frame)> {
        let now = Instant::now();
        let mut out = vec![];
        for _ in 0..n {
            let audio = Frame::CallerAudio { pcm: [0; 160], at: now };
            out.extend(new_frames(feed(j, audio.clone()), &audio));
            let tick = Frame::Tick { now };
            out.extend(new_frames(feed(j, tick.clone()), &tick));
        }
        out
    }

    /// Speech starts, and the gate says it is the caller's voice: what that verdict brought.
    fn start(j: &mut BargeJudge) -> Vec<(Dir, Frame)> {
        speech(j);
        let f = Frame::CallerVoice { at: Instant::now() };
        new_frames(feed(j, f.clone()), &f)
    }

    /// Speech starts (the gate has not opened).
    fn speech(j: &mut BargeJudge) -> Vec<(Dir, Frame)> {
        let f = Frame::SpeechStarted {
            at: Instant::now(),
            frames_ago: 1,
        };
        new_frames(feed(j, f.clone()), &f)
    }

    fn end(j: &mut BargeJudge) {
        feed(
            j,
            Frame::SpeechEnded {
                last_voice: Instant::now(),
                frames_ago: 6,
            },
        );
    }

    #[test]
    fn speech_over_the_agent_silences_it_at_once() {
        let mut j = judge(HOLDS);
        assert_eq!(
            start(&mut j),
            [(Dir::Down, Frame::Pause), (Dir::Up, Frame::Judging(true))]
        );
        // Not when the agent has no floor (it listens): that speech is a turn.
        let mut j = judge(Floor::default());
        assert_eq!(start(&mut j), []);
    }

    #[test]
    fn speech_the_gate_did_not_pass_leaves_the_agent_talking() {
        // A cough, a door, a voice behind the caller: VAD's speech, never the caller's voice.
        // The endpointer holds the utterance meanwhile, and drops it at its end: no turn.
        let mut j = judge(HOLDS);
        assert_eq!(speech(&mut j), [(Dir::Up, Frame::Judging(true))]);
        assert_eq!(frames(&mut j, 60), []);
        let f = Frame::SpeechEnded {
            last_voice: Instant::now(),
            frames_ago: 6,
        };
        assert_eq!(
            new_frames(feed(&mut j, f.clone()), &f),
            [(Dir::Up, Frame::DropUtterance)]
        );
        assert_eq!(frames(&mut j, 20), []);
        assert_eq!((j.backchannels, j.barge_ins), (0, 0));
        // If the agent's floor ended meanwhile, the speech is let through as a turn.
        let mut j = judge(HOLDS);
        speech(&mut j);
        feed_up(&mut j, Frame::Floor(Floor::default()));
        assert_eq!(
            new_frames(feed(&mut j, f.clone()), &f),
            [(Dir::Up, Frame::Judging(false))]
        );
        // Nor does it hold back a sentence that starts while it goes on.
        let mut j = judge(Floor::default());
        speech(&mut j);
        feed_up(&mut j, Frame::Floor(HOLDS));
        assert_eq!(frames(&mut j, 10), []);
    }

    #[test]
    fn a_short_yeah_then_quiet_is_a_backchannel() {
        let mut j = judge(HOLDS);
        feed(
            &mut j,
            Frame::UtteranceStarted {
                id: 3,
                at: Instant::now(),
            },
        );
        start(&mut j);
        assert_eq!(frames(&mut j, 20), []);
        end(&mut j);
        // Its transcription request is not primed with the agent's words.
        let ask = Frame::Do(Effect::Transcribe {
            utterance: 3,
            samples: 100,
            pcm: Arc::new(vec![]),
            primed: true,
            context: String::new(),
        });
        assert!(matches!(
            feed(&mut j, ask)[0].1,
            Frame::Do(Effect::Transcribe { primed: false, .. })
        ));
        // 250 ms of quiet (6 frames of VAD hangover already): waits for the words too.
        assert_eq!(frames(&mut j, 20), []);
        feed(
            &mut j,
            Frame::Transcript {
                utterance: 3,
                text: "Yeah.".into(),
            },
        );
        assert_eq!(
            frames(&mut j, 1),
            [(Dir::Down, Frame::Resume), (Dir::Up, Frame::Backchannel)]
        );
        assert_eq!((j.backchannels, j.barge_ins), (1, 0));
    }

    /// A "Yes." judged a backchannel, then `gap` caller frames, then the next utterance (id 4)
    /// heard as "I can make it.": the text that utterance ends with, as passed down.
    fn go_on_after(gap: usize) -> String {
        let mut j = judge(HOLDS);
        let started = |id| Frame::UtteranceStarted { id, at: Instant::now() };
        feed(&mut j, started(3));
        start(&mut j);
        frames(&mut j, 15);
        end(&mut j);
        feed(
            &mut j,
            Frame::Transcript {
                utterance: 3,
                text: "Yes.".into(),
            },
        );
        let verdict = frames(&mut j, 20);
        assert!(verdict.contains(&(Dir::Up, Frame::Backchannel)), "{verdict:?}");
        feed(&mut j, Frame::UtteranceDropped { id: 3 });
        frames(&mut j, gap);
        feed(&mut j, started(4));
        let now = Instant::now();
        let utterance = Utterance {
            id: 4,
            text: "I can make it.".into(),
            started: now,
            last_voice: now,
            ended_at: now,
            stt_queue: Duration::ZERO,
            stt: Duration::ZERO,
        };
        let out = feed(&mut j, Frame::UtteranceEnded { utterance, at: now });
        match &out[..] {
            [(Dir::Down, Frame::UtteranceEnded { utterance, .. })] => utterance.text.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_caller_going_on_after_a_backchannel_keeps_its_words() {
        // "Yes, I can make it.": the words after the comma start soon after the verdict.
        assert_eq!(go_on_after(5), "Yes. I can make it.");
        // A second later it is a new thing to say.
        assert_eq!(go_on_after(50), "I can make it.");
    }

    #[test]
    fn short_words_that_are_not_acknowledgements_interrupt() {
        let mut j = judge(HOLDS);
        feed(
            &mut j,
            Frame::UtteranceStarted {
                id: 1,
                at: Instant::now(),
            },
        );
        start(&mut j);
        frames(&mut j, 15);
        end(&mut j);
        feed(
            &mut j,
            Frame::Transcript {
                utterance: 1,
                text: "Sorry, wait.".into(),
            },
        );
        let out = frames(&mut j, 7);
        assert_eq!(
            out,
            [(Dir::Down, Frame::Interruption), (Dir::Up, Frame::Judging(false))]
        );
        assert_eq!((j.backchannels, j.barge_ins), (0, 1));
    }

    #[test]
    fn speech_longer_than_a_backchannel_interrupts_by_its_audio_not_the_clock() {
        let mut j = judge(HOLDS);
        start(&mut j);
        // Ticks without caller frames (a stalled network) do not lengthen it...
        for _ in 0..100 {
            feed(&mut j, Frame::Tick { now: Instant::now() });
        }
        assert_eq!(j.barge_ins, 0);
        // ...its frames do: 700 ms of them (onset included) is still a backchannel's length.
        assert_eq!(frames(&mut j, 33), []);
        assert_eq!(
            frames(&mut j, 1),
            [(Dir::Down, Frame::Interruption), (Dir::Up, Frame::Judging(false))]
        );
    }

    #[test]
    fn a_sentence_starting_while_the_caller_speaks_waits() {
        let mut j = judge(Floor::default());
        start(&mut j);
        frames(&mut j, 10);
        // The agent's next sentence starts playing: paused at the next tick.
        let out = feed_up(&mut j, Frame::Floor(HOLDS));
        assert_eq!(out.len(), 1);
        let out = frames(&mut j, 1);
        assert_eq!(out, [(Dir::Down, Frame::Pause), (Dir::Up, Frame::Judging(true))]);
        // Judged from the caller's onset (13 frames in): 700 ms of their speech is a backchannel's most.
        assert_eq!(frames(&mut j, 22), []);
        assert_eq!(frames(&mut j, 1)[0], (Dir::Down, Frame::Interruption));
    }
}
