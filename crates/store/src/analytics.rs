//! What the dashboard's analytics count: a team's calls per agent and status, and per day, since
//! a time. Counts are grouped in SQL over the `(team_id, created)` index, so a team with 100,000
//! calls costs one scan of its rows in the period and no call bodies; only the turn-latency
//! median reads bodies, of a bounded number of recent calls per agent.

use crate::{Result, Store};
use parley_core::call::Call;
use sqlx::Row;

/// Calls of one agent with one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStatusCount {
    pub interview_id: String,
    pub title: String,
    pub status: String,
    pub count: i64,
}

/// Calls created on one UTC day (days since the epoch) with one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayStatusCount {
    pub day: i64,
    pub status: String,
    pub count: i64,
}

impl Store {
    /// Calls created at or after `since` (ms; `None`: all time), per agent and status.
    pub async fn calls_by_agent_status(&self, team_id: &str, since: Option<i64>) -> Result<Vec<AgentStatusCount>> {
        let rows = sqlx::query(
            "SELECT c.interview_id, COALESCE(MAX(i.title), '') AS title, c.status, COUNT(*) AS n \
             FROM calls c LEFT JOIN interviews i ON i.id = c.interview_id AND i.team_id = c.team_id \
             WHERE c.team_id = $1 AND c.created >= $2 GROUP BY c.interview_id, c.status ORDER BY c.interview_id, c.status",
        )
        .bind(team_id)
        .bind(since.unwrap_or(i64::MIN))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AgentStatusCount {
                    interview_id: r.try_get("interview_id")?,
                    title: r.try_get("title")?,
                    status: r.try_get("status")?,
                    count: r.try_get("n")?,
                })
            })
            .collect()
    }

    /// Calls created at or after `since` per UTC day and status, oldest day first.
    pub async fn calls_by_day_status(&self, team_id: &str, since: Option<i64>) -> Result<Vec<DayStatusCount>> {
        let rows = sqlx::query(
            "SELECT created / 86400000 AS day, status, COUNT(*) AS n FROM calls \
             WHERE team_id = $1 AND created >= $2 GROUP BY created / 86400000, status ORDER BY day, status",
        )
        .bind(team_id)
        .bind(since.unwrap_or(i64::MIN))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DayStatusCount {
                    day: r.try_get("day")?,
                    status: r.try_get("status")?,
                    count: r.try_get("n")?,
                })
            })
            .collect()
    }

    /// The total turn latency (ms) of every agent reply in the agent's `limit` most recent
    /// finished calls created at or after `since`.
    pub async fn recent_turn_latencies(
        &self,
        team_id: &str,
        interview_id: &str,
        since: Option<i64>,
        limit: i64,
    ) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT body FROM calls WHERE team_id = $1 AND interview_id = $2 AND created >= $3 AND progress = 'ended' \
             ORDER BY created DESC LIMIT $4",
        )
        .bind(team_id)
        .bind(interview_id)
        .bind(since.unwrap_or(i64::MIN))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let call: Call = serde_json::from_str(&r.try_get::<String, _>("body")?)?;
            out.extend(call.latency.iter().map(|l| l.total_ms));
        }
        Ok(out)
    }
}
