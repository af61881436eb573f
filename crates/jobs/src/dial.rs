//! The dial job: takes a queued call to the phone network.
//!
//! No phone network exists yet (the sandbox network and SIP come with later work), so a call is
//! dialed and then ends `FAILED` with a `call_failure_reason` that says so. Everything around it
//! is real: the team's concurrency limit, the state machine, the events and every webhook.

use crate::{JobError, JobOutcome};
use parley_core::call::{CallEvent, EndReason, Progress};
use parley_store::{jobs::Job, now_ms, Store, StoreError};
use uuid::Uuid;

pub const NO_NETWORK: &str = "no phone network is configured on this server yet: the sandbox network and SIP trunks are not available in this version";

pub async fn run(store: &Store, job: &Job) -> Result<JobOutcome, JobError> {
    let id = job
        .payload
        .get("call_id")
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| JobError::Payload("no call_id".into()))?;
    let (team_id, call) = match store.call_for_worker(id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Ok(JobOutcome::Done),
        Err(e) => return Err(e.into()),
    };
    if call.progress == Progress::Ended {
        return Ok(JobOutcome::Done); // canceled while queued
    }
    if call.progress == Progress::Queued {
        let team = store.team(&team_id).await?;
        if store.active_call_count(&team_id).await? >= team.max_concurrent_calls {
            return Ok(JobOutcome::RetryAt(
                now_ms() + 1000,
                "team concurrency limit reached".into(),
            ));
        }
        match store.transition_call(id, CallEvent::Dial, |_| {}).await {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => return Ok(JobOutcome::Done), // ended meanwhile
            Err(e) => return Err(e.into()),
        }
    }
    match store
        .transition_call(id, CallEvent::End(EndReason::Failed), |c| {
            c.call_failure_reason = Some(NO_NETWORK.into())
        })
        .await
    {
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(JobOutcome::Done),
        Err(e) => Err(e.into()),
    }
}
