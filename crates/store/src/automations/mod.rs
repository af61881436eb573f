//! Automations, their versions, runs and recorded steps; the events that fire triggers.
//!
//! The store keeps automations as JSON it does not interpret (the `automation` crate owns the
//! model); what it guarantees is transactional: a run is inserted with its job, a firing is
//! idempotent (`trigger_key`), a step's completion and the run's next state commit together, and
//! a call placed by a step is recorded in the step in the same transaction that queues the call,
//! so a restarted run never places it twice.
//!
//! Parts: `runs` (the runs' repository; their rows and records are `crate::records::runs`,
//! shared with the run journal); this module holds the automations' own.

mod runs;

pub use crate::records::contact_writes::{TagChange, TagEdit};
use crate::records::runs::json_opt;
pub use crate::records::runs::{
    Advance, Advanced, BeginStep, NewRun, RunNext, RunRow, StartedRun, StepEnd, StepRow, UnrecordedStep, WorkerRun,
};

use crate::{found, jobs, now_ms, Result, Store, StoreError};
use serde_json::Value;
use sqlx::{Any, Row, Transaction};

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

const AUTOMATION_COLUMNS: &str =
    "id, team_id, name, mode, trigger_type, version, body, sample_payload, schedule_next_at, created, updated";

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
