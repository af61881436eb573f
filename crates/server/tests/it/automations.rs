//! Automations over real HTTP on both databases: the integration patterns users run most, with
//! real sandbox calls (Piper and Whisper on both sides), a loopback receiver for HTTP steps and
//! webhooks, validation, the webhook trigger's edges, cancel and version pinning.
//!
//! (The clock-driven pattern, "24 hours before the appointment", is in `automation_clock.rs`: it
//! moves the process clock, so it must not share a process with these.)

use crate::common;

use common::automation::{fire, qualifying_agent, slugs, step, wait_run};
use common::{eventually, wait_final, Db, Receiver, TestServer};
use serde_json::{json, Value};

async fn server(db: Db) -> TestServer {
    TestServer::start_with(db, |s| s.rate_limit_per_minute = 1_000_000).await
}

/// (1) CRM lead webhook -> create contact -> call -> branch on outcome -> HTTP request with the
/// captured variables to a loopback receiver (or a tag on the other branch).
pub fn crm_lead_automation(agent_id: &str, receiver: &str) -> Value {
    json!({
        "name": "CRM lead follow-up",
        "mode": "live",
        "trigger": {"type": "webhook"},
        "calling": {"any_time": true},
        "steps": [
            {"slug": "contact", "type": "create_contact",
             "phone_number": "{{ trigger.payload.lead.phone }}", "name": "{{ trigger.payload.lead.name }}",
             "attributes": {"source": "{{ trigger.payload.source }}"}, "next": "call"},
            {"slug": "call", "type": "call_contact", "interview_id": agent_id,
             "metadata": {"lead_id": "{{ trigger.payload.lead.id }}"}, "next": "check"},
            {"slug": "check", "type": "condition", "mode": "all",
             "rules": [{"variable": "steps.call.outcome", "op": "equals", "value": "interested"}],
             "then": "notify", "else": "cold"},
            {"slug": "notify", "type": "http_request", "method": "POST", "url": receiver,
             "headers": {"x-source": "parley"},
             "body": {"lead_id": "{{ trigger.payload.lead.id }}", "call_id": "{{ steps.call.call_id }}",
                      "outcome": "{{ steps.call.outcome }}", "variables": "{{ steps.call.variables }}",
                      "contact": "{{ contact.name }}"}},
            {"slug": "cold", "type": "add_tag", "tags": ["not-interested"]}
        ]
    })
}

async fn crm_lead_webhook_calls_branches_and_posts(db: Db) {
    let s = server(db).await;
    let c = s.team().await;
    let rx = Receiver::start(0).await;
    let agent = qualifying_agent(&c).await;
    let agent_id = agent["id"].as_str().unwrap();
    let a = c
        .post("/automation", crm_lead_automation(agent_id, &rx.url))
        .await
        .ok()
        .clone();
    assert_eq!(a["version"], 1);
    let id = a["id"].as_str().unwrap();
    assert_eq!(id.len(), 12);

    // Two leads: persona 00 says yes, persona 01 says no.
    let yes = fire(
        &c,
        id,
        json!({"source": "crm", "lead": {"id": "L-1", "name": "Sam", "phone": "+12125550100"}}),
    )
    .await;
    assert_eq!(yes.status, 202, "{}", yes.body);
    let no = fire(
        &c,
        id,
        json!({"source": "crm", "lead": {"id": "L-2", "name": "Kim", "phone": "+12125550101"}}),
    )
    .await;
    assert_eq!(no.status, 202, "{}", no.body);

    let run = wait_run(&c, yes.data()["run_id"].as_str().unwrap(), 120).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(slugs(&run), ["contact", "call", "check", "notify"]);
    let call = step(&run, "call");
    assert_eq!(call["output"]["status"], "ENDED", "{call}");
    assert_eq!(call["output"]["outcome"], "interested");
    assert_eq!(call["output"]["variables"]["interested"], true);
    assert_eq!(call["attempt"], 1);
    assert_eq!(step(&run, "check")["output"]["matched"], true);
    // The call is a real call of the team, with the step's metadata and the created contact.
    let call_obj = wait_final(&c, call["output"]["call_id"].as_str().unwrap(), 5).await;
    assert_eq!(call_obj["metadata"]["lead_id"], "L-1");
    assert_eq!(call_obj["contact"]["name"], "Sam", "{call_obj} {run}");
    assert_eq!(call_obj["contact"]["attributes"]["source"], "crm");
    // The receiver got the captured variables, typed (a template that is one expression keeps
    // its JSON type).
    let got = rx.received();
    assert_eq!(got.len(), 1, "one POST for the interested lead only");
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["lead_id"], "L-1");
    assert_eq!(body["outcome"], "interested");
    assert_eq!(body["variables"]["interested"], true);
    assert_eq!(body["contact"], "Sam", "{body} {run}");
    assert_eq!(got[0].headers["x-source"], "parley");
    assert!(got[0].headers.contains_key("idempotency-key"));
    assert_eq!(step(&run, "notify")["output"]["status"], 200);

    let run = wait_run(&c, no.data()["run_id"].as_str().unwrap(), 120).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(slugs(&run), ["contact", "call", "check", "cold"]);
    assert_eq!(step(&run, "call")["output"]["outcome"], "not_interested");
    let contact_id = step(&run, "contact")["output"]["id"].as_str().unwrap().to_string();
    let contact = c.get(&format!("/contact/{contact_id}")).await.ok().clone();
    assert_eq!(contact["tags"], json!(["not-interested"]));

    // Runs are listed newest first; each step has input, output, timing.
    let runs = c.get(&format!("/automation/{id}/runs")).await.ok().clone();
    assert_eq!(runs.as_array().unwrap().len(), 2);
    let first = &run["steps"][0];
    assert_eq!(first["input"]["phone_number"], "+12125550101");
    assert!(first["duration_ms"].as_i64().unwrap() >= 0);
}

/// (3) On Call Completed scoped to one agent -> send webhook; other agents' calls do not fire it.
async fn call_completed_scoped_to_one_agent(db: Db) {
    let s = server(db).await;
    let c = s.team().await;
    let rx = Receiver::start(0).await;
    let watched = qualifying_agent(&c).await;
    let other = qualifying_agent(&c).await;
    let a = c
        .post(
            "/automation",
            json!({
                "name": "Unanswered calls to the CRM",
                "mode": "live",
                "trigger": {"type": "call_completed", "interview_ids": [watched["id"]], "statuses": ["NO_ANSWER"]},
                "steps": [
                    {"slug": "post", "type": "http_request", "url": rx.url,
                     "body": {"call_id": "{{ trigger.payload.id }}", "status": "{{ trigger.payload.status }}",
                              "agent": "{{ trigger.payload.interview.id }}", "number": "{{ contact.phone_number }}"}}
                ]
            }),
        )
        .await
        .ok()
        .clone();
    // Persona 02 never answers: each call ends NO_ANSWER after the ring timeout.
    let contact = c.contact("+12125550102").await;
    let mut calls = Vec::new();
    for agent in [&watched, &other, &watched] {
        let call = c
            .post(
                "/contact/call",
                json!({"contact_id": contact["id"], "interview_id": agent["id"]}),
            )
            .await
            .ok()
            .clone();
        calls.push(call["id"].as_str().unwrap().to_string());
    }
    for id in &calls {
        assert_eq!(wait_final(&c, id, 30).await["status"], "NO_ANSWER");
    }
    eventually(20, "two deliveries", || async {
        (rx.received().len() >= 2).then_some(())
    })
    .await;
    // A moment more: a third (the other agent's call) would show up now.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let bodies: Vec<Value> = rx
        .received()
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    let mut ids: Vec<&str> = bodies.iter().map(|b| b["call_id"].as_str().unwrap()).collect();
    ids.sort();
    let mut want = vec![calls[0].as_str(), calls[2].as_str()];
    want.sort();
    assert_eq!(ids, want);
    assert!(bodies
        .iter()
        .all(|b| b["agent"] == watched["id"] && b["status"] == "NO_ANSWER"));
    assert!(bodies.iter().all(|b| b["number"] == "+12125550102"));
    let runs = c
        .get(&format!("/automation/{}/runs", a["id"].as_str().unwrap()))
        .await
        .ok()
        .clone();
    assert_eq!(runs.as_array().unwrap().len(), 2);
    assert!(runs
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["trigger"]["type"] == "call_completed"));
}

/// Saving answers 400 with every problem, located by step.
async fn saving_reports_every_problem(db: Db) {
    let s = server(db).await;
    let c = s.team().await;
    let r = c
        .post(
            "/automation",
            json!({
                "name": "broken",
                "trigger": {"type": "webhook"},
                "steps": [
                    {"slug": "a", "type": "send_sms", "to": "x"},
                    {"slug": "b", "type": "http_request"},
                    {"slug": "c", "type": "end"}
                ]
            }),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let problems = r.body["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{}", r.body);
    assert_eq!(problems[0]["field"], "steps[0] (a)");
    assert!(problems[0]["message"].as_str().unwrap().contains("send_sms"));
    assert_eq!(problems[1]["field"], "steps[1] (b)");
    assert!(r.error().contains("url"), "{}", r.error());

    // Graph and template problems together.
    let r = c
        .post(
            "/automation",
            json!({
                "name": "graph",
                "trigger": {"type": "webhook"},
                "steps": [
                    {"slug": "start", "type": "http_request", "url": "https://example.com/{{ trigger.payload.x", "next": "nowhere"},
                    {"slug": "call", "type": "call_contact", "interview_id": "ZZZZ9999", "next": "tag"},
                    {"slug": "tag", "type": "add_tag", "tags": ["x"], "next": "post"},
                    {"slug": "post", "type": "http_request", "url": "https://example.com", "body": {"o": "{{ steps.later.status }}"}}
                ]
            }),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let fields: Vec<&str> = r.body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    let text = r.error().to_string();
    assert!(fields.iter().any(|f| f.starts_with("steps[0] (start)")), "{text}");
    assert!(text.contains("nowhere"), "dangling edge: {text}");
    assert!(text.contains("ZZZZ9999"), "unknown agent: {text}");
    assert!(
        fields.iter().any(|f| f.starts_with("steps[3] (post)")),
        "unknown step variable: {text}"
    );
    assert!(
        fields
            .iter()
            .any(|f| f.starts_with("steps[1] (call)") || f.starts_with("steps[2] (tag)")),
        "no contact: {text}"
    );

    // Nothing was saved.
    assert_eq!(c.get("/automation").await.ok().as_array().unwrap().len(), 0);
}

/// The webhook trigger: draft samples, token verification, bad bodies, size limit; another
/// team never sees the automation.
async fn webhook_trigger_edges(db: Db) {
    let s = TestServer::start_with(db, |s| {
        s.rate_limit_per_minute = 1_000_000;
        s.max_body_bytes = 4096;
    })
    .await;
    let c = s.team().await;
    let other = s.team().await;
    let body = json!({
        "name": "tagger",
        "trigger": {"type": "webhook", "verify_token": true},
        "steps": [{"slug": "c", "type": "create_contact", "phone_number": "{{ trigger.payload.phone }}", "tags": ["from-hook"]}]
    });
    let a = c.post("/automation", body).await.ok().clone();
    let id = a["id"].as_str().unwrap().to_string();
    assert_eq!(a["mode"], "draft");
    assert_eq!(a["webhook_path"], format!("/webhook/automation/{id}"));
    let url = format!("{}/webhook/automation/{id}", c.base);
    let post = |token: Option<&str>, body: String, ct: &str| {
        let mut rb = c.http.post(&url).header("content-type", ct).body(body);
        if let Some(t) = token {
            rb = rb.header("x-api-token", t);
        }
        async move { common::into_resp(rb.send().await.unwrap()).await }
    };
    // Verification on: no token / another team's token is 401.
    assert_eq!(
        post(None, r#"{"phone":"+12125550100"}"#.into(), "application/json")
            .await
            .status,
        401
    );
    assert_eq!(
        post(
            Some(&other.token),
            r#"{"phone":"+12125550100"}"#.into(),
            "application/json"
        )
        .await
        .status,
        401
    );
    // Draft: the body is kept as sample data, no run.
    let r = post(
        Some(&c.token),
        r#"{"phone":"+12125550100","n":1}"#.into(),
        "application/json",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let a = c.get(&format!("/automation/{id}")).await.ok().clone();
    assert_eq!(a["sample_payload"]["n"], 1);
    assert_eq!(
        c.get(&format!("/automation/{id}/runs"))
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // Bad bodies.
    let r = post(Some(&c.token), "{nope".into(), "application/json").await;
    assert_eq!((r.status.as_u16(), r.error()), (400, "Invalid Syntax"));
    let r = post(Some(&c.token), "[1,2]".into(), "application/json").await;
    assert_eq!(r.status, 400);
    assert!(r.error().contains("object"), "{}", r.body);
    let big = format!(r#"{{"phone":"+12125550100","pad":"{}"}}"#, "x".repeat(8000));
    assert_eq!(post(Some(&c.token), big, "application/json").await.status, 413);
    assert_eq!(
        post(Some(&c.token), "phone=1".into(), "application/x-www-form-urlencoded")
            .await
            .status,
        415
    );
    // Unknown automation: 404. Another team cannot read it either.
    assert_eq!(fire(&c, "AAAAAAAAAAAA", json!({})).await.status, 404);
    assert_eq!(other.get(&format!("/automation/{id}")).await.status, 404);
    assert_eq!(other.get(&format!("/automation/{id}/runs")).await.status, 404);

    // Live: a run starts and completes.
    c.post(&format!("/automation/{id}/update"), json!({"mode": "live"}))
        .await
        .ok();
    let r = post(Some(&c.token), r#"{"phone":"+12125550100"}"#.into(), "application/json").await;
    assert_eq!(r.status, 202, "{}", r.body);
    let run_id = r.data()["run_id"].as_str().unwrap().to_string();
    let run = wait_run(&c, &run_id, 20).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["version"], 2);
    assert_eq!(step(&run, "c")["output"]["tags"], json!(["from-hook"]));
    assert_eq!(other.get(&format!("/automation_run/{run_id}")).await.status, 404);

    // A payload missing a variable fails the step with a clear error (strict templates), and
    // fires ACTION_FAILED.
    let rx = Receiver::start(0).await;
    c.post("/webhooks/subscribe", json!({"type": "ACTION_FAILED", "url": rx.url}))
        .await
        .ok();
    let r = post(Some(&c.token), r#"{"name":"no phone"}"#.into(), "application/json").await;
    let run = wait_run(&c, r.data()["run_id"].as_str().unwrap(), 20).await;
    assert_eq!(run["status"], "failed");
    let err = step(&run, "c")["error"].as_str().unwrap().to_string();
    assert!(err.contains("phone"), "{err}");
    let failed = eventually(20, "ACTION_FAILED", || async {
        let got = common::events(&rx, "ACTION_FAILED");
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(failed[0]["run_id"], run["id"]);
    assert_eq!(failed[0]["step"], "c");
    assert_eq!(failed[0]["action"], "create_contact");
}

/// A run keeps the version it started with; cancel ends a waiting run.
async fn versions_pin_runs_and_cancel_stops_them(db: Db) {
    let s = server(db).await;
    let c = s.team().await;
    let rx = Receiver::start(0).await;
    let a = c
        .post(
            "/automation",
            json!({
                "name": "slow", "mode": "live", "trigger": {"type": "webhook"},
                "steps": [
                    {"slug": "wait", "type": "delay", "duration": "2s", "next": "post"},
                    {"slug": "post", "type": "http_request", "url": rx.url, "body": {"v": "one", "n": "{{ trigger.payload.n }}"}}
                ]
            }),
        )
        .await
        .ok()
        .clone();
    let id = a["id"].as_str().unwrap();
    let first = fire(&c, id, json!({"n": 1})).await.data()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let second = fire(&c, id, json!({"n": 2})).await.data()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    // While both wait, version 2 changes the body.
    let v2 = c
        .post(
            &format!("/automation/{id}/update"),
            json!({"steps": [
                {"slug": "wait", "type": "delay", "duration": "1s", "next": "post"},
                {"slug": "post", "type": "http_request", "url": rx.url, "body": {"v": "two", "n": "{{ trigger.payload.n }}"}}
            ]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(v2["version"], 2);
    eventually(10, "the second run to wait", || async {
        (c.get(&format!("/automation_run/{second}")).await.ok()["status"] == "waiting").then_some(())
    })
    .await;
    let canceled = c
        .post(&format!("/automation_run/{second}/cancel"), json!({}))
        .await
        .ok()
        .clone();
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(
        c.post(&format!("/automation_run/{second}/cancel"), json!({}))
            .await
            .status,
        409
    );
    let third = fire(&c, id, json!({"n": 3})).await.data()["run_id"]
        .as_str()
        .unwrap()
        .to_string();

    let r1 = wait_run(&c, &first, 20).await;
    let r3 = wait_run(&c, &third, 20).await;
    assert_eq!(
        (r1["status"].as_str(), r1["version"].as_i64()),
        (Some("completed"), Some(1))
    );
    assert_eq!(
        (r3["status"].as_str(), r3["version"].as_i64()),
        (Some("completed"), Some(2))
    );
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let mut got: Vec<(String, String)> = rx
        .received()
        .iter()
        .map(|r| {
            let b: Value = serde_json::from_str(&r.body).unwrap();
            (b["v"].as_str().unwrap().to_string(), b["n"].to_string())
        })
        .collect();
    got.sort();
    // Run 1 on version 1, run 3 on version 2, nothing from the canceled run.
    assert_eq!(got, [("one".into(), "1".into()), ("two".into(), "3".into())]);
    assert_eq!(
        c.get(&format!("/automation_run/{second}")).await.ok()["status"],
        "canceled"
    );
    // The delay was recorded with its due time.
    assert!(step(&r1, "wait")["due_at"].is_string());
}

/// Conditions, loops and HTTP retries on 5xx, without calls.
async fn loops_conditions_and_retries(db: Db) {
    let s = server(db).await;
    let c = s.team().await;
    let rx = Receiver::start(2).await; // the first two requests get a 500
    let a = c
        .post(
            "/automation",
            json!({
                "name": "fan-out", "mode": "live", "trigger": {"type": "webhook"},
                "steps": [
                    {"slug": "each", "type": "loop", "items": "trigger.payload.leads", "max_items": 5, "body": "big", "next": "done"},
                    {"slug": "big", "type": "condition", "mode": "any",
                     "rules": [{"variable": "loop.item.amount", "op": "greater", "value": "1000"},
                               {"variable": "loop.item.vip", "op": "exists"}],
                     "then": "post"},
                    {"slug": "post", "type": "http_request", "url": rx.url, "retries": 3,
                     "body": {"name": "{{ loop.item.name }}", "index": "{{ loop.index }}"}},
                    {"slug": "done", "type": "end", "outcome": "{{ steps.each.count }} leads"}
                ]
            }),
        )
        .await
        .ok()
        .clone();
    let id = a["id"].as_str().unwrap();
    let leads = json!({"leads": [
        {"name": "a", "amount": 50}, {"name": "b", "amount": 5000}, {"name": "c", "amount": 10, "vip": true}
    ]});
    let run_id = fire(&c, id, leads).await.data()["run_id"].as_str().unwrap().to_string();
    let run = wait_run(&c, &run_id, 30).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(slugs(&run), ["each", "big", "big", "post", "big", "post", "done"]);
    assert_eq!(step(&run, "done")["output"]["outcome"], "3 leads");
    let bodies: Vec<Value> = rx
        .received()
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    // Two 500s then success for b (3 requests), then c.
    assert_eq!(bodies.len(), 4, "{bodies:?}");
    assert_eq!(bodies[2]["name"], "b");
    assert_eq!(bodies[3]["name"], "c");
    let posts: Vec<&Value> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["slug"] == "post")
        .collect();
    assert_eq!(posts[0]["output"]["status"], 200);
    // Too many items: a clear failure.
    let many = json!({"leads": (0..6).map(|i| json!({"name": i})).collect::<Vec<_>>()});
    let run = wait_run(&c, fire(&c, id, many).await.data()["run_id"].as_str().unwrap(), 20).await;
    assert_eq!(run["status"], "failed");
    assert!(run["error"].as_str().unwrap().contains("max_items"), "{run}");
}

/// On Contact Created and On Tag Added start runs with the contact; tag filters hold.
async fn contact_and_tag_triggers(db: Db) {
    let s = server(db).await;
    let c = s.team().await;
    let rx = Receiver::start(0).await;
    let created = c
        .post(
            "/automation",
            json!({
                "name": "welcome", "mode": "live", "trigger": {"type": "contact_created"},
                "steps": [{"slug": "post", "type": "http_request", "url": rx.url,
                           "body": {"event": "created", "number": "{{ contact.phone_number }}"}}]
            }),
        )
        .await
        .ok()
        .clone();
    let tagged = c
        .post(
            "/automation",
            json!({
                "name": "vip", "mode": "live", "trigger": {"type": "tag_added", "tags": ["vip"]},
                "steps": [{"slug": "post", "type": "http_request", "url": rx.url,
                           "body": {"event": "{{ trigger.payload.tag }}", "number": "{{ trigger.payload.contact.phone_number }}"}}]
            }),
        )
        .await
        .ok()
        .clone();
    let a = c.contact("+12125550150").await;
    c.post(
        &format!("/contact/{}/add_tags", a["id"].as_str().unwrap()),
        json!({"tags": ["lead"]}),
    )
    .await
    .ok();
    c.post(
        &format!("/contact/{}/add_tags", a["id"].as_str().unwrap()),
        json!({"tags": ["vip"]}),
    )
    .await
    .ok();
    // Adding a tag it already has is not a new tag.
    c.post(
        &format!("/contact/{}/add_tags", a["id"].as_str().unwrap()),
        json!({"tags": ["vip"]}),
    )
    .await
    .ok();
    // Created with the tag: both triggers.
    c.post(
        "/contact/create",
        json!({"phone_number": "+12125550151", "tags": ["vip"]}),
    )
    .await
    .ok();
    // Updating an existing contact is not a creation.
    c.post(
        "/contact/create",
        json!({"phone_number": "+12125550150", "name": "Again"}),
    )
    .await
    .ok();
    eventually(20, "four posts", || async { (rx.received().len() >= 4).then_some(()) }).await;
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let mut got: Vec<(String, String)> = rx
        .received()
        .iter()
        .map(|r| {
            let b: Value = serde_json::from_str(&r.body).unwrap();
            (
                b["event"].as_str().unwrap().to_string(),
                b["number"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("created".to_string(), "+12125550150".to_string()),
            ("created".into(), "+12125550151".into()),
            ("vip".into(), "+12125550150".into()),
            ("vip".into(), "+12125550151".into()),
        ]
    );
    for a in [&created, &tagged] {
        let runs = c
            .get(&format!("/automation/{}/runs", a["id"].as_str().unwrap()))
            .await
            .ok()
            .clone();
        assert_eq!(runs.as_array().unwrap().len(), 2);
    }
}

/// A `delay_until` time already past runs at once (`if_past: run`) or ends the run (`skip`).
async fn past_times_run_or_skip(db: Db) {
    let s = server(db).await;
    let c = s.team().await;
    let make = |if_past: &str| {
        json!({
            "name": format!("past {if_past}"), "mode": "live", "trigger": {"type": "webhook"},
            "time_zone": "America/Chicago",
            "steps": [
                {"slug": "wait", "type": "delay_until", "at": "{{ trigger.payload.at }}", "time_zone": "automation",
                 "if_past": if_past, "next": "after"},
                {"slug": "after", "type": "end", "outcome": "ran"}
            ]
        })
    };
    for (mode, want) in [("run", vec!["wait", "after"]), ("skip", vec!["wait"])] {
        let a = c.post("/automation", make(mode)).await.ok().clone();
        let r = fire(&c, a["id"].as_str().unwrap(), json!({"at": "2020-01-01 09:00"})).await;
        let run = wait_run(&c, r.data()["run_id"].as_str().unwrap(), 20).await;
        assert_eq!(run["status"], "completed", "{run}");
        assert_eq!(slugs(&run), want, "{mode}: {run}");
        // 09:00 in Chicago (the automation's zone) is 15:00 UTC.
        assert_eq!(step(&run, "wait")["output"]["due_at"], "2020-01-01T15:00:00.000Z");
        let status = step(&run, "wait")["status"].as_str().unwrap().to_string();
        assert_eq!(status, if mode == "run" { "completed" } else { "skipped" });
    }
    // A time that cannot be read fails the step with a clear message.
    let a = c.post("/automation", make("run")).await.ok().clone();
    let r = fire(&c, a["id"].as_str().unwrap(), json!({"at": "next tuesday"})).await;
    let run = wait_run(&c, r.data()["run_id"].as_str().unwrap(), 20).await;
    assert_eq!(run["status"], "failed");
    assert!(
        step(&run, "wait")["error"].as_str().unwrap().contains("not a time"),
        "{run}"
    );
}

/// An unanswered call is retried `retries` times, `retry_spacing` apart; the output says so.
async fn unanswered_calls_are_retried(db: Db) {
    let s = server(db).await;
    let c = s.team().await;
    let agent = qualifying_agent(&c).await;
    let a = c
        .post(
            "/automation",
            json!({
                "name": "persistent", "mode": "live", "trigger": {"type": "webhook"},
                "calling": {"any_time": true, "retries": 1, "retry_spacing": "2s"},
                "steps": [
                    {"slug": "call", "type": "call_phone_number", "interview_id": agent["id"],
                     "phone_number": "{{ trigger.payload.phone }}", "name": "Casey"}
                ]
            }),
        )
        .await
        .ok()
        .clone();
    // Persona 02 never answers.
    let r = fire(&c, a["id"].as_str().unwrap(), json!({"phone": "+12125550102"})).await;
    let run = wait_run(&c, r.data()["run_id"].as_str().unwrap(), 60).await;
    assert_eq!(run["status"], "completed", "{run}");
    let out = &step(&run, "call")["output"];
    assert_eq!(out["status"], "NO_ANSWER", "{out}");
    assert_eq!(out["attempts"], 2, "{out}");
    let calls = c
        .get(&format!("/interview/{}/responses", agent["id"].as_str().unwrap()))
        .await
        .ok()
        .clone();
    let mut placed: Vec<i64> = calls["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            parley_core::time::Timestamp::parse_rfc3339(c["created"].as_str().unwrap())
                .unwrap()
                .millis()
        })
        .collect();
    placed.sort();
    assert_eq!(placed.len(), 2, "{calls}");
    // The second attempt waited the spacing after the first ended (ring timeout 3 s + 2 s).
    assert!(placed[1] - placed[0] >= 4_500, "{placed:?}");
    assert_eq!(calls["responses"][0]["contact"]["name"], "Casey");
}

on_both_databases!(
    crm_lead_webhook_calls_branches_and_posts,
    call_completed_scoped_to_one_agent,
    saving_reports_every_problem,
    webhook_trigger_edges,
    versions_pin_runs_and_cancel_stops_them,
    loops_conditions_and_retries,
    contact_and_tag_triggers,
    past_times_run_or_skip,
    unanswered_calls_are_retried,
    webhook_tells_nothing_of_other_triggers,
    webhook_is_limited_per_automation,
);

/// An anonymous caller cannot tell an automation triggered otherwise from a missing one: the
/// same 404 and body, for a malformed id too; live and draft webhook automations answer as
/// documented.
async fn webhook_tells_nothing_of_other_triggers(db: Db) {
    let s = server(db).await;
    let c = s.team().await;
    let mut ids = Vec::new();
    for trigger in [
        json!({"type": "call_completed"}),
        json!({"type": "contact_created"}),
        json!({"type": "tag_added", "tags": ["x"]}),
        json!({"type": "schedule", "cron": "0 9 * * *"}),
    ] {
        for mode in ["draft", "live"] {
            let a = c
                .post(
                    "/automation",
                    json!({"name": "other", "mode": mode, "trigger": trigger,
                           "steps": [{"slug": "e", "type": "end"}]}),
                )
                .await;
            ids.push(a.ok()["id"].as_str().unwrap().to_string());
        }
    }
    let missing = fire(&c, "AAAAAAAAAAAA", json!({})).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        json!({"data": null, "error": "Automation not found", "code": "not_found"})
    );
    for id in ids.iter().map(String::as_str).chain(["short", "AAAAAAAAAAAA-"]) {
        let r = fire(&c, id, json!({"phone": "+12125550100"})).await;
        assert_eq!((r.status, &r.body), (missing.status, &missing.body), "{id}");
    }
    // An id no automation can have (a NUL in it) is refused as input before any lookup: the
    // same 400 whatever exists, so it tells nothing either.
    let r = fire(&c, "%00%00%00%00%00%00", json!({})).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["code"], "invalid_text");
    // The webhook automations themselves answer as API.md says.
    let draft = c
        .post(
            "/automation",
            json!({"name": "hook", "trigger": {"type": "webhook"}, "steps": [{"slug": "e", "type": "end"}]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(fire(&c, draft["id"].as_str().unwrap(), json!({})).await.status, 200);
}

/// Each automation's webhook URL has its own quota, whatever the caller; 429 with Retry-After
/// and the X-RateLimit headers. Automations of other triggers are counted alike (their answers
/// stay indistinguishable). On PostgreSQL the quota is shared by every server process.
async fn webhook_is_limited_per_automation(db: Db) {
    let s = TestServer::start_with(db, |s| {
        s.rate_limit_per_minute = 1_000_000;
        s.webhook_rate_limit_per_minute = 3;
    })
    .await;
    let c = s.team().await;
    let make = |trigger: Value| {
        let c = c.clone();
        async move {
            c.post(
                "/automation",
                json!({"name": "hook", "mode": "live", "trigger": trigger,
                       "steps": [{"slug": "e", "type": "end"}]}),
            )
            .await
            .ok()["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let hook = make(json!({"type": "webhook"})).await;
    let second = make(json!({"type": "webhook"})).await;
    let other = make(json!({"type": "contact_created"})).await;
    // With a second server on the same database (PostgreSQL: one shared quota).
    let mut s2 = s.settings.clone();
    s2.bind = "127.0.0.1:0".parse().unwrap();
    let two = parley_server::start(&s2, s2.open_store().await.unwrap()).await.unwrap();
    let c2 = common::Client {
        base: format!("http://{}", two.addr),
        ..c.clone()
    };
    for i in 0..3 {
        let r = fire(&c, &hook, json!({"n": i})).await;
        assert_eq!(r.status, 202, "{}", r.body);
        assert_eq!(r.headers["x-ratelimit-limit"], "3");
        assert_eq!(r.headers["x-ratelimit-remaining"], (2 - i).to_string().as_str());
    }
    let r = fire(&c, &hook, json!({})).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["error"], "Rate limit exceeded");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    let reset: u64 = r.headers["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    assert!(
        (1..=20).contains(&retry),
        "3 a minute: one more within 20 s, not {retry}"
    );
    assert!((40..=60).contains(&reset), "the whole quota in a minute: {reset}");
    assert_eq!(r.headers["x-ratelimit-remaining"], "0");
    let runs = c.get(&format!("/automation/{hook}/runs")).await.ok().clone();
    assert_eq!(runs.as_array().unwrap().len(), 3, "the refused request started no run");
    let on_two = fire(&c2, &hook, json!({})).await.status;
    if db == Db::Postgres {
        assert_eq!(on_two, 429, "one quota for every process on PostgreSQL");
    } else {
        assert_eq!(on_two, 202, "SQLite: one process, its own quota");
    }
    // Another automation has its own quota; a non-webhook one is counted like any id.
    assert_eq!(fire(&c, &second, json!({})).await.status, 202);
    for _ in 0..3 {
        assert_eq!(fire(&c, &other, json!({})).await.status, 404);
    }
    assert_eq!(fire(&c, &other, json!({})).await.status, 429);
    two.stop().await;
}
