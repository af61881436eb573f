//! The job loop.

use crate::{delivery, JobError, JobHandler, JobOutcome};
use parley_store::{jobs::Job, now_ms, Store};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify, Semaphore};
use tracing::{info_span, warn, Instrument};

/// Settings of the job runner (from `PARLEY_*` variables in the server).
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// Jobs running at once in this process.
    pub concurrency: usize,
    /// How long a claimed job is reserved; past it, another worker may take it.
    pub lease: Duration,
    /// Longest sleep between polls when no job is due (new jobs of this process wake it at once).
    pub poll_interval: Duration,
    pub allow_private_webhooks: bool,
    pub webhook_timeout: Duration,
    /// First retry delay; doubles per attempt up to `webhook_retry_max`, with ±50 % jitter.
    pub webhook_retry_base: Duration,
    pub webhook_retry_max: Duration,
    /// Deliveries are retried until this long after the event, then marked failed.
    pub webhook_give_up_after: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            concurrency: 16,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            allow_private_webhooks: false,
            webhook_timeout: Duration::from_secs(10),
            webhook_retry_base: Duration::from_secs(10),
            webhook_retry_max: Duration::from_secs(3600),
            webhook_give_up_after: Duration::from_secs(25 * 3600),
        }
    }
}

/// Wakes the runner when this process adds jobs, so a new call is dialed without waiting a poll.
#[derive(Clone, Default)]
pub struct JobsHandle {
    notify: Arc<Notify>,
}

impl JobsHandle {
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

pub struct Runner {
    store: Store,
    config: JobsConfig,
    http: reqwest::Client,
    handle: JobsHandle,
    worker_id: String,
    handlers: HashMap<String, Arc<dyn JobHandler>>,
}

impl Runner {
    pub fn new(store: Store, config: JobsConfig, handle: JobsHandle) -> Runner {
        let http = delivery::client(&config);
        Runner {
            store,
            config,
            http,
            handle,
            worker_id: uuid::Uuid::new_v4().to_string(),
            handlers: HashMap::new(),
        }
    }

    /// Runs jobs of `kind` with `handler` (replacing a built-in handler of that kind).
    pub fn with_handler(mut self, kind: &str, handler: Arc<dyn JobHandler>) -> Runner {
        self.handlers.insert(kind.to_string(), handler);
        self
    }

    /// Runs until `shutdown` turns true; jobs in flight then finish or keep their lease.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(this.config.concurrency));
        loop {
            if *shutdown.borrow() {
                return;
            }
            let free = slots.available_permits();
            let claimed = if free == 0 {
                Vec::new()
            } else {
                match this
                    .store
                    .claim_jobs(&this.worker_id, this.config.lease.as_millis() as i64, free as i64)
                    .await
                {
                    Ok(j) => j,
                    Err(e) => {
                        warn!(error = %e, "claiming jobs failed");
                        Vec::new()
                    }
                }
            };
            let got = claimed.len();
            for job in claimed {
                let permit = slots.clone().acquire_owned().await.expect("semaphore is never closed");
                let me = this.clone();
                let span = info_span!("job", job.id = %job.id, job.kind = %job.kind, team_id = job.team_id.as_deref().unwrap_or(""));
                tokio::spawn(
                    async move {
                        me.run_one(job).await;
                        drop(permit);
                        me.handle.wake();
                    }
                    .instrument(span),
                );
            }
            if got > 0 && slots.available_permits() > 0 {
                continue; // more may be due right now
            }
            // Every slot busy: a job that ends wakes the loop, so there is nothing to look up.
            let wait = if slots.available_permits() == 0 {
                this.config.poll_interval
            } else {
                match this.store.next_job_due().await {
                    Ok(Some(t)) => Duration::from_millis(
                        (t - now_ms()).clamp(0, this.config.poll_interval.as_millis() as i64) as u64,
                    ),
                    _ => this.config.poll_interval,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait.max(Duration::from_millis(5))) => {}
                _ = this.handle.notify.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn run_one(&self, job: Job) {
        let outcome = match job.kind.as_str() {
            k if self.handlers.contains_key(k) => self.handlers[k].run(&job).await,
            parley_store::webhooks::DELIVERY_JOB => delivery::run(&self.store, &self.http, &self.config, &job).await,
            other => Err(JobError::Payload(format!("unknown job kind {other}"))),
        };
        let result = match outcome {
            Ok(JobOutcome::Done) => self.store.complete_job(&job.id).await,
            Ok(JobOutcome::Detached) | Ok(JobOutcome::Removed) => Ok(()),
            Ok(JobOutcome::RetryAt(at, why)) => self.store.retry_job(&job.id, at, &why).await,
            Err(JobError::Payload(why)) => {
                warn!(%why, "dropping a job that cannot run");
                self.store.complete_job(&job.id).await
            }
            Err(e) => {
                let backoff = 1000 * (1 << job.attempts.clamp(0, 6));
                warn!(error = %e, "job failed; retrying");
                self.store.retry_job(&job.id, now_ms() + backoff, &e.to_string()).await
            }
        };
        if let Err(e) = result {
            // The lease will expire and the job will run again: at-least-once.
            warn!(error = %e, "could not record a job's outcome");
        }
    }
}
