//! Hang-up requests for the calls this process runs.
//!
//! `POST /interview_response/{id}/hangup` marks the call in the database (the request may reach
//! any process; the call runs in one). Each process looks the marks up for all its calls at
//! once, in one query twice a second, and raises the flag of each call asked to hang up; the
//! call's heartbeat reads its flag.
//!
//! Decision: one query per process, not one per call. Each call used to ask for its own mark
//! twice a second: at 400 calls that was 800 queries a second (a tenth of the process's CPU,
//! on SQLite's worker threads and the pool) to learn, nearly always, nothing.

use parley_store::Store;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// How often the process looks for hang-up requests.
pub const POLL: Duration = Duration::from_millis(500);

/// The calls this process runs, each with the flag its heartbeat reads.
#[derive(Debug, Default)]
pub struct Hangups {
    calls: Mutex<HashMap<Uuid, Arc<AtomicBool>>>,
}

/// A call's place in [`Hangups`]: its flag while it runs; dropping it forgets the call.
#[derive(Debug)]
pub struct Watched {
    hangups: Arc<Hangups>,
    id: Uuid,
    flag: Arc<AtomicBool>,
}

impl Watched {
    /// Whether a hang-up was asked for the call.
    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let mut calls = self.hangups.calls.lock().unwrap_or_else(PoisonError::into_inner);
        // A call watched twice (it cannot be, but) keeps the newer entry.
        if calls.get(&self.id).is_some_and(|f| Arc::ptr_eq(f, &self.flag)) {
            calls.remove(&self.id);
        }
    }
}

impl Hangups {
    /// Starts watching call `id`.
    pub fn watch(self: &Arc<Self>, id: Uuid) -> Watched {
        let flag = Arc::new(AtomicBool::new(false));
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, flag.clone());
        Watched {
            hangups: self.clone(),
            id,
            flag,
        }
    }

    /// The calls watched now.
    fn ids(&self) -> Vec<Uuid> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect()
    }

    /// Raises the flags of `requested`.
    fn mark(&self, requested: &[Uuid]) {
        let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        for id in requested {
            if let Some(f) = calls.get(id) {
                f.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Looks the watched calls' requests up every [`POLL`] until the server stops.
    pub async fn run(self: Arc<Self>, store: Store, mut stop: watch::Receiver<bool>) {
        let mut every = tokio::time::interval(POLL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let ids = self.ids();
            if ids.is_empty() {
                continue;
            }
            match store.hangups_requested(&ids).await {
                Ok(requested) => self.mark(&requested),
                Err(e) => tracing::warn!(error = %e, "could not look up hang-up requests"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_raises_the_flag_of_its_call_only_and_a_finished_call_is_forgotten() {
        let h = Arc::new(Hangups::default());
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let wa = h.watch(a);
        let wb = h.watch(b);
        let mut ids = h.ids();
        ids.sort();
        let mut both = vec![a, b];
        both.sort();
        assert_eq!(ids, both);

        h.mark(&[b, Uuid::new_v4()]);
        assert!(!wa.requested());
        assert!(wb.requested());

        drop(wb);
        assert_eq!(h.ids(), vec![a]);
        drop(wa);
        assert!(h.ids().is_empty());
    }

    #[test]
    fn a_call_watched_again_keeps_its_newer_entry() {
        let h = Arc::new(Hangups::default());
        let id = Uuid::new_v4();
        let old = h.watch(id);
        let new = h.watch(id);
        drop(old);
        assert_eq!(h.ids(), vec![id]);
        h.mark(&[id]);
        assert!(new.requested());
    }
}
