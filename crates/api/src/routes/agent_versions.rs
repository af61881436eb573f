//! `/interview/{id}/draft`, `/publish` and `/versions…` (Parley additions): the dashboard's flow
//! editor autosaves a draft beside the live agent, publishes it as a new version, and restores
//! an older version in one step.
//!
//! A draft is saved whatever state the graph is in (work in progress is rarely valid), checked
//! only for shape; its answer lists the problems publishing would refuse, with the same `field`
//! paths as the API's 400s, so the editor can mark the node and field concerned. Publishing runs
//! exactly the checks of `POST /interview/{id}/update` and the same optimistic version check.

use super::interviews::{apply, find, speech_problems, validated, InterviewBody};
use crate::auth::Team;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::schemas::{DraftSaved, DraftView, Envelope, Null, VersionList};
use crate::{ok, AppState};
use axum::extract::{Path, State};
use axum::{Extension, Json};
use parley_core::interview::Interview;
use parley_core::time::Timestamp;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// The most versions the list shows.
const MAX_VERSIONS: i64 = 200;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    /// The live version the draft was based on; a stale one is 409.
    pub base_version: Option<i64>,
}

/// The draft as an agent: the live agent with the draft's fields applied where they pass the
/// field checks. Returns it with every problem publishing would meet.
async fn overlay(s: &AppState, team: &Team, live: &Interview, body: &Value) -> ApiResult<(Interview, Vec<Value>)> {
    let parsed: InterviewBody = serde_json::from_value(body.clone()).map_err(|e| ApiError::bad(e.to_string()))?;
    let mut draft = live.clone();
    let mut problems = Vec::new();
    // Field checks stop at the first problem; the flow (the most edited part) is applied anyway.
    let flow = parsed.flow.clone();
    if let Err(e) = apply(&mut draft, parsed) {
        let msg = e.to_string();
        let (field, message) = msg.split_once(": ").unwrap_or(("", msg.as_str()));
        problems.push(json!({ "field": field, "message": message }));
        if let Some(f) = flow {
            draft.flow = f;
        }
    }
    for e in speech_problems(s, team, &draft).await? {
        problems.push(json!({ "field": e.field, "message": e.message }));
    }
    let llm = s.config.llm_configured || team.has_llm;
    let flow = draft.flow.clone();
    let checked = tokio::task::spawn_blocking(move || flow.validate(llm))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    for e in checked.err().unwrap_or_default() {
        problems.push(json!({ "field": e.field, "message": e.message }));
    }
    Ok((draft, problems))
}

#[utoipa::path(get, path = "/interview/{id}/draft", tag = "interviews", params(("id" = String, Path, description = "The agent's id (8 letters or digits)")),
    responses((status = 200, description = "The draft applied to the live agent, with what publishing would refuse; the live agent (`has_draft: false`) without one", body = Envelope<DraftView>),
              (status = 400, description = "The saved draft no longer reads as the agent's fields"), (status = 404, description = "Interview not found")))]
pub async fn get_draft(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let live = find(&s, &team.id, &id).await?;
    let Some(d) = s.store.draft(&team.id, &live.id).await? else {
        return Ok(ok(json!({
            "draft": live, "has_draft": false, "saved": null, "base_version": live.version, "problems": [],
        })));
    };
    let (draft, problems) = overlay(&s, &team, &live, &d.body).await?;
    Ok(ok(json!({
        "draft": draft, "has_draft": true, "saved": Timestamp(d.saved), "base_version": d.base_version,
        "problems": problems,
    })))
}

#[utoipa::path(post, path = "/interview/{id}/draft", tag = "interviews", params(("id" = String, Path, description = "The agent's id (8 letters or digits)")),
    request_body(content = InterviewBody, description = "The agent's fields as the editor has them; `version` is ignored (a draft is based on the live version)"),
    responses((status = 200, description = "Saved whatever state the flow is in; `problems` lists what publishing would refuse", body = Envelope<DraftSaved>),
              (status = 400, description = "Not a JSON object, an unknown field, or a field of the wrong type"), (status = 404, description = "Interview not found")))]
pub async fn save_draft(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let live = find(&s, &team.id, &id).await?;
    let Value::Object(mut fields) = body else {
        return Err(ApiError::bad("the draft must be a JSON object of the agent's fields"));
    };
    // The version is the live one's, not the draft's to choose.
    fields.remove("version");
    let body = Value::Object(fields);
    let (_, problems) = overlay(&s, &team, &live, &body).await?;
    let saved = s.store.save_draft(&team.id, &live.id, live.version, &body).await?;
    Ok(ok(json!({ "saved": Timestamp(saved), "problems": problems })))
}

#[utoipa::path(delete, path = "/interview/{id}/draft", tag = "interviews", params(("id" = String, Path, description = "The agent's id (8 letters or digits)")),
    responses((status = 200, description = "Discarded (also when there was no draft): data null", body = Envelope<Null>), (status = 404, description = "Interview not found")))]
pub async fn discard_draft(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let live = find(&s, &team.id, &id).await?;
    s.store.discard_draft(&team.id, &live.id).await?;
    Ok(ok(Value::Null))
}

/// Makes `next` (already holding the fields to publish) the live agent as version live + 1.
async fn make_live(s: &AppState, team: &Team, live: &Interview, next: Interview) -> ApiResult<Interview> {
    let mut next = validated(s, team, next).await?;
    next.id = live.id.clone();
    next.created = live.created;
    next.status = live.status;
    next.version = live.version + 1;
    next.updated = Timestamp::now();
    s.store.publish_interview(&team.id, &next, live.version).await?;
    Ok(next)
}

#[utoipa::path(post, path = "/interview/{id}/publish", tag = "interviews", params(("id" = String, Path, description = "The agent's id (8 letters or digits)")), request_body = PublishBody,
    responses((status = 200, description = "The draft is live as the next version (the draft is gone)", body = Envelope<Interview>),
              (status = 400, description = "No draft, or the draft fails the checks of `POST /interview/{id}/update`; every problem is listed"),
              (status = 404, description = "Interview not found"),
              (status = 409, description = "`base_version` is stale, or another version was published meanwhile")))]
pub async fn publish(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PublishBody>,
) -> ApiResult<Json<Value>> {
    let live = find(&s, &team.id, &id).await?;
    if b.base_version.is_some_and(|v| v != live.version) {
        return Err(ApiError::Conflict(format!(
            "base_version: version {} was published meanwhile; reload to see it",
            live.version
        )));
    }
    let Some(d) = s.store.draft(&team.id, &live.id).await? else {
        return Err(ApiError::bad("draft: there is no draft to publish"));
    };
    let parsed: InterviewBody = serde_json::from_value(d.body).map_err(|e| ApiError::bad(e.to_string()))?;
    let mut next = live.clone();
    apply(&mut next, parsed)?;
    Ok(ok(make_live(&s, &team, &live, next).await?))
}

#[utoipa::path(get, path = "/interview/{id}/versions", tag = "interviews", params(("id" = String, Path, description = "The agent's id (8 letters or digits)")),
    responses((status = 200, description = "The kept versions, newest first (at most 200), and the live one's number", body = Envelope<VersionList>),
              (status = 404, description = "Interview not found")))]
pub async fn versions(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let live = find(&s, &team.id, &id).await?;
    let list = s.store.interview_versions(&team.id, &live.id, MAX_VERSIONS).await?;
    Ok(ok(json!({ "versions": list, "live_version": live.version })))
}

async fn kept(s: &AppState, team: &Team, live: &Interview, version: &str) -> ApiResult<Interview> {
    let v: i64 = version.parse().map_err(|_| ApiError::NotFound("Version not found"))?;
    s.store
        .interview_version(&team.id, &live.id, v)
        .await
        .map_err(super::not_found("Version not found"))
}

#[utoipa::path(get, path = "/interview/{id}/versions/{version}", tag = "interviews", params(("id" = String, Path, description = "The agent's id (8 letters or digits)"), ("version" = i64, Path, description = "A kept version of the agent")),
    responses((status = 200, description = "The agent as it was at that version", body = Envelope<Interview>),
              (status = 404, description = "Interview not found, or Version not found (also for a version that is not a number)")))]
pub async fn get_version(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path((id, version)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let live = find(&s, &team.id, &id).await?;
    Ok(ok(kept(&s, &team, &live, &version).await?))
}

/// Publishes an older version's agent as a new version (its title, settings and flow); the
/// draft, if any, is discarded with the publication.
#[utoipa::path(post, path = "/interview/{id}/versions/{version}/restore", tag = "interviews", params(("id" = String, Path, description = "The agent's id (8 letters or digits)"), ("version" = i64, Path, description = "A kept version of the agent")),
    responses((status = 200, description = "That version's agent, live as the next version; any draft is discarded", body = Envelope<Interview>),
              (status = 400, description = "The old version fails today's checks (e.g. a prompt node without an LLM endpoint); every problem is listed"),
              (status = 404, description = "Interview not found, or Version not found"),
              (status = 409, description = "Another version was published meanwhile")))]
pub async fn restore(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path((id, version)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let live = find(&s, &team.id, &id).await?;
    let old = kept(&s, &team, &live, &version).await?;
    Ok(ok(make_live(&s, &team, &live, old).await?))
}
