//! Contacts: upsert by (team, phone number), filters, sorting, pagination.

pub(crate) use crate::records::contact_writes::Tagged;
use crate::records::contact_writes::{contact_events, contact_in, existing_tags, save, upsert_in};
pub use crate::records::contact_writes::{TagChange, TagEdit};
use crate::records::contacts::{contact_from_row, new_contact, COLUMNS};
pub use crate::records::contacts::{ContactWrite, Upserted};

use crate::journal::{unexpected, Op, Reply};
use crate::sql::{like_pattern, Query};
use crate::{found, Result, Store, StoreError};
use parley_core::contact::{Contact, ContactStatus};
use uuid::Uuid;

/// Sortable columns; the API maps `sort` onto these, so no column name ever comes from input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactSort {
    Created,
    Updated,
    Name,
    PhoneNumber,
    Email,
    Status,
}

impl ContactSort {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "created" => Self::Created,
            "updated" => Self::Updated,
            "name" => Self::Name,
            "phone_number" => Self::PhoneNumber,
            "email" => Self::Email,
            "status" => Self::Status,
            _ => return None,
        })
    }

    /// The ORDER BY expression; text sorts case-insensitively, identically on both databases
    /// (SQLite compares bytes, PostgreSQL by collation, so neither is used bare).
    fn order_expr(self) -> &'static str {
        match self {
            Self::Created => "c.created",
            Self::Updated => "c.updated",
            Self::Name => "LOWER(COALESCE(c.name, ''))",
            Self::PhoneNumber => "c.phone_number",
            Self::Email => "LOWER(COALESCE(c.email, ''))",
            Self::Status => "c.status",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ContactFilter {
    pub search: Option<String>,
    pub phone_numbers_only: bool,
    pub tags: Vec<String>,
    pub excluded_tags: Vec<String>,
    pub sort: ContactSort,
    pub descending: bool,
    pub page: i64,
    pub limit: i64,
}

impl Store {
    /// Creates the contact, or updates the team's contact with that number: name and email
    /// overwritten, attributes replaced, new tags appended (API.md).
    pub async fn upsert_contact(&self, team_id: &str, c: &ContactWrite) -> Result<Upserted> {
        // Fast path: a new contact without tags is a row of a group-committed batch (the
        // journal's on SQLite, `batch` on PostgreSQL); the transaction below is for updates and
        // tag rows.
        // An automation listening for new contacts or tags takes the transaction path, whose
        // trigger events commit with the contact.
        let hooked = self
            .has_live_trigger(team_id, &["contact_created", "tag_added"])
            .await?;
        if c.tags.is_empty() && !hooked {
            let inserted = match &self.contact_batcher {
                Some(batcher) => batcher.insert(team_id, c).await?,
                None => {
                    let contact = new_contact(team_id, c);
                    match self.journal.write(Op::NewContact(contact.clone())).await? {
                        Reply::Inserted(true) => Some(contact),
                        Reply::Inserted(false) => None,
                        other => return Err(unexpected(other)),
                    }
                }
            };
            if let Some(contact) = inserted {
                return Ok(Upserted { contact, created: true });
            }
        }
        let mut w = self.begin_write().await?;
        let old_tags = if hooked {
            existing_tags(&mut w.tx, team_id, &c.phone_number).await?
        } else {
            Vec::new()
        };
        let up = upsert_in(&mut w.tx, team_id, c).await?;
        if hooked {
            contact_events(&mut w.tx, team_id, &up.contact, up.created, &old_tags).await?;
        }
        w.commit().await?;
        Ok(up)
    }

    pub async fn contact(&self, team_id: &str, id: Uuid) -> Result<Contact> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM contacts WHERE team_id = $1 AND id = $2"
        ))
        .bind(team_id)
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        contact_from_row(&row)
    }

    pub async fn contacts_by_ids(&self, team_id: &str, ids: &[Uuid]) -> Result<Vec<Contact>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(200) {
            let mut q = Query::new(&format!("SELECT {COLUMNS} FROM contacts WHERE team_id = "));
            q.text(team_id).push(" AND id IN (");
            for (i, id) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.text(id.to_string());
            }
            q.push(")");
            for r in q.build().fetch_all(&self.pool).await? {
                out.push(contact_from_row(&r)?);
            }
        }
        Ok(out)
    }

    pub async fn list_contacts(&self, team_id: &str, f: &ContactFilter) -> Result<(Vec<Contact>, i64)> {
        let mut q = Query::new(" FROM contacts c WHERE c.team_id = ");
        q.text(team_id);
        if let Some(s) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let p = like_pattern(&s.to_lowercase());
            q.push(" AND (LOWER(COALESCE(c.name, '')) LIKE ")
                .text(&p)
                .push(" ESCAPE '\\'");
            q.push(" OR c.phone_number LIKE ").text(&p).push(" ESCAPE '\\'");
            q.push(" OR LOWER(COALESCE(c.email, '')) LIKE ")
                .text(&p)
                .push(" ESCAPE '\\')");
        }
        if !f.tags.is_empty() {
            q.push(" AND EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = c.id AND t.tag IN (");
            push_list(&mut q, &f.tags);
            q.push("))");
        }
        if !f.excluded_tags.is_empty() {
            q.push(" AND NOT EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = c.id AND t.tag IN (");
            push_list(&mut q, &f.excluded_tags);
            q.push("))");
        }
        let total = q.count(&self.pool).await?;

        let dir = if f.descending { "DESC" } else { "ASC" };
        // Stable order: ties broken by id so pages never overlap or skip.
        let list_sql = format!(
            "SELECT {} {} ORDER BY {} {dir}, c.id {dir} LIMIT {} OFFSET {}",
            COLUMNS
                .split(", ")
                .map(|c| format!("c.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            q.sql,
            f.sort.order_expr(),
            f.limit,
            f.page * f.limit
        );
        let rows = q.with_sql(&list_sql).build().fetch_all(&self.pool).await?;
        let contacts = rows.iter().map(contact_from_row).collect::<Result<Vec<_>>>()?;
        Ok((contacts, total))
    }

    /// Changes number, name or email. A number owned by another of the team's contacts is a
    /// conflict.
    pub async fn update_contact_info(
        &self,
        team_id: &str,
        id: Uuid,
        phone_number: Option<String>,
        name: Option<Option<String>>,
        email: Option<Option<String>>,
    ) -> Result<Contact> {
        let mut w = self.begin_write().await?;
        let mut c = contact_in(&mut w.tx, team_id, id).await?;
        if let Some(p) = phone_number {
            if p != c.phone_number {
                let taken = sqlx::query("SELECT id FROM contacts WHERE team_id = $1 AND phone_number = $2")
                    .bind(team_id)
                    .bind(&p)
                    .fetch_optional(&mut *w.tx)
                    .await?;
                if taken.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "phone_number: {p} belongs to another contact"
                    )));
                }
                c.phone_number = p;
            }
        }
        if let Some(n) = name {
            c.name = n;
        }
        if let Some(e) = email {
            c.email = e;
        }
        save(&mut w.tx, &mut c).await?;
        w.commit().await?;
        Ok(c)
    }

    /// Replaces the tag list through `change` (add or remove), in one transaction: the run
    /// journal's next batch (see `journal`), so tagging from automation steps and the API shares
    /// its commits instead of taking the single SQLite writer once per change.
    pub async fn change_tags(
        &self,
        team_id: &str,
        id: Uuid,
        change: impl Fn(&[String]) -> std::result::Result<Vec<String>, parley_core::ValidationError> + Send + Sync + 'static,
    ) -> Result<std::result::Result<Contact, parley_core::ValidationError>> {
        let op = Op::Tags(TagEdit {
            team_id: team_id.to_string(),
            contact_id: id,
            change: Box::new(change),
        });
        match self.journal.write(op).await? {
            Reply::Tagged(Tagged::Changed(r)) => Ok(r),
            Reply::Tagged(Tagged::NoContact) => Err(StoreError::NotFound),
            other => Err(unexpected(other)),
        }
    }

    pub async fn set_contact_status(&self, team_id: &str, id: Uuid, status: ContactStatus) -> Result<Contact> {
        let mut w = self.begin_write().await?;
        let mut c = contact_in(&mut w.tx, team_id, id).await?;
        c.status = status;
        save(&mut w.tx, &mut c).await?;
        w.commit().await?;
        Ok(c)
    }

    pub async fn delete_contact(&self, team_id: &str, id: Uuid) -> Result<()> {
        let mut w = self.begin_write().await?;
        let r = sqlx::query("DELETE FROM contacts WHERE team_id = $1 AND id = $2")
            .bind(team_id)
            .bind(id.to_string())
            .execute(&mut *w.tx)
            .await?;
        found(r.rows_affected())?;
        sqlx::query("DELETE FROM contact_tags WHERE contact_id = $1")
            .bind(id.to_string())
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        Ok(())
    }
}

fn push_list(q: &mut Query, items: &[String]) {
    for (i, t) in items.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.text(t.clone());
    }
}

impl Store {
    /// The team's contact with this E.164 number, if any.
    pub async fn list_contacts_by_number(&self, team_id: &str, e164: &str) -> Result<Option<Contact>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM contacts WHERE team_id = $1 AND phone_number = $2"
        ))
        .bind(team_id)
        .bind(e164)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(contact_from_row).transpose()
    }
}
