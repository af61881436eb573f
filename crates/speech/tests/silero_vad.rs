//! Silero VAD against the installed model, on speech from the installed Piper voice.
//!
//! These tests need the models `scripts/setup` installs. Without them they fail (naming
//! `scripts/setup`), never pass silently.
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use parley_speech::models::Models;
use parley_speech::tts::{PiperConfig, PiperTts};
use parley_speech::vad::{SileroVad, CHUNK};
use parley_speech::{SpeechError, TextToSpeech};

fn silero() -> Arc<SileroVad> {
    Arc::new(SileroVad::from_models(&Models::locate()).unwrap_or_else(|e| panic!("cannot load Silero VAD: {e}")))
}

/// The probability of each 256-sample chunk of `pcm`, from a fresh stream.
fn probabilities(vad: &Arc<SileroVad>, pcm: &[i16]) -> Vec<f32> {
    let mut stream = vad.stream();
    pcm.chunks_exact(CHUNK)
        .map(|c| stream.probability(c.try_into().unwrap()).unwrap())
        .collect()
}

#[test]
fn speech_scores_high_and_silence_and_noise_low() {
    let vad = silero();
    let tts = PiperTts::from_models(&Models::locate(), PiperConfig::default()).unwrap();
    let speech = tts
        .synthesize("Thank you for calling, how can I help you today?")
        .unwrap();
    let p = probabilities(&vad, &speech);
    let voiced = p.iter().filter(|&&p| p > 0.5).count();
    assert!(
        voiced * 2 > p.len(),
        "speech: {voiced} of {} chunks over 0.5: {p:?}",
        p.len()
    );

    let silence = probabilities(&vad, &[0; CHUNK * 30]);
    assert!(silence.iter().all(|&p| p < 0.1), "silence: {silence:?}");

    // White noise at -20 dBFS (a xorshift generator: no dependency, same every run).
    let mut x: u32 = 0x9E37_79B9;
    let noise: Vec<i16> = (0..CHUNK * 30)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            ((x as i32 >> 16) as f32 * 0.1 * 1.7) as i16
        })
        .collect();
    let p = probabilities(&vad, &noise);
    assert!(p.iter().filter(|&&p| p > 0.5).count() <= 2, "noise: {p:?}");
}

#[test]
fn each_stream_keeps_its_own_state() {
    let vad = silero();
    let tts = PiperTts::from_models(&Models::locate(), PiperConfig::default()).unwrap();
    let speech = tts.synthesize("Yes, that works for me.").unwrap();
    let alone = probabilities(&vad, &speech);
    // Another stream fed silence in between does not change this one's answers.
    let mut a = vad.stream();
    let mut b = vad.stream();
    let mut interleaved = vec![];
    for c in speech.chunks_exact(CHUNK) {
        interleaved.push(a.probability(c.try_into().unwrap()).unwrap());
        b.probability(&[0; CHUNK]).unwrap();
    }
    for (x, y) in alone.iter().zip(&interleaved) {
        assert!((x - y).abs() < 1e-4, "{alone:?} vs {interleaved:?}");
    }
    a.reset();
    let again: Vec<f32> = speech
        .chunks_exact(CHUNK)
        .map(|c| a.probability(c.try_into().unwrap()).unwrap())
        .collect();
    assert!((again[3] - alone[3]).abs() < 1e-4, "reset forgets the past");
}

#[test]
fn a_model_that_is_not_silero_is_refused_by_name() {
    let models = Models::locate();
    let (piper, _) = models.piper_voice().unwrap();
    let err = SileroVad::new(&models.onnxruntime().unwrap(), &piper).unwrap_err();
    assert!(matches!(err, SpeechError::Engine(_)), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("not a Silero") && msg.contains("stateN"), "{msg}");
    let missing = SileroVad::new(
        &models.onnxruntime().unwrap(),
        std::path::Path::new("/nonexistent/vad.onnx"),
    );
    assert!(matches!(missing, Err(SpeechError::MissingModel(_))));
}
