//! Every rate limit of the API: the quota of each team (the authenticated routes), of each
//! automation's public webhook URL, of each source address on the public routes, and of each
//! source address's failed authentications. All four are GCRA quotas per minute
//! ([`parley_store::rate_limit::gcra`]): a key may spend its whole quota at once, then one more
//! request every `60 / N` seconds.
//!
//! Where a quota's state lives, and why:
//! - A team's and an automation's quota is a promise about the whole deployment ("100 requests
//!   a minute", "120 runs a minute"): on PostgreSQL it is in the database, so several processes
//!   share it; on SQLite (one process) in memory.
//! - The per-address quotas are flood guards for this process: they stay in memory on both
//!   databases. A guard that wrote to the database would make every refused request a database
//!   write, which is the load it is there to stop; with N processes behind a balancer an address
//!   gets at most N times its quota, and what it can start (runs) is still bounded by the shared
//!   quota of the automation.
//!
//! Memory stays bounded: a key whose quota is whole again is indistinguishable from a key never
//! seen, so the periodic [`Limits::housekeep`] forgets it; and a limiter holds at most
//! [`MAX_KEYS`] keys: past that, new keys share one overflow quota until housekeeping frees
//! room (existing keys keep theirs), so a flood from many addresses costs a fixed amount of
//! memory and is limited as one.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parley_store::rate_limit::{gcra, gcra_peek, Decision};
use parley_store::{Dialect, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Keys one in-memory limiter holds at most (about 100 bytes each).
pub const MAX_KEYS: usize = 100_000;
const PERIOD_MS: i64 = 60_000;
/// The key that new keys share while a limiter is full.
const OVERFLOW: &str = "\0overflow";

/// A request allowed by a quota: what the `X-RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the whole quota is back.
    pub reset_s: u64,
}

impl Allowance {
    pub fn apply(&self, h: &mut HeaderMap) {
        h.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(self.reset_s));
    }

    /// Sets the headers unless they already tell of a quota with fewer requests left: where two
    /// quotas apply (an automation's and the address's), the client sees the one nearer its end.
    pub fn apply_if_tighter(&self, h: &mut HeaderMap) {
        let current = h
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u32>().ok());
        if current.is_none_or(|r| self.remaining < r) {
            self.apply(h);
        }
    }
}

/// Whole seconds, rounded up.
fn secs(ms: i64) -> u64 {
    (ms.max(0) as u64).div_ceil(1000)
}

fn verdict(limit: u32, d: Decision) -> Result<Allowance, ApiError> {
    match d {
        Decision::Allowed { remaining, reset_ms } => Ok(Allowance {
            limit,
            remaining,
            reset_s: secs(reset_ms),
        }),
        Decision::Refused {
            retry_after_ms,
            reset_ms,
        } => Err(ApiError::RateLimited {
            limit,
            retry_after_s: secs(retry_after_ms).max(1),
            reset_s: secs(reset_ms).max(1),
        }),
    }
}

/// One quota of N requests per minute per key.
#[derive(Clone)]
pub struct RateLimit {
    limit: u32,
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Off,
    Local(Arc<LocalState>),
    /// In the database's `rate_limits` table, keys prefixed so quotas never share a row.
    Shared {
        store: Store,
        prefix: &'static str,
    },
}

impl RateLimit {
    /// In this process's memory; `per_minute == 0` turns it off.
    pub fn local(per_minute: u32) -> Self {
        Self::local_bounded(per_minute, MAX_KEYS)
    }

    fn local_bounded(per_minute: u32, max_keys: usize) -> Self {
        let backend = match per_minute {
            0 => Backend::Off,
            _ => Backend::Local(Arc::new(LocalState::new(max_keys))),
        };
        RateLimit {
            limit: per_minute,
            backend,
        }
    }

    /// Shared by every process on a PostgreSQL store (keys prefixed with `prefix`), in memory
    /// on SQLite; `per_minute == 0` turns it off.
    pub fn shared(per_minute: u32, store: &Store, prefix: &'static str) -> Self {
        if per_minute == 0 || store.dialect() != Dialect::Postgres {
            return Self::local(per_minute);
        }
        RateLimit {
            limit: per_minute,
            backend: Backend::Shared {
                store: store.clone(),
                prefix,
            },
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Counts one request of `key`: what the headers should say (`None` when the limit is off),
    /// or the 429 with `Retry-After` and the headers.
    pub async fn check(&self, key: &str) -> Result<Option<Allowance>, ApiError> {
        let d = match &self.backend {
            Backend::Off => return Ok(None),
            Backend::Local(l) => l.check(key, self.limit),
            Backend::Shared { store, prefix } => {
                store
                    .rate_limit_check(&format!("{prefix}{key}"), self.limit, PERIOD_MS, parley_store::now_ms())
                    .await?
            }
        };
        verdict(self.limit, d).map(Some)
    }

    /// The 429 the next request of `key` would get, spending nothing (in-memory quotas only;
    /// a shared quota is never refused here).
    pub fn peek(&self, key: &str) -> Option<ApiError> {
        match &self.backend {
            Backend::Local(l) => l.peek(key, self.limit).and_then(|d| verdict(self.limit, d).err()),
            _ => None,
        }
    }

    /// Forgets the keys whose whole quota is back.
    pub async fn housekeep(&self) {
        match &self.backend {
            Backend::Off => {}
            Backend::Local(l) => l.sweep(),
            Backend::Shared { store, .. } => {
                if let Err(e) = store.rate_limit_sweep(parley_store::now_ms()).await {
                    tracing::warn!(error = %e, "could not sweep the rate-limit table");
                }
            }
        }
    }

    /// Keys held in memory (tests, and to see the bound hold).
    pub fn keys_in_memory(&self) -> usize {
        match &self.backend {
            Backend::Local(l) => l.len(),
            _ => 0,
        }
    }
}

/// Theoretical arrival times by key, in ms since `epoch` (a monotonic clock).
struct LocalState {
    tats: Mutex<HashMap<String, i64>>,
    epoch: Instant,
    max_keys: usize,
    last_sweep: Mutex<i64>,
}

impl LocalState {
    fn new(max_keys: usize) -> Self {
        LocalState {
            tats: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
            max_keys,
            last_sweep: Mutex::new(i64::MIN),
        }
    }

    fn now(&self) -> i64 {
        self.epoch.elapsed().as_millis() as i64
    }

    fn check(&self, key: &str, limit: u32) -> Decision {
        let now = self.now();
        let mut tats = self.tats.lock().unwrap_or_else(|e| e.into_inner());
        let mut key = key;
        if tats.len() >= self.max_keys && !tats.contains_key(key) {
            // Full: make room once a second at most (a sweep reads every key).
            let mut last = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
            if now.saturating_sub(*last) >= 1000 {
                *last = now;
                tats.retain(|_, tat| *tat > now);
            }
            if tats.len() >= self.max_keys {
                key = OVERFLOW;
            }
        }
        let (d, tat) = gcra(tats.get(key).copied(), limit, PERIOD_MS, now);
        if let Some(tat) = tat {
            match tats.get_mut(key) {
                Some(t) => *t = tat,
                None => {
                    tats.insert(key.to_string(), tat);
                }
            }
        }
        d
    }

    fn peek(&self, key: &str, limit: u32) -> Option<Decision> {
        let now = self.now();
        let tats = self.tats.lock().unwrap_or_else(|e| e.into_inner());
        gcra_peek(tats.get(key).copied(), limit, PERIOD_MS, now)
    }

    fn sweep(&self) {
        let now = self.now();
        let mut tats = self.tats.lock().unwrap_or_else(|e| e.into_inner());
        tats.retain(|_, tat| *tat > now);
        tats.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.tats.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The API's quotas.
#[derive(Clone)]
pub struct Limits {
    /// Requests per team (the authenticated routes).
    pub team: RateLimit,
    /// Requests per automation to its public webhook URL.
    pub webhook: RateLimit,
    /// Requests per source address to the public routes.
    pub public: RateLimit,
    /// Failed authentications per source address.
    pub auth_failures: RateLimit,
    /// Requests per signed-in dashboard user (in memory: a flood guard, not a promise).
    pub dashboard: RateLimit,
    /// Failed dashboard sign-ins per email address. In memory, as the per-address guards: it
    /// must refuse before the password is hashed (a peek), which only the in-memory quota can
    /// do without a database write; N processes allow an email N times the quota.
    pub logins: RateLimit,
}

impl Limits {
    pub fn new(config: &crate::ApiConfig, store: &Store) -> Self {
        Limits {
            // Unprefixed: a team's key is its id, as before automations had quotas.
            team: RateLimit::shared(config.rate_limit_per_minute, store, ""),
            webhook: RateLimit::shared(config.webhook_rate_limit_per_minute, store, "automation:"),
            public: RateLimit::local(config.public_rate_limit_per_minute),
            auth_failures: RateLimit::local(config.auth_failure_limit_per_minute),
            logins: RateLimit::local(config.login_failures_per_email_per_minute),
            dashboard: RateLimit::local(config.dashboard_rate_limit_per_minute),
        }
    }

    /// Forgets every key whose quota is whole again (run periodically by the server).
    pub async fn housekeep(&self) {
        // The two shared quotas sweep the same table: the second sweep finds little.
        self.team.housekeep().await;
        self.webhook.housekeep().await;
        self.public.housekeep().await;
        self.auth_failures.housekeep().await;
        self.logins.housekeep().await;
        self.dashboard.housekeep().await;
    }
}

/// The per-address quota in front of the public routes (`/webhook/automation/…`, `/health`,
/// `/metrics`, `/openapi.json`, `/docs`, unknown paths).
pub async fn per_address(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let addr = crate::client_addr::of(&req, &s.config.trusted_proxies);
    match s.limits.public.check(&addr).await {
        Err(e) => e.into_response(),
        Ok(allowance) => {
            req.extensions_mut().insert(crate::client_addr::ClientAddr(addr));
            let mut res = next.run(req).await;
            if let Some(a) = allowance {
                a.apply_if_tighter(res.headers_mut());
            }
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_limiter_puts_new_keys_in_one_overflow_quota() {
        let l = RateLimit::local_bounded(2, 3);
        let Backend::Local(state) = &l.backend else {
            unreachable!()
        };
        for k in ["a", "b", "c"] {
            assert!(matches!(state.check(k, 2), Decision::Allowed { .. }));
        }
        // "d" and "e" are new while the limiter is full: they share one quota of 2.
        assert!(matches!(state.check("d", 2), Decision::Allowed { .. }));
        assert!(matches!(state.check("e", 2), Decision::Allowed { .. }));
        assert!(matches!(state.check("f", 2), Decision::Refused { .. }));
        // A key already known keeps its own quota.
        assert!(matches!(state.check("a", 2), Decision::Allowed { .. }));
        assert!(state.len() <= 4, "three keys and the overflow: {}", state.len());
    }

    #[test]
    fn housekeeping_forgets_only_whole_quotas() {
        let l = RateLimit::local(60);
        let Backend::Local(state) = &l.backend else {
            unreachable!()
        };
        state.check("spent", 60);
        state.tats.lock().unwrap().insert("old".into(), state.now() - 1);
        state.sweep();
        assert_eq!(state.len(), 1, "the key whose quota is whole again is gone");
        assert!(state.tats.lock().unwrap().contains_key("spent"));
    }

    #[test]
    fn refusals_tell_retry_after_and_the_full_reset() {
        let l = RateLimit::local(2);
        let Backend::Local(state) = &l.backend else {
            unreachable!()
        };
        state.check("k", 2);
        state.check("k", 2);
        match verdict(2, state.check("k", 2)) {
            Err(ApiError::RateLimited {
                limit,
                retry_after_s,
                reset_s,
            }) => {
                assert_eq!(limit, 2);
                assert!((29..=30).contains(&retry_after_s), "{retry_after_s}");
                assert!((59..=60).contains(&reset_s), "{reset_s}");
            }
            other => panic!("{other:?}"),
        }
        assert!(l.peek("k").is_some() && l.peek("other").is_none());
    }
}
