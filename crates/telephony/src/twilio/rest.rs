//! A small client of Twilio's REST `Calls` resource: place a call, hang it up or cancel it.
//!
//! The request bodies are built by plain functions ([`create_call_form`]) so they are tested
//! without a network; [`RestClient`] only sends them. The base URL is configurable
//! ([`API_BASE_ENV`]) so tests run against the fake Twilio on loopback.
//!
//! Decision: the call's instructions go inline (`Twiml`) rather than as a `Url` Twilio fetches:
//! one round trip less on answer, and no TwiML endpoint to secure. `Url` stays available.
//! Status callbacks ask for all four events (`initiated ringing answered completed`), repeated
//! as Twilio wants a list parameter, so the dialer sees ringing as it happens.

use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// The environment variable naming the API base (default [`DEFAULT_API_BASE`]).
pub const API_BASE_ENV: &str = "PARLEY_TWILIO_API_BASE";
/// Twilio's REST API.
pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";

/// A Twilio account's credentials. The token never appears in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub account_sid: String,
    pub auth_token: String,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .finish()
    }
}

/// What the call does once answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instructions {
    /// A TwiML document, sent inline.
    Twiml(String),
    /// A URL Twilio fetches the TwiML from (with a signed POST).
    Url(String),
}

/// A call to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCall {
    /// Destination, E.164.
    pub to: String,
    /// Caller id: one of the account's numbers, E.164.
    pub from: String,
    pub instructions: Instructions,
    /// Where Twilio POSTs progress (initiated, ringing, answered, completed).
    pub status_callback: Option<String>,
    /// Ring timeout; Twilio allows 5..=600 seconds and rounds to whole seconds.
    pub timeout: Option<Duration>,
    /// `Enable` or `DetectMessageEnd` to ask for answering-machine detection; off when `None`.
    pub machine_detection: Option<String>,
}

/// The form body of `POST …/Calls.json`, in the order it is sent.
pub fn create_call_form(req: &CreateCall) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = vec![("To".into(), req.to.clone()), ("From".into(), req.from.clone())];
    match &req.instructions {
        Instructions::Twiml(t) => f.push(("Twiml".into(), t.clone())),
        Instructions::Url(u) => f.push(("Url".into(), u.clone())),
    }
    if let Some(cb) = &req.status_callback {
        f.push(("StatusCallback".into(), cb.clone()));
        for ev in ["initiated", "ringing", "answered", "completed"] {
            f.push(("StatusCallbackEvent".into(), ev.into()));
        }
        f.push(("StatusCallbackMethod".into(), "POST".into()));
    }
    if let Some(t) = req.timeout {
        let secs = t.as_secs_f64().round().clamp(5.0, 600.0) as u64;
        f.push(("Timeout".into(), secs.to_string()));
    }
    if let Some(md) = &req.machine_detection {
        f.push(("MachineDetection".into(), md.clone()));
    }
    f
}

/// A call as the REST API returns it (the fields Parley uses; the rest are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CallResource {
    pub sid: String,
    pub status: String,
    #[serde(default)]
    pub account_sid: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub direction: Option<String>,
}

/// Twilio's error body: `{"code": 21201, "message": "…", "more_info": "…", "status": 400}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiErrorBody {
    #[serde(default)]
    pub code: Option<u32>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub more_info: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
}

/// Why a REST request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestError {
    /// Twilio answered with an error (bad credentials are HTTP 401, code 20003).
    #[error("twilio error {}: {message} (HTTP {status})", .code.map_or("?".to_string(), |c| c.to_string()))]
    Api {
        status: u16,
        code: Option<u32>,
        message: String,
    },
    /// Twilio could not be reached, or the connection broke.
    #[error("twilio unreachable: {0}")]
    Transport(String),
    /// Twilio answered something that is not a call.
    #[error("unexpected answer from twilio (HTTP {status}): {detail}")]
    Decode { status: u16, detail: String },
    /// The configured base URL is not a URL.
    #[error("bad twilio API base {0:?}")]
    BadBase(String),
}

impl RestError {
    /// Whether the credentials were refused (a team's auth token is wrong or revoked).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            RestError::Api { status: 401, .. } | RestError::Api { code: Some(20003), .. }
        )
    }
}

/// Turns a REST answer into the call, or Twilio's error. Sans I/O.
pub fn parse_call_response(status: u16, body: &[u8]) -> Result<CallResource, RestError> {
    if (200..300).contains(&status) {
        return serde_json::from_slice(body).map_err(|e| RestError::Decode {
            status,
            detail: e.to_string(),
        });
    }
    match serde_json::from_slice::<ApiErrorBody>(body) {
        Ok(e) => Err(RestError::Api {
            status,
            code: e.code,
            message: e.message,
        }),
        Err(_) => Err(RestError::Api {
            status,
            code: None,
            message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        }),
    }
}

/// The REST client. Cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct RestClient {
    http: reqwest::Client,
    base: String,
}

impl RestClient {
    /// A client of the API at `base` (`https://api.twilio.com`, or a fake's `http://127.0.0.1:…`).
    pub fn new(base: &str) -> Result<Self, RestError> {
        let parsed = url::Url::parse(base).map_err(|_| RestError::BadBase(base.into()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(RestError::BadBase(base.into()));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| RestError::Transport(e.to_string()))?;
        Ok(RestClient {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// A client of the API named by `PARLEY_TWILIO_API_BASE`, or Twilio's.
    pub fn from_env() -> Result<Self, RestError> {
        let base = std::env::var(API_BASE_ENV).unwrap_or_else(|_| DEFAULT_API_BASE.to_string());
        Self::new(&base)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn calls_url(&self, account: &Account) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Calls",
            self.base,
            url::form_urlencoded::byte_serialize(account.account_sid.as_bytes()).collect::<String>()
        )
    }

    async fn post(&self, account: &Account, url: String, form: &[(String, String)]) -> Result<CallResource, RestError> {
        let resp = self
            .http
            .post(url)
            .basic_auth(&account.account_sid, Some(&account.auth_token))
            .form(form)
            .send()
            .await
            .map_err(|e| RestError::Transport(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| RestError::Transport(e.without_url().to_string()))?;
        parse_call_response(status, &body)
    }

    /// `POST /2010-04-01/Accounts/{AccountSid}/Calls.json`: places a call.
    pub async fn create_call(&self, account: &Account, req: &CreateCall) -> Result<CallResource, RestError> {
        let url = format!("{}.json", self.calls_url(account));
        self.post(account, url, &create_call_form(req)).await
    }

    /// Ends an answered call (`Status=completed`).
    pub async fn hang_up(&self, account: &Account, call_sid: &str) -> Result<CallResource, RestError> {
        self.update_status(account, call_sid, "completed").await
    }

    /// Cancels a call that is still queued or ringing (`Status=canceled`).
    pub async fn cancel(&self, account: &Account, call_sid: &str) -> Result<CallResource, RestError> {
        self.update_status(account, call_sid, "canceled").await
    }

    /// Replaces what an in-progress call does with `twiml` (e.g. `<Dial>` for a transfer): the
    /// call leaves its current verb (a `<Connect><Stream>` ends with a `stop`) and runs it.
    pub async fn redirect(&self, account: &Account, call_sid: &str, twiml: &str) -> Result<CallResource, RestError> {
        let sid: String = url::form_urlencoded::byte_serialize(call_sid.as_bytes()).collect();
        let url = format!("{}/{sid}.json", self.calls_url(account));
        self.post(account, url, &[("Twiml".into(), twiml.into())]).await
    }

    async fn update_status(&self, account: &Account, call_sid: &str, status: &str) -> Result<CallResource, RestError> {
        let sid: String = url::form_urlencoded::byte_serialize(call_sid.as_bytes()).collect();
        let url = format!("{}/{sid}.json", self.calls_url(account));
        self.post(account, url, &[("Status".into(), status.into())]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_form_has_twilios_names_and_repeated_events() {
        let f = create_call_form(&CreateCall {
            to: "+15005550006".into(),
            from: "+15005550001".into(),
            instructions: Instructions::Twiml("<Response/>".into()),
            status_callback: Some("https://p.example/twilio/status?call=1".into()),
            timeout: Some(Duration::from_millis(29_600)),
            machine_detection: None,
        });
        let got: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            got,
            [
                ("To", "+15005550006"),
                ("From", "+15005550001"),
                ("Twiml", "<Response/>"),
                ("StatusCallback", "https://p.example/twilio/status?call=1"),
                ("StatusCallbackEvent", "initiated"),
                ("StatusCallbackEvent", "ringing"),
                ("StatusCallbackEvent", "answered"),
                ("StatusCallbackEvent", "completed"),
                ("StatusCallbackMethod", "POST"),
                ("Timeout", "30"),
            ]
        );
        let f = create_call_form(&CreateCall {
            to: "a".into(),
            from: "b".into(),
            instructions: Instructions::Url("https://x/twiml".into()),
            status_callback: None,
            timeout: Some(Duration::from_secs(1)),
            machine_detection: Some("Enable".into()),
        });
        assert!(f.contains(&("Url".into(), "https://x/twiml".into())));
        assert!(f.contains(&("Timeout".into(), "5".into())));
        assert!(f.contains(&("MachineDetection".into(), "Enable".into())));
        assert!(!f.iter().any(|(k, _)| k.starts_with("StatusCallback")));
    }

    #[test]
    fn responses_and_errors_parse() {
        let ok = br#"{"sid":"CA0123","status":"queued","account_sid":"AC1","to":"+1","from":"+2","direction":"outbound-api","price":null}"#;
        assert_eq!(parse_call_response(201, ok).unwrap().sid, "CA0123");
        let e = br#"{"code": 21201, "message": "No 'To' number is specified", "more_info": "https://www.twilio.com/docs/errors/21201", "status": 400}"#;
        assert_eq!(
            parse_call_response(400, e),
            Err(RestError::Api {
                status: 400,
                code: Some(21201),
                message: "No 'To' number is specified".into()
            })
        );
        let auth = parse_call_response(401, br#"{"code":20003,"message":"Authenticate","status":401}"#).unwrap_err();
        assert!(auth.is_auth());
        assert!(matches!(
            parse_call_response(502, b"<html>bad gateway"),
            Err(RestError::Api {
                status: 502,
                code: None,
                ..
            })
        ));
        assert!(matches!(parse_call_response(200, b"{}"), Err(RestError::Decode { .. })));
        assert!(RestClient::new("not a url").is_err());
        assert!(RestClient::new("ftp://x").is_err());
        assert_eq!(
            RestClient::new("http://127.0.0.1:9/").unwrap().base(),
            "http://127.0.0.1:9"
        );
        let a = Account {
            account_sid: "AC1".into(),
            auth_token: "secret".into(),
        };
        assert!(!format!("{a:?}").contains("secret"));
    }
}
