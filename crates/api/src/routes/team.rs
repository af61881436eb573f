//! `/team…`: the caller's team as Settings → Developer shows it: its id and name, its API tokens
//! (create with a name, listed by prefix, revoke), its members and invites (owners only).

use crate::auth::Team;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::schemas::{Envelope, InviteView, MemberList, NewTokenView, Null, TeamInfo, TokenList};
use crate::{ok, AppState};
use axum::extract::{Path, State};
use axum::{Extension, Json};
use parley_core::account::{is_plausible_email, normalize_email, Role};
use parley_core::time::Timestamp;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for ("CRM sync"), at most 100 characters; none is an empty name.
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    #[schema(example = "sam@example.com")]
    pub email: String,
    /// `owner` or `member` (the default).
    pub role: Option<String>,
}

fn time(ms: i64) -> String {
    Timestamp(ms).to_rfc3339()
}

#[utoipa::path(get, path = "/team", tag = "team",
    responses((status = 200, description = "The caller's team: its id and name", body = Envelope<TeamInfo>)))]
pub async fn get_team(State(s): State<AppState>, Extension(team): Extension<Team>) -> ApiResult<Json<Value>> {
    let t = s.store.team(&team.id).await?;
    Ok(ok(json!({ "id": t.id, "name": t.name })))
}

#[utoipa::path(get, path = "/team/api_tokens", tag = "team",
    responses((status = 200, description = "The team's API tokens, oldest first, revoked ones included; never a secret", body = Envelope<TokenList>)))]
pub async fn list_tokens(State(s): State<AppState>, Extension(team): Extension<Team>) -> ApiResult<Json<Value>> {
    let tokens: Vec<Value> = s
        .store
        .list_tokens(&team.id)
        .await?
        .iter()
        .map(|t| {
            json!({ "id": t.id, "name": t.name, "prefix": t.prefix, "created": time(t.created),
                    "revoked": t.revoked.map(time) })
        })
        .collect();
    Ok(ok(json!({ "tokens": tokens })))
}

/// A new token: its secret is in this answer and nowhere else, ever.
#[utoipa::path(post, path = "/team/api_tokens", tag = "team", request_body = NewToken,
    responses((status = 200, description = "The new token with its secret (`token`), shown this once", body = Envelope<NewTokenView>),
              (status = 400, description = "name: at most 100 characters")))]
pub async fn create_token(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(b): ApiJson<NewToken>,
) -> ApiResult<Json<Value>> {
    let name = b.name.as_deref().map(str::trim).unwrap_or("");
    if name.chars().count() > 100 {
        return Err(ApiError::bad("name: at most 100 characters"));
    }
    let (id, secret) = s.store.create_token(&team.id).await?;
    s.store.name_token(&team.id, &id, name).await?;
    let prefix: String = secret.chars().take(11).collect();
    Ok(ok(json!({ "id": id, "name": name, "prefix": prefix, "token": secret })))
}

#[utoipa::path(delete, path = "/team/api_tokens/{id}", tag = "team",
    params(("id" = String, Path, description = "The token's id (from the list; not its secret)")),
    responses((status = 200, description = "Revoked at once, the token used for this request included: data null", body = Envelope<Null>),
              (status = 404, description = "Token not found (another team's, or already revoked)")))]
pub async fn revoke_token(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.store
        .revoke_team_token(&team.id, &id)
        .await
        .map_err(super::not_found("Token not found"))?;
    Ok(ok(Value::Null))
}

#[utoipa::path(get, path = "/team/members", tag = "team",
    responses((status = 200, description = "The team's members with their roles", body = Envelope<MemberList>)))]
pub async fn members(State(s): State<AppState>, Extension(team): Extension<Team>) -> ApiResult<Json<Value>> {
    let members: Vec<Value> = s
        .store
        .team_members(&team.id)
        .await?
        .iter()
        .map(|m| json!({ "user_id": m.user.id, "email": m.user.email, "name": m.user.name, "role": m.role.as_str() }))
        .collect();
    Ok(ok(json!({ "members": members })))
}

/// An invite: a one-time link that lets its holder set a password and join with `role`.
/// Parley sends no email: the owner passes the link on.
#[utoipa::path(post, path = "/team/invites", tag = "team", request_body = NewInvite,
    responses((status = 200, description = "A one-time link that lets its holder set a password and join with `role`", body = Envelope<InviteView>),
              (status = 400, description = "Not an email address, or a role other than owner or member"),
              (status = 403, description = "A signed-in member who is not an owner (an API token acts as the owner)")))]
pub async fn invite(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(b): ApiJson<NewInvite>,
) -> ApiResult<Json<Value>> {
    team.require_owner()?;
    let email = normalize_email(&b.email);
    if !is_plausible_email(&email) {
        return Err(ApiError::bad("email: not an email address"));
    }
    let role = match b.role.as_deref() {
        None => Role::Member,
        Some(r) => Role::parse(r).ok_or_else(|| ApiError::bad(format!("role: '{r}' is not owner or member")))?,
    };
    let token = s.store.create_account_link(&email, Some(&team.id), role).await?;
    let url = format!(
        "{}/app/welcome?token={token}",
        s.config.public_url.trim_end_matches('/')
    );
    Ok(ok(json!({ "email": email, "role": role.as_str(), "url": url })))
}
