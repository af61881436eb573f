//! Outbound call tests: a fake trunk answers what the UAC sends; time is driven by hand.

use super::call::CallEvent;
use super::cause::CauseKind;
use super::message::{parse, Method};
use super::sdp::{Codec, Direction};
use super::test_util::*;
use super::transaction::Transport;
use super::uac::Uac;
use std::time::{Duration, Instant};

fn events(uac: &mut Uac) -> Vec<CallEvent> {
    std::iter::from_fn(|| uac.poll_event()).collect()
}

fn start(transport: Transport) -> (Uac, super::message::Message, Instant) {
    let t0 = Instant::now();
    let mut uac = Uac::dial(dial_params(transport), t0);
    let sent = uac_sent(&mut uac);
    assert_eq!(sent.len(), 1);
    (uac, sent[0].clone(), t0)
}

/// Dials and answers with a 200 carrying two Record-Routes and a Contact.
fn answered() -> (Uac, super::message::Message, Instant) {
    let (mut uac, inv, t0) = start(Transport::Udp);
    let ok = answer(
        &inv,
        200,
        &[
            ("Record-Route", "<sip:10.0.0.2;lr>, <sip:10.0.0.3:5070;lr>"),
            ("Contact", "<sip:callee@10.0.0.9:5080>"),
        ],
        ANSWER_SDP,
    );
    uac.handle(&ok, addr(TRUNK), t0);
    (uac, inv, t0)
}

#[test]
fn invite_carries_caller_id_contact_and_offer() {
    let (_, inv, _) = start(Transport::Udp);
    assert_eq!(inv.request_uri(), Some("sip:+15552223333@trunk.example.net:5060"));
    let from = inv.from().unwrap();
    assert_eq!(from.uri.user.as_deref(), Some("+15550001111"));
    assert!(from.tag().is_some());
    assert!(inv.headers.get("Contact").unwrap().contains("192.0.2.5:5060"));
    assert_eq!(inv.top_via().unwrap().rport(), Some(None));
    let body = String::from_utf8(inv.body.clone()).unwrap();
    assert!(body.contains("m=audio 40000 RTP/AVP 0 8 101"), "{body}");
    assert!(body.contains("a=fmtp:101 0-16"));
}

#[test]
fn provisional_responses_ring_then_200_is_acked_along_the_route_set() {
    let (mut uac, inv, t0) = start(Transport::Udp);
    uac.handle(&answer(&inv, 100, &[], ""), addr(TRUNK), t0);
    assert_eq!(events(&mut uac), vec![CallEvent::Ringing { early_media: None }]);
    // 100 stops Timer A: nothing is retransmitted later.
    uac.handle_timeout(t0 + Duration::from_secs(2));
    assert!(uac_sent(&mut uac).is_empty());
    uac.handle(&answer(&inv, 180, &[], ""), addr(TRUNK), t0);
    assert!(events(&mut uac).is_empty(), "one ringing event per call");
    uac.handle(&answer(&inv, 183, &[], ANSWER_SDP), addr(TRUNK), t0);
    match events(&mut uac).as_slice() {
        [CallEvent::Ringing { early_media: Some(m) }] => assert_eq!(m.codec, Codec::Pcma),
        other => panic!("{other:?}"),
    }
    let ok = answer(
        &inv,
        200,
        &[
            ("Record-Route", "<sip:10.0.0.2;lr>, <sip:10.0.0.3:5070;lr>"),
            ("Contact", "<sip:callee@10.0.0.9:5080>"),
        ],
        ANSWER_SDP,
    );
    uac.handle(&ok, addr(TRUNK), t0);
    let sent = drain(|| uac.poll_transmit());
    assert_eq!(sent.len(), 1);
    let (ack, t) = &sent[0];
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.request_uri(), Some("sip:callee@10.0.0.9:5080"));
    assert_eq!(
        ack.headers.list("Route"),
        vec!["<sip:10.0.0.3:5070;lr>", "<sip:10.0.0.2;lr>"]
    );
    assert_eq!(t.dest, addr("10.0.0.3:5070"));
    assert_eq!(ack.cseq().unwrap().seq, 1);
    assert_eq!(ack.to().unwrap().tag(), Some("trunktag"));
    match events(&mut uac).as_slice() {
        [CallEvent::Answered { media }] => {
            assert_eq!(media.remote_rtp, Some(addr("198.51.100.20:30000")));
            assert_eq!(media.dtmf_payload_type, Some(101));
            assert_eq!(media.payload_type, 8);
        }
        other => panic!("{other:?}"),
    }
    // A retransmitted 200 gets the same ACK again.
    uac.handle(&ok, addr(TRUNK), t0);
    assert_eq!(uac_sent(&mut uac)[0].method(), Some(&Method::Ack));
}

#[test]
fn busy_is_acked_and_reported_with_the_carrier_cause() {
    let (mut uac, inv, t0) = start(Transport::Udp);
    uac.handle(&answer(&inv, 486, &[], ""), addr(TRUNK), t0);
    let sent = uac_sent(&mut uac);
    assert_eq!(sent[0].method(), Some(&Method::Ack));
    assert_eq!(sent[0].top_via().unwrap().branch(), inv.top_via().unwrap().branch());
    match events(&mut uac).as_slice() {
        [CallEvent::Ended { cause }] => {
            assert_eq!(cause.kind, CauseKind::Busy);
            assert_eq!(cause.to_string(), "sip 486 Busy Here");
        }
        other => panic!("{other:?}"),
    }
    assert!(!uac.is_terminated(t0), "Timer D absorbs retransmitted 486s on UDP");
    uac.handle(&answer(&inv, 486, &[], ""), addr(TRUNK), t0 + Duration::from_secs(1));
    assert_eq!(uac_sent(&mut uac)[0].method(), Some(&Method::Ack));
    assert!(events(&mut uac).is_empty());
    let later = t0 + Duration::from_secs(40);
    uac.handle_timeout(later);
    assert!(uac.is_terminated(later));
}

#[test]
fn decline_and_unavailable_map_to_their_kinds() {
    for (status, kind) in [
        (603, CauseKind::Rejected),
        (600, CauseKind::Busy),
        (480, CauseKind::NoAnswer),
        (408, CauseKind::NoAnswer),
        (404, CauseKind::Failed),
    ] {
        let (mut uac, inv, t0) = start(Transport::Tcp);
        uac.handle(&answer(&inv, status, &[], ""), addr(TRUNK), t0);
        match events(&mut uac).as_slice() {
            [CallEvent::Ended { cause }] => assert_eq!(cause.kind, kind, "{status}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn challenge_is_answered_once_with_digest_credentials() {
    for (status, ask, reply) in [
        (401, "WWW-Authenticate", "Authorization"),
        (407, "Proxy-Authenticate", "Proxy-Authorization"),
    ] {
        let (mut uac, inv, t0) = start(Transport::Udp);
        let ch = "Digest realm=\"trunk\", nonce=\"abc123\", qop=\"auth\", algorithm=MD5";
        uac.handle(&answer(&inv, status, &[(ask, ch)], ""), addr(TRUNK), t0);
        let sent = uac_sent(&mut uac);
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].method(), Some(&Method::Ack));
        let inv2 = &sent[1];
        assert_eq!(inv2.method(), Some(&Method::Invite));
        assert_eq!(inv2.cseq().unwrap().seq, 2);
        assert_ne!(inv2.top_via().unwrap().branch(), inv.top_via().unwrap().branch());
        assert_eq!(inv2.from().unwrap().tag(), inv.from().unwrap().tag());
        let auth = inv2.headers.get(reply).unwrap();
        assert!(
            auth.contains("username=\"parley\"") && auth.contains("qop=auth") && auth.contains("nc=00000001"),
            "{auth}"
        );
        assert!(events(&mut uac).is_empty());
        // A second challenge means the credentials are wrong: the call fails.
        uac.handle(&answer(inv2, status, &[(ask, ch)], ""), addr(TRUNK), t0);
        match events(&mut uac).as_slice() {
            [CallEvent::Ended { cause }] => assert_eq!(cause.status, Some(status)),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn ring_timeout_cancels_and_reports_no_answer() {
    let (mut uac, inv, t0) = start(Transport::Udp);
    uac.handle(&answer(&inv, 180, &[], ""), addr(TRUNK), t0);
    events(&mut uac);
    assert_eq!(uac.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    let t = t0 + Duration::from_secs(30);
    uac.handle_timeout(t);
    let sent = uac_sent(&mut uac);
    let cancel = &sent[0];
    assert_eq!(cancel.method(), Some(&Method::Cancel));
    assert_eq!(cancel.cseq().unwrap().seq, 1);
    assert_eq!(cancel.top_via().unwrap().branch(), inv.top_via().unwrap().branch());
    assert_eq!(cancel.request_uri(), inv.request_uri());
    match events(&mut uac).as_slice() {
        [CallEvent::Ended { cause }] => assert_eq!(cause.kind, CauseKind::NoAnswer),
        other => panic!("{other:?}"),
    }
    uac.handle(&answer(cancel, 200, &[], ""), addr(TRUNK), t);
    uac.handle(&answer(&inv, 487, &[], ""), addr(TRUNK), t);
    let sent = uac_sent(&mut uac);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method(), Some(&Method::Ack));
    assert!(events(&mut uac).is_empty(), "the 487 is ours, not news");
    let later = t + Duration::from_secs(33);
    uac.handle_timeout(later);
    assert!(uac.is_terminated(later));
}

#[test]
fn hang_up_before_any_response_waits_for_a_provisional_to_cancel() {
    let (mut uac, inv, t0) = start(Transport::Udp);
    uac.hang_up(t0);
    assert!(
        uac_sent(&mut uac).is_empty(),
        "no CANCEL before a provisional (RFC 3261 9.1)"
    );
    assert!(matches!(events(&mut uac).as_slice(), [CallEvent::Ended { cause }] if cause.kind == CauseKind::Canceled));
    uac.handle(&answer(&inv, 100, &[], ""), addr(TRUNK), t0);
    assert_eq!(uac_sent(&mut uac)[0].method(), Some(&Method::Cancel));
    assert!(events(&mut uac).is_empty());
}

#[test]
fn a_200_racing_our_cancel_is_acked_and_closed() {
    let (mut uac, inv, t0) = start(Transport::Udp);
    uac.handle(&answer(&inv, 180, &[], ""), addr(TRUNK), t0);
    uac.hang_up(t0);
    uac_sent(&mut uac);
    events(&mut uac);
    uac.handle(
        &answer(&inv, 200, &[("Contact", "<sip:callee@10.0.0.9>")], ANSWER_SDP),
        addr(TRUNK),
        t0,
    );
    let sent: Vec<_> = uac_sent(&mut uac).iter().map(method_of).collect();
    assert_eq!(sent, vec![Some(Method::Ack), Some(Method::Bye)]);
    assert!(events(&mut uac).is_empty());
}

#[test]
fn invite_is_retransmitted_on_udp_with_timer_a_until_timer_b() {
    let t0 = Instant::now();
    let mut p = dial_params(Transport::Udp);
    p.ring_timeout = Duration::from_secs(60);
    let mut uac = Uac::dial(p, t0);
    uac_sent(&mut uac);
    let mut at = Vec::new();
    let mut now = t0;
    while let Some(next) = uac.poll_timeout() {
        if next > t0 + Duration::from_secs(40) {
            break;
        }
        now = next;
        uac.handle_timeout(now);
        for m in uac_sent(&mut uac) {
            assert_eq!(m.method(), Some(&Method::Invite));
            at.push((now - t0).as_millis());
        }
        if !events(&mut uac).is_empty() {
            break;
        }
    }
    assert_eq!(at, vec![500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(now - t0, Duration::from_secs(32));
    assert!(
        uac.is_terminated(now + Duration::from_secs(32)),
        "forgotten after the linger"
    );
}

#[test]
fn no_retransmission_on_tcp_but_timer_b_still_ends_the_call() {
    let (mut uac, _, t0) = start(Transport::Tcp);
    assert_eq!(uac.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    uac.handle_timeout(t0 + Duration::from_secs(30));
    // The ring timeout fired before Timer B: a pending CANCEL, no retransmission.
    assert!(uac_sent(&mut uac).is_empty());
    uac.handle_timeout(t0 + Duration::from_secs(32));
    assert!(uac_sent(&mut uac).is_empty());
    assert_eq!(events(&mut uac).len(), 1);
}

#[test]
fn bye_from_the_far_end_is_answered_and_ends_the_call() {
    let (mut uac, inv, t0) = answered();
    uac_sent(&mut uac);
    events(&mut uac);
    let bye = in_dialog("BYE", &inv, 1, &[], "");
    uac.handle(&bye, addr(TRUNK), t0);
    let sent = drain(|| uac.poll_transmit());
    assert_eq!(sent[0].0.status(), Some(200));
    assert_eq!(sent[0].1.dest, addr(TRUNK));
    assert!(
        matches!(events(&mut uac).as_slice(), [CallEvent::Ended { cause }] if cause.kind == CauseKind::RemoteHangUp)
    );
    // A retransmitted BYE gets the same 200 and no second event.
    uac.handle(&bye, addr(TRUNK), t0);
    assert_eq!(uac_sent(&mut uac)[0].status(), Some(200));
    assert!(events(&mut uac).is_empty());
    assert!(uac.is_terminated(t0 + Duration::from_secs(33)));
}

#[test]
fn our_bye_follows_the_route_set_and_retransmits_until_answered() {
    let (mut uac, _, t0) = answered();
    uac_sent(&mut uac);
    uac.hang_up(t0);
    let sent = drain(|| uac.poll_transmit());
    let (bye, t) = &sent[0];
    assert_eq!(bye.method(), Some(&Method::Bye));
    assert_eq!(bye.cseq().unwrap().seq, 2);
    assert_eq!(t.dest, addr("10.0.0.3:5070"));
    uac.handle_timeout(t0 + Duration::from_millis(500));
    assert_eq!(uac_sent(&mut uac)[0].method(), Some(&Method::Bye));
    uac.handle(&answer(bye, 200, &[], ""), addr(TRUNK), t0);
    assert!(uac.is_terminated(t0 + Duration::from_secs(33)));
}

#[test]
fn re_invite_to_hold_is_answered_recvonly() {
    let (mut uac, inv, t0) = answered();
    uac_sent(&mut uac);
    events(&mut uac);
    let hold = ANSWER_SDP.replace("a=sendrecv", "a=sendonly");
    let reinvite = in_dialog(
        "INVITE",
        &inv,
        2,
        &[
            ("Content-Type", "application/sdp"),
            ("Contact", "<sip:callee@10.0.0.9:5080>"),
        ],
        &hold,
    );
    uac.handle(&reinvite, addr(TRUNK), t0);
    let ok = &uac_sent(&mut uac)[0];
    assert_eq!(ok.status(), Some(200));
    assert!(String::from_utf8_lossy(&ok.body).contains("a=recvonly"));
    match events(&mut uac).as_slice() {
        [CallEvent::MediaChanged { media }] => {
            assert_eq!(media.direction, Direction::RecvOnly);
            assert!(media.on_hold());
        }
        other => panic!("{other:?}"),
    }
    // The 200 is retransmitted until the ACK.
    uac.handle_timeout(t0 + Duration::from_millis(500));
    assert_eq!(uac_sent(&mut uac)[0].status(), Some(200));
    uac.handle(&in_dialog("ACK", &inv, 2, &[], ""), addr(TRUNK), t0);
    uac.handle_timeout(t0 + Duration::from_secs(2));
    assert!(uac_sent(&mut uac).is_empty());
}

#[test]
fn refer_then_notify_200_means_transferred() {
    let (mut uac, inv, t0) = answered();
    uac_sent(&mut uac);
    events(&mut uac);
    uac.refer("+15559990000", t0);
    let refer = uac_sent(&mut uac).remove(0);
    assert_eq!(refer.method(), Some(&Method::Refer));
    assert_eq!(refer.headers.get("Refer-To"), Some("<sip:+15559990000@10.0.0.9>"));
    uac.handle(&answer(&refer, 202, &[], ""), addr(TRUNK), t0);
    let frag = |s: &str, state: &str| {
        in_dialog(
            "NOTIFY",
            &inv,
            3,
            &[
                ("Event", "refer"),
                ("Subscription-State", state),
                ("Content-Type", "message/sipfrag"),
            ],
            s,
        )
    };
    uac.handle(&frag("SIP/2.0 100 Trying\r\n", "active"), addr(TRUNK), t0);
    assert_eq!(uac_sent(&mut uac)[0].status(), Some(200));
    assert!(events(&mut uac).is_empty());
    let mut done = frag("SIP/2.0 200 OK\r\n", "terminated;reason=noresource");
    done.headers.set("CSeq", "4 NOTIFY");
    done.headers
        .set("Via", "SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bKn4");
    uac.handle(&done, addr(TRUNK), t0);
    let sent: Vec<_> = uac_sent(&mut uac).iter().map(|m| (m.status(), method_of(m))).collect();
    assert_eq!(sent, vec![(Some(200), None), (None, Some(Method::Bye))]);
    let ev = events(&mut uac);
    assert_eq!(ev[0], CallEvent::Transferred);
    assert!(matches!(&ev[1], CallEvent::Ended { cause } if cause.kind == CauseKind::Transferred));
}

#[test]
fn refused_refer_is_a_failed_transfer_and_the_call_goes_on() {
    let (mut uac, _, t0) = answered();
    uac_sent(&mut uac);
    events(&mut uac);
    uac.refer("sip:agent@10.0.0.50", t0);
    let refer = uac_sent(&mut uac).remove(0);
    assert_eq!(refer.headers.get("Refer-To"), Some("<sip:agent@10.0.0.50>"));
    uac.handle(&answer(&refer, 603, &[], ""), addr(TRUNK), t0);
    assert!(matches!(events(&mut uac).as_slice(), [CallEvent::TransferFailed { cause }] if cause.status == Some(603)));
}

#[test]
fn info_dtmf_and_options_in_dialog() {
    let (mut uac, inv, t0) = answered();
    uac_sent(&mut uac);
    events(&mut uac);
    let info = in_dialog(
        "INFO",
        &inv,
        2,
        &[("Content-Type", "application/dtmf-relay")],
        "Signal=5\r\nDuration=160\r\n",
    );
    uac.handle(&info, addr(TRUNK), t0);
    let info = in_dialog("INFO", &inv, 3, &[("Content-Type", "application/dtmf")], "#");
    uac.handle(&info, addr(TRUNK), t0);
    assert_eq!(events(&mut uac), vec![CallEvent::Dtmf('5'), CallEvent::Dtmf('#')]);
    uac.handle(&in_dialog("OPTIONS", &inv, 4, &[], ""), addr(TRUNK), t0);
    let sent = uac_sent(&mut uac);
    assert!(sent.iter().all(|m| m.status() == Some(200)));
    assert_eq!(sent.len(), 3);
    // A request from another dialog on this Call-ID is refused.
    let mut stray = in_dialog("BYE", &inv, 9, &[], "");
    stray.headers.set("To", "<sip:x@y>;tag=other");
    uac.handle(&stray, addr(TRUNK), t0);
    assert_eq!(uac_sent(&mut uac)[0].status(), Some(481));
}

#[test]
fn public_address_goes_into_via_contact_and_sdp() {
    let mut p = dial_params(Transport::Tls);
    p.public_addr = Some(addr("203.0.113.7:5061"));
    p.media.public_ip = Some("203.0.113.7".parse().unwrap());
    let mut uac = Uac::dial(p, Instant::now());
    let t = uac.poll_transmit().unwrap();
    let inv = parse(&t.payload).unwrap();
    assert!(inv
        .headers
        .get("Via")
        .unwrap()
        .starts_with("SIP/2.0/TLS 203.0.113.7:5061"));
    assert_eq!(
        inv.headers.get("Contact"),
        Some("<sip:+15550001111@203.0.113.7:5061;transport=tls>")
    );
    assert!(String::from_utf8_lossy(&inv.body).contains("c=IN IP4 203.0.113.7"));
}

#[test]
fn a_trunk_the_transport_cannot_reach_fails_the_call_at_once_but_not_after_it_answered() {
    let (mut uac, _, t0) = start(Transport::Tls);
    // Another destination's failure is not this call's.
    uac.transport_failed(addr("198.51.100.1:5061"), "refused", t0);
    assert!(events(&mut uac).is_empty());
    uac.transport_failed(addr(TRUNK), "TLS certificate not trusted", t0);
    match events(&mut uac).as_slice() {
        [CallEvent::Ended { cause }] => {
            assert_eq!(cause.kind, CauseKind::Failed);
            assert_eq!(cause.text, "cannot reach the trunk: TLS certificate not trusted");
        }
        other => panic!("{other:?}"),
    }
    // Nothing is retransmitted afterwards, and Timer B stays quiet.
    uac.handle_timeout(t0 + Duration::from_secs(40));
    assert!(uac_sent(&mut uac).is_empty());
    assert!(events(&mut uac).is_empty());

    // Once the trunk has answered anything, a broken connection is not a failure to reach it.
    let (mut uac, inv, t0) = start(Transport::Tls);
    uac.handle(&answer(&inv, 100, &[], ""), addr(TRUNK), t0);
    let _ = events(&mut uac);
    uac.transport_failed(addr(TRUNK), "reset", t0);
    assert!(events(&mut uac).is_empty());
}
