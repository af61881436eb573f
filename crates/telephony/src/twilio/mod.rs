//! Twilio: calls placed and taken through a team's Twilio account, audio over Media Streams.
//!
//! - [`frames`]: the media-stream WebSocket messages and [`frames::MediaStream`], a sans-I/O
//!   session (text frames and time in; audio, DTMF, marks out; audio, marks, `clear` back).
//! - [`signature`]: `X-Twilio-Signature` validation of every request Twilio makes to Parley.
//! - [`twiml`]: the TwiML Parley answers with (`<Connect><Stream>`, `<Reject/>`).
//! - [`rest`]: the REST `Calls` client (create, hang up, cancel), base URL configurable.
//! - [`status`]: status callbacks mapped to call progress and failure reasons, and the inbound
//!   voice webhook.
//! - [`network`]: [`network::TwilioNetwork`], Twilio as a [`crate::PhoneNetwork`]: REST dialing,
//!   the signed webhook, status-callback and media-stream routes, and each call's leg task
//!   (`leg`) bridging the stream to an [`crate::Endpoint`].
//! - `fake` (tests, or the `fake-twilio` feature): a loopback Twilio speaking the real REST,
//!   webhook and WebSocket protocols, for this crate's tests and the server's.
//!
//! Decision: the protocol parts stay sans-I/O and separately tested; [`network`] is the only
//! shell with sockets, and it serves its routes through [`crate::PhoneNetwork::routes`] so the
//! server mounts them without knowing Twilio.

pub mod frames;
mod leg;
pub mod network;
pub mod rest;
mod routes;
pub mod signature;
pub mod status;
pub mod twiml;

#[cfg(any(test, feature = "fake-twilio"))]
pub mod fake;
#[cfg(any(test, feature = "fake-twilio"))]
pub mod party;

#[cfg(test)]
mod loopback_tests;
#[cfg(test)]
mod network_tests;
