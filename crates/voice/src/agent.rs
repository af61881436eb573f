//! The contract between the voice pipeline and the agent that takes the agent's turns.
//!
//! The pipeline turns audio into [`AgentInput`]s and [`AgentOutput`]s into audio. An agent
//! handles one input at a time and streams its outputs as soon as each is ready, so the first
//! sentence of a reply is synthesized and played while the rest is still being generated.
//! The pipeline may drop a `handle` future at any await point (the caller barged in, or hung
//! up): an agent must leave its state consistent at every await.

use std::future::Future;
use tokio::sync::mpsc;

/// What happened on the caller's side, as the agent sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentInput {
    /// The call was answered by a person: the agent speaks first.
    Start,
    /// The caller finished an utterance (endpointed and transcribed).
    Utterance { text: String },
    /// The caller went on right after their last utterance ended the turn (they had only
    /// paused, "So the thing is ... my card expired last week."), and the agent's reply to it
    /// had not been heard out: `whole` is both parts, `added` what came after the pause.
    /// An agent that can take its last turn back (nothing it did in it reached the world, such
    /// as a webhook) answers `whole` as if the first part had never ended the turn; one that
    /// cannot answers `added` as a new utterance.
    Continued { whole: String, added: String },
    /// The caller stayed silent for the configured silence window after the agent listened.
    Silence,
    /// The caller pressed a key (`0-9`, `*`, `#`, `A-D`).
    Dtmf(char),
}

/// What the agent asks the pipeline to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentOutput {
    /// Speak this text (one sentence or a short phrase). `fixed` marks text that is the same
    /// on every call (a greeting, a question after templating); the pipeline caches its audio.
    Say { text: String, fixed: bool },
    /// The agent's turn is over: it now waits for the caller.
    Listen,
    /// Transfer the call to this E.164 number after the queued speech has played.
    Transfer { phone_number: String },
    /// End the call after the queued speech has played.
    Hangup,
    /// A side action failed (a mid-call webhook): reported as an `ACTION_FAILED` webhook.
    ActionFailed { action: String, error: String },
}

/// The agent's results, read by the pipeline when the call ends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentResults {
    /// The outcome tag of the `end` node reached (or e.g. `no_response` after repeated silence).
    pub outcome: Option<String>,
    /// The variables captured so far (question answers, webhook results).
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// The number the call was transferred to, if it was.
    pub transferred_to: Option<String>,
    /// The agent's walk, for replay: one entry per step, in the agent's own terms (a flow
    /// agent: each node entered, when, the handle it left by and why).
    pub path: Vec<serde_json::Value>,
}

/// The call's summary, as Thoughtly's `summary_data`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub summary: String,
    pub response_tags: Vec<String>,
}

/// Takes the agent's turns of one call.
pub trait Agent: Send + 'static {
    /// Handles one input, sending outputs on `out` as they become ready, ending with
    /// [`AgentOutput::Listen`], [`AgentOutput::Transfer`] or [`AgentOutput::Hangup`].
    fn handle(&mut self, input: AgentInput, out: &mpsc::Sender<AgentOutput>) -> impl Future<Output = ()> + Send;

    /// What the agent captured, for the call record.
    fn results(&self) -> AgentResults;

    /// Summarizes the finished call from its transcript ("Agent: …" / "Caller: …" lines).
    fn summarize(&self, transcript: &str) -> impl Future<Output = Summary> + Send;
}
