//! Whisper on phone audio, end to end: espeak-ng speaks a phrase, sox takes it through 8 kHz
//! G.711 mu-law and back, and [`WhisperStt`] must get the words.
//!
//! Needs the installed models (`scripts/setup`), the `espeak-ng` program and sox. A missing
//! model FAILS the test with the setup command in the message: it does not skip.
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use parley_speech::models::Models;
use parley_speech::stt::{WhisperConfig, WhisperStt};
use parley_speech::turn::{text_end, TextEnd};
use parley_speech::SpeechToText;

fn model() -> PathBuf {
    let models = Models::locate();
    models.whisper().unwrap_or_else(|e| {
        panic!(
            "{e}\nThe Whisper test needs the offline models: run `scripts/setup` at the \
             repository root (models dir looked up: {})",
            models.dir.display()
        )
    })
}

fn tool(name: &str) {
    let ok = Command::new(name)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "`{name}` is not installed; `scripts/setup` installs it (Debian package {name})"
    );
}

/// `text` spoken by espeak-ng, as 8 kHz PCM after a mu-law round trip.
fn phone_phrase(text: &str, tag: &str) -> Vec<i16> {
    tool("espeak-ng");
    tool("sox");
    // One directory per call: the tests run in parallel threads of one process.
    let dir = std::env::temp_dir().join(format!("parley-whisper-test-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join(format!("{tag}.wav"));
    let ulaw = dir.join(format!("{tag}-ulaw.wav"));
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "160", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .unwrap();
    assert!(status.success(), "espeak-ng failed");
    let status = Command::new("sox")
        .arg(&wav)
        .args(["-D", "-r", "8000", "-c", "1", "-e", "u-law"])
        .arg(&ulaw)
        .status()
        .unwrap();
    assert!(status.success(), "sox (to mu-law) failed");
    let out = Command::new("sox")
        .arg(&ulaw)
        .args([
            "-t",
            "raw",
            "-e",
            "signed-integer",
            "-b",
            "16",
            "-r",
            "8000",
            "-c",
            "1",
            "-",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "sox (from mu-law) failed");
    let _ = std::fs::remove_dir_all(&dir);
    out.stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn transcribes_a_phone_phrase() {
    let stt = WhisperStt::new(model(), WhisperConfig::default()).expect("load whisper");
    let pcm = phone_phrase("Yes, that works for me.", "yes");
    let text = stt.transcribe(&pcm).expect("transcribe");
    let got = words(&text);
    for w in ["that", "works", "for", "me"] {
        assert!(got.iter().any(|g| g == w), "missing {w:?} in {text:?}");
    }
    assert!(got.iter().any(|g| g == "yes" || g == "yeah"), "no yes in {text:?}");
}

#[test]
fn silence_and_noise_give_no_text() {
    let stt = WhisperStt::new(model(), WhisperConfig::default()).expect("load whisper");
    assert_eq!(stt.transcribe(&[]).unwrap(), "");
    assert_eq!(stt.transcribe(&vec![0i16; 16_000]).unwrap(), "");
    // Faint hiss (about -60 dBFS) is below the silence gate.
    let mut seed = 12345u32;
    let hiss: Vec<i16> = (0..16_000)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((seed >> 16) as i16 % 64) - 32
        })
        .collect();
    assert_eq!(stt.transcribe(&hiss).unwrap(), "");
}

#[test]
fn several_threads_share_one_engine() {
    let stt = Arc::new(
        WhisperStt::new(
            model(),
            WhisperConfig {
                threads: 1,
                workers: 2,
                ..WhisperConfig::default()
            },
        )
        .expect("load whisper"),
    );
    let phrases = [
        ("I want to cancel my subscription.", "cancel"),
        ("I would like a refund please.", "refund"),
        ("I want to cancel my subscription.", "subscription"),
    ];
    let handles: Vec<_> = phrases
        .iter()
        .enumerate()
        .map(|(i, &(text, word))| {
            let stt = Arc::clone(&stt);
            let pcm = phone_phrase(text, &format!("t{i}"));
            std::thread::spawn(move || {
                let got = stt.transcribe(&pcm).expect("transcribe");
                assert!(words(&got).iter().any(|w| w == word), "missing {word:?} in {got:?}");
            })
        })
        .collect();
    for h in handles {
        h.join().expect("transcription thread");
    }
}

/// A short answer in the Piper voice (the one calls hear), at 8 kHz, noise off so every run
/// hears the same audio.
fn piper_phrase(text: &str) -> Vec<i16> {
    use parley_speech::tts::{PiperConfig, PiperTts};
    use parley_speech::TextToSpeech;
    let tts = PiperTts::from_models(
        &Models::locate(),
        PiperConfig {
            noise_scale: Some(0.0),
            noise_w: Some(0.0),
            ..PiperConfig::default()
        },
    )
    .expect("the Piper voice (scripts/setup)");
    tts.synthesize(text).unwrap()
}

/// Whisper wrote one "Yes." of this voice as "Yes. Yes. Yes. Yes. Yes. Yes. Yes." (or "Yes,
/// yes, yes, ...", kept as "Yes," by the loop guard: speech that goes on, to the turn rule) on
/// an AVX-512 machine, every time, with the server's window. The decoder must stop the loop
/// and the text must be the answer, once, complete to the turn rule: with both installed models,
/// primed with the agent's question as calls are and not.
#[test]
fn a_short_answer_is_written_once_as_a_sentence() {
    let models = Models::locate();
    let mut paths = vec![model()];
    paths.extend(models.whisper_tiny_en());
    let server_window = WhisperConfig {
        window: parley_speech::stt::AudioWindow::Fitted {
            margin_ms: 1000,
            min_frames: 128,
        },
        ..WhisperConfig::default()
    };
    for path in paths {
        let stt = WhisperStt::new(&path, server_window.clone()).expect("load whisper");
        for (said, word) in [("Yes.", "yes"), ("No.", "no")] {
            let pcm = piper_phrase(said);
            for context in ["", "Are you still coming on Thursday?"] {
                let text = stt.transcribe_in_context(&pcm, context).unwrap();
                assert_eq!(
                    words(&text),
                    [word],
                    "{} heard {text:?} (context {context:?})",
                    path.display()
                );
                assert_eq!(
                    text_end(&text),
                    TextEnd::Complete,
                    "{text:?} reads as speech that goes on"
                );
            }
        }
    }
}
