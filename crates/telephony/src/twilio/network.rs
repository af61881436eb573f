//! [`TwilioNetwork`]: Twilio as a [`PhoneNetwork`]. Calls are placed through the REST API,
//! received through the voice webhook, tracked through status callbacks, and carried over a
//! bidirectional media stream. The HTTP handlers are in `routes`, each call's task (the socket
//! shell around [`super::frames::MediaStream`]) in `leg`.
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

use super::leg::{self, LegInput};
use super::rest::{self, Account, CreateCall, Instructions, RestClient, RestError};
use super::routes::{status, stream, voice};
use super::twiml;
use crate::line::{self, Endpoint};
use crate::network::{
    BoxFuture, DialRequest, NetworkError, NetworkKind, NetworkRoutes, PhoneNetwork, Route, RunCall, Switchboard,
};
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
pub(super) const INBOUND_TTL: Duration = Duration::from_secs(30);
/// How long an ended outbound call's token still answers (late callbacks get `204`, not `404`).
const ENDED_TTL: Duration = Duration::from_secs(60);
/// How long a new socket may take to send `start`.
pub(super) const START_TIMEOUT: Duration = Duration::from_secs(10);

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
pub(super) enum Pending {
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
pub(super) enum Claim {
    Outbound(mpsc::UnboundedSender<LegInput>),
    Inbound { account: Account, run: RunCall },
}

pub(super) struct Shared {
    /// No trailing slash.
    pub(super) public_url: String,
    /// `public_url` with `ws`/`wss`.
    pub(super) ws_base: String,
    pub(super) rest: RestClient,
    pub(super) idle: Duration,
    pub(super) switchboard: OnceLock<Arc<dyn Switchboard>>,
    pending: Mutex<HashMap<String, Pending>>,
}

impl Shared {
    pub(super) fn table(&self) -> MutexGuard<'_, HashMap<String, Pending>> {
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

    pub(super) fn stream_url(&self) -> String {
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
pub(super) fn new_token() -> String {
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
