//! Authentication, the rate limit, bad input everywhere, and the system endpoints.

use crate::common;
use common::{into_resp, Db, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(
    auth_requires_both_headers_exactly,
    bad_input_gets_clear_4xx_never_500,
    rate_limit_per_team,
    system_endpoints,
    public_routes_are_limited_per_source_address,
    failed_authentication_is_limited_per_source_address,
    metrics_labels_stay_bounded,
    recordings_answer_range_requests,
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
    // A team header that is sent must be readable and agree with every other one, even where
    // the header is optional: bytes outside visible ASCII, or two spellings that disagree.
    let bad = reqwest::header::HeaderValue::from_bytes(b"\xff\xfe").unwrap();
    let cases: Vec<Vec<(&str, reqwest::header::HeaderValue)>> = vec![
        vec![("team_id", bad.clone())],
        vec![("team-id", bad.clone())],
        vec![("team_id", l.team_id.parse().unwrap()), ("team-id", bad.clone())],
        vec![
            ("team_id", l.team_id.parse().unwrap()),
            ("team-id", a.team_id.parse().unwrap()),
        ],
        vec![
            ("team_id", l.team_id.parse().unwrap()),
            ("team_id", a.team_id.parse().unwrap()),
        ],
        vec![("x-api-token", bad)],
    ];
    for headers in cases {
        let mut rb = http
            .get(format!("{}/contact", lax.base))
            .header("x-api-token", &l.token);
        for (k, v) in &headers {
            rb = rb.header(*k, v.clone());
        }
        let r = into_resp(rb.send().await.unwrap()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{headers:?}: {}", r.body);
        assert_eq!(r.body, json!({"error": "Unauthorized."}));
    }
    let both = http
        .get(format!("{}/contact", lax.base))
        .header("x-api-token", &l.token)
        .header("team_id", &l.team_id)
        .header("team-id", &l.team_id)
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), StatusCode::OK, "both spellings, the same team");
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
    // The quota refills one request every 0.6 s while the burst is spent, so on a loaded
    // machine a few more than 100 may pass: as many as the time taken allows, never more.
    let started = std::time::Instant::now();
    let mut allowed = 0;
    let r = loop {
        let r = a.get("/contact").await;
        if r.status != StatusCode::OK {
            break r;
        }
        allowed += 1;
        assert_eq!(r.headers["x-ratelimit-limit"], "100");
        assert!(r.headers.contains_key("x-ratelimit-reset"));
        if allowed == 1 {
            assert_eq!(r.headers["x-ratelimit-remaining"], "99");
        }
        assert!(allowed <= 300, "the limit never answered");
    };
    let refilled = (started.elapsed().as_secs_f64() / 0.6).ceil() as usize;
    assert!(
        (100..=100 + refilled).contains(&allowed),
        "{allowed} allowed in {:?}",
        started.elapsed()
    );
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.body["error"], "Rate limit exceeded");
    assert!(r.body["data"].is_null());
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    // 100 per minute refills one request every 0.6 s: the next one is allowed within a second.
    assert!((1..=1).contains(&retry), "Retry-After {retry}");
    assert_eq!(r.headers["x-ratelimit-remaining"], "0");
    assert_eq!(r.headers["x-ratelimit-limit"], "100");
    // ...but the whole quota is back only a minute after it was spent.
    let reset: u64 = r.headers["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    assert!((58..=60).contains(&reset), "X-RateLimit-Reset {reset}");
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
    let reset: u64 = r.headers["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    assert!(
        (59..=60).contains(&reset),
        "both requests are back in a minute: {reset}"
    );
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
        let reset: u64 = r.headers["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
        assert!(
            (50..=60).contains(&reset),
            "the whole quota is back in a minute: {reset}"
        );
    }
    let b = one.team().await;
    assert_eq!(b.get("/contact").await.status, StatusCode::OK);
    // Housekeeping forgets the keys whose quota is whole again (and only those): the table
    // holds the keys seen within the last minute, not every key ever seen.
    let rows = || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rate_limits")
            .fetch_one(one.store().pool())
            .await
            .unwrap();
        n
    };
    assert_eq!(rows().await, 2);
    let now = parley_store::now_ms();
    assert_eq!(one.store().rate_limit_sweep(now).await.unwrap(), 0);
    assert_eq!(one.store().rate_limit_sweep(now + 61_000).await.unwrap(), 2);
    assert_eq!(rows().await, 0);
    two.stop().await;
}

/// A GET from the test's client, as if from `from` behind a proxy (`X-Forwarded-For`).
async fn get_from(http: &reqwest::Client, url: &str, from: Option<&str>) -> common::Resp {
    let mut rb = http.get(url);
    if let Some(f) = from {
        rb = rb.header("x-forwarded-for", f);
    }
    into_resp(rb.send().await.unwrap()).await
}

#[track_caller]
fn assert_limited(r: &common::Resp, limit: u32) {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body["error"], "Rate limit exceeded");
    assert_eq!(r.headers["x-ratelimit-limit"], limit.to_string().as_str());
    assert_eq!(r.headers["x-ratelimit-remaining"], "0");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    let reset: u64 = r.headers["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    let every = 60 / limit as u64;
    assert!((1..=every).contains(&retry), "Retry-After {retry}");
    assert!(
        reset > every && reset <= 60,
        "X-RateLimit-Reset {reset} is the whole quota's"
    );
}

/// Every route without credentials shares one quota per source address: health, metrics, the
/// OpenAPI document, the docs, unknown paths, wrong methods, the automation webhooks.
/// `X-Forwarded-For` counts only from a trusted proxy.
async fn public_routes_are_limited_per_source_address(db: Db) {
    let ts = TestServer::start_with(db, |s| s.public_rate_limit_per_minute = 5).await;
    let c = ts.team().await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", ts.base);
    let r = get_from(&http, &url("/health"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["x-ratelimit-limit"], "5");
    assert_eq!(r.headers["x-ratelimit-remaining"], "4");
    for p in ["/metrics", "/openapi.json", "/no/such/path"] {
        assert_ne!(
            get_from(&http, &url(p), None).await.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{p}"
        );
    }
    // A made-up X-Forwarded-For from a client that is not a trusted proxy changes nothing.
    assert_ne!(
        get_from(&http, &url("/docs/"), Some("198.51.100.1")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    for p in ["/health", "/metrics", "/openapi.json", "/docs/", "/no/such/path"] {
        assert_limited(&get_from(&http, &url(p), Some("198.51.100.2")).await, 5);
    }
    let r = into_resp(http.put(url("/health")).send().await.unwrap()).await;
    assert_limited(&r, 5);
    let r = into_resp(
        http.post(url("/webhook/automation/AAAAAAAAAAAA"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_limited(&r, 5);
    // The team's routes have the team's quota instead.
    assert_eq!(c.get("/contact").await.status, StatusCode::OK);

    // Behind a trusted proxy, each client named by X-Forwarded-For has its own quota.
    let proxied = TestServer::start_with(db, |s| {
        s.public_rate_limit_per_minute = 2;
        s.trusted_proxies = parley_api::client_addr::parse_trusted_proxies("127.0.0.0/8").unwrap();
    })
    .await;
    let url = format!("{}/health", proxied.base);
    for _ in 0..2 {
        assert_eq!(get_from(&http, &url, Some("198.51.100.1")).await.status, StatusCode::OK);
    }
    assert_limited(&get_from(&http, &url, Some("198.51.100.1")).await, 2);
    // Read from the right: what a client prepends itself is not believed.
    assert_limited(&get_from(&http, &url, Some("203.0.113.50, 198.51.100.1")).await, 2);
    assert_eq!(get_from(&http, &url, Some("198.51.100.2")).await.status, StatusCode::OK);
    // IPv6 clients count by their /64.
    assert_eq!(
        get_from(&http, &url, Some("2001:db8:0:1::1")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get_from(&http, &url, Some("2001:db8:0:1::2")).await.status,
        StatusCode::OK
    );
    assert_limited(&get_from(&http, &url, Some("2001:db8:0:1:ffff::3")).await, 2);
}

/// Failed authentications count per source address; past the quota the address gets 429 and
/// even a right token is refused until the quota refills (the token is not looked up). Other
/// addresses are not affected; the automation webhook's token check counts too.
async fn failed_authentication_is_limited_per_source_address(db: Db) {
    let ts = TestServer::start_with(db, |s| {
        s.auth_failure_limit_per_minute = 3;
        s.trusted_proxies = parley_api::client_addr::parse_trusted_proxies("127.0.0.1").unwrap();
    })
    .await;
    let c = ts.team().await;
    let http = reqwest::Client::new();
    let url = format!("{}/contact", ts.base);
    let send = |token: &str, from: &str| {
        http.get(&url)
            .header("x-api-token", token)
            .header("team_id", &c.team_id)
            .header("x-forwarded-for", from)
            .send()
    };
    for _ in 0..3 {
        let r = into_resp(send("pk_wrong", "198.51.100.1").await.unwrap()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    assert_limited(&into_resp(send("pk_wrong", "198.51.100.1").await.unwrap()).await, 3);
    assert_limited(&into_resp(send(&c.token, "198.51.100.1").await.unwrap()).await, 3);
    // No credentials at all is a failure too.
    assert_limited(
        &into_resp(
            http.get(&url)
                .header("x-forwarded-for", "198.51.100.1")
                .send()
                .await
                .unwrap(),
        )
        .await,
        3,
    );
    // Another address: its own quota; successes never count.
    for _ in 0..5 {
        assert_eq!(send(&c.token, "198.51.100.2").await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(
        send("pk_wrong", "198.51.100.2").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // A wrong x-api-token on an automation that verifies it is a failed authentication too.
    let a = c
        .post(
            "/automation",
            json!({"name": "v", "trigger": {"type": "webhook", "verify_token": true},
                   "steps": [{"slug": "e", "type": "end"}]}),
        )
        .await
        .ok()
        .clone();
    let hook = format!("{}/webhook/automation/{}", ts.base, a["id"].as_str().unwrap());
    let fire = |token: &str| {
        http.post(&hook)
            .header("x-api-token", token)
            .header("x-forwarded-for", "198.51.100.3")
            .json(&json!({}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(fire("pk_wrong").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    assert_limited(&into_resp(fire("pk_wrong").await.unwrap()).await, 3);
}

/// Clients cannot add series to /metrics: made-up methods and unknown paths each share one
/// label value (`other`, `unmatched`).
async fn metrics_labels_stay_bounded(db: Db) {
    let ts = TestServer::start(db).await;
    let c = ts.team().await;
    let http = reqwest::Client::new();
    let metrics = || async {
        http.get(format!("{}/metrics", ts.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    for p in ["/health", "/no/such/path", "/contact"] {
        let m = reqwest::Method::from_bytes(b"BREW").unwrap();
        http.request(m, format!("{}{p}", ts.base)).send().await.unwrap();
    }
    let before = metrics().await.len();
    for i in 0..40 {
        let m = reqwest::Method::from_bytes(format!("M{i:0>20}").as_bytes()).unwrap();
        for p in ["/health".to_string(), format!("/x{i}/y"), "/contact".to_string()] {
            http.request(m.clone(), format!("{}{p}", ts.base))
                .header("x-api-token", &c.token)
                .header("team_id", &c.team_id)
                .send()
                .await
                .unwrap();
        }
        http.get(format!("{}/unknown/{i}", ts.base)).send().await.unwrap();
    }
    let after = metrics().await;
    assert!(
        after.len() < before + 2000,
        "/metrics grew from {before} to {} bytes:\n{after}",
        after.len()
    );
    assert!(
        !after.contains("M000") && !after.contains("BREW") && !after.contains("/x1"),
        "{after}"
    );
    assert!(after.contains("method=\"other\""), "{after}");
    assert!(after.contains("route=\"unmatched\""), "{after}");
}

/// A call's recording answers Range requests (so a player can seek), HEAD, and 416 past its end.
async fn recordings_answer_range_requests(db: Db) {
    let ts = TestServer::start_with(db, |s| s.run_jobs = false).await;
    let c = ts.team().await;
    let agent = c.agent().await;
    let contact = c.contact("+12125550100").await;
    let call = c
        .post(
            "/contact/call",
            json!({"contact_id": contact["id"], "interview_id": agent["id"]}),
        )
        .await
        .ok()
        .clone();
    let id = call["id"].as_str().unwrap();
    let path = format!("/interview_response/{id}/recording");
    assert_eq!(c.raw_get(&path).await.status(), StatusCode::NOT_FOUND);
    // A recording as the recorder leaves it: a file named by the call id.
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let dir = ts.settings.data_dir.join("recordings");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{id}.wav")), &bytes).unwrap();

    let full = c.raw_get(&path).await;
    assert_eq!(full.status(), StatusCode::OK);
    assert_eq!(full.headers()["accept-ranges"], "bytes");
    assert_eq!(full.headers()["content-type"], "audio/wav");
    assert_eq!(full.headers()["content-length"], "100000");
    assert_eq!(full.bytes().await.unwrap().as_ref(), &bytes[..]);

    let range = |r: &str| {
        c.http
            .get(format!("{}{path}", c.base))
            .header("x-api-token", &c.token)
            .header("team_id", &c.team_id)
            .header("range", r)
            .send()
    };
    for (asked, from, to) in [
        ("bytes=0-0", 0, 0),
        ("bytes=1000-1999", 1000, 1999),
        ("bytes=99990-", 99_990, 99_999),
        ("bytes=-16", 99_984, 99_999),
        ("bytes=99000-200000", 99_000, 99_999),
    ] {
        let r = range(asked).await.unwrap();
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "{asked}");
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes {from}-{to}/100000").as_str(),
            "{asked}"
        );
        assert_eq!(r.headers()["content-type"], "audio/wav");
        assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[from..=to], "{asked}");
    }
    let r = into_resp(range("bytes=100000-").await.unwrap()).await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.headers["content-range"], "bytes */100000");
    assert!(r.body["data"].is_null() && r.error().contains("Range"), "{}", r.body);

    let head = c
        .http
        .head(format!("{}{path}", c.base))
        .header("x-api-token", &c.token)
        .header("team_id", &c.team_id)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], "100000");
    assert_eq!(head.headers()["accept-ranges"], "bytes");
    assert!(head.bytes().await.unwrap().is_empty());
    // Still the team's only.
    let other = ts.team().await;
    assert_eq!(other.raw_get(&path).await.status(), StatusCode::NOT_FOUND);
}
