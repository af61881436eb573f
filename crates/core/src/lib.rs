//! Parley's domain, with no I/O: everything here is plain data and pure functions, so it is
//! tested without a database, a network or a clock.
//!
//! - [`ids`]: random identifiers in the shapes the API fixes (UUIDs, 8-character agent ids,
//!   12-character automation ids) and API tokens, which are only ever stored hashed.
//! - [`phone`]: phone-number normalization and validation (libphonenumber metadata through the
//!   `phonenumber` crate) plus the sandbox ranges that ring the built-in network.
//! - [`contact`], [`interview`], [`call`]: the entities of the API, serialized exactly in the
//!   shapes of `API.md`, so the API, the webhook payloads and the stored JSON cannot drift apart.
//! - [`call`] also holds the call state machine: every status/progress change goes through
//!   [`call::CallState::apply`], so an impossible transition is an error, not a silent overwrite.
//! - [`number`]: a team's SIP trunks and phone numbers (how it reaches real phones), their
//!   validation, and the CIDR blocks of a trunk's inbound allow-list.
//! - [`flow`]: the voice agent's flow graph and its validation.
//! - [`speech`]: speech providers, the sides and languages each serves, an agent's choice of
//!   engine, and the record of a call's fallback to the embedded engine.
//! - [`persona`]: the scripts of the sandbox network's virtual people (built-in and team-defined).
//! - [`webhook`]: event types and the HMAC signature of deliveries.
//! - [`error`]: [`error::ValidationError`], the one error of this layer: a field and a message
//!   a person can act on. The API maps it to `400`.
//!
//! Decision worth knowing: entities serialize to the API shape directly (no separate DTO layer).
//! Thoughtly's shapes are the contract, and one definition keeps REST responses and webhook bodies
//! identical by construction.

/// `as_str` and `parse` between a fieldless enum and its API spelling, written once per enum
/// as a table (serde's rename covers JSON; these serve SQL columns and query strings).
macro_rules! str_enum {
    ($name:ident { $($variant:ident = $s:literal),* $(,)? }) => {
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

pub mod account;
pub mod call;
pub mod contact;
pub mod error;
pub mod flow;
pub mod ids;
pub mod interview;
pub mod number;
pub mod persona;
pub mod phone;
pub mod run;
pub mod speech;
pub mod time;
pub mod webhook;
pub mod zone;

pub use error::ValidationError;
