//! Outbound HTTP to customer-chosen URLs, end to end on both databases: the private-address
//! guard cannot be sidestepped through proxy variables, a refused address is final (no retry),
//! URL credentials never show, and unsubscribing cancels a subscription's pending retries.
//!
//! The proxy tests run the real `parley` binary (proxy variables are process-wide) next to a
//! recording proxy on loopback that answers every request itself and forwards nothing.

use crate::common;

use common::automation::{fire, step, wait_run};
use common::process::Deployment;
use common::{eventually, Client, Db, Receiver, TestServer};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A name of this machine that resolves, without DNS (/etc/hosts), to a private or loopback
/// address: the kernel's host name. Not `localhost`, which the guard knows by name: this is a
/// name only resolution reveals as private.
async fn private_hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("the host name")
        .trim()
        .to_string();
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 80))
        .await
        .unwrap_or_else(|e| panic!("this machine's name {name} must resolve (/etc/hosts): {e}"))
        .collect();
    assert!(
        !addrs.is_empty() && addrs.iter().all(|a| parley_jobs::outbound::is_private(a.ip())),
        "{name} resolves to {addrs:?}: the test needs a name with private addresses only"
    );
    name
}

/// An HTTP proxy on loopback that records the first line of every request (`CONNECT host:443`
/// or `POST http://host/path`), answers `200` itself and forwards nothing.
struct RecordingProxy {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl RecordingProxy {
    async fn start() -> RecordingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let first = String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_string();
                    s.lock().unwrap().push(first);
                    let _ = sock
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                        .await;
                });
            }
        });
        RecordingProxy { url, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// A live automation fired by its webhook whose one step POSTs to `url`.
async fn http_step_automation(c: &Client, url: &str, retries: u32) -> String {
    let a = c
        .post(
            "/automation",
            json!({
                "name": "notify", "mode": "live", "trigger": {"type": "webhook"},
                "steps": [{"slug": "post", "type": "http_request", "url": url, "retries": retries,
                           "body": {"n": "{{ trigger.payload.n }}"}}]
            }),
        )
        .await
        .ok()
        .clone();
    a["id"].as_str().unwrap().to_string()
}

/// Fires the automation and waits for its run to finish.
async fn run_once(c: &Client, automation: &str, n: u32) -> Value {
    let r = fire(c, automation, json!({ "n": n })).await;
    let run_id = r.data()["run_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.body))
        .to_string();
    wait_run(c, &run_id, 30).await
}

/// Waits until the team has `n` deliveries, none pending; returns them.
async fn settled_deliveries(c: &Client, n: usize) -> Vec<Value> {
    eventually(20, "deliveries to settle", || async {
        let d = c.get("/webhooks/deliveries").await.ok().clone();
        let list = d.as_array().unwrap().clone();
        (list.len() == n && list.iter().all(|x| x["status"] != "pending")).then_some(list)
    })
    .await
}

const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

/// With every proxy variable pointing at a proxy, a webhook and an HTTP step to a name that
/// resolves privately are refused, and the proxy never hears of them (reqwest used to hand the
/// name to the proxy, which resolved it itself: the guard never ran). With Parley's own proxy
/// setting the target is checked before the proxy gets it; allowed, the request goes through it.
async fn proxy_variables_cannot_sidestep_the_guard(db: Db) {
    let host = private_hostname().await;
    let proxy = RecordingProxy::start().await;
    let rx = Receiver::start(0).await;
    let port = rx.url.rsplit(':').next().unwrap().trim_end_matches("/hook").to_string();
    let by_name = format!("http://{host}:{port}/hook");
    let by_v4_compatible = format!("http://[::127.0.0.1]:{port}/hook");

    let mut dep = Deployment::new(db).await;
    let team = dep.team();
    let p = dep
        .serve_with("env proxies", |cmd| {
            for v in PROXY_VARS {
                cmd.env(v, &proxy.url);
            }
            cmd.env_remove("NO_PROXY")
                .env_remove("no_proxy")
                .env("PARLEY_ALLOW_PRIVATE_WEBHOOKS", "0");
        })
        .await;
    let c = p.client(&team);
    for url in [&by_name, &by_v4_compatible] {
        c.post("/webhooks/subscribe", json!({"type": "ACTION_FAILED", "url": url}))
            .await
            .ok();
    }
    let automation = http_step_automation(&c, &format!("http://{host}:{port}/step"), 3).await;
    let run = run_once(&c, &automation, 1).await;
    assert_eq!(run["status"], "failed", "{run}");
    let error = step(&run, "post")["error"].as_str().unwrap().to_string();
    assert!(error.contains("refused"), "{error}");
    // The step's failure is an ACTION_FAILED event: both subscriptions refused too.
    for d in settled_deliveries(&c, 2).await {
        assert_eq!(d["status"], "failed", "{d}");
        assert!(d["last_error"].as_str().unwrap().contains("refused"), "{d}");
        assert_eq!(d["attempts"], 1, "refused once, not retried: {d}");
    }
    assert!(proxy.seen().is_empty(), "the proxy got {:?}", proxy.seen());
    assert!(rx.received().is_empty(), "nothing reached the private address");
    drop(p);

    // Parley's own proxy: the target is resolved and refused before the proxy sees it.
    let p = dep
        .serve_with("parley proxy", |cmd| {
            cmd.env("PARLEY_OUTBOUND_PROXY", &proxy.url)
                .env("PARLEY_ALLOW_PRIVATE_WEBHOOKS", "0");
        })
        .await;
    let c = p.client(&team);
    let run = run_once(&c, &automation, 2).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        step(&run, "post")["error"].as_str().unwrap().contains("refused"),
        "{run}"
    );
    for d in settled_deliveries(&c, 4).await {
        assert!(d["last_error"].as_str().unwrap().contains("refused"), "{d}");
    }
    assert!(proxy.seen().is_empty(), "the proxy got {:?}", proxy.seen());
    drop(p);

    // Allowed (a closed network): the request goes through Parley's proxy, not around it.
    let p = dep
        .serve_with("parley proxy, private allowed", |cmd| {
            cmd.env("PARLEY_OUTBOUND_PROXY", &proxy.url)
                .env("PARLEY_ALLOW_PRIVATE_WEBHOOKS", "1");
        })
        .await;
    let c = p.client(&team);
    let run = run_once(&c, &automation, 3).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(proxy.seen(), [format!("POST http://{host}:{port}/step HTTP/1.1")]);
    assert!(rx.received().is_empty(), "the proxy answered; nothing went around it");
}

/// An HTTP step to a name that resolves privately fails on its first try with an error that
/// says refused: no retry (a retry cannot change the answer), no waiting.
async fn a_refused_http_step_fails_once_without_retry(db: Db) {
    let host = private_hostname().await;
    let ts = TestServer::start_with(db, |s| {
        s.allow_private_webhooks = false;
        s.rate_limit_per_minute = 0;
    })
    .await;
    let c = ts.team().await;
    let rx = Receiver::start(0).await;
    let port = rx.url.rsplit(':').next().unwrap().trim_end_matches("/hook").to_string();
    for url in [
        format!("http://{host}:{port}/hook"),
        format!("http://[64:ff9b::7f00:1]:{port}/hook"),
    ] {
        let automation = http_step_automation(&c, &url, 3).await;
        let started = Instant::now();
        let run = run_once(&c, &automation, 1).await;
        assert_eq!(run["status"], "failed", "{run}");
        let post = step(&run, "post");
        assert_eq!(post["attempt"], 1, "{post}");
        let error = post["error"].as_str().unwrap();
        assert!(error.contains("refused"), "{error}");
        assert!(!error.contains("tries"), "not retried: {error}");
        // Retries would have waited about 1 s, 2 s and 4 s.
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        let run_id: uuid::Uuid = run["id"].as_str().unwrap().parse().unwrap();
        let rows = ts.store().run_steps(run_id).await.unwrap();
        let tries = rows[0].state.as_ref().map_or(0, |s| s["tries"].as_i64().unwrap_or(0));
        assert!(tries <= 1, "one try: {:?}", rows[0].state);
    }
    assert!(rx.received().is_empty());
}

/// `user:secret@` and query values in a URL never show: not in `GET /webhooks/deliveries`
/// (its `url` and `last_error`), not in a step's or a run's error, whatever failed (an error
/// status, no connection).
async fn url_credentials_never_show(db: Db) {
    let ts = TestServer::start_with(db, |s| s.rate_limit_per_minute = 0).await;
    let c = ts.team().await;
    let failing = Receiver::start(usize::MAX).await; // always 500
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port() // closed when `l` drops here
    };
    let with_secrets = |base: &str| base.replacen("http://", "http://user:secret@", 1) + "?token=secret";
    let to_500 = with_secrets(&failing.url);
    let to_nothing = with_secrets(&format!("http://127.0.0.1:{closed}/hook"));
    for url in [&to_500, &to_nothing] {
        c.post("/webhooks/subscribe", json!({"type": "ACTION_FAILED", "url": url}))
            .await
            .ok();
    }
    for url in [&to_500, &to_nothing] {
        let automation = http_step_automation(&c, url, 0).await;
        let run = run_once(&c, &automation, 1).await;
        assert_eq!(run["status"], "failed", "{run}");
        for text in [&step(&run, "post")["error"], &run["error"]] {
            let text = text.as_str().unwrap();
            assert!(!text.contains("secret") && !text.contains("user:"), "{text}");
            assert!(
                text.contains("***@127.0.0.1"),
                "the redacted URL is still there: {text}"
            );
        }
    }
    // Two events, two subscriptions: four deliveries, each retried at least once.
    let d = eventually(20, "failed attempts", || async {
        let d = c.get("/webhooks/deliveries").await.ok().clone();
        let list = d.as_array().unwrap();
        (list.len() == 4 && list.iter().all(|x| x["attempts"].as_i64() >= Some(2))).then_some(d)
    })
    .await;
    let text = d.to_string();
    assert!(!text.contains("secret") && !text.contains("user:"), "{text}");
    assert!(text.contains("HTTP 500"), "{text}");
    assert!(text.contains("could not connect"), "{text}");
    assert!(failing.received().len() >= 2, "the credentials were still sent");
    let auth = failing.received()[0].headers["authorization"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(auth, "Basic dXNlcjpzZWNyZXQ=", "user:secret, as basic auth");
}

/// Unsubscribing cancels the subscription's pending deliveries and removes their jobs: a
/// failing receiver stops getting retries (they used to go on for 25 hours).
async fn unsubscribing_cancels_pending_retries(db: Db) {
    let ts = TestServer::start_with(db, |s| {
        s.rate_limit_per_minute = 0;
        // Retries 0.5 to 1.5 s apart.
        s.webhook_retry_base_ms = 1000;
        s.webhook_retry_max_ms = 1000;
    })
    .await;
    let c = ts.team().await;
    let rx = Receiver::start(usize::MAX).await; // always 500
    let kept = Receiver::start(usize::MAX).await; // another subscription, left alone
    for url in [&rx.url, &kept.url] {
        c.post("/webhooks/subscribe", json!({"type": "ACTION_FAILED", "url": url}))
            .await
            .ok();
    }
    // A step that fails (nothing listens on the port) fails the run: an ACTION_FAILED event.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let automation = http_step_automation(&c, &format!("http://127.0.0.1:{closed}/"), 0).await;
    let run = run_once(&c, &automation, 1).await;
    assert_eq!(run["status"], "failed", "{run}");
    let of = |list: &Value, url: &str| -> Value {
        list.as_array()
            .unwrap()
            .iter()
            .find(|d| d["url"] == url)
            .cloned()
            .unwrap_or_else(|| panic!("no delivery to {url} in {list}"))
    };
    eventually(20, "a retry pending", || async {
        let d = c.get("/webhooks/deliveries").await.ok().clone();
        let mine = of(&d, &rx.url);
        (mine["status"] == "pending" && mine["attempts"].as_i64() >= Some(1) && !mine["next_attempt"].is_null())
            .then_some(())
    })
    .await;
    c.delete(
        "/webhooks/unsubscribe",
        Some(json!({"type": "ACTION_FAILED", "url": rx.url})),
    )
    .await
    .ok();
    // An attempt that was in flight at that instant may still land: count after it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let attempts_then = rx.received().len();
    let d = c.get("/webhooks/deliveries").await.ok().clone();
    let mine = of(&d, &rx.url);
    assert_eq!(mine["status"], "canceled", "{mine}");
    assert!(mine["next_attempt"].is_null(), "{mine}");
    let jobs: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM jobs WHERE id = '{}'",
        mine["id"].as_str().unwrap()
    ))
    .fetch_one(ts.store().pool())
    .await
    .unwrap();
    assert_eq!(jobs, 0, "the canceled delivery's job is gone");

    // Three retry periods later: nothing more reached the unsubscribed receiver, and the
    // delivery is still canceled with the same count of attempts; the other subscription's
    // delivery kept retrying.
    let kept_before = kept.received().len();
    tokio::time::sleep(Duration::from_millis(4000)).await;
    assert_eq!(rx.received().len(), attempts_then, "no attempt after the unsubscribe");
    let d = c.get("/webhooks/deliveries").await.ok().clone();
    let later = of(&d, &rx.url);
    assert_eq!(later["status"], "canceled", "{later}");
    assert_eq!(later["attempts"], mine["attempts"], "{later}");
    assert!(
        kept.received().len() > kept_before,
        "the other subscription still retries"
    );
    assert_eq!(of(&d, &kept.url)["status"], "pending");
}

on_both_databases!(
    proxy_variables_cannot_sidestep_the_guard,
    a_refused_http_step_fails_once_without_retry,
    url_credentials_never_show,
    unsubscribing_cancels_pending_retries,
);
