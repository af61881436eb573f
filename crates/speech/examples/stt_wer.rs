//! Word error rate and real-time factor of [`WhisperStt`] on phone audio, for the full 30 s
//! window and for windows fitted to the utterance.
//!
//! Call-centre sentences are spoken by the `espeak-ng` program, taken through the phone path
//! with sox (8 kHz G.711 mu-law and back), and transcribed. WER is counted on normalised words:
//! lower case, no punctuation, number words and numerals in one form ("forty two", "42").
//!
//! ```text
//! scripts/setup            # once: installs models/
//! cargo run --release -p parley-speech --example stt_wer
//! cargo run --release -p parley-speech --example stt_wer -- \
//!     --voices en-us,en-us+f3,en-gb --windows full,fit:500:128,fit:1000:256 --threads 1 -v
//! ```
//!
//! `--voices` takes espeak-ng voice names and `piper` or `piper:LENGTH_SCALE` (the installed
//! Piper voice, the product's own TTS, at its own or another speaking rate); `--windows` takes `full` or `fit:MARGIN_MS:MIN_FRAMES`; `-v` prints every transcript;
//! `--wideband` skips the phone path (16 kHz espeak-ng audio straight in); `--sox-upsample`
//! upsamples the phone audio with sox instead of the engine's resampler; `--model PATH` tries
//! another ggml file; `--flash-attn` turns on ggml's flash attention.

#[path = "common/machine.rs"]
mod machine;
#[path = "common/wer.rs"]
mod wer;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use parley_speech::models::Models;
use parley_speech::stt::{AudioWindow, Transcript, WhisperConfig, WhisperStt, WHISPER_RATE};
use parley_speech::tts::{PiperConfig, PiperTts};
use parley_speech::{TextToSpeech, PHONE_RATE};

/// The first twelve of the shared call-centre sentences: the set the figures in `stt.rs` are on.
const SENTENCES: &[&str] = wer::SENTENCES.split_at(12).0;

enum Clip {
    Phone(Vec<i16>),
    Wide(Vec<f32>),
}

impl Clip {
    fn seconds(&self) -> f64 {
        match self {
            Clip::Phone(pcm) => pcm.len() as f64 / PHONE_RATE as f64,
            Clip::Wide(audio) => audio.len() as f64 / WHISPER_RATE as f64,
        }
    }

    fn transcribe(&self, stt: &WhisperStt) -> Result<Transcript, parley_speech::SpeechError> {
        match self {
            Clip::Phone(pcm) => stt.transcribe_detailed(pcm),
            Clip::Wide(audio) => stt.transcribe_16k_detailed(audio),
        }
    }
}

struct Args {
    voices: Vec<String>,
    windows: Vec<AudioWindow>,
    threads: usize,
    verbose: bool,
    wideband: bool,
    sox_upsample: bool,
    flash_attn: bool,
    model: Option<PathBuf>,
}

fn parse_args() -> Args {
    let mut args = Args {
        voices: vec!["en-us".into()],
        windows: vec![AudioWindow::Full, AudioWindow::default()],
        threads: WhisperConfig::default().threads,
        verbose: false,
        wideband: false,
        sox_upsample: false,
        flash_attn: false,
        model: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--voices" => args.voices = it.next().expect("--voices LIST").split(',').map(String::from).collect(),
            "--windows" => {
                args.windows = it
                    .next()
                    .expect("--windows LIST")
                    .split(',')
                    .map(parse_window)
                    .collect()
            }
            "--threads" => args.threads = it.next().expect("--threads N").parse().expect("N"),
            "-v" | "--verbose" => args.verbose = true,
            "--wideband" => args.wideband = true,
            "--sox-upsample" => args.sox_upsample = true,
            "--flash-attn" => args.flash_attn = true,
            "--model" => args.model = Some(it.next().expect("--model PATH").into()),
            other => panic!("unknown argument {other}; see the example's doc comment"),
        }
    }
    args
}

fn parse_window(s: &str) -> AudioWindow {
    if s == "full" {
        return AudioWindow::Full;
    }
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        ["fit", margin, floor] => AudioWindow::Fitted {
            margin_ms: margin.parse().expect("margin ms"),
            min_frames: floor.parse().expect("min frames"),
        },
        _ => panic!("window {s:?}: use full or fit:MARGIN_MS:MIN_FRAMES"),
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Speaks `text` with espeak-ng and returns it as 16 kHz f32, without the phone path (to tell
/// what the phone costs from what the voice costs).
fn wideband_audio(dir: &Path, voice: &str, i: usize, text: &str) -> Vec<f32> {
    let wav = dir.join(format!("{voice}-{i}-wide.wav"));
    let raw = dir.join(format!("{voice}-{i}-wide.s16"));
    run(Command::new("espeak-ng")
        .args(["-v", voice, "-s", "160", "-w"])
        .arg(&wav)
        .arg(text));
    run(Command::new("sox")
        .arg(&wav)
        .args([
            "-t",
            "raw",
            "-e",
            "signed-integer",
            "-b",
            "16",
            "-r",
            "16000",
            "-c",
            "1",
        ])
        .arg(&raw));
    let bytes = std::fs::read(&raw).expect("read decoded audio");
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
        .collect()
}

/// Phone audio upsampled to 16 kHz by sox instead of [`WhisperStt`]'s own resampler.
fn sox_upsample(dir: &Path, tag: &str, pcm: &[i16]) -> Vec<f32> {
    let narrow = dir.join(format!("{tag}-narrow.s16"));
    let wide = dir.join(format!("{tag}-up.s16"));
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(&narrow, bytes).expect("write");
    let raw = ["-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1"];
    run(Command::new("sox")
        .args(raw)
        .args(["-r", "8000"])
        .arg(&narrow)
        .args(raw)
        .args(["-r", "16000"])
        .arg(&wide));
    let bytes = std::fs::read(&wide).expect("read");
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
        .collect()
}

/// Speaks `text` with the installed Piper voice (the product's own TTS, already 8 kHz) and
/// takes it through a G.711 mu-law round trip.
fn piper_phone_audio(dir: &Path, piper: &PiperTts, i: usize, text: &str) -> Vec<i16> {
    let pcm = piper.synthesize(text).expect("piper synthesis");
    let narrow = dir.join(format!("piper-{i}.s16"));
    let ulaw = dir.join(format!("piper-{i}-ulaw.wav"));
    let raw = dir.join(format!("piper-{i}-back.s16"));
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(&narrow, bytes).expect("write");
    run(Command::new("sox")
        .args(["-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-r", "8000"])
        .arg(&narrow)
        .args(["-D", "-e", "u-law"])
        .arg(&ulaw));
    run(Command::new("sox")
        .arg(&ulaw)
        .args(["-t", "raw", "-e", "signed-integer", "-b", "16", "-r", "8000", "-c", "1"])
        .arg(&raw));
    let bytes = std::fs::read(&raw).expect("read decoded audio");
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Speaks `text` with espeak-ng and returns it as 8 kHz PCM after a G.711 mu-law round trip.
fn phone_audio(dir: &Path, voice: &str, i: usize, text: &str) -> Vec<i16> {
    let wav = dir.join(format!("{voice}-{i}.wav"));
    let ulaw = dir.join(format!("{voice}-{i}-ulaw.wav"));
    let raw = dir.join(format!("{voice}-{i}.s16"));
    run(Command::new("espeak-ng")
        .args(["-v", voice, "-s", "160", "-w"])
        .arg(&wav)
        .arg(text));
    run(Command::new("sox")
        .arg(&wav)
        .args(["-D", "-r", "8000", "-c", "1", "-e", "u-law"])
        .arg(&ulaw));
    run(Command::new("sox")
        .arg(&ulaw)
        .args(["-t", "raw", "-e", "signed-integer", "-b", "16", "-r", "8000", "-c", "1"])
        .arg(&raw));
    let bytes = std::fs::read(&raw).expect("read decoded audio");
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn describe(w: &AudioWindow) -> String {
    match w {
        AudioWindow::Full => "full 30 s window".into(),
        AudioWindow::Fitted { margin_ms, min_frames } => format!("fitted: +{margin_ms} ms, min {min_frames} frames"),
    }
}

fn main() {
    let args = parse_args();
    let models = Models::locate();
    let model = match &args.model {
        Some(path) => path.clone(),
        None => models.whisper().unwrap_or_else(|e| panic!("{e}")),
    };
    let dir: PathBuf = std::env::temp_dir().join(format!("parley-stt-wer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    let mut clips = Vec::new();
    for voice in &args.voices {
        // `piper` or `piper:LENGTH_SCALE` (speaking rate: 0.8 faster, 1.2 slower).
        let piper = voice.strip_prefix("piper").map(|scale| {
            let config = PiperConfig {
                length_scale: scale.strip_prefix(':').map(|s| s.parse().expect("piper:LENGTH_SCALE")),
                ..PiperConfig::default()
            };
            PiperTts::from_models(&models, config).unwrap_or_else(|e| panic!("{e}"))
        });
        for (i, text) in SENTENCES.iter().enumerate() {
            let audio = if let Some(piper) = &piper {
                assert!(
                    !args.wideband && !args.sox_upsample,
                    "the piper voice is phone audio only"
                );
                Clip::Phone(piper_phone_audio(&dir, piper, i, text))
            } else if args.wideband {
                Clip::Wide(wideband_audio(&dir, voice, i, text))
            } else if args.sox_upsample {
                let pcm = phone_audio(&dir, voice, i, text);
                Clip::Wide(sox_upsample(&dir, &format!("{voice}-{i}"), &pcm))
            } else {
                Clip::Phone(phone_audio(&dir, voice, i, text))
            };
            clips.push((voice.clone(), *text, audio));
        }
    }
    let audio_s: f64 = clips.iter().map(|c| c.2.seconds()).sum();
    println!("{}; load average {}", machine::cpu_line(), machine::load_average());
    println!(
        "{} clips ({} voices x {} sentences), {:.1} s of {}; model {}; {} threads",
        clips.len(),
        args.voices.len(),
        SENTENCES.len(),
        audio_s,
        if args.wideband {
            "16 kHz audio (no phone path)"
        } else if args.sox_upsample {
            "8 kHz mu-law audio upsampled by sox"
        } else {
            "8 kHz mu-law audio"
        },
        model.display(),
        args.threads
    );

    for window in &args.windows {
        let stt = WhisperStt::new(
            &model,
            WhisperConfig {
                threads: args.threads,
                idle_threads: args.threads,
                workers: 1,
                window: *window,
                flash_attn: args.flash_attn,
                ..WhisperConfig::default()
            },
        )
        .expect("load whisper");
        // One warm-up call so first-use allocations do not count.
        clips[0].2.transcribe(&stt).expect("warm-up");

        let (mut errors, mut words, mut busy, mut worst) = (0usize, 0usize, 0f64, 0f64);
        let cpu0 = machine::cpu_seconds(machine::CpuOf::Process);
        let mut logprobs = Vec::new();
        let mut per_voice: Vec<(String, usize, usize)> = Vec::new();
        for (voice, text, pcm) in &clips {
            let t0 = Instant::now();
            let detail = pcm.transcribe(&stt).expect("transcribe");
            let hyp = detail.text.clone();
            logprobs.push(detail.avg_logprob);
            let dt = t0.elapsed().as_secs_f64();
            let (r, h) = (wer::normalize(text), wer::normalize(&hyp));
            let e = wer::edits(&r, &h);
            errors += e;
            words += r.len();
            busy += dt;
            worst = worst.max(dt);
            match per_voice.iter_mut().find(|v| &v.0 == voice) {
                Some(v) => {
                    v.1 += e;
                    v.2 += r.len()
                }
                None => per_voice.push((voice.clone(), e, r.len())),
            }
            if args.verbose || e > 0 {
                println!(
                    "  [{voice}] {:.2} s, logprob {:.2}, {e} err: {hyp:?}  (ref {text:?})",
                    dt, detail.avg_logprob
                );
            }
        }
        let cpu = machine::cpu_seconds(machine::CpuOf::Process) - cpu0;
        logprobs.sort_by(f32::total_cmp);
        let quantile = |q: f64| logprobs[((logprobs.len() - 1) as f64 * q).round() as usize];
        let by_voice: Vec<String> = per_voice
            .iter()
            .map(|(v, e, n)| format!("{v} {:.1} %", 100.0 * *e as f64 / *n as f64))
            .collect();
        println!(
            "{:<36} WER {:5.1} % ({errors}/{words}) [{}]  RTF {:.3} (CPU {:.3})  mean {:.2} s  worst {:.2} s",
            describe(window),
            100.0 * errors as f64 / words as f64,
            by_voice.join(", "),
            busy / audio_s,
            cpu / audio_s,
            busy / clips.len() as f64,
            worst
        );
        println!(
            "{:<36} mean token log-prob: min {:.2}, 10 % {:.2}, median {:.2}",
            "",
            quantile(0.0),
            quantile(0.1),
            quantile(0.5)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
