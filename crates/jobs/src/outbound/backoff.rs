//! The one retry-delay policy: exponential from a base, capped, with random jitter.
//!
//! Webhook deliveries, automation HTTP steps and the job runner's retries after database
//! trouble each keep their own numbers ([`Backoff::WEBHOOK_DEFAULT`] comes from settings,
//! [`Backoff::HTTP_STEP`], [`Backoff::JOB_ERROR`]); the shape is the same. Jitter matters: many
//! deliveries to one receiver that went down, or many jobs that met one database outage, would
//! otherwise all retry in the same instant.

use rand::Rng;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The delay before the first retry (before jitter).
    pub base: Duration,
    /// The largest delay before jitter; doubling stops there.
    pub max: Duration,
    /// The delay is multiplied by a random factor in `[1 - jitter, 1 + jitter)`.
    pub jitter: f64,
}

impl Backoff {
    /// An automation HTTP step: 1 s, 2 s, 4 s ... up to 256 s, ±25 %.
    pub const HTTP_STEP: Backoff = Backoff {
        base: Duration::from_secs(1),
        max: Duration::from_secs(256),
        jitter: 0.25,
    };

    /// A job that failed on database trouble: 2 s doubling to 64 s, ±25 %.
    pub const JOB_ERROR: Backoff = Backoff {
        base: Duration::from_secs(2),
        max: Duration::from_secs(64),
        jitter: 0.25,
    };

    /// Webhook deliveries' defaults (the settings `PARLEY_WEBHOOK_RETRY_BASE_MS` and
    /// `PARLEY_WEBHOOK_RETRY_MAX_MS` change base and max): 10 s doubling to 1 h, ±50 %.
    pub const WEBHOOK_DEFAULT: Backoff = Backoff {
        base: Duration::from_secs(10),
        max: Duration::from_secs(3600),
        jitter: 0.5,
    };

    /// The delay before retry number `retry` (1-based: the first retry waits about `base`).
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = self.ceiling(retry).as_secs_f64();
        let j = self.jitter.clamp(0.0, 1.0);
        let factor = if j > 0.0 {
            rand::thread_rng().gen_range(1.0 - j..1.0 + j)
        } else {
            1.0
        };
        Duration::from_secs_f64(exp * factor)
    }

    /// [`delay`](Self::delay) in whole milliseconds, for due times in ms since the epoch.
    pub fn delay_ms(&self, retry: u32) -> i64 {
        self.delay(retry).as_millis() as i64
    }

    /// The delay before retry `retry` without jitter: `base * 2^(retry-1)`, at most `max`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(40) as i32;
        let exp = self.base.as_secs_f64() * 2f64.powi(doublings);
        Duration::from_secs_f64(exp.min(self.max.as_secs_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_the_base_up_to_the_cap_with_jitter() {
        let b = Backoff::WEBHOOK_DEFAULT;
        for retry in 1..=40u32 {
            let exp = (10.0 * 2f64.powi(retry as i32 - 1)).min(3600.0);
            for _ in 0..20 {
                let d = b.delay(retry).as_secs_f64();
                assert!(d >= exp * 0.5 - 1e-9 && d < exp * 1.5, "retry {retry}: {d} vs {exp}");
            }
        }
        // Retries keep going for a day and more: the capped delay is about an hour.
        let total: Duration = (1..=30).map(|r| b.delay(r)).sum();
        assert!(total > Duration::from_secs(12 * 3600));
    }

    #[test]
    fn jitter_spreads_the_delays() {
        let b = Backoff::HTTP_STEP;
        let d: Vec<Duration> = (0..50).map(|_| b.delay(3)).collect();
        assert!(
            d.iter()
                .all(|d| *d >= Duration::from_secs(3) && *d < Duration::from_secs(5)),
            "{d:?}"
        );
        assert!(d.iter().any(|x| *x != d[0]), "jitter varies the delay");
        let none = Backoff {
            jitter: 0.0,
            ..Backoff::JOB_ERROR
        };
        assert_eq!(none.delay(1), Duration::from_secs(2));
        assert_eq!(none.delay(6), Duration::from_secs(64));
        assert_eq!(none.delay(u32::MAX), Duration::from_secs(64));
        assert_eq!(none.delay(0), Duration::from_secs(2));
    }
}
