//! Schedules (`automation_schedule`): the stored slot fired once and the next one computed,
//! kept together because which slot comes next decides whether a missed one fires.

use super::Engine;
use crate::model::Spec;
use crate::steps;
use crate::validate;
use parley_jobs::{JobError, JobOutcome};
use parley_store::jobs::Job;
use parley_store::{now_ms, StoreError};
use serde_json::{json, Value};

impl Engine {
    /// Fires the schedule's stored slot once, then moves to the next.
    pub(super) async fn schedule(&self, job: &Job) -> Result<JobOutcome, JobError> {
        let id = job
            .payload
            .get("automation_id")
            .and_then(Value::as_str)
            .ok_or_else(|| JobError::Payload("schedule without automation_id".into()))?;
        let a = match self.store.automation_by_id(id).await {
            Ok(a) => a,
            Err(StoreError::NotFound) => return Ok(JobOutcome::Done),
            Err(e) => return Err(e.into()),
        };
        let (Some(slot), "live") = (a.schedule_next_at, a.mode.as_str()) else {
            return Ok(JobOutcome::Done);
        };
        let now = now_ms();
        if now < slot {
            return Ok(JobOutcome::RetryAt(slot, "next slot".into()));
        }
        let spec: Spec =
            serde_json::from_value(a.spec.clone()).map_err(|e| JobError::Payload(format!("automation {id}: {e}")))?;
        let payload = json!({ "scheduled_at": steps::rfc3339(slot), "fired_at": steps::rfc3339(now) });
        self.start(
            &a.team_id,
            &a.id,
            a.version,
            &spec,
            Some(format!("slot:{slot}")),
            payload,
            None,
        )
        .await?;
        // Slots missed while no process ran are not replayed one by one: the latest fired once.
        // (Not "the next after now": a process killed while it held this job delays the slot by
        // its lease, and the slot that came due meanwhile must still fire.)
        let next = latest_missed_or_next(&spec, slot, now);
        if !self.store.advance_schedule(&a.id, slot, next).await? {
            // Another process moved it (it fired this slot too; the key made one of them a no-op).
            return Ok(JobOutcome::Done);
        }
        Ok(match next {
            Some(at) => JobOutcome::RetryAt(at, "next slot".into()),
            None => JobOutcome::Done,
        })
    }
}

/// The first slot of a schedule trigger strictly after `after_ms`.
pub fn next_slot(spec: &Spec, after_ms: i64) -> Option<i64> {
    let (cron, tz) = validate::schedule_cron(&spec.trigger, &spec.time_zone).ok()?;
    let after = chrono::DateTime::from_timestamp_millis(after_ms)?;
    validate::next_fire(&cron, tz, after).map(|t| t.timestamp_millis())
}

/// The slot to fire after `fired`: the next one if it is still ahead of `now`, else the latest
/// slot that came due by `now` (fired at once, once; the ones between are skipped).
fn latest_missed_or_next(spec: &Spec, fired: i64, now: i64) -> Option<i64> {
    let mut due = match next_slot(spec, fired) {
        Some(n) if n <= now => n,
        other => return other,
    };
    // Bounded: after a long downtime of a frequent schedule, go straight to the next slot.
    for _ in 0..1000 {
        match next_slot(spec, due) {
            Some(n) if n <= now => due = n,
            _ => return Some(due),
        }
    }
    next_slot(spec, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_slot_is_followed_by_the_latest_missed_one() {
        let spec = crate::model::parse_spec(&json!({
            "name": "s", "mode": "live", "trigger": {"type": "schedule", "cron": "*/2 * * * * *"},
            "steps": [{"slug": "e", "type": "end"}]
        }))
        .unwrap();
        // An even second.
        let s = 1_800_000_000_000;
        // On time: the next slot.
        assert_eq!(latest_missed_or_next(&spec, s, s + 5), Some(s + 2000));
        // Fired 3 s late (its process died holding it): the slot missed meanwhile, at once.
        assert_eq!(latest_missed_or_next(&spec, s, s + 3000), Some(s + 2000));
        // Down for a minute: only the latest missed slot.
        assert_eq!(latest_missed_or_next(&spec, s, s + 61_000), Some(s + 60_000));
        // Down for days: straight to the next slot after now.
        let later = s + 3 * 86_400_000 + 1;
        assert_eq!(latest_missed_or_next(&spec, s, later), Some(later - 1 + 2000));
    }
}
