//! The per-socket router: bytes in (with source address and time), bytes and events out.
//! It routes responses and in-dialog requests to their call by Call-ID, answers what needs no
//! state (OPTIONS, REGISTER, strays, garbage), and admits inbound INVITEs through the owner's
//! [`InboundPolicy`].
//!
//! Decision: everything that is not a call we own is answered statelessly or dropped: 403 to
//! INVITEs from sources outside the allow-list, 404/503 by the policy, 400 to malformed
//! requests, all before any call state exists, and all rate limited per source for sources
//! the policy does not allow. Only an admitted INVITE or our own dial creates an entry, so the
//! table is bounded by the owner's call limit, not by what the internet sends.

use super::call::CallEvent;
use super::dialog::LocalSide;
use super::message::{self, Message, Method, ParseError};
use super::policy::{Admission, InboundPolicy, RateLimiter};
use super::sdp::{LocalMedia, Negotiated, SdpError};
use super::transaction::{token, Transmit, Transport};
use super::uac::{DialParams, Uac};
use super::uas::{IncomingCall, Uas};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

/// One socket's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConfig {
    pub transport: Transport,
    /// The socket's own address.
    pub local_addr: SocketAddr,
    /// The address peers reach the socket at, behind NAT (goes into Via and Contact).
    pub public_addr: Option<SocketAddr>,
    /// Calls (both directions) this endpoint holds at most; an inbound INVITE beyond gets 503.
    pub max_calls: usize,
    /// Token bucket for sources the policy does not allow: burst, then per second.
    pub stranger_burst: u32,
    pub stranger_per_sec: u32,
}

impl EndpointConfig {
    pub fn new(transport: Transport, local_addr: SocketAddr) -> EndpointConfig {
        EndpointConfig {
            transport,
            local_addr,
            public_addr: None,
            max_calls: 100,
            stranger_burst: 10,
            stranger_per_sec: 2,
        }
    }
}

/// A call this endpoint holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallHandle(pub u64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointEvent {
    /// An admitted inbound call: answer with [`Endpoint::accept`] or [`Endpoint::reject`].
    Incoming { call: CallHandle, info: Box<IncomingCall> },
    /// Progress of a call.
    Call { call: CallHandle, event: CallEvent },
    /// The call's protocol state is gone; its handle is now unknown.
    Closed { call: CallHandle },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("no such call")]
    UnknownCall,
    #[error("this Call-ID is already in use")]
    CallIdInUse,
    #[error("the endpoint holds its maximum number of calls")]
    Full,
    #[error("not an inbound call")]
    NotInbound,
    #[error("cannot answer the offer: {0}")]
    Sdp(#[from] SdpError),
}

#[derive(Debug)]
enum Leg {
    Out(Box<Uac>),
    In(Box<Uas>),
}

macro_rules! leg {
    ($leg:expr, $l:ident => $e:expr) => {
        match $leg {
            Leg::Out($l) => $e,
            Leg::In($l) => $e,
        }
    };
}

pub struct Endpoint {
    config: EndpointConfig,
    policy: Box<dyn InboundPolicy + Send>,
    calls: HashMap<CallHandle, Leg>,
    by_call_id: HashMap<String, CallHandle>,
    next_handle: u64,
    limiter: RateLimiter,
    transmits: VecDeque<Transmit>,
    events: VecDeque<EndpointEvent>,
}

impl Endpoint {
    pub fn new(config: EndpointConfig, policy: Box<dyn InboundPolicy + Send>) -> Endpoint {
        let limiter = RateLimiter::new(config.stranger_burst, config.stranger_per_sec);
        Endpoint {
            config,
            policy,
            calls: HashMap::new(),
            by_call_id: HashMap::new(),
            next_handle: 1,
            limiter,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Places an outbound call. `params.transport` and addresses should match this socket.
    pub fn dial(&mut self, params: DialParams, now: Instant) -> Result<CallHandle, EndpointError> {
        if self.by_call_id.contains_key(&params.call_id) {
            return Err(EndpointError::CallIdInUse);
        }
        if self.calls.len() >= self.config.max_calls {
            return Err(EndpointError::Full);
        }
        let id = params.call_id.clone();
        let h = self.insert(id, Leg::Out(Box::new(Uac::dial(params, now))));
        self.drain(h, now);
        Ok(h)
    }

    fn insert(&mut self, call_id: String, leg: Leg) -> CallHandle {
        let h = CallHandle(self.next_handle);
        self.next_handle += 1;
        self.calls.insert(h, leg);
        self.by_call_id.insert(call_id, h);
        h
    }

    /// Bytes received from `src` (one datagram, or one message framed off a stream).
    pub fn handle_input(&mut self, src: SocketAddr, data: &[u8], now: Instant) {
        let trusted = self.policy.allows(src.ip());
        let msg = match message::parse(data) {
            Ok(m) => m,
            Err(ParseError::KeepAlive) => return,
            Err(e) => {
                if trusted || self.limiter.allow(src.ip(), now) {
                    if let Some(r) = message::salvage_bad_request(data, &e.to_string()) {
                        self.send(src, r);
                    }
                }
                return;
            }
        };
        let Some(call_id) = msg.call_id() else { return };
        if let Some(&h) = self.by_call_id.get(call_id) {
            if let Some(leg) = self.calls.get_mut(&h) {
                if msg.method().is_none() || msg.validate().is_ok() {
                    leg!(leg, l => l.handle(&msg, src, now));
                    self.drain(h, now);
                    return;
                }
            }
        }
        if msg.method().is_none() {
            return; // A response to nothing we sent: never answer a response.
        }
        if !trusted && !self.limiter.allow(src.ip(), now) {
            return;
        }
        if let Err(why) = msg.validate() {
            if msg.method() != Some(&Method::Ack) {
                let mut r = Message::response_to(&msg, 400, None);
                r.start = message::StartLine::Response {
                    status: 400,
                    reason: format!("Bad Request ({why})"),
                };
                self.send(src, r);
            }
            return;
        }
        self.out_of_dialog(msg, src, trusted, now);
    }

    fn out_of_dialog(&mut self, msg: Message, src: SocketAddr, trusted: bool, now: Instant) {
        let has_to_tag = msg.to().is_some_and(|t| t.tag().is_some());
        let status = match msg.method() {
            Some(Method::Ack) | None => return,
            Some(Method::Options) => {
                let mut r = Message::response_to(&msg, 200, Some(&token()[..16]));
                r.headers.push(
                    "Allow",
                    "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE",
                );
                r.headers.push("Accept", "application/sdp");
                self.send(src, r);
                return;
            }
            Some(Method::Register) => 403,
            Some(Method::Invite) if has_to_tag => 481,
            Some(Method::Invite) if !trusted => 403,
            Some(Method::Invite) => {
                if msg.headers.get("Max-Forwards").is_some_and(|m| m.trim() == "0") {
                    483
                } else if self.calls.len() >= self.config.max_calls {
                    503
                } else {
                    let info = IncomingCall::from_invite(&msg, src);
                    match self.policy.admit(&info) {
                        Admission::NotFound => 404,
                        Admission::Full => 503,
                        Admission::Offer => return self.admit(msg, src, now),
                    }
                }
            }
            Some(Method::Subscribe | Method::Publish | Method::Message) => 405,
            Some(Method::Other(_)) => 501,
            Some(_) => 481,
        };
        let r = Message::response_to(&msg, status, Some(&token()[..16]));
        self.send(src, r);
    }

    fn admit(&mut self, invite: Message, src: SocketAddr, now: Instant) {
        let local = LocalSide {
            transport: self.config.transport,
            contact_addr: self.config.public_addr.unwrap_or(self.config.local_addr),
            user: IncomingCall::from_invite(&invite, src).to,
            peer: src,
        };
        let (uas, info) = Uas::new(&invite, src, local, now);
        let h = self.insert(info.call_id.clone(), Leg::In(Box::new(uas)));
        self.events.push_back(EndpointEvent::Incoming {
            call: h,
            info: Box::new(info),
        });
        self.drain(h, now);
    }

    fn send(&mut self, dest: SocketAddr, msg: Message) {
        self.transmits.push_back(Transmit {
            dest,
            transport: self.config.transport,
            payload: msg.to_bytes(),
        });
    }

    /// Moves a call's outputs to the endpoint's queues and forgets it once terminated.
    fn drain(&mut self, h: CallHandle, now: Instant) {
        let Some(leg) = self.calls.get_mut(&h) else { return };
        while let Some(t) = leg!(leg, l => l.poll_transmit()) {
            self.transmits.push_back(t);
        }
        while let Some(event) = leg!(leg, l => l.poll_event()) {
            self.events.push_back(EndpointEvent::Call { call: h, event });
        }
        if leg!(leg, l => l.is_terminated(now)) {
            let id = leg!(leg, l => l.call_id().to_string());
            self.calls.remove(&h);
            self.by_call_id.remove(&id);
            self.events.push_back(EndpointEvent::Closed { call: h });
        }
    }

    fn with_leg(&mut self, h: CallHandle, now: Instant, f: impl FnOnce(&mut Leg)) -> Result<(), EndpointError> {
        let leg = self.calls.get_mut(&h).ok_or(EndpointError::UnknownCall)?;
        f(leg);
        self.drain(h, now);
        Ok(())
    }

    /// Answers an inbound call; `Ok(None)` for a late offer (media comes with `Answered`).
    pub fn accept(
        &mut self,
        h: CallHandle,
        media: LocalMedia,
        now: Instant,
    ) -> Result<Option<Negotiated>, EndpointError> {
        let mut out = Err(EndpointError::NotInbound);
        self.with_leg(h, now, |leg| {
            if let Leg::In(uas) = leg {
                out = uas.accept(media, now).map_err(EndpointError::from);
            }
        })?;
        out
    }

    /// Sends 180 Ringing on an inbound call.
    pub fn ringing(&mut self, h: CallHandle, now: Instant) -> Result<(), EndpointError> {
        self.with_leg(h, now, |leg| {
            if let Leg::In(uas) = leg {
                uas.ringing(now);
            }
        })
    }

    /// Refuses an inbound call (404 unknown number, 486 busy, 503 full, 603 decline…).
    pub fn reject(&mut self, h: CallHandle, status: u16, now: Instant) -> Result<(), EndpointError> {
        self.with_leg(h, now, |leg| match leg {
            Leg::In(uas) => uas.reject(status, now),
            Leg::Out(uac) => uac.hang_up(now),
        })
    }

    /// Hangs up: CANCEL or BYE for an outbound call, reject or BYE for an inbound one.
    pub fn hang_up(&mut self, h: CallHandle, now: Instant) -> Result<(), EndpointError> {
        self.with_leg(h, now, |leg| leg!(leg, l => l.hang_up(now)))
    }

    /// Blind transfer of an answered call to `target` (E.164 or SIP URI).
    pub fn refer(&mut self, h: CallHandle, target: &str, now: Instant) -> Result<(), EndpointError> {
        self.with_leg(h, now, |leg| leg!(leg, l => l.refer(target, now)))
    }

    /// The negotiated media of a call, once known.
    pub fn media(&self, h: CallHandle) -> Option<&Negotiated> {
        self.calls.get(&h).and_then(|leg| leg!(leg, l => l.media()))
    }

    /// The transport could not deliver to `dest` (see [`Uac::transport_failed`]): outbound
    /// calls still waiting for that trunk's first answer fail with `why`.
    pub fn transport_failed(&mut self, dest: SocketAddr, why: &str, now: Instant) {
        let waiting: Vec<CallHandle> = self
            .calls
            .iter()
            .filter(|(_, leg)| matches!(leg, Leg::Out(_)))
            .map(|(h, _)| *h)
            .collect();
        for h in waiting {
            if let Some(Leg::Out(uac)) = self.calls.get_mut(&h) {
                uac.transport_failed(dest, why, now);
            }
            self.drain(h, now);
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<CallHandle> = self
            .calls
            .iter()
            .filter(|(_, leg)| leg!(leg, l => l.poll_timeout()).is_some_and(|t| t <= now))
            .map(|(h, _)| *h)
            .collect();
        for h in due {
            if let Some(leg) = self.calls.get_mut(&h) {
                leg!(leg, l => l.handle_timeout(now));
            }
            self.drain(h, now);
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.events.pop_front()
    }

    /// When to call [`Endpoint::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.calls
            .values()
            .filter_map(|leg| leg!(leg, l => l.poll_timeout()))
            .min()
    }
}
