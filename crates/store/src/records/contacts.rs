//! A contact as a row: the validated write, the columns, the row's reading and binding. A leaf:
//! the repository, its write statements and the group-commit writers all build on it.

use crate::{Result, StoreError};
use parley_core::contact::{Contact, ContactStatus, LeadSource};
use parley_core::ids::new_row_id;
use parley_core::time::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{Any, Row};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A validated contact write (the API layer has normalized the number and checked the fields).
#[derive(Debug, Clone)]
pub struct ContactWrite {
    pub phone_number: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub tags: Vec<String>,
    pub attributes: BTreeMap<String, String>,
    pub lead_source: LeadSource,
}

/// What an upsert did, so the API can say created vs updated.
pub struct Upserted {
    pub contact: Contact,
    pub created: bool,
}

pub(crate) const COLUMNS: &str =
    "id, team_id, created, updated, version, status, name, phone_number, email, attributes, tags, lead_source";

/// The columns of a new contact's INSERT; [`insert_values`] binds them in this order.
pub(crate) const INSERT_PREFIX: &str = "INSERT INTO contacts (id, team_id, created, updated, version, status, name, \
    phone_number, email, attributes, tags, lead_source) VALUES ";

pub(crate) const VALUES_PER_ROW: usize = 12;

/// The contact a write creates, before it is stored.
pub(crate) fn new_contact(team_id: &str, c: &ContactWrite) -> Contact {
    let now = Timestamp::now();
    Contact {
        id: new_row_id(),
        created: now,
        updated: now,
        version: 1,
        team_id: team_id.to_string(),
        status: ContactStatus::Active,
        name: c.name.clone(),
        phone_number: c.phone_number.clone(),
        email: c.email.clone(),
        attributes: c.attributes.clone(),
        tags: c.tags.clone(),
        lead_source: c.lead_source,
    }
}

pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// Binds one row of [`INSERT_PREFIX`].
pub(crate) fn insert_values<'q>(q: AnyQuery<'q>, c: &Contact) -> Result<AnyQuery<'q>> {
    Ok(q.bind(c.id.to_string())
        .bind(c.team_id.clone())
        .bind(c.created.millis())
        .bind(c.updated.millis())
        .bind(c.version)
        .bind(c.status.as_str())
        .bind(c.name.clone())
        .bind(c.phone_number.clone())
        .bind(c.email.clone())
        .bind(serde_json::to_string(&c.attributes)?)
        .bind(serde_json::to_string(&c.tags)?)
        .bind(c.lead_source.as_str()))
}

pub(crate) fn contact_from_row(r: &AnyRow) -> Result<Contact> {
    let id: String = r.try_get("id")?;
    let status: String = r.try_get("status")?;
    let lead: String = r.try_get("lead_source")?;
    Ok(Contact {
        id: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        created: Timestamp(r.try_get("created")?),
        updated: Timestamp(r.try_get("updated")?),
        version: r.try_get("version")?,
        team_id: r.try_get("team_id")?,
        status: ContactStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
        name: r.try_get("name")?,
        phone_number: r.try_get("phone_number")?,
        email: r.try_get("email")?,
        attributes: serde_json::from_str(&r.try_get::<String, _>("attributes")?)?,
        tags: serde_json::from_str(&r.try_get::<String, _>("tags")?)?,
        lead_source: LeadSource::parse(&lead).ok_or_else(|| StoreError::Corrupt(format!("lead_source {lead}")))?,
    })
}
