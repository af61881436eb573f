//! The key of secrets at rest: where it comes from, and the check at start.
//!
//! The key is `PARLEY_SECRET_KEY` (base64 of 32 bytes) or the key file (`PARLEY_SECRET_KEY_FILE`,
//! by default `<data dir>/secret.key`). When neither exists and the database has no key yet, a
//! new key is written to the key file (0600). When the database already has a key, a missing
//! key file is an error, never a new key: a new key could not open the existing secrets, and
//! starting anyway would turn every webhook signature and LLM key into garbage. A configured key
//! that is not the database's is refused the same way, by the store's key check.

use crate::data_dir;
use crate::Settings;
use anyhow::Context;
use parley_store::secrets::{KeyId, SecretBox, SecretError, SecretKey};
use parley_store::{Store, StoreError};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use zeroize::Zeroizing;

/// `PARLEY_SECRET_KEY` as given: kept out of `Debug` output, wiped on drop, and parsed (with a
/// message that does not echo it) only when the key is loaded.
#[derive(Clone)]
pub struct KeyText(Zeroizing<String>);

impl FromStr for KeyText {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<KeyText, Self::Err> {
        Ok(KeyText(Zeroizing::new(s.to_string())))
    }
}

impl fmt::Debug for KeyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyText(<redacted>)")
    }
}

/// Why Parley refuses to start for its key; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The variable or the key file does not hold a key.
    #[error("{origin} is {reason}")]
    Malformed { origin: KeySource, reason: SecretError },
    /// The database has a key, and none is configured (the key file is lost).
    #[error(
        "the database's secrets are encrypted with key {recorded}, and no key is configured: PARLEY_SECRET_KEY is \
         not set and the key file {} does not exist. Restore the key file from your backup, or set \
         PARLEY_SECRET_KEY (or PARLEY_SECRET_KEY_FILE) to the key with id {recorded}. Parley does not make a new \
         key here: it could not decrypt the existing secrets.",
        .path.display()
    )]
    Missing { recorded: KeyId, path: PathBuf },
    /// The configured key is not the database's.
    #[error(
        "the database's secrets are encrypted with key {recorded}, but the configured key ({origin}) is key \
         {configured}. Start Parley with the database's key: set PARLEY_SECRET_KEY or PARLEY_SECRET_KEY_FILE to \
         it, or restore the key file from your backup. Processes sharing one PostgreSQL database must share one key."
    )]
    Wrong {
        recorded: KeyId,
        configured: KeyId,
        origin: KeySource,
    },
}

/// Where the key in use came from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(PathBuf),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Env => f.write_str("PARLEY_SECRET_KEY"),
            KeySource::File(p) => write!(f, "the key file {}", p.display()),
        }
    }
}

impl Settings {
    /// The key file: `PARLEY_SECRET_KEY_FILE`, else `secret.key` in the data dir.
    pub fn secret_key_path(&self) -> PathBuf {
        self.secret_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secret.key"))
    }
}

/// Loads (or, for a database without a key, creates) the key, checks it against the database,
/// and installs it in the store, which then seals any plaintext secret left by an older version.
pub async fn unlock(settings: &Settings, store: &mut Store) -> anyhow::Result<()> {
    let recorded = store.recorded_key_id().await?;
    let (key, source) = load_or_create(settings, recorded.as_ref())?;
    match store.unlock(SecretBox::new(key)).await {
        Ok(done) => {
            let key_id = store.secrets()?.key_id();
            if done.recorded_now {
                tracing::info!(%key_id, %source, "secrets at rest: this key is now the database's");
            }
            if done.sealed_now > 0 {
                tracing::warn!(
                    count = done.sealed_now,
                    "secrets at rest: encrypted the plaintext secrets an older version left"
                );
            }
            Ok(())
        }
        Err(StoreError::Secret(SecretError::WrongKey { recorded, configured })) => Err(KeyError::Wrong {
            recorded,
            configured,
            origin: source,
        }
        .into()),
        Err(e) => Err(e.into()),
    }
}

/// The configured key, or a new one in the key file when the database has none yet.
fn load_or_create(settings: &Settings, recorded: Option<&KeyId>) -> anyhow::Result<(SecretKey, KeySource)> {
    if let Some(KeyText(text)) = &settings.secret_key {
        let key = SecretKey::from_base64(text).map_err(|reason| KeyError::Malformed {
            origin: KeySource::Env,
            reason,
        })?;
        return Ok((key, KeySource::Env));
    }
    let path = settings.secret_key_path();
    if let Some(key) = read_key_file(&path)? {
        return Ok((key, KeySource::File(path)));
    }
    if let Some(recorded) = recorded {
        return Err(KeyError::Missing {
            recorded: recorded.clone(),
            path,
        }
        .into());
    }
    let key = SecretKey::generate();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        data_dir::private_dir(parent)
            .with_context(|| format!("creating the folder of the key file {}", path.display()))?;
    }
    let mut text = key.to_base64().to_string();
    text.push('\n');
    match data_dir::write_new_private_file(&path, text.as_bytes()) {
        Ok(()) => {
            tracing::warn!(
                path = %path.display(),
                key_id = %key.id(),
                "created a new secret key: back this file up; without it the database's secrets cannot be decrypted"
            );
            Ok((key, KeySource::File(path)))
        }
        // Another process sharing the key file created it first: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let key = read_key_file(&path)?.context("the key file vanished while starting")?;
            Ok((key, KeySource::File(path)))
        }
        Err(e) => Err(e).with_context(|| format!("creating the key file {}", path.display())),
    }
}

/// The key in a key file; `None` if the file does not exist. A file readable by others is
/// tightened to 0600 (a failure to, on a read-only mount, is only logged).
fn read_key_file(path: &Path) -> anyhow::Result<Option<SecretKey>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => Zeroizing::new(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading the key file {}", path.display())),
    };
    if let Err(e) = data_dir::tighten_file(path) {
        tracing::warn!(path = %path.display(), error = %e, "could not make the key file 0600");
    }
    let key = SecretKey::from_base64(&text).map_err(|reason| KeyError::Malformed {
        origin: KeySource::File(path.to_path_buf()),
        reason,
    })?;
    Ok(Some(key))
}
