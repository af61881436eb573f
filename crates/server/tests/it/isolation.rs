//! Teams are isolated: team B can neither read, list, change, delete, call nor subscribe to
//! anything of team A, and gets exactly the answer it gets for an object that does not exist.

use crate::common;
use common::{eventually, Db, TestServer};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(another_team_sees_nothing);

async fn another_team_sees_nothing(db: Db) {
    let ts = TestServer::start(db).await;
    let a = ts.team().await;
    let b = ts.team().await;
    let contact = a
        .post(
            "/contact/create",
            json!({"phone_number": "+12125551100", "name": "Alice", "tags": ["a-only"]}),
        )
        .await
        .ok()
        .clone();
    let agent = a.agent().await;
    a.post(
        "/webhooks/subscribe",
        json!({"type": "NEW_RESPONSE", "url": "http://127.0.0.1:9/hook", "data": agent["id"]}),
    )
    .await
    .ok();
    let call = a
        .post(
            "/contact/call",
            json!({"contact_id": contact["id"], "interview_id": agent["id"]}),
        )
        .await
        .ok()
        .clone();
    let (cid, aid, call_id) = (
        contact["id"].as_str().unwrap(),
        agent["id"].as_str().unwrap(),
        call["id"].as_str().unwrap(),
    );
    let missing_uuid = "9b2f6c1e-0000-4000-8000-000000000000";
    let missing_agent = "Zz9Zz9Zz";

    // Each pair: (A's object, a missing one): B must get identical answers.
    let pairs: Vec<(String, String)> = vec![
        (format!("/contact/{cid}"), format!("/contact/{missing_uuid}")),
        (format!("/interview/{aid}"), format!("/interview/{missing_agent}")),
        (
            format!("/interview/{aid}/responses"),
            format!("/interview/{missing_agent}/responses"),
        ),
        (
            format!("/interview_response/{call_id}"),
            format!("/interview_response/{missing_uuid}"),
        ),
    ];
    for (theirs, missing) in &pairs {
        let x = b.get(theirs).await;
        let y = b.get(missing).await;
        assert_eq!(x.status, StatusCode::NOT_FOUND, "{theirs}: {}", x.body);
        assert_eq!((x.status, &x.body), (y.status, &y.body), "{theirs} vs {missing}");
    }
    let posts: Vec<(String, String, serde_json::Value)> = vec![
        (
            format!("/contact/{cid}/update_info"),
            format!("/contact/{missing_uuid}/update_info"),
            json!({"name": "Mallory"}),
        ),
        (
            format!("/contact/{cid}/add_tags"),
            format!("/contact/{missing_uuid}/add_tags"),
            json!({"tags": ["x"]}),
        ),
        (
            format!("/contact/{cid}/remove_tags"),
            format!("/contact/{missing_uuid}/remove_tags"),
            json!({"tags": ["a-only"]}),
        ),
        (
            format!("/interview/{aid}/update"),
            format!("/interview/{missing_agent}/update"),
            json!({"title": "mine"}),
        ),
        (
            format!("/interview/{aid}/toggle_archive"),
            format!("/interview/{missing_agent}/toggle_archive"),
            json!({}),
        ),
        (
            format!("/interview_response/{call_id}/hangup"),
            format!("/interview_response/{missing_uuid}/hangup"),
            json!({}),
        ),
    ];
    for (theirs, missing, body) in &posts {
        let x = b.post(theirs, body.clone()).await;
        let y = b.post(missing, body.clone()).await;
        assert_eq!(x.status, StatusCode::NOT_FOUND, "{theirs}: {}", x.body);
        assert_eq!((x.status, &x.body), (y.status, &y.body), "{theirs}");
    }
    let x = b.delete(&format!("/contact/{cid}"), None).await;
    let y = b.delete(&format!("/contact/{missing_uuid}"), None).await;
    assert_eq!((x.status, &x.body), (y.status, &y.body));
    assert_eq!(x.status, StatusCode::NOT_FOUND);

    // Calling A's contact or with A's agent: the 400s of a missing one.
    let own_agent = b.agent().await;
    let own_contact = b.contact("+12125551100").await; // same number, B's own contact
    assert_ne!(own_contact["id"], contact["id"]);
    let x = b
        .post(
            "/contact/call",
            json!({"contact_id": cid, "interview_id": own_agent["id"]}),
        )
        .await;
    let y = b
        .post(
            "/contact/call",
            json!({"contact_id": missing_uuid, "interview_id": own_agent["id"]}),
        )
        .await;
    assert_eq!(
        (x.status, x.error()),
        (StatusCode::BAD_REQUEST, "Contact not found, please try again")
    );
    assert_eq!(x.body, y.body);
    let x = b
        .post(
            "/contact/call",
            json!({"contact_id": own_contact["id"], "interview_id": aid}),
        )
        .await;
    let y = b
        .post(
            "/contact/call",
            json!({"contact_id": own_contact["id"], "interview_id": missing_agent}),
        )
        .await;
    assert_eq!(
        (x.status, x.error()),
        (StatusCode::BAD_REQUEST, "Interview not found, please try again")
    );
    assert_eq!(x.body, y.body);
    let x = b
        .post(
            "/job/create_job_by_contacts",
            json!({"interview_id": own_agent["id"], "contact_ids": [cid]}),
        )
        .await;
    let y = b
        .post(
            "/job/create_job_by_contacts",
            json!({"interview_id": own_agent["id"], "contact_ids": [missing_uuid]}),
        )
        .await;
    assert_eq!(x.status, StatusCode::BAD_REQUEST);
    assert_eq!(x.body, y.body);
    let x = b
        .post(
            "/job/create_job_by_contacts",
            json!({"interview_id": aid, "phone_numbers": ["+12125551100"]}),
        )
        .await;
    assert_eq!(x.error(), "Interview not found, please try again");

    // Subscribing to A's agent, or unsubscribing A's webhook.
    let x = b
        .post(
            "/webhooks/subscribe",
            json!({"type": "NEW_RESPONSE", "url": "http://127.0.0.1:9/b", "data": aid}),
        )
        .await;
    let y = b
        .post(
            "/webhooks/subscribe",
            json!({"type": "NEW_RESPONSE", "url": "http://127.0.0.1:9/b", "data": missing_agent}),
        )
        .await;
    assert_eq!(x.status, StatusCode::BAD_REQUEST);
    assert_eq!(x.body, y.body);
    let x = b
        .delete(
            "/webhooks/unsubscribe",
            Some(json!({"type": "NEW_RESPONSE", "url": "http://127.0.0.1:9/hook", "data": aid})),
        )
        .await;
    assert_eq!(
        x.status,
        StatusCode::BAD_REQUEST,
        "A's agent is unknown to B: {}",
        x.body
    );

    // Lists: nothing of A.
    let l = b.get("/contact").await.ok().clone();
    assert_eq!(l["total_count"], 1);
    assert_eq!(l["contacts"][0]["id"], own_contact["id"]);
    assert_eq!(b.get("/contact?tags[]=a-only").await.ok()["total_count"], 0);
    assert_eq!(b.get("/contact?search=alice").await.ok()["total_count"], 0);
    let l = b.get("/interview").await.ok().clone();
    assert_eq!(l["count"], 1);
    assert_eq!(l["interviews"][0]["id"], own_agent["id"]);
    assert_eq!(b.get("/webhooks").await.ok().as_array().unwrap().len(), 0);
    assert_eq!(b.get("/webhooks/deliveries").await.ok().as_array().unwrap().len(), 0);
    assert_ne!(
        b.get("/webhooks/signing_secret").await.ok(),
        a.get("/webhooks/signing_secret").await.ok()
    );

    // A's things are untouched.
    let mine = a.get(&format!("/contact/{cid}")).await.ok().clone();
    assert_eq!(
        (mine["name"].as_str(), mine["version"].as_i64()),
        (Some("Alice"), Some(1))
    );
    assert_eq!(a.get(&format!("/interview/{aid}")).await.ok()["status"], "ACTIVE");
    assert_eq!(a.get("/webhooks").await.ok().as_array().unwrap().len(), 1);
    // A's webhook fired for A's call (it is refused nothing but the receiver is down: it is pending or failing).
    eventually(20, "A's delivery", || async {
        (a.get("/webhooks/deliveries").await.ok().as_array().unwrap().len() == 1).then_some(())
    })
    .await;
}
