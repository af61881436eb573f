//! The offline speech-to-text on phone audio, as a matrix: word error rate and the engine's time
//! per utterance for each Whisper model, each voice and each line condition (clean, and
//! call-centre noise at 20 and 10 dB SNR), all through 8 kHz G.711 mu-law.
//!
//! ```text
//! scripts/setup              # once: installs models/ (Whisper base q8_0, the Piper voice)
//! bench/stt_wer.sh           # builds in release, runs the matrix, writes bench/out/
//! cargo run --release -p parley-speech --example stt_eval -- \
//!     --model models/whisper/ggml-base-q8_0.bin --model extra-models/ggml-tiny.en-q8_0.bin \
//!     --voices piper,piper:0.8,piper:1.2,en-us,en-us+f3,en-gb,en-us+m7,flite:slt,flite:rms \
//!     --conditions clean,20,10 --tsv bench/out/stt_eval.tsv
//! ```
//!
//! - **Utterances**: the 30 call-centre sentences of `common/wer.rs` (requests, account and
//!   phone numbers, amounts, names, dates, yes/no answers); `--sentences N` takes the first N.
//!   Each is padded with 150 ms of silence before and 250 ms after, as a VAD hands a turn over.
//! - **Voices** (`--voices`): `piper` / `piper:LENGTH_SCALE` (the product's Piper voice at its
//!   own or another rate), espeak-ng voice names, `flite:NAME` (Debian's flite: `slt`, `rms`,
//!   `awb`, `kal`). See `voices.rs`.
//! - **Conditions** (`--conditions`): `clean`, or an SNR in dB: babble of six other TTS
//!   talkers plus pink noise, mixed before the mu-law encoder. See `noise.rs`.
//! - **Models** (`--model PATH`, repeatable; default the installed Whisper base): each is loaded
//!   with one worker and `--threads` threads (default 1, the product's setting when calls run
//!   side by side) and the server's default window, fitted with a 1 s margin and a 2.56 s floor
//!   (`--window full` or `fit:MARGIN_MS:MIN_FRAMES` for others).
//! - **Figures**: WER on normalised words (`common/wer.rs`); the wall-clock time of each
//!   `transcribe` call (median, p95), its CPU time (median: the decode runs on the calling
//!   thread, so this is its cost without waiting for a core), RTF (wall time over audio length).
//!   The CPU, its AVX-512 flag and the load average at start and end are printed: on a shared
//!   machine the times are indicative, the WERs are not affected.

#[path = "../common/machine.rs"]
mod machine;
mod noise;
mod report;
mod voices;
#[path = "../common/wer.rs"]
mod wer;

use std::path::PathBuf;
use std::time::Instant;

use parley_speech::models::Models;
use parley_speech::stt::{AudioWindow, WhisperConfig, WhisperStt};
use parley_speech::PHONE_RATE;

use machine::CpuOf;
use noise::{NoiseBed, BABBLE_TEXT};
use report::{Axes, Cell, Outcome};
use voices::Voice;

/// The server's window (`PARLEY_STT_MIN_WINDOW_MS` = 2560 ms, margin 1 s; `server/src/speech.rs`):
/// what a call's turns are decoded with, so what the figures should describe.
const SERVER_WINDOW: AudioWindow = AudioWindow::Fitted {
    margin_ms: 1000,
    min_frames: 128,
};
/// Silence around each utterance (ms): before, after.
const PAD_MS: (usize, usize) = (150, 250);
/// Talkers of the babble: voices not in the default test set.
const BABBLE_ESPEAK: &[&str] = &["en-gb-scotland", "en-029+f4", "en-gb-x-rp+m3", "en-us+f2"];
const BABBLE_FLITE: &[&str] = &["flite:kal", "flite:awb"];

#[derive(Clone, Copy)]
enum Condition {
    Clean,
    Snr(f64),
}

impl Condition {
    fn parse(s: &str) -> Condition {
        match s {
            "clean" => Condition::Clean,
            db => Condition::Snr(
                db.trim_end_matches("dB")
                    .parse()
                    .expect("--conditions clean,SNR_DB,..."),
            ),
        }
    }

    fn label(&self) -> String {
        match self {
            Condition::Clean => "clean".into(),
            Condition::Snr(db) => format!("SNR {db} dB"),
        }
    }
}

struct Args {
    models: Vec<PathBuf>,
    voices: Vec<String>,
    conditions: Vec<Condition>,
    window: AudioWindow,
    threads: usize,
    sentences: usize,
    tsv: Option<PathBuf>,
    verbose: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        models: Vec::new(),
        voices: "piper,piper:0.8,piper:1.2,en-us,en-us+f3,en-gb,en-us+m7,flite:slt,flite:rms"
            .split(',')
            .map(String::from)
            .collect(),
        conditions: vec![Condition::Clean, Condition::Snr(20.0), Condition::Snr(10.0)],
        window: SERVER_WINDOW,
        threads: 1,
        sentences: wer::SENTENCES.len(),
        tsv: None,
        verbose: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--model" => args.models.push(value().into()),
            "--voices" => args.voices = value().split(',').map(String::from).collect(),
            "--conditions" => args.conditions = value().split(',').map(Condition::parse).collect(),
            "--window" => args.window = parse_window(&value()),
            "--threads" => args.threads = value().parse().expect("--threads N"),
            "--sentences" => args.sentences = value().parse().expect("--sentences N"),
            "--tsv" => args.tsv = Some(value().into()),
            "-v" | "--verbose" => args.verbose = true,
            other => panic!("unknown argument {other}; see the example's doc comment"),
        }
    }
    args.sentences = args.sentences.clamp(1, wer::SENTENCES.len());
    args
}

fn parse_window(s: &str) -> AudioWindow {
    if s == "full" {
        return AudioWindow::Full;
    }
    match s.split(':').collect::<Vec<_>>().as_slice() {
        ["fit", margin, floor] => AudioWindow::Fitted {
            margin_ms: margin.parse().expect("margin ms"),
            min_frames: floor.parse().expect("min frames"),
        },
        _ => panic!("window {s:?}: use full or fit:MARGIN_MS:MIN_FRAMES"),
    }
}

/// "ggml-base-q8_0.bin" -> "base-q8_0".
fn model_label(path: &std::path::Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    stem.strip_prefix("ggml-").unwrap_or(&stem).to_string()
}

fn pad(pcm: Vec<i16>) -> Vec<i16> {
    let ms = |n: usize| n * PHONE_RATE as usize / 1000;
    let mut out = vec![0i16; ms(PAD_MS.0)];
    out.extend(pcm);
    out.resize(out.len() + ms(PAD_MS.1), 0);
    out
}

/// One utterance as the phone line delivers it.
struct Clip {
    voice: usize,
    condition: usize,
    sentence: usize,
    pcm: Vec<i16>,
}

fn main() {
    let mut args = parse_args();
    let models = Models::locate();
    if args.models.is_empty() {
        args.models.push(models.whisper().unwrap_or_else(|e| panic!("{e}")));
    }
    let sentences = &wer::SENTENCES[..args.sentences];
    let scratch = std::env::temp_dir().join(format!("parley-stt-eval-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");

    println!("{}", machine::cpu_line());
    println!("load average at start: {}", machine::load_average());
    println!(
        "{} sentences x {} voices x {} conditions; {} model(s); {} thread(s); window {:?}",
        sentences.len(),
        args.voices.len(),
        args.conditions.len(),
        args.models.len(),
        args.threads,
        args.window
    );

    // Speech, clean, per voice and sentence.
    let t0 = Instant::now();
    let mut speech: Vec<Vec<Vec<i16>>> = Vec::new();
    for name in &args.voices {
        let voice = Voice::open(name, &models, &scratch).unwrap_or_else(|e| panic!("voice {name}: {e}"));
        speech.push(sentences.iter().map(|s| pad(voice.speak(s))).collect());
    }
    // The noise, once, if a condition needs it.
    let bed = args.conditions.iter().any(|c| matches!(c, Condition::Snr(_))).then(|| {
        let flite = voices::flite_available();
        let talkers: Vec<Vec<i16>> = BABBLE_ESPEAK
            .iter()
            .chain(BABBLE_FLITE.iter().filter(|_| flite))
            .enumerate()
            .map(|(k, name)| {
                let voice = Voice::open(name, &models, &scratch).unwrap_or_else(|e| panic!("babble {name}: {e}"));
                let text: Vec<&str> = (0..BABBLE_TEXT.len())
                    .map(|i| BABBLE_TEXT[(i + k) % BABBLE_TEXT.len()])
                    .collect();
                voice.speak(&text.join(" "))
            })
            .collect();
        println!("noise: babble of {} TTS talkers + pink noise at -6 dB", talkers.len());
        NoiseBed::new(&talkers)
    });
    let mut clips = Vec::new();
    for (v, per_voice) in speech.iter().enumerate() {
        for (s, pcm) in per_voice.iter().enumerate() {
            for (c, condition) in args.conditions.iter().enumerate() {
                let line_in = match (condition, &bed) {
                    (Condition::Snr(db), Some(bed)) => bed.mix(pcm, *db, (v * 1000 + s) as u64),
                    _ => pcm.clone(),
                };
                clips.push(Clip {
                    voice: v,
                    condition: c,
                    sentence: s,
                    pcm: noise::phone_line(&line_in),
                });
            }
        }
    }
    let audio_s: f64 = clips.iter().map(|c| c.pcm.len() as f64 / PHONE_RATE as f64).sum();
    println!(
        "{} clips, {:.0} s of 8 kHz mu-law audio, made in {:.0} s",
        clips.len(),
        audio_s,
        t0.elapsed().as_secs_f64()
    );

    let axes_models: Vec<String> = args.models.iter().map(|p| model_label(p)).collect();
    let conditions: Vec<String> = args.conditions.iter().map(Condition::label).collect();
    let mut outcomes = Vec::new();
    for (m, path) in args.models.iter().enumerate() {
        let config = WhisperConfig {
            threads: args.threads,
            idle_threads: args.threads,
            workers: 1,
            window: args.window,
            ..WhisperConfig::default()
        };
        let t_load = Instant::now();
        let stt = WhisperStt::new(path, config).unwrap_or_else(|e| panic!("{e}"));
        println!(
            "\nmodel {} ({}, {:.0} MB), loaded in {:.2} s; load average {}",
            axes_models[m],
            path.display(),
            std::fs::metadata(path).map(|md| md.len() as f64 / 1e6).unwrap_or(0.0),
            t_load.elapsed().as_secs_f64(),
            machine::load_average()
        );
        stt.transcribe_detailed(&clips[0].pcm).expect("warm-up");
        let cpu0 = machine::cpu_seconds(CpuOf::Process);
        let wall0 = Instant::now();
        let first = outcomes.len();
        for clip in &clips {
            let (t, cpu) = (Instant::now(), machine::cpu_seconds(CpuOf::Thread));
            let hyp = stt.transcribe_detailed(&clip.pcm).expect("transcribe").text;
            let stt_s = t.elapsed().as_secs_f64();
            let cpu_s = machine::cpu_seconds(CpuOf::Thread) - cpu;
            let reference = wer::normalize(sentences[clip.sentence]);
            let errors = wer::edits(&reference, &wer::normalize(&hyp));
            if args.verbose && errors > 0 {
                println!(
                    "  [{} {}] {errors} err, {:.0} ms: {hyp:?} (ref {:?})",
                    args.voices[clip.voice],
                    conditions[clip.condition],
                    stt_s * 1000.0,
                    sentences[clip.sentence]
                );
            }
            outcomes.push(Outcome {
                model: m,
                voice: clip.voice,
                condition: clip.condition,
                sentence: clip.sentence,
                words: reference.len(),
                errors,
                stt_s,
                cpu_s,
                audio_s: clip.pcm.len() as f64 / PHONE_RATE as f64,
                hypothesis: hyp,
            });
        }
        let cell = Cell::of(outcomes[first..].iter());
        println!(
            "model {}: WER {:.1} %, STT median {:.0} ms, p95 {:.0} ms, CPU median {:.0} ms, RTF {:.3} (CPU {:.3}); {:.0} s; load average {}",
            axes_models[m],
            cell.wer(),
            cell.median_ms,
            cell.p95_ms,
            cell.cpu_median_ms,
            cell.rtf,
            (machine::cpu_seconds(CpuOf::Process) - cpu0) / audio_s,
            wall0.elapsed().as_secs_f64(),
            machine::load_average()
        );
    }

    let axes = Axes {
        models: &axes_models,
        voices: &args.voices,
        conditions: &conditions,
    };
    println!("{}", report::tables(&axes, &outcomes));
    println!("load average at end: {}", machine::load_average());
    if let Some(path) = &args.tsv {
        std::fs::write(path, report::tsv(&axes, &outcomes, sentences)).expect("write --tsv");
        println!("per-utterance results: {}", path.display());
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
