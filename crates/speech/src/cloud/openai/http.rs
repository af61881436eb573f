//! The HTTP side the OpenAI engines share: one client per engine, the endpoint URLs, the
//! optional key, and reading an error answer without ever showing the key.

use super::super::ApiKey;
use crate::SpeechError;
use std::time::Duration;
use url::Url;

/// The default base URL: OpenAI's API, version included.
pub(super) const OPENAI: &str = "https://api.openai.com/v1";

/// A client with the timeouts a call can live with: a connection in 10 s, and (for streamed
/// audio) no more than 15 s between two pieces of an answer.
pub(super) fn client() -> Result<reqwest::Client, SpeechError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| SpeechError::Engine(format!("HTTP client: {e}")))
}

/// Checks a base URL: `http`/`https` and able to take a path.
pub(super) fn check_base(who: &str, base: &Url) -> Result<(), SpeechError> {
    if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
        return Err(SpeechError::Engine(format!(
            "{who} config: the base URL must be http:// or https://"
        )));
    }
    Ok(())
}

/// `{base}/audio/{what}`.
pub(super) fn endpoint(base: &Url, what: &str) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.path_segments_mut()
        .expect("checked: a base URL")
        .pop_if_empty()
        .extend(["audio", what]);
    url
}

/// Adds `Authorization: Bearer <key>` (marked sensitive), or nothing without a key.
pub(super) fn authorize(request: reqwest::RequestBuilder, key: Option<&ApiKey>) -> reqwest::RequestBuilder {
    match key {
        Some(key) => request.bearer_auth(key.expose()),
        None => request,
    }
}

/// A request that failed before an answer: the error names the host and path, not the query.
pub(super) fn unreachable(who: &str, url: &Url, error: reqwest::Error) -> SpeechError {
    let what = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "could not connect".to_string()
    } else {
        error.without_url().to_string()
    };
    SpeechError::Engine(format!("{who}: {}{} {what}", url.host_str().unwrap_or("?"), url.path()))
}

/// An answer other than 2xx as an error. A refused key (401) says only that: OpenAI's message
/// for it repeats part of the key.
pub(super) async fn refused(who: &str, response: reqwest::Response) -> SpeechError {
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return SpeechError::Engine(format!("{who}: HTTP {status}: the API key was refused"));
    }
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or(body);
    let message: String = message.chars().take(200).collect();
    SpeechError::Engine(format!("{who}: HTTP {status}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_base_path() {
        let base = Url::parse("http://127.0.0.1:8000/v1").expect("url");
        assert_eq!(
            endpoint(&base, "speech").as_str(),
            "http://127.0.0.1:8000/v1/audio/speech"
        );
        let base = Url::parse("https://api.openai.com/v1/").expect("url");
        assert_eq!(
            endpoint(&base, "transcriptions").as_str(),
            "https://api.openai.com/v1/audio/transcriptions"
        );
        assert!(check_base("x", &Url::parse("ws://x/v1").expect("url")).is_err());
    }
}
