//! Durable background work on the database's job table.
//!
//! - [`runner`]: the loop that claims due jobs with a lease and runs them with bounded
//!   concurrency; a job whose process died is taken again when its lease expires.
//! - [`delivery`]: webhook deliveries: signed POSTs, retried with exponential backoff and jitter
//!   for at least 24 hours, refused for private and loopback addresses unless allowed.
//! - [`guard`]: the private-address guard, applied at DNS resolution so a name that resolves to a
//!   private address is refused too (no DNS-rebinding bypass).
//! - [`dial`]: the dial job: takes a queued call to the phone network under the team's
//!   concurrency limit.
//!
//! Decision: a small table polled with `FOR UPDATE SKIP LOCKED` (PostgreSQL) rather than a queue
//! crate. The one crate covering both databases (apalis) would add its own schema and worker
//! model; Parley needs jobs enqueued in the same transaction as the rows they serve (a call and
//! its dial job), which a plain table in Parley's own schema gives directly.

pub mod delivery;
pub mod dial;
pub mod guard;
pub mod runner;

pub use runner::{JobsConfig, JobsHandle, Runner};

/// What a job handler asks the runner to do next.
#[derive(Debug)]
pub enum JobOutcome {
    /// Finished (successfully or for good): remove the job.
    Done,
    /// Run again at this time (ms since the epoch), keeping the reason.
    RetryAt(i64, String),
}

/// The one error type of this layer: a job could not run (database trouble); it is retried.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] parley_store::StoreError),
    #[error("bad job payload: {0}")]
    Payload(String),
}
