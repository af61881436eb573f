//! The dashboard's accounts through the router: one-time links, sign-in, the session cookie on
//! every team route, the CSRF rule, roles, tokens made and revoked from Settings → Developer,
//! and the team-wide calls list.

use crate::util::{ok, Api, Db};
use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use parley_core::account::Role;
use serde_json::{json, Value};

/// A browser: its session cookie and CSRF token once signed in.
struct Browser<'a> {
    api: &'a Api,
    cookie: Option<String>,
    csrf: Option<String>,
}

fn session_cookie(h: &HeaderMap) -> Option<String> {
    let set = h.get(header::SET_COOKIE)?.to_str().ok()?;
    let value = set.split(';').next()?.strip_prefix("parley_session=")?;
    Some(value.to_string())
}

impl<'a> Browser<'a> {
    fn new(api: &'a Api) -> Self {
        Browser {
            api,
            cookie: None,
            csrf: None,
        }
    }

    /// A request as the dashboard sends it: the cookie, the team header when given, the CSRF
    /// token when `csrf` (and one is known).
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        team: Option<&str>,
        body: Option<Value>,
        csrf: bool,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, format!("theme=dark; parley_session={c}"));
        }
        if let Some(t) = team {
            req = req.header("team_id", t);
        }
        if let (true, Some(t)) = (csrf, &self.csrf) {
            req = req.header("x-csrf-token", t);
        }
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(&b).unwrap())
            }
            None => Body::empty(),
        };
        let (status, headers, body) = self.api.raw(req.body(body).unwrap()).await;
        if let Some(c) = session_cookie(&headers) {
            self.cookie = Some(c).filter(|c| !c.is_empty());
        }
        (status, headers, body)
    }

    /// `GET /user`, remembering the CSRF token.
    async fn user(&mut self) -> (StatusCode, Value) {
        let (st, _, body) = self.send(Method::GET, "/user", None, None, false).await;
        if let Some(t) = body["data"]["csrf_token"].as_str() {
            self.csrf = Some(t.to_string());
        }
        (st, body)
    }
}

async fn owner_link(api: &Api, email: &str) -> String {
    api.store
        .create_account_link(email, Some(api.team_id()), Role::Owner)
        .await
        .unwrap()
}

async fn a_link_signs_in_and_the_session_works_the_team_routes(db: Db) {
    let api = Api::new(db).await;
    let team = api.team_id().to_string();
    let link = owner_link(&api, "Owner@Example.com").await;
    let mut b = Browser::new(&api);

    // Signed out: nothing.
    assert_eq!(b.user().await.0, StatusCode::UNAUTHORIZED);
    let (st, _, _) = b.send(Method::GET, "/contact", Some(&team), None, false).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // A short password is refused, and does not use the link up.
    let body = json!({ "token": link, "password": "short", "name": "Olive" });
    let (st, _, r) = b.send(Method::POST, "/auth/redeem", None, Some(body), false).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{r}");
    assert!(r["error"].as_str().unwrap().starts_with("password:"), "{r}");
    let body = json!({ "token": link, "password": "correct horse battery", "name": "Olive" });
    let (st, h, r) = b
        .send(Method::POST, "/auth/redeem", None, Some(body.clone()), false)
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let set = h.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP here: {set}");
    assert_eq!(r["data"]["user"]["email"], "owner@example.com");

    // The link is one use only.
    let mut other = Browser::new(&api);
    let (st, _, r) = other.send(Method::POST, "/auth/redeem", None, Some(body), false).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["code"], "link_used");
    assert!(other.cookie.is_none());

    let (st, me) = b.user().await;
    assert_eq!(st, StatusCode::OK, "{me}");
    assert_eq!(me["data"]["name"], "Olive");
    assert_eq!(
        me["data"]["teams"],
        json!([{ "id": team, "name": "test team", "role": "owner" }])
    );
    assert!(me["data"]["csrf_token"].as_str().unwrap().starts_with("pc_"));

    // Reads with the cookie and the team; writes need the CSRF token too.
    let (st, _, r) = b.send(Method::GET, "/contact", Some(&team), None, false).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let new = json!({ "phone_number": "+12125550100", "name": "Sam" });
    let (st, _, r) = b
        .send(Method::POST, "/contact/create", Some(&team), Some(new.clone()), false)
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{r}");
    assert!(r["error"].as_str().unwrap().contains("x-csrf-token"), "{r}");
    let (st, _, r) = b
        .send(Method::POST, "/contact/create", Some(&team), Some(new), true)
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    // Without a team header, or with a team the user is not in: the same 401 as a bad token.
    let (st, _, _) = b.send(Method::GET, "/contact", None, None, false).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (other_team, _) = api.store.create_team("other").await.unwrap();
    let (st, _, _) = b.send(Method::GET, "/contact", Some(&other_team.id), None, false).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // Sign out: the cookie is cleared and the session is gone server-side too.
    let old = b.cookie.clone();
    let (st, h, _) = b.send(Method::POST, "/auth/logout", None, None, false).await;
    assert_eq!(st, StatusCode::OK);
    assert!(h
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    b.cookie = old;
    assert_eq!(b.user().await.0, StatusCode::UNAUTHORIZED);
}

async fn sign_in_is_one_answer_for_every_failure_and_limited_per_email(db: Db) {
    let api = Api::new(db).await;
    let link = owner_link(&api, "owner@example.com").await;
    let mut b = Browser::new(&api);
    let body = json!({ "token": link, "password": "correct horse battery" });
    assert_eq!(
        b.send(Method::POST, "/auth/redeem", None, Some(body), false).await.0,
        StatusCode::OK
    );

    let mut anon = Browser::new(&api);
    for (email, password) in [
        ("owner@example.com", "wrong password"),
        ("nobody@example.com", "correct horse battery"),
    ] {
        let body = json!({ "email": email, "password": password });
        let (st, _, r) = anon.send(Method::POST, "/auth/login", None, Some(body), false).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{r}");
        assert_eq!(r["error"], "Wrong email or password.");
        assert!(anon.cookie.is_none());
    }
    // The right password, in another case of the email: a session.
    let body = json!({ "email": " OWNER@example.com", "password": "correct horse battery" });
    let (st, _, r) = anon.send(Method::POST, "/auth/login", None, Some(body), false).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert!(anon.cookie.is_some());

    // Ten failures for one email (the default), then 429 even with the right password.
    let mut guesser = Browser::new(&api);
    let mut limited = None;
    for i in 0..12 {
        let body = json!({ "email": "owner@example.com", "password": format!("guess number {i}") });
        let (st, h, _) = guesser.send(Method::POST, "/auth/login", None, Some(body), false).await;
        if st == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((i, h));
            break;
        }
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let (i, h) = limited.expect("limited within 12 attempts");
    // No account has an email over 254 bytes: refused before the quotas keep it as a key.
    let long = format!("{}@example.com", "a".repeat(300_000));
    let body = json!({ "email": long, "password": "whatever it is" });
    let (st, _, r) = anon.send(Method::POST, "/auth/login", None, Some(body), false).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["error"], "email: at most 254 bytes");
    assert!((9..=10).contains(&i), "limited at attempt {i}");
    assert!(h.get(header::RETRY_AFTER).is_some());
    let body = json!({ "email": "owner@example.com", "password": "correct horse battery" });
    let (st, _, _) = guesser.send(Method::POST, "/auth/login", None, Some(body), false).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
}

async fn tokens_made_in_the_dashboard_work_until_revoked_and_members_cannot_invite(db: Db) {
    let api = Api::new(db).await;
    let team = api.team_id().to_string();
    let link = owner_link(&api, "owner@example.com").await;
    let mut owner = Browser::new(&api);
    let body = json!({ "token": link, "password": "correct horse battery" });
    assert_eq!(
        owner
            .send(Method::POST, "/auth/redeem", None, Some(body), false)
            .await
            .0,
        StatusCode::OK
    );
    owner.user().await;

    let body = json!({ "name": "CRM sync" });
    let (st, _, r) = owner
        .send(Method::POST, "/team/api_tokens", Some(&team), Some(body), true)
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let token = r["data"]["token"].as_str().unwrap().to_string();
    let id = r["data"]["id"].as_str().unwrap().to_string();
    let (_, _, list) = owner
        .send(Method::GET, "/team/api_tokens", Some(&team), None, false)
        .await;
    let listed = list["data"]["tokens"].as_array().unwrap();
    let mine = listed.iter().find(|t| t["id"] == id.as_str()).unwrap();
    assert_eq!(mine["name"], "CRM sync");
    assert!(mine["revoked"].is_null());
    assert!(!list.to_string().contains(&token), "a listing never holds a secret");

    let with_token = |token: &str| {
        Request::builder()
            .uri("/contact")
            .header("x-api-token", token)
            .header("team_id", &team)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(api.raw(with_token(&token)).await.0, StatusCode::OK);
    // `GET /user` with a token: the team's owner.
    let req = Request::builder()
        .uri("/user")
        .header("x-api-token", &token)
        .header("team_id", &team)
        .body(Body::empty())
        .unwrap();
    let (st, _, me) = api.raw(req).await;
    assert_eq!(st, StatusCode::OK, "{me}");
    assert_eq!(me["data"]["email"], "owner@example.com");
    assert!(me["data"]["csrf_token"].is_null());

    let path = format!("/team/api_tokens/{id}");
    let (st, _, r) = owner.send(Method::DELETE, &path, Some(&team), None, true).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(api.raw(with_token(&token)).await.0, StatusCode::UNAUTHORIZED);
    let (st, _, _) = owner.send(Method::DELETE, &path, Some(&team), None, true).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "revoked already");

    // An invite for a member; the member signs in through it and may not invite.
    let body = json!({ "email": "member@example.com" });
    let (st, _, r) = owner
        .send(Method::POST, "/team/invites", Some(&team), Some(body), true)
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let url = r["data"]["url"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1:8080/app/welcome?token=pl_"), "{url}");
    let invite = url.split("token=").nth(1).unwrap();
    let mut member = Browser::new(&api);
    let body = json!({ "token": invite, "password": "another good one", "name": "Mo" });
    assert_eq!(
        member
            .send(Method::POST, "/auth/redeem", None, Some(body), false)
            .await
            .0,
        StatusCode::OK
    );
    let (_, me) = member.user().await;
    assert_eq!(me["data"]["teams"][0]["role"], "member");
    let body = json!({ "email": "third@example.com" });
    let (st, _, r) = member
        .send(Method::POST, "/team/invites", Some(&team), Some(body), true)
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{r}");
    let (_, _, r) = member
        .send(Method::GET, "/team/members", Some(&team), None, false)
        .await;
    let emails: Vec<_> = ok(&(StatusCode::OK, r.clone()))["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap().to_string(),
                m["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        emails,
        [
            ("owner@example.com".into(), "owner".into()),
            ("member@example.com".into(), "member".into())
        ]
    );
}

async fn the_team_calls_list_spans_agents_and_filters(db: Db) {
    let api = Api::new(db).await;
    let c = api.contact("+12125550100").await;
    let mut agents = Vec::new();
    for _ in 0..2 {
        let a = api.agent().await;
        let r = api
            .post(
                "/contact/call",
                json!({ "contact_id": c["id"], "interview_id": a["id"] }),
            )
            .await;
        ok(&r);
        agents.push(a["id"].as_str().unwrap().to_string());
    }
    let all = api.get("/call").await;
    assert_eq!(ok(&all)["total_count"], 2, "{}", all.1);
    let one = api.get(&format!("/call?agent={}", agents[0])).await;
    assert_eq!(ok(&one)["total_count"], 1);
    assert_eq!(ok(&one)["calls"][0]["interview"]["id"], agents[0].as_str());
    let none = api.get("/call?to=2000-01-01").await;
    assert_eq!(ok(&none)["total_count"], 0);
    let future = api.get("/call?from=2000-01-01T00:00:00Z&status[]=NOT_STARTED").await;
    assert_eq!(ok(&future)["total_count"], 2);
    let bad = api.get("/call?from=yesterday").await;
    assert_eq!(bad.0, StatusCode::BAD_REQUEST);
    assert!(crate::util::error(&bad).starts_with("from:"), "{}", bad.1);
    // Another team's agent lists nothing.
    let (other, token) = api.store.create_team("other").await.unwrap();
    let req = Request::builder()
        .uri(format!("/call?agent={}", agents[0]))
        .header("x-api-token", token)
        .header("team_id", other.id)
        .body(Body::empty())
        .unwrap();
    let (st, _, r) = api.raw(req).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(r["data"]["total_count"], 0);
}

on_both_databases!(
    a_link_signs_in_and_the_session_works_the_team_routes,
    sign_in_is_one_answer_for_every_failure_and_limited_per_email,
    tokens_made_in_the_dashboard_work_until_revoked_and_members_cannot_invite,
    the_team_calls_list_spans_agents_and_filters,
);
