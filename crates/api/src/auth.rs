//! Authentication and the per-team rate limit, one middleware in front of every team route.
//!
//! Auth: `x-api-token` and `team_id` (API.md); the token is looked up by its SHA-256 and the sent
//! team id compared in constant time. Any failure is the same 401, so a caller learns nothing
//! about which part was wrong; a header that is sent must be readable, even where it is optional.
//!
//! The dashboard calls the same routes with a session cookie instead of a token
//! ([`crate::session`]): `team_id` is then required and must be a team the user is a member of
//! (any other is the same 401), and a state-changing request must carry the session's CSRF token
//! (403 without it). A token, when one is sent, always wins over a cookie.
//!
//! Failed attempts count against the source address's quota ([`crate::limits`]): past it the
//! address gets 429 before its token is even looked up, so an anonymous client cannot make the
//! server hash and look up tokens as fast as it likes. The team's own quota (N per minute, the
//! whole of it at once allowed) is counted once the team is known.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parley_core::account::Role;
use parley_core::ids;

/// The authenticated team of a request.
#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub allow_premium: bool,
    /// The team has its own LLM endpoint.
    pub has_llm: bool,
    /// The person behind a dashboard request (`None` for an API token).
    pub member: Option<Member>,
}

/// A signed-in member of the team, on requests the dashboard makes.
#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: String,
    pub role: Role,
}

impl Team {
    /// Owners only: managing members and invites. A token acts for the whole team, as its owner.
    pub fn require_owner(&self) -> Result<(), ApiError> {
        match &self.member {
            Some(m) if m.role != Role::Owner => Err(ApiError::Forbidden("Only an owner of the team can do this.")),
            _ => Ok(()),
        }
    }
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
    let team = match resolve_team(&s, req.method(), req.headers()).await {
        Ok(t) => t,
        Err(ApiError::Unauthorized) => return failed(&s, &addr).await.into_response(),
        Err(e) => return e.into_response(),
    };
    tracing::Span::current().record("team_id", team.id.as_str());
    // A person in the dashboard has a quota of their own: the team's (API.md's 100 a minute) is
    // for its integrations, which a busy dashboard tab must not use up, nor be starved by.
    let quota = match &team.member {
        Some(m) => s.limits.dashboard.check(&m.user_id).await,
        None => s.limits.team.check(&team.id).await,
    };
    let allowance = match quota {
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

/// The team of a request authenticated as the team routes are (token or session, the quota of
/// failures), for a route outside them that authenticates itself (`GET /user`).
pub async fn team_of_request<B>(s: &AppState, req: &axum::http::Request<B>) -> Result<Team, ApiError> {
    let addr = crate::client_addr::of(req, &s.config.trusted_proxies);
    if let Some(refused) = s.limits.auth_failures.peek(&addr) {
        return Err(refused);
    }
    match resolve_team(s, req.method(), req.headers()).await {
        Err(ApiError::Unauthorized) => Err(failed(s, &addr).await),
        other => other,
    }
}

/// A failed authentication from `addr`: counted against the address's quota of failures; the
/// 401, or the 429 once the quota is spent.
pub async fn failed(s: &AppState, addr: &str) -> ApiError {
    match s.limits.auth_failures.check(addr).await {
        Err(refused) => refused,
        Ok(_) => ApiError::Unauthorized,
    }
}

async fn resolve_team(s: &AppState, method: &Method, h: &HeaderMap) -> Result<Team, ApiError> {
    let token = header(h, &["x-api-token"])?.filter(|t| !t.is_empty());
    let token = match (token, crate::session::cookie(h)) {
        (Some(token), _) => token,
        (None, Some(cookie)) => return by_session(s, method, h, cookie).await,
        (None, None) => return Err(ApiError::Unauthorized),
    };
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
        member: None,
    })
}

/// A dashboard request: the session's user, in the team it names, if a member of it.
async fn by_session(s: &AppState, method: &Method, h: &HeaderMap, cookie: &str) -> Result<Team, ApiError> {
    let session = s.store.session(cookie).await?.ok_or(ApiError::Unauthorized)?;
    let team_id = header(h, &["team_id", "team-id"])?.ok_or(ApiError::Unauthorized)?;
    let role = s
        .store
        .role_in_team(&session.user.id, team_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if crate::session::needs_csrf(method) {
        crate::session::check_csrf(h, &session.csrf_token)?;
    }
    let team = s.store.team(team_id).await?;
    Ok(Team {
        id: team.id,
        allow_premium: team.allow_premium,
        has_llm: team.llm.is_some(),
        member: Some(Member {
            user_id: session.user.id,
            role,
        }),
    })
}
