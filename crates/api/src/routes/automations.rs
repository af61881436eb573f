//! `/automation…`, `/automation_run…` and the public `POST /webhook/automation/{id}` (API.md
//! "Automations"). The automation crate does the work; this module maps HTTP onto it.
//!
//! The webhook URL carries no auth headers (integrations post to it as it is); an automation
//! can require the team's `x-api-token` on it. It is outside the per-team rate limit of the
//! authenticated routes; instead each automation has its own quota
//! (`PARLEY_WEBHOOK_RATE_LIMIT_PER_MINUTE`), each source address another (the public routes'),
//! and a wrong token counts as a failed authentication of the address. The body size limit
//! applies (413).
//!
//! An anonymous caller learns nothing about a team's automations beyond "a live or draft
//! webhook automation has this id": a malformed id, an unknown one and one triggered otherwise
//! all get the same 404, after the same quota check.

use crate::auth::Team;
use crate::client_addr::ClientAddr;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Params};
use crate::{ok, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use parley_automation::service::Fired;
use parley_automation::AutomationError;
use serde_json::{json, Value};

const RUN_404: &str = "Run not found";
const AUTOMATION_404: &str = "Automation not found";

/// An automation id's shape (`parley_core::ids::new_automation_id`): 12 ASCII letters and digits.
fn is_automation_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn run_err(e: AutomationError) -> ApiError {
    match e {
        AutomationError::NotFound => ApiError::NotFound(RUN_404),
        other => other.into(),
    }
}

#[utoipa::path(get, path = "/automation", tag = "automations",
    responses((status = 200, description = "The team's automations, newest first")))]
pub async fn list(State(s): State<AppState>, Extension(team): Extension<Team>) -> ApiResult<Json<Value>> {
    Ok(ok(s.automations.list(&team.id).await?))
}

#[utoipa::path(post, path = "/automation", tag = "automations", request_body = Object,
    responses((status = 200, description = "The saved automation (version 1)"),
              (status = 400, description = "Every problem of the graph, located by step (`problems`)")))]
pub async fn create(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    Ok(ok(s.automations.create(&team.id, body).await?))
}

#[utoipa::path(get, path = "/automation/{id}", tag = "automations",
    responses((status = 200, description = "The automation"), (status = 404, description = "Automation not found")))]
pub async fn get_one(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(ok(s.automations.get(&team.id, &id).await?))
}

#[utoipa::path(post, path = "/automation/{id}/update", tag = "automations", request_body = Object,
    responses((status = 200, description = "The new version; runs in flight keep theirs"),
              (status = 400, description = "Every problem, located by step"), (status = 404, description = "Automation not found")))]
pub async fn update(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    Ok(ok(s.automations.update(&team.id, &id, &body).await?))
}

#[utoipa::path(delete, path = "/automation/{id}", tag = "automations",
    responses((status = 200, description = "Deleted"), (status = 404, description = "Automation not found")))]
pub async fn delete_one(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.automations.delete(&team.id, &id).await?;
    Ok(ok(json!({ "id": id, "deleted": true })))
}

#[utoipa::path(get, path = "/automation/{id}/runs", tag = "automations",
    params(("page" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, description = "Runs, newest first")))]
pub async fn runs(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let (page, limit) = p.paging(50, 100)?;
    Ok(ok(s.automations.runs(&team.id, &id, page, limit).await?))
}

#[utoipa::path(get, path = "/automation_run/{id}", tag = "automations",
    responses((status = 200, description = "The run with each step's input, output, error, attempt and timing"),
              (status = 404, description = "Run not found")))]
pub async fn get_run(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(ok(s.automations.run(&team.id, &id).await.map_err(run_err)?))
}

#[utoipa::path(post, path = "/automation_run/{id}/cancel", tag = "automations",
    responses((status = 200, description = "The canceled run"), (status = 404, description = "Run not found"),
              (status = 409, description = "The run already ended")))]
pub async fn cancel_run(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(ok(s.automations.cancel(&team.id, &id).await.map_err(run_err)?))
}

#[utoipa::path(post, path = "/webhook/automation/{id}", tag = "automations", request_body = Object, security(()),
    responses((status = 202, description = "Live: a run started, `{run_id}`"),
              (status = 200, description = "Draft: the body is kept as sample data"),
              (status = 400, description = "Not a JSON object"), (status = 401, description = "x-api-token required and wrong"),
              (status = 404, description = "No webhook-triggered automation has this id"),
              (status = 413, description = "Body over the size limit"),
              (status = 429, description = "Over the automation's or the address's quota (`Retry-After`)")))]
pub async fn webhook(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Extension(ClientAddr(addr)): Extension<ClientAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    // Only a well-formed id gets a key in the automation limiter (its memory stays bounded);
    // every other is answered as an unknown automation.
    if !is_automation_id(&id) {
        return Err(ApiError::NotFound(AUTOMATION_404));
    }
    let allowance = s.limits.webhook.check(&id).await?;
    let token = headers.get("x-api-token").map(|v| v.to_str().unwrap_or(""));
    if token.is_some() {
        if let Some(refused) = s.limits.auth_failures.peek(&addr) {
            return Err(refused);
        }
    }
    let fired = match s.automations.fire_webhook(&id, token, body).await {
        Err(AutomationError::Unauthorized) => return Err(crate::auth::failed(&s, &addr).await),
        Err(AutomationError::NotFound) => return Err(ApiError::NotFound(AUTOMATION_404)),
        other => other?,
    };
    let mut res = match fired {
        Fired::Started(run_id) => (StatusCode::ACCEPTED, ok(json!({ "run_id": run_id }))).into_response(),
        Fired::Sampled => ok(json!({ "sampled": true })).into_response(),
    };
    if let Some(a) = allowance {
        a.apply(res.headers_mut());
    }
    Ok(res)
}
