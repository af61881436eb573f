//! Where the networks deliver incoming calls: who answers a number, and whether this call may
//! reach it.
//!
//! A call is taken only when every check passes, in this order: the number is a team's on the
//! network the call came in on; the call came from where that number's carrier sends calls
//! (the SIP trunk's `inbound_addresses`, or its host when none are listed; the Twilio account
//! that owns the number); an agent answers the number; this node has room. Each refusal is a
//! [`Refusal`] the network turns into its own answer (SIP 404/403/503, Twilio `<Reject/>`).
//!
//! Decision: an unknown number and a number with no agent are refused alike (404). A scanner
//! learns nothing about which numbers a server holds, and a team that unbinds its agent wants
//! the line dead, not a different error.

use crate::calls::CallRunner;
use parley_core::number::Cidr;
use parley_jobs::JobsHandle;
use parley_store::inbound::NetworkCallIn;
use parley_store::now_ms;
use parley_telephony::network::BoxFuture;
use parley_telephony::{IncomingCall, NetworkKind, Refusal, RunCall, Switchboard};
use std::net::IpAddr;
use std::sync::Arc;
use tracing::{info, info_span, warn, Instrument};

/// The server's switchboard.
pub struct Inbound {
    pub runner: Arc<CallRunner>,
    pub jobs: JobsHandle,
}

/// Whether `ip` is one of `allowed` (CIDRs or single addresses). An entry that does not parse
/// allows nothing: the API validates them, so this only guards against a row edited by hand.
pub fn address_allowed(allowed: &[String], ip: IpAddr) -> bool {
    allowed.iter().filter_map(|a| Cidr::parse(a)).any(|c| c.contains(ip))
}

/// The addresses a trunk's host name stands for (a literal address is itself).
async fn host_addresses(host: &str) -> Vec<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return vec![ip];
    }
    match tokio::net::lookup_host((host, 5060)).await {
        Ok(addrs) => addrs.map(|a| a.ip()).collect(),
        Err(_) => vec![],
    }
}

/// Every source any trunk may send INVITEs from: its `inbound_addresses`, or the addresses its
/// host resolves to when it lists none. The SIP network's first, cheap filter; the per-number
/// check in [`Inbound`] is the one that decides.
pub async fn trunk_sources(store: &parley_store::Store) -> parley_store::Result<Vec<Cidr>> {
    let mut out = vec![];
    for (_, trunk) in store.all_sip_trunks().await? {
        if trunk.inbound_addresses.is_empty() {
            for ip in host_addresses(&trunk.host).await {
                out.extend(Cidr::parse(&ip.to_string()));
            }
        } else {
            out.extend(trunk.inbound_addresses.iter().filter_map(|a| Cidr::parse(a)));
        }
    }
    Ok(out)
}

impl Inbound {
    async fn decide(&self, call: &IncomingCall) -> Result<(String, String), Refusal> {
        let store = &self.runner.store;
        let found = store.number_by_e164(&call.to).await.map_err(|e| {
            warn!(error = %e, "could not look up a called number");
            Refusal::Full
        })?;
        let Some((team_id, number)) = found else {
            return Err(Refusal::UnknownNumber);
        };
        if number.network != call.network {
            return Err(Refusal::UnknownNumber);
        }
        match call.network {
            NetworkKind::Sip => {
                let Some(trunk_id) = number.sip_trunk_id else {
                    return Err(Refusal::Forbidden);
                };
                let trunk = store
                    .sip_trunk_for_worker(&trunk_id.to_string())
                    .await
                    .map_err(|_| Refusal::Forbidden)?;
                let Some(source) = call.source.map(|s| s.ip()) else {
                    return Err(Refusal::Forbidden);
                };
                let allowed = if trunk.inbound_addresses.is_empty() {
                    host_addresses(&trunk.host).await.contains(&source)
                } else {
                    address_allowed(&trunk.inbound_addresses, source)
                };
                if !allowed {
                    return Err(Refusal::Forbidden);
                }
            }
            NetworkKind::Twilio => {
                let owner = number.twilio.as_ref().map(|t| t.account_sid.as_str());
                if owner.is_none() || owner != call.account.as_deref() {
                    return Err(Refusal::Forbidden);
                }
            }
            NetworkKind::Sandbox => {}
        }
        let Some(agent) = number.inbound_interview_id.clone() else {
            return Err(Refusal::UnknownNumber);
        };
        if !self.runner.has_room(&team_id).await {
            return Err(Refusal::Full);
        }
        Ok((team_id, agent))
    }
}

impl Switchboard for Inbound {
    fn carrier_secret(&self, network: NetworkKind, account: &str, number: &str) -> BoxFuture<'_, Option<String>> {
        let (account, number) = (account.to_string(), number.to_string());
        Box::pin(async move {
            let (_, n) = self.runner.store.number_by_e164(&number).await.ok()??;
            if n.network != network || network != NetworkKind::Twilio {
                return None;
            }
            n.twilio.filter(|t| t.account_sid == account).map(|t| t.auth_token)
        })
    }

    fn offer(&self, incoming: IncomingCall) -> BoxFuture<'_, Result<RunCall, Refusal>> {
        Box::pin(async move {
            let (team_id, agent) = self.decide(&incoming).await.inspect_err(|r| {
                info!(network = %incoming.network, to = %incoming.to, refusal = ?r, "incoming call refused");
            })?;
            let lease = self.runner.settings.lease.as_millis() as i64;
            let worker = self.jobs.worker_id().map(str::to_string);
            let (call, job_id) = self
                .runner
                .store
                .create_network_inbound_call(
                    &team_id,
                    NetworkCallIn {
                        interview_id: &agent,
                        from: &incoming.from,
                        to: &incoming.to,
                        network: incoming.network,
                        carrier_call_id: &incoming.carrier_call_id,
                        claim: worker.as_deref().map(|w| (w, now_ms() + lease)),
                    },
                )
                .await
                .map_err(|e| {
                    warn!(error = %e, "could not record an incoming call");
                    Refusal::Full
                })?;
            let runner = self.runner.clone();
            let span = info_span!("call", call_id = %call.id, team_id = %team_id, inbound = true,
                network = %incoming.network);
            let run: RunCall = Box::new(move |line| {
                Box::pin(async move { runner.answered_inbound(job_id, team_id, call, line).await }.instrument(span))
            });
            Ok(run)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_match_cidrs_and_single_addresses_only() {
        let allowed = vec!["10.1.0.0/16".to_string(), "2001:db8::1".into(), "junk".into()];
        assert!(address_allowed(&allowed, "10.1.200.3".parse().unwrap()));
        assert!(!address_allowed(&allowed, "10.2.0.1".parse().unwrap()));
        assert!(address_allowed(&allowed, "2001:db8::1".parse().unwrap()));
        assert!(!address_allowed(&allowed, "2001:db8::2".parse().unwrap()));
        assert!(!address_allowed(&[], "127.0.0.1".parse().unwrap()));
    }
}
