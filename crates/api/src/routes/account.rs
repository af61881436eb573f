//! `/auth/…` and `/user`: signing in and out of the dashboard, redeeming a one-time link, and who
//! the caller is.
//!
//! These sit on the public routes (per-address quota) and authenticate themselves: `/auth/login`
//! and `/auth/redeem` are how a session starts, and `/user` answers both a session (the
//! dashboard, which needs no team header to learn its teams) and a token (Thoughtly's endpoint).
//!
//! Failed sign-ins are limited twice: per source address (the API's quota of failed
//! authentications) and per email address (in each process's memory), so neither
//! one address trying many accounts nor many addresses trying one account gets far. Both are
//! checked before the password is hashed.

use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::schemas::{CurrentUser, Envelope, Null, SignedIn};
use crate::session::{self, SESSION_TTL_MS};
use crate::{ok, AppState};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use parley_core::account::normalize_email;
use parley_store::accounts::User;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// At most 254 bytes (no account has a longer one).
    #[schema(example = "sam@example.com")]
    pub email: String,
    /// At most 256 bytes.
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemBody {
    /// The `token` of the link (`…/app/welcome?token=…`).
    pub token: String,
    /// The password to set: at least 8 characters, at most 256 bytes.
    #[schema(min_length = 8)]
    pub password: String,
    /// The name to show, at most 200 characters (once trimmed).
    pub name: Option<String>,
}

fn user_json(u: &User) -> Value {
    json!({ "id": u.id, "email": u.email, "name": u.name })
}

/// A success that also starts a session: the envelope and its cookie.
async fn signed_in(s: &AppState, user: &User) -> ApiResult<Response> {
    let new = s.store.create_session(&user.id, SESSION_TTL_MS).await?;
    let mut res = ok(json!({ "user": user_json(user) })).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        session::set_cookie(Some(&new.cookie), s.config.secure_cookies),
    );
    Ok(res)
}

/// Refused before any quota or password work: no account's email is longer (invites and the
/// command line check it), and the per-email quota must not keep arbitrarily long keys.
const MAX_EMAIL_BYTES: usize = 254;

#[utoipa::path(post, path = "/auth/login", tag = "account", request_body = LoginBody, security(()),
    responses((status = 200, description = "Signed in: the user; the session is the cookie", body = Envelope<SignedIn>, headers(("Set-Cookie" = String, description = "The session: `parley_session=…; Path=/; HttpOnly; SameSite=Lax`"))),
              (status = 400, description = "Not a JSON object of email and password, an email over 254 bytes, a password over 256 bytes"),
              (status = 401, description = "Wrong email or password (one answer for both)"),
              (status = 413, description = "Body over the size limit"),
              (status = 429, description = "Too many failed sign-ins from this address, or for this email (`Retry-After`)")))]
pub async fn login(State(s): State<AppState>, req: Request) -> ApiResult<Response> {
    let addr = crate::client_addr::of(&req, &s.config.trusted_proxies);
    let bytes = axum::body::to_bytes(req.into_body(), s.config.max_body_bytes)
        .await
        .map_err(|_| ApiError::PayloadTooLarge("Request body too large".into()))?;
    let b: LoginBody = crate::extract::parse_json(&bytes)?;
    let email = normalize_email(&b.email);
    if email.len() > MAX_EMAIL_BYTES {
        return Err(ApiError::bad(format!("email: at most {MAX_EMAIL_BYTES} bytes")));
    }
    if let Some(refused) = s.limits.auth_failures.peek(&addr) {
        return Err(refused);
    }
    if let Some(refused) = s.limits.logins.peek(&email) {
        return Err(refused);
    }
    if b.password.len() > session::MAX_PASSWORD_BYTES {
        return Err(ApiError::bad(format!(
            "password: at most {} bytes",
            session::MAX_PASSWORD_BYTES
        )));
    }
    let found = s.store.user_password(&email).await?;
    let (user, stored) = match found {
        Some((u, h)) => (Some(u), Some(h)),
        None => (None, None),
    };
    let user = match user {
        Some(u) if session::verify_password(b.password, stored).await => u,
        _ => {
            // Verified against a dummy hash when there is no such user: same time either way.
            if user.is_none() {
                let _ = session::verify_password(String::new(), None).await;
            }
            s.limits.logins.check(&email).await?;
            return Err(match crate::auth::failed(&s, &addr).await {
                ApiError::Unauthorized => ApiError::SignInFailed,
                other => other,
            });
        }
    };
    signed_in(&s, &user).await
}

#[utoipa::path(post, path = "/auth/logout", tag = "account", security(()),
    responses((status = 200, description = "Signed out (also without a session): data null; the session ends and its cookie is cleared", body = Envelope<Null>,
               headers(("Set-Cookie" = String, description = "`parley_session=; Max-Age=0`")))))]
pub async fn logout(State(s): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(c) = session::cookie(&headers) {
        s.store.end_session(c).await?;
    }
    let mut res = ok(Value::Null).into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, session::set_cookie(None, s.config.secure_cookies));
    Ok(res)
}

/// One message for an unknown, used or expired link: the holder learns nothing more.
const LINK_USED: &str = "this link was already used or has expired; ask for a new one";

#[utoipa::path(post, path = "/auth/redeem", tag = "account", request_body = RedeemBody, security(()),
    responses((status = 200, description = "The password is set (an invite also joins the team) and the user signed in", body = Envelope<SignedIn>, headers(("Set-Cookie" = String, description = "The session: `parley_session=…; Path=/; HttpOnly; SameSite=Lax`"))),
              (status = 400, description = "Password under 8 characters or over 256 bytes, name over 200 characters, or a link already used, expired or unknown (`link_used`)"),
              (status = 413, description = "Body over the size limit"), (status = 415, description = "Not a JSON body")))]
pub async fn redeem(State(s): State<AppState>, ApiJson(b): ApiJson<RedeemBody>) -> ApiResult<Response> {
    session::check_password(&b.password)?;
    let name = b.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.chars().count() > 200) {
        return Err(ApiError::bad("name: at most 200 characters"));
    }
    if b.token.len() > 200 {
        return Err(ApiError::bad("token: not a sign-in link's token"));
    }
    // The link first (one indexed read): a made-up token must not cost an Argon2 hash. The
    // redeem below checks it again inside its transaction.
    if !s.store.account_link_is_live(&b.token).await? {
        return Err(ApiError::bad_with(LINK_USED, "link_used"));
    }
    let hash = session::hash_password(b.password).await?;
    let user = s
        .store
        .redeem_account_link(&b.token, &hash, name)
        .await
        .map_err(|e| match e {
            parley_store::StoreError::Conflict(_) => ApiError::bad_with(LINK_USED, "link_used"),
            other => other.into(),
        })?;
    signed_in(&s, &user).await
}

/// `GET /user`: the signed-in user with their teams and the session's CSRF token; or, with an
/// API token, the team's owner and that one team.
#[utoipa::path(get, path = "/user", tag = "account", security(("session" = []), ("api_token" = [], "team_id" = [])),
    responses((status = 200, description = "With a session: the user, their teams and the CSRF token; with an API token: the team's owner and that team", body = Envelope<CurrentUser>),
              (status = 401, description = "Neither a live session nor a valid token and team"),
              (status = 429, description = "Too many failed authentications from this address")))]
pub async fn user(State(s): State<AppState>, req: Request) -> ApiResult<Json<Value>> {
    // Without its body (not `Sync`): the headers are borrowed across the awaits below.
    let req = Request::from_parts(req.into_parts().0, ());
    let h = req.headers();
    let has_token = h.get("x-api-token").is_some_and(|v| !v.is_empty());
    if !has_token {
        if let Some(cookie) = session::cookie(h) {
            let sess = s.store.session(cookie).await?.ok_or(ApiError::Unauthorized)?;
            let teams: Vec<Value> = s
                .store
                .memberships(&sess.user.id)
                .await?
                .iter()
                .map(|m| json!({ "id": m.team_id, "name": m.team_name, "role": m.role.as_str() }))
                .collect();
            let mut u = user_json(&sess.user);
            u["teams"] = Value::Array(teams);
            u["csrf_token"] = Value::String(sess.csrf_token);
            return Ok(ok(u));
        }
    }
    // Token: the same checks as every team route (both headers, the failure quota).
    let team = crate::auth::team_of_request(&s, &req).await?;
    let t = s.store.team(&team.id).await?;
    let owner = s.store.team_owner(&team.id).await?;
    Ok(ok(json!({
        "id": owner.as_ref().map(|u| u.id.clone()),
        "email": owner.as_ref().map(|u| u.email.clone()),
        "name": owner.as_ref().map(|u| u.name.clone()),
        "teams": [{ "id": t.id, "name": t.name, "role": "owner" }],
    })))
}
