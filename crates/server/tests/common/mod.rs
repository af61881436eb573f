//! Test harness: a real Parley server on loopback over a real database (a fresh SQLite file or a
//! fresh PostgreSQL database per test), a real HTTP client, and a real webhook receiver.

pub mod automation;
pub mod baresip;
pub mod pcap;
pub mod pki;
pub mod sipp;

use clap::Parser;
use parley_server::{Running, Settings};
use parley_store::Store;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Runs an async test body once per database.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name(super::common::Db::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name(super::common::Db::Postgres).await }
        }
    )*};
}

#[derive(Parser)]
struct Wrap {
    #[command(flatten)]
    s: Settings,
}

pub struct TestServer {
    pub base: String,
    pub settings: Settings,
    pub running: Option<Running>,
    _dir: TempDir,
}

/// A temporary folder removed on drop.
pub struct TempDir(pub PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn temp_dir() -> TempDir {
    let p = std::env::temp_dir().join(format!("parley-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&p).unwrap();
    TempDir(p)
}

/// A fresh database URL: a new SQLite file, or a new database on the test PostgreSQL server.
pub async fn fresh_database(db: Db, dir: &std::path::Path) -> String {
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

pub fn settings(db_url: &str, dir: &std::path::Path) -> Settings {
    let mut s = Wrap::try_parse_from(["parley"]).unwrap().s;
    s.bind = "127.0.0.1:0".parse().unwrap();
    s.sip_bind = "127.0.0.1:0".into();
    s.data_dir = dir.to_path_buf();
    s.database_url = Some(db_url.to_string());
    s.db_max_connections = 4;
    s.allow_private_webhooks = true;
    s.webhook_retry_base_ms = 100;
    s.webhook_retry_max_ms = 400;
    s.webhook_timeout_ms = 2000;
    // Sandbox calls: short rings, so tests wait for conversations rather than phones.
    s.sandbox_ring_ms = 300;
    s.ring_timeout_secs = 3;
    s.line_watchdog_secs = 5;
    // The real binary renders templates in isolation (the test binary is not a worker).
    s.template_worker = Some(env!("CARGO_BIN_EXE_parley").into());
    // A stop (restart) waits at most this long for jobs and calls in flight.
    s.shutdown_grace_secs = 5;
    // Many tests call numbers outside the sandbox ranges (+1 212 555 11xx) with a team that has
    // no phone number, and expect the call queued, then FAILED "not reachable": the behaviour
    // before phone numbers existed. API.md refuses such a call with 400; tests of that
    // (phone_numbers.rs) turn this off.
    s.unrouted_calls_to_sandbox = true;
    s
}

impl TestServer {
    pub async fn start(db: Db) -> TestServer {
        Self::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: Db, tweak: impl FnOnce(&mut Settings)) -> TestServer {
        let dir = temp_dir();
        let db_url = fresh_database(db, &dir.0).await;
        let mut s = settings(&db_url, &dir.0);
        tweak(&mut s);
        let store = s.open_store().await.unwrap();
        let running = parley_server::start(&s, store).await.unwrap();
        TestServer {
            base: format!("http://{}", running.addr),
            settings: s,
            running: Some(running),
            _dir: dir,
        }
    }

    pub fn store(&self) -> &Store {
        &self.running.as_ref().unwrap().store
    }

    /// Stops the server (API and jobs), as a process exit would.
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    /// Starts again on the same database (a restart).
    pub async fn restart(&mut self) {
        self.stop().await;
        let store = self.settings.open_store().await.unwrap();
        let running = parley_server::start(&self.settings, store).await.unwrap();
        self.base = format!("http://{}", running.addr);
        self.running = Some(running);
    }

    pub async fn team(&self) -> Client {
        let (team, token) = self.store().create_team("test team").await.unwrap();
        Client {
            base: self.base.clone(),
            token,
            team_id: team.id,
            http: reqwest::Client::new(),
        }
    }
}

/// An API client authenticated as one team.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub token: String,
    pub team_id: String,
    pub http: reqwest::Client,
}

pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Resp {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        assert!(self.body["error"].is_null(), "{}", self.body);
        &self.body["data"]
    }
}

impl Client {
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Resp {
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("x-api-token", &self.token)
            .header("team_id", &self.team_id);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        into_resp(rb.send().await.unwrap()).await
    }

    /// A GET whose body is not JSON (a recording).
    pub async fn raw_get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{}", self.base, path))
            .header("x-api-token", &self.token)
            .header("team_id", &self.team_id)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str, body: Option<Value>) -> Resp {
        self.send(reqwest::Method::DELETE, path, body).await
    }

    pub async fn contact(&self, number: &str) -> Value {
        self.post("/contact/create", json!({ "phone_number": number }))
            .await
            .ok()
            .clone()
    }

    pub async fn agent(&self) -> Value {
        self.post("/interview/create", json!({ "title": "Reminder" }))
            .await
            .ok()
            .clone()
    }
}

pub async fn into_resp(r: reqwest::Response) -> Resp {
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Resp { status, body, headers }
}

/// Polls `f` until it returns Some, or panics after `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One request a webhook receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

/// A webhook receiver on loopback that records every request and fails the first `fail_first`.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    pub handle: Arc<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Receiver {
        Self::start_on("127.0.0.1:0", fail_first).await
    }

    pub async fn start_on(addr: &str, fail_first: usize) -> Receiver {
        Self::start_full(addr, fail_first, 0, Duration::ZERO).await
    }

    /// A receiver whose first `slow_first` answers take `delay` (to exercise timeouts).
    pub async fn start_slow(slow_first: usize, delay: Duration) -> Receiver {
        Self::start_full("127.0.0.1:0", 0, slow_first, delay).await
    }

    async fn start_full(addr: &str, fail_first: usize, slow_first: usize, delay: Duration) -> Receiver {
        use axum::routing::post;
        let got = Arc::new(Mutex::new(Vec::new()));
        let fails = Arc::new(Mutex::new(fail_first));
        let slow = Arc::new(Mutex::new(slow_first));
        let (g, f) = (got.clone(), fails.clone());
        let app = axum::Router::new().route(
            "/hook",
            post(move |headers: axum::http::HeaderMap, body: String| {
                let (g, f, slow) = (g.clone(), f.clone(), slow.clone());
                async move {
                    g.lock().unwrap().push(Received { headers, body });
                    let wait = {
                        let mut left = slow.lock().unwrap();
                        let w = *left > 0;
                        *left = left.saturating_sub(1);
                        w
                    };
                    if wait {
                        tokio::time::sleep(delay).await;
                    }
                    let mut left = f.lock().unwrap();
                    if *left > 0 {
                        *left -= 1;
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        axum::http::StatusCode::OK
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let handle = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            url,
            got,
            handle: Arc::new(handle),
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub fn stop(&self) {
        self.handle.abort();
    }
}

/// Waits until the call has ended; returns it.
///
/// Panics after `secs` with the call as it last read, so a hang says where the call stood.
pub async fn wait_final(c: &Client, id: &str, secs: u64) -> Value {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        let call = c.get(&format!("/interview_response/{id}")).await.ok().clone();
        if call["progress"] == "ended" {
            return call;
        }
        assert!(Instant::now() < end, "timed out waiting for the call to end: {call}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The JSON bodies a receiver got for one event type, in order.
pub fn events(rx: &Receiver, event: &str) -> Vec<Value> {
    rx.received()
        .iter()
        .filter(|r| r.headers["x-parley-event"] == event)
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect()
}
pub mod process;
