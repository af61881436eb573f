//! The sandbox API: personas (built-in and the team's), the team's sandbox numbers, inbound calls
//! from personas (`/sandbox/call_in`), and call recordings, through a real server on both
//! databases.

use crate::common;
use common::{Client, Db, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(
    personas_are_listed_created_validated_and_deleted,
    personas_and_numbers_are_isolated_between_teams,
    number_bindings_follow_the_rules,
    a_persona_calls_in_to_an_agent,
    recordings_are_served_to_their_team_only,
);

fn a_script(name: &str) -> Value {
    json!({
        "name": name,
        "rings": 3,
        "steps": [
            {"action": "say", "text": "Hello, this is Sam."},
            {"action": "dtmf", "digits": "1#"},
            {"action": "hang_up"}
        ],
        "rules": [{"when_heard": "appointment", "then": {"action": "say", "text": "Yes please."}}],
        "backchannel": {"text": "Mhm.", "times": 0}
    })
}

async fn persona(c: &Client, name: &str) -> Value {
    c.post("/sandbox/personas", a_script(name)).await.ok().clone()
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

async fn personas_are_listed_created_validated_and_deleted(db: Db) {
    let ts = TestServer::start(db).await;
    let c = ts.team().await;

    // The ten built-ins, in slot order, for every team.
    let list = c.get("/sandbox/personas").await.ok().clone();
    assert_eq!(list["count"], 10);
    let builtins: Vec<String> = (0..10).map(|i| format!("builtin-{i:02}")).collect();
    assert_eq!(ids(&list, "personas"), builtins);
    let first = &list["personas"][0];
    assert_eq!(first["builtin"], true);
    assert_eq!(first["number_suffix"], "00");
    assert_eq!(first["script"]["name"], "Alex Morgan");
    assert!(first.get("created").is_none(), "{first}");
    assert_eq!(list["personas"][3]["script"]["answer"], "busy");
    let erin = c.get("/sandbox/personas/builtin-04").await.ok().clone();
    assert_eq!(erin["number_suffix"], "04");
    assert!(erin["script"]["voicemail_greeting"].as_str().unwrap().contains("Erin"));

    // Validation: every problem, each with its field.
    let bad = c
        .post(
            "/sandbox/personas",
            json!({"name": " ", "rings": 0, "steps": [{"action": "dtmf", "digits": "12x"}, {"action": "say", "text": "ok", "pause_ms": 9000}],
                   "interrupt": {"text": ""}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert_eq!(bad.body["data"], Value::Null);
    for field in [
        "name:",
        "rings:",
        "steps[0].digits:",
        "steps[1].pause_ms:",
        "interrupt.text:",
    ] {
        assert!(bad.error().contains(field), "{field} in {}", bad.error());
    }
    let bad = c.post("/sandbox/personas", json!({"name": "X", "rings": "two"})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.error().starts_with("rings:"), "{}", bad.error());
    let bad = c
        .post(
            "/sandbox/personas",
            json!({"name": "X", "steps": [{"action": "dance"}]}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.error().starts_with("steps[0]"), "{}", bad.error());
    let bad = c.post("/sandbox/personas", json!({"rings": 2})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.error().contains("name"), "{}", bad.error());

    // Create, read, list.
    let p = persona(&c, "Sam Support").await;
    let id = p["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{p}");
    assert_eq!(p["builtin"], false);
    assert!(p.get("number_suffix").is_none(), "{p}");
    assert!(p["created"].is_string());
    assert_eq!(p["script"]["name"], "Sam Support");
    assert_eq!(p["script"]["rings"], 3);
    assert_eq!(p["script"]["steps"][0]["pause_ms"], 600, "defaults are filled in");
    assert_eq!(p["script"]["steps"][2]["action"], "hang_up");
    assert_eq!(c.get(&format!("/sandbox/personas/{id}")).await.ok(), &p);
    let second = persona(&c, "Robin Second").await;
    let list = c.get("/sandbox/personas").await.ok().clone();
    assert_eq!(list["count"], 12);
    assert_eq!(
        ids(&list, "personas")[10..],
        [id.to_string(), second["id"].as_str().unwrap().to_string()]
    );

    // Missing ids are 404 with the envelope.
    for missing in [
        "builtin-10".to_string(),
        "builtin-1".to_string(),
        uuid::Uuid::new_v4().to_string(),
        "nope".to_string(),
    ] {
        let r = c.get(&format!("/sandbox/personas/{missing}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(r.error(), "Persona not found");
        assert_eq!(r.body["code"], "not_found");
    }

    // Built-ins cannot be deleted; the team's can, once.
    let r = c.delete("/sandbox/personas/builtin-00", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.error().contains("built-in"), "{}", r.error());
    assert_eq!(
        c.delete(&format!("/sandbox/personas/{id}"), None).await.ok(),
        &Value::Null
    );
    assert_eq!(
        c.get(&format!("/sandbox/personas/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let again = c.delete(&format!("/sandbox/personas/{id}"), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.error(), "Persona not found");
    assert_eq!(c.get("/sandbox/personas").await.ok()["count"], 11);

    // Every sandbox route is in the OpenAPI document, with the persona's schema.
    let doc: Value = reqwest::get(format!("{}/openapi.json", c.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/sandbox/personas",
        "/sandbox/personas/{id}",
        "/sandbox/numbers",
        "/sandbox/call_in",
        "/interview_response/{id}/recording",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing from /openapi.json");
    }
    for schema in [
        "Persona",
        "PersonaScript",
        "SandboxNumber",
        "BindNumberBody",
        "CallInBody",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema}");
    }
    assert!(
        doc["paths"]["/interview_response/{id}/recording"]["get"]["responses"]["200"]["content"]["audio/wav"]
            .is_object()
    );
}

async fn personas_and_numbers_are_isolated_between_teams(db: Db) {
    let ts = TestServer::start(db).await;
    let a = ts.team().await;
    let b = ts.team().await;
    let pa = persona(&a, "Team A's").await;
    let pa_id = pa["id"].as_str().unwrap();
    let agent_a = a.agent().await;
    let agent_b = b.agent().await;
    a.post(
        "/sandbox/numbers",
        json!({"phone_number": "+12025550300", "interview_id": agent_a["id"]}),
    )
    .await
    .ok();
    a.post(
        "/sandbox/numbers",
        json!({"phone_number": "+12025550301", "persona_id": pa_id}),
    )
    .await
    .ok();
    let missing = uuid::Uuid::new_v4().to_string();

    // B sees only the built-ins and answers A's persona exactly as a missing one.
    assert_eq!(b.get("/sandbox/personas").await.ok()["count"], 10);
    let theirs = b.get(&format!("/sandbox/personas/{pa_id}")).await;
    let nothing = b.get(&format!("/sandbox/personas/{missing}")).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!((theirs.status, &theirs.body), (nothing.status, &nothing.body));
    let theirs = b.delete(&format!("/sandbox/personas/{pa_id}"), None).await;
    let nothing = b.delete(&format!("/sandbox/personas/{missing}"), None).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!((theirs.status, &theirs.body), (nothing.status, &nothing.body));
    let theirs = b
        .post(
            "/sandbox/numbers",
            json!({"phone_number": "+12025550400", "persona_id": pa_id}),
        )
        .await;
    let nothing = b
        .post(
            "/sandbox/numbers",
            json!({"phone_number": "+12025550400", "persona_id": missing}),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(theirs.error(), "Persona not found");
    assert_eq!((theirs.status, &theirs.body), (nothing.status, &nothing.body));
    // ... nor bind to A's agent.
    let r = b
        .post(
            "/sandbox/numbers",
            json!({"phone_number": "+12025550400", "interview_id": agent_a["id"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), "Interview not found");
    // ... nor call A's agent through A's number, nor call with A's persona.
    let r = b
        .post(
            "/sandbox/call_in",
            json!({"persona_id": "builtin-00", "to": "+12025550300"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), "Sandbox number not found");
    let r = b
        .post("/sandbox/call_in", json!({"persona_id": pa_id, "to": "+12025550300"}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), "Persona not found");
    // ... nor see or unbind A's numbers.
    assert_eq!(b.get("/sandbox/numbers").await.ok()["count"], 0);
    let r = b
        .delete("/sandbox/numbers", Some(json!({"phone_number": "+12025550300"})))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), "Sandbox number not found");

    // Numbers are per team: B binds the same number to its own agent, and A's binding stays.
    let nb = b
        .post(
            "/sandbox/numbers",
            json!({"phone_number": "+12025550300", "interview_id": agent_b["id"]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(nb["interview_id"], agent_b["id"]);
    let na = a.get("/sandbox/numbers").await.ok().clone();
    assert_eq!(na["count"], 2);
    assert_eq!(na["numbers"][0]["interview_id"], agent_a["id"]);
    assert_eq!(a.get(&format!("/sandbox/personas/{pa_id}")).await.ok(), &pa);
}

async fn number_bindings_follow_the_rules(db: Db) {
    let ts = TestServer::start_with(db, |s| s.run_jobs = false).await;
    let c = ts.team().await;
    let agent = c.agent().await;
    let p = persona(&c, "Bound").await;
    let pid = p["id"].as_str().unwrap();

    // The built-in range is reserved, in any notation.
    for n in ["+12125550105", "(415) 555-0100", "1-202-555-0199"] {
        let r = c
            .post("/sandbox/numbers", json!({"phone_number": n, "persona_id": pid}))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{n}");
        assert!(r.error().starts_with("phone_number:"), "{}", r.error());
        assert!(r.error().contains("built-in"), "{}", r.error());
        assert_eq!(r.body["code"], "reserved_sandbox_number");
    }
    let r = c
        .post("/sandbox/numbers", json!({"phone_number": "123", "persona_id": pid}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().starts_with("phone_number:"), "{}", r.error());
    let r = c
        .post(
            "/sandbox/numbers",
            json!({"phone_number": "+12025550200", "persona_id": pid, "country_code": "+999"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().starts_with("country_code:"), "{}", r.error());

    // Exactly one of persona_id and interview_id.
    for body in [
        json!({"phone_number": "+12025550200", "persona_id": pid, "interview_id": agent["id"]}),
        json!({"phone_number": "+12025550200"}),
        json!({"phone_number": "+12025550200", "persona_id": "", "interview_id": null}),
    ] {
        let r = c.post("/sandbox/numbers", body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(r.error().starts_with("persona_id, interview_id:"), "{}", r.error());
    }
    // Unknown persona or agent: 404 naming which.
    let r = c
        .post(
            "/sandbox/numbers",
            json!({"phone_number": "+12025550200", "persona_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), "Persona not found");
    let r = c
        .post(
            "/sandbox/numbers",
            json!({"phone_number": "+12025550200", "interview_id": "ABCDEFGH"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), "Interview not found");
    assert_eq!(c.get("/sandbox/numbers").await.ok()["count"], 0);

    // Bind: national form with the default +1, a built-in persona, an agent (alias agent_id).
    let n = c
        .post(
            "/sandbox/numbers",
            json!({"phone_number": "(202) 555-0200", "persona_id": pid}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(n["phone_number"], "+12025550200");
    assert_eq!(n["persona_id"], pid);
    assert_eq!(n["interview_id"], Value::Null);
    assert!(n["created"].is_string());
    c.post(
        "/sandbox/numbers",
        json!({"phone_number": "+12025550201", "persona_id": "builtin-02"}),
    )
    .await
    .ok();
    c.post(
        "/sandbox/numbers",
        json!({"phone_number": "020 7946 0958", "country_code": "+44", "agent_id": agent["id"]}),
    )
    .await
    .ok();
    let list = c.get("/sandbox/numbers").await.ok().clone();
    assert_eq!(list["count"], 3);
    let numbers: Vec<&str> = list["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["phone_number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["+12025550200", "+12025550201", "+442079460958"]);

    // The store answers the sandbox network's question: what is this number?
    let found = ts
        .store()
        .sandbox_number(&c.team_id, "+12025550200")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.persona_id.as_deref(), Some(pid));
    assert_eq!(found.interview_id, None);
    assert!(ts
        .store()
        .sandbox_number(&c.team_id, "+12025550299")
        .await
        .unwrap()
        .is_none());

    // A persona with a number bound to it is not deleted: 409 names the number.
    let r = c.delete(&format!("/sandbox/personas/{pid}"), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.error().contains("+12025550200"), "{}", r.error());
    assert_eq!(c.get(&format!("/sandbox/personas/{pid}")).await.ok(), &p);

    // Rebinding replaces (upsert), keeping the number's creation time.
    let re = c
        .post(
            "/sandbox/numbers",
            json!({"phone_number": "+12025550200", "interview_id": agent["id"]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(re["persona_id"], Value::Null);
    assert_eq!(re["interview_id"], agent["id"]);
    assert_eq!(re["created"], n["created"]);
    assert_eq!(c.get("/sandbox/numbers").await.ok()["count"], 3);
    c.delete(&format!("/sandbox/personas/{pid}"), None).await.ok();

    // Unbinding.
    assert_eq!(
        c.delete("/sandbox/numbers", Some(json!({"phone_number": "202-555-0201"})))
            .await
            .ok(),
        &Value::Null
    );
    let r = c
        .delete("/sandbox/numbers", Some(json!({"phone_number": "+12025550201"})))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), "Sandbox number not found");
    assert_eq!(c.get("/sandbox/numbers").await.ok()["count"], 2);

    // A team-bound number (outside the built-in range) is an ordinary valid US number: it can be
    // a contact and be called like any other.
    let p2 = persona(&c, "Outbound target").await;
    c.post(
        "/sandbox/numbers",
        json!({"phone_number": "+12025550202", "persona_id": p2["id"]}),
    )
    .await
    .ok();
    let contact = c.contact("202-555-0202").await;
    assert_eq!(contact["phone_number"], "+12025550202");
    let call = c
        .post(
            "/contact/call",
            json!({"contact_id": contact["id"], "interview_id": agent["id"]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(call["status"], "NOT_STARTED");
    assert_eq!(call["type"], "PHONE_CALL");
    assert_eq!(call["phone_number"], "+12025550202");
}

async fn a_persona_calls_in_to_an_agent(db: Db) {
    // No job runner: the queued call and its job stay as the API left them.
    let ts = TestServer::start_with(db, |s| s.run_jobs = false).await;
    let c = ts.team().await;
    let agent = c.agent().await;
    let agent_id = agent["id"].as_str().unwrap();
    c.post(
        "/webhooks/subscribe",
        json!({"type": "CALL_PROGRESS", "url": "http://127.0.0.1:9/hook", "data": agent_id}),
    )
    .await
    .ok();
    c.post(
        "/sandbox/numbers",
        json!({"phone_number": "+12025550300", "interview_id": agent_id}),
    )
    .await
    .ok();
    let p = persona(&c, "Sam Support").await;
    c.post(
        "/sandbox/numbers",
        json!({"phone_number": "+12025550301", "persona_id": p["id"]}),
    )
    .await
    .ok();
    // The caller is a known contact: the call carries it.
    c.post(
        "/contact/create",
        json!({"phone_number": "+12025550105", "name": "Finley"}),
    )
    .await
    .ok();

    let call = c
        .post(
            "/sandbox/call_in",
            json!({"persona_id": "builtin-05", "to": "(202) 555-0300", "metadata": {"ticket": "42"}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(call["type"], "INBOUND_CALL");
    assert_eq!(call["status"], "NOT_STARTED");
    assert_eq!(call["progress"], "queued");
    assert_eq!(call["interview"]["id"], agent_id);
    assert_eq!(
        call["phone_number"], "+12025550105",
        "a built-in calls from its own suffix"
    );
    assert_eq!(call["contact"]["name"], "Finley");
    assert_eq!(call["metadata"]["ticket"], "42");
    let id = call["id"].as_str().unwrap();
    assert_eq!(c.get(&format!("/interview_response/{id}")).await.ok(), &call);
    let responses = c.get(&format!("/interview/{agent_id}/responses")).await.ok().clone();
    assert_eq!(responses["count"], 1);
    assert_eq!(responses["responses"][0]["id"], id);
    // Searchable by the caller's number, like any call.
    let found = c
        .get(&format!("/interview/{agent_id}/responses?search=2025550105"))
        .await
        .ok()["count"]
        .clone();
    assert_eq!(found, 1);

    // Its job carries everything the sandbox network needs, the persona's script included.
    let rows = sqlx::query("SELECT kind, team_id, payload FROM jobs WHERE kind = $1")
        .bind(parley_store::sandbox::SANDBOX_CALL_IN_JOB)
        .fetch_all(ts.store().pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    use sqlx::Row;
    assert_eq!(
        rows[0].try_get::<Option<String>, _>("team_id").unwrap().as_deref(),
        Some(c.team_id.as_str())
    );
    let payload: Value = serde_json::from_str(&rows[0].try_get::<String, _>("payload").unwrap()).unwrap();
    assert_eq!(payload["call_id"], id);
    assert_eq!(payload["team_id"], c.team_id);
    assert_eq!(payload["persona_id"], "builtin-05");
    assert_eq!(payload["persona"]["name"], "Finley Silent");
    assert_eq!(payload["persona"]["steps"][0]["action"], "silent");
    assert_eq!(payload["from"], "+12025550105");
    assert_eq!(payload["to"], "+12025550300");
    // No dial job: nothing is dialed out.
    let dials = sqlx::query("SELECT id FROM jobs WHERE kind = 'dial'")
        .fetch_all(ts.store().pool())
        .await
        .unwrap();
    assert!(dials.is_empty());
    // The queued CALL_PROGRESS webhook is fanned out like for any call.
    let deliveries = c.get("/webhooks/deliveries").await.ok().clone();
    let queued: Vec<&Value> = deliveries
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["type"] == "CALL_PROGRESS")
        .collect();
    assert_eq!(queued.len(), 1, "{deliveries}");

    // A team persona calls from +12025550199 unless told otherwise; no contact has that number.
    let own = c
        .post("/sandbox/call_in", json!({"persona_id": p["id"], "to": "+12025550300"}))
        .await
        .ok()
        .clone();
    assert_eq!(own["phone_number"], "+12025550199");
    assert_eq!(own["contact"], Value::Null);
    // `country_code` reads numbers given without a leading `+` (here `from`).
    let from = c
        .post(
            "/sandbox/call_in",
            json!({"persona_id": p["id"], "to": "+12025550300", "from": "020 7946 0958", "country_code": "+44"}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(from["phone_number"], "+442079460958");
    let rows = sqlx::query("SELECT payload FROM jobs WHERE kind = $1")
        .bind(parley_store::sandbox::SANDBOX_CALL_IN_JOB)
        .fetch_all(ts.store().pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        c.get(&format!("/interview/{agent_id}/responses")).await.ok()["count"],
        3
    );

    // Refusals.
    let r = c
        .post(
            "/sandbox/call_in",
            json!({"persona_id": "builtin-00", "to": "+12025550301"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.error().starts_with("to:") && r.error().contains("persona"),
        "{}",
        r.error()
    );
    let r = c
        .post(
            "/sandbox/call_in",
            json!({"persona_id": "builtin-00", "to": "+12025550399"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), "Sandbox number not found");
    let r = c
        .post(
            "/sandbox/call_in",
            json!({"persona_id": "builtin-00", "to": "+12125550100"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("built-in"), "{}", r.error());
    let r = c
        .post(
            "/sandbox/call_in",
            json!({"persona_id": "builtin-11", "to": "+12025550300"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), "Persona not found");
    let r = c
        .post(
            "/sandbox/call_in",
            json!({"persona_id": "builtin-00", "to": "+12025550300", "from": "nope"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().starts_with("from:"), "{}", r.error());
    let r = c.post("/sandbox/call_in", json!({"persona_id": "builtin-00"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("to"), "{}", r.error());
    c.post(&format!("/interview/{agent_id}/toggle_archive"), json!({}))
        .await
        .ok();
    let r = c
        .post(
            "/sandbox/call_in",
            json!({"persona_id": "builtin-00", "to": "+12025550300"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["code"], "interview_archived");
    assert_eq!(
        c.get(&format!("/interview/{agent_id}/responses")).await.ok()["count"],
        3
    );
}

/// GET with the team's headers, answered as raw bytes.
async fn get_raw(c: &Client, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let r = c
        .http
        .get(format!("{}{}", c.base, path))
        .header("x-api-token", &c.token)
        .header("team_id", &c.team_id)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

async fn recordings_are_served_to_their_team_only(db: Db) {
    let ts = TestServer::start_with(db, |s| s.run_jobs = false).await;
    let a = ts.team().await;
    let b = ts.team().await;
    let agent = a.agent().await;
    a.post(
        "/sandbox/numbers",
        json!({"phone_number": "+12025550300", "interview_id": agent["id"]}),
    )
    .await
    .ok();
    let call = a
        .post(
            "/sandbox/call_in",
            json!({"persona_id": "builtin-00", "to": "+12025550300"}),
        )
        .await
        .ok()
        .clone();
    let id = call["id"].as_str().unwrap();
    let path = format!("/interview_response/{id}/recording");

    // No file yet: 404 with the envelope.
    let r = a.get(&path).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), "Recording not found");
    assert_eq!(r.body["data"], Value::Null);

    // The file in the data dir's recordings folder is served byte for byte.
    let dir = ts.settings.data_dir.join("recordings");
    std::fs::create_dir_all(&dir).unwrap();
    let mut wav = b"RIFF\x24\x10\x00\x00WAVEfmt ".to_vec();
    wav.extend((0..70_000u32).map(|i| (i * 7 % 251) as u8));
    std::fs::write(dir.join(format!("{id}.wav")), &wav).unwrap();
    let (status, headers, bytes) = get_raw(&a, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "audio/wav");
    assert_eq!(headers["content-length"], wav.len().to_string().as_str());
    assert!(headers.contains_key("x-ratelimit-limit"), "{headers:?}");
    assert_eq!(bytes, wav);

    // Another team's call is answered exactly as a missing one.
    let theirs = b.get(&path).await;
    let missing = b
        .get(&format!("/interview_response/{}/recording", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(theirs.error(), "Call not found");
    assert_eq!((theirs.status, &theirs.body), (missing.status, &missing.body));
    let r = a.get("/interview_response/not-a-uuid/recording").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), "Call not found");
    // Without credentials: 401.
    let r = reqwest::get(format!("{}{path}", a.base)).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
