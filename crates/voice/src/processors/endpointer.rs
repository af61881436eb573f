//! The endpointer: gathers the caller's utterance and decides when their turn is over.
//!
//! Latency design: speech-to-text starts at the VAD's stop (120 ms of quiet), speculatively,
//! while the endpointer waits; or, with [`TurnConfig::early_stt`], already when the VAD first
//! hears the caller pause ([`Frame::SpeechPaused`]). If the caller goes on, the guess is thrown
//! away (the engine drops a decode that a newer request overtakes). So by the time the turn is
//! declared over, the text is usually ready, and the turn costs the wait plus whatever of the
//! decoding did not fit in it. Over-talk being judged is transcribed at its stop, unprimed.
//!
//! How long to wait ([`TurnRule`]): by default, as long as the words so far call for (the
//! transcript rule of [`parley_speech::turn`]: a short wait after text that looks complete, a
//! longer one after a number, the ceiling after words that end mid-phrase). A fixed silence
//! window, stretched to the ceiling when the text ends mid-phrase, is the fallback setting.
//! `bench/turn_eval.sh` measured both (and Smart Turn, an audio model) on phone audio with
//! mid-sentence pauses: see `bench/README.md`.
//!
//! While an outbound call is screened for an answering machine ([`Phase::Screening`], which
//! the screening stage sends up), the wait is at least [`TurnConfig::screening_wait`]: the
//! screening tells a machine by a first utterance that goes on past a greeting's length, and a
//! machine's greeting pauses between its sentences ("Hi, you've reached Erin. I can't take your
//! call right now."). With text as quick as it is now, the 200 ms wait after a complete-looking
//! sentence ended that utterance at its first full stop, and the machine was taken for a person.

use crate::frame::{Effect, Frame, Out, Phase, Processor, Utterance};
use parley_speech::turn::{text_end, TextEnd, TurnWaits};
use parley_telephony::audio::PcmFrame;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tracing::warn;

/// How the endpointer decides that the caller's turn is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnRule {
    /// The fixed window of [`TurnConfig::window`] after the last voiced frame, stretched to the
    /// ceiling when the text so far ends mid-phrase.
    Window,
    /// The transcript rule: the wait depends on how the text so far ends (capped by the
    /// ceiling).
    Transcript(TurnWaits),
}

/// The endpointer's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnConfig {
    pub rule: TurnRule,
    /// The fixed window of [`TurnRule::Window`].
    pub window: Duration,
    /// The longest wait after the last voiced frame, whatever the text (or without it).
    pub ceiling: Duration,
    /// The quiet after which speech-to-text starts, before the VAD's stop (zero: at the stop).
    /// Shorter answers sooner, but the text of a sentence's first half is then often in before
    /// the caller goes on after a comma, and text that looks complete ends the turn after
    /// [`TurnWaits::complete_ms`]: the earlier text cuts sentences at commas.
    pub early_stt: Duration,
    /// The shortest wait while the call is screened for an answering machine (see the module
    /// docs): a person's "Hello?" is answered this much later, once per call.
    pub screening_wait: Duration,
    /// How soon after the end of a turn the caller may go on and have it count as the same
    /// utterance (zero: never). A pause mid-sentence longer than the wait the rule chose ends
    /// the turn, and the agent starts to answer half a sentence; if the caller resumes within
    /// this much of that end, before the reply has been heard out, the agent's reply is dropped
    /// and it answers both parts as one ([`crate::agent::AgentInput::Continued`]). The caller
    /// cannot be answering the reply: they have heard at most this much of it.
    pub continue_window: Duration,
}

impl TurnConfig {
    /// The transcript rule's default waits, from `bench/turn_eval.sh` (see `bench/README.md`).
    pub const DEFAULT_WAITS: TurnWaits = TurnWaits {
        complete_ms: 200,
        number_ms: 800,
        open_ms: 1200,
    };

    /// Speech-to-text starts at the VAD's stop by default. 60 ms of quiet answers ~60 ms sooner
    /// at p50 (`bench/turn_latency.sh`), but cut a Spanish caller's "Quiero cancelar mi
    /// suscripción, por favor." at the comma in two of three calls, where starting at the stop
    /// cut it in none (`tests/it/languages.rs`): an opt-in (`PARLEY_STT_EARLY_MS`).
    pub const DEFAULT_EARLY_STT: Duration = Duration::ZERO;

    /// Longer than the pauses between a greeting's sentences in the sandbox's voices (not
    /// measured one by one: the persona test's greeting stays one utterance with it, and was
    /// cut at its first sentence at 200 ms); the number wait, the rule's next step up.
    pub const DEFAULT_SCREENING_WAIT: Duration = Duration::from_millis(800);

    /// Covers the 400-900 ms pauses of the cut-off set of `bench/turn_latency.sh --cutoff`
    /// (a turn ends 200 ms or more into such a pause, so the caller resumes at most ~700 ms
    /// after it), and is shorter than a person needs to hear the agent's reply and answer it.
    pub const DEFAULT_CONTINUE_WINDOW: Duration = Duration::from_millis(800);
}

impl Default for TurnConfig {
    fn default() -> Self {
        TurnConfig {
            rule: TurnRule::Transcript(Self::DEFAULT_WAITS),
            window: Duration::from_millis(400),
            ceiling: Duration::from_millis(Self::DEFAULT_WAITS.open_ms as u64),
            early_stt: Self::DEFAULT_EARLY_STT,
            screening_wait: Self::DEFAULT_SCREENING_WAIT,
            continue_window: Self::DEFAULT_CONTINUE_WINDOW,
        }
    }
}

/// The pre-roll kept so an utterance includes the frames before VAD's onset decision.
const PREROLL_FRAMES: usize = 10;

/// The caller's utterance being listened to.
struct Open {
    id: u64,
    started: Instant,
    audio: Vec<i16>,
    /// Set when VAD heard the caller stop (cleared if they go on).
    last_voice: Option<Instant>,
    /// The speculative transcript: (text, queue, work).
    text: Option<(String, Duration, Duration)>,
    /// Samples covered by the transcription in flight.
    asked: Option<usize>,
    /// The endpointer has declared the turn over and waits for the text.
    ended_at: Option<Instant>,
}

pub struct Endpointer {
    cfg: TurnConfig,
    preroll: VecDeque<PcmFrame>,
    open: Option<Open>,
    seq: u64,
    speaking: bool,
    /// Over-talk is being judged: a backchannel is no turn, so the utterance is not ended
    /// until the judge has decided (it drops the utterance, or lets it run as a turn).
    judging: bool,
    /// The call is being screened for an answering machine.
    screening: bool,
}

impl Endpointer {
    pub fn new(cfg: TurnConfig) -> Self {
        Endpointer {
            cfg,
            preroll: VecDeque::with_capacity(PREROLL_FRAMES),
            open: None,
            seq: 0,
            speaking: false,
            judging: false,
            screening: false,
        }
    }

    fn drop_open(&mut self, out: &mut Out) {
        self.judging = false;
        if let Some(u) = self.open.take() {
            out.down(Frame::UtteranceDropped { id: u.id });
        }
    }

    /// Speculative transcription of everything heard so far, while the endpointer waits.
    fn ask(u: &mut Open, out: &mut Out) {
        let samples = u.audio.len();
        u.asked = Some(samples);
        u.text = None;
        out.down(Frame::Do(Effect::Transcribe {
            utterance: u.id,
            samples,
            pcm: Arc::new(u.audio.clone()),
            primed: true,
            context: String::new(),
        }));
    }

    fn tick(&mut self, now: Instant, out: &mut Out) {
        let Some(u) = self.open.as_mut() else { return };
        if self.judging || self.speaking {
            return;
        }
        let Some(last) = u.last_voice else { return };
        let silent = now.saturating_duration_since(last);
        let mut wait = self.cfg.wait(u.text.as_ref().map(|(t, _, _)| t.as_str()));
        if self.screening {
            wait = wait.max(self.cfg.screening_wait.min(self.cfg.ceiling));
        }
        if u.ended_at.is_none() && silent >= wait {
            u.ended_at = Some(now);
        }
        if let (Some(ended_at), Some(_)) = (u.ended_at, &u.text) {
            let u = self.open.take().expect("open");
            let (text, stt_queue, stt) = u.text.unwrap_or_default();
            out.down(Frame::UtteranceEnded {
                utterance: Utterance {
                    id: u.id,
                    text: text.trim().to_string(),
                    started: u.started,
                    last_voice: last,
                    ended_at,
                    stt_queue,
                    stt,
                },
                at: now,
            });
        }
    }
}

impl Processor for Endpointer {
    fn process(&mut self, frame: Frame, out: &mut Out) {
        match frame {
            Frame::CallerAudio { pcm, .. } => {
                if self.preroll.len() == PREROLL_FRAMES {
                    self.preroll.pop_front();
                }
                self.preroll.push_back(pcm);
                if let Some(u) = self.open.as_mut() {
                    u.audio.extend_from_slice(&pcm);
                    out.pass(frame);
                    out.down(Frame::Do(Effect::SttAudio {
                        utterance: u.id,
                        pcm: Arc::from(&pcm[..]),
                    }));
                    return;
                }
                out.pass(frame);
            }
            Frame::SpeechStarted { at, frames_ago } => {
                self.speaking = true;
                match self.open.as_mut() {
                    Some(u) => {
                        // The caller went on within the window: same utterance; the guess so
                        // far (and one still in flight) is stale.
                        u.last_voice = None;
                        u.text = None;
                        u.asked = None;
                        u.ended_at = None;
                    }
                    None => {
                        self.seq += 1;
                        let keep = (frames_ago as usize + 4).min(self.preroll.len());
                        let skip = self.preroll.len() - keep;
                        let audio: Vec<i16> = self.preroll.iter().skip(skip).flatten().copied().collect();
                        out.down(Frame::Do(Effect::SttAudio {
                            utterance: self.seq,
                            pcm: Arc::from(&audio[..]),
                        }));
                        self.open = Some(Open {
                            id: self.seq,
                            started: at,
                            audio,
                            last_voice: None,
                            text: None,
                            asked: None,
                            ended_at: None,
                        });
                        out.down(Frame::UtteranceStarted { id: self.seq, at });
                    }
                }
                out.pass(frame);
            }
            Frame::SpeechPaused { .. } => {
                out.pass(frame);
                let judging = self.judging;
                if let Some(u) = self.open.as_mut() {
                    if judging {
                        // Over-talk is transcribed at its end, unprimed (the judge's rule).
                        u.asked = None;
                        u.text = None;
                    } else {
                        Self::ask(u, out);
                    }
                }
            }
            Frame::SpeechEnded { last_voice, .. } => {
                self.speaking = false;
                // The event first: the judge sees the over-talk stop before the transcription
                // request passes it.
                out.pass(frame);
                let judging = self.judging;
                if let Some(u) = self.open.as_mut() {
                    u.last_voice = Some(last_voice);
                    // The quiet since the last voiced frame began with a pause, whose request
                    // covers every voiced frame: it (or its text) stands, unless judged.
                    if u.asked.is_none() || judging {
                        Self::ask(u, out);
                    }
                }
            }
            Frame::SttResult {
                utterance,
                samples,
                result,
            } => {
                let Some(u) = self
                    .open
                    .as_mut()
                    .filter(|u| u.id == utterance && u.asked == Some(samples))
                else {
                    return; // for audio the caller has since added to
                };
                let text = match result {
                    Ok(t) => (t.text, t.queue, t.work),
                    Err(e) => {
                        warn!(error = %e, "speech-to-text failed");
                        (String::new(), Duration::ZERO, Duration::ZERO)
                    }
                };
                out.down(Frame::Transcript {
                    utterance,
                    text: text.0.clone(),
                });
                u.text = Some(text);
            }
            Frame::Judging(j) => self.judging = j,
            Frame::Phase(p) => {
                self.screening = p == Phase::Screening;
                out.pass(frame);
            }
            Frame::Backchannel | Frame::DropUtterance => self.drop_open(out),
            Frame::Tick { now } => {
                self.tick(now, out);
                out.pass(frame);
            }
            other => out.pass(other),
        }
    }
}

impl TurnConfig {
    /// The silence after the last voiced frame that ends the turn, given the text so far (None:
    /// not in yet; the turn then ends when it comes, once this wait is over).
    fn wait(&self, text: Option<&str>) -> Duration {
        let end = text.map(text_end);
        let wait = match self.rule {
            TurnRule::Window => match end {
                Some(TextEnd::Open) => self.ceiling,
                _ => self.window,
            },
            TurnRule::Transcript(waits) => match end {
                Some(end) => Duration::from_millis(waits.wait_ms(end) as u64),
                None => self.ceiling,
            },
        };
        wait.min(self.ceiling)
    }
}

#[cfg(test)]
mod tests;
