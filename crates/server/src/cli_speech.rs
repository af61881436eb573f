//! `parley speech-key …`: a team's keys for cloud speech providers from the command line, as
//! `PUT/GET/DELETE /team/speech_keys` do them. The key is read from standard input only: on the
//! command line it would show in the process list and the shell's history.

use anyhow::Context;
use clap::Subcommand;
use parley_core::speech::{Provider, CLOUD_PROVIDERS};
use parley_core::time::Timestamp;
use parley_store::speech_keys::SpeechKeyInfo;

#[derive(Subcommand)]
pub(crate) enum SpeechKeyCommand {
    /// Set (or replace) a team's key for a provider; the key is the first line of standard
    /// input.
    Set {
        /// The team the key is for.
        #[arg(long, visible_alias = "team-id")]
        team: String,
        /// deepgram, openai, elevenlabs or cartesia.
        #[arg(long)]
        provider: String,
        /// Another server of the provider's (a regional one), ws(s):// or http(s)://.
        #[arg(long)]
        base_url: Option<String>,
    },
    /// List a team's speech keys (provider, last four characters, base URL); never a key.
    List {
        /// The team whose keys to list.
        #[arg(long, visible_alias = "team-id")]
        team: String,
    },
    /// Remove a team's key for a provider (its agents fall back to the embedded engine).
    Delete {
        /// The team whose key to remove.
        #[arg(long, visible_alias = "team-id")]
        team: String,
        /// The provider whose key to remove.
        #[arg(long)]
        provider: String,
    },
}

fn provider(name: &str) -> anyhow::Result<Provider> {
    Provider::parse(&name.to_ascii_lowercase())
        .filter(|p| p.is_cloud())
        .with_context(|| {
            let names: Vec<&str> = CLOUD_PROVIDERS.iter().map(|p| p.as_str()).collect();
            format!("--provider {name:?}: one of {}", names.join(", "))
        })
}

fn line(k: &SpeechKeyInfo) -> String {
    serde_json::json!({
        "provider": k.provider, "hint": k.hint, "base_url": k.base_url, "updated": Timestamp(k.updated),
    })
    .to_string()
}

pub(crate) async fn speech_key_command(store: &parley_store::Store, command: SpeechKeyCommand) -> anyhow::Result<()> {
    match command {
        SpeechKeyCommand::Set {
            team,
            provider: name,
            base_url,
        } => {
            let p = provider(&name)?;
            store.team(&team).await.context("no such team")?;
            if let Some(u) = &base_url {
                let parsed = url::Url::parse(u).with_context(|| format!("--base-url {u:?} is not a URL"))?;
                anyhow::ensure!(
                    matches!(parsed.scheme(), "ws" | "wss" | "http" | "https") && parsed.host_str().is_some(),
                    "--base-url must be a ws(s):// or http(s):// URL with a host"
                );
            }
            let key = crate::secret_from_stdin("API key")?;
            let key = key.trim();
            anyhow::ensure!(
                !key.is_empty() && key.chars().count() <= 500 && !key.chars().any(char::is_control),
                "the API key must be 1 to 500 characters on one line"
            );
            let info = store.set_speech_key(&team, p, key, base_url.as_deref()).await?;
            println!("{}", line(&info));
        }
        SpeechKeyCommand::List { team } => {
            store.team(&team).await.context("no such team")?;
            for k in store.speech_keys(&team).await? {
                println!("{}", line(&k));
            }
        }
        SpeechKeyCommand::Delete { team, provider: name } => {
            let p = provider(&name)?;
            store
                .delete_speech_key(&team, p)
                .await
                .with_context(|| format!("the team has no {} key", p.as_str()))?;
            println!("deleted");
        }
    }
    Ok(())
}
