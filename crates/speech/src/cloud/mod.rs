//! Cloud speech engines: the vendors' own streaming protocols behind Parley's session traits
//! ([`crate::session`]): Deepgram live transcription, OpenAI (or any OpenAI-compatible server)
//! transcription and speech over HTTP, ElevenLabs and Cartesia speech over WebSockets. Each
//! engine speaks its service's wire protocol exactly (paths, query parameters, headers, message
//! shapes, close semantics); the crate's tests hold a loopback fake of each service. Keys are
//! [`ApiKey`]s, which never print themselves.

pub mod cartesia;
pub mod deepgram;
pub mod elevenlabs;
pub mod openai;

mod key;
mod tts_order;
mod wire;

pub use key::ApiKey;
