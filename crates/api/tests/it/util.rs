//! What the tests share: a fresh database per test (a new SQLite file, or a new database on the
//! test PostgreSQL server), the API's router over it with one team and its token, and [`Api::call`],
//! which hands a request to the router in this process (`tower::ServiceExt::oneshot`) the way the
//! server's HTTP listener does: no socket, no job runner, no HTTP client.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use parley_api::{ApiConfig, AppState};
use parley_jobs::JobsHandle;
use parley_store::secrets::{SecretBox, SecretKey};
use parley_store::Store;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tower::ServiceExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Runs an async test body once per database.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name(crate::util::Db::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name(crate::util::Db::Postgres).await }
        }
    )*};
}

/// An answer: its status and its body (JSON, or the text as a JSON string when it is not JSON).
pub type Answer = (StatusCode, Value);

/// The address requests come from, as the server's listener puts it in each request's
/// extensions (`into_make_service_with_connect_info`): the per-address limits read it.
const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

/// A temporary folder removed on drop.
struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The API over a fresh database, and one team to call it as.
pub struct Api {
    router: Router,
    pub store: Store,
    token: String,
    team_id: String,
    _dir: TempDir,
}

/// A fresh database URL: a new SQLite file, or a new database on the test PostgreSQL server.
async fn fresh_database(db: Db, dir: &Path) -> String {
    match db {
        Db::Sqlite => format!("sqlite://{}", dir.join("parley.db").display()),
        Db::Postgres => {
            let admin = std::env::var("PARLEY_TEST_POSTGRES_URL").expect(
                "PARLEY_TEST_POSTGRES_URL is not set: run the suite with scripts/test, which starts PostgreSQL and sets it",
            );
            let name = format!("parley_t_{}", uuid::Uuid::new_v4().simple());
            let store = Store::connect(&admin, 1).await.expect("PostgreSQL reachable");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(store.pool())
                .await
                .unwrap();
            store.close().await;
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_string();
            format!("{base}/{name}")
        }
    }
}

impl Api {
    /// The router as the server builds it (`parley_server::start`) with the settings of its
    /// bad-input tests: the defaults, but no per-team rate limit (a test sends thousands of
    /// requests) and no job runner (a queued call stays queued: this is about the API, not the
    /// dialer). The store is opened as the server's `Settings::open_store` opens it for tests:
    /// 4 connections, migrated, unlocked with a key, unrouted calls queued on the sandbox.
    ///
    /// One difference: the server checks templates beyond plain look-ups in worker processes
    /// (the `parley` binary, which this crate does not have); here the engine checks them in
    /// this process. Saving an automation only parses its templates (nothing is rendered), and
    /// the server parses plain look-ups in its own process too.
    pub async fn new(db: Db) -> Api {
        let dir = TempDir(std::env::temp_dir().join(format!("parley-api-test-{}", uuid::Uuid::new_v4().simple())));
        std::fs::create_dir_all(&dir.0).unwrap();
        let url = fresh_database(db, &dir.0).await;
        let mut store = Store::connect(&url, 4).await.unwrap();
        store.set_unrouted_calls_to_sandbox(true);
        store.migrate().await.unwrap();
        store.unlock(SecretBox::new(SecretKey::generate())).await.unwrap();
        let config = ApiConfig {
            rate_limit_per_minute: 0,
            recordings_dir: Some(dir.0.join("recordings")),
            ..ApiConfig::default()
        };
        let router = parley_api::router(AppState::new(store.clone(), config, JobsHandle::default()));
        let (team, token) = store.create_team("test team").await.unwrap();
        Api {
            router,
            store,
            token,
            team_id: team.id,
            _dir: dir,
        }
    }

    /// Sends one request as the team; `body` is sent as JSON.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        let body = body.map(|b| serde_json::to_vec(b).unwrap());
        self.try_call(method, path, body).await.unwrap()
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(&body)).await
    }

    /// Sends one request as the team with `body` (bytes, sent as `application/json`). `Err` when
    /// there is no answer: the handler panicked, which over HTTP drops the connection.
    pub async fn try_call(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Answer, String> {
        // The request target as an HTTP client writes it: `url` percent-encodes what a URI may
        // not hold (`é`, a space) and keeps the rest, `%00` and `%FF` included.
        let url = url::Url::parse(&format!("http://{PEER}{path}")).unwrap();
        let mut req = Request::builder()
            .method(method)
            .uri(&url[url::Position::BeforePath..])
            .header("x-api-token", &self.token)
            .header("team_id", &self.team_id);
        if let Some(b) = &body {
            req = req
                .header("content-type", "application/json")
                .header("content-length", b.len());
        }
        let mut req = req.body(body.map_or_else(Body::empty, Body::from)).unwrap();
        req.extensions_mut().insert(ConnectInfo(PEER));
        // In a task of its own, as each connection is: a panic is an error here, not this test's.
        let answered = tokio::spawn(self.router.clone().oneshot(req))
            .await
            .map_err(|e| format!("no answer ({e})"))?;
        let res = match answered {
            Ok(res) => res,
            Err(never) => match never {},
        };
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned()));
        Ok((status, body))
    }

    /// The team's id (the `team_id` header's value).
    pub fn team_id(&self) -> &str {
        &self.team_id
    }

    /// Hands `req` to the router as is (no credentials added; the peer address is): for
    /// requests that authenticate otherwise (a session cookie) or not at all. Returns the status,
    /// the headers and the body (JSON, or the text as a JSON string).
    pub async fn raw(&self, mut req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
        req.extensions_mut().insert(ConnectInfo(PEER));
        let res = match self.router.clone().oneshot(req).await {
            Ok(res) => res,
            Err(never) => match never {},
        };
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned()));
        (parts.status, parts.headers, body)
    }

    /// The team's token and id.
    pub fn credentials(&self) -> (String, String) {
        (self.token.clone(), self.team_id.clone())
    }

    /// Like [`Api::raw`], but the body is left as a stream (Server-Sent Events).
    pub async fn stream(
        &self,
        mut req: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, axum::body::BodyDataStream) {
        req.extensions_mut().insert(ConnectInfo(PEER));
        let res = match self.router.clone().oneshot(req).await {
            Ok(res) => res,
            Err(never) => match never {},
        };
        let (parts, body) = res.into_parts();
        (parts.status, parts.headers, body.into_data_stream())
    }

    pub async fn contact(&self, number: &str) -> Value {
        ok(&self.post("/contact/create", json!({ "phone_number": number })).await).clone()
    }

    pub async fn agent(&self) -> Value {
        ok(&self.post("/interview/create", json!({ "title": "Reminder" })).await).clone()
    }
}

/// The `data` of a success envelope; fails the test on anything else.
#[track_caller]
pub fn ok(r: &Answer) -> &Value {
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert!(r.1["error"].is_null(), "{}", r.1);
    &r.1["data"]
}

/// The `error` of an envelope ("" when there is none).
pub fn error(r: &Answer) -> &str {
    r.1["error"].as_str().unwrap_or("")
}
