//! Calls through a team's Twilio account, against the loopback fake of Twilio
//! (`parley_telephony::twilio::fake`), which speaks Twilio's REST API, signs its webhooks and
//! status callbacks as Twilio does and opens the media-stream WebSocket to Parley.
//!
//! The server's `PARLEY_PUBLIC_URL` is its own loopback address, so the fake reaches the
//! `/twilio/…` routes exactly as Twilio reaches a public server.

use crate::common;
use common::sipp::free_port;
use common::{eventually, wait_final, Client, Db, TestServer};
use parley_telephony::twilio::fake::{FakeTwilio, Script};
use parley_telephony::twilio::rest::Account;
use serde_json::{json, Value};
use std::time::Duration;

struct Setup {
    server: TestServer,
    fake: FakeTwilio,
    account: Account,
    public: String,
    c: Client,
    agent: Value,
}

/// A server reachable at a known public URL, a fake Twilio, a team with an agent and a Twilio
/// number (`+14155558888`) of the fake's account answered by that agent.
async fn setup() -> Setup {
    let fake = FakeTwilio::start().await.unwrap();
    let account = fake.new_account();
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let (base, url) = (fake.base_url(), public.clone());
    let server = TestServer::start_with(Db::Sqlite, move |s| {
        s.bind = format!("127.0.0.1:{port}").parse().unwrap();
        s.public_url = Some(url);
        s.twilio_api_base = base;
        s.rate_limit_per_minute = 1_000_000;
    })
    .await;
    let c = server.team().await;
    let agent = c
        .post(
            "/interview/create",
            json!({"title": "Short", "silence_timeout_ms": 20000, "flow": {
                "nodes": [
                    {"id": "start", "type": "start", "data": {}},
                    {"id": "bye", "type": "end", "data": {"outcome": "told", "message": "This is Bright Dental calling about your appointment tomorrow at ten. Goodbye."}}
                ],
                "edges": [{"id": "e1", "source": "start", "sourceHandle": "next", "target": "bye"}]
            }}),
        )
        .await
        .ok()
        .clone();
    c.post(
        "/phone_number",
        json!({"phone_number": "+14155558888", "network": "twilio",
               "twilio": {"account_sid": account.account_sid, "auth_token": account.auth_token},
               "inbound_interview_id": agent["id"], "default_outbound": true}),
    )
    .await
    .ok();
    Setup {
        server,
        fake,
        account,
        public,
        c,
        agent,
    }
}

async fn call(s: &Setup, to: &str) -> Value {
    let contact = s.c.contact(to).await;
    let call =
        s.c.post(
            "/contact/call",
            json!({"contact_id": contact["id"], "interview_id": s.agent["id"]}),
        )
        .await
        .ok()
        .clone();
    wait_final(&s.c, call["id"].as_str().unwrap(), 60).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outbound_call_streams_the_agent_and_ends_completed() {
    let s = setup().await;
    s.fake.script("+12125551190", Script::answer());
    let done = call(&s, "+12125551190").await;
    assert_eq!(done["status"], "ENDED", "{done}");
    assert_eq!(done["outcome"], "told", "{done}");
    assert_eq!(done["network"], "twilio", "{done}");
    assert!(done["transcript"].as_str().unwrap().contains("Bright Dental"), "{done}");
    let rec = s.fake.calls().into_iter().next().expect("the fake saw the call");
    assert_eq!(rec.from, "+14155558888");
    // The agent's voice crossed the stream: seconds of audio, not silence only.
    assert!(
        rec.received_audio.len() > 8000 * 2,
        "{} bytes",
        rec.received_audio.len()
    );
    assert!(rec.received_audio.iter().filter(|b| **b != 0xFF && **b != 0x7F).count() > 4000);
    assert!(rec.bad_frames.is_empty(), "{:?}", rec.bad_frames);
    assert!(
        rec.callbacks.iter().all(|cb| cb.http_status < 300),
        "every signed callback accepted: {:?}",
        rec.callbacks
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn busy_and_no_answer_carry_twilios_cause() {
    let s = setup().await;
    s.fake.script("+12125551191", Script::busy());
    let done = call(&s, "+12125551191").await;
    assert_eq!(done["end_reason"], "busy", "{done}");
    assert_eq!(done["call_failure_reason"], "twilio: busy", "{done}");
    s.fake.script("+12125551192", Script::no_answer());
    let done = call(&s, "+12125551192").await;
    assert_eq!(done["end_reason"], "no_answer", "{done}");
    assert_eq!(done["call_failure_reason"], "twilio: no-answer", "{done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inbound_call_reaches_the_agent_and_a_forged_webhook_is_refused() {
    let s = setup().await;
    let webhook = format!("{}/twilio/voice", s.public);
    let script = Script {
        hang_up_after: Some(400),
        ..Script::answer()
    };
    let sid = s.fake.inbound_call(
        &s.account.account_sid,
        &webhook,
        "+15550003333",
        "+14155558888",
        script.clone(),
    );
    let rec = s.fake.wait_call(&sid, |r| r.ended).await;
    assert_eq!(rec.webhook_status, Some(200), "{rec:?}");
    assert!(!rec.rejected);
    let path = format!("/interview/{}/responses", s.agent["id"].as_str().unwrap());
    let inbound = eventually(30, "the inbound call ended", || {
        let (c, path) = (s.c.clone(), path.clone());
        async move {
            let r = c.get(&path).await;
            let first = r.body["data"]["responses"].as_array()?.first()?.clone();
            first["end_time"].is_string().then_some(first)
        }
    })
    .await;
    assert_eq!(inbound["type"], "INBOUND_CALL", "{inbound}");
    assert_eq!(inbound["phone_number"], "+15550003333", "{inbound}");
    assert_eq!(inbound["network"], "twilio", "{inbound}");
    assert!(
        inbound["transcript"].as_str().unwrap().contains("Bright Dental"),
        "{inbound}"
    );

    // A number Parley does not hold: rejected, nothing learnt. A forged signature: 403.
    let sid = s.fake.inbound_call(
        &s.account.account_sid,
        &webhook,
        "+15550003333",
        "+14155550000",
        script.clone(),
    );
    let rec = s.fake.wait_call(&sid, |r| r.ended).await;
    assert!(rec.rejected, "{rec:?}");
    s.fake.forge_signatures(true);
    let sid = s
        .fake
        .inbound_call(&s.account.account_sid, &webhook, "+15550003333", "+14155558888", script);
    let rec = s.fake.wait_call(&sid, |r| r.ended).await;
    assert_eq!(rec.webhook_status, Some(403), "{rec:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = s.c.get(&path).await;
    assert_eq!(
        r.body["data"]["count"], 1,
        "the forged call created nothing: {}",
        r.body
    );
    drop(s.server);
}

/// Barge-in over a media stream: the callee talks over the agent's long question, so Parley
/// stops its own audio and sends `clear` to empty what Twilio still buffers; the agent then
/// takes the callee's answer.
#[tokio::test(flavor = "multi_thread")]
async fn talking_over_the_agent_clears_twilios_buffer() {
    let s = setup().await;
    let agent = s
        .c
        .post(
            "/interview/create",
            json!({"title": "Long question", "silence_timeout_ms": 15000, "flow": {
                "nodes": [
                    {"id": "start", "type": "start", "data": {}},
                    {"id": "q", "type": "question", "data": {"variable": "ok", "kind": "yes_no",
                      "question": "Hello, this is Bright Dental calling about the appointment you booked with doctor Morgan for tomorrow morning at ten thirty at our clinic on Main Street. Can you still make it?"}},
                    {"id": "bye", "type": "end", "data": {"outcome": "answered", "message": "Thank you. Goodbye."}}
                ],
                "edges": [
                    {"id": "e1", "source": "start", "sourceHandle": "next", "target": "q"},
                    {"id": "e2", "source": "q", "sourceHandle": "yes", "target": "bye"},
                    {"id": "e3", "source": "q", "sourceHandle": "no", "target": "bye"},
                    {"id": "e4", "source": "q", "sourceHandle": "no_match", "target": "bye"}
                ]
            }}),
        )
        .await
        .ok()
        .clone();
    // No comma: after "Yes," Piper pauses 300-440 ms, the over-talk is judged a backchannel,
    // and whether the words after it pass the barge-in gate is what bench/barge_in.sh's
    // "go on" class measures (not always: see bench/README.md). This test is about the clear.
    let words = tokio::task::spawn_blocking(|| common::sipp::spoken(&[(0, "Yes I can make it.")]))
        .await
        .unwrap();
    s.fake.script("+12125551189", Script::answer());
    let contact = s.c.contact("+12125551189").await;
    let call =
        s.c.post(
            "/contact/call",
            json!({"contact_id": contact["id"], "interview_id": agent["id"]}),
        )
        .await
        .ok()
        .clone();
    // The callee talks once 1.5 s of the question has played, well before its end. Timed from
    // the question's sound, not from the stream's start: how soon the question begins depends on
    // the machine's load, and words said before it would answer nothing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let sid = loop {
        let rec = s.fake.calls().into_iter().next();
        if let Some(rec) = rec.filter(|r| voiced_secs(&r.played_audio) >= 1.5) {
            break rec.sid;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the question did not play: {:#?}",
            s.fake.calls()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    s.fake.say(&sid, &words);
    let done = wait_final(&s.c, call["id"].as_str().unwrap(), 60).await;
    let rec = s.fake.call(&sid).expect("the fake saw the call");
    // (What Twilio still held is small: Parley sends its audio in real time, not ahead.)
    assert!(rec.clears >= 1, "Parley cleared Twilio's buffer on barge-in: {done}");
    assert_eq!(done["variables"]["ok"], true, "{done}");
    assert_eq!(done["outcome"], "answered", "{done}");
    // The question was cut: less of the agent's speech crossed the stream and played than the
    // question alone holds, measured on the same voice in this run.
    let question = "Hello, this is Bright Dental calling about the appointment you booked with doctor Morgan for tomorrow morning at ten thirty at our clinic on Main Street. Can you still make it?";
    let whole = tokio::task::spawn_blocking(move || common::sipp::spoken(&[(0, question)]))
        .await
        .unwrap();
    let (played, full) = (voiced_secs(&rec.played_audio), voiced_secs(&whole));
    assert!(
        played < full * 0.7,
        "{played:.1} s of agent speech played, the question alone is {full:.1} s: {done}"
    );
}

/// Seconds of 20 ms mu-law frames loud enough to be speech.
fn voiced_secs(mulaw: &[u8]) -> f64 {
    let frames = mulaw.chunks_exact(160);
    frames.filter(|f| parley_telephony::twilio::party::voiced(f)).count() as f64 * 0.02
}
