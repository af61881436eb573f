//! The API's integration tests, one binary: the router of `parley_api::router` over real SQLite
//! and PostgreSQL, each request handed to it in this process (`tower::ServiceExt::oneshot`).
//! Helpers live in `util`. `accounts`: the dashboard's sign-in, sessions, CSRF and team
//! settings; `agents_and_analytics`: drafts, versions, calls by direction, analytics; `input_bounds`: the bad-input
//! matrix; `live`: the calls' Server-Sent Events; `openapi`: the document against the routes.
//!
//! Decision: tests that need nothing but the API live here rather than in the server's tests,
//! which start a whole server per test (HTTP listener, settings, template workers) and talk to it
//! over loopback: the bad-input matrix alone sends thousands of requests. Tests that need the
//! job runner, calls or the real network stay in `crates/server/tests`. One binary (as ripgrep's
//! `tests/tests.rs` with `mod util`), so each helper is used somewhere and none is compiled twice.
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod util;

mod accounts;
mod agents_and_analytics;
mod input_bounds;
mod live;
mod openapi;
