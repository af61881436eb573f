//! A rate limit shared by every process on one PostgreSQL: GCRA (the algorithm `governor` uses
//! in process) with the team's theoretical arrival time (`tat`) in a table, advanced by one
//! atomic upsert per request.
//!
//! The table is UNLOGGED: losing the last seconds of rate-limit state in a database crash is
//! harmless, and skipping the WAL keeps the per-request write cheap. SQLite deployments are one
//! process, so they use the in-process limiter and never touch this.

use crate::{Dialect, Result, Store};
use sqlx::Row;

/// The outcome of one request against a quota of `limit` per `period_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed: requests left right now, and ms until the whole quota is back.
    Allowed { remaining: u32, reset_ms: i64 },
    /// Refused: ms until one more request is allowed.
    Refused { retry_after_ms: i64 },
}

impl Store {
    /// Creates the shared limiter's table (PostgreSQL only; idempotent).
    pub(crate) async fn migrate_rate_limit(&self) -> Result<()> {
        if self.dialect == Dialect::Postgres {
            sqlx::query(
                "CREATE UNLOGGED TABLE IF NOT EXISTS rate_limits (team_id TEXT PRIMARY KEY, tat BIGINT NOT NULL)",
            )
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Counts one request of `team_id` against `limit` requests per `period_ms`, at `now_ms`.
    pub async fn rate_limit_check(&self, team_id: &str, limit: u32, period_ms: i64, now_ms: i64) -> Result<Decision> {
        let t = (period_ms / limit.max(1) as i64).max(1); // emission interval
        let window = t * limit as i64; // burst tolerance: the whole quota at once
                                       // Advance tat only if the request fits: new_tat = max(tat, now) + T must be within now + window.
        let row = sqlx::query(
            "INSERT INTO rate_limits (team_id, tat) VALUES ($1, $2 + $3) \
             ON CONFLICT (team_id) DO UPDATE SET tat = GREATEST(rate_limits.tat, $2) + $3 \
             WHERE GREATEST(rate_limits.tat, $2) + $3 - $2 <= $4 \
             RETURNING tat",
        )
        .bind(team_id)
        .bind(now_ms)
        .bind(t)
        .bind(window)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(r) = row {
            let tat: i64 = r.try_get("tat")?;
            let used = (tat - now_ms + t - 1) / t;
            return Ok(Decision::Allowed {
                remaining: (limit as i64 - used).max(0) as u32,
                reset_ms: tat - now_ms,
            });
        }
        let tat: i64 = sqlx::query("SELECT tat FROM rate_limits WHERE team_id = $1")
            .bind(team_id)
            .fetch_one(&self.pool)
            .await?
            .try_get("tat")?;
        Ok(Decision::Refused {
            retry_after_ms: (tat + t - window - now_ms).max(1),
        })
    }
}
