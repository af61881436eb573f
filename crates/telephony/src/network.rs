//! The interface the dialer uses, whatever the network behind it.

use crate::line::Endpoint;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use uuid::Uuid;

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
}

/// Why a network could not even start a call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NetworkError {
    /// The number is not reachable on this network (e.g. no sandbox subscriber there).
    #[error("number not reachable: {0}")]
    Unreachable(String),
    /// The network is unavailable (trunk down, shutting down).
    #[error("phone network unavailable: {0}")]
    Unavailable(String),
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A phone network: dials numbers and hands back our end of the call.
///
/// The returned endpoint first reports call progress (`Ringing`, then `Answered`, `Busy`,
/// `NoAnswer` or `Rejected`); after `Answered` it carries audio and DTMF until a hang-up.
pub trait PhoneNetwork: Send + Sync + 'static {
    fn dial(&self, req: DialRequest) -> BoxFuture<'_, Result<Endpoint, NetworkError>>;
}
