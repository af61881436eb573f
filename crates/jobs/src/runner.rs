//! The job loop.

use crate::outbound::Backoff;
use crate::{JobError, JobHandler, JobOutcome};
use parley_store::{jobs::Job, now_ms, Store};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
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
    /// On shutdown, how long jobs in flight may take to finish before they are abandoned (and
    /// their leases handed back by the server, see [`JobsHandle::worker_id`]).
    pub shutdown_grace: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            concurrency: 16,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

/// The shortest time between two looks for due jobs. Every job that ends wakes the claim loop
/// (it may have queued work, or freed the slot a due job waits for); at a thousand runs per
/// second, one look per wake-up was a read per run. Jobs this process hands over directly
/// ([`JobsHandle::reserve`]) do not wait for a look at all.
const LOOK_GAP: Duration = Duration::from_millis(10);

/// The runner's side door for this process: wakes it when this process adds jobs (a new call is
/// dialed without waiting a poll), and hands it jobs this process inserted already claimed.
#[derive(Clone, Default)]
pub struct JobsHandle {
    notify: Arc<Notify>,
    local: Arc<OnceLock<Local>>,
}

/// Set by the runner: what a reservation needs.
struct Local {
    worker_id: String,
    lease: Duration,
    slots: Arc<Semaphore>,
    jobs: mpsc::UnboundedSender<(Job, OwnedSemaphorePermit)>,
}

impl JobsHandle {
    /// The id this process's runner claims jobs under (`locked_by`), once a runner exists: what
    /// a stopping server hands back with `Store::release_jobs` once the runner has returned.
    pub fn worker_id(&self) -> Option<&str> {
        self.local.get().map(|l| l.worker_id.as_str())
    }

    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// A free slot of this process's runner, for a job about to be inserted already claimed by
    /// it ([`Reservation::claim`]) and then run at once ([`Reservation::run`]), without the
    /// round trips of a claim or the wait for the next poll. `None` when every slot is busy or
    /// no runner runs here: insert the job unclaimed and [`wake`](Self::wake) the runner.
    pub fn reserve(&self) -> Option<Reservation> {
        let local = self.local.get()?;
        let permit = local.slots.clone().try_acquire_owned().ok()?;
        Some(Reservation {
            permit,
            worker_id: local.worker_id.clone(),
            until: now_ms() + local.lease.as_millis() as i64,
            jobs: local.jobs.clone(),
        })
    }
}

/// One of the runner's slots, held for a job this process inserts claimed. Dropped unused, the
/// slot is free again. If the process dies before the job runs, its lease runs out and any
/// worker takes it, as for a claimed job.
pub struct Reservation {
    permit: OwnedSemaphorePermit,
    worker_id: String,
    until: i64,
    jobs: mpsc::UnboundedSender<(Job, OwnedSemaphorePermit)>,
}

impl Reservation {
    /// The claim to insert the job with: this worker's id and the lease's end (ms).
    pub fn claim(&self) -> (&str, i64) {
        (&self.worker_id, self.until)
    }

    /// Runs the job (inserted and committed with [`claim`](Self::claim)) in this slot.
    pub fn run(self, job: Job) {
        // A runner that stopped leaves the job to its lease.
        let _ = self.jobs.send((job, self.permit));
    }
}

pub struct Runner {
    store: Store,
    config: JobsConfig,
    handle: JobsHandle,
    worker_id: String,
    handlers: HashMap<String, Arc<dyn JobHandler>>,
    slots: Arc<Semaphore>,
    local: mpsc::UnboundedReceiver<(Job, OwnedSemaphorePermit)>,
    /// The tasks running jobs, so a stop can wait for them and abandon the late ones.
    running: std::sync::Mutex<JoinSet<()>>,
}

impl Runner {
    /// A runner; from now on `handle` can reserve its slots (jobs reserved before [`run`]
    /// starts wait for it).
    pub fn new(store: Store, config: JobsConfig, handle: JobsHandle) -> Runner {
        let worker_id = uuid::Uuid::new_v4().to_string();
        let slots = Arc::new(Semaphore::new(config.concurrency));
        let (tx, local) = mpsc::unbounded_channel();
        // One runner per process; a second one (tests) keeps its own slots.
        let _ = handle.local.set(Local {
            worker_id: worker_id.clone(),
            lease: config.lease,
            slots: slots.clone(),
            jobs: tx,
        });
        Runner {
            store,
            config,
            handle,
            worker_id,
            handlers: HashMap::new(),
            slots,
            local,
            running: std::sync::Mutex::new(JoinSet::new()),
        }
    }

    /// Runs jobs of `kind` with `handler` (every kind has one: webhook deliveries'
    /// [`crate::delivery::Deliveries`], calls', automation runs'…).
    pub fn with_handler(mut self, kind: &str, handler: Arc<dyn JobHandler>) -> Runner {
        self.handlers.insert(kind.to_string(), handler);
        self
    }

    /// Runs until `shutdown` turns true; then claims nothing more, lets the jobs in flight
    /// finish for up to `shutdown_grace`, and abandons the rest (they keep their leases until
    /// the server releases them or the leases run out) before it returns.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let this = self.claim_loop(shutdown).await;
        this.wind_down().await;
    }

    async fn wind_down(&self) {
        let all = u32::try_from(self.config.concurrency).unwrap_or(u32::MAX);
        let finished = tokio::time::timeout(self.config.shutdown_grace, self.slots.acquire_many(all))
            .await
            .is_ok();
        let mut running = std::mem::take(&mut *self.running.lock().unwrap_or_else(|e| e.into_inner()));
        if !finished {
            warn!(
                jobs = running.len(),
                "jobs still running at the end of the shutdown grace; abandoning them"
            );
            running.abort_all();
        }
        while running.join_next().await.is_some() {}
    }

    async fn claim_loop(mut self, mut shutdown: watch::Receiver<bool>) -> Arc<Self> {
        let mut local = std::mem::replace(&mut self.local, mpsc::unbounded_channel().1);
        let this = Arc::new(self);
        let slots = this.slots.clone();
        // Jobs handed over by this process run beside the claim loop (each already holds its
        // slot, so the loop never waits on them).
        let runs = this.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    next = local.recv() => match next {
                        Some((job, permit)) => runs.spawn(vec![(job, permit)]),
                        None => return,
                    },
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        });
        // A wake-up (a job ended, a job was added) is checked with a read before claiming, so
        // runs ending by the hundred per second do not each take the (SQLite: single) writer
        // for an empty claim; `last_claim` makes sure a claim still happens once per poll.
        let mut last_claim: Option<std::time::Instant> = None;
        let mut last_look: Option<std::time::Instant> = None;
        loop {
            if *shutdown.borrow() {
                return this;
            }
            // Wake-ups closer together than LOOK_GAP are answered together by one look.
            if let Some(wait) = last_look.and_then(|at| LOOK_GAP.checked_sub(at.elapsed())) {
                tokio::time::sleep(wait).await;
            }
            last_look = Some(std::time::Instant::now());
            let free = slots.available_permits();
            let next_due = if free == 0 {
                None
            } else {
                this.store.next_job_due().await.unwrap_or(Some(now_ms()))
            };
            // A claim also looks for jobs whose lease ran out (not seen by `next_job_due`): at
            // least once per poll interval.
            let due = next_due.is_some_and(|t| t <= now_ms())
                || last_claim.is_none_or(|at| at.elapsed() >= this.config.poll_interval);
            let claimed = if free == 0 || !due {
                Vec::new()
            } else {
                last_claim = Some(std::time::Instant::now());
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
            for chain in in_order(claimed) {
                let mut held = Vec::with_capacity(chain.len());
                for job in chain {
                    let permit = slots.clone().acquire_owned().await.expect("semaphore is never closed");
                    held.push((job, permit));
                }
                this.spawn(held);
            }
            if got > 0 && slots.available_permits() > 0 {
                continue; // more may be due right now
            }
            // Every slot busy: a job that ends wakes the loop.
            let poll = this.config.poll_interval;
            let wait = match next_due {
                Some(t) if got == 0 => Duration::from_millis((t - now_ms()).clamp(0, poll.as_millis() as i64) as u64),
                _ => poll,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait.max(Duration::from_millis(5))) => {}
                _ = this.handle.notify.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Runs `chain` in a task of its own, one job after another, each holding its permit (its
    /// slot) until it ends.
    fn spawn(self: &Arc<Self>, chain: Vec<(Job, OwnedSemaphorePermit)>) {
        let me = self.clone();
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        while running.try_join_next().is_some() {} // forget the tasks that ended
        running.spawn(async move {
            for (job, permit) in chain {
                let span = info_span!("job", job.id = %job.id, job.kind = %job.kind, team_id = job.team_id.as_deref().unwrap_or(""));
                me.run_one(job).instrument(span).await;
                drop(permit);
                me.handle.wake();
            }
        });
    }

    async fn run_one(&self, job: Job) {
        let outcome = match job.kind.as_str() {
            k if self.handlers.contains_key(k) => self.handlers[k].run(&job).await,
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
                let backoff = Backoff::JOB_ERROR.delay_ms(u32::try_from(job.attempts).unwrap_or(u32::MAX));
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

/// The jobs of one look, in chains that each run in one task: jobs whose payload names the same
/// `order` key (a webhook subscription's deliveries) one after another in the order they were
/// created, every other job alone.
///
/// Why: a call's `dialing` and `ringing` deliveries are often claimed in the same look. Spawned
/// as two tasks, they raced, and tokio runs the task spawned last first (its LIFO slot), so a
/// receiver got `ringing` before `dialing`. Ids are UUIDv7, ordered by creation in a process;
/// the claim's `RETURNING` has no order of its own. Jobs claimed in different looks keep the
/// order of their looks unless an earlier one is retried.
fn in_order(mut claimed: Vec<Job>) -> Vec<Vec<Job>> {
    claimed.sort_by(|a, b| a.id.cmp(&b.id));
    let mut chains: Vec<Vec<Job>> = Vec::with_capacity(claimed.len());
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for job in claimed {
        let key = job.payload.get("order").and_then(|k| k.as_str());
        match key.and_then(|k| by_key.get(k)) {
            Some(&i) => chains[i].push(job),
            None => {
                if let Some(k) = key {
                    by_key.insert(k.to_string(), chains.len());
                }
                chains.push(vec![job]);
            }
        }
    }
    chains
}

#[cfg(test)]
mod order_tests {
    use super::*;

    fn job(id: &str, order: Option<&str>) -> Job {
        Job {
            id: id.into(),
            kind: "k".into(),
            team_id: None,
            payload: match order {
                Some(o) => serde_json::json!({ "order": o }),
                None => serde_json::json!({}),
            },
            attempts: 1,
        }
    }

    #[test]
    fn jobs_of_one_order_key_form_one_chain_in_creation_order() {
        let ids = |chains: Vec<Vec<Job>>| -> Vec<Vec<String>> {
            chains
                .into_iter()
                .map(|c| c.into_iter().map(|j| j.id).collect())
                .collect()
        };
        // Claimed out of order: "3" (ringing) before "1" (dialing) of subscription a.
        let claimed = vec![
            job("3", Some("a")),
            job("2", None),
            job("1", Some("a")),
            job("4", Some("b")),
        ];
        assert_eq!(ids(in_order(claimed)), [vec!["1", "3"], vec!["2"], vec!["4"]]);
    }
}
