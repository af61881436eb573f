//! How calls start: the job handlers (dial, sandbox call-in, a carrier's inbound call), the
//! carrier's answered inbound call, and the claim every job makes first (the call, or why not
//! now: ended, lost, or no room under the concurrency limits).

use super::CallRunner;
use parley_core::call::{Call, Progress};
use parley_core::persona::PersonaScript;
use parley_jobs::{JobError, JobHandler, JobOutcome};
use parley_store::jobs::Job;
use parley_store::{now_ms, StoreError};
use parley_telephony::{DialRequest, Endpoint};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tracing::{info_span, warn, Instrument};
use uuid::Uuid;

fn call_id(job: &Job) -> Result<Uuid, JobError> {
    job.payload
        .get("call_id")
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| JobError::Payload("no call_id".into()))
}

type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<JobOutcome, JobError>> + Send + 'a>>;

/// The dial job.
pub struct Dial(pub Arc<CallRunner>);
/// The sandbox call-in job (a persona calls a team's number bound to an agent).
pub struct CallIn(pub Arc<CallRunner>);
/// The job of a carrier's inbound call. The process holding the line claims it when the call
/// comes in and heartbeats it; the job only *runs* when that process died (its lease ran out),
/// and then it ends the lost call (see `parley_store::inbound`).
pub struct NetworkCallIn(pub Arc<CallRunner>);

impl JobHandler for Dial {
    fn run<'a>(&'a self, job: &'a Job) -> JobFuture<'a> {
        Box::pin(self.0.clone().dial(job.clone()))
    }
}

impl JobHandler for CallIn {
    fn run<'a>(&'a self, job: &'a Job) -> JobFuture<'a> {
        Box::pin(self.0.clone().call_in(job.clone()))
    }
}

impl JobHandler for NetworkCallIn {
    fn run<'a>(&'a self, job: &'a Job) -> JobFuture<'a> {
        Box::pin(async move {
            let id = call_id(job)?;
            let why = "the server holding this call stopped; the call was lost";
            self.0.store.call_life().lost(id, why).await?;
            Ok(JobOutcome::Done)
        })
    }
}

impl CallRunner {
    /// Runs a carrier's inbound call that the network has just answered: the call was written
    /// with its job claimed by this process (`job_id`), which this heartbeats as a dial does.
    pub async fn answered_inbound(self: Arc<Self>, job_id: String, team_id: String, call: Call, line: Endpoint) {
        self.started();
        let result = async {
            if !self.store.call_life().picked_up(call.id).await? {
                line.sender.hang_up().await;
                return Ok(());
            }
            let Some(interview) = self.interview_of(&team_id, &call).await? else {
                line.sender.hang_up().await;
                return Ok(());
            };
            let heartbeat = self.heartbeat(job_id.clone(), call.id, None);
            self.converse(&team_id, &call, &interview, line, false, heartbeat).await
        }
        .await;
        if let Err(e) = result {
            warn!(error = %e, "call failed");
        }
        let _ = self.store.complete_job(&job_id).await;
        self.stopped();
    }

    /// Common start of both jobs: the call, or what to do instead.
    async fn claim(&self, job: &Job) -> Result<Result<(String, Call), JobOutcome>, JobError> {
        let id = call_id(job)?;
        let (team_id, call) = match self.store.call_for_worker(id).await {
            Ok(c) => c,
            Err(StoreError::NotFound) => return Ok(Err(JobOutcome::Done)),
            Err(e) => return Err(e.into()),
        };
        if call.progress == Progress::Ended {
            return Ok(Err(JobOutcome::Done)); // canceled while queued
        }
        if call.progress != Progress::Queued {
            // The job ran before and its process is gone: the call was lost mid-way.
            warn!(call_id = %id, "ending a call whose process stopped");
            let why = "the server running this call stopped; the call was lost";
            self.store.call_life().lost(id, why).await?;
            return Ok(Err(JobOutcome::Done));
        }
        let team = self.store.team(&team_id).await?;
        if self.store.active_call_count(&team_id).await? >= team.max_concurrent_calls {
            return Ok(Err(JobOutcome::RetryAt(
                now_ms() + 1000,
                "team concurrency limit reached".into(),
            )));
        }
        if self.active() >= self.settings.max_concurrent_calls {
            return Ok(Err(JobOutcome::RetryAt(
                now_ms() + 500,
                "server concurrency limit reached".into(),
            )));
        }
        Ok(Ok((team_id, call)))
    }

    async fn dial(self: Arc<Self>, job: Job) -> Result<JobOutcome, JobError> {
        let (team_id, call) = match self.claim(&job).await? {
            Ok(c) => c,
            Err(outcome) => return Ok(outcome),
        };
        if !self.store.call_life().dialing(call.id).await? {
            return Ok(JobOutcome::Done);
        }
        let Some(interview) = self.interview_of(&team_id, &call).await? else {
            return Ok(JobOutcome::Done);
        };
        let (from, route) = match self.route_of(&team_id, &call).await? {
            Ok(r) => r,
            Err(why) => {
                self.store.call_life().refused(call.id, why).await?;
                return Ok(JobOutcome::Done);
            }
        };
        let req = DialRequest {
            call_id: call.id,
            team_id: team_id.clone(),
            from,
            to: call.phone_number.clone(),
            ring_timeout: self.settings.ring_timeout,
            route,
        };
        let line = match self.networks.dial(req).await {
            Ok(l) => l,
            Err(e) => {
                self.store.call_life().refused(call.id, e.to_string()).await?;
                return Ok(JobOutcome::Done);
            }
        };
        self.started();
        let span = info_span!("call", call_id = %call.id, team_id = %team_id);
        let me = self.clone();
        tokio::spawn(
            async move {
                if let Err(e) = me
                    .clone()
                    .outbound(job.id.clone(), team_id, call, interview, line)
                    .await
                {
                    warn!(error = %e, "call failed");
                }
                me.stopped();
            }
            .instrument(span),
        );
        Ok(JobOutcome::Detached)
    }

    async fn call_in(self: Arc<Self>, job: Job) -> Result<JobOutcome, JobError> {
        let (team_id, call) = match self.claim(&job).await? {
            Ok(c) => c,
            Err(outcome) => return Ok(outcome),
        };
        let script: PersonaScript = match job.payload.get("persona").cloned().map(serde_json::from_value) {
            Some(Ok(s)) => s,
            _ => return Err(JobError::Payload("no persona".into())),
        };
        let Some(interview) = self.interview_of(&team_id, &call).await? else {
            return Ok(JobOutcome::Done);
        };
        if !self.store.call_life().picked_up(call.id).await? {
            return Ok(JobOutcome::Done);
        }
        let line = self.sandbox.call_in(self.directory.persona(script));
        self.started();
        let span = info_span!("call", call_id = %call.id, team_id = %team_id, inbound = true);
        let me = self.clone();
        tokio::spawn(
            async move {
                let heartbeat = me.heartbeat(job.id.clone(), call.id, None);
                let r = me.converse(&team_id, &call, &interview, line, false, heartbeat).await;
                if let Err(e) = r {
                    warn!(error = %e, "call failed");
                }
                let _ = me.store.complete_job(&job.id).await;
                me.stopped();
            }
            .instrument(span),
        );
        Ok(JobOutcome::Detached)
    }
}
