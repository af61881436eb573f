//! Writes what a SIP peer plays into a call: RTP packets of G.711 speech and RFC 4733 digits,
//! as a pcap file that sipp's `play_pcap_audio` replays from its media port with the recorded
//! timing. Built here (not a fixture) so the speech comes from the same offline TTS as
//! everything else.

use std::io::Write;

/// One packet to replay: its offset from the start and its RTP bytes.
pub struct Timed {
    pub at_ms: u64,
    pub rtp: Vec<u8>,
}

/// RTP packets of mu-law speech (160 bytes per packet, every 20 ms from `start_ms`), then,
/// `gap_ms` after the speech, for each digit an RFC 4733 event (payload type 101) of 100 ms
/// with three end packets, digits 300 ms apart. Returns the packets in time order.
pub fn speech_then_digits(mulaw: &[u8], start_ms: u64, gap_ms: u64, digits: &str) -> Vec<Timed> {
    let ssrc = 0x5EED_u32;
    let mut seq: u16 = 1000;
    let mut out = vec![];
    let mut ts: u32 = 0;
    let mut at = start_ms;
    for chunk in mulaw.chunks(160) {
        let mut p = header(0, seq, ts, ssrc, seq == 1000);
        p.extend_from_slice(chunk);
        p.resize(12 + 160, 0xFF);
        out.push(Timed { at_ms: at, rtp: p });
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(160);
        at += 20;
    }
    // The timestamp clock keeps running through the gap (no packets: a silence-suppressed gap).
    at += gap_ms.saturating_sub(300);
    ts = ts.wrapping_add((8 * gap_ms.saturating_sub(300)) as u32);
    for d in digits.chars() {
        at += 300;
        ts = ts.wrapping_add(8 * 300);
        let event = match d {
            '0'..='9' => d as u8 - b'0',
            '*' => 10,
            '#' => 11,
            _ => panic!("digit {d}"),
        };
        // Five 20 ms updates (duration growing), then the end packet three times.
        for i in 1..=5u16 {
            let mut p = header(101, seq, ts, ssrc, i == 1);
            p.extend_from_slice(&[event, 10, 0, 0]);
            let dur = 160 * i;
            p[14..16].copy_from_slice(&dur.to_be_bytes());
            out.push(Timed { at_ms: at, rtp: p });
            seq = seq.wrapping_add(1);
            at += 20;
        }
        for _ in 0..3 {
            let mut p = header(101, seq, ts, ssrc, false);
            p.extend_from_slice(&[event, 0x80 | 10, 0, 0]);
            p[14..16].copy_from_slice(&(800u16).to_be_bytes());
            out.push(Timed { at_ms: at, rtp: p });
            seq = seq.wrapping_add(1);
        }
        at += 20;
    }
    out
}

fn header(pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool) -> Vec<u8> {
    let mut h = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    h.extend_from_slice(&seq.to_be_bytes());
    h.extend_from_slice(&ts.to_be_bytes());
    h.extend_from_slice(&ssrc.to_be_bytes());
    h
}

/// Writes the packets as UDP datagrams in an Ethernet pcap (addresses are placeholders: sipp
/// replaces them with the call's).
pub fn write(path: &std::path::Path, packets: &[Timed]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    // Global header: magic, v2.4, tz 0, sigfigs 0, snaplen 65535, linktype 1 (Ethernet).
    f.write_all(&0xa1b2c3d4u32.to_le_bytes())?;
    f.write_all(&2u16.to_le_bytes())?;
    f.write_all(&4u16.to_le_bytes())?;
    f.write_all(&[0; 8])?;
    f.write_all(&65535u32.to_le_bytes())?;
    f.write_all(&1u32.to_le_bytes())?;
    for p in packets {
        let udp_len = 8 + p.rtp.len();
        let ip_len = 20 + udp_len;
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1];
        ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        let sum = checksum(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&6000u16.to_be_bytes());
        frame.extend_from_slice(&6002u16.to_be_bytes());
        frame.extend_from_slice(&(udp_len as u16).to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(&p.rtp);
        let (secs, micros) = ((p.at_ms / 1000) as u32, ((p.at_ms % 1000) * 1000) as u32);
        f.write_all(&secs.to_le_bytes())?;
        f.write_all(&micros.to_le_bytes())?;
        f.write_all(&(frame.len() as u32).to_le_bytes())?;
        f.write_all(&(frame.len() as u32).to_le_bytes())?;
        f.write_all(&frame)?;
    }
    f.flush()
}

fn checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]]) as u32).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
