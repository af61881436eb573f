//! Barge-in against noise: how often each VAD (with and without the barge-in gate) would stop
//! the agent for a cough, a door, a talker behind the caller or a backchannel, and how soon it
//! stops it for the caller's real interruption. Run by `bench/barge_in.sh`.
//!
//! Each trial is one stretch of a call's incoming line: the caller's first answer (a sentence
//! from the Piper voice, which teaches the gate the caller's level), a second of line hiss, then
//! one event while the agent would be talking, then quiet. The line is mu-law both ways, as on
//! a phone. Events (seeded; the noises are the same every run, the Piper voice varies a little
//! from run to run, as VITS samples its noise):
//! - barge: the caller interrupts (a sentence, -3 to +2 dB around their level);
//! - backchannel: "mhm", "yeah" (-6 to 0 dB);
//! - cough: one to three shaped noise bursts (loudest frame at -3 to +6 dB of the caller's);
//! - door: an impact and its rumble (0 to +10 dB);
//! - talker -10 / -20 dB: another sentence from the same voice, 10 or 20 dB below the caller;
//! - go on: the caller says a backchannel word, a comma, and goes on ("Yes, I can make it."):
//!   Piper pauses 280-440 ms at the comma, so the VAD often hears two segments, and the second
//!   must pass the gate too (else the judge drops it as a voice behind the caller);
//! - talker after a backchannel: a "yeah", then 300-450 ms later the talker 10 dB below the
//!   caller: the case the gate's wider margin for a caller going on (`rejoin_*`) could let
//!   through.
//!
//! The agent is stopped when the VAD stage's gate opens ([`Frame::CallerVoice`], what the
//! judge pauses on). A barge-in's onset delay runs from the event's first audible sample to the
//! end of the frame that opened the gate. A noise event is a false barge-in when the gate opens
//! from its start to 300 ms after its end. A backchannel is a false barge-in when the gate opens
//! and its VAD speech outlasts the judge's longest backchannel (700 ms): the judge then drops the
//! agent's reply; a shorter one only pauses the agent while its words are checked ("paused").
//! "Go on lost": a go-on trial in which any VAD segment of the sentence was refused by the
//! gate. "Tlk-after": the gate opened for the talker that followed a backchannel.
//! CPU is the VAD stage's time per 20 ms frame; Silero's inference time is timed per 32 ms chunk.
//!
//!   cargo run --release -p parley-voice --example barge_in -- [--trials N] [--seed S]
//!
//! Tuning for experiments (environment): BARGE_MARGIN_DB, BARGE_MIN_PERIODIC, BARGE_MIN_SPEECH,
//! BARGE_WINDOW, BARGE_PERIODIC, BARGE_THRESHOLD, BARGE_DEADLINE, BARGE_LEVEL_Q, BARGE_REJOIN
//! (frames), BARGE_REJOIN_MARGIN_DB.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "../tests/sounds/mod.rs"]
mod sounds;

use parley_speech::models::Models;
use parley_speech::tts::{PiperConfig, PiperTts};
use parley_speech::vad::{SileroVad, CHUNK};
use parley_speech::TextToSpeech;
use parley_telephony::audio::{PcmFrame, FRAME_SAMPLES};
use parley_voice::vad::gate::GateConfig;
use parley_voice::vad::{VadConfig, VadEngine, VadEvent, VadKind, VadStage};
use sounds::Rng;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

const TEACH: [&str; 4] = [
    "Hi, yes, this is Sam speaking.",
    "Sure, I have a minute, go ahead.",
    "Yes, I got your message yesterday.",
    "Okay, I'm listening, what is it about?",
];
const BARGE: [&str; 12] = [
    "Sorry, can I stop you there?",
    "Wait, that's the wrong address.",
    "No, no, I said Tuesday.",
    "Hold on a second, please.",
    "Actually, I need to reschedule.",
    "Excuse me, who is this?",
    "Stop, I already paid that bill.",
    "Can you repeat the price?",
    "I don't think that's right.",
    "One moment, let me get a pen.",
    "Well, my daughter handles that.",
    "Yes, but the order never arrived.",
];
const GO_ON: [&str; 6] = [
    "Yes, I can make it.",
    "Okay, but not on Monday.",
    "Yeah, that works for me.",
    "Right, and what about the second one?",
    "Sure, I will be there at ten.",
    "Mhm, and how much is it?",
];
const BACKCHANNEL: [&str; 7] = ["Mhm.", "Yeah.", "Okay.", "Uh-huh.", "Right.", "Yep.", "Sure."];
const TALKER: [&str; 6] = [
    "The weather tomorrow will be cloudy, with light rain in the afternoon.",
    "And now, back to the studio for the evening news.",
    "Did you remember to pick up the groceries on the way home?",
    "The game went into overtime after a late goal in the third period.",
    "I told him we would meet at the station around seven.",
    "Traffic is heavy on the bridge this morning, so leave early.",
];
/// The caller's level: Piper's output (peak -0.9 dBFS) turned down to a phone's usual level.
const CALLER_DB: f32 = -6.0;
/// Line hiss under everything.
const HISS_DBFS: f32 = -62.0;
/// The judge's longest backchannel.
const BACKCHANNEL_MAX_MS: usize = 700;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Class {
    Barge,
    Backchannel,
    Cough,
    Door,
    Talker10,
    Talker20,
    GoOn,
    TalkerAfterBackchannel,
}

impl Class {
    const ALL: [Class; 8] = [
        Class::Barge,
        Class::Backchannel,
        Class::Cough,
        Class::Door,
        Class::Talker10,
        Class::Talker20,
        Class::GoOn,
        Class::TalkerAfterBackchannel,
    ];
}

struct Trial {
    class: Class,
    frames: Vec<PcmFrame>,
    /// The event's first and last sample, and its first audible one.
    start: usize,
    end: usize,
    onset: usize,
    /// The talker's first audible sample, after a backchannel (else 0).
    talker: usize,
}

fn trials(tts: &PiperTts, per_class: usize, seed: u64) -> Vec<Trial> {
    let mut cache: HashMap<&str, Vec<i16>> = HashMap::new();
    let mut say = |text: &'static str| -> Vec<i16> {
        cache
            .entry(text)
            .or_insert_with(|| tts.synthesize(text).unwrap())
            .clone()
    };
    let mut rng = Rng::new(seed);
    let mut out = vec![];
    for class in Class::ALL {
        for i in 0..per_class {
            let caller = CALLER_DB + rng.range(-2.0, 2.0);
            let mut pcm = sounds::gain(&say(TEACH[i % TEACH.len()]), caller);
            let start = pcm.len() + 8000;
            let mut talker = 0;
            let event = match class {
                Class::Barge => sounds::gain(&say(BARGE[i % BARGE.len()]), caller + rng.range(-3.0, 2.0)),
                Class::Backchannel => {
                    sounds::gain(&say(BACKCHANNEL[i % BACKCHANNEL.len()]), caller + rng.range(-6.0, 0.0))
                }
                Class::Talker10 => sounds::gain(&say(TALKER[i % TALKER.len()]), caller - 10.0),
                Class::Talker20 => sounds::gain(&say(TALKER[i % TALKER.len()]), caller - 20.0),
                Class::GoOn => sounds::gain(&say(GO_ON[i % GO_ON.len()]), caller + rng.range(-3.0, 2.0)),
                Class::TalkerAfterBackchannel => {
                    let mut both =
                        sounds::gain(&say(BACKCHANNEL[i % BACKCHANNEL.len()]), caller + rng.range(-3.0, 0.0));
                    let voice = sounds::gain(&say(TALKER[i % TALKER.len()]), caller - 10.0);
                    // Piper's clips carry some quiet at their ends: the gap is between sounds.
                    let tail: Vec<i16> = both.iter().rev().copied().collect();
                    let heard_end = both.len() - sounds::onset(&tail);
                    let lead = sounds::onset(&voice);
                    let at = (heard_end + rng.range(2400.0, 3600.0) as usize).saturating_sub(lead);
                    talker = start + at + lead;
                    sounds::mix(&mut both, at, &voice);
                    both
                }
                Class::Cough | Class::Door => {
                    // Relative to the caller's loudest frame, as the speech classes are.
                    let teach = say(TEACH[i % TEACH.len()]);
                    let loudest = loudest_frame(&sounds::gain(&teach, caller));
                    if class == Class::Cough {
                        let level = loudest + rng.range(-3.0, 6.0);
                        sounds::cough(&mut rng, level)
                    } else {
                        let level = loudest + rng.range(0.0, 10.0);
                        sounds::door(&mut rng, level)
                    }
                }
            };
            let onset = start + sounds::onset(&event);
            let end = start + event.len();
            sounds::mix(&mut pcm, start, &event);
            pcm.resize(end + 9600, 0);
            let hiss = sounds::hiss(&mut rng, pcm.len(), HISS_DBFS);
            sounds::mix(&mut pcm, 0, &hiss);
            out.push(Trial {
                class,
                frames: sounds::through_the_line(&pcm),
                start,
                end,
                onset,
                talker,
            });
        }
    }
    out
}

fn loudest_frame(pcm: &[i16]) -> f32 {
    pcm.chunks(FRAME_SAMPLES)
        .map(parley_telephony::audio::level_dbfs)
        .fold(-100.0, f32::max)
}

/// What one configuration did with one trial.
struct Outcome {
    /// The end (in samples) of the first frame in the event's span that opened the gate.
    opened: Option<usize>,
    /// The longest VAD speech segment overlapping the event, ms.
    speech_ms: usize,
    /// Whether the gate opened, for each VAD segment overlapping the event.
    segments: Vec<bool>,
    /// The ends (in samples) of every frame that opened the gate.
    openings: Vec<usize>,
}

fn run(trial: &Trial, engine: &VadEngine, vad: VadConfig, gate: GateConfig, cpu: &mut (f64, usize)) -> Outcome {
    let mut stage = VadStage::with_engine(engine, vad, gate);
    let mut opened = None;
    let (mut seg_start, mut speech_ms) = (None, 0);
    let (mut segments, mut openings, mut seg_opened) = (vec![], vec![], false);
    let span = trial.start..trial.end + 2400;
    for (i, f) in trial.frames.iter().enumerate() {
        let t = Instant::now();
        let (event, open) = stage.push(f);
        cpu.0 += t.elapsed().as_secs_f64();
        cpu.1 += 1;
        let end = (i + 1) * FRAME_SAMPLES;
        if open && opened.is_none() && span.contains(&end) {
            opened = Some(end);
        }
        if open {
            openings.push(end);
            seg_opened = true;
        }
        match event {
            Some(VadEvent::Start { frames_ago }) => seg_start = Some(i - frames_ago as usize),
            Some(VadEvent::End { frames_ago }) => {
                if let Some(s) = seg_start.take() {
                    let last = i - frames_ago as usize;
                    if (s * FRAME_SAMPLES) < trial.end && (last + 1) * FRAME_SAMPLES > trial.start {
                        speech_ms = speech_ms.max((last + 1 - s) * 20);
                        segments.push(seg_opened);
                    }
                }
                seg_opened = false;
            }
            Some(VadEvent::Pause { .. }) | None => {}
        }
    }
    Outcome {
        opened,
        speech_ms,
        segments,
        openings,
    }
}

fn env_f32(name: &str) -> Option<f32> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// The figures of one configuration over all trials.
struct Row {
    name: &'static str,
    caught: f64,
    within_100: f64,
    p50: f64,
    p95: f64,
    /// False barge-ins per noise class, and their mean.
    noise: [f64; 4],
    noise_mean: f64,
    /// Backchannels that paused the agent, and that would interrupt it.
    bc_paused: f64,
    bc_false: f64,
    /// Go-on sentences with a segment refused, and those the VAD heard as two or more.
    go_on_lost: f64,
    go_on_split: f64,
    /// Talkers after a backchannel that opened the gate.
    after_bc: f64,
    us_per_frame: f64,
}

fn measure(name: &'static str, trials: &[Trial], engine: &VadEngine, gate: GateConfig, per_class: usize) -> Row {
    let mut vad = VadConfig::for_kind(engine.kind());
    if let (Some(v), VadKind::Silero) = (env_f32("BARGE_THRESHOLD"), engine.kind()) {
        vad.threshold = v;
    }
    let mut cpu = (0.0, 0);
    let mut delays = vec![];
    let mut opened: HashMap<Class, usize> = HashMap::new();
    let (mut bc_false, mut go_on_lost, mut go_on_split, mut after_bc) = (0, 0, 0, 0);
    for trial in trials {
        let o = run(trial, engine, vad, gate, &mut cpu);
        if o.opened.is_some() {
            *opened.entry(trial.class).or_default() += 1;
        }
        if trial.class == Class::GoOn {
            go_on_split += usize::from(o.segments.len() > 1);
            go_on_lost += usize::from(o.segments.iter().any(|passed| !passed));
        }
        let talker = trial.talker..trial.end + 2400;
        if trial.class == Class::TalkerAfterBackchannel && o.openings.iter().any(|e| talker.contains(e)) {
            after_bc += 1;
        }
        match trial.class {
            Class::Barge => {
                if let Some(end) = o.opened {
                    delays.push(end.saturating_sub(trial.onset) as f64 / 8.0);
                }
            }
            Class::Backchannel if o.opened.is_some() && o.speech_ms > BACKCHANNEL_MAX_MS => bc_false += 1,
            _ => {}
        }
    }
    delays.sort_by(f64::total_cmp);
    let pct = |n: usize| 100.0 * n as f64 / per_class as f64;
    let rate = |c: Class| pct(*opened.get(&c).unwrap_or(&0));
    let noise = [
        rate(Class::Cough),
        rate(Class::Door),
        rate(Class::Talker10),
        rate(Class::Talker20),
    ];
    Row {
        name,
        caught: pct(delays.len()),
        within_100: pct(delays.iter().filter(|&&d| d <= 100.0).count()),
        p50: percentile(&delays, 0.5),
        p95: percentile(&delays, 0.95),
        noise,
        noise_mean: noise.iter().sum::<f64>() / 4.0,
        bc_paused: rate(Class::Backchannel),
        bc_false: pct(bc_false),
        go_on_lost: pct(go_on_lost),
        go_on_split: pct(go_on_split),
        after_bc: pct(after_bc),
        us_per_frame: cpu.0 / cpu.1 as f64 * 1e6,
    }
}

/// The CPU's model name, and whether it has AVX-512 (ONNX Runtime's kernels use it).
fn cpu() -> (String, bool) {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')))
        .map_or("unknown".to_string(), |(_, m)| m.trim().to_string());
    (model, info.contains("avx512f"))
}

/// Silero's inference time per 32 ms chunk (p50, p99, µs), on a stream of line audio.
fn silero_chunk_time(vad: &Arc<SileroVad>, trials: &[Trial]) -> (f64, f64, usize) {
    let mut stream = vad.stream();
    let pcm: Vec<i16> = trials
        .iter()
        .take(12)
        .flat_map(|t| t.frames.iter().flatten().copied())
        .collect();
    let mut times: Vec<f64> = pcm
        .chunks_exact(CHUNK)
        .map(|c| {
            let t = Instant::now();
            stream.probability(c.try_into().unwrap()).unwrap();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (percentile(&times, 0.5), percentile(&times, 0.99), times.len())
}

fn ratio(x: f64, base: f64) -> String {
    if base == 0.0 {
        if x == 0.0 {
            "x1.00".into()
        } else {
            "inf".into()
        }
    } else {
        format!("x{:.2}", x / base)
    }
}

fn main() {
    let mut per_class = 40;
    let mut seed = 7;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--trials" => per_class = args.next().unwrap().parse().unwrap(),
            "--seed" => seed = args.next().unwrap().parse().unwrap(),
            other => panic!("unknown argument {other}"),
        }
    }
    let (model, avx512) = cpu();
    println!(
        "CPU: {model}, {} cores, AVX-512: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if avx512 { "yes" } else { "no" }
    );
    let models = Models::locate();
    let tts = PiperTts::from_models(&models, PiperConfig::default()).expect("the Piper voice (scripts/setup)");
    let silero = Arc::new(SileroVad::from_models(&models).expect("the Silero VAD model (scripts/setup)"));
    let t = Instant::now();
    let trials = trials(&tts, per_class, seed);
    let audio_s: f64 = trials.iter().map(|t| t.frames.len() as f64 * 0.02).sum();
    println!(
        "{} trials ({per_class} per class, seed {seed}), {audio_s:.0} s of line audio, synthesized in {:.1} s",
        trials.len(),
        t.elapsed().as_secs_f64()
    );
    let (c50, c99, chunks) = silero_chunk_time(&silero, &trials);
    println!("Silero inference per 32 ms chunk: p50 {c50:.0} us, p99 {c99:.0} us ({chunks} chunks, one thread)");

    let tuned = |kind: VadKind| {
        let mut gate = GateConfig::for_kind(kind);
        let set = |name: &str, field: &mut usize| {
            if let Some(v) = env_f32(name) {
                *field = v as usize;
            }
        };
        set("BARGE_MIN_PERIODIC", &mut gate.min_periodic);
        set("BARGE_MIN_SPEECH", &mut gate.min_speech);
        set("BARGE_WINDOW", &mut gate.window);
        set("BARGE_DEADLINE", &mut gate.deadline_frames);
        if let Some(v) = env_f32("BARGE_MARGIN_DB") {
            gate.margin_db = v;
        }
        if let Some(v) = env_f32("BARGE_PERIODIC") {
            gate.periodic = v;
        }
        if let Some(v) = env_f32("BARGE_LEVEL_Q") {
            gate.level_quantile = v;
        }
        set("BARGE_REJOIN", &mut gate.rejoin_frames);
        if let Some(v) = env_f32("BARGE_REJOIN_MARGIN_DB") {
            gate.rejoin_margin_db = v;
        }
        gate
    };
    let webrtc = VadEngine::WebRtc;
    let silero = VadEngine::Silero(silero);
    // The gate as it was before a caller going on after a pause got the wider margin.
    let no_rejoin = GateConfig {
        rejoin_margin_db: 0.0,
        ..tuned(VadKind::Silero)
    };
    let configs: [(&str, &VadEngine, GateConfig); 5] = [
        ("webrtc, no gate (before)", &webrtc, GateConfig::off()),
        ("webrtc + gate", &webrtc, tuned(VadKind::WebRtc)),
        ("silero, no gate", &silero, GateConfig::off()),
        ("silero + gate, no rejoin", &silero, no_rejoin),
        ("silero + gate", &silero, tuned(VadKind::Silero)),
    ];
    println!();
    println!(
        "{:<25} {:>6} {:>6} {:>13} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>10} {:>9} {:>8}",
        "VAD",
        "caught",
        "<=100",
        "delay p50/p95",
        "cough",
        "door",
        "tlk-10",
        "tlk-20",
        "noise",
        "bc",
        "bc-fbr",
        "go-on-lost",
        "tlk-after",
        "us/frame"
    );
    let rows: Vec<Row> = configs
        .iter()
        .map(|&(name, engine, gate)| measure(name, &trials, engine, gate, per_class))
        .collect();
    for r in &rows {
        println!(
            "{:<25} {:>5.0}% {:>5.0}% {:>6.0}/{:>4.0} ms {:>5.0}% {:>5.0}% {:>5.0}% {:>5.0}% {:>5.0}% {:>5.0}% {:>5.0}% {:>9.0}% {:>8.0}% {:>8.1}",
            r.name,
            r.caught,
            r.within_100,
            r.p50,
            r.p95,
            r.noise[0],
            r.noise[1],
            r.noise[2],
            r.noise[3],
            r.noise_mean,
            r.bc_paused,
            r.bc_false,
            r.go_on_lost,
            r.after_bc,
            r.us_per_frame
        );
    }
    let base = &rows[0];
    println!();
    println!("ratios against '{}' (same run):", base.name);
    for r in rows.iter().skip(1) {
        println!(
            "  {:<25} false barge-ins: noise {} backchannels {}; delay p50 {} p95 {}; CPU per frame {}",
            r.name,
            ratio(r.noise_mean, base.noise_mean),
            ratio(r.bc_false, base.bc_false),
            ratio(r.p50, base.p50),
            ratio(r.p95, base.p95),
            ratio(r.us_per_frame, base.us_per_frame)
        );
    }
    println!();
    println!(
        "caught: barge-ins that stopped the agent; <=100: within 100 ms of their onset; delay: onset to the \
         frame that stopped the agent; cough..tlk-20: noise events that stopped it (false barge-ins); noise: \
         their mean; bc: backchannels that paused it (the judge resumes after their words); bc-fbr: \
         backchannels that would interrupt it (VAD speech over 700 ms: false barge-ins); go-on-lost: \
         \"Yes, I can make it.\" sentences with a part the gate refused (the judge drops it: words lost); \
         tlk-after: a talker 10 dB under the caller, 300-450 ms after a backchannel, that stopped the agent."
    );
    for r in &rows {
        println!(
            "  {:<25} go-on sentences the VAD split at the comma: {:.0}%",
            r.name, r.go_on_split
        );
    }
}
