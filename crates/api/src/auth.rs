//! Authentication and the per-team rate limit, one middleware in front of every team route.
//!
//! Auth: `x-api-token` and `team_id` (API.md); the token is looked up by its SHA-256 and the sent
//! team id compared in constant time. Any failure is the same 401, so a caller learns nothing
//! about which part was wrong; a header that is sent must be readable, even where it is optional.
//!
//! Failed attempts count against the source address's quota ([`crate::limits`]): past it the
//! address gets 429 before its token is even looked up, so an anonymous client cannot make the
//! server hash and look up tokens as fast as it likes. The team's own quota (N per minute, the
//! whole of it at once allowed) is counted once the team is known.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parley_core::ids;

/// The authenticated team of a request.
#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub allow_premium: bool,
    /// The team has its own LLM endpoint.
    pub has_llm: bool,
}

/// The value of a header sent under any of `names`: `Ok(None)` when none is sent, and a 401
/// when a value is not text (a header's bytes outside visible ASCII) or two values differ: a
/// credential the server cannot read, or two that disagree, is never ignored.
fn header<'a>(h: &'a HeaderMap, names: &[&str]) -> Result<Option<&'a str>, ApiError> {
    let mut found = None;
    for v in names.iter().flat_map(|n| h.get_all(*n)) {
        let v = v.to_str().map_err(|_| ApiError::Unauthorized)?.trim();
        if found.is_some_and(|f| f != v) {
            return Err(ApiError::Unauthorized);
        }
        found = Some(v);
    }
    Ok(found)
}

pub async fn authenticate(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    // An address that failed too often is refused before its token is hashed and looked up.
    let addr = crate::client_addr::of(&req, &s.config.trusted_proxies);
    if let Some(refused) = s.limits.auth_failures.peek(&addr) {
        return refused.into_response();
    }
    let team = match resolve_team(&s, req.headers()).await {
        Ok(t) => t,
        Err(ApiError::Unauthorized) => return failed(&s, &addr).await.into_response(),
        Err(e) => return e.into_response(),
    };
    tracing::Span::current().record("team_id", team.id.as_str());
    let allowance = match s.limits.team.check(&team.id).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(team);
    let mut res = next.run(req).await;
    if let Some(a) = allowance {
        a.apply(res.headers_mut());
    }
    res
}

/// A failed authentication from `addr`: counted against the address's quota of failures; the
/// 401, or the 429 once the quota is spent.
pub async fn failed(s: &AppState, addr: &str) -> ApiError {
    match s.limits.auth_failures.check(addr).await {
        Err(refused) => refused,
        Ok(_) => ApiError::Unauthorized,
    }
}

async fn resolve_team(s: &AppState, h: &HeaderMap) -> Result<Team, ApiError> {
    let token = header(h, &["x-api-token"])?
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    // `team_id` as API.md names it; `team-id` too, since some proxies drop underscored headers.
    // Every value sent under either name must be readable and the same.
    let sent_team = header(h, &["team_id", "team-id"])?;
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
