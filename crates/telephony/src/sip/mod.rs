//! SIP trunking, sans-I/O: bytes, time and user operations in; bytes, events and the next
//! wake-up out. Sockets, DNS and TLS live in a thin shell elsewhere.
//!
//! - [`message`]: parse/serialize SIP messages (own parser: bounded, fuzzed, never panics).
//! - [`headers`]: typed views of Via, From/To/Contact/Route, CSeq, URIs.
//! - [`sdp`]: G.711 offer/answer (PCMU, PCMA, telephone-event), hold, the [`Negotiated`] media.
//! - [`digest`]: RFC 2617/7616 digest answers to 401/407 (MD5, SHA-256).
//! - [`transaction`]: RFC 3261 timers, the non-INVITE client transaction, [`Transmit`].
//! - [`dialog`], [`call`]: the dialog and the in-dialog handling both directions share.
//! - [`uac`]: an outbound call; [`uas`]: an inbound call.
//! - [`policy`]: the allow-list (CIDRs) and per-source rate limit applied before any state.
//! - [`endpoint`]: one socket's router over all calls; what the shell drives.
//! - [`framing`]: cutting messages off TCP/TLS streams.
//!
//! Decision: one [`Endpoint`] per socket, polled like str0m: after any input call
//! `poll_transmit` and `poll_event` until `None`, then sleep until `poll_timeout` and call
//! `handle_timeout`. No method reads the clock; every one takes `now`.

pub mod call;
pub mod cause;
pub mod dialog;
pub mod digest;
pub mod endpoint;
pub mod framing;
pub mod headers;
pub mod message;
pub mod policy;
pub mod sdp;
pub mod transaction;
pub mod uac;
pub mod uas;

#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests_endpoint;
#[cfg(test)]
mod tests_message;
#[cfg(test)]
mod tests_uac;
#[cfg(test)]
mod tests_uas;

pub use call::CallEvent;
pub use cause::{Cause, CauseKind};
pub use endpoint::{CallHandle, Endpoint, EndpointConfig, EndpointError, EndpointEvent};
pub use framing::{FramingError, StreamFramer};
pub use message::{Message, Method, ParseError};
pub use policy::{Admission, Cidr, CidrAllowList, InboundPolicy, RateLimiter};
pub use sdp::{Codec, Direction, LocalMedia, Negotiated};
pub use transaction::{Transmit, Transport};
pub use uac::{DialParams, Uac};
pub use uas::{IncomingCall, Uas};

/// The UAC's events are the shared call events.
pub type UacEvent = CallEvent;
