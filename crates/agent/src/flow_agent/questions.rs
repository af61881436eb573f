//! Question nodes: understanding answers (parsers, keypad, the LLM), silence and re-asking.

use super::{fixed_sentences, Cursor, FlowAgent, Waiting, OUTCOME_NO_RESPONSE};
use crate::llm::{ChatOptions, Message};
use crate::understand::{self, DateAnswer};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use parley_voice::agent::AgentOutput;
use serde_json::{json, Value};
use tokio::sync::mpsc;

impl FlowAgent {
    /// The question node waited at, its data and kind.
    pub(super) fn question(&self, w: &Waiting) -> (Value, String) {
        let d = self.node_data(&w.node);
        let kind = d.get("kind").and_then(Value::as_str).unwrap_or("text").to_string();
        (d, kind)
    }

    fn capture(&mut self, w: &Waiting, d: &Value, value: Value, handle: &str) {
        if let Some(var) = d.get("variable").and_then(Value::as_str) {
            self.variables.insert(var.to_string(), value);
        }
        self.digits.clear();
        self.follow(&w.node, handle);
    }

    pub(super) async fn on_answer(&mut self, w: Waiting, text: &str, out: &mpsc::Sender<AgentOutput>) {
        self.conversation.push(Message::user(text.trim()));
        let w = Waiting { silences: 0, ..w };
        self.cursor = Cursor::Waiting(w.clone());
        self.digits.clear();
        let (d, kind) = self.question(&w);
        let now = self.now();
        let understood = match understand_locally(&kind, text, &d, now) {
            Some(x) => Some(x),
            None => self.understand_with_llm(&kind, text, &d, now).await,
        };
        match understood {
            Some((value, handle)) => self.capture(&w, &d, value, &handle),
            None => self.no_match(w, &d, out).await,
        }
    }

    pub(super) async fn on_key(&mut self, w: Waiting, key: char, out: &mpsc::Sender<AgentOutput>) {
        let w = Waiting { silences: 0, ..w };
        self.cursor = Cursor::Waiting(w.clone());
        let (d, kind) = self.question(&w);
        let understood = match kind.as_str() {
            "yes_no" => understand::dtmf_yes_no(key).map(|b| (Value::Bool(b), yes_no_handle(b))),
            "choice" => {
                let choices = choices_of(&d);
                understand::dtmf_choice(key, choices.len()).map(|i| (json!(choices[i]), choices[i].clone()))
            }
            "number" => match key {
                '0'..='9' => {
                    // Typed digits gather until '#' (or a pause); the agent just listens.
                    self.digits.push(key);
                    return;
                }
                '*' => {
                    self.digits.clear();
                    return;
                }
                '#' => self
                    .digits
                    .parse::<f64>()
                    .ok()
                    .map(|n| (understand::number_value(n), "next".into())),
                _ => None,
            },
            _ => None,
        };
        match understood {
            Some((value, handle)) => self.capture(&w, &d, value, &handle),
            None => {
                self.digits.clear();
                self.no_match(w, &d, out).await
            }
        }
    }

    pub(super) async fn on_silence(&mut self, w: Waiting, out: &mpsc::Sender<AgentOutput>) {
        let (d, kind) = self.question(&w);
        if kind == "number" && !self.digits.is_empty() {
            if let Ok(n) = self.digits.parse::<f64>() {
                return self.capture(&w, &d, understand::number_value(n), "next");
            }
        }
        let silences = w.silences + 1;
        if silences > self.cfg.silence_reprompts {
            self.outcome = Some(OUTCOME_NO_RESPONSE.into());
            self.cursor = Cursor::Ended(AgentOutput::Hangup);
            let parts = fixed_sentences(&self.cfg.goodbye_on_silence);
            return self.say_all(out, parts).await;
        }
        self.cursor = Cursor::Waiting(Waiting { silences, ..w });
        let parts = self.reprompt(&d, "Are you still there?");
        self.say_all(out, parts).await;
    }

    /// Re-asks, or follows `no_match` once `max_attempts` answers (default 2) were not understood.
    async fn no_match(&mut self, w: Waiting, d: &Value, out: &mpsc::Sender<AgentOutput>) {
        let attempts = w.attempts + 1;
        let max = d.get("max_attempts").and_then(Value::as_u64).unwrap_or(2).max(1) as u32;
        if attempts >= max {
            return self.follow(&w.node, "no_match");
        }
        self.cursor = Cursor::Waiting(Waiting { attempts, ..w });
        let parts = self.reprompt(d, "Sorry, I didn't catch that.");
        self.say_all(out, parts).await;
    }

    /// The node's `reprompt`, or `lead` followed by the question.
    fn reprompt(&self, d: &Value, lead: &str) -> Vec<(String, bool)> {
        let s = |k: &str| d.get(k).and_then(Value::as_str).filter(|s| !s.trim().is_empty());
        if let Some(r) = s("reprompt") {
            return self.sentences_of(r);
        }
        let mut parts = vec![(lead.to_string(), true)];
        parts.extend(self.sentences_of(s("question").unwrap_or("")));
        parts
    }

    /// One strict, non-streamed question to the LLM about an answer the parsers did not get.
    /// Any failure is just "not understood".
    async fn understand_with_llm(
        &self,
        kind: &str,
        text: &str,
        d: &Value,
        now: NaiveDateTime,
    ) -> Option<(Value, String)> {
        let llm = self.cfg.llm.as_ref()?;
        let question = self.render(d.get("question").and_then(Value::as_str).unwrap_or(""));
        let choices = choices_of(d);
        let task = match kind {
            "yes_no" => {
                "Does the caller's answer mean yes or no? Reply with exactly one word: yes, no, or unknown.".to_string()
            }
            "number" => {
                "What number does the caller's answer give? Reply with only the number in digits (like 25 or 3.5), \
                 or unknown."
                    .to_string()
            }
            "date" => format!(
                "It is now {}. What date and time does the caller's answer mean? Reply with only \
                 YYYY-MM-DD HH:MM (24-hour clock), or only YYYY-MM-DD if no time was given, or unknown.",
                now.format("%A %Y-%m-%d %H:%M")
            ),
            "choice" => {
                let list: Vec<String> = choices
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{}. {c}", i + 1))
                    .collect();
                format!(
                    "The choices are:\n{}\nWhich choice did the caller pick? Reply with only its number, or 0 if none.",
                    list.join("\n")
                )
            }
            _ => return None,
        };
        let system = format!(
            "You read a caller's spoken answer on a phone call, transcribed by speech recognition. \
             The agent asked: \"{question}\"\n{task}"
        );
        let opts = ChatOptions {
            temperature: Some(0.0),
            max_tokens: Some(24),
        };
        let reply = match llm
            .complete_with(vec![Message::system(system), Message::user(text)], opts)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "the LLM could not help understand an answer");
                return None;
            }
        };
        interpret_llm(kind, &reply, text, &choices)
    }
}

/// The deterministic parsers, by question kind: the captured value and the handle to follow.
fn understand_locally(kind: &str, text: &str, d: &Value, now: NaiveDateTime) -> Option<(Value, String)> {
    match kind {
        "yes_no" => understand::parse_yes_no(text).map(|b| (Value::Bool(b), yes_no_handle(b))),
        "number" => understand::parse_number(text).map(|n| (understand::number_value(n), "next".into())),
        "date" => understand::parse_date(text, now).map(|a| (a.to_value(), "next".into())),
        "choice" => {
            let choices = choices_of(d);
            understand::parse_choice(text, &choices).map(|i| (json!(choices[i]), choices[i].clone()))
        }
        _ => Some((Value::String(text.trim().to_string()), "next".into())),
    }
}

/// Reads the LLM's strict reply; anything else is "not understood".
fn interpret_llm(kind: &str, reply: &str, said: &str, choices: &[String]) -> Option<(Value, String)> {
    let r = reply
        .trim()
        .trim_matches(|c: char| c == '"' || c == '\'' || c == '`')
        .trim();
    let first = r
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| !w.is_empty())
        .unwrap_or("")
        .to_lowercase();
    if first == "unknown" {
        return None;
    }
    match kind {
        "yes_no" => match first.as_str() {
            "yes" => Some((Value::Bool(true), yes_no_handle(true))),
            "no" => Some((Value::Bool(false), yes_no_handle(false))),
            _ => None,
        },
        "number" => understand::parse_number(r).map(|n| (understand::number_value(n), "next".into())),
        "date" => {
            let re = regex::Regex::new(r"(\d{4}-\d{2}-\d{2})(?:[ T](\d{1,2}:\d{2}))?").ok()?;
            let c = re.captures(r)?;
            let date = NaiveDate::parse_from_str(&c[1], "%Y-%m-%d").ok()?;
            let time = c
                .get(2)
                .and_then(|t| NaiveTime::parse_from_str(t.as_str(), "%H:%M").ok());
            let a = DateAnswer {
                text: said.trim().to_string(),
                date,
                time,
            };
            Some((a.to_value(), "next".into()))
        }
        "choice" => {
            let idx = first
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .filter(|&i| i < choices.len())
                .or_else(|| choices.iter().position(|c| c.eq_ignore_ascii_case(r)))?;
            Some((json!(choices[idx]), choices[idx].clone()))
        }
        _ => None,
    }
}

fn yes_no_handle(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn choices_of(d: &Value) -> Vec<String> {
    d.get("choices")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}
