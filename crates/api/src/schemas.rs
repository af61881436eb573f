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
