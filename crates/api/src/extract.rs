//! Request extractors that turn every malformed input into the envelope with a clear message:
//! [`ApiJson`] for bodies, [`Params`] for query strings (which must accept both `tags[]=a` and
//! repeated `tags=a`, as Thoughtly clients send either), and [`check_uri`], the middleware that
//! checks every route's path parameters and query string before a handler sees them.
//!
//! Text no database stores is refused here, once, at the boundary: the NUL character (`\u0000`)
//! is valid JSON and valid UTF-8, but PostgreSQL's `text` cannot hold it (a 500 deep in a
//! handler). A 400 names the field it was found in (`name`, `tags[2]`, `attributes.city`,
//! `search`, `id`).

use crate::bounds::{check_len, MAX_FILTER_VALUES, MAX_FILTER_VALUE_CHARS, MAX_ID_CHARS, MAX_OFFSET, MAX_SEARCH_CHARS};
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::{header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Bodies larger than this are parsed on a blocking thread: parsing and checking a 1 MiB
/// document takes milliseconds of CPU, which must not hold up the request threads that answer
/// everyone else.
const PARSE_OFF_THREAD_BYTES: usize = 64 * 1024;

/// A JSON body: 415 without a JSON content type, 413 over the size limit, 400 `Invalid Syntax`
/// for malformed JSON, 400 naming the field for wrong types or missing fields.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send + 'static> FromRequest<S> for ApiJson<T> {
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
        if bytes.len() > PARSE_OFF_THREAD_BYTES {
            tokio::task::spawn_blocking(move || parse_json(&bytes))
                .await
                .map_err(|e| ApiError::Internal(format!("parsing a body: {e}")))?
                .map(ApiJson)
        } else {
            parse_json(&bytes).map(ApiJson)
        }
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first, so malformed JSON gets Thoughtly's exact message.
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| ApiError::bad_with("Invalid Syntax", "invalid_json"))?;
    if !value.is_object() {
        return Err(ApiError::bad_with("the body must be a JSON object", "invalid_json"));
    }
    if let Some(field) = find_nul(&value) {
        return Err(nul_error(&field));
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

/// Where the first NUL character of a JSON document is: `name`, `tags[2]`, `attributes.city`
/// (a key holding one is named by itself); `None` when there is none. Recursion is bounded by
/// serde_json's nesting limit (128), which the document already passed.
pub fn find_nul(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => s.contains('\0').then(String::new),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| find_nul(x).map(|p| format!("[{i}]{p}"))),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            if k.contains('\0') {
                Some(format!(".{}", k.replace('\0', "\\u0000")))
            } else {
                find_nul(x).map(|p| format!(".{k}{p}"))
            }
        }),
        _ => None,
    }
}

fn nul_error(field: &str) -> ApiError {
    let field = field.strip_prefix('.').unwrap_or(field);
    ApiError::bad_with(
        format!("{field}: must not contain the NUL character (\\u0000)"),
        "invalid_text",
    )
}

/// Middleware for every route: path parameters must be UTF-8 once percent-decoded, hold no NUL
/// character and be at most [`MAX_ID_CHARS`] long (every id Parley issues is far shorter); query
/// parameters must hold no NUL character. Runs before authentication and the handler, so no
/// handler, and no database, ever sees such text.
pub async fn check_uri(req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    if let Err(e) = check_parts(&mut parts).await {
        return e.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

async fn check_parts(parts: &mut Parts) -> Result<(), ApiError> {
    match RawPathParams::from_request_parts(parts, &()).await {
        Ok(params) => {
            for (name, value) in &params {
                if value.contains('\0') {
                    return Err(nul_error(name));
                }
                check_len(name, value, MAX_ID_CHARS)?;
            }
        }
        Err(RawPathParamsRejection::InvalidUtf8InPathParam(e)) => {
            return Err(ApiError::bad(format!("path: {}", e.body_text())));
        }
        Err(_) => {} // a route without parameters
    }
    if let Some(q) = parts.uri.query() {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            if k.contains('\0') {
                return Err(nul_error("query"));
            }
            if v.contains('\0') {
                return Err(nul_error(&k));
            }
        }
    }
    Ok(())
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

    /// `search`: trimmed, empty as absent, at most [`MAX_SEARCH_CHARS`] characters.
    pub fn search(&self, name: &str) -> Result<Option<String>, ApiError> {
        let Some(s) = self.get(name).map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        check_len(name, s, MAX_SEARCH_CHARS)?;
        Ok(Some(s.to_string()))
    }

    /// A list filter ([`Params::all`]): at most [`MAX_FILTER_VALUES`] values of at most
    /// [`MAX_FILTER_VALUE_CHARS`] characters each, so the query built from it stays small.
    pub fn list(&self, name: &str) -> Result<Vec<String>, ApiError> {
        let values = self.all(name);
        if values.len() > MAX_FILTER_VALUES {
            return Err(ApiError::bad(format!(
                "{name}[]: at most {MAX_FILTER_VALUES} values (got {})",
                values.len()
            )));
        }
        for v in &values {
            check_len(&format!("{name}[]"), v, MAX_FILTER_VALUE_CHARS)?;
        }
        Ok(values)
    }

    /// `page` (from 0) and `limit` (1..=max, default `default`), with `page × limit` at most
    /// [`MAX_OFFSET`]: the offset handed to the database cannot overflow, and a page past the
    /// bound is a 400 rather than an empty (or wrapped-around) page.
    pub fn paging(&self, default: i64, max: i64) -> Result<(i64, i64), ApiError> {
        let int = |name: &str| -> Result<Option<i64>, ApiError> {
            self.get(name)
                .map(|v| {
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| ApiError::bad(format!("{name}: '{}' is not a whole number", excerpt(v))))
                })
                .transpose()
        };
        let page = int("page")?.unwrap_or(0);
        if page < 0 {
            return Err(ApiError::bad("page: must be 0 or more (pages count from 0)"));
        }
        let limit = int("limit")?.unwrap_or(default);
        if !(1..=max).contains(&limit) {
            return Err(ApiError::bad(format!("limit: must be between 1 and {max}")));
        }
        if page > MAX_OFFSET / limit {
            return Err(ApiError::bad(format!(
                "page: at most {} with limit {limit} (page × limit must be at most {MAX_OFFSET})",
                MAX_OFFSET / limit
            )));
        }
        Ok((page, limit))
    }
}

/// The start of a client's text for an error message: at most 40 characters, so a message
/// never echoes a megabyte back.
pub fn excerpt(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(q: &str) -> Params {
        Params(url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
    }

    #[test]
    fn nul_is_found_and_named_anywhere_in_a_document() {
        assert_eq!(find_nul(&json!({"name": "ok", "n": 1})), None);
        assert_eq!(find_nul(&json!({"name": "a\0b"})).as_deref(), Some(".name"));
        assert_eq!(find_nul(&json!({"tags": ["a", "\0"]})).as_deref(), Some(".tags[1]"));
        assert_eq!(
            find_nul(&json!({"attributes": {"city": "x\0"}})).as_deref(),
            Some(".attributes.city")
        );
        assert_eq!(
            find_nul(&json!({"attributes": {"ci\0ty": "x"}})).as_deref(),
            Some(".attributes.ci\\u0000ty")
        );
        let e = parse_json::<Value>(br#"{"flow": {"nodes": [{"id": "\u0000"}]}}"#).unwrap_err();
        assert!(
            format!("{e:?}").contains("flow.nodes[0].id: must not contain the NUL"),
            "{e:?}"
        );
    }

    #[test]
    fn paging_is_bounded_before_any_arithmetic() {
        assert_eq!(params("").paging(20, 50).unwrap(), (0, 20));
        assert_eq!(params("page=20000&limit=50").paging(20, 50).unwrap(), (20000, 50));
        for q in [
            "page=20001&limit=50",
            "page=9223372036854775807&limit=50",
            "page=99999999999999999999",
            "page=-1",
            "limit=0",
            "limit=51",
            "page=1.5",
        ] {
            assert!(params(q).paging(20, 50).is_err(), "{q}");
        }
    }

    #[test]
    fn list_filters_and_search_are_bounded() {
        let many: String = (0..=MAX_FILTER_VALUES).map(|i| format!("tags[]=t{i}&")).collect();
        assert!(params(&many).list("tags").is_err());
        assert_eq!(params("tags[]=a&tags=b,c").list("tags").unwrap(), vec!["a", "b", "c"]);
        assert!(params(&format!("tags[]={}", "x".repeat(65))).list("tags").is_err());
        assert_eq!(params("search=%20%20").search("search").unwrap(), None);
        assert!(params(&format!("search={}", "x".repeat(201))).search("search").is_err());
        assert_eq!(params("search=50%25").search("search").unwrap().as_deref(), Some("50%"));
    }

    #[test]
    fn excerpts_are_short() {
        assert_eq!(excerpt("abc"), "abc");
        assert_eq!(excerpt(&"é".repeat(100)).chars().count(), 41);
    }
}
