//! A slice of one run (`automation_run`): the durable step loop the module doc of `engine`
//! describes, apart from the job plumbing so its start/act/record order reads in one place.

use super::Engine;
use crate::model::{Spec, StepKind};
use crate::state::RunState;
use crate::steps::{self, Flow, StepCtx, StepResult};
use chrono_tz::Tz;
use parley_core::run::{RunStatus, StepStatus};
use parley_jobs::{JobError, JobOutcome};
use parley_store::automations::{Advance, BeginStep, RunNext, RunRow, StepEnd, UnrecordedStep};
use parley_store::jobs::Job;
use parley_store::{now_ms, StoreError};
use serde_json::{json, Value};
use uuid::Uuid;

impl Engine {
    /// Runs a slice of one run (see the `engine` module doc).
    pub(super) async fn run_slice(&self, job: &Job) -> Result<JobOutcome, JobError> {
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
                                slug: slug.clone(),
                                step_type: step_type.to_string(),
                                input: input.clone(),
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
