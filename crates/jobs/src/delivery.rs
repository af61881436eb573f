//! Webhook delivery: one signed POST per attempt.

use crate::guard::{self, GuardedResolver};
use crate::runner::JobsConfig;
use crate::{JobError, JobOutcome};
use parley_store::{jobs::Job, now_ms, Store, StoreError};
use rand::Rng;
use std::sync::Arc;

/// The HTTP client for deliveries: the private-address guard at resolution, no redirects (a
/// redirect could lead to a private address), a per-request timeout.
pub fn client(config: &JobsConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: config.allow_private_webhooks,
        }))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.webhook_timeout)
        .user_agent(concat!("Parley-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("static client settings are valid")
}

/// The delay before retry number `attempt` (1-based): `base * 2^(attempt-1)`, capped, times a
/// random factor in [0.5, 1.5) so many failing deliveries do not retry in lockstep.
pub fn backoff_ms(config: &JobsConfig, attempt: i64) -> i64 {
    let base = config.webhook_retry_base.as_millis() as f64;
    let max = config.webhook_retry_max.as_millis() as f64;
    let exp = (base * 2f64.powi((attempt - 1).clamp(0, 30) as i32)).min(max);
    (exp * rand::thread_rng().gen_range(0.5..1.5)) as i64
}

pub async fn run(
    store: &Store,
    http: &reqwest::Client,
    config: &JobsConfig,
    job: &Job,
) -> Result<JobOutcome, JobError> {
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
        return Ok(JobOutcome::Done); // already delivered (a retried job after a crash)
    }
    let url = match guard::check_url(&d.url, config.allow_private_webhooks) {
        Ok(u) => u,
        Err(why) => {
            store
                .record_delivery_attempt(&d.id, "failed", None, Some(&why), None)
                .await?;
            return Ok(JobOutcome::Done);
        }
    };
    let secret = store.team(&d.team_id).await?.signing_secret;
    let now_s = now_ms() / 1000;
    let signature = parley_core::webhook::signature_header(&secret, now_s, d.payload.as_bytes());
    let sent = http
        .post(url)
        .header("content-type", "application/json")
        .header("X-Parley-Event", &d.event_type)
        .header("X-Parley-Delivery", &d.id)
        .header("X-Parley-Signature", signature)
        .body(d.payload.clone())
        .send()
        .await;
    let (code, error) = match sent {
        Ok(r) if r.status().is_success() => {
            store
                .record_delivery_attempt(&d.id, "delivered", Some(r.status().as_u16()), None, None)
                .await?;
            return Ok(JobOutcome::Done);
        }
        Ok(r) => (
            Some(r.status().as_u16()),
            format!("the receiver answered {}", r.status()),
        ),
        Err(e) => {
            let text = error_chain(&e);
            if text.contains(guard::REFUSED) {
                store
                    .record_delivery_attempt(&d.id, "failed", None, Some(guard::REFUSED), None)
                    .await?;
                return Ok(JobOutcome::Done);
            }
            (None, if e.is_timeout() { "timed out".to_string() } else { text })
        }
    };
    let next = now_ms() + backoff_ms(config, job.attempts);
    if next > d.created + config.webhook_give_up_after.as_millis() as i64 {
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

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let c = JobsConfig {
            webhook_retry_base: Duration::from_secs(10),
            webhook_retry_max: Duration::from_secs(3600),
            ..Default::default()
        };
        for attempt in 1..=20 {
            let exp = (10_000f64 * 2f64.powi(attempt as i32 - 1)).min(3_600_000.0);
            let d = backoff_ms(&c, attempt) as f64;
            assert!(d >= exp * 0.5 && d < exp * 1.5, "attempt {attempt}: {d} vs {exp}");
        }
        // Retries keep going for a day and more: the capped delay is about an hour.
        let total: i64 = (1..=30).map(|a| backoff_ms(&c, a)).sum();
        assert!(total > 12 * 3_600_000);
    }
}
