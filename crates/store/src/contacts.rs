//! Contacts: upsert by (team, phone number), filters, sorting, pagination.

use crate::journal::{unexpected, Op, Reply, Tagged, TagsRow};
use crate::sql::{like_pattern, Query};
use crate::sql::{list_sql, rows_sql, shapes};
use crate::{found, Dialect, Result, Store, StoreError};
use parley_core::contact::{Contact, ContactStatus, LeadSource};
use parley_core::ids::new_row_id;
use parley_core::time::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row, Transaction};
use std::collections::{BTreeMap, HashMap, HashSet};
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

/// What an upsert did, so the API can say created vs updated.
pub struct Upserted {
    pub contact: Contact,
    pub created: bool,
}

const COLUMNS: &str =
    "id, team_id, created, updated, version, status, name, phone_number, email, attributes, tags, lead_source";

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
        let op = Op::Tags(TagsRow {
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

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// Inserts new contacts in one statement, each unless its team has its number already;
/// returns the ids inserted.
///
/// On SQLite, in the run journal's batches (see `journal`): SQLite has one writer, and each
/// single-row write costs several cross-thread hand-offs (pool, sqlx's connection thread, the
/// commit) that run one after another; a batch pays them once for many rows. A writer of their
/// own (`batch`, PostgreSQL's) took turns with the journal for SQLite's one write connection:
/// the journal waited for it half of its time (4.7 ms of each 10 ms batch, measured).
pub(crate) async fn insert_new(conn: &mut AnyConnection, d: Dialect, rows: &[&Contact]) -> Result<HashSet<String>> {
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = format!(
        "{INSERT_PREFIX}{} ON CONFLICT (team_id, phone_number) DO NOTHING RETURNING id",
        rows_sql(d, rows.len(), "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    );
    let mut q: AnyQuery = sqlx::query(&sql);
    for c in rows {
        q = insert_values(q, c)?;
    }
    let out = q.fetch_all(&mut *conn).await?;
    out.iter().map(|r| Ok(r.try_get::<String, _>("id")?)).collect()
}

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

/// The INSERT of a new contact, doing nothing if the team already has the number: the unique
/// (team_id, phone_number) turns a concurrent duplicate into a no-op followed by the update
/// path, so two simultaneous upserts of one number never make two rows.
fn insert_query(team_id: &str, c: &ContactWrite) -> Result<(AnyQuery<'static>, Contact)> {
    static INSERT_ONE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let placeholders: Vec<String> = (1..=VALUES_PER_ROW).map(|i| format!("${i}")).collect();
        format!(
            "{INSERT_PREFIX}({}) ON CONFLICT (team_id, phone_number) DO NOTHING",
            placeholders.join(", ")
        )
    });
    let contact = new_contact(team_id, c);
    Ok((insert_values(sqlx::query(INSERT_ONE.as_str()), &contact)?, contact))
}

pub(crate) async fn upsert_in(tx: &mut Transaction<'_, Any>, team_id: &str, c: &ContactWrite) -> Result<Upserted> {
    let (insert, contact) = insert_query(team_id, c)?;
    if insert.execute(&mut **tx).await?.rows_affected() == 1 {
        insert_tags(tx, &contact).await?;
        return Ok(Upserted { contact, created: true });
    }
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM contacts WHERE team_id = $1 AND phone_number = $2"
    ))
    .bind(team_id)
    .bind(&c.phone_number)
    .fetch_one(&mut **tx)
    .await?;
    let mut existing = contact_from_row(&row)?;
    existing.name = c.name.clone();
    existing.email = c.email.clone();
    existing.attributes = c.attributes.clone();
    existing.tags =
        parley_core::contact::merge_tags(&existing.tags, &c.tags).map_err(|e| StoreError::Conflict(e.to_string()))?;
    save(tx, &mut existing).await?;
    write_tags(tx, &existing).await?;
    Ok(Upserted {
        contact: existing,
        created: false,
    })
}

/// The tags of the team's contact with this number (none if it does not exist yet).
async fn existing_tags(tx: &mut Transaction<'_, Any>, team_id: &str, phone_number: &str) -> Result<Vec<String>> {
    let row = sqlx::query("SELECT tags FROM contacts WHERE team_id = $1 AND phone_number = $2")
        .bind(team_id)
        .bind(phone_number)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(r) => serde_json::from_str(&r.try_get::<String, _>("tags")?)?,
        None => Vec::new(),
    })
}

/// Queues the automation trigger events of a contact write: created, and each tag it gained.
async fn contact_events(
    tx: &mut Transaction<'_, Any>,
    team_id: &str,
    c: &Contact,
    created: bool,
    old_tags: &[String],
) -> Result<()> {
    if created {
        let ev = serde_json::json!({ "type": "contact_created", "contact_id": c.id });
        crate::outbox::enqueue_event(tx, team_id, "contact_created", &ev).await?;
    }
    for tag in c.tags.iter().filter(|t| !old_tags.contains(t)) {
        let ev = serde_json::json!({ "type": "tag_added", "contact_id": c.id, "tag": tag });
        crate::outbox::enqueue_event(tx, team_id, "tag_added", &ev).await?;
    }
    Ok(())
}

/// Every tag change of a journal batch in the batch's transaction, with one statement per kind
/// for the whole batch (read the contacts, write them, add tag rows, queue `tag_added` events)
/// rather than four round trips per change on the journal's one writer. Removed tags are
/// deleted one statement each (rare: only `/contact/{id}/remove_tags`). The journal puts at most
/// one change per contact in a batch. One reply per change, in order.
pub(crate) async fn change_tags_batch(
    tx: &mut Transaction<'_, Any>,
    d: Dialect,
    changes: &[&TagsRow],
) -> Result<Vec<Tagged>> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let mut found: HashMap<Uuid, Contact> = HashMap::with_capacity(changes.len());
    for chunk in shapes(changes) {
        let sql = format!(
            "SELECT {COLUMNS} FROM contacts WHERE id IN ({})",
            list_sql(d, chunk.len())
        );
        let mut q: AnyQuery = sqlx::query(&sql);
        for t in chunk {
            q = q.bind(t.contact_id.to_string());
        }
        for row in q.fetch_all(&mut **tx).await? {
            let c = contact_from_row(&row)?;
            found.insert(c.id, c);
        }
    }
    let now = Timestamp::now();
    let mut replies = Vec::with_capacity(changes.len());
    // (contact, its tags before the change) for each change to write.
    let mut changed: Vec<(Contact, Vec<String>)> = Vec::new();
    for t in changes {
        let Some(mut c) = found.remove(&t.contact_id).filter(|c| c.team_id == t.team_id) else {
            replies.push(None);
            continue;
        };
        match (t.change)(&c.tags) {
            Err(e) => replies.push(Some(Err(e))),
            Ok(tags) => {
                let old = std::mem::replace(&mut c.tags, tags);
                c.version += 1;
                c.updated = now;
                replies.push(Some(Ok(changed.len())));
                changed.push((c, old));
            }
        }
    }
    for chunk in shapes(&changed) {
        save_tags(tx, d, chunk).await?;
    }
    for (c, old) in &changed {
        for t in old.iter().filter(|t| !c.tags.contains(t)) {
            sqlx::query("DELETE FROM contact_tags WHERE contact_id = $1 AND tag = $2")
                .bind(c.id.to_string())
                .bind(t)
                .execute(&mut **tx)
                .await?;
        }
    }
    let added: Vec<(&Contact, &String)> = changed
        .iter()
        .flat_map(|(c, old)| c.tags.iter().filter(|t| !old.contains(t)).map(move |t| (c, t)))
        .collect();
    for chunk in shapes(&added) {
        insert_added_tags(tx, d, chunk).await?;
        crate::outbox::enqueue_tags_added(tx, d, chunk).await?;
    }
    Ok(replies
        .into_iter()
        .map(|r| match r {
            None => Tagged::NoContact,
            Some(Err(e)) => Tagged::Changed(Err(e)),
            Some(Ok(i)) => Tagged::Changed(Ok(changed[i].0.clone())),
        })
        .collect())
}

/// Writes changed contacts' tags, version and update time (one statement for the batch).
async fn save_tags(tx: &mut Transaction<'_, Any>, d: Dialect, changed: &[(Contact, Vec<String>)]) -> Result<()> {
    if changed.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE contacts SET updated = v.column2, version = v.column3, tags = v.column4 \
         FROM (VALUES {}) AS v WHERE contacts.id = v.column1",
        rows_sql(d, changed.len(), "(?, ?, ?, ?)")
    );
    let mut q: AnyQuery = sqlx::query(&sql);
    for (c, _) in changed {
        q = q
            .bind(c.id.to_string())
            .bind(c.updated.millis())
            .bind(c.version)
            .bind(serde_json::to_string(&c.tags)?);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

async fn insert_added_tags(tx: &mut Transaction<'_, Any>, d: Dialect, added: &[(&Contact, &String)]) -> Result<()> {
    if added.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO contact_tags (contact_id, team_id, tag) VALUES {}",
        rows_sql(d, added.len(), "(?, ?, ?)")
    );
    let mut q: AnyQuery = sqlx::query(&sql);
    for (c, tag) in added {
        q = q.bind(c.id.to_string()).bind(c.team_id.clone()).bind(tag.to_string());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

async fn contact_in(tx: &mut Transaction<'_, Any>, team_id: &str, id: Uuid) -> Result<Contact> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM contacts WHERE team_id = $1 AND id = $2"
    ))
    .bind(team_id)
    .bind(id.to_string())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    contact_from_row(&row)
}

/// Writes every field back, bumping `version` and `updated`.
async fn save(tx: &mut Transaction<'_, Any>, c: &mut Contact) -> Result<()> {
    c.version += 1;
    c.updated = Timestamp::now();
    sqlx::query(
        "UPDATE contacts SET updated = $1, version = $2, status = $3, name = $4, phone_number = $5, email = $6, attributes = $7, tags = $8 \
         WHERE id = $9",
    )
    .bind(c.updated.millis())
    .bind(c.version)
    .bind(c.status.as_str())
    .bind(c.name.as_deref())
    .bind(&c.phone_number)
    .bind(c.email.as_deref())
    .bind(serde_json::to_string(&c.attributes)?)
    .bind(serde_json::to_string(&c.tags)?)
    .bind(c.id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn write_tags(tx: &mut Transaction<'_, Any>, c: &Contact) -> Result<()> {
    sqlx::query("DELETE FROM contact_tags WHERE contact_id = $1")
        .bind(c.id.to_string())
        .execute(&mut **tx)
        .await?;
    insert_tags(tx, c).await
}

async fn insert_tags(tx: &mut Transaction<'_, Any>, c: &Contact) -> Result<()> {
    insert_tag_rows(tx, c, c.tags.iter()).await
}

async fn insert_tag_rows<'a>(
    tx: &mut Transaction<'_, Any>,
    c: &Contact,
    tags: impl Iterator<Item = &'a String>,
) -> Result<()> {
    for t in tags {
        sqlx::query("INSERT INTO contact_tags (contact_id, team_id, tag) VALUES ($1, $2, $3)")
            .bind(c.id.to_string())
            .bind(&c.team_id)
            .bind(t)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

fn push_list(q: &mut Query, items: &[String]) {
    for (i, t) in items.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.text(t.clone());
    }
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
