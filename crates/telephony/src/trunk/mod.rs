//! The SIP trunk network: the socket shell around the sans-I/O [`crate::sip`] and
//! [`crate::rtp`] layers, implementing [`PhoneNetwork`].
//!
//! - [`signalling`]: one task per transport (UDP, TCP, TLS) owns its [`wire`] and a
//!   [`crate::sip::Endpoint`]; it turns messages, commands and timers into the endpoint's
//!   inputs and its outputs into messages, [`crate::LineEvent`]s and orders for the legs.
//! - [`wire`]: the UDP socket, or the TCP/TLS listener and connections (framed by
//!   Content-Length).
//! - [`tls`]: the certificate Parley presents and the authorities it trusts.
//! - [`leg`]: one task per call owns its RTP socket and [`crate::rtp::MediaSession`], and
//!   carries the call's [`crate::Endpoint`]: frames out at the session's 20 ms clock, the
//!   jitter buffer's frames in, DTMF both ways, a hang-up or transfer passed to signalling.
//! - [`metrics`]: how evenly the calls' RTP leaves the process (send gaps, late and missed
//!   frames), for `/metrics`.
//!
//! Decision: signalling is one task for all calls (the endpoint is one state machine per
//! socket, and SIP is a few messages per call), while media is a task per call, so a call's
//! 50 packets a second never wait behind another call's work and a slow call cannot stall
//! signalling. The two talk over channels only.

mod leg;
pub mod metrics;
mod signalling;
pub mod tls;
mod wire;

use crate::line::{self, Endpoint};
use crate::network::{
    BoxFuture, DialRequest, NetworkError, NetworkKind, PhoneNetwork, Route, SipTransport, Switchboard,
};
use crate::sip::{self, InboundPolicy};
use metrics::MediaMetrics;
use parley_core::number::Cidr;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot};

/// Settings of the SIP network.
#[derive(Debug, Clone)]
pub struct SipConfig {
    /// The SIP socket (UDP, and TCP on the same port). Port 0 picks one.
    pub bind: SocketAddr,
    /// The address carriers reach this node at, when it is behind NAT (`PARLEY_SIP_PUBLIC_ADDR`):
    /// goes into Via, Contact and SDP.
    pub public_ip: Option<IpAddr>,
    /// Calls this node holds at most; an INVITE beyond gets 503.
    pub max_calls: usize,
    /// A call whose RTP stopped this long ends as failed.
    pub media_timeout: Duration,
    /// SIP over TLS (`None`: trunks set to `tls` fail their calls with that reason).
    pub tls: Option<tls::SipTls>,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 5060)),
            public_ip: None,
            max_calls: 500,
            media_timeout: Duration::from_secs(30),
            tls: None,
        }
    }
}

/// The sources allowed to send INVITEs: the union of every trunk's `inbound_addresses` (or
/// host), kept current by the server. Checked on every INVITE before any state exists, so a
/// scanner costs one lookup in a short list and one 403 (rate limited), never a database query.
#[derive(Debug, Clone, Default)]
pub struct AllowList(Arc<RwLock<Vec<Cidr>>>);

impl AllowList {
    pub fn set(&self, blocks: Vec<Cidr>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = blocks;
    }
}

impl InboundPolicy for AllowList {
    fn allows(&self, source: IpAddr) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|c| c.contains(source))
    }
}

/// What signalling is asked to do.
pub(crate) enum Command {
    Dial {
        params: Box<sip::DialParams>,
        leg: leg::LegHandle,
        target: String,
        reply: oneshot::Sender<Result<(), NetworkError>>,
    },
    HangUp(sip::CallHandle),
    Refer(sip::CallHandle, String),
    /// The switchboard's answer to an incoming call.
    Decided {
        call: sip::CallHandle,
        decision: Result<(crate::RunCall, UdpSocket), u16>,
    },
}

/// A carrier SIP trunk network (UDP, TCP and TLS).
pub struct SipNetwork {
    commands: mpsc::UnboundedSender<Command>,
    /// The TCP transport's signalling, when its port could be bound.
    tcp: Option<mpsc::UnboundedSender<Command>>,
    /// The TLS transport's signalling, when configured.
    tls: Option<mpsc::UnboundedSender<Command>>,
    /// The TLS listener's address (when Parley has a certificate).
    tls_local: Option<SocketAddr>,
    local: SocketAddr,
    config: SipConfig,
    switchboard: Arc<OnceLock<Arc<dyn Switchboard>>>,
    media: Arc<MediaMetrics>,
}

impl SipNetwork {
    /// Binds the SIP socket and starts signalling. `allow` is the INVITE allow-list.
    ///
    /// TCP listens on the UDP socket's port; if that port is taken for TCP, the node runs
    /// UDP only (logged) and trunks set to TCP fail their calls with that reason. TLS listens
    /// on its own address when it has a certificate (and must bind), and dials out either way.
    pub async fn start(config: SipConfig, allow: AllowList) -> std::io::Result<Arc<SipNetwork>> {
        let socket = UdpSocket::bind(config.bind).await?;
        let local = socket.local_addr()?;
        let switchboard: Arc<OnceLock<Arc<dyn Switchboard>>> = Arc::default();
        let media = Arc::new(MediaMetrics::default());
        let start = |transport: sip::Transport, wire: wire::Wire| {
            let (commands, rx) = mpsc::unbounded_channel();
            let at = wire.local_addr();
            let mut ep_config = sip::EndpointConfig::new(transport, at);
            ep_config.public_addr = config.public_ip.map(|ip| SocketAddr::new(ip, at.port()));
            ep_config.max_calls = config.max_calls;
            let endpoint = sip::Endpoint::new(ep_config, Box::new(allow.clone()));
            tokio::spawn(signalling::run(signalling::Signalling::new(
                wire,
                endpoint,
                rx,
                commands.clone(),
                switchboard.clone(),
                config.clone(),
                media.clone(),
            )));
            commands
        };
        let commands = start(sip::Transport::Udp, wire::Wire::udp(socket));
        let tcp = match TcpListener::bind(local).await {
            Ok(listener) => Some(start(
                sip::Transport::Tcp,
                wire::Wire::Stream(wire::StreamWire::start(
                    Some(listener),
                    local,
                    allow.clone(),
                    wire::Security::Plain,
                )),
            )),
            Err(e) => {
                tracing::warn!(error = %e, addr = %local, "SIP over TCP is off: its port is not free");
                None
            }
        };
        let (tls, tls_local) = match &config.tls {
            Some(t) => {
                // Without a certificate nothing listens; the address still goes into Via and
                // Contact (a carrier answers over the connection Parley opened).
                let (listener, at) = match t.server {
                    Some(_) => {
                        let l = TcpListener::bind(t.bind).await?;
                        let at = l.local_addr()?;
                        (Some(l), Some(at))
                    }
                    None => (None, None),
                };
                let wire =
                    wire::StreamWire::start(listener, at.unwrap_or(t.bind), allow.clone(), wire::Security::tls(t));
                (Some(start(sip::Transport::Tls, wire::Wire::Stream(wire))), at)
            }
            None => (None, None),
        };
        Ok(Arc::new(SipNetwork {
            commands,
            tcp,
            tls,
            tls_local,
            local,
            config,
            switchboard,
            media,
        }))
    }

    /// The media counters of this network's calls (for `/metrics`).
    pub fn media_metrics(&self) -> Arc<MediaMetrics> {
        self.media.clone()
    }

    /// The SIP socket's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The TLS listener's address, when Parley has a certificate.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_local
    }

    /// The IP our RTP sockets bind to: the SIP socket's (a wildcard SIP bind binds RTP wide too).
    fn rtp_ip(&self) -> IpAddr {
        self.local.ip()
    }

    /// The address we tell peers: the public one behind NAT, else the socket's (a wildcard bind
    /// is told as the address the trunk is reached from, resolved by the OS: see `local_for`).
    async fn reachable_ip(&self, trunk: SocketAddr) -> IpAddr {
        if let Some(ip) = self.config.public_ip {
            return ip;
        }
        if !self.local.ip().is_unspecified() {
            return self.local.ip();
        }
        local_for(trunk).await.unwrap_or(self.local.ip())
    }
}

/// The local address the OS would use to reach `peer` (a connected UDP socket's own address).
async fn local_for(peer: SocketAddr) -> Option<IpAddr> {
    let probe = UdpSocket::bind(SocketAddr::new(
        if peer.is_ipv4() {
            [0, 0, 0, 0].into()
        } else {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        },
        0,
    ))
    .await
    .ok()?;
    probe.connect(peer).await.ok()?;
    probe.local_addr().ok().map(|a| a.ip())
}

impl PhoneNetwork for SipNetwork {
    fn kind(&self) -> NetworkKind {
        NetworkKind::Sip
    }

    fn dial(&self, req: DialRequest) -> BoxFuture<'_, Result<Endpoint, NetworkError>> {
        Box::pin(async move {
            let Route::Sip(trunk) = req.route else {
                return Err(NetworkError::Unavailable("not a SIP route".into()));
            };
            let (commands, transport) = match trunk.transport {
                SipTransport::Udp => (&self.commands, sip::Transport::Udp),
                SipTransport::Tcp => match &self.tcp {
                    Some(c) => (c, sip::Transport::Tcp),
                    None => {
                        return Err(NetworkError::Unavailable(
                            "SIP over TCP is off on this node (its port was taken)".into(),
                        ))
                    }
                },
                SipTransport::Tls => match &self.tls {
                    Some(c) => (c, sip::Transport::Tls),
                    None => return Err(NetworkError::Unavailable("SIP over TLS is off on this node".into())),
                },
            };
            let addr = tokio::net::lookup_host((trunk.host.as_str(), trunk.port))
                .await
                .ok()
                .and_then(|mut a| a.find(|a| a.is_ipv4() == self.local.is_ipv4()))
                .ok_or_else(|| NetworkError::Unavailable(format!("cannot resolve the trunk host {}", trunk.host)))?;
            let rtp = UdpSocket::bind(SocketAddr::new(self.rtp_ip(), 0))
                .await
                .map_err(|e| NetworkError::Unavailable(format!("no RTP port: {e}")))?;
            let rtp_addr = rtp.local_addr().map_err(|e| NetworkError::Unavailable(e.to_string()))?;
            let reachable = self.reachable_ip(addr).await;
            // Via and Contact name the transport's own port (TLS listens apart from UDP/TCP).
            let port = match transport {
                sip::Transport::Tls => self
                    .tls_local
                    .or(self.config.tls.as_ref().map(|t| t.bind))
                    .map_or(self.local.port(), |a| a.port()),
                _ => self.local.port(),
            };
            let local_addr = SocketAddr::new(reachable, port);
            let params = sip::DialParams {
                call_id: format!("{}@parley", req.call_id.simple()),
                from: req.from.clone(),
                to: req.to.clone(),
                trunk: addr,
                trunk_host: trunk.host.clone(),
                transport,
                username: trunk.username.clone(),
                password: trunk.password.clone(),
                from_domain: trunk.from_domain.clone(),
                local_addr,
                public_addr: self.config.public_ip.map(|ip| SocketAddr::new(ip, port)),
                media: sip::LocalMedia {
                    rtp: SocketAddr::new(reachable, rtp_addr.port()),
                    public_ip: self.config.public_ip,
                },
                ring_timeout: req.ring_timeout,
            };
            let (events_tx, events) = line::channel();
            let (sender, signals) = line::signals();
            let leg = leg::LegHandle::new(rtp, signals, events_tx, self.config.media_timeout, self.media.clone());
            let (reply, answer) = oneshot::channel();
            commands
                .send(Command::Dial {
                    params: Box::new(params),
                    leg,
                    target: req.to.clone(),
                    reply,
                })
                .map_err(|_| NetworkError::Unavailable("the SIP network stopped".into()))?;
            answer
                .await
                .map_err(|_| NetworkError::Unavailable("the SIP network stopped".into()))??;
            Ok(Endpoint { events, sender })
        })
    }

    fn attach(&self, switchboard: Arc<dyn Switchboard>) {
        let _ = self.switchboard.set(switchboard);
    }
}
