//! Automation throughput and timer accuracy, against the same server's plain contact creation.
//!
//! For each database (a fresh SQLite file; a fresh PostgreSQL database when `--pg-url` is
//! given), starts a Parley server in-process on loopback and measures, in the same run:
//!
//! 1. **Baseline**: `POST /contact/create` (a new number each time) from `--conns` concurrent
//!    clients for `--seconds`: requests per second.
//! 2. **Runs**: a 5-step workflow without calls (create contact, condition, tag, HTTP request to
//!    a loopback receiver, end), triggered by `POST /webhook/automation/{id}` from the same
//!    clients for the same time; then every run is awaited. Runs per second = runs completed /
//!    (last run's end - first webhook), printed as a ratio to the baseline.
//! 3. **Timers**: `--delays` runs (10,000) parked on a `delay_until` whose due times are spread
//!    over one minute; once all have fired, the lateness of each delay step (its end minus its
//!    due time, from the database): p50, p99, max.
//!
//! Usage: `cargo run --release -p parley-server --example automation_bench -- [--pg-url URL]
//! [--seconds 10] [--conns 32] [--delays 10000] [--window-secs 60]` (see `bench/automation.sh`).
// A measuring tool, not the server: a panic is its failure report.
#![allow(clippy::unwrap_used)]

use parley_server::Settings;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Parser)]
struct Wrap {
    #[command(flatten)]
    s: Settings,
}

struct Args {
    pg_url: Option<String>,
    seconds: u64,
    conns: usize,
    delays: usize,
    window_secs: u64,
}

fn args() -> Args {
    let mut a = Args {
        pg_url: None,
        seconds: 10,
        conns: 32,
        delays: 10_000,
        window_secs: 60,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--pg-url" => a.pg_url = Some(val).filter(|s| !s.is_empty()),
            "--seconds" => a.seconds = val.parse().expect("--seconds N"),
            "--conns" => a.conns = val.parse().expect("--conns N"),
            "--delays" => a.delays = val.parse().expect("--delays N"),
            "--window-secs" => a.window_secs = val.parse().expect("--window-secs N"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

#[derive(Clone)]
struct Api {
    base: String,
    token: String,
    team: String,
    http: reqwest::Client,
}

impl Api {
    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("x-api-token", &self.token)
            .header("team_id", &self.team)
            .json(body)
            .send()
            .await
            .expect("the server answers");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// The `n`-th valid US number of a series (each series its own area code): exchanges 200-999
/// without N11 and 555, then line numbers.
fn number(series: usize, n: u64) -> String {
    const AREAS: [&str; 6] = ["212", "415", "646", "312", "617", "303"];
    let exchanges: Vec<u64> = (200..1000).filter(|e| e % 100 != 11 && *e != 555).collect();
    let ex = exchanges[(n / 10_000) as usize % exchanges.len()];
    format!("+1{}{ex:03}{:04}", AREAS[series % AREAS.len()], n % 10_000)
}

/// `conns` clients posting `body(i)` to `path` for `secs`; returns (accepted, elapsed).
async fn drive(
    api: &Api,
    conns: usize,
    secs: u64,
    path: String,
    want: u16,
    body: impl Fn(u64) -> Value + Send + Sync + 'static,
) -> (u64, f64) {
    let next = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let body = Arc::new(body);
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (api, next, ok, body, path) = (api.clone(), next.clone(), ok.clone(), body.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let (status, resp) = api.post(&path, &body(i)).await;
                if status == want {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    eprintln!("unexpected {status} from {path}: {resp}");
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (ok.load(Ordering::Relaxed), start.elapsed().as_secs_f64())
}

/// A loopback receiver for the HTTP step: answers 200 with a small JSON body.
async fn receiver() -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async { axum::Json(json!({"ok": true})) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn scalar(pool: &sqlx::AnyPool, sql: &str, automation: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(sql)
        .bind(automation)
        .fetch_one(pool)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap_or(0)
}

async fn wait_runs(pool: &sqlx::AnyPool, automation: &str, want: i64, timeout: Duration) -> i64 {
    let end = Instant::now() + timeout;
    loop {
        let done = scalar(
            pool,
            "SELECT COUNT(*) FROM automation_runs WHERE automation_id = $1 AND status IN ('completed', 'failed')",
            automation,
        )
        .await;
        if done >= want || Instant::now() > end {
            return done;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn pct(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn bench(backend: &str, db_url: String, dir: &std::path::Path, a: &Args) -> Vec<String> {
    use clap::Parser;
    let mut s = Wrap::try_parse_from(["parley"]).unwrap().s;
    s.bind = "127.0.0.1:0".parse().unwrap();
    s.data_dir = dir.to_path_buf();
    s.database_url = Some(db_url.clone());
    s.rate_limit_per_minute = 0;
    s.webhook_rate_limit_per_minute = 0;
    s.public_rate_limit_per_minute = 0;
    s.allow_private_webhooks = true;
    let store = s.open_store().await.unwrap();
    let running = parley_server::start(&s, store).await.unwrap();
    let (team, token) = running.store.create_team("bench").await.unwrap();
    let api = Api {
        base: format!("http://{}", running.addr),
        token,
        team: team.id.clone(),
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(a.conns)
            .build()
            .unwrap(),
    };
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .connect(&db_url)
        .await
        .unwrap();
    let mut out = Vec::new();

    // 1. Baseline.
    let (created, secs) = drive(
        &api,
        a.conns,
        a.seconds,
        "/contact/create".into(),
        200,
        |i| json!({"phone_number": number(0, i)}),
    )
    .await;
    let base_rps = created as f64 / secs;
    eprintln!("[{backend}] contact/create: {created} in {secs:.1}s = {base_rps:.0}/s");

    // 2. Runs of the 5-step workflow.
    let hook = receiver().await;
    let (_, wf) = api
        .post(
            "/automation",
            &json!({
                "name": "bench 5 steps", "mode": "live", "trigger": {"type": "webhook"},
                "steps": [
                    {"slug": "lead", "type": "create_contact", "phone_number": "{{ trigger.payload.phone }}", "next": "hot"},
                    {"slug": "hot", "type": "condition", "rules": [{"variable": "trigger.payload.score", "op": "greater", "value": "50"}], "then": "tag", "else": "tag"},
                    {"slug": "tag", "type": "add_tag", "tags": ["bench"], "next": "post"},
                    {"slug": "post", "type": "http_request", "url": hook, "body": {"id": "{{ steps.lead.id }}"}, "next": "end"},
                    {"slug": "end", "type": "end", "outcome": "done"}
                ]
            }),
        )
        .await;
    let wf_id = wf["data"]["id"].as_str().expect("the workflow saves").to_string();
    let path = format!("/webhook/automation/{wf_id}");
    let t0 = parley_core::time::Timestamp::now().millis();
    let (fired, fire_secs) = drive(
        &api,
        a.conns,
        a.seconds,
        path,
        202,
        |i| json!({"phone": number(1, i), "score": i % 100}),
    )
    .await;
    let done = wait_runs(&pool, &wf_id, fired as i64, Duration::from_secs(600)).await;
    let failed = scalar(
        &pool,
        "SELECT COUNT(*) FROM automation_runs WHERE automation_id = $1 AND status = 'failed'",
        &wf_id,
    )
    .await;
    let last = scalar(
        &pool,
        "SELECT MAX(finished) FROM automation_runs WHERE automation_id = $1",
        &wf_id,
    )
    .await;
    let run_secs = (last - t0) as f64 / 1000.0;
    let runs_rps = done as f64 / run_secs;
    eprintln!("[{backend}] runs: {fired} fired in {fire_secs:.1}s, {done} done ({failed} failed) by {run_secs:.1}s = {runs_rps:.0}/s");
    out.push(format!(
        "{backend:<9} contact/create {base_rps:>7.0}/s | webhook accepted {:>6.0}/s | 5-step runs {runs_rps:>6.0}/s ({done} runs, {failed} failed, {run_secs:.1} s) | ratio {:.2}",
        fired as f64 / fire_secs,
        runs_rps / base_rps
    ));

    // 3. Timers: `delays` runs due over one minute, starting once they are all parked.
    let (_, tm) = api
        .post(
            "/automation",
            &json!({
                "name": "bench timers", "mode": "live", "trigger": {"type": "webhook"},
                "steps": [
                    {"slug": "wait", "type": "delay_until", "at": "{{ trigger.payload.at }}", "next": "end"},
                    {"slug": "end", "type": "end"}
                ]
            }),
        )
        .await;
    let tm_id = tm["data"]["id"]
        .as_str()
        .expect("the timer automation saves")
        .to_string();
    let accept_rps = (fired as f64 / fire_secs).max(50.0);
    let lead_ms = ((a.delays as f64 / accept_rps) * 1500.0) as i64 + 10_000;
    let window_ms = a.window_secs as i64 * 1000;
    let start_at = parley_core::time::Timestamp::now().millis() + lead_ms;
    let n = a.delays as u64;
    let path = format!("/webhook/automation/{tm_id}");
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..a.conns {
        let (api, next, path) = (api.clone(), next.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let due = start_at + (i as i64 * window_ms) / n as i64;
                let at = parley_core::time::Timestamp(due).to_rfc3339();
                let (status, resp) = api.post(&path, &json!({ "at": at })).await;
                assert_eq!(status, 202, "{resp}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let parked_by = parley_core::time::Timestamp::now().millis();
    eprintln!(
        "[{backend}] {n} delays parked {:.1}s before the first is due; waiting for the minute to pass",
        (start_at - parked_by) as f64 / 1000.0
    );
    let done = wait_runs(
        &pool,
        &tm_id,
        n as i64,
        Duration::from_millis((lead_ms + window_ms) as u64 + 300_000),
    )
    .await;
    use sqlx::Row;
    let mut late: Vec<i64> = sqlx::query(
        "SELECT s.finished - s.due_at AS late FROM automation_steps s JOIN automation_runs r ON r.id = s.run_id \
         WHERE r.automation_id = $1 AND s.slug = 'wait' AND s.finished IS NOT NULL",
    )
    .bind(&tm_id)
    .fetch_all(&pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get::<i64, _>("late").unwrap_or(0))
    .collect();
    late.sort_unstable();
    out.push(format!(
        "{backend:<9} {n} delays due within {}s (parked {:.1}s ahead): {done} fired; lateness p50 {} ms, p99 {} ms, max {} ms",
        a.window_secs,
        (start_at - parked_by) as f64 / 1000.0,
        pct(&late, 0.5),
        pct(&late, 0.99),
        late.last().copied().unwrap_or(0)
    ));
    pool.close().await;
    running.stop().await;
    out
}

#[tokio::main]
async fn main() {
    sqlx::any::install_default_drivers();
    let a = args();
    let mut lines = vec![format!(
        "automation benchmark: {} clients x {} s per measurement, {} timers over {} s, job concurrency {} (PARLEY_JOB_CONCURRENCY)",
        a.conns,
        a.seconds,
        a.delays,
        a.window_secs,
        {
            use clap::Parser;
            Wrap::try_parse_from(["parley"]).map(|w| w.s.job_concurrency).unwrap_or_default()
        }
    )];
    let dir = std::env::temp_dir().join(format!("parley-automation-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    lines.extend(
        bench(
            "sqlite",
            format!("sqlite://{}", dir.join("bench.db").display()),
            &dir,
            &a,
        )
        .await,
    );
    if let Some(pg) = &a.pg_url {
        let name = format!("parley_bench_{}", std::process::id());
        let admin = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(pg)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        let base = pg.rsplit_once('/').map_or(pg.as_str(), |(b, _)| b).to_string();
        let pg_dir = dir.join("pg");
        std::fs::create_dir_all(&pg_dir).unwrap();
        lines.extend(bench("postgres", format!("{base}/{name}"), &pg_dir, &a).await);
        let _ = sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&admin)
            .await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("{}", lines.join("\n"));
}
