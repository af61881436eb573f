//! Two clients sending the heaviest inputs the API accepts, concurrently and over and over, leave
//! `/health` answering quickly, on both databases.
//!
//! The heaviest accepted inputs: a contact at every limit (100 tags of 64 characters, 100
//! attributes with 64-character keys and 2 KiB values, the longest name and email), a voice
//! agent whose flow fills the 1 MiB body (500 nodes, 2000 edges, texts full of placeholders), a
//! campaign of 1000 numbers, an automation of 500 steps full of templates that read earlier
//! steps, and a persona of 200 steps and 50 rules. The server is a real `parley serve` process
//! (a debug build in CI), so the clients and the probe do not share its threads.
//!
//! `/health` is probed from a thread of its own every 10 ms for the whole run; the assertion is
//! on its 99th percentile. Measured in a debug build on 2 cores shared with other builds: p50
//! 1-1.5 ms, p99 20-45 ms (max 35-125 ms) on both databases; idle p99 1-13 ms.
//!
//! A test binary of its own, apart from `tests/it`: it measures latency, so it must not share the
//! machine with the other tests (binaries run one after another).
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

// This binary uses a few of the shared helpers; the rest are `tests/it`'s.
#[allow(dead_code)]
mod common;
use common::process::Deployment;
use common::{Client, Db};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

on_both_databases!(health_stays_fast_under_the_heaviest_accepted_inputs);

/// How long the two clients keep sending.
const LOAD: Duration = Duration::from_secs(15);
/// The bound on `/health`'s 99th percentile under that load. Before the bounds a single request
/// could freeze every endpoint for seconds; with them the measured p99 is 20-45 ms in a debug
/// build (see the module's doc and the test's output), so 100 ms leaves room for a slow CI
/// machine and still fails the moment requests hold the server's threads for a tenth of a second
/// (validating the largest flow alone takes ~70 ms of CPU in a debug build).
const HEALTH_P99_LIMIT: Duration = Duration::from_millis(100);

fn heavy_contact(i: usize) -> Value {
    let tags: Vec<String> = (0..100).map(|t| format!("{t:02}{}", "t".repeat(62))).collect();
    let attributes: serde_json::Map<String, Value> = (0..100)
        .map(|a| (format!("{a:02}{}", "k".repeat(62)), json!("v".repeat(2048))))
        .collect();
    json!({
        "phone_number": format!("+1201557{:04}", i % 1000),
        "name": "n".repeat(200),
        "email": format!("{}@{}.com", "e".repeat(64), "d".repeat(185)),
        "tags": tags,
        "attributes": attributes,
    })
}

/// A flow at the flow limits that fills most of the 1 MiB body.
fn heavy_flow() -> Value {
    let text = "Hello {{contact.name}}, about {{metadata.slot}} ".repeat(16);
    let mut nodes = vec![json!({"id": "start", "type": "start", "data": {}})];
    let mut edges = vec![json!({"id": "e0", "source": "start", "sourceHandle": "next", "target": "q1"})];
    let choices: Vec<String> = (0..10).map(|c| format!("choice {c}")).collect();
    let last = 499;
    let mut spare = 2000 - 1 - (last - 1);
    for i in 1..last {
        let next = if i + 1 == last {
            "end".to_string()
        } else {
            format!("q{}", i + 1)
        };
        nodes.push(json!({"id": format!("q{i}"), "type": "question", "data": {
            "question": text, "variable": format!("v{i}"), "kind": "choice", "choices": choices}}));
        for (k, c) in choices.iter().enumerate() {
            if k > 0 {
                if spare == 0 {
                    break;
                }
                spare -= 1;
            }
            edges
                .push(json!({"id": format!("e{i}-{k}"), "source": format!("q{i}"), "sourceHandle": c, "target": next}));
        }
    }
    nodes.push(json!({"id": "end", "type": "end", "data": {"outcome": "done", "message": "Bye {{variables.v1}}"}}));
    json!({"nodes": nodes, "edges": edges})
}

fn heavy_automation() -> Value {
    let steps: Vec<Value> = (0..500)
        .map(|i| {
            let reads: Vec<String> = (0..10)
                .map(|k| {
                    if i == 0 {
                        format!("{{{{ contact.name }}}}-{k}")
                    } else {
                        format!(
                            "{{{{ steps.s{}.tags | length }}}}-{{{{ contact.phone_number }}}}-{k}",
                            i - 1
                        )
                    }
                })
                .collect();
            let mut s = json!({"slug": format!("s{i}"), "type": "add_tag", "tags": reads});
            if i < 499 {
                s["next"] = json!(format!("s{}", i + 1));
            }
            s
        })
        .collect();
    json!({"name": "heavy", "trigger": {"type": "contact_created"}, "steps": steps})
}

fn heavy_persona() -> Value {
    let say = json!({"action": "say", "text": format!("{}|{}", "a".repeat(249), "b".repeat(250))});
    json!({
        "name": "p".repeat(100),
        "voicemail_greeting": "g".repeat(1000),
        "steps": vec![say.clone(); 200],
        "rules": vec![json!({"when_heard": "w".repeat(200), "then": say}); 50],
    })
}

/// The heavy requests, serialized once (the clients spend their time sending, not encoding).
fn heavy_requests(agent_id: &str) -> Vec<(String, Vec<u8>)> {
    let numbers: Vec<String> = (0..1000).map(|i| format!("+1201556{i:04}")).collect();
    let mut reqs = vec![
        (
            "/interview/create".to_string(),
            json!({"title": "heavy", "flow": heavy_flow()}),
        ),
        (
            "/job/create_job_by_contacts".to_string(),
            json!({"interview_id": agent_id, "phone_numbers": numbers}),
        ),
        ("/automation".to_string(), heavy_automation()),
        ("/sandbox/personas".to_string(), heavy_persona()),
    ];
    for i in 0..4 {
        reqs.push(("/contact/create".to_string(), heavy_contact(i)));
    }
    reqs.into_iter()
        .map(|(p, b)| (p, serde_json::to_vec(&b).unwrap()))
        .collect()
}

async fn send(c: &Client, path: &str, body: &[u8]) -> (reqwest::StatusCode, String) {
    let r = c
        .http
        .post(format!("{}{path}", c.base))
        .header("x-api-token", &c.token)
        .header("team_id", &c.team_id)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = if status.is_success() {
        let _ = r.bytes().await;
        String::new()
    } else {
        r.text().await.unwrap_or_default()
    };
    (status, text)
}

/// `/health` every 10 ms from its own thread and runtime until `stop`; every latency.
fn probe(base: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Duration>> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let http = reqwest::Client::new();
            let url = format!("{base}/health");
            let mut took = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let started = Instant::now();
                let r = http.get(&url).send().await.unwrap();
                assert!(r.status().is_success(), "/health: {}", r.status());
                let _ = r.bytes().await;
                took.push(started.elapsed());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            took
        })
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// One load at a time: the SQLite and PostgreSQL variants run in parallel otherwise, and four
/// heavy clients on two cores measure the machine, not the server.
static ONE_LOAD_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn health_stays_fast_under_the_heaviest_accepted_inputs(db: Db) {
    let _one = ONE_LOAD_AT_A_TIME.lock().await;
    let mut d = Deployment::new(db).await;
    d.env.push(("PARLEY_RUN_JOBS".into(), "0".into()));
    let team = d.team();
    let server = d.serve("load").await;
    let c = server.client(&team);
    let agent = c.agent().await;
    let reqs = Arc::new(heavy_requests(agent["id"].as_str().unwrap()));
    // Each is accepted: the heaviest inputs within the bounds, not refused ones.
    for (path, body) in reqs.iter() {
        assert!(body.len() < 1 << 20, "{path}: {} bytes", body.len());
        let (status, text) = send(&c, path, body).await;
        assert!(status.is_success(), "{path} ({} bytes): {status} {text}", body.len());
    }

    let idle = {
        let stop = Arc::new(AtomicBool::new(false));
        let h = probe(server.base.clone(), stop.clone());
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.store(true, Ordering::SeqCst);
        let mut t = h.join().unwrap();
        t.sort();
        percentile(&t, 0.99)
    };

    let stop = Arc::new(AtomicBool::new(false));
    let prober = probe(server.base.clone(), stop.clone());
    let end = Instant::now() + LOAD;
    let mut clients = Vec::new();
    for k in 0..2 {
        let (c, reqs) = (c.clone(), reqs.clone());
        clients.push(tokio::spawn(async move {
            let mut sent = 0usize;
            while Instant::now() < end {
                for (path, body) in reqs.iter().skip(k) {
                    let (status, text) = send(&c, path, body).await;
                    assert!(status.is_success(), "{path}: {status} {text}");
                    sent += 1;
                }
            }
            sent
        }));
    }
    let mut sent = 0;
    for h in clients {
        sent += h.await.unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    let mut took = prober.join().unwrap();
    took.sort();
    let (p50, p99, max) = (percentile(&took, 0.5), percentile(&took, 0.99), *took.last().unwrap());
    eprintln!(
        "{db:?}: {sent} heavy requests in {LOAD:?}; /health idle p99 {idle:?}; under load ({} probes) p50 {p50:?}, p99 {p99:?}, max {max:?}",
        took.len()
    );
    assert!(took.len() > 200, "the probe ran throughout ({} probes)", took.len());
    assert!(
        p99 < HEALTH_P99_LIMIT,
        "/health p99 {p99:?} under load (p50 {p50:?}, max {max:?}, idle p99 {idle:?})"
    );
}
