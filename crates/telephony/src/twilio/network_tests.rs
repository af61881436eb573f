//! [`TwilioNetwork`] against the fake Twilio, over real sockets on loopback: its routes are
//! served by a real axum server, the fake calls them as Twilio would.

use super::fake::{FakeConfig, FakeTwilio, Script};
use super::network::{TwilioConfig, TwilioNetwork};
use super::rest::Account;
use super::{signature, twiml};
use crate::line::{Endpoint, LineEvent};
use crate::network::{
    BoxFuture, DialRequest, IncomingCall, NetworkError, NetworkKind, PhoneNetwork, Refusal, Route, RunCall,
    Switchboard, TwilioRoute,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::timeout;

const CALLEE: &str = "+15005550006";
const OURS: &str = "+15005550100";

struct Rig {
    fake: FakeTwilio,
    net: Arc<TwilioNetwork>,
    base: String,
    acct: Account,
}

async fn rig_with(config: FakeConfig, board: Option<Arc<dyn Switchboard>>, acct: Option<Account>) -> Rig {
    let fake = FakeTwilio::start_with(config).await.unwrap();
    let acct = match acct {
        Some(a) => {
            fake.add_account(&a.account_sid, &a.auth_token);
            a
        }
        None => fake.new_account(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut cfg = TwilioConfig::new(format!("{base}/"));
    cfg.api_base = fake.base_url();
    cfg.stream_idle_timeout = Duration::from_secs(5);
    let net = Arc::new(TwilioNetwork::new(cfg).unwrap());
    if let Some(b) = board {
        net.attach(b);
    }
    let app = net.routes().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Rig { fake, net, base, acct }
}

async fn rig() -> Rig {
    rig_with(FakeConfig::default(), None, None).await
}

impl Rig {
    fn req(&self, to: &str, ring_timeout: Duration) -> DialRequest {
        DialRequest {
            call_id: uuid::Uuid::new_v4(),
            team_id: "t".into(),
            from: OURS.into(),
            to: to.into(),
            ring_timeout,
            route: Route::Twilio(TwilioRoute {
                account_sid: self.acct.account_sid.clone(),
                auth_token: self.acct.auth_token.clone(),
            }),
        }
    }

    fn only_sid(&self) -> String {
        let calls = self.fake.calls();
        assert_eq!(calls.len(), 1, "{calls:#?}");
        calls[0].sid.clone()
    }
}

/// The next event that is not audio (audio flows all the time once answered).
async fn event(ep: &mut Endpoint) -> Option<LineEvent> {
    loop {
        match timeout(Duration::from_secs(10), ep.events.recv())
            .await
            .expect("an event")
        {
            Some(LineEvent::Audio(_)) => continue,
            e => return e,
        }
    }
}

/// Events until the first that is not `Ringing`.
async fn progress(ep: &mut Endpoint) -> Vec<LineEvent> {
    let mut out = vec![];
    while let Some(e) = event(ep).await {
        let last = e != LineEvent::Ringing;
        out.push(e);
        if last {
            break;
        }
    }
    out
}

async fn drained(ep: &mut Endpoint) {
    while let Some(e) = timeout(Duration::from_secs(10), ep.events.recv())
        .await
        .expect("the end")
    {
        assert!(matches!(e, LineEvent::Audio(_)), "{e:?}");
    }
}

async fn ws_status(url: &str, sig: Option<&str>) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().unwrap();
    if let Some(s) = sig {
        request.headers_mut().insert(signature::HEADER, s.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn an_outbound_call_rings_answers_and_carries_audio_dtmf_marks_clear_and_a_rest_hang_up() {
    let r = rig().await;
    let mut speech = vec![1u8; 160];
    speech.extend([2u8; 160]);
    r.fake.script(
        CALLEE,
        Script {
            audio: speech,
            dtmf: vec![(3, '7')],
            ..Script::answer()
        },
    );
    let mut ep = r.net.dial(r.req(CALLEE, Duration::from_secs(30))).await.unwrap();
    assert_eq!(progress(&mut ep).await, [LineEvent::Ringing, LineEvent::Answered]);
    let sid = r.only_sid();

    // What was asked of Twilio: our TwiML with an unguessable token, callbacks, the timeout.
    let rec = r.fake.call(&sid).unwrap();
    let p = |k: &str| {
        rec.create_params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let token = rec.custom_parameters.get("parley_call").cloned().unwrap();
    assert_eq!(token.len(), 64);
    assert_eq!(p("StatusCallback"), format!("{}/twilio/status/{token}", r.base));
    assert_eq!(p("Timeout"), "30");
    assert_eq!((p("To").as_str(), p("From").as_str()), (CALLEE, OURS));
    assert_eq!(
        rec.stream_url.as_deref(),
        Some(format!("{}/twilio/stream", r.base.replace("http://", "ws://")).as_str())
    );

    // The callee's audio in whole frames, then the key press.
    let mut audio = vec![];
    let dtmf = loop {
        match timeout(Duration::from_secs(5), ep.events.recv())
            .await
            .unwrap()
            .unwrap()
        {
            LineEvent::Audio(f) => audio.push(f),
            LineEvent::Dtmf(d) => break d,
            e => panic!("unexpected {e:?}"),
        }
    };
    assert_eq!(dtmf, '7');
    assert_eq!((audio[0], audio[1]), ([1; 160], [2; 160]));
    assert!(audio[2..].iter().all(|f| *f == [0xFF; 160]));

    // A live call's stream route still refuses a handshake that is not signed.
    let ws = format!("{}/twilio/stream", r.base.replace("http://", "ws://"));
    assert_eq!(ws_status(&ws, None).await, 403);
    assert_eq!(ws_status(&ws, Some("AAAA")).await, 403);

    // Our audio, then a mark: echoed once it has played.
    for _ in 0..5 {
        ep.sender.audio([9; 160]).await;
    }
    ep.sender.mark("turn-1").await;
    assert_eq!(event(&mut ep).await, Some(LineEvent::Marked("turn-1".into())));
    assert_eq!(r.fake.call(&sid).unwrap().played_audio, vec![9u8; 800]);

    // Two seconds queued, then barge-in: Twilio's queue is cleared, the pending mark echoed.
    for _ in 0..100 {
        ep.sender.audio([7; 160]).await;
    }
    ep.sender.mark("turn-2").await;
    ep.sender.clear().await;
    assert_eq!(event(&mut ep).await, Some(LineEvent::Marked("turn-2".into())));
    let rec = r.fake.wait_call(&sid, |c| c.clears == 1).await;
    assert!(rec.cleared_bytes > 0);
    assert_eq!(rec.received_audio.len(), 800 + 100 * 160);
    // DTMF cannot be sent on a media stream: ignored, the call goes on.
    ep.sender.dtmf('1').await;

    // Our hang-up: REST `completed`, the socket closed, the line ends.
    ep.sender.hang_up().await;
    drained(&mut ep).await;
    let rec = r.fake.wait_call(&sid, |c| c.ended).await;
    assert_eq!(rec.status, "completed");
    assert!(rec.stop_sent || rec.closed_by_parley);
    assert!(rec.bad_frames.is_empty(), "{:?}", rec.bad_frames);
    let statuses: Vec<(&str, u16)> = rec
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
}

#[tokio::test]
async fn busy_and_no_answer_carry_twilios_causes() {
    let r = rig().await;
    r.fake.script("+15005550001", Script::busy());
    r.fake.script("+15005550002", Script::no_answer());
    let mut ep = r
        .net
        .dial(r.req("+15005550001", Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(
        progress(&mut ep).await,
        [LineEvent::Ringing, LineEvent::Busy(Some("twilio: busy".into()))]
    );
    assert_eq!(ep.events.recv().await, None);
    let mut ep = r
        .net
        .dial(r.req("+15005550002", Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(
        progress(&mut ep).await,
        [
            LineEvent::Ringing,
            LineEvent::NoAnswer(Some("twilio: no-answer".into()))
        ]
    );
    assert_eq!(ep.events.recv().await, None);
}

#[tokio::test]
async fn bad_credentials_are_a_carrier_error_that_names_them() {
    let r = rig().await;
    let mut req = r.req(CALLEE, Duration::from_secs(30));
    req.route = Route::Twilio(TwilioRoute {
        account_sid: r.acct.account_sid.clone(),
        auth_token: "wrong".into(),
    });
    let Err(NetworkError::Carrier(msg)) = r.net.dial(req).await else {
        panic!("a carrier error")
    };
    assert_eq!(
        msg,
        format!(
            "twilio: bad credentials for account {}: Authenticate (code 20003)",
            r.acct.account_sid
        )
    );
    assert!(r.fake.calls().is_empty());
    assert_eq!(r.net.pending_calls(), 0);
}

#[tokio::test]
async fn a_forged_status_callback_is_refused_and_changes_nothing() {
    let config = FakeConfig {
        ring_delay: Duration::from_millis(300),
        ..FakeConfig::default()
    };
    let r = rig_with(config, None, None).await;
    let mut ep = r.net.dial(r.req(CALLEE, Duration::from_secs(30))).await.unwrap();
    assert_eq!(event(&mut ep).await, Some(LineEvent::Ringing));
    let rec = r.fake.call(&r.only_sid()).unwrap();
    let url = rec
        .create_params
        .iter()
        .find(|(k, _)| k == "StatusCallback")
        .map(|(_, v)| v.clone())
        .unwrap();
    let form: Vec<(String, String)> = [
        ("AccountSid", rec.account_sid.as_str()),
        ("CallSid", rec.sid.as_str()),
        ("CallStatus", "busy"),
        ("SequenceNumber", "9"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let http = reqwest::Client::new();
    let forged = signature::sign("not-the-token", &url, &form);
    for sig in [Some(forged.as_str()), None] {
        let mut post = http.post(&url).form(&form);
        if let Some(s) = sig {
            post = post.header(signature::HEADER, s);
        }
        assert_eq!(post.send().await.unwrap().status().as_u16(), 403);
    }
    // An unknown token is not ours at all.
    let other = format!("{}/twilio/status/{}", r.base, "0".repeat(64));
    let resp = http.post(&other).form(&form).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    // The call goes on as Twilio reports it.
    assert_eq!(event(&mut ep).await, Some(LineEvent::Answered));
    ep.sender.hang_up().await;
    drained(&mut ep).await;
}

#[tokio::test]
async fn the_ring_timeout_holds_when_no_callback_gets_through() {
    let r = rig().await;
    // Every callback and the stream handshake are signed with a wrong key: all refused.
    r.fake.forge_signatures(true);
    r.fake.script(CALLEE, Script::no_answer());
    let t0 = std::time::Instant::now();
    let mut ep = r.net.dial(r.req(CALLEE, Duration::from_secs(1))).await.unwrap();
    assert_eq!(
        progress(&mut ep).await,
        [LineEvent::NoAnswer(Some("twilio: no answer within 1 s".into()))]
    );
    assert!(t0.elapsed() >= Duration::from_secs(1), "{:?}", t0.elapsed());
    let rec = r.fake.wait_call(&r.only_sid(), |c| c.ended).await;
    assert!(
        rec.callbacks.iter().all(|c| c.http_status == 403),
        "{:?}",
        rec.callbacks
    );
}

#[tokio::test]
async fn a_transfer_redirects_the_call_to_a_dial_and_ends_our_leg() {
    let r = rig().await;
    let mut ep = r.net.dial(r.req(CALLEE, Duration::from_secs(30))).await.unwrap();
    assert_eq!(progress(&mut ep).await, [LineEvent::Ringing, LineEvent::Answered]);
    ep.sender.transfer("+12125550123").await;
    assert_eq!(
        event(&mut ep).await,
        Some(LineEvent::Transferred("+12125550123".into()))
    );
    drained(&mut ep).await;
    let rec = r.fake.wait_call(&r.only_sid(), |c| c.ended).await;
    assert_eq!(rec.twiml_updates, [twiml::dial("+12125550123")]);
}

/// Takes calls to [`OURS`] on one account: its run speaks and listens, and reports.
struct Board {
    account: Account,
    offered: Mutex<Vec<IncomingCall>>,
    heard: Mutex<Option<oneshot::Sender<bool>>>,
}

impl Switchboard for Board {
    fn offer(&self, call: IncomingCall) -> BoxFuture<'_, Result<RunCall, Refusal>> {
        let ours = call.to == OURS;
        self.offered.lock().unwrap().push(call);
        let report = self.heard.lock().unwrap().take();
        Box::pin(async move {
            if !ours {
                return Err(Refusal::UnknownNumber);
            }
            let run: RunCall = Box::new(move |mut ep: Endpoint| {
                Box::pin(async move {
                    for _ in 0..10 {
                        ep.sender.audio([5; 160]).await;
                    }
                    let mut heard = false;
                    while let Ok(Some(e)) = timeout(Duration::from_secs(5), ep.events.recv()).await {
                        if e == LineEvent::Audio([3; 160]) {
                            heard = true;
                            break;
                        }
                    }
                    ep.sender.mark("said").await;
                    while let Ok(Some(e)) = timeout(Duration::from_secs(5), ep.events.recv()).await {
                        if e == LineEvent::Marked("said".into()) {
                            break;
                        }
                    }
                    if let Some(tx) = report {
                        let _ = tx.send(heard);
                    }
                    ep.sender.hang_up().await;
                })
            });
            Ok(run)
        })
    }

    fn carrier_secret(&self, network: NetworkKind, account: &str, number: &str) -> BoxFuture<'_, Option<String>> {
        let known = network == NetworkKind::Twilio && account == self.account.account_sid && number == OURS;
        let secret = self.account.auth_token.clone();
        Box::pin(async move { known.then_some(secret) })
    }
}

#[tokio::test]
async fn inbound_calls_stream_to_a_bound_number_and_others_are_rejected_or_refused() {
    let account = Account {
        account_sid: format!("AC{}", uuid::Uuid::new_v4().simple()),
        auth_token: "inbound-token".into(),
    };
    let (tx, heard) = oneshot::channel();
    let board = Arc::new(Board {
        account: account.clone(),
        offered: Mutex::new(vec![]),
        heard: Mutex::new(Some(tx)),
    });
    let r = rig_with(FakeConfig::default(), Some(board.clone()), Some(account)).await;
    let hook = format!("{}/twilio/voice", r.base);
    let caller = Script {
        audio: vec![3u8; 480],
        ..Script::answer()
    };

    // A bound number: offered, answered with a stream; both sides hear each other.
    let sid = r
        .fake
        .inbound_call(&r.acct.account_sid, &hook, "+12125550100", OURS, caller.clone());
    assert!(timeout(Duration::from_secs(10), heard).await.unwrap().unwrap());
    let rec = r.fake.wait_call(&sid, |c| c.ended).await;
    assert_eq!(rec.webhook_status, Some(200));
    assert!(!rec.rejected);
    assert_eq!(&rec.received_audio[..1600], &[5u8; 1600][..]);
    assert_eq!(rec.marks_echoed, ["said"]);
    assert_eq!(rec.status, "completed");
    {
        let offered = board.offered.lock().unwrap();
        assert_eq!(
            offered[..],
            [IncomingCall {
                network: NetworkKind::Twilio,
                from: "+12125550100".into(),
                to: OURS.into(),
                source: None,
                carrier_call_id: sid.clone(),
                account: Some(r.acct.account_sid.clone()),
            }]
        );
    }

    // A number that is not ours: `<Reject/>`, and no offer.
    let sid = r.fake.inbound_call(
        &r.acct.account_sid,
        &hook,
        "+12125550100",
        "+15005550199",
        caller.clone(),
    );
    let rec = r.fake.wait_call(&sid, |c| c.ended).await;
    assert_eq!((rec.webhook_status, rec.rejected), (Some(200), true));

    // A forged webhook for our number: 403, no offer.
    r.fake.forge_signatures(true);
    let sid = r
        .fake
        .inbound_call(&r.acct.account_sid, &hook, "+12125550100", OURS, caller);
    let rec = r.fake.wait_call(&sid, |c| c.ended).await;
    assert_eq!((rec.webhook_status, rec.rejected), (Some(403), false));
    assert_eq!(board.offered.lock().unwrap().len(), 1);
    // Nothing left waiting for a stream.
    assert_eq!(r.net.pending_calls(), 0);
}

#[tokio::test]
async fn the_far_end_hanging_up_ends_the_line_and_bad_urls_are_refused() {
    let r = rig().await;
    let mut ep = r.net.dial(r.req(CALLEE, Duration::from_secs(30))).await.unwrap();
    assert_eq!(progress(&mut ep).await, [LineEvent::Ringing, LineEvent::Answered]);
    let sid = r.only_sid();
    r.fake.hang_up(&sid);
    assert_eq!(event(&mut ep).await, Some(LineEvent::HungUp));
    assert_eq!(event(&mut ep).await, None);
    let rec = r.fake.wait_call(&sid, |c| c.ended).await;
    assert!(rec.stop_sent);

    assert!(TwilioNetwork::new(TwilioConfig::new("ftp://x")).is_err());
    let mut c = TwilioConfig::new("https://parley.example");
    c.api_base = "not a url".into();
    assert!(TwilioNetwork::new(c).is_err());
    assert_eq!(TwilioConfig::new("https://p").api_base, "https://api.twilio.com");
}
