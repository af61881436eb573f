//! The limits an automation is held to, the names it may use, and each step type's output fields.

use crate::model::StepKind;
use std::time::Duration;

/// The longest automation and step name.
pub const MAX_NAME_LEN: usize = 200;
/// The most steps an automation may have.
pub const MAX_STEPS: usize = 500;
/// The most retries of an HTTP request or of the calling rules.
pub const MAX_RETRIES: u32 = 10;
/// The longest HTTP request timeout.
pub const MAX_TIMEOUT_SECS: u64 = 60;
/// The longest delay, `delay_until` offset or retry spacing.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
pub const HTTP_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/// Call statuses a `call_completed` trigger may filter on (`CallStatus` names).
pub const CALL_STATUSES: [&str; 8] = [
    "NOT_STARTED",
    "IN_PROGRESS",
    "ENDED",
    "NO_ANSWER",
    "VOICEMAIL",
    "TRANSFERRED",
    "FAILED",
    "VIOLATION",
];

/// The payload of a schedule trigger's runs.
pub const SCHEDULE_PAYLOAD: [&str; 2] = ["scheduled_at", "fired_at"];

/// A contact's fields (the output of contact steps, and `contact.*`).
pub const CONTACT_FIELDS: [&str; 12] = [
    "id",
    "phone_number",
    "name",
    "email",
    "attributes",
    "tags",
    "status",
    "created",
    "updated",
    "version",
    "lead_source",
    "team_id",
];
const CONTACT_STEP_OUTPUT: [&str; 13] = [
    "id",
    "phone_number",
    "name",
    "email",
    "attributes",
    "tags",
    "status",
    "created",
    "updated",
    "version",
    "lead_source",
    "team_id",
    "created_new",
];
const CALL_STEP_OUTPUT: [&str; 8] = [
    "call_id",
    "status",
    "outcome",
    "variables",
    "duration_ms",
    "end_reason",
    "contact_id",
    "attempts",
];

/// The output fields of a step type (what `steps.<slug>.<field>` may read).
pub fn step_outputs(kind: &StepKind) -> &'static [&'static str] {
    match kind {
        StepKind::CreateContact { .. } | StepKind::UpdateContact { .. } => &CONTACT_STEP_OUTPUT,
        StepKind::CallContact { .. } | StepKind::CallPhoneNumber { .. } => &CALL_STEP_OUTPUT,
        StepKind::AddTag { .. } | StepKind::RemoveTag { .. } => &["contact_id", "tags"],
        StepKind::Delay { .. } | StepKind::DelayUntil { .. } => &["due_at", "skipped", "late_ms"],
        StepKind::Condition { .. } => &["matched", "rules"],
        StepKind::HttpRequest { .. } => &["status", "headers", "body"],
        StepKind::Loop { .. } => &["count"],
        StepKind::End { .. } => &["outcome"],
    }
}
