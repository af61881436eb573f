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
