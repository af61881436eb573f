//! Authentication, the rate limit, bad input everywhere, and the system endpoints.

mod common;
use common::{into_resp, Db, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(
    auth_requires_both_headers_exactly,
    bad_input_gets_clear_4xx_never_500,
    rate_limit_per_team,
    system_endpoints
);

async fn auth_requires_both_headers_exactly(db: Db) {
    let ts = TestServer::start(db).await;
    let a = ts.team().await;
    let b = ts.team().await;
    let http = reqwest::Client::new();
    let url = format!("{}/contact", ts.base);
    let cases: Vec<(Option<&str>, Option<&str>)> = vec![
        (None, None),
        (Some(&a.token), None),
        (None, Some(&a.team_id)),
        (Some("pk_wrong"), Some(&a.team_id)),
        (Some(&a.token), Some(&b.team_id)), // a real token with another real team
        (Some(&a.token), Some("not-a-team")),
        (Some(""), Some(&a.team_id)),
    ];
    for (token, team) in cases {
        let mut rb = http.get(&url);
        if let Some(t) = token {
            rb = rb.header("x-api-token", t);
        }
        if let Some(t) = team {
            rb = rb.header("team_id", t);
        }
        let r = into_resp(rb.send().await.unwrap()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{token:?} {team:?}");
        assert_eq!(r.body, json!({"error": "Unauthorized."}));
    }
    assert_eq!(a.get("/contact").await.status, StatusCode::OK);
    // The proxy-safe spelling of the team header works too.
    let r = http
        .get(&url)
        .header("x-api-token", &a.token)
        .header("team-id", &a.team_id)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Revoked tokens stop working; other tokens of the team keep working.
    let (token_id, second) = ts.store().create_token(&a.team_id).await.unwrap();
    let with = |t: &str| {
        http.get(&url)
            .header("x-api-token", t.to_string())
            .header("team_id", &a.team_id)
            .send()
    };
    assert_eq!(with(&second).await.unwrap().status(), StatusCode::OK);
    ts.store().revoke_token(&token_id).await.unwrap();
    assert_eq!(with(&second).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(with(&a.token).await.unwrap().status(), StatusCode::OK);

    // Token-only clients, when the operator allows them.
    let lax = TestServer::start_with(db, |s| s.require_team_header = false).await;
    let l = lax.team().await;
    let r = http
        .get(format!("{}/contact", lax.base))
        .header("x-api-token", &l.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .get(format!("{}/contact", lax.base))
        .header("x-api-token", &l.token)
        .header("team_id", &a.team_id)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "a sent team_id must still match");
}

async fn raw(
    ts: &TestServer,
    c: &common::Client,
    method: reqwest::Method,
    path: &str,
    ctype: Option<&str>,
    body: Vec<u8>,
) -> common::Resp {
    // A fresh connection per request: after refusing an oversized body the server closes its
    // connection without reading the rest, and a pooled connection could be reused just as it
    // closes (the client then sees an incomplete message).
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let mut rb = http
        .request(method, format!("{}{}", ts.base, path))
        .header("x-api-token", &c.token)
        .header("team_id", &c.team_id);
    if let Some(ct) = ctype {
        rb = rb.header("content-type", ct);
    }
    into_resp(rb.body(body).send().await.unwrap()).await
}

async fn bad_input_gets_clear_4xx_never_500(db: Db) {
    let ts = TestServer::start(db).await;
    let c = ts.team().await;
    let j = Some("application/json");
    let post = reqwest::Method::POST;
    let expect = |r: &common::Resp, status: StatusCode, needle: &str| {
        assert_eq!(r.status, status, "{}", r.body);
        assert!(r.body["data"].is_null(), "{}", r.body);
        assert!(r.error().contains(needle), "expected '{needle}' in {}", r.body);
    };
    let r = raw(
        &ts,
        &c,
        post.clone(),
        "/contact/create",
        j,
        b"{\"phone_number\": ".to_vec(),
    )
    .await;
    expect(&r, StatusCode::BAD_REQUEST, "Invalid Syntax");
    assert_eq!(r.error(), "Invalid Syntax");
    let r = raw(&ts, &c, post.clone(), "/contact/create", j, b"[1,2]".to_vec()).await;
    expect(&r, StatusCode::BAD_REQUEST, "JSON object");
    let r = c.post("/contact/create", json!({"name": "x"})).await;
    expect(&r, StatusCode::BAD_REQUEST, "phone_number");
    let r = c.post("/contact/create", json!({"phone_number": 12015550123u64})).await;
    expect(&r, StatusCode::BAD_REQUEST, "phone_number: invalid type");
    let r = c
        .post(
            "/contact/create",
            json!({"phone_number": "+12015551123", "attributes": {"age": 3}}),
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "attributes.age");
    let r = c
        .post(
            "/contact/create",
            json!({"phone_number": "+12015551123", "tags": "vip"}),
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "tags");
    let r = c
        .post(
            "/contact/create",
            json!({"phone_number": "+12015551123", "surname": "x"}),
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "surname");
    let r = c
        .post("/contact/create", json!({"phone_number": "+44 20 7946 095"}))
        .await;
    expect(
        &r,
        StatusCode::BAD_REQUEST,
        "phone_number: not a valid number for country code +44",
    );
    assert_eq!(r.body["code"], "invalid_phone_number");
    let r = c
        .post("/contact/create", json!({"phone_number": "+1 900 555 1234"}))
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "premium-rate");
    let r = c
        .post(
            "/contact/create",
            json!({"phone_number": "5551234", "country_code": "+999"}),
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "country_code");
    let r = raw(
        &ts,
        &c,
        post.clone(),
        "/contact/create",
        Some("text/plain"),
        b"{}".to_vec(),
    )
    .await;
    expect(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type");
    let r = raw(&ts, &c, post.clone(), "/contact/create", None, b"{}".to_vec()).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = format!(
        "{{\"phone_number\": \"+12015551123\", \"name\": \"{}\"}}",
        "x".repeat(2 << 20)
    );
    let r = raw(&ts, &c, post.clone(), "/contact/create", j, big.into_bytes()).await;
    expect(&r, StatusCode::PAYLOAD_TOO_LARGE, "too large");
    let c = common::Client {
        http: reqwest::Client::new(), // not the pool that sent the oversized body
        ..c
    };
    for q in [
        "limit=1000",
        "limit=0",
        "limit=abc",
        "page=-1",
        "page=x",
        "sort=password_asc",
        "sortDirection=up",
    ] {
        let r = c.get(&format!("/contact?{q}")).await;
        expect(&r, StatusCode::BAD_REQUEST, q.split('=').next().unwrap());
    }
    let r = c.get("/interview?sort=best").await;
    expect(&r, StatusCode::BAD_REQUEST, "sort");
    let r = c.get("/interview?status=GONE").await;
    expect(&r, StatusCode::BAD_REQUEST, "status");
    for path in ["/contact/not-a-uuid", "/contact/00000000-0000-0000-0000-000000000000"] {
        let r = c.get(path).await;
        expect(&r, StatusCode::NOT_FOUND, "Contact not found");
    }
    for path in [
        "/interview/nope",
        "/interview/ABCDEFGH",
        "/interview/ABCDEFGH/responses",
    ] {
        expect(&c.get(path).await, StatusCode::NOT_FOUND, "Interview not found");
    }
    for path in [
        "/interview_response/123",
        "/interview_response/00000000-0000-0000-0000-000000000000",
    ] {
        expect(&c.get(path).await, StatusCode::NOT_FOUND, "Call not found");
    }
    let agent = c.agent().await;
    let r = c
        .post(
            "/contact/call",
            json!({"contact_id": "nope", "interview_id": agent["id"]}),
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "Contact not found, please try again");
    let contact = c.contact("+12015551123").await;
    let r = c
        .post(
            "/contact/call",
            json!({"contact_id": contact["id"], "interview_id": "XXXXXXXX"}),
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "Interview not found, please try again");
    let r = c
        .post(
            "/contact/call",
            json!({"contact_id": contact["id"], "interview_id": agent["id"], "metadata": {"a": 1}}),
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "metadata.a");
    let r = c
        .post(
            "/interview/create",
            json!({"title": "x", "flow": {"nodes": [], "edges": []}}),
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "exactly one start");
    let r = c.post("/interview/create", json!({"title": "x", "flow": {"nodes": [{"id": "s", "type": "start"}, {"id": "p", "type": "speak", "data": {"prompt": "hi"}}],
        "edges": [{"id": "e", "source": "s", "sourceHandle": "next", "target": "p"}]}})).await;
    expect(&r, StatusCode::BAD_REQUEST, "PARLEY_LLM_BASE_URL");
    let r = c
        .post(
            "/webhooks/subscribe",
            json!({"type": "EVERYTHING", "url": "http://example.com/x"}),
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "type");
    let r = c
        .post(
            "/webhooks/subscribe",
            json!({"type": "NEW_RESPONSE", "url": "not a url"}),
        )
        .await;
    expect(&r, StatusCode::BAD_REQUEST, "url");
    expect(&c.get("/no/such/route").await, StatusCode::NOT_FOUND, "Not found");
    expect(
        &c.delete("/contact/create", None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
    );
}

async fn rate_limit_per_team(db: Db) {
    let ts = TestServer::start_with(db, |s| s.rate_limit_per_minute = 100).await;
    let a = ts.team().await;
    let b = ts.team().await;
    for i in 0..100 {
        let r = a.get("/contact").await;
        assert_eq!(r.status, StatusCode::OK, "request {}", i + 1);
        assert_eq!(r.headers["x-ratelimit-limit"], "100");
        assert!(r.headers.contains_key("x-ratelimit-reset"));
        if i == 0 {
            assert_eq!(r.headers["x-ratelimit-remaining"], "99");
        }
    }
    let r = a.get("/contact").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.body["error"], "Rate limit exceeded");
    assert!(r.body["data"].is_null());
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    // 100 per minute refills one request every 0.6 s: the next one is allowed within a second.
    assert!((1..=1).contains(&retry), "Retry-After {retry}");
    assert_eq!(r.headers["x-ratelimit-remaining"], "0");
    // Another team is not affected.
    assert_eq!(b.get("/contact").await.status, StatusCode::OK);
    // After Retry-After, the team may send again.
    tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    assert_eq!(a.get("/contact").await.status, StatusCode::OK);

    let slow = TestServer::start_with(db, |s| s.rate_limit_per_minute = 2).await;
    let s = slow.team().await;
    assert_eq!(s.get("/contact").await.status, StatusCode::OK);
    assert_eq!(s.get("/contact").await.status, StatusCode::OK);
    let r = s.get("/contact").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((29..=30).contains(&retry), "2 per minute refills every 30 s: {retry}");
}

async fn system_endpoints(db: Db) {
    let ts = TestServer::start(db).await;
    let http = reqwest::Client::new();
    let h: Value = http
        .get(format!("{}/health", ts.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h, json!({"status": "ok"}));
    let doc: Value = http
        .get(format!("{}/openapi.json", ts.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for p in [
        "/contact/create",
        "/contact/{id}",
        "/contact/call",
        "/job/create_job_by_contacts",
        "/interview/{id}/responses",
        "/webhooks/subscribe",
        "/webhooks/deliveries",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing from the OpenAPI document");
    }
    assert!(doc["components"]["schemas"].get("Contact").is_some());
    let page = http
        .get(format!("{}/docs/", ts.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("swagger-ui") && !page.contains("cdn"),
        "docs page served locally"
    );
    let init = http
        .get(format!("{}/docs/swagger-initializer.js", ts.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
    let js = http
        .get(format!("{}/docs/swagger-ui-bundle.js", ts.base))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    let c = ts.team().await;
    c.get("/contact").await.ok();
    let m = http
        .get(format!("{}/metrics", ts.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("parley_http_requests_total{method=\"GET\",route=\"/contact\",status=\"200\"} 1"),
        "{m}"
    );
    assert!(m.contains("parley_http_request_duration_seconds_bucket"), "{m}");
    assert!(
        m.contains("# TYPE parley_calls gauge") && m.contains("parley_job_queue_depth"),
        "{m}"
    );
}

/// On PostgreSQL, several processes share one quota per team.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_is_shared_by_servers_on_postgres() {
    let one = TestServer::start_with(Db::Postgres, |s| s.rate_limit_per_minute = 10).await;
    let mut s2 = one.settings.clone();
    s2.bind = "127.0.0.1:0".parse().unwrap();
    let two = parley_server::start(&s2, s2.open_store().await.unwrap()).await.unwrap();
    let a1 = one.team().await;
    let a2 = common::Client {
        base: format!("http://{}", two.addr),
        ..a1.clone()
    };
    for i in 0..10 {
        let c = if i % 2 == 0 { &a1 } else { &a2 };
        let r = c.get("/contact").await;
        assert_eq!(r.status, StatusCode::OK, "request {}", i + 1);
        assert_eq!(
            r.headers["x-ratelimit-remaining"].to_str().unwrap(),
            (9 - i).to_string()
        );
    }
    for c in [&a1, &a2] {
        let r = c.get("/contact").await;
        assert_eq!(
            r.status,
            StatusCode::TOO_MANY_REQUESTS,
            "the quota is the team's, on every server"
        );
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=6).contains(&retry), "10 per minute refills every 6 s: {retry}");
    }
    let b = one.team().await;
    assert_eq!(b.get("/contact").await.status, StatusCode::OK);
    two.stop().await;
}
