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
//! With `--media-stream`, each level also runs the same calls through the Twilio network: a
//! loopback fake of Twilio (`parley_telephony::twilio::fake`) answers, opens the media-stream
//! WebSocket to Parley exactly as Twilio does, and says the same "yes" (the same Piper voice)
//! each time the agent has spoken and fallen quiet. Those calls report two figures: the
//! pipeline's own (comparable with the sandbox's), and the turn as the far party hears it (its
//! last frame sent to the agent's first voiced frame played out), which adds the WebSocket,
//! the pacing and the fake's 20 ms playback tick.
//!
//! With `--cutoff`, one more call: a persona says sentences with a natural pause in the middle
//! (400-900 ms, at a phrase boundary: "I'd like to book an appointment | for next Tuesday
//! morning."), the agent answers every utterance ("Go on."), and the share of sentences the
//! agent took as two turns (cut off early) is printed. Run it under each `PARLEY_TURN_RULE`
//! to compare the turn-end rules in the same run (`bench/turn_latency.sh` does).
//!
//! Usage: `cargo run --release -p parley-server --example turn_latency -- [--llm] [--media-stream] [--cutoff] [--turns N] [--levels 1,4,8,16]`
// A measuring tool, not the server: a panic is its failure report.
#![allow(clippy::unwrap_used)]

use parley_agent::fake::{FakeLlm, FakeLlmConfig, Reply};
use parley_server::Settings;
use parley_telephony::twilio::fake::{FakeTwilio, Script};
use parley_voice::pipeline::TurnRule;
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
    // PARLEY_LOG as the server reads it (e.g. `parley_speech=debug` shows every decode's length
    // and time); warnings by default.
    let filter = std::env::var("PARLEY_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(filter).unwrap())
        .with_writer(std::io::stderr)
        .init();
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
    let media = if args.iter().any(|a| a == "--media-stream") {
        let (yes, no) = tokio::task::spawn_blocking(|| (mulaw_speech("Yes."), mulaw_speech("No.")))
            .await
            .unwrap();
        Some(MediaStream {
            fake: FakeTwilio::start().await.unwrap(),
            yes,
            no,
        })
    } else {
        None
    };
    let dir = std::env::temp_dir().join(format!("parley-bench-{}", std::process::id()));
    let mut s = <Wrap as clap::Parser>::try_parse_from(["parley"]).unwrap().s;
    // A known port: the fake Twilio reaches the server at its public URL, as Twilio would.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    s.bind = format!("127.0.0.1:{port}").parse().unwrap();
    s.public_url = Some(format!("http://127.0.0.1:{port}"));
    s.sip_bind = "127.0.0.1:0".into();
    if let Some(ms) = &media {
        s.twilio_api_base = ms.fake.base_url();
    }
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
    if let Some(ms) = &media {
        let account = ms.fake.new_account();
        api.post(
            "/phone_number",
            json!({"phone_number": MEDIA_FROM, "network": "twilio",
                   "twilio": {"account_sid": account.account_sid, "auth_token": account.auth_token}}),
        )
        .await;
    }
    let speech = s.speech_settings();
    tokio::task::spawn_blocking(move || engine_times(&speech))
        .await
        .unwrap();
    let turn = s.turn_config();
    println!(
        "turn latency, {} agent, turn end: {} (PARLEY_TURN_RULE; ceiling {} ms), speech-to-text from {} (PARLEY_STT_EARLY_MS), the caller may go on {} (PARLEY_CONTINUE_MS)",
        if llm { "LLM (loopback, TTFT 200 ms)" } else { "flow" },
        match turn.rule {
            TurnRule::Window => format!("fixed window {} ms", turn.window.as_millis()),
            TurnRule::Transcript(w) => format!(
                "transcript rule, {} ms after complete-looking words, {} after a number, {} mid-phrase",
                w.complete_ms, w.number_ms, w.open_ms
            ),
        },
        turn.ceiling.as_millis(),
        match turn.early_stt.as_millis() {
            0 => "the VAD's stop (120 ms)".to_string(),
            ms => format!("{ms} ms of quiet"),
        },
        match turn.continue_window.as_millis() {
            0 => "never".to_string(),
            ms => format!("within {ms} ms of a turn's end"),
        }
    );
    println!("network       calls  turns   p50   p95   p99  | p50 parts: endpoint stt_queue stt agent tts_first");
    if args.iter().any(|a| a == "--cutoff") {
        cutoff(&api).await;
    }
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
            ids.push(call(&api, &agent, &number, None).await);
        }
        let turns = finished_turns(&api, &ids).await;
        let sandbox = Row::of(&turns);
        let ratio = base_p95
            .map(|b: i64| sandbox.p[1] as f64 / b.max(1) as f64)
            .unwrap_or(1.0);
        base_p95.get_or_insert(sandbox.p[1]);
        sandbox.print("sandbox", n, &format!("p95 = {ratio:.2}x one call's"));

        let Some(ms) = &media else { continue };
        let mut replies = vec![ms.yes.clone(); per_call + 1];
        replies.push(ms.no.clone());
        let mut ids = vec![];
        for i in 0..n {
            let number = format!("+1202555{:04}", 700 + i);
            ms.fake.script(
                &number,
                Script {
                    replies: replies.clone(),
                    reply_after_quiet_ms: 700,
                    ..Script::answer()
                },
            );
            ids.push(call(&api, &agent, &number, Some(MEDIA_FROM)).await);
        }
        let turns = finished_turns(&api, &ids).await;
        let stream = Row::of(&turns);
        stream.print(
            "media-stream",
            n,
            &format!(
                "p50 = {:.2}x, p95 = {:.2}x the sandbox's",
                stream.p[0] as f64 / sandbox.p[0].max(1) as f64,
                stream.p[1] as f64 / sandbox.p[1].max(1) as f64
            ),
        );
        let mut heard: Vec<i64> = vec![];
        for rec in ms.fake.calls() {
            let t = parley_telephony::twilio::party::turn_latencies_ms(&rec.caller_ends_ms, &rec.agent_onsets_ms);
            heard.extend(t.into_iter().map(|v| v as i64));
        }
        ms.fake.forget_calls();
        let (h50, h95, h99) = (pct(&mut heard, 0.5), pct(&mut heard, 0.95), pct(&mut heard, 0.99));
        println!(
            "  at the phone {n:>5} {:>6} {h50:>5} {h95:>5} {h99:>5}  | the far party's last frame sent to the agent's first voiced frame played",
            heard.len()
        );
    }
    running.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Sentences split at a phrase boundary where people pause (the same kind of set as
/// `crates/speech/examples/turn_eval.rs`).
const PAUSED: &[&str] = &[
    "I'd like to book an appointment | for next Tuesday morning.",
    "My account number is | four five seven two.",
    "I called yesterday and | nobody picked up the phone.",
    "The package was supposed to arrive on Monday | but it never showed up.",
    "Can you tell me | when my order will be delivered?",
    "I want to cancel my subscription | because I'm moving abroad.",
    "My phone number is five five five | one two three four.",
    "Yes, I think | Thursday afternoon would work best.",
    "I was charged twice | for the same order last month.",
    "Could you send the confirmation | to my email address?",
    "We moved into the new house | about three weeks ago.",
    "The internet keeps dropping | every evening around eight.",
    "I need to speak with someone about | a refund for my last order.",
    "So the thing is | my card expired last week.",
    "I'm calling on behalf of my mother | who has an account with you.",
    "The total came to forty two dollars | which seems too high.",
];

/// One call in which the persona says [`PAUSED`] (pauses of 400-900 ms) to an agent that
/// answers every utterance: prints how many sentences were cut off (taken as two turns).
async fn cutoff(api: &Api) {
    let agent = api
        .post(
            "/interview/create",
            json!({"title": "cutoff", "silence_timeout_ms": 20000, "flow": {
                "nodes": [
                    {"id": "start", "type": "start", "data": {}},
                    {"id": "ask", "type": "question", "data": {"question": "Go on.", "variable": "said", "kind": "text"}},
                ],
                "edges": [
                    {"id": "e1", "source": "start", "target": "ask"},
                    {"id": "e2", "source": "ask", "sourceHandle": "next", "target": "ask"},
                ],
            }}),
        )
        .await;
    let mut steps: Vec<Value> = PAUSED
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"action": "say", "text": text, "pause_ms": 400 + (i * 137) % 501}))
        .collect();
    steps.push(json!({"action": "hang_up"}));
    let persona = api
        .post(
            "/sandbox/personas",
            json!({"name": "Pauses", "rings": 1, "steps": steps}),
        )
        .await;
    let number = "+12025559900";
    api.post(
        "/sandbox/numbers",
        json!({"phone_number": number, "persona_id": persona["id"]}),
    )
    .await;
    let id = call(api, &agent, number, None).await;
    finished_turns(api, std::slice::from_ref(&id)).await;
    let c = api.get(&format!("/interview_response/{id}")).await;
    let mut said: Vec<String> = c["conversation_history"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|t| t["author"] == "user")
        .filter_map(|t| t["text"].as_str().map(str::to_string))
        .filter(|t| !t.trim().is_empty())
        .collect();
    // Every persona answers the phone with "Hello?": that is no sentence of the script.
    let greeting = |t: &str| {
        t.trim_matches(|c: char| !c.is_alphanumeric())
            .eq_ignore_ascii_case("hello")
    };
    if said.first().is_some_and(|t| greeting(t)) {
        said.remove(0);
    }
    // What the agent answered: one answer per sentence heard whole, two for one cut off at its
    // pause. A caller who went on right after the turn ended (the agent's reply dropped, both
    // parts answered as one) counts once, as the agent took it; those starts are shown apart.
    let answers: Vec<String> = c["path"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|s| s["node"] == "ask")
        .filter_map(|s| s["heard"].as_str().map(str::to_string))
        .filter(|t| !greeting(t))
        .collect();
    let cut = answers.len().saturating_sub(PAUSED.len());
    let went_on = said.len().saturating_sub(answers.len());
    println!(
        "cut off early: {cut} of {} sentences with a 400-900 ms pause ({} answers; the caller went on after the turn ended {went_on} times, answered as one)",
        PAUSED.len(),
        answers.len()
    );
    for line in &answers {
        println!("  answered: {line}");
    }
}

/// The Twilio number the media-stream calls come from.
const MEDIA_FROM: &str = "+14155558899";

/// What the media-stream mode needs: the fake Twilio and the far party's two answers.
struct MediaStream {
    fake: FakeTwilio,
    yes: Vec<u8>,
    no: Vec<u8>,
}

/// Mu-law speech of `text` in the Piper voice the sandbox personas speak with.
fn mulaw_speech(text: &str) -> Vec<u8> {
    let models = parley_speech::models::Models::locate();
    let tts = parley_speech::tts::PiperTts::from_models(&models, Default::default())
        .expect("scripts/setup installed the voice");
    let pcm = parley_speech::TextToSpeech::synthesize(&tts, text).unwrap();
    parley_telephony::audio::frames(&pcm)
        .flat_map(|f| parley_telephony::audio::encode(&f))
        .collect()
}

/// The speech engines' own times on this machine, one at a time, before any call: what a turn
/// costs here at the least (a slow CPU shows here first). Whisper runs as the server's engine
/// does (its window, primed with the question the caller answers), on one thread (a decode
/// beside others) and on two (a decode alone, `PARLEY_STT_IDLE_THREADS`).
fn engine_times(s: &parley_server::speech::SpeechSettings) {
    use parley_speech::stt::{AudioWindow, WhisperConfig, WhisperStt};
    let models = parley_speech::models::Models::locate();
    let tts = parley_speech::tts::PiperTts::from_models(&models, Default::default()).unwrap();
    let phone = |text: &str| -> Vec<i16> {
        let pcm = parley_speech::TextToSpeech::synthesize(&tts, text).unwrap();
        parley_telephony::audio::frames(&pcm)
            .flat_map(|f| parley_telephony::audio::decode(&parley_telephony::audio::encode(&f)))
            .collect()
    };
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let timed = |f: &mut dyn FnMut()| {
        let t = std::time::Instant::now();
        f();
        t.elapsed().as_secs_f64() * 1000.0
    };
    let sentence = "I would like to move my appointment to Thursday afternoon, please.";
    let piper = median((0..3).map(|_| timed(&mut || drop(phone(sentence)))).collect());
    let (yes, long) = (phone("Yes."), phone(sentence));
    for threads in [1, 2] {
        let stt = WhisperStt::from_models(
            &models,
            WhisperConfig {
                threads,
                idle_threads: threads,
                workers: 1,
                window: AudioWindow::Fitted {
                    margin_ms: 1000,
                    min_frames: (s.stt_min_window_ms / 20).max(64),
                },
                ..WhisperConfig::default()
            },
        )
        .unwrap();
        let q = "Can you confirm your appointment for tomorrow?";
        let run = |pcm: &[i16], n: usize| {
            median(
                (0..n)
                    .map(|_| {
                        let t = std::time::Instant::now();
                        parley_speech::SpeechToText::transcribe_in_context(&stt, pcm, q).unwrap();
                        t.elapsed().as_secs_f64() * 1000.0
                    })
                    .collect(),
            )
        };
        println!(
            "engines alone, {threads} Whisper thread(s): Whisper \"Yes.\" {:.0} ms, a {:.1} s sentence {:.0} ms (medians); Piper, that sentence {piper:.0} ms",
            run(&yes, 7),
            long.len() as f64 / 8000.0,
            run(&long, 3)
        );
    }
}

/// Places a call to `number` (as a new contact) with the agent; returns its id.
async fn call(api: &Api, agent: &Value, number: &str, from: Option<&str>) -> String {
    let contact = api.post("/contact/create", json!({"phone_number": number})).await;
    let mut body = json!({"contact_id": contact["id"], "interview_id": agent["id"]});
    if let Some(from) = from {
        body["from_number"] = json!(from);
    }
    let call = api.post("/contact/call", body).await;
    call["id"].as_str().unwrap().to_string()
}

/// Waits for every call to end; returns the turns the pipeline recorded on them.
async fn finished_turns(api: &Api, ids: &[String]) -> Vec<Value> {
    let mut turns: Vec<Value> = vec![];
    for id in ids {
        loop {
            let c = api.get(&format!("/interview_response/{id}")).await;
            if c["progress"] == "ended" {
                turns.extend(c["latency"].as_array().cloned().unwrap_or_default());
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    turns
}

/// One line of figures: total p50/p95/p99 and the median and p95 of each part.
struct Row {
    turns: usize,
    p: [i64; 3],
    parts: Vec<i64>,
    parts95: Vec<i64>,
}

impl Row {
    fn of(turns: &[Value]) -> Row {
        let col = |k: &str| -> Vec<i64> { turns.iter().filter_map(|t| t[k].as_i64()).collect() };
        let mut total = col("total_ms");
        let keys = [
            "endpointing_ms",
            "stt_queue_ms",
            "stt_ms",
            "agent_ms",
            "tts_first_audio_ms",
        ];
        Row {
            turns: turns.len(),
            p: [pct(&mut total, 0.5), pct(&mut total, 0.95), pct(&mut total, 0.99)],
            parts: keys.iter().map(|k| pct(&mut col(k), 0.5)).collect(),
            parts95: keys.iter().map(|k| pct(&mut col(k), 0.95)).collect(),
        }
    }

    fn print(&self, network: &str, n: usize, note: &str) {
        let (p, q) = (&self.parts, &self.parts95);
        println!(
            "{network:<12} {n:>5} {:>6} {:>5} {:>5} {:>5}  | {:>8} {:>9} {:>3} {:>5} {:>9}   {note}",
            self.turns, self.p[0], self.p[1], self.p[2], p[0], p[1], p[2], p[3], p[4]
        );
        println!(
            "{:>38}  p95 parts: {:>8} {:>9} {:>3} {:>5} {:>9}",
            "", q[0], q[1], q[2], q[3], q[4]
        );
    }
}
