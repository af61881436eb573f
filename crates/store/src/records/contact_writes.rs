//! The statements of contact writes, on a connection or in a transaction the caller holds: new
//! contacts many per statement, upserts, tag changes a batch at a time, and the trigger events
//! they queue. A leaf of the store's modules (rows, the outbox, SQL helpers), so the run
//! journal and the PostgreSQL contact writer can write contacts without depending on the
//! repository that queues records on them.

use super::contacts::*;
use crate::sql::{list_sql, rows_sql, shapes};
use crate::{Dialect, Result, StoreError};
use parley_core::contact::Contact;
use parley_core::time::Timestamp;
use parley_core::ValidationError;
use sqlx::{Any, AnyConnection, Row, Transaction};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

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

/// The INSERT of a new contact, doing nothing if the team already has the number: the unique
/// (team_id, phone_number) turns a concurrent duplicate into a no-op followed by the update
/// path, so two simultaneous upserts of one number never make two rows.
pub(crate) fn insert_query(team_id: &str, c: &ContactWrite) -> Result<(AnyQuery<'static>, Contact)> {
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
pub(crate) async fn existing_tags(
    tx: &mut Transaction<'_, Any>,
    team_id: &str,
    phone_number: &str,
) -> Result<Vec<String>> {
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
pub(crate) async fn contact_events(
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
/// A tag list edit: the new list from the old one, or why the change is refused.
pub type TagChange = dyn Fn(&[String]) -> std::result::Result<Vec<String>, ValidationError> + Send + Sync;

/// A change of one contact's tags: the API's, or an automation step's (written with the
/// step's start). Read, changed and written in the transaction of the batch that carries it.
pub struct TagEdit {
    pub team_id: String,
    pub contact_id: Uuid,
    pub change: Box<TagChange>,
}

/// What a tag change found.
#[derive(Debug)]
pub(crate) enum Tagged {
    /// The contact after the change, or why the change was refused.
    Changed(std::result::Result<Contact, ValidationError>),
    /// The contact does not exist (for this team).
    NoContact,
}

pub(crate) async fn change_tags_batch(
    tx: &mut Transaction<'_, Any>,
    d: Dialect,
    changes: &[&TagEdit],
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
pub(crate) async fn save_tags(
    tx: &mut Transaction<'_, Any>,
    d: Dialect,
    changed: &[(Contact, Vec<String>)],
) -> Result<()> {
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

pub(crate) async fn insert_added_tags(
    tx: &mut Transaction<'_, Any>,
    d: Dialect,
    added: &[(&Contact, &String)],
) -> Result<()> {
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

pub(crate) async fn contact_in(tx: &mut Transaction<'_, Any>, team_id: &str, id: Uuid) -> Result<Contact> {
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
pub(crate) async fn save(tx: &mut Transaction<'_, Any>, c: &mut Contact) -> Result<()> {
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

pub(crate) async fn write_tags(tx: &mut Transaction<'_, Any>, c: &Contact) -> Result<()> {
    sqlx::query("DELETE FROM contact_tags WHERE contact_id = $1")
        .bind(c.id.to_string())
        .execute(&mut **tx)
        .await?;
    insert_tags(tx, c).await
}

pub(crate) async fn insert_tags(tx: &mut Transaction<'_, Any>, c: &Contact) -> Result<()> {
    insert_tag_rows(tx, c, c.tags.iter()).await
}

pub(crate) async fn insert_tag_rows<'a>(
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
