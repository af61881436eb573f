//! The durable interpreter: runs, trigger events and schedules as jobs of the job runner.
//!
//! - A run is one job (`automation_run`). Each slice of it loads the run, records the next step
//!   that acts (a contact, a call, an HTTP request, a delay) as started (its rendered input, the
//!   attempt), acts, then records the step's output and the run's next state in one
//!   transaction, together with the next such step's start. A process killed at any point
//!   leaves either a step not recorded as started (it runs), or started but not finished (it
//!   runs again as the next attempt, with the durable state it saved: a placed call is found
//!   again, a delay keeps its due time), never a step lost or a call placed twice.
//! - A step that only decides where the run goes (a condition, a loop, an end), or that cannot
//!   act (its input does not render), is not recorded as started: run again after a crash, it
//!   decides the same. Its whole row (input, output or error, start and end times) is written
//!   with the run's next record, before the run acts again. A tag change commits with its
//!   step's start. A run of five steps writes five records instead of eight.
//! - Waiting (a delay, a call in progress, an HTTP retry) is the run's job rescheduled for the
//!   due time: a run waiting for tomorrow is a row, not a task.
//! - A trigger event (`automation_event`: call completed, contact created, tag added) starts one
//!   run per matching live automation, keyed by the event so a repeated event job starts none.
//! - A schedule (`automation_schedule`) fires the slot stored on the automation, keyed by the
//!   slot (never twice, even with several processes), then moves to the next slot.
//!
//! Where each part lives (one `impl Engine` block per job kind):
//! - `run.rs`: a slice of a run (`automation_run`): steps started, acted, recorded.
//! - `event.rs`: a trigger event (`automation_event`) starting the runs it matches.
//! - `schedule.rs`: a schedule's slot (`automation_schedule`) fired, and the next slot.
//! - here: the engine and its settings, the spec cache, the lease heartbeat, starting a run,
//!   and the job handler that sends each job kind to its part.

mod event;
mod run;
mod schedule;

pub use schedule::next_slot;

use crate::model::Spec;
use crate::state::RunState;
use crate::template::Templates;
use parley_jobs::outbound::{Outbound, OutboundPolicy};
use parley_jobs::{JobError, JobHandler, JobOutcome, Runner};
use parley_store::automations::{NewRun, EVENT_JOB, RUN_JOB, SCHEDULE_JOB};
use parley_store::jobs::Job;
use parley_store::{Store, StoreError};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::warn;
use uuid::Uuid;

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where HTTP steps may go: private addresses allowed or not (tests, trusted networks),
    /// Parley's proxy.
    pub outbound: OutboundPolicy,
    /// How often a call step looks at its call (it is also woken when the call ends).
    pub call_poll: Duration,
    /// Steps one job slice runs before yielding to other runs.
    pub slice_steps: usize,
    /// The job runner's lease: a slice that runs longer (a slow HTTP step) extends it, so no
    /// worker, this process included, takes the run's job while it runs.
    pub lease: Duration,
    /// The template engine: [`Templates::isolated`] in the server (see
    /// [`crate::template::isolation`]); the default renders every template in this process
    /// (trusted templates only: tests, benchmarks).
    pub templates: Templates,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            outbound: OutboundPolicy::default(),
            call_poll: Duration::from_secs(3),
            slice_steps: 50,
            lease: Duration::from_secs(60),
            templates: Templates::new(),
        }
    }
}

pub struct Engine {
    store: Store,
    templates: Templates,
    http: Outbound,
    config: EngineConfig,
    /// Parsed specs by (automation, version): versions never change once saved.
    specs: Mutex<HashMap<(String, i64), Arc<Spec>>>,
}

impl Engine {
    pub fn new(store: Store, config: EngineConfig) -> Arc<Engine> {
        // 60 s: the longest `timeout_secs` a step may ask for (each request sets its own).
        let http = Outbound::new(
            &config.outbound,
            Duration::from_secs(60),
            concat!("Parley-Automations/", env!("CARGO_PKG_VERSION")),
        );
        Arc::new(Engine {
            store,
            templates: config.templates.clone(),
            http,
            config,
            specs: Mutex::new(HashMap::new()),
        })
    }

    /// Registers the engine's three job kinds with the runner.
    pub fn register(self: &Arc<Self>, runner: Runner) -> Runner {
        runner
            .with_handler(RUN_JOB, Arc::new(Handler(self.clone(), Kind::Run)))
            .with_handler(EVENT_JOB, Arc::new(Handler(self.clone(), Kind::Event)))
            .with_handler(SCHEDULE_JOB, Arc::new(Handler(self.clone(), Kind::Schedule)))
    }

    async fn spec(&self, automation_id: &str, version: i64) -> Result<Arc<Spec>, JobError> {
        let key = (automation_id.to_string(), version);
        if let Some(s) = self.specs.lock().expect("spec cache").get(&key) {
            return Ok(s.clone());
        }
        let raw = self.store.automation_version(automation_id, version).await?;
        let spec: Spec = serde_json::from_value(raw)
            .map_err(|e| JobError::Payload(format!("automation {automation_id} v{version}: {e}")))?;
        let spec = Arc::new(spec);
        let mut cache = self.specs.lock().expect("spec cache");
        if cache.len() > 1000 {
            cache.clear();
        }
        cache.insert(key, spec.clone());
        Ok(spec)
    }

    /// Runs `work` while extending `job`'s lease every third of it (as a call in progress does).
    /// The heartbeat is polled beside `work`, never instead of it: `work` may hold the (SQLite:
    /// only) write connection the heartbeat waits for.
    async fn heartbeat<T>(&self, job: &Job, work: impl Future<Output = T>) -> T {
        let lease = self.config.lease.max(Duration::from_millis(300));
        let beat = async {
            loop {
                tokio::time::sleep(lease / 3).await;
                if let Err(e) = self.store.extend_lease(&job.id, lease.as_millis() as i64).await {
                    warn!(error = %e, job = %job.id, "could not extend an automation run's lease");
                }
            }
        };
        tokio::pin!(work, beat);
        tokio::select! {
            r = &mut work => r,
            never = &mut beat => never,
        }
    }

    /// Starts a run of `spec` (idempotent by `key`).
    #[allow(clippy::too_many_arguments)]
    async fn start(
        &self,
        team_id: &str,
        automation_id: &str,
        version: i64,
        spec: &Spec,
        key: Option<String>,
        payload: Value,
        contact: Option<Value>,
    ) -> Result<Option<Uuid>, StoreError> {
        let state = RunState::new(spec.start_slug(), spec.trigger.kind(), payload, contact);
        self.store
            .start_run(&NewRun {
                team_id,
                automation_id,
                version,
                trigger_key: key,
                state: &serde_json::to_value(&state).unwrap_or_default(),
                claim: None,
            })
            .await
            .map(|started| started.map(|s| s.run_id))
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Run,
    Event,
    Schedule,
}

struct Handler(Arc<Engine>, Kind);

impl JobHandler for Handler {
    fn run<'a>(&'a self, job: &'a Job) -> Pin<Box<dyn Future<Output = Result<JobOutcome, JobError>> + Send + 'a>> {
        Box::pin(async move {
            let r = match self.1 {
                Kind::Run => self.0.heartbeat(job, self.0.run_slice(job)).await,
                Kind::Event => self.0.event(job).await,
                Kind::Schedule => self.0.schedule(job).await,
            };
            if let Err(e) = &r {
                warn!(error = %e, job = %job.id, "automation job failed");
            }
            r
        })
    }
}
