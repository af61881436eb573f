//! Calls (queued with their dial jobs, run by the durable job runner) and signed, retried,
//! persisted webhook deliveries to a real receiver on loopback.

use crate::common;
use common::{events, eventually, wait_final, Client, Db, Receiver, TestServer};
use parley_core::webhook::verify_signature;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;

on_both_databases!(
    a_call_is_queued_dialed_and_reported,
    deliveries_retry_with_the_same_id_and_survive_restart,
    private_addresses_are_refused_unless_allowed,
    a_receiver_that_times_out_is_retried,
    campaigns_validate_everything_and_skip_dnc,
    hangup_cancels_a_queued_call,
    two_servers_share_the_queue_without_double_work,
);

async fn a_call_is_queued_dialed_and_reported(db: Db) {
    let ts = TestServer::start(db).await;
    let c = ts.team().await;
    let rx = Receiver::start(0).await;
    let agent = c.agent().await;
    let other_agent = c.agent().await;
    for t in ["CALL_PROGRESS", "NEW_RESPONSE"] {
        let w = c
            .post(
                "/webhooks/subscribe",
                json!({"type": t, "url": rx.url, "data": agent["id"]}),
            )
            .await
            .ok()
            .clone();
        assert_eq!(w["data"], agent["id"]);
    }
    // Subscribing twice is idempotent.
    c.post(
        "/webhooks/subscribe",
        json!({"type": "NEW_RESPONSE", "url": rx.url, "data": agent["id"]}),
    )
    .await
    .ok();
    assert_eq!(c.get("/webhooks").await.ok().as_array().unwrap().len(), 2);

    let contact = c
        .post(
            "/contact/create",
            json!({"phone_number": "+12125551100", "name": "Alex Morgan"}),
        )
        .await
        .ok()
        .clone();
    let call = c
        .post(
            "/contact/call",
            json!({"contact_id": contact["id"], "agent_id": agent["id"], "metadata": {"appointment": "Tuesday 3pm"}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(call["status"], "NOT_STARTED");
    assert_eq!(call["progress"], "queued");
    assert_eq!(call["type"], "PHONE_CALL");
    assert_eq!(call["interview"]["id"], agent["id"]);
    assert_eq!(call["contact"]["name"], "Alex Morgan");
    assert_eq!(call["metadata"]["appointment"], "Tuesday 3pm");
    let id = call["id"].as_str().unwrap();

    let done = wait_final(&c, id, 20).await;
    assert_eq!(done["status"], "FAILED");
    assert_eq!(done["end_reason"], "failed");
    assert!(
        done["call_failure_reason"].as_str().unwrap().contains("not reachable"),
        "{done}"
    );
    let steps: Vec<&str> = done["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["progress"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["queued", "dialing", "ended"]);
    assert!(done["end_time"].is_string() && done["duration_ms"].is_i64());

    // Webhooks: CALL_PROGRESS at each step, NEW_RESPONSE once with the final call, all signed.
    let secret = c.get("/webhooks/signing_secret").await.ok()["signing_secret"]
        .as_str()
        .unwrap()
        .to_string();
    eventually(20, "4 deliveries", || async {
        (rx.received().len() >= 4).then_some(())
    })
    .await;
    let progress: Vec<String> = events(&rx, "CALL_PROGRESS")
        .iter()
        .map(|b| b["progress"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(progress.len(), 3);
    assert_eq!(
        progress.iter().collect::<HashSet<_>>(),
        ["queued", "dialing", "ended"]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .iter()
            .collect()
    );
    let finals = events(&rx, "NEW_RESPONSE");
    assert_eq!(finals.len(), 1);
    assert_eq!(finals[0]["id"], id);
    assert_eq!(finals[0]["status"], "FAILED");
    assert_eq!(
        finals[0],
        c.get(&format!("/interview_response/{id}")).await.ok().clone(),
        "the body is the call object, bare"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut ids = HashSet::new();
    for r in rx.received() {
        let sig = r.headers["x-parley-signature"].to_str().unwrap();
        assert!(
            verify_signature(&secret, sig, r.body.as_bytes(), now, 300),
            "bad signature {sig}"
        );
        assert!(!verify_signature("whsec_other", sig, r.body.as_bytes(), now, 300));
        let d = r.headers["x-parley-delivery"].to_str().unwrap().to_string();
        assert!(uuid::Uuid::parse_str(&d).is_ok());
        ids.insert(d);
        assert_eq!(r.headers["content-type"], "application/json");
    }
    assert_eq!(ids.len(), 4, "one delivery id per event");

    // A call of another agent does not reach a subscription scoped to this one.
    let c2 = c.contact("+12125551101").await;
    let other = c
        .post(
            "/contact/call",
            json!({"contact_id": c2["id"], "interview_id": other_agent["id"]}),
        )
        .await
        .ok()
        .clone();
    wait_final(&c, other["id"].as_str().unwrap(), 20).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(rx.received().len(), 4);

    // Search the agent's calls.
    let r = c
        .get(&format!("/interview/{}/responses", agent["id"].as_str().unwrap()))
        .await
        .ok()
        .clone();
    assert_eq!(r["count"], 1);
    assert_eq!(r["responses"][0]["id"], id);
    assert!(r["all_response_tags"].is_array());
    let path = format!("/interview/{}/responses", agent["id"].as_str().unwrap());
    assert_eq!(c.get(&format!("{path}?status[]=FAILED")).await.ok()["count"], 1);
    assert_eq!(
        c.get(&format!("{path}?status[]=ENDED&status[]=NO_ANSWER")).await.ok()["count"],
        0
    );
    assert_eq!(c.get(&format!("{path}?search=morgan")).await.ok()["count"], 1);
    assert_eq!(c.get(&format!("{path}?search=nobody")).await.ok()["count"], 0);
    assert_eq!(
        c.get(&format!("{path}?status[]=LOST")).await.status,
        StatusCode::BAD_REQUEST
    );

    // DNC contacts are never called; archived agents take no calls.
    let dnc = c.contact("+12125551102").await;
    c.post(
        &format!("/contact/{}/update_info", dnc["id"].as_str().unwrap()),
        json!({"status": "DNC"}),
    )
    .await
    .ok();
    let r = c
        .post(
            "/contact/call",
            json!({"contact_id": dnc["id"], "interview_id": agent["id"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("DNC"), "{}", r.body);
    c.post(
        &format!("/interview/{}/toggle_archive", other_agent["id"].as_str().unwrap()),
        json!({}),
    )
    .await
    .ok();
    let r = c
        .post(
            "/contact/call",
            json!({"contact_id": c2["id"], "interview_id": other_agent["id"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("archived"));

    // Unsubscribe; the deliveries log keeps what was sent.
    let r = c
        .delete(
            "/webhooks/unsubscribe",
            Some(json!({"type": "NEW_RESPONSE", "url": rx.url, "data": agent["id"]})),
        )
        .await;
    r.ok();
    let r = c
        .delete(
            "/webhooks/unsubscribe",
            Some(json!({"type": "NEW_RESPONSE", "url": rx.url, "data": agent["id"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(c.get("/webhooks").await.ok().as_array().unwrap().len(), 1);
    let d = c.get("/webhooks/deliveries").await.ok().clone();
    assert_eq!(d.as_array().unwrap().len(), 4);
    assert!(
        d.as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "delivered" && d["attempts"] == 1 && d["last_status_code"] == 200),
        "{d}"
    );
}

async fn deliveries_retry_with_the_same_id_and_survive_restart(db: Db) {
    let mut ts = TestServer::start(db).await;
    let c = ts.team().await;
    // Fails twice with 500, then accepts.
    let rx = Receiver::start(2).await;
    let agent = c.agent().await;
    c.post("/webhooks/subscribe", json!({"type": "NEW_RESPONSE", "url": rx.url}))
        .await
        .ok();
    let contact = c.contact("+12125551100").await;
    let call = c
        .post(
            "/contact/call",
            json!({"contact_id": contact["id"], "interview_id": agent["id"]}),
        )
        .await
        .ok()
        .clone();
    eventually(20, "three attempts", || async {
        (rx.received().len() >= 3).then_some(())
    })
    .await;
    let got = rx.received();
    let ids: HashSet<_> = got
        .iter()
        .map(|r| r.headers["x-parley-delivery"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 1, "the delivery id is stable across retries");
    assert!(got.iter().all(|r| r.body == got[0].body), "the same body each time");
    let d = eventually(10, "delivered", || async {
        let d = c.get("/webhooks/deliveries").await.ok().clone();
        (d[0]["status"] == "delivered").then_some(d)
    })
    .await;
    assert_eq!(d[0]["attempts"], 3);
    assert_eq!(d[0]["last_status_code"], 200);
    assert_eq!(serde_json::from_str::<Value>(&got[0].body).unwrap()["id"], call["id"]);

    // Receiver down: deliveries stay pending through a restart and arrive when it is back.
    let addr = rx
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/hook")
        .to_string();
    rx.stop();
    let c2 = c.contact("+12125551101").await;
    let call2 = c
        .post(
            "/contact/call",
            json!({"contact_id": c2["id"], "interview_id": agent["id"]}),
        )
        .await
        .ok()
        .clone();
    eventually(20, "a failed attempt", || async {
        let d = c.get("/webhooks/deliveries").await.ok().clone();
        d.as_array()
            .unwrap()
            .iter()
            .any(|d| d["status"] == "pending" && d["attempts"].as_i64() >= Some(1))
            .then_some(())
    })
    .await;
    ts.restart().await;
    let c = Client {
        base: ts.base.clone(),
        ..c
    };
    let rx2 = Receiver::start_on(&addr, 0).await;
    eventually(20, "delivery after restart", || async {
        rx2.received()
            .iter()
            .any(|r| serde_json::from_str::<Value>(&r.body).unwrap()["id"] == call2["id"])
            .then_some(())
    })
    .await;
    let d = c.get("/webhooks/deliveries").await.ok().clone();
    assert!(d.as_array().unwrap().iter().all(|d| d["status"] == "delivered"), "{d}");
}

async fn private_addresses_are_refused_unless_allowed(db: Db) {
    let ts = TestServer::start_with(db, |s| s.allow_private_webhooks = false).await;
    let c = ts.team().await;
    let rx = Receiver::start(0).await;
    let agent = c.agent().await;
    c.post("/webhooks/subscribe", json!({"type": "NEW_RESPONSE", "url": rx.url}))
        .await
        .ok();
    let local = rx.url.replace("127.0.0.1", "localhost");
    c.post("/webhooks/subscribe", json!({"type": "NEW_RESPONSE", "url": local}))
        .await
        .ok();
    let contact = c.contact("+12125551100").await;
    c.post(
        "/contact/call",
        json!({"contact_id": contact["id"], "interview_id": agent["id"]}),
    )
    .await
    .ok();
    let d = eventually(20, "refused deliveries", || async {
        let d = c.get("/webhooks/deliveries").await.ok().clone();
        (d.as_array().unwrap().len() == 2 && d.as_array().unwrap().iter().all(|x| x["status"] == "failed")).then_some(d)
    })
    .await;
    for x in d.as_array().unwrap() {
        assert!(x["last_error"].as_str().unwrap().contains("private or loopback"), "{x}");
    }
    assert!(rx.received().is_empty(), "nothing reached the private address");
}

async fn campaigns_validate_everything_and_skip_dnc(db: Db) {
    let ts = TestServer::start(db).await;
    let c = ts.team().await;
    let agent = c.agent().await;
    let a = c
        .post(
            "/contact/create",
            json!({"phone_number": "+12125551100", "name": "Keep Me"}),
        )
        .await
        .ok()
        .clone();
    let dnc = c.contact("+12125551101").await;
    c.post(
        &format!("/contact/{}/update_info", dnc["id"].as_str().unwrap()),
        json!({"status": "DNC"}),
    )
    .await
    .ok();
    // Any invalid entry refuses the whole batch, naming each problem.
    let r = c
        .post("/job/create_job_by_contacts", json!({"interview_id": agent["id"], "contact_ids": [a["id"], "bogus"], "phone_numbers": ["123", "+12125551103"]}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.error().contains("contact_ids[1]") && r.error().contains("phone_numbers[0]"),
        "{}",
        r.body
    );
    let before = c
        .get(&format!("/interview/{}/responses", agent["id"].as_str().unwrap()))
        .await
        .ok()["count"]
        .clone();
    assert_eq!(before, 0, "nothing was queued");
    let r = c
        .post("/job/create_job_by_contacts", json!({"interview_id": agent["id"]}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = c
        .post(
            "/job/create_job_by_contacts",
            json!({"interview_id": agent["id"], "contact_ids": [a["id"], dnc["id"]],
            "phone_numbers": ["(212) 555-1100", "212 555 1104", "020 7946 0958"], "country_code": "+1"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "a UK number read as US is invalid: {}",
        r.body
    );
    let r = c
        .post(
            "/job/create_job_by_contacts",
            json!({"interview_id": agent["id"], "contact_ids": [a["id"], dnc["id"]],
            "phone_numbers": ["(212) 555-1100", "212 555 1104"]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(r["count"], 2, "{r}");
    let reasons: Vec<&str> = r["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons.iter().collect::<HashSet<_>>(),
        ["DNC", "duplicate"].iter().collect()
    );
    let job = r["job_id"].as_str().unwrap();
    let path = format!("/interview/{}/responses?job_id={job}", agent["id"].as_str().unwrap());
    let calls = c.get(&path).await.ok().clone();
    assert_eq!(calls["count"], 2);
    assert!(calls["responses"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["job_id"] == job));
    let kept = c
        .get(&format!("/contact/{}", a["id"].as_str().unwrap()))
        .await
        .ok()
        .clone();
    assert_eq!(kept["name"], "Keep Me", "an existing contact keeps its name");
    let new = c.get("/contact?search=5551104").await.ok().clone();
    assert_eq!(new["contacts"][0]["lead_source"], "API_BULK_UPLOAD");
}

async fn hangup_cancels_a_queued_call(db: Db) {
    // No job runner: the call stays queued until hung up.
    let ts = TestServer::start_with(db, |s| s.run_jobs = false).await;
    let c = ts.team().await;
    let agent = c.agent().await;
    let contact = c.contact("+12125551100").await;
    let call = c
        .post(
            "/contact/call",
            json!({"contact_id": contact["id"], "interview_id": agent["id"]}),
        )
        .await
        .ok()
        .clone();
    let id = call["id"].as_str().unwrap();
    let r = c
        .post(&format!("/interview_response/{id}/hangup"), json!({}))
        .await
        .ok()
        .clone();
    assert_eq!(r["status"], "FAILED");
    assert_eq!(r["end_reason"], "canceled");
    let again = c.post(&format!("/interview_response/{id}/hangup"), json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.error().contains("already ended"));
}

async fn two_servers_share_the_queue_without_double_work(db: Db) {
    // Two servers (as two processes would) on one database, both running jobs.
    let ts = TestServer::start(db).await;
    let mut second_settings = ts.settings.clone();
    second_settings.bind = "127.0.0.1:0".parse().unwrap();
    let second = parley_server::start(&second_settings, second_settings.open_store().await.unwrap())
        .await
        .unwrap();
    let c = ts.team().await;
    let rx = Receiver::start(0).await;
    c.post("/webhooks/subscribe", json!({"type": "CALL_PROGRESS", "url": rx.url}))
        .await
        .ok();
    let agent = c.agent().await;
    let numbers: Vec<String> = (0..30).map(|i| format!("+1212555{:04}", 2000 + i)).collect();
    let r = c
        .post(
            "/job/create_job_by_contacts",
            json!({"interview_id": agent["id"], "phone_numbers": numbers}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(r["count"], 30);
    eventually(60, "every call to end", || async {
        let r = c
            .get(&format!(
                "/interview/{}/responses?status[]=FAILED&limit=50",
                agent["id"].as_str().unwrap()
            ))
            .await;
        (r.ok()["count"] == 30).then_some(())
    })
    .await;
    eventually(30, "90 deliveries", || async {
        (rx.received().len() >= 90).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let got = events(&rx, "CALL_PROGRESS");
    assert_eq!(got.len(), 90, "queued, dialing, ended for each call, once each");
    for call in r["call_ids"].as_array().unwrap() {
        let steps: Vec<_> = got
            .iter()
            .filter(|b| b["id"] == *call)
            .map(|b| b["progress"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(steps.len(), 3, "{call}: {steps:?}");
    }
    second.stop().await;
}

async fn a_receiver_that_times_out_is_retried(db: Db) {
    let ts = TestServer::start_with(db, |s| s.webhook_timeout_ms = 300).await;
    let c = ts.team().await;
    // The first answer comes after 2 s, far past the 300 ms timeout.
    let rx = Receiver::start_slow(1, std::time::Duration::from_secs(2)).await;
    let agent = c.agent().await;
    c.post("/webhooks/subscribe", json!({"type": "NEW_RESPONSE", "url": rx.url}))
        .await
        .ok();
    let contact = c.contact("+12125551100").await;
    c.post(
        "/contact/call",
        json!({"contact_id": contact["id"], "interview_id": agent["id"]}),
    )
    .await
    .ok();
    let d = eventually(20, "delivered after a timeout", || async {
        let d = c.get("/webhooks/deliveries").await.ok().clone();
        (d[0]["status"] == "delivered").then_some(d)
    })
    .await;
    assert!(d[0]["attempts"].as_i64().unwrap() >= 2, "{d}");
    let got = rx.received();
    assert!(got.len() >= 2);
    assert_eq!(got[0].headers["x-parley-delivery"], got[1].headers["x-parley-delivery"]);
}
