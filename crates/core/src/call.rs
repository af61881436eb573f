//! Calls and the call state machine.
//!
//! A call has a coarse `status` (Thoughtly's field) and Parley's finer `progress`; both, with the
//! `end_reason`, form a [`CallState`] that only changes through [`CallState::apply`]. Every
//! accepted change is one event row and one `CALL_PROGRESS` webhook, so the state machine is the
//! single place that decides what may happen next: a finished call stays finished.

use crate::contact::Contact;
use crate::number::NetworkKind;
use crate::speech::EngineFallback;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallType {
    PhoneCall,
    InboundCall,
    BrowserCall,
}
str_enum!(CallType { PhoneCall = "PHONE_CALL", InboundCall = "INBOUND_CALL", BrowserCall = "BROWSER_CALL" });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallStatus {
    NotStarted,
    InProgress,
    Ended,
    NoAnswer,
    Voicemail,
    Transferred,
    Failed,
    Violation,
}
str_enum!(CallStatus {
    NotStarted = "NOT_STARTED", InProgress = "IN_PROGRESS", Ended = "ENDED", NoAnswer = "NO_ANSWER",
    Voicemail = "VOICEMAIL", Transferred = "TRANSFERRED", Failed = "FAILED", Violation = "VIOLATION",
});

impl CallStatus {
    pub fn is_final(self) -> bool {
        !matches!(self, Self::NotStarted | Self::InProgress)
    }
}

/// Parley's finer view of where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    Queued,
    Dialing,
    Ringing,
    Answered,
    Ended,
}
str_enum!(Progress { Queued = "queued", Dialing = "dialing", Ringing = "ringing", Answered = "answered", Ended = "ended" });

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Completed,
    NoAnswer,
    Busy,
    Voicemail,
    Transferred,
    Failed,
    Canceled,
    Rejected,
}
str_enum!(EndReason {
    Completed = "completed", NoAnswer = "no_answer", Busy = "busy", Voicemail = "voicemail",
    Transferred = "transferred", Failed = "failed", Canceled = "canceled", Rejected = "rejected",
});

impl EndReason {
    /// The Thoughtly status a call ends in. Thoughtly has no `BUSY` or `CANCELED` status: busy
    /// reads as `NO_ANSWER` (nobody answered), canceled and rejected as `FAILED`; `end_reason`
    /// keeps the precise cause.
    pub fn final_status(self) -> CallStatus {
        match self {
            Self::Completed => CallStatus::Ended,
            Self::NoAnswer | Self::Busy => CallStatus::NoAnswer,
            Self::Voicemail => CallStatus::Voicemail,
            Self::Transferred => CallStatus::Transferred,
            Self::Failed | Self::Canceled | Self::Rejected => CallStatus::Failed,
        }
    }
}

/// What can happen to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEvent {
    Dial,
    Ring,
    Answer,
    End(EndReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallState {
    pub status: CallStatus,
    pub progress: Progress,
    pub end_reason: Option<EndReason>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a call that is {progress} cannot {event}")]
pub struct TransitionError {
    pub progress: &'static str,
    pub event: &'static str,
}

impl CallState {
    pub const QUEUED: CallState = CallState {
        status: CallStatus::NotStarted,
        progress: Progress::Queued,
        end_reason: None,
    };

    /// The state after `event`, or why it cannot happen now.
    pub fn apply(self, event: CallEvent) -> Result<CallState, TransitionError> {
        use Progress::*;
        let err = |what| {
            Err(TransitionError {
                progress: self.progress.as_str(),
                event: what,
            })
        };
        match (self.progress, event) {
            (Ended, _) => err("change any more"),
            (Queued, CallEvent::Dial) => Ok(CallState {
                progress: Dialing,
                ..self
            }),
            (Dialing, CallEvent::Ring) => Ok(CallState {
                progress: Ringing,
                ..self
            }),
            (Dialing | Ringing, CallEvent::Answer) => Ok(CallState {
                status: CallStatus::InProgress,
                progress: Answered,
                end_reason: None,
            }),
            (_, CallEvent::End(reason)) => Ok(CallState {
                status: reason.final_status(),
                progress: Ended,
                end_reason: Some(reason),
            }),
            (_, CallEvent::Dial) => err("be dialed"),
            (_, CallEvent::Ring) => err("ring"),
            (_, CallEvent::Answer) => err("be answered"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InterviewRef {
    pub id: String,
    /// The agent's version that serves the call: its live version when the call was queued
    /// (Parley addition; absent on calls queued before versions were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConversationTurn {
    pub date: Timestamp,
    pub text: String,
    /// `ai` or `user`.
    pub author: String,
    pub cumulative_duration_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SummaryData {
    pub summary: String,
    pub response_tags: Vec<String>,
}

/// One entry of a call's timeline: a progress change, or something that happened while the
/// call was at that progress (Parley addition: `kind` and its details; a progress change has
/// neither, so older readers see the shape they know).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    pub progress: Progress,
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "TimelineKind::is_progress")]
    pub kind: TimelineKind,
    /// For `ENGINE_FALLBACK`: the engine that failed, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_fallback: Option<EngineFallback>,
}

impl TimelineEntry {
    /// The call reached `progress` at `at`.
    pub fn progress(progress: Progress, at: Timestamp) -> TimelineEntry {
        TimelineEntry {
            progress,
            at,
            kind: TimelineKind::Progress,
            engine_fallback: None,
        }
    }
}

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimelineKind {
    /// A progress change (not written out: the entry's `progress` says it all).
    #[default]
    Progress,
    /// A chosen speech engine failed or could not start; the embedded one took over.
    EngineFallback,
}

impl TimelineKind {
    pub fn is_progress(&self) -> bool {
        *self == TimelineKind::Progress
    }
}

/// A call as the API (and every webhook about it) shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Call {
    pub id: Uuid,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub version: i64,
    #[serde(rename = "type")]
    pub call_type: CallType,
    pub status: CallStatus,
    pub interview: InterviewRef,
    /// The contact as it was when the call was placed.
    pub contact: Option<Contact>,
    pub phone_number: String,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
    pub duration_ms: Option<i64>,
    pub conversation_history: Vec<ConversationTurn>,
    pub transcript: String,
    pub summary_data: SummaryData,
    pub metadata: BTreeMap<String, String>,
    pub recording_url: Option<String>,
    pub call_failure_reason: Option<String>,
    pub progress: Progress,
    pub end_reason: Option<EndReason>,
    #[schema(value_type = Object)]
    pub variables: serde_json::Map<String, serde_json::Value>,
    pub outcome: Option<String>,
    pub timeline: Vec<TimelineEntry>,
    /// The bulk job (campaign) this call belongs to, if any.
    pub job_id: Option<Uuid>,
    /// Per-turn latency parts, one entry per agent reply to the caller (Parley addition).
    #[serde(default)]
    pub latency: Vec<TurnLatency>,
    /// The team's number the call is placed from (its caller id), E.164; none when the team has
    /// no number for it (a sandbox call with no number, an inbound call). Parley addition.
    #[serde(default)]
    pub from_number: Option<String>,
    /// The network that carries the call (Parley addition; calls stored before phone numbers
    /// existed read as `sandbox`, the only network there was).
    #[serde(default)]
    pub network: NetworkKind,
    /// The agent's walk through its flow, for replay on the canvas (Parley addition): each node
    /// entered `{node, type, at, handle, heard, captured}`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub path: Vec<serde_json::Value>,
    /// Every chosen speech engine that failed (or could not start) during the call, after which
    /// the embedded engine served that side (Parley addition).
    #[serde(default)]
    pub engine_fallbacks: Vec<EngineFallback>,
}

/// Where the time went between the caller's last word and the agent's first sound.
///
/// `total_ms` runs from the last frame of the caller's speech (as VAD saw it) to the first
/// frame of agent speech sent to the network; the parts overlap (speech-to-text runs during
/// the endpointing window), so they do not add up to the total.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TurnLatency {
    /// Silence waited before deciding the caller had finished.
    pub endpointing_ms: i64,
    /// Time waiting for a free speech-to-text worker.
    pub stt_queue_ms: i64,
    /// Speech-to-text of the utterance.
    pub stt_ms: i64,
    /// The agent's turn until its first sentence.
    pub agent_ms: i64,
    /// Text-to-speech of the first sentence (0 when its audio was cached).
    pub tts_first_audio_ms: i64,
    /// Caller's last speech frame to the agent's first speech frame.
    pub total_ms: i64,
}

impl Call {
    pub fn state(&self) -> CallState {
        CallState {
            status: self.status,
            progress: self.progress,
            end_reason: self.end_reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_goes_from_queued_to_completed() {
        let s = CallState::QUEUED.apply(CallEvent::Dial).unwrap();
        let s = s.apply(CallEvent::Ring).unwrap();
        let s = s.apply(CallEvent::Answer).unwrap();
        assert_eq!(s.status, CallStatus::InProgress);
        let s = s.apply(CallEvent::End(EndReason::Completed)).unwrap();
        assert_eq!(
            (s.status, s.progress, s.end_reason),
            (CallStatus::Ended, Progress::Ended, Some(EndReason::Completed))
        );
    }

    #[test]
    fn finished_calls_stay_finished_and_order_is_enforced() {
        let ended = CallState::QUEUED.apply(CallEvent::End(EndReason::Canceled)).unwrap();
        assert_eq!(ended.status, CallStatus::Failed);
        for e in [
            CallEvent::Dial,
            CallEvent::Ring,
            CallEvent::Answer,
            CallEvent::End(EndReason::Completed),
        ] {
            assert!(ended.apply(e).is_err(), "{e:?}");
        }
        assert!(CallState::QUEUED.apply(CallEvent::Answer).is_err());
        assert!(CallState::QUEUED.apply(CallEvent::Ring).is_err());
        let dialing = CallState::QUEUED.apply(CallEvent::Dial).unwrap();
        assert!(dialing.apply(CallEvent::Dial).is_err());
    }

    #[test]
    fn end_reasons_map_to_thoughtly_statuses() {
        assert_eq!(EndReason::Busy.final_status(), CallStatus::NoAnswer);
        assert_eq!(EndReason::Voicemail.final_status(), CallStatus::Voicemail);
        assert_eq!(EndReason::Failed.final_status(), CallStatus::Failed);
        assert!(CallStatus::Ended.is_final() && !CallStatus::InProgress.is_final());
        assert_eq!(serde_json::to_value(Progress::Answered).unwrap(), "answered");
        assert_eq!(serde_json::to_value(CallStatus::NoAnswer).unwrap(), "NO_ANSWER");
    }
}
