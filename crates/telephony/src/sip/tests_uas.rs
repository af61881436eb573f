//! Inbound call tests through the endpoint: admission, 100/200/ACK, retransmissions, CANCEL,
//! re-INVITE routed to the dialog, BYE both ways.

use super::call::CallEvent;
use super::cause::CauseKind;
use super::endpoint::{CallHandle, Endpoint, EndpointConfig, EndpointEvent};
use super::message::{parse, Message, Method};
use super::policy::{Admission, CidrAllowList, InboundPolicy};
use super::sdp::{Codec, Direction};
use super::test_util::*;
use super::transaction::Transport;
use super::uas::IncomingCall;
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub const CARRIER: &str = "198.51.100.10:5060";

pub fn endpoint() -> Endpoint {
    let policy = CidrAllowList::parse(["198.51.100.0/24"]);
    Endpoint::new(EndpointConfig::new(Transport::Udp, addr(LOCAL)), Box::new(policy))
}

pub fn invite(call_id: &str, to: &str, branch: &str) -> Vec<u8> {
    let sdp = "v=0\r\no=- 1 1 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\n\
m=audio 30000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";
    format!(
        "INVITE sip:{to}@192.0.2.5:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.10:5060;branch={branch}\r\n\
Record-Route: <sip:198.51.100.11;lr>\r\nFrom: \"Ann\" <sip:+15557654321@carrier.example>;tag=ann\r\n\
To: <sip:{to}@192.0.2.5>\r\nCall-ID: {call_id}\r\nCSeq: 10 INVITE\r\nContact: <sip:ann@198.51.100.10:5060>\r\n\
Max-Forwards: 69\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

pub fn sent(ep: &mut Endpoint) -> Vec<Message> {
    drain(|| ep.poll_transmit()).into_iter().map(|(m, _)| m).collect()
}

pub fn events(ep: &mut Endpoint) -> Vec<EndpointEvent> {
    std::iter::from_fn(|| ep.poll_event()).collect()
}

/// A request from the caller inside the dialog of `ok` (our 200).
fn from_caller(method: &str, ok: &Message, cseq: u32, extra: &str, body: &str) -> Vec<u8> {
    let our_tag = ok.to().unwrap().tag().unwrap().to_string();
    format!(
        "{method} sip:+15551230000@192.0.2.5:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bKc{cseq}\r\n\
From: <sip:+15557654321@carrier.example>;tag=ann\r\nTo: <sip:+15551230000@192.0.2.5>;tag={our_tag}\r\n\
Call-ID: in-1\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn offered(ep: &mut Endpoint, t0: Instant) -> (CallHandle, IncomingCall) {
    ep.handle_input(addr(CARRIER), &invite("in-1", "15551230000", "z9hG4bKinv1"), t0);
    let s = sent(ep);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].status(), Some(100));
    match events(ep).as_slice() {
        [EndpointEvent::Incoming { call, info }] => (*call, (**info).clone()),
        other => panic!("{other:?}"),
    }
}

fn answered(ep: &mut Endpoint, t0: Instant) -> (CallHandle, Message) {
    let (h, _) = offered(ep, t0);
    ep.accept(h, media(), t0).unwrap();
    let ok = sent(ep).remove(0);
    ep.handle_input(addr(CARRIER), &from_caller("ACK", &ok, 10, "", ""), t0);
    events(ep);
    (h, ok)
}

#[test]
fn inbound_call_is_offered_accepted_and_confirmed_by_ack() {
    let mut ep = endpoint();
    let t0 = Instant::now();
    let (h, info) = offered(&mut ep, t0);
    assert_eq!(info.to, "+15551230000");
    assert_eq!(info.from, "+15557654321");
    assert_eq!(info.from_display.as_deref(), Some("Ann"));
    assert_eq!(info.source, addr(CARRIER));
    assert!(info.offer.is_some());
    // A retransmitted INVITE is absorbed: 100 again, no second call.
    ep.handle_input(addr(CARRIER), &invite("in-1", "15551230000", "z9hG4bKinv1"), t0);
    assert_eq!(sent(&mut ep)[0].status(), Some(100));
    assert!(events(&mut ep).is_empty());
    ep.ringing(h, t0).unwrap();
    let ringing = sent(&mut ep).remove(0);
    assert_eq!(ringing.status(), Some(180));
    let neg = ep.accept(h, media(), t0).unwrap().unwrap();
    assert_eq!(neg.codec, Codec::Pcma, "the caller's order wins");
    assert_eq!(neg.dtmf_payload_type, Some(101));
    let ok = sent(&mut ep).remove(0);
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.to().unwrap().tag(), ringing.to().unwrap().tag());
    assert_eq!(ok.headers.get("Record-Route"), Some("<sip:198.51.100.11;lr>"));
    assert!(ok
        .headers
        .get("Contact")
        .unwrap()
        .contains("+15551230000@192.0.2.5:5060"));
    let body = String::from_utf8_lossy(&ok.body).to_string();
    assert!(
        body.contains("m=audio 40000 RTP/AVP 8 101") && body.contains("a=fmtp:101 0-15"),
        "{body}"
    );
    // Timer G: the 200 is retransmitted until the ACK.
    ep.handle_timeout(t0 + Duration::from_millis(500));
    assert_eq!(sent(&mut ep)[0].status(), Some(200));
    ep.handle_input(
        addr(CARRIER),
        &from_caller("ACK", &ok, 10, "", ""),
        t0 + Duration::from_millis(600),
    );
    assert!(matches!(
        events(&mut ep).as_slice(),
        [EndpointEvent::Call {
            event: CallEvent::Answered { .. },
            ..
        }]
    ));
    ep.handle_timeout(t0 + Duration::from_secs(3));
    assert!(sent(&mut ep).is_empty());
}

#[test]
fn no_ack_ends_the_call_with_a_bye_after_timer_h() {
    let mut ep = endpoint();
    let t0 = Instant::now();
    let (h, _) = offered(&mut ep, t0);
    ep.accept(h, media(), t0).unwrap();
    let mut now = t0;
    let mut retransmits = 0;
    while now < t0 + Duration::from_secs(33) {
        now = ep.poll_timeout().unwrap();
        ep.handle_timeout(now);
        for m in sent(&mut ep) {
            match m.status() {
                Some(200) => retransmits += 1,
                _ => {
                    assert_eq!(m.method(), Some(&Method::Bye));
                    assert_eq!(m.request_uri(), Some("sip:ann@198.51.100.10:5060"));
                    assert_eq!(m.headers.get("Route"), Some("<sip:198.51.100.11;lr>"));
                    let ev = events(&mut ep);
                    assert!(
                        matches!(&ev[0], EndpointEvent::Call { event: CallEvent::Ended { cause }, .. } if cause.kind == CauseKind::Failed)
                    );
                    assert!(retransmits >= 9, "{retransmits}");
                    return;
                }
            }
        }
    }
    panic!("no BYE");
}

#[test]
fn cancel_before_answer_gets_200_then_487() {
    let mut ep = endpoint();
    let t0 = Instant::now();
    let (h, _) = offered(&mut ep, t0);
    let cancel = String::from_utf8(invite("in-1", "15551230000", "z9hG4bKinv1"))
        .unwrap()
        .replacen("INVITE sip", "CANCEL sip", 1)
        .replace("CSeq: 10 INVITE", "CSeq: 10 CANCEL");
    ep.handle_input(addr(CARRIER), cancel.as_bytes(), t0);
    let s = sent(&mut ep);
    assert_eq!(
        (s[0].status(), s[0].cseq().unwrap().method),
        (Some(200), Method::Cancel)
    );
    assert_eq!(
        (s[1].status(), s[1].cseq().unwrap().method),
        (Some(487), Method::Invite)
    );
    assert!(
        matches!(events(&mut ep).as_slice(), [EndpointEvent::Call { call, event: CallEvent::Ended { cause } }] if *call == h && cause.kind == CauseKind::Canceled)
    );
    // The caller's ACK to the 487 stops Timer G; the call is then forgotten after its linger.
    ep.handle_input(addr(CARRIER), &from_caller("ACK", &s[1], 10, "", ""), t0);
    ep.handle_timeout(t0 + Duration::from_secs(40));
    assert!(sent(&mut ep).is_empty());
    assert!(events(&mut ep).contains(&EndpointEvent::Closed { call: h }));
    assert_eq!(ep.call_count(), 0);
}

#[test]
fn re_invite_with_a_to_tag_reaches_the_dialog_and_bye_ends_it() {
    let mut ep = endpoint();
    let t0 = Instant::now();
    let (h, ok) = answered(&mut ep, t0);
    let hold = "v=0\r\no=- 1 2 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n";
    ep.handle_input(
        addr(CARRIER),
        &from_caller("INVITE", &ok, 11, "Content-Type: application/sdp\r\n", hold),
        t0,
    );
    let r = sent(&mut ep).remove(0);
    assert_eq!(r.status(), Some(200));
    match events(&mut ep).as_slice() {
        [EndpointEvent::Call {
            event: CallEvent::MediaChanged { media },
            ..
        }] => {
            assert_eq!(media.codec, Codec::Pcmu);
            assert_eq!(media.remote_rtp, None);
            assert_eq!(media.direction, Direction::RecvOnly);
        }
        other => panic!("{other:?}"),
    }
    ep.handle_input(addr(CARRIER), &from_caller("ACK", &ok, 11, "", ""), t0);
    ep.handle_input(addr(CARRIER), &from_caller("BYE", &ok, 12, "", ""), t0);
    assert_eq!(sent(&mut ep)[0].status(), Some(200));
    assert!(
        matches!(events(&mut ep).as_slice(), [EndpointEvent::Call { call, event: CallEvent::Ended { cause } }] if *call == h && cause.kind == CauseKind::RemoteHangUp)
    );
}

#[test]
fn our_hang_up_sends_bye_to_the_caller_contact_via_record_route() {
    let mut ep = endpoint();
    let t0 = Instant::now();
    let (h, _) = answered(&mut ep, t0);
    ep.hang_up(h, t0).unwrap();
    let out = drain(|| ep.poll_transmit());
    let (bye, t) = &out[0];
    assert_eq!(bye.method(), Some(&Method::Bye));
    assert_eq!(
        bye.from().unwrap().uri.user.as_deref(),
        Some("15551230000"),
        "the INVITE's To, as received"
    );
    assert_eq!(bye.to().unwrap().tag(), Some("ann"));
    assert_eq!(t.dest, addr("198.51.100.11:5060"));
}

#[test]
fn late_offer_gets_our_offer_in_the_200_and_media_from_the_ack() {
    let mut ep = endpoint();
    let t0 = Instant::now();
    let raw = String::from_utf8(invite("in-1", "15551230000", "z9hG4bKinv1")).unwrap();
    let head = raw
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .replace("Content-Type: application/sdp\r\n", "");
    let head = head.split("\r\nContent-Length").next().unwrap().to_string();
    ep.handle_input(
        addr(CARRIER),
        format!("{head}\r\nContent-Length: 0\r\n\r\n").as_bytes(),
        t0,
    );
    let h = match events(&mut ep).as_slice() {
        [EndpointEvent::Incoming { call, info }] if info.offer.is_none() => *call,
        other => panic!("{other:?}"),
    };
    assert_eq!(ep.accept(h, media(), t0), Ok(None));
    let s = sent(&mut ep);
    let ok = s.last().unwrap();
    assert!(String::from_utf8_lossy(&ok.body).contains("RTP/AVP 0 8 101"));
    ep.handle_input(
        addr(CARRIER),
        &from_caller("ACK", ok, 10, "Content-Type: application/sdp\r\n", ANSWER_SDP),
        t0,
    );
    assert!(
        matches!(events(&mut ep).as_slice(), [EndpointEvent::Call { event: CallEvent::Answered { media }, .. }] if media.codec == Codec::Pcma)
    );
}

struct Numbers;
impl InboundPolicy for Numbers {
    fn allows(&self, _: IpAddr) -> bool {
        true
    }
    fn admit(&self, call: &IncomingCall) -> Admission {
        match call.to.as_str() {
            "+15551230000" => Admission::Offer,
            "+15550000503" => Admission::Full,
            _ => Admission::NotFound,
        }
    }
}

#[test]
fn unknown_numbers_get_404_a_full_node_503_and_neither_makes_a_call() {
    let mut cfg = EndpointConfig::new(Transport::Udp, addr(LOCAL));
    cfg.max_calls = 1;
    let mut ep = Endpoint::new(cfg, Box::new(Numbers));
    let t0 = Instant::now();
    ep.handle_input(addr(CARRIER), &invite("a", "15550000404", "z9hG4bKa"), t0);
    ep.handle_input(addr(CARRIER), &invite("b", "15550000503", "z9hG4bKb"), t0);
    let s: Vec<_> = sent(&mut ep).iter().map(|m| m.status()).collect();
    assert_eq!(s, vec![Some(404), Some(503)]);
    assert_eq!(ep.call_count(), 0);
    ep.handle_input(addr(CARRIER), &invite("c", "15551230000", "z9hG4bKc"), t0);
    ep.handle_input(addr(CARRIER), &invite("d", "15551230000", "z9hG4bKd"), t0);
    let s: Vec<_> = sent(&mut ep).iter().map(|m| m.status()).collect();
    assert_eq!(s, vec![Some(100), Some(503)], "the second call exceeds max_calls");
    assert_eq!(ep.call_count(), 1);
    let _ = parse(b"x");
}
