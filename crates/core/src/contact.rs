//! Contacts: the people an agent calls.

use crate::time::Timestamp;
use crate::ValidationError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContactStatus {
    Active,
    Inactive,
    /// Do not call: every call request for this contact is refused.
    #[serde(rename = "DNC")]
    Dnc,
}

impl ContactStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
            Self::Dnc => "DNC",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ACTIVE" => Self::Active,
            "INACTIVE" => Self::Inactive,
            "DNC" => Self::Dnc,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LeadSource {
    ApiUpload,
    DashboardUpload,
    ApiBulkUpload,
    DashboardBulkUpload,
    Automation,
}

impl LeadSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiUpload => "API_UPLOAD",
            Self::DashboardUpload => "DASHBOARD_UPLOAD",
            Self::ApiBulkUpload => "API_BULK_UPLOAD",
            Self::DashboardBulkUpload => "DASHBOARD_BULK_UPLOAD",
            Self::Automation => "AUTOMATION",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "API_UPLOAD" => Self::ApiUpload,
            "DASHBOARD_UPLOAD" => Self::DashboardUpload,
            "API_BULK_UPLOAD" => Self::ApiBulkUpload,
            "DASHBOARD_BULK_UPLOAD" => Self::DashboardBulkUpload,
            "AUTOMATION" => Self::Automation,
            _ => return None,
        })
    }
}

/// A contact as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    pub id: Uuid,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub version: i64,
    pub team_id: String,
    pub status: ContactStatus,
    pub name: Option<String>,
    /// E.164.
    pub phone_number: String,
    pub email: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub tags: Vec<String>,
    pub lead_source: LeadSource,
}

/// Limits that keep one contact row bounded.
pub const MAX_TAGS: usize = 100;
pub const MAX_TAG_LEN: usize = 64;
pub const MAX_ATTRIBUTES: usize = 100;
pub const MAX_ATTRIBUTE_KEY_LEN: usize = 64;
pub const MAX_ATTRIBUTE_VALUE_LEN: usize = 2048;
pub const MAX_NAME_LEN: usize = 200;
/// The longest email address (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// Trims a name; empty becomes `None`.
pub fn clean_name(field: &str, name: Option<&str>) -> Result<Option<String>, ValidationError> {
    let Some(n) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if n.chars().count() > MAX_NAME_LEN {
        return Err(ValidationError::new(
            field,
            format!("must be at most {MAX_NAME_LEN} characters"),
        ));
    }
    Ok(Some(n.to_string()))
}

/// A deliberately plain email check: one `@`, a dot in the domain, no spaces, at most 254
/// characters. Full RFC 5322 accepts addresses no mail system delivers to.
pub fn clean_email(email: Option<&str>) -> Result<Option<String>, ValidationError> {
    let Some(e) = email.map(str::trim).filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    if e.len() > MAX_EMAIL_LEN {
        return Err(
            ValidationError::new("email", format!("must be at most {MAX_EMAIL_LEN} characters"))
                .with_code("invalid_email"),
        );
    }
    let bad = || ValidationError::new("email", format!("'{e}' is not an email address")).with_code("invalid_email");
    if e.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    let (local, domain) = e.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad());
    }
    Ok(Some(e.to_string()))
}

/// Validates tags (trimmed, non-empty, bounded) and drops duplicates, keeping first-seen order.
///
/// The count is checked before any tag is looked at, and duplicates are found with a set, so the
/// work is linear in what the client sent: a list of 60,000 tags is refused at once instead of
/// being de-duplicated pairwise first (quadratic: seconds of CPU per request).
pub fn clean_tags(tags: &[String]) -> Result<Vec<String>, ValidationError> {
    check_tag_count("tags", tags.len())?;
    let mut seen: HashSet<&str> = HashSet::with_capacity(tags.len());
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (i, t) in tags.iter().enumerate() {
        let t = check_tag(&format!("tags[{i}]"), t)?;
        if seen.insert(t) {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

/// Refuses a list of more than [`MAX_TAGS`] tags, naming the field and the count sent.
pub fn check_tag_count(field: &str, n: usize) -> Result<(), ValidationError> {
    if n > MAX_TAGS {
        return Err(ValidationError::new(
            field,
            format!("at most {MAX_TAGS} tags per request (got {n})"),
        ));
    }
    Ok(())
}

/// One tag, trimmed: non-empty, at most [`MAX_TAG_LEN`] characters.
pub fn check_tag<'a>(field: &str, tag: &'a str) -> Result<&'a str, ValidationError> {
    // Bytes bound characters from above: a tag under the limit in bytes needs no count.
    if tag.len() > 4 * MAX_TAG_LEN {
        return Err(ValidationError::new(
            field,
            format!("must be at most {MAX_TAG_LEN} characters"),
        ));
    }
    let t = tag.trim();
    if t.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if t.chars().count() > MAX_TAG_LEN {
        return Err(ValidationError::new(
            field,
            format!("must be at most {MAX_TAG_LEN} characters"),
        ));
    }
    Ok(t)
}

/// Appends `new` tags after `existing` ones, skipping those already present (the upsert rule);
/// at most [`MAX_TAGS`] in all. `new` is a cleaned list ([`clean_tags`]), `existing` a stored one.
pub fn merge_tags(existing: &[String], new: &[String]) -> Result<Vec<String>, ValidationError> {
    let mut seen: HashSet<&str> = existing.iter().map(String::as_str).collect();
    let mut all = existing.to_vec();
    for t in new {
        if seen.insert(t.as_str()) {
            all.push(t.clone());
        }
    }
    if all.len() > MAX_TAGS {
        return Err(ValidationError::new(
            "tags",
            format!(
                "at most {MAX_TAGS} tags per contact (the contact has {}, this adds {})",
                existing.len(),
                all.len() - existing.len()
            ),
        ));
    }
    Ok(all)
}

/// Removes `gone` tags (compared trimmed) from `existing`; linear, with a set.
pub fn remove_tags(existing: &[String], gone: &[String]) -> Vec<String> {
    let gone: HashSet<&str> = gone.iter().map(|t| t.trim()).collect();
    existing
        .iter()
        .filter(|t| !gone.contains(t.as_str()))
        .cloned()
        .collect()
}

pub fn check_attributes(attributes: &BTreeMap<String, String>) -> Result<(), ValidationError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(ValidationError::new(
            "attributes",
            format!("at most {MAX_ATTRIBUTES} attributes"),
        ));
    }
    for (k, v) in attributes {
        if k.is_empty() || k.len() > MAX_ATTRIBUTE_KEY_LEN {
            return Err(ValidationError::new(
                "attributes",
                format!("key '{k}' must be 1 to {MAX_ATTRIBUTE_KEY_LEN} characters"),
            ));
        }
        if v.len() > MAX_ATTRIBUTE_VALUE_LEN {
            return Err(ValidationError::new(
                format!("attributes.{k}"),
                format!("must be at most {MAX_ATTRIBUTE_VALUE_LEN} bytes"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_merge_appends_new_ones_only() {
        let new = clean_tags(&["b".into(), " c ".into(), "a".into(), "c".into()]).unwrap();
        assert_eq!(new, vec!["b", "c", "a"]);
        let merged = merge_tags(&["a".into(), "b".into()], &new).unwrap();
        assert_eq!(merged, vec!["a", "b", "c"]);
        assert!(clean_tags(&["".into()]).is_err());
        assert!(clean_tags(&["x".repeat(65)]).is_err());
        assert_eq!(remove_tags(&merged, &[" b ".into(), "z".into()]), vec!["a", "c"]);
    }

    #[test]
    fn tag_limits_are_checked_before_the_work() {
        let many: Vec<String> = (0..MAX_TAGS + 1).map(|i| format!("t{i}")).collect();
        let e = clean_tags(&many).unwrap_err();
        assert_eq!(e.to_string(), "tags: at most 100 tags per request (got 101)");
        // The same tag a hundred times over is still one list of at most 100.
        assert_eq!(clean_tags(&vec!["x".to_string(); MAX_TAGS]).unwrap(), vec!["x"]);
        let full: Vec<String> = (0..MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert_eq!(merge_tags(&full, &full[..10]).unwrap().len(), MAX_TAGS);
        assert!(merge_tags(&full, &["new".into()]).is_err());
        // A huge tag is refused on its byte length, without counting its characters.
        assert!(clean_tags(&["é".repeat(1 << 20)]).is_err());
    }

    #[test]
    fn emails_are_checked_plainly() {
        assert_eq!(clean_email(Some(" a@b.co ")).unwrap().as_deref(), Some("a@b.co"));
        assert_eq!(clean_email(Some("")).unwrap(), None);
        for bad in ["a", "a@b", "@b.co", "a b@c.de", "a@@b.co", "a@.co"] {
            assert!(clean_email(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_serializes_as_the_api_does() {
        assert_eq!(serde_json::to_string(&ContactStatus::Dnc).unwrap(), "\"DNC\"");
        assert_eq!(
            serde_json::to_string(&LeadSource::ApiBulkUpload).unwrap(),
            "\"API_BULK_UPLOAD\""
        );
        assert_eq!(ContactStatus::parse("DNC"), Some(ContactStatus::Dnc));
    }
}
