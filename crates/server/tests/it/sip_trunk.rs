//! Calls through a SIP trunk, against sipp on loopback playing the carrier (or a caller).
//!
//! Each test starts a Parley server with its SIP socket on a free port, gives a team a trunk
//! pointing at sipp and a number on it, and checks what sipp saw (its scenario fails on any
//! message it did not expect) and what the call became in Parley.

use crate::common;
use common::baresip::Softphone;
use common::pki::Pki;
use common::sipp::{free_port, spoken, uuid_like, Sipp};
use common::{wait_final, Client, Db, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

/// A trunk created through the API is in the SIP allow-list at once (the API pokes the
/// rebuild); this covers the rebuild's own database read, not a periodic refresh (5 s).
async fn allow_list_rebuilt() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// A server whose SIP socket is on a known free port.
async fn sip_server() -> (TestServer, u16) {
    let port = free_port();
    let s = TestServer::start_with(Db::Sqlite, |s| {
        s.sip_bind = format!("127.0.0.1:{port}");
        s.ring_timeout_secs = 4;
        s.rate_limit_per_minute = 1_000_000;
    })
    .await;
    (s, port)
}

/// A trunk to sipp on `port` (username alice / secret-pw) and the team's default number on it,
/// answered by `agent`.
async fn trunk_and_number(c: &Client, port: u16, agent: &Value) -> Value {
    let trunk = c
        .post(
            "/sip_trunk",
            json!({"name": "carrier", "host": "127.0.0.1", "port": port, "transport": "udp",
                   "username": "alice", "password": "secret-pw", "inbound_addresses": ["127.0.0.1/32"]}),
        )
        .await
        .ok()
        .clone();
    c.post(
        "/phone_number",
        json!({"phone_number": "+14155557777", "network": "sip", "sip_trunk_id": trunk["id"],
               "inbound_interview_id": agent["id"], "default_outbound": true}),
    )
    .await
    .ok()
    .clone()
}

async fn call(c: &Client, agent: &Value, to: &str) -> String {
    let contact = c.contact(to).await;
    let call = c
        .post(
            "/contact/call",
            json!({"contact_id": contact["id"], "interview_id": agent["id"]}),
        )
        .await
        .ok()
        .clone();
    call["id"].as_str().unwrap().to_string()
}

/// The agent's first inbound call once it has ended (within 20 s).
async fn ended_inbound_call(c: &Client, agent: &Value) -> Value {
    let path = format!("/interview/{}/responses", agent["id"].as_str().unwrap());
    common::eventually(20, "the inbound call ended", || {
        let (c, path) = (c.clone(), path.clone());
        async move {
            let r = c.get(&path).await;
            let list = r.body["data"]["responses"].as_array()?.clone();
            list.into_iter()
                .find(|x| x["type"] == "INBOUND_CALL" && x["end_time"].is_string())
        }
    })
    .await
}

/// An agent that says one sentence and hangs up.
async fn short_agent(c: &Client) -> Value {
    c.post(
        "/interview/create",
        json!({"title": "Short", "flow": {
            "nodes": [
                {"id": "start", "type": "start", "data": {}},
                {"id": "bye", "type": "end", "data": {"outcome": "told", "message": "This is Bright Dental. Goodbye."}}
            ],
            "edges": [{"id": "e1", "source": "start", "sourceHandle": "next", "target": "bye"}]
        }}),
    )
    .await
    .ok()
    .clone()
}

/// An agent that asks the caller's name, then says goodbye and hangs up.
async fn front_desk(c: &Client) -> Value {
    c.post(
        "/interview/create",
        json!({"title": "Front desk", "silence_timeout_ms": 15000, "flow": {
            "nodes": [
                {"id": "start", "type": "start", "data": {}},
                {"id": "name", "type": "question", "data": {"question": "Thank you for calling Bright Dental. May I have your name?", "variable": "caller_name", "kind": "text"}},
                {"id": "bye", "type": "end", "data": {"outcome": "answered", "message": "Thanks. Goodbye."}}
            ],
            "edges": [
                {"id": "e1", "source": "start", "sourceHandle": "next", "target": "name"},
                {"id": "e2", "source": "name", "sourceHandle": "next", "target": "bye"}
            ]
        }}),
    )
    .await
    .ok()
    .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_carrier_ends_the_call_busy_with_the_sip_cause() {
    let (server, _) = sip_server().await;
    let c = server.team().await;
    let agent = short_agent(&c).await;
    let sipp = Sipp::start("uas_busy.xml", &[], &[]);
    let number = trunk_and_number(&c, sipp.port, &agent).await;
    let id = call(&c, &agent, "+12125551199").await;
    let done = wait_final(&c, &id, 20).await;
    tokio::task::spawn_blocking(move || sipp.wait(10)).await.unwrap();
    assert_eq!(done["end_reason"], "busy", "{done}");
    assert_eq!(done["call_failure_reason"], "sip 486 Busy Here", "{done}");
    assert_eq!(done["network"], "sip", "{done}");
    assert_eq!(done["from_number"], number["phone_number"], "{done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unanswered_call_is_canceled_at_the_ring_timeout() {
    let (server, _) = sip_server().await;
    let c = server.team().await;
    let agent = short_agent(&c).await;
    let sipp = Sipp::start("uas_ring.xml", &[], &[]);
    trunk_and_number(&c, sipp.port, &agent).await;
    let id = call(&c, &agent, "+12125551198").await;
    let done = wait_final(&c, &id, 20).await;
    tokio::task::spawn_blocking(move || sipp.wait(10)).await.unwrap();
    assert_eq!(done["end_reason"], "no_answer", "{done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_digest_challenge_is_answered_and_the_agent_speaks_and_hangs_up() {
    let (server, _) = sip_server().await;
    let c = server.team().await;
    let agent = short_agent(&c).await;
    let sipp = Sipp::start("uas_auth.xml", &[], &[]);
    trunk_and_number(&c, sipp.port, &agent).await;
    let id = call(&c, &agent, "+12125551197").await;
    let done = wait_final(&c, &id, 40).await;
    tokio::task::spawn_blocking(move || sipp.wait(10)).await.unwrap();
    assert_eq!(done["status"], "ENDED", "{done}");
    assert_eq!(done["outcome"], "told", "{done}");
    assert!(done["transcript"].as_str().unwrap().contains("Bright Dental"), "{done}");
}

/// A health check and garbage from a trunk's address: OPTIONS is answered 200 (what Kamailio's
/// dispatcher probes), a malformed INVITE 400, and the node keeps answering.
#[tokio::test(flavor = "multi_thread")]
async fn options_is_answered_and_a_malformed_invite_gets_400() {
    let (server, sip_port) = sip_server().await;
    let c = server.team().await;
    let agent = short_agent(&c).await;
    trunk_and_number(&c, free_port(), &agent).await;
    allow_list_rebuilt().await;
    let remote = format!("127.0.0.1:{sip_port}");
    let s = Sipp::start("uac_probe.xml", &[], &["-s", "+14155557777", &remote]);
    tokio::task::spawn_blocking(move || s.wait(20)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn invites_from_outside_the_trunk_are_refused_403_and_unknown_numbers_404() {
    let (server, sip_port) = sip_server().await;
    let c = server.team().await;
    let agent = short_agent(&c).await;
    // The trunk allows 127.0.0.1 only; sipp calls from 127.0.0.2.
    trunk_and_number(&c, free_port(), &agent).await;
    allow_list_rebuilt().await;
    let remote = format!("127.0.0.1:{sip_port}");
    for (source, number, expect) in [
        ("127.0.0.2", "+14155557777", "403"),
        ("127.0.0.1", "+14155550000", "404"),
    ] {
        let remote = remote.clone();
        let s = Sipp::start_on(
            source,
            "uac_refused.xml",
            &[("EXPECT", expect.to_string())],
            &["-s", number, &remote],
        );
        tokio::task::spawn_blocking(move || s.wait(20)).await.unwrap();
    }
}

/// An agent that asks one question and waits long for the answer (the carrier drives the call).
async fn patient_agent(c: &Client) -> Value {
    c.post(
        "/interview/create",
        json!({"title": "Patient", "silence_timeout_ms": 20000, "flow": {
            "nodes": [
                {"id": "start", "type": "start", "data": {}},
                {"id": "q", "type": "question", "data": {"question": "Can you make it tomorrow?", "variable": "ok", "kind": "yes_no"}},
                {"id": "bye", "type": "end", "data": {"outcome": "answered", "message": "Thanks. Goodbye."}}
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
    .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_re_invite_holds_and_changes_the_codec_in_the_same_dialog() {
    let (server, _) = sip_server().await;
    let c = server.team().await;
    let agent = patient_agent(&c).await;
    // The scenario checks Parley's answers: recvonly to the hold, PCMA to the codec change.
    let sipp = Sipp::start("uas_reinvite.xml", &[], &[]);
    trunk_and_number(&c, sipp.port, &agent).await;
    let id = call(&c, &agent, "+12125551196").await;
    let done = wait_final(&c, &id, 40).await;
    tokio::task::spawn_blocking(move || sipp.wait(10)).await.unwrap();
    assert_eq!(done["status"], "ENDED", "{done}");
    assert_eq!(done["end_reason"], "completed", "the carrier hung up: {done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_node_sends_refer_and_the_call_ends_transferred() {
    let (server, _) = sip_server().await;
    let c = server.team().await;
    let agent = c
        .post(
            "/interview/create",
            json!({"title": "Transfer", "flow": {
                "nodes": [
                    {"id": "start", "type": "start", "data": {}},
                    {"id": "t", "type": "transfer", "data": {"phone_number": "+12125550142", "message": "Connecting you now."}}
                ],
                "edges": [{"id": "e1", "source": "start", "sourceHandle": "next", "target": "t"}]
            }}),
        )
        .await
        .ok()
        .clone();
    let sipp = Sipp::start("uas_refer.xml", &[], &[]);
    trunk_and_number(&c, sipp.port, &agent).await;
    let id = call(&c, &agent, "+12125551195").await;
    let done = wait_final(&c, &id, 40).await;
    tokio::task::spawn_blocking(move || sipp.wait(10)).await.unwrap();
    assert_eq!(done["status"], "TRANSFERRED", "{done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inbound_call_to_a_bound_number_reaches_its_agent() {
    let (server, sip_port) = sip_server().await;
    let c = server.team().await;
    let agent = short_agent(&c).await;
    trunk_and_number(&c, free_port(), &agent).await;
    allow_list_rebuilt().await;
    // Three seconds of silence from the caller; the agent greets and hangs up first.
    let dir = std::env::temp_dir().join(format!("parley-pcap-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("caller.pcap");
    common::pcap::write(&pcap, &common::pcap::speech_then_digits(&[0xFF; 160 * 150], 0, 0, "1")).unwrap();
    let remote = format!("127.0.0.1:{sip_port}");
    let sipp = Sipp::start(
        "uac_inbound.xml",
        &[("AUDIO", pcap.display().to_string()), ("DURATION_MS", "30000".into())],
        &["-s", "+14155557777", &remote],
    );
    tokio::task::spawn_blocking(move || sipp.wait(40)).await.unwrap();
    let calls = ended_inbound_call(&c, &agent).await;
    assert_eq!(calls["phone_number"], "+15550002222", "the caller: {calls}");
    assert_eq!(calls["network"], "sip", "{calls}");
    assert!(
        calls["transcript"].as_str().unwrap_or("").contains("Bright Dental"),
        "{calls}"
    );
}

/// The carrier's side talks: sipp answers (183 early media, then 200), says a name over RTP
/// and, a few seconds later, presses 1 as an RFC 4733 event. The agent hears the name through
/// its speech-to-text and takes the key as a yes, then hangs up.
#[tokio::test(flavor = "multi_thread")]
async fn the_agent_captures_the_callees_speech_and_rfc4733_digits() {
    let (server, _) = sip_server().await;
    let c = server.team().await;
    let agent = c
        .post(
            "/interview/create",
            json!({"title": "Name and key", "silence_timeout_ms": 20000, "flow": {
                "nodes": [
                    {"id": "start", "type": "start", "data": {}},
                    {"id": "name", "type": "question", "data": {"question": "Who am I speaking with?", "variable": "caller_name", "kind": "text"}},
                    {"id": "ok", "type": "question", "data": {"question": "Press 1 if you can come tomorrow at ten, or 2 if you cannot.", "variable": "confirmed", "kind": "yes_no"}},
                    {"id": "bye", "type": "end", "data": {"outcome": "answered", "message": "Thank you. Goodbye."}}
                ],
                "edges": [
                    {"id": "e1", "source": "start", "sourceHandle": "next", "target": "name"},
                    {"id": "e2", "source": "name", "sourceHandle": "next", "target": "ok"},
                    {"id": "e3", "source": "ok", "sourceHandle": "yes", "target": "bye"},
                    {"id": "e4", "source": "ok", "sourceHandle": "no", "target": "bye"},
                    {"id": "e5", "source": "ok", "sourceHandle": "no_match", "target": "bye"}
                ]
            }}),
        )
        .await
        .ok()
        .clone();
    // The name 3 s after the answer (the agent's question is ~1.5 s), the key 8 s after the name
    // (the agent's second question has been asked by then).
    let dir = std::env::temp_dir().join(format!("parley-pcap-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("callee.pcap");
    let speech = tokio::task::spawn_blocking(|| spoken(&[(3000, "This is Sam Lee.")]))
        .await
        .unwrap();
    common::pcap::write(&pcap, &common::pcap::speech_then_digits(&speech, 0, 8000, "1")).unwrap();
    let sipp = Sipp::start("uas_answer.xml", &[("AUDIO", pcap.display().to_string())], &[]);
    trunk_and_number(&c, sipp.port, &agent).await;
    let id = call(&c, &agent, "+12125551194").await;
    let done = wait_final(&c, &id, 60).await;
    tokio::task::spawn_blocking(move || sipp.wait(10)).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(done["status"], "ENDED", "{done}");
    assert_eq!(done["outcome"], "answered", "{done}");
    let name = done["variables"]["caller_name"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(name.contains("sam"), "the name heard over RTP: {done}");
    assert_eq!(done["variables"]["confirmed"], true, "the RFC 4733 key 1: {done}");
}

/// A real softphone calls in: baresip dials the number bound to an agent, plays a caller's
/// words (offline TTS, as a WAV file) and records what it hears. Its recording of the agent,
/// transcribed by the offline speech-to-text, holds the greeting, and the agent understood the
/// caller's name.
#[tokio::test(flavor = "multi_thread")]
async fn baresip_calls_in_hears_the_greeting_and_is_understood() {
    let (server, sip_port) = sip_server().await;
    let c = server.team().await;
    let agent = front_desk(&c).await;
    trunk_and_number(&c, free_port(), &agent).await;
    allow_list_rebuilt().await;

    // The caller: quiet through the greeting, then its name, then quiet until the agent hangs up.
    let words = tokio::task::spawn_blocking(|| spoken(&[(5500, "This is Sam Lee."), (10_000, "")]))
        .await
        .unwrap();
    let phone = Softphone::new("+15550004444", &words, None);
    let dial = format!("/dial sip:+14155557777@127.0.0.1:{sip_port}");
    let (phone, log) = tokio::task::spawn_blocking(move || {
        let log = phone.run(40, Some(&dial));
        (phone, log)
    })
    .await
    .unwrap();

    let call = ended_inbound_call(&c, &agent).await;
    assert_eq!(call["phone_number"], "+15550004444", "{call}");
    let name = call["variables"]["caller_name"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(name.contains("sam"), "the caller's name: {call}\n{log}");

    // What baresip heard (its decoder's side), through Whisper.
    let pcm = phone
        .heard()
        .unwrap_or_else(|| panic!("baresip recorded the call:\n{log}"));
    let text = tokio::task::spawn_blocking(move || {
        let models = parley_speech::models::Models::locate();
        let stt = parley_speech::stt::WhisperStt::from_models(&models, Default::default()).unwrap();
        parley_speech::SpeechToText::transcribe(&stt, &pcm).unwrap()
    })
    .await
    .unwrap();
    let lower = text.to_lowercase();
    assert!(
        lower.contains("bright dental") && lower.contains("name"),
        "baresip heard: {text:?}"
    );
}

/// SIP over TCP, both ways: a trunk set to `tcp` places its call over a TCP connection to
/// sipp (which answers only on TCP) and the agent speaks and hangs up; a caller connecting
/// over TCP reaches the agent of a bound number.
#[tokio::test(flavor = "multi_thread")]
async fn calls_go_over_tcp_both_ways() {
    let (server, sip_port) = sip_server().await;
    let c = server.team().await;
    let agent = short_agent(&c).await;
    let sipp = Sipp::start("uas_auth.xml", &[], &["-t", "t1"]);
    let trunk = c
        .post(
            "/sip_trunk",
            json!({"name": "carrier over tcp", "host": "127.0.0.1", "port": sipp.port, "transport": "tcp",
                   "username": "alice", "password": "secret-pw", "inbound_addresses": ["127.0.0.1/32"]}),
        )
        .await
        .ok()
        .clone();
    c.post(
        "/phone_number",
        json!({"phone_number": "+14155557777", "network": "sip", "sip_trunk_id": trunk["id"],
               "inbound_interview_id": agent["id"], "default_outbound": true}),
    )
    .await
    .ok();
    let id = call(&c, &agent, "+12125551179").await;
    let done = wait_final(&c, &id, 40).await;
    tokio::task::spawn_blocking(move || sipp.wait(10)).await.unwrap();
    assert_eq!(done["status"], "ENDED", "{done}");
    assert_eq!(done["outcome"], "told", "{done}");
    assert!(done["transcript"].as_str().unwrap().contains("Bright Dental"), "{done}");

    allow_list_rebuilt().await;
    let dir = std::env::temp_dir().join(format!("parley-pcap-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("caller.pcap");
    common::pcap::write(&pcap, &common::pcap::speech_then_digits(&[0xFF; 160 * 150], 0, 0, "")).unwrap();
    let remote = format!("127.0.0.1:{sip_port}");
    let sipp = Sipp::start(
        "uac_inbound.xml",
        &[("AUDIO", pcap.display().to_string()), ("DURATION_MS", "30000".into())],
        &["-t", "t1", "-s", "+14155557777", &remote],
    );
    tokio::task::spawn_blocking(move || sipp.wait(40)).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let inbound = ended_inbound_call(&c, &agent).await;
    assert!(
        inbound["transcript"].as_str().unwrap_or("").contains("Bright Dental"),
        "{inbound}"
    );
}

/// SIP over TLS with a real softphone. A trunk named for a host its certificate does not hold
/// fails the call at once, saying why (not after Timer B's 32 s); then Parley calls baresip over
/// TLS (verifying its certificate against the configured authority) and the agent hears the
/// callee's name; then baresip calls Parley's TLS listener and reaches the bound agent.
#[tokio::test(flavor = "multi_thread")]
async fn calls_go_over_tls_both_ways_and_an_unverified_certificate_fails_at_once() {
    let pki = Pki::new();
    let sip_port = free_port();
    let tls_port = free_port();
    let server = TestServer::start_with(Db::Sqlite, |s| {
        s.sip_bind = format!("127.0.0.1:{sip_port}");
        s.sip_tls_bind = Some(format!("127.0.0.1:{tls_port}"));
        s.sip_tls_cert = Some(pki.cert.clone());
        s.sip_tls_key = Some(pki.key.clone());
        s.sip_tls_ca = Some(pki.ca.clone());
        s.ring_timeout_secs = 10;
        s.rate_limit_per_minute = 1_000_000;
    })
    .await;
    let c = server.team().await;
    let agent = front_desk(&c).await;

    // Parley's own TLS listener, reached as "localhost": its certificate names 127.0.0.1 and
    // sip.parley.test only.
    let trunk = c
        .post(
            "/sip_trunk",
            json!({"name": "carrier over tls", "host": "localhost", "port": tls_port, "transport": "tls",
                   "inbound_addresses": ["127.0.0.1/32"]}),
        )
        .await
        .ok()
        .clone();
    c.post(
        "/phone_number",
        json!({"phone_number": "+14155557777", "network": "sip", "sip_trunk_id": trunk["id"],
               "inbound_interview_id": agent["id"], "default_outbound": true}),
    )
    .await
    .ok();
    let started = std::time::Instant::now();
    let id = call(&c, &agent, "+12125551170").await;
    let done = wait_final(&c, &id, 20).await;
    let reason = done["call_failure_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("TLS handshake") && reason.contains("not valid for name"),
        "{done}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "failed at once: {done}");

    // Outbound: baresip answers over TLS and gives its name.
    let words = tokio::task::spawn_blocking(|| spoken(&[(5500, "This is Sam Lee."), (10_000, "")]))
        .await
        .unwrap();
    let callee = Softphone::new("+12125551171", &words, Some(&pki));
    c.post(
        &format!("/sip_trunk/{}/update", trunk["id"].as_str().unwrap()),
        json!({"host": "127.0.0.1", "port": callee.port + 1}),
    )
    .await
    .ok();
    let answering = tokio::task::spawn_blocking(move || {
        let log = callee.run(30, None);
        (callee, log)
    });
    tokio::time::sleep(Duration::from_millis(500)).await; // baresip is listening
    let id = call(&c, &agent, "+12125551171").await;
    let done = wait_final(&c, &id, 40).await;
    let (_callee, log) = answering.await.unwrap();
    assert_eq!(done["status"], "ENDED", "{done}\n{log}");
    let name = done["variables"]["caller_name"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(name.contains("sam"), "the callee's name over TLS: {done}\n{log}");
    // baresip's RTCP reached the call's one socket (our SDP's a=rtcp / a=rtcp-mux), and ours
    // went out.
    let metrics = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for direction in ["sent", "received"] {
        let count: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("parley_sip_rtcp_packets_total{{direction=\"{direction}\"}} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        assert!(count > 0, "RTCP {direction}: {count}\n{log}");
    }

    // Inbound: baresip calls the number on Parley's TLS port.
    let words = tokio::task::spawn_blocking(|| spoken(&[(5500, "This is Sam Lee."), (10_000, "")]))
        .await
        .unwrap();
    let caller = Softphone::new("+15550004444", &words, Some(&pki));
    let dial = format!("/dial sip:+14155557777@127.0.0.1:{tls_port};transport=tls");
    let log = tokio::task::spawn_blocking(move || caller.run(30, Some(&dial)))
        .await
        .unwrap();
    let inbound = ended_inbound_call(&c, &agent).await;
    assert_eq!(inbound["phone_number"], "+15550004444", "{inbound}\n{log}");
    let name = inbound["variables"]["caller_name"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(name.contains("sam"), "the caller's name over TLS: {inbound}\n{log}");
}
