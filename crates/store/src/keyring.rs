//! The database side of secrets at rest (the sealing itself is [`crate::secrets`]):
//!
//! - the **key check** row (`secret_keys`): the id of the key the database's secrets are sealed
//!   with and a value sealed with it, so a start with a missing or different key is refused at
//!   once, without reading every secret, and never turns into empty or garbled secrets later;
//! - [`Store::unlock`]: installs the key after that check and seals, in place and in the same
//!   transaction, the plaintext that an older version left in the [`SEALED_COLUMNS`];
//! - [`Store::seal`] / [`Store::open_secret`]: what repositories call for each secret column.
//!
//! Several processes on one PostgreSQL database must share one key: the first to start records
//! its key (the `is_current` column is unique, so two first starts cannot both win), and any
//! process with another key is refused with [`SecretError::WrongKey`].

use crate::secrets::{KeyId, Purpose, SecretBox, SecretError, SEALED_PREFIX};
use crate::{now_ms, Result, Store, StoreError};
use sqlx::Row;
use std::sync::Arc;

/// The plaintext the key check value seals.
const CHECK_PLAINTEXT: &str = "parley key check";

/// A column that holds a secret, sealed under its [`Purpose`] and the id of its row.
#[derive(Debug, Clone, Copy)]
pub struct SealedColumn {
    pub table: &'static str,
    pub id_column: &'static str,
    pub column: &'static str,
    pub purpose: Purpose,
}

/// Every secret column. An empty value means "not set" and stays empty; anything else is sealed.
pub const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        table: "teams",
        id_column: "id",
        column: "signing_secret",
        purpose: Purpose::TeamSigningSecret,
    },
    SealedColumn {
        table: "teams",
        id_column: "id",
        column: "llm_api_key",
        purpose: Purpose::TeamLlmApiKey,
    },
    SealedColumn {
        table: "sip_trunks",
        id_column: "id",
        column: "password",
        purpose: Purpose::SipTrunkPassword,
    },
    SealedColumn {
        table: "phone_numbers",
        id_column: "id",
        column: "twilio_auth_token",
        purpose: Purpose::TwilioAuthToken,
    },
    SealedColumn {
        table: "team_speech_keys",
        id_column: "id",
        column: "api_key",
        purpose: Purpose::TeamSpeechKey,
    },
];

/// What [`Store::unlock`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlocked {
    /// The database had no key yet: this key was recorded as its key.
    pub recorded_now: bool,
    /// Plaintext values (left by an older version) sealed now.
    pub sealed_now: u64,
}

impl Store {
    /// The id of the key the database's secrets are sealed with, if one was recorded.
    pub async fn recorded_key_id(&self) -> Result<Option<KeyId>> {
        let row = sqlx::query("SELECT key_id FROM secret_keys WHERE is_current = 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| parse_key_id(&r.try_get::<String, _>("key_id")?))
            .transpose()
    }

    /// Installs the key after checking that it is the database's (recording it if the database
    /// has none yet), and seals every plaintext secret left by an older version, all in one
    /// transaction. Running it again seals nothing more.
    ///
    /// A different key fails with [`SecretError::WrongKey`]; the store then has no key.
    pub async fn unlock(&mut self, secrets: SecretBox) -> Result<Unlocked> {
        let mut w = self.begin_write().await?;
        let check = secrets.seal(Purpose::KeyCheck, secrets.key_id().as_str(), CHECK_PLAINTEXT);
        // Records this key unless the database already has a current key (or knows this one).
        let inserted = sqlx::query(
            "INSERT INTO secret_keys (key_id, is_current, check_value, created) VALUES ($1, 1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(secrets.key_id().as_str())
        .bind(&check)
        .bind(now_ms())
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
        let row = sqlx::query("SELECT key_id, check_value FROM secret_keys WHERE is_current = 1")
            .fetch_optional(&mut *w.tx)
            .await?
            .ok_or_else(|| StoreError::Corrupt("secret_keys has no current key".into()))?;
        let recorded = parse_key_id(&row.try_get::<String, _>("key_id")?)?;
        let wrong = || SecretError::WrongKey {
            recorded: recorded.clone(),
            configured: secrets.key_id().clone(),
        };
        if recorded != *secrets.key_id() {
            return Err(wrong().into());
        }
        let stored: String = row.try_get("check_value")?;
        match secrets.open(Purpose::KeyCheck, recorded.as_str(), &stored) {
            Ok(text) if text == CHECK_PLAINTEXT => {}
            _ => return Err(wrong().into()),
        }
        let mut sealed_now = 0;
        for col in SEALED_COLUMNS {
            sealed_now += seal_plaintext(&mut w.tx, &secrets, col).await?;
        }
        w.commit().await?;
        self.secrets = Some(Arc::new(secrets));
        Ok(Unlocked {
            recorded_now: inserted == 1,
            sealed_now,
        })
    }

    /// The installed key (for repositories of secret columns outside this crate's modules).
    pub fn secrets(&self) -> Result<&SecretBox> {
        Ok(self.secrets.as_deref().ok_or(SecretError::NoKey)?)
    }

    /// Seals a secret for its column (`""`, "not set", stays `""`).
    pub fn seal(&self, purpose: Purpose, row_id: &str, plaintext: &str) -> Result<String> {
        if plaintext.is_empty() {
            return Ok(String::new());
        }
        Ok(self.secrets()?.seal(purpose, row_id, plaintext))
    }

    /// Opens a stored secret (`""` stays `""`). A value that is not sealed is an error, not a
    /// plaintext to trust: [`Store::unlock`] sealed every plaintext value at start.
    pub fn open_secret(&self, purpose: Purpose, row_id: &str, stored: &str) -> Result<String> {
        if stored.is_empty() {
            return Ok(String::new());
        }
        Ok(self.secrets()?.open(purpose, row_id, stored)?)
    }
}

/// Seals, in place, the plaintext values of one column; returns how many. Each update only
/// applies if the value is still the plaintext read, so two processes starting at once on
/// PostgreSQL never seal a value twice.
async fn seal_plaintext(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    secrets: &SecretBox,
    col: &SealedColumn,
) -> Result<u64> {
    let SealedColumn {
        table,
        id_column: id,
        column,
        purpose,
    } = *col;
    let rows = sqlx::query(&format!(
        "SELECT {id} AS id, {column} AS value FROM {table} \
         WHERE {column} <> '' AND substr({column}, 1, {}) <> '{SEALED_PREFIX}'",
        SEALED_PREFIX.len()
    ))
    .fetch_all(&mut **tx)
    .await?;
    let mut n = 0;
    for r in rows {
        let row_id: String = r.try_get("id")?;
        let plain: String = r.try_get("value")?;
        let sealed = secrets.seal(purpose, &row_id, &plain);
        n += sqlx::query(&format!(
            "UPDATE {table} SET {column} = $1 WHERE {id} = $2 AND {column} = $3"
        ))
        .bind(sealed)
        .bind(&row_id)
        .bind(&plain)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    Ok(n)
}

fn parse_key_id(s: &str) -> Result<KeyId> {
    KeyId::parse(s).ok_or_else(|| StoreError::Corrupt(format!("secret_keys holds a malformed key id {s:?}")))
}
