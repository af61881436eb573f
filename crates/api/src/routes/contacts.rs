//! `/contact…`: create (upsert), list, read, update, tag, delete.

use super::{not_found, uuid_or};
use crate::auth::Team;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Params};
use crate::schemas::{ContactPage, Envelope, Null};
use crate::{ok, AppState};
use axum::extract::{Path, State};
use axum::{Extension, Json};
use parley_core::contact::{self, Contact, ContactStatus, LeadSource};
use parley_core::phone::{self, PhonePolicy};
use parley_store::contacts::{ContactFilter, ContactSort, ContactWrite};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

const NOT_FOUND: &str = "Contact not found";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContact {
    /// National or international form; stored as E.164.
    #[schema(
        example = "+12015550123",
        min_length = 1,
        max_length = 32,
        pattern = r"^[0-9+ ()\-.]+$"
    )]
    pub phone_number: String,
    #[schema(example = "Ann Lee", max_length = 200)]
    pub name: Option<String>,
    #[schema(example = "ann@example.com", max_length = 254)]
    pub email: Option<String>,
    /// Dialing prefix used when `phone_number` has no leading `+`; default `"+1"`.
    #[schema(example = "+1", max_length = 4, pattern = r"^\+?[0-9]{1,3}$")]
    pub country_code: Option<String>,
    /// At most 100 tags of 1 to 64 characters; duplicates are dropped.
    #[schema(max_items = 100, example = json!(["vip"]))]
    pub tags: Option<Vec<String>>,
    /// At most 100 attributes; keys of 1 to 64 characters, values up to 2048 bytes.
    #[schema(example = json!({"city": "Paris"}))]
    pub attributes: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContact {
    #[schema(
        example = "+12015550123",
        min_length = 1,
        max_length = 32,
        pattern = r"^[0-9+ ()\-.]+$"
    )]
    pub phone_number: Option<String>,
    #[schema(example = "Ann Lee", max_length = 200)]
    pub name: Option<String>,
    #[schema(example = "ann@example.com", max_length = 254)]
    pub email: Option<String>,
    #[schema(example = "+1", max_length = 4, pattern = r"^\+?[0-9]{1,3}$")]
    pub country_code: Option<String>,
    /// Parley addition: `ACTIVE`, `INACTIVE` or `DNC` (never called).
    #[schema(example = "ACTIVE", pattern = "^(ACTIVE|INACTIVE|DNC)$")]
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsBody {
    /// At most 100 tags of 1 to 64 characters.
    #[schema(max_items = 100, example = json!(["vip", "follow-up"]))]
    pub tags: Vec<String>,
}

/// Normalizes a number under the team's policy (premium numbers allowed or not).
pub fn normalize_number(team: &Team, field: &str, raw: &str, country_code: Option<&str>) -> ApiResult<String> {
    let cc = phone::parse_country_code(country_code.unwrap_or("+1"))?;
    Ok(phone::normalize(
        field,
        raw,
        cc,
        PhonePolicy {
            allow_premium: team.allow_premium,
        },
    )?)
}

pub fn contact_write(phone_number: String, b: &CreateContact, lead_source: LeadSource) -> ApiResult<ContactWrite> {
    let attributes = b.attributes.clone().unwrap_or_default();
    contact::check_attributes(&attributes)?;
    Ok(ContactWrite {
        phone_number,
        name: contact::clean_name("name", b.name.as_deref())?,
        email: contact::clean_email(b.email.as_deref())?,
        tags: contact::clean_tags(b.tags.as_deref().unwrap_or_default())?,
        attributes,
        lead_source,
    })
}

#[utoipa::path(post, path = "/contact/create", tag = "contacts", request_body = CreateContact,
    responses((status = 200, description = "The contact, created or updated (upsert by number)", body = Envelope<Contact>)))]
pub async fn create(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(b): ApiJson<CreateContact>,
) -> ApiResult<Json<Value>> {
    let number = normalize_number(&team, "phone_number", &b.phone_number, b.country_code.as_deref())?;
    let write = contact_write(number, &b, LeadSource::ApiUpload)?;
    // The upsert's only conflict: the new tags would take the contact past its tag limit.
    let up = s.store.upsert_contact(&team.id, &write).await.map_err(|e| match e {
        parley_store::StoreError::Conflict(m) => ApiError::bad(m),
        other => other.into(),
    })?;
    Ok(ok(up.contact))
}

#[utoipa::path(get, path = "/contact", tag = "contacts",
    params(("search" = Option<String>, Query, max_length = 200), ("phone_numbers_only" = Option<bool>, Query), ("tags[]" = Option<Vec<String>>, Query),
           ("excluded_tags[]" = Option<Vec<String>>, Query), ("sort" = Option<String>, Query, description = "<field>_asc|<field>_desc, or a field with sortDirection"),
           ("sortDirection" = Option<String>, Query), ("page" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, description = "{contacts, count, total_count}", body = Envelope<ContactPage>)))]
pub async fn list(State(s): State<AppState>, Extension(team): Extension<Team>, p: Params) -> ApiResult<Json<Value>> {
    let (page, limit) = p.paging(20, 50)?;
    let (sort, descending) = parse_sort(p.get("sort"), p.get("sortDirection"))?;
    let filter = ContactFilter {
        search: p.search("search")?,
        phone_numbers_only: p.bool("phone_numbers_only")?,
        tags: p.list("tags")?,
        excluded_tags: p.list("excluded_tags")?,
        sort,
        descending,
        page,
        limit,
    };
    let (contacts, total) = s.store.list_contacts(&team.id, &filter).await?;
    let contacts: Vec<Value> = if filter.phone_numbers_only {
        contacts
            .iter()
            .map(|c| serde_json::json!({ "id": c.id, "phone_number": c.phone_number }))
            .collect()
    } else {
        contacts
            .iter()
            .map(|c| serde_json::to_value(c).expect("contacts serialize"))
            .collect()
    };
    Ok(ok(
        serde_json::json!({ "contacts": contacts, "count": contacts.len(), "total_count": total }),
    ))
}

/// `sort=name_asc`, `sort=created_desc`, or `sort=name&sortDirection=desc`; default newest first.
fn parse_sort(sort: Option<&str>, direction: Option<&str>) -> ApiResult<(ContactSort, bool)> {
    let dir = match direction.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => None,
        Some("asc") => Some(false),
        Some("desc") => Some(true),
        Some(d) => return Err(ApiError::bad(format!("sortDirection: '{d}' is not asc or desc"))),
    };
    let Some(sort) = sort.filter(|s| !s.is_empty()) else {
        return Ok((ContactSort::Created, dir.unwrap_or(true)));
    };
    let (field, suffix_dir) = match sort.rsplit_once('_') {
        Some((f, "asc")) => (f, Some(false)),
        Some((f, "desc")) => (f, Some(true)),
        _ => (sort, None),
    };
    let field = ContactSort::parse(field).ok_or_else(|| {
        ApiError::bad(format!(
            "sort: '{sort}' is not one of created, updated, name, phone_number, email, status (with _asc or _desc)"
        ))
    })?;
    Ok((field, suffix_dir.or(dir).unwrap_or(false)))
}

#[utoipa::path(get, path = "/contact/{id}", tag = "contacts", params(("id" = uuid::Uuid, Path, description = "The contact's id")),
    responses((status = 200, body = Envelope<Contact>), (status = 404, description = "Contact not found")))]
pub async fn get_one(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let c = s
        .store
        .contact(&team.id, uuid_or(&id, NOT_FOUND)?)
        .await
        .map_err(not_found(NOT_FOUND))?;
    Ok(ok(c))
}

#[utoipa::path(post, path = "/contact/{id}/update_info", tag = "contacts", params(("id" = uuid::Uuid, Path, description = "The contact's id")), request_body = UpdateContact,
    responses((status = 200, body = Envelope<Contact>), (status = 400, description = "Invalid field, or the number belongs to another contact"), (status = 404)))]
pub async fn update_info(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<UpdateContact>,
) -> ApiResult<Json<Value>> {
    let id = uuid_or(&id, NOT_FOUND)?;
    let number = match &b.phone_number {
        Some(n) => Some(normalize_number(&team, "phone_number", n, b.country_code.as_deref())?),
        None => None,
    };
    let name = b
        .name
        .as_deref()
        .map(|n| contact::clean_name("name", Some(n)))
        .transpose()?;
    let email = b.email.as_deref().map(|e| contact::clean_email(Some(e))).transpose()?;
    let status = b
        .status
        .as_deref()
        .map(|st| {
            ContactStatus::parse(st)
                .ok_or_else(|| ApiError::bad(format!("status: '{st}' is not ACTIVE, INACTIVE or DNC")))
        })
        .transpose()?;
    let mut c = s
        .store
        .update_contact_info(&team.id, id, number, name, email)
        .await
        .map_err(|e| match e {
            parley_store::StoreError::NotFound => ApiError::NotFound(NOT_FOUND),
            parley_store::StoreError::Conflict(m) => ApiError::bad_with(m, "phone_number_taken"),
            other => other.into(),
        })?;
    if let Some(st) = status {
        c = s
            .store
            .set_contact_status(&team.id, id, st)
            .await
            .map_err(not_found(NOT_FOUND))?;
    }
    Ok(ok(c))
}

#[utoipa::path(post, path = "/contact/{id}/add_tags", tag = "contacts", params(("id" = uuid::Uuid, Path, description = "The contact's id")), request_body = TagsBody,
    responses((status = 200, body = Envelope<Contact>), (status = 404)))]
pub async fn add_tags(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<TagsBody>,
) -> ApiResult<Json<Value>> {
    let id = uuid_or(&id, NOT_FOUND)?;
    let new = contact::clean_tags(&b.tags)?;
    let c = s
        .store
        .change_tags(&team.id, id, move |old| contact::merge_tags(old, &new))
        .await
        .map_err(not_found(NOT_FOUND))??;
    Ok(ok(c))
}

#[utoipa::path(post, path = "/contact/{id}/remove_tags", tag = "contacts", params(("id" = uuid::Uuid, Path, description = "The contact's id")), request_body = TagsBody,
    responses((status = 200, body = Envelope<Contact>), (status = 404)))]
pub async fn remove_tags(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<TagsBody>,
) -> ApiResult<Json<Value>> {
    let id = uuid_or(&id, NOT_FOUND)?;
    contact::check_tag_count("tags", b.tags.len())?;
    let gone = b.tags;
    let c = s
        .store
        .change_tags(&team.id, id, move |old| Ok(contact::remove_tags(old, &gone)))
        .await
        .map_err(not_found(NOT_FOUND))??;
    Ok(ok(c))
}

#[utoipa::path(delete, path = "/contact/{id}", tag = "contacts", params(("id" = uuid::Uuid, Path, description = "The contact's id")),
    responses((status = 200, description = "data: null", body = Envelope<Null>), (status = 404)))]
pub async fn delete_one(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.store
        .delete_contact(&team.id, uuid_or(&id, NOT_FOUND)?)
        .await
        .map_err(not_found(NOT_FOUND))?;
    Ok(ok(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_forms() {
        assert_eq!(parse_sort(None, None).unwrap(), (ContactSort::Created, true));
        assert_eq!(parse_sort(Some("name_asc"), None).unwrap(), (ContactSort::Name, false));
        assert_eq!(
            parse_sort(Some("phone_number_desc"), None).unwrap(),
            (ContactSort::PhoneNumber, true)
        );
        assert_eq!(
            parse_sort(Some("name"), Some("desc")).unwrap(),
            (ContactSort::Name, true)
        );
        assert!(parse_sort(Some("password_asc"), None).is_err());
        assert!(parse_sort(Some("name"), Some("sideways")).is_err());
    }
}

/// The most rows of one `POST /contact/bulk_create`.
pub const MAX_BULK_CONTACTS: usize = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkContacts {
    /// Each row as `POST /contact/create` takes it (its own `country_code` wins over the batch's).
    pub contacts: Vec<serde_json::Value>,
    /// Dialing prefix for rows whose number has no leading `+` and no `country_code`.
    pub country_code: Option<String>,
    /// `DASHBOARD_BULK_UPLOAD` (the dashboard's CSV import) or `API_BULK_UPLOAD` (the default).
    pub lead_source: Option<String>,
}

/// Parley addition: up to 1000 contacts at once (a CSV import), each upserted as
/// `POST /contact/create` would; a bad row is reported with its index and message and does not
/// stop the others. Rows are written concurrently (so the store's group commit takes many at a
/// time), but rows of one number in their order, so the last one wins as it would one by one.
#[utoipa::path(post, path = "/contact/bulk_create", tag = "contacts", request_body = BulkContacts,
    responses((status = 200, description = "{results: [{row, contact_id} | {row, error}], created, failed}")))]
pub async fn bulk_create(
    State(s): State<AppState>,
    Extension(team): Extension<Team>,
    ApiJson(b): ApiJson<BulkContacts>,
) -> ApiResult<Json<Value>> {
    if b.contacts.len() > MAX_BULK_CONTACTS {
        return Err(ApiError::bad(format!(
            "contacts: at most {MAX_BULK_CONTACTS} rows at once"
        )));
    }
    let source = match b.lead_source.as_deref() {
        None | Some("API_BULK_UPLOAD") => LeadSource::ApiBulkUpload,
        Some("DASHBOARD_BULK_UPLOAD") => LeadSource::DashboardBulkUpload,
        Some(other) => {
            return Err(ApiError::bad(format!(
                "lead_source: '{}' is not API_BULK_UPLOAD or DASHBOARD_BULK_UPLOAD",
                crate::extract::excerpt(other)
            )))
        }
    };
    // Every row checked first (no I/O), in order.
    let cc = b.country_code.as_deref();
    let mut errors: Vec<(usize, String)> = Vec::new();
    let mut pending: std::collections::VecDeque<(usize, ContactWrite)> = Default::default();
    for (i, row) in b.contacts.into_iter().enumerate() {
        let checked = serde_json::from_value::<CreateContact>(row)
            .map_err(|e| ApiError::bad(e.to_string()))
            .and_then(|c| {
                let number =
                    normalize_number(&team, "phone_number", &c.phone_number, c.country_code.as_deref().or(cc))?;
                contact_write(number, &c, source)
            });
        match checked {
            Ok(w) => pending.push_back((i, w)),
            Err(e) => errors.push((i, e.to_string())),
        }
    }
    // Then written in waves of up to 50 rows with distinct numbers, each wave concurrently: rows
    // of one number keep their order across waves, so the last one wins, as one by one.
    let mut written: Vec<(usize, ApiResult<String>)> = Vec::new();
    while !pending.is_empty() {
        let (mut wave, mut rest) = (Vec::new(), std::collections::VecDeque::new());
        let mut seen = std::collections::HashSet::new();
        while let Some((i, w)) = pending.pop_front() {
            let first = seen.insert(w.phone_number.clone());
            if first && wave.len() < 50 {
                wave.push((i, w));
            } else {
                rest.push_back((i, w));
            }
        }
        pending = rest;
        let done = futures_util::future::join_all(wave.iter().map(|(_, w)| async {
            let up = s.store.upsert_contact(&team.id, w).await.map_err(|e| match e {
                parley_store::StoreError::Conflict(m) => ApiError::bad(m),
                other => other.into(),
            })?;
            Ok::<_, ApiError>(up.contact.id.to_string())
        }))
        .await;
        written.extend(wave.iter().map(|(i, _)| *i).zip(done));
    }
    let (mut created, mut failed) = (0, errors.len());
    let mut results: Vec<(usize, serde_json::Value)> = errors
        .into_iter()
        .map(|(i, e)| (i, serde_json::json!({ "row": i, "error": e })))
        .collect();
    for (i, r) in written {
        match r {
            Ok(id) => {
                created += 1;
                results.push((i, serde_json::json!({ "row": i, "contact_id": id })));
            }
            Err(ApiError::Internal(m)) => return Err(ApiError::Internal(m)),
            Err(e) => {
                failed += 1;
                results.push((i, serde_json::json!({ "row": i, "error": e.to_string() })));
            }
        }
    }
    results.sort_by_key(|(i, _)| *i);
    let results: Vec<serde_json::Value> = results.into_iter().map(|(_, v)| v).collect();
    Ok(ok(
        serde_json::json!({ "results": results, "created": created, "failed": failed }),
    ))
}
