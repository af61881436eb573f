//! SQLite's WAL checkpoints, moved off the write path.
//!
//! By default SQLite checkpoints inside the commit that pushes the WAL past 1000 pages: that one
//! commit copies the WAL into the database file and fsyncs it, while every other writer waits
//! behind the single write connection. Under a steady stream of contact creations that is one
//! request in a few hundred taking tens of milliseconds (on a slow disk, a hundred): the p99 of
//! `bench/api.sh` was 17 times its p50. Here the write connection never checkpoints
//! (`wal_autocheckpoint = 0`) and a background task runs a PASSIVE checkpoint on a reader
//! connection every [`INTERVAL`]: it copies what no reader still needs without blocking the
//! writer, and SQLite restarts the WAL from the beginning once a checkpoint has caught up.
//!
//! `PARLEY_SQLITE_CHECKPOINT=inline` keeps SQLite's own behaviour (for A/B measurements).

use sqlx::AnyPool;
use std::time::Duration;

/// How often the background checkpoint runs.
pub const INTERVAL: Duration = Duration::from_millis(250);

/// Whether checkpoints run in the background (the default) rather than inside commits.
pub fn in_background() -> bool {
    std::env::var("PARLEY_SQLITE_CHECKPOINT").map_or(true, |v| v != "inline")
}

/// Starts the background checkpoints on `readers`; they stop when the pool is closed.
pub fn start(readers: AnyPool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if readers.is_closed() {
                return;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&readers).await {
                if readers.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, "SQLite WAL checkpoint failed");
            }
        }
    });
}
