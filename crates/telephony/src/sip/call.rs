//! What both call directions share once a dialog exists: the output queues, the in-dialog
//! requests we answer (BYE, re-INVITE, UPDATE, OPTIONS, INFO, NOTIFY) and those we send
//! (BYE, REFER), with their transactions and timers.
//!
//! Decision: [`CallEvent::Ended`] is emitted the moment the call is over for its owner (our
//! hang-up, their BYE, a failure), while the protocol tail (our BYE's retransmissions,
//! answering a retransmitted BYE) goes on until [`Core::is_terminated`]; the endpoint keeps the
//! call until then. The owner never waits on the network to learn a call ended.

use super::cause::{Cause, CauseKind};
use super::dialog::{Dialog, LocalSide};
use super::digest;
use super::message::{Message, Method};
use super::sdp::{self, Direction, LocalMedia, Negotiated};
use super::transaction::{token, NonInviteTx, Retransmit, Transmit, T2, TIMEOUT_64T1};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// What a call reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// The far end is alerting (1xx); `early_media` when a 180/183 carried SDP (play it through).
    Ringing { early_media: Option<Negotiated> },
    /// The call is up: RTP flows with this media.
    Answered { media: Negotiated },
    /// A re-INVITE/UPDATE changed the media (hold, resume, codec, address).
    MediaChanged { media: Negotiated },
    /// A key press carried by SIP INFO.
    Dtmf(char),
    /// Our REFER ended in a 2xx sipfrag: the far end is now talking to the transfer target.
    Transferred,
    /// Our REFER was refused or the transfer target did not answer; the call goes on.
    TransferFailed { cause: Cause },
    /// The call is over for its owner.
    Ended { cause: Cause },
}

const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE";

/// Our 2xx to an INVITE, retransmitted until its ACK (Timers G and H).
#[derive(Debug, Clone)]
pub(crate) struct PendingAck {
    pub cseq: u32,
    pub response: Transmit,
    pub retransmit: Option<Retransmit>,
    pub deadline: Instant,
    /// The 2xx carried our offer (the INVITE had none): the ACK carries the answer.
    pub offer_in_2xx: bool,
    /// The dialog-creating INVITE: its ACK makes the call answered.
    pub initial: bool,
}

#[derive(Debug)]
pub(crate) struct Core {
    pub local: LocalSide,
    pub media_local: LocalMedia,
    pub credentials: Option<(String, String)>,
    pub dialog: Option<Dialog>,
    pub media: Option<Negotiated>,
    pub sdp_version: u64,
    pub transmits: VecDeque<Transmit>,
    pub events: VecDeque<CallEvent>,
    pub txs: Vec<NonInviteTx>,
    pub pending_ack: Option<PendingAck>,
    /// Last responses by (branch, method), answered again to a retransmitted request.
    pub responses: VecDeque<(String, Method, Transmit)>,
    pub ended: bool,
    pub linger_until: Option<Instant>,
}

impl Core {
    pub fn new(local: LocalSide, media_local: LocalMedia, credentials: Option<(String, String)>) -> Core {
        Core {
            local,
            media_local,
            credentials,
            dialog: None,
            media: None,
            sdp_version: 1,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            txs: Vec::new(),
            pending_ack: None,
            responses: VecDeque::new(),
            ended: false,
            linger_until: None,
        }
    }

    pub fn send(&mut self, dest: SocketAddr, payload: Vec<u8>) {
        self.transmits.push_back(Transmit {
            dest,
            transport: self.local.transport,
            payload,
        });
    }

    pub fn end(&mut self, cause: Cause, now: Instant) {
        if self.ended {
            return;
        }
        self.ended = true;
        let linger = if self.local.transport.is_reliable() {
            now
        } else {
            now + TIMEOUT_64T1
        };
        self.linger_until = Some(linger);
        self.events.push_back(CallEvent::Ended { cause });
    }

    pub fn is_terminated(&self, now: Instant) -> bool {
        self.ended && self.txs.is_empty() && self.pending_ack.is_none() && self.linger_until.is_none_or(|t| now >= t)
    }

    /// Sends a response to `req` back to where it came from, remembering it for retransmissions.
    pub fn respond(&mut self, req: &Message, mut resp: Message, src: SocketAddr) -> Transmit {
        if resp.headers.get("Contact").is_none() && resp.status().is_some_and(|s| (101..300).contains(&s)) {
            resp.headers.push("Contact", self.local.contact());
        }
        let t = Transmit {
            dest: src,
            transport: self.local.transport,
            payload: resp.to_bytes(),
        };
        if let (Some(v), Some(m)) = (req.top_via(), req.method()) {
            if let Some(b) = v.branch() {
                if self.responses.len() >= 8 {
                    self.responses.pop_front();
                }
                self.responses.push_back((b.to_string(), m.clone(), t.clone()));
            }
        }
        self.transmits.push_back(t.clone());
        t
    }

    fn reply(&mut self, req: &Message, status: u16, src: SocketAddr) {
        let mut r = Message::response_to(req, status, None);
        if matches!(status, 200 | 405 | 501) {
            r.headers.push("Allow", ALLOW);
        }
        self.respond(req, r, src);
    }

    /// Answers a retransmitted request with the cached response; true when it was one.
    pub fn absorb_retransmission(&mut self, req: &Message) -> bool {
        let (Some(v), Some(m)) = (req.top_via(), req.method()) else {
            return false;
        };
        let Some(b) = v.branch() else { return false };
        let hit = self
            .responses
            .iter()
            .find(|(br, me, _)| br == b && me == m)
            .map(|(_, _, t)| t.clone());
        match hit {
            Some(t) => {
                self.transmits.push_back(t);
                true
            }
            None => false,
        }
    }

    /// Sends an in-dialog request as a non-INVITE client transaction.
    pub fn send_request(&mut self, method: Method, now: Instant, build: impl FnOnce(&mut Message)) {
        let Some(d) = self.dialog.as_mut() else { return };
        let (mut req, br) = d.request(&self.local, method, None);
        build(&mut req);
        let dest = d.dest(&self.local);
        let tx = NonInviteTx::new(req, br, dest, self.local.transport, now);
        self.transmits.push_back(tx.transmit());
        self.txs.push(tx);
    }

    pub fn hang_up(&mut self, now: Instant) {
        if self.ended {
            return;
        }
        self.send_request(Method::Bye, now, |_| {});
        self.end(Cause::new(CauseKind::LocalHangUp, "hung up by Parley"), now);
    }

    /// Blind transfer: asks the far end to call `target` (E.164 or a full SIP URI).
    pub fn refer(&mut self, target: &str, now: Instant) {
        let Some(d) = self.dialog.as_ref() else { return };
        let uri = if target.contains(':') {
            target.to_string()
        } else {
            let host = super::headers::Uri::parse(&d.remote_target)
                .map(|u| u.host)
                .unwrap_or_default();
            format!("sip:{target}@{host}")
        };
        let by = d.local_uri.clone();
        self.send_request(Method::Refer, now, |m| {
            m.headers.push("Refer-To", format!("<{uri}>"));
            m.headers.push("Referred-By", by);
        });
    }

    /// A request inside our dialog (tags already matched).
    pub fn handle_request(&mut self, req: &Message, src: SocketAddr, now: Instant) {
        let Some(method) = req.method().cloned() else { return };
        if self.absorb_retransmission(req) {
            return;
        }
        let Some(cseq) = req.cseq() else { return };
        if !matches!(method, Method::Ack | Method::Cancel) {
            if let Some(d) = self.dialog.as_mut() {
                if d.remote_cseq.is_some_and(|r| cseq.seq <= r) {
                    return self.reply(req, 500, src);
                }
                d.remote_cseq = Some(cseq.seq);
            }
        }
        match method {
            Method::Bye => {
                self.reply(req, 200, src);
                self.end(Cause::new(CauseKind::RemoteHangUp, "remote hung up"), now);
            }
            Method::Ack => self.handle_ack(req, cseq.seq, now),
            Method::Invite => self.handle_reinvite(req, cseq.seq, src, now),
            Method::Update => match self.answer_offer(req) {
                Ok(Some((body, neg))) => {
                    self.reply_sdp(req, body, src);
                    self.events.push_back(CallEvent::MediaChanged { media: neg });
                }
                Ok(None) => self.reply(req, 200, src),
                Err(_) => self.reply(req, 488, src),
            },
            Method::Options => self.reply(req, 200, src),
            Method::Info => {
                self.reply(req, 200, src);
                if let Some(d) = parse_dtmf_info(req) {
                    self.events.push_back(CallEvent::Dtmf(d));
                }
            }
            Method::Notify => self.handle_notify(req, src, now),
            Method::Cancel => self.reply(req, 481, src),
            Method::Refer => self.reply(req, 603, src),
            Method::Register | Method::Subscribe | Method::Publish | Method::Message | Method::Prack => {
                self.reply(req, 405, src)
            }
            Method::Other(_) => self.reply(req, 501, src),
        }
    }

    /// Answers an SDP offer in `req`; `Ok(None)` when it carries none.
    fn answer_offer(&mut self, req: &Message) -> Result<Option<(String, Negotiated)>, sdp::SdpError> {
        if req.body.is_empty() {
            return Ok(None);
        }
        let offer = sdp::parse(&req.body)?;
        self.sdp_version += 1;
        let (body, neg) = sdp::answer(&self.media_local, &offer, self.sdp_version)?;
        self.media = Some(neg.clone());
        Ok(Some((body, neg)))
    }

    fn reply_sdp(&mut self, req: &Message, body: String, src: SocketAddr) -> Transmit {
        let mut r = Message::response_to(req, 200, None);
        r.headers.push("Allow", ALLOW);
        r.headers.push("Content-Type", "application/sdp");
        r.body = body.into_bytes();
        self.respond(req, r, src)
    }

    fn handle_reinvite(&mut self, req: &Message, seq: u32, src: SocketAddr, now: Instant) {
        if self.pending_ack.is_some() {
            return self.reply(req, 491, src);
        }
        let (body, offer_in_2xx, neg) = match self.answer_offer(req) {
            Ok(Some((body, neg))) => (body, false, Some(neg)),
            Ok(None) => {
                self.sdp_version += 1;
                (
                    sdp::offer(&self.media_local, self.sdp_version, Direction::SendRecv),
                    true,
                    None,
                )
            }
            Err(_) => return self.reply(req, 488, src),
        };
        let response = self.reply_sdp(req, body, src);
        self.pending_ack = Some(PendingAck {
            cseq: seq,
            response,
            retransmit: Retransmit::start(now, self.local.transport, T2),
            deadline: now + TIMEOUT_64T1,
            offer_in_2xx,
            initial: false,
        });
        if let Some(media) = neg {
            self.events.push_back(CallEvent::MediaChanged { media });
        }
    }

    fn handle_ack(&mut self, req: &Message, seq: u32, _now: Instant) {
        let Some(p) = self.pending_ack.as_ref().filter(|p| p.cseq == seq) else {
            return;
        };
        let (offer_in_2xx, initial) = (p.offer_in_2xx, p.initial);
        self.pending_ack = None;
        if offer_in_2xx {
            if let Ok(neg) = sdp::read_answer(&req.body) {
                self.media = Some(neg);
            }
        }
        let Some(media) = self.media.clone() else { return };
        if initial {
            self.events.push_back(CallEvent::Answered { media });
        } else if offer_in_2xx {
            self.events.push_back(CallEvent::MediaChanged { media });
        }
    }

    fn handle_notify(&mut self, req: &Message, src: SocketAddr, now: Instant) {
        let is_refer = req.headers.get("Event").is_some_and(|e| {
            e.split(';')
                .next()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case("refer"))
        });
        if !is_refer {
            return self.reply(req, 489, src);
        }
        self.reply(req, 200, src);
        let frag = String::from_utf8_lossy(&req.body);
        let status = frag
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("SIP/2.0 "))
            .and_then(|l| l.get(..3))
            .and_then(|c| c.parse::<u16>().ok());
        let terminated = req
            .headers
            .get("Subscription-State")
            .is_some_and(|s| s.trim().to_ascii_lowercase().starts_with("terminated"));
        match status {
            Some(s) if (200..300).contains(&s) => {
                self.events.push_back(CallEvent::Transferred);
                // RFC 5589 §6.1: the transferor leaves once the transfer succeeded.
                if !self.ended {
                    self.send_request(Method::Bye, now, |_| {});
                    self.end(Cause::new(CauseKind::Transferred, "transferred"), now);
                }
            }
            Some(s) if s >= 300 => {
                let reason = frag.lines().next().and_then(|l| l.get(12..)).unwrap_or("").to_string();
                let cause = Cause::from_status(s, &reason);
                self.events.push_back(CallEvent::TransferFailed { cause });
            }
            _ if terminated => self.events.push_back(CallEvent::TransferFailed {
                cause: Cause::new(CauseKind::Failed, "transfer subscription ended without a final status"),
            }),
            _ => {}
        }
    }

    /// A response to one of our non-INVITE transactions; false when none matches.
    pub fn handle_response(&mut self, resp: &Message, now: Instant) -> bool {
        let (Some(via), Some(status)) = (resp.top_via(), resp.status()) else {
            return false;
        };
        let Some(i) = self.txs.iter().position(|t| Some(t.branch.as_str()) == via.branch()) else {
            return false;
        };
        if status < 200 {
            if let Some(r) = self.txs[i].retransmit.as_mut() {
                r.interval = T2; // §17.1.2.2: Proceeding retransmits every T2.
            }
            return true;
        }
        let tx = self.txs.remove(i);
        if matches!(status, 401 | 407) && !tx.auth_retried && self.retry_with_auth(&tx, resp, now) {
            return true;
        }
        if tx.method == Method::Refer && status >= 300 {
            let cause = Cause::from_status(status, resp.reason());
            self.events.push_back(CallEvent::TransferFailed { cause });
        }
        true
    }

    /// Resends a challenged request with credentials; false without them or a usable challenge.
    pub fn retry_with_auth(&mut self, tx: &NonInviteTx, resp: &Message, now: Instant) -> bool {
        let Some((user, pass)) = self.credentials.clone() else {
            return false;
        };
        let Some(d) = self.dialog.as_mut() else { return false };
        let Some((hdr, ch)) = challenge(resp) else { return false };
        let mut req = tx.request.clone();
        let uri = req.request_uri().unwrap_or("").to_string();
        let auth = digest::authorization(&ch, &user, &pass, tx.method.as_str(), &uri, &token(), 1);
        d.local_cseq += 1;
        let br = super::transaction::branch();
        req.headers.set("Via", self.local.via(&br));
        req.headers
            .set("CSeq", format!("{} {}", d.local_cseq, tx.method.as_str()));
        req.headers.set(hdr, auth);
        let mut ntx = NonInviteTx::new(req, br, tx.dest, tx.transport, now);
        ntx.auth_retried = true;
        self.transmits.push_back(ntx.transmit());
        self.txs.push(ntx);
        true
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        // A past linger must not be reported again, or the shell would spin on it.
        if self.linger_until.is_some_and(|t| now >= t) {
            self.linger_until = None;
        }
        let mut i = 0;
        while i < self.txs.len() {
            let tx = &mut self.txs[i];
            if now >= tx.deadline {
                let tx = self.txs.remove(i);
                if tx.method == Method::Refer {
                    let cause = Cause::new(CauseKind::Failed, "no response to REFER");
                    self.events.push_back(CallEvent::TransferFailed { cause });
                }
                continue;
            }
            if tx.retransmit.as_mut().is_some_and(|r| r.due(now)) {
                let t = tx.transmit();
                self.transmits.push_back(t);
            }
            i += 1;
        }
        if let Some(p) = self.pending_ack.as_mut() {
            if now >= p.deadline {
                let initial = p.initial;
                self.pending_ack = None;
                // §13.3.1.4: a 2xx never ACKed ends the dialog with a BYE.
                if !self.ended {
                    self.send_request(Method::Bye, now, |_| {});
                    let what = if initial {
                        "no ACK for our 200 OK"
                    } else {
                        "no ACK for a re-INVITE"
                    };
                    self.end(Cause::new(CauseKind::Failed, what), now);
                }
            } else if p.retransmit.as_mut().is_some_and(|r| r.due(now)) {
                let t = p.response.clone();
                self.transmits.push_back(t);
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let txs = self.txs.iter().map(NonInviteTx::next_timeout);
        let ack = self
            .pending_ack
            .iter()
            .map(|p| p.retransmit.map_or(p.deadline, |r| r.next.min(p.deadline)));
        let linger = self.linger_until.filter(|_| self.ended);
        txs.chain(ack).chain(linger).min()
    }
}

/// The challenge of a 401/407 and the header name its answer goes in.
pub(crate) fn challenge(resp: &Message) -> Option<(&'static str, digest::Challenge)> {
    let (ask, answer) = match resp.status()? {
        401 => ("WWW-Authenticate", "Authorization"),
        407 => ("Proxy-Authenticate", "Proxy-Authorization"),
        _ => return None,
    };
    resp.headers
        .get_all(ask)
        .find_map(digest::Challenge::parse)
        .map(|c| (answer, c))
}

/// A key from an INFO body: `application/dtmf-relay` (`Signal=5`) or `application/dtmf` (`5`).
pub(crate) fn parse_dtmf_info(req: &Message) -> Option<char> {
    let body = std::str::from_utf8(&req.body).ok()?;
    let value = match req.content_type()?.as_str() {
        "application/dtmf-relay" => body.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim().eq_ignore_ascii_case("signal").then(|| v.trim())
        })?,
        "application/dtmf" => body.trim(),
        _ => return None,
    };
    match value {
        "10" => Some('*'),
        "11" => Some('#'),
        "12" => Some('A'),
        "13" => Some('B'),
        "14" => Some('C'),
        "15" => Some('D'),
        v if v.len() == 1 => v
            .chars()
            .next()
            .map(|c| c.to_ascii_uppercase())
            .filter(|c| "0123456789*#ABCD".contains(*c)),
        _ => None,
    }
}
