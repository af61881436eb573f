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
//! Decision: unlike the protocol code, the fake runs on the real clock (20 ms ticks, short
//! ring delays): it stands for a remote party, and what is under test is the code on the other
//! side of a real socket. Ring and no-answer delays are a few tens of milliseconds, not seconds.

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

// ---------------------------------------------------------------- REST

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        Json(json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status.as_u16(),
        })),
    )
        .into_response()
}

fn unauthenticated() -> Response {
    twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate")
}

/// Whether the request's HTTP basic auth is the account in the path.
fn authenticated(shared: &Shared, account: &str, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let Some(decoded) = B64.decode(value.trim()).ok().and_then(|d| String::from_utf8(d).ok()) else {
        return false;
    };
    let Some((user, pass)) = decoded.split_once(':') else {
        return false;
    };
    let inner = shared.lock();
    matches!(inner.accounts.get(user), Some(token) if token == pass && user == account)
}

fn call_json(c: &CallRecord) -> serde_json::Value {
    json!({
        "sid": c.sid,
        "account_sid": c.account_sid,
        "to": c.to,
        "from": c.from,
        "status": c.status,
        "direction": c.direction,
        "api_version": "2010-04-01",
        "uri": format!("/2010-04-01/Accounts/{}/Calls/{}.json", c.account_sid, c.sid),
    })
}

fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

async fn create_call(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authenticated(&shared, &account, &headers) {
        return unauthenticated();
    }
    let form = signature::parse_form(&body);
    let Some(to) = param(&form, "To") else {
        return twilio_error(StatusCode::BAD_REQUEST, 21201, "No 'To' number is specified");
    };
    let Some(from) = param(&form, "From") else {
        return twilio_error(StatusCode::BAD_REQUEST, 21213, "No 'From' number is specified");
    };
    if param(&form, "Twiml").is_none() && param(&form, "Url").is_none() {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21205,
            "Either Url, Twiml or ApplicationSid is required",
        );
    }
    if let Some(t) = param(&form, "Timeout") {
        if t.parse::<u32>().is_err() {
            return twilio_error(StatusCode::BAD_REQUEST, 21216, "Timeout must be an integer");
        }
    }
    let sid = new_sid("CA");
    let rec = CallRecord {
        sid: sid.clone(),
        account_sid: account.clone(),
        from: from.into(),
        to: to.into(),
        direction: "outbound-api".into(),
        status: "queued".into(),
        create_params: form.clone(),
        ..CallRecord::default()
    };
    let answer = call_json(&rec);
    let (tx, rx) = mpsc::unbounded_channel();
    let script = {
        let mut inner = shared.lock();
        inner.calls.push(rec);
        inner.controls.insert(sid.clone(), tx);
        inner.scripts.get(to).cloned().unwrap_or_default()
    };
    let task = tokio::spawn(run_outbound(shared.clone(), sid, form, script, rx));
    shared.lock().tasks.push(task);
    shared.version.send_modify(|v| *v += 1);
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn update_call(
    State(shared): State<Arc<Shared>>,
    Path((account, call)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authenticated(&shared, &account, &headers) {
        return unauthenticated();
    }
    let sid = call.strip_suffix(".json").unwrap_or(&call).to_string();
    let form = signature::parse_form(&body);
    let (rec, control) = {
        let inner = shared.lock();
        let rec = inner
            .calls
            .iter()
            .find(|c| c.sid == sid && c.account_sid == account)
            .cloned();
        (rec, inner.controls.get(&sid).cloned())
    };
    let Some(rec) = rec else {
        return twilio_error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found");
    };
    if let Some(t) = param(&form, "Twiml") {
        let live = rec.status == "in-progress";
        shared.update(&sid, |c| c.twiml_updates.push(t.to_string()));
        if let (true, Some(tx)) = (live, control) {
            let _ = tx.send(Control::Redirect);
        }
        return (StatusCode::OK, Json(call_json(&rec))).into_response();
    }
    match param(&form, "Status") {
        Some("completed") | Some("canceled") => {
            let want = param(&form, "Status").unwrap_or_default();
            // `canceled` only ends a call not yet answered; `completed` ends any.
            let ends = match rec.status.as_str() {
                "queued" | "initiated" | "ringing" => true,
                "in-progress" => want == "completed",
                _ => false,
            };
            if ends {
                if let Some(tx) = control {
                    let _ = tx.send(Control::HangUp);
                }
            }
            (StatusCode::OK, Json(call_json(&rec))).into_response()
        }
        Some(_) => twilio_error(StatusCode::BAD_REQUEST, 21218, "Invalid Status"),
        None => twilio_error(StatusCode::BAD_REQUEST, 20001, "The fake only updates Status or Twiml"),
    }
}

async fn fetch_call(
    State(shared): State<Arc<Shared>>,
    Path((account, call)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !authenticated(&shared, &account, &headers) {
        return unauthenticated();
    }
    let sid = call.strip_suffix(".json").unwrap_or(&call);
    let rec = shared
        .lock()
        .calls
        .iter()
        .find(|c| c.sid == sid && c.account_sid == account)
        .cloned();
    match rec {
        Some(r) => (StatusCode::OK, Json(call_json(&r))).into_response(),
        None => twilio_error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found"),
    }
}

// ---------------------------------------------------------------- playing a call

/// Status callbacks of one call: where, which events, and the sequence counter.
struct Callbacks {
    url: Option<String>,
    events: Vec<String>,
    sequence: u32,
}

impl Callbacks {
    fn wants(&self, event: &str) -> bool {
        self.url.is_some()
            && if self.events.is_empty() {
                event == "completed"
            } else {
                self.events.iter().any(|e| e == event)
            }
    }

    async fn send(&mut self, shared: &Shared, sid: &str, event: &str, extra: &[(&str, String)]) {
        let rec = shared.record(sid);
        if !self.wants(event) {
            return;
        }
        let Some(url) = self.url.clone() else { return };
        let mut form: Vec<(String, String)> = vec![
            ("AccountSid".into(), rec.account_sid.clone()),
            ("ApiVersion".into(), "2010-04-01".into()),
            ("CallSid".into(), rec.sid.clone()),
            ("CallStatus".into(), rec.status.clone()),
            ("CallbackSource".into(), "call-progress-events".into()),
            ("Called".into(), rec.to.clone()),
            ("Caller".into(), rec.from.clone()),
            ("Direction".into(), rec.direction.clone()),
            ("From".into(), rec.from.clone()),
            ("SequenceNumber".into(), self.sequence.to_string()),
            ("To".into(), rec.to.clone()),
        ];
        form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        self.sequence += 1;
        let (code, _) = shared.signed_post(&rec.account_sid, &url, &form).await;
        shared.update(sid, |c| {
            c.callbacks.push(Callback {
                call_status: rec.status.clone(),
                http_status: code,
            })
        });
    }
}

fn set_status(shared: &Shared, sid: &str, status: &str) {
    shared.update(sid, |c| c.status = status.into());
}

/// Waits `d`, unless a hang-up comes first (then `false`).
async fn ring(d: Duration, control: &mut mpsc::UnboundedReceiver<Control>) -> bool {
    let sleep = tokio::time::sleep(d);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => return true,
            c = control.recv() => match c {
                Some(Control::HangUp) | None => return false,
                Some(_) => {}
            },
        }
    }
}

async fn run_outbound(
    shared: Arc<Shared>,
    sid: String,
    form: Vec<(String, String)>,
    script: Script,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let mut cb = Callbacks {
        url: param(&form, "StatusCallback").map(str::to_string),
        events: form
            .iter()
            .filter(|(k, _)| k == "StatusCallbackEvent")
            .flat_map(|(_, v)| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect(),
        sequence: 0,
    };
    let delay = shared.config.ring_delay;
    set_status(&shared, &sid, "initiated");
    cb.send(&shared, &sid, "initiated", &[]).await;
    if !ring(delay, &mut control).await {
        return finish(&shared, &sid, &mut cb, "canceled", &[]).await;
    }
    set_status(&shared, &sid, "ringing");
    cb.send(&shared, &sid, "ringing", &[]).await;
    let wait = match script.pickup {
        Pickup::NoAnswer => shared.config.no_answer_delay,
        _ => delay,
    };
    if !ring(wait, &mut control).await {
        return finish(&shared, &sid, &mut cb, "canceled", &[]).await;
    }
    match script.pickup {
        Pickup::Busy => return finish(&shared, &sid, &mut cb, "busy", &[("SipResponseCode", "486".into())]).await,
        Pickup::NoAnswer => {
            return finish(
                &shared,
                &sid,
                &mut cb,
                "no-answer",
                &[("SipResponseCode", "487".into())],
            )
            .await
        }
        Pickup::Fail { sip } => {
            return finish(
                &shared,
                &sid,
                &mut cb,
                "failed",
                &[("SipResponseCode", sip.to_string())],
            )
            .await
        }
        Pickup::Answer => {}
    }
    set_status(&shared, &sid, "in-progress");
    cb.send(&shared, &sid, "answered", &[]).await;
    let rec = shared.record(&sid);
    let instruction = if let Some(t) = param(&form, "Twiml") {
        twiml::parse(t)
    } else if let Some(url) = param(&form, "Url") {
        let (code, body) = shared.signed_post(&rec.account_sid, url, &call_params(&rec)).await;
        shared.update(&sid, |c| c.webhook_status = Some(code));
        if code == 200 {
            twiml::parse(&body)
        } else {
            Instruction::Other
        }
    } else {
        Instruction::Other
    };
    if let Instruction::ConnectStream { url, parameters } = instruction {
        stream(&shared, &sid, &url, parameters, &script, &mut control).await;
    }
    let duration = ("CallDuration", "1".to_string());
    finish(&shared, &sid, &mut cb, "completed", &[duration]).await
}

async fn finish(shared: &Shared, sid: &str, cb: &mut Callbacks, status: &str, extra: &[(&str, String)]) {
    set_status(shared, sid, status);
    cb.send(shared, sid, "completed", extra).await;
    shared.lock().controls.remove(sid);
    shared.update(sid, |c| c.ended = true);
}

/// The parameters of a voice webhook or TwiML fetch.
fn call_params(rec: &CallRecord) -> Vec<(String, String)> {
    vec![
        ("AccountSid".into(), rec.account_sid.clone()),
        ("ApiVersion".into(), "2010-04-01".into()),
        ("CallSid".into(), rec.sid.clone()),
        ("CallStatus".into(), rec.status.clone()),
        ("Called".into(), rec.to.clone()),
        ("Caller".into(), rec.from.clone()),
        ("Direction".into(), rec.direction.clone()),
        ("From".into(), rec.from.clone()),
        ("To".into(), rec.to.clone()),
    ]
}

async fn run_inbound(
    shared: Arc<Shared>,
    sid: String,
    url: String,
    script: Script,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let rec = shared.record(&sid);
    let (code, body) = shared.signed_post(&rec.account_sid, &url, &call_params(&rec)).await;
    shared.update(&sid, |c| c.webhook_status = Some(code));
    let instruction = if code == 200 {
        twiml::parse(&body)
    } else {
        Instruction::Other
    };
    match instruction {
        Instruction::Reject => {
            shared.update(&sid, |c| {
                c.rejected = true;
                c.status = "rejected".into();
            });
        }
        Instruction::ConnectStream { url, parameters } => {
            set_status(&shared, &sid, "in-progress");
            stream(&shared, &sid, &url, parameters, &script, &mut control).await;
            set_status(&shared, &sid, "completed");
        }
        Instruction::Other => {
            set_status(&shared, &sid, if code == 200 { "completed" } else { "failed" });
        }
    }
    shared.lock().controls.remove(&sid);
    shared.update(&sid, |c| c.ended = true);
}

/// Twilio's playback queue on the stream: audio bytes and marks, in order.
enum Queued {
    Audio(Vec<u8>),
    Mark(String),
}

/// The media-stream WebSocket, played as Twilio plays it, until a hang-up or Parley closes it.
async fn stream(
    shared: &Shared,
    sid: &str,
    url: &str,
    parameters: Vec<(String, String)>,
    script: &Script,
    control: &mut mpsc::UnboundedReceiver<Control>,
) {
    let rec = shared.record(sid);
    let stream_sid = new_sid("MZ");
    let custom: BTreeMap<String, String> = parameters.into_iter().collect();
    shared.update(sid, |c| {
        c.stream_url = Some(url.into());
        c.stream_sid = Some(stream_sid.clone());
        c.custom_parameters = custom.clone();
    });
    let Ok(mut request) = url.into_client_request() else {
        shared.update(sid, |c| c.bad_frames.push(format!("bad stream url {url}")));
        return;
    };
    let sig = signature::sign(&shared.token(&rec.account_sid), url, &[]);
    if let Ok(v) = sig.parse() {
        request.headers_mut().insert(signature::HEADER, v);
    }
    let Ok((ws, _)) = tokio_tungstenite::connect_async(request).await else {
        shared.update(sid, |c| c.bad_frames.push(format!("could not connect to {url}")));
        return;
    };
    let (mut sink, mut source) = ws.split();
    let mut seq: u64 = 0;
    let next = |seq: &mut u64| {
        *seq += 1;
        seq.to_string()
    };
    let send = |v: serde_json::Value| Message::text(v.to_string());
    let _ = sink
        .send(send(
            json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
        ))
        .await;
    let start = json!({
        "event": "start", "sequenceNumber": next(&mut seq), "streamSid": stream_sid,
        "start": {
            "streamSid": stream_sid, "accountSid": rec.account_sid, "callSid": rec.sid,
            "tracks": ["inbound"], "customParameters": custom,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
    });
    let _ = sink.send(send(start)).await;

    let mut caller: VecDeque<u8> = script.audio.iter().copied().collect();
    let mut party = super::party::Party::new(script.replies.clone(), script.reply_after_quiet_ms);
    party.caller_says(caller.len());
    let t0 = tokio::time::Instant::now();
    let mut dtmf: Vec<(usize, char)> = script.dtmf.clone();
    let mut playback: VecDeque<Queued> = VecDeque::new();
    let mut frames_sent: usize = 0;
    let mut timings_kept = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut out: Vec<serde_json::Value> = Vec::new();
    let hung_up = loop {
        tokio::select! {
            _ = tick.tick() => {
                // Play 20 ms of Parley's audio; echo the marks it reaches.
                let mut need = 160usize;
                let mut played = Vec::new();
                while need > 0 {
                    match playback.front_mut() {
                        Some(Queued::Audio(a)) => {
                            let n = need.min(a.len());
                            played.extend(a.drain(..n));
                            need -= n;
                            if a.is_empty() {
                                playback.pop_front();
                            }
                        }
                        Some(Queued::Mark(_)) => {
                            if let Some(Queued::Mark(m)) = playback.pop_front() {
                                out.push(mark_echo(&mut seq, &stream_sid, &m));
                                shared.update(sid, |c| c.marks_echoed.push(m));
                            }
                        }
                        None => break,
                    }
                }
                echo_leading_marks(&mut playback, &mut out, &mut seq, shared, sid, &stream_sid);
                if !played.is_empty() {
                    shared.update(sid, |c| c.played_audio.extend_from_slice(&played));
                }
                // 20 ms of the far party: its script, then silence.
                let chunk: Vec<u8> = (0..160).map(|_| caller.pop_front().unwrap_or(0xFF)).collect();
                frames_sent += 1;
                let now_ms = t0.elapsed().as_millis() as u64;
                if let Some(reply) = party.tick(now_ms, &played, &chunk, caller.len()) {
                    caller.extend(reply);
                }
                if party.caller_ends_ms.len() + party.agent_onsets_ms.len() != timings_kept {
                    timings_kept = party.caller_ends_ms.len() + party.agent_onsets_ms.len();
                    let (ends, onsets) = (party.caller_ends_ms.clone(), party.agent_onsets_ms.clone());
                    shared.update(sid, |c| {
                        c.caller_ends_ms = ends;
                        c.agent_onsets_ms = onsets;
                    });
                }
                let n = next(&mut seq);
                out.push(json!({
                    "event": "media", "sequenceNumber": n, "streamSid": stream_sid,
                    "media": {"track": "inbound", "chunk": frames_sent.to_string(),
                              "timestamp": (frames_sent.saturating_sub(1) * 20).to_string(),
                              "payload": B64.encode(&chunk)}
                }));
                let due: Vec<char> = dtmf.iter().filter(|(at, _)| *at <= frames_sent).map(|(_, d)| *d).collect();
                dtmf.retain(|(at, _)| *at > frames_sent);
                for d in due {
                    out.push(dtmf_msg(&mut seq, &stream_sid, d));
                }
                if script.hang_up_after.is_some_and(|n| frames_sent >= n) {
                    break true;
                }
            }
            msg = source.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    handle_outbound(t.as_str(), &mut playback, &mut out, &mut seq, shared, sid, &stream_sid);
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    shared.update(sid, |c| c.closed_by_parley = true);
                    break false;
                }
                Some(Ok(Message::Binary(_))) => {
                    shared.update(sid, |c| c.bad_frames.push("binary frame".into()));
                }
                Some(Ok(_)) => {}
            },
            c = control.recv() => match c {
                Some(Control::HangUp) | Some(Control::Redirect) | None => break true,
                Some(Control::Dtmf(d)) => out.push(dtmf_msg(&mut seq, &stream_sid, d)),
                Some(Control::Audio(a)) => {
                    party.caller_says(a.len());
                    caller.extend(a);
                }
            },
        }
        for v in out.drain(..) {
            let _ = sink.send(send(v)).await;
        }
    };
    for v in out.drain(..) {
        let _ = sink.send(send(v)).await;
    }
    if hung_up {
        let stop = json!({
            "event": "stop", "sequenceNumber": next(&mut seq), "streamSid": stream_sid,
            "stop": {"accountSid": rec.account_sid, "callSid": rec.sid}
        });
        let _ = sink.send(send(stop)).await;
        let _ = sink.close().await;
        shared.update(sid, |c| c.stop_sent = true);
    }
}

fn mark_echo(seq: &mut u64, stream_sid: &str, name: &str) -> serde_json::Value {
    *seq += 1;
    json!({"event": "mark", "sequenceNumber": seq.to_string(), "streamSid": stream_sid,
           "mark": {"name": name}})
}

fn dtmf_msg(seq: &mut u64, stream_sid: &str, digit: char) -> serde_json::Value {
    *seq += 1;
    json!({"event": "dtmf", "sequenceNumber": seq.to_string(), "streamSid": stream_sid,
           "dtmf": {"track": "inbound_track", "digit": digit.to_string()}})
}

/// Marks with no audio before them have been reached: echo them now.
fn echo_leading_marks(
    playback: &mut VecDeque<Queued>,
    out: &mut Vec<serde_json::Value>,
    seq: &mut u64,
    shared: &Shared,
    sid: &str,
    stream_sid: &str,
) {
    while let Some(Queued::Mark(_)) = playback.front() {
        if let Some(Queued::Mark(m)) = playback.pop_front() {
            out.push(mark_echo(seq, stream_sid, &m));
            shared.update(sid, |c| c.marks_echoed.push(m));
        }
    }
}

/// One text frame from Parley: `media`, `mark` or `clear`.
fn handle_outbound(
    text: &str,
    playback: &mut VecDeque<Queued>,
    out: &mut Vec<serde_json::Value>,
    seq: &mut u64,
    shared: &Shared,
    sid: &str,
    stream_sid: &str,
) {
    use super::frames::Outbound;
    let msg = match super::frames::parse_outbound(text) {
        Ok(m) => m,
        Err(e) => {
            shared.update(sid, |c| c.bad_frames.push(format!("{e}: {text}")));
            return;
        }
    };
    let sid_of = match &msg {
        Outbound::Media { stream_sid, .. } | Outbound::Mark { stream_sid, .. } | Outbound::Clear { stream_sid } => {
            stream_sid.clone()
        }
    };
    if sid_of != stream_sid {
        shared.update(sid, |c| c.bad_frames.push(format!("wrong streamSid: {text}")));
        return;
    }
    match msg {
        Outbound::Media { media, .. } => match B64.decode(media.payload.as_bytes()) {
            Ok(bytes) => {
                shared.update(sid, |c| c.received_audio.extend_from_slice(&bytes));
                if !bytes.is_empty() {
                    playback.push_back(Queued::Audio(bytes));
                }
            }
            Err(_) => shared.update(sid, |c| c.bad_frames.push(format!("bad payload: {text}"))),
        },
        Outbound::Mark { mark, .. } => {
            shared.update(sid, |c| c.marks_received.push(mark.name.clone()));
            playback.push_back(Queued::Mark(mark.name));
            echo_leading_marks(playback, out, seq, shared, sid, stream_sid);
        }
        Outbound::Clear { .. } => {
            let mut dropped = 0;
            let mut marks = Vec::new();
            for q in playback.drain(..) {
                match q {
                    Queued::Audio(a) => dropped += a.len(),
                    Queued::Mark(m) => marks.push(m),
                }
            }
            for m in &marks {
                out.push(mark_echo(seq, stream_sid, m));
            }
            shared.update(sid, |c| {
                c.clears += 1;
                c.cleared_bytes += dropped;
                c.marks_echoed.extend(marks);
            });
        }
    }
}
