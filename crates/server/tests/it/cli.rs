//! The `parley` binary itself: `--help` lists every setting, `team create --json`, `migrate`,
//! and `serve` creating the first team.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn parley() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_parley"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PARLEY_")) {
        c.env_remove(k);
    }
    // These tests call numbers no network serves (+1 646 555 1xxx) with a team that has no phone
    // number, and expect them queued (the behaviour before phone numbers; see common/mod.rs).
    c.env("PARLEY_UNROUTED_CALLS_TO_SANDBOX", "1");
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
        "PARLEY_SECRET_KEY",
        "PARLEY_SECRET_KEY_FILE",
    ] {
        assert!(text.contains(var), "--help does not list {var}:\n{text}");
    }
    assert!(
        text.contains("[default: 127.0.0.1:8080]") && text.contains("[default: 100]"),
        "{text}"
    );
    // The key's value is never shown, even when set.
    let out = parley()
        .arg("--help")
        .env("PARLEY_SECRET_KEY", "c2VjcmV0LWtleS12YWx1ZQ==")
        .output()
        .unwrap();
    assert!(!String::from_utf8(out.stdout)
        .unwrap()
        .contains("c2VjcmV0LWtleS12YWx1ZQ=="));
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
        .env("PARLEY_SIP_BIND", "127.0.0.1:0")
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

/// Starts `parley serve` on a free port; returns the child and its base URL. The pipe's reader
/// is dropped once the address is read, as a supervisor that only waits for it would: the
/// server must keep serving (it once died writing the rest of its banner into the closed pipe).
fn serve(dir: &std::path::Path, run_jobs: bool) -> (std::process::Child, String) {
    let mut child = parley()
        .args(["serve"])
        .env("PARLEY_DATA_DIR", dir)
        .env("PARLEY_BIND", "127.0.0.1:0")
        .env("PARLEY_SIP_BIND", "127.0.0.1:0")
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

/// Each flag (and argument) of one `--help` page with its help text: the lines under it up to
/// the next flag, without clap's `[env: …]` / `[default: …]` notes.
fn flags_and_help(page: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut in_list = false;
    for line in page.lines() {
        if line.ends_with(':') && !line.starts_with(' ') {
            in_list = line == "Options:" || line == "Arguments:";
            continue;
        }
        if !in_list {
            continue;
        }
        let t = line.trim();
        let indent = line.len() - line.trim_start().len();
        if indent > 0 && indent <= 6 && (t.starts_with('-') || t.starts_with('<')) {
            // Short pages put the help on the flag's line, after two spaces.
            let (flag, help) = t.split_once("  ").unwrap_or((t, ""));
            out.push((flag.to_string(), format!("{} ", help.trim())));
        } else if let Some((_, help)) = out.last_mut() {
            if !t.is_empty() && !t.starts_with('[') {
                help.push_str(t);
                help.push(' ');
            }
        }
    }
    out.into_iter().map(|(f, h)| (f, h.trim().to_string())).collect()
}

/// Every flag of every `parley … --help` page has a help text of its own: none empty, none
/// copied from another flag (a doc comment put above the wrong field shows up as one of both).
#[test]
fn every_flag_has_its_own_help_text() {
    for cmd in [
        &[][..],
        &["serve"],
        &["migrate"],
        &["team", "create"],
        &["team", "set"],
        &["token", "create"],
        &["token", "list"],
        &["token", "revoke"],
        &["speech-key", "set"],
        &["speech-key", "list"],
        &["speech-key", "delete"],
    ] {
        let out = parley().args(cmd).arg("--help").output().unwrap();
        assert!(out.status.success(), "{cmd:?}");
        let page = String::from_utf8(out.stdout).unwrap();
        let flags = flags_and_help(&page);
        assert!(
            flags.iter().any(|(f, _)| f.contains("--help")),
            "{cmd:?}: no flags found in\n{page}"
        );
        let mut seen: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
        for (flag, help) in &flags {
            assert!(!help.is_empty(), "parley {cmd:?}: {flag} has no help text");
            if let Some(other) = seen.insert(help, flag) {
                panic!("parley {cmd:?}: {other} and {flag} share the help text {help:?}");
            }
        }
    }
    // The parser itself finds what it must: an empty and a shared help are caught.
    let sample = "Options:\n      --a <A>\n          Same\n\n      --b <B>\n          Same\n\n      --c\n\n  -h, --help  Print help\n";
    let f = flags_and_help(sample);
    assert_eq!(f.len(), 4);
    let helps: Vec<&str> = f.iter().map(|(_, h)| h.as_str()).collect();
    assert_eq!(helps, ["Same", "Same", "", "Print help"]);
}

/// `PARLEY_TRUSTED_PROXIES` takes addresses and networks; set but empty means none (as a
/// compose file leaves it); a wrong entry stops the start, naming it.
#[test]
fn trusted_proxies_accept_empty_and_name_a_wrong_entry() {
    let dir = std::env::temp_dir().join(format!("parley-proxies-{}", std::process::id()));
    let run = |value: &str| {
        parley()
            .arg("migrate")
            .env("PARLEY_DATA_DIR", &dir)
            .env("PARLEY_TRUSTED_PROXIES", value)
            .output()
            .unwrap()
    };
    for ok in ["", "10.0.0.0/8", "10.0.0.7, fd00::/8"] {
        let out = run(ok);
        assert!(out.status.success(), "{ok:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = run("10.0.0.7,proxy.local");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("proxy.local"));
    let _ = std::fs::remove_dir_all(&dir);
}
