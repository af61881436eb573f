//! Bounded work per request, and no 5xx from anything a client sends, on both databases.
//!
//! First the defects of the hardening issue, one test each (each failed before the fix): a
//! contact with 60,000 tags spent ~17 s de-duplicating them before its 400; a NUL character was a
//! 500 on PostgreSQL; a 50,000-character search was a 500 on SQLite; a huge `page` overflowed.
//! Then a matrix that finds their siblings: every field of every endpoint's body is replaced in
//! turn by a NUL, a huge text, a huge collection, out-of-range numbers and wrong types, and every
//! path id and query parameter by NUL, overlong and invalid text; the answer must be a 4xx
//! envelope (a 400 naming the field for a NUL), never a 5xx.
//!
//! Each request goes to the router in this process (see `util`); these tests ran against a whole
//! server over loopback HTTP before, with the same settings (no rate limit, no job runner).

use crate::util::{error, ok, Answer, Api, Db};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

on_both_databases!(
    many_tags_are_refused_before_any_work,
    oversized_collections_are_refused_at_once,
    nul_in_text_is_a_400_naming_the_field,
    huge_search_is_a_400_and_wildcards_are_literal,
    paging_past_the_bound_is_a_400,
    path_ids_and_query_strings_are_checked,
    bad_input_matrix_never_answers_5xx,
);

#[track_caller]
fn expect_400(r: &Answer, needle: &str) {
    assert_eq!(r.0, StatusCode::BAD_REQUEST, "{needle}: {}", r.1);
    assert!(r.1["data"].is_null(), "{}", r.1);
    assert!(error(r).contains(needle), "expected '{needle}' in {}", r.1);
}

/// Sends and times one request.
async fn timed(c: &Api, method: Method, path: &str, body: Value) -> (Answer, Duration) {
    let started = Instant::now();
    let r = c.call(method, path, Some(&body)).await;
    (r, started.elapsed())
}

/// How long refusing an oversized list may take, parsing the ~1 MB body included: generous for a
/// debug build on shared cores, yet far below the seconds the quadratic de-duplication took.
const REFUSED_WITHIN: Duration = Duration::from_secs(2);

async fn many_tags_are_refused_before_any_work(db: Db) {
    let c = Api::new(db).await;
    let tags: Vec<String> = (0..60_000).map(|i| format!("t{i}")).collect();
    let (r, took) = timed(
        &c,
        Method::POST,
        "/contact/create",
        json!({"phone_number": "+12015550100", "tags": tags}),
    )
    .await;
    expect_400(&r, "tags: at most 100 tags per request (got 60000)");
    assert!(took < REFUSED_WITHIN, "refusing 60,000 tags took {took:?}");

    let contact = c.contact("+12015550101").await;
    let id = contact["id"].as_str().unwrap();
    for op in ["add_tags", "remove_tags"] {
        let (r, took) = timed(&c, Method::POST, &format!("/contact/{id}/{op}"), json!({"tags": tags})).await;
        expect_400(&r, "tags: at most 100 tags per request (got 60000)");
        assert!(took < REFUSED_WITHIN, "{op}: {took:?}");
    }
    let (r, took) = timed(
        &c,
        Method::POST,
        "/interview/create",
        json!({"title": "t", "response_tags": tags}),
    )
    .await;
    expect_400(&r, "response_tags: at most 100 tags per request (got 60000)");
    assert!(took < REFUSED_WITHIN, "response_tags: {took:?}");

    // Within the limit, duplicates collapse and merging keeps one of each.
    let hundred: Vec<String> = (0..100).map(|i| format!("t{i}")).collect();
    let r = c
        .post(&format!("/contact/{id}/add_tags"), json!({"tags": hundred}))
        .await;
    assert_eq!(ok(&r)["tags"].as_array().unwrap().len(), 100);
    let r = c
        .post(&format!("/contact/{id}/add_tags"), json!({"tags": hundred}))
        .await;
    assert_eq!(ok(&r)["tags"].as_array().unwrap().len(), 100);
    let r = c
        .post(&format!("/contact/{id}/add_tags"), json!({"tags": ["one more"]}))
        .await;
    expect_400(&r, "at most 100 tags per contact");
    // The upsert appends new tags: past the limit it is a 400 too (it was a 409).
    let r = c
        .post(
            "/contact/create",
            json!({"phone_number": "+12015550101", "tags": ["one more"]}),
        )
        .await;
    expect_400(
        &r,
        "tags: at most 100 tags per contact (the contact has 100, this adds 1)",
    );
    let r = c
        .post(&format!("/contact/{id}/remove_tags"), json!({"tags": [" t0 ", "t1"]}))
        .await;
    assert_eq!(ok(&r)["tags"].as_array().unwrap().len(), 98);
}

async fn oversized_collections_are_refused_at_once(db: Db) {
    let c = Api::new(db).await;
    let agent = c.agent().await;
    let agent_id = agent["id"].as_str().unwrap();
    let ids: Vec<String> = (0..20_000).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let numbers: Vec<String> = (0..30_000).map(|i| format!("+1201555{:04}", i % 10_000)).collect();
    let edges: Vec<Value> = (0..10_000)
        .map(|i| json!({"id": format!("e{i}"), "source": "a", "target": "b", "sourceHandle": format!("h{i}")}))
        .collect();
    let steps: Vec<Value> = (0..20_000)
        .map(|i| json!({"slug": format!("s{i}"), "type": "end"}))
        .collect();
    let many_rules: Vec<Value> = (0..10_000)
        .map(|_| json!({"variable": "trigger.payload.x", "op": "matches", "value": "(a+)+$"}))
        .collect();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/job/create_job_by_contacts",
            json!({"interview_id": agent_id, "contact_ids": ids}),
            "contact_ids, phone_numbers: at most 1000 per job (got 20000)",
        ),
        (
            "/job/create_job_by_contacts",
            json!({"interview_id": agent_id, "phone_numbers": numbers}),
            "at most 1000 per job (got 30000)",
        ),
        (
            "/interview/create",
            json!({"title": "big", "flow": {"nodes": [], "edges": edges}}),
            "flow.edges: at most 2000 edges (got 10000)",
        ),
        (
            "/automation",
            json!({"name": "big", "trigger": {"type": "webhook"}, "steps": steps}),
            "steps: at most 500 entries (got 20000)",
        ),
        (
            "/automation",
            json!({"name": "big", "trigger": {"type": "webhook"},
                   "steps": [{"slug": "c", "type": "condition", "rules": many_rules}]}),
            "steps[0] (c).rules: at most 50 entries (got 10000)",
        ),
        (
            "/sandbox/personas",
            json!({"name": "big", "steps": vec![json!({"action": "silent"}); 40_000]}),
            "steps: at most 200 steps (got 40000)",
        ),
        (
            "/contact/call",
            json!({"contact_id": uuid::Uuid::new_v4(), "interview_id": agent_id,
                   "metadata": (0..20_000).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}),
            "metadata: at most 50 keys",
        ),
        (
            "/contact/create",
            json!({"phone_number": "+12015550100",
                   "attributes": (0..20_000).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}),
            "attributes: at most 100 attributes",
        ),
    ];
    for (path, body, needle) in cases {
        let (r, took) = timed(&c, Method::POST, path, body).await;
        expect_400(&r, needle);
        assert!(took < REFUSED_WITHIN, "{path} ({needle}): {took:?}");
    }
}

async fn nul_in_text_is_a_400_naming_the_field(db: Db) {
    let c = Api::new(db).await;
    let contact = c.contact("+12015550102").await;
    let cid = contact["id"].as_str().unwrap();
    let agent = c.agent().await;
    let aid = agent["id"].as_str().unwrap();
    let nul = "a\u{0}b";
    let posts: Vec<(String, Value, &str)> = vec![
        (
            "/contact/create".into(),
            json!({"phone_number": "+12015550103", "name": nul}),
            "name",
        ),
        (
            "/contact/create".into(),
            json!({"phone_number": "+12015550103", "email": nul}),
            "email",
        ),
        ("/contact/create".into(), json!({"phone_number": nul}), "phone_number"),
        (
            "/contact/create".into(),
            json!({"phone_number": "+12015550103", "tags": ["ok", nul]}),
            "tags[1]",
        ),
        (
            "/contact/create".into(),
            json!({"phone_number": "+12015550103", "attributes": {"city": nul}}),
            "attributes.city",
        ),
        (
            "/contact/create".into(),
            json!({"phone_number": "+12015550103", "attributes": {nul: "x"}}),
            "attributes.a\\u0000b",
        ),
        (format!("/contact/{cid}/update_info"), json!({"name": nul}), "name"),
        (format!("/contact/{cid}/add_tags"), json!({"tags": [nul]}), "tags[0]"),
        (format!("/contact/{cid}/remove_tags"), json!({"tags": [nul]}), "tags[0]"),
        (
            "/contact/call".into(),
            json!({"contact_id": cid, "interview_id": aid, "metadata": {"k": nul}}),
            "metadata.k",
        ),
        (
            "/job/create_job_by_contacts".into(),
            json!({"interview_id": aid, "phone_numbers": [nul]}),
            "phone_numbers[0]",
        ),
        ("/interview/create".into(), json!({"title": nul}), "title"),
        (
            format!("/interview/{aid}/update"),
            json!({"voicemail_message": nul}),
            "voicemail_message",
        ),
        (
            "/interview/create".into(),
            json!({"title": "t", "flow": {"nodes": [{"id": "s", "type": "start", "data": {"x": nul}}], "edges": []}}),
            "flow.nodes[0].data.x",
        ),
        (
            "/webhooks/subscribe".into(),
            json!({"type": "NEW_RESPONSE", "url": nul}),
            "url",
        ),
        ("/sandbox/personas".into(), json!({"name": nul}), "name"),
        (
            "/sandbox/numbers".into(),
            json!({"phone_number": "+12025550200", "persona_id": nul}),
            "persona_id",
        ),
        (
            "/sandbox/call_in".into(),
            json!({"persona_id": "builtin-00", "to": nul}),
            "to",
        ),
        (
            "/automation".into(),
            json!({"name": nul, "trigger": {"type": "webhook"}, "steps": []}),
            "name",
        ),
        (
            "/webhook/automation/abcdefabcdef".into(),
            json!({"lead": {"name": nul}}),
            "lead.name",
        ),
    ];
    for (path, body, field) in posts {
        let r = c.post(&path, body).await;
        expect_400(&r, &format!("{field}: must not contain the NUL character"));
        assert_eq!(r.1["code"], "invalid_text", "{}", r.1);
    }
    let r = c
        .call(Method::DELETE, "/sandbox/numbers", Some(&json!({"phone_number": nul})))
        .await;
    expect_400(&r, "phone_number: must not contain the NUL character");
    for (path, field) in [
        ("/contact?search=a%00b", "search"),
        ("/contact?tags[]=a%00", "tags[]"),
        ("/interview?search=%00", "search"),
        ("/contact/%00", "id"),
        ("/sandbox/personas/builtin-0%00", "id"),
        ("/automation/abc%00/runs", "id"),
        ("/interview_response/%00", "id"),
    ] {
        expect_400(
            &c.get(path).await,
            &format!("{field}: must not contain the NUL character"),
        );
    }
    let r = c.get(&format!("/interview/{aid}/responses?search=%00")).await;
    expect_400(&r, "search: must not contain the NUL character");
    // Nothing was stored on the way.
    let list = c.get("/contact").await;
    assert_eq!(ok(&list)["total_count"], 1, "{}", list.1);
}

async fn huge_search_is_a_400_and_wildcards_are_literal(db: Db) {
    let c = Api::new(db).await;
    let agent = c.agent().await;
    let aid = agent["id"].as_str().unwrap();
    // A row to match against: SQLite checks a LIKE pattern's length only when it evaluates it.
    ok(&c
        .post(
            "/contact/create",
            json!({"phone_number": "+12015550109", "name": "Seed"}),
        )
        .await);
    let long = "a".repeat(50_000);
    for path in [
        format!("/contact?search={long}"),
        format!("/interview?search={long}"),
        format!("/interview/{aid}/responses?search={long}"),
    ] {
        expect_400(&c.get(&path).await, "search: must be at most 200 characters");
    }
    let longest = "é".repeat(200);
    ok(&c.get(&format!("/contact?search={longest}")).await);
    // `%`, `_` and `\` in a search match themselves only.
    for (number, name) in [
        ("+12015550110", "Ann_Lee"),
        ("+12015550111", "AnnXLee"),
        ("+12015550112", "50% off"),
        ("+12015550113", "500 off"),
        ("+12015550114", "back\\slash"),
    ] {
        ok(&c
            .post("/contact/create", json!({"phone_number": number, "name": name}))
            .await);
    }
    for (search, expected) in [
        ("n_L", vec!["Ann_Lee"]),
        ("50%25", vec!["50% off"]),
        ("k%5Cs", vec!["back\\slash"]),
        ("%25", vec!["50% off"]),
        ("_", vec!["Ann_Lee"]),
    ] {
        let r = c.get(&format!("/contact?search={search}")).await;
        let names: Vec<&str> = ok(&r)["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, expected, "search={search}");
    }
}

async fn paging_past_the_bound_is_a_400(db: Db) {
    let c = Api::new(db).await;
    let auto = c
        .post(
            "/automation",
            json!({"name": "a", "trigger": {"type": "webhook"}, "steps": [{"slug": "e", "type": "end"}]}),
        )
        .await;
    let id = ok(&auto)["id"].as_str().unwrap().to_string();
    for q in [
        "page=9223372036854775807&limit=100",
        "page=92233720368547758&limit=100",
        "page=10001&limit=100",
        "page=-1",
        "limit=0",
        "limit=101",
        "page=abc",
    ] {
        let r = c.get(&format!("/automation/{id}/runs?{q}")).await;
        assert_eq!(r.0, StatusCode::BAD_REQUEST, "runs?{q}: {}", r.1);
    }
    let r = c.get(&format!("/automation/{id}/runs?page=10000&limit=100")).await;
    assert_eq!(ok(&r), &json!([]));
    for path in [
        "/contact?page=20001&limit=50",
        "/contact?page=1000001",
        "/interview?page=9223372036854775807",
        "/webhooks/deliveries?limit=201",
    ] {
        expect_400(
            &c.get(path).await,
            if path.contains("deliveries") { "limit" } else { "page" },
        );
    }
    ok(&c.get("/contact?page=20000&limit=50").await);
    ok(&c.get("/interview?page=50000&limit=20").await);
}

async fn path_ids_and_query_strings_are_checked(db: Db) {
    let c = Api::new(db).await;
    let long = "a".repeat(5000);
    for path in [
        format!("/contact/{long}"),
        format!("/interview/{long}"),
        format!("/sandbox/personas/{long}"),
        format!("/automation/{long}"),
        format!("/automation_run/{long}"),
    ] {
        expect_400(&c.get(&path).await, "id: must be at most 128 characters");
    }
    // Invalid UTF-8 once percent-decoded: the envelope, not a bare text answer.
    for path in ["/contact/%FF", "/interview/%C3%28/responses", "/automation/%80"] {
        let r = c.get(path).await;
        assert_eq!(r.0, StatusCode::BAD_REQUEST, "{path}: {:?}", r.1);
        assert!(error(&r).starts_with("path:"), "{path}: {}", r.1);
    }
    // Invalid UTF-8 in a query is read leniently (U+FFFD), never a 5xx.
    for path in [
        "/contact?search=%FF%FE",
        "/contact?tags[]=%C3%28",
        "/interview?status=%80",
    ] {
        assert_4xx_or_ok(path, &c.get(path).await);
    }
    let many: String = (0..101).map(|i| format!("tags[]=t{i}&")).collect();
    expect_400(
        &c.get(&format!("/contact?{many}")).await,
        "tags[]: at most 100 values (got 101)",
    );
    let r = c
        .get(&format!("/contact?excluded_tags={}", vec!["x"; 5000].join(",")))
        .await;
    expect_400(&r, "excluded_tags[]: at most 100 values (got 5000)");
    let agent = c.agent().await;
    let r = c
        .get(&format!(
            "/interview/{}/responses?response_tags[]={}",
            agent["id"].as_str().unwrap(),
            "t".repeat(65)
        ))
        .await;
    expect_400(&r, "response_tags[]: must be at most 64 characters");
}

// ---------------------------------------------------------------------------------------------
// The matrix.

/// One endpoint and a valid body to mutate.
struct Endpoint {
    method: Method,
    path: String,
    body: Value,
}

/// One bad variation of a body: where, what, and whether it must be a 400 naming the place.
struct Mutation {
    at: String,
    what: &'static str,
    body: Value,
    names_field: bool,
}

/// Every bad variation of `body`: each string, number, list and object in it replaced in turn.
fn mutations(body: &Value) -> Vec<Mutation> {
    let mut out = Vec::new();
    walk(body, &mut Vec::new(), body, &mut out);
    out
}

#[derive(Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

fn field_name(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn replaced(root: &Value, path: &[Seg], with: Value) -> Value {
    let mut v = root.clone();
    let mut cur = &mut v;
    for seg in path {
        cur = match seg {
            Seg::Key(k) => &mut cur[k.as_str()],
            Seg::Index(i) => &mut cur[*i],
        };
    }
    *cur = with;
    v
}

/// How many copies of `item` make a huge collection that still fits the 1 MiB body limit (a
/// larger body is a 413 before anything is parsed, and tests nothing past it): 20,000, or fewer
/// of a large item.
fn fill(item: &Value) -> usize {
    let size = serde_json::to_vec(item).unwrap().len() + 1;
    (800_000 / size).min(20_000)
}

fn walk(root: &Value, path: &mut Vec<Seg>, v: &Value, out: &mut Vec<Mutation>) {
    let at = field_name(path);
    let mut add = |what: &'static str, with: Value, names_field: bool| {
        if !path.is_empty() {
            out.push(Mutation {
                at: at.clone(),
                what,
                body: replaced(root, path, with),
                names_field,
            });
        }
    };
    match v {
        Value::String(s) => {
            add("NUL", json!(format!("{s}\u{0}")), true);
            add("huge text", json!("x".repeat(300_000)), false);
            add(
                "unicode edges",
                json!("\u{feff}e\u{301}\u{10ffff}\u{fffd}\u{202e}\u{1f600}"),
                false,
            );
            add("empty text", json!(""), false);
            add("number for text", json!(12345678901234567890u64), false);
        }
        Value::Number(_) => {
            add("i64 overflow", json!(9_223_372_036_854_775_808u64), false);
            add("huge float", json!(1e300), false);
            add("negative", json!(-1), false);
            add("fraction", json!(1.5), false);
            add("text for number", json!("12"), false);
        }
        Value::Bool(_) => add("text for bool", json!("true"), false),
        Value::Array(items) => {
            let item = items.first().cloned().unwrap_or(json!("x"));
            let n = fill(&item);
            add("huge list", Value::Array(vec![item; n]), false);
            add("object for list", json!({}), false);
            add("null list", Value::Null, false);
        }
        Value::Object(m) => {
            let value = m.values().next().cloned().unwrap_or(json!("v"));
            let n = fill(&json!({"k00000": value}));
            let big: serde_json::Map<String, Value> = (0..n).map(|i| (format!("k{i}"), value.clone())).collect();
            add("huge object", Value::Object(big), false);
            add("list for object", json!([]), false);
            add("NUL key", json!({"a\u{0}": value}), true);
        }
        Value::Null => {}
    }
    match v {
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(root, path, x, out);
                path.pop();
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                path.push(Seg::Key(k.clone()));
                walk(root, path, x, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Every endpoint that takes a body, with a valid one (objects it refers to exist).
async fn endpoints(c: &Api) -> Vec<Endpoint> {
    let contact = c.contact("+12015550120").await;
    let cid = contact["id"].as_str().unwrap().to_string();
    let agent = c.agent().await;
    let aid = agent["id"].as_str().unwrap().to_string();
    let auto = c
        .post(
            "/automation",
            json!({"name": "m", "mode": "live", "trigger": {"type": "webhook"}, "steps": [{"slug": "e", "type": "end"}]}),
        )
        .await;
    let auto_id = ok(&auto)["id"].as_str().unwrap().to_string();
    let persona = c.post("/sandbox/personas", json!({"name": "p"})).await;
    let pid = ok(&persona)["id"].as_str().unwrap().to_string();
    let post = |path: &str, body: Value| Endpoint {
        method: Method::POST,
        path: path.to_string(),
        body,
    };
    vec![
        post(
            "/contact/create",
            json!({"phone_number": "2015550121", "name": "Ann", "email": "a@b.co", "country_code": "+1",
                   "tags": ["vip"], "attributes": {"city": "Paris"}}),
        ),
        post(
            &format!("/contact/{cid}/update_info"),
            json!({"phone_number": "+12015550122", "name": "Bo", "email": "b@c.de", "country_code": "+1", "status": "ACTIVE"}),
        ),
        post(&format!("/contact/{cid}/add_tags"), json!({"tags": ["a"]})),
        post(&format!("/contact/{cid}/remove_tags"), json!({"tags": ["a"]})),
        post(
            "/contact/call",
            json!({"contact_id": cid, "interview_id": aid, "metadata": {"k": "v"}}),
        ),
        post(
            "/job/create_job_by_contacts",
            json!({"interview_id": aid, "contact_ids": [cid], "phone_numbers": ["2015550123"], "country_code": "+1",
                   "metadata": {"k": "v"}}),
        ),
        post(
            "/interview/create",
            json!({"title": "T", "ai_name": "Al", "lang": "en", "response_tags": ["x"], "should_record": true,
                   "should_leave_voicemail": true, "voicemail_message": "hi", "silence_timeout_ms": 6000,
                   "silence_reprompts": 2,
                   "flow": {"nodes": [
                       {"id": "s", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
                       {"id": "q", "type": "question", "data": {"question": "Ok?", "variable": "ok", "kind": "choice",
                        "choices": ["yes", "no"], "max_attempts": 2}},
                       {"id": "b", "type": "branch", "data": {"conditions": [{"variable": "variables.ok", "op": "equals", "value": "yes", "handle": "y"}]}},
                       {"id": "w", "type": "webhook", "data": {"url": "https://example.com/x", "method": "POST", "headers": {"a": "b"}, "save_as": "r"}},
                       {"id": "t", "type": "transfer", "data": {"phone_number": "+12015550124"}},
                       {"id": "e", "type": "end", "data": {"outcome": "done", "message": "Bye {{contact.name}}"}}],
                     "edges": [
                       {"id": "1", "source": "s", "sourceHandle": "next", "target": "q"},
                       {"id": "2", "source": "q", "sourceHandle": "yes", "target": "b"},
                       {"id": "3", "source": "q", "sourceHandle": "no", "target": "e"},
                       {"id": "4", "source": "q", "sourceHandle": "no_match", "target": "e"},
                       {"id": "5", "source": "b", "sourceHandle": "y", "target": "w"},
                       {"id": "6", "source": "b", "sourceHandle": "else", "target": "e"},
                       {"id": "7", "source": "w", "sourceHandle": "next", "target": "t"},
                       {"id": "8", "source": "w", "sourceHandle": "error", "target": "e"}]}}),
        ),
        post(
            &format!("/interview/{aid}/update"),
            json!({"title": "U", "silence_reprompts": 1}),
        ),
        post(
            "/webhooks/subscribe",
            json!({"type": "NEW_RESPONSE", "url": "http://127.0.0.1:9/x", "data": aid}),
        ),
        Endpoint {
            method: Method::DELETE,
            path: "/webhooks/unsubscribe".into(),
            body: json!({"type": "NEW_RESPONSE", "url": "http://127.0.0.1:9/x", "data": {"interview_id": aid}}),
        },
        post(
            "/sandbox/personas",
            json!({"name": "P", "answer": "answer", "rings": 2, "voicemail_greeting": "hi",
                   "steps": [{"action": "say", "text": "yes", "pause_ms": 100}, {"action": "dtmf", "digits": "1"}],
                   "rules": [{"when_heard": "help", "then": {"action": "hang_up"}}],
                   "interrupt": {"text": "wait", "after_ms": 700, "times": 1}, "hang_up_at_turn": 3}),
        ),
        post(
            "/sandbox/numbers",
            json!({"phone_number": "+12025550200", "country_code": "+1", "persona_id": pid}),
        ),
        Endpoint {
            method: Method::DELETE,
            path: "/sandbox/numbers".into(),
            body: json!({"phone_number": "+12025550299", "country_code": "+1"}),
        },
        post(
            "/sandbox/call_in",
            json!({"persona_id": "builtin-00", "to": "+12025550200", "from": "+12025550201", "country_code": "+1",
                   "metadata": {"k": "v"}}),
        ),
        post(
            "/automation",
            json!({"name": "A", "mode": "draft", "time_zone": "UTC",
                   "trigger": {"type": "schedule", "cadence": "daily", "time": "09:00", "days": ["mon"]},
                   "calling": {"start": "09:00", "end": "20:00", "retries": 1, "retry_spacing": "1h"},
                   "steps": [
                     {"slug": "c", "type": "create_contact", "phone_number": "+12015550125", "tags": ["x"],
                      "attributes": {"a": "b"}, "next": "h"},
                     {"slug": "h", "type": "http_request", "url": "https://example.com/h", "headers": {"x": "y"},
                      "body": {"n": "{{ contact.name }}"}, "timeout_secs": 5, "retries": 1, "next": "l"},
                     {"slug": "l", "type": "loop", "items": "trigger.payload.items", "body": "d", "max_items": 10, "next": "k"},
                     {"slug": "d", "type": "delay", "duration": "1h"},
                     {"slug": "k", "type": "condition", "rules": [{"variable": "steps.h.status", "op": "greater", "value": "1"}],
                      "then": "z"},
                     {"slug": "z", "type": "end", "outcome": "done"}]}),
        ),
        post(
            &format!("/automation/{auto_id}/update"),
            json!({"name": "B", "steps": [{"slug": "e", "type": "end", "outcome": "x"}]}),
        ),
        post(
            &format!("/webhook/automation/{auto_id}"),
            json!({"lead": {"name": "x", "n": 1, "ok": true, "tags": ["a"]}}),
        ),
    ]
}

/// What is wrong with the answer to a bad input, if anything: a 5xx, or a 4xx that is not the
/// error envelope.
fn problem(what: &str, r: &Answer) -> Option<String> {
    let (status, body) = r;
    if !(status.is_client_error() || status.is_success()) {
        return Some(format!("{what}: {status} {}", excerpt(body)));
    }
    if status.is_client_error()
        && *status != StatusCode::UNAUTHORIZED
        && !(body["data"].is_null() && body["error"].is_string())
    {
        return Some(format!("{what}: {status} not the error envelope: {}", excerpt(body)));
    }
    None
}

fn excerpt(v: &Value) -> String {
    v.to_string().chars().take(300).collect()
}

/// Status codes a bad input may get: never a 5xx.
#[track_caller]
fn assert_4xx_or_ok(what: &str, r: &Answer) {
    if let Some(p) = problem(what, r) {
        panic!("{p}");
    }
}

/// Sends one request of the matrix and notes what is wrong with its answer; a request that gets
/// no answer at all (its handler panicked: over HTTP the server drops the connection) is noted too.
async fn probe_one(
    c: &Api,
    method: Method,
    path: &str,
    body: Option<&Value>,
    what: &str,
    problems: &mut Vec<String>,
) -> Option<Answer> {
    let body = body.map(|b| serde_json::to_vec(b).unwrap());
    match c.try_call(method, path, body).await {
        Ok(r) => {
            problems.extend(problem(what, &r));
            Some(r)
        }
        Err(e) => {
            problems.push(format!("{what}: {e}"));
            None
        }
    }
}

/// Every mishandled input is collected, so one run lists every sibling at once.
async fn bad_input_matrix_never_answers_5xx(db: Db) {
    let c = Api::new(db).await;
    let mut sent = 0;
    let mut problems: Vec<String> = Vec::new();
    let started = Instant::now();
    for e in endpoints(&c).await {
        let what = format!("{} {} (valid body)", e.method, e.path);
        probe_one(&c, e.method.clone(), &e.path, Some(&e.body), &what, &mut problems).await;
        for m in mutations(&e.body) {
            let what = format!("{} {} with {} at {}", e.method, e.path, m.what, m.at);
            let r = probe_one(&c, e.method.clone(), &e.path, Some(&m.body), &what, &mut problems).await;
            sent += 1;
            if let (true, Some(r)) = (m.names_field, r) {
                if r.0 != StatusCode::BAD_REQUEST
                    || !error(&r).contains("must not contain the NUL character")
                    || !error(&r).starts_with(m.at.as_str())
                {
                    problems.push(format!(
                        "{what}: {} {} (expected a 400 naming {})",
                        r.0,
                        excerpt(&r.1),
                        m.at
                    ));
                }
            }
        }
    }
    // Path ids and query parameters of every route, bad in every way.
    let agent = c.agent().await;
    let aid = agent["id"].as_str().unwrap();
    let gets = [
        "/contact/{}".to_string(),
        "/interview/{}".to_string(),
        "/interview/{}/responses".to_string(),
        "/interview_response/{}".to_string(),
        "/interview_response/{}/recording".to_string(),
        "/sandbox/personas/{}".to_string(),
        "/automation/{}".to_string(),
        "/automation/{}/runs".to_string(),
        "/automation_run/{}".to_string(),
    ];
    let long = "9".repeat(3000);
    for g in &gets {
        for id in [
            "%00",
            "%FF",
            long.as_str(),
            "..%2F..%2Fetc",
            "%20",
            "00000000-0000-0000-0000-000000000000",
        ] {
            let path = g.replace("{}", id);
            let what = format!("GET {}", path.chars().take(60).collect::<String>());
            probe_one(&c, Method::GET, &path, None, &what, &mut problems).await;
            sent += 1;
        }
    }
    let lists = [
        "/contact".to_string(),
        "/interview".to_string(),
        format!("/interview/{aid}/responses"),
        "/webhooks/deliveries".to_string(),
        "/automation/{}/runs".to_string(),
    ];
    let auto = c
        .post(
            "/automation",
            json!({"name": "r", "trigger": {"type": "webhook"}, "steps": [{"slug": "e", "type": "end"}]}),
        )
        .await;
    let auto_id = ok(&auto)["id"].as_str().unwrap().to_string();
    let params = [
        "search",
        "tags[]",
        "excluded_tags[]",
        "status",
        "status[]",
        "response_tags[]",
        "job_id",
        "sort",
        "sortDirection",
        "page",
        "limit",
        "phone_numbers_only",
    ];
    let values = [
        "%00".to_string(),
        "%FF%FE".to_string(),
        "x".repeat(20_000),
        "9223372036854775807".to_string(),
        "9223372036854775808".to_string(),
        "-9223372036854775808".to_string(),
        "1e9".to_string(),
        vec!["a"; 3000].join(","),
        "%25_%5C".to_string(),
    ];
    for l in &lists {
        let l = l.replace("{}", &auto_id);
        for p in params {
            for v in &values {
                let path = format!("{l}?{p}={v}");
                let what = format!("GET {l}?{p}={}", v.chars().take(20).collect::<String>());
                probe_one(&c, Method::GET, &path, None, &what, &mut problems).await;
                sent += 1;
            }
        }
    }
    // Deep nesting: past serde_json's limit is Invalid Syntax, below it a type error or accepted.
    for depth in [100, 127, 200, 10_000] {
        let deep = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        for (path, body) in [
            (
                "/contact/create",
                format!("{{\"phone_number\": \"+12015550130\", \"name\": {deep}}}"),
            ),
            (
                "/automation",
                format!("{{\"name\": \"d\", \"trigger\": {{\"type\": \"webhook\"}}, \"steps\": {deep}}}"),
            ),
        ] {
            let r = c.try_call(Method::POST, path, Some(body.into_bytes())).await.unwrap();
            if r.0 != StatusCode::BAD_REQUEST {
                problems.push(format!("POST {path} nested {depth} deep: {} {}", r.0, excerpt(&r.1)));
            }
            sent += 1;
        }
    }
    assert_eq!(c.store.ping().await.ok(), Some(()), "the database is still fine");
    eprintln!("bad-input matrix on {db:?}: {sent} requests in {:?}", started.elapsed());
    assert!(
        problems.is_empty(),
        "{} of {sent} bad inputs were mishandled:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
