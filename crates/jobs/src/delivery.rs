//! Webhook delivery: one signed POST per attempt, a job handler like every other job kind.

use crate::outbound::{Backoff, Outbound, OutboundError, OutboundPolicy};
use crate::{JobError, JobHandler, JobOutcome};
use parley_store::{jobs::Job, now_ms, Store, StoreError};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Settings of webhook delivery (from `PARLEY_WEBHOOK_*` variables in the server).
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Where deliveries may go (private addresses, Parley's proxy).
    pub outbound: OutboundPolicy,
    pub timeout: Duration,
    /// First retry delay; doubles per attempt up to `retry_max`, with ±50 % jitter.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Deliveries are retried until this long after the event, then marked failed.
    pub give_up_after: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            outbound: OutboundPolicy::default(),
            timeout: Duration::from_secs(10),
            retry_base: Backoff::WEBHOOK_DEFAULT.base,
            retry_max: Backoff::WEBHOOK_DEFAULT.max,
            give_up_after: Duration::from_secs(25 * 3600),
        }
    }
}

/// The handler of [`parley_store::webhooks::DELIVERY_JOB`] jobs.
pub struct Deliveries {
    store: Store,
    http: Outbound,
    config: DeliveryConfig,
}

impl Deliveries {
    pub fn new(store: Store, config: DeliveryConfig) -> Deliveries {
        Deliveries {
            store,
            http: client(&config),
            config,
        }
    }
}

impl JobHandler for Deliveries {
    fn run<'a>(&'a self, job: &'a Job) -> Pin<Box<dyn Future<Output = Result<JobOutcome, JobError>> + Send + 'a>> {
        Box::pin(run(&self.store, &self.http, &self.config, job))
    }
}

/// The guarded client for deliveries (see [`crate::outbound`]), with the delivery timeout.
fn client(config: &DeliveryConfig) -> Outbound {
    Outbound::new(
        &config.outbound,
        config.timeout,
        concat!("Parley-Webhooks/", env!("CARGO_PKG_VERSION")),
    )
}

/// The delay before retry number `attempt` (1-based): the settings' base doubling per attempt up
/// to their max, ±50 % jitter so many failing deliveries do not retry in lockstep.
fn backoff(config: &DeliveryConfig) -> Backoff {
    Backoff {
        base: config.retry_base,
        max: config.retry_max,
        ..Backoff::WEBHOOK_DEFAULT
    }
}

async fn run(store: &Store, http: &Outbound, config: &DeliveryConfig, job: &Job) -> Result<JobOutcome, JobError> {
    let id = job
        .payload
        .get("delivery_id")
        .and_then(|v| v.as_str())
        .ok_or_else(|| JobError::Payload("no delivery_id".into()))?;
    let d = match store.delivery_to_send(id).await {
        Ok(d) => d,
        Err(StoreError::NotFound) => return Ok(JobOutcome::Done),
        Err(e) => return Err(e.into()),
    };
    if d.status != "pending" {
        // Delivered already (a retried job after a crash), or canceled by an unsubscribe.
        return Ok(JobOutcome::Done);
    }
    let url = match http.check_url(&d.url) {
        Ok(u) => u,
        Err(e) => {
            store
                .record_delivery_attempt(&d.id, "failed", None, Some(&e.to_string()), None)
                .await?;
            return Ok(JobOutcome::Done);
        }
    };
    let secret = store.team(&d.team_id).await?.signing_secret;
    let now_s = now_ms() / 1000;
    let signature = parley_core::webhook::signature_header(&secret, now_s, d.payload.as_bytes());
    let sent = http
        .request(reqwest::Method::POST, &url)
        .with(|r| {
            r.header("content-type", "application/json")
                .header("X-Parley-Event", &d.event_type)
                .header("X-Parley-Delivery", &d.id)
                .header("X-Parley-Signature", signature)
                .body(d.payload.clone())
        })
        .send()
        .await;
    // Every non-2xx answer is retried (a receiver's 4xx is often a deploy in progress); a
    // refused address never is.
    let (code, error) = match sent {
        Ok(r) if r.status().is_success() => {
            store
                .record_delivery_attempt(&d.id, "delivered", Some(r.status().as_u16()), None, None)
                .await?;
            return Ok(JobOutcome::Done);
        }
        Ok(r) => (
            Some(r.status().as_u16()),
            OutboundError::status(&url, r.status().as_u16()),
        ),
        Err(e) if !e.is_retryable() => {
            store
                .record_delivery_attempt(&d.id, "failed", None, Some(&e.to_string()), None)
                .await?;
            return Ok(JobOutcome::Done);
        }
        Err(e) => (None, e),
    };
    let error = error.to_string();
    let retry = u32::try_from(job.attempts).unwrap_or(u32::MAX);
    let next = now_ms() + backoff(config).delay_ms(retry);
    if next > d.created + config.give_up_after.as_millis() as i64 {
        store
            .record_delivery_attempt(&d.id, "failed", code, Some(&format!("gave up: {error}")), None)
            .await?;
        return Ok(JobOutcome::Done);
    }
    store
        .record_delivery_attempt(&d.id, "pending", code, Some(&error), Some(next))
        .await?;
    Ok(JobOutcome::RetryAt(next, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_set_base_and_cap_of_the_delivery_backoff() {
        let c = DeliveryConfig {
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_millis(400),
            ..Default::default()
        };
        let b = backoff(&c);
        assert_eq!(b.ceiling(1), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(400));
        assert_eq!(b.ceiling(30), Duration::from_millis(400));
        assert_eq!(b.jitter, 0.5);
    }
}
