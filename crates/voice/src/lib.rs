//! The real-time voice pipeline of one call (work in progress).
//!
//! - [`agent`]: the interface between the pipeline and whatever takes the agent's turn. The
//!   pipeline knows nothing of flows or LLMs (those live in `parley-agent`, which implements
//!   [`agent::Agent`]), so the dependency points from the agent to the voice layer.

pub mod agent;
