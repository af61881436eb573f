//! Calls through a SIP trunk, against sipp on loopback playing the carrier (or a caller).
//!
//! Each test starts a Parley server with its SIP socket on a free port, gives a team a trunk
//! pointing at sipp and a number on it, and checks what sipp saw (its scenario fails on any
//! message it did not expect) and what the call became in Parley.

mod common;
use common::{wait_final, Client, Db, TestServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A sipp process running one scenario from `tests/sipp/`, with `@NAME@` placeholders filled.
struct Sipp {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Sipp {
    fn start(scenario: &str, fill: &[(&str, String)], extra: &[&str]) -> Sipp {
        Self::start_on("127.0.0.1", scenario, fill, extra)
    }

    /// As [`Sipp::start`], with sipp's SIP and media sockets on `ip`.
    fn start_on(ip: &str, scenario: &str, fill: &[(&str, String)], extra: &[&str]) -> Sipp {
        let dir = std::env::temp_dir().join(format!("parley-sipp-{}", uuid_like()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp").join(scenario);
        let mut text = std::fs::read_to_string(&src).unwrap();
        for (k, v) in fill {
            text = text.replace(&format!("@{k}@"), v);
        }
        std::fs::write(dir.join(scenario), text).unwrap();
        let port = free_udp_port();
        let media = free_udp_port();
        let mut args = vec![
            "-sf".to_string(),
            scenario.to_string(),
            "-i".into(),
            ip.to_string(),
            "-p".into(),
            port.to_string(),
            "-mi".into(),
            ip.to_string(),
            "-mp".into(),
            media.to_string(),
            "-m".into(),
            "1".into(),
            "-nostdin".into(),
            "-timeout".into(),
            "60s".into(),
            "-trace_err".into(),
            "-trace_msg".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new("sipp")
            .args(&args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp is installed (apt-get install sip-tester)");
        Sipp { child, dir, port }
    }

    /// Waits for sipp to finish its one call; panics with its message trace if it failed.
    fn wait(mut self, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "sipp failed ({status}):\n{}", self.trace());
                return;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("sipp did not finish in {secs} s:\n{}", self.trace());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn trace(&self) -> String {
        let mut out = String::new();
        for e in std::fs::read_dir(&self.dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.ends_with(".log") {
                out += &format!(
                    "--- {name}\n{}\n",
                    std::fs::read_to_string(e.path()).unwrap_or_default()
                );
            }
        }
        out
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// A server whose SIP socket is on a known free port.
async fn sip_server() -> (TestServer, u16) {
    let port = free_udp_port();
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

#[tokio::test(flavor = "multi_thread")]
async fn invites_from_outside_the_trunk_are_refused_403_and_unknown_numbers_404() {
    let (server, sip_port) = sip_server().await;
    let c = server.team().await;
    let agent = short_agent(&c).await;
    // The trunk allows 127.0.0.1 only; sipp calls from 127.0.0.2.
    trunk_and_number(&c, free_udp_port(), &agent).await;
    // Let the allow-list refresh pick the trunk up.
    tokio::time::sleep(Duration::from_secs(6)).await;
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
    trunk_and_number(&c, free_udp_port(), &agent).await;
    tokio::time::sleep(Duration::from_secs(6)).await; // the allow-list refresh
                                                      // Three seconds of silence from the caller; the agent greets and hangs up first.
    let dir = std::env::temp_dir().join(format!("parley-pcap-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("caller.pcap");
    common::pcap::write(&pcap, &common::pcap::speech_then_digits(&[0xFF; 160 * 150], 0, "1")).unwrap();
    let remote = format!("127.0.0.1:{sip_port}");
    let sipp = Sipp::start(
        "uac_inbound.xml",
        &[("AUDIO", pcap.display().to_string()), ("DURATION_MS", "30000".into())],
        &["-s", "+14155557777", &remote],
    );
    tokio::task::spawn_blocking(move || sipp.wait(40)).await.unwrap();
    let path = format!("/interview/{}/responses", agent["id"].as_str().unwrap());
    let calls = common::eventually(20, "the inbound call ended", || {
        let (c, path) = (c.clone(), path.clone());
        async move {
            let r = c.get(&path).await;
            let first = r.body["data"]["responses"].as_array()?.first()?.clone();
            (first["end_time"].is_string()).then_some(first)
        }
    })
    .await;
    assert_eq!(calls["type"], "INBOUND_CALL", "{calls}");
    assert_eq!(calls["phone_number"], "+15550002222", "the caller: {calls}");
    assert_eq!(calls["network"], "sip", "{calls}");
    assert!(
        calls["transcript"].as_str().unwrap_or("").contains("Bright Dental"),
        "{calls}"
    );
}
