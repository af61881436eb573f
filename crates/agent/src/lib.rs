//! The agent's turn: the interview-flow interpreter that implements
//! [`parley_voice::agent::Agent`], and an optional OpenAI-compatible LLM.
//!
//! - [`flow_agent`]: [`FlowAgent`], which walks an agent's flow graph (speak, question, branch,
//!   webhook, transfer, end) one caller input at a time.
//! - [`understand`]: deterministic parsers for spoken answers (yes/no, numbers, dates and times,
//!   choices) and keypad presses.
//! - [`template`]: `{{metadata.KEY}}`, `{{attributes.KEY}}`, `{{contact.name}}`,
//!   `{{variables.KEY}}` in flow text, and the lookup of those names.
//! - [`branch`]: the conditions of branch nodes.
//! - [`llm`]: a streaming client for any OpenAI-compatible chat-completions endpoint.
//! - [`sentences`]: splits text (also text still streaming from the LLM) into sentences, so the
//!   first sentence is spoken before the rest exists.
//! - `fake` (feature `fake-llm`): a loopback fake LLM server for tests.
//!
//! The decision a reader may question: answers are understood by deterministic parsers first,
//! and the LLM is asked only when they give up. A flow must work with no LLM at all (self-hosted,
//! offline, free), the parsers answer in microseconds where an LLM round trip costs hundreds of
//! milliseconds of dead air, and they are predictable: the same "Nope." is a no on every call.
//! The parsers are therefore conservative (unsure means re-ask), and the LLM is the fallback.
//!
//! A captured date is a JSON object, not a string: `{"text": "Thursday at three pm",
//! "date": "2026-11-26", "time": "15:00" (or null), "iso": "2026-11-26T15:00"}`; templates
//! render it as its `text` (so "Noted: {{variables.new_time}}" repeats the caller's words) and
//! branch conditions compare its `iso`.

pub mod branch;
#[cfg(feature = "fake-llm")]
pub mod fake;
pub mod flow_agent;
pub mod llm;
pub mod sentences;
pub mod template;
pub mod understand;

pub use flow_agent::{AgentConfig, FlowAgent};
pub use llm::{LlmClient, LlmConfig, LlmError, Message};
pub use template::CallContext;
