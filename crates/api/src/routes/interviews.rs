//! `/interview…`: voice agents. Listing and reading are Thoughtly's; create, update and archive
//! are Parley's additions so agents can be managed as code.

use super::not_found;
use crate::auth::Team;
use crate::bounds::check_len;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Params};
use crate::schemas::{Envelope, InterviewPage};
use crate::{ok, AppState};
use axum::extract::{Path, State};
use axum::{Extension, Json};
use parley_core::flow::Flow;
use parley_core::ids;
use parley_core::interview::{Interview, InterviewStatus};
use parley_core::speech::{EngineChoice, Provider, Side};
use parley_core::time::Timestamp;
use parley_core::ValidationError;
use parley_store::interviews::InterviewSort;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

const NOT_FOUND: &str = "Interview not found";

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InterviewBody {
    /// Required on create.
    #[schema(example = "Appointment reminder", min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[schema(example = "Alex", min_length = 1, max_length = 100)]
    pub ai_name: Option<String>,
    #[schema(example = "en-US", max_length = 16, pattern = "^[A-Za-z0-9-]+$")]
    pub lang: Option<String>,
    #[schema(max_items = 100, example = json!(["confirmed"]))]
    pub response_tags: Option<Vec<String>>,
    pub should_record: Option<bool>,
    /// Needs a `voicemail_message`.
    pub should_leave_voicemail: Option<bool>,
    #[schema(max_length = 2000, example = "Please call us back.")]
    pub voicemail_message: Option<String>,
    /// At most 500 nodes and 2000 edges; texts in a node's data at most 4000 characters.
    pub flow: Option<Flow>,
    /// Silence (ms, 1000 to 60000) after the agent listens before it re-prompts.
    #[schema(minimum = 1000, maximum = 60000, example = 6000)]
    pub silence_timeout_ms: Option<u32>,
    /// Re-prompts after silence (0 to 5) before the agent says goodbye and hangs up.
    #[schema(maximum = 5, example = 2)]
    pub silence_reprompts: Option<u32>,
    /// The speech-to-text engine: `{provider, model?, language?, base_url?}`; `deepgram` or
    /// `openai` (with a team key for it) or `embedded` (the default).
    pub stt: Option<EngineChoice>,
    /// The text-to-speech engine: `{provider, model?, voice?, language?, base_url?}`;
    /// `elevenlabs`, `cartesia` (both need `voice`) or `openai` (with a team key for it), or
    /// `embedded` (the default). A provider that fails mid-call hands the rest of the call to
    /// the embedded engine, and the call records it (`engine_fallbacks`).
    pub tts: Option<EngineChoice>,
    /// On update: the version read; a stale one is 409 (no lost updates between editors).
    pub version: Option<i64>,
}

/// The longest `title`, `ai_name`, `lang` and `voicemail_message`.
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_AI_NAME_CHARS: usize = 100;
pub const MAX_LANG_CHARS: usize = 16;
pub const MAX_VOICEMAIL_CHARS: usize = 2000;

fn text(field: &str, v: &str, max: usize) -> ApiResult<String> {
    let v = v.trim();
    if v.is_empty() {
        return Err(ApiError::bad(format!("{field}: must not be empty")));
    }
    check_len(field, v, max)?;
    Ok(v.to_string())
}

/// Applies `b` onto `i`, checking each field (the flow is checked whole by [`validated`]).
pub(super) fn apply(i: &mut Interview, b: InterviewBody) -> ApiResult<()> {
    if let Some(t) = &b.title {
        i.title = text("title", t, MAX_TITLE_CHARS)?;
    }
    if let Some(n) = &b.ai_name {
        i.ai_name = text("ai_name", n, MAX_AI_NAME_CHARS)?;
    }
    if let Some(l) = &b.lang {
        let l = text("lang", l, MAX_LANG_CHARS)?;
        if !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(ApiError::bad(format!(
                "lang: '{l}' is not a language tag such as en or en-US"
            )));
        }
        i.lang = l;
    }
    if let Some(t) = b.response_tags {
        i.response_tags = parley_core::contact::clean_tags(&t)
            .map_err(|e| ApiError::bad(e.to_string().replacen("tags", "response_tags", 1)))?;
    }
    if let Some(v) = b.should_record {
        i.should_record = v;
    }
    if let Some(v) = b.should_leave_voicemail {
        i.should_leave_voicemail = v;
    }
    if let Some(m) = b.voicemail_message {
        check_len("voicemail_message", &m, MAX_VOICEMAIL_CHARS)?;
        i.voicemail_message = Some(m).filter(|m| !m.trim().is_empty());
    }
    if i.should_leave_voicemail && i.voicemail_message.is_none() {
        return Err(ApiError::bad(
            "voicemail_message: required when should_leave_voicemail is true",
        ));
    }
    if let Some(ms) = b.silence_timeout_ms {
        if !(1000..=60000).contains(&ms) {
            return Err(ApiError::bad("silence_timeout_ms: must be from 1000 to 60000"));
        }
        i.silence_timeout_ms = ms;
    }
    if let Some(n) = b.silence_reprompts {
        if n > 5 {
            return Err(ApiError::bad("silence_reprompts: must be from 0 to 5"));
        }
        i.silence_reprompts = n;
    }
    if let Some(f) = b.flow {
        i.flow = f;
    }
    for (side, choice, slot) in [(Side::Stt, b.stt, &mut i.stt), (Side::Tts, b.tts, &mut i.tts)] {
        if let Some(c) = choice {
            if let Some(p) = c.shape_problems(side).into_iter().next() {
                return Err(ApiError::bad(p.to_string()));
            }
            *slot = Some(c);
        }
    }
    Ok(())
}

/// What the agent's speech engines would meet: a provider on the wrong side, a provider the
/// team has no key for, a `lang` the engines (chosen, or embedded by default) do not speak.
pub(super) async fn speech_problems(s: &AppState, team: &Team, i: &Interview) -> ApiResult<Vec<ValidationError>> {
    let keys: Vec<Provider> = s
        .store
        .speech_keys(&team.id)
        .await?
        .iter()
        .map(|k| k.provider)
        .collect();
    let mut problems = Vec::new();
    for (side, choice) in [(Side::Stt, &i.stt), (Side::Tts, &i.tts)] {
        let choice = choice.clone().unwrap_or_else(EngineChoice::embedded);
        let found = choice.check(side, &i.lang, keys.contains(&choice.provider));
        // One `lang` problem is enough when both sides are embedded.
        for p in found {
            if !problems.contains(&p) {
                problems.push(p);
            }
        }
    }
    Ok(problems)
}

/// Validates the agent's flow on a blocking thread: within the flow bounds the check is linear,
/// but the largest flow the body limit admits (500 nodes, 2000 edges, ~1 MiB of text full of
/// placeholders) takes tens of milliseconds in a debug build, which must not hold up the request
/// threads that answer everyone else.
pub(super) async fn validated(s: &AppState, team: &Team, i: Interview) -> ApiResult<Interview> {
    let llm = s.config.llm_configured || team.has_llm;
    let speech = speech_problems(s, team, &i).await?;
    if !speech.is_empty() {
        return Err(ApiError::from_many(speech));
    }
    tokio::task::spawn_blocking(move || i.flow.validate(llm).map(|()| i))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
        .map_err(ApiError::from_many)
}

#[utoipa::path(post, path = "/interview/create", tag = "interviews", request_body = InterviewBody,
    responses((status = 200, body = Envelope<Interview>), (status = 400, description = "Invalid field or flow; every problem is listed")))]
pub async fn create(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(b): ApiJson<InterviewBody>,
) -> ApiResult<Json<Value>> {
    if b.title.is_none() {
        return Err(ApiError::bad("title: is required"));
    }
    let now = Timestamp::now();
    let mut i = Interview {
        id: ids::new_agent_id(),
        created: now,
        updated: now,
        version: 1,
        title: String::new(),
        ai_name: "Alex".into(),
        lang: "en".into(),
        status: InterviewStatus::Active,
        response_tags: vec![],
        should_record: true,
        should_leave_voicemail: false,
        voicemail_message: None,
        flow: Flow::minimal(),
        silence_timeout_ms: parley_core::interview::default_silence_timeout_ms(),
        silence_reprompts: parley_core::interview::default_silence_reprompts(),
        stt: None,
        tts: None,
    };
    apply(&mut i, b)?;
    let i = validated(&s, &team, i).await?;
    s.store.insert_interview(&team.id, &i).await?;
    Ok(ok(i))
}

#[utoipa::path(get, path = "/interview", tag = "interviews",
    params(("search" = Option<String>, Query, max_length = 200), ("status" = Option<String>, Query, description = "ACTIVE or ARCHIVED"),
           ("sort" = Option<String>, Query, description = "title_asc|title_desc|created_asc|created_desc"), ("page" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, description = "{interviews, count}", body = Envelope<InterviewPage>)))]
pub async fn list(State(s): State<AppState>, Extension(team): Extension<Team>, p: Params) -> ApiResult<Json<Value>> {
    let (page, limit) = p.paging(20, 50)?;
    let status = p
        .get("status")
        .filter(|v| !v.is_empty())
        .map(|v| {
            InterviewStatus::parse(v).ok_or_else(|| ApiError::bad(format!("status: '{v}' is not ACTIVE or ARCHIVED")))
        })
        .transpose()?;
    let sort = match p.get("sort").filter(|v| !v.is_empty()) {
        None => InterviewSort::CreatedDesc,
        Some(v) => InterviewSort::parse(v).ok_or_else(|| {
            ApiError::bad(format!(
                "sort: '{v}' is not title_asc, title_desc, created_asc or created_desc"
            ))
        })?,
    };
    let search = p.search("search")?;
    let (list, total) = s
        .store
        .list_interviews(&team.id, search.as_deref(), status, sort, page, limit)
        .await?;
    Ok(ok(serde_json::json!({ "interviews": list, "count": total })))
}

pub async fn find(s: &AppState, team: &str, id: &str) -> ApiResult<Interview> {
    if !ids::is_agent_id(id) {
        return Err(ApiError::NotFound(NOT_FOUND));
    }
    s.store.interview(team, id).await.map_err(not_found(NOT_FOUND))
}

#[utoipa::path(get, path = "/interview/{id}", tag = "interviews", params(("id" = String, Path)),
    responses((status = 200, body = Envelope<Interview>), (status = 404, description = "Interview not found")))]
pub async fn get_one(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(ok(find(&s, &team.id, &id).await?))
}

#[utoipa::path(post, path = "/interview/{id}/update", tag = "interviews", params(("id" = String, Path)), request_body = InterviewBody,
    responses((status = 200, body = Envelope<Interview>), (status = 400), (status = 404), (status = 409, description = "Stale version")))]
pub async fn update(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<InterviewBody>,
) -> ApiResult<Json<Value>> {
    let mut i = find(&s, &team.id, &id).await?;
    let read = i.version;
    if b.version.is_some_and(|v| v != read) {
        return Err(ApiError::Conflict(format!(
            "version: the agent is at version {read}; read it again and retry"
        )));
    }
    apply(&mut i, b)?;
    let mut i = validated(&s, &team, i).await?;
    i.version += 1;
    i.updated = Timestamp::now();
    s.store.update_interview(&team.id, &i, read).await?;
    Ok(ok(i))
}

#[utoipa::path(post, path = "/interview/{id}/toggle_archive", tag = "interviews", params(("id" = String, Path)),
    responses((status = 200, body = Envelope<Interview>), (status = 404)))]
pub async fn toggle_archive(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let mut i = find(&s, &team.id, &id).await?;
    let read = i.version;
    i.status = match i.status {
        InterviewStatus::Active => InterviewStatus::Archived,
        InterviewStatus::Archived => InterviewStatus::Active,
    };
    i.version += 1;
    i.updated = Timestamp::now();
    s.store.update_interview(&team.id, &i, read).await?;
    Ok(ok(i))
}
