//! The `parley` binary itself: `--help` lists every setting, `team create --json`, `migrate`,
//! and `serve` creating the first team.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn parley() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_parley"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PARLEY_")) {
        c.env_remove(k);
    }
    c
}

#[test]
fn help_lists_every_setting_with_its_default() {
    let out = parley().arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for var in [
        "PARLEY_BIND",
        "PARLEY_DATA_DIR",
        "PARLEY_DATABASE_URL",
        "PARLEY_SIP_BIND",
        "PARLEY_PUBLIC_URL",
        "PARLEY_RATE_LIMIT_PER_MINUTE",
        "PARLEY_REQUIRE_TEAM_HEADER",
        "PARLEY_ALLOW_PRIVATE_WEBHOOKS",
        "PARLEY_OUTBOUND_PROXY",
        "PARLEY_LLM_BASE_URL",
        "PARLEY_LOG_FORMAT",
        "PARLEY_JOB_CONCURRENCY",
    ] {
        assert!(text.contains(var), "--help does not list {var}:\n{text}");
    }
    assert!(
        text.contains("[default: 127.0.0.1:8080]") && text.contains("[default: 100]"),
        "{text}"
    );
    let v = parley().arg("--version").output().unwrap();
    assert!(String::from_utf8(v.stdout).unwrap().starts_with("parley "));
}

/// A proxy setting that is not an http(s) URL stops the server at once, saying why (it must
/// never fall back to connecting directly, or to a proxy from the environment).
#[test]
fn a_bad_outbound_proxy_is_refused_at_startup() {
    for bad in ["socks5://proxy:1080", "proxy:3128", "not a url"] {
        let out = parley()
            .arg("migrate")
            .env("PARLEY_OUTBOUND_PROXY", bad)
            .env("PARLEY_DATA_DIR", std::env::temp_dir().join("parley-bad-proxy"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("outbound-proxy") && err.contains("proxy"), "{bad}: {err}");
    }
}

#[test]
fn team_create_prints_json_and_serve_creates_the_first_team() {
    let dir = std::env::temp_dir().join(format!("parley-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = parley()
        .args(["migrate"])
        .env("PARLEY_DATA_DIR", &dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // serve on a database with no team creates one and prints its id and token once.
    let mut child = parley()
        .args(["serve"])
        .env("PARLEY_DATA_DIR", &dir)
        .env("PARLEY_BIND", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("Parley listening");
        printed.push(line);
        if done {
            break;
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
    let text = printed.join("\n");
    assert!(text.contains("team_id:") && text.contains("api_token: pk_"), "{text}");

    let out = parley()
        .args(["team", "create", "--name", "Acme", "--json"])
        .env("PARLEY_DATA_DIR", &dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 2);
    assert!(uuid::Uuid::parse_str(v["team_id"].as_str().unwrap()).is_ok());
    assert!(v["api_token"].as_str().unwrap().starts_with("pk_"));
    let team = v["team_id"].as_str().unwrap();
    let out = parley()
        .args([
            "team",
            "set",
            "--team-id",
            team,
            "--allow-premium",
            "true",
            "--max-concurrent-calls",
            "3",
        ])
        .env("PARLEY_DATA_DIR", &dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let set: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (set["allow_premium"].as_bool(), set["max_concurrent_calls"].as_i64()),
        (Some(true), Some(3))
    );
    let bad = parley()
        .args(["team", "set", "--team-id", "nope"])
        .env("PARLEY_DATA_DIR", &dir)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts `parley serve` on a free port; returns the child and its base URL.
fn serve(dir: &std::path::Path, run_jobs: bool) -> (std::process::Child, String) {
    let mut child = parley()
        .args(["serve"])
        .env("PARLEY_DATA_DIR", dir)
        .env("PARLEY_BIND", "127.0.0.1:0")
        .env("PARLEY_RUN_JOBS", if run_jobs { "1" } else { "0" })
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("Parley listening on ") {
            let base = rest.split_whitespace().next().unwrap().to_string();
            return (child, base);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("parley serve did not start");
}

/// Queued calls are durable jobs: a process killed with SIGKILL before dialing them loses
/// nothing, and the next process dials every one.
#[tokio::test]
async fn queued_calls_survive_kill_9() {
    let dir = std::env::temp_dir().join(format!("parley-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = parley()
        .args(["team", "create", "--name", "Acme", "--json"])
        .env("PARLEY_DATA_DIR", &dir)
        .output()
        .unwrap();
    let team: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (token, team_id) = (
        team["api_token"].as_str().unwrap().to_string(),
        team["team_id"].as_str().unwrap().to_string(),
    );
    let http = reqwest::Client::new();
    let post = |base: &str, path: &str, body: serde_json::Value| {
        http.post(format!("{base}{path}"))
            .header("x-api-token", &token)
            .header("team_id", &team_id)
            .json(&body)
            .send()
    };

    // A process that queues calls but runs no jobs, killed with SIGKILL.
    let (mut first, base) = serve(&dir, false);
    let agent: serde_json::Value = post(&base, "/interview/create", serde_json::json!({"title": "t"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let numbers: Vec<String> = (0..5).map(|i| format!("+1646555{:04}", 1000 + i)).collect();
    let job: serde_json::Value = post(
        &base,
        "/job/create_job_by_contacts",
        serde_json::json!({"interview_id": agent["data"]["id"], "phone_numbers": numbers}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(job["data"]["count"], 5, "{job}");
    first.kill().unwrap(); // SIGKILL
    let _ = first.wait();

    // The next process finds the dial jobs and runs every call to its end.
    let (mut second, base) = serve(&dir, true);
    let path = format!(
        "/interview/{}/responses?status[]=FAILED",
        agent["data"]["id"].as_str().unwrap()
    );
    let mut ended = 0;
    for _ in 0..200 {
        let r: serde_json::Value = http
            .get(format!("{base}{path}"))
            .header("x-api-token", &token)
            .header("team_id", &team_id)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ended = r["data"]["count"].as_i64().unwrap();
        if ended == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    second.kill().unwrap();
    let _ = second.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(ended, 5, "every queued call was dialed after the restart");
}
