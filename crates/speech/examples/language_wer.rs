//! Word error rate and per-utterance times of a second language end to end: the language's
//! voice (or espeak-ng voices named on the command line) says call-centre sentences, the audio
//! goes through 8 kHz G.711 mu-law, and the installed Whisper model, told the language,
//! transcribes it. WER is counted on lower-case words without accents or punctuation.
//!
//! ```text
//! cargo run --release -p parley-speech --example language_wer
//! cargo run --release -p parley-speech --example language_wer -- --voices es-419,es --speeds 150,160,175 -v
//! ```
//!
//! `--full-window` decodes with Whisper's full 30 s window instead of the fitted one;
//! `--no-mu-law` skips the G.711 step; `--load-english` also times loading the English Piper voice; `--context TEXT` primes Whisper as a call does with the
//! agent's last sentence. Without `--voices` it uses the voice [`Voices`] picks for Spanish (what calls get). Times
//! are for one thread (Whisper and the voice), one utterance at a time.

use std::time::{Duration, Instant};

use parley_speech::models::Models;
use parley_speech::stt::{WhisperConfig, WhisperStt};
use parley_speech::tts::{EspeakTts, PiperConfig, Voices};
use parley_speech::{Language, SpeechToText, TextToSpeech, PHONE_RATE};
use unicode_normalization::UnicodeNormalization;

const SENTENCES: &[&str] = &[
    "Hola, llamo por el pedido que hice la semana pasada.",
    "Mi número de cuenta es cuatro cinco siete dos.",
    "Sí, eso me viene bien.",
    "¿Puede cambiar mi cita al jueves por la tarde?",
    "Quisiera hablar con alguien sobre un reembolso.",
    "El total fue de cuarenta y dos dólares.",
    "No, ya pagué la factura el lunes.",
    "Por favor, envíe la confirmación a mi correo electrónico.",
    "Mi número de teléfono termina en seis uno ocho nueve.",
    "¿Podría repetirlo un poco más despacio?",
    "Quiero cancelar mi suscripción, por favor.",
    "El paquete nunca llegó, pero el seguimiento dice entregado.",
];

fn words(text: &str) -> Vec<String> {
    let plain: String = text
        .nfd()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .flat_map(char::to_lowercase)
        .collect();
    plain
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

/// Word-level edit distance.
fn edits(reference: &[String], hypothesis: &[String]) -> usize {
    let mut row: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, h) in hypothesis.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(r != h)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[hypothesis.len()]
}

fn through_mu_law(pcm: &[i16]) -> Vec<i16> {
    const BIAS: i32 = 0x84;
    pcm.iter()
        .map(|&s| {
            let (sign, magnitude) = if s < 0 { (0x80, -(s as i32)) } else { (0, s as i32) };
            let x = magnitude.min(32_635) + BIAS;
            let exponent = (7..=14).rev().find(|&bit| x & (1 << bit) != 0).map_or(0, |bit| bit - 7);
            let u = sign | (exponent << 4) | ((x >> (exponent + 3)) & 0x0f);
            let magnitude = ((((u & 0x0f) << 3) + BIAS) << ((u >> 4) & 0x07)) - BIAS;
            (if u & 0x80 != 0 { -magnitude } else { magnitude }) as i16
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let verbose = args.iter().any(|a| a == "-v");
    let flag = |f: &str| args.iter().any(|a| a == f);
    // What the caller just heard, as a call primes Whisper with the agent's last sentence.
    let context = value("--context").unwrap_or_default();
    let language = Language::SPANISH;
    let models = Models::locate();
    let stt = WhisperStt::from_models(
        &models,
        WhisperConfig {
            threads: 1,
            idle_threads: 1,
            workers: 1,
            window: if flag("--full-window") {
                parley_speech::stt::AudioWindow::Full
            } else {
                parley_speech::stt::AudioWindow::default()
            },
            ..WhisperConfig::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let started = Instant::now();
    let voices = Voices::discover(&models, PiperConfig::default());
    eprintln!("voices discovered in {:?}: {voices:?}", started.elapsed());
    if flag("--load-english") {
        // What a server pays at start for its default voice (Piper, warmed up).
        let started = Instant::now();
        voices.get(Language::ENGLISH).unwrap_or_else(|e| panic!("{e}"));
        eprintln!("English voice loaded in {:?}", started.elapsed());
    }
    let mut engines: Vec<(String, Box<dyn TextToSpeech>)> = Vec::new();
    match value("--voices") {
        Some(list) => {
            let speeds = value("--speeds").unwrap_or_else(|| "160".into());
            for voice in list.split(',') {
                for speed in speeds.split(',') {
                    let speed: u32 = speed.parse().expect("--speeds takes numbers");
                    let tts = EspeakTts::new(voice, speed).unwrap_or_else(|e| panic!("{e}"));
                    engines.push((format!("espeak-ng {voice} at {speed} wpm"), Box::new(tts)));
                }
            }
        }
        None => {
            let started = Instant::now();
            let voice = voices
                .get(language)
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("no {language} voice installed: {voices:?}"));
            let info = voices.info(language).expect("the voice just loaded");
            eprintln!("{language} voice {info:?} loaded in {:?}", started.elapsed());
            struct Shared(std::sync::Arc<parley_speech::tts::LanguageVoice>);
            impl TextToSpeech for Shared {
                fn synthesize(&self, text: &str) -> Result<Vec<i16>, parley_speech::SpeechError> {
                    self.0.synthesize(text)
                }
            }
            engines.push((format!("{} ({:?})", info.name, info.kind), Box::new(Shared(voice))));
        }
    }

    // One warm-up decode, so first-use allocations do not count.
    let warm = engines[0].1.synthesize(SENTENCES[0]).expect("synthesize");
    let _ = stt.transcribe_in_language(&warm, "", language);

    for (name, tts) in &engines {
        let (mut errors, mut total) = (0, 0);
        let (mut tts_time, mut stt_time, mut audio) = (Duration::ZERO, Duration::ZERO, 0f64);
        for sentence in SENTENCES {
            let started = Instant::now();
            let pcm = tts.synthesize(sentence).expect("synthesize");
            tts_time += started.elapsed();
            audio += pcm.len() as f64 / PHONE_RATE as f64;
            let phone = if flag("--no-mu-law") { pcm } else { through_mu_law(&pcm) };
            let started = Instant::now();
            let text = stt
                .transcribe_in_language(&phone, &context, language)
                .expect("transcribe");
            stt_time += started.elapsed();
            let (reference, hypothesis) = (words(sentence), words(&text));
            let e = edits(&reference, &hypothesis);
            errors += e;
            total += reference.len();
            if verbose {
                println!("  [{e}] {sentence:?} -> {text:?}");
            }
        }
        let n = SENTENCES.len() as u32;
        println!(
            "{name}: WER {:.1} % ({errors}/{total} words); per utterance ({:.2} s of speech): \
             TTS {:?} (RTF {:.3}), STT {:?} (RTF {:.2})",
            100.0 * errors as f64 / total as f64,
            audio / n as f64,
            tts_time / n,
            tts_time.as_secs_f64() / audio,
            stt_time / n,
            stt_time.as_secs_f64() / audio,
        );
    }
}
