//! Calls on the line: the dial job, the sandbox call-in job and a carrier's inbound call, wired
//! to the phone network, the voice pipeline and the flow agent. Every change of a call's state
//! goes through the store's calls service ([`parley_store::calls::life`]); this module decides
//! *when*, from what the network and the pipeline report.
//!
//! A call in progress keeps its job claimed and heartbeats its lease. That is the watchdog for
//! a process that dies mid-call: the lease expires, the job runs again elsewhere, finds the call
//! neither queued nor ended, and ends it `FAILED`. Within a live process, the pipeline's own
//! watchdog ends a call whose network went silent, so no call stays in progress.

use crate::directory::SandboxDirectory;
use crate::hangups::Hangups;
use crate::speech::Speech;
use parley_agent::flow_agent::{AgentConfig, FlowAgent};
use parley_agent::llm::{LlmClient, LlmConfig};
use parley_agent::template::CallContext;
use parley_core::call::{Call, ConversationTurn, Progress, SummaryData};
use parley_core::interview::Interview;
use parley_core::persona::PersonaScript;
use parley_core::time::Timestamp;
use parley_jobs::{JobError, JobHandler, JobOutcome};
use parley_store::calls::life::{CallResults, Ending, Unanswered};
use parley_store::jobs::Job;
use parley_store::{now_ms, Store, StoreError};
use parley_telephony::network::{SipTrunkRoute, TwilioRoute};
use parley_telephony::sandbox::SandboxNetwork;
use parley_telephony::{DialRequest, Endpoint, LineEvent, NetworkKind, Networks, Route};
use parley_voice::pipeline::{run_call, CallEnd, CallNote, CallReport, PipelineConfig};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tracing::{info, info_span, warn, Instrument};
use uuid::Uuid;

/// What the call runner needs to know.
#[derive(Debug, Clone)]
pub struct CallSettings {
    pub ring_timeout: Duration,
    pub max_concurrent_calls: usize,
    pub lease: Duration,
    pub recordings_dir: PathBuf,
    pub public_url: String,
    pub endpoint: Duration,
    pub line_watchdog: Duration,
    /// Where agents' mid-call webhooks may go (and the proxy the LLM client uses too).
    pub outbound: parley_jobs::OutboundPolicy,
    pub llm: Option<LlmConfig>,
    /// The caller id of outbound sandbox calls.
    pub caller_id: String,
}

/// Runs calls: registered for the dial and sandbox call-in jobs.
pub struct CallRunner {
    pub store: Store,
    /// Every network this server runs; calls are placed through it by route.
    pub networks: Networks,
    /// The sandbox, for its personas' call-in job (a sandbox-only feature).
    pub sandbox: Arc<SandboxNetwork>,
    pub directory: Arc<SandboxDirectory>,
    pub speech: Speech,
    pub settings: CallSettings,
    metrics: Arc<parley_api::metrics::Metrics>,
    active: AtomicUsize,
    /// Turns true when the server stops: every call is hung up, as through the API, and ends
    /// with its transcript and recording (see [`CallRunner::active`] to wait for them).
    stop: watch::Receiver<bool>,
    /// The hang-up requests of this process's calls (one look-up for all of them).
    hangups: Arc<Hangups>,
}

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
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        networks: Networks,
        sandbox: Arc<SandboxNetwork>,
        directory: Arc<SandboxDirectory>,
        speech: Speech,
        settings: CallSettings,
        metrics: Arc<parley_api::metrics::Metrics>,
        stop: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let hangups = Arc::new(Hangups::default());
        tokio::spawn(hangups.clone().run(store.clone(), stop.clone()));
        Arc::new(CallRunner {
            store,
            networks,
            sandbox,
            directory,
            speech,
            settings,
            metrics,
            active: AtomicUsize::new(0),
            stop,
            hangups,
        })
    }

    fn started(&self) {
        self.active.fetch_add(1, Ordering::SeqCst);
        self.metrics.calls_active.inc();
    }

    fn stopped(&self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
        self.metrics.calls_active.dec();
    }

    /// Calls running in this process.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Whether this node and the team can take one more call now (an incoming call is
    /// answered or refused on the spot; it cannot wait in a queue as a dial job does).
    pub async fn has_room(&self, team_id: &str) -> bool {
        if self.active() >= self.settings.max_concurrent_calls {
            return false;
        }
        let (Ok(team), Ok(active)) = (
            self.store.team(team_id).await,
            self.store.active_call_count(team_id).await,
        ) else {
            return false;
        };
        active < team.max_concurrent_calls
    }

    /// Runs a carrier's inbound call that the network has just answered: the call was written
    /// with its job claimed by this process (`job_id`), which this heartbeats as a dial does.
    pub async fn answered_inbound(
        self: Arc<Self>,
        job_id: String,
        team_id: String,
        call: Call,
        line: Endpoint,
    ) {
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
            self.converse(&team_id, &call, &interview, line, false, heartbeat)
                .await
        }
        .await;
        if let Err(e) = result {
            warn!(error = %e, "call failed");
        }
        let _ = self.store.complete_job(&job_id).await;
        self.stopped();
    }

    /// The call's agent; `None` (and the call ended `FAILED`) if it was deleted meanwhile.
    async fn interview_of(
        &self,
        team_id: &str,
        call: &Call,
    ) -> Result<Option<Interview>, JobError> {
        match self.store.interview(team_id, &call.interview.id).await {
            Ok(i) => Ok(Some(i)),
            Err(StoreError::NotFound) => {
                let why = "the voice agent no longer exists".to_string();
                self.store.call_life().refused(call.id, why).await?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The caller id and the carrier route of an outbound call, from the network and number
    /// the API chose when it queued the call. `Err` is why the call cannot be placed (its
    /// number or trunk was removed since): the call's failure reason.
    async fn route_of(
        &self,
        team_id: &str,
        call: &Call,
    ) -> Result<Result<(String, Route), String>, JobError> {
        if call.network == NetworkKind::Sandbox {
            let from = call
                .from_number
                .clone()
                .unwrap_or_else(|| self.settings.caller_id.clone());
            return Ok(Ok((from, Route::Sandbox)));
        }
        let Some(number) = self
            .store
            .outbound_number(team_id, call.from_number.as_deref())
            .await?
        else {
            return Ok(Err(format!(
                "the team has no {} number to call from any more",
                call.network
            )));
        };
        if number.network != call.network {
            return Ok(Err(format!(
                "the number {} is no longer on the {} network",
                number.phone_number, call.network
            )));
        }
        let route = match call.network {
            NetworkKind::Sip => {
                let Some(trunk_id) = number.sip_trunk_id else {
                    return Ok(Err(format!(
                        "the number {} has no SIP trunk",
                        number.phone_number
                    )));
                };
                let trunk = match self.store.sip_trunk_for_worker(&trunk_id.to_string()).await {
                    Ok(t) => t,
                    Err(StoreError::NotFound) => {
                        return Ok(Err("the SIP trunk no longer exists".into()))
                    }
                    Err(e) => return Err(e.into()),
                };
                Route::Sip(SipTrunkRoute {
                    trunk_id: trunk.id.to_string(),
                    host: trunk.host,
                    port: trunk.port,
                    transport: trunk.transport,
                    username: trunk.username,
                    password: trunk.password,
                    from_domain: trunk.from_domain,
                })
            }
            NetworkKind::Twilio => {
                let Some(account) = number.twilio else {
                    return Ok(Err(format!(
                        "the number {} has no Twilio account",
                        number.phone_number
                    )));
                };
                Route::Twilio(TwilioRoute {
                    account_sid: account.account_sid,
                    auth_token: account.auth_token,
                })
            }
            NetworkKind::Sandbox => Route::Sandbox,
        };
        Ok(Ok((number.phone_number, route)))
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
                self.store
                    .call_life()
                    .refused(call.id, e.to_string())
                    .await?;
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
        let script: PersonaScript = match job
            .payload
            .get("persona")
            .cloned()
            .map(serde_json::from_value)
        {
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
                let r = me
                    .converse(&team_id, &call, &interview, line, false, heartbeat)
                    .await;
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

    /// Extends the job's lease while the call runs, and hangs up when the API asks or the
    /// server stops.
    fn heartbeat(
        &self,
        job_id: String,
        call_id: Uuid,
        hang_up: Option<parley_telephony::LineSender>,
    ) -> Heartbeat {
        let (tx, mut rx) = mpsc::channel::<parley_telephony::LineSender>(1);
        if let Some(h) = hang_up {
            let _ = tx.try_send(h);
        }
        let store = self.store.clone();
        let lease = self.settings.lease;
        let requested = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, stop_flag) = (requested.clone(), stopping.clone());
        let mut stop = self.stop.clone();
        let watched = self.hangups.watch(call_id);
        let task = tokio::spawn(async move {
            let mut sender: Option<parley_telephony::LineSender> = None;
            let mut beat = tokio::time::interval(Duration::from_millis(500));
            let mut last_lease = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    s = rx.recv() => if let Some(s) = s {
                        if stop_flag.load(Ordering::SeqCst) {
                            s.hang_up().await;
                        }
                        sender = Some(s);
                    },
                    _ = async { stop.wait_for(|s| *s).await.map(|_| ()) }, if !stop_flag.load(Ordering::SeqCst) => {
                        stop_flag.store(true, Ordering::SeqCst);
                        flag.store(true, Ordering::SeqCst);
                        if let Some(s) = &sender {
                            s.hang_up().await;
                        }
                    },
                    _ = beat.tick() => {
                        if last_lease.elapsed() >= lease / 3 {
                            last_lease = tokio::time::Instant::now();
                            if let Err(e) = store.extend_lease(&job_id, lease.as_millis() as i64).await {
                                warn!(error = %e, "could not extend the call's lease");
                            }
                        }
                        if !flag.load(Ordering::SeqCst) && watched.requested() {
                            flag.store(true, Ordering::SeqCst);
                            if let Some(s) = &sender {
                                s.hang_up().await;
                            }
                        }
                    }
                }
            }
        });
        Heartbeat {
            task,
            sender: tx,
            requested,
            stopping,
        }
    }

    async fn outbound(
        self: Arc<Self>,
        job_id: String,
        team_id: String,
        call: Call,
        interview: Interview,
        mut line: Endpoint,
    ) -> Result<(), JobError> {
        let hb = self.heartbeat(job_id.clone(), call.id, Some(line.sender.clone()));
        let life = self.store.call_life();
        let mut rang = false;
        let result = loop {
            let ev = tokio::select! {
                ev = line.events.recv() => ev,
                _ = tokio::time::sleep(Duration::from_millis(250)) => {
                    if hb.requested.load(Ordering::SeqCst) {
                        line.sender.hang_up().await;
                        let why = match hb.stopping.load(Ordering::SeqCst) {
                            true => "canceled before it was answered: the server stopped",
                            false => "canceled through the API before it was answered",
                        };
                        break life.canceled(call.id, why).await.map_err(JobError::from);
                    }
                    continue;
                }
            };
            let (how, cause) = match ev {
                Some(LineEvent::Ringing) => {
                    if !rang {
                        rang = true;
                        if !life.ringing(call.id).await? {
                            line.sender.hang_up().await;
                            break Ok(());
                        }
                    }
                    continue;
                }
                Some(LineEvent::Answered) => {
                    if !rang {
                        life.ringing(call.id).await?;
                    }
                    if !life.answered(call.id).await? {
                        line.sender.hang_up().await;
                        break Ok(());
                    }
                    break self
                        .converse(&team_id, &call, &interview, line, true, hb)
                        .await;
                }
                Some(LineEvent::Busy(cause)) => (Unanswered::Busy, cause),
                Some(LineEvent::NoAnswer(cause)) => (Unanswered::NoAnswer, cause),
                Some(LineEvent::Rejected(cause)) => (Unanswered::Rejected, cause),
                Some(LineEvent::Failed(cause)) => (Unanswered::Failed, Some(cause)),
                None | Some(LineEvent::HungUp) => (
                    Unanswered::Failed,
                    Some("the line dropped before the call was answered".into()),
                ),
                Some(_) => continue,
            };
            break life
                .not_answered(call.id, how, cause)
                .await
                .map_err(JobError::from);
        };
        let _ = self.store.complete_job(&job_id).await;
        result
    }

    /// The answered call: the pipeline with the flow agent, then the results.
    async fn converse(
        &self,
        team_id: &str,
        call: &Call,
        interview: &Interview,
        line: Endpoint,
        outbound: bool,
        hb: Heartbeat,
    ) -> Result<(), JobError> {
        let _ = hb.sender.try_send(line.sender.clone());
        let contact = call.contact.as_ref();
        let ctx = CallContext {
            contact_name: contact
                .and_then(|c| c.name.clone())
                .filter(|n| !n.is_empty()),
            contact_phone: Some(call.phone_number.clone()),
            contact_email: contact.and_then(|c| c.email.clone()),
            contact_id: contact.map(|c| c.id.to_string()),
            attributes: contact
                .map(|c| serde_json::to_value(&c.attributes).unwrap_or_default())
                .unwrap_or_default(),
            metadata: call.metadata.clone(),
        };
        // The team's own endpoint if it set one, else the server's default.
        let team_llm = self.store.team(team_id).await.ok().and_then(|t| t.llm);
        let llm_cfg = match team_llm {
            Some(t) => Some(LlmConfig {
                api_key: t.api_key,
                model: t.model.unwrap_or_else(|| "default".into()),
                proxy: self.settings.outbound.proxy.clone(),
                ..LlmConfig::new(t.base_url)
            }),
            None => self.settings.llm.clone(),
        };
        let llm = llm_cfg.and_then(|c| match LlmClient::new(c) {
            Ok(c) => Some(c),
            Err(e) => {
                warn!(error = %e, "the LLM endpoint is misconfigured; prompt nodes cannot run");
                None
            }
        });
        let agent = FlowAgent::new(
            interview.flow.clone(),
            ctx.clone(),
            AgentConfig {
                llm,
                ai_name: interview.ai_name.clone(),
                silence_reprompts: interview.silence_reprompts,
                outbound: self.settings.outbound.clone(),
                // The callee's zone (a number spanning several: its first main zone; dates read
                // "tomorrow" the same in all of them but near midnight).
                time_zone: parley_core::zone::callee_zones(
                    contact
                        .map(|c| &c.attributes)
                        .unwrap_or(&Default::default()),
                    &call.phone_number,
                )
                .first()
                .copied(),
                ..AgentConfig::default()
            },
        );
        let voicemail_message = interview
            .should_leave_voicemail
            .then(|| interview.voicemail_message.clone())
            .flatten()
            .map(|m| {
                parley_agent::template::render(
                    &m,
                    &parley_agent::template::Scope::new(&ctx, &Default::default()),
                )
            });
        let cfg = PipelineConfig {
            endpoint: self.settings.endpoint,
            silence_timeout: Duration::from_millis(interview.silence_timeout_ms as u64),
            screen_for_machine: outbound,
            voicemail_message,
            line_watchdog: self.settings.line_watchdog,
            ..PipelineConfig::default()
        };
        let (notes_tx, mut notes_rx) = mpsc::unbounded_channel();
        let store = self.store.clone();
        let (team, agent_id, cid) = (team_id.to_string(), interview.id.clone(), call.id);
        let notes = tokio::spawn(async move {
            while let Some(n) = notes_rx.recv().await {
                let life = store.call_life();
                let sent = match n {
                    CallNote::ActionFailed { action, error } => {
                        life.action_failed(&team, &agent_id, cid, &action, &error)
                            .await
                    }
                    CallNote::Transferring { phone_number } => {
                        life.transferring(&team, &agent_id, cid, &phone_number)
                            .await
                    }
                };
                if let Err(e) = sent {
                    warn!(error = %e, "could not record a mid-call event");
                }
            }
        });
        info!("call answered; conversation starts");
        let report = run_call(
            agent,
            line,
            self.speech.stt.clone(),
            self.speech.tts.clone(),
            cfg,
            notes_tx,
        )
        .await;
        let _ = notes.await;
        hb.task.abort();
        self.finish(call, interview, report).await
    }

    /// Writes the recording and ends the call with everything it produced.
    pub(super) async fn finish(
        &self,
        call: &Call,
        interview: &Interview,
        mut r: CallReport,
    ) -> Result<(), JobError> {
        let recording_url = if interview.should_record {
            let path = self
                .settings
                .recordings_dir
                .join(format!("{}.wav", call.id));
            let rec = std::mem::take(&mut r.recording);
            let written = tokio::task::spawn_blocking(move || rec.write(&path)).await;
            match written {
                Ok(Ok(())) => Some(format!(
                    "{}/interview_response/{}/recording",
                    self.settings.public_url.trim_end_matches('/'),
                    call.id
                )),
                other => {
                    warn!(?other, "could not write the recording");
                    None
                }
            }
        } else {
            None
        };
        let how = match &r.end {
            CallEnd::AgentHungUp | CallEnd::CallerHungUp | CallEnd::MaxDuration => {
                Ending::Completed
            }
            CallEnd::Transferred(_) => Ending::Transferred,
            CallEnd::Voicemail { .. } => Ending::Voicemail,
            CallEnd::LineSilent => Ending::Failed(
                "no audio from the phone network: the watchdog ended the call".to_string(),
            ),
            CallEnd::LineFailed(cause) => Ending::Failed(cause.clone()),
        };
        let answered_at = call.start_time.map(|t| t.millis()).unwrap_or_else(now_ms);
        let transcript = r.transcript();
        let mut cumulative = 0;
        let history: Vec<ConversationTurn> = r
            .conversation
            .iter()
            .map(|l| {
                cumulative = l.at_ms;
                ConversationTurn {
                    date: Timestamp(answered_at + l.at_ms),
                    text: l.text.clone(),
                    author: l.author.to_string(),
                    cumulative_duration_ms: cumulative,
                }
            })
            .collect();
        let mut outcome = r.results.outcome.clone();
        if let CallEnd::Voicemail { message_left } = r.end {
            outcome = Some(
                if message_left {
                    "voicemail_left"
                } else {
                    "voicemail"
                }
                .into(),
            );
        }
        let mut tags = r.summary.response_tags.clone();
        if let Some(o) = &outcome {
            if !tags.contains(o) {
                tags.push(o.clone());
            }
        }
        let summary = SummaryData {
            summary: r.summary.summary.clone(),
            response_tags: tags,
        };
        let latency = r.latency.clone();
        for t in &latency {
            self.metrics
                .turn_latency
                .observe(t.total_ms as f64 / 1000.0);
        }
        let results = CallResults {
            conversation_history: history,
            transcript,
            summary_data: summary,
            variables: r.results.variables.clone(),
            outcome,
            latency,
            recording_url,
        };
        if let Some(c) = self.store.call_life().ended(call.id, how, results).await? {
            info!(
                status = c.status.as_str(),
                barge_ins = r.barge_ins,
                backchannels = r.backchannels,
                "call ended"
            );
        }
        Ok(())
    }
}

/// The running heartbeat of one call.
struct Heartbeat {
    task: tokio::task::JoinHandle<()>,
    sender: mpsc::Sender<parley_telephony::LineSender>,
    requested: Arc<std::sync::atomic::AtomicBool>,
    /// The hang-up was the server stopping, not the API.
    stopping: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}
