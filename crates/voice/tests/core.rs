//! Whole calls driven through the pipeline's sans-I/O core ([`CallCore`]), frame by frame, with
//! made-up time: no tokio runtime, no clock, no sleeping. The test plays every other part: the
//! line (the caller's audio, a hang-up), speech-to-text, the agent and text-to-speech, answering
//! the core's effects by hand, so each assertion pins what the core asked for and exactly when
//! in the supplied time.
//!
//! The caller's and the agent's speech is real speech from the offline espeak-ng voice (the
//! same program `scripts/setup` installs for the speech tests), so VAD, endpointing and
//! barge-in meet word gaps and trailing sounds rather than a clean tone. When the VAD decides
//! speech stopped is the VAD's business; the test runs its own [`Vad`] over the same caller
//! frames and holds the core to it: the silence window is measured from that last voiced frame.
//!
//! The made-up clock starts an hour ahead of the real one, so a core that read the real clock
//! anywhere would be an hour off and fail loudly.
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use parley_speech::tts::{EspeakTts, ESPEAK_DEFAULT_SPEED};
use parley_speech::TextToSpeech;
use parley_telephony::audio::{self, level_dbfs, MulawFrame, PcmFrame, FRAME, FRAME_SAMPLES};
use parley_telephony::LineEvent;
use parley_voice::agent::{AgentInput, AgentOutput};
use parley_voice::engines::Transcription;
use parley_voice::frame::{Effect, Frame, Marker, SpeakerJob};
use parley_voice::pipeline::{CallCore, CallEnd, Input, Output, PipelineConfig, TurnConfig, TurnRule};
use parley_voice::vad::{Vad, VadConfig, VadEvent};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::time::Instant;

const GREETING: &str = "Hi Sam, this is Bright Dental.";
const QUESTION: &str = "Sorry, who is this?";
const REPLY: [&str; 2] = [
    "This is Bright Dental, calling about your appointment tomorrow morning at ten.",
    "Can you still make it?",
];
const OVERTALK: &str = "Hold on I have a question about my bill first.";
const SILENCE: PcmFrame = [0; FRAME_SAMPLES];

fn espeak() -> &'static EspeakTts {
    static VOICE: OnceLock<EspeakTts> = OnceLock::new();
    VOICE.get_or_init(|| {
        EspeakTts::new("en-us", ESPEAK_DEFAULT_SPEED).unwrap_or_else(|e| {
            panic!("the espeak-ng voice is needed for test speech: {e} (scripts/setup installs it)")
        })
    })
}

/// `text` spoken, in whole 20 ms frames.
fn speech(text: &str) -> Vec<PcmFrame> {
    let pcm = espeak().synthesize(text).expect("espeak-ng speaks");
    audio::frames(&pcm).collect()
}

fn loud(f: &MulawFrame) -> bool {
    level_dbfs(&audio::decode(f)) > common::LOUD
}

/// One call and everything around it that the test plays.
struct Call {
    core: CallCore,
    t0: Instant,
    /// When the next frame arrives (and the next tick fires).
    now: Instant,
    /// Everything the core asked for, with the time of the input that caused it.
    log: Vec<(Instant, Output)>,
    /// The same caller frames as the core's VAD got, through a VAD of the test's own.
    vad: Vad,
    /// What that VAD reported: onsets (the first voiced frame) and ends (the last voiced frame),
    /// each with the frame that decided it.
    onsets: Vec<(Instant, Instant)>,
    ends: Vec<(Instant, Instant)>,
    /// (when the VAD reported a pause, the last voiced frame).
    pauses: Vec<(Instant, Instant)>,
}

impl Call {
    fn answer(cfg: PipelineConfig) -> (Call, Vec<Output>) {
        let t0 = Instant::now() + Duration::from_secs(3600);
        let mut out = vec![];
        let core = CallCore::new(&cfg, t0, &mut out);
        let call = Call {
            core,
            t0,
            now: t0 + FRAME,
            log: vec![],
            vad: Vad::new(VadConfig::default()),
            onsets: vec![],
            ends: vec![],
            pauses: vec![],
        };
        (call, out)
    }

    fn input(&mut self, input: Input) -> Vec<Output> {
        let mut out = vec![];
        self.core.handle(input, &mut out);
        self.log.extend(out.iter().map(|o| (self.now, o.clone())));
        out
    }

    fn back(&mut self, frame: Frame) -> Vec<Output> {
        self.input(Input::Back(frame))
    }

    /// One 20 ms step: the caller's frame arrives, then the clock ticks.
    fn step(&mut self, caller: PcmFrame) -> Vec<Output> {
        let at = self.now;
        match self.vad.push(&caller) {
            Some(VadEvent::Start { frames_ago }) => self.onsets.push((at, at - FRAME * frames_ago)),
            Some(VadEvent::End { frames_ago }) => self.ends.push((at, at - FRAME * frames_ago)),
            Some(VadEvent::Pause { frames_ago }) => self.pauses.push((at, at - FRAME * frames_ago)),
            None => {}
        }
        let mut out = self.input(Input::Line {
            event: LineEvent::Audio(audio::encode(&caller)),
            at,
        });
        out.extend(self.input(Input::Tick(at)));
        self.now += FRAME;
        out
    }

    /// Steps through `frames` of the caller (then silence) until `until` holds of a step's
    /// outputs, answering speech-to-text at once; at most `limit` steps. Returns that step's
    /// outputs and its time.
    fn run_until(
        &mut self,
        frames: &[PcmFrame],
        limit: usize,
        heard: &str,
        until: impl Fn(&[Output]) -> bool,
    ) -> (Instant, Vec<Output>) {
        for i in 0..limit {
            let at = self.now;
            let out = self.step(frames.get(i).copied().unwrap_or(SILENCE));
            self.transcribe(&out, heard);
            if until(&out) {
                return (at, out);
            }
        }
        panic!("not within {limit} frames; the core asked for {:?}", effects(&self.log));
    }

    /// Plays speech-to-text: every transcription asked for hears `text`, 80 ms of work.
    fn transcribe(&mut self, out: &[Output], text: &str) {
        for o in out {
            if let Output::Effect(Effect::Transcribe { utterance, samples, .. }) = o {
                self.back(Frame::SttResult {
                    utterance: *utterance,
                    samples: *samples,
                    result: Ok(Transcription {
                        text: text.into(),
                        queue: Duration::ZERO,
                        work: Duration::from_millis(80),
                    }),
                });
            }
        }
    }

    /// Plays text-to-speech: the sentence's audio, ready now after `work`.
    fn synthesized(&mut self, turn: u64, text: &str, work: Duration) -> Vec<PcmFrame> {
        let frames = speech(text);
        let pcm: Arc<[i16]> = frames.concat().into();
        let out = self.back(Frame::AgentAudio {
            turn,
            text: text.into(),
            pcm,
            work,
            ready_at: self.now,
        });
        assert_eq!(out, [], "queued audio waits for the clock");
        frames
    }

    /// The agent says `text` in `turn`: the core hands it to the speaker.
    fn say(&mut self, turn: u64, text: &str) {
        let out = self.back(Frame::AgentText {
            turn,
            text: text.into(),
            fixed: false,
        });
        let job = SpeakerJob::Say {
            text: text.into(),
            fixed: false,
        };
        assert_eq!(out, [Output::Effect(Effect::Speak { turn, job })]);
    }

    fn ms(&self, at: Instant) -> i64 {
        at.duration_since(self.t0).as_millis() as i64
    }
}

fn effects(log: &[(Instant, Output)]) -> Vec<(Instant, &Effect)> {
    log.iter()
        .filter_map(|(at, o)| match o {
            Output::Effect(e) => Some((*at, e)),
            Output::Audio(_) => None,
        })
        .collect()
}

fn audio_out(out: &[Output]) -> Vec<MulawFrame> {
    out.iter()
        .filter_map(|o| match o {
            Output::Audio(mu) => Some(*mu),
            Output::Effect(_) => None,
        })
        .collect()
}

fn to_agent(out: &[Output]) -> Option<(u64, AgentInput)> {
    out.iter().find_map(|o| match o {
        Output::Effect(Effect::ToAgent { turn, input }) => Some((*turn, input.clone())),
        _ => None,
    })
}

fn utterance(text: &str) -> AgentInput {
    AgentInput::Utterance { text: text.into() }
}

fn talking() -> PipelineConfig {
    PipelineConfig {
        screen_for_machine: false,
        // The fixed window: these tests time the turn's end against it (the transcript rule
        // is pinned by the endpointer's own tests).
        // Speech-to-text from the first 60 ms pause (an opt-in): the early path is the one with
        // timing to pin; at the VAD's stop (the default) the endpointer's tests cover.
        turn: TurnConfig {
            rule: TurnRule::Window,
            early_stt: Duration::from_millis(60),
            ..TurnConfig::default()
        },
        ..PipelineConfig::default()
    }
}

/// The fixed window of [`talking`].
fn window() -> Duration {
    talking().turn.window
}

/// The answer starts the agent; its greeting is spoken to the end and it listens.
fn greeted() -> Call {
    greeted_with(talking())
}

fn greeted_with(cfg: PipelineConfig) -> Call {
    let (mut c, out) = Call::answer(cfg);
    assert_eq!(
        out,
        [
            Output::Effect(Effect::Turn(1)),
            Output::Effect(Effect::ToAgent {
                turn: 1,
                input: AgentInput::Start
            }),
        ],
        "no screening: the agent speaks first"
    );
    c.say(1, GREETING);
    let listen = c.back(Frame::AgentControl {
        turn: 1,
        out: AgentOutput::Listen,
    });
    let mark = SpeakerJob::Mark(Marker::Listen);
    assert_eq!(listen, [Output::Effect(Effect::Speak { turn: 1, job: mark })]);
    // A stale turn's words go nowhere.
    assert_eq!(
        c.back(Frame::AgentText {
            turn: 0,
            text: "stale".into(),
            fixed: false
        }),
        []
    );
    let greeting = c.synthesized(1, GREETING, Duration::from_millis(40));
    assert_eq!(
        c.back(Frame::AgentMarker {
            turn: 1,
            marker: Marker::Listen
        }),
        []
    );
    let started = c.now;
    for (i, want) in greeting.iter().enumerate() {
        let sent = audio_out(&c.step(SILENCE));
        assert_eq!(
            sent,
            [audio::encode(want)],
            "greeting frame {i}, one per tick, in order"
        );
    }
    assert_eq!(audio_out(&c.step(SILENCE)), [audio::MULAW_SILENCE], "then silence");
    let lines = c.core.conversation();
    assert_eq!((lines.len(), lines[0].author), (1, "ai"));
    assert_eq!((lines[0].text.as_str(), lines[0].at_ms), (GREETING, c.ms(started)));
    c
}

#[test]
fn the_callers_turn_ends_a_silence_window_of_supplied_time_after_their_last_voiced_frame() {
    let mut c = greeted();
    // The caller asks who this is; speech-to-text answers each request at once.
    let words = speech(QUESTION);
    let spoke_at = c.now;
    let (answered_at, out) = c.run_until(&words, words.len() + 100, QUESTION, |o| to_agent(o).is_some());
    let (&(_, first_voice), &(ended, last_voice)) = (c.onsets.first().unwrap(), c.ends.last().unwrap());
    // The test's VAD heard the question, to its end (it is not a vacuous yardstick).
    assert!(first_voice < spoke_at + FRAME * 10, "onset {} ms", c.ms(first_voice));
    let words_end = spoke_at + FRAME * words.len() as u32;
    assert!(
        last_voice + FRAME * 10 >= words_end && last_voice < words_end,
        "last voice {} ms, words end {} ms",
        c.ms(last_voice),
        c.ms(words_end)
    );

    // Speech-to-text was asked for when the VAD heard the caller pause (speculatively, before
    // the stop and inside the window), once per pause, over the utterance so far; the stop
    // asks nothing more.
    let asked: Vec<_> = effects(&c.log)
        .into_iter()
        .filter_map(|(at, e)| match e {
            Effect::Transcribe { pcm, samples, .. } => Some((at, pcm.len(), *samples)),
            _ => None,
        })
        .collect();
    let pauses: Vec<Instant> = c.pauses.iter().map(|&(at, _)| at).collect();
    assert_eq!(
        asked.iter().map(|a| a.0).collect::<Vec<_>>(),
        pauses,
        "one request per pause"
    );
    let (last_ask, len, samples) = *asked.last().unwrap();
    assert_eq!((last_ask, len), (ended - FRAME * 3, samples));
    assert_eq!(c.pauses.last().unwrap().1, last_voice, "the last pause is the stop's");
    assert!(
        last_ask < last_voice + window(),
        "speculative: before the window closes"
    );
    let voiced = (last_voice - first_voice).as_millis() as usize * 8;
    assert!(len > voiced, "the whole question: {len} samples, {voiced} voiced");

    // The turn ends on the first tick a full window after the last voiced frame, not before.
    let window = answered_at - last_voice;
    assert!(
        window >= self::window() && window < self::window() + FRAME,
        "turn over {} ms after the last voiced frame",
        window.as_millis()
    );
    let bumped = out
        .iter()
        .position(|o| *o == Output::Effect(Effect::Turn(2)))
        .expect("a new turn");
    let asked_agent = out
        .iter()
        .position(|o| to_agent(std::slice::from_ref(o)).is_some())
        .unwrap();
    assert!(
        bumped < asked_agent,
        "the turn is bumped before the agent hears: {out:?}"
    );
    assert_eq!(to_agent(&out), Some((2, utterance(QUESTION))));
    let user = &c.core.conversation()[1];
    assert_eq!((user.author, user.text.as_str()), ("user", QUESTION));
    assert_eq!(
        user.at_ms,
        c.ms(first_voice),
        "timed from the caller's first voiced frame"
    );

    // The agent answers 200 ms later; its first sentence plays on the next tick, and the turn's
    // latency is made of the supplied times.
    for _ in 0..10 {
        assert_eq!(audio_out(&c.step(SILENCE)), [audio::MULAW_SILENCE]);
    }
    c.say(2, REPLY[0]);
    let reply = c.synthesized(2, REPLY[0], Duration::from_millis(60));
    let first = c.now;
    assert_eq!(audio_out(&c.step(SILENCE)), [audio::encode(&reply[0])]);
    let latency = c.core.latency();
    assert_eq!(latency.len(), 1);
    let l = &latency[0];
    assert_eq!(l.endpointing_ms, window.as_millis() as i64);
    assert_eq!((l.stt_queue_ms, l.stt_ms, l.tts_first_audio_ms), (0, 80, 60));
    // The agent's part: from the turn's end to its first audio ready, less the synthesis.
    assert_eq!(l.agent_ms, (first - answered_at).as_millis() as i64 - 60);
    assert_eq!(l.total_ms, (first - last_voice).as_millis() as i64);
}

#[test]
fn caller_speech_over_the_agent_silences_it_clears_the_line_and_starts_a_new_turn() {
    let mut c = greeted();
    let words = speech(QUESTION);
    c.run_until(&words, words.len() + 100, QUESTION, |o| to_agent(o).is_some());
    c.say(2, REPLY[0]);
    c.say(2, REPLY[1]);
    let mut reply = c.synthesized(2, REPLY[0], Duration::from_millis(60));
    // A second into the reply, the caller talks over it (the second sentence is still being
    // synthesized): later than the caller may still go on with their own utterance
    // (`TurnConfig::continue_window`, see the next test).
    for (i, want) in reply.drain(..50).enumerate() {
        assert_eq!(audio_out(&c.step(SILENCE)), [audio::encode(&want)], "reply frame {i}");
    }
    let onsets_before = c.onsets.len();
    let overtalk = speech(OVERTALK);
    let from = c.now;
    let (bump_at, out) = c.run_until(&overtalk, overtalk.len(), OVERTALK, |o| {
        o.contains(&Output::Effect(Effect::Turn(3)))
    });
    let (_, first_voice) = c.onsets[onsets_before];
    let sent: Vec<(Instant, MulawFrame)> = c
        .log
        .iter()
        .filter(|(at, _)| *at >= from && *at <= bump_at)
        .filter_map(|(at, o)| match o {
            Output::Audio(mu) => Some((*at, *mu)),
            Output::Effect(_) => None,
        })
        .collect();
    // Until the barge-in gate passed the caller's voice the agent went on; from it, silence,
    // within 100 ms of the voice.
    let stopped = sent.iter().rposition(|(_, mu)| loud(mu)).map_or(0, |i| i + 1);
    let detected = sent[stopped].0;
    assert!(
        detected - first_voice < Duration::from_millis(100),
        "{:?}",
        detected - first_voice
    );
    for (i, (at, mu)) in sent.iter().enumerate() {
        if *at < detected {
            assert_eq!(*mu, audio::encode(&reply[i]), "the reply goes on until the onset");
        } else {
            assert!(!loud(mu), "the agent is silent from the onset on ({} ms)", c.ms(*at));
        }
    }
    assert!(sent.iter().any(|(at, _)| *at < detected) && sent.iter().any(|(at, _)| *at >= detected));

    // Real words, not a backchannel: the reply is stale (a new turn), and what the carrier
    // still buffers of it is cleared, in that order, once the over-talk outlasts a backchannel.
    let turn = out.iter().position(|o| *o == Output::Effect(Effect::Turn(3))).unwrap();
    assert_eq!(out.get(turn + 1), Some(&Output::Effect(Effect::ClearLine)), "{out:?}");
    let judged = bump_at - first_voice;
    let max = talking().backchannel_max;
    assert!(
        judged >= max && judged <= max + FRAME * 3,
        "judged after {} ms",
        judged.as_millis()
    );
    assert_eq!((c.core.barge_ins(), c.core.backchannels()), (1, 0));

    // The stale second sentence, ready late, is dropped; the line stays quiet.
    let late = speech(REPLY[1]).concat();
    let stale = Frame::AgentAudio {
        turn: 2,
        text: REPLY[1].into(),
        pcm: late.into(),
        work: Duration::from_millis(60),
        ready_at: c.now,
    };
    assert_eq!(c.back(stale), []);
    let rest = &overtalk[(c.now - from).as_millis() as usize / 20..];
    let (_, out) = c.run_until(rest, rest.len() + 100, OVERTALK, |o| to_agent(o).is_some());
    assert_eq!(
        to_agent(&out),
        Some((4, utterance(OVERTALK))),
        "the over-talk is the next turn"
    );
    assert!(
        c.log.iter().filter(|(at, _)| *at > bump_at).all(|(_, o)| match o {
            Output::Audio(mu) => !loud(mu),
            Output::Effect(e) => !matches!(e, Effect::ClearLine),
        }),
        "nothing of the stale reply is sent"
    );
    let said: Vec<_> = c
        .core
        .conversation()
        .iter()
        .map(|l| (l.author, l.text.as_str()))
        .collect();
    assert_eq!(
        said,
        [
            ("ai", GREETING),
            ("user", QUESTION),
            ("ai", REPLY[0]),
            ("user", OVERTALK)
        ]
    );

    // The caller hangs up: the call is over, and nothing after counts.
    let at = c.now;
    let out = c.input(Input::Line {
        event: LineEvent::HungUp,
        at,
    });
    assert_eq!(out, [Output::Effect(Effect::End(CallEnd::CallerHungUp))]);
    assert_eq!(c.core.end(), Some(&CallEnd::CallerHungUp));
    assert_eq!(c.step(SILENCE), [], "inputs after the end are ignored");
    let steps = ((c.now - c.t0).as_millis() / 20 - 1) as usize;
    let call = c.core.finish();
    assert_eq!(call.end, CallEnd::CallerHungUp);
    assert_eq!(call.conversation.len(), 4);
    assert_eq!((call.barge_ins, call.backchannels), (1, 0));
    // One frame per side per step, the step after the end excluded.
    let rec = &call.recording;
    assert_eq!(
        (rec.caller_pcm().len(), rec.agent_pcm().len()),
        ((steps - 1) * FRAME_SAMPLES, (steps - 1) * FRAME_SAMPLES)
    );
}

/// The caller had only paused: they go on 200 ms into the agent's reply. The reply is cut as
/// in any barge-in, and the agent gets both parts as one utterance, to answer instead of the
/// first ([`AgentInput::Continued`]); the transcript keeps what was said when.
#[test]
fn a_caller_going_on_right_after_the_turn_ended_continues_their_utterance() {
    const ADDED: &str = "And why are you calling me today?";
    let mut c = greeted();
    let words = speech(QUESTION);
    c.run_until(&words, words.len() + 100, QUESTION, |o| to_agent(o).is_some());
    c.say(2, REPLY[0]);
    let mut reply = c.synthesized(2, REPLY[0], Duration::from_millis(60));
    for want in reply.drain(..10) {
        assert_eq!(audio_out(&c.step(SILENCE)), [audio::encode(&want)]);
    }
    let added = speech(ADDED);
    let (_, out) = c.run_until(&added, added.len() + 100, ADDED, |o| to_agent(o).is_some());
    let whole = format!("{QUESTION} {ADDED}");
    assert_eq!(
        to_agent(&out),
        Some((
            4,
            AgentInput::Continued {
                whole,
                added: ADDED.into()
            }
        )),
        "the barge-in was turn 3; the continuation is turn 4"
    );
    assert_eq!(c.core.barge_ins(), 1);
    let said: Vec<_> = c
        .core
        .conversation()
        .iter()
        .map(|l| (l.author, l.text.as_str()))
        .collect();
    assert_eq!(
        said,
        [("ai", GREETING), ("user", QUESTION), ("ai", REPLY[0]), ("user", ADDED)]
    );

    // Off (a zero window), the same is a new utterance.
    let mut c = greeted_with(PipelineConfig {
        turn: TurnConfig {
            continue_window: Duration::ZERO,
            ..talking().turn
        },
        ..talking()
    });
    c.run_until(&words, words.len() + 100, QUESTION, |o| to_agent(o).is_some());
    c.say(2, REPLY[0]);
    c.synthesized(2, REPLY[0], Duration::from_millis(60));
    for _ in 0..10 {
        c.step(SILENCE);
    }
    let (_, out) = c.run_until(&added, added.len() + 100, ADDED, |o| to_agent(o).is_some());
    assert_eq!(to_agent(&out), Some((4, utterance(ADDED))));
}

#[test]
fn the_watchdog_ends_a_call_after_line_watchdog_of_supplied_time_without_audio() {
    let cfg = PipelineConfig {
        line_watchdog: Duration::from_secs(10),
        ..talking()
    };
    let (mut c, _) = Call::answer(cfg.clone());
    // A dead line: the clock ticks, no audio arrives.
    let mut end = None;
    for _ in 0..1000 {
        let at = c.now;
        let out = c.input(Input::Tick(at));
        c.now += FRAME;
        if let Some(e) = out.iter().find(|o| matches!(o, Output::Effect(Effect::End(_)))) {
            end = Some((at, e.clone()));
            break;
        }
    }
    let (at, e) = end.expect("the watchdog fired");
    assert_eq!(e, Output::Effect(Effect::End(CallEnd::LineSilent)));
    assert_eq!(
        at - c.t0,
        cfg.line_watchdog,
        "exactly the watchdog period after the answer"
    );
    assert_eq!(c.core.end(), Some(&CallEnd::LineSilent));

    // A frame of audio (even silence) or a key keeps the line alive: the period runs from it.
    let (mut c, _) = Call::answer(cfg.clone());
    let mut ended = None;
    for i in 1..1200u32 {
        let at = c.t0 + FRAME * i;
        c.now = at;
        if i == 200 {
            c.input(Input::Line {
                event: LineEvent::Audio(audio::MULAW_SILENCE),
                at,
            });
        }
        if i == 300 {
            c.input(Input::Line {
                event: LineEvent::Dtmf('1'),
                at,
            });
        }
        if c.input(Input::Tick(at))
            .contains(&Output::Effect(Effect::End(CallEnd::LineSilent)))
        {
            ended = Some(at);
            break;
        }
    }
    assert_eq!(ended, Some(c.t0 + FRAME * 300 + cfg.line_watchdog));
}

#[test]
fn a_call_with_a_live_line_ends_at_the_maximum_duration() {
    let cfg = PipelineConfig {
        max_duration: Duration::from_secs(30),
        ..talking()
    };
    let (mut c, _) = Call::answer(cfg.clone());
    let (at, _) = c.run_until(&[], 2000, "", |o| {
        o.iter().any(|o| matches!(o, Output::Effect(Effect::End(_))))
    });
    assert_eq!(at - c.t0, cfg.max_duration);
    assert_eq!(c.core.end(), Some(&CallEnd::MaxDuration));
}
