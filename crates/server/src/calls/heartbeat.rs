//! The heartbeat of a call in progress: it extends the lease of the call's job (the watchdog
//! for a process that dies mid-call) and hangs the line up when the API asks or the server
//! stops, remembering which, for the call's failure reason.

use super::CallRunner;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::warn;
use uuid::Uuid;

impl CallRunner {
    /// Extends the job's lease while the call runs, and hangs up when the API asks or the
    /// server stops.
    pub(super) fn heartbeat(
        &self,
        job_id: String,
        call_id: Uuid,
        hang_up: Option<parley_telephony::LineSender>,
    ) -> Heartbeat {
        let (tx, mut rx) = mpsc::channel::<parley_telephony::LineSender>(1);
        if let Some(h) = hang_up {
            let _ = tx.try_send(h);
        }
        let store = self.store.clone();
        let lease = self.settings.lease;
        let requested = Arc::new(AtomicBool::new(false));
        let stopping = Arc::new(AtomicBool::new(false));
        let (flag, stop_flag) = (requested.clone(), stopping.clone());
        let mut stop = self.stop.clone();
        let watched = self.hangups.watch(call_id);
        let task = tokio::spawn(async move {
            let mut sender: Option<parley_telephony::LineSender> = None;
            let mut beat = tokio::time::interval(Duration::from_millis(500));
            let mut last_lease = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    s = rx.recv() => if let Some(s) = s {
                        if stop_flag.load(Ordering::SeqCst) {
                            s.hang_up().await;
                        }
                        sender = Some(s);
                    },
                    _ = async { stop.wait_for(|s| *s).await.map(|_| ()) }, if !stop_flag.load(Ordering::SeqCst) => {
                        stop_flag.store(true, Ordering::SeqCst);
                        flag.store(true, Ordering::SeqCst);
                        if let Some(s) = &sender {
                            s.hang_up().await;
                        }
                    },
                    _ = beat.tick() => {
                        if last_lease.elapsed() >= lease / 3 {
                            last_lease = tokio::time::Instant::now();
                            if let Err(e) = store.extend_lease(&job_id, lease.as_millis() as i64).await {
                                warn!(error = %e, "could not extend the call's lease");
                            }
                        }
                        if !flag.load(Ordering::SeqCst) && watched.requested() {
                            flag.store(true, Ordering::SeqCst);
                            if let Some(s) = &sender {
                                s.hang_up().await;
                            }
                        }
                    }
                }
            }
        });
        Heartbeat {
            task,
            sender: tx,
            requested,
            stopping,
        }
    }
}

/// The running heartbeat of one call.
pub(super) struct Heartbeat {
    pub(super) task: tokio::task::JoinHandle<()>,
    pub(super) sender: mpsc::Sender<parley_telephony::LineSender>,
    pub(super) requested: Arc<AtomicBool>,
    /// The hang-up was the server stopping, not the API.
    pub(super) stopping: Arc<AtomicBool>,
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}
