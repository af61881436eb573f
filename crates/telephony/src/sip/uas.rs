//! The inbound call (UAS): an INVITE the endpoint admitted, waiting for its owner to accept or
//! reject it, then the same dialog handling as an outbound call.
//!
//! It owns the INVITE server transaction (RFC 3261 §17.2.1): 100 Trying at once, the last
//! response sent again to each retransmitted INVITE, a final response retransmitted on UDP
//! (Timer G) until its ACK or Timer H, and CANCEL before answer (200, then 487).
//!
//! Decision: an owner that never decides does not leak the call: after [`DECIDE_WITHIN`] the
//! INVITE is answered 480 by itself. A late-offer INVITE (no SDP) is accepted with our offer
//! in the 200 and the ACK's answer completes the media; `accept` then returns `Ok(None)`.

use super::call::PendingAck;
use super::call::{CallEvent, Core};
use super::cause::{Cause, CauseKind};
use super::dialog::{strip_params, Dialog, LocalSide};
use super::headers::{normalize_number, NameAddr, Uri};
use super::message::{Message, Method};
use super::sdp::{self, Direction, LocalMedia, Negotiated, SdpError, SessionDescription};
use super::transaction::{token, Retransmit, Transmit, T2, TIMEOUT_64T1};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long an inbound call may wait for its owner's accept or reject.
pub const DECIDE_WITHIN: Duration = Duration::from_secs(120);

/// What the owner needs to decide on an inbound call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingCall {
    pub call_id: String,
    /// The caller: From's user part, E.164 when it looks like a number.
    pub from: String,
    pub from_display: Option<String>,
    /// The number called: Request-URI user (To's when the Request-URI has none), E.164 when
    /// it looks like a number.
    pub to: String,
    pub source: SocketAddr,
    /// The caller's SDP offer (`None` for a late-offer INVITE).
    pub offer: Option<SessionDescription>,
}

impl IncomingCall {
    pub fn from_invite(invite: &Message, source: SocketAddr) -> IncomingCall {
        let from = invite.from();
        let ruri_user = invite.request_uri().and_then(Uri::parse).and_then(|u| u.user);
        let to_user = invite.to().and_then(|t| t.uri.user);
        IncomingCall {
            call_id: invite.call_id().unwrap_or("").to_string(),
            from: normalize_number(from.as_ref().and_then(|f| f.uri.user.as_deref()).unwrap_or("")),
            from_display: from.and_then(|f| f.display),
            to: normalize_number(&ruri_user.or(to_user).unwrap_or_default()),
            source,
            offer: (!invite.body.is_empty())
                .then(|| sdp::parse(&invite.body).ok())
                .flatten(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// 100 (maybe 180) sent; the owner decides.
    Offered,
    /// 200 sent; the dialog lives in `core`.
    Answered,
    /// A final failure sent, retransmitted until its ACK.
    Rejecting,
    Done,
}

#[derive(Debug)]
pub struct Uas {
    core: Core,
    invite: Message,
    invite_branch: String,
    source: SocketAddr,
    local_tag: String,
    state: State,
    /// Sent again for a retransmitted INVITE.
    last_response: Option<Transmit>,
    reject_retransmit: Option<Retransmit>,
    reject_deadline: Option<Instant>,
    decide_deadline: Instant,
}

impl Uas {
    /// Takes an admitted INVITE (the endpoint checked source, number and capacity) and answers
    /// 100 Trying. `local.peer` should be the INVITE's source.
    pub fn new(invite: &Message, source: SocketAddr, local: LocalSide, now: Instant) -> (Uas, IncomingCall) {
        let incoming = IncomingCall::from_invite(invite, source);
        let placeholder = LocalMedia {
            rtp: local.contact_addr,
            public_ip: None,
        };
        let mut uas = Uas {
            core: Core::new(local, placeholder, None),
            invite: invite.clone(),
            invite_branch: invite
                .top_via()
                .and_then(|v| v.branch().map(str::to_string))
                .unwrap_or_default(),
            source,
            local_tag: token()[..16].to_string(),
            state: State::Offered,
            last_response: None,
            reject_retransmit: None,
            reject_deadline: None,
            decide_deadline: now + DECIDE_WITHIN,
        };
        let trying = Message::response_to(invite, 100, None);
        uas.send_invite_response(trying);
        (uas, incoming)
    }

    pub fn call_id(&self) -> &str {
        self.invite.call_id().unwrap_or("")
    }

    pub fn media(&self) -> Option<&Negotiated> {
        self.core.media.as_ref()
    }

    fn send_invite_response(&mut self, mut resp: Message) -> Transmit {
        if resp.status().is_some_and(|s| s > 100) {
            for rr in self.invite.headers.get_all("Record-Route") {
                resp.headers.push("Record-Route", rr);
            }
        }
        let t = self.core.respond(&self.invite, resp, self.source);
        self.last_response = Some(t.clone());
        t
    }

    /// Sends 180 Ringing (optional: callers hear ringback meanwhile).
    pub fn ringing(&mut self, _now: Instant) {
        if self.state == State::Offered {
            let r = Message::response_to(&self.invite, 180, Some(&self.local_tag));
            self.send_invite_response(r);
        }
    }

    /// Answers 200 OK with our SDP. `Ok(None)` for a late offer (media arrives with the ACK).
    /// On an offer we cannot answer (no PCMU/PCMA), the call is rejected with 488.
    pub fn accept(&mut self, media: LocalMedia, now: Instant) -> Result<Option<Negotiated>, SdpError> {
        if self.state != State::Offered {
            return Err(SdpError::NoAudio);
        }
        self.core.media_local = media;
        let offer = if self.invite.body.is_empty() {
            None
        } else {
            Some(sdp::parse(&self.invite.body))
        };
        let (body, neg) = match offer {
            Some(Ok(o)) => match sdp::answer(&media, &o, self.core.sdp_version) {
                Ok((b, n)) => (b, Some(n)),
                Err(e) => {
                    self.reject(488, now);
                    return Err(e);
                }
            },
            Some(Err(e)) => {
                self.reject(488, now);
                return Err(e);
            }
            None => (sdp::offer(&media, self.core.sdp_version, Direction::SendRecv), None),
        };
        let from = self.invite.from();
        let remote_target = self
            .invite
            .headers
            .list("Contact")
            .first()
            .and_then(|c| NameAddr::parse(c))
            .map(|n| n.uri_text)
            .or_else(|| from.as_ref().map(|f| f.uri_text.clone()))
            .unwrap_or_default();
        let cseq = self.invite.cseq().map_or(0, |c| c.seq);
        self.core.dialog = Some(Dialog {
            call_id: self.call_id().to_string(),
            local_tag: self.local_tag.clone(),
            remote_tag: from
                .as_ref()
                .and_then(|f| f.tag().map(str::to_string))
                .unwrap_or_default(),
            local_uri: strip_params(self.invite.headers.get("To").unwrap_or("")),
            remote_uri: strip_params(self.invite.headers.get("From").unwrap_or("")),
            remote_target,
            route_set: self
                .invite
                .headers
                .list("Record-Route")
                .iter()
                .map(|s| s.to_string())
                .collect(),
            local_cseq: 0,
            remote_cseq: Some(cseq),
        });
        let mut r = Message::response_to(&self.invite, 200, Some(&self.local_tag));
        r.headers.push(
            "Allow",
            "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE",
        );
        r.headers.push("Content-Type", "application/sdp");
        r.body = body.into_bytes();
        let response = self.send_invite_response(r);
        self.core.media = neg.clone();
        self.core.pending_ack = Some(PendingAck {
            cseq,
            response,
            retransmit: Retransmit::start(now, self.core.local.transport, T2),
            deadline: now + TIMEOUT_64T1,
            offer_in_2xx: neg.is_none(),
            initial: true,
        });
        self.state = State::Answered;
        Ok(neg)
    }

    /// Refuses the call with a final status (404, 480, 486, 503, 603…).
    pub fn reject(&mut self, status: u16, now: Instant) {
        if self.state != State::Offered {
            return;
        }
        let status = if (300..700).contains(&status) { status } else { 603 };
        let r = Message::response_to(&self.invite, status, Some(&self.local_tag));
        self.send_invite_response(r);
        self.state = State::Rejecting;
        self.reject_retransmit = Retransmit::start(now, self.core.local.transport, T2);
        self.reject_deadline = Some(now + TIMEOUT_64T1);
        self.core.end(
            Cause {
                kind: CauseKind::LocalReject,
                status: Some(status),
                text: super::message::reason_phrase(status).into(),
            },
            now,
        );
    }

    pub fn handle(&mut self, msg: &Message, src: SocketAddr, now: Instant) {
        let Some(method) = msg.method() else {
            self.core.handle_response(msg, now);
            return;
        };
        let branch = msg
            .top_via()
            .and_then(|v| v.branch().map(str::to_string))
            .unwrap_or_default();
        let to_tag = msg.to().and_then(|t| t.tag().map(str::to_string));
        match method {
            Method::Invite if to_tag.is_none() => {
                if branch == self.invite_branch {
                    if let Some(t) = self.last_response.clone() {
                        self.core.transmits.push_back(t);
                    }
                } else {
                    let r = Message::response_to(msg, 482, None);
                    self.core.send(src, r.to_bytes());
                }
            }
            Method::Cancel if branch == self.invite_branch => {
                let ok = Message::response_to(msg, 200, Some(&self.local_tag));
                self.core.send(src, ok.to_bytes());
                if self.state == State::Offered {
                    self.state = State::Rejecting;
                    let r = Message::response_to(&self.invite, 487, Some(&self.local_tag));
                    self.send_invite_response(r);
                    self.reject_retransmit = Retransmit::start(now, self.core.local.transport, T2);
                    self.reject_deadline = Some(now + TIMEOUT_64T1);
                    self.core
                        .end(Cause::new(CauseKind::Canceled, "caller hung up before answer"), now);
                }
            }
            Method::Ack if self.state == State::Rejecting && to_tag.as_deref() == Some(&self.local_tag) => {
                self.reject_retransmit = None;
                self.reject_deadline = None;
                self.state = State::Done;
            }
            _ => match self.core.dialog.as_ref() {
                Some(d) if d.matches(msg) => self.core.handle_request(msg, src, now),
                _ if *method == Method::Ack => {}
                _ => {
                    let r = Message::response_to(msg, 481, None);
                    self.core.send(src, r.to_bytes());
                }
            },
        }
    }

    /// Hangs up an answered call (BYE); before an answer, the same as `reject(480)`.
    pub fn hang_up(&mut self, now: Instant) {
        match self.state {
            State::Offered => self.reject(480, now),
            State::Answered => self.core.hang_up(now),
            _ => {}
        }
    }

    pub fn refer(&mut self, target: &str, now: Instant) {
        if self.state == State::Answered && !self.core.ended {
            self.core.refer(target, now);
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        if self.state == State::Offered && now >= self.decide_deadline {
            self.reject(480, now);
        }
        if self.reject_retransmit.as_mut().is_some_and(|r| r.due(now)) {
            if let Some(t) = self.last_response.clone() {
                self.core.transmits.push_back(t);
            }
        }
        if self.reject_deadline.is_some_and(|d| now >= d) {
            self.reject_retransmit = None;
            self.reject_deadline = None;
            self.state = State::Done;
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.core.transmits.pop_front()
    }
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.core.events.pop_front()
    }
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.core.poll_timeout(),
            self.reject_retransmit.map(|r| r.next),
            self.reject_deadline,
            (self.state == State::Offered).then_some(self.decide_deadline),
        ]
        .into_iter()
        .flatten()
        .min()
    }
    pub fn is_terminated(&self, now: Instant) -> bool {
        matches!(self.state, State::Answered | State::Done)
            && self.reject_deadline.is_none()
            && self.core.is_terminated(now)
    }
}
