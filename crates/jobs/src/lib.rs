//! Durable background work on the database's job table.
//!
//! - [`runner`]: the loop that claims due jobs with a lease and runs them with bounded
//!   concurrency; a job whose process died is taken again when its lease expires. A job this
//!   process inserts can be inserted already claimed and handed straight to it
//!   ([`JobsHandle::reserve`]): an automation run started by a webhook begins without a poll.
//! - [`delivery`]: webhook deliveries: signed POSTs, retried with exponential backoff and jitter
//!   for at least 24 hours, refused for private and loopback addresses unless allowed; a
//!   [`JobHandler`] with its own settings, registered like the others.
//! - [`JobHandler`]: what runs one kind of job; the runner names no kind itself.
//! - [`outbound`]: the one guarded HTTP client for customer-chosen URLs (webhooks here,
//!   automation HTTP steps and agents' webhooks above), its typed redacting error, and the one
//!   retry-delay policy ([`Backoff`]).
//!
//! Decision: a small table polled with `FOR UPDATE SKIP LOCKED` (PostgreSQL) rather than a queue
//! crate. The one crate covering both databases (apalis) would add its own schema and worker
//! model; Parley needs jobs enqueued in the same transaction as the rows they serve (a call and
//! its dial job), which a plain table in Parley's own schema gives directly.

pub mod delivery;
pub mod outbound;
pub mod runner;

pub use delivery::{Deliveries, DeliveryConfig};
pub use outbound::{Backoff, Outbound, OutboundError, OutboundPolicy, ProxyUrl};
pub use runner::{JobsConfig, JobsHandle, Reservation, Runner};

/// What a job handler asks the runner to do next.
#[derive(Debug)]
pub enum JobOutcome {
    /// Finished (successfully or for good): remove the job.
    Done,
    /// Finished, and the handler already removed the job in its own transaction (an
    /// automation run deletes its job with its last step's record): nothing left to write.
    Removed,
    /// Run again at this time (ms since the epoch), keeping the reason.
    RetryAt(i64, String),
    /// The handler keeps the job: it extends the lease while it works and completes the job
    /// itself (a call in progress). If the process dies, the lease expires and the job runs again.
    Detached,
}

/// A handler for one kind of job, registered by a higher layer (the server wires the phone
/// network and the voice pipeline into the dial job this way, since they sit above this crate).
pub trait JobHandler: Send + Sync + 'static {
    fn run<'a>(
        &'a self,
        job: &'a parley_store::jobs::Job,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<JobOutcome, JobError>> + Send + 'a>>;
}

/// The one error type of this layer: a job could not run (database trouble); it is retried.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] parley_store::StoreError),
    #[error("bad job payload: {0}")]
    Payload(String),
}
