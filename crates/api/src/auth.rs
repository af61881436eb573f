//! Authentication and the per-team rate limit, one middleware in front of every team route.
//!
//! Auth: `x-api-token` and `team_id` (API.md); the token is looked up by its SHA-256 and the sent
//! team id compared in constant time. Any failure is the same 401, so a caller learns nothing
//! about which part was wrong.
//!
//! Rate limit: `governor`'s GCRA keyed by team, quota N per minute with a burst of N: a team may
//! send N requests at once, then one more every 60/N seconds. On SQLite (one process) the state is
//! in memory; on PostgreSQL it is in the database, so several processes share one quota.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use parley_core::ids;
use parley_store::rate_limit::Decision;
use parley_store::{Dialect, Store};
use std::num::NonZeroU32;
use std::sync::Arc;

/// The authenticated team of a request.
#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub allow_premium: bool,
    /// The team has its own LLM endpoint.
    pub has_llm: bool,
}

type Limiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

#[derive(Clone)]
pub struct TeamRateLimit {
    per_minute: u32,
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Off,
    /// One process (SQLite): `governor` in memory.
    Local(Arc<Limiter>, DefaultClock),
    /// Several processes on one PostgreSQL: the same algorithm with its state in the database.
    Shared(Store),
}

impl TeamRateLimit {
    /// `per_minute == 0` turns the limit off (benchmarks).
    pub fn new(per_minute: u32, store: &Store) -> Self {
        let backend = match NonZeroU32::new(per_minute) {
            None => Backend::Off,
            Some(_) if store.dialect() == Dialect::Postgres => Backend::Shared(store.clone()),
            Some(n) => Backend::Local(
                Arc::new(RateLimiter::keyed(Quota::per_minute(n)).with_middleware::<StateInformationMiddleware>()),
                DefaultClock::default(),
            ),
        };
        TeamRateLimit { per_minute, backend }
    }

    /// Ok with (remaining, seconds until the full quota is back), or the error with Retry-After.
    async fn check(&self, team: &str) -> Result<Option<(u32, u64)>, ApiError> {
        let secs = |ms: i64| (ms.max(0) as u64).div_ceil(1000);
        match &self.backend {
            Backend::Off => Ok(None),
            Backend::Local(l, clock) => match l.check_key(&team.to_string()) {
                Ok(snap) => {
                    let remaining = snap.remaining_burst_capacity();
                    let per_cell_ms = 60_000 / self.per_minute as i64;
                    Ok(Some((
                        remaining,
                        secs((self.per_minute - remaining) as i64 * per_cell_ms),
                    )))
                }
                Err(not_until) => {
                    let wait = not_until.wait_time_from(clock.now());
                    Err(ApiError::RateLimited {
                        retry_after_s: secs(wait.as_millis() as i64).max(1),
                    })
                }
            },
            Backend::Shared(store) => {
                match store
                    .rate_limit_check(team, self.per_minute, 60_000, parley_store::now_ms())
                    .await?
                {
                    Decision::Allowed { remaining, reset_ms } => Ok(Some((remaining, secs(reset_ms)))),
                    Decision::Refused { retry_after_ms } => Err(ApiError::RateLimited {
                        retry_after_s: secs(retry_after_ms).max(1),
                    }),
                }
            }
        }
    }

    /// Drops the state of teams that have not been seen for a while, bounding memory.
    pub fn housekeep(&self) {
        if let Backend::Local(l, _) = &self.backend {
            l.retain_recent();
        }
    }
}

fn header<'a>(h: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| h.get(*n))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

pub async fn authenticate(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let team = match resolve_team(&s, req.headers()).await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    tracing::Span::current().record("team_id", team.id.as_str());
    let limit_headers = match s.rate_limit.check(&team.id).await {
        Ok(h) => h,
        Err(e) => {
            let mut res = e.into_response();
            let retry = retry_of(&res);
            add_limit_headers(res.headers_mut(), s.rate_limit.per_minute, Some((0, retry)));
            return res;
        }
    };
    req.extensions_mut().insert(team);
    let mut res = next.run(req).await;
    if let Some(h) = limit_headers {
        add_limit_headers(res.headers_mut(), s.rate_limit.per_minute, Some(h));
    }
    res
}

fn retry_of(res: &Response) -> u64 {
    res.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

fn add_limit_headers(h: &mut HeaderMap, limit: u32, state: Option<(u32, u64)>) {
    if let Some((remaining, reset)) = state {
        h.insert("x-ratelimit-limit", HeaderValue::from(limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(reset));
    }
}

async fn resolve_team(s: &AppState, h: &HeaderMap) -> Result<Team, ApiError> {
    let token = header(h, &["x-api-token"])
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    // `team_id` as API.md names it; `team-id` too, since some proxies drop underscored headers.
    let sent_team = header(h, &["team_id", "team-id"]);
    if sent_team.is_none() && s.config.require_team_header {
        return Err(ApiError::Unauthorized);
    }
    if token.len() > 200 {
        return Err(ApiError::Unauthorized);
    }
    let team = s
        .store
        .team_of_token_hash(&ids::hash_token(token))
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if let Some(sent) = sent_team {
        if !ids::ct_eq(sent, &team.team_id) {
            return Err(ApiError::Unauthorized);
        }
    }
    Ok(Team {
        id: team.team_id,
        allow_premium: team.allow_premium,
        has_llm: team.has_llm,
    })
}
