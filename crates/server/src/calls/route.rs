//! What a call needs before it is placed: its agent (gone since it was queued: the call is
//! refused) and, for an outbound call, its caller id and carrier route.

use super::CallRunner;
use parley_core::call::Call;
use parley_core::interview::Interview;
use parley_jobs::JobError;
use parley_store::StoreError;
use parley_telephony::network::{SipTrunkRoute, TwilioRoute};
use parley_telephony::{NetworkKind, Route};

impl CallRunner {
    /// The call's agent, in the version the call was pinned to when queued (the live one when
    /// that version is not kept, or the call predates versions); `None` (and the call ended
    /// `FAILED`) if the agent was deleted meanwhile.
    pub(super) async fn interview_of(&self, team_id: &str, call: &Call) -> Result<Option<Interview>, JobError> {
        match self.store.interview(team_id, &call.interview.id).await {
            Ok(i) => match call.interview.version {
                Some(v) if v != i.version => match self.store.interview_version(team_id, &i.id, v).await {
                    Ok(pinned) => Ok(Some(pinned)),
                    Err(StoreError::NotFound) => Ok(Some(i)),
                    Err(e) => Err(e.into()),
                },
                _ => Ok(Some(i)),
            },
            Err(StoreError::NotFound) => {
                let why = "the voice agent no longer exists".to_string();
                self.store.call_life().refused(call.id, why).await?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The caller id and the carrier route of an outbound call, from the network and number
    /// the API chose when it queued the call. `Err` is why the call cannot be placed (its
    /// number or trunk was removed since): the call's failure reason.
    pub(super) async fn route_of(
        &self,
        team_id: &str,
        call: &Call,
    ) -> Result<Result<(String, Route), String>, JobError> {
        if call.network == NetworkKind::Sandbox {
            let from = call
                .from_number
                .clone()
                .unwrap_or_else(|| self.settings.caller_id.clone());
            return Ok(Ok((from, Route::Sandbox)));
        }
        let Some(number) = self.store.outbound_number(team_id, call.from_number.as_deref()).await? else {
            return Ok(Err(format!(
                "the team has no {} number to call from any more",
                call.network
            )));
        };
        if number.network != call.network {
            return Ok(Err(format!(
                "the number {} is no longer on the {} network",
                number.phone_number, call.network
            )));
        }
        let route = match call.network {
            NetworkKind::Sip => {
                let Some(trunk_id) = number.sip_trunk_id else {
                    return Ok(Err(format!("the number {} has no SIP trunk", number.phone_number)));
                };
                let trunk = match self.store.sip_trunk_for_worker(&trunk_id.to_string()).await {
                    Ok(t) => t,
                    Err(StoreError::NotFound) => return Ok(Err("the SIP trunk no longer exists".into())),
                    Err(e) => return Err(e.into()),
                };
                Route::Sip(SipTrunkRoute {
                    trunk_id: trunk.id.to_string(),
                    host: trunk.host,
                    port: trunk.port,
                    transport: trunk.transport,
                    username: trunk.username,
                    password: trunk.password,
                    from_domain: trunk.from_domain,
                })
            }
            NetworkKind::Twilio => {
                let Some(account) = number.twilio else {
                    return Ok(Err(format!("the number {} has no Twilio account", number.phone_number)));
                };
                Route::Twilio(TwilioRoute {
                    account_sid: account.account_sid,
                    auth_token: account.auth_token,
                })
            }
            NetworkKind::Sandbox => Route::Sandbox,
        };
        Ok(Ok((number.phone_number, route)))
    }
}
