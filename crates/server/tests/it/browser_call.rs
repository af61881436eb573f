//! "Test in browser": a signed-in dashboard user talks to an agent over the WebSocket, with real
//! speech (the offline voice, at the browser's 16 kHz), and the agent captures the answer; the
//! call is a `BROWSER_CALL` with its transcript. A request from another origin, or without a
//! session, is refused before any call exists.

use crate::common::{wait_final, Db, TestServer};
use futures_util::{SinkExt, StreamExt};
use parley_server::browser::{up, BROWSER_FRAME_BYTES};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn question_flow() -> Value {
    json!({
        "nodes": [
            {"id": "start", "type": "start", "data": {}},
            {"id": "ask", "type": "question", "data": {"question": "Can you make it on Thursday?", "variable": "confirmed", "kind": "yes_no"}},
            {"id": "yes", "type": "end", "data": {"outcome": "confirmed", "message": "Great. Goodbye."}},
            {"id": "no", "type": "end", "data": {"outcome": "declined", "message": "Okay. Goodbye."}}
        ],
        "edges": [
            {"id": "e1", "source": "start", "sourceHandle": "next", "target": "ask"},
            {"id": "e2", "source": "ask", "sourceHandle": "yes", "target": "yes"},
            {"id": "e3", "source": "ask", "sourceHandle": "no", "target": "no"},
            {"id": "e4", "source": "ask", "sourceHandle": "no_match", "target": "no"}
        ]
    })
}

/// `text` spoken by the offline voice, as the browser sends it: 16 kHz PCM frames of 20 ms.
fn spoken_16k(text: &str) -> Vec<Vec<u8>> {
    let models = parley_speech::models::Models::locate();
    let tts = parley_speech::tts::PiperTts::from_models(&models, Default::default())
        .expect("scripts/setup installed the voice");
    let pcm = parley_speech::TextToSpeech::synthesize(&tts, text).unwrap();
    parley_telephony::audio::frames(&pcm)
        .map(|f| up(&f, 0).iter().flat_map(|s| s.to_le_bytes()).collect())
        .collect()
}

async fn signed_in_cookie(ts: &TestServer, team: &str) -> String {
    let hash = parley_api::session::hash_password("correct horse battery".into())
        .await
        .unwrap();
    let user = ts.store().set_user_password("tester@example.com", &hash).await.unwrap();
    ts.store()
        .set_membership(&user.id, team, parley_core::account::Role::Member)
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/auth/login", ts.base))
        .json(&json!({"email": "tester@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set = r.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

fn request(
    ts: &TestServer,
    path: &str,
    cookie: Option<&str>,
    origin: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let url = format!("{}{path}", ts.base.replacen("http://", "ws://", 1));
    let mut req = url.into_client_request().unwrap();
    if let Some(c) = cookie {
        req.headers_mut().insert("cookie", c.parse().unwrap());
    }
    req.headers_mut().insert("origin", origin.parse().unwrap());
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_call_hears_the_answer_and_the_agent_captures_it() {
    let ts = TestServer::start(Db::Sqlite).await;
    let c = ts.team().await;
    let agent = c
        .post(
            "/interview/create",
            json!({"title": "Browser test", "flow": question_flow()}),
        )
        .await
        .ok()
        .clone();
    let id = agent["id"].as_str().unwrap();
    let path = format!("/call/browser?interview_id={id}&team_id={}", c.team_id);
    let cookie = signed_in_cookie(&ts, &c.team_id).await;

    // Refused: another site's page, and no session.
    let evil = tokio_tungstenite::connect_async(request(&ts, &path, Some(&cookie), "https://evil.example")).await;
    assert!(evil.is_err(), "a cross-site socket was accepted");
    let anon = tokio_tungstenite::connect_async(request(&ts, &path, None, &ts.base)).await;
    assert!(anon.is_err(), "a socket without a session was accepted");

    let (ws, _) = tokio_tungstenite::connect_async(request(&ts, &path, Some(&cookie), &ts.base))
        .await
        .unwrap();
    let (mut tx, mut rx) = ws.split();
    let first = rx.next().await.unwrap().unwrap();
    let note: Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert_eq!(note["type"], "call");
    let call_id = note["call_id"].as_str().unwrap().to_string();

    // The browser sends audio all along (silence until it speaks), one frame every 20 ms; it
    // answers once the agent has asked and gone quiet.
    let answer = spoken_16k("Yes, I can make it.");
    let silence = vec![0u8; BROWSER_FRAME_BYTES];
    let sender = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut sent_answer = false;
        let mut quiet_since: Option<tokio::time::Instant> = None;
        let mut heard_agent = false;
        let mut agent_frames = 0usize;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let speak = heard_agent && !sent_answer
                        && quiet_since.is_some_and(|q| q.elapsed() > Duration::from_millis(700));
                    if speak {
                        for f in &answer {
                            tick.tick().await;
                            if tx.send(Message::Binary(f.clone().into())).await.is_err() { return agent_frames; }
                        }
                        sent_answer = true;
                    } else if tx.send(Message::Binary(silence.clone().into())).await.is_err() {
                        return agent_frames;
                    }
                }
                msg = rx.next() => match msg {
                    Some(Ok(Message::Binary(b))) => {
                        assert_eq!(b.len(), BROWSER_FRAME_BYTES, "the agent's audio comes in 20 ms frames at 16 kHz");
                        // The line carries frames all along: speech is what is loud enough.
                        let loud = b.chunks_exact(2).any(|s| i16::from_le_bytes([s[0], s[1]]).unsigned_abs() > 500);
                        if loud {
                            agent_frames += 1;
                            heard_agent = true;
                            quiet_since = Some(tokio::time::Instant::now());
                        }
                    }
                    Some(Ok(Message::Text(t))) if t.contains("ended") => return agent_frames,
                    Some(Ok(_)) => {}
                    None | Some(Err(_)) => return agent_frames,
                }
            }
        }
    });
    let agent_frames = tokio::time::timeout(Duration::from_secs(90), sender)
        .await
        .expect("the call ends")
        .unwrap();
    assert!(agent_frames > 50, "the agent spoke ({agent_frames} frames)");

    let call = wait_final(&c, &call_id, 30).await;
    assert_eq!(call["type"], "BROWSER_CALL", "{call}");
    assert_eq!(call["status"], "ENDED", "{call}");
    assert_eq!(call["outcome"], "confirmed", "{}", call["transcript"]);
    assert_eq!(call["variables"]["confirmed"], true);
    assert!(call["transcript"].as_str().unwrap().contains("Caller:"), "{call}");
    let walk: Vec<&str> = call["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["node"].as_str().unwrap())
        .collect();
    assert_eq!(walk, ["start", "ask", "yes"]);
    let listed = c.get("/call?direction=outbound").await;
    assert_eq!(
        listed.ok()["total_count"],
        1,
        "a browser call counts as outbound: {}",
        listed.body
    );
}
