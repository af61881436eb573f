//! Speech engines per agent: the team's write-only speech keys and LLM endpoint (API, team
//! isolation, sealed at rest), the agent's `stt`/`tts` choice and its checks, and a real call
//! whose ElevenLabs voice (a loopback fake speaking ElevenLabs' protocol) fails mid-call and
//! hands the rest of the call to the embedded voice, which the callee still hears.

use crate::common;
use common::{wait_final, Client, Db, TestServer};
use parley_speech::fakes::elevenlabs::{start, Options};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Row;

const KEY: &str = "sk-eleven-0123456789a1b2";

async fn put(c: &Client, path: &str, body: Value) -> common::Resp {
    c.send(Method::PUT, path, Some(body)).await
}

on_both_databases!(
    speech_keys_are_write_only_sealed_and_per_team,
    agents_choose_engines_the_team_has_keys_for
);

async fn speech_keys_are_write_only_sealed_and_per_team(db: Db) {
    let ts = TestServer::start(db).await;
    let a = ts.team().await;
    let b = ts.team().await;
    let set = put(&a, "/team/speech_keys/elevenlabs", json!({"api_key": KEY})).await;
    let set = set.ok();
    assert_eq!(set["provider"], "elevenlabs");
    assert_eq!(set["hint"], "…a1b2");
    assert!(set["base_url"].is_null() && set["updated"].is_string(), "{set}");
    assert!(!set.to_string().contains(KEY));
    // Replaced, with a regional server.
    let set = put(
        &a,
        "/team/speech_keys/elevenlabs",
        json!({"api_key": "sk-other-key-zzzz", "base_url": "wss://api.eu.residency.elevenlabs.io"}),
    )
    .await;
    assert_eq!(set.ok()["hint"], "…zzzz");
    put(
        &a,
        "/team/speech_keys/cartesia",
        json!({"api_key": "sk_car_0000111122223333"}),
    )
    .await
    .ok();
    let list = a.get("/team/speech_keys").await;
    let keys = list.ok()["speech_keys"].as_array().unwrap().clone();
    let names: Vec<&str> = keys.iter().map(|k| k["provider"].as_str().unwrap()).collect();
    assert_eq!(names, ["cartesia", "elevenlabs"]);
    assert_eq!(keys[1]["base_url"], "wss://api.eu.residency.elevenlabs.io");
    assert!(!list.body.to_string().contains("sk-other-key"), "{}", list.body);

    // Bad input names its field.
    let r = put(&a, "/team/speech_keys/acme", json!({"api_key": "k"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().starts_with("provider: 'acme'"), "{}", r.body);
    let r = put(&a, "/team/speech_keys/embedded", json!({"api_key": "k"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = put(&a, "/team/speech_keys/openai", json!({"api_key": "  "})).await;
    assert!(r.error().starts_with("api_key:"), "{}", r.body);
    let r = put(
        &a,
        "/team/speech_keys/openai",
        json!({"api_key": "k", "base_url": "ftp://x"}),
    )
    .await;
    assert!(r.error().starts_with("base_url:"), "{}", r.body);

    // Another team sees none of it and cannot delete it.
    assert_eq!(b.get("/team/speech_keys").await.ok()["speech_keys"], json!([]));
    assert_eq!(
        b.delete("/team/speech_keys/elevenlabs", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(ts
        .store()
        .speech_key(&b.team_id, parley_core::speech::Provider::Elevenlabs)
        .await
        .unwrap()
        .is_none());

    // Sealed at rest: the column never holds the key; the store opens it for calls.
    let rows = sqlx::query("SELECT api_key FROM team_speech_keys")
        .fetch_all(ts.store().pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        let stored: String = r.try_get("api_key").unwrap();
        assert!(stored.starts_with("enc:v1:") && !stored.contains("sk-"), "{stored}");
    }
    let opened = ts
        .store()
        .speech_key(&a.team_id, parley_core::speech::Provider::Elevenlabs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(opened.api_key, "sk-other-key-zzzz");

    a.delete("/team/speech_keys/elevenlabs", None).await.ok();
    assert_eq!(
        a.delete("/team/speech_keys/elevenlabs", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        a.get("/team/speech_keys").await.ok()["speech_keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The team's LLM endpoint: write-only key, kept when a change leaves it out.
    let none = a.get("/team/llm").await;
    assert!(none.ok()["base_url"].is_null(), "{}", none.body);
    let set = put(
        &a,
        "/team/llm",
        json!({"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-llm-secret-9876", "model": "small"}),
    )
    .await;
    assert_eq!(set.ok()["api_key_hint"], "…9876");
    let set = put(&a, "/team/llm", json!({"base_url": "http://127.0.0.1:9/v2"})).await;
    assert_eq!(set.ok()["api_key_hint"], "…9876");
    assert!(set.ok()["model"].is_null());
    let got = a.get("/team/llm").await;
    assert_eq!(got.ok()["base_url"], "http://127.0.0.1:9/v2");
    assert!(!got.body.to_string().contains("sk-llm-secret"));
    assert!(b.get("/team/llm").await.ok()["base_url"].is_null());
    let r = put(&a, "/team/llm", json!({"base_url": "ws://x"})).await;
    assert!(r.error().starts_with("base_url:"), "{}", r.body);
    a.delete("/team/llm", None).await.ok();
    assert!(ts.store().team(&a.team_id).await.unwrap().llm.is_none());
}

fn agent_body(stt: Option<Value>, tts: Option<Value>, lang: &str) -> Value {
    let mut b = json!({"title": "Voices", "lang": lang});
    if let Some(s) = stt {
        b["stt"] = s;
    }
    if let Some(t) = tts {
        b["tts"] = t;
    }
    b
}

async fn agents_choose_engines_the_team_has_keys_for(db: Db) {
    let ts = TestServer::start(db).await;
    let a = ts.team().await;
    let b = ts.team().await;
    let eleven = json!({"provider": "elevenlabs", "voice": "voice-1", "language": "en"});
    // No key yet: refused, naming the field.
    let r = a
        .post("/interview/create", agent_body(None, Some(eleven.clone()), "en"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.error().starts_with("tts.provider: the team has no elevenlabs key"),
        "{}",
        r.body
    );
    put(&a, "/team/speech_keys/elevenlabs", json!({"api_key": KEY}))
        .await
        .ok();
    let agent = a
        .post("/interview/create", agent_body(None, Some(eleven.clone()), "en-US"))
        .await;
    let agent = agent.ok().clone();
    assert_eq!(agent["tts"]["provider"], "elevenlabs");
    assert_eq!(agent["tts"]["voice"], "voice-1");
    assert!(agent.get("stt").is_none(), "{agent}");
    // Read back, and the version keeps it.
    let id = agent["id"].as_str().unwrap();
    assert_eq!(a.get(&format!("/interview/{id}")).await.ok()["tts"], agent["tts"]);
    assert_eq!(
        a.get(&format!("/interview/{id}/versions/1")).await.ok()["tts"],
        agent["tts"]
    );
    // Another team's key does not count.
    let r = b
        .post("/interview/create", agent_body(None, Some(eleven.clone()), "en"))
        .await;
    assert!(r.error().contains("no elevenlabs key"), "{}", r.body);

    // A provider on the wrong side.
    let r = a
        .post(
            "/interview/create",
            agent_body(None, Some(json!({"provider": "deepgram"})), "en"),
        )
        .await;
    assert!(
        r.error().starts_with("tts.provider: deepgram has no text-to-speech"),
        "{}",
        r.body
    );
    let r = a
        .post(
            "/interview/create",
            agent_body(Some(json!({"provider": "cartesia"})), None, "en"),
        )
        .await;
    assert!(
        r.error().starts_with("stt.provider: cartesia has no speech-to-text"),
        "{}",
        r.body
    );
    let r = a
        .post(
            "/interview/create",
            agent_body(Some(json!({"provider": "nope"})), None, "en"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // A language no engine of the agent speaks: the embedded engines speak English only.
    let r = a.post("/interview/create", agent_body(None, None, "fr")).await;
    assert!(
        r.error().starts_with("lang: 'fr' is not a language the embedded"),
        "{}",
        r.body
    );
    // French text-to-speech is not enough while speech-to-text stays embedded.
    let fr = json!({"provider": "elevenlabs", "voice": "voice-1"});
    let r = a
        .post("/interview/create", agent_body(None, Some(fr.clone()), "fr"))
        .await;
    assert!(r.error().contains("embedded stt"), "{}", r.body);
    let r = a
        .post(
            "/interview/create",
            agent_body(
                None,
                Some(json!({"provider": "elevenlabs", "voice": "v", "language": "xx"})),
                "en",
            ),
        )
        .await;
    assert!(r.error().starts_with("tts.language:"), "{}", r.body);

    // Update: to Cartesia without a key is refused; back to embedded is fine.
    let r = a
        .post(
            &format!("/interview/{id}/update"),
            json!({"tts": {"provider": "cartesia", "voice": "v"}}),
        )
        .await;
    assert!(r.error().contains("no cartesia key"), "{}", r.body);
    let updated = a
        .post(
            &format!("/interview/{id}/update"),
            json!({"tts": {"provider": "embedded"}}),
        )
        .await;
    assert_eq!(updated.ok()["tts"]["provider"], "embedded");

    // A draft whose engine field breaks its shape (an over-long language) is saved, but its
    // view keeps the live engine and names the field: the view is always a valid agent.
    let saved = a
        .post(
            &format!("/interview/{id}/draft"),
            json!({"tts": {"provider": "openai", "language": "0".repeat(17)}}),
        )
        .await;
    let view = a.get(&format!("/interview/{id}/draft")).await;
    let view = view.ok();
    assert_eq!(view["draft"]["tts"]["provider"], "embedded", "{view}");
    assert_eq!(saved.ok()["problems"][0]["field"], "tts.language", "{}", saved.body);
    assert_eq!(view["problems"][0]["field"], "tts.language", "{view}");
    let r = a
        .post(
            &format!("/interview/{id}/update"),
            json!({"tts": {"provider": "openai", "language": "0".repeat(17)}}),
        )
        .await;
    assert!(r.error().starts_with("tts.language: must be 1 to 16"), "{}", r.body);

    // A draft shows the problem publishing would refuse; publishing refuses it.
    let saved = a
        .post(
            &format!("/interview/{id}/draft"),
            json!({"tts": {"provider": "cartesia", "voice": "v"}}),
        )
        .await;
    let problems = saved.ok()["problems"].as_array().unwrap().clone();
    assert!(problems.iter().any(|p| p["field"] == "tts.provider"), "{problems:?}");
    assert_eq!(
        a.post(&format!("/interview/{id}/publish"), json!({})).await.status,
        StatusCode::BAD_REQUEST
    );
    put(
        &a,
        "/team/speech_keys/cartesia",
        json!({"api_key": "sk_car_0000111122223333"}),
    )
    .await
    .ok();
    let live = a.post(&format!("/interview/{id}/publish"), json!({})).await;
    assert_eq!(live.ok()["tts"]["provider"], "cartesia");
}

/// The agent speaks with ElevenLabs (a loopback fake of its multi-context WebSocket) that
/// fails after the first sentence: the rest of the call is spoken by the embedded voice, the
/// callee persona hears it and answers, the call completes and records the fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_that_fails_mid_call_hands_over_to_the_embedded_one() {
    let fake = start(Options {
        fail_after: Some(2),
        ..Options::new(KEY)
    })
    .await;
    let ts = TestServer::start_with(Db::Sqlite, |s| s.rate_limit_per_minute = 1_000_000).await;
    let c = ts.team().await;
    put(
        &c,
        "/team/speech_keys/elevenlabs",
        json!({"api_key": KEY, "base_url": fake.base_url}),
    )
    .await
    .ok();
    let flow = json!({
        "nodes": [
            {"id": "start", "type": "start", "data": {}},
            {"id": "hello", "type": "speak", "data": {"message": "Hello, this is Alex from Acme."}},
            {"id": "ask", "type": "question", "data": {"question": "Would you like a free upgrade to fiber internet?", "variable": "upgrade", "kind": "yes_no"}},
            {"id": "yes", "type": "end", "data": {"outcome": "upgraded", "message": "Wonderful, your upgrade is booked. Goodbye."}},
            {"id": "no", "type": "end", "data": {"outcome": "declined", "message": "No problem. Goodbye."}}
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "hello"},
            {"id": "e2", "source": "hello", "target": "ask"},
            {"id": "e3", "source": "ask", "sourceHandle": "yes", "target": "yes"},
            {"id": "e4", "source": "ask", "sourceHandle": "no", "target": "no"},
            {"id": "e5", "source": "ask", "sourceHandle": "no_match", "target": "no"}
        ]
    });
    let agent = c
        .post(
            "/interview/create",
            json!({"title": "Upgrade", "flow": flow,
                   "tts": {"provider": "elevenlabs", "voice": "voice-1", "model": "eleven_flash_v2_5"}}),
        )
        .await
        .ok()
        .clone();
    // A persona that answers only when it hears the question: the question comes after the
    // failure, so only the embedded voice can have said it.
    let persona = c
        .post(
            "/sandbox/personas",
            json!({
                "name": "Fiber Fan",
                "rings": 1,
                "rules": [{"when_heard": "upgrade", "then": {"action": "say", "text": "Yes I would love that."}}],
                "steps": [{"action": "silent"}, {"action": "silent"}, {"action": "silent"}]
            }),
        )
        .await
        .ok()
        .clone();
    let number = "+12025550311";
    c.post(
        "/sandbox/numbers",
        json!({"phone_number": number, "persona_id": persona["id"]}),
    )
    .await
    .ok();
    let contact = c
        .post("/contact/create", json!({"phone_number": number, "name": "Fan"}))
        .await
        .ok()
        .clone();
    let call = c
        .post(
            "/contact/call",
            json!({"contact_id": contact["id"], "interview_id": agent["id"]}),
        )
        .await
        .ok()
        .clone();
    let call = wait_final(&c, call["id"].as_str().unwrap(), 180).await;
    let transcript = call["transcript"].as_str().unwrap_or("").to_string();
    assert_eq!(call["status"], "ENDED", "{call}");
    // The persona heard the question the embedded voice said, answered, and the agent heard it.
    assert_eq!(call["outcome"], "upgraded", "{transcript}");
    assert_eq!(call["variables"]["upgrade"], true, "{}", call["variables"]);
    assert!(transcript.to_lowercase().contains("caller: yes"), "{transcript}");
    assert!(
        transcript.contains("Agent: Wonderful, your upgrade is booked."),
        "{transcript}"
    );

    // The fake was spoken to over ElevenLabs' protocol, with the team's key, and failed.
    fake.snapshot(|log| {
        assert!(log.violations.is_empty(), "{:?}", log.violations);
        assert_eq!(log.refused, 0);
        assert!(log.connections >= 1);
        let texts = log
            .messages
            .iter()
            .filter(|m| m["text"].as_str().is_some_and(|t| !t.trim().is_empty()))
            .count();
        assert!(texts >= 2, "{:?}", log.messages);
    });

    // The call records the fallback: on the call, and in its timeline.
    let fallbacks = call["engine_fallbacks"].as_array().unwrap();
    assert_eq!(fallbacks.len(), 1, "{call}");
    let f = &fallbacks[0];
    assert_eq!(
        (f["side"].as_str(), f["provider"].as_str()),
        (Some("tts"), Some("elevenlabs"))
    );
    assert!(f["at_ms"].as_i64().unwrap() > 0, "{f}");
    assert!(!f["error"].as_str().unwrap().is_empty());
    assert!(!f["error"].as_str().unwrap().contains(KEY));
    let timeline = call["timeline"].as_array().unwrap();
    let entry = timeline
        .iter()
        .find(|e| e["kind"] == "ENGINE_FALLBACK")
        .unwrap_or_else(|| panic!("no ENGINE_FALLBACK in {timeline:?}"));
    assert_eq!(entry["engine_fallback"], *f);
    assert_eq!(timeline.last().unwrap()["progress"], "ended");
}

/// Both sides chosen in the cloud, both failing: Deepgram's live socket (a loopback fake of
/// `v1/listen`) closes with Deepgram's 1011 error a second into the call, and OpenAI's speech
/// endpoint (a loopback fake of `/v1/audio/speech`) says the greeting and then answers 503.
/// Whisper hears the rest of the call (including the audio Deepgram had not answered for) and
/// Piper speaks it: the callee persona hears the question, which only Piper can have said, its
/// answer is captured, and the call records both fallbacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deepgram_and_openai_failing_hand_the_call_to_the_embedded_engines() {
    use parley_speech::fakes::{deepgram, openai};
    let dg = deepgram::start(deepgram::Options {
        fail_after: Some(8_000),
        ..deepgram::Options::new("dg-key-0123456789")
    })
    .await;
    let oa = openai::start(openai::Options {
        fail_with: Some(503),
        fail_after: Some(1),
        ..openai::Options::new(Some("sk-openai-0123456789"))
    })
    .await;
    let ts = TestServer::start_with(Db::Sqlite, |s| s.rate_limit_per_minute = 1_000_000).await;
    let c = ts.team().await;
    put(
        &c,
        "/team/speech_keys/deepgram",
        json!({"api_key": "dg-key-0123456789", "base_url": dg.base_url}),
    )
    .await
    .ok();
    put(
        &c,
        "/team/speech_keys/openai",
        json!({"api_key": "sk-openai-0123456789", "base_url": oa.base_url}),
    )
    .await
    .ok();
    let flow = json!({
        "nodes": [
            {"id": "start", "type": "start", "data": {}},
            {"id": "hello", "type": "speak", "data": {"message": "Hello, this is Alex from Acme."}},
            {"id": "ask", "type": "question", "data": {"question": "Would you like a free upgrade to fiber internet?", "variable": "upgrade", "kind": "yes_no"}},
            {"id": "yes", "type": "end", "data": {"outcome": "upgraded", "message": "Wonderful. Goodbye."}},
            {"id": "no", "type": "end", "data": {"outcome": "declined", "message": "No problem. Goodbye."}}
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "hello"},
            {"id": "e2", "source": "hello", "target": "ask"},
            {"id": "e3", "source": "ask", "sourceHandle": "yes", "target": "yes"},
            {"id": "e4", "source": "ask", "sourceHandle": "no", "target": "no"},
            {"id": "e5", "source": "ask", "sourceHandle": "no_match", "target": "no"}
        ]
    });
    let agent = c
        .post(
            "/interview/create",
            json!({"title": "Upgrade", "flow": flow, "lang": "en-US",
                   "stt": {"provider": "deepgram"}, "tts": {"provider": "openai", "voice": "coral"}}),
        )
        .await
        .ok()
        .clone();
    let persona = c
        .post(
            "/sandbox/personas",
            json!({
                "name": "Fiber Fan",
                "rings": 1,
                "rules": [{"when_heard": "upgrade", "then": {"action": "say", "text": "Yes please, I would love that."}}],
                "steps": [{"action": "silent"}, {"action": "silent"}, {"action": "silent"}]
            }),
        )
        .await
        .ok()
        .clone();
    let number = "+12025550312";
    c.post(
        "/sandbox/numbers",
        json!({"phone_number": number, "persona_id": persona["id"]}),
    )
    .await
    .ok();
    let contact = c
        .post("/contact/create", json!({"phone_number": number, "name": "Fan"}))
        .await
        .ok()
        .clone();
    let call = c
        .post(
            "/contact/call",
            json!({"contact_id": contact["id"], "interview_id": agent["id"]}),
        )
        .await
        .ok()
        .clone();
    let call = wait_final(&c, call["id"].as_str().unwrap(), 180).await;
    let transcript = call["transcript"].as_str().unwrap_or("").to_string();
    assert_eq!(call["status"], "ENDED", "{call}");
    assert_eq!(call["outcome"], "upgraded", "{transcript}");
    assert_eq!(call["variables"]["upgrade"], true, "{}", call["variables"]);

    // Each fake was spoken to in its own protocol, with the team's key and the agent's choice.
    dg.snapshot(|log| {
        assert!(log.violations.is_empty(), "{:?}", log.violations);
        assert!(log.connections >= 1 && log.audio_bytes > 0, "{log:?}");
        let q = &log.messages[0]["query"];
        assert_eq!(
            (q["model"].as_str(), q["language"].as_str()),
            (Some("nova-3"), Some("en-US")),
            "{q}"
        );
    });
    assert!(oa.violations().is_empty(), "{:?}", oa.violations());
    let speech = oa.requests();
    assert!(!speech.is_empty());
    assert_eq!(
        (speech[0]["voice"].as_str(), speech[0]["model"].as_str()),
        (Some("coral"), Some("gpt-4o-mini-tts")),
        "{:?}",
        speech[0]
    );
    assert_eq!(speech[0]["input"], "Hello, this is Alex from Acme.");

    let fallbacks = call["engine_fallbacks"].as_array().unwrap();
    let sides: Vec<(&str, &str)> = fallbacks
        .iter()
        .map(|f| (f["side"].as_str().unwrap(), f["provider"].as_str().unwrap()))
        .collect();
    assert!(
        sides.contains(&("stt", "deepgram")) && sides.contains(&("tts", "openai")),
        "{call}"
    );
    for f in fallbacks {
        let error = f["error"].as_str().unwrap();
        assert!(!error.is_empty() && !error.contains("0123456789"), "{f}");
    }
}

/// A key deleted after the agent chose its provider: the call runs on the embedded voice and
/// records why, before its first word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_its_key_speaks_embedded_and_says_why() {
    let ts = TestServer::start(Db::Sqlite).await;
    let c = ts.team().await;
    put(&c, "/team/speech_keys/elevenlabs", json!({"api_key": KEY}))
        .await
        .ok();
    let agent = c
        .post(
            "/interview/create",
            json!({"title": "Keyless", "tts": {"provider": "elevenlabs", "voice": "voice-1"}}),
        )
        .await
        .ok()
        .clone();
    c.delete("/team/speech_keys/elevenlabs", None).await.ok();
    let contact = c
        .post(
            "/contact/create",
            json!({"phone_number": "+12125550100", "name": "Alex"}),
        )
        .await
        .ok()
        .clone();
    let call = c
        .post(
            "/contact/call",
            json!({"contact_id": contact["id"], "interview_id": agent["id"]}),
        )
        .await
        .ok()
        .clone();
    let call = wait_final(&c, call["id"].as_str().unwrap(), 180).await;
    assert_eq!(call["status"], "ENDED", "{call}");
    assert!(call["transcript"].as_str().unwrap().contains("Agent: "), "{call}");
    let f = &call["engine_fallbacks"][0];
    assert_eq!(f["provider"], "elevenlabs");
    assert_eq!(f["at_ms"], 0);
    assert_eq!(f["error"], "the team has no elevenlabs key");
}
