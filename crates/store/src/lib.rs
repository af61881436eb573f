//! Parley's database layer.
//!
//! - [`Store`]: one handle over sqlx's `Any` driver, so the same repository code and the same
//!   SQL run on SQLite (the embedded default, WAL mode) and PostgreSQL (scale-out).
//! - Repositories, one module each: [`teams`] (teams and hashed API tokens), [`accounts`]
//!   (dashboard users, memberships with roles, sessions, one-time links), [`analytics`] (the
//!   dashboard's counts of calls), [`contacts`],
//!   [`interviews`], [`calls`] (calls: rows, creation with their jobs, reads, search),
//!   [`webhooks`] (subscriptions and deliveries), [`jobs`] (the durable queue), [`rate_limit`]
//!   (the per-team quota shared by several processes on PostgreSQL), [`sandbox`] (personas, the
//!   team's sandbox numbers, inbound calls from personas), [`automations`] (automations, runs,
//!   recorded steps), [`numbers`] (SIP trunks and phone numbers: the team's CRUD, the call
//!   runner's reads, the routing of new outbound calls), [`speech_keys`] (a team's sealed keys
//!   for cloud speech providers).
//! - The calls service, [`calls::life`] (`store.call_life()`): the one owner of a call's life
//!   once it is queued. Each named step (dialing, ringing, answered, ended, canceled, lost, hung
//!   up through the API) makes its transition with all its side effects (timeline, event row,
//!   webhooks, the automation event) in one transaction; the call runner and the API both use it.
//! - Secrets at rest: [`secrets`] seals a secret column's value (XChaCha20-Poly1305, bound to its
//!   column and row); [`keyring`] checks the key against the database at start and seals the
//!   plaintext an older version left. Repositories seal on write and open on read, so callers see
//!   plaintext through unchanged signatures.
//! - Group commit (`group_commit`, generic over what it writes): automation run records, tag
//!   changes and (SQLite) new contacts (`journal`), and (PostgreSQL) new contacts (`batch`), are
//!   written by one writer each, many rows per statement and per commit; each caller is answered
//!   only after the commit that holds its row. What they write comes from `records` (a contact
//!   as a row and its write statements, runs and steps as rows and records): leaves shared by
//!   the repositories and the writers, so the repositories queue on the journal and the journal
//!   writes their types without an import cycle. `outbox` (trigger events written in the
//!   caller's transaction) depends on the jobs table alone.
//! - [`StoreError`]: the one error of this layer.
//!
//! Decisions a reader would otherwise question:
//! - Every statement is written once with `$N` placeholders, which both SQLite and PostgreSQL
//!   accept; dynamic filters are assembled from fixed fragments by [`sql::Query`], never from input.
//! - On SQLite, every write goes through a dedicated pool of one connection. SQLite allows one
//!   writer at a time anyway; queueing writers in the process avoids `SQLITE_BUSY` on deferred
//!   transactions that read before they write (which the busy timeout cannot retry), and keeps
//!   readers on their own connections. PostgreSQL writes on the shared pool.

pub mod accounts;
pub mod analytics;
pub mod automations;
mod batch;
pub mod calls;
mod checkpoint;
pub mod contacts;
mod group_commit;
pub mod inbound;
pub mod interviews;
pub mod jobs;
mod journal;
pub mod keyring;
pub mod numbers;
pub(crate) mod outbox;
pub mod rate_limit;
mod records;
pub mod sandbox;
pub mod secrets;
pub mod speech_keys;
mod sql;
pub mod teams;
pub mod webhooks;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use sql::{Arg, Query};

/// The one error type of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or state rule of the data (e.g. a number already used by another contact).
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// A secret column's value could not be sealed or opened (no key, a wrong key, a value that
    /// belongs to another row).
    #[error("secret: {0}")]
    Secret(#[from] secrets::SecretError),
    /// Input that breaks a rule only the database can check (a trunk that is not the team's, a
    /// `from_number` that is not one of its numbers): the API answers 400 naming the field.
    #[error("{0}")]
    Invalid(parley_core::ValidationError),
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    /// SQLite's single writer connection; `None` on PostgreSQL.
    writer: Option<AnyPool>,
    /// Group commit of automation run records (see `journal`).
    journal: journal::Journal,
    /// PostgreSQL's writer of new contacts (SQLite's are the journal's).
    contact_batcher: Option<batch::ContactBatcher>,
    /// The key of secret columns, installed by [`Store::unlock`] once checked.
    secrets: Option<Arc<secrets::SecretBox>>,
    /// Whether calls to real numbers by a team without a real number go to the sandbox network
    /// instead of being refused (see [`Store::set_unrouted_calls_to_sandbox`]).
    unrouted_calls_to_sandbox: bool,
}

/// A write transaction.
pub struct WriteTx {
    pub tx: Transaction<'static, Any>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Connects to `url` (`sqlite://path` or `postgres://…`), creating a SQLite file if missing.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("postgres") {
            Dialect::Postgres
        } else {
            Dialect::Sqlite
        };
        let url = if dialect == Dialect::Sqlite && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        } else {
            url.to_string()
        };
        let opts = AnyConnectOptions::from_str(&url)?;
        let pool = pool_options(dialect, max_connections)
            .connect_with(opts.clone())
            .await?;
        let writer = match dialect {
            Dialect::Sqlite => {
                let background = checkpoint::in_background();
                let writer = pool_options(dialect, 1)
                    .after_connect(move |conn, _| {
                        Box::pin(async move {
                            sqlite_pragmas(conn).await?;
                            if background {
                                conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
                            }
                            Ok(())
                        })
                    })
                    .connect_with(opts.clone())
                    .await?;
                if background {
                    checkpoint::start(pool.clone());
                }
                Some(writer)
            }
            Dialect::Postgres => None,
        };
        let contact_batcher =
            (dialect == Dialect::Postgres).then(|| batch::ContactBatcher::on_pool(pool.clone(), dialect));
        let own = (dialect == Dialect::Postgres).then_some(opts);
        let journal = match own {
            Some(opts) => journal::Journal::on_own_thread(opts, dialect),
            None => journal::Journal::on_pool(writer.clone().unwrap_or_else(|| pool.clone()), dialect),
        };
        Ok(Store {
            pool,
            dialect,
            writer,
            journal,
            contact_batcher,
            secrets: None,
            unrouted_calls_to_sandbox: false,
        })
    }

    /// Calls to numbers outside the sandbox ranges by a team with no number on a real network:
    /// refused (`false`, the default, API.md) or queued on the sandbox network, where they fail
    /// "not reachable" (`true`: Parley's behaviour before phone numbers existed). The policy sits
    /// here because every way of creating a call (API, campaigns, automation steps) routes it
    /// through [`Store::outbound_numbers`].
    pub fn set_unrouted_calls_to_sandbox(&mut self, on: bool) {
        self.unrouted_calls_to_sandbox = on;
    }

    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(self.write_pool()).await?;
        self.migrate_rate_limit().await?;
        self.tune_postgres().await
    }

    /// PostgreSQL only: room in each page of the tables whose rows are rewritten in place, so
    /// the rewrite stays on its page and skips the indexes (a HOT update). A run's row is
    /// rewritten at every step, a step's once, a job's at each claim and lease; in full pages
    /// each rewrite added an entry to every index of the table (four for runs). The setting
    /// applies to pages written from now on; running it again changes nothing.
    async fn tune_postgres(&self) -> Result<()> {
        if self.dialect != Dialect::Postgres {
            return Ok(());
        }
        for (table, fill) in [("automation_runs", 50), ("automation_steps", 70), ("jobs", 70)] {
            sqlx::query(&format!("ALTER TABLE {table} SET (fillfactor = {fill})"))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database answers (for `/health`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The pool writes go through (SQLite's single writer, or the shared pool).
    pub(crate) fn write_pool(&self) -> &AnyPool {
        self.writer.as_ref().unwrap_or(&self.pool)
    }

    pub async fn begin_write(&self) -> Result<WriteTx> {
        Ok(WriteTx {
            tx: self.write_pool().begin().await?,
        })
    }

    pub async fn close(&self) {
        if let Some(w) = &self.writer {
            w.close().await;
        }
        self.pool.close().await;
    }
}

pub(crate) fn pool_options(dialect: Dialect, max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        // A SQLite connection is a file handle in this process: it cannot go stale, and the
        // ping sqlx sends before each checkout is a thread round trip as costly as a statement.
        .test_before_acquire(dialect == Dialect::Postgres)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if dialect == Dialect::Sqlite {
                    sqlite_pragmas(conn).await?;
                }
                Ok(())
            })
        })
}

/// Every SQLite connection's settings. WAL lets readers run beside the writer; NORMAL sync is
/// durable across process crashes (the WAL is fsynced at checkpoints), as SQLite documents.
async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection) -> std::result::Result<(), sqlx::Error> {
    conn.execute("PRAGMA journal_mode = WAL").await?;
    conn.execute("PRAGMA synchronous = NORMAL").await?;
    conn.execute("PRAGMA busy_timeout = 10000").await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    Ok(())
}

/// Turns "the statement touched no row" into [`StoreError::NotFound`] (updates and deletes by id
/// scoped to a team, where another team's id must look exactly like a missing one).
pub(crate) fn found(rows_affected: u64) -> Result<()> {
    if rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    parley_core::time::Timestamp::now().millis()
}
