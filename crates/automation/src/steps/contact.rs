//! The `create_contact` and `update_contact` steps, and the contact look-ups other steps share.

use super::{fail, s, string_list, string_map, Flow, StepCtx, StepResult};
use parley_core::contact::{self, Contact, LeadSource};
use parley_core::phone::{self, PhonePolicy};
use parley_store::contacts::ContactWrite;
use parley_store::StoreError;
use serde_json::Value;
use uuid::Uuid;

/// The id a step's `contact_id` input names.
pub(super) fn team_contact_id(input: &Value) -> Result<Uuid, String> {
    let id = s(input, "contact_id").ok_or("no contact")?;
    parley_core::ids::parse_uuid(id).ok_or_else(|| format!("`{id}` is not a contact id"))
}

pub(super) async fn team_contact(ctx: &StepCtx<'_>, input: &Value) -> Result<Contact, String> {
    let uuid = team_contact_id(input)?;
    match ctx.store.contact(ctx.team_id, uuid).await {
        Ok(c) => Ok(c),
        Err(StoreError::NotFound) => Err(format!("contact {uuid} not found")),
        Err(e) => Err(e.to_string()),
    }
}

pub(super) fn contact_write(ctx: &StepCtx<'_>, input: &Value) -> Result<ContactWrite, String> {
    let cc = phone::parse_country_code(s(input, "country_code").unwrap_or("+1")).map_err(|e| e.to_string())?;
    let number = phone::normalize(
        "phone_number",
        s(input, "phone_number").unwrap_or_default(),
        cc,
        PhonePolicy {
            allow_premium: ctx.allow_premium,
        },
    )
    .map_err(|e| e.to_string())?;
    let attributes = string_map(&input["attributes"]);
    contact::check_attributes(&attributes).map_err(|e| e.to_string())?;
    Ok(ContactWrite {
        phone_number: number,
        name: contact::clean_name("name", s(input, "name")).map_err(|e| e.to_string())?,
        email: contact::clean_email(s(input, "email")).map_err(|e| e.to_string())?,
        tags: contact::clean_tags(&string_list(&input["tags"])).map_err(|e| e.to_string())?,
        attributes,
        lead_source: LeadSource::Automation,
    })
}

fn contact_output(c: &Contact, created: Option<bool>) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let (Some(created), Some(o)) = (created, v.as_object_mut()) {
        o.insert("created_new".into(), Value::Bool(created));
    }
    v
}

pub(super) async fn create_contact(ctx: &StepCtx<'_>, input: &Value, next: Flow) -> StepResult {
    let write = match contact_write(ctx, input) {
        Ok(w) => w,
        Err(e) => return fail(e),
    };
    // An upsert by number: re-running it after a crash finds the same contact.
    match ctx.store.upsert_contact(ctx.team_id, &write).await {
        Ok(up) => StepResult::Done {
            output: contact_output(&up.contact, Some(up.created)),
            flow: next,
            contact: Some(up.contact),
        },
        Err(e) => fail(e.to_string()),
    }
}

pub(super) async fn update_contact(ctx: &StepCtx<'_>, input: &Value, next: Flow) -> StepResult {
    let c = match team_contact(ctx, input).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let mut attributes = c.attributes.clone();
    attributes.extend(string_map(&input["attributes"]));
    if let Err(e) = contact::check_attributes(&attributes) {
        return fail(e.to_string());
    }
    let name = match contact::clean_name("name", s(input, "name")) {
        Ok(n) => n.or(c.name.clone()),
        Err(e) => return fail(e.to_string()),
    };
    let email = match contact::clean_email(s(input, "email")) {
        Ok(e) => e.or(c.email.clone()),
        Err(e) => return fail(e.to_string()),
    };
    let write = ContactWrite {
        phone_number: c.phone_number.clone(),
        name,
        email,
        tags: Vec::new(),
        attributes,
        lead_source: c.lead_source,
    };
    match ctx.store.upsert_contact(ctx.team_id, &write).await {
        Ok(up) => StepResult::Done {
            output: contact_output(&up.contact, Some(false)),
            flow: next,
            contact: Some(up.contact),
        },
        Err(e) => fail(e.to_string()),
    }
}
