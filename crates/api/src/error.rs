//! The one error type of the API layer and its mapping to HTTP.
//!
//! Every error body is the envelope `{"data": null, "error": "<message>", "code": "<code>"}`.
//! Store and domain errors convert here, so handlers use `?` and never pick status codes for
//! database trouble themselves. Only a real server fault becomes a 500, and its details go to
//! the log, not to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use parley_core::ValidationError;
use parley_store::StoreError;
use serde_json::json;

#[derive(Debug)]
pub enum ApiError {
    Unauthorized,
    /// 401 from the dashboard's sign-in form: one message for an unknown email and a wrong
    /// password alike.
    SignInFailed,
    /// 400 with a message naming the field.
    BadRequest {
        message: String,
        code: &'static str,
    },
    /// 404 with e.g. "Contact not found".
    NotFound(&'static str),
    Conflict(String),
    PayloadTooLarge(String),
    UnsupportedMediaType,
    /// 429: `Retry-After` is when one more request fits, `X-RateLimit-Reset` when the whole
    /// quota of `limit` is back.
    RateLimited {
        limit: u32,
        retry_after_s: u64,
        reset_s: u64,
    },
    MethodNotAllowed,
    /// 403: the caller is known but may not do this (a member where an owner is needed, a
    /// dashboard request without its CSRF token).
    Forbidden(&'static str),
    /// 416: a `Range` that starts past the end of a file.
    RangeNotSatisfiable,
    /// 400 listing every problem of a document (an automation's graph): `error` joins them, and
    /// a Parley-added `problems` key lists each `{field, message}` for a builder to place.
    Problems(Vec<ValidationError>),
    Internal(String),
}

impl ApiError {
    pub fn bad(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            code: "invalid_request",
        }
    }

    pub fn bad_with(message: impl Into<String>, code: &'static str) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            code,
        }
    }

    /// Several validation problems answered at once, separated by "; ".
    pub fn from_many(errs: Vec<ValidationError>) -> Self {
        let code = errs.first().map_or("invalid_request", |e| e.code);
        ApiError::BadRequest {
            message: errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
            code,
        }
    }

    fn parts(&self) -> (StatusCode, String, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized.".into(), "unauthorized"),
            ApiError::BadRequest { message, code } => (StatusCode::BAD_REQUEST, message.clone(), code),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, (*m).into(), "not_found"),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m.clone(), "conflict"),
            ApiError::PayloadTooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m.clone(), "payload_too_large"),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expected a JSON body with the header Content-Type: application/json".into(),
                "unsupported_media_type",
            ),
            ApiError::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit exceeded".into(),
                "rate_limited",
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed".into(),
                "method_not_allowed",
            ),
            ApiError::SignInFailed => (
                StatusCode::UNAUTHORIZED,
                "Wrong email or password.".into(),
                "wrong_password",
            ),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, (*m).into(), "forbidden"),
            ApiError::RangeNotSatisfiable => (
                StatusCode::RANGE_NOT_SATISFIABLE,
                "Range not satisfiable: see Content-Range for the length".into(),
                "range_not_satisfiable",
            ),
            ApiError::Problems(errs) => (
                StatusCode::BAD_REQUEST,
                errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
                errs.first().map_or("invalid_request", |e| e.code),
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error".into(),
                "internal",
            ),
        }
    }
}

/// The message a client would get (for the command line, which shares the API's checks).
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.parts().1)
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::BadRequest {
            message: e.to_string(),
            code: e.code,
        }
    }
}

impl From<parley_automation::AutomationError> for ApiError {
    fn from(e: parley_automation::AutomationError) -> Self {
        use parley_automation::AutomationError as A;
        match e {
            A::Invalid(errs) => ApiError::Problems(errs),
            A::NotFound => ApiError::NotFound("Automation not found"),
            A::Unauthorized => ApiError::Unauthorized,
            A::Conflict(m) => ApiError::Conflict(m),
            A::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("Not found"),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Invalid(v) => v.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message, code) = self.parts();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let body = if matches!(self, ApiError::Unauthorized) {
            // Exactly Thoughtly's body.
            json!({ "error": message })
        } else if let ApiError::Problems(errs) = &self {
            let problems: Vec<_> = errs
                .iter()
                .map(|e| json!({ "field": e.field, "message": e.message }))
                .collect();
            json!({ "data": null, "error": message, "code": code, "problems": problems })
        } else {
            json!({ "data": null, "error": message, "code": code })
        };
        let mut res = (status, Json(body)).into_response();
        if let ApiError::RateLimited {
            limit,
            retry_after_s,
            reset_s,
        } = self
        {
            let h = res.headers_mut();
            h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
            h.insert("x-ratelimit-limit", HeaderValue::from(limit));
            h.insert("x-ratelimit-remaining", HeaderValue::from(0));
            h.insert("x-ratelimit-reset", HeaderValue::from(reset_s));
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
