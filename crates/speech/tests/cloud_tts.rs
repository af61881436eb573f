//! The cloud text-to-speech engines against loopback fakes of ElevenLabs and Cartesia that
//! speak (and check) each service's documented wire protocol.

use fake::{level_of, Fake};
use parley_speech::cloud::cartesia::{CartesiaConfig, CartesiaEncoding, CartesiaTts};
use parley_speech::cloud::elevenlabs::{ElevenLabsConfig, ElevenLabsTts};
use parley_speech::fakes as fake;
use parley_speech::session::{StreamingTts, TtsEvent, TtsInput, TtsSession};
use std::time::Duration;
use url::Url;

const KEY: &str = "sk-test-key-0123";

fn elevenlabs(fake: &Fake, key: &str) -> ElevenLabsTts {
    let mut c = ElevenLabsConfig::new(key, "voice-1", "eleven_flash_v2_5");
    c.base_url = Url::parse(&fake.base_url).expect("url");
    ElevenLabsTts::new(c).expect("config")
}

fn cartesia(fake: &Fake, key: &str, encoding: CartesiaEncoding) -> CartesiaTts {
    let mut c = CartesiaConfig::new(key, "sonic-2", "voice-1");
    c.base_url = Url::parse(&fake.base_url).expect("url");
    c.language = Some("en".into());
    c.encoding = encoding;
    CartesiaTts::new(c).expect("config")
}

fn say(context: u64, text: &str) -> TtsInput {
    TtsInput::Text {
        context,
        text: text.into(),
        fixed: false,
    }
}

async fn next(s: &mut TtsSession) -> TtsEvent {
    match tokio::time::timeout(Duration::from_secs(5), s.next()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the session ended"),
        Err(_) => panic!("no event within 5 s"),
    }
}

/// Events up to `Done { context: last }`, as "context:text" (audio; empty text for a
/// continuation) and "context:done", checking each chunk's level against its sentence's.
async fn until_done(s: &mut TtsSession, last: u64) -> Vec<String> {
    let mut seen = Vec::new();
    let mut sentence = String::new();
    loop {
        match next(s).await {
            TtsEvent::Audio { context, text, pcm, .. } => {
                if !text.is_empty() {
                    sentence = text.clone();
                }
                let level = level_of(&sentence);
                let off = pcm
                    .iter()
                    .filter(|&&x| (i32::from(x) - i32::from(level)).abs() > i32::from(level) / 16)
                    .count();
                assert_eq!(off, 0, "audio of {sentence:?} at level {level}: {:?}", &pcm[..4]);
                seen.push(format!("{context}:{text}"));
            }
            TtsEvent::Done { context } => {
                seen.push(format!("{context}:done"));
                if context == last {
                    return seen;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Sentences with their two continuation chunks (each fake speaks a sentence in three).
fn spoken(context: u64, sentences: &[&str]) -> Vec<String> {
    sentences
        .iter()
        .flat_map(|s| [format!("{context}:{s}"), format!("{context}:"), format!("{context}:")])
        .chain([format!("{context}:done")])
        .collect()
}

async fn two_turns(engine: &dyn StreamingTts, fake: &Fake) {
    let mut s = engine.open();
    s.send(say(1, "Hello there."));
    s.send(say(1, "How are you today?"));
    s.send(TtsInput::Flush { context: 1 });
    s.send(say(2, "Second turn."));
    s.send(TtsInput::Flush { context: 2 });
    let mut expected = spoken(1, &["Hello there.", "How are you today?"]);
    expected.extend(spoken(2, &["Second turn."]));
    assert_eq!(until_done(&mut s, 2).await, expected);
    assert_eq!(fake.snapshot(|l| l.violations.clone()), Vec::<String>::new());
}

async fn cancel_mid_turn(engine: &dyn StreamingTts, fake: &Fake) {
    let mut s = engine.open();
    s.send(say(1, "This turn is long and will be cut."));
    s.send(say(1, "It would go on and on."));
    s.send(TtsInput::Flush { context: 1 });
    assert!(matches!(next(&mut s).await, TtsEvent::Audio { context: 1, .. }));
    s.send(TtsInput::Cancel { context: 1 });
    s.send(say(2, "Fresh."));
    s.send(TtsInput::Flush { context: 2 });
    let mut stale = 0;
    let mut fresh = Vec::new();
    loop {
        match next(&mut s).await {
            TtsEvent::Audio { context: 1, .. } => {
                assert!(fresh.is_empty(), "turn 1's audio after turn 2's");
                stale += 1;
            }
            TtsEvent::Audio { context: 2, text, .. } => fresh.push(text),
            TtsEvent::Done { context: 2 } => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    // One chunk may have been on its way when the cancel went out; never the other five.
    assert!(stale <= 1, "{stale} chunks of the cancelled turn");
    assert_eq!(fresh, ["Fresh.", "", ""]);
    assert_eq!(fake.snapshot(|l| l.violations.clone()), Vec::<String>::new());
}

async fn failed(s: &mut TtsSession) -> String {
    loop {
        match next(s).await {
            TtsEvent::Failed(error) => {
                assert!(s.next().await.is_none(), "nothing after Failed");
                return error.to_string();
            }
            TtsEvent::Audio { .. } | TtsEvent::Done { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

mod elevenlabs_tts {
    use super::*;
    use fake::elevenlabs::{start, Options};

    #[tokio::test]
    async fn two_turns_play_in_order_with_each_sentence_named_on_its_first_chunk() {
        let fake = start(Options::new(KEY)).await;
        two_turns(&elevenlabs(&fake, KEY), &fake).await;
        // The documented sequence: initialise, text with flush, close the context.
        let first: Vec<String> = fake.snapshot(|l| l.messages.iter().take(4).map(|m| m.to_string()).collect());
        assert_eq!(
            first,
            [
                r#"{"context_id":"parley-1-1","text":" "}"#,
                r#"{"context_id":"parley-1-1","flush":true,"text":"Hello there. "}"#,
                r#"{"context_id":"parley-1-1","flush":true,"text":"How are you today? "}"#,
                r#"{"close_context":true,"context_id":"parley-1-1"}"#,
            ]
        );
    }

    #[tokio::test]
    async fn a_cancel_mid_turn_stops_its_audio_and_the_next_turn_plays() {
        let mut options = Options::new(KEY);
        options.delay = Duration::from_millis(40);
        let fake = start(options).await;
        cancel_mid_turn(&elevenlabs(&fake, KEY), &fake).await;
    }

    #[tokio::test]
    async fn a_refused_key_fails_the_session_without_showing_the_key() {
        let fake = start(Options::new(KEY)).await;
        let mut s = elevenlabs(&fake, "sk-wrong-key").open();
        let error = failed(&mut s).await;
        assert!(error.contains("401"), "{error}");
        assert!(!error.contains("wrong"), "{error}");
        assert_eq!(fake.snapshot(|l| l.refused), 1);
    }

    #[tokio::test]
    async fn an_error_mid_session_fails_it() {
        let mut options = Options::new(KEY);
        options.fail_after = Some(1);
        let fake = start(options).await;
        let mut s = elevenlabs(&fake, KEY).open();
        s.send(say(1, "Hello."));
        s.send(TtsInput::Flush { context: 1 });
        let error = failed(&mut s).await;
        assert!(error.contains("internal_error"), "{error}");
    }

    #[tokio::test]
    async fn dropping_the_session_closes_the_socket() {
        let fake = start(Options::new(KEY)).await;
        let mut s = elevenlabs(&fake, KEY).open();
        s.send(say(1, "Bye."));
        s.send(TtsInput::Flush { context: 1 });
        until_done(&mut s, 1).await;
        drop(s);
        fake.eventually("close_socket and a close frame", |l| {
            l.close_frames == 1 && l.messages.last().is_some_and(|m| m["close_socket"] == true)
        })
        .await;
        assert_eq!(fake.snapshot(|l| l.violations.clone()), Vec::<String>::new());
    }

    #[tokio::test]
    async fn an_open_context_is_kept_alive_while_the_turn_waits_for_text() {
        let fake = start(Options::new(KEY)).await;
        let tts = elevenlabs(&fake, KEY).with_pacing(Duration::from_millis(100), Duration::from_secs(5));
        let mut s = tts.open();
        s.send(say(1, "Let me think."));
        assert!(matches!(next(&mut s).await, TtsEvent::Audio { context: 1, .. }));
        fake.eventually("a keep-alive", |l| {
            l.messages
                .iter()
                .any(|m| m["text"] == "" && m["context_id"] == "parley-1-1")
        })
        .await;
        assert_eq!(fake.snapshot(|l| l.violations.clone()), Vec::<String>::new());
    }
}

mod cartesia_tts {
    use super::*;
    use fake::cartesia::{start, Options};

    #[tokio::test]
    async fn two_turns_play_in_order_with_each_sentence_named_on_its_first_chunk() {
        let fake = start(Options::new(KEY)).await;
        two_turns(&cartesia(&fake, KEY, CartesiaEncoding::PcmMulaw), &fake).await;
        let kinds: Vec<String> = fake.snapshot(|l| {
            l.messages
                .iter()
                .take(5)
                .map(|m| format!("{}|{}|{}", m["transcript"], m["continue"], m["flush"]))
                .collect()
        });
        assert_eq!(
            kinds,
            [
                r#""Hello there. "|true|null"#,
                r#"""|true|true"#,
                r#""How are you today? "|true|null"#,
                r#"""|true|true"#,
                r#"""|false|null"#,
            ]
        );
    }

    #[tokio::test]
    async fn a_cancel_mid_turn_stops_its_audio_and_the_next_turn_plays() {
        let mut options = Options::new(KEY);
        options.delay = Duration::from_millis(40);
        let fake = start(options).await;
        cancel_mid_turn(&cartesia(&fake, KEY, CartesiaEncoding::PcmS16le), &fake).await;
        assert!(fake.snapshot(|l| l
            .messages
            .iter()
            .any(|m| m["cancel"] == true && m["context_id"] == "parley-1-1")));
    }

    #[tokio::test]
    async fn a_refused_key_fails_the_session_without_showing_the_key() {
        let fake = start(Options::new(KEY)).await;
        let mut s = cartesia(&fake, "sk-wrong-key", CartesiaEncoding::PcmS16le).open();
        let error = failed(&mut s).await;
        assert!(error.contains("401"), "{error}");
        assert!(!error.contains("wrong"), "{error}");
    }

    #[tokio::test]
    async fn an_error_mid_session_fails_it() {
        let mut options = Options::new(KEY);
        options.fail_after = Some(1);
        let fake = start(options).await;
        let mut s = cartesia(&fake, KEY, CartesiaEncoding::PcmS16le).open();
        s.send(say(1, "Hello."));
        s.send(TtsInput::Flush { context: 1 });
        let error = failed(&mut s).await;
        assert!(error.contains("Internal server error"), "{error}");
    }

    #[tokio::test]
    async fn dropping_the_session_closes_the_socket() {
        let fake = start(Options::new(KEY)).await;
        let mut s = cartesia(&fake, KEY, CartesiaEncoding::PcmS16le).open();
        s.send(say(1, "Bye."));
        s.send(TtsInput::Flush { context: 1 });
        until_done(&mut s, 1).await;
        drop(s);
        fake.eventually("a close frame", |l| l.close_frames == 1).await;
        assert_eq!(fake.snapshot(|l| l.violations.clone()), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_sentence_after_a_quiet_spell_opens_a_new_context() {
        let fake = start(Options::new(KEY)).await;
        let mut s = cartesia(&fake, KEY, CartesiaEncoding::PcmS16le).open();
        s.send(say(1, "First."));
        let mut got = Vec::new();
        while got.len() < 3 {
            if let TtsEvent::Audio { text, .. } = next(&mut s).await {
                got.push(text);
            }
        }
        tokio::time::sleep(parley_speech::cloud::cartesia::QUIET + Duration::from_millis(200)).await;
        s.send(say(1, "Second, later."));
        s.send(TtsInput::Flush { context: 1 });
        let rest = until_done(&mut s, 1).await;
        assert_eq!(rest, ["1:Second, later.", "1:", "1:", "1:done"]);
        let contexts = fake.snapshot(|l| {
            l.messages
                .iter()
                .filter_map(|m| m["context_id"].as_str().map(str::to_string))
                .collect::<std::collections::BTreeSet<_>>()
        });
        assert_eq!(contexts.len(), 2, "{contexts:?}");
        assert_eq!(fake.snapshot(|l| l.violations.clone()), Vec::<String>::new());
    }
}
