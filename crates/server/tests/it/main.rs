//! Parley's integration tests, one binary: a real server on loopback over real SQLite and
//! PostgreSQL, real SIP peers (sipp, baresip), a fake Twilio speaking its wire protocols, the
//! real `parley` binary where processes matter. Helpers live in `tests/common`.
//!
//! Decision: one binary (as ripgrep's `tests/tests.rs`) instead of one per file: each binary
//! links the whole server, so twenty of them spent minutes of every CI run linking. Four stay
//! apart, each saying why at its top: `template_isolation` (it measures this process's peak
//! memory), `automation_clock` (it moves the process's clock), `heavy_load` (it measures
//! latency) and `voice_calls` (it times barge-in on the recording to 100 ms).
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod auth_and_input;
mod automation_crash;
mod automations;
mod browser_call;
mod calls_and_webhooks;
mod cli;
mod contacts;
mod graceful_stop;
mod isolation;
mod languages;
mod one_agent_every_network;
mod outbound;
mod phone_numbers;
mod sandbox_api;
mod secrets_at_rest;
mod sip_trunk;
mod speech_config;
mod twilio_calls;
mod voice_flows;
