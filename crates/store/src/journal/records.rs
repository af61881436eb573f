//! The records callers queue on the journal, ready to bind, and the journal's answers.

use super::*;
use crate::records::contact_writes::{TagEdit, Tagged};
use crate::records::runs::Advance;

/// A new run and its job, ready to bind.
pub(crate) struct StartRow {
    pub run_id: String,
    pub team_id: String,
    pub automation_id: String,
    pub version: i64,
    pub trigger_key: Option<String>,
    pub state: String,
    pub job_id: String,
    pub job_kind: &'static str,
    pub job_payload: String,
    pub now: i64,
    /// The job is inserted already claimed by this worker until this time (it runs at once in
    /// this process; if the process dies, the lease runs out and any worker takes it).
    pub claim: Option<(String, i64)>,
}

/// One record of a run (see [`Store::advance`](crate::Store::advance)) and its time: the
/// steps that ended since its last record, its next state, and the step it starts next, with
/// that step's tag change (a change of the database alone commits with its step's start: the
/// step never runs without its record, nor its record without it). With a next state, nothing
/// of it is written if the run was canceled (or ended) meanwhile.
pub(crate) struct AdvanceRow {
    pub advance: Advance,
    pub now: i64,
}

impl AdvanceRow {
    pub(super) fn run_id(&self) -> String {
        self.advance.run_id.to_string()
    }
}

// Records live for one batch in a channel: boxing the large ones would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Op {
    /// A new contact, unless the team has its number already (`POST /contact/create`, a
    /// `create_contact` step).
    NewContact(Contact),
    /// A tag change on its own (the API's).
    Tags(TagEdit),
    Start(StartRow),
    Advance(AdvanceRow),
}

impl Op {
    /// What at most one record of a batch may touch: its run, and its contact.
    pub(super) fn keys(&self) -> [Option<String>; 2] {
        let contact = |t: &TagEdit| format!("contact:{}", t.contact_id);
        match self {
            // Two of one number in a batch are one statement's conflict: the second is not
            // inserted, and its caller takes the update path.
            Op::NewContact(_) => [None, None],
            Op::Tags(t) => [Some(contact(t)), None],
            Op::Start(s) => [Some(s.run_id.clone()), None],
            Op::Advance(a) => [Some(a.run_id()), a.advance.tags.as_ref().map(contact)],
        }
    }
}

/// What a record's writing answered.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Reply {
    /// Whether the contact was inserted (false: the team has its number).
    Inserted(bool),
    /// Whether the run was inserted (false: its trigger key had fired already).
    Started(bool),
    Advanced {
        /// False, with nothing written, when the run was canceled (or ended) meanwhile.
        written: bool,
        /// The started step's row.
        begun: Option<StepRow>,
        tagged: Option<Tagged>,
    },
    Tagged(Tagged),
}
