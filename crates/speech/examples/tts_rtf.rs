//! Real-time factor and time to first audio of the text-to-speech engines.
//!
//! ```text
//! cargo run --release -p parley-speech --example tts_rtf [-- --threads N] [--wav-dir DIR]
//! ```
//!
//! For each engine: the load time, then for each sentence the first call's latency (a cold
//! engine: Piper built without its warm-up) and the median of warm calls, with the audio's
//! length and RTF = synthesis time / audio time. For a reply spoken sentence by sentence, the
//! time to first audio is the first sentence's latency. `--wav-dir` writes each sentence as an
//! 8 kHz WAV, to listen to or to feed to speech-to-text.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use parley_speech::models::Models;
use parley_speech::tts::{EspeakTts, PiperConfig, PiperTts, ESPEAK_DEFAULT_SPEED};
use parley_speech::{TextToSpeech, PHONE_RATE};

const SENTENCES: &[&str] = &[
    "Hello, thank you for calling Parley.",
    "How can I help you today?",
    "Your appointment is confirmed for Tuesday, March third, at ten thirty in the morning.",
    "I'm sorry, I didn't catch that. Could you please repeat your account number?",
    "Please hold while I transfer you to a specialist.",
];

const WARM_RUNS: usize = 5;

fn write_wav(path: &PathBuf, pcm: &[i16]) -> std::io::Result<()> {
    let data_len = (pcm.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + pcm.len() * 2);
    out.extend(b"RIFF");
    out.extend((36 + data_len).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(PHONE_RATE.to_le_bytes());
    out.extend((PHONE_RATE * 2).to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(16u16.to_le_bytes());
    out.extend(b"data");
    out.extend(data_len.to_le_bytes());
    for s in pcm {
        out.extend(s.to_le_bytes());
    }
    std::fs::write(path, out)
}

/// CPU time of this process and its waited-for children (espeak-ng), from /proc/self/stat, in
/// clock ticks of 10 ms. Unlike wall time it does not grow when other work shares the cores.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    // Fields after the name: state is #3, utime #14 .. cstime #17 (1-based, whole line).
    let ticks: u64 = after_name
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Measures one engine over all sentences; returns (total audio s, total warm synthesis s).
fn measure(name: &str, tts: &dyn TextToSpeech, wav_dir: Option<&PathBuf>) -> (f64, f64) {
    println!("\n{name}");
    println!(
        "{:<6} {:>8} {:>10} {:>10} {:>8} {:>8}",
        "", "audio s", "first ms", "warm ms", "RTF1", "RTFw"
    );
    let (mut audio_total, mut warm_total) = (0.0, 0.0);
    let mut cpu_total = Duration::ZERO;
    for (i, text) in SENTENCES.iter().enumerate() {
        let t = Instant::now();
        let pcm = tts.synthesize(text).expect("synthesis");
        let first = t.elapsed();
        let cpu = cpu_time();
        let warm = median(
            (0..WARM_RUNS)
                .map(|_| {
                    let t = Instant::now();
                    tts.synthesize(text).expect("synthesis");
                    t.elapsed()
                })
                .collect(),
        );
        cpu_total += cpu_time() - cpu;
        let secs = pcm.len() as f64 / PHONE_RATE as f64;
        audio_total += secs;
        warm_total += warm.as_secs_f64();
        println!(
            "#{:<5} {:>8.2} {:>10.1} {:>10.1} {:>8.3} {:>8.3}",
            i + 1,
            secs,
            ms(first),
            ms(warm),
            first.as_secs_f64() / secs,
            warm.as_secs_f64() / secs
        );
        if let Some(dir) = wav_dir {
            let file = dir.join(format!(
                "{}-{}.wav",
                name.split_whitespace().next().unwrap_or(name),
                i + 1
            ));
            write_wav(&file, &pcm).expect("write wav");
        }
    }
    println!(
        "total  {audio_total:>8.2} s audio, warm synthesis {:.1} ms, RTF {:.3}; CPU RTF {:.3}",
        warm_total * 1000.0,
        warm_total / audio_total,
        cpu_total.as_secs_f64() / (audio_total * WARM_RUNS as f64)
    );
    (audio_total, warm_total)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let threads: usize = arg("--threads").map(|t| t.parse().expect("--threads N")).unwrap_or(1);
    let wav_dir = arg("--wav-dir").map(PathBuf::from);
    if let Some(dir) = &wav_dir {
        std::fs::create_dir_all(dir).expect("create --wav-dir");
    }

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{} cores, load average {} (other work on the machine inflates wall times; CPU RTF does not)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    let models = Models::locate();
    let t = Instant::now();
    let piper = PiperTts::from_models(
        &models,
        PiperConfig {
            threads,
            warm_up: false,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    println!(
        "Piper load (ONNX Runtime + voice, no warm-up): {:.0} ms, {threads} thread(s)",
        ms(t.elapsed())
    );
    measure(
        &format!("Piper en_US-joe-medium, {threads} thread(s)"),
        &piper,
        wav_dir.as_ref(),
    );

    // Where a warm Piper call's time goes.
    println!("\nPiper breakdown (warm, median of {WARM_RUNS}):");
    println!(
        "{:<6} {:>12} {:>12} {:>8}",
        "", "phonemize ms", "inference ms", "post ms"
    );
    for (i, text) in SENTENCES.iter().enumerate() {
        let mut runs: Vec<_> = (0..WARM_RUNS)
            .map(|_| piper.synthesize_with_timings(text).expect("synthesis").1)
            .collect();
        runs.sort_by_key(|t| t.phonemize + t.inference + t.post);
        let t = runs[runs.len() / 2];
        println!(
            "#{:<5} {:>12.1} {:>12.1} {:>8.1}",
            i + 1,
            ms(t.phonemize),
            ms(t.inference),
            ms(t.post)
        );
    }

    let t = Instant::now();
    let warmed = PiperTts::from_models(
        &models,
        PiperConfig {
            threads,
            ..Default::default()
        },
    )
    .expect("second voice");
    println!("\nsecond Piper load with warm-up: {:.0} ms", ms(t.elapsed()));
    let t = Instant::now();
    warmed.synthesize(SENTENCES[0]).expect("synthesis");
    println!("its first call (sentence #1): {:.1} ms", ms(t.elapsed()));
    drop(warmed);

    let t = Instant::now();
    let espeak = EspeakTts::new("en-us", ESPEAK_DEFAULT_SPEED).unwrap_or_else(|e| panic!("{e}"));
    println!("\nespeak-ng load (program check + probe): {:.1} ms", ms(t.elapsed()));
    measure("espeak-ng en-us", &espeak, wav_dir.as_ref());
}
