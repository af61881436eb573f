//! Runs and their steps as the store reads and writes them: the rows, the records a run's
//! engine hands the store (a start, an advance), their columns and parsing. A leaf: the run
//! journal writes these very types, so the repository and the journal share them without
//! mirrored copies.

use super::contact_writes::TagEdit;
use crate::{Result, StoreError};
use parley_core::contact::Contact;
use parley_core::run::{RunStatus, StepStatus};
use parley_core::ValidationError;
use serde_json::Value;
use sqlx::Row;
use uuid::Uuid;

/// A run as stored.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: Uuid,
    pub team_id: String,
    pub automation_id: String,
    pub version: i64,
    pub status: RunStatus,
    pub trigger_key: Option<String>,
    pub state: Value,
    pub job_id: Option<String>,
    pub waiting_call_id: Option<String>,
    pub wake_at: Option<i64>,
    pub error: Option<String>,
    pub created: i64,
    pub updated: i64,
    pub finished: Option<i64>,
}

/// A run as its worker reads it: the row, with what the worker needs of its team.
#[derive(Debug, Clone)]
pub struct WorkerRun {
    pub run: RunRow,
    /// The team's `allow_premium` (premium-rate numbers in its steps).
    pub allow_premium: bool,
}

impl RunRow {
    pub fn is_finished(&self) -> bool {
        self.status.is_final()
    }
}

/// One recorded step of a run.
#[derive(Debug, Clone)]
pub struct StepRow {
    pub id: String,
    pub run_id: Uuid,
    pub seq: i64,
    pub slug: String,
    pub step_type: String,
    pub attempt: i64,
    pub status: StepStatus,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub state: Option<Value>,
    pub due_at: Option<i64>,
    pub started: i64,
    pub finished: Option<i64>,
}

/// A new run.
pub struct NewRun<'a> {
    pub team_id: &'a str,
    pub automation_id: &'a str,
    pub version: i64,
    /// Makes the firing idempotent (schedule slot, event job id); `None` for webhook runs.
    pub trigger_key: Option<String>,
    pub state: &'a Value,
    /// Insert the run's job already claimed by this worker (id, lease end in ms), to run it at
    /// once in this process (see `parley_jobs::JobsHandle::reserve`).
    pub claim: Option<(&'a str, i64)>,
}

/// A run just started, and its job.
#[derive(Debug, Clone)]
pub struct StartedRun {
    pub run_id: Uuid,
    pub job_id: String,
}

/// How a step ended (or paused).
#[derive(Debug, Clone)]
pub struct StepEnd {
    pub seq: i64,
    pub status: StepStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    /// The step's durable state (kept as it was when `None`).
    pub state: Option<Value>,
    pub due_at: Option<i64>,
    /// A step that ran without being recorded as started (see [`Store::advance`](crate::Store::advance)): what its
    /// start would have recorded.
    pub unrecorded: Option<UnrecordedStep>,
}

/// The start of a step that was not recorded before it ran.
#[derive(Debug, Clone)]
pub struct UnrecordedStep {
    pub slug: String,
    pub step_type: String,
    pub input: Value,
    pub started: i64,
}

/// What a run becomes.
#[derive(Debug, Clone)]
pub struct RunNext {
    pub status: RunStatus,
    /// The run's state, serialized (JSON).
    pub state: String,
    pub waiting_call_id: Option<String>,
    pub wake_at: Option<i64>,
    pub error: Option<String>,
    /// With a failed run: the `ACTION_FAILED` payload to send the team's subscribers.
    pub action_failed: Option<Value>,
}

impl RunNext {
    /// The run is over (its job goes with it).
    pub(crate) fn ends_run(&self) -> bool {
        matches!(self.status, RunStatus::Completed | RunStatus::Failed)
    }
}

impl StepEnd {
    /// When the step finished, if it did (a paused step has not), the record written at `now`.
    pub(crate) fn finished(&self, now: i64) -> Option<i64> {
        (self.status != StepStatus::Waiting).then_some(now)
    }
}

/// One record of a run (see [`Store::advance`](crate::Store::advance)).
pub struct Advance {
    pub run_id: Uuid,
    /// Steps that ended since the run's last record, in order.
    pub ended: Vec<StepEnd>,
    /// The run's next state; required with `ended`.
    pub next: Option<RunNext>,
    /// The step that starts now.
    pub begin: Option<BeginStep>,
    /// The starting step's tag change, made with its start.
    pub tags: Option<TagEdit>,
}

/// What a run's record did.
#[derive(Debug)]
pub struct Advanced {
    /// False, with nothing written, when the run was canceled (or ended) meanwhile.
    pub written: bool,
    /// The started step's row.
    pub begun: Option<StepRow>,
    /// The contact after the tag change, or why it was refused; `NotFound` if there is no such
    /// contact in the team.
    pub tagged: Option<Result<std::result::Result<Contact, ValidationError>>>,
}

/// A step about to run.
#[derive(Debug, Clone)]
pub struct BeginStep {
    pub run_id: Uuid,
    pub seq: i64,
    pub slug: String,
    pub step_type: String,
    pub input: Value,
    /// The run shows as waiting: mark it running again.
    pub wake_run: bool,
}

pub(crate) const RUN_COLUMNS: &str = "id, team_id, automation_id, version, status, trigger_key, state, job_id, waiting_call_id, wake_at, error, created, updated, finished";

pub(crate) const STEP_COLUMNS: &str =
    "id, run_id, seq, slug, step_type, attempt, status, input, output, error, state, due_at, started, finished";

pub(crate) fn json_opt(r: &sqlx::any::AnyRow, col: &str) -> Result<Option<Value>> {
    let s: Option<String> = r.try_get(col)?;
    Ok(match s {
        Some(s) => Some(serde_json::from_str(&s)?),
        None => None,
    })
}

/// A column holding one of an enum's names; another value is a corrupt row.
pub(crate) fn parsed<T>(r: &sqlx::any::AnyRow, column: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let s: String = r.try_get(column)?;
    parse(&s).ok_or_else(|| StoreError::Corrupt(format!("{column} {s:?}")))
}

pub(crate) fn run_from_row(r: &sqlx::any::AnyRow) -> Result<RunRow> {
    let id: String = r.try_get("id")?;
    Ok(RunRow {
        id: id.parse().map_err(|_| StoreError::Corrupt(format!("run id {id}")))?,
        team_id: r.try_get("team_id")?,
        automation_id: r.try_get("automation_id")?,
        version: r.try_get("version")?,
        status: parsed(r, "status", RunStatus::parse)?,
        trigger_key: r.try_get("trigger_key")?,
        state: serde_json::from_str(&r.try_get::<String, _>("state")?)?,
        job_id: r.try_get("job_id")?,
        waiting_call_id: r.try_get("waiting_call_id")?,
        wake_at: r.try_get("wake_at")?,
        error: r.try_get("error")?,
        created: r.try_get("created")?,
        updated: r.try_get("updated")?,
        finished: r.try_get("finished")?,
    })
}

pub(crate) fn step_from_row(r: &sqlx::any::AnyRow) -> Result<StepRow> {
    let run: String = r.try_get("run_id")?;
    Ok(StepRow {
        id: r.try_get("id")?,
        run_id: run.parse().map_err(|_| StoreError::Corrupt(format!("run id {run}")))?,
        seq: r.try_get("seq")?,
        slug: r.try_get("slug")?,
        step_type: r.try_get("step_type")?,
        attempt: r.try_get("attempt")?,
        status: parsed(r, "status", StepStatus::parse)?,
        input: json_opt(r, "input")?,
        output: json_opt(r, "output")?,
        error: r.try_get("error")?,
        state: json_opt(r, "state")?,
        due_at: r.try_get("due_at")?,
        started: r.try_get("started")?,
        finished: r.try_get("finished")?,
    })
}
