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

use crate::model::{Spec, StepKind, Trigger};
use crate::state::RunState;
use crate::steps::{self, Flow, StepCtx, StepResult};
use crate::template::Templates;
use crate::validate;
use chrono_tz::Tz;
use parley_core::run::{RunStatus, StepStatus};
use parley_jobs::outbound::{Outbound, OutboundPolicy};
use parley_jobs::{JobError, JobHandler, JobOutcome, Runner};
use parley_store::automations::{
    Advance, BeginStep, NewRun, RunNext, RunRow, StepEnd, UnrecordedStep, EVENT_JOB, RUN_JOB, SCHEDULE_JOB,
};
use parley_store::jobs::Job;
use parley_store::{now_ms, Store, StoreError};
use serde_json::{json, Value};
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

    /// Runs a slice of one run (see the module doc).
    async fn run_slice(&self, job: &Job) -> Result<JobOutcome, JobError> {
        let run_id: Uuid = job
            .payload
            .get("run_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| JobError::Payload("automation_run without run_id".into()))?;
        let (run, allow_premium) = match self.store.run_for_worker(run_id).await {
            Ok(r) => (r.run, r.allow_premium),
            Err(StoreError::NotFound) => return Ok(JobOutcome::Done),
            Err(e) => return Err(e.into()),
        };
        if run.is_finished() {
            return Ok(JobOutcome::Done);
        }
        let spec = self.spec(&run.automation_id, run.version).await?;
        let zone: Tz = spec.time_zone.parse().unwrap_or(Tz::UTC);
        let mut state: RunState = serde_json::from_value(run.state.clone())
            .map_err(|e| JobError::Payload(format!("run {run_id} state: {e}")))?;
        if state.seq > 1 {
            // A resumed run: its steps' outputs are in their rows (see `state`).
            let steps = self.store.run_steps(run_id).await?;
            state.restore_outputs(steps.into_iter().filter_map(|s| Some((s.slug, s.output?))));
        }
        let ctx = StepCtx {
            store: &self.store,
            templates: &self.templates,
            http: &self.http,
            team_id: &run.team_id,
            allow_premium,
            run_id,
            spec: &spec,
            automation_zone: zone,
            call_poll: self.config.call_poll,
        };
        // What ran since the run's last record: written with the next step's start.
        let mut unwritten = Unwritten::default();
        let mut wake_run = run.status == RunStatus::Waiting;
        for _ in 0..self.config.slice_steps {
            let Some(slug) = state.cursor.clone() else {
                // Nothing left (a run whose start has no step): it is complete.
                if !self.flush(run_id, &state, &mut unwritten).await? {
                    return Ok(JobOutcome::Done);
                }
                self.end_without_step(&run, &state, RunStatus::Completed, None).await?;
                return Ok(JobOutcome::Done);
            };
            let Some(step) = spec.step(&slug) else {
                if !self.flush(run_id, &state, &mut unwritten).await? {
                    return Ok(JobOutcome::Done);
                }
                let err = format!("step `{slug}` does not exist in version {}", run.version);
                self.end_without_step(&run, &state, RunStatus::Failed, Some(&err))
                    .await?;
                return Ok(JobOutcome::Done);
            };
            let step_type = step.kind.type_name();
            let vars = state.template_vars(
                &json!({ "id": run.automation_id, "name": spec.name, "time_zone": spec.time_zone }),
                &json!({ "id": run_id, "started": steps::rfc3339(run.created) }),
                &steps::rfc3339(now_ms()),
            );
            let started = now_ms();
            // A step that cannot act (its input did not render, or names no contact to tag) fails
            // without a start record, as do the steps that need none.
            let (input, tags) = match steps::render_input(&self.templates, step, &vars) {
                Ok(input) => match steps::tag_change(&run.team_id, step, &input) {
                    Some(Err(e)) => (Err((input, e)), None),
                    Some(Ok(tags)) => (Ok(input), Some(tags)),
                    None => (Ok(input), None),
                },
                Err(e) => (Err((serde_json::to_value(&step.kind).unwrap_or(Value::Null), e)), None),
            };
            let recorded = input.is_ok() && steps::needs_start_record(&step.kind);
            let result = match &input {
                Err((_, e)) => StepResult::Failed { error: e.clone() },
                Ok(input) if !recorded => steps::decide(&ctx, step, input, &vars, &mut state),
                Ok(input) => {
                    let contact_id = tags.as_ref().map(|t| t.contact_id);
                    let advanced = self
                        .store
                        .advance(Advance {
                            run_id,
                            ended: std::mem::take(&mut unwritten.ended),
                            next: unwritten.moved.then(|| running(&state)),
                            begin: Some(BeginStep {
                                run_id,
                                seq: state.seq,
                                slug: &slug,
                                step_type,
                                input,
                                wake_run,
                            }),
                            tags,
                        })
                        .await?;
                    unwritten.moved = false;
                    wake_run = false;
                    if !advanced.written {
                        return Ok(JobOutcome::Done); // canceled
                    }
                    let row = advanced
                        .begun
                        .ok_or_else(|| JobError::Payload(format!("step {slug} of run {run_id} was not recorded")))?;
                    match (contact_id, advanced.tagged) {
                        (Some(id), Some(changed)) => steps::tagged(step, id, changed),
                        _ => steps::execute(&ctx, step, input, &vars, &row, &mut state).await,
                    }
                }
            };
            let unrecorded = match &input {
                _ if recorded => None,
                Ok(input) | Err((input, _)) => Some(UnrecordedStep {
                    slug: slug.clone(),
                    step_type: step_type.to_string(),
                    input: input.clone(),
                    started,
                }),
            };
            let (end, stop) = self.record(&run, &spec, &slug, step_type, &mut state, result);
            unwritten.ended.push(StepEnd { unrecorded, ..end });
            match stop {
                None => unwritten.moved = true,
                Some((next, outcome)) => {
                    let written = self
                        .store
                        .advance(Advance {
                            run_id,
                            ended: std::mem::take(&mut unwritten.ended),
                            next: Some(next),
                            begin: None,
                            tags: None,
                        })
                        .await?
                        .written;
                    return Ok(if written { outcome } else { JobOutcome::Done });
                }
            }
        }
        if !self.flush(run_id, &state, &mut unwritten).await? {
            return Ok(JobOutcome::Done);
        }
        Ok(JobOutcome::RetryAt(now_ms(), "yielding to other runs".into()))
    }

    /// Writes what ran since the run's last record, with the run still running. False when the
    /// run was canceled meanwhile (nothing written).
    async fn flush(&self, run_id: Uuid, state: &RunState, unwritten: &mut Unwritten) -> Result<bool, JobError> {
        if !unwritten.moved {
            return Ok(true);
        }
        unwritten.moved = false;
        let advanced = self
            .store
            .advance(Advance {
                run_id,
                ended: std::mem::take(&mut unwritten.ended),
                next: Some(running(state)),
                begin: None,
                tags: None,
            })
            .await?;
        Ok(advanced.written)
    }

    /// A step's end, and how the run goes on: `None` to the next step (the run's state moved on;
    /// it is written with that step's start), or the run's next state to write now and the
    /// slice's outcome once it is written.
    fn record(
        &self,
        run: &RunRow,
        spec: &Spec,
        slug: &str,
        step_type: &str,
        state: &mut RunState,
        result: StepResult,
    ) -> (StepEnd, Option<(RunNext, JobOutcome)>) {
        let seq = state.seq;
        let end = |status: StepStatus| StepEnd {
            seq,
            status,
            output: None,
            error: None,
            state: None,
            due_at: None,
            unrecorded: None,
        };
        match result {
            StepResult::Done { output, flow, contact } => {
                state.vars.steps.insert(slug.to_string(), output.clone());
                if let Some(c) = contact {
                    state.vars.contact = Some(serde_json::to_value(&c).unwrap_or(Value::Null));
                }
                state.seq += 1;
                let ended = matches!(flow, Flow::End);
                state.cursor = match flow {
                    Flow::End => None,
                    Flow::Goto(Some(next)) => Some(next),
                    Flow::Goto(None) => advance_loops(state, spec),
                };
                if ended {
                    state.loops.clear();
                }
                let end = StepEnd {
                    output: Some(output),
                    ..end(StepStatus::Completed)
                };
                if state.cursor.is_some() {
                    return (end, None);
                }
                let next = RunNext {
                    status: RunStatus::Completed,
                    ..running(state)
                };
                (end, Some((next, JobOutcome::Removed)))
            }
            StepResult::Wait {
                until,
                state: step_state,
                waiting_call,
            } => {
                let due = step_state.get("due_at").and_then(Value::as_i64);
                let end = StepEnd {
                    state: Some(step_state),
                    due_at: due,
                    ..end(StepStatus::Waiting)
                };
                let next = RunNext {
                    status: RunStatus::Waiting,
                    waiting_call_id: waiting_call.map(|c| c.to_string()),
                    wake_at: Some(until),
                    ..running(state)
                };
                (
                    end,
                    Some((next, JobOutcome::RetryAt(until, format!("waiting: {step_type} {slug}")))),
                )
            }
            StepResult::Skipped { output } => {
                state.vars.steps.insert(slug.to_string(), output.clone());
                state.seq += 1;
                state.cursor = None;
                state.loops.clear();
                let end = StepEnd {
                    output: Some(output),
                    ..end(StepStatus::Skipped)
                };
                let next = RunNext {
                    status: RunStatus::Completed,
                    ..running(state)
                };
                (end, Some((next, JobOutcome::Removed)))
            }
            StepResult::Failed { error } => {
                let run_error = format!("step {slug} ({step_type}): {error}");
                let payload = json!({
                    "run_id": run.id, "automation_id": run.automation_id, "step": slug,
                    "action": step_type, "error": error,
                });
                let end = StepEnd {
                    error: Some(error),
                    ..end(StepStatus::Failed)
                };
                let next = RunNext {
                    status: RunStatus::Failed,
                    error: Some(run_error),
                    action_failed: Some(payload),
                    ..running(state)
                };
                (end, Some((next, JobOutcome::Removed)))
            }
        }
    }

    async fn end_without_step(
        &self,
        run: &RunRow,
        state: &RunState,
        status: RunStatus,
        error: Option<&str>,
    ) -> Result<(), JobError> {
        self.store
            .end_run(run.id, status, error, &serde_json::to_value(state).unwrap_or_default())
            .await?;
        Ok(())
    }

    /// Starts runs for one trigger event (see the module doc).
    async fn event(&self, job: &Job) -> Result<JobOutcome, JobError> {
        let team_id = job
            .team_id
            .as_deref()
            .ok_or_else(|| JobError::Payload("event without team".into()))?;
        let kind = job.payload.get("type").and_then(Value::as_str).unwrap_or_default();
        let id_of = |k: &str| -> Result<Uuid, JobError> {
            job.payload
                .get(k)
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| JobError::Payload(format!("{kind} event without {k}")))
        };
        let key = Some(format!("event:{}", job.id));
        match kind {
            "call_completed" => {
                let call_id = id_of("call_id")?;
                self.store.wake_runs_waiting_on_call(call_id).await?;
                let call = match self.store.call(team_id, call_id).await {
                    Ok(c) => c,
                    Err(StoreError::NotFound) => return Ok(JobOutcome::Done),
                    Err(e) => return Err(e.into()),
                };
                let payload = serde_json::to_value(&call).unwrap_or_default();
                let contact = call.contact.as_ref().and_then(|c| serde_json::to_value(c).ok());
                for a in self.store.live_automations(team_id, "call_completed").await? {
                    let Ok(spec) = serde_json::from_value::<Spec>(a.spec.clone()) else {
                        continue;
                    };
                    if let Trigger::CallCompleted {
                        interview_ids,
                        statuses,
                        outcomes,
                    } = &spec.trigger
                    {
                        let in_scope = (interview_ids.is_empty() || interview_ids.contains(&call.interview.id))
                            && (statuses.is_empty() || statuses.iter().any(|s| s == call.status.as_str()))
                            && (outcomes.is_empty() || call.outcome.as_ref().is_some_and(|o| outcomes.contains(o)));
                        if in_scope {
                            self.start(
                                &a.team_id,
                                &a.id,
                                a.version,
                                &spec,
                                key.clone(),
                                payload.clone(),
                                contact.clone(),
                            )
                            .await?;
                        }
                    }
                }
            }
            "contact_created" | "tag_added" => {
                let contact = match self.store.contact(team_id, id_of("contact_id")?).await {
                    Ok(c) => c,
                    Err(StoreError::NotFound) => return Ok(JobOutcome::Done),
                    Err(e) => return Err(e.into()),
                };
                let cv = serde_json::to_value(&contact).unwrap_or_default();
                let tag = job.payload.get("tag").and_then(Value::as_str).unwrap_or_default();
                let payload = if kind == "tag_added" {
                    json!({ "contact": cv, "tag": tag })
                } else {
                    cv.clone()
                };
                for a in self.store.live_automations(team_id, kind).await? {
                    let Ok(spec) = serde_json::from_value::<Spec>(a.spec.clone()) else {
                        continue;
                    };
                    let fires = match &spec.trigger {
                        Trigger::ContactCreated {} => true,
                        Trigger::TagAdded { tags } => tags.is_empty() || tags.iter().any(|t| t == tag),
                        _ => false,
                    };
                    if fires {
                        self.start(
                            &a.team_id,
                            &a.id,
                            a.version,
                            &spec,
                            key.clone(),
                            payload.clone(),
                            Some(cv.clone()),
                        )
                        .await?;
                    }
                }
            }
            other => return Err(JobError::Payload(format!("unknown automation event {other}"))),
        }
        Ok(JobOutcome::Done)
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

    /// Fires the schedule's stored slot once, then moves to the next.
    async fn schedule(&self, job: &Job) -> Result<JobOutcome, JobError> {
        let id = job
            .payload
            .get("automation_id")
            .and_then(Value::as_str)
            .ok_or_else(|| JobError::Payload("schedule without automation_id".into()))?;
        let a = match self.store.automation_by_id(id).await {
            Ok(a) => a,
            Err(StoreError::NotFound) => return Ok(JobOutcome::Done),
            Err(e) => return Err(e.into()),
        };
        let (Some(slot), "live") = (a.schedule_next_at, a.mode.as_str()) else {
            return Ok(JobOutcome::Done);
        };
        let now = now_ms();
        if now < slot {
            return Ok(JobOutcome::RetryAt(slot, "next slot".into()));
        }
        let spec: Spec =
            serde_json::from_value(a.spec.clone()).map_err(|e| JobError::Payload(format!("automation {id}: {e}")))?;
        let payload = json!({ "scheduled_at": steps::rfc3339(slot), "fired_at": steps::rfc3339(now) });
        self.start(
            &a.team_id,
            &a.id,
            a.version,
            &spec,
            Some(format!("slot:{slot}")),
            payload,
            None,
        )
        .await?;
        // Slots missed while no process ran are not replayed one by one: the latest fired once.
        // (Not "the next after now": a process killed while it held this job delays the slot by
        // its lease, and the slot that came due meanwhile must still fire.)
        let next = latest_missed_or_next(&spec, slot, now);
        if !self.store.advance_schedule(&a.id, slot, next).await? {
            // Another process moved it (it fired this slot too; the key made one of them a no-op).
            return Ok(JobOutcome::Done);
        }
        Ok(match next {
            Some(at) => JobOutcome::RetryAt(at, "next slot".into()),
            None => JobOutcome::Done,
        })
    }
}

/// The first slot of a schedule trigger strictly after `after_ms`.
pub fn next_slot(spec: &Spec, after_ms: i64) -> Option<i64> {
    let (cron, tz) = validate::schedule_cron(&spec.trigger, &spec.time_zone).ok()?;
    let after = chrono::DateTime::from_timestamp_millis(after_ms)?;
    validate::next_fire(&cron, tz, after).map(|t| t.timestamp_millis())
}

/// The slot to fire after `fired`: the next one if it is still ahead of `now`, else the latest
/// slot that came due by `now` (fired at once, once; the ones between are skipped).
fn latest_missed_or_next(spec: &Spec, fired: i64, now: i64) -> Option<i64> {
    let mut due = match next_slot(spec, fired) {
        Some(n) if n <= now => n,
        other => return other,
    };
    // Bounded: after a long downtime of a frequent schedule, go straight to the next slot.
    for _ in 0..1000 {
        match next_slot(spec, due) {
            Some(n) if n <= now => due = n,
            _ => return Some(due),
        }
    }
    next_slot(spec, now)
}

/// After a chain ends (`next` is none): the next item of the innermost loop, or the step after a
/// finished loop, or `None` when the run is complete.
fn advance_loops(state: &mut RunState, spec: &Spec) -> Option<String> {
    while let Some(frame) = state.loops.last_mut() {
        frame.index += 1;
        let loop_step = spec.step(&frame.slug)?;
        if frame.index < frame.items.len() {
            if let StepKind::Loop { body, .. } = &loop_step.kind {
                return Some(body.clone());
            }
        }
        state.loops.pop();
        if let Some(next) = &loop_step.next {
            return Some(next.clone());
        }
    }
    None
}

/// What a slice ran since its run's last record.
#[derive(Default)]
struct Unwritten {
    /// Steps ended, in order.
    ended: Vec<StepEnd>,
    /// The run's state moved on past them (it is written with them).
    moved: bool,
}

/// The run's state as it goes on running.
fn running(state: &RunState) -> RunNext {
    RunNext {
        status: RunStatus::Running,
        state: serde_json::to_string(state).unwrap_or_default(),
        waiting_call_id: None,
        wake_at: None,
        error: None,
        action_failed: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_slot_is_followed_by_the_latest_missed_one() {
        let spec = crate::model::parse_spec(&json!({
            "name": "s", "mode": "live", "trigger": {"type": "schedule", "cron": "*/2 * * * * *"},
            "steps": [{"slug": "e", "type": "end"}]
        }))
        .unwrap();
        // An even second.
        let s = 1_800_000_000_000;
        // On time: the next slot.
        assert_eq!(latest_missed_or_next(&spec, s, s + 5), Some(s + 2000));
        // Fired 3 s late (its process died holding it): the slot missed meanwhile, at once.
        assert_eq!(latest_missed_or_next(&spec, s, s + 3000), Some(s + 2000));
        // Down for a minute: only the latest missed slot.
        assert_eq!(latest_missed_or_next(&spec, s, s + 61_000), Some(s + 60_000));
        // Down for days: straight to the next slot after now.
        let later = s + 3 * 86_400_000 + 1;
        assert_eq!(latest_missed_or_next(&spec, s, later), Some(later - 1 + 2000));
    }
}
