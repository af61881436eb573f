//! End-of-turn detectors on phone audio with natural mid-sentence pauses: which one cuts the
//! caller off least, and which decides soonest once they are done.
//!
//! Each sentence is spoken in two parts by an offline voice (the Piper voice and espeak-ng
//! voices and variants); the first part ends with a comma, so the voice gives it the level or
//! rising pitch of a clause that goes on. A pause of 400-900 ms (spread over the set) joins the
//! parts, a second of silence follows, and the whole goes through G.711 mu-law at 8 kHz. Each
//! utterance gives two decision points: at the pause (truth: not complete) and at the end
//! (truth: complete).
//!
//! At each point the detectors see what the pipeline sees: the audio up to the voice activity
//! detector's end event (120 ms after the last voiced frame: 6 unvoiced 20 ms frames), Whisper's
//! transcript of it (started at that event, as the endpointer's speculative transcription is)
//! and Smart Turn's probability (run at the same moment). Engine times are measured here, one
//! at a time, and added to the timeline. A detector decides at time D after the last word:
//!
//! - `fixed W`: D = max(W, text ready). Always "complete".
//! - `rule C/N/O`: the transcript rule ([`parley_speech::turn::text_end`]): wait C ms after
//!   complete-looking text, N after a number, O otherwise; D = max(wait, text ready).
//! - `smart T`: Smart Turn's probability > T: D = max(Smart Turn ready, text ready), else the
//!   ceiling (the rule's O).
//! - `rule+smart`: complete only when the rule and Smart Turn agree (C), else the rule's wait
//!   for the text (a complete-looking text Smart Turn doubts waits O).
//!
//! A pause is cut off when D comes before the caller's voice returns plus the 40 ms the voice
//! activity detector needs to hear it (2 voiced frames). "Complete" for precision and recall is
//! the detector's fast verdict (a fixed window is always fast).
//!
//! ```text
//! bench/turn_eval.sh                    # builds and runs this with the defaults below
//! cargo run --release -p parley-speech --example turn_eval -- \
//!     [--voices piper,en-us,en-us+f3,en-gb-x-rp,en-us+m3] [--rules 300/800/1200,100/600/1200] [-v]
//! ```

use std::time::Instant;

use parley_speech::models::Models;
use parley_speech::stt::{AudioWindow, WhisperConfig, WhisperStt};
use parley_speech::tts::{EspeakTts, PiperConfig, PiperTts, KEEP_SILENCE_MS};
use parley_speech::turn::{text_end, SmartTurn, TextEnd, TurnWaits};
use parley_speech::{TextToSpeech, PHONE_RATE};

/// Call-centre sentences split at a phrase boundary where people pause.
const SENTENCES: &[(&str, &str)] = &[
    ("I'd like to book an appointment", "for next Tuesday morning."),
    ("My account number is", "four five seven two."),
    ("I called yesterday and", "nobody picked up the phone."),
    (
        "The package was supposed to arrive on Monday",
        "but it never showed up.",
    ),
    ("Can you tell me", "when my order will be delivered?"),
    ("I want to cancel my subscription", "because I'm moving abroad."),
    ("My phone number is five five five", "one two three four."),
    ("Yes, I think", "Thursday afternoon would work best."),
    ("I was charged twice", "for the same order last month."),
    ("Could you send the confirmation", "to my email address?"),
    ("We moved into the new house", "about three weeks ago."),
    ("The internet keeps dropping", "every evening around eight."),
    ("I need to speak with someone about", "a refund for my last order."),
    ("So the thing is", "my card expired last week."),
    ("I'm calling on behalf of my mother", "who has an account with you."),
    ("The total came to forty two dollars", "which seems too high."),
];

/// Time from the last voiced frame to the VAD's end event (its hangover).
const VAD_END_MS: f64 = 120.0;
/// Time from the caller's voice returning to the VAD's start event (its onset).
const VAD_ONSET_MS: f64 = 40.0;

struct Args {
    voices: Vec<String>,
    rules: Vec<TurnWaits>,
    threshold: f32,
    verbose: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        voices: "piper,en-us,en-us+f3,en-gb-x-rp,en-us+m3"
            .split(',')
            .map(String::from)
            .collect(),
        rules: vec![waits("200/800/1200"), waits("300/800/1200"), waits("100/500/1500")],
        threshold: 0.5,
        verbose: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--voices" => args.voices = it.next().expect("--voices LIST").split(',').map(String::from).collect(),
            "--rules" => args.rules = it.next().expect("--rules LIST").split(',').map(waits).collect(),
            "--threshold" => args.threshold = it.next().expect("--threshold P").parse().expect("P"),
            "-v" | "--verbose" => args.verbose = true,
            other => panic!("unknown argument {other}; see the example's doc comment"),
        }
    }
    args
}

fn waits(s: &str) -> TurnWaits {
    let v: Vec<u32> = s.split('/').map(|x| x.parse().expect("C/N/O in ms")).collect();
    assert_eq!(v.len(), 3, "rule waits are C/N/O");
    TurnWaits {
        complete_ms: v[0],
        number_ms: v[1],
        open_ms: v[2],
    }
}

/// G.711 mu-law round trip of one sample (what the phone line does to the audio).
fn mulaw(s: i16) -> i16 {
    const BIAS: i32 = 0x84;
    let x = (s as i32).abs().min(32635) + BIAS;
    // The segment: position of the highest set bit above bit 7.
    let exponent = (31 - (x as u32).leading_zeros() as i32 - 7).clamp(0, 7);
    let mantissa = (x >> (exponent + 3)) & 0x0F;
    let decoded = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    if s < 0 {
        -decoded as i16
    } else {
        decoded as i16
    }
}

/// One decision point.
struct Point {
    voice: String,
    sentence: usize,
    /// `Some(pause ms)` at a pause, `None` at the end.
    pause_ms: Option<f64>,
    text: String,
    end: TextEnd,
    whisper_ms: f64,
    p: f32,
    smart_ms: f64,
}

enum Detector {
    Fixed(u32),
    Rule(TurnWaits),
    Smart { threshold: f32, ceiling: u32 },
    RuleAndSmart { waits: TurnWaits, threshold: f32 },
}

impl Detector {
    fn name(&self) -> String {
        match self {
            Detector::Fixed(w) => format!("fixed {w} ms"),
            Detector::Rule(w) => format!("rule {}/{}/{}", w.complete_ms, w.number_ms, w.open_ms),
            Detector::Smart { threshold, ceiling } => format!("smart > {threshold} (else {ceiling})"),
            Detector::RuleAndSmart { waits: w, threshold } => format!(
                "rule {}/{}/{} + smart > {threshold}",
                w.complete_ms, w.number_ms, w.open_ms
            ),
        }
    }

    /// (fast "complete" verdict, decision time after the last word in ms).
    fn decide(&self, p: &Point) -> (bool, f64) {
        let text_ready = VAD_END_MS + p.whisper_ms;
        let smart_ready = VAD_END_MS + p.smart_ms;
        match self {
            Detector::Fixed(w) => (true, (*w as f64).max(text_ready)),
            Detector::Rule(w) => (p.end == TextEnd::Complete, (w.wait_ms(p.end) as f64).max(text_ready)),
            Detector::Smart { threshold, ceiling } => {
                if p.p > *threshold {
                    (true, smart_ready.max(text_ready))
                } else {
                    (false, (*ceiling as f64).max(text_ready))
                }
            }
            Detector::RuleAndSmart { waits, threshold } => {
                let agree = p.end == TextEnd::Complete && p.p > *threshold;
                let wait = match (agree, p.end) {
                    (true, _) => waits.complete_ms,
                    (false, TextEnd::Complete) => waits.open_ms,
                    (false, end) => waits.wait_ms(end),
                };
                (agree, (wait as f64).max(text_ready).max(smart_ready))
            }
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    quantile(v, 0.5)
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn cpu_line() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|x| x.1.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let avx512 = info.lines().any(|l| l.starts_with("flags") && l.contains("avx512f"));
    format!(
        "CPU: {model}, {} cores, AVX-512: {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        if avx512 { "yes" } else { "no" }
    )
}

/// Area under the ROC curve of Smart Turn's probability, ends against pauses.
fn auc(points: &[Point]) -> f64 {
    let ends: Vec<f32> = points.iter().filter(|p| p.pause_ms.is_none()).map(|p| p.p).collect();
    let pauses: Vec<f32> = points.iter().filter(|p| p.pause_ms.is_some()).map(|p| p.p).collect();
    let mut wins = 0.0;
    for e in &ends {
        for q in &pauses {
            wins += if e > q {
                1.0
            } else if e == q {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (ends.len() * pauses.len()).max(1) as f64
}

fn main() {
    let args = parse_args();
    println!("{}", cpu_line());
    let models = Models::locate();
    let whisper = WhisperStt::from_models(
        &models,
        WhisperConfig {
            workers: 1,
            // The server's default window (PARLEY_STT_MIN_WINDOW_MS=2560).
            window: AudioWindow::Fitted {
                margin_ms: 1000,
                min_frames: 128,
            },
            ..WhisperConfig::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let smart = SmartTurn::from_models(&models, 1).unwrap_or_else(|e| panic!("{e}"));
    let samples = |ms: f64| (ms * PHONE_RATE as f64 / 1000.0).round() as usize;
    let keep = samples(KEEP_SILENCE_MS as f64);

    let mut points = Vec::new();
    for (v, voice) in args.voices.iter().enumerate() {
        let tts: Box<dyn TextToSpeech> = if voice == "piper" {
            Box::new(PiperTts::from_models(&models, PiperConfig::default()).unwrap_or_else(|e| panic!("{e}")))
        } else {
            Box::new(EspeakTts::new(voice, 160).unwrap_or_else(|e| panic!("{e}")))
        };
        for (i, (first, second)) in SENTENCES.iter().enumerate() {
            // The pause between the last voiced sound of the first part and the first of the
            // second, spread over 400-900 ms across the set.
            let pause_ms = 400.0 + ((i * 137 + v * 61) % 501) as f64;
            let a = tts.synthesize(&format!("{first},")).expect("synthesis");
            let b = tts.synthesize(second).expect("synthesis");
            let gap = samples(pause_ms).saturating_sub(2 * keep);
            let mut line: Vec<i16> = a.clone();
            line.resize(a.len() + gap, 0);
            line.extend_from_slice(&b);
            line.resize(line.len() + samples(1000.0), 0);
            let line: Vec<i16> = line.into_iter().map(mulaw).collect();
            let last_a = a.len() - keep;
            let last_b = a.len() + gap + b.len() - keep;
            for (last, pause) in [(last_a, Some(pause_ms)), (last_b, None)] {
                let heard = &line[..last + samples(VAD_END_MS)];
                let t0 = Instant::now();
                let text = whisper.transcribe_detailed(heard).expect("whisper").text;
                let whisper_ms = t0.elapsed().as_secs_f64() * 1000.0;
                let t0 = Instant::now();
                let p = smart.complete_probability(heard).expect("smart turn");
                let smart_ms = t0.elapsed().as_secs_f64() * 1000.0;
                let point = Point {
                    voice: voice.clone(),
                    sentence: i,
                    pause_ms: pause,
                    end: text_end(&text),
                    text,
                    whisper_ms,
                    p,
                    smart_ms,
                };
                if args.verbose {
                    println!(
                        "  [{}] #{:<2} {:<10} {:<8?} p {:.2}  whisper {:>4.0} ms  smart {:>3.0} ms  {:?}",
                        point.voice,
                        point.sentence,
                        match point.pause_ms {
                            Some(p) => format!("pause {p:.0}"),
                            None => "end".into(),
                        },
                        point.end,
                        point.p,
                        point.whisper_ms,
                        point.smart_ms,
                        point.text
                    );
                }
                points.push(point);
            }
        }
    }

    let n_pauses = points.iter().filter(|p| p.pause_ms.is_some()).count();
    let mut whisper_ms: Vec<f64> = points.iter().map(|p| p.whisper_ms).collect();
    let mut smart_ms: Vec<f64> = points.iter().map(|p| p.smart_ms).collect();
    println!(
        "{} utterances ({} voices x {} sentences), pauses 400-900 ms; {} decision points",
        n_pauses,
        args.voices.len(),
        SENTENCES.len(),
        points.len()
    );
    println!(
        "engine time, median (p95): Whisper to text {:.0} ms ({:.0}) on {} threads (a lone call's), Smart Turn {:.0} ms ({:.0}) per inference on 1 thread",
        median(&mut whisper_ms),
        quantile(&mut whisper_ms, 0.95),
        whisper.config().idle_threads,
        median(&mut smart_ms),
        quantile(&mut smart_ms, 0.95)
    );
    println!("Smart Turn AUC (ends against pauses): {:.2}", auc(&points));
    let ends_of = |end: TextEnd, pause: bool| {
        points
            .iter()
            .filter(|p| p.pause_ms.is_some() == pause && p.end == end)
            .count()
    };
    for (label, pause) in [("at pauses", true), ("at ends", false)] {
        println!(
            "transcript ends {label}: complete {}, number {}, open {}, empty {}",
            ends_of(TextEnd::Complete, pause),
            ends_of(TextEnd::Number, pause),
            ends_of(TextEnd::Open, pause),
            ends_of(TextEnd::Empty, pause)
        );
    }

    let mut detectors = vec![Detector::Fixed(400)];
    for w in &args.rules {
        detectors.push(Detector::Rule(*w));
    }
    let ceiling = args.rules.first().map_or(1200, |w| w.open_ms);
    detectors.push(Detector::Smart {
        threshold: args.threshold,
        ceiling,
    });
    for w in &args.rules {
        detectors.push(Detector::RuleAndSmart {
            waits: *w,
            threshold: args.threshold,
        });
    }
    println!();
    println!(
        "| detector | precision \"complete\" | recall \"complete\" | pauses cut off | delay after the last word p50 / p95 ms |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    for d in &detectors {
        let (mut tp, mut fp, mut cut) = (0usize, 0usize, 0usize);
        let mut delays = Vec::new();
        for p in &points {
            let (complete, at) = d.decide(p);
            match p.pause_ms {
                Some(pause) => {
                    fp += usize::from(complete);
                    cut += usize::from(at < pause + VAD_ONSET_MS);
                }
                None => {
                    tp += usize::from(complete);
                    delays.push(at);
                }
            }
        }
        let n_ends = points.len() - n_pauses;
        println!(
            "| {} | {:.0} % | {:.0} % | {:.0} % ({cut}/{n_pauses}) | {:.0} / {:.0} |",
            d.name(),
            100.0 * tp as f64 / (tp + fp).max(1) as f64,
            100.0 * tp as f64 / n_ends.max(1) as f64,
            100.0 * cut as f64 / n_pauses.max(1) as f64,
            median(&mut delays),
            quantile(&mut delays, 0.95)
        );
    }
}
