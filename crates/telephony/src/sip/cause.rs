//! Why a call ended, as the call record and webhooks will show it (`"sip 486 Busy Here"`).
//!
//! Decision: the kind (what Parley's call state becomes) and the carrier's words (status and
//! reason phrase as received) are kept apart, so the dialer maps `Busy` to `busy` without
//! parsing text, while `call_failure_reason` shows exactly what the carrier said.

use std::fmt;

/// What the call's final state should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CauseKind {
    /// 486, 600: the callee is busy.
    Busy,
    /// 603 and other refusals by the callee.
    Rejected,
    /// 408, 480, or our ring timeout.
    NoAnswer,
    /// Anything else: unreachable number, trunk error, no response, bad SDP.
    Failed,
    /// The call was canceled before answer (by us, or by the caller on an inbound call).
    Canceled,
    /// We hung up an answered call.
    LocalHangUp,
    /// The far end hung up an answered call.
    RemoteHangUp,
    /// We refused an inbound call (the owner's reject).
    LocalReject,
    /// Our blind transfer (REFER) succeeded; our leg is over.
    Transferred,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub kind: CauseKind,
    /// The SIP status behind this end, when a response caused it.
    pub status: Option<u16>,
    /// The reason phrase received with `status`, or our own words otherwise.
    pub text: String,
}

impl Cause {
    pub fn new(kind: CauseKind, text: impl Into<String>) -> Cause {
        Cause {
            kind,
            status: None,
            text: text.into(),
        }
    }

    /// The cause of a final failure response to our INVITE.
    pub fn from_status(status: u16, reason: &str) -> Cause {
        let kind = match status {
            486 | 600 => CauseKind::Busy,
            603 | 607 | 608 => CauseKind::Rejected,
            408 | 480 => CauseKind::NoAnswer,
            487 => CauseKind::Canceled,
            _ => CauseKind::Failed,
        };
        let text = if reason.trim().is_empty() {
            super::message::reason_phrase(status).to_string()
        } else {
            reason.trim().to_string()
        };
        Cause {
            kind,
            status: Some(status),
            text,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(f, "sip {s} {}", self.text),
            None => f.write_str(&self.text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carrier_causes_read_as_the_api_shows_them() {
        let c = Cause::from_status(486, "Busy Here");
        assert_eq!(c.kind, CauseKind::Busy);
        assert_eq!(c.to_string(), "sip 486 Busy Here");
        assert_eq!(Cause::from_status(603, "").to_string(), "sip 603 Decline");
        assert_eq!(Cause::from_status(480, "x").kind, CauseKind::NoAnswer);
        assert_eq!(Cause::from_status(404, "Not Found").kind, CauseKind::Failed);
        assert_eq!(
            Cause::new(CauseKind::NoAnswer, "ring timeout").to_string(),
            "ring timeout"
        );
    }
}
