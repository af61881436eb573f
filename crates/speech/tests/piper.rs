//! Text-to-speech against the installed Piper voice and the espeak-ng program.
//!
//! These tests need the models `scripts/setup` installs. Without them they fail (naming
//! `scripts/setup`), never pass silently: a green run must mean the voice really speaks.

use std::sync::{Arc, OnceLock};

use parley_speech::models::Models;
use parley_speech::tts::{CachedTts, EspeakTts, PiperConfig, PiperTts, ESPEAK_DEFAULT_SPEED};
use parley_speech::{TextToSpeech, PHONE_RATE};

fn piper() -> &'static PiperTts {
    static PIPER: OnceLock<PiperTts> = OnceLock::new();
    PIPER.get_or_init(|| {
        PiperTts::from_models(&Models::locate(), PiperConfig::default())
            .unwrap_or_else(|e| panic!("cannot load the Piper voice: {}", with_setup_hint(&e)))
    })
}

/// The error's message, naming `scripts/setup` (missing-model errors already do).
fn with_setup_hint(e: &dyn std::fmt::Display) -> String {
    let msg = e.to_string();
    if msg.contains("scripts/setup") {
        msg
    } else {
        format!("{msg} (scripts/setup installs the models and espeak-ng)")
    }
}

fn seconds(pcm: &[i16]) -> f64 {
    pcm.len() as f64 / PHONE_RATE as f64
}

fn rms(pcm: &[i16]) -> f64 {
    (pcm.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / pcm.len().max(1) as f64).sqrt()
}

/// Milliseconds before the signal first reaches 1 % of its peak (the kept 30 ms of silence plus
/// the first sound's onset).
fn lead_ms(pcm: &[i16]) -> f64 {
    let peak = pcm.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
    let first = pcm.iter().position(|v| v.unsigned_abs() >= peak / 100).unwrap_or(0);
    first as f64 * 1000.0 / PHONE_RATE as f64
}

#[test]
fn piper_speaks_a_sentence_at_8khz() {
    let tts = piper();
    let text = "Thank you for calling. How can I help you today?";
    let (pcm, timings) = tts.synthesize_with_timings(text).unwrap();
    assert_eq!(PHONE_RATE, 8000);
    let secs = seconds(&pcm);
    assert!((1.5..6.0).contains(&secs), "{secs:.2} s for {text:?}");
    assert_eq!(timings.sentences, 2, "each sentence is one ONNX run, as in Piper");
    let level = rms(&pcm);
    assert!(level > 1500.0, "RMS {level:.0}: nearly silent");
    let peak = pcm.iter().map(|v| v.unsigned_abs()).max().unwrap();
    assert!((28000..=30000).contains(&peak), "peak {peak} not levelled to -0.9 dBFS");
    assert!(
        lead_ms(&pcm) < 80.0,
        "speech starts after {:.0} ms of silence",
        lead_ms(&pcm)
    );

    // The 8 kHz output is the native audio resampled (less the trimmed silence), not a
    // differently-paced rendition: its length must be at most the native length at 8 kHz.
    let native = tts.synthesize_native(text).unwrap();
    let expected = native.len() as f64 * PHONE_RATE as f64 / tts.native_rate() as f64;
    assert!(
        pcm.len() as f64 <= expected * 1.15 && pcm.len() as f64 >= expected * 0.6,
        "8 kHz length {} vs native {} at {} Hz",
        pcm.len(),
        native.len(),
        tts.native_rate()
    );

    let short = tts.synthesize("Yes.").unwrap();
    assert!(
        (0.15..1.5).contains(&seconds(&short)),
        "{:.2} s for \"Yes.\"",
        seconds(&short)
    );
    assert!(tts.synthesize(" ... ").unwrap().is_empty(), "nothing to say, no audio");
}

#[test]
fn piper_phonemes_match_the_voice_training_format() {
    let tts = piper();
    // espeak-ng IPA with stress marks, punctuation put back, one string per sentence.
    assert_eq!(
        tts.phonemize("Hello, world. How are you?").unwrap(),
        vec!["həlˈoʊ, wˈɜːld.", "hˈaʊ ɑːɹ juː?"]
    );
    // Where espeak-ng cuts a clause this splitter keeps whole ("¡" is a clause break to it), the
    // clauses are phonemized one by one instead: same words, nothing shifted.
    assert_eq!(
        tts.phonemize("Hello¡ world, yes.").unwrap(),
        vec!["həlˈoʊ wˈɜːld, jˈɛs."]
    );
    let ids = tts.phoneme_ids("Hi.").unwrap();
    assert_eq!(ids.len(), 1);
    let ids = &ids[0];
    // BOS, pad, (phoneme, pad)*, EOS.
    assert_eq!((ids[0], ids[1], *ids.last().unwrap()), (1, 0, 2));
    assert!(
        ids.iter().enumerate().filter(|(i, _)| i % 2 == 1).all(|(_, &p)| p == 0),
        "{ids:?}"
    );
}

#[test]
fn a_second_piper_shares_the_runtime() {
    let first = piper();
    let (onnx, json) = Models::locate().piper_voice().unwrap();
    let lib = Models::locate().onnxruntime().unwrap();
    let second = PiperTts::new(
        &lib,
        &onnx,
        &json,
        PiperConfig {
            warm_up: false,
            // Well apart from 1.0 and without duration noise: the default voice's own noise_w
            // moves a sentence's length by ~10 % from one synthesis to the next.
            length_scale: Some(1.6),
            noise_w: Some(0.0),
            ..Default::default()
        },
    )
    .expect("a second voice loads without re-initializing ONNX Runtime");
    let normal = first.synthesize("One two three four five.").unwrap();
    let slow = second.synthesize("One two three four five.").unwrap();
    assert!(
        seconds(&slow) > seconds(&normal) * 1.25,
        "length_scale 1.6: {:.2} s vs {:.2} s",
        seconds(&slow),
        seconds(&normal)
    );
}

#[test]
fn cached_piper_returns_the_same_clip_and_single_flights() {
    let cache = Arc::new(CachedTts::new(
        PiperTts::from_models(
            &Models::locate(),
            PiperConfig {
                warm_up: false,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{}", with_setup_hint(&e))),
        8000 * 600,
    ));
    let a = cache.synthesize_cached("Please hold while I transfer you.").unwrap();
    let b = cache.synthesize_cached("Please hold while I transfer you.").unwrap();
    assert!(Arc::ptr_eq(&a, &b), "second call must return the cached clip");
    assert!(seconds(&a) > 1.0);

    let handles: Vec<_> = (0..3)
        .map(|_| {
            let cache = cache.clone();
            std::thread::spawn(move || cache.synthesize_cached("Your appointment is confirmed.").unwrap())
        })
        .collect();
    let clips: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(clips.iter().all(|c| Arc::ptr_eq(c, &clips[0])));
    let stats = cache.stats();
    assert_eq!(stats.misses, 2, "one synthesis per distinct text: {stats:?}");
    assert_eq!(stats.hits, 3, "{stats:?}");
    assert_eq!(stats.entries, 2);
}

#[test]
fn espeak_speaks_in_several_voices() {
    let male = EspeakTts::new("en-us", ESPEAK_DEFAULT_SPEED).unwrap_or_else(|e| panic!("{}", with_setup_hint(&e)));
    let female = EspeakTts::new("en-us+f3", ESPEAK_DEFAULT_SPEED).unwrap();
    let text = "Thank you for calling. How can I help you today?";
    let m = male.synthesize(text).unwrap();
    let f = female.synthesize(text).unwrap();
    for pcm in [&m, &f] {
        assert!((1.5..6.0).contains(&seconds(pcm)), "{:.2} s", seconds(pcm));
        assert!(rms(pcm) > 1500.0, "RMS {:.0}", rms(pcm));
        assert!(lead_ms(pcm) < 80.0);
    }
    assert_ne!(m, f);
    assert!(EspeakTts::new("zz-nothing", 175).is_err());
    assert!(EspeakTts::new("--stdout", 175).is_err());
}
