//! `/sandbox…`: the sandbox network's team side (Parley additions, API.md "Sandbox numbers"), and
//! `/interview_response/{id}/recording`.
//!
//! - Personas: the ten built-ins (`builtin-00` … `builtin-09`, the persona of the sandbox numbers
//!   `+1 NPA 555 01xx` ending in the same two digits) and the team's own scripts.
//! - Numbers: a team binds numbers outside the built-in range either to a persona (outbound
//!   calls to the number ring it) or to a voice agent (a persona calling it in reaches the agent).
//! - `POST /sandbox/call_in`: a persona calls one of the team's agent-bound numbers; the call is
//!   queued as an `INBOUND_CALL` and run by the server's sandbox network.
//!
//! Decision: deleting a persona that a number is bound to is refused with 409 naming the
//! numbers, rather than unbinding them: unbinding silently would turn later calls to those
//! numbers into something else without the team noticing.

use super::contacts::normalize_number;
use super::{not_found, uuid_or};
use crate::auth::Team;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::schemas::{Envelope, Null, NumberList, PersonaList};
use crate::{ok, AppState};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use parley_core::call::Call;
use parley_core::interview::InterviewStatus;
use parley_core::persona::PersonaScript;
use parley_core::phone;
use parley_store::sandbox::{builtin_slot, Binding, InboundCall, Persona, SandboxNumber};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tower::ServiceExt;
use tower_http::services::ServeFile;
use utoipa::ToSchema;

const PERSONA_404: &str = "Persona not found";
const NUMBER_404: &str = "Sandbox number not found";
const CALL_404: &str = "Call not found";
const RECORDING_404: &str = "Recording not found";

/// The caller id of a team persona calling in when the request gives none (a fictional number).
const TEAM_PERSONA_FROM: &str = "+12025550199";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindNumberBody {
    /// National or international form; stored as E.164. Not in the built-in range
    /// `+1 NPA 555 01xx`, which is reserved for the built-in personas.
    pub phone_number: String,
    /// Dialing prefix used when `phone_number` has no leading `+`; default `"+1"`.
    pub country_code: Option<String>,
    /// Outbound calls to the number ring this persona (a built-in id or one of the team's).
    pub persona_id: Option<String>,
    /// Personas calling the number in reach this voice agent. Exactly one of the two ids.
    #[serde(alias = "agent_id")]
    pub interview_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberBody {
    pub phone_number: String,
    pub country_code: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallInBody {
    /// The calling persona: a built-in id (`builtin-00` … `builtin-09`) or one of the team's.
    pub persona_id: String,
    /// One of the team's sandbox numbers, bound to a voice agent.
    pub to: String,
    /// The persona's caller id. Default: `+1 202 555 01NN` with a built-in persona's own
    /// suffix, `+12025550199` for the team's personas.
    pub from: Option<String>,
    /// Dialing prefix for `to` and `from` without a leading `+`; default `"+1"`.
    pub country_code: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
}

/// A path or body id of a persona, resolved for this team (built-ins for every team).
async fn find_persona(s: &AppState, team: &str, id: &str) -> ApiResult<Persona> {
    s.store.persona(team, id).await.map_err(not_found(PERSONA_404))
}

/// An optional id: absent, `null` and `""` all mean "not given".
fn given(id: &Option<String>) -> Option<&str> {
    id.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[utoipa::path(get, path = "/sandbox/personas", tag = "sandbox",
    responses((status = 200, description = "{personas, count}: the ten built-ins (builtin-00 … builtin-09, with their number_suffix), then the team's own, oldest first", body = Envelope<PersonaList>)))]
pub async fn list_personas(State(s): State<AppState>, Extension(team): Extension<Team>) -> ApiResult<Json<Value>> {
    let mut personas = Persona::builtins();
    personas.extend(s.store.list_personas(&team.id).await?);
    Ok(ok(json!({ "count": personas.len(), "personas": personas })))
}

#[utoipa::path(post, path = "/sandbox/personas", tag = "sandbox", request_body = PersonaScript,
    responses((status = 200, description = "The new persona: {id, builtin: false, script, created, updated}", body = Envelope<Persona>),
              (status = 400, description = "Invalid script; every problem is listed, each with its field")))]
pub async fn create_persona(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(script): ApiJson<PersonaScript>,
) -> ApiResult<Json<Value>> {
    script.validate().map_err(ApiError::from_many)?;
    Ok(ok(s.store.create_persona(&team.id, &script).await?))
}

#[utoipa::path(get, path = "/sandbox/personas/{id}", tag = "sandbox", params(("id" = String, Path, description = "builtin-00 … builtin-09, or a team persona's id")),
    responses((status = 200, body = Envelope<Persona>), (status = 404, description = "Persona not found")))]
pub async fn get_persona(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(ok(find_persona(&s, &team.id, &id).await?))
}

#[utoipa::path(delete, path = "/sandbox/personas/{id}", tag = "sandbox", params(("id" = String, Path)),
    responses((status = 200, description = "data: null", body = Envelope<Null>),
              (status = 404, description = "Persona not found (built-in personas cannot be deleted)"),
              (status = 409, description = "A sandbox number is bound to the persona; the message names the numbers to unbind first")))]
pub async fn delete_persona(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    if builtin_slot(&id).is_some() {
        return Err(ApiError::NotFound(
            "Persona not found (built-in personas cannot be deleted)",
        ));
    }
    s.store
        .delete_persona(&team.id, &id)
        .await
        .map_err(not_found(PERSONA_404))?;
    Ok(ok(Value::Null))
}

#[utoipa::path(post, path = "/sandbox/numbers", tag = "sandbox", request_body = BindNumberBody,
    responses((status = 200, description = "The binding (created or replaced)", body = Envelope<SandboxNumber>),
              (status = 400, description = "Invalid number, a number in the built-in range, or not exactly one of persona_id and interview_id"),
              (status = 404, description = "Persona not found / Interview not found")))]
pub async fn bind_number(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(b): ApiJson<BindNumberBody>,
) -> ApiResult<Json<Value>> {
    let number = normalize_number(&team, "phone_number", &b.phone_number, b.country_code.as_deref())?;
    if phone::is_builtin_sandbox(&number) {
        return Err(ApiError::bad_with(
            format!(
                "phone_number: {number} is in the built-in sandbox range +1 NPA 555 01xx, reserved for the built-in personas \
                 (its last two digits pick one); bind a number outside it, e.g. +12025550200"
            ),
            "reserved_sandbox_number",
        ));
    }
    let binding = match (given(&b.persona_id), given(&b.interview_id)) {
        (Some(p), None) => Binding::Persona(p),
        (None, Some(i)) => {
            super::interviews::find(&s, &team.id, i).await?;
            Binding::Interview(i)
        }
        _ => {
            return Err(ApiError::bad(
                "persona_id, interview_id: give exactly one: a persona (outbound calls to the number ring it) \
                 or a voice agent (personas calling the number reach it)",
            ))
        }
    };
    let bound = s
        .store
        .bind_number(&team.id, &number, binding)
        .await
        .map_err(not_found(PERSONA_404))?;
    Ok(ok(bound))
}

#[utoipa::path(get, path = "/sandbox/numbers", tag = "sandbox",
    responses((status = 200, description = "{numbers, count}: the team's sandbox numbers, by number", body = Envelope<NumberList>)))]
pub async fn list_numbers(State(s): State<AppState>, Extension(team): Extension<Team>) -> ApiResult<Json<Value>> {
    let numbers = s.store.list_sandbox_numbers(&team.id).await?;
    Ok(ok(json!({ "count": numbers.len(), "numbers": numbers })))
}

#[utoipa::path(delete, path = "/sandbox/numbers", tag = "sandbox", request_body = NumberBody,
    responses((status = 200, description = "data: null", body = Envelope<Null>), (status = 404, description = "Sandbox number not found")))]
pub async fn unbind_number(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(b): ApiJson<NumberBody>,
) -> ApiResult<Json<Value>> {
    let number = normalize_number(&team, "phone_number", &b.phone_number, b.country_code.as_deref())?;
    s.store
        .unbind_number(&team.id, &number)
        .await
        .map_err(not_found(NUMBER_404))?;
    Ok(ok(Value::Null))
}

#[utoipa::path(post, path = "/sandbox/call_in", tag = "sandbox", request_body = CallInBody,
    responses((status = 200, description = "The queued inbound call (type INBOUND_CALL, status NOT_STARTED); the sandbox network runs it", body = Envelope<Call>),
              (status = 400, description = "Invalid number or metadata, `to` bound to a persona rather than an agent, archived agent"),
              (status = 404, description = "Persona not found / Sandbox number not found")))]
pub async fn call_in(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(b): ApiJson<CallInBody>,
) -> ApiResult<Json<Value>> {
    let metadata = b.metadata.unwrap_or_default();
    super::calls::check_metadata(&metadata)?;
    let persona = find_persona(&s, &team.id, &b.persona_id).await?;
    let cc = b.country_code.as_deref();
    let to = normalize_number(&team, "to", &b.to, cc)?;
    if phone::is_builtin_sandbox(&to) {
        return Err(ApiError::bad(format!(
            "to: {to} is a built-in sandbox number (it rings a built-in persona); call one of the team's sandbox numbers bound to a voice agent"
        )));
    }
    let number = s
        .store
        .sandbox_number(&team.id, &to)
        .await?
        .ok_or(ApiError::NotFound(NUMBER_404))?;
    let Some(interview_id) = number.interview_id else {
        return Err(ApiError::bad(format!(
            "to: {to} is bound to a persona, not a voice agent; bind it to an agent (interview_id) to take calls"
        )));
    };
    let agent = super::interviews::find(&s, &team.id, &interview_id).await?;
    if agent.status == InterviewStatus::Archived {
        return Err(ApiError::bad_with(
            format!("to: {to} reaches an archived agent; unarchive it to take calls"),
            "interview_archived",
        ));
    }
    let from = match given(&b.from) {
        Some(f) => normalize_number(&team, "from", f, cc)?,
        None => match persona.number_suffix.as_deref() {
            Some(suffix) => format!("+120255501{suffix}"),
            None => TEAM_PERSONA_FROM.to_string(),
        },
    };
    let call = s
        .store
        .create_inbound_call(
            &team.id,
            InboundCall {
                interview_id: &agent.id,
                from: &from,
                to: &to,
                persona_id: &persona.id,
                persona: &persona.script,
                metadata,
            },
        )
        .await?;
    s.jobs.wake();
    Ok(ok(call))
}

#[utoipa::path(get, path = "/interview_response/{id}/recording", tag = "calls", params(("id" = String, Path)),
    responses((status = 200, description = "The call's recording, a WAV file (`Accept-Ranges: bytes`; HEAD answers its length)", content_type = "audio/wav"),
              (status = 206, description = "The byte range the `Range` header asked for, with `Content-Range`", content_type = "audio/wav"),
              (status = 404, description = "Call not found / Recording not found"),
              (status = 416, description = "The range starts past the end of the recording (`Content-Range: bytes */LENGTH`)")))]
pub async fn recording(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let call = s
        .store
        .call(&team.id, uuid_or(&id, CALL_404)?)
        .await
        .map_err(not_found(CALL_404))?;
    let dir = s
        .config
        .recordings_dir
        .as_ref()
        .ok_or(ApiError::NotFound(RECORDING_404))?;
    // The name comes from the parsed UUID, never from the request text. The file is complete
    // once it exists (the recorder renames it into place), so its length cannot change.
    let path = dir.join(format!("{}.wav", call.id));
    match tokio::fs::metadata(&path).await {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(ApiError::NotFound(RECORDING_404)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ApiError::NotFound(RECORDING_404)),
        Err(e) => return Err(ApiError::Internal(format!("{}: {e}", path.display()))),
    }
    // tower-http streams the file in chunks and answers Range (206 / 416), HEAD and the
    // conditional headers, so a player can seek.
    let res = ServeFile::new(&path)
        .oneshot(req)
        .await
        .map_err(|e| ApiError::Internal(format!("{}: {e}", path.display())))?;
    let (mut parts, body) = res.into_parts();
    match parts.status {
        StatusCode::NOT_FOUND => return Err(ApiError::NotFound(RECORDING_404)),
        StatusCode::RANGE_NOT_SATISFIABLE => {
            // The envelope, keeping `Content-Range: bytes */LENGTH` for the client.
            let mut res = ApiError::RangeNotSatisfiable.into_response();
            if let Some(cr) = parts.headers.remove(header::CONTENT_RANGE) {
                res.headers_mut().insert(header::CONTENT_RANGE, cr);
            }
            return Ok(res);
        }
        _ => {}
    }
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    parts.headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("inline; filename=\"{}.wav\"", call.id))
            .map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    Ok(Response::from_parts(parts, Body::new(body)))
}
