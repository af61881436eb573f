//! The interface every phone network implements, and what crosses it.
//!
//! A network (the sandbox, a SIP trunk, a Twilio account) does three things for the call
//! runner: it dials out ([`PhoneNetwork::dial`]), it delivers calls that come in (to the
//! [`Switchboard`] it was [attached](PhoneNetwork::attach) to), and it may serve HTTP of its own
//! (Twilio's webhooks and media-stream WebSocket: [`PhoneNetwork::routes`]). Both directions
//! hand the runner the same [`Endpoint`], so the voice pipeline never knows which network
//! carries the call.
//!
//! Decision: the carrier account travels *in* the [`DialRequest`] ([`Route`]) instead of
//! being looked up by the network. Networks then hold no team data and no database handle:
//! the runner resolves "which number, which trunk" once, in one place, and a network is a
//! pure carrier of calls that tests can drive without a store.

use crate::line::Endpoint;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use uuid::Uuid;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The kinds of phone network (`sandbox`, `sip`, `twilio`) and how SIP reaches a trunk: the
/// same types the API stores, so a number's network needs no translation on its way here.
pub use parley_core::number::{NetworkKind, SipTransport};

/// A carrier SIP trunk, as the runner resolved it for one call (secrets opened).
#[derive(Clone, PartialEq, Eq)]
pub struct SipTrunkRoute {
    pub trunk_id: String,
    pub host: String,
    pub port: u16,
    pub transport: SipTransport,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The domain of our From URI (the trunk's host when unset).
    pub from_domain: Option<String>,
}

// Hand-written so a password never reaches a log line through `{:?}`.
impl fmt::Debug for SipTrunkRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SipTrunkRoute")
            .field("trunk_id", &self.trunk_id)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("transport", &self.transport)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("from_domain", &self.from_domain)
            .finish()
    }
}

/// A Twilio account, as the runner resolved it for one call (secret opened).
#[derive(Clone, PartialEq, Eq)]
pub struct TwilioRoute {
    pub account_sid: String,
    pub auth_token: String,
}

impl fmt::Debug for TwilioRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioRoute")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"…")
            .finish()
    }
}

/// Which network carries a call, with what that network needs to place it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Sandbox,
    Sip(SipTrunkRoute),
    Twilio(TwilioRoute),
}

impl Route {
    pub fn kind(&self) -> NetworkKind {
        match self {
            Route::Sandbox => NetworkKind::Sandbox,
            Route::Sip(_) => NetworkKind::Sip,
            Route::Twilio(_) => NetworkKind::Twilio,
        }
    }
}

/// A request to place an outbound call.
#[derive(Debug, Clone)]
pub struct DialRequest {
    /// The call this leg belongs to (for logs and carrier correlation).
    pub call_id: Uuid,
    /// The team placing the call (a sandbox number may be bound per team).
    pub team_id: String,
    /// Caller id, E.164.
    pub from: String,
    /// Destination, E.164.
    pub to: String,
    /// Give up (and report [`crate::LineEvent::NoAnswer`]) after ringing this long.
    pub ring_timeout: Duration,
    /// The network and carrier account that place the call.
    pub route: Route,
}

/// Why a network could not even start a call. Its text becomes the call's
/// `call_failure_reason`, so it names the cause a person can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NetworkError {
    /// The number is not reachable on this network (e.g. no sandbox subscriber there).
    #[error("number not reachable: {0}")]
    Unreachable(String),
    /// The network is unavailable (trunk down, shutting down, not configured on this server).
    #[error("phone network unavailable: {0}")]
    Unavailable(String),
    /// The carrier refused the request (bad credentials, an invalid number for the carrier).
    #[error("{0}")]
    Carrier(String),
}

/// A call arriving on one of the networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingCall {
    pub network: NetworkKind,
    /// The caller, E.164 when the network gave one (else as the network gave it).
    pub from: String,
    /// The number called, E.164.
    pub to: String,
    /// Where the signalling came from (a SIP source address; `None` over HTTP).
    pub source: Option<SocketAddr>,
    /// The carrier's own id of the call (SIP Call-ID, Twilio CallSid), for logs.
    pub carrier_call_id: String,
    /// The Twilio account the call came in on (the webhook's `AccountSid`), for the switchboard
    /// to check against the number's own account.
    pub account: Option<String>,
}

/// Why a switchboard turned an incoming call away. Each network maps it to its own answer
/// (SIP 404/403/503, Twilio `<Reject/>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No agent answers this number (or the number is not Parley's).
    UnknownNumber,
    /// The call came from somewhere that may not send calls to this number.
    Forbidden,
    /// This node is at its call limit.
    Full,
}

/// What to do with an accepted call once the network has answered it.
pub type RunCall = Box<dyn FnOnce(Endpoint) -> BoxFuture<'static, ()> + Send>;

/// Where networks deliver incoming calls: the server decides who answers and runs the call.
///
/// Two steps, because a carrier needs the decision before it answers (a SIP 404 is sent
/// instead of a 200, a Twilio webhook returns `<Reject/>` instead of `<Connect>`), while the
/// call itself needs the line that only exists after the answer.
pub trait Switchboard: Send + Sync + 'static {
    /// Decides whether the call is taken; on yes, returns what runs it once answered.
    fn offer(&self, call: IncomingCall) -> BoxFuture<'_, Result<RunCall, Refusal>>;

    /// The carrier secret that authenticates requests about the team's number `number` on
    /// `network`, if `number` is one of Parley's numbers there *and* belongs to the carrier
    /// account `account`: for Twilio, the auth token of the number's account.
    ///
    /// Why the switchboard answers this: Twilio signs its voice webhook with the auth token of
    /// the account that owns the called number, and the network must check that signature
    /// *before* it offers the call (an unsigned request must not reach the call runner, nor
    /// learn anything from it). Networks hold no team data (see the module's decision), so the
    /// server, which owns the numbers and their write-only secrets, looks it up. Checking the
    /// account as well keeps one team's token from vouching for a webhook claiming another
    /// account. `None` (the default) makes the network refuse the call without answering it.
    fn carrier_secret(&self, network: NetworkKind, account: &str, number: &str) -> BoxFuture<'_, Option<String>> {
        let _ = (network, account, number);
        Box::pin(async { None })
    }
}

/// HTTP routes a network serves on the API server (Twilio's webhooks and WebSocket).
pub type NetworkRoutes = axum::Router;

/// A phone network: dials numbers, delivers incoming calls, and hands back our end of each.
///
/// A dialed endpoint first reports call progress (`Ringing`, then `Answered`, or an end:
/// `Busy`, `NoAnswer`, `Rejected`, `Failed`); after `Answered` it carries audio and DTMF until
/// a hang-up. An incoming call's endpoint is already answered.
pub trait PhoneNetwork: Send + Sync + 'static {
    fn kind(&self) -> NetworkKind;

    fn dial(&self, req: DialRequest) -> BoxFuture<'_, Result<Endpoint, NetworkError>>;

    /// Gives the network the switchboard that takes its incoming calls. Called once, before
    /// the server starts listening; a network that never receives calls ignores it.
    fn attach(&self, switchboard: std::sync::Arc<dyn Switchboard>) {
        let _ = switchboard;
    }

    /// The HTTP routes this network needs on the API server, if any.
    fn routes(&self) -> Option<NetworkRoutes> {
        None
    }
}
