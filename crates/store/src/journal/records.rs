//! The records callers queue on the journal, ready to bind, and the journal's answers.

use super::*;
use parley_core::run::{RunStatus, StepStatus};

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

/// A step about to run.
pub(crate) struct BeginRow {
    pub id: String,
    pub run_id: String,
    pub seq: i64,
    pub slug: String,
    pub step_type: String,
    pub input: String,
    pub now: i64,
    pub wake_run: bool,
}

/// A step's end (or pause).
pub(crate) struct StepEndRow {
    pub seq: i64,
    pub status: StepStatus,
    pub output: Option<String>,
    pub error: Option<String>,
    pub state: Option<String>,
    pub due_at: Option<i64>,
    pub now: i64,
    /// A step that ran without being recorded as started (it acts on nothing outside this
    /// record): the rest of its row, inserted whole.
    pub unrecorded: Option<UnrecordedRow>,
}

/// What a step's start would have recorded.
pub(crate) struct UnrecordedRow {
    pub id: String,
    pub slug: String,
    pub step_type: String,
    pub input: String,
    pub started: i64,
}

/// A run's next state.
pub(crate) struct RunNextRow {
    pub status: RunStatus,
    pub state: String,
    pub waiting_call_id: Option<String>,
    pub wake_at: Option<i64>,
    pub error: Option<String>,
    /// The `ACTION_FAILED` payload of a failed run.
    pub action_failed: Option<String>,
    pub now: i64,
}

impl RunNextRow {
    pub(super) fn ends_run(&self) -> bool {
        matches!(self.status, RunStatus::Completed | RunStatus::Failed)
    }
}

/// One record of a run: the steps that ended since its last record, its next state, and the
/// step it starts next, with that step's tag change (a change of the database alone commits
/// with its step's start: the step never runs without its record, nor its record without it).
/// With a next state, nothing of it is written if the run was canceled (or ended) meanwhile.
pub(crate) struct AdvanceRow {
    pub run_id: String,
    pub ended: Vec<StepEndRow>,
    pub next: Option<RunNextRow>,
    pub begin: Option<BeginRow>,
    pub tags: Option<TagsRow>,
}

/// A change of one contact's tags (read, changed and written in the batch's transaction).
pub(crate) struct TagsRow {
    pub team_id: String,
    pub contact_id: uuid::Uuid,
    pub change: Box<TagChange>,
}

/// A tag list edit: the new list from the old one, or why the change is refused.
pub type TagChange = dyn Fn(&[String]) -> std::result::Result<Vec<String>, ValidationError> + Send + Sync;

// Records live for one batch in a channel: boxing the large ones would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Op {
    /// A new contact, unless the team has its number already (`POST /contact/create`, a
    /// `create_contact` step).
    NewContact(Contact),
    /// A tag change on its own (the API's).
    Tags(TagsRow),
    Start(StartRow),
    Advance(AdvanceRow),
}

impl Op {
    /// What at most one record of a batch may touch: its run, and its contact.
    pub(super) fn keys(&self) -> [Option<String>; 2] {
        let contact = |t: &TagsRow| format!("contact:{}", t.contact_id);
        match self {
            // Two of one number in a batch are one statement's conflict: the second is not
            // inserted, and its caller takes the update path.
            Op::NewContact(_) => [None, None],
            Op::Tags(t) => [Some(contact(t)), None],
            Op::Start(s) => [Some(s.run_id.clone()), None],
            Op::Advance(a) => [Some(a.run_id.clone()), a.tags.as_ref().map(contact)],
        }
    }
}

/// What a tag change found.
#[derive(Debug)]
pub(crate) enum Tagged {
    /// The contact after the change, or why the change was refused.
    Changed(std::result::Result<Contact, ValidationError>),
    /// The contact does not exist (for this team).
    NoContact,
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
