//! The shapes of the API's answers, for the OpenAPI document: the `{data, error}` envelope
//! around each entity, the list pages, and the error body.
//!
//! Handlers build their answers with [`crate::ok`] and `json!`; these types only describe them.
//! They cannot drift silently: `scripts/fuzz-api` validates every response Schemathesis gets
//! against the document, so a handler that answers another shape fails CI.

use parley_core::call::Call;
use parley_core::contact::Contact;
use parley_core::interview::Interview;
use parley_core::number::{PhoneNumber, SipTrunk};
use parley_core::time::Timestamp;
use parley_store::sandbox::{Persona, SandboxNumber};
use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

/// Every successful JSON answer: `{"data": <payload>, "error": null}`.
#[derive(ToSchema)]
pub struct Envelope<T> {
    pub data: T,
    /// Always `null` on success.
    pub error: Option<String>,
}

/// JSON `null` (the `data` of a delete).
pub struct Null;

impl PartialSchema for Null {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Null).into()
    }
}
impl ToSchema for Null {}

/// Every error: `{"data": null, "error": "<message naming the field>", "code": "<code>"}`;
/// `401` is Thoughtly's exact `{"error": "Unauthorized."}`; a `400` for an automation adds
/// `problems`.
#[derive(ToSchema)]
pub struct ErrorBody {
    /// `null`; absent on a 401.
    #[schema(required = false)]
    pub data: Null,
    /// What is wrong, naming the field (`phone_number: not a valid number for country code +44`).
    pub error: String,
    /// A stable machine-readable code (`invalid_phone_number`, `not_found`, ...).
    pub code: Option<String>,
    /// Every problem of an automation, located by step.
    pub problems: Option<Vec<Problem>>,
}

#[derive(ToSchema)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

/// `phone_numbers_only=true` lists contacts as `{id, phone_number}`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactNumber {
    pub id: Uuid,
    pub phone_number: String,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ContactItem {
    Contact(Contact),
    Number(ContactNumber),
}

/// `GET /contact`.
#[derive(ToSchema)]
pub struct ContactPage {
    pub contacts: Vec<ContactItem>,
    /// Contacts on this page.
    pub count: u64,
    /// Contacts matching the filter, on every page.
    pub total_count: u64,
}

/// `GET /interview`.
#[derive(ToSchema)]
pub struct InterviewPage {
    pub interviews: Vec<Interview>,
    /// Agents matching the filter, on every page.
    pub count: u64,
}

/// `GET /interview/{id}/responses`.
#[derive(ToSchema)]
pub struct CallPage {
    pub responses: Vec<Call>,
    /// Calls matching the filter, on every page.
    pub count: u64,
    pub all_response_tags: Vec<String>,
}

/// A contact a campaign did not call, and why (`DNC`, `duplicate`).
#[derive(ToSchema)]
pub struct Skipped {
    pub contact_id: Uuid,
    pub reason: String,
}

/// `POST /job/create_job_by_contacts`.
#[derive(ToSchema)]
pub struct JobCreated {
    pub job_id: Uuid,
    pub interview_id: String,
    pub call_ids: Vec<Uuid>,
    pub count: u64,
    pub skipped: Vec<Skipped>,
}

/// `GET /webhooks/signing_secret`.
#[derive(ToSchema)]
pub struct SigningSecret {
    pub signing_secret: String,
}

/// `GET /sandbox/personas`.
#[derive(ToSchema)]
pub struct PersonaList {
    pub count: u64,
    pub personas: Vec<Persona>,
}

/// `GET /sandbox/numbers`.
#[derive(ToSchema)]
pub struct NumberList {
    pub count: u64,
    pub numbers: Vec<SandboxNumber>,
}

/// `GET /sip_trunk`.
#[derive(ToSchema)]
pub struct SipTrunkPage {
    pub sip_trunks: Vec<SipTrunk>,
    /// The team's trunks, on every page.
    pub count: u64,
}

/// `GET /phone_number`.
#[derive(ToSchema)]
pub struct PhoneNumberPage {
    pub phone_numbers: Vec<PhoneNumber>,
    /// The team's numbers, on every page.
    pub count: u64,
}

/// `GET /interview/{id}/draft`: the editor's draft as an agent.
#[derive(ToSchema)]
pub struct DraftView {
    /// The live agent with the draft's fields applied (the live agent itself without a draft).
    pub draft: Interview,
    pub has_draft: bool,
    /// When the draft was saved; `null` without one.
    pub saved: Option<Timestamp>,
    /// The live version the draft started from (the live version without a draft).
    pub base_version: i64,
    /// What publishing would refuse, with the `field` paths of the API's 400s.
    pub problems: Vec<Problem>,
}

/// `POST /interview/{id}/draft`.
#[derive(ToSchema)]
pub struct DraftSaved {
    pub saved: Timestamp,
    /// What publishing would refuse; the draft is saved all the same.
    pub problems: Vec<Problem>,
}

/// One kept version of an agent.
#[derive(ToSchema)]
pub struct VersionSummary {
    pub version: i64,
    /// When this version was published.
    pub created: Timestamp,
    pub title: String,
    /// Nodes and edges of its flow.
    pub nodes: u64,
    pub edges: u64,
}

/// `GET /interview/{id}/versions`.
#[derive(ToSchema)]
pub struct VersionList {
    /// Newest first, at most 200.
    pub versions: Vec<VersionSummary>,
    pub live_version: i64,
}

/// One agent's tile on the analytics page.
#[derive(ToSchema)]
pub struct AgentTile {
    pub interview_id: String,
    pub title: String,
    /// Calls placed or received in the period.
    pub calls: i64,
    /// Calls a person answered that ended normally (`ENDED`).
    pub ended: i64,
    pub no_answer: i64,
    /// Picked-up calls (`ENDED` or `TRANSFERRED`) over finished ones; `null` with none finished.
    pub pickup_rate: Option<f64>,
    /// Transferred calls over picked-up ones; `null` with none picked up.
    pub transfer_rate: Option<f64>,
    /// Median reply latency over the agent's 200 most recent finished calls; `null` without any.
    pub median_turn_latency_ms: Option<i64>,
}

/// Calls of one status on one UTC day.
#[derive(ToSchema)]
pub struct DayCount {
    /// `YYYY-MM-DD` (UTC).
    #[schema(example = "2025-06-01")]
    pub date: String,
    /// A call status (`ENDED`, `NO_ANSWER`, …).
    pub status: String,
    pub count: i64,
}

/// `GET /analytics`.
#[derive(ToSchema)]
pub struct Analytics {
    pub agents: Vec<AgentTile>,
    pub per_day: Vec<DayCount>,
}

/// `GET /team`.
#[derive(ToSchema)]
pub struct TeamInfo {
    pub id: String,
    pub name: String,
}

/// An API token as Settings → Developer lists it (never its secret).
#[derive(ToSchema)]
pub struct TokenInfo {
    pub id: String,
    /// Empty for tokens made outside the dashboard.
    pub name: String,
    /// The secret's first characters, to recognise it by.
    pub prefix: String,
    pub created: Timestamp,
    /// When it was revoked; `null` while it works.
    pub revoked: Option<Timestamp>,
}

/// `GET /team/api_tokens`.
#[derive(ToSchema)]
pub struct TokenList {
    /// Oldest first, revoked ones included.
    pub tokens: Vec<TokenInfo>,
}

/// A team's key for a cloud speech provider, as the API shows it (never the key).
#[derive(ToSchema)]
pub struct SpeechKeyView {
    pub provider: parley_core::speech::Provider,
    /// `…` and the key's last four characters.
    #[schema(example = "…a1b2")]
    pub hint: String,
    /// The provider's server the team's calls use; `null`: the provider's public one.
    pub base_url: Option<String>,
    pub updated: Timestamp,
}

/// `GET /team/speech_keys`.
#[derive(ToSchema)]
pub struct SpeechKeyList {
    /// By provider name.
    pub speech_keys: Vec<SpeechKeyView>,
}

/// `GET /team/llm`: the team's own LLM endpoint; every field `null` when it has none.
#[derive(ToSchema)]
pub struct TeamLlmView {
    pub base_url: Option<String>,
    /// `null`: `default`.
    pub model: Option<String>,
    /// `…` and the key's last four characters; `null` without a key.
    pub api_key_hint: Option<String>,
}

/// `POST /team/api_tokens`: the new token with its secret, shown this once.
#[derive(ToSchema)]
pub struct NewTokenView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    /// The secret (`x-api-token`): in this answer and nowhere else, ever.
    pub token: String,
}

/// A member of the team.
#[derive(ToSchema)]
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub name: String,
    /// `owner` or `member`.
    pub role: String,
}

/// `GET /team/members`.
#[derive(ToSchema)]
pub struct MemberList {
    pub members: Vec<MemberView>,
}

/// `POST /team/invites`: the one-time link to pass on (Parley sends no email).
#[derive(ToSchema)]
pub struct InviteView {
    pub email: String,
    /// `owner` or `member`.
    pub role: String,
    pub url: String,
}

/// A dashboard user.
#[derive(ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
}

/// `POST /auth/login` and `POST /auth/redeem`: the signed-in user (the session is the cookie).
#[derive(ToSchema)]
pub struct SignedIn {
    pub user: UserView,
}

/// A team of the caller's.
#[derive(ToSchema)]
pub struct UserTeam {
    pub id: String,
    pub name: String,
    /// `owner` or `member` (always `owner` for an API token).
    pub role: String,
}

/// `GET /user`: with a session, the signed-in user, their teams and the session's CSRF token;
/// with an API token, the team's owner (`null`s when it has none) and that one team.
#[derive(ToSchema)]
pub struct CurrentUser {
    pub id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub teams: Vec<UserTeam>,
    /// The `x-csrf-token` the dashboard sends with state-changing requests (sessions only).
    pub csrf_token: Option<String>,
}
