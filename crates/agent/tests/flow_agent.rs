//! The flow agent driven turn by turn, as the voice pipeline drives it: fixed flows, a webhook
//! against a loopback server, and LLM prompts and understanding against the fake LLM.
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{NaiveDate, NaiveDateTime};
use parley_agent::fake::{FakeLlm, FakeLlmConfig, Reply};
use parley_agent::llm::{LlmClient, Role};
use parley_agent::{AgentConfig, CallContext, FlowAgent};
use parley_core::flow::Flow;
use parley_jobs::outbound::OutboundPolicy;
use parley_voice::agent::{Agent, AgentInput, AgentOutput};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Wednesday 2026-11-25, 10:00.
fn now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 25)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap()
}

fn ctx() -> CallContext {
    CallContext {
        contact_name: Some("Alex Morgan".into()),
        contact_phone: Some("+12125550100".into()),
        contact_email: Some("alex@example.com".into()),
        contact_id: Some("c-42".into()),
        attributes: json!({"plan": "gold"}),
        metadata: [
            ("appointment".to_string(), "Tuesday at 10".to_string()),
            ("token".to_string(), "s3cret".to_string()),
        ]
        .into(),
    }
}

fn cfg() -> AgentConfig {
    AgentConfig {
        now: Some(now()),
        ..AgentConfig::default()
    }
}

fn flow(v: Value) -> Flow {
    let f: Flow = serde_json::from_value(v).unwrap();
    f.validate(true)
        .unwrap_or_else(|e| panic!("test flow is invalid: {e:?}"));
    f
}

fn is_final(o: &AgentOutput) -> bool {
    matches!(
        o,
        AgentOutput::Listen | AgentOutput::Hangup | AgentOutput::Transfer { .. }
    )
}

/// Runs one turn and checks the contract: exactly one Listen/Transfer/Hangup, at the end.
async fn turn(agent: &mut FlowAgent, input: AgentInput) -> Vec<AgentOutput> {
    let (tx, mut rx) = mpsc::channel(64);
    tokio::time::timeout(Duration::from_secs(10), agent.handle(input, &tx))
        .await
        .expect("a turn must not hang");
    drop(tx);
    let mut outs = Vec::new();
    while let Some(o) = rx.recv().await {
        outs.push(o);
    }
    assert!(
        outs.last().is_some_and(is_final),
        "a turn must end with Listen/Transfer/Hangup: {outs:?}"
    );
    assert_eq!(outs.iter().filter(|o| is_final(o)).count(), 1, "{outs:?}");
    outs
}

fn says(outs: &[AgentOutput]) -> Vec<&str> {
    outs.iter()
        .filter_map(|o| match o {
            AgentOutput::Say { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn utter(t: &str) -> AgentInput {
    AgentInput::Utterance { text: t.into() }
}

fn appointment() -> Value {
    json!({
      "nodes": [
        {"id": "s", "type": "start", "data": {}},
        {"id": "hi", "type": "speak", "data": {"message": "Hi {{contact.name}}, this is Sam from Bright Dental. I'm calling about your appointment on {{metadata.appointment}}."}},
        {"id": "q", "type": "question", "data": {"question": "Can you make it?", "variable": "appointment_confirmed", "kind": "yes_no"}},
        {"id": "b", "type": "branch", "data": {"conditions": [
            {"variable": "appointment_confirmed", "op": "equals", "value": true, "handle": "confirmed"}
        ]}},
        {"id": "new", "type": "question", "data": {"question": "What day and time would work better?", "variable": "new_time", "kind": "date",
            "reprompt": "Could you give me a day and a time, like Thursday at 3 pm?", "max_attempts": 3}},
        {"id": "ok", "type": "end", "data": {"outcome": "confirmed", "message": "Great, see you then. Goodbye."}},
        {"id": "moved", "type": "end", "data": {"outcome": "rescheduled", "message": "Thanks, I've noted {{variables.new_time}}. Goodbye."}},
        {"id": "nm", "type": "end", "data": {"outcome": "no_match", "message": "No worries, we'll call you back."}}
      ],
      "edges": [
        {"id": "1", "source": "s", "sourceHandle": "next", "target": "hi"},
        {"id": "2", "source": "hi", "sourceHandle": "next", "target": "q"},
        {"id": "3", "source": "q", "sourceHandle": "yes", "target": "b"},
        {"id": "4", "source": "q", "sourceHandle": "no", "target": "b"},
        {"id": "5", "source": "q", "sourceHandle": "no_match", "target": "nm"},
        {"id": "6", "source": "b", "sourceHandle": "confirmed", "target": "ok"},
        {"id": "7", "source": "b", "sourceHandle": "else", "target": "new"},
        {"id": "8", "source": "new", "sourceHandle": "next", "target": "moved"},
        {"id": "9", "source": "new", "sourceHandle": "no_match", "target": "nm"}
      ]
    })
}

fn appointment_agent() -> FlowAgent {
    FlowAgent::new(flow(appointment()), ctx(), cfg())
}

// ---------------------------------------------------------------------------------------------
// Fixed flows

#[tokio::test]
async fn greets_by_name_and_confirms() {
    let mut a = appointment_agent();
    let outs = turn(&mut a, AgentInput::Start).await;
    assert_eq!(
        outs,
        vec![
            AgentOutput::Say {
                text: "Hi Alex Morgan, this is Sam from Bright Dental.".into(),
                fixed: false
            },
            AgentOutput::Say {
                text: "I'm calling about your appointment on Tuesday at 10.".into(),
                fixed: false
            },
            AgentOutput::Say {
                text: "Can you make it?".into(),
                fixed: true
            },
            AgentOutput::Listen,
        ]
    );
    let outs = turn(&mut a, utter("Yes, that works.")).await;
    assert_eq!(says(&outs), vec!["Great, see you then.", "Goodbye."]);
    assert_eq!(outs.last(), Some(&AgentOutput::Hangup));
    let r = a.results();
    assert_eq!(r.outcome.as_deref(), Some("confirmed"));
    assert_eq!(Value::Object(r.variables), json!({"appointment_confirmed": true}));
    assert_eq!(r.transferred_to, None);
    // The walk, for replay: each node in order, the handle it left by and why.
    let walk: Vec<(String, Value, Value)> = r
        .path
        .iter()
        .map(|s| {
            (
                s["node"].as_str().unwrap().to_string(),
                s["handle"].clone(),
                s["heard"].clone(),
            )
        })
        .collect();
    assert_eq!(
        walk,
        [
            ("s".to_string(), json!("next"), Value::Null),
            ("hi".into(), json!("next"), Value::Null),
            ("q".into(), json!("yes"), json!("Yes, that works.")),
            ("b".into(), json!("confirmed"), Value::Null),
            ("ok".into(), Value::Null, Value::Null),
        ]
    );
    assert_eq!(r.path[2]["captured"], json!({"appointment_confirmed": true}));
    assert_eq!(r.path[3]["captured"], json!({}));
    assert!(r.path.iter().all(|s| s["at"].is_string()));

    // After the end, any input gets the ending again and nothing is said.
    assert_eq!(
        turn(&mut a, utter("Wait, one more thing")).await,
        vec![AgentOutput::Hangup]
    );
    assert_eq!(turn(&mut a, AgentInput::Silence).await, vec![AgentOutput::Hangup]);

    let s = a.summarize("Agent: Can you make it?\nCaller: Yes, that works.").await;
    assert_eq!(s.summary, "Outcome: confirmed. appointment_confirmed: yes.");
    assert_eq!(s.response_tags, vec!["confirmed"]);
    let conv = a.conversation();
    assert_eq!(conv[0].role, Role::Assistant);
    assert!(conv[0].content.ends_with("Can you make it?"), "{conv:?}");
    assert_eq!(conv[1].content, "Yes, that works.");
}

#[tokio::test]
async fn declines_and_captures_a_new_time() {
    let mut a = appointment_agent();
    turn(&mut a, AgentInput::Start).await;
    let outs = turn(&mut a, utter("Uh, no, not really")).await;
    assert_eq!(says(&outs), vec!["What day and time would work better?"]);
    assert_eq!(outs.last(), Some(&AgentOutput::Listen));

    // Not a date: the node's own reprompt.
    let outs = turn(&mut a, utter("Hmm, let me look.")).await;
    assert_eq!(
        says(&outs),
        vec!["Could you give me a day and a time, like Thursday at 3 pm?"]
    );

    let outs = turn(&mut a, utter("Thursday at three pm")).await;
    assert_eq!(
        says(&outs),
        vec!["Thanks, I've noted Thursday at three pm.", "Goodbye."]
    );
    assert_eq!(outs.last(), Some(&AgentOutput::Hangup));
    let r = a.results();
    assert_eq!(r.outcome.as_deref(), Some("rescheduled"));
    assert_eq!(r.variables["appointment_confirmed"], json!(false));
    assert_eq!(
        r.variables["new_time"],
        json!({"text": "Thursday at three pm", "date": "2026-11-26", "time": "15:00", "iso": "2026-11-26T15:00"})
    );
    let s = a.summarize("").await;
    assert_eq!(
        s.summary,
        "Outcome: rescheduled. appointment_confirmed: no; new_time: Thursday at three pm (2026-11-26 15:00)."
    );
    assert_eq!(s.response_tags, vec!["rescheduled"]);
}

#[tokio::test]
async fn silence_reprompts_then_hangs_up() {
    let mut a = appointment_agent();
    turn(&mut a, AgentInput::Start).await;
    for _ in 0..2 {
        let outs = turn(&mut a, AgentInput::Silence).await;
        assert_eq!(says(&outs), vec!["Are you still there?", "Can you make it?"]);
        assert_eq!(outs.last(), Some(&AgentOutput::Listen));
    }
    let outs = turn(&mut a, AgentInput::Silence).await;
    assert_eq!(
        says(&outs),
        vec!["I'm not hearing anything, so I'll let you go.", "Goodbye."]
    );
    assert_eq!(outs.last(), Some(&AgentOutput::Hangup));
    assert_eq!(a.results().outcome.as_deref(), Some("no_response"));
    assert_eq!(a.summarize("").await.response_tags, vec!["no_response"]);
}

#[tokio::test]
async fn silences_count_in_a_row_and_apart_from_misunderstandings() {
    let mut a = FlowAgent::new(
        flow(appointment()),
        ctx(),
        AgentConfig {
            silence_reprompts: 1,
            ..cfg()
        },
    );
    turn(&mut a, AgentInput::Start).await;
    assert_eq!(
        turn(&mut a, AgentInput::Silence).await.last(),
        Some(&AgentOutput::Listen)
    );
    // An answer (even one not understood) breaks the run of silences.
    let outs = turn(&mut a, utter("Hello? Who is this?")).await;
    assert_eq!(says(&outs), vec!["Sorry, I didn't catch that.", "Can you make it?"]);
    assert_eq!(
        turn(&mut a, AgentInput::Silence).await.last(),
        Some(&AgentOutput::Listen)
    );
    // An empty transcript is noise, counted as silence: the second in a row ends the call.
    assert_eq!(turn(&mut a, utter("  ")).await.last(), Some(&AgentOutput::Hangup));
    assert_eq!(a.results().outcome.as_deref(), Some("no_response"));
}

#[tokio::test]
async fn misunderstood_answers_follow_no_match() {
    let mut a = appointment_agent();
    turn(&mut a, AgentInput::Start).await;
    let outs = turn(&mut a, utter("Hello?")).await;
    assert_eq!(says(&outs), vec!["Sorry, I didn't catch that.", "Can you make it?"]);
    assert_eq!(outs.last(), Some(&AgentOutput::Listen));
    // max_attempts defaults to 2.
    let outs = turn(&mut a, utter("Banana.")).await;
    assert_eq!(says(&outs), vec!["No worries, we'll call you back."]);
    assert_eq!(outs.last(), Some(&AgentOutput::Hangup));
    let r = a.results();
    assert_eq!(r.outcome.as_deref(), Some("no_match"));
    assert!(r.variables.is_empty());
}

#[tokio::test]
async fn keypad_answers() {
    let mut a = appointment_agent();
    turn(&mut a, AgentInput::Start).await;
    let outs = turn(&mut a, AgentInput::Dtmf('7')).await;
    assert_eq!(says(&outs), vec!["Sorry, I didn't catch that.", "Can you make it?"]);
    let outs = turn(&mut a, AgentInput::Dtmf('1')).await;
    assert_eq!(outs.last(), Some(&AgentOutput::Hangup));
    assert_eq!(a.results().outcome.as_deref(), Some("confirmed"));

    let mut a = appointment_agent();
    turn(&mut a, AgentInput::Start).await;
    let outs = turn(&mut a, AgentInput::Dtmf('2')).await;
    assert_eq!(says(&outs), vec!["What day and time would work better?"]);
}

fn numbers_and_choices() -> Value {
    json!({
      "nodes": [
        {"id": "s", "type": "start", "data": {}},
        {"id": "n", "type": "question", "data": {"question": "How many people?", "variable": "party", "kind": "number"}},
        {"id": "c", "type": "question", "data": {"question": "Morning, afternoon or evening?", "variable": "slot", "kind": "choice",
            "choices": ["Morning", "Afternoon", "Evening"]}},
        {"id": "t", "type": "question", "data": {"question": "Anything else?", "variable": "notes"}},
        {"id": "m", "type": "end", "data": {"outcome": "morning"}},
        {"id": "x", "type": "end", "data": {"outcome": "later", "message": "{{variables.party}} people in the {{variables.slot}}: {{variables.notes}}"}},
        {"id": "nm", "type": "end", "data": {"outcome": "no_match"}}
      ],
      "edges": [
        {"id": "1", "source": "s", "target": "n"},
        {"id": "2", "source": "n", "sourceHandle": "next", "target": "c"},
        {"id": "3", "source": "n", "sourceHandle": "no_match", "target": "nm"},
        {"id": "4", "source": "c", "sourceHandle": "Morning", "target": "m"},
        {"id": "5", "source": "c", "sourceHandle": "Afternoon", "target": "t"},
        {"id": "6", "source": "c", "sourceHandle": "Evening", "target": "t"},
        {"id": "7", "source": "c", "sourceHandle": "no_match", "target": "nm"},
        {"id": "8", "source": "t", "sourceHandle": "next", "target": "x"}
      ]
    })
}

#[tokio::test]
async fn numbers_choices_and_free_text() {
    let mut a = FlowAgent::new(flow(numbers_and_choices()), ctx(), cfg());
    assert_eq!(says(&turn(&mut a, AgentInput::Start).await), vec!["How many people?"]);
    let outs = turn(&mut a, utter("Twenty-five of us.")).await;
    assert_eq!(says(&outs), vec!["Morning, afternoon or evening?"]);
    let outs = turn(&mut a, utter("The afternoon, please.")).await;
    assert_eq!(says(&outs), vec!["Anything else?"]);
    let outs = turn(&mut a, utter(" Bring cake. ")).await;
    assert_eq!(says(&outs), vec!["25 people in the Afternoon: Bring cake."]);
    let r = a.results();
    assert_eq!(r.outcome.as_deref(), Some("later"));
    assert_eq!(
        Value::Object(r.variables),
        json!({"party": 25, "slot": "Afternoon", "notes": "Bring cake."})
    );

    // Keys: digits gather until '#', '*' clears, a pause also ends the entry.
    let mut a = FlowAgent::new(flow(numbers_and_choices()), ctx(), cfg());
    turn(&mut a, AgentInput::Start).await;
    assert_eq!(turn(&mut a, AgentInput::Dtmf('9')).await, vec![AgentOutput::Listen]);
    assert_eq!(turn(&mut a, AgentInput::Dtmf('*')).await, vec![AgentOutput::Listen]);
    assert_eq!(turn(&mut a, AgentInput::Dtmf('1')).await, vec![AgentOutput::Listen]);
    assert_eq!(turn(&mut a, AgentInput::Dtmf('2')).await, vec![AgentOutput::Listen]);
    let outs = turn(&mut a, AgentInput::Dtmf('#')).await;
    assert_eq!(says(&outs), vec!["Morning, afternoon or evening?"]);
    assert_eq!(a.results().variables["party"], json!(12));
    let outs = turn(&mut a, AgentInput::Dtmf('1')).await;
    assert_eq!(outs.last(), Some(&AgentOutput::Hangup));
    assert_eq!(a.results().outcome.as_deref(), Some("morning"));

    let mut a = FlowAgent::new(flow(numbers_and_choices()), ctx(), cfg());
    turn(&mut a, AgentInput::Start).await;
    turn(&mut a, AgentInput::Dtmf('4')).await;
    let outs = turn(&mut a, AgentInput::Silence).await;
    assert_eq!(says(&outs), vec!["Morning, afternoon or evening?"]);
    assert_eq!(a.results().variables["party"], json!(4));
}

#[tokio::test]
async fn a_branch_cycle_ends_the_call() {
    let f = flow(json!({
      "nodes": [
        {"id": "s", "type": "start", "data": {}},
        {"id": "b1", "type": "branch", "data": {"conditions": [{"variable": "x", "op": "exists", "handle": "has"}]}},
        {"id": "b2", "type": "branch", "data": {"conditions": [{"variable": "y", "op": "exists", "handle": "has"}]}},
        {"id": "e", "type": "end", "data": {"outcome": "done"}}
      ],
      "edges": [
        {"id": "1", "source": "s", "target": "b1"},
        {"id": "2", "source": "b1", "sourceHandle": "else", "target": "b2"},
        {"id": "3", "source": "b1", "sourceHandle": "has", "target": "e"},
        {"id": "4", "source": "b2", "sourceHandle": "else", "target": "b1"},
        {"id": "5", "source": "b2", "sourceHandle": "has", "target": "e"}
      ]
    }));
    let mut a = FlowAgent::new(f, ctx(), cfg());
    let started = Instant::now();
    let outs = turn(&mut a, AgentInput::Start).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        says(&outs),
        vec!["I'm sorry, something went wrong on my side.", "Goodbye."]
    );
    assert_eq!(outs.last(), Some(&AgentOutput::Hangup));
    assert_eq!(a.results().outcome.as_deref(), Some("flow_error"));
}

#[tokio::test]
async fn a_missing_edge_ends_the_call() {
    let mut v = appointment();
    // Remove q's "no" edge: validation allows it (q still has edges), the walk cannot go on.
    v["edges"].as_array_mut().unwrap().retain(|e| e["id"] != "4");
    let mut a = FlowAgent::new(flow(v), ctx(), cfg());
    turn(&mut a, AgentInput::Start).await;
    let outs = turn(&mut a, utter("Nope.")).await;
    assert_eq!(outs.last(), Some(&AgentOutput::Hangup));
    assert_eq!(a.results().outcome.as_deref(), Some("flow_error"));
    assert_eq!(a.results().variables["appointment_confirmed"], json!(false));
}

#[tokio::test]
async fn transfers_with_a_message() {
    let f = flow(json!({
      "nodes": [
        {"id": "s", "type": "start", "data": {}},
        {"id": "t", "type": "transfer", "data": {"phone_number": "+1 (212) 555-0199", "message": "Connecting you to {{attributes.plan}} support."}}
      ],
      "edges": [{"id": "1", "source": "s", "target": "t"}]
    }));
    let mut a = FlowAgent::new(f, ctx(), cfg());
    let outs = turn(&mut a, AgentInput::Start).await;
    assert_eq!(
        outs,
        vec![
            AgentOutput::Say {
                text: "Connecting you to gold support.".into(),
                fixed: false
            },
            AgentOutput::Transfer {
                phone_number: "+12125550199".into()
            },
        ]
    );
    let r = a.results();
    assert_eq!(r.transferred_to.as_deref(), Some("+12125550199"));
    assert_eq!(r.outcome.as_deref(), Some("transferred"));
    let s = a.summarize("").await;
    assert_eq!(s.summary, "Outcome: transferred. Transferred to +12125550199.");
    assert_eq!(s.response_tags, vec!["transferred"]);
}

#[tokio::test]
async fn input_before_start_starts_the_call() {
    let mut a = appointment_agent();
    let outs = turn(&mut a, utter("Hello?")).await;
    assert_eq!(says(&outs).len(), 3);
    // A second Start while waiting repeats the question.
    let outs = turn(&mut a, AgentInput::Start).await;
    assert_eq!(says(&outs), vec!["Can you make it?"]);
    assert_eq!(outs.last(), Some(&AgentOutput::Listen));
}

// ---------------------------------------------------------------------------------------------
// Webhooks

#[derive(Clone, Default)]
struct Hook {
    seen: Arc<Mutex<Vec<(String, HeaderMap, Value)>>>,
}

async fn hook_ok(
    State(h): State<Hook>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    h.seen.lock().unwrap().push((uri.to_string(), headers, body));
    Json(json!({"status": "active", "balance": 42}))
}

async fn hook_fail() -> StatusCode {
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn hook_slow() -> Json<Value> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Json(json!({}))
}

async fn hook_server() -> (String, Hook) {
    let hook = Hook::default();
    let app = Router::new()
        .route("/lookup", post(hook_ok))
        .route("/fail", post(hook_fail))
        .route("/slow", post(hook_slow))
        .with_state(hook.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), hook)
}

fn webhook_flow(url: &str, body: Option<Value>) -> Flow {
    let mut data =
        json!({"url": url, "method": "POST", "headers": {"X-Token": "{{metadata.token}}"}, "save_as": "account"});
    if let Some(b) = body {
        data["body"] = b;
    }
    flow(json!({
      "nodes": [
        {"id": "s", "type": "start", "data": {}},
        {"id": "w", "type": "webhook", "data": data},
        {"id": "b", "type": "branch", "data": {"conditions": [
            {"variable": "account.balance", "op": "greater_than", "value": 10, "handle": "rich"}
        ]}},
        {"id": "rich", "type": "end", "data": {"outcome": "rich", "message": "Your balance is {{variables.account.balance}} and you are {{variables.account.status}}."}},
        {"id": "poor", "type": "end", "data": {"outcome": "poor"}},
        {"id": "err", "type": "end", "data": {"outcome": "lookup_failed", "message": "I can't look that up right now."}}
      ],
      "edges": [
        {"id": "1", "source": "s", "target": "w"},
        {"id": "2", "source": "w", "sourceHandle": "next", "target": "b"},
        {"id": "3", "source": "w", "sourceHandle": "error", "target": "err"},
        {"id": "4", "source": "b", "sourceHandle": "rich", "target": "rich"},
        {"id": "5", "source": "b", "sourceHandle": "else", "target": "poor"}
      ]
    }))
}

fn private_ok() -> AgentConfig {
    AgentConfig {
        outbound: OutboundPolicy {
            allow_private: true,
            ..OutboundPolicy::default()
        },
        webhook_timeout: Duration::from_millis(400),
        ..cfg()
    }
}

#[tokio::test]
async fn webhook_results_become_variables() {
    let (base, hook) = hook_server().await;
    let body = json!({"name": "{{contact.name}}", "plan": "{{attributes.plan}}", "n": 1});
    let f = webhook_flow(&format!("{base}/lookup?contact={{{{contact.id}}}}"), Some(body));
    let mut a = FlowAgent::new(f, ctx(), private_ok());
    let outs = turn(&mut a, AgentInput::Start).await;
    assert_eq!(says(&outs), vec!["Your balance is 42 and you are active."]);
    assert_eq!(outs.last(), Some(&AgentOutput::Hangup));
    let r = a.results();
    assert_eq!(r.outcome.as_deref(), Some("rich"));
    assert_eq!(r.variables["account"], json!({"status": "active", "balance": 42}));

    let seen = hook.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (uri, headers, body) = &seen[0];
    assert_eq!(uri, "/lookup?contact=c-42");
    assert_eq!(headers["x-token"], "s3cret");
    assert_eq!(body, &json!({"name": "Alex Morgan", "plan": "gold", "n": 1}));
}

#[tokio::test]
async fn webhook_without_a_body_sends_the_call_context() {
    let (base, hook) = hook_server().await;
    let mut a = FlowAgent::new(webhook_flow(&format!("{base}/lookup"), None), ctx(), private_ok());
    turn(&mut a, AgentInput::Start).await;
    let seen = hook.seen.lock().unwrap().clone();
    let body = &seen[0].2;
    assert_eq!(body["contact"]["name"], "Alex Morgan");
    assert_eq!(body["metadata"]["appointment"], "Tuesday at 10");
    assert_eq!(body["attributes"]["plan"], "gold");
    assert_eq!(body["variables"], json!({}));
}

#[tokio::test]
async fn webhook_failures_take_the_error_edge_and_are_reported() {
    let (base, _hook) = hook_server().await;
    for (path, needle) in [("/fail", "HTTP 500"), ("/slow", "within 400 ms")] {
        let mut a = FlowAgent::new(webhook_flow(&format!("{base}{path}"), None), ctx(), private_ok());
        let started = Instant::now();
        let outs = turn(&mut a, AgentInput::Start).await;
        assert!(started.elapsed() < Duration::from_secs(3), "{path}");
        let failed: Vec<&AgentOutput> = outs
            .iter()
            .filter(|o| matches!(o, AgentOutput::ActionFailed { .. }))
            .collect();
        assert_eq!(failed.len(), 1, "{outs:?}");
        let AgentOutput::ActionFailed { action, error } = failed[0] else {
            unreachable!()
        };
        assert_eq!(action, "webhook");
        assert!(error.contains(needle) && error.contains("'w'"), "{error}");
        assert_eq!(says(&outs), vec!["I can't look that up right now."]);
        assert_eq!(a.results().outcome.as_deref(), Some("lookup_failed"));
        assert!(!a.results().variables.contains_key("account"));
    }

    // The private-address guard, unless allowed.
    let mut a = FlowAgent::new(webhook_flow(&format!("{base}/lookup"), None), ctx(), cfg());
    let outs = turn(&mut a, AgentInput::Start).await;
    assert!(
        outs.iter()
            .any(|o| matches!(o, AgentOutput::ActionFailed { error, .. } if error.contains("refused"))),
        "{outs:?}"
    );
    assert_eq!(a.results().outcome.as_deref(), Some("lookup_failed"));
}

/// A webhook node's failure report (an `ACTION_FAILED` event, a log line) never shows the URL's
/// credentials or query values, whatever failed: a status, no connection, a timeout.
#[tokio::test]
async fn webhook_errors_never_show_url_credentials() {
    let (base, _hook) = hook_server().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let secret = |url: String| url.replacen("http://", "http://user:secret@", 1) + "?token=secret";
    for url in [
        secret(format!("{base}/fail")),
        secret(format!("{base}/slow")),
        secret(format!("http://{closed}/lookup")),
    ] {
        let mut a = FlowAgent::new(webhook_flow(&url, None), ctx(), private_ok());
        let outs = turn(&mut a, AgentInput::Start).await;
        let error = outs
            .iter()
            .find_map(|o| match o {
                AgentOutput::ActionFailed { error, .. } => Some(error.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{url}: {outs:?}"));
        assert!(!error.contains("secret") && !error.contains("user:"), "{error}");
        assert!(error.contains("***@127.0.0.1"), "{error}");
    }
}

// ---------------------------------------------------------------------------------------------
// The LLM

fn prompt_flow() -> Flow {
    flow(json!({
      "nodes": [
        {"id": "s", "type": "start", "data": {}},
        {"id": "p", "type": "speak", "data": {"prompt": "Greet {{contact.name}} and say you are calling about {{metadata.appointment}}."}},
        {"id": "q", "type": "question", "data": {"question": "Can you make it?", "variable": "ok", "kind": "yes_no"}},
        {"id": "d", "type": "question", "data": {"question": "When suits you?", "variable": "when", "kind": "date"}},
        {"id": "y", "type": "end", "data": {"outcome": "confirmed"}},
        {"id": "e", "type": "end", "data": {"outcome": "rescheduled"}},
        {"id": "nm", "type": "end", "data": {"outcome": "no_match"}}
      ],
      "edges": [
        {"id": "1", "source": "s", "target": "p"},
        {"id": "2", "source": "p", "target": "q"},
        {"id": "3", "source": "q", "sourceHandle": "yes", "target": "y"},
        {"id": "4", "source": "q", "sourceHandle": "no", "target": "d"},
        {"id": "5", "source": "q", "sourceHandle": "no_match", "target": "nm"},
        {"id": "6", "source": "d", "sourceHandle": "next", "target": "e"},
        {"id": "7", "source": "d", "sourceHandle": "no_match", "target": "nm"}
      ]
    }))
}

fn with_llm(llm: LlmClient) -> AgentConfig {
    AgentConfig {
        llm: Some(llm),
        ai_name: "Sam".into(),
        instructions: "You work for Bright Dental.".into(),
        ..cfg()
    }
}

const GREETING: &str = "Hello Alex! I'm Sam from Bright Dental. I'm calling about your visit on Tuesday at 10, and I have a quick question.";

#[tokio::test]
async fn prompt_sentences_are_spoken_while_the_reply_streams() {
    let llm = FakeLlm::start(
        FakeLlmConfig::default()
            .delays(Duration::from_millis(150), Duration::from_millis(40))
            .otherwise(Reply::text(GREETING)),
    )
    .await;
    let mut a = FlowAgent::new(prompt_flow(), ctx(), with_llm(llm.client()));

    let (tx, mut rx) = mpsc::channel(64);
    let started = Instant::now();
    let mut timed: Vec<(Duration, AgentOutput)> = Vec::new();
    let collect = async {
        while let Some(o) = rx.recv().await {
            let last = is_final(&o);
            timed.push((started.elapsed(), o));
            if last {
                break;
            }
        }
    };
    tokio::join!(a.handle(AgentInput::Start, &tx), collect);

    let outs: Vec<AgentOutput> = timed.iter().map(|(_, o)| o.clone()).collect();
    assert_eq!(
        outs,
        vec![
            AgentOutput::Say {
                text: "Hello Alex!".into(),
                fixed: false
            },
            AgentOutput::Say {
                text: "I'm Sam from Bright Dental.".into(),
                fixed: false
            },
            AgentOutput::Say {
                text: "I'm calling about your visit on Tuesday at 10, and I have a quick question.".into(),
                fixed: false
            },
            AgentOutput::Say {
                text: "Can you make it?".into(),
                fixed: true
            },
            AgentOutput::Listen,
        ]
    );
    // 24 tokens 40 ms apart: the whole reply takes ~1.1 s; the first sentence is out after ~0.2 s.
    let first = timed[0].0;
    let last_generated = timed[2].0;
    assert!(first < Duration::from_millis(900), "first sentence at {first:?}");
    assert!(
        last_generated - first >= Duration::from_millis(500),
        "the first sentence went out {:?} before the last one, not after the whole reply",
        last_generated - first
    );

    let reqs = llm.requests();
    assert_eq!(reqs.len(), 1);
    let system = &reqs[0].messages[0];
    assert_eq!(system.role, Role::System);
    assert!(system.content.contains("You are Sam"), "{}", system.content);
    assert!(system.content.contains("You work for Bright Dental."));
    assert!(
        system
            .content
            .contains("Greet Alex Morgan and say you are calling about Tuesday at 10."),
        "the prompt is templated: {}",
        system.content
    );
    assert!(reqs[0].stream);
    // The generated turn is part of the conversation the LLM sees next time.
    assert!(a.conversation()[0].content.starts_with("Hello Alex! I'm Sam"));
}

#[tokio::test]
async fn the_llm_understands_what_the_parsers_do_not() {
    let llm = FakeLlm::start(
        FakeLlmConfig::instant()
            .when_any("yes or no", Reply::text("no"))
            .when_any("What date and time", Reply::text("2026-11-27 09:30"))
            .otherwise(Reply::text("Hi there.")),
    )
    .await;
    let mut a = FlowAgent::new(prompt_flow(), ctx(), with_llm(llm.client()));
    turn(&mut a, AgentInput::Start).await;
    // "I'm swamped that day" has no yes/no word: the LLM classifies it.
    let outs = turn(&mut a, utter("I'm swamped that day, honestly.")).await;
    assert_eq!(says(&outs), vec!["When suits you?"]);
    assert_eq!(a.results().variables["ok"], json!(false));
    // Plain answers never reach the LLM.
    let before = llm.requests().len();
    let outs = turn(&mut a, utter("Same time as last visit, the day after.")).await;
    assert_eq!(outs.last(), Some(&AgentOutput::Hangup));
    let r = a.results();
    assert_eq!(r.outcome.as_deref(), Some("rescheduled"));
    assert_eq!(
        r.variables["when"],
        json!({"text": "Same time as last visit, the day after.", "date": "2026-11-27", "time": "09:30", "iso": "2026-11-27T09:30"})
    );
    let reqs = llm.requests();
    assert_eq!(reqs.len(), before + 1);
    let ask = &reqs.last().unwrap();
    assert!(
        ask.messages[0].content.contains("It is now Wednesday 2026-11-25 10:00"),
        "{:?}",
        ask.messages
    );
    assert!(ask.messages[0].content.contains("When suits you?"));
    assert_eq!(ask.last_user(), "Same time as last visit, the day after.");
    assert_eq!(ask.body["temperature"], json!(0.0));

    let mut b = FlowAgent::new(prompt_flow(), ctx(), with_llm(llm.client()));
    turn(&mut b, AgentInput::Start).await;
    let n = llm.requests().len();
    turn(&mut b, utter("Yes.")).await;
    assert_eq!(llm.requests().len(), n, "'Yes.' is understood without the LLM");
    assert_eq!(b.results().outcome.as_deref(), Some("confirmed"));
}

#[tokio::test]
async fn an_unhelpful_llm_answer_is_a_no_match() {
    let llm = FakeLlm::start(
        FakeLlmConfig::instant()
            .when_any("yes or no", Reply::text("unknown"))
            .otherwise(Reply::text("Hi.")),
    )
    .await;
    let mut a = FlowAgent::new(prompt_flow(), ctx(), with_llm(llm.client()));
    turn(&mut a, AgentInput::Start).await;
    let outs = turn(&mut a, utter("Purple monkey dishwasher.")).await;
    assert_eq!(says(&outs), vec!["Sorry, I didn't catch that.", "Can you make it?"]);
}

#[tokio::test]
async fn a_failing_llm_does_not_hang_the_call() {
    for reply in [
        Reply::Hang,
        Reply::Status(500, "boom".into()),
        Reply::Cut {
            text: "Hello Alex, this is a sentence that never".into(),
            tokens: 4,
        },
    ] {
        let llm = FakeLlm::start(FakeLlmConfig::instant().otherwise(reply.clone())).await;
        let mut config = llm.config();
        config.timeout = Duration::from_millis(300);
        let client = LlmClient::new(config).unwrap();
        let mut a = FlowAgent::new(prompt_flow(), ctx(), with_llm(client));

        let started = Instant::now();
        let outs = turn(&mut a, AgentInput::Start).await;
        assert!(started.elapsed() < Duration::from_secs(3), "{reply:?}");
        // The prompt node says nothing (no half sentences), and the flow goes on.
        assert_eq!(says(&outs), vec!["Can you make it?"], "{reply:?}");
        assert_eq!(outs.last(), Some(&AgentOutput::Listen));

        let outs = turn(&mut a, utter("Purple monkey dishwasher.")).await;
        assert_eq!(
            says(&outs),
            vec!["Sorry, I didn't catch that.", "Can you make it?"],
            "{reply:?}"
        );

        // The summary falls back to the plain one.
        let s = a.summarize("Agent: Can you make it?").await;
        assert!(s.summary.starts_with("Outcome: none"), "{}", s.summary);
        assert_eq!(s.response_tags, vec!["incomplete"]);
    }
}

#[tokio::test]
async fn the_llm_summarizes_the_call() {
    let llm = FakeLlm::start(
        FakeLlmConfig::instant()
            .when_any(
                "summary of a finished phone call",
                Reply::text("Alex confirmed the Tuesday appointment."),
            )
            .otherwise(Reply::text("Hi.")),
    )
    .await;
    let mut a = FlowAgent::new(prompt_flow(), ctx(), with_llm(llm.client()));
    turn(&mut a, AgentInput::Start).await;
    turn(&mut a, utter("Yep!")).await;
    let s = a.summarize("Agent: Hi.\nAgent: Can you make it?\nCaller: Yep!").await;
    assert_eq!(s.summary, "Alex confirmed the Tuesday appointment.");
    assert_eq!(s.response_tags, vec!["confirmed"]);
    let req = llm.requests().last().unwrap().clone();
    assert!(req.last_user().contains("Caller: Yep!"));
    assert!(req.last_user().contains("Outcome: confirmed."));
}

// ---------------------------------------------------------------------------------------------
// Turns dropped mid-way (barge-in)

#[tokio::test]
async fn a_turn_dropped_before_the_llm_answered_runs_the_prompt_again() {
    let llm = FakeLlm::start(
        FakeLlmConfig::default()
            .delays(Duration::from_millis(300), Duration::ZERO)
            .otherwise(Reply::text("Hello Alex.")),
    )
    .await;
    let mut a = FlowAgent::new(prompt_flow(), ctx(), with_llm(llm.client()));
    let (tx, mut rx) = mpsc::channel(64);
    let dropped = tokio::time::timeout(Duration::from_millis(100), a.handle(AgentInput::Start, &tx)).await;
    assert!(dropped.is_err(), "the turn was still waiting for the LLM");
    assert!(rx.try_recv().is_err(), "nothing was said");

    // The caller's "Hello?" is no answer to anything: the interrupted walk resumes.
    let outs = turn(&mut a, utter("Hello?")).await;
    assert_eq!(says(&outs), vec!["Hello Alex.", "Can you make it?"]);
    assert_eq!(outs.last(), Some(&AgentOutput::Listen));
    let reqs = llm.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].last_user(), "Hello?", "the LLM hears what interrupted it");
}

#[tokio::test]
async fn a_turn_dropped_after_the_first_sentence_goes_on_after_the_node() {
    let llm = FakeLlm::start(
        FakeLlmConfig::default()
            .delays(Duration::ZERO, Duration::from_millis(50))
            .otherwise(Reply::text(GREETING)),
    )
    .await;
    let mut a = FlowAgent::new(prompt_flow(), ctx(), with_llm(llm.client()));
    let (tx, mut rx) = mpsc::channel(64);
    {
        let fut = a.handle(AgentInput::Start, &tx);
        tokio::pin!(fut);
        tokio::select! {
            _ = &mut fut => panic!("the turn should still be streaming"),
            first = rx.recv() => assert_eq!(
                first,
                Some(AgentOutput::Say { text: "Hello Alex!".into(), fixed: false })
            ),
        }
    } // barge-in: the turn is dropped
    let outs = turn(&mut a, utter("Hi, yes?")).await;
    assert_eq!(says(&outs), vec!["Can you make it?"], "the greeting is not repeated");
    assert_eq!(llm.requests().len(), 1);
}

#[tokio::test]
async fn a_turn_dropped_while_understanding_keeps_waiting_at_the_question() {
    let llm = FakeLlm::start(
        FakeLlmConfig::default()
            .delays(Duration::from_millis(400), Duration::ZERO)
            .otherwise(Reply::text("yes")),
    )
    .await;
    let mut a = FlowAgent::new(prompt_flow(), ctx(), with_llm(llm.client()));
    turn(&mut a, AgentInput::Start).await;
    let (tx, _rx) = mpsc::channel(64);
    let dropped = tokio::time::timeout(
        Duration::from_millis(100),
        a.handle(utter("I'll be there with bells on"), &tx),
    )
    .await;
    assert!(dropped.is_err());
    let outs = turn(&mut a, utter("Nope.")).await;
    assert_eq!(says(&outs), vec!["When suits you?"]);
    assert_eq!(a.results().variables["ok"], json!(false));
}

// ---------------------------------------------------------------------------------------------
// A caller going on after the turn ended

/// start → "What happened?" (`said`) → [a webhook] → "Anything else?" (`more`) → end.
fn two_questions(webhook: Option<&str>) -> Flow {
    let mut nodes = vec![
        json!({"id": "s", "type": "start", "data": {}}),
        json!({"id": "q", "type": "question", "data": {"question": "What happened?", "variable": "said", "kind": "text"}}),
        json!({"id": "q2", "type": "question", "data": {"question": "Anything else?", "variable": "more", "kind": "text"}}),
        json!({"id": "e", "type": "end", "data": {"outcome": "heard"}}),
    ];
    let mut edges = vec![
        json!({"id": "1", "source": "s", "target": "q"}),
        json!({"id": "3", "source": "q2", "sourceHandle": "next", "target": "e"}),
    ];
    match webhook {
        Some(url) => {
            nodes.push(json!({"id": "w", "type": "webhook", "data": {"url": url, "method": "POST"}}));
            edges.push(json!({"id": "2", "source": "q", "sourceHandle": "next", "target": "w"}));
            edges.push(json!({"id": "4", "source": "w", "sourceHandle": "next", "target": "q2"}));
        }
        None => edges.push(json!({"id": "2", "source": "q", "sourceHandle": "next", "target": "q2"})),
    }
    flow(json!({"nodes": nodes, "edges": edges}))
}

fn went_on(whole: &str, added: &str) -> AgentInput {
    AgentInput::Continued {
        whole: whole.into(),
        added: added.into(),
    }
}

#[tokio::test]
async fn a_caller_going_on_takes_the_turn_back_and_the_whole_sentence_answers() {
    let mut a = FlowAgent::new(two_questions(None), ctx(), cfg());
    turn(&mut a, AgentInput::Start).await;
    // The pause after "So the thing is." ended the turn: the agent moved on to the next question.
    assert_eq!(says(&turn(&mut a, utter("So the thing is.")).await), ["Anything else?"]);
    // The caller went on: the half answer is taken back and the whole one answers "What happened?".
    let whole = "So the thing is my card expired.";
    let outs = turn(&mut a, went_on(whole, "My card expired.")).await;
    assert_eq!(says(&outs), ["Anything else?"]);
    let r = a.results();
    assert_eq!(r.variables["said"], whole);
    assert!(!r.variables.contains_key("more"), "{:?}", r.variables);
    // The walk shows the question answered once, by the whole sentence.
    let entered: Vec<&str> = r.path.iter().filter_map(|s| s["node"].as_str()).collect();
    assert_eq!(entered, ["s", "q", "q2"], "{:?}", r.path);
    // A continuation of the continuation takes that back too.
    let longer = "So the thing is my card expired last week.";
    turn(&mut a, went_on(longer, "Last week.")).await;
    assert_eq!(a.results().variables["said"], longer);
    // Without a turn to take back (the last input was no utterance), only the new part counts.
    let mut b = FlowAgent::new(two_questions(None), ctx(), cfg());
    turn(&mut b, AgentInput::Start).await;
    turn(&mut b, went_on("Hi there.", "There.")).await;
    assert_eq!(b.results().variables["said"], "There.");
}

#[tokio::test]
async fn a_turn_that_made_a_webhook_request_is_not_taken_back() {
    let (base, hook) = hook_server().await;
    let mut a = FlowAgent::new(two_questions(Some(&format!("{base}/lookup"))), ctx(), private_ok());
    turn(&mut a, AgentInput::Start).await;
    turn(&mut a, utter("So the thing is.")).await;
    assert_eq!(hook.seen.lock().unwrap().len(), 1);
    // The request was made: the half answer stands, and what followed answers the next question.
    turn(&mut a, went_on("So the thing is my card expired.", "My card expired.")).await;
    let r = a.results();
    assert_eq!(r.variables["said"], "So the thing is.");
    assert_eq!(r.variables["more"], "My card expired.");
    assert_eq!(hook.seen.lock().unwrap().len(), 1, "the webhook is not called again");
}
