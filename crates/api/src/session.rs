//! The dashboard's sessions: the cookie that carries one, the CSRF rule, and password hashing.
//!
//! The dashboard calls the same API as integrations do, authenticated by a session cookie
//! instead of a token (see [`crate::auth`]). A cookie is sent by the browser on its own, so a
//! request another site makes the browser send would carry it too: every state-changing request
//! authenticated by a cookie must also carry `x-csrf-token`, the session's own random token, which
//! only a page of this origin can read (from `GET /user`). The cookie is `HttpOnly` (no script
//! reads it), `SameSite=Lax` (not sent on cross-site subrequests) and `Secure` when the server is
//! reached over TLS.
//!
//! Passwords are hashed with Argon2id (the `argon2` crate's defaults: 19 MiB, 2 passes), on a
//! blocking thread: about 50 ms of CPU each, which must not hold a runtime worker.

use crate::error::ApiError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::{HeaderMap, HeaderValue, Method};
use rand::RngCore;

/// The session cookie's name.
pub const COOKIE: &str = "parley_session";
/// The header that carries the session's CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts after sign-in.
pub const SESSION_TTL_MS: i64 = 14 * 24 * 3600 * 1000;
/// Shortest password accepted (NIST SP 800-63B's minimum for chosen passwords).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted: hashing cost grows with length, and no person types more.
pub const MAX_PASSWORD_BYTES: usize = 256;

/// The session cookie's value in a request, if it sent one.
pub fn cookie(h: &HeaderMap) -> Option<&str> {
    h.get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value that stores a session (`value`), or clears it (`None`).
pub fn set_cookie(value: Option<&str>, secure: bool) -> HeaderValue {
    let (v, age) = match value {
        Some(v) => (v, SESSION_TTL_MS / 1000),
        None => ("", 0),
    };
    let secure = if secure { "; Secure" } else { "" };
    // Only random token characters reach here (`ps_` + hex), so the value is always valid.
    HeaderValue::from_str(&format!(
        "{COOKIE}={v}; Path=/; HttpOnly; SameSite=Lax; Max-Age={age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("parley_session=; Path=/; Max-Age=0"))
}

/// Whether a method changes state, and so needs the CSRF token under cookie authentication.
pub fn needs_csrf(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The CSRF check: the header must equal the session's token (compared in constant time).
pub fn check_csrf(h: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let sent = h.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    if parley_core::ids::ct_eq(sent, expected) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "Missing or wrong x-csrf-token: reload the page and try again.",
        ))
    }
}

/// A password a person may choose: long enough, not absurdly long.
pub fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::bad(format!(
            "password: at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::bad(format!("password: at most {MAX_PASSWORD_BYTES} bytes")));
    }
    Ok(())
}

/// Argon2id hash of `password` in PHC string form, on a blocking thread.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::Internal(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// Whether `password` matches `stored` (a PHC string; an empty one, no password set, never
/// matches), on a blocking thread. A user that does not exist is checked against a dummy hash,
/// so the answer takes as long as for one that does and timing tells no one which emails exist.
pub async fn verify_password(password: String, stored: Option<String>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    tokio::task::spawn_blocking(move || {
        let dummy = DUMMY.get_or_init(|| {
            let salt = SaltString::encode_b64(&[7u8; 16]).expect("16 bytes is a valid salt");
            Argon2::default()
                .hash_password(b"not a password anyone has", &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        });
        let (hash, real) = match stored.as_deref() {
            Some(s) if !s.is_empty() => (s, true),
            _ => (dummy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && real
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_against_its_own_hash_only() {
        let h = hash_password("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse".into(), Some(h.clone())).await);
        assert!(!verify_password("correct horsE".into(), Some(h)).await);
        assert!(!verify_password("anything".into(), None).await);
        assert!(!verify_password("".into(), Some(String::new())).await);
    }

    #[test]
    fn the_cookie_is_found_among_others_and_set_with_its_attributes() {
        let mut h = HeaderMap::new();
        h.append("cookie", HeaderValue::from_static("a=1; parley_session=ps_abc; b=2"));
        assert_eq!(cookie(&h), Some("ps_abc"));
        let set = set_cookie(Some("ps_abc"), true);
        let set = set.to_str().unwrap();
        for part in ["parley_session=ps_abc", "HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(!set_cookie(None, false).to_str().unwrap().contains("Secure"));
        assert!(set_cookie(None, false).to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn csrf_is_needed_on_writes_only_and_must_match() {
        assert!(!needs_csrf(&Method::GET));
        assert!(needs_csrf(&Method::POST) && needs_csrf(&Method::DELETE));
        let mut h = HeaderMap::new();
        assert!(check_csrf(&h, "pc_x").is_err());
        h.insert(CSRF_HEADER, HeaderValue::from_static("pc_y"));
        assert!(check_csrf(&h, "pc_x").is_err());
        h.insert(CSRF_HEADER, HeaderValue::from_static("pc_x"));
        assert!(check_csrf(&h, "pc_x").is_ok());
    }
}
