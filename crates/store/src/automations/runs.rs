//! Runs: their start and each later record (through the run journal), their reads, their end,
//! cancel and wake-up, and the call a step places.

use super::RUN_JOB;
use crate::calls::{insert_queued_call, queued_call, DIAL_JOB};
use crate::journal::{unexpected, AdvanceRow, Op, Reply, StartRow};
use crate::records::contact_writes::Tagged;
use crate::records::runs::*;
use crate::{found, now_ms, Result, Store, StoreError};
use parley_core::call::{Call, CallType};
use parley_core::contact::Contact;
use parley_core::ids::new_row_id;
use parley_core::number::CallRoute;
use parley_core::run::RunStatus;
use serde_json::Value;
use sqlx::Row;
use std::collections::BTreeMap;
use uuid::Uuid;

impl Store {
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
    pub async fn advance(&self, a: Advance) -> Result<Advanced> {
        if a.next.is_none() && !a.ended.is_empty() {
            return Err(StoreError::Corrupt("ended steps without the run's next state".into()));
        }
        let row = AdvanceRow {
            advance: a,
            now: now_ms(),
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
        let mut call = queued_call(
            CallType::PhoneCall,
            interview_id.to_string(),
            contact.phone_number.clone(),
            Some(contact),
            metadata,
            None,
            route,
            now,
        );
        let call_id = call.id;
        insert_queued_call(
            &mut w.tx,
            team_id,
            &mut call,
            DIAL_JOB,
            &serde_json::json!({ "call_id": call_id }),
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
}
