//! OpenAI's audio endpoints, or any server that copies them (a local Whisper or TTS server that
//! speaks "the OpenAI API"): transcription ([`OpenAiStt`]) and speech ([`OpenAiTts`]) over plain
//! HTTP requests, behind Parley's session traits.
//!
//! What they share: the base URL includes the API version (`https://api.openai.com/v1` by
//! default) so a compatible server's own prefix works as is; the key is optional (a local
//! server may take none, and then no `Authorization` header is sent at all; with one it is
//! `Authorization: Bearer <key>`); errors come as a status with OpenAI's JSON error body
//! (`{"error": {"message", "type", "code"}}`), and every failure fails the session, so the call
//! falls back to the embedded engine rather than going quiet.

mod http;
mod stt;
mod tts;

pub use stt::{OpenAiStt, OpenAiSttConfig, UploadRate};
pub use tts::{OpenAiTts, OpenAiTtsConfig, SpeechFormat, OPENAI_PCM_RATE};
