//! An outbound call between dialing and its answer: the network's ringing, answer or refusal
//! (busy, no answer, rejected, failed) each become the call's step, and a hang-up asked for
//! while it rings cancels it.

use super::CallRunner;
use parley_core::call::Call;
use parley_core::interview::Interview;
use parley_jobs::JobError;
use parley_store::calls::life::Unanswered;
use parley_telephony::{Endpoint, LineEvent};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

impl CallRunner {
    /// Waits for the answer of a call the network is placing, then holds the conversation; the
    /// job is complete when the call ends.
    pub(super) async fn outbound(
        self: Arc<Self>,
        job_id: String,
        team_id: String,
        call: Call,
        interview: Interview,
        mut line: Endpoint,
    ) -> Result<(), JobError> {
        let hb = self.heartbeat(job_id.clone(), call.id, Some(line.sender.clone()));
        let life = self.store.call_life();
        let mut rang = false;
        let result = loop {
            let ev = tokio::select! {
                ev = line.events.recv() => ev,
                _ = tokio::time::sleep(Duration::from_millis(250)) => {
                    if hb.requested.load(Ordering::SeqCst) {
                        line.sender.hang_up().await;
                        let why = match hb.stopping.load(Ordering::SeqCst) {
                            true => "canceled before it was answered: the server stopped",
                            false => "canceled through the API before it was answered",
                        };
                        break life.canceled(call.id, why).await.map_err(JobError::from);
                    }
                    continue;
                }
            };
            let (how, cause) = match ev {
                Some(LineEvent::Ringing) => {
                    if !rang {
                        rang = true;
                        if !life.ringing(call.id).await? {
                            line.sender.hang_up().await;
                            break Ok(());
                        }
                    }
                    continue;
                }
                Some(LineEvent::Answered) => {
                    if !rang {
                        life.ringing(call.id).await?;
                    }
                    if !life.answered(call.id).await? {
                        line.sender.hang_up().await;
                        break Ok(());
                    }
                    break self.converse(&team_id, &call, &interview, line, true, hb).await;
                }
                Some(LineEvent::Busy(cause)) => (Unanswered::Busy, cause),
                Some(LineEvent::NoAnswer(cause)) => (Unanswered::NoAnswer, cause),
                Some(LineEvent::Rejected(cause)) => (Unanswered::Rejected, cause),
                Some(LineEvent::Failed(cause)) => (Unanswered::Failed, Some(cause)),
                None | Some(LineEvent::HungUp) => (
                    Unanswered::Failed,
                    Some("the line dropped before the call was answered".into()),
                ),
                Some(_) => continue,
            };
            break life.not_answered(call.id, how, cause).await.map_err(JobError::from);
        };
        let _ = self.store.complete_job(&job_id).await;
        result
    }
}
