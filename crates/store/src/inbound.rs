//! Calls that a carrier delivers (a SIP INVITE, a Twilio voice webhook) to a number bound to
//! an agent.
//!
//! Decision: such a call is written exactly like every other call (a queued row, its first
//! event, its job) and its job is inserted already claimed by the process that holds the line
//! ([`NetworkCallIn::claim`]). That process runs the job at once and heartbeats its lease while
//! the call lasts, as the dial job does; if the process dies, the lease runs out and any other
//! process runs the job, finds the call neither queued nor ended, and ends it `FAILED` as lost
//! ([`CallLife::lost`](crate::calls::life::CallLife::lost)).
//! So a carrier's call gets the same watchdog as one Parley placed, with no new mechanism.

use crate::calls::{insert_queued_call, queued_call};
use crate::{now_ms, Result, Store};
use parley_core::call::{Call, CallType};
use parley_core::number::{CallRoute, NetworkKind};
use std::collections::BTreeMap;

/// The job that runs a carrier's inbound call in the process holding its line. Payload:
/// `{call_id, team_id, network, from, to, carrier_call_id}`.
pub const NETWORK_CALL_IN_JOB: &str = "network_call_in";

/// An inbound call a network has offered and the switchboard accepted.
#[derive(Debug, Clone)]
pub struct NetworkCallIn<'a> {
    /// The agent the called number is bound to.
    pub interview_id: &'a str,
    /// The caller (E.164 when the network gave one): the call's `phone_number`.
    pub from: &'a str,
    /// The team's number that was called (E.164).
    pub to: &'a str,
    /// The network the call came in on.
    pub network: NetworkKind,
    /// The carrier's id of the call (SIP Call-ID, Twilio CallSid).
    pub carrier_call_id: &'a str,
    /// The job's claim: this worker's id and the lease's end (ms), so the job runs here.
    pub claim: Option<(&'a str, i64)>,
}

impl Store {
    /// Writes an inbound carrier call as queued, with its job (claimed when `claim` is given).
    /// Returns the call and its job's id.
    pub async fn create_network_inbound_call(&self, team_id: &str, c: NetworkCallIn<'_>) -> Result<(Call, String)> {
        self.create_answered_call(team_id, CallType::InboundCall, c).await
    }

    /// Writes a dashboard's "Test in browser" call (`BROWSER_CALL`) as an inbound call is
    /// written: queued, with its job claimed by the process that holds the browser's socket.
    /// `from` names the person testing (their email); there is no carrier.
    pub async fn create_browser_call(
        &self,
        team_id: &str,
        interview_id: &str,
        from: &str,
        claim: Option<(&str, i64)>,
    ) -> Result<(Call, String)> {
        let id = parley_core::ids::new_uuid().to_string();
        let c = NetworkCallIn {
            interview_id,
            from,
            to: "browser",
            network: NetworkKind::Sandbox,
            carrier_call_id: &id,
            claim,
        };
        self.create_answered_call(team_id, CallType::BrowserCall, c).await
    }

    async fn create_answered_call(
        &self,
        team_id: &str,
        call_type: CallType,
        c: NetworkCallIn<'_>,
    ) -> Result<(Call, String)> {
        let contact = self.list_contacts_by_number(team_id, c.from).await?;
        let now = now_ms();
        let mut call = queued_call(
            call_type,
            c.interview_id.to_string(),
            c.from.to_string(),
            contact,
            BTreeMap::new(),
            None,
            // The team's number that was called is this call's own number.
            CallRoute {
                network: c.network,
                from_number: Some(c.to.to_string()),
            },
            now,
        );
        let payload = serde_json::json!({
            "call_id": call.id,
            "team_id": team_id,
            "network": c.network.as_str(),
            "from": c.from,
            "to": c.to,
            "carrier_call_id": c.carrier_call_id,
        });
        let mut w = self.begin_write().await?;
        let job = insert_queued_call(&mut w.tx, team_id, &mut call, NETWORK_CALL_IN_JOB, &payload, now).await?;
        if let Some((worker, until)) = c.claim {
            sqlx::query("UPDATE jobs SET locked_by = $1, locked_until = $2, attempts = 1 WHERE id = $3")
                .bind(worker)
                .bind(until)
                .bind(&job)
                .execute(&mut *w.tx)
                .await?;
        }
        w.commit().await?;
        Ok((call, job))
    }
}
