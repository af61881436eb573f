//! The session driven faster than real time: every test moves `now` by hand, none sleeps.

use super::*;
use crate::audio::{decode, encode, FRAME_SAMPLES, MULAW_SILENCE};
use crate::rtp::dtmf::{DtmfError, EventPayload};
use crate::rtp::packet::RtpPacket;
use crate::rtp::rtcp::{ntp_middle, parse_compound, Bye, ReceiverReport, ReportBlock, RtcpPacket};

const SSRC: u32 = 0x5eed_0001;
const TS0: u32 = 4_000_000_000;
const SEQ0: u16 = 65_000;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn session(codec: Codec) -> (MediaSession, Instant) {
    let t0 = Instant::now();
    let cfg = SessionConfig::new(SSRC, SEQ0, TS0, codec, addr("10.0.0.2:40000"));
    let wall = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    (MediaSession::new(cfg, t0, wall), t0)
}

fn at(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

fn drain(s: &mut MediaSession) -> (Vec<Transmit>, Vec<MediaEvent>) {
    let tx = std::iter::from_fn(|| s.poll_transmit()).collect();
    let ev = std::iter::from_fn(|| s.poll_event()).collect();
    (tx, ev)
}

fn rtp_of(tx: &[Transmit]) -> Vec<RtpPacket<'_>> {
    tx.iter()
        .filter(|t| t.channel == Channel::Rtp)
        .map(|t| RtpPacket::parse(&t.payload).unwrap())
        .collect()
}

fn far_packet(seq: u16, ts: u32, ssrc: u32, pt: u8, payload: &[u8]) -> Vec<u8> {
    RtpPacket::new(pt, seq, ts, ssrc, payload).to_vec()
}

fn tone(n: u32) -> MulawFrame {
    let mut pcm = [0i16; FRAME_SAMPLES];
    for (i, s) in pcm.iter_mut().enumerate() {
        let t = (n as usize * FRAME_SAMPLES + i) as f64 / 8000.0;
        *s = (9000.0 * (t * 2.0 * std::f64::consts::PI * 440.0).sin()) as i16;
    }
    encode(&pcm)
}

#[test]
fn a_ten_minute_call_keeps_the_packet_clock_exact_even_when_woken_late() {
    let (mut s, t0) = session(Codec::Pcmu);
    // The pipeline keeps three frames ahead (a 45 ms late wake runs three ticks at once).
    for n in 0..3 {
        s.send_frame(tone(n));
    }
    let mut fed = 3u32;
    let mut sent = vec![]; // (emitted at, seq, ts, marker)
    let mut rtcp = 0;
    let mut wakes = 0u64;
    let end = at(t0, 600_000);
    let mut max_late = Duration::ZERO;
    while let Some(due) = s.poll_timeout() {
        if due > end {
            break;
        }
        // Deadlines are exactly start + n * 20 ms (RTCP's too), never accumulated.
        let off = due - t0;
        assert!(off.as_micros().is_multiple_of(20_000), "{off:?}");
        // The shell is sometimes late: 1 wake in 7 by up to 45 ms, others by a little.
        wakes += 1;
        let late = if wakes.is_multiple_of(7) {
            (wakes * 13) % 46
        } else {
            wakes % 3
        };
        let now = due + Duration::from_millis(late);
        s.handle_timeout(now);
        let (tx, ev) = drain(&mut s);
        for t in &tx {
            match t.channel {
                Channel::Rtp => {
                    let p = RtpPacket::parse(&t.payload).unwrap();
                    sent.push((now, p.sequence, p.timestamp, p.marker));
                }
                Channel::Rtcp => rtcp += 1,
            }
        }
        for e in ev {
            if let MediaEvent::Audio(_) = e {
                s.send_frame(tone(fed)); // the pipeline answers each tick with a frame
                fed += 1;
            }
        }
    }
    let st = s.stats();
    assert_eq!(sent.len(), 30_001, "{st:?}"); // ticks 0..=30_000
    for (k, &(emitted, seq, ts, marker)) in sent.iter().enumerate() {
        assert_eq!(ts, TS0.wrapping_add(160 * k as u32), "packet {k}");
        assert_eq!(seq, SEQ0.wrapping_add(k as u16));
        assert_eq!(marker, k == 0);
        let ideal = at(t0, 20 * k as u64);
        assert!(emitted >= ideal);
        max_late = max_late.max(emitted - ideal);
    }
    // Lateness is bounded by the shell's worst wake-up, not accumulated over the call.
    assert!(max_late <= Duration::from_millis(65), "{max_late:?}");
    assert!((119..=121).contains(&rtcp), "{rtcp}");
    let st = s.stats();
    assert_eq!((st.skipped_ticks, st.send_underruns, st.frames_dropped), (0, 0, 0));
    assert!(st.late_ticks > 0);
    assert_eq!(st.packets_sent, 30_001);
}

#[test]
fn a_stalled_shell_skips_ticks_but_keeps_timestamps_on_the_grid() {
    let (mut s, t0) = session(Codec::Pcmu);
    for _ in 0..3 {
        s.send_frame(tone(0));
    }
    s.handle_timeout(at(t0, 40)); // ticks 0, 1, 2
    s.send_frame(tone(0)); // meant for tick 3, stale once the shell stalls
    s.handle_timeout(at(t0, 1040)); // 50 ticks due: 40 skipped, 10 run
    let (tx, ev) = drain(&mut s);
    assert_eq!(rtp_of(&tx).len(), 3);
    assert_eq!(ev.iter().filter(|e| matches!(e, MediaEvent::Audio(_))).count(), 13);
    assert_eq!(s.stats().skipped_ticks, 40);
    assert_eq!(s.poll_timeout(), Some(at(t0, 1060)));
    s.send_frame(tone(1));
    s.handle_timeout(at(t0, 1060));
    let (tx, _) = drain(&mut s);
    let rtp = rtp_of(&tx);
    assert_eq!(rtp[0].timestamp, TS0.wrapping_add(160 * 53));
    assert_eq!(rtp[0].sequence, SEQ0.wrapping_add(3));
    assert!(rtp[0].marker);
}

#[test]
fn audio_gaps_send_nothing_and_the_next_packet_has_the_marker() {
    let (mut s, t0) = session(Codec::Pcmu);
    s.send_frame(tone(0));
    s.handle_timeout(t0);
    s.handle_timeout(at(t0, 20)); // nothing queued
    s.send_frame(tone(2));
    s.handle_timeout(at(t0, 40));
    s.send_frame(tone(3));
    s.handle_timeout(at(t0, 60));
    let (tx, _) = drain(&mut s);
    let rtp = rtp_of(&tx);
    let v: Vec<_> = rtp
        .iter()
        .map(|p| (p.sequence, p.timestamp.wrapping_sub(TS0), p.marker))
        .collect();
    assert_eq!(v, vec![(SEQ0, 0, true), (SEQ0 + 1, 320, true), (SEQ0 + 2, 480, false)]);
    assert_eq!(rtp[1].payload, &tone(2));
    assert_eq!(s.stats().send_underruns, 1);
}

#[test]
fn incoming_audio_is_delivered_every_tick_through_the_jitter_buffer() {
    let (mut s, t0) = session(Codec::Pcmu);
    let far = addr("10.0.0.2:40000");
    let mut heard = vec![];
    for n in 0..50u32 {
        let now = at(t0, 20 * n as u64);
        if n != 20 {
            let p = far_packet(100 + n as u16, 7 + 160 * n, 0xfa, 0, &tone(n));
            s.handle_packet(&p, far, now + Duration::from_millis(3));
        }
        s.handle_timeout(now + Duration::from_millis(5));
        let (_, ev) = drain(&mut s);
        heard.extend(ev.into_iter().filter_map(|e| match e {
            MediaEvent::Audio(f) => Some(f),
            _ => None,
        }));
    }
    assert_eq!(heard.len(), 50);
    // Packet n arrives within tick n and plays two ticks later (40 ms target).
    assert_eq!(heard[0], MULAW_SILENCE);
    assert_eq!(heard[2], tone(0));
    assert_eq!(heard[21], tone(19));
    assert_ne!(heard[22], tone(20)); // lost: concealed
    assert_eq!(heard[23], tone(21));
    let st = s.stats();
    assert_eq!((st.lost, st.jitter_buffer.lost, st.jitter_buffer.concealed), (1, 1, 1));
    assert_eq!(st.packets_received, 49);
}

#[test]
fn an_alaw_call_decodes_to_the_same_audio_within_quantization_error() {
    let (mut s, t0) = session(Codec::Pcma);
    let far = addr("10.0.0.2:40000");
    let mut heard = vec![];
    for n in 0..10u32 {
        let now = at(t0, 20 * n as u64);
        let mut alaw = Vec::new();
        Codec::Pcma.encode(&tone(n), &mut alaw);
        s.handle_packet(&far_packet(n as u16, 160 * n, 0xfa, 8, &alaw), far, now);
        s.send_frame(tone(n));
        s.handle_timeout(now);
        let (tx, ev) = drain(&mut s);
        for p in rtp_of(&tx) {
            assert_eq!(p.payload_type, 8);
            assert_eq!(p.payload, alaw.as_slice()); // our A-law is what the far end would send
        }
        heard.extend(ev.into_iter().filter_map(|e| match e {
            MediaEvent::Audio(f) => Some(f),
            _ => None,
        }));
    }
    for n in 0..8u32 {
        let (a, b) = (decode(&heard[n as usize + 2]), decode(&tone(n)));
        for (x, y) in a.iter().zip(b.iter()) {
            assert!((*x as i32 - *y as i32).abs() <= 600, "frame {n}: {x} vs {y}");
        }
    }
}

#[test]
fn symmetric_rtp_latches_on_the_real_source_and_guards_it() {
    let (mut s, t0) = session(Codec::Pcmu);
    let nat = addr("203.0.113.9:61000");
    let pkt = |seq: u16, ssrc: u32| far_packet(seq, 160 * seq as u32, ssrc, 0, &[0xff; 160]);
    s.handle_packet(&pkt(1, 0xaa), nat, t0);
    let (_, ev) = drain(&mut s);
    assert_eq!(ev, vec![MediaEvent::RemoteAddrChanged(nat)]);
    s.send_frame(tone(0));
    s.handle_timeout(t0);
    let (tx, _) = drain(&mut s);
    assert_eq!(tx[0].destination, nat);
    // Another address with another SSRC, while the latched one is live: ignored.
    let spoof = addr("198.51.100.1:5004");
    s.handle_packet(&pkt(2, 0xbb), spoof, at(t0, 20));
    assert_eq!(s.remote(), nat);
    assert_eq!(s.stats().foreign, 1);
    // A garbage datagram from anywhere changes nothing.
    s.handle_packet(&[0x80, 0, 1], spoof, at(t0, 25));
    assert_eq!(s.stats().malformed, 1);
    // The latched SSRC from a new port: a NAT rebinding, followed.
    let rebound = addr("203.0.113.9:61002");
    s.handle_packet(&pkt(3, 0xaa), rebound, at(t0, 40));
    assert_eq!(s.remote(), rebound);
    // After a second of silence from it, a new source may take over.
    s.handle_packet(&pkt(4, 0xbb), spoof, at(t0, 500));
    assert_eq!(s.remote(), rebound);
    s.handle_packet(&pkt(5, 0xbb), spoof, at(t0, 1040));
    assert_eq!(s.remote(), spoof);
    // RTCP goes to the RTP port + 1 until RTCP arrives, then to its source.
    s.handle_timeout(at(t0, 2500));
    let (tx, _) = drain(&mut s);
    let r = tx.iter().find(|t| t.channel == Channel::Rtcp).unwrap();
    assert_eq!(r.destination, addr("198.51.100.1:5005"));
    let mut rr = Vec::new();
    ReceiverReport {
        ssrc: 0xbb,
        reports: vec![],
    }
    .write(&mut rr);
    s.handle_packet(&rr, addr("198.51.100.1:7000"), at(t0, 2600));
    s.handle_timeout(at(t0, 7500));
    let (tx, _) = drain(&mut s);
    let r = tx.iter().find(|t| t.channel == Channel::Rtcp).unwrap();
    assert_eq!(r.destination, addr("198.51.100.1:7000"));
    // A re-INVITE resets latching.
    s.set_remote(addr("10.1.1.1:30000"), None, true);
    assert_eq!(s.remote(), addr("10.1.1.1:30000"));
    s.handle_packet(&pkt(6, 0xcc), addr("10.1.1.1:30000"), at(t0, 7600));
    let (_, ev) = drain(&mut s);
    assert!(!ev.iter().any(|e| matches!(e, MediaEvent::RemoteAddrChanged(_))));
}

#[test]
fn dtmf_is_sent_as_rfc4733_packets_in_place_of_audio() {
    let (mut s, t0) = session(Codec::Pcmu);
    s.send_dtmf('7').unwrap();
    assert_eq!(s.send_dtmf('x'), Err(DtmfError::NotAKey('x')));
    for n in 0..10u64 {
        s.send_frame(tone(n as u32));
        s.handle_timeout(at(t0, 20 * n));
    }
    let (tx, _) = drain(&mut s);
    let rtp = rtp_of(&tx);
    assert_eq!(rtp.len(), 10);
    for (i, p) in rtp[..7].iter().enumerate() {
        let ev = EventPayload::parse(p.payload).unwrap();
        assert_eq!((p.payload_type, p.timestamp, p.marker), (101, TS0, i == 0));
        assert_eq!(
            (ev.event, ev.end, ev.duration),
            (7, i >= 4, 160 * (i as u16 + 1).min(5))
        );
    }
    // Audio resumes on the tick grid, and sequence numbers run on through the event.
    assert_eq!(rtp[7].payload_type, 0);
    assert_eq!(rtp[7].timestamp, TS0.wrapping_add(160 * 7));
    assert_eq!(rtp[7].sequence, SEQ0.wrapping_add(7));
    assert_eq!(s.stats().dtmf_packets_sent, 7);
    let mut no_dtmf = SessionConfig::new(1, 0, 0, Codec::Pcmu, addr("10.0.0.2:40000"));
    no_dtmf.dtmf_payload_type = None;
    let mut s = MediaSession::new(no_dtmf, t0, SystemTime::UNIX_EPOCH);
    assert_eq!(s.send_dtmf('1'), Err(DtmfError::NotNegotiated));
}

#[test]
fn received_dtmf_is_one_digit_per_press() {
    let (mut s, t0) = session(Codec::Pcmu);
    let far = addr("10.0.0.2:40000");
    let mut tx = crate::rtp::dtmf::DtmfSender::default();
    for k in "19#".chars() {
        tx.press(k).unwrap();
    }
    let mut seq = 0u16;
    for n in 0..40u32 {
        if let Some(p) = tx.next_packet(160 * n) {
            let mut pkt = far_packet(seq, p.timestamp, 0xfa, 101, &p.payload);
            if p.marker {
                pkt[1] |= 0x80;
            }
            s.handle_packet(&pkt, far, at(t0, 20 * n as u64));
            s.handle_packet(&pkt, far, at(t0, 20 * n as u64 + 1)); // duplicated by the network
            seq += 1;
        }
    }
    let (_, ev) = drain(&mut s);
    let keys: String = ev
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Dtmf(k) => Some(*k),
            _ => None,
        })
        .collect();
    assert_eq!(keys, "19#");
}

#[test]
fn rtcp_sender_reports_carry_the_right_counts_and_clocks() {
    let (mut s, t0) = session(Codec::Pcmu);
    let far = addr("10.0.0.2:40000");
    for n in 0..125u32 {
        // 2.5 s of audio both ways; the far end loses every 10th packet.
        if n % 10 != 9 {
            s.handle_packet(
                &far_packet(n as u16, 160 * n, 0xfa, 0, &[0xff; 160]),
                far,
                at(t0, 20 * n as u64),
            );
        }
        s.send_frame(tone(n));
        s.handle_timeout(at(t0, 20 * n as u64));
    }
    drain(&mut s);
    s.handle_timeout(at(t0, 2500));
    let (tx, _) = drain(&mut s);
    let rtcp: Vec<_> = tx.iter().filter(|t| t.channel == Channel::Rtcp).collect();
    assert_eq!(rtcp.len(), 1);
    assert_eq!(rtcp[0].destination, addr("10.0.0.2:40001"));
    let pkts = parse_compound(&rtcp[0].payload).unwrap();
    let RtcpPacket::SenderReport(sr) = &pkts[0] else {
        panic!("{pkts:?}")
    };
    assert_eq!(sr.ssrc, SSRC);
    assert_eq!(sr.packet_count, 125);
    assert_eq!(sr.octet_count, 125 * 160);
    // 2.5 s after start: NTP is the wall clock given plus 2.5 s; RTP is TS0 + 20,000.
    let ntp_start = (1_700_000_000u64 + 2_208_988_800) << 32;
    assert_eq!(sr.ntp_time, ntp_start + (2u64 << 32) + (1u64 << 31));
    assert_eq!(sr.rtp_time, TS0.wrapping_add(20_000));
    let b = sr.reports[0];
    assert_eq!(b.ssrc, 0xfa);
    assert_eq!(b.highest_sequence, 124);
    assert_eq!(b.cumulative_lost, 12); // 9, 19, ..., 119
    assert!(b.fraction_lost > 0);
    assert_eq!(b.jitter, 0);
    assert!(matches!(&pkts[1], RtcpPacket::SourceDescription(c) if c[0].cname.as_deref() == Some("parley-5eed0001")));
    // The far end's report on us, answering that SR 100 ms later after holding it 60 ms.
    let mut rr = Vec::new();
    ReceiverReport {
        ssrc: 0xfa,
        reports: vec![ReportBlock {
            ssrc: SSRC,
            fraction_lost: 5,
            cumulative_lost: 2,
            highest_sequence: 1,
            jitter: 80,
            last_sr: ntp_middle(sr.ntp_time),
            delay_since_last_sr: 65536 * 60 / 1000,
        }],
    }
    .write(&mut rr);
    s.handle_packet(&rr, addr("10.0.0.2:40001"), at(t0, 2600));
    let st = s.stats();
    assert_eq!(st.remote_fraction_lost, Some(5));
    assert_eq!(st.remote_jitter_ms, Some(10.0));
    let rtt = st.round_trip.unwrap().as_millis();
    assert!((39..=41).contains(&rtt), "{rtt}");
}

#[test]
fn media_timeout_fires_after_the_configured_silence() {
    let (mut s, t0) = session(Codec::Pcmu);
    let far = addr("10.0.0.2:40000");
    for n in 0..100u32 {
        s.handle_packet(
            &far_packet(n as u16, 160 * n, 0xfa, 0, &[0xff; 160]),
            far,
            at(t0, 20 * n as u64),
        );
        s.handle_timeout(at(t0, 20 * n as u64));
    }
    drain(&mut s);
    // Last packet at 1980 ms; the timeout is 30 s.
    let mut fired = None;
    while let Some(t) = s.poll_timeout() {
        if t > at(t0, 40_000) {
            break;
        }
        s.handle_timeout(t);
        let (_, ev) = drain(&mut s);
        if ev.contains(&MediaEvent::Timeout) {
            assert!(fired.is_none(), "fires once");
            fired = Some(t);
        }
    }
    assert_eq!(fired, Some(at(t0, 31_980)));
}

#[test]
fn hold_stops_audio_but_not_rtcp_nor_the_clock_and_suspends_the_timeout() {
    let (mut s, t0) = session(Codec::Pcmu);
    s.set_direction(Direction::Inactive, t0);
    let (mut tx, mut ev) = (vec![], vec![]);
    for n in 0..2000u64 {
        s.send_frame(tone(n as u32));
        s.handle_timeout(at(t0, 20 * n));
        let (t, e) = drain(&mut s);
        tx.extend(t);
        ev.extend(e);
    }
    assert!(rtp_of(&tx).is_empty());
    let rtcp: Vec<_> = tx.iter().filter(|t| t.channel == Channel::Rtcp).collect();
    assert_eq!(rtcp.len(), 8);
    assert!(matches!(
        parse_compound(&rtcp[0].payload).unwrap()[0],
        RtcpPacket::ReceiverReport(_)
    ));
    assert!(!ev.contains(&MediaEvent::Timeout));
    assert_eq!(ev.len(), 2000);
    // Resume: audio again, marker set, timestamps still on the call's grid.
    s.set_direction(Direction::SendRecv, at(t0, 40_000));
    s.send_frame(tone(0));
    s.handle_timeout(at(t0, 40_000));
    let (tx, _) = drain(&mut s);
    let rtp = rtp_of(&tx);
    assert!(rtp[0].marker);
    assert_eq!(rtp[0].timestamp, TS0.wrapping_add(160 * 2000));
    assert_eq!(rtp[0].sequence, SEQ0);
}

#[test]
fn codec_change_by_reinvite_takes_effect_at_the_next_tick() {
    let (mut s, t0) = session(Codec::Pcmu);
    s.send_frame(tone(0));
    s.handle_timeout(t0);
    s.set_codec(Codec::Pcma, Some(96));
    s.send_frame(tone(1));
    s.handle_timeout(at(t0, 20));
    let (tx, _) = drain(&mut s);
    let rtp = rtp_of(&tx);
    assert_eq!((rtp[0].payload_type, rtp[1].payload_type), (0, 8));
    assert!(rtp[1].marker);
    assert!(s.send_dtmf('1').is_ok());
}

#[test]
fn close_sends_bye_and_a_remote_bye_is_reported() {
    let (mut s, t0) = session(Codec::Pcmu);
    let far = addr("10.0.0.2:40000");
    s.handle_packet(&far_packet(1, 160, 0xfa, 0, &[0xff; 160]), far, t0);
    let mut bye = Vec::new();
    ReceiverReport {
        ssrc: 0xfa,
        reports: vec![],
    }
    .write(&mut bye);
    Bye {
        ssrcs: vec![0xfa],
        reason: Some("bye".into()),
    }
    .write(&mut bye);
    s.handle_packet(&bye, addr("10.0.0.2:40001"), at(t0, 10));
    let (_, ev) = drain(&mut s);
    assert!(ev.contains(&MediaEvent::RemoteBye));
    s.close(at(t0, 20));
    let (tx, _) = drain(&mut s);
    assert_eq!(tx.len(), 1);
    let pkts = parse_compound(&tx[0].payload).unwrap();
    assert!(matches!(pkts.last(), Some(RtcpPacket::Bye(b)) if b.ssrcs == vec![SSRC]));
    assert_eq!(s.poll_timeout(), None);
    s.handle_timeout(at(t0, 100));
    assert!(s.poll_transmit().is_none());
}
