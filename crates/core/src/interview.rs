//! Voice agents, which the API calls interviews.

use crate::flow::Flow;
use crate::speech::EngineChoice;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InterviewStatus {
    Active,
    Archived,
}

impl InterviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Archived => "ARCHIVED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ACTIVE" => Some(Self::Active),
            "ARCHIVED" => Some(Self::Archived),
            _ => None,
        }
    }
}

/// A voice agent as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Interview {
    /// 8 alphanumeric characters.
    pub id: String,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub version: i64,
    pub title: String,
    pub ai_name: String,
    pub lang: String,
    pub status: InterviewStatus,
    pub response_tags: Vec<String>,
    pub should_record: bool,
    pub should_leave_voicemail: bool,
    pub voicemail_message: Option<String>,
    pub flow: Flow,
    /// Silence (ms) after the agent listens before it re-prompts (Parley addition).
    #[serde(default = "default_silence_timeout_ms")]
    pub silence_timeout_ms: u32,
    /// Re-prompts after silence before the agent ends the call politely (Parley addition).
    #[serde(default = "default_silence_reprompts")]
    pub silence_reprompts: u32,
    /// The speech-to-text engine (Parley addition); none: the embedded one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stt: Option<EngineChoice>,
    /// The text-to-speech engine (Parley addition); none: the embedded one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tts: Option<EngineChoice>,
}

pub fn default_silence_timeout_ms() -> u32 {
    6000
}
pub fn default_silence_reprompts() -> u32 {
    2
}
