//! Trigger events (`automation_event`): which live automations an event starts, kept apart
//! from the run loop because matching a trigger never touches a run already going.

use super::Engine;
use crate::model::{Spec, Trigger};
use parley_jobs::{JobError, JobOutcome};
use parley_store::jobs::Job;
use parley_store::StoreError;
use serde_json::{json, Value};
use uuid::Uuid;

impl Engine {
    /// Starts runs for one trigger event (see the `engine` module doc).
    pub(super) async fn event(&self, job: &Job) -> Result<JobOutcome, JobError> {
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
}
