//! The `parley` command line.

use anyhow::Context;
use clap::{Parser, Subcommand};
use parley_server::secret_key::KeyError;
use parley_server::Settings;
use parley_store::teams::TeamLlm;

mod cli_numbers;
mod cli_speech;
mod cli_users;
use cli_numbers::{number_command, trunk_command, NumberCommand, TrunkCommand};
use cli_speech::{speech_key_command, SpeechKeyCommand};
use cli_users::{user_command, UserCommand};

#[derive(Parser)]
#[command(
    name = "parley",
    version,
    about = "Parley: a self-hosted voice-agent platform with a Thoughtly-compatible API.",
    long_about = "Parley: a self-hosted voice-agent platform with a Thoughtly-compatible API.\n\nEvery setting below can be given as a flag or as its PARLEY_* environment variable."
)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API and the background jobs (the default). On a database without teams, creates
    /// one and prints its team id and API token once.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage teams.
    Team {
        #[command(subcommand)]
        command: TeamCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage dashboard users (sign-in links, passwords, team membership).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage a team's SIP trunks (as `POST /sip_trunk` and `GET /sip_trunk`).
    Trunk {
        #[command(subcommand)]
        command: TrunkCommand,
    },
    /// Manage a team's phone numbers (as `POST /phone_number` and `GET /phone_number`).
    Number {
        #[command(subcommand)]
        command: NumberCommand,
    },
    /// Manage a team's keys for cloud speech providers (as `/team/speech_keys`).
    SpeechKey {
        #[command(subcommand)]
        command: SpeechKeyCommand,
    },
}

#[derive(Subcommand)]
enum TeamCommand {
    /// Create a team and its first API token.
    Create {
        /// The team's name.
        #[arg(long)]
        name: String,
        /// Print `{"team_id": …, "api_token": …}`.
        #[arg(long)]
        json: bool,
    },
    /// Change a team's calling policy.
    Set {
        /// The team to change.
        #[arg(long)]
        team_id: String,
        /// Accept premium-rate and shared-cost numbers.
        #[arg(long, action = clap::ArgAction::Set)]
        allow_premium: Option<bool>,
        /// Calls of the team that may hold a line at once.
        #[arg(long)]
        max_concurrent_calls: Option<i64>,
        /// The team's own OpenAI-compatible endpoint (overrides PARLEY_LLM_BASE_URL); "" clears it.
        #[arg(long)]
        llm_base_url: Option<String>,
        /// API key for the team's endpoint; "" clears it.
        #[arg(long)]
        llm_api_key: Option<String>,
        /// Model for the team's endpoint; "" clears it.
        #[arg(long)]
        llm_model: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create another token for a team.
    Create {
        /// The team the token acts for.
        #[arg(long)]
        team_id: String,
    },
    /// List a team's tokens (their prefixes; secrets are never stored).
    List {
        /// The team whose tokens to list.
        #[arg(long)]
        team_id: String,
    },
    /// Revoke a token by its id.
    Revoke {
        /// The token's id, as `parley token list` prints it.
        token_id: String,
    },
}

fn main() -> anyhow::Result<()> {
    // A template worker (see parley_automation::template::isolation) starts nothing else: no
    // runtime, no threads, so its memory limit measures the template alone.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == parley_automation::template::isolation::WORKER_ARG)
    {
        parley_automation::template::isolation::serve_stdio()?;
        return Ok(());
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let s = cli.settings;
    init_logs(&s);
    let store = s.open_store().await.map_err(|e| {
        // A refused key says all there is to say; anything else is about the database.
        if e.is::<KeyError>() {
            e
        } else {
            e.context(format!("opening the database at {}", redact(&s.database_url())))
        }
    })?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => println!("migrations applied"),
        Command::Team {
            command: TeamCommand::Create { name, json },
        } => {
            let (team, token) = store.create_team(&name).await?;
            if json {
                println!("{}", serde_json::json!({ "team_id": team.id, "api_token": token }));
            } else {
                println!("team_id: {}\napi_token: {token}", team.id);
            }
        }
        Command::Team {
            command:
                TeamCommand::Set {
                    team_id,
                    allow_premium,
                    max_concurrent_calls,
                    llm_base_url,
                    llm_api_key,
                    llm_model,
                },
        } => {
            let team = store.team(&team_id).await.context("no such team")?;
            let allow = allow_premium.unwrap_or(team.allow_premium);
            let max = max_concurrent_calls.unwrap_or(team.max_concurrent_calls);
            anyhow::ensure!(max >= 1, "--max-concurrent-calls must be at least 1");
            store.set_team_limits(&team_id, allow, max).await?;
            let mut llm = team.llm.clone();
            if let Some(url) = llm_base_url {
                llm = (!url.is_empty()).then_some(TeamLlm {
                    base_url: url,
                    api_key: None,
                    model: None,
                });
            }
            if let Some(l) = llm.as_mut() {
                if let Some(k) = llm_api_key {
                    l.api_key = Some(k).filter(|k| !k.is_empty());
                }
                if let Some(m) = llm_model {
                    l.model = Some(m).filter(|m| !m.is_empty());
                }
            }
            if let Some(l) = &llm {
                anyhow::ensure!(
                    l.base_url.starts_with("http://") || l.base_url.starts_with("https://"),
                    "--llm-base-url must be an http(s) URL"
                );
            }
            store.set_team_llm(&team_id, llm.as_ref()).await?;
            println!(
                "{}",
                serde_json::json!({
                    "team_id": team_id, "allow_premium": allow, "max_concurrent_calls": max,
                    "llm_base_url": llm.as_ref().map(|l| &l.base_url),
                    "llm_model": llm.as_ref().and_then(|l| l.model.as_ref()),
                })
            );
        }
        Command::Token { command } => match command {
            TokenCommand::Create { team_id } => {
                let (id, secret) = store.create_token(&team_id).await.context("no such team")?;
                println!("{}", serde_json::json!({ "token_id": id, "api_token": secret }));
            }
            TokenCommand::List { team_id } => {
                for t in store.list_tokens(&team_id).await? {
                    println!(
                        "{}\t{}…\t{}",
                        t.id,
                        t.prefix,
                        if t.revoked.is_some() { "revoked" } else { "active" }
                    );
                }
            }
            TokenCommand::Revoke { token_id } => {
                store.revoke_token(&token_id).await.context("no such active token")?;
                println!("revoked");
            }
        },
        Command::User { command } => user_command(&s, &store, command).await?,
        Command::Trunk { command } => trunk_command(&store, command).await?,
        Command::Number { command } => number_command(&store, command).await?,
        Command::SpeechKey { command } => speech_key_command(&store, command).await?,
        Command::Serve => {
            let created = if store.team_count().await? == 0 {
                let (team, token) = store.create_team("Default team").await?;
                // The first owner signs in through a one-time link; the email is theirs to keep
                // or change later (`parley user reset-password --email …` makes another link).
                let link = store
                    .create_account_link(&s.admin_email, Some(&team.id), parley_core::account::Role::Owner)
                    .await?;
                Some((team, token, link))
            } else {
                None
            };
            let running = parley_server::start(&s, store).await?;
            let url = format!("http://{}", running.addr);
            // The banner is written in one piece and a closed stdout is ignored: a server whose
            // reader went away (`parley serve | head -3`, a supervisor that only waited for the
            // address) must keep serving, not die on the next line it prints.
            let mut banner = String::new();
            if let Some((team, token, _)) = &created {
                banner.push_str("\nCreated the first team. Keep these: the token is not shown again.\n");
                banner.push_str(&format!("  team_id:   {}\n  api_token: {token}\n", team.id));
            }
            banner.push_str(&format!(
                "\nParley listening on {url} (database: {})\n",
                redact(&s.database_url())
            ));
            banner.push_str(&format!("  Dashboard:     {url}/app/\n  API reference: {url}/docs\n"));
            if let Some((_, _, link)) = &created {
                banner.push_str(&format!(
                    "  Sign in once:  {}/app/welcome?token={link}\n                 (sets the password of {}; valid 7 days, one use)\n",
                    s.public_url.as_deref().filter(|u| !u.is_empty()).unwrap_or(&url).trim_end_matches('/'),
                    s.admin_email
                ));
            }
            if let Some((team, token, _)) = &created {
                banner.push_str(&format!(
                    "  Try it:        curl -H 'x-api-token: {token}' -H 'team_id: {}' {url}/contact\n",
                    team.id
                ));
            }
            banner.push_str("Stop with Ctrl-C (or SIGTERM). Logs follow.\n\n");
            {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
            }
            let signal = stop_signal().await?;
            tracing::info!(
                signal,
                grace_secs = s.shutdown_grace_secs,
                "stopping gracefully: finishing requests, calls and jobs in flight"
            );
            // A second signal does not wait for the grace.
            tokio::spawn(async {
                if let Ok(signal) = stop_signal().await {
                    eprintln!("{signal} again: exiting at once");
                    std::process::exit(1);
                }
            });
            running.stop().await;
            tracing::info!("stopped gracefully");
        }
    }
    Ok(())
}

/// The most rows `trunk list` and `number list` print.
pub(crate) const LIST_ALL: i64 = 100_000;

/// The team as the API would see it (for the checks the command line shares with the API).
pub(crate) async fn api_team(store: &parley_store::Store, team_id: &str) -> anyhow::Result<parley_api::auth::Team> {
    let team = store.team(team_id).await.context("no such team")?;
    Ok(parley_api::auth::Team {
        id: team.id,
        allow_premium: team.allow_premium,
        has_llm: team.llm.is_some(),
        member: None,
    })
}

/// The first line of standard input, without its line end (a secret piped in).
pub(crate) fn secret_from_stdin(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .with_context(|| format!("reading the {what} from standard input"))?;
    let secret = line.trim_end_matches(['\r', '\n']).to_string();
    anyhow::ensure!(!secret.is_empty(), "standard input held no {what}");
    Ok(secret)
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM (what `kill`, systemd and container runtimes send),
/// both meaning a graceful stop; returns the signal's name.
async fn stop_signal() -> std::io::Result<&'static str> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map(|()| "SIGINT"),
            _ = term.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map(|()| "Ctrl-C")
    }
}

fn init_logs(s: &Settings) {
    // whisper.cpp and ggml report their model loading (~40 lines) at info level: detail for
    // whoever debugs speech, noise on the first screen. At the default levels they only show
    // warnings; a filter that names `whisper_rs`, or `debug`, shows them all.
    let quiet_whisper = matches!(s.log.trim(), "info" | "warn" | "error");
    let directives = if quiet_whisper {
        format!("{},whisper_rs=warn", s.log.trim())
    } else {
        s.log.clone()
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&directives).unwrap_or_else(|_| "info".into());
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if s.log_format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(p), Some(at)) if at > p => format!("{}://…@{}", &url[..p], &url[at + 1..]),
        _ => url.to_string(),
    }
}
