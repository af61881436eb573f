//! The networks a server runs, behind one handle: the call runner dials through it and never
//! names a concrete network.
//!
//! Decision: the registry picks by the [`Route`] the runner resolved (the number's network),
//! not by parsing the destination itself. Which network a number belongs to is team data (the
//! team's phone numbers and trunks, the sandbox ranges); the registry only knows which
//! networks this server has, so a route to a network it lacks fails the call with a cause
//! instead of silently ringing another network.

use crate::line::Endpoint;
use crate::network::{DialRequest, NetworkError, NetworkKind, PhoneNetwork, Switchboard};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The phone networks of one server.
#[derive(Clone, Default)]
pub struct Networks {
    by_kind: BTreeMap<NetworkKind, Arc<dyn PhoneNetwork>>,
}

impl std::fmt::Debug for Networks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_kind.keys()).finish()
    }
}

impl Networks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a network (one per kind: a later one of the same kind replaces the earlier).
    pub fn with(mut self, network: Arc<dyn PhoneNetwork>) -> Self {
        self.by_kind.insert(network.kind(), network);
        self
    }

    /// The network of a kind, if this server runs it.
    pub fn get(&self, kind: NetworkKind) -> Option<&Arc<dyn PhoneNetwork>> {
        self.by_kind.get(&kind)
    }

    /// The kinds this server runs.
    pub fn kinds(&self) -> impl Iterator<Item = NetworkKind> + '_ {
        self.by_kind.keys().copied()
    }

    /// Places a call on the network its route names.
    pub async fn dial(&self, req: DialRequest) -> Result<Endpoint, NetworkError> {
        let kind = req.route.kind();
        match self.by_kind.get(&kind) {
            Some(n) => n.dial(req).await,
            None => Err(NetworkError::Unavailable(format!(
                "this server does not run the {kind} network"
            ))),
        }
    }

    /// Gives every network the switchboard for its incoming calls.
    pub fn attach(&self, switchboard: Arc<dyn Switchboard>) {
        for n in self.by_kind.values() {
            n.attach(switchboard.clone());
        }
    }

    /// The HTTP routes of every network, merged (each network keeps to its own prefix).
    pub fn routes(&self) -> axum::Router {
        self.by_kind
            .values()
            .filter_map(|n| n.routes())
            .fold(axum::Router::new(), |all, r| all.merge(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::{self, LineEvent};
    use crate::network::{BoxFuture, Route, TwilioRoute};
    use std::time::Duration;

    /// A network that answers every call with one event naming itself.
    struct Tagged(NetworkKind);
    impl PhoneNetwork for Tagged {
        fn kind(&self) -> NetworkKind {
            self.0
        }
        fn dial(&self, _req: DialRequest) -> BoxFuture<'_, Result<Endpoint, NetworkError>> {
            let kind = self.0;
            Box::pin(async move {
                let (ep, far) = line::pair();
                far.sender
                    .dtmf(if kind == NetworkKind::Sandbox { 's' } else { 't' })
                    .await;
                // Keep the far end's sender alive so the line stays up for the assertion.
                std::mem::forget(far);
                Ok(ep)
            })
        }
    }

    fn req(route: Route) -> DialRequest {
        DialRequest {
            call_id: uuid::Uuid::new_v4(),
            team_id: "t".into(),
            from: "+1".into(),
            to: "+2".into(),
            ring_timeout: Duration::from_secs(1),
            route,
        }
    }

    #[tokio::test]
    async fn picks_the_network_of_the_route_and_fails_a_missing_one_with_a_cause() {
        let nets = Networks::new()
            .with(Arc::new(Tagged(NetworkKind::Sandbox)))
            .with(Arc::new(Tagged(NetworkKind::Twilio)));
        let mut ep = nets.dial(req(Route::Sandbox)).await.unwrap();
        assert_eq!(ep.events.recv().await, Some(LineEvent::Dtmf('s')));
        let twilio = Route::Twilio(TwilioRoute {
            account_sid: "AC".into(),
            auth_token: "secret".into(),
        });
        let mut ep = nets.dial(req(twilio)).await.unwrap();
        assert_eq!(ep.events.recv().await, Some(LineEvent::Dtmf('t')));
        let sip = Route::Sip(crate::network::SipTrunkRoute {
            trunk_id: "x".into(),
            host: "h".into(),
            port: 5060,
            transport: crate::network::SipTransport::Udp,
            username: None,
            password: Some("pw".into()),
            from_domain: None,
        });
        let err = nets.dial(req(sip.clone())).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "phone network unavailable: this server does not run the sip network"
        );
        assert!(
            !format!("{sip:?}").contains("pw"),
            "a password must not reach a log line"
        );
        assert_eq!(
            nets.kinds().collect::<Vec<_>>(),
            [NetworkKind::Twilio, NetworkKind::Sandbox]
        );
    }
}
