//! Calls on the line: the dial job, the sandbox call-in job and a carrier's inbound call, wired
//! to the phone network, the voice pipeline and the flow agent. Every change of a call's state
//! goes through the store's calls service ([`parley_store::calls::life`]); this module decides
//! *when*, from what the network and the pipeline report.
//!
//! A call in progress keeps its job claimed and heartbeats its lease. That is the watchdog for
//! a process that dies mid-call: the lease expires, the job runs again elsewhere, finds the call
//! neither queued nor ended, and ends it `FAILED`. Within a live process, the pipeline's own
//! watchdog ends a call whose network went silent, so no call stays in progress.
//!
//! - `jobs`: the job handlers and the carrier's answered inbound call: claiming a call, then
//!   placing or taking it.
//! - `route`: what a call needs before it is placed: its agent and its carrier route.
//! - `ringing`: an outbound call from dialing to its answer (or its end unanswered).
//! - `heartbeat`: the lease of a call's job, and hanging up when the API asks or the server
//!   stops.
//! - `engines`: the call's speech engines, from its agent's choice and the team's keys.
//! - `conversation`: the answered call: the pipeline with the flow agent, mid-call events.
//! - `finish`: the call's results (transcript, recording, summary) and its end.

mod conversation;
mod engines;
mod finish;
mod heartbeat;
mod jobs;
mod ringing;
mod route;

pub use jobs::{CallIn, Dial, NetworkCallIn};

use crate::directory::SandboxDirectory;
use crate::hangups::Hangups;
use crate::speech::Speech;
use parley_agent::llm::LlmConfig;
use parley_store::Store;
use parley_telephony::sandbox::SandboxNetwork;
use parley_telephony::Networks;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What the call runner needs to know.
#[derive(Debug, Clone)]
pub struct CallSettings {
    pub ring_timeout: Duration,
    pub max_concurrent_calls: usize,
    pub lease: Duration,
    pub recordings_dir: PathBuf,
    pub public_url: String,
    /// When the caller's turn is over (the endpointer's rule, window and ceiling).
    pub turn: parley_voice::pipeline::TurnConfig,
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
}
