//! The `parley` server: settings from `PARLEY_*` variables ([`Settings`]), and [`start`], which
//! wires the store, the job runner and the HTTP API into one running server. The binary
//! (`main.rs`) is a thin command line over this, and the integration tests start the very same
//! server in-process on loopback.
//!
//! Modules: [`calls`] (the call runner: dial and call-in jobs, a carrier's inbound call, the
//! conversation through the voice pipeline and the flow agent, its end; each state change
//! through the store's calls service), [`switchboard`] (who answers an incoming call, and whether
//! it may), [`directory`] (who answers a sandbox number), [`hangups`] (API hang-up requests for
//! this process's calls), [`speech`] (the engines, loaded once), [`media_metrics`] (SIP media
//! counters on `/metrics`), [`secret_key`] (the key of secrets at rest), [`data_dir`] (the data
//! folder's permissions), [`dashboard`] (the embedded web app under `/app/`), [`browser`] (the
//! dashboard's "Test in browser" calls over a WebSocket), `settings` (every
//! `PARLEY_*` variable).

pub mod browser;
pub mod calls;
pub mod dashboard;
pub mod data_dir;
pub mod directory;
pub mod hangups;
pub mod media_metrics;
pub mod secret_key;
mod settings;
pub mod speech;
pub mod switchboard;

use anyhow::Context;
use clap::Args;
use parley_agent::llm::LlmConfig;
use parley_api::{ApiConfig, AppState};
use parley_jobs::{Deliveries, DeliveryConfig, JobsConfig, JobsHandle, OutboundPolicy, ProxyUrl, Runner};
use parley_store::Store;
use parley_telephony::sandbox::{SandboxConfig, SandboxNetwork};
use parley_telephony::trunk::{AllowList, SipConfig, SipNetwork};
use parley_telephony::twilio::network::{TwilioConfig, TwilioNetwork};
use parley_telephony::Networks;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use settings::DEFAULT_SIP_BIND;
pub use settings::{Settings, TurnRuleSetting};

/// A server running in this process.
pub struct Running {
    pub addr: SocketAddr,
    pub store: Store,
    shutdown: watch::Sender<bool>,
    http: JoinHandle<()>,
    /// The job runner and the housekeeping of the rate limits.
    background: Vec<JoinHandle<()>>,
    calls: Option<Arc<calls::CallRunner>>,
    jobs: JobsHandle,
    grace: Duration,
}

impl Running {
    /// Stops gracefully, within the shutdown grace: no new connections or jobs; requests in
    /// flight are answered, calls hung up (each ends with its transcript and recording), jobs
    /// in flight finish; then every job this process still holds is handed back to the queue,
    /// so another process takes it at once rather than when its lease runs out.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let deadline = tokio::time::Instant::now() + self.grace;
        let mut http = self.http;
        if tokio::time::timeout_at(deadline, &mut http).await.is_err() {
            tracing::warn!("requests still in flight at the end of the shutdown grace; closing them");
            http.abort();
        }
        if let Some(calls) = &self.calls {
            while calls.active() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if calls.active() > 0 {
                tracing::warn!(
                    calls = calls.active(),
                    "calls still on the line at the end of the shutdown grace"
                );
            }
        }
        for t in self.background {
            let _ = t.await; // the runner waits for its jobs within the same grace
        }
        if let Some(worker) = self.jobs.worker_id() {
            match self.store.release_jobs(worker).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "handed unfinished jobs back to the queue"),
                Err(e) => tracing::warn!(error = %e, "could not hand jobs back; their leases will run out"),
            }
        }
        self.store.close().await;
    }
}

/// Starts the API (and the job runner unless disabled) on `settings.bind` (port 0 picks one).
pub async fn start(settings: &Settings, store: Store) -> anyhow::Result<Running> {
    let (tx, rx) = watch::channel(false);
    let jobs = JobsHandle::default();
    let mut background = Vec::new();
    let mut call_runner = None;
    // The HTTP routes of the networks that have some (Twilio's webhooks and media streams).
    let mut network_routes = axum::Router::new();
    // One pool of template workers for the API (checking saved templates) and the engine.
    let templates = parley_automation::template::Templates::isolated(Arc::new(
        parley_automation::template::isolation::WorkerPool::new(settings.template_worker_config()?),
    ));
    let api_config = ApiConfig {
        templates: templates.clone(),
        // The call runner, and with it `/call/browser`, runs with the jobs.
        browser_calls: settings.run_jobs,
        ..settings.api_config()
    };
    let state = AppState::new(store.clone(), api_config, jobs.clone());
    background.push(tokio::spawn(housekeeping(state.limits.clone(), rx.clone())));
    if settings.run_jobs {
        let speech = speech::load(settings.speech_settings())?;
        let directory = Arc::new(directory::SandboxDirectory {
            store: store.clone(),
            speech: speech.clone(),
        });
        let sandbox = Arc::new(SandboxNetwork::new(
            directory.clone(),
            SandboxConfig {
                ring_period: Duration::from_millis(settings.sandbox_ring_ms.max(10)),
            },
        ));
        let mut networks = Networks::new().with(sandbox.clone());
        if let Some(sip) = start_sip(
            settings,
            &store,
            state.trunks_changed.clone(),
            rx.clone(),
            &mut background,
        )
        .await?
        {
            state
                .metrics
                .register_collector(Box::new(media_metrics::SipMedia(sip.media_metrics())));
            networks = networks.with(sip);
        }
        let twilio = TwilioNetwork::new(TwilioConfig {
            api_base: settings.twilio_api_base.clone(),
            ..TwilioConfig::new(settings.public_url())
        })
        .map_err(|e| anyhow::anyhow!("the Twilio network: {e}"))?;
        networks = networks.with(Arc::new(twilio));
        network_routes = networks.routes();
        let calls = calls::CallRunner::new(
            store.clone(),
            networks.clone(),
            sandbox,
            directory,
            speech,
            settings.call_settings(),
            state.metrics.clone(),
            rx.clone(),
        );
        call_runner = Some(calls.clone());
        network_routes = network_routes.merge(browser::routes(browser::BrowserCalls {
            runner: calls.clone(),
            jobs: jobs.clone(),
            public_url: settings.public_url(),
        }));
        networks.attach(Arc::new(switchboard::Inbound {
            runner: calls.clone(),
            jobs: jobs.clone(),
        }));
        let runner = Runner::new(store.clone(), settings.jobs_config(), jobs.clone())
            .with_handler(
                parley_store::webhooks::DELIVERY_JOB,
                Arc::new(Deliveries::new(store.clone(), settings.delivery_config())),
            )
            .with_handler(parley_store::calls::DIAL_JOB, Arc::new(calls::Dial(calls.clone())))
            .with_handler(
                parley_store::sandbox::SANDBOX_CALL_IN_JOB,
                Arc::new(calls::CallIn(calls.clone())),
            )
            .with_handler(
                parley_store::inbound::NETWORK_CALL_IN_JOB,
                Arc::new(calls::NetworkCallIn(calls.clone())),
            );
        let engine = parley_automation::Engine::new(
            store.clone(),
            parley_automation::EngineConfig {
                outbound: settings.outbound_policy(),
                lease: settings.jobs_config().lease,
                templates: templates.clone(),
                ..Default::default()
            },
        );
        let runner = engine.register(runner);
        background.push(tokio::spawn(runner.run(rx.clone())));
    }
    let app = parley_api::router(state)
        .merge(network_routes)
        .merge(dashboard::routes());
    let listener = tokio::net::TcpListener::bind(settings.bind).await?;
    let addr = listener.local_addr()?;
    let mut stop = rx.clone();
    let http = tokio::spawn(async move {
        // With the peer's address: the public routes' rate limits are per source address.
        let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(Running {
        addr,
        store,
        shutdown: tx,
        http,
        background,
        calls: call_runner,
        jobs,
        grace: Duration::from_secs(settings.shutdown_grace_secs),
    })
}

/// Starts the SIP trunk network and keeps its INVITE allow-list (every trunk's
/// `inbound_addresses`, or its host) current: rebuilt at once when this process's API changes
/// a trunk, and every 5 s for changes made through another process. `None` when the default
/// address is taken.
async fn start_sip(
    settings: &Settings,
    store: &Store,
    trunks_changed: Arc<tokio::sync::Notify>,
    mut stop: watch::Receiver<bool>,
    background: &mut Vec<tokio::task::JoinHandle<()>>,
) -> anyhow::Result<Option<Arc<SipNetwork>>> {
    let bind: SocketAddr = settings
        .sip_bind
        .parse()
        .map_err(|e| anyhow::anyhow!("PARLEY_SIP_BIND {:?}: {e}", settings.sip_bind))?;
    let tls_bind: SocketAddr = match &settings.sip_tls_bind {
        Some(b) => b
            .parse()
            .map_err(|e| anyhow::anyhow!("PARLEY_SIP_TLS_BIND {b:?}: {e}"))?,
        None if bind.port() == 0 => bind,
        None => SocketAddr::new(bind.ip(), bind.port().saturating_add(1)),
    };
    let files = parley_telephony::trunk::tls::TlsFiles {
        cert: settings.sip_tls_cert.as_deref(),
        key: settings.sip_tls_key.as_deref(),
        ca: settings.sip_tls_ca.as_deref(),
    };
    let tls = parley_telephony::trunk::tls::SipTls::from_files(tls_bind, files)
        .map_err(|e| anyhow::anyhow!("SIP over TLS: {e}"))?;
    let config = SipConfig {
        bind,
        public_ip: settings.sip_public_addr,
        max_calls: settings.max_concurrent_calls,
        media_timeout: Duration::from_secs(settings.sip_media_timeout_secs.max(1)),
        tls: Some(tls),
    };
    let allow = AllowList::default();
    let sip = match SipNetwork::start(config, allow.clone()).await {
        Ok(s) => s,
        Err(e) if settings.sip_bind == DEFAULT_SIP_BIND => {
            tracing::warn!(error = %e, "SIP is off: {DEFAULT_SIP_BIND} is taken (set PARLEY_SIP_BIND)");
            return Ok(None);
        }
        Err(e) => return Err(anyhow::anyhow!("cannot bind SIP to {bind}: {e}")),
    };
    match sip.tls_addr() {
        Some(tls) => tracing::info!(addr = %sip.local_addr(), %tls, "SIP listening (UDP, TCP; TLS on its own port)"),
        None => tracing::info!(addr = %sip.local_addr(), "SIP listening"),
    }
    let store = store.clone();
    background.push(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = trunks_changed.notified() => {}
                _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => return,
            }
            match switchboard::trunk_sources(&store).await {
                Ok(blocks) => allow.set(blocks),
                Err(e) => tracing::warn!(error = %e, "could not refresh the SIP allow-list"),
            }
        }
    }));
    Ok(Some(sip))
}

/// Forgets rate-limit keys whose quota is whole again, every 30 s, so their memory (and the
/// PostgreSQL table) holds only the keys seen within the last minute or so.
async fn housekeeping(limits: parley_api::limits::Limits, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            _ = every.tick() => limits.housekeep().await,
            _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => return,
        }
    }
}
