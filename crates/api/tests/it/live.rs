//! `GET /call/live`: a team's call changes as Server-Sent Events, in order, resumable from the
//! last event id, and only the team's own.

use crate::util::{ok, Api, Db};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;

/// Opens the stream as `team` with `token`, resuming after `last` when given.
async fn open(api: &Api, token: &str, team: &str, last: Option<&str>) -> axum::body::BodyDataStream {
    let mut req = Request::builder()
        .uri("/call/live")
        .header("x-api-token", token)
        .header("team_id", team);
    if let Some(l) = last {
        req = req.header("last-event-id", l);
    }
    let (status, headers, body) = api.stream(req.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/event-stream");
    body
}

/// The next `n` call events (id, call), failing after 10 s without them.
async fn next_events(body: &mut axum::body::BodyDataStream, n: usize) -> Vec<(String, Value)> {
    let mut text = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while out.len() < n {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("events within 10 s")
            .expect("the stream stays open")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim_start().to_string())
            };
            if field("event:").as_deref() == Some("call") {
                let data = serde_json::from_str(&field("data:").unwrap()).unwrap();
                out.push((field("id:").unwrap(), data));
            }
        }
    }
    out
}

async fn the_live_stream_tells_each_change_once_in_order_and_resumes(db: Db) {
    let api = Api::new(db).await;
    let (token, team) = api.credentials();
    let mut live = open(&api, &token, &team, None).await;
    // Another team's stream, opened before anything happens: it must stay silent.
    let (other, other_token) = api.store.create_team("other").await.unwrap();
    let mut theirs = open(&api, &other_token, &other.id, None).await;

    let agent = api.agent().await;
    let mut ids = Vec::new();
    for n in ["+12125550100", "+12125550101"] {
        let c = api.contact(n).await;
        let call = api
            .post(
                "/contact/call",
                json!({ "contact_id": c["id"], "interview_id": agent["id"] }),
            )
            .await;
        ids.push(ok(&call)["id"].as_str().unwrap().to_string());
    }
    let seen = next_events(&mut live, 2).await;
    let seen_ids: Vec<_> = seen
        .iter()
        .map(|(_, c)| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen_ids, ids);
    assert_eq!(seen[0].1["status"], "NOT_STARTED");

    // A change to the first call (a hang-up cancels it) comes next, on a stream resumed after
    // the first event: the second call, then the first one's new state.
    let r = api
        .post(&format!("/interview_response/{}/hangup", ids[0]), json!({}))
        .await;
    ok(&r);
    let mut resumed = open(&api, &token, &team, Some(&seen[0].0)).await;
    let again = next_events(&mut resumed, 2).await;
    assert_eq!(again[0].1["id"], ids[1].as_str());
    assert_eq!(again[1].1["id"], ids[0].as_str());
    assert_ne!(again[1].1["status"], "NOT_STARTED");
    let more = next_events(&mut live, 1).await;
    assert_eq!(more[0].1["id"], ids[0].as_str());

    let quiet = tokio::time::timeout(Duration::from_millis(1500), theirs.next()).await;
    assert!(quiet.is_err(), "another team's stream stayed silent: {quiet:?}");
}

on_both_databases!(the_live_stream_tells_each_change_once_in_order_and_resumes);
