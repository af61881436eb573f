//! The end of an answered call: the recording written to disk, the pipeline's report turned
//! into the call's results (conversation, transcript, summary with the outcome as a tag,
//! variables, latency), and the calls service's `ended` step with all of it.

use super::CallRunner;
use parley_core::call::{Call, ConversationTurn, SummaryData};
use parley_core::interview::Interview;
use parley_core::speech::EngineFallback;
use parley_core::time::Timestamp;
use parley_jobs::JobError;
use parley_store::calls::life::{CallResults, Ending};
use parley_store::now_ms;
use parley_voice::pipeline::{CallEnd, CallReport};
use tracing::{info, warn};

impl CallRunner {
    /// Writes the recording and ends the call with everything it produced.
    pub(super) async fn finish(
        &self,
        call: &Call,
        interview: &Interview,
        mut r: CallReport,
        engine_fallbacks: Vec<EngineFallback>,
    ) -> Result<(), JobError> {
        let recording_url = if interview.should_record {
            let path = self.settings.recordings_dir.join(format!("{}.wav", call.id));
            let rec = std::mem::take(&mut r.recording);
            let written = tokio::task::spawn_blocking(move || rec.write(&path)).await;
            match written {
                Ok(Ok(())) => Some(format!(
                    "{}/interview_response/{}/recording",
                    self.settings.public_url.trim_end_matches('/'),
                    call.id
                )),
                other => {
                    warn!(?other, "could not write the recording");
                    None
                }
            }
        } else {
            None
        };
        let how = match &r.end {
            CallEnd::AgentHungUp | CallEnd::CallerHungUp | CallEnd::MaxDuration => Ending::Completed,
            CallEnd::Transferred(_) => Ending::Transferred,
            CallEnd::Voicemail { .. } => Ending::Voicemail,
            CallEnd::LineSilent => {
                Ending::Failed("no audio from the phone network: the watchdog ended the call".to_string())
            }
            CallEnd::LineFailed(cause) => Ending::Failed(cause.clone()),
        };
        let answered_at = call.start_time.map(|t| t.millis()).unwrap_or_else(now_ms);
        let transcript = r.transcript();
        let mut cumulative = 0;
        let history: Vec<ConversationTurn> = r
            .conversation
            .iter()
            .map(|l| {
                cumulative = l.at_ms;
                ConversationTurn {
                    date: Timestamp(answered_at + l.at_ms),
                    text: l.text.clone(),
                    author: l.author.to_string(),
                    cumulative_duration_ms: cumulative,
                }
            })
            .collect();
        let mut outcome = r.results.outcome.clone();
        if let CallEnd::Voicemail { message_left } = r.end {
            outcome = Some(if message_left { "voicemail_left" } else { "voicemail" }.into());
        }
        let mut tags = r.summary.response_tags.clone();
        if let Some(o) = &outcome {
            if !tags.contains(o) {
                tags.push(o.clone());
            }
        }
        let summary = SummaryData {
            summary: r.summary.summary.clone(),
            response_tags: tags,
        };
        let latency = r.latency.clone();
        for t in &latency {
            self.metrics.turn_latency.observe(t.total_ms as f64 / 1000.0);
        }
        let results = CallResults {
            conversation_history: history,
            transcript,
            summary_data: summary,
            variables: r.results.variables.clone(),
            outcome,
            latency,
            recording_url,
            path: r.results.path.clone(),
            engine_fallbacks,
        };
        if let Some(c) = self.store.call_life().ended(call.id, how, results).await? {
            info!(
                status = c.status.as_str(),
                barge_ins = r.barge_ins,
                backchannels = r.backchannels,
                "call ended"
            );
        }
        Ok(())
    }
}
