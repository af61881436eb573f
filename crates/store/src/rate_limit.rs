//! Rate limits: GCRA, the algorithm `governor` made common, in two places that agree.
//!
//! - [`gcra`]: the pure step, for limiters whose state lives in the process's memory (the API
//!   layer keeps those).
//! - [`Store::rate_limit_check`]: the same step on PostgreSQL, for quotas shared by every process
//!   on one database: the key's theoretical arrival time (`tat`) in a table, advanced by one
//!   atomic upsert per request.
//!
//! A quota of `limit` per `period_ms` emits one request every `t = period / limit` ms and lets a
//! key spend the whole quota at once (the burst tolerance is `limit * t`). A key whose `tat` is
//! in the past has its whole quota back, exactly as a key never seen: that is why forgetting such
//! keys ([`Store::rate_limit_sweep`]) changes no decision and bounds the table.
//!
//! The table is UNLOGGED: losing the last seconds of rate-limit state in a database crash is
//! harmless, and skipping the WAL keeps the per-request write cheap. Its key column is named
//! `team_id` for history; quotas other than a team's prefix their keys (`automation:…`), which
//! can never equal a team's UUID. SQLite deployments are one process, so they use the
//! in-process limiter and never touch this.

use crate::{Dialect, Result, Store};
use sqlx::Row;

/// The outcome of one request against a quota of `limit` per `period_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed: requests left right now, and ms until the whole quota is back.
    Allowed { remaining: u32, reset_ms: i64 },
    /// Refused: ms until one more request is allowed, and until the whole quota is back.
    Refused { retry_after_ms: i64, reset_ms: i64 },
}

/// The emission interval and the burst tolerance of `limit` per `period_ms`, both in ms.
fn interval(limit: u32, period_ms: i64) -> (i64, i64) {
    let t = (period_ms / limit.max(1) as i64).max(1);
    (t, t * limit.max(1) as i64)
}

/// One GCRA step at `now_ms` for a key whose theoretical arrival time is `tat` (`None`: a key
/// never seen, or forgotten). Returns the decision and, when allowed, the key's new `tat`.
pub fn gcra(tat: Option<i64>, limit: u32, period_ms: i64, now_ms: i64) -> (Decision, Option<i64>) {
    let (t, window) = interval(limit, period_ms);
    let new_tat = tat.unwrap_or(now_ms).max(now_ms) + t;
    if new_tat - now_ms <= window {
        (allowed(new_tat, limit, t, now_ms), Some(new_tat))
    } else {
        (refused(tat.unwrap_or(now_ms), t, window, now_ms), None)
    }
}

/// What [`gcra`] would answer now, without spending anything (`None`: a request would pass).
pub fn gcra_peek(tat: Option<i64>, limit: u32, period_ms: i64, now_ms: i64) -> Option<Decision> {
    match gcra(tat, limit, period_ms, now_ms) {
        (d @ Decision::Refused { .. }, _) => Some(d),
        _ => None,
    }
}

fn allowed(tat: i64, limit: u32, t: i64, now_ms: i64) -> Decision {
    let used = (tat - now_ms + t - 1) / t;
    Decision::Allowed {
        remaining: (limit as i64 - used).max(0) as u32,
        reset_ms: tat - now_ms,
    }
}

fn refused(tat: i64, t: i64, window: i64, now_ms: i64) -> Decision {
    Decision::Refused {
        retry_after_ms: (tat + t - window - now_ms).max(1),
        reset_ms: (tat - now_ms).max(1),
    }
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

    /// Counts one request of `key` against `limit` requests per `period_ms`, at `now_ms`
    /// (PostgreSQL only): [`gcra`] as one atomic statement.
    pub async fn rate_limit_check(&self, key: &str, limit: u32, period_ms: i64, now_ms: i64) -> Result<Decision> {
        let (t, window) = interval(limit, period_ms);
        // Advance tat only if the request fits: new_tat = max(tat, now) + T must be within now + window.
        let row = sqlx::query(
            "INSERT INTO rate_limits (team_id, tat) VALUES ($1, $2 + $3) \
             ON CONFLICT (team_id) DO UPDATE SET tat = GREATEST(rate_limits.tat, $2) + $3 \
             WHERE GREATEST(rate_limits.tat, $2) + $3 - $2 <= $4 \
             RETURNING tat",
        )
        .bind(key)
        .bind(now_ms)
        .bind(t)
        .bind(window)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(r) = row {
            return Ok(allowed(r.try_get("tat")?, limit, t, now_ms));
        }
        let tat: i64 = sqlx::query("SELECT tat FROM rate_limits WHERE team_id = $1")
            .bind(key)
            .fetch_one(&self.pool)
            .await?
            .try_get("tat")?;
        Ok(refused(tat, t, window, now_ms))
    }

    /// Forgets the keys whose whole quota is back at `now_ms` (PostgreSQL only; no decision
    /// changes): keeps the table as small as the keys seen within the last period.
    pub async fn rate_limit_sweep(&self, now_ms: i64) -> Result<u64> {
        if self.dialect != Dialect::Postgres {
            return Ok(0);
        }
        let done = sqlx::query("DELETE FROM rate_limits WHERE tat <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spends a key's quota like a client would: returns every decision.
    fn run(limit: u32, times: &[i64]) -> Vec<Decision> {
        let mut tat = None;
        times
            .iter()
            .map(|&now| {
                let (d, next) = gcra(tat, limit, 60_000, now);
                tat = next.or(tat);
                d
            })
            .collect()
    }

    #[test]
    fn the_whole_quota_at_once_then_one_per_interval() {
        let d = run(3, &[0, 0, 0, 0]);
        assert_eq!(
            d[0],
            Decision::Allowed {
                remaining: 2,
                reset_ms: 20_000
            }
        );
        assert_eq!(
            d[2],
            Decision::Allowed {
                remaining: 0,
                reset_ms: 60_000
            }
        );
        // Refused: one more in 20 s, all three back in 60 s.
        assert_eq!(
            d[3],
            Decision::Refused {
                retry_after_ms: 20_000,
                reset_ms: 60_000
            }
        );
        let d = run(3, &[0, 0, 0, 20_000, 20_000]);
        assert_eq!(
            d[3],
            Decision::Allowed {
                remaining: 0,
                reset_ms: 60_000
            }
        );
        assert_eq!(
            d[4],
            Decision::Refused {
                retry_after_ms: 20_000,
                reset_ms: 60_000
            }
        );
    }

    #[test]
    fn reset_is_when_the_whole_quota_is_back_not_the_next_request() {
        // 100 per minute: after the 100th request, Retry-After is 0.6 s but the reset is 60 s.
        let d = run(100, &[0; 101]);
        match d[100] {
            Decision::Refused {
                retry_after_ms,
                reset_ms,
            } => {
                assert_eq!((retry_after_ms, reset_ms), (600, 60_000));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn peek_spends_nothing() {
        let (_, tat) = gcra(None, 1, 60_000, 0);
        assert!(gcra_peek(None, 1, 60_000, 0).is_none());
        assert!(matches!(gcra_peek(tat, 1, 60_000, 10), Some(Decision::Refused { .. })));
        assert!(
            gcra_peek(tat, 1, 60_000, 60_000).is_none(),
            "a minute later the quota is back"
        );
    }
}
