//! The one error of outbound HTTP, and the redaction every message built from a URL goes through.
//!
//! Why a type of its own: callers decide on the variant (a refused address is final, a timeout
//! is retried), never on the text; and every variant holds its URL already redacted, so no
//! message, stored `last_error` or log field built from it can echo `user:password@` or a
//! `?token=` value. reqwest's own errors print the whole URL, credentials included: they are
//! never shown as they are (see [`error_chain`]).

use std::fmt::Write as _;
use std::time::Duration;
use url::Url;

/// What went wrong sending one request. Each `url` is already [`redact`]ed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// Not a URL Parley sends to (not http(s), no host, unparsable). Final.
    #[error("{0}")]
    InvalidUrl(String),
    /// The host is, or resolves to, a private, loopback or otherwise non-public address. Final:
    /// retrying cannot change the answer an operator's network gives.
    #[error("refused: {url} resolves to a private or loopback address (set PARLEY_ALLOW_PRIVATE_WEBHOOKS=1 to allow)")]
    Refused { url: String },
    /// No answer in time.
    #[error("no response from {url} {}", .after.map(|d| format!("within {} ms", d.as_millis())).unwrap_or_else(|| "in time".into()))]
    Timeout { url: String, after: Option<Duration> },
    /// The host's name did not resolve, or no connection could be made (refused, reset, TLS).
    #[error("could not connect to {url}: {detail}")]
    Connect { url: String, detail: String },
    /// The server answered with a status the caller does not accept.
    #[error("HTTP {status} from {url}")]
    Status { url: String, status: u16 },
    /// Anything else while sending or reading the answer (a body cut short, a bad header).
    #[error("request to {url} failed: {detail}")]
    Request { url: String, detail: String },
}

impl OutboundError {
    /// The status error for `url` (redacted here).
    pub fn status(url: &Url, status: u16) -> OutboundError {
        OutboundError::Status {
            url: redact(url),
            status,
        }
    }

    /// A timeout of the caller's own (a deadline around send and body).
    pub fn timeout(url: &Url, after: Duration) -> OutboundError {
        OutboundError::Timeout {
            url: redact(url),
            after: Some(after),
        }
    }

    /// Classifies a reqwest error for `url`: a refusal of the guarded resolver is found by its
    /// type in the error's sources, not by its text.
    pub fn from_reqwest(url: &Url, e: reqwest::Error) -> OutboundError {
        let url = redact(url);
        if refused_in_chain(&e) {
            return OutboundError::Refused { url };
        }
        if e.is_timeout() {
            return OutboundError::Timeout { url, after: None };
        }
        let connect = e.is_connect();
        // The reqwest error without the URL it would append (credentials and all).
        let detail = error_chain(&e.without_url());
        if connect {
            OutboundError::Connect { url, detail }
        } else {
            OutboundError::Request { url, detail }
        }
    }

    /// A refusal by the address guard (final: never retried).
    pub fn is_refused(&self) -> bool {
        matches!(self, OutboundError::Refused { .. })
    }

    /// Whether another try may succeed: timeouts, connection and transport failures, and the
    /// statuses of a server in trouble (5xx, 408, 429). A refused or invalid URL never.
    pub fn is_retryable(&self) -> bool {
        match self {
            OutboundError::InvalidUrl(_) | OutboundError::Refused { .. } => false,
            OutboundError::Timeout { .. } | OutboundError::Connect { .. } | OutboundError::Request { .. } => true,
            OutboundError::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
        }
    }
}

/// The guarded resolver's refusal, carried through reqwest and hyper as an error source.
#[derive(Debug)]
pub struct RefusedAddress {
    /// The host name that resolved to a refused address.
    pub host: String,
}

impl std::fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resolves to a private or loopback address", self.host)
    }
}

impl std::error::Error for RefusedAddress {}

fn refused_in_chain(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if c.is::<RefusedAddress>() {
            return true;
        }
        cur = c.source();
    }
    false
}

/// An error and its sources on one line (`a: b: c`): reqwest keeps the cause (DNS, refused,
/// TLS) in the sources. The caller strips URLs first (`reqwest::Error::without_url`): the
/// sources of a transport error name hosts at most, never a URL.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let next = c.to_string();
        // hyper repeats its cause in its own message sometimes; say it once.
        if !s.ends_with(&next) {
            s.push_str(": ");
            s.push_str(&next);
        }
        cur = c.source();
    }
    s
}

/// `url` as it may be shown: user and password replaced by `***`, every query value replaced by
/// `***` (keys kept: `?token=***&page=***`), no fragment. Query values are all hidden because
/// no list of names (`token`, `key`, `sig`, `code`, ...) covers what receivers use for secrets.
pub fn redact(url: &Url) -> String {
    let mut out = format!("{}://", url.scheme());
    if !url.username().is_empty() || url.password().is_some() {
        out.push_str("***@");
    }
    if let Some(host) = url.host() {
        let _ = write!(out, "{host}");
    }
    if let Some(port) = url.port() {
        let _ = write!(out, ":{port}");
    }
    out.push_str(url.path());
    if let Some(q) = url.query() {
        let pairs: Vec<String> = q
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, _)) => format!("{k}=***"),
                None => "***".to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// [`redact`] for a URL as text; text that does not parse is not shown at all.
pub fn redact_str(raw: &str) -> String {
    match Url::parse(raw.trim()) {
        Ok(u) => redact(&u),
        Err(_) => "(an unparsable URL)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_credentials_and_query_values() {
        for (raw, shown) in [
            (
                "https://user:secret@hooks.example.com/x?token=abc&page=2#frag",
                "https://***@hooks.example.com/x?token=***&page=***",
            ),
            ("https://secret@hooks.example.com/", "https://***@hooks.example.com/"),
            (
                "https://:secret@hooks.example.com:8443/a",
                "https://***@hooks.example.com:8443/a",
            ),
            ("http://[::1]:9/hook?secret", "http://[::1]:9/hook?***"),
            ("http://example.com/plain", "http://example.com/plain"),
        ] {
            assert_eq!(redact_str(raw), shown, "{raw}");
            assert!(!redact_str(raw).contains("secret"), "{raw}");
        }
        assert_eq!(redact_str("not a url with secret"), "(an unparsable URL)");
    }

    #[test]
    fn every_variant_displays_its_url_redacted() {
        let u = Url::parse("https://user:secret@example.com/h?token=secret").unwrap();
        for e in [
            OutboundError::status(&u, 500),
            OutboundError::timeout(&u, Duration::from_secs(1)),
            OutboundError::Refused { url: redact(&u) },
            OutboundError::Connect {
                url: redact(&u),
                detail: "dns error".into(),
            },
        ] {
            let text = e.to_string();
            assert!(!text.contains("secret") && !text.contains("user"), "{text}");
            assert!(text.contains("https://***@example.com/h?token=***"), "{text}");
        }
    }

    #[test]
    fn retry_decisions_follow_the_variant() {
        let u = Url::parse("https://example.com/").unwrap();
        assert!(!OutboundError::Refused { url: redact(&u) }.is_retryable());
        assert!(!OutboundError::InvalidUrl("x".into()).is_retryable());
        assert!(!OutboundError::status(&u, 404).is_retryable());
        assert!(OutboundError::status(&u, 503).is_retryable());
        assert!(OutboundError::status(&u, 429).is_retryable());
        assert!(OutboundError::timeout(&u, Duration::from_secs(1)).is_retryable());
    }
}
