//! The outbox: events for the automation engine written in the caller's transaction, so an
//! event exists exactly when the change that caused it committed (a contact created, a tag
//! added, a call completed). Each is a job row of kind [`EVENT_JOB`], inserted only when some
//! live automation of the team listens (one conditional INSERT, no extra round trip).
//!
//! Decision: the outbox depends on the jobs table only, not on the repositories that write
//! events into it, so contacts and calls do not depend on the automations repository.

use crate::sql::rows_sql;
use crate::{now_ms, Dialect, Result};
use parley_core::contact::Contact;
use parley_core::ids::new_row_id;
use serde_json::Value;
use sqlx::{Any, Transaction};
use uuid::Uuid;

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// The job kind of an automation trigger event.
pub const EVENT_JOB: &str = "automation_event";

/// Queues a trigger event in the caller's transaction, only when some live automation of the
/// team listens for it (one conditional INSERT, no extra round trip).
pub(crate) async fn enqueue_event(
    tx: &mut Transaction<'_, Any>,
    team_id: &str,
    trigger_type: &str,
    payload: &Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO jobs (id, kind, team_id, payload, run_at, attempts, created) \
         SELECT $1, $2, $3, $4, $5, 0, $5 WHERE EXISTS \
         (SELECT 1 FROM automations WHERE team_id = $3 AND trigger_type = $6 AND mode = 'live' AND deleted = 0)",
    )
    .bind(new_row_id().to_string())
    .bind(EVENT_JOB)
    .bind(team_id)
    .bind(payload.to_string())
    .bind(now_ms())
    .bind(trigger_type)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queues the call-completed event when an automation listens or a run waits for this call.
pub(crate) async fn enqueue_call_completed(tx: &mut Transaction<'_, Any>, team_id: &str, call_id: Uuid) -> Result<()> {
    let payload = serde_json::json!({ "type": "call_completed", "call_id": call_id });
    sqlx::query(
        "INSERT INTO jobs (id, kind, team_id, payload, run_at, attempts, created) \
         SELECT $1, $2, $3, $4, $5, 0, $5 WHERE EXISTS \
         (SELECT 1 FROM automations WHERE team_id = $3 AND trigger_type = 'call_completed' AND mode = 'live' AND deleted = 0) \
         OR EXISTS (SELECT 1 FROM automation_runs WHERE waiting_call_id = $6)",
    )
    .bind(new_row_id().to_string())
    .bind(EVENT_JOB)
    .bind(team_id)
    .bind(payload.to_string())
    .bind(now_ms())
    .bind(call_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queues a `tag_added` event per added tag, for teams with a live automation listening (as
/// [`enqueue_event`] does for one).
pub(crate) async fn enqueue_tags_added(
    tx: &mut Transaction<'_, Any>,
    d: Dialect,
    added: &[(&Contact, &String)],
) -> Result<()> {
    if added.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO jobs (id, kind, team_id, payload, run_at, attempts, created) \
         SELECT v.column1, v.column2, v.column3, v.column4, v.column5, 0, v.column5 FROM (VALUES {}) AS v \
         WHERE EXISTS (SELECT 1 FROM automations a WHERE a.team_id = v.column3 \
         AND a.trigger_type = 'tag_added' AND a.mode = 'live' AND a.deleted = 0)",
        rows_sql(d, added.len(), "(?, ?, ?, ?, ?)")
    );
    let now = now_ms();
    let mut q: AnyQuery = sqlx::query(&sql);
    for (c, tag) in added {
        let ev = serde_json::json!({ "type": "tag_added", "contact_id": c.id, "tag": tag });
        q = q
            .bind(new_row_id().to_string())
            .bind(EVENT_JOB)
            .bind(c.team_id.clone())
            .bind(ev.to_string())
            .bind(now);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}
