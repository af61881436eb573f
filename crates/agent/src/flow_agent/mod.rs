//! The flow interpreter: takes the agent's turns of one call by walking the agent's flow graph.
//!
//! The walk is a cursor over the graph. Each input moves it: `Start` begins at the start node;
//! an answer at a question captures a variable and follows the answer's edge; silence re-asks.
//! Nodes that only talk or compute (`speak`, `branch`, `webhook`) run one after another until
//! the walk reaches a question (the turn ends with `Listen`) or a `transfer`/`end` (the call
//! ends). Why a cursor, stored in `self` and updated *before* each await: the pipeline drops a
//! turn mid-way when the caller barges in, and the next input must find the agent somewhere
//! sensible:
//!
//! - dropped before a node's first sentence was sent: that node runs again on the next input;
//! - dropped after it (the caller heard the start): the walk goes on after that node;
//! - dropped while a question is being asked or an answer is being understood: the agent is
//!   waiting at that question, and the next utterance is taken as the answer;
//! - dropped during a webhook request: the request is made again (at-least-once, like every
//!   webhook);
//! - dropped on the way to a transfer or hang-up: the next input gets that ending again.
//!
//! An input that does not answer a question is not lost in a hole: before the start it starts
//! the call, in an interrupted walk it resumes the walk (what was said is not an answer to
//! anything), after the end it gets the ending again (`Hangup`/`Transfer`), so every turn ends
//! with exactly one of `Listen`, `Transfer` or `Hangup`.

use crate::branch;
use crate::llm::{LlmClient, Message, Role};
use crate::sentences::{self, SentenceSplitter};
use crate::template::{self, render, CallContext, Scope};
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use parley_core::flow::{Flow, Node, NodeKind};
use parley_core::phone::{self, PhonePolicy};
use parley_jobs::outbound::{Outbound, OutboundPolicy};
use parley_voice::agent::{Agent, AgentInput, AgentOutput, AgentResults, Summary};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;

mod questions;
mod summaries;
mod takeback;
mod trace;
mod webhooks;

/// The outcome of a call whose flow could not go on (a missing edge, a loop).
pub const OUTCOME_FLOW_ERROR: &str = "flow_error";
/// The outcome of a call whose caller stayed silent.
pub const OUTCOME_NO_RESPONSE: &str = "no_response";
/// The outcome of a call transferred by a `transfer` node.
pub const OUTCOME_TRANSFERRED: &str = "transferred";

/// How the agent behaves, besides its flow.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The LLM for prompt nodes, for answers the parsers do not understand, and for summaries.
    pub llm: Option<LlmClient>,
    /// The agent's name, for the LLM's system prompt. Default "Assistant".
    pub ai_name: String,
    /// Extra instructions for the LLM's system prompt (the agent's persona, the business).
    pub instructions: String,
    /// Re-asks after silence before giving up. Default 2: the third silence in a row ends the call.
    pub silence_reprompts: u32,
    /// Said before hanging up on a silent caller.
    pub goodbye_on_silence: String,
    /// Said before hanging up when the flow cannot go on.
    pub error_message: String,
    /// The longest a mid-call webhook may take. Default 10 s.
    pub webhook_timeout: Duration,
    /// Where webhook nodes may go: private and loopback addresses (default: refused), Parley's
    /// proxy (default: none; never one from the environment).
    pub outbound: OutboundPolicy,
    /// The callee's time zone: "tomorrow" or "Thursday at ten" is read in it (the server sets
    /// it from the contact's `time_zone` attribute or the number's country, see
    /// [`parley_core::zone`]). `None`: the machine's local zone.
    pub time_zone: Option<Tz>,
    /// A fixed local time to read dates against instead of the clock (tests). Default `None`:
    /// Parley's clock ([`parley_core::time::Timestamp::now`]) at the moment of the answer, in
    /// `time_zone`.
    pub now: Option<NaiveDateTime>,
    /// The most nodes one turn may run before it must listen; past it the call ends with
    /// outcome `flow_error` (a branch cycle must not hang a call). Default 100.
    pub max_steps: u32,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            llm: None,
            ai_name: "Assistant".into(),
            instructions: String::new(),
            silence_reprompts: 2,
            goodbye_on_silence: "I'm not hearing anything, so I'll let you go. Goodbye.".into(),
            error_message: "I'm sorry, something went wrong on my side. Goodbye.".into(),
            webhook_timeout: Duration::from_secs(10),
            outbound: OutboundPolicy::default(),
            time_zone: None,
            now: None,
            max_steps: 100,
        }
    }
}

/// Where the walk is.
#[derive(Debug, Clone, PartialEq)]
enum Cursor {
    NotStarted,
    /// About to run this node.
    At(String),
    /// About to follow this node's edge for this handle.
    Follow(String, String),
    /// The question was asked; the caller's answer is awaited.
    Waiting(Waiting),
    /// The call is over; this is its last output, given again to any later input.
    Ended(AgentOutput),
}

#[derive(Debug, Clone, PartialEq)]
struct Waiting {
    node: String,
    /// Answers not understood so far.
    attempts: u32,
    /// Silences in a row.
    silences: u32,
}

/// A `parley_voice::agent::Agent` that runs an interview flow.
pub struct FlowAgent {
    nodes: HashMap<String, Node>,
    edges: HashMap<(String, String), String>,
    start: Option<String>,
    ctx: CallContext,
    cfg: AgentConfig,
    http: Outbound,
    cursor: Cursor,
    variables: Map<String, Value>,
    outcome: Option<String>,
    transferred_to: Option<String>,
    conversation: Vec<Message>,
    /// Keys pressed so far for a number question, until `#` or silence.
    digits: String,
    /// Each node entered and how it was left (the call's `path`, for replay).
    trace: Vec<trace::Step>,
    /// The state before the caller's last utterance, while its turn can be taken back.
    checkpoint: Option<Box<takeback::Checkpoint>>,
}

impl FlowAgent {
    /// An agent for one call. The flow should have passed [`Flow::validate`]; a flow that did
    /// not still runs, and ends the call with outcome `flow_error` where it cannot go on.
    pub fn new(flow: Flow, ctx: CallContext, cfg: AgentConfig) -> Self {
        let mut edges = HashMap::new();
        for e in flow.edges {
            edges.entry((e.source, e.source_handle)).or_insert(e.target);
        }
        let start = flow
            .nodes
            .iter()
            .find(|n| n.node_kind() == Some(NodeKind::Start))
            .map(|n| n.id.clone());
        let nodes = flow.nodes.into_iter().map(|n| (n.id.clone(), n)).collect();
        let http = Outbound::new(
            &cfg.outbound,
            cfg.webhook_timeout,
            concat!("Parley-Agent/", env!("CARGO_PKG_VERSION")),
        );
        FlowAgent {
            nodes,
            edges,
            start,
            ctx,
            cfg,
            http,
            cursor: Cursor::NotStarted,
            variables: Map::new(),
            outcome: None,
            transferred_to: None,
            conversation: Vec::new(),
            digits: String::new(),
            trace: Vec::new(),
            checkpoint: None,
        }
    }

    /// The conversation so far, as the LLM sees it (agent turns as `assistant`).
    pub fn conversation(&self) -> &[Message] {
        &self.conversation
    }

    /// The variables captured so far.
    pub fn variables(&self) -> &Map<String, Value> {
        &self.variables
    }

    fn now(&self) -> NaiveDateTime {
        self.cfg.now.unwrap_or_else(|| {
            let ms = parley_core::time::Timestamp::now().millis();
            local_time(
                DateTime::from_timestamp_millis(ms).unwrap_or_default(),
                self.cfg.time_zone,
            )
        })
    }

    fn scope(&self) -> Scope<'_> {
        Scope::new(&self.ctx, &self.variables)
    }

    fn render(&self, t: &str) -> String {
        render(t, &self.scope())
    }

    /// A template's sentences, rendered, each marked fixed when it names no per-call data (its
    /// audio is the same on every call and worth caching).
    fn sentences_of(&self, template: &str) -> Vec<(String, bool)> {
        sentences::split(template)
            .into_iter()
            .map(|s| (self.render(&s), !template::has_placeholders(&s)))
            .filter(|(s, _)| !s.trim().is_empty())
            .collect()
    }

    async fn emit(&self, out: &mpsc::Sender<AgentOutput>, o: AgentOutput) {
        // A closed channel means the call is gone; the turn just finishes.
        let _ = out.send(o).await;
    }

    async fn say(&mut self, out: &mpsc::Sender<AgentOutput>, text: String, fixed: bool) {
        let text = text.trim().to_string();
        if text.is_empty() {
            return;
        }
        self.emit(
            out,
            AgentOutput::Say {
                text: text.clone(),
                fixed,
            },
        )
        .await;
        match self.conversation.last_mut() {
            Some(m) if m.role == Role::Assistant => {
                m.content.push(' ');
                m.content.push_str(&text);
            }
            _ => self.conversation.push(Message::assistant(text)),
        }
    }

    async fn say_all(&mut self, out: &mpsc::Sender<AgentOutput>, parts: Vec<(String, bool)>) {
        for (t, fixed) in parts {
            self.say(out, t, fixed).await;
        }
    }

    fn node_data(&self, id: &str) -> Value {
        self.nodes.get(id).map(|n| n.data.clone()).unwrap_or(Value::Null)
    }

    // -----------------------------------------------------------------------------------------
    // The walk

    /// Moves the cursor until the turn ends, then sends `Listen`, `Transfer` or `Hangup`.
    async fn run(&mut self, out: &mpsc::Sender<AgentOutput>) {
        let mut steps = 0u32;
        loop {
            match self.cursor.clone() {
                Cursor::NotStarted => match self.start.clone() {
                    Some(id) => self.cursor = Cursor::At(id),
                    None => self.flow_error(out, "the flow has no start node").await,
                },
                Cursor::Waiting(_) => {
                    self.emit(out, AgentOutput::Listen).await;
                    return;
                }
                Cursor::Ended(last) => {
                    self.emit(out, last).await;
                    return;
                }
                Cursor::Follow(from, handle) => match self.edges.get(&(from.clone(), handle.clone())) {
                    Some(to) => self.cursor = Cursor::At(to.clone()),
                    None => {
                        let why = format!("node '{from}' has no edge for '{handle}'");
                        self.flow_error(out, &why).await;
                    }
                },
                Cursor::At(id) => {
                    steps += 1;
                    if steps > self.cfg.max_steps {
                        let why = format!("more than {} steps without listening (a loop?)", self.cfg.max_steps);
                        self.flow_error(out, &why).await;
                    } else {
                        self.trace_enter(&id);
                        self.exec(&id, out).await;
                    }
                }
            }
        }
    }

    async fn flow_error(&mut self, out: &mpsc::Sender<AgentOutput>, why: &str) {
        tracing::warn!(error = why, "flow error: ending the call");
        self.outcome = Some(OUTCOME_FLOW_ERROR.into());
        self.cursor = Cursor::Ended(AgentOutput::Hangup);
        let parts = fixed_sentences(&self.cfg.error_message);
        self.say_all(out, parts).await;
    }

    fn follow(&mut self, id: &str, handle: &str) {
        self.trace_leave(id, handle);
        self.cursor = Cursor::Follow(id.to_string(), handle.to_string());
    }

    /// Runs one node; leaves the cursor where the walk goes next.
    async fn exec(&mut self, id: &str, out: &mpsc::Sender<AgentOutput>) {
        let Some(node) = self.nodes.get(id).cloned() else {
            return self.flow_error(out, &format!("no node '{id}'")).await;
        };
        let d = &node.data;
        let text = |k: &str| d.get(k).and_then(Value::as_str).filter(|s| !s.trim().is_empty());
        let Some(kind) = node.node_kind() else {
            let msg = format!("node '{id}' has unknown type '{}'", node.kind);
            return self.flow_error(out, &msg).await;
        };
        match kind {
            NodeKind::Start => self.follow(id, "next"),
            NodeKind::Speak => {
                if let Some(m) = text("message") {
                    let parts = self.sentences_of(m);
                    self.speak(id, parts, out).await;
                } else if let Some(p) = text("prompt") {
                    let p = p.to_string();
                    self.speak_prompt(id, &p, out).await;
                } else {
                    self.follow(id, "next");
                }
            }
            NodeKind::Question => {
                self.cursor = Cursor::Waiting(Waiting {
                    node: id.to_string(),
                    attempts: 0,
                    silences: 0,
                });
                self.digits.clear();
                let parts = self.sentences_of(text("question").unwrap_or(""));
                self.say_all(out, parts).await;
            }
            NodeKind::Branch => {
                let conds = d
                    .get("conditions")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let handle = branch::choose(&conds, &self.scope());
                self.follow(id, &handle);
            }
            NodeKind::Webhook => self.webhook(id, d, out).await,
            NodeKind::Transfer => {
                let raw = text("phone_number").unwrap_or("").trim();
                let number = phone::normalize("phone_number", raw, 1, PhonePolicy::default())
                    .unwrap_or_else(|_| raw.to_string());
                self.transferred_to = Some(number.clone());
                self.outcome = Some(OUTCOME_TRANSFERRED.into());
                self.cursor = Cursor::Ended(AgentOutput::Transfer { phone_number: number });
                let parts = text("message").map(|m| self.sentences_of(m)).unwrap_or_default();
                self.say_all(out, parts).await;
            }
            NodeKind::End => {
                self.outcome = Some(text("outcome").unwrap_or("completed").to_string());
                self.cursor = Cursor::Ended(AgentOutput::Hangup);
                let parts = text("message").map(|m| self.sentences_of(m)).unwrap_or_default();
                self.say_all(out, parts).await;
            }
        }
    }

    /// Says a fixed message; once its first sentence is out, the walk is past this node.
    async fn speak(&mut self, id: &str, parts: Vec<(String, bool)>, out: &mpsc::Sender<AgentOutput>) {
        if parts.is_empty() {
            return self.follow(id, "next");
        }
        for (i, (t, fixed)) in parts.into_iter().enumerate() {
            self.say(out, t, fixed).await;
            if i == 0 {
                self.follow(id, "next");
            }
        }
    }

    /// Says what the LLM makes of a prompt, sentence by sentence as they are generated. An LLM
    /// that fails or is missing is skipped (logged): the call goes on without that line.
    async fn speak_prompt(&mut self, id: &str, prompt: &str, out: &mpsc::Sender<AgentOutput>) {
        let Some(llm) = self.cfg.llm.clone() else {
            tracing::warn!(node = id, "a prompt node without an LLM is skipped");
            return self.follow(id, "next");
        };
        let instruction = self.render(prompt);
        let messages = self.chat_messages(&instruction);
        match llm.stream_chat(messages).await {
            Err(e) => tracing::warn!(node = id, error = %e, "the LLM failed; the prompt node is skipped"),
            Ok(mut stream) => {
                let mut splitter = SentenceSplitter::new();
                let mut clean_end = true;
                while let Some(delta) = stream.next().await {
                    match delta {
                        Ok(d) => {
                            for s in splitter.push(&d) {
                                self.say(out, speakable(&s), false).await;
                                self.follow(id, "next");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(node = id, error = %e, "the LLM stream broke off");
                            clean_end = false;
                            break;
                        }
                    }
                }
                // A half sentence from a broken stream is not said.
                if let Some(rest) = splitter.finish().filter(|_| clean_end) {
                    self.say(out, speakable(&rest), false).await;
                }
            }
        }
        self.follow(id, "next");
    }

    /// The messages for a generated turn: who the agent is and what to say next, then the
    /// conversation so far.
    fn chat_messages(&self, instruction: &str) -> Vec<Message> {
        let mut system = format!(
            "You are {}, a voice agent on a phone call. Everything you write is spoken aloud: reply in \
             one to three short, natural sentences, with no lists, markdown, emoji or stage directions.",
            self.cfg.ai_name
        );
        if let Some(name) = self.ctx.contact_name.as_deref().filter(|n| !n.trim().is_empty()) {
            system.push_str(&format!(" You are speaking with {name}."));
        }
        if !self.cfg.instructions.trim().is_empty() {
            system.push_str("\n\n");
            system.push_str(self.cfg.instructions.trim());
        }
        system.push_str("\n\nYour next turn: ");
        system.push_str(instruction);
        let mut messages = vec![Message::system(system)];
        messages.extend(
            self.conversation
                .iter()
                .filter(|m| !m.content.trim().is_empty())
                .cloned(),
        );
        messages
    }
}

/// A configured message, sentence by sentence, all fixed.
fn fixed_sentences(text: &str) -> Vec<(String, bool)> {
    sentences::split(text).into_iter().map(|s| (s, true)).collect()
}

/// Generated text as it should be spoken: without markdown marks.
fn speakable(s: &str) -> String {
    let s = s.replace(['*', '#', '`', '_'], "");
    s.trim().trim_start_matches("- ").trim().to_string()
}

impl Agent for FlowAgent {
    async fn handle(&mut self, input: AgentInput, out: &mpsc::Sender<AgentOutput>) {
        let input = self.take_back(input);
        if let Cursor::Waiting(w) = self.cursor.clone() {
            match input {
                // (`take_back` has made a continuation an utterance.)
                AgentInput::Utterance { text } | AgentInput::Continued { whole: text, .. }
                    if !text.trim().is_empty() =>
                {
                    self.on_answer(w, &text, out).await
                }
                // An empty transcript is noise, not an answer.
                AgentInput::Utterance { .. } | AgentInput::Continued { .. } | AgentInput::Silence => {
                    self.on_silence(w, out).await
                }
                AgentInput::Dtmf(k) => self.on_key(w, k, out).await,
                AgentInput::Start => {
                    let (d, _) = self.question(&w);
                    let parts = self.sentences_of(d.get("question").and_then(Value::as_str).unwrap_or(""));
                    self.say_all(out, parts).await;
                }
            }
        } else if let AgentInput::Utterance { text } = &input {
            // Not an answer, but the LLM should know it was said.
            if !text.trim().is_empty() && !matches!(self.cursor, Cursor::Ended(_)) {
                self.conversation.push(Message::user(text.trim()));
            }
        }
        // Not waiting: before the start any input starts the call; in an interrupted walk it
        // resumes the walk; after the end it gets the ending again.
        self.run(out).await
    }

    fn results(&self) -> AgentResults {
        AgentResults {
            outcome: self.outcome.clone(),
            variables: self.variables.clone(),
            transferred_to: self.transferred_to.clone(),
            path: self.trace.iter().map(trace::Step::to_json).collect(),
        }
    }

    async fn summarize(&self, transcript: &str) -> Summary {
        self.call_summary(transcript).await
    }
}

/// The wall-clock time at `now` in `zone` (the machine's zone when `None`).
fn local_time(now: DateTime<Utc>, zone: Option<Tz>) -> NaiveDateTime {
    match zone {
        Some(z) => now.with_timezone(&z).naive_local(),
        None => now.with_timezone(&chrono::Local).naive_local(),
    }
}

#[cfg(test)]
mod zone_tests {
    use super::*;

    #[test]
    fn dates_are_read_on_the_callees_calendar() {
        // 2026-12-03 20:00 UTC is already Friday the 4th in Auckland, still Thursday in Los Angeles.
        let at = DateTime::parse_from_rfc3339("2026-12-03T20:00:00Z").unwrap().to_utc();
        let auckland = local_time(at, Some(chrono_tz::Pacific::Auckland));
        let la = local_time(at, Some(chrono_tz::America::Los_Angeles));
        assert_eq!(auckland.to_string(), "2026-12-04 09:00:00");
        assert_eq!(la.to_string(), "2026-12-03 12:00:00");
        let tomorrow = |now| {
            crate::understand::parse_date("tomorrow at three pm", now)
                .unwrap()
                .iso()
        };
        assert_eq!(tomorrow(auckland), "2026-12-05T15:00");
        assert_eq!(tomorrow(la), "2026-12-04T15:00");
    }
}
