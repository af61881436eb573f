//! The answered call: the flow agent (with the team's or the server's LLM) and the voice
//! pipeline on the line with the agent's speech engines ([`engines`](super::engines)), the
//! agent's mid-call events (`ACTION_FAILED`, `PHONE_TRANSFER`) sent and speech engine
//! fallbacks recorded as they happen, and the pipeline's report handed to
//! [`finish`](super::finish).

use super::heartbeat::Heartbeat;
use super::CallRunner;
use parley_agent::flow_agent::{AgentConfig, FlowAgent};
use parley_agent::llm::{LlmClient, LlmConfig};
use parley_agent::template::CallContext;
use parley_core::call::{Call, ConversationTurn};
use parley_core::interview::Interview;
use parley_core::speech::{EngineFallback, Provider, Side};
use parley_jobs::JobError;
use parley_telephony::Endpoint;
use parley_voice::pipeline::{run_call, CallNote, PipelineConfig, SpeechPart};
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{info, warn};

impl CallRunner {
    /// The answered call: the pipeline with the flow agent, then the results.
    pub(super) async fn converse(
        &self,
        team_id: &str,
        call: &Call,
        interview: &Interview,
        line: Endpoint,
        outbound: bool,
        hb: Heartbeat,
    ) -> Result<(), JobError> {
        let _ = hb.sender.try_send(line.sender.clone());
        let contact = call.contact.as_ref();
        let ctx = CallContext {
            contact_name: contact.and_then(|c| c.name.clone()).filter(|n| !n.is_empty()),
            contact_phone: Some(call.phone_number.clone()),
            contact_email: contact.and_then(|c| c.email.clone()),
            contact_id: contact.map(|c| c.id.to_string()),
            attributes: contact
                .map(|c| serde_json::to_value(&c.attributes).unwrap_or_default())
                .unwrap_or_default(),
            metadata: call.metadata.clone(),
        };
        // The team's own endpoint if it set one, else the server's default.
        let team_llm = self.store.team(team_id).await.ok().and_then(|t| t.llm);
        let llm_cfg = match team_llm {
            Some(t) => Some(LlmConfig {
                api_key: t.api_key,
                model: t.model.unwrap_or_else(|| "default".into()),
                proxy: self.settings.outbound.proxy.clone(),
                ..LlmConfig::new(t.base_url)
            }),
            None => self.settings.llm.clone(),
        };
        let llm = llm_cfg.and_then(|c| match LlmClient::new(c) {
            Ok(c) => Some(c),
            Err(e) => {
                warn!(error = %e, "the LLM endpoint is misconfigured; prompt nodes cannot run");
                None
            }
        });
        let agent = FlowAgent::new(
            interview.flow.clone(),
            ctx.clone(),
            AgentConfig {
                llm,
                ai_name: interview.ai_name.clone(),
                silence_reprompts: interview.silence_reprompts,
                outbound: self.settings.outbound.clone(),
                // The callee's zone (a number spanning several: its first main zone; dates read
                // "tomorrow" the same in all of them but near midnight).
                time_zone: parley_core::zone::callee_zones(
                    contact.map(|c| &c.attributes).unwrap_or(&Default::default()),
                    &call.phone_number,
                )
                .first()
                .copied(),
                ..AgentConfig::default()
            },
        );
        let voicemail_message = interview
            .should_leave_voicemail
            .then(|| interview.voicemail_message.clone())
            .flatten()
            .map(|m| {
                parley_agent::template::render(&m, &parley_agent::template::Scope::new(&ctx, &Default::default()))
            });
        let cfg = PipelineConfig {
            turn: self.settings.turn,
            silence_timeout: Duration::from_millis(interview.silence_timeout_ms as u64),
            screen_for_machine: outbound,
            voicemail_message,
            line_watchdog: self.settings.line_watchdog,
            vad: self.speech.vad.clone(),
            ..PipelineConfig::default()
        };
        let (notes_tx, mut notes_rx) = mpsc::unbounded_channel();
        let store = self.store.clone();
        let (team, agent_id, cid) = (team_id.to_string(), interview.id.clone(), call.id);
        // Lines are timed from the answer; the call's start time is that answer.
        let answered_at = self
            .store
            .call_for_worker(call.id)
            .await
            .ok()
            .and_then(|(_, c)| c.start_time)
            .unwrap_or_else(parley_core::time::Timestamp::now);
        let chosen = self.engines_for(team_id, interview).await;
        for f in &chosen.fallbacks {
            if let Err(e) = self.store.call_life().engine_fallback(cid, f.clone()).await {
                warn!(error = %e, "could not record a speech engine's fallback");
            }
        }
        let chosen_providers = (
            interview.stt.as_ref().map(|c| c.provider),
            interview.tts.as_ref().map(|c| c.provider),
        );
        let mut fallbacks = chosen.fallbacks;
        let notes = tokio::spawn(async move {
            while let Some(n) = notes_rx.recv().await {
                let life = store.call_life();
                let sent = match n {
                    CallNote::ActionFailed { action, error } => {
                        life.action_failed(&team, &agent_id, cid, &action, &error).await
                    }
                    CallNote::Transferring { phone_number } => {
                        life.transferring(&team, &agent_id, cid, &phone_number).await
                    }
                    // Recorded on the call (`engine_fallbacks` and its timeline) now, and again
                    // with the call's results at its end.
                    CallNote::EngineFallback {
                        part,
                        provider,
                        fallback,
                        error,
                    } => {
                        let side = match part {
                            SpeechPart::Stt => Side::Stt,
                            SpeechPart::Tts => Side::Tts,
                        };
                        let chosen = match side {
                            Side::Stt => chosen_providers.0,
                            Side::Tts => chosen_providers.1,
                        };
                        let error = match fallback {
                            Some(_) => error,
                            None => format!("{error}; no engine took over"),
                        };
                        let f = EngineFallback {
                            side,
                            provider: Provider::parse(&provider).or(chosen).unwrap_or(Provider::Embedded),
                            error,
                            at_ms: parley_core::time::Timestamp::now().millis() - answered_at.millis(),
                        };
                        fallbacks.push(f.clone());
                        life.engine_fallback(cid, f).await.map(|()| 0)
                    }
                    CallNote::Said(l) => {
                        let turn = ConversationTurn {
                            date: parley_core::time::Timestamp(answered_at.millis() + l.at_ms),
                            text: l.text,
                            author: l.author.to_string(),
                            cumulative_duration_ms: l.at_ms,
                        };
                        life.said(cid, turn).await.map(|()| 0)
                    }
                };
                if let Err(e) = sent {
                    warn!(error = %e, "could not record a mid-call event");
                }
            }
            fallbacks
        });
        info!("call answered; conversation starts");
        let report = run_call(agent, line, chosen.engines, cfg, notes_tx).await;
        let fallbacks = notes.await.unwrap_or_default();
        hb.task.abort();
        self.finish(call, interview, report, fallbacks).await
    }
}
