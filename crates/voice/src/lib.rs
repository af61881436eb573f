//! The real-time voice pipeline of one call, and the sandbox personas who answer it.
//!
//! - [`agent`]: the contract between the pipeline and whatever takes the agent's turns. The
//!   pipeline knows nothing of flows or LLMs (`parley-agent` implements [`agent::Agent`]), so the
//!   dependency points from the agent to the voice layer.
//! - [`pipeline`]: one call: the 20 ms clock driving a chain of processors, the slow parts
//!   (speech-to-text, the agent, text-to-speech) beside it, and the call's report.
//!   [`pipeline::core`] is the call without I/O ([`pipeline::CallCore`]: an input with its
//!   time in, the outputs to perform out), so a whole call can be driven in a test with
//!   made-up time; [`pipeline::run_call`] is the shell that reads the clock and the line.
//! - [`frame`]: the typed frames the processors pass (audio, speech start and end, transcripts,
//!   the agent's text and audio, interruptions, ...) and the processor contract.
//! - [`processors`]: the chain's stages: endpointing with speculative speech-to-text, barge-in
//!   and backchannels, silence re-prompts, answering-machine screening, the agent bridge, the
//!   speaker, playback pacing, the conversation and per-turn latency.
//! - [`vad`], [`tone`]: frame classifiers (speech; an answering machine's beep).
//! - [`playback`]: the outgoing queue of sentences and markers, by turn.
//! - [`engines`]: bounded async pools in front of the blocking speech engines, and the cache of
//!   fixed texts' audio.
//! - [`recorder`]: the stereo recording (caller left, agent right).
//! - [`persona`]: scripted virtual callers for the sandbox network.
//!
//! Decision: the processors are synchronous state machines driven by one task per call, with
//! time passed in as frames (and the chain as a whole, the call's core, takes its time with
//! its inputs too); only speech engines and the agent run elsewhere. A per-processor
//! task chain would add a channel hop per frame and make the ordering of barge-in against
//! playback a race; a synchronous chain keeps each processor testable on its own, frame in,
//! frames out.

pub mod agent;
pub mod engines;
pub mod frame;
pub mod persona;
pub mod pipeline;
pub mod playback;
pub mod processors;
pub mod recorder;
pub mod tone;
pub mod vad;
