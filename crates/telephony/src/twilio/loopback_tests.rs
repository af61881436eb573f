//! The parts together over real sockets on loopback: the fake Twilio on one side, and on the
//! other a small Parley stand-in (axum) that checks signatures, answers TwiML and runs a
//! [`MediaStream`] over a real WebSocket.

use super::fake::{FakeTwilio, Pickup, Script};
use super::frames::{MediaStream, StreamEvent};
use super::rest::{Account, CreateCall, Instructions, RestClient, RestError};
use super::signature;
use super::status::{Progress, StatusCallback, VoiceWebhook};
use super::twiml;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::time::timeout;

const BOUND: &str = "+15005550100";

enum Op {
    Audio([u8; 160]),
    Mark(&'static str),
    Clear,
}

struct Parley {
    base: String,
    token: String,
    callbacks: mpsc::UnboundedSender<Progress>,
    events: mpsc::UnboundedSender<StreamEvent>,
    ops: Mutex<Option<mpsc::UnboundedReceiver<Op>>>,
    stream_signature_ok: Mutex<Option<bool>>,
}

struct Harness {
    base: String,
    callbacks: mpsc::UnboundedReceiver<Progress>,
    events: mpsc::UnboundedReceiver<StreamEvent>,
    ops: mpsc::UnboundedSender<Op>,
    state: Arc<Parley>,
}

impl Harness {
    async fn start(token: &str) -> Harness {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (cb_tx, callbacks) = mpsc::unbounded_channel();
        let (ev_tx, events) = mpsc::unbounded_channel();
        let (ops, ops_rx) = mpsc::unbounded_channel();
        let state = Arc::new(Parley {
            base: base.clone(),
            token: token.into(),
            callbacks: cb_tx,
            events: ev_tx,
            ops: Mutex::new(Some(ops_rx)),
            stream_signature_ok: Mutex::new(None),
        });
        let app = Router::new()
            .route("/twilio/status", post(status))
            .route("/twilio/voice", post(voice))
            .route("/twilio/stream", any(stream))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Harness {
            base,
            callbacks,
            events,
            ops,
            state,
        }
    }

    fn ws_url(&self) -> String {
        format!("{}/twilio/stream", self.base.replace("http://", "ws://"))
    }

    async fn progress(&mut self) -> Progress {
        timeout(Duration::from_secs(5), self.callbacks.recv())
            .await
            .expect("a status callback")
            .unwrap()
    }

    /// The next event that is not audio (audio flows all the time).
    async fn event(&mut self) -> StreamEvent {
        loop {
            let e = timeout(Duration::from_secs(5), self.events.recv())
                .await
                .expect("a stream event")
                .unwrap();
            if !matches!(e, StreamEvent::Audio(_)) {
                return e;
            }
        }
    }
}

fn verify(p: &Parley, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> bool {
    let url = format!("{}{}", p.base, uri);
    let sig = headers.get(signature::HEADER).and_then(|v| v.to_str().ok());
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    signature::validate_request(&p.token, sig, &url, ct, body).is_ok()
}

async fn status(State(p): State<Arc<Parley>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if !verify(&p, &uri, &headers, &body) {
        return StatusCode::FORBIDDEN.into_response();
    }
    match StatusCallback::parse(&signature::parse_form(&body)) {
        Ok(cb) => {
            let _ = p.callbacks.send(cb.progress());
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

async fn voice(State(p): State<Arc<Parley>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if !verify(&p, &uri, &headers, &body) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Ok(hook) = VoiceWebhook::parse(&signature::parse_form(&body)) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let xml = if hook.to == BOUND {
        let ws = format!("{}/twilio/stream", p.base.replace("http://", "ws://"));
        twiml::connect_stream(&ws, &[("caller", &hook.from)])
    } else {
        twiml::reject()
    };
    ([(axum::http::header::CONTENT_TYPE, twiml::CONTENT_TYPE)], xml).into_response()
}

async fn stream(State(p): State<Arc<Parley>>, uri: Uri, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    // The handshake is signed over the ws:// URL (a wss:// one in production).
    let url = format!("{}{}", p.base.replace("http://", "ws://"), uri);
    let sig = headers
        .get(signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    *p.stream_signature_ok.lock().unwrap() = Some(signature::validate(&p.token, sig, &url, &[]));
    let ops = p.ops.lock().unwrap().take();
    ws.on_upgrade(move |socket| run_session(socket, p, ops))
}

/// The socket shell around the sans-I/O session.
async fn run_session(mut socket: WebSocket, p: Arc<Parley>, ops: Option<mpsc::UnboundedReceiver<Op>>) {
    let mut session = MediaStream::new();
    let (_keep, fallback) = mpsc::unbounded_channel();
    let mut ops = ops.unwrap_or(fallback);
    let mut ops_open = true;
    loop {
        tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => {
                    session.handle_text(t.as_str(), Instant::now()).expect("fake sends good frames");
                }
                Some(Ok(_)) => {}
                _ => break,
            },
            op = ops.recv(), if ops_open => match op {
                Some(Op::Audio(f)) => session.send_audio(&f).unwrap(),
                Some(Op::Mark(m)) => session.mark(m).unwrap(),
                Some(Op::Clear) => session.clear().unwrap(),
                None => ops_open = false,
            },
        }
        while let Some(t) = session.poll_transmit() {
            if socket.send(Message::Text(t.into())).await.is_err() {
                return;
            }
        }
        while let Some(e) = session.poll_event() {
            let _ = p.events.send(e);
        }
        if session.is_stopped() {
            break;
        }
    }
}

fn account(fake: &FakeTwilio) -> Account {
    let a = Account {
        account_sid: "AC00000000000000000000000000000001".into(),
        auth_token: "token-1".into(),
    };
    fake.add_account(&a.account_sid, &a.auth_token);
    a
}

fn create(h: &Harness, to: &str, params: &[(&str, &str)]) -> CreateCall {
    CreateCall {
        to: to.into(),
        from: BOUND.into(),
        instructions: Instructions::Twiml(twiml::connect_stream(&h.ws_url(), params)),
        status_callback: Some(format!("{}/twilio/status?leg=a", h.base)),
        timeout: Some(Duration::from_secs(30)),
        machine_detection: None,
    }
}

#[tokio::test]
async fn an_outbound_call_streams_both_ways_with_marks_clear_dtmf_and_hang_up() {
    let fake = FakeTwilio::start().await.unwrap();
    let acct = account(&fake);
    let mut h = Harness::start(&acct.auth_token).await;
    let mut speech = vec![1u8; 160];
    speech.extend([2u8; 160]);
    speech.extend([3u8; 100]);
    fake.script(
        "+15005550006",
        Script {
            pickup: Pickup::Answer,
            audio: speech,
            dtmf: vec![(2, '5')],
            ..Script::default()
        },
    );
    let client = RestClient::new(&fake.base_url()).unwrap();
    let call = client
        .create_call(&acct, &create(&h, "+15005550006", &[("call_id", "c-1")]))
        .await
        .unwrap();
    assert!(call.sid.starts_with("CA") && call.sid.len() == 34, "{}", call.sid);
    assert_eq!(call.status, "queued");

    assert_eq!(h.progress().await, Progress::Pending);
    assert_eq!(h.progress().await, Progress::Ringing);
    assert_eq!(h.progress().await, Progress::Answered);

    // start, then the caller's audio re-chunked into 160-byte frames, and the key press.
    let StreamEvent::Started {
        call_sid,
        custom_parameters,
        account_sid,
        ..
    } = h.event().await
    else {
        panic!("start first")
    };
    assert_eq!(
        (call_sid.as_str(), account_sid.as_str()),
        (call.sid.as_str(), acct.account_sid.as_str())
    );
    assert_eq!(custom_parameters.get("call_id").map(String::as_str), Some("c-1"));
    let mut audio = Vec::new();
    let mut dtmf = None;
    while audio.len() < 3 || dtmf.is_none() {
        match timeout(Duration::from_secs(5), h.events.recv()).await.unwrap().unwrap() {
            StreamEvent::Audio(f) => audio.push(f),
            StreamEvent::Dtmf(d) => dtmf = Some(d),
            e => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((audio[0], audio[1]), ([1; 160], [2; 160]));
    assert_eq!(
        (&audio[2][..100], &audio[2][100..]),
        (&[3u8; 100][..], &[0xFFu8; 60][..])
    );
    assert_eq!(dtmf, Some('5'));
    assert_eq!(*h.state.stream_signature_ok.lock().unwrap(), Some(true));

    // 100 ms of agent speech then a mark: the mark comes back once it has played.
    for _ in 0..5 {
        h.ops.send(Op::Audio([9; 160])).unwrap();
    }
    h.ops.send(Op::Mark("turn-1")).unwrap();
    assert_eq!(h.event().await, StreamEvent::Marked("turn-1".into()));
    let rec = fake.call(&call.sid).unwrap();
    assert_eq!(rec.played_audio, vec![9u8; 800]);

    // Two seconds queued, then barge-in: the clear drops it and echoes the pending mark at once.
    for _ in 0..100 {
        h.ops.send(Op::Audio([7; 160])).unwrap();
    }
    h.ops.send(Op::Mark("turn-2")).unwrap();
    h.ops.send(Op::Clear).unwrap();
    let t0 = Instant::now();
    assert_eq!(h.event().await, StreamEvent::Marked("turn-2".into()));
    assert!(t0.elapsed() < Duration::from_millis(1500), "{:?}", t0.elapsed());
    let rec = fake.wait_call(&call.sid, |c| c.clears == 1).await;
    assert!(rec.cleared_bytes > 0);
    assert_eq!(rec.received_audio.len(), 800 + 100 * 160);
    assert!(rec.played_audio.len() < 800 + 100 * 160);
    assert_eq!(rec.marks_received, ["turn-1", "turn-2"]);
    assert_eq!(rec.marks_echoed, ["turn-1", "turn-2"]);
    assert!(rec.bad_frames.is_empty(), "{:?}", rec.bad_frames);

    // Parley hangs up through REST: the stream stops and the call completes.
    client.hang_up(&acct, &call.sid).await.unwrap();
    assert_eq!(h.event().await, StreamEvent::Stopped);
    assert_eq!(h.progress().await, Progress::Ended);
    let rec = fake.wait_call(&call.sid, |c| c.ended).await;
    assert_eq!(rec.status, "completed");
    assert!(rec.stop_sent);
    let statuses: Vec<_> = rec
        .callbacks
        .iter()
        .map(|c| (c.call_status.as_str(), c.http_status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("initiated", 204),
            ("ringing", 204),
            ("in-progress", 204),
            ("completed", 204)
        ]
    );
    let events: Vec<_> = rec
        .create_params
        .iter()
        .filter(|(k, _)| k == "StatusCallbackEvent")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(events, ["initiated", "ringing", "answered", "completed"]);
}

#[tokio::test]
async fn busy_no_answer_and_failure_reach_parley_as_reasons() {
    let fake = FakeTwilio::start().await.unwrap();
    let acct = account(&fake);
    let mut h = Harness::start(&acct.auth_token).await;
    fake.script("+15005550001", Script::busy());
    fake.script("+15005550002", Script::no_answer());
    fake.script(
        "+15005550003",
        Script {
            pickup: Pickup::Fail { sip: 404 },
            ..Script::default()
        },
    );
    let client = RestClient::new(&fake.base_url()).unwrap();
    for (to, reason) in [
        ("+15005550001", "twilio: busy"),
        ("+15005550002", "twilio: no-answer"),
        ("+15005550003", "twilio: failed (sip 404)"),
    ] {
        let call = client.create_call(&acct, &create(&h, to, &[])).await.unwrap();
        assert_eq!(h.progress().await, Progress::Pending);
        assert_eq!(h.progress().await, Progress::Ringing);
        let last = h.progress().await;
        assert_eq!(last.failure_reason(), Some(reason), "{to}");
        let rec = fake.wait_call(&call.sid, |c| c.ended).await;
        assert_eq!(rec.stream_sid, None);
    }
}

#[tokio::test]
async fn a_ringing_call_can_be_canceled() {
    let fake = FakeTwilio::start_with(super::fake::FakeConfig {
        no_answer_delay: Duration::from_secs(10),
        ..Default::default()
    })
    .await
    .unwrap();
    let acct = account(&fake);
    let mut h = Harness::start(&acct.auth_token).await;
    fake.script("+15005550002", Script::no_answer());
    let client = RestClient::new(&fake.base_url()).unwrap();
    let call = client
        .create_call(&acct, &create(&h, "+15005550002", &[]))
        .await
        .unwrap();
    assert_eq!(h.progress().await, Progress::Pending);
    assert_eq!(h.progress().await, Progress::Ringing);
    client.cancel(&acct, &call.sid).await.unwrap();
    assert_eq!(h.progress().await.failure_reason(), Some("twilio: canceled"));
}

#[tokio::test]
async fn rest_refuses_bad_credentials_and_missing_numbers_like_twilio() {
    let fake = FakeTwilio::start().await.unwrap();
    let acct = account(&fake);
    let h = Harness::start(&acct.auth_token).await;
    let client = RestClient::new(&fake.base_url()).unwrap();
    let wrong = Account {
        auth_token: "nope".into(),
        ..acct.clone()
    };
    let err = client
        .create_call(&wrong, &create(&h, "+15005550006", &[]))
        .await
        .unwrap_err();
    assert!(err.is_auth(), "{err:?}");
    assert!(matches!(
        err,
        RestError::Api {
            status: 401,
            code: Some(20003),
            ..
        }
    ));
    let err = client.create_call(&acct, &create(&h, "", &[])).await.unwrap_err();
    assert!(
        matches!(
            err,
            RestError::Api {
                status: 400,
                code: Some(21201),
                ..
            }
        ),
        "{err:?}"
    );
    let err = client
        .hang_up(&acct, "CA00000000000000000000000000000000")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RestError::Api {
                status: 404,
                code: Some(20404),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(fake.calls().len(), 0);
    // Nothing listens on port 9 of loopback.
    let down = RestClient::new("http://127.0.0.1:9").unwrap();
    let err = down
        .create_call(&acct, &create(&h, "+15005550006", &[]))
        .await
        .unwrap_err();
    assert!(matches!(err, RestError::Transport(_)), "{err:?}");
}

#[tokio::test]
async fn inbound_calls_to_bound_numbers_stream_and_others_are_rejected() {
    let fake = FakeTwilio::start().await.unwrap();
    let acct = account(&fake);
    let mut h = Harness::start(&acct.auth_token).await;
    let hook = format!("{}/twilio/voice", h.base);

    let sid = fake.inbound_call(
        &acct.account_sid,
        &hook,
        "+12125550123",
        BOUND,
        Script {
            audio: vec![4; 160],
            hang_up_after: Some(10),
            ..Script::default()
        },
    );
    let StreamEvent::Started {
        call_sid,
        custom_parameters,
        ..
    } = h.event().await
    else {
        panic!("start first")
    };
    assert_eq!(call_sid, sid);
    assert_eq!(
        custom_parameters.get("caller").map(String::as_str),
        Some("+12125550123")
    );
    // The caller hangs up after 10 frames (200 ms).
    assert_eq!(h.event().await, StreamEvent::Stopped);
    let rec = fake.wait_call(&sid, |c| c.ended).await;
    assert_eq!(rec.status, "completed");
    assert_eq!(
        (rec.webhook_status, rec.rejected, rec.stop_sent),
        (Some(200), false, true)
    );

    let sid = fake.inbound_call(
        &acct.account_sid,
        &hook,
        "+12125550123",
        "+15005550199",
        Script::default(),
    );
    let rec = fake.wait_call(&sid, |c| c.ended).await;
    assert!(rec.rejected && rec.stream_sid.is_none(), "{rec:?}");

    // A request Twilio did not sign is refused with 403.
    fake.forge_signatures(true);
    let sid = fake.inbound_call(&acct.account_sid, &hook, "+12125550123", BOUND, Script::default());
    let rec = fake.wait_call(&sid, |c| c.ended).await;
    assert_eq!((rec.webhook_status, rec.status.as_str()), (Some(403), "failed"));
}

#[tokio::test]
async fn forged_status_callbacks_are_refused() {
    let fake = FakeTwilio::start().await.unwrap();
    let acct = account(&fake);
    let h = Harness::start(&acct.auth_token).await;
    fake.forge_signatures(true);
    fake.script("+15005550001", Script::busy());
    let client = RestClient::new(&fake.base_url()).unwrap();
    let call = client
        .create_call(&acct, &create(&h, "+15005550001", &[]))
        .await
        .unwrap();
    let rec = fake.wait_call(&call.sid, |c| c.ended).await;
    assert!(
        rec.callbacks.iter().all(|c| c.http_status == 403),
        "{:?}",
        rec.callbacks
    );
}
