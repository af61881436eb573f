//! A media session under random datagrams, well-formed RTP with random fields, random clock
//! moves (forwards by up to days, sometimes backwards) and random calls from the shell and the
//! pipeline. It must never panic, keep its queues bounded, and keep its wake-ups ahead of the
//! time it was last driven with.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use parley_telephony::rtp::packet::RtpPacket;
use parley_telephony::rtp::{Codec, Direction, MediaSession, SessionConfig};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

#[derive(Arbitrary, Debug)]
enum Op {
    Datagram {
        bytes: Vec<u8>,
        source: u8,
    },
    Rtp {
        seq: u16,
        ts: u32,
        ssrc: u8,
        pt: u8,
        marker: bool,
        len: u16,
        fill: u8,
        source: u8,
    },
    Advance {
        ms: u16,
    },
    Jump {
        secs: u32,
    },
    Back {
        ms: u16,
    },
    Timeout,
    Frame {
        fill: u8,
    },
    Dtmf {
        key: char,
    },
    SetRemote {
        source: u8,
        mux: bool,
    },
    SetCodec {
        alaw: bool,
        dtmf: Option<u8>,
    },
    SetDirection {
        d: u8,
    },
    Drain,
    Close,
}

fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, n % 4], 40000 + (n as u16 % 3)))
}

fuzz_target!(|input: (u32, bool, Vec<Op>)| {
    let (ssrc, alaw, ops) = input;
    let t0 = Instant::now();
    let codec = if alaw { Codec::Pcma } else { Codec::Pcmu };
    let mut cfg = SessionConfig::new(ssrc, ssrc as u16, ssrc, codec, addr(0));
    cfg.media_timeout = Duration::from_secs(2);
    let mut s = MediaSession::new(cfg, t0, SystemTime::UNIX_EPOCH);
    let mut now = t0;
    for op in ops.into_iter().take(2000) {
        match op {
            Op::Datagram { bytes, source } => s.handle_packet(&bytes, addr(source), now),
            Op::Rtp {
                seq,
                ts,
                ssrc,
                pt,
                marker,
                len,
                fill,
                source,
            } => {
                let pt = [0, 8, 101, 13, pt & 0x7f][pt as usize % 5];
                let payload = vec![fill; len as usize % 1500];
                let mut p = RtpPacket::new(pt, seq, ts, ssrc as u32 % 3, &payload);
                p.marker = marker;
                s.handle_packet(&p.to_vec(), addr(source), now);
            }
            Op::Advance { ms } => now += Duration::from_millis(ms as u64),
            Op::Jump { secs } => now += Duration::from_secs(secs as u64 % (86_400 * 30)),
            Op::Back { ms } => now = now.checked_sub(Duration::from_millis(ms as u64)).unwrap_or(now),
            Op::Timeout => {
                s.handle_timeout(now);
                if let Some(next) = s.poll_timeout() {
                    assert!(next > now, "woken at {now:?}, asks for {next:?}");
                }
            }
            Op::Frame { fill } => s.send_frame([fill; 160]),
            Op::Dtmf { key } => {
                let _ = s.send_dtmf(key);
            }
            Op::SetRemote { source, mux } => s.set_remote(addr(source), None, mux),
            Op::SetCodec { alaw, dtmf } => {
                s.set_codec(if alaw { Codec::Pcma } else { Codec::Pcmu }, dtmf.map(|d| 96 + d % 32))
            }
            Op::SetDirection { d } => {
                let all = [
                    Direction::SendRecv,
                    Direction::SendOnly,
                    Direction::RecvOnly,
                    Direction::Inactive,
                ];
                s.set_direction(all[d as usize % 4], now)
            }
            Op::Drain => {
                let mut n = 0;
                while let Some(t) = s.poll_transmit() {
                    assert!(!t.payload.is_empty());
                    n += 1;
                }
                while s.poll_event().is_some() {
                    n += 1;
                }
                assert!(n <= 256 + 1024);
            }
            Op::Close => s.close(now),
        }
    }
    let _ = s.stats();
});
