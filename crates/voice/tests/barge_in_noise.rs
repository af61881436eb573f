//! Barge-in that noise cannot fake, through a whole call's sans-I/O core with real speech.
//!
//! The agent reads out a long reply; on the caller's line, in turn: a cough, a door, a talker
//! 10 dB and then 20 dB below the caller (the same voice: only the level tells them apart), a
//! second cough, and finally the caller's own interruption. With Silero and the barge-in gate
//! the agent's audio goes on untouched through every noise (no pause, no backchannel, no turn
//! for the talker's words) and stops within 100 ms of the caller's first audible sample. The
//! same line with WebRTC's VAD and no gate (how calls ran before) is cut off by the noise: the
//! noises are real enough to fool a VAD.
//!
//! The caller's speech is the Piper voice (its answer before the reply teaches the gate their
//! level); the agent's is espeak-ng; the noises are generated (`sounds`). Everything goes
//! through mu-law both ways. Needs the models `scripts/setup` installs. Run with `--release`:
//! Silero runs for every caller frame.
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod sounds;

use parley_speech::models::Models;
use parley_speech::tts::{EspeakTts, PiperConfig, PiperTts, ESPEAK_DEFAULT_SPEED};
use parley_speech::vad::SileroVad;
use parley_speech::TextToSpeech;
use parley_telephony::audio::{self, PcmFrame, FRAME, FRAME_SAMPLES};
use parley_telephony::LineEvent;
use parley_voice::agent::{AgentInput, AgentOutput};
use parley_voice::engines::Transcription;
use parley_voice::frame::{Effect, Frame, Marker};
use parley_voice::pipeline::{CallCore, Input, Output, PipelineConfig};
use parley_voice::vad::gate::GateConfig;
use parley_voice::vad::VadEngine;
use sounds::Rng;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::time::Instant;

const GREETING: &str = "Hi Sam, this is Bright Dental.";
const ANSWER: &str = "Hi, yes, this is Sam speaking.";
const REPLY: &str = "Thanks Sam. I am calling about your appointment with doctor Patel, which is booked for \
    tomorrow morning at ten o'clock at our office on Main Street. Please bring your insurance card and a list of \
    any medicines you are taking, and plan to arrive about fifteen minutes early so we can update your forms. \
    If you need to change the time, we have openings on Thursday afternoon and on Friday morning, and parking \
    is free in the lot behind the building.";
const TALKER: [&str; 2] = [
    "The weather tomorrow will be cloudy, with light rain in the afternoon.",
    "And now, back to the studio for the evening news.",
];
const BARGE: &str = "Sorry, can I stop you there?";
/// The caller's level: Piper's output (peak -0.9 dBFS) turned down to a phone's usual level.
const CALLER_DB: f32 = -6.0;

/// The Piper voice without VITS's sampled noise (`noise_scale` and `noise_w` 0), so the caller
/// says the same audio every run: with the voice's own noise, the onset of the same sentence
/// moved by tens of milliseconds from run to run, and the 100 ms barge-in bound with it.
fn piper() -> &'static PiperTts {
    static VOICE: OnceLock<PiperTts> = OnceLock::new();
    VOICE.get_or_init(|| {
        let config = PiperConfig {
            noise_scale: Some(0.0),
            noise_w: Some(0.0),
            ..PiperConfig::default()
        };
        PiperTts::from_models(&Models::locate(), config)
            .unwrap_or_else(|e| panic!("the Piper voice speaks the caller: {e}"))
    })
}

fn silero() -> Arc<SileroVad> {
    static VAD: OnceLock<Arc<SileroVad>> = OnceLock::new();
    VAD.get_or_init(|| {
        Arc::new(SileroVad::from_models(&Models::locate()).unwrap_or_else(|e| panic!("Silero VAD: {e}")))
    })
    .clone()
}

/// The caller's line: what they hear around them and, at the end, their interruption.
struct Line {
    frames: Vec<PcmFrame>,
    /// The interruption's first audible sample.
    barge_onset: usize,
}

fn line() -> Line {
    let mut rng = Rng::new(42);
    let caller = |text: &str| sounds::gain(&piper().synthesize(text).unwrap(), CALLER_DB);
    // The caller's loudest frame, which the noises are set against.
    let loudest = caller(ANSWER)
        .chunks(FRAME_SAMPLES)
        .map(audio::level_dbfs)
        .fold(-100.0, f32::max);
    let mut pcm = vec![];
    let mut at = 8000 / 2;
    let event = |pcm: &mut Vec<i16>, at: &mut usize, clip: Vec<i16>, gap_s: f32| {
        sounds::mix(pcm, *at, &clip);
        *at += clip.len() + (gap_s * 8000.0) as usize;
    };
    event(&mut pcm, &mut at, sounds::cough(&mut rng, loudest + 3.0), 1.2);
    event(&mut pcm, &mut at, sounds::door(&mut rng, loudest + 6.0), 1.2);
    event(&mut pcm, &mut at, sounds::gain(&caller(TALKER[0]), -10.0), 1.2);
    event(&mut pcm, &mut at, sounds::gain(&caller(TALKER[1]), -20.0), 1.2);
    event(&mut pcm, &mut at, sounds::cough(&mut rng, loudest), 1.2);
    let barge = caller(BARGE);
    let barge_onset = at + sounds::onset(&barge);
    event(&mut pcm, &mut at, barge, 1.5);
    pcm.resize(at, 0);
    let hiss = sounds::hiss(&mut rng, pcm.len(), -62.0);
    sounds::mix(&mut pcm, 0, &hiss);
    Line {
        frames: sounds::through_the_line(&pcm),
        barge_onset,
    }
}

/// One call, with made-up time; the test plays the line, speech-to-text and the agent.
struct Call {
    core: CallCore,
    now: Instant,
    /// What speech-to-text hears in whatever it is asked to transcribe.
    heard: String,
    /// The turn of the agent's reply.
    reply_turn: u64,
}

impl Call {
    fn input(&mut self, input: Input) -> Vec<Output> {
        let mut out = vec![];
        self.core.handle(input, &mut out);
        out
    }

    /// One 20 ms step: the caller's frame arrives, the clock ticks; transcriptions are answered.
    fn step(&mut self, caller: &PcmFrame) -> Vec<Output> {
        let at = self.now;
        let mut out = self.input(Input::Line {
            event: LineEvent::Audio(audio::encode(caller)),
            at,
        });
        out.extend(self.input(Input::Tick(at)));
        self.now += FRAME;
        let asks: Vec<(u64, usize)> = out
            .iter()
            .filter_map(|o| match o {
                Output::Effect(Effect::Transcribe { utterance, samples, .. }) => Some((*utterance, *samples)),
                _ => None,
            })
            .collect();
        for (utterance, samples) in asks {
            let text = self.heard.clone();
            out.extend(self.input(Input::Back(Frame::SttResult {
                utterance,
                samples,
                result: Ok(Transcription {
                    text,
                    queue: Duration::ZERO,
                    work: Duration::from_millis(50),
                }),
            })));
        }
        out
    }
}

fn to_agent(out: &[Output]) -> Option<(u64, AgentInput)> {
    out.iter().find_map(|o| match o {
        Output::Effect(Effect::ToAgent { turn, input }) => Some((*turn, input.clone())),
        _ => None,
    })
}

/// Answers, greets, hears the caller's answer (which teaches the gate their level) and queues
/// the agent's long reply. Returns the call and the reply's frames.
fn replying(cfg: PipelineConfig) -> (Call, Vec<PcmFrame>) {
    let t0 = Instant::now() + Duration::from_secs(3600);
    let mut out = vec![];
    let core = CallCore::new(&cfg, t0, &mut out);
    let mut c = Call {
        core,
        now: t0 + FRAME,
        heard: ANSWER.into(),
        reply_turn: 0,
    };
    let espeak = EspeakTts::new("en-us", ESPEAK_DEFAULT_SPEED).unwrap();
    let speak = |c: &mut Call, turn: u64, text: &str| -> Vec<PcmFrame> {
        c.input(Input::Back(Frame::AgentText {
            turn,
            text: text.into(),
            fixed: false,
        }));
        let pcm = espeak.synthesize(text).unwrap();
        let frames: Vec<PcmFrame> = audio::frames(&pcm).collect();
        c.input(Input::Back(Frame::AgentAudio {
            turn,
            text: text.into(),
            pcm: pcm.into(),
            work: Duration::from_millis(30),
            ready_at: c.now,
        }));
        frames
    };
    assert_eq!(to_agent(&out.clone()), Some((1, AgentInput::Start)));
    let greeting = speak(&mut c, 1, GREETING);
    c.input(Input::Back(Frame::AgentControl {
        turn: 1,
        out: AgentOutput::Listen,
    }));
    // The speaker's mark that the greeting's audio is queued: the floor is the caller's after it.
    c.input(Input::Back(Frame::AgentMarker {
        turn: 1,
        marker: Marker::Listen,
    }));
    let quiet = [0i16; FRAME_SAMPLES];
    for _ in 0..greeting.len() + 60 {
        c.step(&quiet);
    }
    let answer = sounds::through_the_line(&sounds::gain(&piper().synthesize(ANSWER).unwrap(), CALLER_DB));
    let mut turn = None;
    for i in 0..answer.len() + 100 {
        let out = c.step(answer.get(i).unwrap_or(&quiet));
        if let Some(t) = to_agent(&out) {
            turn = Some(t);
            break;
        }
    }
    let (turn, input) = turn.expect("the caller's answer is a turn");
    assert_eq!(
        (c.core.barge_ins(), c.core.backchannels()),
        (0, 0),
        "the answer came after the greeting"
    );
    assert_eq!(input, AgentInput::Utterance { text: ANSWER.into() });
    // While the agent talks, speech-to-text hears the television's words: they must not
    // become a turn.
    c.heard = TALKER[0].into();
    let reply = speak(&mut c, turn, REPLY);
    c.reply_turn = turn;
    (c, reply)
}

/// Plays `line` while the agent's reply plays. Returns the step at which the agent's audio
/// first left its reply (it paused), if it did.
fn play(c: &mut Call, reply: &[PcmFrame], pos: &mut usize, line: &[PcmFrame]) -> Option<usize> {
    for (i, f) in line.iter().enumerate() {
        let out = c.step(f);
        assert_eq!(to_agent(&out), None, "no turn at step {i}");
        let sent: Vec<_> = out
            .iter()
            .filter_map(|o| match o {
                Output::Audio(mu) => Some(*mu),
                Output::Effect(_) => None,
            })
            .collect();
        assert_eq!(sent.len(), 1, "one frame per tick");
        assert!(*pos < reply.len(), "the reply outlasts the line");
        if sent[0] == audio::encode(&reply[*pos]) {
            *pos += 1;
        } else {
            return Some(i);
        }
    }
    None
}

fn silero_gated() -> PipelineConfig {
    PipelineConfig {
        screen_for_machine: false,
        vad: VadEngine::Silero(silero()),
        barge_gate: None,
        ..PipelineConfig::default()
    }
}

#[test]
fn noise_does_not_stop_the_agent_and_the_callers_voice_does_within_100_ms() {
    let line = line();
    let (mut c, reply) = replying(silero_gated());
    let barge_frame = line.barge_onset / FRAME_SAMPLES;
    let mut pos = 0;
    let paused = play(&mut c, &reply, &mut pos, &line.frames[..barge_frame]);
    assert_eq!(
        paused,
        None,
        "the agent paused at {:?} ms of the line, before the caller spoke (noise faked a barge-in)",
        paused.map(|i| i * 20)
    );
    assert_eq!(
        (c.core.barge_ins(), c.core.backchannels()),
        (0, 0),
        "no over-talk was judged"
    );
    // The caller interrupts (speech-to-text now hears them).
    c.heard = BARGE.into();
    let rest = &line.frames[barge_frame..];
    let paused = play(&mut c, &reply, &mut pos, rest).expect("the caller's voice stopped the agent");
    let delay_ms = ((barge_frame + paused + 1) * FRAME_SAMPLES - line.barge_onset) as f64 / 8.0;
    eprintln!("the agent stopped {delay_ms} ms after the caller's onset");
    assert!(
        delay_ms <= 100.0,
        "the agent stopped {delay_ms} ms after the caller's onset"
    );
    // ...and it is an interruption: the reply is stale once the over-talk outlasts a backchannel.
    let superseded = rest[paused + 1..]
        .iter()
        .any(|f| c.step(f).contains(&Output::Effect(Effect::Turn(c.reply_turn + 1))));
    assert!(superseded, "the interruption drops the reply");
    assert_eq!(c.core.barge_ins(), 1);
}

#[test]
fn the_same_noise_cuts_off_an_agent_on_webrtc_without_the_gate() {
    let line = line();
    let (mut c, reply) = replying(PipelineConfig {
        screen_for_machine: false,
        vad: VadEngine::WebRtc,
        barge_gate: Some(GateConfig::off()),
        ..PipelineConfig::default()
    });
    let barge_frame = line.barge_onset / FRAME_SAMPLES;
    let paused = play(&mut c, &reply, &mut 0, &line.frames[..barge_frame]);
    assert!(paused.is_some(), "WebRTC's VAD paused the agent for the noise");
}
