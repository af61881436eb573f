//! A team's SIP trunks and phone numbers (API.md, "Phone numbers and SIP trunks").
//!
//! - Team side (the API): CRUD scoped to the team, where another team's id is NotFound. These
//!   reads never open a secret: a [`SipTrunk`] says `has_password`, a [`PhoneNumber`]'s Twilio
//!   account carries an empty `auth_token`.
//! - Worker side (the call runner, the SIP network): [`Store::number_by_e164`],
//!   [`Store::outbound_number`], [`Store::sip_trunk_for_worker`], [`Store::all_sip_trunks`]; no
//!   team scoping, secrets opened.
//! - Routing of new outbound calls: [`Store::outbound_numbers`] (the team's side of
//!   [`OutboundNumbers::route`]).
//!
//! Rules kept here, in the transaction that writes:
//! - a number is unique across the server (the `UNIQUE` column; a taken number is a Conflict that
//!   names the number and not the team that has it);
//! - a trunk a number uses cannot be deleted (Conflict naming the numbers). Writers of a number
//!   and the deleter of its trunk both take the trunk's row lock first (a no-op `UPDATE`), so on
//!   PostgreSQL a number cannot slip onto a trunk being deleted;
//! - at most one `default_outbound` number per team: setting it clears the others in the same
//!   transaction (and a partial unique index refuses two at once).
//!
//! Secrets are sealed under their own [`Purpose`] bound to the row's id, as every secret column.

mod routing;

use crate::secrets::Purpose;
use crate::{found, now_ms, Result, Store, StoreError};
use parley_core::number::{
    CallRoute, NetworkKind, OutboundNumbers, PhoneNumber, SipTransport, SipTrunk, TwilioAccount,
};
use parley_core::time::Timestamp;
use parley_core::ValidationError;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use uuid::Uuid;

/// What to do with a write-only secret on an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretChange {
    Keep,
    Clear,
    Set(String),
}

/// A trunk as written (validated by the caller).
#[derive(Debug, Clone)]
pub struct TrunkWrite {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub transport: SipTransport,
    pub username: Option<String>,
    pub password: SecretChange,
    pub from_domain: Option<String>,
    pub inbound_addresses: Vec<String>,
    pub max_concurrent_calls: Option<i64>,
}

/// A number as written (validated by the caller, but for the trunk, which is checked here).
#[derive(Debug, Clone)]
pub struct NumberWrite {
    /// E.164.
    pub phone_number: String,
    pub network: NetworkKind,
    /// Network `sip` only.
    pub sip_trunk_id: Option<Uuid>,
    /// Network `twilio` only: the account SID and its auth token.
    pub twilio: Option<(String, SecretChange)>,
    pub inbound_interview_id: Option<String>,
    pub label: Option<String>,
    pub default_outbound: bool,
}

const TRUNK_COLUMNS: &str = "id, team_id, name, host, port, transport, username, password, from_domain, \
     inbound_addresses, max_concurrent_calls, version, created, updated";
const NUMBER_COLUMNS: &str = "id, team_id, phone_number, network, sip_trunk_id, twilio_account_sid, \
     twilio_auth_token, inbound_interview_id, label, default_outbound, version, created, updated";

fn some(s: String) -> Option<String> {
    Some(s).filter(|s| !s.is_empty())
}

fn uuid_of(r: &AnyRow, col: &str) -> Result<Uuid> {
    let s: String = r.try_get(col)?;
    Uuid::parse_str(&s).map_err(|_| StoreError::Corrupt(format!("{col} {s:?} is not a UUID")))
}

/// A trunk from its row; `open` opens the password (worker side), otherwise it stays `None`.
fn trunk_from_row(r: &AnyRow, open: Option<&Store>) -> Result<SipTrunk> {
    let id = uuid_of(r, "id")?;
    let sealed: String = r.try_get("password")?;
    let transport: String = r.try_get("transport")?;
    let port: i64 = r.try_get("port")?;
    let password = match open {
        Some(store) => some(store.open_secret(Purpose::SipTrunkPassword, &id.to_string(), &sealed)?),
        None => None,
    };
    Ok(SipTrunk {
        id,
        created: Timestamp(r.try_get("created")?),
        updated: Timestamp(r.try_get("updated")?),
        version: r.try_get("version")?,
        name: r.try_get("name")?,
        host: r.try_get("host")?,
        port: u16::try_from(port).map_err(|_| StoreError::Corrupt(format!("trunk port {port}")))?,
        transport: SipTransport::parse(&transport)
            .ok_or_else(|| StoreError::Corrupt(format!("trunk transport {transport:?}")))?,
        username: some(r.try_get("username")?),
        password,
        has_password: !sealed.is_empty(),
        from_domain: some(r.try_get("from_domain")?),
        inbound_addresses: serde_json::from_str(&r.try_get::<String, _>("inbound_addresses")?)?,
        max_concurrent_calls: r.try_get("max_concurrent_calls")?,
    })
}

/// A number from its row; `open` opens the Twilio auth token (worker side), otherwise it is "".
fn number_from_row(r: &AnyRow, open: Option<&Store>) -> Result<PhoneNumber> {
    let id = uuid_of(r, "id")?;
    let network: String = r.try_get("network")?;
    let sid: String = r.try_get("twilio_account_sid")?;
    let trunk: Option<String> = r.try_get("sip_trunk_id")?;
    let twilio = if sid.is_empty() {
        None
    } else {
        let sealed: String = r.try_get("twilio_auth_token")?;
        let auth_token = match open {
            Some(store) => store.open_secret(Purpose::TwilioAuthToken, &id.to_string(), &sealed)?,
            None => String::new(),
        };
        Some(TwilioAccount {
            account_sid: sid,
            auth_token,
        })
    };
    Ok(PhoneNumber {
        id,
        created: Timestamp(r.try_get("created")?),
        updated: Timestamp(r.try_get("updated")?),
        version: r.try_get("version")?,
        phone_number: r.try_get("phone_number")?,
        network: NetworkKind::parse(&network)
            .ok_or_else(|| StoreError::Corrupt(format!("phone number network {network:?}")))?,
        sip_trunk_id: trunk
            .filter(|t| !t.is_empty())
            .map(|t| Uuid::parse_str(&t).map_err(|_| StoreError::Corrupt(format!("sip_trunk_id {t:?}"))))
            .transpose()?,
        twilio,
        inbound_interview_id: some(r.try_get("inbound_interview_id")?),
        label: some(r.try_get("label")?),
        default_outbound: r.try_get::<i64, _>("default_outbound")? != 0,
    })
}

/// A uniqueness error of the database (a write that raced another) as a Conflict.
fn unique_to_conflict(e: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what()),
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            StoreError::Conflict("the SIP trunk changed meanwhile (deleted?); try again".into())
        }
        _ => e.into(),
    }
}

fn taken(e164: &str) -> String {
    format!("phone_number: {e164} is already registered on this server")
}

/// Takes the row lock of one of the team's trunks (a no-op update), so that a concurrent delete of
/// the trunk waits for this transaction; `false` if the team has no such trunk.
async fn lock_trunk(tx: &mut Transaction<'static, Any>, team_id: &str, id: Uuid) -> Result<bool> {
    let r = sqlx::query("UPDATE sip_trunks SET version = version WHERE team_id = $1 AND id = $2")
        .bind(team_id)
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

impl Store {
    // ---- SIP trunks, team side ----

    pub async fn create_sip_trunk(&self, team_id: &str, t: &TrunkWrite) -> Result<SipTrunk> {
        let id = parley_core::ids::new_row_id(); // time-ordered: "oldest first" holds within a millisecond
        let password = match &t.password {
            SecretChange::Set(p) => self.seal(Purpose::SipTrunkPassword, &id.to_string(), p)?,
            SecretChange::Keep | SecretChange::Clear => String::new(),
        };
        let now = now_ms();
        let mut w = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sip_trunks (id, team_id, name, host, port, transport, username, password, from_domain, \
             inbound_addresses, max_concurrent_calls, version, created, updated) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $12)",
        )
        .bind(id.to_string())
        .bind(team_id)
        .bind(&t.name)
        .bind(&t.host)
        .bind(i64::from(t.port))
        .bind(t.transport.as_str())
        .bind(t.username.as_deref().unwrap_or(""))
        .bind(&password)
        .bind(t.from_domain.as_deref().unwrap_or(""))
        .bind(serde_json::to_string(&t.inbound_addresses)?)
        .bind(t.max_concurrent_calls)
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        self.sip_trunk(team_id, id).await
    }

    /// Replaces a trunk's fields (the password as `t.password` says).
    pub async fn update_sip_trunk(&self, team_id: &str, id: Uuid, t: &TrunkWrite) -> Result<SipTrunk> {
        let mut w = self.begin_write().await?;
        let r = sqlx::query("SELECT password FROM sip_trunks WHERE team_id = $1 AND id = $2")
            .bind(team_id)
            .bind(id.to_string())
            .fetch_optional(&mut *w.tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let password = match &t.password {
            SecretChange::Keep => r.try_get::<String, _>("password")?,
            SecretChange::Clear => String::new(),
            SecretChange::Set(p) => self.seal(Purpose::SipTrunkPassword, &id.to_string(), p)?,
        };
        let r = sqlx::query(
            "UPDATE sip_trunks SET name = $1, host = $2, port = $3, transport = $4, username = $5, password = $6, \
             from_domain = $7, inbound_addresses = $8, max_concurrent_calls = $9, version = version + 1, updated = $10 \
             WHERE team_id = $11 AND id = $12",
        )
        .bind(&t.name)
        .bind(&t.host)
        .bind(i64::from(t.port))
        .bind(t.transport.as_str())
        .bind(t.username.as_deref().unwrap_or(""))
        .bind(&password)
        .bind(t.from_domain.as_deref().unwrap_or(""))
        .bind(serde_json::to_string(&t.inbound_addresses)?)
        .bind(t.max_concurrent_calls)
        .bind(now_ms())
        .bind(team_id)
        .bind(id.to_string())
        .execute(&mut *w.tx)
        .await?;
        found(r.rows_affected())?;
        w.commit().await?;
        self.sip_trunk(team_id, id).await
    }

    /// One of the team's trunks (password not opened: `has_password` says whether one is set).
    pub async fn sip_trunk(&self, team_id: &str, id: Uuid) -> Result<SipTrunk> {
        trunk_from_row(&self.team_row(TRUNKS, team_id, id).await?, None)
    }

    /// A page of the team's trunks, oldest first, with how many the team has.
    pub async fn list_sip_trunks(&self, team_id: &str, page: i64, limit: i64) -> Result<(Vec<SipTrunk>, i64)> {
        let (rows, total) = self.team_page(TRUNKS, team_id, page, limit).await?;
        let trunks = rows.iter().map(|r| trunk_from_row(r, None)).collect::<Result<_>>()?;
        Ok((trunks, total))
    }

    /// Deletes one of the team's trunks; Conflict, naming the numbers, while a number uses it.
    pub async fn delete_sip_trunk(&self, team_id: &str, id: Uuid) -> Result<()> {
        let mut w = self.begin_write().await?;
        if !lock_trunk(&mut w.tx, team_id, id).await? {
            return Err(StoreError::NotFound);
        }
        let used: Vec<String> =
            sqlx::query("SELECT phone_number FROM phone_numbers WHERE sip_trunk_id = $1 ORDER BY phone_number")
                .bind(id.to_string())
                .fetch_all(&mut *w.tx)
                .await?
                .iter()
                .map(|r| r.try_get("phone_number"))
                .collect::<std::result::Result<_, _>>()?;
        if !used.is_empty() {
            let shown: Vec<&str> = used.iter().take(10).map(String::as_str).collect();
            return Err(StoreError::Conflict(format!(
                "the SIP trunk is in use by the phone number{} {}{}; move {} to another trunk or delete {} first",
                if used.len() == 1 { "" } else { "s" },
                shown.join(", "),
                if used.len() > shown.len() {
                    format!(" and {} more", used.len() - shown.len())
                } else {
                    String::new()
                },
                if used.len() == 1 { "it" } else { "them" },
                if used.len() == 1 { "it" } else { "them" },
            )));
        }
        let r = sqlx::query("DELETE FROM sip_trunks WHERE team_id = $1 AND id = $2")
            .bind(team_id)
            .bind(id.to_string())
            .execute(&mut *w.tx)
            .await
            .map_err(|e| unique_to_conflict(e, String::new))?;
        found(r.rows_affected())?;
        w.commit().await
    }

    // ---- Phone numbers, team side ----

    /// Registers a number for the team. Conflict if the number is registered (by any team);
    /// Invalid (`sip_trunk_id`) if the trunk is not the team's.
    pub async fn create_phone_number(&self, team_id: &str, n: &NumberWrite) -> Result<PhoneNumber> {
        let id = parley_core::ids::new_row_id(); // time-ordered, as trunks
        let (sid, token) = match &n.twilio {
            Some((sid, SecretChange::Set(t))) => {
                (sid.as_str(), self.seal(Purpose::TwilioAuthToken, &id.to_string(), t)?)
            }
            Some((sid, _)) => (sid.as_str(), String::new()),
            None => ("", String::new()),
        };
        let now = now_ms();
        let mut w = self.begin_write().await?;
        self.check_number_write(&mut w.tx, team_id, None, n).await?;
        if n.default_outbound {
            clear_default(&mut w.tx, team_id, id, now).await?;
        }
        sqlx::query(
            "INSERT INTO phone_numbers (id, team_id, phone_number, network, sip_trunk_id, twilio_account_sid, \
             twilio_auth_token, inbound_interview_id, label, default_outbound, version, created, updated) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11)",
        )
        .bind(id.to_string())
        .bind(team_id)
        .bind(&n.phone_number)
        .bind(n.network.as_str())
        .bind(n.sip_trunk_id.map(|t| t.to_string()))
        .bind(sid)
        .bind(&token)
        .bind(n.inbound_interview_id.as_deref().unwrap_or(""))
        .bind(n.label.as_deref().unwrap_or(""))
        .bind(i64::from(n.default_outbound))
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .map_err(|e| unique_to_conflict(e, || taken(&n.phone_number)))?;
        w.tx.commit()
            .await
            .map_err(|e| unique_to_conflict(e, || taken(&n.phone_number)))?;
        self.phone_number(team_id, id).await
    }

    /// Replaces one of the team's numbers (the Twilio auth token as `n.twilio` says).
    pub async fn update_phone_number(&self, team_id: &str, id: Uuid, n: &NumberWrite) -> Result<PhoneNumber> {
        let now = now_ms();
        let mut w = self.begin_write().await?;
        let old = sqlx::query("SELECT twilio_auth_token FROM phone_numbers WHERE team_id = $1 AND id = $2")
            .bind(team_id)
            .bind(id.to_string())
            .fetch_optional(&mut *w.tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let (sid, token) = match &n.twilio {
            Some((sid, SecretChange::Set(t))) => {
                (sid.as_str(), self.seal(Purpose::TwilioAuthToken, &id.to_string(), t)?)
            }
            Some((sid, SecretChange::Keep)) => (sid.as_str(), old.try_get::<String, _>("twilio_auth_token")?),
            Some((sid, SecretChange::Clear)) => (sid.as_str(), String::new()),
            None => ("", String::new()),
        };
        self.check_number_write(&mut w.tx, team_id, Some(id), n).await?;
        if n.default_outbound {
            clear_default(&mut w.tx, team_id, id, now).await?;
        }
        let r = sqlx::query(
            "UPDATE phone_numbers SET phone_number = $1, network = $2, sip_trunk_id = $3, twilio_account_sid = $4, \
             twilio_auth_token = $5, inbound_interview_id = $6, label = $7, default_outbound = $8, \
             version = version + 1, updated = $9 WHERE team_id = $10 AND id = $11",
        )
        .bind(&n.phone_number)
        .bind(n.network.as_str())
        .bind(n.sip_trunk_id.map(|t| t.to_string()))
        .bind(sid)
        .bind(&token)
        .bind(n.inbound_interview_id.as_deref().unwrap_or(""))
        .bind(n.label.as_deref().unwrap_or(""))
        .bind(i64::from(n.default_outbound))
        .bind(now)
        .bind(team_id)
        .bind(id.to_string())
        .execute(&mut *w.tx)
        .await
        .map_err(|e| unique_to_conflict(e, || taken(&n.phone_number)))?;
        found(r.rows_affected())?;
        w.tx.commit()
            .await
            .map_err(|e| unique_to_conflict(e, || taken(&n.phone_number)))?;
        self.phone_number(team_id, id).await
    }

    /// What a write of a number must find in the database: its trunk is the team's (locked
    /// until commit), and the number is nobody else's.
    async fn check_number_write(
        &self,
        tx: &mut Transaction<'static, Any>,
        team_id: &str,
        id: Option<Uuid>,
        n: &NumberWrite,
    ) -> Result<()> {
        if let Some(trunk) = n.sip_trunk_id {
            if !lock_trunk(tx, team_id, trunk).await? {
                return Err(StoreError::Invalid(
                    ValidationError::new("sip_trunk_id", "SIP trunk not found (GET /sip_trunk lists the team's)")
                        .with_code("sip_trunk_not_found"),
                ));
            }
        }
        let other = sqlx::query("SELECT id FROM phone_numbers WHERE phone_number = $1")
            .bind(&n.phone_number)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(r) = other {
            let other_id: String = r.try_get("id")?;
            if id.is_none_or(|id| id.to_string() != other_id) {
                return Err(StoreError::Conflict(taken(&n.phone_number)));
            }
        }
        Ok(())
    }

    /// One of the team's numbers (the Twilio auth token not opened).
    pub async fn phone_number(&self, team_id: &str, id: Uuid) -> Result<PhoneNumber> {
        number_from_row(&self.team_row(NUMBERS, team_id, id).await?, None)
    }

    /// A page of the team's numbers, oldest first, with how many the team has.
    pub async fn list_phone_numbers(&self, team_id: &str, page: i64, limit: i64) -> Result<(Vec<PhoneNumber>, i64)> {
        let (rows, total) = self.team_page(NUMBERS, team_id, page, limit).await?;
        let numbers = rows.iter().map(|r| number_from_row(r, None)).collect::<Result<_>>()?;
        Ok((numbers, total))
    }

    pub async fn delete_phone_number(&self, team_id: &str, id: Uuid) -> Result<()> {
        let mut w = self.begin_write().await?;
        let r = sqlx::query("DELETE FROM phone_numbers WHERE team_id = $1 AND id = $2")
            .bind(team_id)
            .bind(id.to_string())
            .execute(&mut *w.tx)
            .await?;
        found(r.rows_affected())?;
        w.commit().await
    }

    /// One of the team's numbers by its E.164 form (secrets not opened).
    pub async fn team_phone_number(&self, team_id: &str, e164: &str) -> Result<Option<PhoneNumber>> {
        sqlx::query(&format!(
            "SELECT {NUMBER_COLUMNS} FROM phone_numbers WHERE team_id = $1 AND phone_number = $2"
        ))
        .bind(team_id)
        .bind(e164)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| number_from_row(&r, None))
        .transpose()
    }
}

/// A table of team rows and the columns read from it (constants, never input).
struct Table {
    name: &'static str,
    columns: &'static str,
}

const TRUNKS: Table = Table {
    name: "sip_trunks",
    columns: TRUNK_COLUMNS,
};
const NUMBERS: Table = Table {
    name: "phone_numbers",
    columns: NUMBER_COLUMNS,
};

impl Store {
    /// One of the team's rows of `t`; NotFound for another team's id.
    async fn team_row(&self, t: Table, team_id: &str, id: Uuid) -> Result<AnyRow> {
        sqlx::query(&format!(
            "SELECT {} FROM {} WHERE team_id = $1 AND id = $2",
            t.columns, t.name
        ))
        .bind(team_id)
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    /// A page of the team's rows of `t`, oldest first, with how many the team has.
    async fn team_page(&self, t: Table, team_id: &str, page: i64, limit: i64) -> Result<(Vec<AnyRow>, i64)> {
        let total: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {} WHERE team_id = $1", t.name))
            .bind(team_id)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        let rows = sqlx::query(&format!(
            "SELECT {} FROM {} WHERE team_id = $1 ORDER BY created, id LIMIT {limit} OFFSET {}",
            t.columns,
            t.name,
            page * limit
        ))
        .bind(team_id)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows, total))
    }
}

/// Clears the team's default outbound number unless it is `except` (the number about to be set).
async fn clear_default(tx: &mut Transaction<'static, Any>, team_id: &str, except: Uuid, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE phone_numbers SET default_outbound = 0, version = version + 1, updated = $1 \
         WHERE team_id = $2 AND default_outbound = 1 AND id <> $3",
    )
    .bind(now)
    .bind(team_id)
    .bind(except.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
