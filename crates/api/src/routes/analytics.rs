//! `GET /analytics` (Parley addition): the dashboard's per-agent tiles and calls per day, for
//! the last day, week, month or all time.
//!
//! Rates, as the tiles define them: a call is *picked up* when a person answered (`ENDED` or
//! `TRANSFERRED`); the pickup rate is picked-up calls over finished calls, the transfer rate
//! transferred calls over picked-up ones. The median turn latency is over the agent replies of
//! the agent's 200 most recent finished calls in the period. Days are UTC days.

use crate::auth::Team;
use crate::error::{ApiError, ApiResult};
use crate::extract::Params;
use crate::schemas::{Analytics, Envelope};
use crate::{ok, AppState};
use axum::extract::State;
use axum::{Extension, Json};
use parley_core::call::CallStatus;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const DAY_MS: i64 = 86_400_000;

// The values of `period`, for the document (the handler matches the words).
/// A period ending now.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[expect(dead_code, reason = "documentation only")]
enum Period {
    Day,
    Week,
    Month,
    All,
}
/// Calls per agent whose turn latencies the median reads.
const LATENCY_CALLS: i64 = 200;

#[derive(Default)]
struct Tile {
    title: String,
    calls: i64,
    finished: i64,
    ended: i64,
    no_answer: i64,
    transferred: i64,
}

fn rate(part: i64, whole: i64) -> Value {
    if whole == 0 {
        Value::Null
    } else {
        json!(part as f64 / whole as f64)
    }
}

fn median(mut v: Vec<i64>) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    v.sort_unstable();
    json!(v[v.len() / 2])
}

#[utoipa::path(get, path = "/analytics", tag = "analytics",
    params(("period" = inline(Option<Period>), Query, description = "The last 24 hours, 7 days (the default), 30 days, or all time")),
    responses((status = 200, description = "{agents, per_day}: a tile per agent with calls in the period, and calls per UTC day and status", body = Envelope<Analytics>),
              (status = 400, description = "period is not day, week, month or all")))]
pub async fn analytics(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let now = parley_store::now_ms();
    let since = match p.get("period").unwrap_or("week") {
        "day" => Some(now - DAY_MS),
        "week" => Some(now - 7 * DAY_MS),
        "month" => Some(now - 30 * DAY_MS),
        "all" => None,
        other => {
            return Err(ApiError::bad(format!(
                "period: '{}' is not day, week, month or all",
                crate::extract::excerpt(other)
            )))
        }
    };
    let mut tiles: BTreeMap<String, Tile> = BTreeMap::new();
    for c in s.store.calls_by_agent_status(&team.id, since).await? {
        let t = tiles.entry(c.interview_id).or_default();
        t.title = c.title;
        t.calls += c.count;
        let status = CallStatus::parse(&c.status);
        if status.is_some_and(CallStatus::is_final) {
            t.finished += c.count;
        }
        match status {
            Some(CallStatus::Ended) => t.ended += c.count,
            Some(CallStatus::NoAnswer) => t.no_answer += c.count,
            Some(CallStatus::Transferred) => t.transferred += c.count,
            _ => {}
        }
    }
    let mut agents = Vec::with_capacity(tiles.len());
    for (id, t) in tiles {
        let latencies = s
            .store
            .recent_turn_latencies(&team.id, &id, since, LATENCY_CALLS)
            .await?;
        let picked_up = t.ended + t.transferred;
        agents.push(json!({
            "interview_id": id, "title": t.title, "calls": t.calls, "ended": t.ended,
            "no_answer": t.no_answer, "pickup_rate": rate(picked_up, t.finished),
            "transfer_rate": rate(t.transferred, picked_up), "median_turn_latency_ms": median(latencies),
        }));
    }
    let per_day: Vec<Value> = s
        .store
        .calls_by_day_status(&team.id, since)
        .await?
        .into_iter()
        .map(|d| {
            let date = chrono::DateTime::from_timestamp(d.day * 86_400, 0)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            json!({ "date": date, "status": d.status, "count": d.count })
        })
        .collect();
    Ok(ok(json!({ "agents": agents, "per_day": per_day })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_medians_say_nothing_without_data() {
        assert_eq!(rate(1, 0), Value::Null);
        assert_eq!(rate(1, 4), json!(0.25));
        assert_eq!(median(vec![]), Value::Null);
        assert_eq!(median(vec![900, 100, 500]), json!(500));
    }
}
