//! The server's settings: every `PARLEY_*` variable (or `--flag`) as one struct, and what each
//! layer's configuration is made of them.

use super::*;
use parley_voice::vad::VadKind;

use parley_speech::turn::TurnWaits;
use parley_voice::pipeline::{TurnConfig, TurnRule};

pub(crate) const DEFAULT_SIP_BIND: &str = "127.0.0.1:5060";

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
    /// Email of the dashboard's first owner, created with the first team (who signs in through
    /// the one-time link printed at that first start).
    #[arg(long, env = "PARLEY_ADMIN_EMAIL", default_value = "owner@parley.local")]
    pub admin_email: String,
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

    /// CPU threads of a speech-to-text job that starts while no other one runs (capped at the
    /// machine's cores). 1 (the default) turns this off: in a call, two threads measured ~4x
    /// slower than one (the call's own media ticks preempt ggml's spinning workers; bench/README.md).
    #[arg(long, env = "PARLEY_STT_IDLE_THREADS", default_value_t = 1)]
    pub stt_idle_threads: usize,

    /// Smallest Whisper encoder window (ms of audio): shorter is faster on short answers,
    /// longer is more robust (see bench/README.md for the measured trade-off).
    #[arg(long, env = "PARLEY_STT_MIN_WINDOW_MS", default_value_t = 2560)]
    pub stt_min_window_ms: u32,

    /// The Whisper model of English calls: `tiny-en` (English-only, 44 MB; as accurate as base on
    /// phone audio in bench/stt_wer.sh, at 45 % of its CPU: one call's turn p50 323 ms against
    /// 460 with base in one bench/turn_latency run) or `base` (the multilingual model, which
    /// every other language uses). Without tiny.en installed, English uses base.
    #[arg(long, env = "PARLEY_STT_ENGLISH_MODEL", value_enum, default_value_t = EnglishModel::TinyEn)]
    pub stt_english_model: EnglishModel,

    /// Text-to-speech syntheses at once.
    #[arg(long, env = "PARLEY_TTS_WORKERS", default_value_t = 2)]
    pub tts_workers: usize,

    /// Voice activity detector of calls: `silero` (a neural network that tells a cough or a door
    /// from speech; ~0.1 ms of CPU per call per 32 ms) or `webrtc` (cheaper; fooled by any loud
    /// burst, which its barge-in gate then has to catch by pitch, at some delay). Both run the
    /// barge-in gate, so a voice 10-20 dB behind the caller does not stop the agent. Measured by
    /// bench/barge_in.sh. Without the Silero model, calls use webrtc (with a warning).
    #[arg(long, env = "PARLEY_VAD", default_value_t = VadKind::Silero)]
    pub vad: VadKind,

    /// How the caller's turn is judged over: `transcript` (wait by how the words so far end:
    /// the PARLEY_TURN_*_MS waits) or `window` (a fixed silence, PARLEY_ENDPOINT_MS, stretched to
    /// the ceiling when the words end mid-phrase). Measured in bench/README.md (turn_eval).
    #[arg(long, env = "PARLEY_TURN_RULE", value_enum, default_value_t = TurnRuleSetting::Transcript)]
    pub turn_rule: TurnRuleSetting,

    /// Caller silence (ms) that ends the caller's turn with PARLEY_TURN_RULE=window.
    #[arg(long, env = "PARLEY_ENDPOINT_MS", default_value_t = 400)]
    pub endpoint_ms: u64,

    /// Caller quiet (ms) after which speech-to-text starts, before the turn's silence is
    /// certain (120 ms): the text is in sooner, at the cost of decodes thrown away when the
    /// caller goes on and of more sentences cut at a comma. 0 (the default): at the VAD's
    /// stop. Measured in bench/README.md (turn_latency).
    #[arg(long, env = "PARLEY_STT_EARLY_MS", default_value_t = TurnConfig::DEFAULT_EARLY_STT.as_millis() as u64)]
    pub stt_early_ms: u64,

    /// The shortest silence (ms) that ends the callee's first words on an outbound call screened
    /// for an answering machine: a machine's greeting pauses between sentences and must stay one
    /// utterance to be told from a person's "Hello?" (answered this much later, once per call).
    #[arg(long, env = "PARLEY_SCREENING_WAIT_MS", default_value_t = TurnConfig::DEFAULT_SCREENING_WAIT.as_millis() as u64)]
    pub screening_wait_ms: u64,

    /// How soon (ms) after the end of a turn the caller may go on with the same utterance: the
    /// agent's reply, not yet heard out, is dropped and it answers both parts as one. 0: never.
    #[arg(long, env = "PARLEY_CONTINUE_MS", default_value_t = TurnConfig::DEFAULT_CONTINUE_WINDOW.as_millis() as u64)]
    pub continue_ms: u64,

    /// Transcript rule: silence (ms) that ends the turn after words that look complete.
    #[arg(long, env = "PARLEY_TURN_COMPLETE_MS", default_value_t = TurnConfig::DEFAULT_WAITS.complete_ms)]
    pub turn_complete_ms: u32,

    /// Transcript rule: silence (ms) that ends the turn after a number (digits come in groups).
    #[arg(long, env = "PARLEY_TURN_NUMBER_MS", default_value_t = TurnConfig::DEFAULT_WAITS.number_ms)]
    pub turn_number_ms: u32,

    /// Transcript rule: silence (ms) that ends the turn after words that end mid-phrase.
    #[arg(long, env = "PARLEY_TURN_OPEN_MS", default_value_t = TurnConfig::DEFAULT_WAITS.open_ms)]
    pub turn_open_ms: u32,

    /// The longest silence (ms) before the caller's turn ends, whatever the rule and the words.
    #[arg(long, env = "PARLEY_TURN_CEILING_MS", default_value_t = TurnConfig::DEFAULT_WAITS.open_ms as u64)]
    pub turn_ceiling_ms: u64,

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

/// `PARLEY_STT_ENGLISH_MODEL`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EnglishModel {
    /// Whisper tiny.en (`models/whisper/ggml-tiny.en-q8_0.bin`).
    TinyEn,
    /// Whisper base, the multilingual model.
    Base,
}

/// `PARLEY_TURN_RULE`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TurnRuleSetting {
    /// Wait by how the transcript so far ends.
    Transcript,
    /// A fixed silence window.
    Window,
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
            secure_cookies: self.public_url().starts_with("https://"),
            public_url: self.public_url(),
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

    /// The endpointer's settings (every wait within 50 ms..5 s, the ceiling the longest).
    pub fn turn_config(&self) -> TurnConfig {
        let ms = |v: u64| v.clamp(50, 5000);
        let ceiling = ms(self.turn_ceiling_ms);
        TurnConfig {
            rule: match self.turn_rule {
                TurnRuleSetting::Transcript => TurnRule::Transcript(TurnWaits {
                    complete_ms: ms(self.turn_complete_ms.into()) as u32,
                    number_ms: ms(self.turn_number_ms.into()) as u32,
                    open_ms: ms(self.turn_open_ms.into()) as u32,
                }),
                TurnRuleSetting::Window => TurnRule::Window,
            },
            window: Duration::from_millis(ms(self.endpoint_ms)),
            ceiling: Duration::from_millis(ceiling),
            early_stt: Duration::from_millis(self.stt_early_ms.min(1000)),
            screening_wait: Duration::from_millis(ms(self.screening_wait_ms)),
            continue_window: Duration::from_millis(self.continue_ms.min(3000)),
        }
    }

    pub fn speech_settings(&self) -> speech::SpeechSettings {
        speech::SpeechSettings {
            stt_workers: self.stt_workers,
            stt_threads: self.stt_threads,
            stt_idle_threads: self.stt_idle_threads,
            stt_min_window_ms: self.stt_min_window_ms,
            stt_english_tiny: self.stt_english_model == EnglishModel::TinyEn,
            tts_workers: self.tts_workers,
            vad: self.vad,
        }
    }

    pub fn call_settings(&self) -> calls::CallSettings {
        calls::CallSettings {
            ring_timeout: Duration::from_secs(self.ring_timeout_secs.max(1)),
            max_concurrent_calls: self.max_concurrent_calls.max(1),
            lease: Duration::from_secs(self.job_lease_secs.max(3)),
            recordings_dir: self.data_dir.join("recordings"),
            public_url: self.public_url(),
            turn: self.turn_config(),
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
