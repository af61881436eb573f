//! Calls that talk: an appointment-confirmation agent placed through the API against the
//! sandbox personas, with real audio both ways (Piper TTS, Whisper STT, WebRTC VAD).
//!
//! Each persona must drive the call to the right status, outcome, variables and webhooks;
//! barge-in and backchannel are checked on the stereo recording (caller left, agent right).
//!
//! A test binary of its own, apart from `tests/it`: barge-in is timed to 100 ms on the recording,
//! and a neighbour test's server (speech models, a crash test's processes) on the same two cores
//! made it miss by 40 ms once (binaries run one after another).
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

// This binary uses a few of the shared helpers; the rest are `tests/it`'s.
#[allow(dead_code)]
#[macro_use]
mod common;
use common::{events, eventually, wait_final, Client, Db, Receiver, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

/// A server whose rate limit does not get in the way of polling many calls.
async fn voice_server(db: Db) -> TestServer {
    TestServer::start_with(db, |s| s.rate_limit_per_minute = 1_000_000).await
}

/// Sandbox number of a built-in persona.
fn persona(slot: u8) -> String {
    format!("+1212555{:04}", 100 + slot as u32)
}

/// The appointment-confirmation agent: greet by name, confirm yes/no, branch, capture a new
/// time, end with an outcome.
fn appointment_flow() -> Value {
    json!({
        "nodes": [
            {"id": "start", "type": "start", "data": {}},
            {"id": "confirm", "type": "question", "data": {
                "question": "Hi {{contact.name}}, this is Bright Dental. Can you still make your appointment tomorrow at ten? You can also press one for yes.",
                "variable": "confirmed", "kind": "yes_no", "max_attempts": 2}},
            {"id": "route", "type": "branch", "data": {"conditions": [
                {"variable": "variables.confirmed", "op": "equals", "value": true, "handle": "kept"}]}},
            {"id": "new_time", "type": "question", "data": {
                "question": "No problem. What day and time would work better for you?",
                "variable": "new_time", "kind": "date"}},
            {"id": "done", "type": "end", "data": {"outcome": "confirmed", "message": "Great, see you then. Goodbye."}},
            {"id": "moved", "type": "end", "data": {"outcome": "rescheduled", "message": "Thank you, we will send you a confirmation. Goodbye."}},
            {"id": "unclear", "type": "end", "data": {"outcome": "unclear", "message": "Sorry for the trouble. We will call you back. Goodbye."}}
        ],
        "edges": [
            {"id": "e1", "source": "start", "sourceHandle": "next", "target": "confirm"},
            {"id": "e2", "source": "confirm", "sourceHandle": "yes", "target": "route"},
            {"id": "e3", "source": "confirm", "sourceHandle": "no", "target": "route"},
            {"id": "e4", "source": "confirm", "sourceHandle": "no_match", "target": "unclear"},
            {"id": "e5", "source": "route", "sourceHandle": "kept", "target": "done"},
            {"id": "e6", "source": "route", "sourceHandle": "else", "target": "new_time"},
            {"id": "e7", "source": "new_time", "sourceHandle": "next", "target": "moved"},
            {"id": "e8", "source": "new_time", "sourceHandle": "no_match", "target": "unclear"}
        ]
    })
}

async fn appointment_agent(c: &Client) -> Value {
    c.post(
        "/interview/create",
        json!({
            "title": "Appointment confirmation",
            "ai_name": "Alex",
            "flow": appointment_flow(),
            "should_leave_voicemail": true,
            "voicemail_message": "Hi {{contact.name}}, this is Bright Dental about your appointment tomorrow. Please call us back.",
            "silence_timeout_ms": 2500,
            "silence_reprompts": 1
        }),
    )
    .await
    .ok()
    .clone()
}

async fn place(c: &Client, agent: &Value, number: &str, name: &str) -> String {
    let contact = c
        .post("/contact/create", json!({"phone_number": number, "name": name}))
        .await
        .ok()
        .clone();
    let call = c
        .post(
            "/contact/call",
            json!({"contact_id": contact["id"], "interview_id": agent["id"], "metadata": {"clinic": "north"}}),
        )
        .await
        .ok()
        .clone();
    call["id"].as_str().unwrap().to_string()
}

/// Per-20 ms frame levels (dBFS) of the recording's two channels.
fn levels(wav: &[u8]) -> (Vec<f32>, Vec<f32>) {
    let mut r = hound::WavReader::new(std::io::Cursor::new(wav)).unwrap();
    assert_eq!(r.spec().channels, 2);
    assert_eq!(r.spec().sample_rate, 8000);
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let (mut left, mut right) = (vec![], vec![]);
    for chunk in s.chunks(320) {
        let db = |ch: usize| {
            let v: Vec<i16> = chunk.iter().skip(ch).step_by(2).copied().collect();
            parley_telephony::audio::level_dbfs(&v)
        };
        left.push(db(0));
        right.push(db(1));
    }
    (left, right)
}

const LOUD: f32 = -40.0;
const QUIET: f32 = -55.0;

/// The first frame where the caller starts speaking while the agent has been speaking.
fn overtalk_onset(left: &[f32], right: &[f32]) -> Option<usize> {
    (10..left.len())
        .find(|&i| left[i] > LOUD && left[i - 1] <= LOUD && right[i - 10..i].iter().filter(|&&l| l > LOUD).count() >= 4)
}

async fn recording(c: &Client, call: &Value) -> Vec<u8> {
    let url = call["recording_url"].as_str().expect("a recording url");
    let path = &url[url.find("/interview_response").unwrap()..];
    let r = c.raw_get(path).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/wav");
    r.bytes().await.unwrap().to_vec()
}

/// When the first line of `author` was said (ms from the answer).
fn first_at_ms(call: &Value, author: &str) -> i64 {
    call["conversation_history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["author"] == author)
        .map(|t| t["cumulative_duration_ms"].as_i64().unwrap())
        .unwrap()
}

fn lines(call: &Value, author: &str) -> Vec<String> {
    call["conversation_history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["author"] == author)
        .map(|t| t["text"].as_str().unwrap().to_string())
        .collect()
}

/// Every built-in persona against the appointment agent, all at once.
///
/// Run twice at most: it fails only if both runs fail. Each run holds eight real-time calls at
/// once on two cores, the personas' voices are sampled afresh on every call (VITS noise), and
/// now and then one run lands on a timing the script does not expect: a voicemail greeting whose
/// pause ends the first utterance early, or a persona that answers in the pause while the agent
/// judges its "yeah" (each seen about once in four runs on an idle machine, 2026-12-02). A fault
/// of the agent repeats; a second failure fails the test with its own report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_appointment_agent_handles_every_persona() {
    for attempt in 1..=2 {
        match tokio::spawn(every_persona_once()).await {
            Ok(()) => return,
            Err(e) if attempt == 1 && e.is_panic() => {
                eprintln!("the first run of the persona scenario failed (its report is above); running it again");
            }
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

async fn every_persona_once() {
    let ts = voice_server(Db::Sqlite).await;
    let c = ts.team().await;
    let rx = Receiver::start(0).await;
    for t in ["CALL_PROGRESS", "NEW_RESPONSE"] {
        c.post("/webhooks/subscribe", json!({"type": t, "url": rx.url}))
            .await
            .ok();
    }
    let agent = appointment_agent(&c).await;
    // Eight personas at once; then the two whose timing the recording checks (over-talk and
    // backchannel), on an unloaded machine, so synthesis queueing does not open gaps mid-turn.
    let mut ids = vec![String::new(); 10];
    for batch in [vec![0u8, 1, 2, 3, 4, 5, 8, 9], vec![6, 7]] {
        for &slot in &batch {
            ids[slot as usize] = place(&c, &agent, &persona(slot), &format!("Person {slot}")).await;
        }
        for &slot in &batch {
            wait_final(&c, &ids[slot as usize], 240).await;
        }
    }
    let mut calls = vec![];
    for id in &ids {
        calls.push(wait_final(&c, id, 10).await);
    }
    let summary: Vec<String> = calls
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {:?}",
                c["status"], c["end_reason"], c["outcome"], c["transcript"]
            )
        })
        .collect();
    let show = summary.join("\n");

    // 00: cooperative, says yes.
    let yes = &calls[0];
    assert_eq!(yes["status"], "ENDED", "{show}");
    assert_eq!(yes["outcome"], "confirmed", "{show}");
    assert_eq!(yes["variables"]["confirmed"], true);
    assert!(
        lines(yes, "ai")[0].starts_with("Hi Person 0, this is Bright Dental."),
        "{show}"
    );
    assert!(yes["summary_data"]["response_tags"]
        .as_array()
        .unwrap()
        .contains(&json!("confirmed")));
    let lat = yes["latency"].as_array().unwrap();
    assert!(!lat.is_empty(), "per-turn latency is recorded");
    for l in lat {
        assert!(
            l["total_ms"].as_i64().unwrap() > 0 && l["endpointing_ms"].as_i64().unwrap() >= 200, // the turn rule's shortest wait
            "{l}"
        );
    }
    // 01: says no, then gives another time.
    let no = &calls[1];
    assert_eq!(no["outcome"], "rescheduled", "{show}");
    assert_eq!(no["variables"]["confirmed"], false);
    assert!(
        no["variables"]["new_time"]
            .to_string()
            .to_lowercase()
            .contains("thursday"),
        "{}\n{}",
        no["variables"],
        no["transcript"].as_str().unwrap_or_default()
    );
    // 02: never answers; 03: busy.
    assert_eq!(
        (calls[2]["status"].as_str(), calls[2]["end_reason"].as_str()),
        (Some("NO_ANSWER"), Some("no_answer"))
    );
    assert_eq!(
        (calls[3]["status"].as_str(), calls[3]["end_reason"].as_str()),
        (Some("NO_ANSWER"), Some("busy"))
    );
    // 04: voicemail; the message is left after the beep.
    let vm = &calls[4];
    assert_eq!(vm["status"], "VOICEMAIL", "{show}");
    assert_eq!(vm["outcome"], "voicemail_left");
    assert!(
        lines(vm, "ai").iter().any(|l| l.contains("Please call us back")),
        "{show}"
    );
    // 05: silent: one re-prompt, then a polite goodbye.
    let silent = &calls[5];
    assert_eq!(silent["outcome"], "no_response", "{show}");
    assert!(lines(silent, "ai").len() >= 3, "question, re-prompt, goodbye: {show}");
    // 06: talks over the agent, then cooperates.
    let barge = &calls[6];
    assert_eq!(barge["outcome"], "confirmed", "{show}");
    // 07: backchannels ("Yeah.") while the agent speaks; the agent carries on. The "yeah" is no
    // turn: the agent asks the whole question once and says goodbye, and the caller's answer
    // is its only line after the agent began.
    let back = &calls[7];
    assert_eq!(back["outcome"], "confirmed", "{show}");
    assert_eq!(
        lines(back, "ai").join(" "),
        "Hi Person 7, this is Bright Dental. Can you still make your appointment tomorrow at ten? \
         You can also press one for yes. Great, see you then. Goodbye.",
        "{show}"
    );
    let history = back["conversation_history"].as_array().unwrap();
    let agent_began = history.iter().position(|t| t["author"] == "ai").unwrap();
    let answers = history[agent_began..].iter().filter(|t| t["author"] == "user").count();
    assert_eq!(answers, 1, "a backchannel is not a turn: {show}");
    // 08: hangs up after the first question.
    let gone = &calls[8];
    assert_eq!(gone["status"], "ENDED", "{show}");
    assert!(gone["variables"].as_object().unwrap().is_empty());
    assert!(gone["outcome"].is_null(), "{show}");
    // 09: presses 1.
    let keys = &calls[9];
    assert_eq!(keys["outcome"], "confirmed", "{show}");
    assert!(lines(keys, "user").iter().any(|l| l == "[pressed 1]"), "{show}");

    // Barge-in on the recording: when the persona cut in while the agent was mid-sentence, the
    // agent's channel goes quiet within 100 ms of the caller's onset and stays quiet while the
    // caller talks. (If the persona's cut-in fell in a pause between two sentences, there is no
    // agent speech to silence; the transcript above still shows the interruption was handled.)
    let wav = recording(&c, barge).await;
    let (left, right) = levels(&wav);
    match overtalk_onset(&left, &right) {
        Some(at) => {
            let quiet_from = (at..at + 20).find(|&i| right[i] < QUIET).expect("the agent goes quiet");
            assert!(
                quiet_from - at <= 5,
                "agent quiet {} ms after the caller's onset",
                (quiet_from - at) * 20
            );
            assert!(
                right[quiet_from..quiet_from + 15].iter().all(|&l| l < QUIET),
                "and stays quiet"
            );
        }
        None => {
            let keep = std::env::temp_dir().join("parley-barge-in.wav");
            std::fs::write(&keep, &wav).unwrap();
            eprintln!("over-talk fell between sentences; recording kept at {}", keep.display());
            assert!(
                lines(barge, "user").iter().any(|l| l.to_lowercase().contains("who")),
                "{show}"
            );
        }
    }
    // Backchannel on the recording: all of the question's audio went out before the caller's
    // answer, as much of it as persona 00 heard (the agent only paused for the "yeah").
    let question = |call: &Value, right: &[f32]| {
        let from = first_at_ms(call, "ai") as usize / 20;
        let to = call["conversation_history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["author"] == "user")
            .map(|t| t["cumulative_duration_ms"].as_i64().unwrap() as usize / 20)
            .find(|&at| at > from)
            .expect("an answer after the question");
        right[from..to.min(right.len())].iter().filter(|&&l| l > LOUD).count()
    };
    let (_, right_00) = levels(&recording(&c, yes).await);
    let (_, right_07) = levels(&recording(&c, back).await);
    let (heard_00, heard_07) = (question(yes, &right_00), question(back, &right_07));
    assert!(
        heard_07 * 100 >= heard_00 * 85,
        "the question's audio: {heard_07} loud frames with backchannels, {heard_00} without: {show}"
    );

    // Webhooks: every call's progress and exactly one NEW_RESPONSE each, with the transcript.
    eventually(30, "every NEW_RESPONSE", || async {
        (events(&rx, "NEW_RESPONSE").len() >= 10).then_some(())
    })
    .await;
    let finals = events(&rx, "NEW_RESPONSE");
    assert_eq!(finals.len(), 10);
    let of_yes = finals.iter().find(|b| b["id"] == yes["id"]).unwrap();
    assert_eq!(of_yes["transcript"], yes["transcript"]);
    let progress: Vec<String> = events(&rx, "CALL_PROGRESS")
        .iter()
        .filter(|b| b["id"] == yes["id"])
        .map(|b| b["progress"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(progress, ["queued", "dialing", "ringing", "answered", "ended"]);
}

/// Twenty calls at once to cooperative personas all end right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_calls_all_end_right() {
    let ts = voice_server(Db::Sqlite).await;
    let c = ts.team().await;
    let agent = appointment_agent(&c).await;
    let mut ids = vec![];
    for i in 0..20u32 {
        // Numbers of different area codes all reach persona 00.
        ids.push(place(&c, &agent, &format!("+1{}5550100", 212 + i), "Sam").await);
    }
    for id in &ids {
        let call = wait_final(&c, id, 300).await;
        assert_eq!(call["status"], "ENDED", "{call}");
        assert_eq!(call["outcome"], "confirmed", "{}", call["transcript"]);
    }
}

/// A persona calls a team's sandbox number bound to the agent: an inbound call, same pipeline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persona_calls_the_support_line() {
    let ts = voice_server(Db::Postgres).await;
    let c = ts.team().await;
    let agent = appointment_agent(&c).await;
    c.post(
        "/sandbox/numbers",
        json!({"phone_number": "+12025550200", "interview_id": agent["id"]}),
    )
    .await
    .ok();
    let call = c
        .post(
            "/sandbox/call_in",
            json!({"persona_id": "builtin-00", "to": "+12025550200"}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(call["type"], "INBOUND_CALL");
    let done = wait_final(&c, call["id"].as_str().unwrap(), 120).await;
    assert_eq!(done["status"], "ENDED", "{done}");
    assert_eq!(done["outcome"], "confirmed", "{}", done["transcript"]);
}

/// Hanging up through the API ends a call in progress with its transcript so far.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangup_through_the_api_ends_a_live_call() {
    let ts = voice_server(Db::Sqlite).await;
    let c = ts.team().await;
    let agent = appointment_agent(&c).await;
    let id = place(&c, &agent, &persona(5), "Quiet").await;
    eventually(60, "the call to be answered", || async {
        (c.get(&format!("/interview_response/{id}")).await.ok()["progress"] == "answered").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = c.post(&format!("/interview_response/{id}/hangup"), json!({})).await;
    let ended = r.ok();
    assert_eq!(ended["status"], "ENDED", "{ended}");
    assert_eq!(ended["progress"], "ended");
    assert!(ended["recording_url"].is_string());
}
