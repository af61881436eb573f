//! `/webhooks…`: subscriptions and deliveries.

use crate::auth::Team;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Params};
use crate::schemas::{Envelope, SigningSecret};
use crate::{ok, AppState};
use axum::extract::State;
use axum::{Extension, Json};
use parley_core::webhook::EventType;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeBody {
    /// NEW_RESPONSE, PHONE_TRANSFER, ACTION_FAILED or CALL_PROGRESS.
    #[serde(rename = "type")]
    #[schema(
        example = "NEW_RESPONSE",
        pattern = "^(NEW_RESPONSE|PHONE_TRANSFER|ACTION_FAILED|CALL_PROGRESS)$"
    )]
    pub event_type: String,
    #[schema(example = "https://example.com/hooks/parley", max_length = 2048)]
    pub url: String,
    /// An agent (interview) id to scope to; absent or null for all agents.
    pub data: Option<Value>,
}

async fn parse(s: &AppState, team: &str, b: &SubscribeBody) -> ApiResult<(EventType, String, Option<String>)> {
    let t = EventType::parse(&b.event_type).ok_or_else(|| {
        ApiError::bad(format!(
            "type: '{}' is not NEW_RESPONSE, PHONE_TRANSFER, ACTION_FAILED or CALL_PROGRESS",
            b.event_type
        ))
    })?;
    let url = b.url.trim();
    let parsed = url::Url::parse(url).map_err(|_| ApiError::bad(format!("url: '{url}' is not a URL")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() || url.len() > 2048 {
        return Err(ApiError::bad("url: must be an http(s) URL of at most 2048 characters"));
    }
    let scope = match &b.data {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if id.is_empty() => None,
        Some(Value::String(id)) => {
            // Same answer for another team's agent as for a missing one.
            crate::routes::interviews::find(s, team, id)
                .await
                .map_err(|_| ApiError::bad_with("Interview not found, please try again", "interview_not_found"))?;
            Some(id.clone())
        }
        Some(Value::Object(o)) if o.get("interview_id").and_then(Value::as_str).is_some() => {
            let id = o["interview_id"].as_str().unwrap_or_default().to_string();
            crate::routes::interviews::find(s, team, &id)
                .await
                .map_err(|_| ApiError::bad_with("Interview not found, please try again", "interview_not_found"))?;
            Some(id)
        }
        Some(_) => {
            return Err(ApiError::bad(
                "data: must be an agent (interview) id, or absent for all agents",
            ))
        }
    };
    Ok((t, url.to_string(), scope))
}

#[utoipa::path(post, path = "/webhooks/subscribe", tag = "webhooks", request_body = SubscribeBody,
    responses((status = 200, body = Envelope<parley_store::webhooks::Webhook>)))]
pub async fn subscribe(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(b): ApiJson<SubscribeBody>,
) -> ApiResult<Json<Value>> {
    let (t, url, scope) = parse(&s, &team.id, &b).await?;
    Ok(ok(s.store.subscribe(&team.id, t, &url, scope.as_deref()).await?))
}

#[utoipa::path(delete, path = "/webhooks/unsubscribe", tag = "webhooks", request_body = SubscribeBody,
    responses((status = 200, description = "data: null; the subscription's pending deliveries become `canceled`"), (status = 404, description = "Webhook not found")))]
pub async fn unsubscribe(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(b): ApiJson<SubscribeBody>,
) -> ApiResult<Json<Value>> {
    let (t, url, scope) = parse(&s, &team.id, &b).await?;
    // Its pending deliveries are canceled with it (their retries would go to a removed URL).
    s.store
        .unsubscribe(&team.id, t, &url, scope.as_deref())
        .await
        .map_err(super::not_found("Webhook not found"))?;
    Ok(ok(Value::Null))
}

#[utoipa::path(get, path = "/webhooks", tag = "webhooks", responses((status = 200, body = Envelope<Vec<parley_store::webhooks::Webhook>>)))]
pub async fn list(State(s): State<AppState>, Extension(team): Extension<Team>) -> ApiResult<Json<Value>> {
    Ok(ok(s.store.webhooks(&team.id).await?))
}

#[utoipa::path(get, path = "/webhooks/deliveries", tag = "webhooks", params(("limit" = Option<i64>, Query, description = "1-200, default 50")),
    responses((status = 200, body = Envelope<Vec<parley_store::webhooks::Delivery>>)))]
pub async fn deliveries(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let (_, limit) = p.paging(50, 200)?;
    let mut list = s.store.deliveries(&team.id, limit).await?;
    // A log, not the subscription: credentials and query values in the URL are not echoed
    // (errors recorded by the sender are redacted the same way).
    for d in &mut list {
        d.url = parley_jobs::outbound::redact_str(&d.url);
    }
    Ok(ok(list))
}

/// Parley addition: the secret that signs this team's deliveries (`X-Parley-Signature`).
#[utoipa::path(get, path = "/webhooks/signing_secret", tag = "webhooks", responses((status = 200, description = "{signing_secret}", body = Envelope<SigningSecret>)))]
pub async fn signing_secret(State(s): State<AppState>, Extension(team): Extension<Team>) -> ApiResult<Json<Value>> {
    Ok(ok(
        serde_json::json!({ "signing_secret": s.store.team(&team.id).await?.signing_secret }),
    ))
}

/// Parley addition: sends a delivery again (the dashboard's "resend"), as a new delivery of the
/// same event queued at once. 404 for an unknown (or another team's) delivery, 409 when its
/// subscription was removed.
#[utoipa::path(post, path = "/webhooks/deliveries/{id}/resend", tag = "webhooks", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "{delivery_id}: the new delivery"), (status = 404, description = "Delivery not found"), (status = 409)))]
pub async fn resend(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> ApiResult<Json<Value>> {
    super::uuid_or(&id, "Delivery not found")?;
    let new_id = s
        .store
        .resend_delivery(&team.id, &id)
        .await
        .map_err(super::not_found("Delivery not found"))?;
    Ok(ok(serde_json::json!({ "delivery_id": new_id })))
}
