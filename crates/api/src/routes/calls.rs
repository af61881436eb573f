//! Calls: `/contact/call`, campaigns (`/job/create_job_by_contacts`), search, read, hang up.

use super::contacts::{contact_write, normalize_number, CreateContact};
use super::{not_found, uuid_or};
use crate::auth::Team;
use crate::bounds::{MAX_METADATA_KEYS, MAX_METADATA_KEY_CHARS, MAX_METADATA_VALUE_BYTES};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Params};
use crate::schemas::{CallPage, Envelope, JobCreated};
use crate::{ok, AppState};
use axum::extract::{Path, State};
use axum::{Extension, Json};
use parley_core::call::{Call, CallStatus, CallType};
use parley_core::contact::{Contact, ContactStatus, LeadSource};
use parley_core::interview::{Interview, InterviewStatus};
use parley_store::calls::{CallFilter, NewCall};
use parley_store::StoreError;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use utoipa::ToSchema;
use uuid::Uuid;

const CONTACT_400: &str = "Contact not found, please try again";
const INTERVIEW_400: &str = "Interview not found, please try again";
const CALL_404: &str = "Call not found";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallBody {
    #[schema(format = Uuid, example = "0b5c7a3e-2f4d-4c1e-9a8b-6d2e1f3a4b5c")]
    pub contact_id: String,
    /// The voice agent; `agent_id` is accepted as an alias.
    #[serde(alias = "agent_id")]
    #[schema(example = "AbCd1234", pattern = "^[A-Za-z0-9]{8}$")]
    pub interview_id: String,
    /// At most 50 keys of 1 to 64 characters, values up to 2048 bytes.
    #[schema(example = json!({"appointment": "Thursday 3 pm"}))]
    pub metadata: Option<BTreeMap<String, String>>,
    /// The team's number to call from (Parley addition; default: its `default_outbound` number).
    #[schema(example = "+14155550123", max_length = 32, pattern = r"^[0-9+ ()\-.]*$")]
    pub from_number: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    #[serde(alias = "agent_id")]
    #[schema(example = "AbCd1234", pattern = "^[A-Za-z0-9]{8}$")]
    pub interview_id: String,
    /// Contact ids (UUIDs); with `phone_numbers`, at most 1000 in all.
    #[schema(max_items = 1000)]
    pub contact_ids: Option<Vec<String>>,
    #[schema(max_items = 1000, example = json!(["+12015550123"]))]
    pub phone_numbers: Option<Vec<String>>,
    #[schema(example = "+1", max_length = 4, pattern = r"^\+?[0-9]{1,3}$")]
    pub country_code: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
    /// The team's number to call from (Parley addition; default: its `default_outbound` number).
    #[schema(example = "+14155550123", max_length = 32, pattern = r"^[0-9+ ()\-.]*$")]
    pub from_number: Option<String>,
}

/// An agent that can take calls: exists in the team and is not archived.
async fn callable_agent(s: &AppState, team: &str, id: &str) -> ApiResult<Interview> {
    let agent = super::interviews::find(s, team, id).await.map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::bad_with(INTERVIEW_400, "interview_not_found"),
        other => other,
    })?;
    if agent.status == InterviewStatus::Archived {
        return Err(ApiError::bad_with(
            "interview_id: the agent is archived; unarchive it to place calls",
            "interview_archived",
        ));
    }
    Ok(agent)
}

/// A call's `metadata`: at most [`MAX_METADATA_KEYS`] keys of 1 to [`MAX_METADATA_KEY_CHARS`]
/// characters, values of at most [`MAX_METADATA_VALUE_BYTES`] bytes.
pub(crate) fn check_metadata(m: &BTreeMap<String, String>) -> ApiResult<()> {
    if m.len() > MAX_METADATA_KEYS
        || m.iter().any(|(k, v)| {
            k.is_empty() || k.chars().count() > MAX_METADATA_KEY_CHARS || v.len() > MAX_METADATA_VALUE_BYTES
        })
    {
        return Err(ApiError::bad(format!(
            "metadata: at most {MAX_METADATA_KEYS} keys of 1-{MAX_METADATA_KEY_CHARS} characters, values up to {MAX_METADATA_VALUE_BYTES} bytes"
        )));
    }
    Ok(())
}

#[utoipa::path(post, path = "/contact/call", tag = "calls", request_body = CallBody,
    responses((status = 200, description = "The queued call (status NOT_STARTED)", body = Envelope<Call>),
              (status = 400, description = "Unknown contact or agent, DNC contact, invalid metadata, a from_number that is not one of the team's numbers, no number on a real network for a destination outside the sandbox ranges")))]
pub async fn call_contact(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(b): ApiJson<CallBody>,
) -> ApiResult<Json<Value>> {
    let metadata = b.metadata.unwrap_or_default();
    check_metadata(&metadata)?;
    let contact_id =
        Uuid::parse_str(&b.contact_id).map_err(|_| ApiError::bad_with(CONTACT_400, "contact_not_found"))?;
    let agent = callable_agent(&s, &team.id, &b.interview_id).await?;
    let contact = s.store.contact(&team.id, contact_id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::bad_with(CONTACT_400, "contact_not_found"),
        other => other.into(),
    })?;
    if contact.status == ContactStatus::Dnc {
        return Err(ApiError::bad_with(
            "contact_id: the contact is on the do-not-call list (DNC) and is never called",
            "contact_dnc",
        ));
    }
    let from = super::numbers::from_number(&team, b.from_number.as_deref(), None)?;
    let route = s
        .store
        .route_call(&team.id, &contact.phone_number, from.as_deref())
        .await?;
    let calls = s
        .store
        .create_calls(
            &team.id,
            vec![NewCall {
                interview_id: agent.id,
                contact,
                metadata,
                route,
            }],
            None,
        )
        .await?;
    s.jobs.wake();
    Ok(ok(calls.into_iter().next()))
}

#[utoipa::path(post, path = "/job/create_job_by_contacts", tag = "calls", request_body = BatchBody,
    responses((status = 200, description = "{job_id, calls, skipped}: the queued calls and the contacts skipped (DNC, duplicates)", body = Envelope<JobCreated>),
              (status = 400, description = "Unknown agent or contact, invalid number; every problem is listed")))]
pub async fn create_job(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(b): ApiJson<BatchBody>,
) -> ApiResult<Json<Value>> {
    let metadata = b.metadata.unwrap_or_default();
    check_metadata(&metadata)?;
    let ids = b.contact_ids.unwrap_or_default();
    let numbers = b.phone_numbers.unwrap_or_default();
    if ids.is_empty() && numbers.is_empty() {
        return Err(ApiError::bad(
            "contact_ids, phone_numbers: give at least one contact id or phone number",
        ));
    }
    if ids.len() + numbers.len() > s.config.max_batch {
        return Err(ApiError::bad(format!(
            "contact_ids, phone_numbers: at most {} per job (got {})",
            s.config.max_batch,
            ids.len() + numbers.len()
        )));
    }
    let agent = callable_agent(&s, &team.id, &b.interview_id).await?;
    // Validate everything before writing anything.
    let mut problems = Vec::new();
    let mut uuids = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        match Uuid::parse_str(id) {
            Ok(u) => uuids.push(u),
            Err(_) => problems.push(format!("contact_ids[{i}]: {CONTACT_400}")),
        }
    }
    let found = s.store.contacts_by_ids(&team.id, &uuids).await?;
    let found_ids: HashSet<Uuid> = found.iter().map(|c| c.id).collect();
    for (i, id) in ids.iter().enumerate() {
        if Uuid::parse_str(id).is_ok_and(|u| !found_ids.contains(&u)) {
            problems.push(format!("contact_ids[{i}]: {CONTACT_400}"));
        }
    }
    // Up to 1000 numbers through libphonenumber's rules: ~180 ms of CPU in a debug build, on a
    // blocking thread so the request threads keep answering other clients.
    let (normalized, number_problems) = {
        let team = team.clone();
        let country_code = b.country_code.clone();
        tokio::task::spawn_blocking(move || {
            let mut normalized = Vec::with_capacity(numbers.len());
            let mut problems = Vec::new();
            for (i, n) in numbers.iter().enumerate() {
                match normalize_number(&team, &format!("phone_numbers[{i}]"), n, country_code.as_deref()) {
                    Ok(e164) => normalized.push(e164),
                    Err(e) => problems.push(e),
                }
            }
            (normalized, problems)
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    };
    for e in number_problems {
        match e {
            ApiError::BadRequest { message, .. } => problems.push(message),
            other => return Err(other),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::bad(problems.join("; ")));
    }
    // Every call's route, before anything is written: a destination no number of the team can
    // call refuses the whole job.
    let from = super::numbers::from_number(&team, b.from_number.as_deref(), b.country_code.as_deref())?;
    let numbers = s.store.outbound_numbers(&team.id, from.as_deref()).await?;
    let sandbox_list: HashSet<String> = s
        .store
        .list_sandbox_numbers(&team.id)
        .await?
        .into_iter()
        .map(|n| n.phone_number)
        .collect();
    let route = |to: &str| {
        numbers.route(
            to,
            parley_core::phone::is_builtin_sandbox(to) || sandbox_list.contains(to),
        )
    };
    let destinations: Vec<&str> = found
        .iter()
        .map(|c| c.phone_number.as_str())
        .chain(normalized.iter().map(String::as_str))
        .collect();
    if let Some((to, e)) = destinations
        .iter()
        .copied()
        .find_map(|to| route(to).err().map(|e| (to, e)))
    {
        let unroutable = destinations.iter().filter(|&&to| route(to).is_err()).count();
        return Err(ApiError::bad_with(
            format!("{e} ({unroutable} of the job's numbers cannot be called, e.g. {to})"),
            e.code,
        ));
    }
    let mut contacts: Vec<Contact> = found;
    for e164 in normalized {
        let body = CreateContact {
            phone_number: e164.clone(),
            name: None,
            email: None,
            country_code: None,
            tags: None,
            attributes: None,
        };
        // An existing contact keeps its name and attributes: only create missing ones.
        match s.store.list_contacts_by_number(&team.id, &e164).await? {
            Some(c) => contacts.push(c),
            None => contacts.push(
                s.store
                    .upsert_contact(&team.id, &contact_write(e164, &body, LeadSource::ApiBulkUpload)?)
                    .await?
                    .contact,
            ),
        }
    }
    let mut seen = HashSet::new();
    let mut skipped = Vec::new();
    let mut to_call = Vec::new();
    for c in contacts {
        if !seen.insert(c.id) {
            skipped.push(json!({ "contact_id": c.id, "reason": "duplicate" }));
        } else if c.status == ContactStatus::Dnc {
            skipped.push(json!({ "contact_id": c.id, "reason": "DNC" }));
        } else {
            to_call.push(NewCall {
                interview_id: agent.id.clone(),
                route: route(&c.phone_number)?,
                contact: c,
                metadata: metadata.clone(),
            });
        }
    }
    let job_id = parley_core::ids::new_row_id();
    let summary = json!({ "id": job_id, "interview_id": agent.id, "calls": to_call.len(), "skipped": skipped });
    let calls = if to_call.is_empty() {
        vec![]
    } else {
        s.store
            .create_calls(&team.id, to_call, Some((job_id, &summary)))
            .await?
    };
    s.jobs.wake();
    let call_ids: Vec<Uuid> = calls.iter().map(|c| c.id).collect();
    Ok(ok(
        json!({ "job_id": job_id, "interview_id": agent.id, "call_ids": call_ids, "count": call_ids.len(), "skipped": skipped }),
    ))
}

#[utoipa::path(get, path = "/interview/{id}/responses", tag = "calls",
    params(("id" = String, Path, description = "The agent's id (8 letters or digits)"), ("search" = Option<String>, Query, max_length = 200), ("response_tags[]" = Option<Vec<String>>, Query),
           ("status[]" = Option<Vec<String>>, Query), ("job_id" = Option<String>, Query), ("page" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, description = "{responses, count, all_response_tags}, newest first", body = Envelope<CallPage>), (status = 404, description = "Interview not found")))]
pub async fn responses(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let agent = super::interviews::find(&s, &team.id, &id).await?;
    let (page, limit) = p.paging(20, 50)?;
    let statuses = p
        .list("status")?
        .iter()
        .map(|st| CallStatus::parse(st).ok_or_else(|| ApiError::bad(format!("status: '{st}' is not a call status"))))
        .collect::<ApiResult<Vec<_>>>()?;
    let job_id = p
        .get("job_id")
        .filter(|j| !j.is_empty())
        .map(|j| {
            Uuid::parse_str(j)
                .map_err(|_| ApiError::bad(format!("job_id: '{}' is not a job id", crate::extract::excerpt(j))))
        })
        .transpose()?;
    let f = CallFilter {
        interview_id: Some(agent.id.clone()),
        search: p.search("search")?,
        response_tags: p.list("response_tags")?,
        statuses,
        job_id,
        page,
        limit,
        ..CallFilter::default()
    };
    let (calls, total) = s.store.list_calls(&team.id, &f).await?;
    Ok(ok(
        json!({ "responses": calls, "count": total, "all_response_tags": agent.response_tags }),
    ))
}

#[utoipa::path(get, path = "/interview_response/{id}", tag = "calls", params(("id" = uuid::Uuid, Path, description = "The call's id")),
    responses((status = 200, body = Envelope<Call>), (status = 404, description = "Call not found")))]
pub async fn get_one(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(ok(s
        .store
        .call(&team.id, uuid_or(&id, CALL_404)?)
        .await
        .map_err(not_found(CALL_404))?))
}

#[utoipa::path(post, path = "/interview_response/{id}/hangup", tag = "calls", params(("id" = uuid::Uuid, Path, description = "The call's id")),
    responses((status = 200, description = "The ended call", body = Envelope<Call>), (status = 404), (status = 409, description = "The call already ended")))]
pub async fn hangup(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = uuid_or(&id, CALL_404)?;
    // The calls service asks the process running the call to hang up, waits for it, and ends
    // the call itself when no process runs it any more.
    let ended = s
        .store
        .call_life()
        .hang_up(&team.id, id)
        .await
        .map_err(not_found(CALL_404))?;
    Ok(ok(ended))
}

/// A time filter: RFC 3339, or a plain date (`2026-12-03`, midnight UTC).
fn time_param(p: &Params, name: &str) -> ApiResult<Option<i64>> {
    let Some(v) = p.get(name).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let t = parley_core::time::Timestamp::parse_rfc3339(v)
        .or_else(|| parley_core::time::Timestamp::parse_rfc3339(&format!("{v}T00:00:00Z")))
        .ok_or_else(|| {
            ApiError::bad(format!(
                "{name}: '{}' is not a date (2026-12-03) or an RFC 3339 time",
                crate::extract::excerpt(v)
            ))
        })?;
    Ok(Some(t.millis()))
}

/// Parley addition: the team's calls, newest first, across agents (the dashboard's calls list).
#[utoipa::path(get, path = "/call", tag = "calls",
    params(("agent" = Option<String>, Query, description = "an agent (interview) id"),
        ("status[]" = Option<Vec<String>>, Query, description = "NOT_STARTED, IN_PROGRESS, ENDED, …"),
        ("direction" = Option<String>, Query, description = "inbound (INBOUND_CALL) or outbound (the rest)"),
        ("search" = Option<String>, Query, description = "name, number or transcript text"),
        ("from" = Option<String>, Query, description = "created at or after (date or RFC 3339)"),
        ("to" = Option<String>, Query, description = "created before (date or RFC 3339)"),
        ("page" = Option<i64>, Query, description = "from 0"), ("limit" = Option<i64>, Query, description = "1-50, default 20")),
    responses((status = 200, description = "{calls, count, total_count}")))]
pub async fn list(State(s): State<AppState>, Extension(team): Extension<Team>, p: Params) -> ApiResult<Json<Value>> {
    let (page, limit) = p.paging(20, 50)?;
    // Another team's agent lists nothing, as an unknown one: no error that would tell them apart.
    let interview_id = p.get("agent").filter(|a| !a.is_empty()).map(str::to_string);
    let statuses = p
        .list("status")?
        .iter()
        .map(|st| CallStatus::parse(st).ok_or_else(|| ApiError::bad(format!("status: '{st}' is not a call status"))))
        .collect::<ApiResult<Vec<_>>>()?;
    let call_types = match p.get("direction").unwrap_or("") {
        "" => vec![],
        "inbound" => vec![CallType::InboundCall],
        "outbound" => vec![CallType::PhoneCall, CallType::BrowserCall],
        other => {
            return Err(ApiError::bad(format!(
                "direction: '{}' is not inbound or outbound",
                crate::extract::excerpt(other)
            )))
        }
    };
    let f = CallFilter {
        interview_id,
        call_types,
        created_from: time_param(&p, "from")?,
        created_before: time_param(&p, "to")?,
        search: p.search("search")?,
        statuses,
        page,
        limit,
        ..CallFilter::default()
    };
    let (calls, total) = s.store.list_calls(&team.id, &f).await?;
    Ok(ok(
        json!({ "count": calls.len(), "calls": calls, "total_count": total }),
    ))
}
