//! The endpoint under a stream of datagrams: each record is [source selector, time step,
//! length hi, length lo, bytes…]. One outbound call is dialed first (Call-ID `fuzz-call`) so
//! responses can reach a UAC; inbound calls are accepted, hung up or left alone by the
//! selector byte. Nothing may panic, and the call table stays within its bound.
#![no_main]
use libfuzzer_sys::fuzz_target;
use parley_telephony::sip::{
    CidrAllowList, DialParams, Endpoint, EndpointConfig, EndpointEvent, LocalMedia, Transport,
};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let local = "192.0.2.5:5060".parse().unwrap();
    let mut cfg = EndpointConfig::new(Transport::Udp, local);
    cfg.max_calls = 8;
    let policy = CidrAllowList::parse(["198.51.100.0/24"]);
    let mut ep = Endpoint::new(cfg, Box::new(policy));
    let media = LocalMedia {
        rtp: "192.0.2.5:40000".parse().unwrap(),
        public_ip: None,
    };
    let mut now = Instant::now();
    let _ = ep.dial(
        DialParams {
            call_id: "fuzz-call".into(),
            from: "+15550001111".into(),
            to: "+15552223333".into(),
            trunk: "198.51.100.10:5060".parse().unwrap(),
            trunk_host: "trunk.example.net".into(),
            transport: Transport::Udp,
            username: Some("u".into()),
            password: Some("p".into()),
            from_domain: None,
            local_addr: local,
            public_addr: None,
            media,
            ring_timeout: Duration::from_secs(30),
        },
        now,
    );
    let sources = [
        "198.51.100.10:5060",
        "198.51.100.11:5060",
        "203.0.113.66:5070",
        "[2001:db8::1]:5060",
    ];
    let mut rest = data;
    while rest.len() >= 4 {
        let (sel, step, len) = (rest[0], rest[1], usize::from(u16::from_be_bytes([rest[2], rest[3]])));
        rest = &rest[4..];
        let take = len.min(rest.len());
        let (dgram, tail) = rest.split_at(take);
        rest = tail;
        now += Duration::from_millis(u64::from(step) * 250);
        ep.handle_input(sources[usize::from(sel) % sources.len()].parse().unwrap(), dgram, now);
        if ep.poll_timeout().is_some_and(|t| t <= now) {
            ep.handle_timeout(now);
            assert!(
                ep.poll_timeout().is_none_or(|t| t > now),
                "a handled timeout is not due again"
            );
        }
        while ep.poll_transmit().is_some() {}
        while let Some(ev) = ep.poll_event() {
            if let EndpointEvent::Incoming { call, .. } | EndpointEvent::Call { call, .. } = ev {
                match sel >> 4 {
                    0..=5 => {
                        let _ = ep.accept(call, media, now);
                    }
                    6 => {
                        let _ = ep.hang_up(call, now);
                    }
                    7 => {
                        let _ = ep.refer(call, "+15559990000", now);
                    }
                    8 => {
                        let _ = ep.reject(call, 486, now);
                    }
                    _ => {}
                }
            }
        }
        assert!(ep.call_count() <= 8);
    }
    // Run the clock out: every call must end and be forgotten.
    for _ in 0..200 {
        let Some(t) = ep.poll_timeout() else { break };
        now = now.max(t);
        ep.handle_timeout(now);
        assert!(
            ep.poll_timeout().is_none_or(|t| t > now),
            "a handled timeout is not due again"
        );
        while ep.poll_transmit().is_some() {}
        while ep.poll_event().is_some() {}
    }
});
