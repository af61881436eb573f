//! Twilio: calls placed and taken through a team's Twilio account, audio over Media Streams.
//!
//! - [`frames`]: the media-stream WebSocket messages and [`frames::MediaStream`], a sans-I/O
//!   session (text frames and time in; audio, DTMF, marks out; audio, marks, `clear` back).
//! - [`signature`]: `X-Twilio-Signature` validation of every request Twilio makes to Parley.
//! - [`twiml`]: the TwiML Parley answers with (`<Connect><Stream>`, `<Reject/>`).
//! - [`rest`]: the REST `Calls` client (create, hang up, cancel), base URL configurable.
//! - [`status`]: status callbacks mapped to call progress and failure reasons, and the inbound
//!   voice webhook.
//! - `fake` (tests, or the `fake-twilio` feature): a loopback Twilio speaking the real REST,
//!   webhook and WebSocket protocols, for this crate's tests and the server's.
//!
//! Decision: everything here is protocol, none of it is a [`crate::PhoneNetwork`] yet. Wiring a
//! Twilio call to an [`crate::Endpoint`] needs the server's HTTP routes (webhooks and the
//! WebSocket live on Parley's public URL), so that shell belongs with the server; these parts are
//! what it calls.

pub mod frames;
pub mod rest;
pub mod signature;
pub mod status;
pub mod twiml;

#[cfg(any(test, feature = "fake-twilio"))]
pub mod fake;

#[cfg(test)]
mod loopback_tests;
