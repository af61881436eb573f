//! The two form posts Twilio makes to Parley: status callbacks of a call, and the voice webhook
//! of an inbound call. Parsed from the decoded form pairs; signature checking comes first
//! ([`super::signature::validate_request`]).
//!
//! Decision: Twilio's nine `CallStatus` values collapse to Parley's call progress here, once,
//! with the failure reason in the form the API shows (`"twilio: no-answer"`), so that no other
//! code spells Twilio's statuses. For `failed` alone, whose name says nothing of the cause, the
//! SIP response code and Twilio error code Twilio sent are appended
//! (`"twilio: failed (sip 404, error 32009)"`); `busy`, `no-answer` and `canceled` say it all.

use std::fmt;

/// Twilio's `CallStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    Queued,
    Initiated,
    Ringing,
    InProgress,
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
}

impl CallStatus {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => Self::Queued,
            "initiated" => Self::Initiated,
            "ringing" => Self::Ringing,
            "in-progress" => Self::InProgress,
            "completed" => Self::Completed,
            "busy" => Self::Busy,
            "no-answer" => Self::NoAnswer,
            "failed" => Self::Failed,
            "canceled" => Self::Canceled,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Initiated => "initiated",
            Self::Ringing => "ringing",
            Self::InProgress => "in-progress",
            Self::Completed => "completed",
            Self::Busy => "busy",
            Self::NoAnswer => "no-answer",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    /// Whether the call is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Busy | Self::NoAnswer | Self::Failed | Self::Canceled
        )
    }
}

impl fmt::Display for CallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a status callback means for Parley's call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Queued or initiated: nothing to report yet.
    Pending,
    Ringing,
    Answered,
    Busy {
        reason: String,
    },
    NoAnswer {
        reason: String,
    },
    /// Failed or canceled before it was answered.
    Failed {
        reason: String,
    },
    /// An answered call ended normally.
    Ended,
}

impl Progress {
    /// `call_failure_reason` for the call, when there is one.
    pub fn failure_reason(&self) -> Option<&str> {
        match self {
            Progress::Busy { reason } | Progress::NoAnswer { reason } | Progress::Failed { reason } => {
                Some(reason.as_str())
            }
            _ => None,
        }
    }
}

/// A required form field was missing or wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("missing form field {0}")]
    Missing(&'static str),
    #[error("form field {field} has an unknown value {value:?}")]
    Invalid { field: &'static str, value: String },
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn required(params: &[(String, String)], name: &'static str) -> Result<String, ParamError> {
    get(params, name).map(str::to_string).ok_or(ParamError::Missing(name))
}

fn optional(params: &[(String, String)], name: &str) -> Option<String> {
    get(params, name).map(str::to_string)
}

/// A status callback (`StatusCallback` URL of a call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCallback {
    pub call_sid: String,
    pub account_sid: String,
    pub status: CallStatus,
    pub from: Option<String>,
    pub to: Option<String>,
    pub direction: Option<String>,
    /// Seconds, on `completed`.
    pub call_duration: Option<u32>,
    /// Orders callbacks of one call (they may arrive out of order).
    pub sequence_number: Option<u32>,
    pub sip_response_code: Option<u16>,
    pub error_code: Option<String>,
    pub answered_by: Option<String>,
}

impl StatusCallback {
    pub fn parse(params: &[(String, String)]) -> Result<Self, ParamError> {
        let raw = required(params, "CallStatus")?;
        let status = CallStatus::parse(&raw).ok_or(ParamError::Invalid {
            field: "CallStatus",
            value: raw.chars().take(32).collect(),
        })?;
        Ok(StatusCallback {
            call_sid: required(params, "CallSid")?,
            account_sid: required(params, "AccountSid")?,
            status,
            from: optional(params, "From"),
            to: optional(params, "To"),
            direction: optional(params, "Direction"),
            call_duration: get(params, "CallDuration").and_then(|v| v.parse().ok()),
            sequence_number: get(params, "SequenceNumber").and_then(|v| v.parse().ok()),
            sip_response_code: get(params, "SipResponseCode").and_then(|v| v.parse().ok()),
            error_code: optional(params, "ErrorCode"),
            answered_by: optional(params, "AnsweredBy"),
        })
    }

    /// The call progress this callback reports.
    ///
    /// `completed` is [`Progress::Ended`]: Twilio reports a call that was never answered with
    /// one of the other final statuses, so a completed call was answered.
    pub fn progress(&self) -> Progress {
        let reason = || self.reason();
        match self.status {
            CallStatus::Queued | CallStatus::Initiated => Progress::Pending,
            CallStatus::Ringing => Progress::Ringing,
            CallStatus::InProgress => Progress::Answered,
            CallStatus::Completed => Progress::Ended,
            CallStatus::Busy => Progress::Busy { reason: reason() },
            CallStatus::NoAnswer => Progress::NoAnswer { reason: reason() },
            CallStatus::Failed | CallStatus::Canceled => Progress::Failed { reason: reason() },
        }
    }

    /// `"twilio: <status>"`; for `failed`, with the SIP and Twilio error codes Twilio sent.
    pub fn reason(&self) -> String {
        let mut detail = Vec::new();
        if self.status != CallStatus::Failed {
            return format!("twilio: {}", self.status);
        }
        if let Some(c) = self.sip_response_code {
            detail.push(format!("sip {c}"));
        }
        if let Some(e) = &self.error_code {
            detail.push(format!("error {e}"));
        }
        if detail.is_empty() {
            format!("twilio: {}", self.status)
        } else {
            format!("twilio: {} ({})", self.status, detail.join(", "))
        }
    }
}

/// The voice webhook of an inbound call to one of the team's Twilio numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceWebhook {
    pub call_sid: String,
    pub account_sid: String,
    /// The caller, E.164 (or `anonymous` / a client id; Twilio passes it through).
    pub from: String,
    /// The Twilio number called, E.164: the key to the agent bound to it.
    pub to: String,
    /// `inbound` for a call to the number.
    pub direction: String,
    pub caller_name: Option<String>,
}

impl VoiceWebhook {
    pub fn parse(params: &[(String, String)]) -> Result<Self, ParamError> {
        Ok(VoiceWebhook {
            call_sid: required(params, "CallSid")?,
            account_sid: required(params, "AccountSid")?,
            from: required(params, "From")?,
            to: required(params, "To")?,
            direction: optional(params, "Direction").unwrap_or_else(|| "inbound".into()),
            caller_name: optional(params, "CallerName"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(s: &str) -> Vec<(String, String)> {
        super::super::signature::parse_form(s.as_bytes())
    }

    #[test]
    fn statuses_map_to_progress_and_reasons() {
        let base = "CallSid=CA1&AccountSid=AC1&From=%2B15005550006&To=%2B15005550001&Direction=outbound-api";
        let p = |s: &str| {
            StatusCallback::parse(&form(&format!("{base}&CallStatus={s}")))
                .unwrap()
                .progress()
        };
        assert_eq!(p("queued"), Progress::Pending);
        assert_eq!(p("initiated"), Progress::Pending);
        assert_eq!(p("ringing"), Progress::Ringing);
        assert_eq!(p("in-progress"), Progress::Answered);
        assert_eq!(p("completed"), Progress::Ended);
        assert_eq!(
            p("busy"),
            Progress::Busy {
                reason: "twilio: busy".into()
            }
        );
        let with_code = |s: &str| {
            let q = format!("{base}&CallStatus={s}&SipResponseCode=487");
            StatusCallback::parse(&form(&q)).unwrap().reason()
        };
        assert_eq!(with_code("no-answer"), "twilio: no-answer");
        assert_eq!(p("no-answer").failure_reason(), Some("twilio: no-answer"));
        assert_eq!(
            p("failed"),
            Progress::Failed {
                reason: "twilio: failed".into()
            }
        );
        assert_eq!(
            p("canceled"),
            Progress::Failed {
                reason: "twilio: canceled".into()
            }
        );
        let cb = StatusCallback::parse(&form(&format!(
            "{base}&CallStatus=failed&SipResponseCode=404&ErrorCode=32009&CallDuration=0&SequenceNumber=3"
        )))
        .unwrap();
        assert_eq!(
            cb.progress().failure_reason(),
            Some("twilio: failed (sip 404, error 32009)")
        );
        assert_eq!((cb.sequence_number, cb.call_duration), (Some(3), Some(0)));
        assert_eq!(cb.to.as_deref(), Some("+15005550001"));
    }

    #[test]
    fn bad_callbacks_are_errors() {
        assert_eq!(
            StatusCallback::parse(&form("CallSid=CA1&AccountSid=AC1")),
            Err(ParamError::Missing("CallStatus"))
        );
        assert!(matches!(
            StatusCallback::parse(&form("CallSid=CA1&AccountSid=AC1&CallStatus=exploded")),
            Err(ParamError::Invalid {
                field: "CallStatus",
                ..
            })
        ));
        assert_eq!(
            StatusCallback::parse(&form("AccountSid=AC1&CallStatus=ringing")),
            Err(ParamError::Missing("CallSid"))
        );
    }

    #[test]
    fn voice_webhook() {
        let w = VoiceWebhook::parse(&form(
            "CallSid=CA9&AccountSid=AC1&From=%2B12125550100&To=%2B15005550006&Direction=inbound&CallStatus=ringing",
        ))
        .unwrap();
        assert_eq!(
            (
                w.call_sid.as_str(),
                w.from.as_str(),
                w.to.as_str(),
                w.direction.as_str()
            ),
            ("CA9", "+12125550100", "+15005550006", "inbound")
        );
        assert_eq!(
            VoiceWebhook::parse(&form("CallSid=CA9&AccountSid=AC1&From=x")),
            Err(ParamError::Missing("To"))
        );
    }
}
