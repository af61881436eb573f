//! Per-turn latency of real sandbox calls: from the last frame of the persona's utterance to
//! the first agent frame with speech, as the pipeline records it on each call.
//!
//! Runs a Parley server in-process (SQLite in a temporary folder, the sandbox network, the
//! embedded speech engines) and, for each concurrency level, places that many calls at once to
//! a persona that answers every question with a short "yes". The agent loops on a yes/no
//! question, so one call yields many turns. With `--llm`, each answer goes through a prompt node
//! on a loopback OpenAI-compatible server (time to first token 200 ms), whose reply is
//! synthesized uncached.
//!
//! Usage: `cargo run --release -p parley-server --example turn_latency -- [--llm] [--turns N] [--levels 1,4,8,16]`

use parley_agent::fake::{FakeLlm, FakeLlmConfig, Reply};
use parley_server::Settings;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(clap::Parser)]
struct Wrap {
    #[command(flatten)]
    s: Settings,
}

struct Api {
    base: String,
    token: String,
    team: String,
    http: reqwest::Client,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> Value {
        let r: Value = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("x-api-token", &self.token)
            .header("team_id", &self.team)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(r["error"].is_null(), "{path}: {r}");
        r["data"].clone()
    }
    async fn get(&self, path: &str) -> Value {
        let r: Value = self
            .http
            .get(format!("{}{}", self.base, path))
            .header("x-api-token", &self.token)
            .header("team_id", &self.team)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["data"].clone()
    }
}

fn flow(llm: bool) -> Value {
    let mut nodes = vec![
        json!({"id": "start", "type": "start", "data": {}}),
        json!({"id": "ask", "type": "question", "data": {"question": "Shall we go on?", "variable": "go", "kind": "yes_no"}}),
        json!({"id": "bye", "type": "end", "data": {"outcome": "stopped", "message": "Goodbye."}}),
    ];
    let mut edges = vec![
        json!({"id": "e1", "source": "start", "target": "ask"}),
        json!({"id": "e3", "source": "ask", "sourceHandle": "no", "target": "bye"}),
        json!({"id": "e4", "source": "ask", "sourceHandle": "no_match", "target": "bye"}),
    ];
    if llm {
        nodes.push(json!({"id": "reply", "type": "speak", "data": {"prompt": "Acknowledge the caller in one short sentence."}}));
        edges.push(json!({"id": "e2", "source": "ask", "sourceHandle": "yes", "target": "reply"}));
        edges.push(json!({"id": "e5", "source": "reply", "target": "ask"}));
    } else {
        edges.push(json!({"id": "e2", "source": "ask", "sourceHandle": "yes", "target": "ask"}));
    }
    json!({"nodes": nodes, "edges": edges})
}

fn pct(v: &mut [i64], p: f64) -> i64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let llm = args.iter().any(|a| a == "--llm");
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let total_turns: usize = arg("--turns").and_then(|t| t.parse().ok()).unwrap_or(100);
    let levels: Vec<usize> = arg("--levels")
        .unwrap_or_else(|| "1,4,8,16".into())
        .split(',')
        .filter_map(|l| l.parse().ok())
        .collect();

    let fake = if llm {
        let cfg = FakeLlmConfig {
            first_token_delay: Duration::from_millis(200),
            default_reply: Reply::text("Thanks, noted. Let us continue."),
            ..FakeLlmConfig::default()
        };
        Some(FakeLlm::start(cfg).await)
    } else {
        None
    };
    let dir = std::env::temp_dir().join(format!("parley-bench-{}", std::process::id()));
    let mut s = <Wrap as clap::Parser>::try_parse_from(["parley"]).unwrap().s;
    s.bind = "127.0.0.1:0".parse().unwrap();
    s.data_dir = dir.clone();
    s.sandbox_ring_ms = 100;
    s.rate_limit_per_minute = 1_000_000;
    s.max_concurrent_calls = 64;
    s.job_concurrency = 64;
    s.llm_base_url = fake.as_ref().map(|f| f.base_url.clone());
    let store = s.open_store().await.unwrap();
    let (team, token) = store.create_team("bench").await.unwrap();
    store.set_team_limits(&team.id, false, 64).await.unwrap();
    let running = parley_server::start(&s, store).await.unwrap();
    let api = Api {
        base: format!("http://{}", running.addr),
        token,
        team: team.id,
        http: reqwest::Client::new(),
    };
    let agent = api
        .post(
            "/interview/create",
            json!({"title": "bench", "flow": flow(llm), "silence_timeout_ms": 20000}),
        )
        .await;
    println!(
        "turn latency, {} agent, endpointing window {} ms (the floor of a silence-based turn detector)",
        if llm { "LLM (loopback, TTFT 200 ms)" } else { "flow" },
        s.endpoint_ms
    );
    println!("calls  turns   p50   p95   p99  | p50 parts: endpoint stt_queue stt agent tts_first");
    let mut base_p95 = None;
    for &n in &levels {
        let per_call = total_turns.div_ceil(n).max(2);
        let mut steps = vec![json!({"action": "say", "text": "Yes."}); per_call + 1];
        steps.push(json!({"action": "say", "text": "No."}));
        let persona = api
            .post(
                "/sandbox/personas",
                json!({"name": "Bench", "rings": 1, "steps": steps}),
            )
            .await;
        let mut ids = vec![];
        for i in 0..n {
            let number = format!("+1202555{:04}", 300 + i);
            api.post(
                "/sandbox/numbers",
                json!({"phone_number": number, "persona_id": persona["id"]}),
            )
            .await;
            let contact = api.post("/contact/create", json!({"phone_number": number})).await;
            let call = api
                .post(
                    "/contact/call",
                    json!({"contact_id": contact["id"], "interview_id": agent["id"]}),
                )
                .await;
            ids.push(call["id"].as_str().unwrap().to_string());
        }
        let mut turns: Vec<Value> = vec![];
        for id in &ids {
            loop {
                let c = api.get(&format!("/interview_response/{id}")).await;
                if c["progress"] == "ended" {
                    turns.extend(c["latency"].as_array().cloned().unwrap_or_default());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        let col = |k: &str| -> Vec<i64> { turns.iter().filter_map(|t| t[k].as_i64()).collect() };
        let mut total = col("total_ms");
        let (p50, p95, p99) = (pct(&mut total, 0.5), pct(&mut total, 0.95), pct(&mut total, 0.99));
        let keys = [
            "endpointing_ms",
            "stt_queue_ms",
            "stt_ms",
            "agent_ms",
            "tts_first_audio_ms",
        ];
        let parts: Vec<i64> = keys.iter().map(|k| pct(&mut col(k), 0.5)).collect();
        let parts95: Vec<i64> = keys.iter().map(|k| pct(&mut col(k), 0.95)).collect();
        let ratio = base_p95.map(|b: i64| p95 as f64 / b.max(1) as f64).unwrap_or(1.0);
        base_p95.get_or_insert(p95);
        println!(
            "{n:>5} {:>6} {p50:>5} {p95:>5} {p99:>5}  | {:>8} {:>9} {:>3} {:>5} {:>9}   p95 = {ratio:.2}x one call's",
            turns.len(),
            parts[0],
            parts[1],
            parts[2],
            parts[3],
            parts[4]
        );
        println!(
            "{:>30}  p95 parts: {:>8} {:>9} {:>3} {:>5} {:>9}",
            "", parts95[0], parts95[1], parts95[2], parts95[3], parts95[4]
        );
    }
    running.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
