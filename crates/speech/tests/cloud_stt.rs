//! The cloud speech-to-text engines (Deepgram live, OpenAI transcription) and OpenAI speech
//! against loopback fakes that speak (and check) each service's documented wire protocol.

use parley_speech::fakes as fake;

use fake::level_of;
use parley_speech::cloud::deepgram::{DeepgramConfig, DeepgramStt};
use parley_speech::cloud::openai::{OpenAiStt, OpenAiSttConfig, OpenAiTts, OpenAiTtsConfig, SpeechFormat, UploadRate};
use parley_speech::cloud::ApiKey;
use parley_speech::session::{
    StreamingStt, StreamingTts, SttEvent, SttInput, SttOptions, SttSession, TtsEvent, TtsInput, TtsSession,
};
use parley_speech::Language;
use std::time::Duration;
use url::Url;

const KEY: &str = "sk-test-key-0123";

async fn next_stt(s: &mut SttSession) -> SttEvent {
    match tokio::time::timeout(Duration::from_secs(5), s.next()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the session ended"),
        Err(_) => panic!("no event within 5 s"),
    }
}

fn describe(event: &SttEvent) -> String {
    match event {
        SttEvent::Partial { text } => format!("partial {text}"),
        SttEvent::Final { id, text, .. } => format!("final {id} {text}"),
        SttEvent::SpeechStarted => "started".into(),
        SttEvent::EndOfSpeech => "end".into(),
        SttEvent::Failed(e) => format!("failed {e}"),
    }
}

/// Events until (and with) the first that `last` matches, described.
async fn stt_until(s: &mut SttSession, last: impl Fn(&SttEvent) -> bool) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let event = next_stt(s).await;
        seen.push(describe(&event));
        if last(&event) {
            return seen;
        }
    }
}

async fn stt_failed(s: &mut SttSession) -> String {
    loop {
        if let SttEvent::Failed(error) = next_stt(s).await {
            assert!(s.next().await.is_none(), "nothing after Failed");
            return error.to_string();
        }
    }
}

mod deepgram_stt {
    use super::*;
    use fake::deepgram::{start, Options, WORDS};
    use fake::Fake;

    fn engine(fake: &Fake, key: &str, endpointing: Option<u32>) -> DeepgramStt {
        let mut c = DeepgramConfig::new(key, "nova-3");
        c.base_url = Url::parse(&fake.base_url).expect("url");
        c.language = Some("en-US".into());
        c.endpointing_ms = endpointing;
        DeepgramStt::new(c).expect("config")
    }

    /// `ms` of the word's level (or of silence), in 20 ms frames as a call sends them.
    fn say(s: &SttSession, word: Option<&str>, ms: usize) {
        let level = word.map_or(0, |w| WORDS.iter().find(|(x, _)| *x == w).expect("a fake word").1);
        for _ in 0..ms / 20 {
            assert!(s.send(SttInput::Audio(vec![level; 160].into())));
        }
    }

    fn finalize(id: u64) -> SttInput {
        SttInput::Finalize {
            id,
            context: "How can I help?".into(),
        }
    }

    fn is_final(e: &SttEvent) -> bool {
        matches!(e, SttEvent::Final { .. })
    }

    fn sent(fake: &Fake, kind: &str) -> usize {
        fake.snapshot(|l| l.messages.iter().filter(|m| m["type"] == kind).count())
    }

    fn no_violations(fake: &Fake) {
        assert_eq!(fake.snapshot(|l| l.violations.clone()), Vec::<String>::new());
    }

    #[tokio::test]
    async fn streamed_audio_gives_interim_and_final_transcripts_and_speech_final_ends_the_turn() {
        let fake = start(Options::new(KEY)).await;
        let mut s = engine(&fake, KEY, Some(300)).open();
        say(&s, Some("hello"), 300);
        say(&s, None, 100);
        say(&s, Some("there"), 300);
        say(&s, None, 500);
        let events = stt_until(&mut s, |e| matches!(e, SttEvent::EndOfSpeech)).await;
        assert_eq!(
            events,
            [
                "started",
                "partial hello",
                "partial hello there",
                "partial hello there",
                "end"
            ]
        );
        s.send(finalize(1));
        assert_eq!(stt_until(&mut s, is_final).await, ["final 1 hello there"]);
        // The handshake carried every option, and the audio went as mu-law (a byte a sample).
        let query = fake.snapshot(|l| l.messages[0]["query"].clone());
        for (k, v) in [
            ("model", "nova-3"),
            ("language", "en-US"),
            ("encoding", "mulaw"),
            ("sample_rate", "8000"),
            ("channels", "1"),
            ("interim_results", "true"),
            ("endpointing", "300"),
            ("utterance_end_ms", "1000"),
            ("vad_events", "true"),
        ] {
            assert_eq!(query[k], v, "{k}");
        }
        assert_eq!(fake.snapshot(|l| l.audio_bytes), 8 * 1200);
        no_violations(&fake);
    }

    #[tokio::test]
    async fn the_callers_language_replaces_the_configured_one_unless_it_is_the_same_language() {
        for (options, expected) in [
            (SttOptions::language(Language::parse("es-MX").unwrap()), "es"),
            (SttOptions::language(Language::ENGLISH), "en-US"),
            (SttOptions::default(), "en-US"),
        ] {
            let fake = start(Options::new(KEY)).await;
            let mut s = engine(&fake, KEY, Some(300)).open_with(&options);
            say(&s, Some("hello"), 300);
            say(&s, None, 500);
            stt_until(&mut s, |e| matches!(e, SttEvent::EndOfSpeech)).await;
            let query = fake.snapshot(|l| l.messages[0]["query"].clone());
            assert_eq!(query["language"], expected, "{options:?}");
            no_violations(&fake);
        }
    }

    #[tokio::test]
    async fn finalize_flushes_what_deepgram_holds() {
        let fake = start(Options::new(KEY)).await;
        let mut s = engine(&fake, KEY, Some(300)).open();
        say(&s, Some("yes"), 300);
        say(&s, Some("please"), 300);
        s.send(finalize(7));
        let events = stt_until(&mut s, is_final).await;
        assert_eq!(
            events,
            ["started", "partial yes", "partial yes please", "final 7 yes please"]
        );
        assert_eq!(sent(&fake, "Finalize"), 1);
        no_violations(&fake);
    }

    #[tokio::test]
    async fn utterance_end_ends_the_turn_without_endpointing() {
        let fake = start(Options::new(KEY)).await;
        let mut s = engine(&fake, KEY, None).open();
        say(&s, Some("no"), 300);
        say(&s, None, 1200);
        let events = stt_until(&mut s, |e| matches!(e, SttEvent::EndOfSpeech)).await;
        assert_eq!(events, ["started", "partial no", "end"]);
        s.send(finalize(2));
        // Deepgram's answer to the Finalize makes "no" final: the utterance so far, then its Final.
        assert_eq!(stt_until(&mut s, is_final).await, ["partial no", "final 2 no"]);
        assert_eq!(
            fake.snapshot(|l| l.messages[0]["query"]["endpointing"].clone()),
            "false"
        );
        no_violations(&fake);
    }

    #[tokio::test]
    async fn a_reset_starts_a_new_utterance() {
        let fake = start(Options::new(KEY)).await;
        let mut s = engine(&fake, KEY, Some(300)).open();
        say(&s, Some("no"), 300);
        s.send(finalize(1));
        assert_eq!(stt_until(&mut s, is_final).await.last().expect("one"), "final 1 no");
        s.send(SttInput::Reset);
        say(&s, Some("please"), 300);
        s.send(finalize(2));
        assert_eq!(stt_until(&mut s, is_final).await.last().expect("one"), "final 2 please");
        no_violations(&fake);
    }

    #[tokio::test]
    async fn keep_alives_hold_a_quiet_connection_open() {
        let mut options = Options::new(KEY);
        options.idle_timeout = Duration::from_millis(500);
        let fake = start(options).await;
        let stt = engine(&fake, KEY, Some(300)).with_pacing(Duration::from_millis(100), Duration::from_secs(5));
        let mut s = stt.open();
        say(&s, Some("hello"), 300);
        say(&s, None, 400);
        stt_until(&mut s, |e| matches!(e, SttEvent::EndOfSpeech)).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            sent(&fake, "KeepAlive") >= 5,
            "{} keep-alives",
            sent(&fake, "KeepAlive")
        );
        s.send(SttInput::Reset);
        say(&s, Some("yes"), 300);
        s.send(finalize(3));
        assert_eq!(stt_until(&mut s, is_final).await.last().expect("one"), "final 3 yes");
        no_violations(&fake);
    }

    #[tokio::test]
    async fn without_keep_alives_deepgram_closes_a_quiet_connection_and_the_session_fails() {
        let mut options = Options::new(KEY);
        options.idle_timeout = Duration::from_millis(300);
        let fake = start(options).await;
        let stt = engine(&fake, KEY, Some(300)).with_pacing(Duration::from_secs(60), Duration::from_secs(5));
        let mut s = stt.open();
        say(&s, Some("hello"), 300);
        let error = stt_failed(&mut s).await;
        assert!(error.contains("NET-0001"), "{error}");
    }

    #[tokio::test]
    async fn dropping_the_session_sends_close_stream_and_a_close_frame() {
        let fake = start(Options::new(KEY)).await;
        let mut s = engine(&fake, KEY, Some(300)).open();
        say(&s, Some("hello"), 300);
        say(&s, None, 40);
        stt_until(&mut s, |e| matches!(e, SttEvent::Partial { .. })).await;
        drop(s);
        fake.eventually("CloseStream and a close frame", |l| {
            l.close_frames == 1 && l.messages.last().is_some_and(|m| m["type"] == "CloseStream")
        })
        .await;
        no_violations(&fake);
    }

    #[tokio::test]
    async fn a_refused_key_fails_the_session_without_showing_the_key() {
        let fake = start(Options::new(KEY)).await;
        let mut s = engine(&fake, "sk-wrong-key", Some(300)).open();
        let error = stt_failed(&mut s).await;
        assert!(error.contains("401"), "{error}");
        assert!(error.contains("INVALID_AUTH"), "{error}");
        assert!(!error.contains("wrong"), "{error}");
        assert_eq!(fake.snapshot(|l| l.refused), 1);
    }

    #[tokio::test]
    async fn an_unanswered_finalize_fails_the_session_after_the_stall() {
        let mut options = Options::new(KEY);
        options.ignore_finalize = true;
        let fake = start(options).await;
        let stt = engine(&fake, KEY, Some(300)).with_pacing(Duration::from_secs(4), Duration::from_millis(300));
        let mut s = stt.open();
        say(&s, Some("yes"), 300);
        s.send(finalize(1));
        let error = stt_failed(&mut s).await;
        assert!(error.contains("no answer"), "{error}");
        assert_eq!(sent(&fake, "Finalize"), 1);
    }

    #[tokio::test]
    async fn an_error_mid_session_fails_it() {
        let mut options = Options::new(KEY);
        options.fail_after = Some(8000);
        let fake = start(options).await;
        let mut s = engine(&fake, KEY, Some(300)).open();
        say(&s, Some("hello"), 600);
        say(&s, None, 600);
        let error = stt_failed(&mut s).await;
        assert!(error.contains("NET-0000"), "{error}");
    }
}

mod openai_stt {
    use super::*;
    use fake::openai::{start, HttpFake, Options};

    fn engine(fake: &HttpFake, key: Option<&str>, rate: UploadRate) -> OpenAiStt {
        let mut c = OpenAiSttConfig::new(key.map(ApiKey::from), "gpt-4o-mini-transcribe");
        c.base_url = Url::parse(&fake.base_url).expect("url");
        c.language = Some("en".into());
        c.upload_rate = rate;
        OpenAiStt::new(c).expect("config")
    }

    fn audio(s: &SttSession, ms: usize) {
        for _ in 0..ms / 20 {
            s.send(SttInput::Audio(vec![3000i16; 160].into()));
        }
    }

    #[tokio::test]
    async fn an_utterance_is_sent_whole_as_a_wav_with_the_documented_fields() {
        let fake = start(Options::new(Some(KEY))).await;
        let mut s = engine(&fake, Some(KEY), UploadRate::Whisper).open();
        audio(&s, 1000);
        s.send(SttInput::Finalize {
            id: 1,
            context: "How can I help?".into(),
        });
        assert_eq!(
            stt_until(&mut s, |e| matches!(e, SttEvent::Final { .. })).await,
            ["final 1 1000 ms"]
        );
        s.send(SttInput::Reset);
        audio(&s, 500);
        s.send(SttInput::Finalize {
            id: 2,
            context: String::new(),
        });
        assert_eq!(
            stt_until(&mut s, |e| matches!(e, SttEvent::Final { .. })).await,
            ["final 2 500 ms"]
        );
        let requests = fake.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0]["authorization"], format!("Bearer {KEY}"));
        assert_eq!(
            requests[0]["fields"],
            serde_json::json!({"model": "gpt-4o-mini-transcribe", "response_format": "json", "language": "en", "prompt": "How can I help?"})
        );
        assert_eq!(requests[0]["wav"], serde_json::json!({"rate": 16000, "samples": 16000}));
        assert!(requests[1]["fields"].get("prompt").is_none(), "no empty prompt");
        assert_eq!(fake.violations(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn the_callers_language_is_the_language_field() {
        let fake = start(Options::new(Some(KEY))).await;
        let mut s = engine(&fake, Some(KEY), UploadRate::Whisper).open_with(&SttOptions::language(Language::SPANISH));
        audio(&s, 500);
        s.send(SttInput::Finalize {
            id: 1,
            context: String::new(),
        });
        stt_until(&mut s, |e| matches!(e, SttEvent::Final { .. })).await;
        assert_eq!(fake.requests()[0]["fields"]["language"], "es");
        assert_eq!(fake.violations(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_server_without_a_key_gets_no_authorization_and_phone_rate_audio() {
        let fake = start(Options::new(None)).await;
        let mut s = engine(&fake, None, UploadRate::Phone).open();
        audio(&s, 300);
        s.send(SttInput::Finalize {
            id: 5,
            context: String::new(),
        });
        assert_eq!(
            stt_until(&mut s, |e| matches!(e, SttEvent::Final { .. })).await,
            ["final 5 300 ms"]
        );
        assert_eq!(
            fake.requests()[0]["wav"],
            serde_json::json!({"rate": 8000, "samples": 2400})
        );
        assert_eq!(fake.violations(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_refused_key_fails_the_session_without_showing_the_key() {
        let fake = start(Options::new(Some(KEY))).await;
        let mut s = engine(&fake, Some("sk-wrong-key"), UploadRate::Whisper).open();
        audio(&s, 300);
        s.send(SttInput::Finalize {
            id: 1,
            context: String::new(),
        });
        let error = stt_failed(&mut s).await;
        assert!(error.contains("401"), "{error}");
        assert!(!error.contains("wro"), "{error}");
    }

    #[tokio::test]
    async fn a_server_error_fails_the_session() {
        let mut options = Options::new(Some(KEY));
        options.fail_with = Some(500);
        let fake = start(options).await;
        let mut s = engine(&fake, Some(KEY), UploadRate::Whisper).open();
        audio(&s, 300);
        s.send(SttInput::Finalize {
            id: 1,
            context: String::new(),
        });
        let error = stt_failed(&mut s).await;
        assert!(
            error.contains("500") && error.contains("processing your request"),
            "{error}"
        );
    }
}

mod openai_tts {
    use super::*;
    use fake::openai::{start, HttpFake, Options};

    fn engine(fake: &HttpFake, key: &str, format: SpeechFormat) -> OpenAiTts {
        let mut c = OpenAiTtsConfig::new(Some(ApiKey::from(key)), "gpt-4o-mini-tts", "coral");
        c.base_url = Url::parse(&fake.base_url).expect("url");
        c.format = format;
        OpenAiTts::new(c).expect("config")
    }

    async fn next(s: &mut TtsSession) -> TtsEvent {
        match tokio::time::timeout(Duration::from_secs(5), s.next()).await {
            Ok(Some(event)) => event,
            Ok(None) => panic!("the session ended"),
            Err(_) => panic!("no event within 5 s"),
        }
    }

    fn say(context: u64, text: &str) -> TtsInput {
        TtsInput::Text {
            context,
            text: text.into(),
            fixed: false,
        }
    }

    /// Each sentence's audio until `Done`: (sentence, samples), checking the level inside.
    async fn sentences(s: &mut TtsSession) -> Vec<(String, usize)> {
        let mut out: Vec<(String, Vec<i16>)> = Vec::new();
        loop {
            match next(s).await {
                TtsEvent::Audio {
                    context: 1, text, pcm, ..
                } => {
                    if !text.is_empty() {
                        out.push((text, Vec::new()));
                    }
                    out.last_mut().expect("a named first chunk").1.extend_from_slice(&pcm);
                }
                TtsEvent::Done { context: 1 } => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        for (text, pcm) in &out {
            let level = i32::from(level_of(text));
            // Away from the edges (the filter's ramp in and out), the sentence's level.
            for &x in &pcm[40..pcm.len() - 40] {
                assert!((i32::from(x) - level).abs() <= level / 50, "{text}: {x} vs {level}");
            }
        }
        out.into_iter().map(|(t, p)| (t, p.len())).collect()
    }

    #[tokio::test]
    async fn sentences_are_spoken_in_order_and_resampled_from_24_khz_to_8() {
        let fake = start(Options::new(Some(KEY))).await;
        let mut s = engine(&fake, KEY, SpeechFormat::Pcm).open();
        s.send(say(1, "Hello there."));
        s.send(say(1, "How are you?"));
        s.send(TtsInput::Flush { context: 1 });
        // 2400 samples at 24 kHz are 800 at 8 kHz.
        assert_eq!(
            sentences(&mut s).await,
            [("Hello there.".to_string(), 800), ("How are you?".to_string(), 800)]
        );
        let requests = fake.requests();
        assert_eq!(
            requests[0],
            serde_json::json!({"path": "speech", "model": "gpt-4o-mini-tts", "input": "Hello there.", "voice": "coral", "response_format": "pcm"})
        );
        assert_eq!(fake.violations(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_wav_answer_is_resampled_from_the_rate_in_its_header() {
        let fake = start(Options::new(Some(KEY))).await;
        let mut s = engine(&fake, KEY, SpeechFormat::Wav).open();
        s.send(say(1, "From a local server."));
        s.send(TtsInput::Flush { context: 1 });
        // 2400 samples at the fake's 16 kHz are 1200 at 8 kHz.
        assert_eq!(sentences(&mut s).await, [("From a local server.".to_string(), 1200)]);
        assert_eq!(fake.requests()[0]["response_format"], "wav");
        assert_eq!(fake.violations(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_cancelled_turn_is_dropped_and_the_next_one_plays() {
        let fake = start(Options::new(Some(KEY))).await;
        let mut s = engine(&fake, KEY, SpeechFormat::Pcm).open();
        s.send(say(1, "This turn is cut."));
        s.send(say(1, "It would go on."));
        s.send(TtsInput::Flush { context: 1 });
        s.send(TtsInput::Cancel { context: 1 });
        s.send(say(2, "Fresh."));
        s.send(TtsInput::Flush { context: 2 });
        let mut fresh = 0;
        loop {
            match next(&mut s).await {
                TtsEvent::Audio { context: 1, .. } => assert_eq!(fresh, 0, "turn 1's audio after turn 2's"),
                TtsEvent::Audio { context: 2, pcm, .. } => fresh += pcm.len(),
                TtsEvent::Done { context: 2 } => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(fresh, 800);
        let asked: Vec<String> = fake
            .requests()
            .iter()
            .map(|r| r["input"].as_str().unwrap_or("").to_string())
            .collect();
        assert!(!asked.contains(&"It would go on.".to_string()), "{asked:?}");
        assert_eq!(asked.last().map(String::as_str), Some("Fresh."));
    }

    async fn tts_failed(s: &mut TtsSession) -> String {
        loop {
            if let TtsEvent::Failed(error) = next(s).await {
                assert!(s.next().await.is_none(), "nothing after Failed");
                return error.to_string();
            }
        }
    }

    #[tokio::test]
    async fn a_refused_key_fails_the_session_without_showing_the_key() {
        let fake = start(Options::new(Some(KEY))).await;
        let mut s = engine(&fake, "sk-wrong-key", SpeechFormat::Pcm).open();
        s.send(say(1, "Hello."));
        let error = tts_failed(&mut s).await;
        assert!(error.contains("401") && !error.contains("wro"), "{error}");
    }

    #[tokio::test]
    async fn a_server_error_fails_the_session() {
        let mut options = Options::new(Some(KEY));
        options.fail_with = Some(500);
        let fake = start(options).await;
        let mut s = engine(&fake, KEY, SpeechFormat::Pcm).open();
        s.send(say(1, "Hello."));
        let error = tts_failed(&mut s).await;
        assert!(error.contains("500"), "{error}");
    }
}
