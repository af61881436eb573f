//! How long Piper pauses at a comma: the quiet inside sentences a caller persona says, which
//! the turn rule's wait after complete-looking words has to outlast so that "Yes, that's
//! right." stays one turn.
//!
//! ```text
//! cargo run --release -p parley-speech --example comma_pauses [-- --runs 20]
//! ```
//!
//! Each sentence is synthesized `--runs` times (Piper samples its voice afresh each time), at
//! 8 kHz; a 20 ms frame below -40 dBFS is quiet. Prints, per sentence, the longest quiet run
//! between the first and the last loud frame: its median, p90 and maximum, in ms.

use parley_speech::models::Models;
use parley_speech::tts::{PiperConfig, PiperTts};
use parley_speech::TextToSpeech;

const SENTENCES: &[&str] = &[
    "Yes, that's right.",
    "No, I can't make it.",
    "Yes please, I would love that.",
    "Hi, you've reached Erin. I can't take your call right now.",
    "Well, I think Thursday works.",
    "Sure, go ahead.",
];

fn longest_inner_quiet(pcm: &[i16]) -> u32 {
    let loud: Vec<bool> = pcm
        .chunks(160)
        .map(|f| {
            let rms = (f.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / f.len() as f64).sqrt();
            20.0 * (rms / 32768.0).max(1e-9).log10() > -40.0
        })
        .collect();
    let (Some(first), Some(last)) = (loud.iter().position(|&l| l), loud.iter().rposition(|&l| l)) else {
        return 0;
    };
    let (mut run, mut best) = (0u32, 0u32);
    for &l in &loud[first..=last] {
        run = if l { 0 } else { run + 1 };
        best = best.max(run);
    }
    best * 20
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let piper = PiperTts::from_models(&Models::locate(), PiperConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    println!("{:<62} {:>6} {:>6} {:>6}", "sentence", "p50", "p90", "max");
    for s in SENTENCES {
        let mut gaps: Vec<u32> = (0..runs)
            .map(|_| longest_inner_quiet(&piper.synthesize(s).unwrap_or_else(|e| panic!("{e}"))))
            .collect();
        gaps.sort_unstable();
        let at = |q: f64| gaps[((gaps.len() - 1) as f64 * q).round() as usize];
        println!("{:<62} {:>6} {:>6} {:>6}", s, at(0.5), at(0.9), gaps[gaps.len() - 1]);
    }
}
