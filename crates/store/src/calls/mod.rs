//! Calls: their rows, creation (each with the job that will run it), reads, search.
//!
//! What happens to a call once it is queued (dialing, ringing, answered, ended, hung up through
//! the API) is [`life`]'s: the calls service, the one place that changes a call's state, each
//! change with its timeline entry, event row, webhooks and automation event.

pub mod life;

use crate::sql::{like_pattern, Query};
use crate::{jobs, now_ms, webhooks, Result, Store, StoreError};
use parley_core::call::{Call, CallStatus, CallType, InterviewRef, Progress, SummaryData, TimelineEntry};
use parley_core::contact::Contact;
use parley_core::ids::new_row_id;
use parley_core::number::CallRoute;
use parley_core::time::Timestamp;
use parley_core::webhook::EventType;
use sqlx::{Any, Row, Transaction};
use std::collections::BTreeMap;
use uuid::Uuid;

pub const DIAL_JOB: &str = "dial";

pub struct NewCall {
    pub interview_id: String,
    pub contact: Contact,
    pub metadata: BTreeMap<String, String>,
    /// Its network and caller id ([`parley_core::number::OutboundNumbers::route`]).
    pub route: CallRoute,
}

#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    /// One agent's calls (`/interview/{id}/responses`); `None` for the whole team's.
    pub interview_id: Option<String>,
    /// Only calls of these types (`INBOUND_CALL` for inbound; empty for all).
    pub call_types: Vec<CallType>,
    /// Created at or after / before these times (milliseconds since the epoch, UTC).
    pub created_from: Option<i64>,
    pub created_before: Option<i64>,
    pub search: Option<String>,
    pub response_tags: Vec<String>,
    pub statuses: Vec<CallStatus>,
    pub job_id: Option<Uuid>,
    pub page: i64,
    pub limit: i64,
}

impl Store {
    /// Creates queued calls, each with its dial job and its first event, in one transaction.
    /// `bulk` records a campaign (`/job/create_job_by_contacts`) with its summary.
    pub async fn create_calls(
        &self,
        team_id: &str,
        calls: Vec<NewCall>,
        bulk: Option<(Uuid, &serde_json::Value)>,
    ) -> Result<Vec<Call>> {
        let mut w = self.begin_write().await?;
        let now = now_ms();
        if let (Some((job_id, body)), Some(first)) = (bulk, calls.first()) {
            sqlx::query("INSERT INTO bulk_jobs (id, team_id, interview_id, created, body) VALUES ($1, $2, $3, $4, $5)")
                .bind(job_id.to_string())
                .bind(team_id)
                .bind(&first.interview_id)
                .bind(now)
                .bind(serde_json::to_string(body)?)
                .execute(&mut *w.tx)
                .await?;
        }
        let mut out = Vec::with_capacity(calls.len());
        for nc in calls {
            let mut call = queued_call(
                CallType::PhoneCall,
                nc.interview_id,
                nc.contact.phone_number.clone(),
                Some(nc.contact),
                nc.metadata,
                bulk.map(|b| b.0),
                nc.route,
                now,
            );
            let call_id = call.id;
            insert_queued_call(
                &mut w.tx,
                team_id,
                &mut call,
                DIAL_JOB,
                &serde_json::json!({ "call_id": call_id }),
                now,
            )
            .await?;
            out.push(call);
        }
        w.commit().await?;
        Ok(out)
    }

    pub async fn call(&self, team_id: &str, id: Uuid) -> Result<Call> {
        let r = sqlx::query("SELECT body FROM calls WHERE team_id = $1 AND id = $2")
            .bind(team_id)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(serde_json::from_str(&r.try_get::<String, _>("body")?)?)
    }

    /// A call by id alone, for workers that got the id from their own job.
    pub async fn call_for_worker(&self, id: Uuid) -> Result<(String, Call)> {
        let r = sqlx::query("SELECT team_id, body FROM calls WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((
            r.try_get("team_id")?,
            serde_json::from_str(&r.try_get::<String, _>("body")?)?,
        ))
    }

    /// Which of these calls a hang-up was asked for: the calls a process runs, looked up at once
    /// (by primary key, 500 to a statement).
    pub async fn hangups_requested(&self, ids: &[Uuid]) -> Result<Vec<Uuid>> {
        let mut out = vec![];
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id FROM calls WHERE hangup_requested = 1 AND id IN ({})",
                marks.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.to_string());
            }
            for r in q.fetch_all(&self.pool).await? {
                let id: String = r.try_get("id")?;
                out.extend(Uuid::parse_str(&id).ok());
            }
        }
        Ok(out)
    }

    /// Calls of a team (of one agent, with `f.interview_id`), newest first, with the total that
    /// match.
    pub async fn list_calls(&self, team_id: &str, f: &CallFilter) -> Result<(Vec<Call>, i64)> {
        let mut q = Query::new(" FROM calls WHERE team_id = ");
        q.text(team_id);
        if let Some(agent) = &f.interview_id {
            q.push(" AND interview_id = ").text(agent);
        }
        if !f.call_types.is_empty() {
            q.push(" AND call_type IN (");
            for (i, t) in f.call_types.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.text(t.as_str());
            }
            q.push(")");
        }
        if let Some(t) = f.created_from {
            q.push(" AND created >= ").int(t);
        }
        if let Some(t) = f.created_before {
            q.push(" AND created < ").int(t);
        }
        if let Some(s) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            q.push(" AND search_text LIKE ")
                .text(like_pattern(&s.to_lowercase()))
                .push(" ESCAPE '\\'");
        }
        if !f.statuses.is_empty() {
            q.push(" AND status IN (");
            for (i, s) in f.statuses.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.text(s.as_str());
            }
            q.push(")");
        }
        if !f.response_tags.is_empty() {
            // Tags are stored as a JSON array of strings; match the quoted, JSON-encoded tag.
            q.push(" AND (");
            for (i, t) in f.response_tags.iter().enumerate() {
                if i > 0 {
                    q.push(" OR ");
                }
                let quoted = serde_json::to_string(t)?;
                q.push("response_tags LIKE ")
                    .text(like_pattern(&quoted))
                    .push(" ESCAPE '\\'");
            }
            q.push(")");
        }
        if let Some(j) = f.job_id {
            q.push(" AND job_id = ").text(j.to_string());
        }
        let total = q.count(&self.pool).await?;
        let sql = format!(
            "SELECT body{} ORDER BY created DESC, id DESC LIMIT {} OFFSET {}",
            q.sql,
            f.limit,
            f.page * f.limit
        );
        let rows = q.with_sql(&sql).build().fetch_all(&self.pool).await?;
        let calls = rows
            .iter()
            .map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("body")?)?))
            .collect::<Result<Vec<Call>>>()?;
        Ok((calls, total))
    }

    /// The team's calls changed after the cursor `(updated, id)` (ms, call id), oldest change
    /// first, at most `limit`: what the live view streams. Each call comes with its own cursor.
    pub async fn calls_changed_since(
        &self,
        team_id: &str,
        after: (i64, &str),
        limit: i64,
    ) -> Result<Vec<((i64, String), Call)>> {
        let rows = sqlx::query(
            "SELECT id, updated, body FROM calls WHERE team_id = $1 AND (updated > $2 OR (updated = $2 AND id > $3)) \
             ORDER BY updated, id LIMIT $4",
        )
        .bind(team_id)
        .bind(after.0)
        .bind(after.1)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let call: Call = serde_json::from_str(&r.try_get::<String, _>("body")?)?;
                Ok(((r.try_get("updated")?, r.try_get("id")?), call))
            })
            .collect()
    }

    /// Calls of a team that hold a line (dialing, ringing or answered): the concurrency limit
    /// counts these.
    pub async fn active_call_count(&self, team_id: &str) -> Result<i64> {
        Ok(sqlx::query(
            "SELECT COUNT(*) AS n FROM calls WHERE team_id = $1 AND progress IN ('dialing', 'ringing', 'answered')",
        )
        .bind(team_id)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?)
    }

    /// Calls by status, for `/metrics`.
    pub async fn calls_by_status(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM calls GROUP BY status ORDER BY status")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect()
    }
}

/// A new call in its first state (`NOT_STARTED`, queued): the one shape every way of creating a
/// call starts from.
#[allow(clippy::too_many_arguments)]
pub(crate) fn queued_call(
    call_type: CallType,
    interview_id: String,
    phone_number: String,
    contact: Option<Contact>,
    metadata: BTreeMap<String, String>,
    job_id: Option<Uuid>,
    route: CallRoute,
    now: i64,
) -> Call {
    Call {
        id: new_row_id(),
        created: Timestamp(now),
        updated: Timestamp(now),
        version: 1,
        call_type,
        status: CallStatus::NotStarted,
        interview: InterviewRef {
            id: interview_id,
            version: None,
        },
        phone_number,
        contact,
        start_time: None,
        end_time: None,
        duration_ms: None,
        conversation_history: vec![],
        transcript: String::new(),
        summary_data: SummaryData::default(),
        metadata,
        recording_url: None,
        call_failure_reason: None,
        progress: Progress::Queued,
        end_reason: None,
        variables: Default::default(),
        outcome: None,
        timeline: vec![TimelineEntry::progress(Progress::Queued, Timestamp(now))],
        job_id,
        latency: vec![],
        from_number: route.from_number,
        network: route.network,
        path: vec![],
        engine_fallbacks: vec![],
    }
}

/// Writes a [`queued_call`] inside the caller's transaction: its row, its first event, the job
/// that will run it (`job_kind` with `job_payload`) and its `CALL_PROGRESS` (queued) deliveries.
/// The call is pinned to its agent's live version (read in the same transaction), which is the
/// version that will serve it.
pub(crate) async fn insert_queued_call(
    tx: &mut Transaction<'_, Any>,
    team_id: &str,
    call: &mut Call,
    job_kind: &str,
    job_payload: &serde_json::Value,
    now: i64,
) -> Result<String> {
    call.interview.version = sqlx::query("SELECT version FROM interviews WHERE team_id = $1 AND id = $2")
        .bind(team_id)
        .bind(&call.interview.id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get::<i64, _>("version"))
        .transpose()?;
    let body = serde_json::to_string(call)?;
    sqlx::query(
        "INSERT INTO calls (id, team_id, interview_id, contact_id, job_id, created, updated, version, status, progress, response_tags, search_text, body, from_number, network, call_type) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, 1, $7, $8, '[]', $9, $10, $11, $12, $13)",
    )
    .bind(call.id.to_string())
    .bind(team_id)
    .bind(&call.interview.id)
    .bind(call.contact.as_ref().map(|c| c.id.to_string()))
    .bind(call.job_id.map(|j| j.to_string()))
    .bind(now)
    .bind(call.status.as_str())
    .bind(call.progress.as_str())
    .bind(search_text(call))
    .bind(&body)
    .bind(call.from_number.as_deref())
    .bind(call.network.as_str())
    .bind(call.call_type.as_str())
    .execute(&mut **tx)
    .await?;
    insert_event(tx, team_id, call, None).await?;
    let job = jobs::enqueue(tx, job_kind, Some(team_id), job_payload, now).await?;
    webhooks::fan_out(tx, team_id, Some(&call.interview.id), EventType::CallProgress, &body).await?;
    Ok(job)
}

/// Lower-cased text that `search` matches: number, contact name and email, transcript.
pub(super) fn search_text(c: &Call) -> String {
    let contact = c.contact.as_ref();
    format!(
        "{} {} {} {}",
        c.phone_number,
        contact.and_then(|c| c.name.as_deref()).unwrap_or(""),
        contact.and_then(|c| c.email.as_deref()).unwrap_or(""),
        c.transcript
    )
    .to_lowercase()
}

pub(super) async fn insert_event(
    tx: &mut Transaction<'_, Any>,
    team_id: &str,
    c: &Call,
    detail: Option<&str>,
) -> Result<()> {
    sqlx::query("INSERT INTO call_events (id, call_id, team_id, at, progress, status, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(new_row_id().to_string())
        .bind(c.id.to_string())
        .bind(team_id)
        .bind(c.updated.millis())
        .bind(c.progress.as_str())
        .bind(c.status.as_str())
        .bind(detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
