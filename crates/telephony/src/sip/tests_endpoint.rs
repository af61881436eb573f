//! Endpoint tests for what must never become a call: strangers, scanners, garbage.

use super::call::CallEvent;
use super::endpoint::{Endpoint, EndpointEvent};
use super::test_util::*;
use super::tests_uas::{endpoint, events, invite, sent};
use super::transaction::Transport;
use std::time::{Duration, Instant};

const SCANNER: &str = "203.0.113.66:5070";

fn options(call_id: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:100@192.0.2.5 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.66:5070;branch=z9hG4bK{call_id}\r\n\
From: <sip:scan@203.0.113.66>;tag=s\r\nTo: <sip:100@192.0.2.5>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn invite_from_outside_the_allow_list_is_forbidden_and_never_a_call() {
    let mut ep = endpoint();
    ep.handle_input(addr(SCANNER), &invite("x", "15551230000", "z9hG4bKx"), Instant::now());
    let s = sent(&mut ep);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].status(), Some(403));
    assert!(s[0].to().unwrap().tag().is_some());
    assert!(events(&mut ep).is_empty());
    assert_eq!(ep.call_count(), 0);
}

#[test]
fn options_is_answered_200_without_state() {
    let mut ep = endpoint();
    ep.handle_input(addr(SCANNER), &options("o1"), Instant::now());
    let s = sent(&mut ep);
    assert_eq!(s[0].status(), Some(200));
    assert!(s[0].headers.get("Allow").unwrap().contains("INVITE"));
    assert_eq!(ep.call_count(), 0);
}

#[test]
fn register_is_forbidden_and_strangers_are_rate_limited() {
    let mut ep = endpoint();
    let t0 = Instant::now();
    let reg = String::from_utf8(options("r1")).unwrap().replace("OPTIONS", "REGISTER");
    ep.handle_input(addr(SCANNER), reg.as_bytes(), t0);
    assert_eq!(sent(&mut ep)[0].status(), Some(403));
    for i in 0..100 {
        ep.handle_input(addr(SCANNER), &options(&format!("f{i}")), t0);
    }
    assert_eq!(sent(&mut ep).len(), 9, "burst of 10, one spent on the REGISTER");
    ep.handle_input(addr(SCANNER), &options("later"), t0 + Duration::from_secs(1));
    assert_eq!(sent(&mut ep).len(), 1, "refilled");
    // The allowed trunk is never limited.
    for i in 0..50 {
        ep.handle_input(addr(super::tests_uas::CARRIER), &options(&format!("t{i}")), t0);
    }
    assert_eq!(sent(&mut ep).len(), 50);
}

#[test]
fn malformed_requests_get_400_when_answerable_and_responses_to_nothing_are_dropped() {
    let mut ep = endpoint();
    let t0 = Instant::now();
    let bad_cl = String::from_utf8(options("b1"))
        .unwrap()
        .replace("Content-Length: 0", "Content-Length: 99");
    ep.handle_input(addr(SCANNER), bad_cl.as_bytes(), t0);
    let s = sent(&mut ep);
    assert_eq!(s[0].status(), Some(400));
    assert_eq!(s[0].call_id(), Some("b1"));
    let no_cseq = String::from_utf8(options("b2"))
        .unwrap()
        .replace("CSeq: 1 OPTIONS\r\n", "");
    ep.handle_input(addr(SCANNER), no_cseq.as_bytes(), t0);
    assert_eq!(sent(&mut ep)[0].status(), Some(400));
    ep.handle_input(addr(SCANNER), b"\x16\x03\x01\x02\x00garbage", t0);
    ep.handle_input(addr(SCANNER), b"SIP/2.0 200 OK\r\nCall-ID: nope\r\n\r\n", t0);
    ep.handle_input(addr(SCANNER), b"\r\n\r\n", t0);
    assert!(sent(&mut ep).is_empty());
}

#[test]
fn dialed_calls_route_responses_by_call_id() {
    let mut ep = endpoint();
    let t0 = Instant::now();
    let h = ep.dial(dial_params(Transport::Udp), t0).unwrap();
    assert!(ep.dial(dial_params(Transport::Udp), t0).is_err(), "Call-ID in use");
    let inv = sent(&mut ep).remove(0);
    let busy = answer(&inv, 486, &[], "");
    ep.handle_input(addr(TRUNK), &busy.to_bytes(), t0);
    assert!(
        matches!(events(&mut ep).as_slice(), [EndpointEvent::Call { call, event: CallEvent::Ended { cause } }] if *call == h && cause.to_string() == "sip 486 Busy Here")
    );
    ep.handle_timeout(t0 + Duration::from_secs(40));
    assert_eq!(events(&mut ep), vec![EndpointEvent::Closed { call: h }]);
}

/// A deterministic xorshift so the loop is reproducible without a dependency.
fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn random_and_mutated_datagrams_never_panic() {
    let mut ep: Endpoint = endpoint();
    let t0 = Instant::now();
    let seeds = [
        invite("m", "15551230000", "z9hG4bKm"),
        options("o"),
        ANSWER_SDP.as_bytes().to_vec(),
    ];
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..20_000u32 {
        let mut data = seeds[i as usize % seeds.len()].clone();
        for _ in 0..(rng(&mut seed) % 8) {
            let len = data.len().max(1);
            let pos = (rng(&mut seed) as usize) % len;
            match rng(&mut seed) % 4 {
                0 if !data.is_empty() => {
                    let at = pos % data.len();
                    data[at] = rng(&mut seed) as u8;
                }
                1 if !data.is_empty() => {
                    data.remove(pos % data.len());
                }
                2 => data.insert(pos.min(data.len()), b"\r\n:;<>,=\"@ "[rng(&mut seed) as usize % 11]),
                _ => data.truncate(pos),
            }
        }
        let src = if i % 2 == 0 { super::tests_uas::CARRIER } else { SCANNER };
        let now = t0 + Duration::from_millis(u64::from(i));
        ep.handle_input(addr(src), &data, now);
        while ep.poll_transmit().is_some() {}
        while let Some(ev) = ep.poll_event() {
            if let EndpointEvent::Incoming { call, .. } = ev {
                let _ = ep.accept(call, media(), now);
            }
        }
        ep.handle_timeout(now);
        assert!(
            ep.poll_timeout().is_none_or(|t| t > now),
            "a handled timeout is not due again"
        );
        let _ = super::message::parse(&data);
        let _ = super::sdp::parse(&data);
    }
    // Run the clock out: every wake-up moves time forward, and unanswered calls go away.
    let mut now = t0 + Duration::from_secs(30);
    for _ in 0..10_000 {
        let Some(t) = ep.poll_timeout() else { break };
        now = now.max(t);
        ep.handle_timeout(now);
        assert!(ep.poll_timeout().is_none_or(|t| t > now));
        while ep.poll_transmit().is_some() {}
        while ep.poll_event().is_some() {}
    }
}
