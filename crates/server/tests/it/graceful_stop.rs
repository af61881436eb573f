//! `parley serve` stopped with SIGTERM (what systemd, Kubernetes and `kill` send) stops as
//! gracefully as with Ctrl-C: a request in flight is answered, the process exits 0 and says so,
//! and a job it could not finish is handed back, so another process runs it at once rather than
//! when its lease runs out.

use crate::common;

use common::process::Deployment;
use common::{eventually, into_resp, Db, Receiver};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_databases!(sigterm_stops_gracefully_and_hands_jobs_back);

/// A lease far longer than the test: a job picked up quickly was handed back, not expired.
const LEASE_SECS: &str = "120";

async fn sigterm_stops_gracefully_and_hands_jobs_back(db: Db) {
    let mut dep = Deployment::new(db).await;
    let team = dep.team();
    let env = [
        ("PARLEY_JOB_LEASE_SECS", LEASE_SECS),
        ("PARLEY_SHUTDOWN_GRACE_SECS", "3"),
    ];
    let mut first = dep
        .serve_with("first", |c| {
            c.envs(env);
        })
        .await;
    let c = first.client(&team);

    // A run whose HTTP step hangs: the receiver answers its first request after a minute.
    let rx = Receiver::start_slow(1, Duration::from_secs(60)).await;
    let a = c
        .post(
            "/automation",
            json!({"name": "slow", "mode": "live", "trigger": {"type": "webhook"},
                   "steps": [{"slug": "post", "type": "http_request", "method": "POST", "url": rx.url,
                              "body": {"n": "{{ trigger.payload.n }}"}}]}),
        )
        .await
        .ok()
        .clone();
    let id = a["id"].as_str().unwrap();
    let fired = into_resp(
        c.http
            .post(format!("{}/webhook/automation/{id}", c.base))
            .json(&json!({"n": 1}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(fired.status, 202, "{}", fired.body);
    let run_id = fired.data()["run_id"].as_str().unwrap().to_string();
    eventually(20, "the HTTP step in flight", || async {
        (!rx.received().is_empty()).then_some(())
    })
    .await;

    // A request in flight: its body arrives in two parts, SIGTERM between them.
    let body = r#"{"phone_number": "+12125550123", "name": "Sam"}"#;
    let (head, tail) = body.split_at(20);
    let mut conn = tokio::net::TcpStream::connect(first.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let request = format!(
        "POST /contact/create HTTP/1.1\r\nhost: x\r\nx-api-token: {}\r\nteam_id: {}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{head}",
        team.token,
        team.team_id,
        body.len()
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = Instant::now();
    first.terminate();
    tokio::time::sleep(Duration::from_millis(500)).await;
    conn.write_all(tail.as_bytes()).await.unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the request in flight is answered: {answer}"
    );
    assert!(answer.contains("+12125550123"), "{answer}");

    let status = first.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(status.code(), Some(0), "a clean exit:\n{}", first.log_tail(30));
    let took = stopping.elapsed();
    assert!(took < Duration::from_secs(10), "stopped within the grace: {took:?}");
    let log = first.log_text();
    assert!(
        log.contains("stopping gracefully") && log.contains("SIGTERM") && log.contains("stopped gracefully"),
        "{log}"
    );
    assert!(log.contains("handed unfinished jobs back"), "{log}");

    // Another process runs the step again at once, not after the 120-s lease.
    let second = dep
        .serve_with("second", |c| {
            c.envs(env);
        })
        .await;
    let c = second.client(&team);
    let picked_up = Instant::now();
    eventually(15, "the step sent again by the second process", || async {
        (rx.received().len() >= 2).then_some(())
    })
    .await;
    assert!(picked_up.elapsed() < Duration::from_secs(15));
    let run = common::automation::wait_run(&c, &run_id, 20).await;
    assert_eq!(run["status"], "completed", "{run}");
    let contacts: Value = c.get("/contact?search=Sam").await.ok().clone();
    assert_eq!(
        contacts["count"], 1,
        "the request answered during the stop was committed"
    );
}
