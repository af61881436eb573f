//! `/team/speech_keys…` and `/team/llm` (Parley additions): the team's keys for cloud speech
//! providers and its own LLM endpoint. Keys are write-only: an answer shows the key's last four
//! characters (`hint`), never the key. Changing them is for owners (an API token acts as one).

use crate::auth::Team;
use crate::bounds::check_len;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::schemas::{Envelope, Null, SpeechKeyList, SpeechKeyView, TeamLlmView};
use crate::{ok, AppState};
use axum::extract::{Path, State};
use axum::{Extension, Json};
use parley_core::speech::{Provider, CLOUD_PROVIDERS};
use parley_core::time::Timestamp;
use parley_store::speech_keys::{hint, SpeechKeyInfo};
use parley_store::teams::TeamLlm;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// The longest key and base URL accepted.
pub const MAX_KEY_CHARS: usize = 500;
pub const MAX_URL_CHARS: usize = 500;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpeechKeyBody {
    /// The provider's API key; stored sealed and never shown again.
    #[schema(min_length = 1, max_length = 500, example = "sk_0123456789abcdef")]
    pub api_key: String,
    /// The provider's server to use instead of its public one (a regional one), `ws(s)://` or
    /// `http(s)://`; checked against the server's outbound address policy when a call uses it.
    #[schema(max_length = 500, example = "wss://api.eu.residency.elevenlabs.io")]
    pub base_url: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamLlmBody {
    /// The OpenAI-compatible endpoint, `http(s)://`, e.g. `https://api.openai.com/v1`.
    #[schema(min_length = 1, max_length = 500, example = "https://api.openai.com/v1")]
    pub base_url: String,
    /// The endpoint's key; left out keeps the current one, `""` removes it. Never shown again.
    #[schema(max_length = 500)]
    pub api_key: Option<String>,
    /// The model to ask for; left out: `default`.
    #[schema(max_length = 200, example = "gpt-4o-mini")]
    pub model: Option<String>,
}

fn provider(name: &str) -> ApiResult<Provider> {
    Provider::parse(name).filter(|p| p.is_cloud()).ok_or_else(|| {
        let names: Vec<&str> = CLOUD_PROVIDERS.iter().map(|p| p.as_str()).collect();
        ApiError::bad(format!("provider: '{name}' is not one of {}", names.join(", ")))
    })
}

/// A key or URL as sent: trimmed, not empty, not too long, no control characters.
fn clean(field: &str, v: &str, max: usize) -> ApiResult<String> {
    let v = v.trim();
    if v.is_empty() {
        return Err(ApiError::bad(format!("{field}: must not be empty")));
    }
    check_len(field, v, max)?;
    if v.chars().any(char::is_control) {
        return Err(ApiError::bad(format!("{field}: must not contain control characters")));
    }
    Ok(v.to_string())
}

fn url(field: &str, v: &str, schemes: &[&str]) -> ApiResult<String> {
    let v = clean(field, v, MAX_URL_CHARS)?;
    let u = url::Url::parse(&v).map_err(|e| ApiError::bad(format!("{field}: not a URL ({e})")))?;
    if !schemes.contains(&u.scheme()) || u.host_str().is_none() {
        return Err(ApiError::bad(format!(
            "{field}: must be a {} URL with a host",
            schemes.join(":// or ") + "://"
        )));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(ApiError::bad(format!(
            "{field}: must not carry credentials (the key goes in api_key)"
        )));
    }
    Ok(v)
}

fn view(k: &SpeechKeyInfo) -> Value {
    json!({ "provider": k.provider, "hint": k.hint, "base_url": k.base_url, "updated": Timestamp(k.updated) })
}

#[utoipa::path(put, path = "/team/speech_keys/{provider}", tag = "team", request_body = SpeechKeyBody,
    params(("provider" = String, Path, description = "deepgram, openai, elevenlabs or cartesia")),
    responses((status = 200, description = "The key is set (replacing any earlier one); the answer shows its last four characters, never the key", body = Envelope<SpeechKeyView>),
              (status = 400, description = "An unknown provider, an empty key, or a base URL that is not ws(s):// or http(s)://"),
              (status = 403, description = "A signed-in member who is not an owner")))]
pub async fn set_key(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(name): Path<String>,
    ApiJson(b): ApiJson<SpeechKeyBody>,
) -> ApiResult<Json<Value>> {
    team.require_owner()?;
    let provider = provider(&name)?;
    let key = clean("api_key", &b.api_key, MAX_KEY_CHARS)?;
    let base_url = b
        .base_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        .map(|u| url("base_url", u, &["wss", "ws", "https", "http"]))
        .transpose()?;
    let info = s
        .store
        .set_speech_key(&team.id, provider, &key, base_url.as_deref())
        .await?;
    Ok(ok(view(&info)))
}

#[utoipa::path(get, path = "/team/speech_keys", tag = "team",
    responses((status = 200, description = "The team's speech keys by provider; never a key", body = Envelope<SpeechKeyList>)))]
pub async fn list_keys(State(s): State<AppState>, Extension(team): Extension<Team>) -> ApiResult<Json<Value>> {
    let keys: Vec<Value> = s.store.speech_keys(&team.id).await?.iter().map(view).collect();
    Ok(ok(json!({ "speech_keys": keys })))
}

#[utoipa::path(delete, path = "/team/speech_keys/{provider}", tag = "team",
    params(("provider" = String, Path, description = "deepgram, openai, elevenlabs or cartesia")),
    responses((status = 200, description = "Removed: agents that chose this provider use the embedded engine from their next call (and the call records it): data null", body = Envelope<Null>),
              (status = 400, description = "An unknown provider"),
              (status = 403, description = "A signed-in member who is not an owner"),
              (status = 404, description = "Speech key not found")))]
pub async fn delete_key(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    team.require_owner()?;
    let provider = provider(&name)?;
    s.store
        .delete_speech_key(&team.id, provider)
        .await
        .map_err(super::not_found("Speech key not found"))?;
    Ok(ok(Value::Null))
}

fn llm_view(l: &TeamLlm) -> Value {
    json!({
        "base_url": l.base_url,
        "model": l.model,
        "api_key_hint": l.api_key.as_deref().map(hint),
    })
}

#[utoipa::path(get, path = "/team/llm", tag = "team",
    responses((status = 200, description = "The team's own LLM endpoint (the key's last four characters, never the key); every field null when the team uses the server's", body = Envelope<TeamLlmView>)))]
pub async fn get_llm(State(s): State<AppState>, Extension(team): Extension<Team>) -> ApiResult<Json<Value>> {
    let t = s.store.team(&team.id).await?;
    Ok(ok(match &t.llm {
        Some(l) => llm_view(l),
        None => json!({ "base_url": null, "model": null, "api_key_hint": null }),
    }))
}

#[utoipa::path(put, path = "/team/llm", tag = "team", request_body = TeamLlmBody,
    responses((status = 200, description = "The team's LLM endpoint is set; prompt nodes are allowed from now on", body = Envelope<TeamLlmView>),
              (status = 400, description = "A base URL that is not http(s)://, or a field too long"),
              (status = 403, description = "A signed-in member who is not an owner")))]
pub async fn set_llm(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(b): ApiJson<TeamLlmBody>,
) -> ApiResult<Json<Value>> {
    team.require_owner()?;
    let base_url = url("base_url", &b.base_url, &["https", "http"])?;
    let current = s.store.team(&team.id).await?.llm;
    let api_key = match b.api_key.as_deref().map(str::trim) {
        None => current.and_then(|c| c.api_key),
        Some("") => None,
        Some(k) => Some(clean("api_key", k, MAX_KEY_CHARS)?),
    };
    let model = match b.model.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => Some(clean("model", m, 200)?),
        None => None,
    };
    let llm = TeamLlm {
        base_url,
        api_key,
        model,
    };
    s.store.set_team_llm(&team.id, Some(&llm)).await?;
    Ok(ok(llm_view(&llm)))
}

#[utoipa::path(delete, path = "/team/llm", tag = "team",
    responses((status = 200, description = "The team uses the server's LLM endpoint (if any) again: data null", body = Envelope<Null>),
              (status = 403, description = "A signed-in member who is not an owner")))]
pub async fn delete_llm(State(s): State<AppState>, Extension(team): Extension<Team>) -> ApiResult<Json<Value>> {
    team.require_owner()?;
    s.store.set_team_llm(&team.id, None).await?;
    Ok(ok(Value::Null))
}
