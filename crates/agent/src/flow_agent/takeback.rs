//! Taking a turn back when the caller had only paused.
//!
//! The pipeline ends the caller's turn at a pause that looks like an end; when the caller goes
//! on at once ("So the thing is ... my card expired last week."), it drops the agent's reply and
//! sends [`AgentInput::Continued`] with both parts. The agent then answers the whole as if the
//! first part had never been a turn: a question's variable is the whole sentence, not its first
//! half, and the walk has not moved on a half. So before each utterance the agent keeps what
//! the turn may change, and restores it on a continuation. A turn that reached the world (a
//! webhook's request may have been made) cannot be taken back: the continuation is then
//! answered as an utterance of its own, as before.

use super::{Cursor, FlowAgent};
use crate::llm::Message;
use parley_voice::agent::AgentInput;
use serde_json::{Map, Value};

/// What one turn of the walk may change.
#[derive(Debug, Clone)]
pub(super) struct Checkpoint {
    cursor: Cursor,
    variables: Map<String, Value>,
    outcome: Option<String>,
    transferred_to: Option<String>,
    conversation: Vec<Message>,
    digits: String,
    trace: Vec<super::trace::Step>,
}

impl FlowAgent {
    /// The input this turn answers, after taking the last turn back for a continuation; keeps
    /// a checkpoint before an utterance (and only then: a continuation follows an utterance).
    pub(super) fn take_back(&mut self, input: AgentInput) -> AgentInput {
        let input = match input {
            AgentInput::Continued { whole, added } => match self.checkpoint.take() {
                Some(c) => {
                    self.restore(*c);
                    tracing::debug!(%whole, "the caller went on: the last turn is taken back");
                    AgentInput::Utterance { text: whole }
                }
                None => AgentInput::Utterance { text: added },
            },
            other => other,
        };
        self.checkpoint = matches!(input, AgentInput::Utterance { .. }).then(|| Box::new(self.save()));
        input
    }

    /// The turn did something that cannot be undone: it can no longer be taken back.
    pub(super) fn reached_the_world(&mut self) {
        self.checkpoint = None;
    }

    fn save(&self) -> Checkpoint {
        Checkpoint {
            cursor: self.cursor.clone(),
            variables: self.variables.clone(),
            outcome: self.outcome.clone(),
            transferred_to: self.transferred_to.clone(),
            conversation: self.conversation.clone(),
            digits: self.digits.clone(),
            trace: self.trace.clone(),
        }
    }

    fn restore(&mut self, c: Checkpoint) {
        self.cursor = c.cursor;
        self.variables = c.variables;
        self.outcome = c.outcome;
        self.transferred_to = c.transferred_to;
        self.conversation = c.conversation;
        self.digits = c.digits;
        self.trace = c.trace;
    }
}
