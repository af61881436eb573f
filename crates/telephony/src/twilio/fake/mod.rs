//! A fake Twilio on loopback, for tests: the real REST, webhook and media-stream protocols.
//!
//! [`FakeTwilio::start`] serves the `Calls` resource (create, update, fetch) with HTTP basic
//! auth and Twilio's error JSON. Each created call is then played like Twilio plays it: signed
//! status callbacks (`initiated`, `ringing`, then `in-progress` or `busy` / `no-answer` /
//! `failed`, then `completed`), the TwiML followed (inline `Twiml`, or fetched from `Url` with a
//! signed POST), and for `<Connect><Stream>` a WebSocket opened to the stream URL with a signed
//! handshake: `connected`, `start` (custom parameters included), caller `media` every 20 ms,
//! `dtmf`, marks echoed as the audio before them is played out, `clear` honoured, `stop` on
//! hang-up. [`FakeTwilio::inbound_call`] plays an inbound call: a signed voice webhook, then the
//! returned TwiML (`<Reject/>` is recorded). Everything received is kept in a [`CallRecord`].
//!
//! Parts: `rest` (the `Calls` resource), `calls` (playing a call: callbacks, TwiML, ring and
//! answer), `media_stream` (the WebSocket as Twilio plays it); this module holds the shared
//! state, the records and [`FakeTwilio`] itself.
//!
//! Decision: unlike the protocol code, the fake runs on the real clock (20 ms ticks, short
//! ring delays): it stands for a remote party, and what is under test is the code on the other
//! side of a real socket. Ring and no-answer delays are a few tens of milliseconds, not seconds.

mod calls;
mod media_stream;
mod rest;

use calls::run_inbound;
use rest::{create_call, fetch_call, update_call};

use super::signature;
use super::twiml::{self, Instruction};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// How the called party's phone reacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pickup {
    /// Answers after ringing.
    Answer,
    /// Busy (`busy`, SIP 486).
    Busy,
    /// Rings until the fake's no-answer delay (`no-answer`).
    NoAnswer,
    /// The carrier fails the call (`failed`, with this `SipResponseCode`).
    Fail { sip: u16 },
}

/// What the far party does on a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub pickup: Pickup,
    /// Mu-law audio the far party speaks once the stream starts, sent 160 bytes per 20 ms
    /// (silence after it, as a real line carries).
    pub audio: Vec<u8>,
    /// Keys pressed after this many media frames have been sent.
    pub dtmf: Vec<(usize, char)>,
    /// Hangs up after this many media frames (`None`: stays until Parley hangs up).
    pub hang_up_after: Option<usize>,
    /// Mu-law utterances said one after another, each once the agent has spoken and then been
    /// quiet for `reply_after_quiet_ms` (a caller taking turns; see [`super::party`]).
    pub replies: Vec<Vec<u8>>,
    pub reply_after_quiet_ms: u64,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            pickup: Pickup::Answer,
            audio: Vec::new(),
            dtmf: Vec::new(),
            hang_up_after: None,
            replies: Vec::new(),
            reply_after_quiet_ms: 700,
        }
    }
}

impl Script {
    pub fn answer() -> Self {
        Self::default()
    }
    pub fn busy() -> Self {
        Script {
            pickup: Pickup::Busy,
            ..Self::default()
        }
    }
    pub fn no_answer() -> Self {
        Script {
            pickup: Pickup::NoAnswer,
            ..Self::default()
        }
    }
}

/// One status callback the fake sent, and Parley's HTTP answer (0: not reachable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub call_status: String,
    pub http_status: u16,
}

/// Everything the fake saw of one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallRecord {
    pub sid: String,
    pub account_sid: String,
    pub from: String,
    pub to: String,
    /// `outbound-api` or `inbound`.
    pub direction: String,
    /// Twilio's `CallStatus` now (or `rejected`, the fake's own word for a `<Reject/>`ed call).
    pub status: String,
    /// The form of the REST create request, as received.
    pub create_params: Vec<(String, String)>,
    pub callbacks: Vec<Callback>,
    /// Parley's answer to the voice webhook (inbound) or the TwiML fetch (`Url`).
    pub webhook_status: Option<u16>,
    pub rejected: bool,
    pub stream_url: Option<String>,
    pub stream_sid: Option<String>,
    pub custom_parameters: BTreeMap<String, String>,
    /// Every byte of audio Parley sent on the stream.
    pub received_audio: Vec<u8>,
    /// The part of it that was played out (not dropped by a `clear`).
    pub played_audio: Vec<u8>,
    pub marks_received: Vec<String>,
    pub marks_echoed: Vec<String>,
    pub clears: usize,
    /// Bytes of queued audio a `clear` dropped.
    pub cleared_bytes: usize,
    /// Text frames from Parley the fake could not parse.
    pub bad_frames: Vec<String>,
    /// The stream ended with a `stop` sent by the fake (a hang-up on Twilio's side).
    pub stop_sent: bool,
    /// Parley closed the WebSocket.
    pub closed_by_parley: bool,
    /// TwiML Parley redirected the call to (REST update with `Twiml`, e.g. a transfer's
    /// `<Dial>`). On an in-progress call the stream ends with `stop`, as on Twilio; the fake
    /// does not play the new TwiML, it completes the call.
    pub twiml_updates: Vec<String>,
    /// The fake is done with the call: final status set, every callback sent.
    pub ended: bool,
    /// Milliseconds from the stream's start at which each caller utterance's last frame was
    /// sent, and at which the agent's speech began as played out (turn latency at the phone).
    pub caller_ends_ms: Vec<u64>,
    pub agent_onsets_ms: Vec<u64>,
}

/// Timing of the fake.
#[derive(Debug, Clone, Copy)]
pub struct FakeConfig {
    /// From `initiated` to `ringing`, and from `ringing` to the answer (or busy).
    pub ring_delay: Duration,
    /// How long a `NoAnswer` party rings.
    pub no_answer_delay: Duration,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            ring_delay: Duration::from_millis(30),
            no_answer_delay: Duration::from_millis(100),
        }
    }
}

#[derive(Debug)]
enum Control {
    /// Parley asked (REST) or the far party hangs up.
    HangUp,
    Dtmf(char),
    Audio(Vec<u8>),
    /// The call leaves its `<Connect><Stream>` for new TwiML.
    Redirect,
}

#[derive(Default)]
struct Inner {
    accounts: HashMap<String, String>,
    scripts: HashMap<String, Script>,
    calls: Vec<CallRecord>,
    controls: HashMap<String, mpsc::UnboundedSender<Control>>,
    tasks: Vec<JoinHandle<()>>,
    forge: bool,
}

struct Shared {
    inner: Mutex<Inner>,
    version: watch::Sender<u64>,
    http: reqwest::Client,
    config: FakeConfig,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes a call's record and wakes the waiters.
    fn update(&self, sid: &str, f: impl FnOnce(&mut CallRecord)) {
        {
            let mut inner = self.lock();
            if let Some(c) = inner.calls.iter_mut().find(|c| c.sid == sid) {
                f(c);
            }
        }
        self.version.send_modify(|v| *v += 1);
    }

    fn record(&self, sid: &str) -> CallRecord {
        self.lock()
            .calls
            .iter()
            .find(|c| c.sid == sid)
            .cloned()
            .unwrap_or_default()
    }

    fn token(&self, account_sid: &str) -> String {
        let inner = self.lock();
        let token = inner.accounts.get(account_sid).cloned().unwrap_or_default();
        if inner.forge {
            format!("{token}-forged")
        } else {
            token
        }
    }

    /// POSTs a form signed as Twilio signs it; returns the status and body (status 0: no answer).
    async fn signed_post(&self, account_sid: &str, url: &str, form: &[(String, String)]) -> (u16, String) {
        let sig = signature::sign(&self.token(account_sid), url, form);
        let sent = self
            .http
            .post(url)
            .header(signature::HEADER, sig)
            .form(form)
            .send()
            .await;
        match sent {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_default())
            }
            Err(_) => (0, String::new()),
        }
    }
}

/// The fake Twilio. Dropping it stops the server and every call it is playing.
pub struct FakeTwilio {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        self.server.abort();
        for t in self.shared.lock().tasks.drain(..) {
            t.abort();
        }
    }
}

/// A new `XX` + 32 hex digits sid, as Twilio's.
fn new_sid(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

impl FakeTwilio {
    /// Starts a fake on `127.0.0.1` with default timing.
    pub async fn start() -> std::io::Result<FakeTwilio> {
        Self::start_with(FakeConfig::default()).await
    }

    pub async fn start_with(config: FakeConfig) -> std::io::Result<FakeTwilio> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::default()),
            version: watch::channel(0).0,
            http: reqwest::Client::new(),
            config,
        });
        let app = Router::new()
            .route("/2010-04-01/Accounts/{account}/Calls.json", post(create_call))
            .route(
                "/2010-04-01/Accounts/{account}/Calls/{call}",
                post(update_call).get(fetch_call),
            )
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeTwilio { addr, shared, server })
    }

    /// The REST base URL (what `PARLEY_TWILIO_API_BASE` is set to).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds an account: REST requests must authenticate as it, and its token signs webhooks.
    pub fn add_account(&self, account_sid: &str, auth_token: &str) {
        self.shared
            .lock()
            .accounts
            .insert(account_sid.into(), auth_token.into());
    }

    /// Adds an account with fresh credentials and returns them.
    pub fn new_account(&self) -> super::rest::Account {
        let a = super::rest::Account {
            account_sid: new_sid("AC"),
            auth_token: uuid::Uuid::new_v4().simple().to_string(),
        };
        self.add_account(&a.account_sid, &a.auth_token);
        a
    }

    /// What the party at `number` does when called (default: [`Script::answer`]).
    pub fn script(&self, number: &str, script: Script) {
        self.shared.lock().scripts.insert(number.into(), script);
    }

    /// Signs webhooks with a wrong key from now on (to test that Parley answers 403).
    pub fn forge_signatures(&self, forge: bool) {
        self.shared.lock().forge = forge;
    }

    pub fn calls(&self) -> Vec<CallRecord> {
        self.shared.lock().calls.clone()
    }

    /// Drops the records of every call that has ended (a long benchmark's memory).
    pub fn forget_calls(&self) {
        self.shared.lock().calls.retain(|c| !c.ended);
    }

    pub fn call(&self, sid: &str) -> Option<CallRecord> {
        self.shared.lock().calls.iter().find(|c| c.sid == sid).cloned()
    }

    /// Waits (up to 10 s) until the call's record satisfies `pred`, and returns it.
    ///
    /// Panics on timeout, with the record: this is a test helper.
    pub async fn wait_call(&self, sid: &str, pred: impl Fn(&CallRecord) -> bool) -> CallRecord {
        let mut rx = self.shared.version.subscribe();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let rec = self.call(sid);
            if let Some(r) = rec.as_ref().filter(|r| pred(r)) {
                return r.clone();
            }
            if tokio::time::timeout_at(deadline, rx.changed()).await.is_err() {
                panic!("fake twilio: call {sid} did not reach the awaited state: {rec:#?}");
            }
        }
    }

    /// The far party hangs up (the stream gets `stop`, the call `completed`).
    pub fn hang_up(&self, sid: &str) {
        self.control(sid, Control::HangUp);
    }

    /// The far party presses a key.
    pub fn press(&self, sid: &str, digit: char) {
        self.control(sid, Control::Dtmf(digit));
    }

    /// The far party says more (mu-law bytes, queued after what it is saying).
    pub fn say(&self, sid: &str, audio: &[u8]) {
        self.control(sid, Control::Audio(audio.to_vec()));
    }

    fn control(&self, sid: &str, c: Control) {
        if let Some(tx) = self.shared.lock().controls.get(sid) {
            let _ = tx.send(c);
        }
    }

    /// Plays an inbound call from `from` to the account's number `to`: a signed voice webhook
    /// POSTed to `webhook_url`, then the TwiML it returns. Returns the call's sid at once.
    pub fn inbound_call(&self, account_sid: &str, webhook_url: &str, from: &str, to: &str, script: Script) -> String {
        let sid = new_sid("CA");
        let rec = CallRecord {
            sid: sid.clone(),
            account_sid: account_sid.into(),
            from: from.into(),
            to: to.into(),
            direction: "inbound".into(),
            status: "ringing".into(),
            ..CallRecord::default()
        };
        let (tx, rx) = mpsc::unbounded_channel();
        {
            let mut inner = self.shared.lock();
            inner.calls.push(rec);
            inner.controls.insert(sid.clone(), tx);
        }
        let task = tokio::spawn(run_inbound(
            self.shared.clone(),
            sid.clone(),
            webhook_url.to_string(),
            script,
            rx,
        ));
        self.shared.lock().tasks.push(task);
        sid
    }
}
