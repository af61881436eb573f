//! The `parley` server: settings from `PARLEY_*` variables ([`Settings`]), and [`start`], which
//! wires the store, the job runner and the HTTP API into one running server. The binary
//! (`main.rs`) is a thin command line over this, and the integration tests start the very same
//! server in-process on loopback.

pub mod calls;
pub mod data_dir;
pub mod directory;
pub mod hangups;
pub mod media_metrics;
pub mod secret_key;
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

const DEFAULT_SIP_BIND: &str = "127.0.0.1:5060";

/// Every setting, each from its `PARLEY_*` variable or flag, with a default that runs.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address the HTTP API listens on.
    #[arg(long, env = "PARLEY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Folder of the SQLite database (`parley.db`), the secrets key file (`secret.key`) and call
    /// recordings (`recordings/`); created 0700, its files 0600.
    #[arg(long, env = "PARLEY_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Database URL: `sqlite://FILE` or `postgres://USER:PASS@HOST/DB`. Default: SQLite in the data dir.
    #[arg(long, env = "PARLEY_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Database connections in the pool.
    #[arg(long, env = "PARLEY_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
    /// SIP listening address (UDP) of the SIP trunk network; port 0 picks one. If the default
    /// address is taken the server runs without SIP (and says so); any other address must bind.
    #[arg(long, env = "PARLEY_SIP_BIND", default_value = DEFAULT_SIP_BIND)]
    pub sip_bind: String,

    /// The IP address carriers reach this node at when it is behind NAT: written into SIP's
    /// Via and Contact and into SDP instead of the socket's own address.
    #[arg(long, env = "PARLEY_SIP_PUBLIC_ADDR")]
    pub sip_public_addr: Option<std::net::IpAddr>,

    /// SIP over TLS listening address; default: the SIP address with the next port (5061).
    /// Used only with a certificate (`PARLEY_SIP_TLS_CERT`, `PARLEY_SIP_TLS_KEY`).
    #[arg(long, env = "PARLEY_SIP_TLS_BIND")]
    pub sip_tls_bind: Option<String>,
    /// PEM certificate chain Parley presents on SIP over TLS (to carriers calling in, and to
    /// trunks that ask for a client certificate). Without it Parley still dials over TLS.
    #[arg(long, env = "PARLEY_SIP_TLS_CERT")]
    pub sip_tls_cert: Option<PathBuf>,
    /// PEM private key of `PARLEY_SIP_TLS_CERT`.
    #[arg(long, env = "PARLEY_SIP_TLS_KEY")]
    pub sip_tls_key: Option<PathBuf>,
    /// PEM certificates of authorities to trust for trunks' TLS certificates, beside the
    /// usual public roots (a carrier's private CA).
    #[arg(long, env = "PARLEY_SIP_TLS_CA")]
    pub sip_tls_ca: Option<PathBuf>,

    /// Base URL of Twilio's REST API (a loopback fake in tests).
    #[arg(long, env = "PARLEY_TWILIO_API_BASE", default_value = "https://api.twilio.com")]
    pub twilio_api_base: String,

    /// Seconds without RTP from the carrier after which a SIP call ends as failed.
    #[arg(long, env = "PARLEY_SIP_MEDIA_TIMEOUT_SECS", default_value_t = 30)]
    pub sip_media_timeout_secs: u64,
    /// Base URL at which webhooks, recordings and media streams reach this server (default:
    /// http:// and the bind address).
    #[arg(long, env = "PARLEY_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Requests per minute per team (0 = no limit).
    #[arg(long, env = "PARLEY_RATE_LIMIT_PER_MINUTE", default_value_t = 100)]
    pub rate_limit_per_minute: u32,

    // --- Public routes: rate limits by automation and by source address, and graceful stop.
    /// Requests per minute to one automation's public webhook URL, shared by every process on
    /// PostgreSQL (0 = no limit).
    #[arg(long, env = "PARLEY_WEBHOOK_RATE_LIMIT_PER_MINUTE", default_value_t = 120)]
    pub webhook_rate_limit_per_minute: u32,
    /// Requests per minute from one source address (IPv6: one /64) to the routes without
    /// credentials: automation webhooks, /health, /metrics, /openapi.json, /docs, unknown paths
    /// (0 = no limit).
    #[arg(long, env = "PARLEY_PUBLIC_RATE_LIMIT_PER_MINUTE", default_value_t = 600)]
    pub public_rate_limit_per_minute: u32,
    /// Failed authentications per minute from one source address; past it, 429 without looking
    /// at the token (0 = no limit).
    #[arg(long, env = "PARLEY_AUTH_FAILURE_LIMIT_PER_MINUTE", default_value_t = 30)]
    pub auth_failure_limit_per_minute: u32,
    /// Comma-separated proxies (addresses or CIDR networks) whose X-Forwarded-For header names
    /// the client's address; none by default: the TCP peer is the client.
    #[arg(long, env = "PARLEY_TRUSTED_PROXIES", default_value = "", hide_default_value = true,
          value_parser = parley_api::client_addr::parse_trusted_proxies)]
    pub trusted_proxies: parley_api::client_addr::TrustedProxies,
    /// Seconds a stopping server (SIGTERM, Ctrl-C) waits for requests, jobs and calls in flight
    /// before it hangs up, and hands the jobs left to other processes.
    #[arg(long, env = "PARLEY_SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    pub shutdown_grace_secs: u64,
    // --- end of the public-routes block.
    /// Require the `team_id` header; `false` accepts token-only clients (a sent team_id must still match).
    #[arg(long, env = "PARLEY_REQUIRE_TEAM_HEADER", default_value_t = true, action = clap::ArgAction::Set)]
    pub require_team_header: bool,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "PARLEY_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Deliver webhooks, automation HTTP steps and agents' mid-call webhooks to private and
    /// loopback addresses (tests and closed networks only).
    #[arg(long, env = "PARLEY_ALLOW_PRIVATE_WEBHOOKS", default_value = "0", value_parser = parse_flag)]
    pub allow_private_webhooks: bool,
    /// Proxy for all outbound HTTP (webhooks, automation HTTP steps, agents' webhooks, the LLM),
    /// an http(s) URL such as `http://user:pass@proxy:3128`. Without it Parley connects
    /// directly: HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY are ignored. Each target is
    /// still resolved and checked by Parley before it is handed to the proxy.
    #[arg(long, env = "PARLEY_OUTBOUND_PROXY", hide_env_values = true, value_parser = ProxyUrl::parse)]
    pub outbound_proxy: Option<ProxyUrl>,
    /// Timeout of one webhook delivery attempt, in milliseconds.
    #[arg(long, env = "PARLEY_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    pub webhook_timeout_ms: u64,
    /// First webhook retry delay (doubles per attempt, ±50 % jitter), in milliseconds.
    #[arg(long, env = "PARLEY_WEBHOOK_RETRY_BASE_MS", default_value_t = 10_000)]
    pub webhook_retry_base_ms: u64,
    /// Longest webhook retry delay, in milliseconds.
    #[arg(long, env = "PARLEY_WEBHOOK_RETRY_MAX_MS", default_value_t = 3_600_000)]
    pub webhook_retry_max_ms: u64,
    /// Run background jobs in this process (turn off for API-only processes).
    #[arg(long, env = "PARLEY_RUN_JOBS", default_value = "1", value_parser = parse_flag)]
    pub run_jobs: bool,
    /// Jobs run at once by this process. Jobs mostly wait (HTTP, the database; a call's job
    /// returns once the call is placed), and automation runs share group commits only when many
    /// are in flight: at 16, 5-step runs went at about half the rate they reach at 256.
    #[arg(long, env = "PARLEY_JOB_CONCURRENCY", default_value_t = 256)]
    pub job_concurrency: usize,
    /// Seconds a claimed job is reserved before another process may take it over.
    #[arg(long, env = "PARLEY_JOB_LEASE_SECS", default_value_t = 60)]
    pub job_lease_secs: u64,
    /// OpenAI-compatible chat endpoint for prompt nodes (none: prompt nodes are refused).
    #[arg(long, env = "PARLEY_LLM_BASE_URL")]
    pub llm_base_url: Option<String>,
    /// API key sent to the LLM endpoint (`Authorization: Bearer`).
    #[arg(long, env = "PARLEY_LLM_API_KEY", hide_env_values = true)]
    pub llm_api_key: Option<String>,

    /// Model name sent to the LLM endpoint.
    #[arg(long, env = "PARLEY_LLM_MODEL", default_value = "default")]
    pub llm_model: String,

    /// Seconds an outbound call rings before it ends NO_ANSWER.
    #[arg(long, env = "PARLEY_RING_TIMEOUT_SECS", default_value_t = 30)]
    pub ring_timeout_secs: u64,

    /// One ring cycle of the sandbox network, in ms (6000 = the North American cadence).
    #[arg(long, env = "PARLEY_SANDBOX_RING_MS", default_value_t = 6000)]
    pub sandbox_ring_ms: u64,

    /// Calls this process runs at once (all teams); more wait in the queue.
    #[arg(long, env = "PARLEY_MAX_CONCURRENT_CALLS", default_value_t = 32)]
    pub max_concurrent_calls: usize,

    /// Speech-to-text jobs decoding at once (the CPU bottleneck; see bench/README.md).
    #[arg(long, env = "PARLEY_STT_WORKERS", default_value_t = 2)]
    pub stt_workers: usize,

    /// CPU threads per speech-to-text job (ggml's threads spin-wait: more threads than idle
    /// cores makes decoding slower, not faster).
    #[arg(long, env = "PARLEY_STT_THREADS", default_value_t = 1)]
    pub stt_threads: usize,

    /// Smallest Whisper encoder window (ms of audio): shorter is faster on short answers,
    /// longer is more robust (see bench/README.md for the measured trade-off).
    #[arg(long, env = "PARLEY_STT_MIN_WINDOW_MS", default_value_t = 2560)]
    pub stt_min_window_ms: u32,

    /// Text-to-speech syntheses at once.
    #[arg(long, env = "PARLEY_TTS_WORKERS", default_value_t = 2)]
    pub tts_workers: usize,

    /// Caller silence (ms) that ends the caller's turn.
    #[arg(long, env = "PARLEY_ENDPOINT_MS", default_value_t = 400)]
    pub endpoint_ms: u64,

    /// Seconds without audio from the network after which a call is ended as failed.
    #[arg(long, env = "PARLEY_LINE_WATCHDOG_SECS", default_value_t = 10)]
    pub line_watchdog_secs: u64,

    /// Caller id of outbound calls.
    #[arg(long, env = "PARLEY_CALLER_ID", default_value = "+12025550100")]
    pub caller_id: String,

    /// Queue calls to numbers outside the sandbox ranges by a team that has no phone number on
    /// a real network on the sandbox network, where they fail "not reachable", instead of
    /// refusing them with 400 (Parley's behaviour before phone numbers existed).
    #[arg(long, env = "PARLEY_UNROUTED_CALLS_TO_SANDBOX", default_value = "0", value_parser = parse_flag)]
    pub unrouted_calls_to_sandbox: bool,

    /// Moves this process's clock ahead by this many milliseconds (tests of schedules and
    /// day-long delays in a separate process; keep 0 in production).
    #[arg(long, env = "PARLEY_CLOCK_OFFSET_MS", default_value_t = 0, hide = true)]
    pub clock_offset_ms: i64,

    /// The program that renders automation templates in isolated processes (default: this
    /// `parley` binary; it is run as `PROGRAM template-worker`).
    #[arg(long, env = "PARLEY_TEMPLATE_WORKER")]
    pub template_worker: Option<PathBuf>,

    /// Memory one template render may use, in MiB: a render over it is stopped and its step fails.
    #[arg(long, env = "PARLEY_TEMPLATE_MEMORY_MB", default_value_t = 64)]
    pub template_memory_mb: u64,

    /// Time one template render may take, in milliseconds.
    #[arg(long, env = "PARLEY_TEMPLATE_TIMEOUT_MS", default_value_t = 2000)]
    pub template_timeout_ms: u64,

    /// Template worker processes (renders at once beyond plain look-ups).
    #[arg(long, env = "PARLEY_TEMPLATE_WORKERS", default_value_t = 2)]
    pub template_workers: usize,

    // Secrets at rest (README "Secrets at rest"): the key that encrypts secrets in the database.
    /// Key that encrypts secrets in the database (webhook signing secrets, LLM keys): base64 of
    /// 32 bytes (`openssl rand -base64 32`). Default: the key file. Prefer the variable to the
    /// flag (command lines are visible to other users).
    #[arg(
        long,
        env = "PARLEY_SECRET_KEY",
        hide_env_values = true,
        conflicts_with = "secret_key_file"
    )]
    pub secret_key: Option<secret_key::KeyText>,
    /// File holding that key (base64); created with mode 0600 on the first start of a database
    /// without a key. Default: secret.key in the data dir. Back it up: without it the
    /// database's secrets cannot be decrypted. Processes sharing a PostgreSQL database must
    /// share one key (this file, or PARLEY_SECRET_KEY).
    #[arg(long, env = "PARLEY_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,

    /// Log filter, in tracing's EnvFilter syntax (e.g. `info` or `parley_api=debug,info`).
    #[arg(long, env = "PARLEY_LOG", default_value = "info")]
    pub log: String,
    /// Log format: `text` or `json`.
    #[arg(long, env = "PARLEY_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

fn parse_flag(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(format!("'{s}' is not 1/0 or true/false")),
    }
}

impl Settings {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("parley.db").display()))
    }

    pub fn api_config(&self) -> ApiConfig {
        ApiConfig {
            rate_limit_per_minute: self.rate_limit_per_minute,
            webhook_rate_limit_per_minute: self.webhook_rate_limit_per_minute,
            public_rate_limit_per_minute: self.public_rate_limit_per_minute,
            auth_failure_limit_per_minute: self.auth_failure_limit_per_minute,
            trusted_proxies: self.trusted_proxies.0.clone(),
            require_team_header: self.require_team_header,
            max_body_bytes: self.max_body_bytes,
            llm_configured: self.llm_base_url.as_deref().is_some_and(|u| !u.is_empty()),
            recordings_dir: Some(self.data_dir.join("recordings")),
            ..ApiConfig::default()
        }
    }

    pub fn jobs_config(&self) -> JobsConfig {
        JobsConfig {
            concurrency: self.job_concurrency.max(1),
            lease: Duration::from_secs(self.job_lease_secs.max(1)),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            ..JobsConfig::default()
        }
    }

    pub fn delivery_config(&self) -> DeliveryConfig {
        DeliveryConfig {
            outbound: self.outbound_policy(),
            timeout: Duration::from_millis(self.webhook_timeout_ms),
            retry_base: Duration::from_millis(self.webhook_retry_base_ms.max(1)),
            retry_max: Duration::from_millis(self.webhook_retry_max_ms.max(1)),
            ..DeliveryConfig::default()
        }
    }

    /// Where customer-chosen outbound requests may go.
    pub fn outbound_policy(&self) -> OutboundPolicy {
        OutboundPolicy {
            allow_private: self.allow_private_webhooks,
            proxy: self.outbound_proxy.clone(),
        }
    }

    /// The base URL recordings are reached at: `PARLEY_PUBLIC_URL`, else the bind address.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| format!("http://{}", self.bind))
    }

    pub fn speech_settings(&self) -> speech::SpeechSettings {
        speech::SpeechSettings {
            stt_workers: self.stt_workers,
            stt_threads: self.stt_threads,
            stt_min_window_ms: self.stt_min_window_ms,
            tts_workers: self.tts_workers,
        }
    }

    pub fn call_settings(&self) -> calls::CallSettings {
        calls::CallSettings {
            ring_timeout: Duration::from_secs(self.ring_timeout_secs.max(1)),
            max_concurrent_calls: self.max_concurrent_calls.max(1),
            lease: Duration::from_secs(self.job_lease_secs.max(3)),
            recordings_dir: self.data_dir.join("recordings"),
            public_url: self.public_url(),
            endpoint: Duration::from_millis(self.endpoint_ms.clamp(100, 3000)),
            line_watchdog: Duration::from_secs(self.line_watchdog_secs.max(1)),
            outbound: self.outbound_policy(),
            llm: self
                .llm_base_url
                .as_deref()
                .filter(|u| !u.is_empty())
                .map(|u| LlmConfig {
                    base_url: u.to_string(),
                    api_key: self.llm_api_key.clone(),
                    model: self.llm_model.clone(),
                    proxy: self.outbound_proxy.clone(),
                    ..LlmConfig::new(u)
                }),
            caller_id: self.caller_id.clone(),
        }
    }

    /// The template worker pool's settings; the program defaults to this executable.
    pub fn template_worker_config(&self) -> anyhow::Result<parley_automation::template::isolation::WorkerConfig> {
        let program = match &self.template_worker {
            Some(p) => p.clone(),
            None => std::env::current_exe()?,
        };
        Ok(parley_automation::template::isolation::WorkerConfig {
            program,
            workers: self.template_workers.max(1),
            memory_bytes: self.template_memory_mb.max(1) << 20,
            timeout: Duration::from_millis(self.template_timeout_ms.max(10)),
        })
    }

    /// Prepares the data dir (0700, its files 0600), connects, migrates, and installs the key of
    /// secrets at rest after checking it against the database (see [`secret_key::unlock`]).
    pub async fn open_store(&self) -> anyhow::Result<Store> {
        let url = self.database_url();
        data_dir::prepare(&self.data_dir)
            .with_context(|| format!("preparing the data dir {}", self.data_dir.display()))?;
        if let Some(db) = data_dir::sqlite_path(&url) {
            data_dir::prepare_sqlite(&db).with_context(|| format!("creating the database file {}", db.display()))?;
        }
        let mut store = Store::connect(&url, self.db_max_connections).await?;
        store.set_unrouted_calls_to_sandbox(self.unrouted_calls_to_sandbox);
        store.migrate().await?;
        secret_key::unlock(self, &mut store).await?;
        Ok(store)
    }
}

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
    if settings.clock_offset_ms != 0 {
        parley_core::time::set_clock_offset_ms(settings.clock_offset_ms);
    }
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
    let app = parley_api::router(state).merge(network_routes);
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
