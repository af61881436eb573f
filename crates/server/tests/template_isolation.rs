//! Templates bounded in memory, not only in instructions: a step whose template would build
//! hundreds of megabytes (string repeats, doubling concatenations, `replace`, in a render, an
//! expression or a JSON body) fails with a clear error, and the server's own memory does not
//! move, because such templates render in a worker process under a memory limit.
//!
//! The server runs in this test process, so its peak resident memory (`VmHWM`) is this
//! process's: each bomb below would add at least 400 MB to it if rendered in process. That is
//! why this file is a test binary of its own, apart from `tests/it`: another test's server in
//! the same process would move the peak.
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

// This binary uses a few of the shared helpers; the rest are `tests/it`'s.
#[allow(dead_code)]
mod common;

use common::automation::{fire, step, wait_run};
use common::{Db, TestServer};
use serde_json::{json, Value};

/// The tests of this file take turns: each measures this process's peak memory, which another
/// test's server starting meanwhile (speech models) would move.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024
}

/// One live webhook automation per bomb, each in the step field where it is evaluated. The
/// sizes come from the webhook's payload (`p`), so nothing is computed when the automation is
/// saved; constants are the case of [`constant_bombs_are_refused_when_saved`].
fn bombs() -> Vec<(&'static str, Value)> {
    let end = |outcome: &str| json!([{"slug": "boom", "type": "end", "outcome": outcome}]);
    vec![
        (
            "repeat and concatenate",
            end("{% set p = trigger.payload %}{% set a = p.x * p.n100m %}{% set b = a ~ a %}{% set c = b ~ b %}{{ c | length }}"),
        ),
        (
            "replace",
            end("{% set p = trigger.payload %}{% set a = p.x * p.n40k %}{{ a | replace(p.x, a) | length }}"),
        ),
        (
            "doubling in a loop",
            end("{% set ns = namespace(s=trigger.payload.x) %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}"),
        ),
        (
            "condition expression",
            json!([{"slug": "boom", "type": "condition", "mode": "all",
                    "rules": [{"variable": "(trigger.payload.x * trigger.payload.n60m) ~ (trigger.payload.x * trigger.payload.n60m)", "op": "exists"}],
                    "then": "done"},
                   {"slug": "done", "type": "end"}]),
        ),
        (
            "loop items",
            json!([{"slug": "boom", "type": "loop", "items": "[(trigger.payload.x * trigger.payload.n60m) ~ (trigger.payload.x * trigger.payload.n60m)]",
                    "max_items": 5, "body": "done"},
                   {"slug": "done", "type": "end"}]),
        ),
        (
            "JSON body value",
            json!([{"slug": "boom", "type": "http_request", "url": "http://127.0.0.1:9/",
                    "body": {"big": "{{ trigger.payload.x * trigger.payload.n50m }}"}}]),
        ),
    ]
}

fn payload() -> Value {
    json!({"x": "x", "n100m": 100_000_000, "n60m": 60_000_000, "n50m": 50_000_000, "n40k": 40_000})
}

async fn template_bombs_fail_their_step_and_leave_memory_alone(db: Db) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let s = TestServer::start_with(db, |s| s.rate_limit_per_minute = 0).await;
    let c = s.team().await;
    let before = peak_rss_mb();
    for (name, steps) in bombs() {
        let a = c
            .post(
                "/automation",
                json!({"name": name, "mode": "live", "trigger": {"type": "webhook"}, "steps": steps}),
            )
            .await
            .ok()
            .clone();
        let id = a["id"].as_str().unwrap();
        let run_id = fire(&c, id, payload()).await.data()["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        let run = wait_run(&c, &run_id, 60).await;
        assert_eq!(run["status"], "failed", "{name}: {run}");
        let error = step(&run, "boom")["error"].as_str().unwrap_or_default().to_string();
        assert!(
            error.contains("memory budget") || error.contains("exceeds"),
            "{name}: the step's error names the budget: {error}"
        );
    }
    let grown = peak_rss_mb().saturating_sub(before);
    assert!(grown < 100, "the server's peak memory grew by {grown} MB");

    // The workers that were stopped are replaced: an ordinary template still renders, in a
    // worker (it has a filter) and in process (a plain look-up).
    let a = c
        .post(
            "/automation",
            json!({"name": "fine", "mode": "live", "trigger": {"type": "webhook"},
                   "steps": [{"slug": "ok", "type": "end",
                              "outcome": "{{ trigger.payload.name | upper }} {{ trigger.payload.name }}"}]}),
        )
        .await
        .ok()
        .clone();
    let run_id = fire(&c, a["id"].as_str().unwrap(), json!({"name": "sam"})).await.data()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = wait_run(&c, &run_id, 30).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(step(&run, "ok")["output"]["outcome"], "SAM sam");
}

/// Compiling a template computes its constant expressions, so a bomb made of constants is
/// already refused when the automation is saved (it is compiled in a worker too), with the
/// budget named on its step's field; the server's memory does not move either.
async fn constant_bombs_are_refused_when_saved(db: Db) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let s = TestServer::start_with(db, |s| s.rate_limit_per_minute = 0).await;
    let c = s.team().await;
    let before = peak_rss_mb();
    let r = c
        .post(
            "/automation",
            json!({"name": "constant", "mode": "live", "trigger": {"type": "webhook"},
                   "steps": [{"slug": "boom", "type": "end",
                              "outcome": "{% set a = 'x' * 100000000 %}{% set b = a ~ a %}{% set c = b ~ b %}{{ c | length }}"}]}),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let problems = r.body["problems"].to_string();
    assert!(
        problems.contains("steps[0] (boom).outcome") && problems.contains("memory budget"),
        "{problems}"
    );
    let grown = peak_rss_mb().saturating_sub(before);
    assert!(grown < 100, "the server's peak memory grew by {grown} MB");
}

/// A template that runs for too long within its memory and fuel (each `length` of a 50 MB
/// string counts its characters) is stopped by time.
async fn slow_templates_are_stopped_by_time(db: Db) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let s = TestServer::start_with(db, |s| {
        s.rate_limit_per_minute = 0;
        s.template_timeout_ms = 300;
        s.template_memory_mb = 256;
    })
    .await;
    let c = s.team().await;
    let a = c
        .post(
            "/automation",
            json!({"name": "slow", "mode": "live", "trigger": {"type": "webhook"},
                   "steps": [{"slug": "boom", "type": "end",
                              "outcome": "{% set a = trigger.payload.ab * 25000000 %}{% for i in range(1000) %}{% set n = a | length %}{% endfor %}done"}]}),
        )
        .await
        .ok()
        .clone();
    let run_id = fire(&c, a["id"].as_str().unwrap(), json!({"ab": "ab"})).await.data()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = wait_run(&c, &run_id, 30).await;
    assert_eq!(run["status"], "failed", "{run}");
    let error = step(&run, "boom")["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("took longer than 300 ms"), "{error}");
}

on_both_databases!(
    template_bombs_fail_their_step_and_leave_memory_alone,
    constant_bombs_are_refused_when_saved,
    slow_templates_are_stopped_by_time
);
