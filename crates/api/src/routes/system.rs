//! `/health`, `/metrics`, and the envelope answers for unknown routes and methods.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::fmt::Write;

#[utoipa::path(get, path = "/health", tag = "system", security(()),
    responses((status = 200, description = "{\"status\":\"ok\"}"), (status = 503, description = "The database is unreachable")))]
pub async fn health(State(s): State<AppState>) -> Response {
    match s.store.ping().await {
        Ok(()) => Json(serde_json::json!({ "status": "ok" })).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "unavailable", "error": e.to_string() })),
        )
            .into_response(),
    }
}

#[utoipa::path(get, path = "/metrics", tag = "system", security(()), responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(State(s): State<AppState>) -> Result<Response, ApiError> {
    let mut extra = String::new();
    let _ = writeln!(extra, "# HELP parley_calls Calls by status.\n# TYPE parley_calls gauge");
    for (status, n) in s.store.calls_by_status().await? {
        let _ = writeln!(extra, "parley_calls{{status=\"{status}\"}} {n}");
    }
    let _ = writeln!(
        extra,
        "# HELP parley_job_queue_depth Jobs waiting or running, by kind.\n# TYPE parley_job_queue_depth gauge"
    );
    for (kind, n) in s.store.job_queue_depth().await? {
        let _ = writeln!(extra, "parley_job_queue_depth{{kind=\"{kind}\"}} {n}");
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(&extra),
    )
        .into_response())
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("Not found")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
