//! Cloud speech engines: the vendors' own streaming protocols behind Parley's session traits
//! ([`crate::session`]). Each engine speaks its service's wire protocol exactly (paths, query
//! parameters, headers, message shapes, close semantics); the crate's tests hold a loopback
//! fake of each service. Keys are [`ApiKey`]s, which never print themselves.

pub mod cartesia;
pub mod elevenlabs;

mod key;
mod tts_order;
mod wire;

pub use key::ApiKey;
