//! Automations, their versions, runs and recorded steps; the events that fire triggers.
//!
//! The store keeps automations as JSON it does not interpret (the `automation` crate owns the
//! model); what it guarantees is transactional: a run is inserted with its job, a firing is
//! idempotent (`trigger_key`), a step's completion and the run's next state commit together, and
//! a call placed by a step is recorded in the step in the same transaction that queues the call,
//! so a restarted run never places it twice.

use crate::calls::{insert_queued_call, queued_call, DIAL_JOB};
pub use crate::journal::TagChange;
use crate::journal::{
    unexpected, AdvanceRow, BeginRow, Op, Reply, RunNextRow, StartRow, StepEndRow, Tagged, TagsRow, UnrecordedRow,
};
use crate::{found, jobs, now_ms, Result, Store, StoreError};
use parley_core::call::{Call, CallType};
use parley_core::contact::Contact;
use parley_core::ids::new_row_id;
use parley_core::number::CallRoute;
use parley_core::run::{RunStatus, StepStatus};
use parley_core::ValidationError;
use serde_json::Value;
use sqlx::{Any, Row, Transaction};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A trigger event (call completed, contact created, tag added) to match against automations.
pub use crate::outbox::EVENT_JOB;
/// Runs (or resumes) one automation run.
pub const RUN_JOB: &str = "automation_run";
/// Fires one automation's recurring schedule.
pub const SCHEDULE_JOB: &str = "automation_schedule";

/// An automation as stored: the spec JSON plus the columns the store queries by.
#[derive(Debug, Clone)]
pub struct AutomationRow {
    pub id: String,
    pub team_id: String,
    pub name: String,
    pub mode: String,
    pub trigger_type: String,
    pub version: i64,
    pub spec: Value,
    pub sample_payload: Option<Value>,
    pub schedule_next_at: Option<i64>,
    pub created: i64,
    pub updated: i64,
}

/// What a save writes.
pub struct SaveAutomation<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub mode: &'a str,
    pub trigger_type: &'a str,
    pub spec: &'a Value,
    /// The next slot of a live schedule trigger; `None` for other triggers and drafts.
    pub schedule_next_at: Option<i64>,
}

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
    /// A step that ran without being recorded as started (see [`Store::advance`]): what its
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

/// A change of a contact's tags by the step that starts with it.
pub struct StepTags {
    pub team_id: String,
    pub contact_id: Uuid,
    pub change: Box<TagChange>,
}

/// One record of a run (see [`Store::advance`]).
pub struct Advance<'a> {
    pub run_id: Uuid,
    /// Steps that ended since the run's last record, in order.
    pub ended: Vec<StepEnd>,
    /// The run's next state; required with `ended`.
    pub next: Option<RunNext>,
    /// The step that starts now.
    pub begin: Option<BeginStep<'a>>,
    /// The starting step's tag change, made with its start.
    pub tags: Option<StepTags>,
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
pub struct BeginStep<'a> {
    pub run_id: Uuid,
    pub seq: i64,
    pub slug: &'a str,
    pub step_type: &'a str,
    pub input: &'a Value,
    /// The run shows as waiting: mark it running again.
    pub wake_run: bool,
}

const AUTOMATION_COLUMNS: &str =
    "id, team_id, name, mode, trigger_type, version, body, sample_payload, schedule_next_at, created, updated";
const RUN_COLUMNS: &str = "id, team_id, automation_id, version, status, trigger_key, state, job_id, waiting_call_id, wake_at, error, created, updated, finished";
pub(crate) const STEP_COLUMNS: &str =
    "id, run_id, seq, slug, step_type, attempt, status, input, output, error, state, due_at, started, finished";

impl Store {
    /// Saves a new automation at version 1 (and its schedule job when it has one).
    pub async fn create_automation(&self, team_id: &str, a: &SaveAutomation<'_>) -> Result<i64> {
        let mut w = self.begin_write().await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO automations (id, team_id, name, mode, trigger_type, version, body, created, updated) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7)",
        )
        .bind(a.id)
        .bind(team_id)
        .bind(a.name)
        .bind(a.mode)
        .bind(a.trigger_type)
        .bind(a.spec.to_string())
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
        insert_version(&mut w.tx, a.id, 1, a.spec, now).await?;
        set_schedule(&mut w.tx, team_id, a.id, a.schedule_next_at, None).await?;
        w.commit().await?;
        Ok(1)
    }

    /// Saves a new version of an automation; runs in flight keep theirs.
    pub async fn update_automation(&self, team_id: &str, a: &SaveAutomation<'_>) -> Result<i64> {
        let mut w = self.begin_write().await?;
        let now = now_ms();
        let row = sqlx::query(
            "SELECT version, schedule_job_id FROM automations WHERE id = $1 AND team_id = $2 AND deleted = 0",
        )
        .bind(a.id)
        .bind(team_id)
        .fetch_optional(&mut *w.tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let version: i64 = row.try_get::<i64, _>("version")? + 1;
        let old_job: Option<String> = row.try_get("schedule_job_id")?;
        let r = sqlx::query(
            "UPDATE automations SET name = $1, mode = $2, trigger_type = $3, version = $4, body = $5, updated = $6 \
             WHERE id = $7 AND team_id = $8 AND version = $9",
        )
        .bind(a.name)
        .bind(a.mode)
        .bind(a.trigger_type)
        .bind(version)
        .bind(a.spec.to_string())
        .bind(now)
        .bind(a.id)
        .bind(team_id)
        .bind(version - 1)
        .execute(&mut *w.tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::Conflict("the automation changed meanwhile".into()));
        }
        insert_version(&mut w.tx, a.id, version, a.spec, now).await?;
        set_schedule(&mut w.tx, team_id, a.id, a.schedule_next_at, old_job.as_deref()).await?;
        w.commit().await?;
        Ok(version)
    }

    pub async fn automation(&self, team_id: &str, id: &str) -> Result<AutomationRow> {
        let r = sqlx::query(&format!(
            "SELECT {AUTOMATION_COLUMNS} FROM automations WHERE id = $1 AND team_id = $2 AND deleted = 0"
        ))
        .bind(id)
        .bind(team_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        automation_from_row(&r)
    }

    /// An automation by id alone: the public webhook URL carries no team.
    pub async fn automation_by_id(&self, id: &str) -> Result<AutomationRow> {
        let r = sqlx::query(&format!(
            "SELECT {AUTOMATION_COLUMNS} FROM automations WHERE id = $1 AND deleted = 0"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        automation_from_row(&r)
    }

    pub async fn list_automations(&self, team_id: &str) -> Result<Vec<AutomationRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {AUTOMATION_COLUMNS} FROM automations WHERE team_id = $1 AND deleted = 0 ORDER BY created DESC"
        ))
        .bind(team_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(automation_from_row).collect()
    }

    /// Live automations of a team with this trigger type.
    pub async fn live_automations(&self, team_id: &str, trigger_type: &str) -> Result<Vec<AutomationRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {AUTOMATION_COLUMNS} FROM automations WHERE team_id = $1 AND trigger_type = $2 AND mode = 'live' AND deleted = 0"
        ))
        .bind(team_id)
        .bind(trigger_type)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(automation_from_row).collect()
    }

    /// Deletes an automation (its id stays taken; runs in flight finish on their version).
    pub async fn delete_automation(&self, team_id: &str, id: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        let old_job: Option<String> =
            sqlx::query("SELECT schedule_job_id FROM automations WHERE id = $1 AND team_id = $2 AND deleted = 0")
                .bind(id)
                .bind(team_id)
                .fetch_optional(&mut *w.tx)
                .await?
                .ok_or(StoreError::NotFound)?
                .try_get("schedule_job_id")?;
        let r = sqlx::query("UPDATE automations SET deleted = 1, updated = $1 WHERE id = $2 AND team_id = $3")
            .bind(now_ms())
            .bind(id)
            .bind(team_id)
            .execute(&mut *w.tx)
            .await?;
        found(r.rows_affected())?;
        set_schedule(&mut w.tx, team_id, id, None, old_job.as_deref()).await?;
        w.commit().await
    }

    /// Keeps the last body a draft automation's webhook received.
    pub async fn set_sample_payload(&self, team_id: &str, id: &str, payload: &Value) -> Result<()> {
        let mut w = self.begin_write().await?;
        let r = sqlx::query("UPDATE automations SET sample_payload = $1 WHERE id = $2 AND team_id = $3")
            .bind(payload.to_string())
            .bind(id)
            .bind(team_id)
            .execute(&mut *w.tx)
            .await?;
        found(r.rows_affected())?;
        w.commit().await
    }

    /// The spec of one saved version.
    pub async fn automation_version(&self, automation_id: &str, version: i64) -> Result<Value> {
        let r = sqlx::query("SELECT body FROM automation_versions WHERE automation_id = $1 AND version = $2")
            .bind(automation_id)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(serde_json::from_str(&r.try_get::<String, _>("body")?)?)
    }

    /// Moves a schedule to its next slot after firing `fired`; false if the slot was already
    /// moved (another process fired it).
    pub async fn advance_schedule(&self, automation_id: &str, fired: i64, next: Option<i64>) -> Result<bool> {
        let mut w = self.begin_write().await?;
        let r = sqlx::query("UPDATE automations SET schedule_next_at = $1 WHERE id = $2 AND schedule_next_at = $3")
            .bind(next)
            .bind(automation_id)
            .bind(fired)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// Starts a run with its job, unless this firing (`trigger_key`) already started one
    /// (`None`). Written by the run journal (group commit).
    pub async fn start_run(&self, r: &NewRun<'_>) -> Result<Option<StartedRun>> {
        let run_id = new_row_id();
        let job_id = new_row_id().to_string();
        let row = StartRow {
            run_id: run_id.to_string(),
            team_id: r.team_id.to_string(),
            automation_id: r.automation_id.to_string(),
            version: r.version,
            trigger_key: r.trigger_key.clone(),
            state: r.state.to_string(),
            job_id: job_id.clone(),
            job_kind: RUN_JOB,
            job_payload: serde_json::json!({ "run_id": run_id }).to_string(),
            now: now_ms(),
            claim: r.claim.map(|(worker, until)| (worker.to_string(), until)),
        };
        match self.journal.write(Op::Start(row)).await? {
            Reply::Started(true) => Ok(Some(StartedRun { run_id, job_id })),
            Reply::Started(false) => Ok(None),
            other => Err(unexpected(other)),
        }
    }

    pub async fn run(&self, team_id: &str, id: Uuid) -> Result<RunRow> {
        let r = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM automation_runs WHERE id = $1 AND team_id = $2"
        ))
        .bind(id.to_string())
        .bind(team_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        run_from_row(&r)
    }

    /// A run by id alone, for the worker that runs it.
    pub async fn run_for_worker(&self, id: Uuid) -> Result<WorkerRun> {
        // With its team's setting in the same read: one round trip per slice, not two.
        let columns: Vec<String> = RUN_COLUMNS.split(", ").map(|c| format!("r.{c}")).collect();
        let r = sqlx::query(&format!(
            "SELECT {}, t.allow_premium AS team_allow_premium FROM automation_runs r \
             JOIN teams t ON t.id = r.team_id WHERE r.id = $1",
            columns.join(", ")
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(WorkerRun {
            run: run_from_row(&r)?,
            allow_premium: r.try_get::<i64, _>("team_allow_premium")? != 0,
        })
    }

    /// An automation's runs, newest first.
    pub async fn list_runs(&self, team_id: &str, automation_id: &str, limit: i64, offset: i64) -> Result<Vec<RunRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM automation_runs WHERE team_id = $1 AND automation_id = $2 \
             ORDER BY created DESC, id LIMIT $3 OFFSET $4"
        ))
        .bind(team_id)
        .bind(automation_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    pub async fn run_steps(&self, run_id: Uuid) -> Result<Vec<StepRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {STEP_COLUMNS} FROM automation_steps WHERE run_id = $1 ORDER BY seq"
        ))
        .bind(run_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(step_from_row).collect()
    }

    /// Writes one record of a run, in the run journal's next batch: the steps that ended since
    /// its last record, its next state, and the step it starts now (recorded before it runs; a
    /// step already recorded, because the process died while it ran or it was waiting, is the
    /// same row with the attempt counted up, except for a resumed wait, and keeps its durable
    /// `state`).
    ///
    /// Why several steps per record: a step that acts on nothing outside the database record of
    /// the run (a condition, a loop, an end) need not be recorded before it runs, since running
    /// it again after a crash does the same; its whole row is written with the next record. A
    /// tag change commits with its step's start. A run then writes one record per step that
    /// acts on the world (a contact, a call, an HTTP request), not two per step.
    pub async fn advance(&self, a: Advance<'_>) -> Result<Advanced> {
        if a.next.is_none() && !a.ended.is_empty() {
            return Err(StoreError::Corrupt("ended steps without the run's next state".into()));
        }
        let now = now_ms();
        let run_id = a.run_id.to_string();
        let row = AdvanceRow {
            ended: a.ended.iter().map(|e| step_end_row(e, now)).collect(),
            next: a.next.as_ref().map(|n| run_next_row(n, now)),
            begin: a.begin.as_ref().map(|b| begin_row(b, now)),
            tags: a.tags.map(|t| TagsRow {
                team_id: t.team_id,
                contact_id: t.contact_id,
                change: t.change,
            }),
            run_id,
        };
        match self.journal.write(Op::Advance(row)).await? {
            Reply::Advanced { written, begun, tagged } => Ok(Advanced {
                written,
                begun,
                tagged: tagged.map(|t| match t {
                    Tagged::Changed(r) => Ok(r),
                    Tagged::NoContact => Err(StoreError::NotFound),
                }),
            }),
            other => Err(unexpected(other)),
        }
    }

    /// Ends a run outside a step (nothing left to run, or its version lost a step).
    pub async fn end_run(&self, run_id: Uuid, status: RunStatus, error: Option<&str>, state: &Value) -> Result<()> {
        let mut w = self.begin_write().await?;
        let now = now_ms();
        sqlx::query(
            "UPDATE automation_runs SET status = $1, error = $2, state = $3, updated = $4, finished = $4 \
             WHERE id = $5 AND status IN ('running', 'waiting')",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(state.to_string())
        .bind(now)
        .bind(run_id.to_string())
        .execute(&mut *w.tx)
        .await?;
        w.commit().await
    }

    /// Places a step's call: the call, its dial job and the step's durable state (which names the
    /// call) commit together, so a step re-run after a crash finds its call instead of placing
    /// another.
    #[allow(clippy::too_many_arguments)]
    pub async fn place_step_call(
        &self,
        team_id: &str,
        run_id: Uuid,
        seq: i64,
        interview_id: &str,
        contact: Contact,
        metadata: BTreeMap<String, String>,
        route: CallRoute,
        step_state: impl FnOnce(&Call) -> Value,
    ) -> Result<Call> {
        let mut w = self.begin_write().await?;
        let now = now_ms();
        let call = queued_call(
            CallType::PhoneCall,
            interview_id.to_string(),
            contact.phone_number.clone(),
            Some(contact),
            metadata,
            None,
            route,
            now,
        );
        insert_queued_call(
            &mut w.tx,
            team_id,
            &call,
            DIAL_JOB,
            &serde_json::json!({ "call_id": call.id }),
            now,
        )
        .await?;
        let state = step_state(&call);
        let r = sqlx::query("UPDATE automation_steps SET state = $1 WHERE run_id = $2 AND seq = $3")
            .bind(state.to_string())
            .bind(run_id.to_string())
            .bind(seq)
            .execute(&mut *w.tx)
            .await?;
        found(r.rows_affected())?;
        sqlx::query("UPDATE automation_runs SET waiting_call_id = $1 WHERE id = $2")
            .bind(call.id.to_string())
            .bind(run_id.to_string())
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        Ok(call)
    }

    /// Saves a step's durable state without finishing it (e.g. the next call attempt's time).
    pub async fn set_step_state(&self, run_id: Uuid, seq: i64, state: &Value) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query("UPDATE automation_steps SET state = $1 WHERE run_id = $2 AND seq = $3")
            .bind(state.to_string())
            .bind(run_id.to_string())
            .bind(seq)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }

    /// Cancels a run that has not finished; its job ends it at its next look.
    pub async fn cancel_run(&self, team_id: &str, id: Uuid) -> Result<RunRow> {
        let mut w = self.begin_write().await?;
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE automation_runs SET status = 'canceled', finished = $1, updated = $1 \
             WHERE id = $2 AND team_id = $3 AND status IN ('running', 'waiting')",
        )
        .bind(now)
        .bind(id.to_string())
        .bind(team_id)
        .execute(&mut *w.tx)
        .await?;
        if r.rows_affected() == 0 {
            // Missing (404) or already finished (409): tell them apart.
            let exists = sqlx::query("SELECT status FROM automation_runs WHERE id = $1 AND team_id = $2")
                .bind(id.to_string())
                .bind(team_id)
                .fetch_optional(&mut *w.tx)
                .await?;
            return match exists {
                None => Err(StoreError::NotFound),
                Some(r) => Err(StoreError::Conflict(format!(
                    "the run already ended ({})",
                    r.try_get::<String, _>("status")?
                ))),
            };
        }
        // Wake its job so a waiting run (a delay until next week) is closed now.
        sqlx::query(
            "UPDATE jobs SET run_at = $1 WHERE id = (SELECT job_id FROM automation_runs WHERE id = $2) \
             AND (locked_until IS NULL OR locked_until < $1)",
        )
        .bind(now)
        .bind(id.to_string())
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        self.run(team_id, id).await
    }

    /// Wakes the runs waiting for this call to end (their jobs run now instead of at their next poll).
    pub async fn wake_runs_waiting_on_call(&self, call_id: Uuid) -> Result<u64> {
        let mut w = self.begin_write().await?;
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE jobs SET run_at = $1 WHERE id IN (SELECT job_id FROM automation_runs WHERE waiting_call_id = $2 AND status = 'waiting') \
             AND (locked_until IS NULL OR locked_until < $1)",
        )
        .bind(now)
        .bind(call_id.to_string())
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        Ok(r.rows_affected())
    }

    /// Whether a team has live automations with one of these trigger types (the contact fast
    /// path skips event rows when none listens).
    pub async fn has_live_trigger(&self, team_id: &str, trigger_types: &[&str]) -> Result<bool> {
        if trigger_types.is_empty() {
            return Ok(false);
        }
        let marks: Vec<String> = (0..trigger_types.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT 1 AS one FROM automations WHERE team_id = $1 AND trigger_type IN ({}) AND mode = 'live' AND deleted = 0 LIMIT 1",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(team_id);
        for t in trigger_types {
            q = q.bind(*t);
        }
        Ok(q.fetch_optional(&self.pool).await?.is_some())
    }
}

fn begin_row(b: &BeginStep<'_>, now: i64) -> BeginRow {
    BeginRow {
        id: new_row_id().to_string(),
        run_id: b.run_id.to_string(),
        seq: b.seq,
        slug: b.slug.to_string(),
        step_type: b.step_type.to_string(),
        input: b.input.to_string(),
        now,
        wake_run: b.wake_run,
    }
}

fn step_end_row(e: &StepEnd, now: i64) -> StepEndRow {
    StepEndRow {
        seq: e.seq,
        status: e.status,
        output: e.output.as_ref().map(Value::to_string),
        error: e.error.clone(),
        state: e.state.as_ref().map(Value::to_string),
        due_at: e.due_at,
        now,
        unrecorded: e.unrecorded.as_ref().map(|u| UnrecordedRow {
            id: new_row_id().to_string(),
            slug: u.slug.clone(),
            step_type: u.step_type.clone(),
            input: u.input.to_string(),
            started: u.started,
        }),
    }
}

fn run_next_row(n: &RunNext, now: i64) -> RunNextRow {
    RunNextRow {
        status: n.status,
        state: n.state.clone(),
        waiting_call_id: n.waiting_call_id.clone(),
        wake_at: n.wake_at,
        error: n.error.clone(),
        action_failed: n.action_failed.as_ref().map(Value::to_string),
        now,
    }
}

async fn insert_version(tx: &mut Transaction<'_, Any>, id: &str, version: i64, spec: &Value, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO automation_versions (automation_id, version, body, created) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(version)
        .bind(spec.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Points the automation's schedule at `next` (or stops it): the old schedule job goes, a new
/// one is queued for the slot.
async fn set_schedule(
    tx: &mut Transaction<'_, Any>,
    team_id: &str,
    id: &str,
    next: Option<i64>,
    old_job: Option<&str>,
) -> Result<()> {
    if let Some(job) = old_job {
        sqlx::query("DELETE FROM jobs WHERE id = $1")
            .bind(job)
            .execute(&mut **tx)
            .await?;
    }
    let job = match next {
        Some(at) => Some(
            jobs::enqueue(
                tx,
                SCHEDULE_JOB,
                Some(team_id),
                &serde_json::json!({ "automation_id": id }),
                at,
            )
            .await?,
        ),
        None => None,
    };
    sqlx::query("UPDATE automations SET schedule_next_at = $1, schedule_job_id = $2 WHERE id = $3")
        .bind(next)
        .bind(job)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn json_opt(r: &sqlx::any::AnyRow, col: &str) -> Result<Option<Value>> {
    let s: Option<String> = r.try_get(col)?;
    Ok(match s {
        Some(s) => Some(serde_json::from_str(&s)?),
        None => None,
    })
}

fn automation_from_row(r: &sqlx::any::AnyRow) -> Result<AutomationRow> {
    Ok(AutomationRow {
        id: r.try_get("id")?,
        team_id: r.try_get("team_id")?,
        name: r.try_get("name")?,
        mode: r.try_get("mode")?,
        trigger_type: r.try_get("trigger_type")?,
        version: r.try_get("version")?,
        spec: serde_json::from_str(&r.try_get::<String, _>("body")?)?,
        sample_payload: json_opt(r, "sample_payload")?,
        schedule_next_at: r.try_get("schedule_next_at")?,
        created: r.try_get("created")?,
        updated: r.try_get("updated")?,
    })
}

/// A column holding one of an enum's names; another value is a corrupt row.
fn parsed<T>(r: &sqlx::any::AnyRow, column: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let s: String = r.try_get(column)?;
    parse(&s).ok_or_else(|| StoreError::Corrupt(format!("{column} {s:?}")))
}

fn run_from_row(r: &sqlx::any::AnyRow) -> Result<RunRow> {
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
