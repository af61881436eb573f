//! The calls service: the one owner of a call's life once it is queued. Each operation of
//! [`CallLife`] is one named step (dialing, ringing, answered, ended with its results, not
//! answered, canceled, refused, lost, hung up through the API) and performs it with all its
//! side effects; nothing else in Parley changes a call's state. The call runner, the API's
//! hang-up and the recovery of lost calls all go through it.
//!
//! Every step is one transition: it applies the core state machine, bumps the version
//! (optimistic concurrency: a concurrent change is a conflict, never a lost update), appends the
//! timeline entry and the event row, and queues the `CALL_PROGRESS` (and, at the end,
//! `NEW_RESPONSE` and the On Call Completed automation event) deliveries, all in one
//! transaction.
//!
//! Decision: for the runner, a call that ended meanwhile (hung up through the API, ended by
//! another process) is an answer, not an error: its steps return `false` (or `None`) and leave
//! the call as it is. Only [`CallLife::hang_up`], the API's, reports it, as a conflict (409).

use crate::{webhooks, Result, Store, StoreError};
use parley_core::call::{
    Call, CallEvent, CallState, ConversationTurn, EndReason, Progress, SummaryData, TimelineEntry, TimelineKind,
    TurnLatency,
};
use parley_core::speech::EngineFallback;
use parley_core::time::Timestamp;
use parley_core::webhook::EventType;
use serde_json::json;
use sqlx::Row;
use std::time::Duration;
use uuid::Uuid;

/// Adds each fallback the call does not hold yet to its `engine_fallbacks` and its timeline
/// (an `ENGINE_FALLBACK` entry at the call's progress, timed from its answer), keeping the
/// timeline in time order.
fn record_fallbacks(call: &mut Call, fallbacks: &[EngineFallback]) {
    let answered = call.start_time.unwrap_or(call.created).millis();
    for f in fallbacks {
        if call.engine_fallbacks.contains(f) {
            continue;
        }
        call.engine_fallbacks.push(f.clone());
        let at = Timestamp(answered + f.at_ms);
        let entry = TimelineEntry {
            progress: Progress::Answered,
            at,
            kind: TimelineKind::EngineFallback,
            engine_fallback: Some(f.clone()),
        };
        let before = call
            .timeline
            .iter()
            .position(|e| e.at.millis() > at.millis() || e.progress == Progress::Ended)
            .unwrap_or(call.timeline.len());
        call.timeline.insert(before, entry);
    }
}

/// How long [`CallLife::hang_up`] waits for the process running a call to hang it up (it looks
/// for requests twice a second) before ending the call itself, and how often it looks.
const HANG_UP_WAIT: (u32, Duration) = (40, Duration::from_millis(100));

/// The calls service over a store (see the module's doc): `store.call_life()`.
#[derive(Clone, Copy)]
pub struct CallLife<'a> {
    store: &'a Store,
}

/// How a call that was never answered ended, as its network reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unanswered {
    Busy,
    NoAnswer,
    Rejected,
    Failed,
}

/// How an answered call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Either side hung up, or the call reached its longest duration.
    Completed,
    Transferred,
    Voicemail,
    /// The line failed or went silent: why (the call's failure reason).
    Failed(String),
}

/// What an answered call produced, written with its end.
#[derive(Debug, Clone, Default)]
pub struct CallResults {
    pub conversation_history: Vec<ConversationTurn>,
    pub transcript: String,
    pub summary_data: SummaryData,
    pub variables: serde_json::Map<String, serde_json::Value>,
    pub outcome: Option<String>,
    pub latency: Vec<TurnLatency>,
    pub recording_url: Option<String>,
    /// The agent's walk, for replay (`Call::path`).
    pub path: Vec<serde_json::Value>,
    /// Every chosen speech engine that fell back to the embedded one (`Call::engine_fallbacks`).
    pub engine_fallbacks: Vec<EngineFallback>,
}

impl Store {
    /// The calls service: every change of a call's state, each with its side effects.
    pub fn call_life(&self) -> CallLife<'_> {
        CallLife { store: self }
    }
}

impl CallLife<'_> {
    /// The runner starts placing the call (queued -> dialing). `false` when it ended meanwhile.
    pub async fn dialing(&self, id: Uuid) -> Result<bool> {
        self.step(id, CallEvent::Dial).await
    }

    /// The callee's phone rings (dialing -> ringing). `false` when the call ended meanwhile.
    pub async fn ringing(&self, id: Uuid) -> Result<bool> {
        self.step(id, CallEvent::Ring).await
    }

    /// The callee answered (dialing or ringing -> answered; the call's start time). `false` when
    /// the call ended meanwhile.
    pub async fn answered(&self, id: Uuid) -> Result<bool> {
        self.step(id, CallEvent::Answer).await
    }

    /// An incoming call, answered as it arrives: dialing, ringing and answered in turn, so its
    /// timeline reads as an outbound call's. `false` (and no further step) when one of them finds
    /// the call ended.
    pub async fn picked_up(&self, id: Uuid) -> Result<bool> {
        for ev in [CallEvent::Dial, CallEvent::Ring, CallEvent::Answer] {
            if !self.step(id, ev).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The network ended the call before anyone answered (busy, no answer, rejected, failed),
    /// with its cause when it gave one.
    pub async fn not_answered(&self, id: Uuid, how: Unanswered, cause: Option<String>) -> Result<()> {
        let reason = match how {
            Unanswered::Busy => EndReason::Busy,
            Unanswered::NoAnswer => EndReason::NoAnswer,
            Unanswered::Rejected => EndReason::Rejected,
            Unanswered::Failed => EndReason::Failed,
        };
        self.end_unless_ended(id, reason, cause).await
    }

    /// This process hung up a call before it was answered (asked through the API, or the server
    /// stopping): `CANCELED`, with why.
    pub async fn canceled(&self, id: Uuid, why: &str) -> Result<()> {
        self.end_unless_ended(id, EndReason::Canceled, Some(why.into())).await
    }

    /// The call cannot be placed or run (its agent, number or trunk is gone; the network refused
    /// to dial): `FAILED`, with why.
    pub async fn refused(&self, id: Uuid, why: String) -> Result<()> {
        self.end_unless_ended(id, EndReason::Failed, Some(why)).await
    }

    /// The process that ran the call died with it (its job's lease ran out): `FAILED`, with why.
    pub async fn lost(&self, id: Uuid, why: &str) -> Result<()> {
        self.end_unless_ended(id, EndReason::Failed, Some(why.into())).await
    }

    /// The answered call is over: its end and everything it produced (transcript, recording,
    /// summary, variables, latency). `None` when it had ended meanwhile.
    pub async fn ended(&self, id: Uuid, how: Ending, r: CallResults) -> Result<Option<Call>> {
        let (reason, failure) = match how {
            Ending::Completed => (EndReason::Completed, None),
            Ending::Transferred => (EndReason::Transferred, None),
            Ending::Voicemail => (EndReason::Voicemail, None),
            Ending::Failed(why) => (EndReason::Failed, Some(why)),
        };
        let ended = self
            .transition(id, CallEvent::End(reason), |c| {
                c.conversation_history = r.conversation_history;
                c.transcript = r.transcript;
                c.summary_data = r.summary_data;
                c.variables = r.variables;
                c.outcome = r.outcome;
                c.latency = r.latency;
                c.path = r.path;
                c.recording_url = r.recording_url;
                record_fallbacks(c, &r.engine_fallbacks);
                if failure.is_some() {
                    c.call_failure_reason = failure;
                }
            })
            .await;
        match ended {
            Ok(c) => Ok(Some(c)),
            Err(StoreError::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /interview_response/{id}/hangup`: the ended call. A call on the line is hung up by
    /// the process running it, which ends it with its transcript and recording; this asks it to
    /// and waits up to 4 s. A call still queued, or one no process runs any more, is ended here:
    /// `COMPLETED` if it was answered, else `CANCELED`. [`StoreError::NotFound`] for a call not
    /// the team's, [`StoreError::Conflict`] for one that already ended.
    pub async fn hang_up(&self, team_id: &str, id: Uuid) -> Result<Call> {
        let call = self.store.call(team_id, id).await?;
        if call.progress == Progress::Ended {
            return Err(StoreError::Conflict(format!(
                "the call already ended ({})",
                call.status.as_str()
            )));
        }
        // The progress last read decides how it ends: a call answered during the wait (on a
        // process that died since) ends COMPLETED, not CANCELED "before it was answered".
        let mut progress = call.progress;
        if progress != Progress::Queued {
            self.request_hangup(team_id, id).await?;
            let (times, every) = HANG_UP_WAIT;
            for _ in 0..times {
                tokio::time::sleep(every).await;
                let c = self.store.call(team_id, id).await?;
                if c.progress == Progress::Ended {
                    return Ok(c);
                }
                progress = c.progress;
            }
        }
        let answered = progress == Progress::Answered;
        let reason = match answered {
            true => EndReason::Completed,
            false => EndReason::Canceled,
        };
        self.transition(id, CallEvent::End(reason), |c| {
            if !answered {
                c.call_failure_reason = Some("canceled through the API before it was answered".into());
            }
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict("the call already ended".into()),
            other => other,
        })
    }

    /// A side action of the agent failed during the call: `ACTION_FAILED` to the team's
    /// subscribers.
    pub async fn action_failed(
        &self,
        team_id: &str,
        interview_id: &str,
        call_id: Uuid,
        action: &str,
        error: &str,
    ) -> Result<usize> {
        let body = json!({"call_id": call_id, "action": action, "error": error});
        self.emit(team_id, interview_id, EventType::ActionFailed, &body).await
    }

    /// The agent is transferring the call: `PHONE_TRANSFER` to the team's subscribers, with the
    /// transcript so far.
    pub async fn transferring(
        &self,
        team_id: &str,
        interview_id: &str,
        call_id: Uuid,
        phone_number: &str,
    ) -> Result<usize> {
        let transcript = self
            .store
            .call_for_worker(call_id)
            .await
            .map(|c| c.1.transcript)
            .unwrap_or_default();
        let body = json!({"phone_number": phone_number, "transcript": transcript, "call_id": call_id});
        self.emit(team_id, interview_id, EventType::PhoneTransfer, &body).await
    }

    /// A line of a call in progress, as it is said: appended to the call's conversation and
    /// transcript, so the live view (and a `PHONE_TRANSFER`'s transcript) has it before the end.
    ///
    /// Not a transition: no event row, no webhook, and the call's `version` is left alone, so it
    /// never makes a transition fail its version check. Its own write is checked against the
    /// version it read (a transition in between: read again, twice at most); a transition that
    /// read the body before this line may drop it from the live view until the call ends, whose
    /// results hold every line.
    pub async fn said(&self, id: Uuid, turn: ConversationTurn) -> Result<()> {
        for _ in 0..2 {
            let Some((_, mut call)) = self.store.call_for_worker(id).await.map(Some).or_else(|e| match e {
                StoreError::NotFound => Ok(None),
                e => Err(e),
            })?
            else {
                return Ok(());
            };
            if call.status.is_final() {
                return Ok(());
            }
            let read = call.version;
            let who = if turn.author == "ai" { "Agent" } else { "Caller" };
            if !call.transcript.is_empty() {
                call.transcript.push('\n');
            }
            call.transcript.push_str(&format!("{who}: {}", turn.text));
            call.conversation_history.push(turn.clone());
            let now = Timestamp::now();
            call.updated = now;
            let mut w = self.store.begin_write().await?;
            let r = sqlx::query(
                "UPDATE calls SET updated = $1, search_text = $2, body = $3 WHERE id = $4 AND version = $5",
            )
            .bind(now.millis())
            .bind(super::search_text(&call))
            .bind(serde_json::to_string(&call)?)
            .bind(id.to_string())
            .bind(read)
            .execute(&mut *w.tx)
            .await?;
            w.commit().await?;
            if r.rows_affected() > 0 {
                return Ok(());
            }
        }
        Ok(())
    }

    /// A chosen speech engine failed (or could not start) and the embedded one took over: the
    /// call's `engine_fallbacks` and an `ENGINE_FALLBACK` timeline entry, at once, so the live
    /// view shows it. Written like [`CallLife::said`] (not a transition); the call's end writes
    /// every fallback again with its results, so none is lost to a concurrent transition.
    pub async fn engine_fallback(&self, id: Uuid, fallback: EngineFallback) -> Result<()> {
        for _ in 0..3 {
            let Some((_, mut call)) = self.store.call_for_worker(id).await.map(Some).or_else(|e| match e {
                StoreError::NotFound => Ok(None),
                e => Err(e),
            })?
            else {
                return Ok(());
            };
            if call.status.is_final() {
                return Ok(());
            }
            let read = call.version;
            record_fallbacks(&mut call, std::slice::from_ref(&fallback));
            let now = Timestamp::now();
            call.updated = now;
            let mut w = self.store.begin_write().await?;
            let r = sqlx::query("UPDATE calls SET updated = $1, body = $2 WHERE id = $3 AND version = $4")
                .bind(now.millis())
                .bind(serde_json::to_string(&call)?)
                .bind(id.to_string())
                .bind(read)
                .execute(&mut *w.tx)
                .await?;
            w.commit().await?;
            if r.rows_affected() > 0 {
                return Ok(());
            }
        }
        Ok(())
    }

    /// One step forward; `false` when the state machine refuses it (the call ended meanwhile).
    async fn step(&self, id: Uuid, ev: CallEvent) -> Result<bool> {
        match self.transition(id, ev, |_| {}).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Ends the call for `reason`, with why when there is one; a call that ended meanwhile is
    /// left as it is.
    async fn end_unless_ended(&self, id: Uuid, reason: EndReason, why: Option<String>) -> Result<()> {
        let ended = self
            .transition(id, CallEvent::End(reason), |c| {
                if why.is_some() {
                    c.call_failure_reason = why;
                }
            })
            .await;
        match ended {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Applies `event` to the call; `edit` fills in what the change carries (failure reason,
    /// transcript, recording). Refused transitions are [`StoreError::Conflict`].
    async fn transition(&self, id: Uuid, event: CallEvent, edit: impl FnOnce(&mut Call)) -> Result<Call> {
        let mut w = self.store.begin_write().await?;
        let r = sqlx::query("SELECT team_id, body FROM calls WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *w.tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let team_id: String = r.try_get("team_id")?;
        let mut call: Call = serde_json::from_str(&r.try_get::<String, _>("body")?)?;
        let old_version = call.version;
        let next: CallState = call
            .state()
            .apply(event)
            .map_err(|e| StoreError::Conflict(e.to_string()))?;
        let now = Timestamp::now();
        call.status = next.status;
        call.progress = next.progress;
        call.end_reason = next.end_reason;
        call.version += 1;
        call.updated = now;
        call.timeline.push(TimelineEntry::progress(next.progress, now));
        if event == CallEvent::Answer {
            call.start_time = Some(now);
        }
        if next.progress == Progress::Ended {
            call.end_time = Some(now);
            call.duration_ms = Some(call.start_time.map_or(0, |s| now.millis() - s.millis()));
        }
        edit(&mut call);
        let body = serde_json::to_string(&call)?;
        let updated = sqlx::query(
            "UPDATE calls SET updated = $1, version = $2, status = $3, progress = $4, response_tags = $5, search_text = $6, body = $7 WHERE id = $8 AND version = $9",
        )
        .bind(now.millis())
        .bind(call.version)
        .bind(call.status.as_str())
        .bind(call.progress.as_str())
        .bind(serde_json::to_string(&call.summary_data.response_tags)?)
        .bind(super::search_text(&call))
        .bind(&body)
        .bind(id.to_string())
        .bind(old_version)
        .execute(&mut *w.tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::Conflict("the call changed meanwhile".into()));
        }
        super::insert_event(&mut w.tx, &team_id, &call, call.call_failure_reason.as_deref()).await?;
        webhooks::fan_out(
            &mut w.tx,
            &team_id,
            Some(&call.interview.id),
            EventType::CallProgress,
            &body,
        )
        .await?;
        if next.progress == Progress::Ended {
            webhooks::fan_out(
                &mut w.tx,
                &team_id,
                Some(&call.interview.id),
                EventType::NewResponse,
                &body,
            )
            .await?;
            crate::outbox::enqueue_call_completed(&mut w.tx, &team_id, call.id).await?;
        }
        w.commit().await?;
        Ok(call)
    }

    /// Asks the process running a call in progress to hang it up (see the migration's note).
    async fn request_hangup(&self, team_id: &str, id: Uuid) -> Result<()> {
        let mut w = self.store.begin_write().await?;
        let r = sqlx::query("UPDATE calls SET hangup_requested = 1 WHERE id = $1 AND team_id = $2")
            .bind(id.to_string())
            .bind(team_id)
            .execute(&mut *w.tx)
            .await?;
        crate::found(r.rows_affected())?;
        w.commit().await
    }

    /// Sends a mid-call event to the team's subscribers.
    async fn emit(
        &self,
        team_id: &str,
        interview_id: &str,
        event: EventType,
        payload: &serde_json::Value,
    ) -> Result<usize> {
        let mut w = self.store.begin_write().await?;
        let n = webhooks::fan_out(&mut w.tx, team_id, Some(interview_id), event, &payload.to_string()).await?;
        w.commit().await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::NetworkCallIn;
    use parley_core::call::CallStatus;
    use parley_core::number::NetworkKind;

    /// Fresh stores: a SQLite file (removed when the stores are dropped), and a PostgreSQL
    /// database when the test server is set (`PARLEY_TEST_POSTGRES_URL`, as `scripts/test` sets it).
    async fn stores() -> Stores {
        let path = std::env::temp_dir().join(format!("parley-life-{}.db", Uuid::new_v4().simple()));
        let mut urls = vec![format!("sqlite://{}", path.display())];
        if let Ok(admin) = std::env::var("PARLEY_TEST_POSTGRES_URL") {
            let name = format!("parley_t_{}", Uuid::new_v4().simple());
            let store = Store::connect(&admin, 1).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(store.pool())
                .await
                .unwrap();
            store.close().await;
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            urls.push(format!("{base}/{name}"));
        }
        let mut out = vec![];
        for url in urls {
            let mut store = Store::connect(&url, 2).await.unwrap();
            store.migrate().await.unwrap();
            let key = crate::secrets::SecretKey::generate();
            store.unlock(crate::secrets::SecretBox::new(key)).await.unwrap();
            out.push(store);
        }
        Stores(out, path)
    }

    struct Stores(Vec<Store>, std::path::PathBuf);

    impl Drop for Stores {
        fn drop(&mut self) {
            for end in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{end}", self.1.display()));
            }
        }
    }

    /// A queued inbound call of a new team.
    async fn queued(store: &Store) -> (String, Call) {
        let (team, _) = store.create_team("life").await.unwrap();
        let c = NetworkCallIn {
            interview_id: "AbCd1234",
            from: "+12015550123",
            to: "+14155550123",
            network: NetworkKind::Sip,
            carrier_call_id: "carrier-1",
            claim: None,
        };
        let (call, _) = store.create_network_inbound_call(&team.id, c).await.unwrap();
        (team.id, call)
    }

    async fn events(store: &Store, id: Uuid) -> Vec<(String, Option<String>)> {
        sqlx::query("SELECT progress, detail FROM call_events WHERE call_id = $1 ORDER BY at")
            .bind(id.to_string())
            .fetch_all(store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.try_get("progress").unwrap(), r.try_get("detail").unwrap()))
            .collect()
    }

    #[tokio::test]
    async fn an_answered_call_ends_once_with_its_results() {
        let stores = stores().await;
        for store in &stores.0 {
            let (_, call) = queued(store).await;
            let life = store.call_life();
            assert!(life.picked_up(call.id).await.unwrap());
            let results = CallResults {
                transcript: "ai: Hello".into(),
                outcome: Some("booked".into()),
                ..CallResults::default()
            };
            let ended = life.ended(call.id, Ending::Completed, results).await.unwrap().unwrap();
            assert_eq!(
                (ended.status, ended.end_reason),
                (CallStatus::Ended, Some(EndReason::Completed))
            );
            assert_eq!(
                (ended.transcript.as_str(), ended.outcome.as_deref()),
                ("ai: Hello", Some("booked"))
            );
            let progress: Vec<Progress> = ended.timeline.iter().map(|t| t.progress).collect();
            use Progress::*;
            assert_eq!(progress, [Queued, Dialing, Ringing, Answered, Ended]);
            assert!(ended.start_time.is_some() && ended.duration_ms.is_some());
            assert_eq!(events(store, call.id).await.len(), 5);
            // Whatever comes later leaves the ended call as it is.
            let again = life.ended(call.id, Ending::Failed("late".into()), CallResults::default());
            assert!(again.await.unwrap().is_none());
            life.lost(call.id, "lost").await.unwrap();
            assert!(!life.answered(call.id).await.unwrap());
            let (_, now) = store.call_for_worker(call.id).await.unwrap();
            assert_eq!((now.status, now.call_failure_reason), (CallStatus::Ended, None));
            store.close().await;
        }
    }

    #[tokio::test]
    async fn an_unanswered_call_ends_with_its_cause() {
        let stores = stores().await;
        for store in &stores.0 {
            let (_, call) = queued(store).await;
            let life = store.call_life();
            assert!(life.dialing(call.id).await.unwrap());
            assert!(life.ringing(call.id).await.unwrap());
            life.not_answered(call.id, Unanswered::Busy, Some("sip 486 Busy Here".into()))
                .await
                .unwrap();
            let (_, c) = store.call_for_worker(call.id).await.unwrap();
            assert_eq!((c.status, c.end_reason), (CallStatus::NoAnswer, Some(EndReason::Busy)));
            assert_eq!(c.call_failure_reason.as_deref(), Some("sip 486 Busy Here"));
            let ended = events(store, call.id).await.into_iter().find(|e| e.0 == "ended");
            assert_eq!(ended.and_then(|e| e.1).as_deref(), Some("sip 486 Busy Here"));
            store.close().await;
        }
    }

    #[tokio::test]
    async fn hanging_up_a_queued_call_cancels_it_and_only_once() {
        let stores = stores().await;
        for store in &stores.0 {
            let (team, call) = queued(store).await;
            let life = store.call_life();
            let other = store.create_team("other").await.unwrap().0;
            assert!(matches!(
                life.hang_up(&other.id, call.id).await,
                Err(StoreError::NotFound)
            ));
            let ended = life.hang_up(&team, call.id).await.unwrap();
            assert_eq!(
                (ended.status, ended.end_reason),
                (CallStatus::Failed, Some(EndReason::Canceled))
            );
            assert_eq!(
                ended.call_failure_reason.as_deref(),
                Some("canceled through the API before it was answered")
            );
            match life.hang_up(&team, call.id).await {
                Err(StoreError::Conflict(m)) => assert_eq!(m, "the call already ended (FAILED)"),
                other => panic!("{other:?}"),
            }
            // The runner, finding the call ended, does not dial it.
            assert!(!life.dialing(call.id).await.unwrap());
            store.close().await;
        }
    }
}
