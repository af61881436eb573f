//! The outbound call (UAC): one INVITE through the trunk, from dial to hang-up.
//!
//! It owns the INVITE client transaction (RFC 3261 §17.1.1: Timer A retransmissions on UDP,
//! Timer B), the digest retry, CANCEL, the ACKs, and hands the confirmed dialog to [`Core`].
//!
//! Decision: a hang-up or ring timeout before answer reports `Ended` at once and the CANCEL
//! runs behind it; a CANCEL is only sent once a provisional response arrived (§9.1), so a
//! hang-up in the first instants waits for the 100 Trying. A 200 that races our CANCEL is
//! ACKed and immediately closed with a BYE, never reported as answered.

use super::call::{challenge, CallEvent, Core};
use super::cause::{Cause, CauseKind};
use super::dialog::{strip_params, Dialog, LocalSide};
use super::digest;
use super::message::{Message, Method};
use super::sdp::{self, Direction, LocalMedia, Negotiated};
use super::transaction::{branch, token, NonInviteTx, Retransmit, Transmit, Transport, TIMEOUT_64T1};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Everything needed to place one call through a trunk. DNS is the shell's job: `trunk` is
/// the resolved address, `trunk_host` the name used in URIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialParams {
    /// A fresh, unique Call-ID (e.g. a UUID); the endpoint routes by it.
    pub call_id: String,
    /// Caller id, E.164.
    pub from: String,
    /// Destination, E.164.
    pub to: String,
    pub trunk: SocketAddr,
    pub trunk_host: String,
    pub transport: Transport,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The domain of our From URI (default: `trunk_host`).
    pub from_domain: Option<String>,
    /// Our SIP socket's address.
    pub local_addr: SocketAddr,
    /// The address the trunk reaches our SIP socket at, behind NAT.
    pub public_addr: Option<SocketAddr>,
    pub media: LocalMedia,
    pub ring_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// INVITE sent, nothing heard.
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// 2xx received and ACKed: the dialog lives in `core`.
    Confirmed,
    /// A final failure (or our CANCEL) closed the INVITE transaction.
    Completed,
}

#[derive(Debug)]
pub struct Uac {
    core: Core,
    invite: Message,
    invite_branch: String,
    invite_cseq: u32,
    phase: Phase,
    retransmit: Option<Retransmit>,
    timer_b: Option<Instant>,
    ring_deadline: Instant,
    ring_timeout: Duration,
    cancel_pending: bool,
    cancel_deadline: Option<Instant>,
    auth_tried: bool,
    /// Our ACK to the 2xx, sent again for each retransmitted 2xx.
    ack: Option<Transmit>,
    /// Our ACK to a non-2xx final, re-sent until Timer D.
    failure_ack: Option<(Transmit, Instant)>,
    ringing_reported: bool,
    early_media: bool,
    trunk: SocketAddr,
}

impl Uac {
    /// Builds and sends the INVITE.
    pub fn dial(p: DialParams, now: Instant) -> Uac {
        let local = LocalSide {
            transport: p.transport,
            contact_addr: p.public_addr.unwrap_or(p.local_addr),
            user: p.from.clone(),
            peer: p.trunk,
        };
        let credentials = p.username.clone().zip(p.password.clone());
        let mut core = Core::new(local, p.media, credentials);
        let domain = p.from_domain.clone().unwrap_or_else(|| p.trunk_host.clone());
        let ruri = format!(
            "sip:{}@{}:{}{}",
            p.to,
            p.trunk_host,
            p.trunk.port(),
            p.transport.uri_param()
        );
        let br = branch();
        let mut m = Message::request(Method::Invite, ruri);
        m.headers.push("Via", core.local.via(&br));
        m.headers.push("Max-Forwards", "70");
        m.headers
            .push("From", format!("<sip:{}@{domain}>;tag={}", p.from, &token()[..16]));
        m.headers.push("To", format!("<sip:{}@{}>", p.to, p.trunk_host));
        m.headers.push("Call-ID", p.call_id.clone());
        m.headers.push("CSeq", "1 INVITE");
        m.headers.push("Contact", core.local.contact());
        m.headers.push(
            "Allow",
            "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE",
        );
        m.headers.push("User-Agent", "Parley");
        m.headers.push("Content-Type", "application/sdp");
        m.body = sdp::offer(&p.media, core.sdp_version, Direction::SendRecv).into_bytes();
        core.send(p.trunk, m.to_bytes());
        Uac {
            core,
            invite: m,
            invite_branch: br,
            invite_cseq: 1,
            phase: Phase::Calling,
            retransmit: Retransmit::start(now, p.transport, Duration::MAX),
            timer_b: Some(now + TIMEOUT_64T1),
            ring_deadline: now + p.ring_timeout,
            ring_timeout: p.ring_timeout,
            cancel_pending: false,
            cancel_deadline: None,
            auth_tried: false,
            ack: None,
            failure_ack: None,
            ringing_reported: false,
            early_media: false,
            trunk: p.trunk,
        }
    }

    pub fn call_id(&self) -> &str {
        self.invite.call_id().unwrap_or("")
    }

    /// The negotiated media, once known (early media included).
    pub fn media(&self) -> Option<&Negotiated> {
        self.core.media.as_ref()
    }

    /// A message for this call (the endpoint routed it by Call-ID).
    pub fn handle(&mut self, msg: &Message, src: SocketAddr, now: Instant) {
        if msg.method().is_some() {
            match self.core.dialog.as_ref() {
                Some(d) if d.matches(msg) => self.core.handle_request(msg, src, now),
                _ if msg.method() == Some(&Method::Ack) => {}
                _ => {
                    let r = Message::response_to(msg, 481, None);
                    self.core.send(src, r.to_bytes());
                }
            }
            return;
        }
        let Some(cseq) = msg.cseq() else { return };
        if cseq.method == Method::Invite {
            if cseq.seq == self.invite_cseq {
                self.invite_response(msg, now);
            }
            return;
        }
        self.core.handle_response(msg, now);
    }

    fn invite_response(&mut self, resp: &Message, now: Instant) {
        let Some(status) = resp.status() else { return };
        match status {
            100..=199 => self.provisional(resp, status, now),
            200..=299 => self.success(resp, now),
            _ => self.failure(resp, status, now),
        }
    }

    fn provisional(&mut self, resp: &Message, status: u16, now: Instant) {
        if self.phase != Phase::Calling && self.phase != Phase::Proceeding {
            return;
        }
        self.phase = Phase::Proceeding;
        self.retransmit = None;
        self.timer_b = None;
        if self.cancel_pending {
            self.send_cancel(now);
        }
        if self.core.ended {
            return;
        }
        if status != 100 && !resp.body.is_empty() && !self.early_media {
            if let Ok(neg) = sdp::read_answer(&resp.body) {
                self.early_media = true;
                self.ringing_reported = true;
                self.core.media = Some(neg.clone());
                self.core
                    .events
                    .push_back(CallEvent::Ringing { early_media: Some(neg) });
                return;
            }
        }
        if !self.ringing_reported {
            self.ringing_reported = true;
            self.core.events.push_back(CallEvent::Ringing { early_media: None });
        }
    }

    fn success(&mut self, resp: &Message, now: Instant) {
        if self.phase == Phase::Confirmed || self.phase == Phase::Completed {
            if let Some(a) = self.ack.clone() {
                self.core.transmits.push_back(a);
            }
            return;
        }
        self.phase = Phase::Confirmed;
        self.retransmit = None;
        self.timer_b = None;
        self.cancel_deadline = None;
        let to = resp.to();
        let mut route_set: Vec<String> = resp
            .headers
            .list("Record-Route")
            .iter()
            .map(|s| s.to_string())
            .collect();
        route_set.reverse();
        let remote_target = resp
            .headers
            .list("Contact")
            .first()
            .and_then(|c| super::headers::NameAddr::parse(c))
            .map(|n| n.uri_text)
            .unwrap_or_else(|| self.invite.request_uri().unwrap_or("").to_string());
        let from = self.invite.from();
        let mut dialog = Dialog {
            call_id: self.call_id().to_string(),
            local_tag: from
                .as_ref()
                .and_then(|f| f.tag().map(str::to_string))
                .unwrap_or_default(),
            remote_tag: to
                .as_ref()
                .and_then(|t| t.tag().map(str::to_string))
                .unwrap_or_default(),
            local_uri: strip_params(self.invite.headers.get("From").unwrap_or("")),
            remote_uri: strip_params(self.invite.headers.get("To").unwrap_or("")),
            remote_target,
            route_set,
            local_cseq: self.invite_cseq,
            remote_cseq: None,
        };
        let (ack, _) = dialog.request(&self.core.local, Method::Ack, Some(self.invite_cseq));
        let t = Transmit {
            dest: dialog.dest(&self.core.local),
            transport: self.core.local.transport,
            payload: ack.to_bytes(),
        };
        self.core.transmits.push_back(t.clone());
        self.ack = Some(t);
        self.core.dialog = Some(dialog);
        if self.core.ended {
            // We hung up (or timed out) while this 200 was on its way: close it.
            self.core.send_request(Method::Bye, now, |_| {});
            return;
        }
        let media = if resp.body.is_empty() {
            self.core.media.clone().ok_or(sdp::SdpError::NoAudio)
        } else {
            sdp::read_answer(&resp.body)
        };
        match media {
            Ok(media) => {
                self.core.media = Some(media.clone());
                self.core.events.push_back(CallEvent::Answered { media });
            }
            Err(e) => {
                self.core.send_request(Method::Bye, now, |_| {});
                self.core.end(Cause::new(CauseKind::Failed, format!("sdp: {e}")), now);
            }
        }
    }

    fn failure(&mut self, resp: &Message, status: u16, now: Instant) {
        if let Some((a, _)) = self.failure_ack.as_ref().filter(|_| self.phase == Phase::Completed) {
            let a = a.clone();
            self.core.transmits.push_back(a);
            return;
        }
        if self.phase == Phase::Confirmed || self.phase == Phase::Completed {
            return;
        }
        // §17.1.1.3: the ACK of a non-2xx reuses the INVITE's branch and the response's To.
        let mut ack = Message::request(Method::Ack, self.invite.request_uri().unwrap_or(""));
        for h in ["Via", "Max-Forwards", "From"] {
            if let Some(v) = self.invite.headers.get(h) {
                ack.headers.push(h, v);
            }
        }
        ack.headers.push("To", resp.headers.get("To").unwrap_or(""));
        ack.headers.push("Call-ID", self.call_id().to_string());
        ack.headers.push("CSeq", format!("{} ACK", self.invite_cseq));
        let t = Transmit {
            dest: self.trunk,
            transport: self.core.local.transport,
            payload: ack.to_bytes(),
        };
        self.core.transmits.push_back(t.clone());
        let timer_d = if self.core.local.transport.is_reliable() {
            now
        } else {
            now + TIMEOUT_64T1
        };
        self.failure_ack = Some((t, timer_d));
        self.phase = Phase::Completed;
        self.retransmit = None;
        self.timer_b = None;
        self.cancel_deadline = None;
        if self.core.ended {
            return; // our CANCEL's 487, or a failure after our hang-up: already reported.
        }
        if matches!(status, 401 | 407) && !self.auth_tried && self.resend_with_auth(resp, now) {
            return;
        }
        self.core.end(Cause::from_status(status, resp.reason()), now);
    }

    fn resend_with_auth(&mut self, resp: &Message, now: Instant) -> bool {
        let Some((user, pass)) = self.core.credentials.clone() else {
            return false;
        };
        let Some((hdr, ch)) = challenge(resp) else { return false };
        self.auth_tried = true;
        let uri = self.invite.request_uri().unwrap_or("").to_string();
        let auth = digest::authorization(&ch, &user, &pass, "INVITE", &uri, &token(), 1);
        self.invite_cseq += 1;
        self.invite_branch = branch();
        self.invite.headers.set("Via", self.core.local.via(&self.invite_branch));
        self.invite.headers.set("CSeq", format!("{} INVITE", self.invite_cseq));
        self.invite.headers.set(hdr, auth);
        self.core.send(self.trunk, self.invite.to_bytes());
        self.phase = Phase::Calling;
        self.failure_ack = None;
        self.retransmit = Retransmit::start(now, self.core.local.transport, Duration::MAX);
        self.timer_b = Some(now + TIMEOUT_64T1);
        true
    }

    fn send_cancel(&mut self, now: Instant) {
        self.cancel_pending = false;
        let mut c = Message::request(Method::Cancel, self.invite.request_uri().unwrap_or(""));
        for h in ["Via", "Max-Forwards", "From", "To", "Call-ID"] {
            if let Some(v) = self.invite.headers.get(h) {
                c.headers.push(h, v);
            }
        }
        c.headers.push("CSeq", format!("{} CANCEL", self.invite_cseq));
        let tx = NonInviteTx::new(
            c,
            self.invite_branch.clone(),
            self.trunk,
            self.core.local.transport,
            now,
        );
        self.core.transmits.push_back(tx.transmit());
        self.core.txs.push(tx);
        // If no final response follows the CANCEL, give the INVITE up after 64*T1 (§9.1).
        self.cancel_deadline = Some(now + TIMEOUT_64T1);
    }

    fn cancel(&mut self, cause: Cause, now: Instant) {
        self.core.end(cause, now);
        match self.phase {
            Phase::Proceeding => self.send_cancel(now),
            Phase::Calling => self.cancel_pending = true,
            _ => {}
        }
    }

    /// Hangs up: CANCEL before answer, BYE after.
    pub fn hang_up(&mut self, now: Instant) {
        match self.phase {
            Phase::Confirmed => self.core.hang_up(now),
            Phase::Calling | Phase::Proceeding if !self.core.ended => {
                self.cancel(Cause::new(CauseKind::Canceled, "canceled by Parley before answer"), now)
            }
            _ => {}
        }
    }

    /// Blind transfer of the answered call (REFER); see [`CallEvent::Transferred`].
    pub fn refer(&mut self, target: &str, now: Instant) {
        if self.phase == Phase::Confirmed && !self.core.ended {
            self.core.refer(target, now);
        }
    }

    /// The transport could not carry our INVITE to the trunk (a TCP connect refused, a TLS
    /// certificate that does not verify): RFC 3261 §8.1.3.1 treats that as a 503 from the
    /// trunk, so the call fails at once with the reason instead of waiting out Timer B.
    /// Nothing is done once the trunk has answered anything: it was reachable.
    pub fn transport_failed(&mut self, dest: SocketAddr, why: &str, now: Instant) {
        if dest != self.trunk || self.phase != Phase::Calling || self.core.ended {
            return;
        }
        self.timer_b = None;
        self.retransmit = None;
        self.phase = Phase::Completed;
        self.core.end(
            Cause::new(CauseKind::Failed, format!("cannot reach the trunk: {why}")),
            now,
        );
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        if self.retransmit.as_mut().is_some_and(|r| r.due(now)) {
            self.core.send(self.trunk, self.invite.to_bytes());
        }
        if self.timer_b.is_some_and(|b| now >= b) {
            self.timer_b = None;
            self.retransmit = None;
            self.phase = Phase::Completed;
            self.core
                .end(Cause::new(CauseKind::Failed, "no response from the trunk"), now);
        }
        let ringing = matches!(self.phase, Phase::Calling | Phase::Proceeding);
        if ringing && !self.core.ended && now >= self.ring_deadline {
            let secs = self.ring_timeout.as_secs();
            self.cancel(
                Cause::new(CauseKind::NoAnswer, format!("no answer within {secs} s")),
                now,
            );
        }
        if self.cancel_deadline.is_some_and(|d| now >= d) {
            self.cancel_deadline = None;
            self.phase = Phase::Completed;
        }
        if self.failure_ack.as_ref().is_some_and(|(_, d)| now >= *d) {
            self.failure_ack = None;
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.core.transmits.pop_front()
    }
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.core.events.pop_front()
    }
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ringing = matches!(self.phase, Phase::Calling | Phase::Proceeding) && !self.core.ended;
        [
            self.core.poll_timeout(),
            self.retransmit.map(|r| r.next),
            self.timer_b,
            ringing.then_some(self.ring_deadline),
            self.cancel_deadline,
            self.failure_ack.as_ref().map(|(_, d)| *d),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// True once nothing is left to send or absorb: the endpoint may forget the call.
    pub fn is_terminated(&self, now: Instant) -> bool {
        matches!(self.phase, Phase::Confirmed | Phase::Completed)
            && self.failure_ack.is_none()
            && self.cancel_deadline.is_none()
            && self.core.is_terminated(now)
    }
}
