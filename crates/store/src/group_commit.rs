//! Group commit: one writer takes the records many tasks have queued, writes them in one
//! transaction, commits, and only then answers each caller. Generic over what it writes: each
//! user (the run journal, PostgreSQL's writer of new contacts) supplies its records, their
//! statements and their answers as a [`Batch`]; this module knows none of them.
//!
//! Why: every record must be durable before its caller goes on, and one transaction each costs
//! round trips that dwarf the work (on SQLite every statement is a hand-off to sqlx's connection
//! thread, on PostgreSQL one over the socket). A batch pays them once for many records. A
//! record's meaning and its durability are those of its own transaction; only the commit is
//! shared.
//!
//! A batch that fails (a constraint, a lost connection) is rolled back and each of its records
//! is written again alone, so one bad record fails only its own caller. Two records with a key
//! in common (one run, one contact) would make a batch's multi-row statements ambiguous: the
//! second waits for the next batch.

use crate::{Dialect, Result, StoreError};
use sqlx::any::AnyConnectOptions;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use std::collections::HashSet;
use std::future::Future;
use tokio::sync::{mpsc, oneshot};

/// What a group-commit writer writes: its records, how a batch of them is written, and what
/// each caller is answered.
pub(crate) trait Batch: Send + 'static {
    /// What callers queue.
    type Record: Send + Sync + 'static;
    /// What each caller is answered, once its batch has committed.
    type Reply: Send + 'static;
    /// Names the writer in errors and in its thread's name.
    const NAME: &'static str;
    /// Records per batch at the most.
    const MAX_BATCH: usize;

    /// What a record touches that no other record of its batch may (a run, a contact); each key
    /// is in at most one record of a batch.
    fn keys(record: &Self::Record) -> Vec<String>;

    /// Writes `records` (in one transaction, or one statement that commits alone); one reply
    /// per record, in order. On an error nothing of them may stay written.
    fn write<'a>(
        conn: &'a mut AnyConnection,
        dialect: Dialect,
        records: &'a [&'a Self::Record],
    ) -> impl Future<Output = Result<Vec<Self::Reply>>> + Send + 'a;
}

pub(crate) type Entry<B> = (<B as Batch>::Record, oneshot::Sender<Result<<B as Batch>::Reply>>);

/// The handle of a running writer: cheap to clone, one per store.
pub(crate) struct GroupCommit<B: Batch> {
    tx: mpsc::Sender<Entry<B>>,
}

impl<B: Batch> Clone for GroupCommit<B> {
    fn clone(&self) -> Self {
        GroupCommit { tx: self.tx.clone() }
    }
}

impl<B: Batch> GroupCommit<B> {
    /// A writer task on `pool`, taking a connection per batch (SQLite: the one write
    /// connection, shared with every other write).
    pub fn on_pool(pool: AnyPool, dialect: Dialect) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(run::<B>(Conn::shared(pool), dialect, rx));
        GroupCommit { tx }
    }

    /// A writer on a thread of its own with a connection of its own, made from `opts`
    /// (PostgreSQL), planning by key (see [`key_joins_only`]).
    ///
    /// Why a thread: a batch is a dozen statements, each an await. On the process's runtime,
    /// every await put the writer back in the queue behind the API's and the runs' tasks: a
    /// round trip cost 0.5-4 ms under load where PostgreSQL answered in a fraction of that, and
    /// the run journal is the runs' bottleneck (with the thread, runs/s +20%, same-run A/B). On
    /// SQLite a thread gained the runs nothing (its statements run on sqlx's connection thread
    /// anyway) and cost contact creation 10% (same-run A/B).
    pub fn on_own_thread(opts: AnyConnectOptions, dialect: Dialect) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        let thread = std::thread::Builder::new()
            .name(format!("parley-{}", B::NAME.replace(' ', "-")))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => return tracing::error!(error = %e, writer = B::NAME, "could not start its runtime"),
                };
                rt.block_on(async move {
                    // Connected here, so that this thread's runtime drives the socket.
                    let pool = crate::pool_options(dialect, 1)
                        .after_connect(|conn, _| Box::pin(key_joins_only(conn)))
                        .connect_lazy_with(opts);
                    run::<B>(Conn::held(pool), dialect, rx).await;
                })
            });
        if let Err(e) = thread {
            // Its queue is dropped with it: every write answers that the writer stopped.
            tracing::error!(error = %e, writer = B::NAME, "could not start its thread");
        }
        GroupCommit { tx }
    }

    /// Writes `record` in the next batch; answers once that batch has committed.
    pub async fn write(&self, record: B::Record) -> Result<B::Reply> {
        let stopped = || StoreError::Corrupt(format!("the {} stopped", B::NAME));
        let (reply, answer) = oneshot::channel();
        self.tx.send((record, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run<B: Batch>(mut conn: Conn, dialect: Dialect, mut rx: mpsc::Receiver<Entry<B>>) {
    let max = B::MAX_BATCH;
    let mut queued: Vec<Entry<B>> = Vec::with_capacity(max);
    let mut later: Vec<Entry<B>> = Vec::new();
    loop {
        if queued.len() < max {
            let room = max - queued.len();
            // Wait only when nothing is left over from the last batch.
            if queued.is_empty() {
                if rx.recv_many(&mut queued, room).await == 0 {
                    return;
                }
            } else {
                while queued.len() < max {
                    match rx.try_recv() {
                        Ok(e) => queued.push(e),
                        Err(_) => break,
                    }
                }
            }
        }
        // One record per key per batch; a second one waits for the next batch.
        let mut taken = HashSet::new();
        let mut batch = Vec::with_capacity(queued.len());
        for e in queued.drain(..) {
            let keys = B::keys(&e.0);
            if keys.iter().any(|k| taken.contains(k)) {
                later.push(e);
            } else {
                taken.extend(keys);
                batch.push(e);
            }
        }
        queued.append(&mut later);
        commit_batch::<B>(&mut conn, dialect, batch).await;
    }
}

/// Writes a batch, or, if that fails, each record alone.
pub(crate) async fn commit_batch<B: Batch>(conn: &mut Conn, dialect: Dialect, batch: Vec<Entry<B>>) {
    let records: Vec<&B::Record> = batch.iter().map(|(r, _)| r).collect();
    match conn.write::<B>(dialect, &records).await {
        Ok(replies) => {
            for ((_, tx), reply) in batch.into_iter().zip(replies) {
                let _ = tx.send(Ok(reply));
            }
        }
        Err(e) if batch.len() == 1 => {
            if let Some((_, tx)) = batch.into_iter().next() {
                let _ = tx.send(Err(e));
            }
        }
        Err(_) => {
            for (record, tx) in batch {
                let r = conn.write::<B>(dialect, &[&record]).await.and_then(|mut r| {
                    r.pop()
                        .ok_or_else(|| StoreError::Corrupt(format!("the {} answered nothing", B::NAME)))
                });
                let _ = tx.send(r);
            }
        }
    }
}

/// Makes the planner join by key on a writer's own PostgreSQL connection.
///
/// Why: a batch's statements join a list of rows (`VALUES`) to a table by its key, and sqlx
/// keeps each statement prepared. PostgreSQL plans a prepared statement once for all
/// parameters; planned while a table is small (a new database, the first minutes after a
/// migration), the plan hashes a sequential scan of the whole table, and it keeps that plan as
/// the table grows. Measured on the benchmark: updates of 16-32 steps took 3-5 ms, scanning
/// 7,000 rows, a third of the writer's time. These settings only price the other plans out
/// (they stay possible where no index serves), for this connection alone.
async fn key_joins_only(conn: &mut AnyConnection) -> std::result::Result<(), sqlx::Error> {
    for setting in ["enable_seqscan", "enable_hashjoin", "enable_mergejoin"] {
        conn.execute(&*format!("SET {setting} = off")).await?;
    }
    Ok(())
}

/// A writer's connection: taken from a shared pool per batch (SQLite: the one writer
/// connection is shared with every other write), or held from batch to batch (a writer's own
/// on PostgreSQL; a checkout costs a ping round trip).
pub(crate) struct Conn {
    pool: AnyPool,
    held: Option<PoolConnection<Any>>,
    keep: bool,
}

impl Conn {
    pub(crate) fn shared(pool: AnyPool) -> Conn {
        Conn {
            pool,
            held: None,
            keep: false,
        }
    }

    fn held(pool: AnyPool) -> Conn {
        Conn {
            pool,
            held: None,
            keep: true,
        }
    }

    /// Writes `records`. After a failure the connection goes back to the pool, which tests it
    /// (a broken one is closed), and the next batch takes one afresh.
    pub(crate) async fn write<B: Batch>(&mut self, d: Dialect, records: &[&B::Record]) -> Result<Vec<B::Reply>> {
        let mut conn = match self.held.take() {
            Some(c) => c,
            None => self.pool.acquire().await?,
        };
        let r = B::write(&mut conn, d, records).await;
        if self.keep && r.is_ok() {
            self.held = Some(conn);
        }
        r
    }
}
