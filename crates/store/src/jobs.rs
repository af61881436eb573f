//! The durable job queue: one table shared by webhook deliveries, dialing and, later, automation
//! steps and timers.
//!
//! A job is claimed by setting a lease (`locked_until`); a worker that dies leaves the lease to
//! expire and another worker takes the job again, so nothing is lost across crashes. On
//! PostgreSQL the claim uses `FOR UPDATE SKIP LOCKED`, so several processes never claim the same
//! job; on SQLite the single writer lock gives the same guarantee within a process.

use crate::{now_ms, Dialect, Result, Store};
use parley_core::ids::new_row_id;
use sqlx::{Any, Row, Transaction};

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub team_id: Option<String>,
    pub payload: serde_json::Value,
    /// How many times this job has been claimed, this claim included.
    pub attempts: i64,
}

/// Adds a job inside the caller's transaction, so the work and the row that needs it commit
/// together (a call is never queued without its dial job).
pub async fn enqueue(
    tx: &mut Transaction<'_, Any>,
    kind: &str,
    team_id: Option<&str>,
    payload: &serde_json::Value,
    run_at_ms: i64,
) -> Result<String> {
    let id = new_row_id().to_string();
    enqueue_with_id(tx, &id, kind, team_id, payload, run_at_ms).await?;
    Ok(id)
}

/// [`enqueue`] with an id chosen by the caller (a row that names its job before the job exists).
pub async fn enqueue_with_id(
    tx: &mut Transaction<'_, Any>,
    id: &str,
    kind: &str,
    team_id: Option<&str>,
    payload: &serde_json::Value,
    run_at_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO jobs (id, kind, team_id, payload, run_at, attempts, created) VALUES ($1, $2, $3, $4, $5, 0, $6)",
    )
    .bind(id)
    .bind(kind)
    .bind(team_id)
    .bind(serde_json::to_string(payload)?)
    .bind(run_at_ms)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Claims up to `limit` due jobs for `worker` with a lease of `lease_ms`.
    pub async fn claim_jobs(&self, worker: &str, lease_ms: i64, limit: i64) -> Result<Vec<Job>> {
        let now = now_ms();
        let lock = match self.dialect {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET locked_until = $1, locked_by = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jobs WHERE run_at <= $3 AND (locked_until IS NULL OR locked_until < $3) \
             ORDER BY run_at LIMIT $4{lock}) \
             RETURNING id, kind, team_id, payload, attempts"
        );
        let mut w = self.begin_write().await?;
        let rows = sqlx::query(&sql)
            .bind(now + lease_ms)
            .bind(worker)
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *w.tx)
            .await?;
        w.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(Job {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    team_id: r.try_get("team_id")?,
                    payload: serde_json::from_str(&r.try_get::<String, _>("payload")?)?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// Extends a running job's lease (a long job's heartbeat: a call in progress holds its dial
    /// job, so if the process dies the lease expires and the job's next run ends the lost call).
    pub async fn extend_lease(&self, id: &str, lease_ms: i64) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query("UPDATE jobs SET locked_until = $1 WHERE id = $2")
            .bind(now_ms() + lease_ms)
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }

    /// Hands back every job `worker` still holds (a stopping process's, once its own work has
    /// wound down): due at once for any process, instead of when the leases would run out.
    pub async fn release_jobs(&self, worker: &str) -> Result<u64> {
        let mut w = self.begin_write().await?;
        let done = sqlx::query("UPDATE jobs SET locked_until = NULL, locked_by = NULL WHERE locked_by = $1")
            .bind(worker)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        Ok(done.rows_affected())
    }

    /// The job is done: remove it.
    pub async fn complete_job(&self, id: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query("DELETE FROM jobs WHERE id = $1")
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }

    /// Runs the job again at `run_at_ms`, keeping the error for operators.
    pub async fn retry_job(&self, id: &str, run_at_ms: i64, error: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query(
            "UPDATE jobs SET run_at = $1, locked_until = NULL, locked_by = NULL, last_error = $2 WHERE id = $3",
        )
        .bind(run_at_ms)
        .bind(error)
        .bind(id)
        .execute(&mut *w.tx)
        .await?;
        w.commit().await
    }

    /// Jobs waiting or running, by kind (for `/metrics`).
    pub async fn job_queue_depth(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT kind, COUNT(*) AS n FROM jobs GROUP BY kind ORDER BY kind")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("kind")?, r.try_get("n")?))).collect()
    }

    /// When the next unclaimed job is due, to sleep exactly until then. Read in `run_at` order
    /// from its index, stopping at the first unclaimed row (a scan of the whole queue here cost
    /// milliseconds per loop with a backlog). A claimed job whose lease runs out is not looked
    /// for: the runner's poll interval bounds how late it is taken again.
    pub async fn next_job_due(&self) -> Result<Option<i64>> {
        let r = sqlx::query("SELECT run_at FROM jobs WHERE locked_until IS NULL ORDER BY run_at LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.map(|r| r.try_get::<i64, _>("run_at")).transpose()?)
    }
}
