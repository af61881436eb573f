//! What the API does with automations: save (parse, validate, check the agents exist, schedule),
//! read, delete, fire the webhook trigger, and show and cancel runs. The API layer only maps
//! HTTP to these calls and [`AutomationError`] to statuses.

use crate::engine::next_slot;
use crate::error::{AutomationError, Result};
use crate::model::{parse_spec, Mode, Spec, StepKind, Trigger};
use crate::state::RunState;
use crate::steps::rfc3339;
use crate::template::Templates;
use crate::validate;
use parley_core::error::ValidationError;
use parley_core::ids;
use parley_core::run::RunStatus;
use parley_jobs::{JobsHandle, Reservation};
use parley_store::automations::{AutomationRow, NewRun, RunRow, SaveAutomation, StepRow, RUN_JOB};
use parley_store::jobs::Job;
use parley_store::{now_ms, Store, StoreError};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use uuid::Uuid;

/// What a webhook POST did.
#[derive(Debug, PartialEq)]
pub enum Fired {
    /// A live automation started this run.
    Started(Uuid),
    /// A draft automation kept the body as its sample.
    Sampled,
}

#[derive(Clone)]
pub struct Automations {
    store: Store,
    templates: Arc<Templates>,
    /// Hands a webhook's new run to this process's job runner.
    jobs: JobsHandle,
}

impl Automations {
    /// `templates` parses and checks the templates of saved automations: the server's is
    /// isolated (compiling a template can compute its constants; see `template::isolation`).
    pub fn new(store: Store, jobs: JobsHandle, templates: Templates) -> Self {
        Automations {
            store,
            templates: Arc::new(templates),
            jobs,
        }
    }

    /// Creates an automation from a client's JSON.
    pub async fn create(&self, team_id: &str, body: Value) -> Result<Value> {
        let spec = self.checked(team_id, body).await?;
        let id = ids::new_automation_id();
        let spec_json = serde_json::to_value(&spec).map_err(|e| AutomationError::Conflict(e.to_string()))?;
        self.store
            .create_automation(
                team_id,
                &SaveAutomation {
                    id: &id,
                    name: &spec.name,
                    mode: spec.mode.as_str(),
                    trigger_type: spec.trigger.kind(),
                    spec: &spec_json,
                    schedule_next_at: schedule_start(&spec),
                },
            )
            .await?;
        self.get(team_id, &id).await
    }

    /// Saves a new version: the body's top-level keys replace the current ones (send `steps`
    /// whole); the result is validated like a new automation.
    pub async fn update(&self, team_id: &str, id: &str, body: &Value) -> Result<Value> {
        let Some(patch) = body.as_object() else {
            return Err(ValidationError::new("", "the update must be a JSON object").into());
        };
        let current = self.store.automation(team_id, id).await?;
        let mut merged = current.spec.as_object().cloned().unwrap_or_default();
        for (k, v) in patch {
            merged.insert(k.clone(), v.clone());
        }
        let spec = self.checked(team_id, Value::Object(merged)).await?;
        let spec_json = serde_json::to_value(&spec).map_err(|e| AutomationError::Conflict(e.to_string()))?;
        self.store
            .update_automation(
                team_id,
                &SaveAutomation {
                    id,
                    name: &spec.name,
                    mode: spec.mode.as_str(),
                    trigger_type: spec.trigger.kind(),
                    spec: &spec_json,
                    schedule_next_at: schedule_start(&spec),
                },
            )
            .await?;
        self.get(team_id, id).await
    }

    /// Parses and validates, then checks what only the database knows (the agents exist).
    ///
    /// Parsing and validating compile every template and walk the graph: a few milliseconds of
    /// CPU for the largest automation accepted, so they run on a blocking thread and the request
    /// threads keep answering other clients meanwhile.
    async fn checked(&self, team_id: &str, body: Value) -> Result<Spec> {
        let templates = self.templates.clone();
        let parsed = tokio::task::spawn_blocking(move || {
            let spec = parse_spec(&body)?;
            crate::bounds::check(&spec)?;
            let problems = validate::validate(&spec, &templates).err().unwrap_or_default();
            Ok((spec, problems))
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let (spec, mut problems) = parsed.map_err(AutomationError::Invalid)?;
        // Each agent is looked up once, however many steps name it.
        let mut known: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
        for (i, step) in spec.steps.iter().enumerate() {
            if let StepKind::CallContact { interview_id, .. } | StepKind::CallPhoneNumber { interview_id, .. } =
                &step.kind
            {
                let exists = match known.get(interview_id) {
                    Some(&e) => e,
                    None if ids::is_agent_id(interview_id) => {
                        let e = self.interview_exists(team_id, interview_id).await?;
                        known.insert(interview_id.clone(), e);
                        e
                    }
                    None => true, // not an agent id: validation already said so
                };
                if !exists {
                    problems.push(ValidationError::new(
                        format!("steps[{i}] ({}).interview_id", step.slug),
                        format!("no voice agent {interview_id} in this team"),
                    ));
                }
            }
        }
        if let Trigger::CallCompleted { interview_ids, .. } = &spec.trigger {
            for (i, a) in interview_ids.iter().enumerate() {
                if ids::is_agent_id(a) && !self.interview_exists(team_id, a).await? {
                    problems.push(ValidationError::new(
                        format!("trigger.interview_ids[{i}]"),
                        format!("no voice agent {a} in this team"),
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(spec)
        } else {
            Err(AutomationError::Invalid(problems))
        }
    }

    async fn interview_exists(&self, team_id: &str, id: &str) -> Result<bool> {
        match self.store.interview(team_id, id).await {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get(&self, team_id: &str, id: &str) -> Result<Value> {
        Ok(automation_json(&self.store.automation(team_id, id).await?))
    }

    pub async fn list(&self, team_id: &str) -> Result<Vec<Value>> {
        Ok(self
            .store
            .list_automations(team_id)
            .await?
            .iter()
            .map(automation_json)
            .collect())
    }

    pub async fn delete(&self, team_id: &str, id: &str) -> Result<()> {
        Ok(self.store.delete_automation(team_id, id).await?)
    }

    /// The automation's runs, newest first (without their steps).
    pub async fn runs(&self, team_id: &str, id: &str, page: i64, limit: i64) -> Result<Vec<Value>> {
        self.store.automation(team_id, id).await?;
        let limit = limit.clamp(1, 100);
        let offset = page.max(0).saturating_mul(limit);
        let rows = self.store.list_runs(team_id, id, limit, offset).await?;
        Ok(rows.iter().map(|r| run_json(r, None)).collect())
    }

    /// One run with every recorded step.
    pub async fn run(&self, team_id: &str, run_id: &str) -> Result<Value> {
        let id = ids::parse_uuid(run_id).ok_or(AutomationError::NotFound)?;
        let run = self.store.run(team_id, id).await?;
        let steps = self.store.run_steps(id).await?;
        Ok(run_json(&run, Some(&steps)))
    }

    pub async fn cancel(&self, team_id: &str, run_id: &str) -> Result<Value> {
        let id = ids::parse_uuid(run_id).ok_or(AutomationError::NotFound)?;
        self.store.cancel_run(team_id, id).await?;
        self.run(team_id, run_id).await
    }

    /// `POST /webhook/automation/{id}`: a live automation starts a run with the body as
    /// `trigger.payload`; a draft keeps it as sample data.
    pub async fn fire_webhook(&self, id: &str, token: Option<&str>, body: Value) -> Result<Fired> {
        let a = self.store.automation_by_id(id).await?;
        let spec: Spec =
            serde_json::from_value(a.spec.clone()).map_err(|e| StoreError::Corrupt(format!("automation {id}: {e}")))?;
        // Answered as a missing automation: an anonymous caller must not learn what another
        // team's automation is triggered by.
        let Trigger::Webhook { verify_token } = spec.trigger else {
            return Err(AutomationError::NotFound);
        };
        if verify_token {
            let team = match token {
                Some(t) => self.store.team_of_token_hash(&ids::hash_token(t)).await?,
                None => None,
            };
            if team.is_none_or(|t| t.team_id != a.team_id) {
                return Err(AutomationError::Unauthorized);
            }
        }
        if !body.is_object() {
            return Err(ValidationError::new("", "the webhook body must be a JSON object").into());
        }
        if spec.mode == Mode::Draft {
            self.store.set_sample_payload(&a.team_id, id, &body).await?;
            return Ok(Fired::Sampled);
        }
        let state = serde_json::to_value(RunState::new(spec.start_slug(), "webhook", body, None)).unwrap_or_default();
        // The run's job is inserted claimed by this process when its runner has a free slot,
        // and runs at once; otherwise it waits in the queue like any job. In a task of its own:
        // a client that hangs up mid-request must not strand a claimed job until its lease ends.
        let (store, jobs, team_id, automation_id, version) = (
            self.store.clone(),
            self.jobs.clone(),
            a.team_id.clone(),
            a.id.clone(),
            a.version,
        );
        let started = tokio::spawn(async move {
            let slot = jobs.reserve();
            let started = store
                .start_run(&NewRun {
                    team_id: &team_id,
                    automation_id: &automation_id,
                    version,
                    trigger_key: None,
                    state: &state,
                    claim: slot.as_ref().map(Reservation::claim),
                })
                .await?;
            if let Some(run) = &started {
                match slot {
                    Some(slot) => slot.run(Job {
                        id: run.job_id.clone(),
                        kind: RUN_JOB.to_string(),
                        team_id: Some(team_id),
                        payload: json!({ "run_id": run.run_id }),
                        attempts: 1,
                    }),
                    None => jobs.wake(),
                }
            }
            Ok::<_, StoreError>(started)
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("starting the run failed: {e}")))??;
        let run = started.ok_or_else(|| AutomationError::Conflict("the run already exists".into()))?;
        Ok(Fired::Started(run.run_id))
    }
}

/// A live schedule's first slot.
fn schedule_start(spec: &Spec) -> Option<i64> {
    match (&spec.trigger, spec.mode) {
        (Trigger::Schedule { .. }, Mode::Live) => next_slot(spec, now_ms()),
        _ => None,
    }
}

/// The API object of an automation.
pub fn automation_json(a: &AutomationRow) -> Value {
    let mut o: Map<String, Value> = a.spec.as_object().cloned().unwrap_or_default();
    o.insert("id".into(), json!(a.id));
    o.insert("version".into(), json!(a.version));
    o.insert("created".into(), json!(rfc3339(a.created)));
    o.insert("updated".into(), json!(rfc3339(a.updated)));
    if a.trigger_type == "webhook" {
        o.insert("webhook_path".into(), json!(format!("/webhook/automation/{}", a.id)));
    }
    if let Some(p) = &a.sample_payload {
        o.insert("sample_payload".into(), p.clone());
    }
    if let Some(t) = a.schedule_next_at {
        o.insert("next_fire_at".into(), json!(rfc3339(t)));
    }
    Value::Object(o)
}

/// The API object of a run, with its steps when given.
pub fn run_json(r: &RunRow, steps: Option<&[StepRow]>) -> Value {
    let state: Option<RunState> = serde_json::from_value(r.state.clone()).ok();
    let mut o = json!({
        "id": r.id,
        "automation_id": r.automation_id,
        "version": r.version,
        "status": r.status.as_str(),
        "trigger": state.as_ref().map(|s| s.vars.trigger.clone()),
        "contact_id": state.as_ref().and_then(|s| s.vars.contact.as_ref()).and_then(|c| c.get("id")).cloned(),
        "error": r.error,
        "waiting_for_call": r.waiting_call_id,
        "wake_at": r.wake_at.filter(|_| r.status == RunStatus::Waiting).map(rfc3339),
        "created": rfc3339(r.created),
        "updated": rfc3339(r.updated),
        "finished": r.finished.map(rfc3339),
    });
    if let Some(steps) = steps {
        o["steps"] = steps
            .iter()
            .map(|s| {
                json!({
                    "seq": s.seq, "slug": s.slug, "type": s.step_type, "attempt": s.attempt,
                    "status": s.status.as_str(), "input": s.input, "output": s.output, "error": s.error,
                    "due_at": s.due_at.map(rfc3339),
                    "started": rfc3339(s.started), "finished": s.finished.map(rfc3339),
                    "duration_ms": s.finished.map(|f| f - s.started),
                })
            })
            .collect();
    }
    o
}
