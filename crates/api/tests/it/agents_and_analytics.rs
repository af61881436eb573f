//! The dashboard's additions around agents and calls, through the router: the flow editor's
//! draft, publish and versions (and the version a call is pinned to), the team-wide calls list
//! by direction, the analytics counts, and the bulk contact import.

use crate::util::{error, ok, Api, Db};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

/// start → ask (a yes/no question with `question`) → end; `question` empty makes it invalid.
fn flow_with_question(question: &str) -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start", "position": { "x": 0, "y": 0 }, "data": {} },
            { "id": "ask", "type": "question", "position": { "x": 200, "y": 0 },
              "data": { "question": question, "variable": "confirmed", "kind": "yes_no" } },
            { "id": "end", "type": "end", "position": { "x": 400, "y": 0 }, "data": { "outcome": "done" } },
        ],
        "edges": [
            { "id": "e1", "source": "start", "sourceHandle": "next", "target": "ask" },
            { "id": "e2", "source": "ask", "sourceHandle": "yes", "target": "end" },
            { "id": "e3", "source": "ask", "sourceHandle": "no", "target": "end" },
            { "id": "e4", "source": "ask", "sourceHandle": "no_match", "target": "end" },
        ],
    })
}

async fn a_draft_saves_while_invalid_publishes_as_a_version_and_an_old_one_restores(db: Db) {
    let api = Api::new(db).await;
    let agent = api.agent().await;
    let id = agent["id"].as_str().unwrap();
    let first_flow = agent["flow"].clone();

    let d = api.get(&format!("/interview/{id}/draft")).await;
    assert_eq!(ok(&d)["has_draft"], false);
    assert_eq!(ok(&d)["base_version"], 1);
    assert_eq!(ok(&d)["draft"]["flow"], first_flow);

    // Work in progress: saved, with the problems publishing would meet, on the node's field.
    let body = json!({ "flow": flow_with_question(""), "title": "Reminder v2" });
    let saved = api.post(&format!("/interview/{id}/draft"), body).await;
    let problems = ok(&saved)["problems"].as_array().unwrap().clone();
    assert!(
        problems.iter().any(|p| p["field"] == "flow.nodes[1].data.question"),
        "{problems:?}"
    );
    let d = api.get(&format!("/interview/{id}/draft")).await;
    assert_eq!(ok(&d)["has_draft"], true);
    assert_eq!(ok(&d)["draft"]["title"], "Reminder v2");
    assert_eq!(ok(&d)["problems"].as_array().unwrap().len(), problems.len());
    // The live agent is untouched, and an invalid draft does not publish.
    assert_eq!(ok(&api.get(&format!("/interview/{id}")).await)["flow"], first_flow);
    let refused = api
        .post(&format!("/interview/{id}/publish"), json!({ "base_version": 1 }))
        .await;
    assert_eq!(refused.0, StatusCode::BAD_REQUEST, "{}", refused.1);
    assert!(error(&refused).contains("question"), "{}", refused.1);
    // An unknown node type is a problem on that node; a body of the wrong shape is refused.
    let mut odd = flow_with_question("Still on?");
    odd["nodes"][1]["type"] = json!("teleport");
    let r = api
        .post(&format!("/interview/{id}/draft"), json!({ "flow": odd }))
        .await;
    assert!(ok(&r)["problems"].to_string().contains("flow.nodes[1].type"), "{}", r.1);
    let r = api
        .post(&format!("/interview/{id}/draft"), json!({ "flow": { "nodes": 3 } }))
        .await;
    assert_eq!(r.0, StatusCode::BAD_REQUEST, "{}", r.1);
    // A node's data is an object: `false` is refused, `null` reads back as `{}` (the draft
    // answers in the documented shape; Schemathesis found a `false` read back).
    let mut odd = flow_with_question("Still on?");
    odd["nodes"][0]["data"] = json!(false);
    let r = api
        .post(&format!("/interview/{id}/draft"), json!({ "flow": odd }))
        .await;
    assert_eq!(r.0, StatusCode::BAD_REQUEST, "{}", r.1);
    assert!(error(&r).contains("a node's data must be an object"), "{}", r.1);
    odd["nodes"][0]["data"] = json!(null);
    ok(&api
        .post(&format!("/interview/{id}/draft"), json!({ "flow": odd }))
        .await);
    let d = api.get(&format!("/interview/{id}/draft")).await;
    assert_eq!(ok(&d)["draft"]["flow"]["nodes"][0]["data"], json!({}));
    let r = api
        .post(&format!("/interview/{id}/draft"), json!(["not", "an", "object"]))
        .await;
    assert_eq!(r.0, StatusCode::BAD_REQUEST, "{}", r.1);

    let body = json!({ "flow": flow_with_question("Are you still coming on Thursday?"), "title": "Reminder v2" });
    let saved = api.post(&format!("/interview/{id}/draft"), body).await;
    assert_eq!(ok(&saved)["problems"], json!([]));
    let live = api
        .post(&format!("/interview/{id}/publish"), json!({ "base_version": 1 }))
        .await;
    assert_eq!(ok(&live)["version"], 2);
    assert_eq!(ok(&live)["title"], "Reminder v2");
    assert_eq!(
        ok(&api.get(&format!("/interview/{id}/draft")).await)["has_draft"],
        false
    );
    // A draft based on version 1 cannot be published over version 2.
    let body = json!({ "title": "Stale" });
    ok(&api.post(&format!("/interview/{id}/draft"), body).await);
    let stale = api
        .post(&format!("/interview/{id}/publish"), json!({ "base_version": 1 }))
        .await;
    assert_eq!(stale.0, StatusCode::CONFLICT, "{}", stale.1);
    ok(&api.call(Method::DELETE, &format!("/interview/{id}/draft"), None).await);

    // A call is pinned to the live version.
    let c = api.contact("+12125550100").await;
    let call = api
        .post("/contact/call", json!({ "contact_id": c["id"], "interview_id": id }))
        .await;
    assert_eq!(ok(&call)["interview"], json!({ "id": id, "version": 2 }));

    let versions = api.get(&format!("/interview/{id}/versions")).await;
    let list: Vec<i64> = ok(&versions)["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(list, [2, 1]);
    assert_eq!(ok(&versions)["versions"][0]["nodes"], 3);
    let v1 = api.get(&format!("/interview/{id}/versions/1")).await;
    assert_eq!(ok(&v1)["flow"], first_flow);
    assert_eq!(
        api.get(&format!("/interview/{id}/versions/9")).await.0,
        StatusCode::NOT_FOUND
    );

    // One step restores version 1 as version 3.
    let restored = api
        .post(&format!("/interview/{id}/versions/1/restore"), json!({}))
        .await;
    assert_eq!(ok(&restored)["version"], 3);
    assert_eq!(ok(&restored)["flow"], first_flow);
    assert_eq!(ok(&restored)["title"], "Reminder");
    assert_eq!(ok(&api.get(&format!("/interview/{id}")).await)["version"], 3);

    // Another team sees none of it.
    let (other, token) = api.store.create_team("other").await.unwrap();
    let req = axum::http::Request::builder()
        .uri(format!("/interview/{id}/versions"))
        .header("x-api-token", token)
        .header("team_id", other.id)
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(api.raw(req).await.0, StatusCode::NOT_FOUND);
}

async fn calls_filter_by_direction_and_analytics_count_them(db: Db) {
    let api = Api::new(db).await;
    let agent = api.agent().await;
    for n in ["+12125550100", "+12125550102"] {
        let c = api.contact(n).await;
        ok(&api
            .post(
                "/contact/call",
                json!({ "contact_id": c["id"], "interview_id": agent["id"] }),
            )
            .await);
    }
    assert_eq!(ok(&api.get("/call?direction=outbound").await)["total_count"], 2);
    assert_eq!(ok(&api.get("/call?direction=inbound").await)["total_count"], 0);
    let bad = api.get("/call?direction=sideways").await;
    assert_eq!(bad.0, StatusCode::BAD_REQUEST);
    assert!(error(&bad).starts_with("direction:"));

    let a = api.get("/analytics?period=day").await;
    let tiles = ok(&a)["agents"].as_array().unwrap().clone();
    assert_eq!(tiles.len(), 1, "{tiles:?}");
    assert_eq!(tiles[0]["interview_id"], agent["id"]);
    assert_eq!(tiles[0]["title"], "Reminder");
    assert_eq!(tiles[0]["calls"], 2);
    // Nothing finished yet: no rate to speak of.
    assert!(tiles[0]["pickup_rate"].is_null());
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        ok(&a)["per_day"],
        json!([{ "date": today, "status": "NOT_STARTED", "count": 2 }])
    );
    for period in ["week", "month", "all"] {
        let a = api.get(&format!("/analytics?period={period}")).await;
        assert_eq!(ok(&a)["agents"][0]["calls"], 2, "{period}");
    }
    let bad = api.get("/analytics?period=decade").await;
    assert_eq!(bad.0, StatusCode::BAD_REQUEST);
}

async fn a_bulk_import_reports_each_bad_row_and_writes_the_rest(db: Db) {
    let api = Api::new(db).await;
    let rows = json!([
        { "phone_number": "2125550100", "name": "Ann", "tags": ["csv"] },
        { "phone_number": "not a number" },
        { "phone_number": "020 7946 0018", "country_code": "+44", "name": "Bea" },
        { "phone_number": "+12125550101", "colour": "blue" },
        { "phone_number": "2125550100", "email": "ann@example.com" },
    ]);
    let r = api
        .post(
            "/contact/bulk_create",
            json!({ "contacts": rows, "lead_source": "DASHBOARD_BULK_UPLOAD" }),
        )
        .await;
    let d = ok(&r);
    assert_eq!((d["created"].as_i64(), d["failed"].as_i64()), (Some(3), Some(2)), "{d}");
    let results = d["results"].as_array().unwrap();
    assert!(
        results[1]["error"].as_str().unwrap().starts_with("phone_number:"),
        "{d}"
    );
    assert!(results[3]["error"].as_str().unwrap().contains("colour"), "{d}");
    // The same number twice is one contact, upserted (the country code rule: +1 by default).
    assert_eq!(results[0]["contact_id"], results[4]["contact_id"]);
    let ann = api
        .get(&format!("/contact/{}", results[0]["contact_id"].as_str().unwrap()))
        .await;
    assert_eq!(ok(&ann)["phone_number"], "+12125550100");
    assert_eq!(ok(&ann)["email"], "ann@example.com");
    assert_eq!(ok(&ann)["lead_source"], "DASHBOARD_BULK_UPLOAD");
    let too_many: Vec<Value> = (0..1001).map(|_| json!({ "phone_number": "+12125550100" })).collect();
    let r = api.post("/contact/bulk_create", json!({ "contacts": too_many })).await;
    assert_eq!(r.0, StatusCode::BAD_REQUEST);
}

async fn a_delivery_is_resent_as_a_new_delivery_of_the_same_event(db: Db) {
    let api = Api::new(db).await;
    let hook = json!({ "type": "CALL_PROGRESS", "url": "https://hooks.example.com/parley" });
    ok(&api.post("/webhooks/subscribe", hook.clone()).await);
    let agent = api.agent().await;
    let c = api.contact("+12125550100").await;
    ok(&api
        .post(
            "/contact/call",
            json!({ "contact_id": c["id"], "interview_id": agent["id"] }),
        )
        .await);
    let list = api.get("/webhooks/deliveries").await;
    let first = ok(&list).as_array().unwrap().clone();
    assert_eq!(first.len(), 1, "{first:?}");
    let id = first[0]["id"].as_str().unwrap();

    let r = api.post(&format!("/webhooks/deliveries/{id}/resend"), json!({})).await;
    let new_id = ok(&r)["delivery_id"].as_str().unwrap().to_string();
    assert_ne!(new_id, id);
    let list = api.get("/webhooks/deliveries").await;
    let all = ok(&list).as_array().unwrap().clone();
    assert_eq!(all.len(), 2);
    let resent = all.iter().find(|d| d["id"] == new_id.as_str()).unwrap();
    assert_eq!(resent["type"], "CALL_PROGRESS");
    assert_eq!(resent["status"], "pending");
    assert_eq!(resent["webhook_id"], first[0]["webhook_id"]);

    let missing = api
        .post(
            &format!("/webhooks/deliveries/{}/resend", uuid::Uuid::new_v4()),
            json!({}),
        )
        .await;
    assert_eq!(missing.0, StatusCode::NOT_FOUND);
    ok(&api.call(Method::DELETE, "/webhooks/unsubscribe", Some(&hook)).await);
    let gone = api.post(&format!("/webhooks/deliveries/{id}/resend"), json!({})).await;
    assert_eq!(gone.0, StatusCode::CONFLICT, "{}", gone.1);
}

on_both_databases!(
    a_delivery_is_resent_as_a_new_delivery_of_the_same_event,
    a_bulk_import_reports_each_bad_row_and_writes_the_rest,
    a_draft_saves_while_invalid_publishes_as_a_version_and_an_old_one_restores,
    calls_filter_by_direction_and_analytics_count_them,
);
