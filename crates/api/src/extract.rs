//! Request extractors that turn every malformed input into the envelope with a clear message:
//! [`ApiJson`] for bodies, [`Params`] for query strings (which must accept both `tags[]=a` and
//! repeated `tags=a`, as Thoughtly clients send either).

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use serde::de::DeserializeOwned;

/// A JSON body: 415 without a JSON content type, 413 over the size limit, 400 `Invalid Syntax`
/// for malformed JSON, 400 naming the field for wrong types or missing fields.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge("Request body is too large".into())
            } else {
                ApiError::bad(e.body_text())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first, so malformed JSON gets Thoughtly's exact message.
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| ApiError::bad_with("Invalid Syntax", "invalid_json"))?;
    if !value.is_object() {
        return Err(ApiError::bad_with("the body must be a JSON object", "invalid_json"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." || path.is_empty() {
            ApiError::bad(inner)
        } else {
            ApiError::bad(format!("{path}: {inner}"))
        }
    })
}

/// The query string as ordered pairs.
pub struct Params(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        Ok(Params(url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()))
    }
}

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, sent as `name[]=a`, `name=a` or `name[0]=a`, split on commas too.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| {
                k == name
                    || k.strip_prefix(name)
                        .is_some_and(|r| r.starts_with('[') && r.ends_with(']'))
            })
            .flat_map(|(_, v)| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    pub fn bool(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some("true" | "1" | "") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(v) => Err(ApiError::bad(format!("{name}: '{v}' is not true or false"))),
        }
    }

    /// `page` (from 0) and `limit` (1..=max, default `default`).
    pub fn paging(&self, default: i64, max: i64) -> Result<(i64, i64), ApiError> {
        let int = |name: &str| -> Result<Option<i64>, ApiError> {
            self.get(name)
                .map(|v| {
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| ApiError::bad(format!("{name}: '{v}' is not a whole number")))
                })
                .transpose()
        };
        let page = int("page")?.unwrap_or(0);
        if page < 0 {
            return Err(ApiError::bad("page: must be 0 or more (pages count from 0)"));
        }
        if page > 1_000_000 {
            return Err(ApiError::bad("page: too large"));
        }
        let limit = int("limit")?.unwrap_or(default);
        if !(1..=max).contains(&limit) {
            return Err(ApiError::bad(format!("limit: must be between 1 and {max}")));
        }
        Ok((page, limit))
    }
}
