//! A SIP transport's task: messages (a UDP socket's datagrams, or messages framed off TCP
//! connections: [`Wire`]), commands and timers into the [`sip::Endpoint`]; its messages out, its call events to each call's leg, its incoming calls to the
//! switchboard.
//!
//! Decision: the switchboard's decision on an incoming call (a database look-up) runs in a task
//! of its own and comes back as a command, so an INVITE never holds up the socket: other calls'
//! BYEs and retransmissions are handled while it is decided. The endpoint has already sent 100
//! Trying, so the carrier does not retransmit meanwhile.

use super::leg::{LegHandle, LegOrder};
use super::metrics::MediaMetrics;
use super::wire::{Received, Wire};
use super::{Command, SipConfig};
use crate::line::{self, Endpoint, LineEvent};
use crate::network::{IncomingCall, NetworkKind, Refusal, RunCall, Switchboard};
use crate::sip::{self, CallEvent, CallHandle, CauseKind, EndpointEvent};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tracing::{debug, info, warn};

/// What signalling keeps per call.
#[derive(Default)]
struct Link {
    leg: Option<mpsc::UnboundedSender<LegOrder>>,
    /// The number our REFER sent the far end to.
    refer_target: Option<String>,
    /// An inbound call accepted but not confirmed yet: what runs it once the ACK comes.
    pending: Option<(RunCall, Endpoint)>,
    answered: bool,
}

pub(crate) struct Signalling {
    wire: Wire,
    /// The SIP socket's own address (RTP sockets of inbound calls bind to its IP).
    local: SocketAddr,
    endpoint: sip::Endpoint,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_tx: mpsc::UnboundedSender<Command>,
    switchboard: Arc<OnceLock<Arc<dyn Switchboard>>>,
    config: SipConfig,
    links: HashMap<CallHandle, Link>,
    media: Arc<MediaMetrics>,
}

impl Signalling {
    pub fn new(
        wire: Wire,
        endpoint: sip::Endpoint,
        commands: mpsc::UnboundedReceiver<Command>,
        commands_tx: mpsc::UnboundedSender<Command>,
        switchboard: Arc<OnceLock<Arc<dyn Switchboard>>>,
        config: SipConfig,
        media: Arc<MediaMetrics>,
    ) -> Self {
        Signalling {
            local: wire.local_addr(),
            wire,
            endpoint,
            commands,
            commands_tx,
            switchboard,
            config,
            links: HashMap::new(),
            media,
        }
    }

    fn order(&self, call: CallHandle, order: LegOrder) {
        if let Some(leg) = self.links.get(&call).and_then(|l| l.leg.as_ref()) {
            let _ = leg.send(order);
        }
    }

    fn command(&mut self, cmd: Command) {
        let now = Instant::now().into_std();
        match cmd {
            Command::Dial {
                params,
                leg,
                target,
                reply,
            } => {
                self.wire.name(params.trunk, &params.trunk_host);
                match self.endpoint.dial(*params, now) {
                    Ok(h) => {
                        let leg = leg.spawn(h, self.commands_tx.clone());
                        debug!(call = h.0, to = %target, "dialing");
                        self.links.insert(
                            h,
                            Link {
                                leg: Some(leg),
                                ..Link::default()
                            },
                        );
                        let _ = reply.send(Ok(()));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(crate::NetworkError::Unavailable(e.to_string())));
                    }
                }
            }
            Command::HangUp(h) => {
                let _ = self.endpoint.hang_up(h, now);
            }
            Command::Refer(h, target) => {
                if let Some(l) = self.links.get_mut(&h) {
                    l.refer_target = Some(target.clone());
                }
                // A number becomes `sip:NUMBER@<the far end's host>`, as carriers expect.
                if let Err(e) = self.endpoint.refer(h, &target, now) {
                    warn!(error = %e, "could not send REFER");
                }
            }
            Command::Decided { call, decision } => match decision {
                Ok((run, rtp)) => self.accept(call, run, rtp, now),
                Err(code) => {
                    let _ = self.endpoint.reject(call, code, now);
                }
            },
        }
    }

    fn accept(&mut self, call: CallHandle, run: RunCall, rtp: UdpSocket, now: std::time::Instant) {
        let Ok(rtp_addr) = rtp.local_addr() else {
            let _ = self.endpoint.reject(call, 503, now);
            return;
        };
        let (events_tx, events) = line::channel();
        let (sender, signals) = line::signals();
        let media = sip::LocalMedia {
            rtp: SocketAddr::new(self.config.public_ip.unwrap_or(rtp_addr.ip()), rtp_addr.port()),
            public_ip: self.config.public_ip,
        };
        match self.endpoint.accept(call, media, now) {
            Ok(negotiated) => {
                let leg = LegHandle::new(rtp, signals, events_tx, self.config.media_timeout, self.media.clone())
                    .spawn(call, self.commands_tx.clone());
                if let Some(m) = negotiated {
                    let _ = leg.send(LegOrder::Media(m));
                }
                self.links.insert(
                    call,
                    Link {
                        leg: Some(leg),
                        pending: Some((run, Endpoint { events, sender })),
                        ..Link::default()
                    },
                );
            }
            Err(e) => {
                warn!(error = %e, "could not answer an incoming call");
                let _ = self.endpoint.reject(call, 488, now);
            }
        }
    }

    fn incoming(&mut self, call: CallHandle, info: sip::IncomingCall) {
        // No 180 yet: a refused call must not ring first (a scanner learns nothing from it),
        // and an accepted one is answered within the switchboard's look-up.
        let Some(switchboard) = self.switchboard.get().cloned() else {
            let _ = self.endpoint.reject(call, 404, Instant::now().into_std());
            return;
        };
        let commands = self.commands_tx.clone();
        let rtp_ip = Some(self.local.ip());
        info!(from = %info.from, to = %info.to, source = %info.source, "incoming SIP call");
        tokio::spawn(async move {
            let offer = IncomingCall {
                network: NetworkKind::Sip,
                from: info.from,
                to: info.to,
                source: Some(info.source),
                carrier_call_id: info.call_id,
                account: None,
            };
            let decision = match switchboard.offer(offer).await {
                Ok(run) => match rtp_ip {
                    Some(ip) => match UdpSocket::bind(SocketAddr::new(ip, 0)).await {
                        Ok(s) => Ok((run, s)),
                        Err(_) => Err(503),
                    },
                    None => Err(503),
                },
                Err(Refusal::UnknownNumber) => Err(404),
                Err(Refusal::Forbidden) => Err(403),
                Err(Refusal::Full) => Err(503),
            };
            let _ = commands.send(Command::Decided { call, decision });
        });
    }

    fn call_event(&mut self, call: CallHandle, event: CallEvent) {
        match event {
            CallEvent::Ringing { early_media } => {
                if let Some(m) = early_media {
                    self.order(call, LegOrder::Media(m));
                }
                self.order(call, LegOrder::Event(LineEvent::Ringing));
            }
            CallEvent::Answered { media } => {
                self.order(call, LegOrder::Media(media));
                self.order(call, LegOrder::Answered);
                if let Some(l) = self.links.get_mut(&call) {
                    l.answered = true;
                    if let Some((run, endpoint)) = l.pending.take() {
                        tokio::spawn(run(endpoint));
                    }
                }
            }
            CallEvent::MediaChanged { media } => self.order(call, LegOrder::Media(media)),
            CallEvent::Dtmf(d) => self.order(call, LegOrder::Event(LineEvent::Dtmf(d))),
            CallEvent::Transferred => {
                let target = self
                    .links
                    .get(&call)
                    .and_then(|l| l.refer_target.clone())
                    .unwrap_or_default();
                self.order(call, LegOrder::Event(LineEvent::Transferred(target)));
            }
            CallEvent::TransferFailed { cause } => warn!(%cause, "the carrier refused the transfer"),
            CallEvent::Ended { cause } => {
                let answered = self.links.get(&call).is_some_and(|l| l.answered);
                let text = cause.to_string();
                let ev = match cause.kind {
                    CauseKind::Busy => Some(LineEvent::Busy(Some(text))),
                    CauseKind::Rejected => Some(LineEvent::Rejected(Some(text))),
                    CauseKind::NoAnswer => Some(LineEvent::NoAnswer(Some(text))),
                    CauseKind::Failed => Some(LineEvent::Failed(text)),
                    CauseKind::RemoteHangUp => Some(LineEvent::HungUp),
                    // The caller gave up before the answer: the line never reached anyone.
                    CauseKind::Canceled if !answered => Some(LineEvent::HungUp),
                    CauseKind::Canceled | CauseKind::LocalHangUp | CauseKind::LocalReject | CauseKind::Transferred => {
                        None
                    }
                };
                if let Some(ev) = ev {
                    self.order(call, LegOrder::Event(ev));
                }
                self.order(call, LegOrder::Stop);
                if let Some(l) = self.links.get_mut(&call) {
                    l.leg = None;
                    l.pending = None;
                }
            }
        }
    }

    fn drain(&mut self) {
        while let Some(ev) = self.endpoint.poll_event() {
            match ev {
                EndpointEvent::Incoming { call, info } => self.incoming(call, *info),
                EndpointEvent::Call { call, event } => self.call_event(call, event),
                EndpointEvent::Closed { call } => {
                    self.order(call, LegOrder::Stop);
                    self.links.remove(&call);
                }
            }
        }
    }

    async fn transmit(&mut self) {
        while let Some(t) = self.endpoint.poll_transmit() {
            self.wire.send(t.dest, &t.payload).await;
        }
    }
}

pub(crate) async fn run(mut s: Signalling) {
    loop {
        let wake = s.endpoint.poll_timeout().map(Instant::from_std);
        tokio::select! {
            received = s.wire.recv() => match received {
                Received::Message(msg, from) => s.endpoint.handle_input(from, &msg, Instant::now().into_std()),
                Received::Unreachable(dest, why) => {
                    warn!(%dest, %why, "SIP peer unreachable");
                    s.endpoint.transport_failed(dest, &why, Instant::now().into_std());
                }
            },
            cmd = s.commands.recv() => match cmd {
                Some(c) => s.command(c),
                None => return,
            },
            _ = async { sleep_until(wake.unwrap_or_else(Instant::now)).await }, if wake.is_some() => {
                s.endpoint.handle_timeout(Instant::now().into_std());
            }
        }
        s.drain();
        s.transmit().await;
    }
}
