//! Webhook subscriptions and deliveries.
//!
//! An event becomes one delivery row per matching subscription plus one `webhook_delivery` job,
//! written in the transaction that records the event itself: an event that happened always has
//! its deliveries, and a restart loses none.

use crate::{jobs, now_ms, Result, Store, StoreError};
use parley_core::ids::new_row_id;
use parley_core::webhook::EventType;
use serde::Serialize;
use sqlx::{Any, Row, Transaction};
use uuid::Uuid;

pub const DELIVERY_JOB: &str = "webhook_delivery";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub url: String,
    /// The agent this subscription is scoped to; `null` for all agents.
    pub data: Option<String>,
    pub created: parley_core::time::Timestamp,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub url: String,
    /// `pending`, `delivered`, `failed` (gave up, or refused by the address guard) or
    /// `canceled` (the subscription was removed while the delivery was pending).
    pub status: String,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created: parley_core::time::Timestamp,
    pub updated: parley_core::time::Timestamp,
    pub next_attempt: Option<parley_core::time::Timestamp>,
}

/// What a delivery job needs to send.
#[derive(Debug, Clone)]
pub struct DeliveryToSend {
    pub id: String,
    pub team_id: String,
    pub event_type: String,
    pub url: String,
    pub payload: String,
    pub status: String,
    pub created: i64,
}

impl Store {
    /// Subscribes; subscribing twice to the same (type, url, agent) returns the existing one.
    pub async fn subscribe(
        &self,
        team_id: &str,
        event_type: EventType,
        url: &str,
        interview_id: Option<&str>,
    ) -> Result<Webhook> {
        let scope = interview_id.unwrap_or("");
        let mut w = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO webhooks (id, team_id, event_type, url, interview_id, created) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (team_id, event_type, url, interview_id) DO NOTHING",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(team_id)
        .bind(event_type.as_str())
        .bind(url)
        .bind(scope)
        .bind(now_ms())
        .execute(&mut *w.tx)
        .await?;
        let r = sqlx::query("SELECT id, event_type, url, interview_id, created FROM webhooks WHERE team_id = $1 AND event_type = $2 AND url = $3 AND interview_id = $4")
            .bind(team_id)
            .bind(event_type.as_str())
            .bind(url)
            .bind(scope)
            .fetch_one(&mut *w.tx)
            .await?;
        w.commit().await?;
        webhook_from_row(&r)
    }

    /// Removes a subscription and cancels its deliveries still pending, in one transaction:
    /// their rows become `canceled` (they stay in the deliveries log) and their jobs are removed,
    /// so nothing more is sent to the removed URL. Returns how many were canceled.
    ///
    /// An attempt already in flight at that moment may still reach the receiver once; its
    /// result is not recorded over `canceled` ([`Store::record_delivery_attempt`]).
    pub async fn unsubscribe(
        &self,
        team_id: &str,
        event_type: EventType,
        url: &str,
        interview_id: Option<&str>,
    ) -> Result<u64> {
        let mut w = self.begin_write().await?;
        let removed = sqlx::query(
            "DELETE FROM webhooks WHERE team_id = $1 AND event_type = $2 AND url = $3 AND interview_id = $4 RETURNING id",
        )
        .bind(team_id)
        .bind(event_type.as_str())
        .bind(url)
        .bind(interview_id.unwrap_or(""))
        .fetch_optional(&mut *w.tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let webhook_id: String = removed.try_get("id")?;
        // A delivery's job has the delivery's id (see `fan_out`). Jobs queued before that rule
        // find their delivery canceled when they run, and end without sending.
        sqlx::query(
            "DELETE FROM jobs WHERE kind = $1 AND id IN \
             (SELECT id FROM webhook_deliveries WHERE webhook_id = $2 AND status = 'pending')",
        )
        .bind(DELIVERY_JOB)
        .bind(&webhook_id)
        .execute(&mut *w.tx)
        .await?;
        let canceled = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'canceled', next_attempt = NULL, updated = $1 \
             WHERE webhook_id = $2 AND status = 'pending'",
        )
        .bind(now_ms())
        .bind(&webhook_id)
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
        w.commit().await?;
        Ok(canceled)
    }

    pub async fn webhooks(&self, team_id: &str) -> Result<Vec<Webhook>> {
        let rows = sqlx::query(
            "SELECT id, event_type, url, interview_id, created FROM webhooks WHERE team_id = $1 ORDER BY created, id",
        )
        .bind(team_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(webhook_from_row).collect()
    }

    pub async fn deliveries(&self, team_id: &str, limit: i64) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(&format!(
            "SELECT id, webhook_id, event_type, url, status, attempts, last_status_code, last_error, created, updated, next_attempt \
             FROM webhook_deliveries WHERE team_id = $1 ORDER BY created DESC, id LIMIT {limit}"
        ))
        .bind(team_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Delivery {
                    id: r.try_get("id")?,
                    webhook_id: r.try_get("webhook_id")?,
                    event_type: r.try_get("event_type")?,
                    url: r.try_get("url")?,
                    status: r.try_get("status")?,
                    attempts: r.try_get("attempts")?,
                    last_status_code: r.try_get("last_status_code")?,
                    last_error: r.try_get("last_error")?,
                    created: parley_core::time::Timestamp(r.try_get("created")?),
                    updated: parley_core::time::Timestamp(r.try_get("updated")?),
                    next_attempt: r
                        .try_get::<Option<i64>, _>("next_attempt")?
                        .map(parley_core::time::Timestamp),
                })
            })
            .collect()
    }

    pub async fn delivery_to_send(&self, id: &str) -> Result<DeliveryToSend> {
        let r = sqlx::query(
            "SELECT id, team_id, event_type, url, payload, status, created FROM webhook_deliveries WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(DeliveryToSend {
            id: r.try_get("id")?,
            team_id: r.try_get("team_id")?,
            event_type: r.try_get("event_type")?,
            url: r.try_get("url")?,
            payload: r.try_get("payload")?,
            status: r.try_get("status")?,
            created: r.try_get("created")?,
        })
    }

    /// Records one attempt: its status code or error, and the delivery's new status. Only a
    /// pending delivery changes: an attempt that was in flight when its subscription was
    /// removed does not turn `canceled` back into `pending`.
    pub async fn record_delivery_attempt(
        &self,
        id: &str,
        status: &str,
        code: Option<u16>,
        error: Option<&str>,
        next_attempt: Option<i64>,
    ) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query("UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, last_status_code = $2, last_error = $3, next_attempt = $4, updated = $5 WHERE id = $6 AND status = 'pending'")
            .bind(status)
            .bind(code.map(i64::from))
            .bind(error)
            .bind(next_attempt)
            .bind(now_ms())
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }
}

/// Queues one delivery (and its job) per subscription of `team_id` matching `event_type` and
/// the agent, inside the event's transaction.
impl Store {
    /// Sends a delivery again, as a new delivery of the same event (same payload, type and URL;
    /// a new id, so the receiver can tell the resend from the original) queued at once: the
    /// dashboard's "resend". `NotFound` for another team's delivery; `Conflict` when its
    /// subscription was removed since.
    pub async fn resend_delivery(&self, team_id: &str, id: &str) -> Result<String> {
        let mut w = self.begin_write().await?;
        let r = sqlx::query(
            "SELECT d.webhook_id, d.event_type, d.url, d.payload, w.id AS live FROM webhook_deliveries d \
             LEFT JOIN webhooks w ON w.id = d.webhook_id WHERE d.team_id = $1 AND d.id = $2",
        )
        .bind(team_id)
        .bind(id)
        .fetch_optional(&mut *w.tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        if r.try_get::<Option<String>, _>("live")?.is_none() {
            return Err(StoreError::Conflict(
                "the subscription of this delivery was removed; subscribe again to receive its events".into(),
            ));
        }
        let webhook: String = r.try_get("webhook_id")?;
        let new_id = new_row_id().to_string();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, team_id, webhook_id, event_type, url, payload, status, attempts, created, updated, next_attempt) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7)",
        )
        .bind(&new_id)
        .bind(team_id)
        .bind(&webhook)
        .bind(r.try_get::<String, _>("event_type")?)
        .bind(r.try_get::<String, _>("url")?)
        .bind(r.try_get::<String, _>("payload")?)
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
        jobs::enqueue_with_id(
            &mut w.tx,
            &new_id,
            DELIVERY_JOB,
            Some(team_id),
            &serde_json::json!({ "delivery_id": new_id, "order": webhook }),
            now,
        )
        .await?;
        w.commit().await?;
        Ok(new_id)
    }
}

pub async fn fan_out(
    tx: &mut Transaction<'_, Any>,
    team_id: &str,
    interview_id: Option<&str>,
    event_type: EventType,
    payload: &str,
) -> Result<usize> {
    let subs = sqlx::query("SELECT id, url FROM webhooks WHERE team_id = $1 AND event_type = $2 AND (interview_id = '' OR interview_id = $3)")
        .bind(team_id)
        .bind(event_type.as_str())
        .bind(interview_id.unwrap_or(""))
        .fetch_all(&mut **tx)
        .await?;
    let now = now_ms();
    for s in &subs {
        let id = new_row_id().to_string();
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, team_id, webhook_id, event_type, url, payload, status, attempts, created, updated, next_attempt) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7)",
        )
        .bind(&id)
        .bind(team_id)
        .bind(s.try_get::<String, _>("id")?)
        .bind(event_type.as_str())
        .bind(s.try_get::<String, _>("url")?)
        .bind(payload)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        // The job has the delivery's id: an unsubscribe removes the jobs of the deliveries it
        // cancels by id.
        jobs::enqueue_with_id(
            tx,
            &id,
            DELIVERY_JOB,
            Some(team_id),
            // A subscription's deliveries are sent in the order they were queued (see the
            // job runner's `in_order`).
            &serde_json::json!({ "delivery_id": id, "order": s.try_get::<String, _>("id")? }),
            now,
        )
        .await?;
    }
    Ok(subs.len())
}

fn webhook_from_row(r: &sqlx::any::AnyRow) -> Result<Webhook> {
    let t: String = r.try_get("event_type")?;
    let scope: String = r.try_get("interview_id")?;
    Ok(Webhook {
        id: r.try_get("id")?,
        event_type: EventType::parse(&t).ok_or_else(|| StoreError::Corrupt(format!("event type {t}")))?,
        url: r.try_get("url")?,
        data: (!scope.is_empty()).then_some(scope),
        created: parley_core::time::Timestamp(r.try_get("created")?),
    })
}
