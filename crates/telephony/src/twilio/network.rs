//! [`TwilioNetwork`]: Twilio as a [`PhoneNetwork`]. Calls are placed through the REST API,
//! received through the voice webhook, tracked through status callbacks, and carried over a
//! bidirectional media stream (the socket shell around [`super::frames::MediaStream`] is in
//! [`super::leg`]).
//!
//! Routes (merged into the API server by [`crate::Networks::routes`]):
//! - `POST /twilio/voice`: the voice webhook of the team's Twilio numbers (inbound calls);
//! - `POST /twilio/status/{token}`: status callbacks of one outbound call;
//! - `GET /twilio/stream`: the media-stream WebSocket (both directions).
//!
//! Every one of them checks `X-Twilio-Signature` with the auth token of the account concerned,
//! over the *public* URL Twilio was given (`public_url` + path + query, `ws(s)://` for the
//! stream): a missing or wrong signature is `403` and changes nothing.
//!
//! Decisions:
//! - Each call is known by a token of 256 random bits (never the Parley call id), which is in
//!   its status-callback path and in the stream's `parley_call` `<Parameter>`. The pending-call
//!   table maps it to the account and the call's leg task (outbound) or to the switchboard's
//!   [`RunCall`] (inbound). The leg task owns the endpoint's event sender and signal receiver;
//!   the table holds the channel into it, so a callback or a stream is delivered to exactly one
//!   owner and nothing is shared behind a lock.
//! - A WebSocket handshake carries no parameters, so the account whose token signed it is not
//!   known yet: the signature is checked against the tokens of the accounts with calls awaiting
//!   a stream (one HMAC per such account), and the `start` message must then name a pending
//!   token of an account whose key signed the handshake, with the same account and call sid.
//! - An outbound call is `Answered` when its stream's `start` arrives, not on the `in-progress`
//!   callback: only then can audio flow, and the agent's first words must not be spoken into a
//!   line that is not there yet. `in-progress` only moves the local deadline from "ringing" to
//!   "stream connecting".
//! - REST failures that are Twilio's answer become [`NetworkError::Carrier`]
//!   (`twilio: <message> (code N)`, credentials named); not reaching Twilio is
//!   [`NetworkError::Unavailable`].

use super::frames::{MediaStream, StreamEvent, MAX_TEXT_FRAME};
use super::leg::{self, close, LegInput, Streaming};
use super::rest::{self, Account, CreateCall, Instructions, RestClient, RestError};
use super::signature;
use super::status::{StatusCallback, VoiceWebhook};
use super::twiml;
use crate::line::{self, Endpoint};
use crate::network::{
    BoxFuture, DialRequest, IncomingCall, NetworkError, NetworkKind, NetworkRoutes, PhoneNetwork, Route, RunCall,
    Switchboard,
};
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// The voice webhook path (set it as the Twilio numbers' "A call comes in" URL).
pub const VOICE_PATH: &str = "/twilio/voice";
/// The prefix of status-callback paths (`/twilio/status/{token}`).
pub const STATUS_PATH: &str = "/twilio/status";
/// The media-stream WebSocket path.
pub const STREAM_PATH: &str = "/twilio/stream";
/// The `<Stream>` `<Parameter>` naming the call.
pub const CALL_PARAMETER: &str = "parley_call";
/// The environment variable of Parley's public base URL.
pub const PUBLIC_URL_ENV: &str = "PARLEY_PUBLIC_URL";

/// How long an accepted inbound call waits for its stream before it is dropped.
const INBOUND_TTL: Duration = Duration::from_secs(30);
/// How long an ended outbound call's token still answers (late callbacks get `204`, not `404`).
const ENDED_TTL: Duration = Duration::from_secs(60);
/// How long a new socket may take to send `start`.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How the Twilio network is reached and reaches Parley.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioConfig {
    /// Parley's public base URL (`PARLEY_PUBLIC_URL`), e.g. `https://parley.example.com`:
    /// webhooks, callbacks and the stream (`ws://`/`wss://` derived from it) are reached there.
    pub public_url: String,
    /// Twilio's REST API (`PARLEY_TWILIO_API_BASE`, default `https://api.twilio.com`).
    pub api_base: String,
    /// An answered call whose stream carries nothing for this long fails (`no media for N s`).
    pub stream_idle_timeout: Duration,
}

impl TwilioConfig {
    /// Twilio's API, a 30 s media watchdog, and this public URL.
    pub fn new(public_url: impl Into<String>) -> Self {
        TwilioConfig {
            public_url: public_url.into(),
            api_base: rest::DEFAULT_API_BASE.to_string(),
            stream_idle_timeout: Duration::from_secs(30),
        }
    }

    /// From `PARLEY_PUBLIC_URL` (else `default_public_url`) and `PARLEY_TWILIO_API_BASE`.
    pub fn from_env(default_public_url: &str) -> Self {
        let public = std::env::var(PUBLIC_URL_ENV).unwrap_or_else(|_| default_public_url.to_string());
        let mut c = Self::new(public);
        if let Ok(base) = std::env::var(rest::API_BASE_ENV) {
            c.api_base = base;
        }
        c
    }
}

/// A call in the pending-call table.
enum Pending {
    /// Placed by us; its leg task takes the callbacks and the stream.
    Outbound {
        account: Account,
        call_sid: Option<String>,
        inputs: mpsc::UnboundedSender<LegInput>,
    },
    /// Accepted by the switchboard; waits for its stream.
    Inbound {
        account: Account,
        call_sid: String,
        run: RunCall,
    },
}

/// What a stream's `start` claimed.
enum Claim {
    Outbound(mpsc::UnboundedSender<LegInput>),
    Inbound { account: Account, run: RunCall },
}

pub(super) struct Shared {
    /// No trailing slash.
    public_url: String,
    /// `public_url` with `ws`/`wss`.
    ws_base: String,
    pub(super) rest: RestClient,
    pub(super) idle: Duration,
    switchboard: OnceLock<Arc<dyn Switchboard>>,
    pending: Mutex<HashMap<String, Pending>>,
}

impl Shared {
    fn table(&self) -> MutexGuard<'_, HashMap<String, Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets an ended outbound call's token after a while (late callbacks still verify).
    pub(super) fn retire(self: &Arc<Self>, token: String) {
        let shared = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ENDED_TTL).await;
            shared.table().remove(&token);
        });
    }

    fn stream_url(&self) -> String {
        format!("{}{STREAM_PATH}", self.ws_base)
    }
}

/// Twilio as a phone network. Cheap to share; one per server.
pub struct TwilioNetwork {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TwilioNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioNetwork")
            .field("public_url", &self.shared.public_url)
            .field("api_base", &self.shared.rest.base())
            .finish()
    }
}

impl TwilioNetwork {
    /// Fails ([`NetworkError::Unavailable`]) when a URL is not `http(s)://`.
    pub fn new(config: TwilioConfig) -> Result<Self, NetworkError> {
        let public_url = config.public_url.trim_end_matches('/').to_string();
        let ws_base = if let Some(rest) = public_url.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = public_url.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            return Err(NetworkError::Unavailable(format!(
                "twilio: the public URL {public_url:?} is not http:// or https://"
            )));
        };
        let rest = RestClient::new(&config.api_base).map_err(|e| NetworkError::Unavailable(e.to_string()))?;
        Ok(TwilioNetwork {
            shared: Arc::new(Shared {
                public_url,
                ws_base,
                rest,
                idle: config.stream_idle_timeout,
                switchboard: OnceLock::new(),
                pending: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Calls waiting for a callback, a stream or their end (for tests and metrics).
    pub fn pending_calls(&self) -> usize {
        self.shared.table().len()
    }
}

/// 256 random bits, hex.
fn new_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

fn carrier_error(e: RestError, account_sid: &str) -> NetworkError {
    match e {
        RestError::Api {
            ref message,
            code,
            status,
        } => {
            let code = code.map_or_else(|| format!("HTTP {status}"), |c| format!("code {c}"));
            if e.is_auth() {
                NetworkError::Carrier(format!(
                    "twilio: bad credentials for account {account_sid}: {message} ({code})"
                ))
            } else {
                NetworkError::Carrier(format!("twilio: {message} ({code})"))
            }
        }
        other => NetworkError::Unavailable(other.to_string()),
    }
}

impl PhoneNetwork for TwilioNetwork {
    fn kind(&self) -> NetworkKind {
        NetworkKind::Twilio
    }

    fn dial(&self, req: DialRequest) -> BoxFuture<'_, Result<Endpoint, NetworkError>> {
        Box::pin(dial(self.shared.clone(), req))
    }

    fn attach(&self, switchboard: Arc<dyn Switchboard>) {
        if self.shared.switchboard.set(switchboard).is_err() {
            tracing::warn!("twilio: a second switchboard was attached and ignored");
        }
    }

    fn routes(&self) -> Option<NetworkRoutes> {
        Some(
            axum::Router::new()
                .route(VOICE_PATH, post(voice))
                .route(&format!("{STATUS_PATH}/{{token}}"), post(status))
                .route(STREAM_PATH, get(stream))
                .with_state(self.shared.clone()),
        )
    }
}

async fn dial(shared: Arc<Shared>, req: DialRequest) -> Result<Endpoint, NetworkError> {
    let Route::Twilio(route) = &req.route else {
        return Err(NetworkError::Unavailable(format!(
            "the twilio network cannot place a {} call",
            req.route.kind()
        )));
    };
    let account = Account {
        account_sid: route.account_sid.clone(),
        auth_token: route.auth_token.clone(),
    };
    let token = new_token();
    let (inputs, inputs_rx) = mpsc::unbounded_channel();
    // In the table before the request: Twilio may call back before the REST answer arrives.
    shared.table().insert(
        token.clone(),
        Pending::Outbound {
            account: account.clone(),
            call_sid: None,
            inputs,
        },
    );
    let create = CreateCall {
        to: req.to.clone(),
        from: req.from.clone(),
        instructions: Instructions::Twiml(twiml::connect_stream(&shared.stream_url(), &[(CALL_PARAMETER, &token)])),
        status_callback: Some(format!("{}{STATUS_PATH}/{token}", shared.public_url)),
        timeout: Some(req.ring_timeout),
        machine_detection: None,
    };
    let call = match shared.rest.create_call(&account, &create).await {
        Ok(call) => call,
        Err(e) => {
            shared.table().remove(&token);
            tracing::info!(call_id = %req.call_id, error = %e, "twilio: call not placed");
            return Err(carrier_error(e, &account.account_sid));
        }
    };
    if let Some(Pending::Outbound { call_sid, .. }) = shared.table().get_mut(&token) {
        *call_sid = Some(call.sid.clone());
    }
    tracing::debug!(call_id = %req.call_id, call_sid = %call.sid, "twilio: call placed");
    let (events, events_rx) = line::channel();
    let (sender, signals) = line::signals();
    let out = leg::Outbound {
        shared: shared.clone(),
        token,
        account,
        call_sid: call.sid,
        ring_timeout: req.ring_timeout,
    };
    tokio::spawn(out.run(events, signals, inputs_rx));
    Ok(Endpoint {
        events: events_rx,
        sender,
    })
}

// ---------------------------------------------------------------- HTTP

fn forbidden() -> Response {
    StatusCode::FORBIDDEN.into_response()
}

fn twiml_response(xml: String) -> Response {
    ([(header::CONTENT_TYPE, twiml::CONTENT_TYPE)], xml).into_response()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn path_and_query(uri: &axum::http::Uri) -> &str {
    uri.path_and_query().map_or(uri.path(), |p| p.as_str())
}

/// Checks a form POST against the public URL Twilio requested.
fn verify(shared: &Shared, token: &str, uri: &axum::http::Uri, headers: &HeaderMap, body: &[u8]) -> bool {
    let url = format!("{}{}", shared.public_url, path_and_query(uri));
    signature::validate_request(
        token,
        header_str(headers, signature::HEADER),
        &url,
        header_str(headers, header::CONTENT_TYPE.as_str()),
        body,
    )
    .is_ok()
}

/// `POST /twilio/voice`: an inbound call to one of the team's numbers.
async fn voice(
    State(shared): State<Arc<Shared>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Twilio signs every request: an unsigned one is not Twilio's, whatever it names.
    if header_str(&headers, signature::HEADER).is_none() {
        return forbidden();
    }
    let Ok(hook) = VoiceWebhook::parse(&signature::parse_form(&body)) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some(switchboard) = shared.switchboard.get().cloned() else {
        return twiml_response(twiml::reject());
    };
    // Not our number, or not on this account: refused like any unknown number (no detail).
    let Some(secret) = switchboard
        .carrier_secret(NetworkKind::Twilio, &hook.account_sid, &hook.to)
        .await
    else {
        return twiml_response(twiml::reject());
    };
    if !verify(&shared, &secret, &uri, &headers, &body) {
        tracing::warn!(to = %hook.to, "twilio: voice webhook with a bad signature refused");
        return forbidden();
    }
    let call = IncomingCall {
        network: NetworkKind::Twilio,
        from: hook.from.clone(),
        to: hook.to.clone(),
        source: None,
        carrier_call_id: hook.call_sid.clone(),
        account: Some(hook.account_sid.clone()),
    };
    let run = match switchboard.offer(call).await {
        Ok(run) => run,
        Err(refusal) => {
            tracing::info!(call_sid = %hook.call_sid, ?refusal, "twilio: inbound call refused");
            return twiml_response(twiml::reject());
        }
    };
    let token = new_token();
    shared.table().insert(
        token.clone(),
        Pending::Inbound {
            account: Account {
                account_sid: hook.account_sid,
                auth_token: secret,
            },
            call_sid: hook.call_sid,
            run,
        },
    );
    let expire = (shared.clone(), token.clone());
    tokio::spawn(async move {
        tokio::time::sleep(INBOUND_TTL).await;
        let mut table = expire.0.table();
        if matches!(table.get(&expire.1), Some(Pending::Inbound { .. })) {
            table.remove(&expire.1);
            tracing::info!("twilio: an accepted inbound call never opened its stream");
        }
    });
    twiml_response(twiml::connect_stream(&shared.stream_url(), &[(CALL_PARAMETER, &token)]))
}

/// `POST /twilio/status/{token}`: progress of an outbound call.
async fn status(
    State(shared): State<Arc<Shared>>,
    Path(token): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let found = match shared.table().get(&token) {
        Some(Pending::Outbound { account, inputs, .. }) => Some((account.clone(), inputs.clone())),
        _ => None,
    };
    let Some((account, inputs)) = found else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !verify(&shared, &account.auth_token, &uri, &headers, &body) {
        tracing::warn!("twilio: status callback with a bad signature refused");
        return forbidden();
    }
    let Ok(cb) = StatusCallback::parse(&signature::parse_form(&body)) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if cb.account_sid != account.account_sid {
        return forbidden();
    }
    // The leg may be over (a late callback): nothing left to tell.
    let _ = inputs.send(LegInput::Status(cb));
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /twilio/stream`: the media-stream WebSocket.
async fn stream(
    State(shared): State<Arc<Shared>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Some(sig) = header_str(&headers, signature::HEADER) else {
        return forbidden();
    };
    let url = format!("{}{}", shared.ws_base, path_and_query(&uri));
    // The accounts with calls awaiting a stream; the one whose key signed this may claim one.
    let keys: HashMap<String, String> = shared
        .table()
        .values()
        .filter_map(|p| match p {
            Pending::Outbound { account, inputs, .. } if !inputs.is_closed() => Some(account),
            Pending::Inbound { account, .. } => Some(account),
            _ => None,
        })
        .map(|a| (a.account_sid.clone(), a.auth_token.clone()))
        .collect();
    let signed_by: Vec<String> = keys
        .into_iter()
        .filter(|(_, token)| signature::validate(token, sig, &url, &[]))
        .map(|(sid, _)| sid)
        .collect();
    if signed_by.is_empty() {
        tracing::warn!("twilio: media stream with a bad signature refused");
        return forbidden();
    }
    match upgrade {
        Ok(ws) => ws
            .max_message_size(MAX_TEXT_FRAME)
            .max_frame_size(MAX_TEXT_FRAME)
            .on_upgrade(move |socket| accept_stream(shared, socket, signed_by)),
        Err(rejection) => rejection.into_response(),
    }
}

/// Reads `connected` and `start`, then hands the stream to its call.
async fn accept_stream(shared: Arc<Shared>, mut socket: WebSocket, signed_by: Vec<String>) {
    let mut session = MediaStream::new();
    let started = tokio::time::timeout(START_TIMEOUT, async {
        loop {
            match socket.recv().await {
                Some(Ok(Message::Text(t))) => {
                    if let Err(e) = session.handle_text(t.as_str(), std::time::Instant::now()) {
                        tracing::debug!(error = %e, "twilio: bad frame before start");
                        continue;
                    }
                    if let Some(StreamEvent::Started {
                        call_sid,
                        account_sid,
                        custom_parameters,
                        ..
                    }) = session.poll_event()
                    {
                        return Some((call_sid, account_sid, custom_parameters));
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    let Ok(Some((call_sid, account_sid, params))) = started else {
        close(&mut socket).await;
        return;
    };
    let token = params.get(CALL_PARAMETER).cloned().unwrap_or_default();
    let claim = {
        let mut table = shared.table();
        let ok = |account: &Account| account.account_sid == account_sid && signed_by.contains(&account_sid);
        match table.get(&token) {
            Some(Pending::Outbound {
                account,
                call_sid: sid,
                inputs,
            }) if ok(account) && sid.as_ref().is_none_or(|s| *s == call_sid) => Some(Claim::Outbound(inputs.clone())),
            Some(Pending::Inbound {
                account, call_sid: sid, ..
            }) if ok(account) && *sid == call_sid => match table.remove(&token) {
                Some(Pending::Inbound { account, run, .. }) => Some(Claim::Inbound { account, run }),
                _ => None,
            },
            _ => None,
        }
    };
    let mut streaming = Streaming {
        socket,
        session,
        call_sid: call_sid.clone(),
    };
    match claim {
        Some(Claim::Outbound(inputs)) => {
            if let Err(mpsc::error::SendError(LegInput::Stream(mut s))) =
                inputs.send(LegInput::Stream(Box::new(streaming)))
            {
                // The call ended meanwhile.
                close(&mut s.socket).await;
            }
        }
        Some(Claim::Inbound { account, run }) => {
            let (events, events_rx) = line::channel();
            let (sender, signals) = line::signals();
            tokio::spawn(run(Endpoint {
                events: events_rx,
                sender,
            }));
            let leg = leg::Leg {
                shared,
                account,
                call_sid,
            };
            leg.bridge(streaming, events, signals, None).await;
        }
        None => {
            tracing::warn!(%call_sid, "twilio: a media stream for no pending call was closed");
            close(&mut streaming.socket).await;
        }
    }
}
