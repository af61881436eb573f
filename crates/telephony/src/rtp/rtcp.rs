//! RTCP (RFC 3550 §6): sender and receiver reports, SDES CNAME and BYE, in compound packets.
//!
//! Decision: parsing is lenient about *which* packets a compound holds (a lone BYE, or an APP or
//! feedback packet we do not know, is accepted and skipped as [`RtcpPacket::Other`]) but strict
//! about *lengths*: every header's version, length, padding and counts are checked against the
//! datagram, and one bad packet rejects the whole datagram. Far ends differ in the first; no
//! honest one gets the second wrong, so that is where garbage is told from data.

use super::packet::be32;
use thiserror::Error;

pub const PT_SR: u8 = 200;
pub const PT_RR: u8 = 201;
pub const PT_SDES: u8 = 202;
pub const PT_BYE: u8 = 203;
const SDES_CNAME: u8 = 1;
/// At most 31 report blocks or sources fit the 5-bit count.
pub const MAX_COUNT: usize = 31;

/// Why a datagram is not RTCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RtcpError {
    #[error("empty or shorter than an RTCP header")]
    TooShort,
    #[error("RTCP version {0}, expected 2")]
    Version(u8),
    #[error("a packet's length runs past the datagram")]
    Length,
    #[error("bad padding")]
    Padding,
    #[error("a count does not fit the packet's length")]
    Count,
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Packets lost since the previous report, as a fraction of 256.
    pub fraction_lost: u8,
    /// Packets lost over the whole session (24-bit signed: duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles in the top 16 bits).
    pub highest_sequence: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR received from that source (0: none).
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        let lost = (self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32) & 0xff_ffff;
        out.extend_from_slice(&(((self.fraction_lost as u32) << 24) | lost).to_be_bytes());
        out.extend_from_slice(&self.highest_sequence.to_be_bytes());
        out.extend_from_slice(&self.jitter.to_be_bytes());
        out.extend_from_slice(&self.last_sr.to_be_bytes());
        out.extend_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }

    fn parse(b: &[u8]) -> Self {
        let w = be32(&b[4..]);
        ReportBlock {
            ssrc: be32(b),
            fraction_lost: (w >> 24) as u8,
            cumulative_lost: ((w << 8) as i32) >> 8,
            highest_sequence: be32(&b[8..]),
            jitter: be32(&b[12..]),
            last_sr: be32(&b[16..]),
            delay_since_last_sr: be32(&b[20..]),
        }
    }
}

/// A sender report: what we sent, and what we received.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SenderReport {
    pub ssrc: u32,
    /// NTP timestamp (32.32 fixed point seconds since 1900) of the report.
    pub ntp_time: u64,
    /// The same instant on the RTP clock.
    pub rtp_time: u32,
    pub packet_count: u32,
    pub octet_count: u32,
    pub reports: Vec<ReportBlock>,
}

/// A receiver report: what we received, from a party that has not sent lately.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiverReport {
    pub ssrc: u32,
    pub reports: Vec<ReportBlock>,
}

/// One SDES chunk; items other than CNAME are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunk {
    pub ssrc: u32,
    pub cname: Option<String>,
}

/// A source leaving.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bye {
    pub ssrcs: Vec<u32>,
    pub reason: Option<String>,
}

/// One packet of a compound datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    SenderReport(SenderReport),
    ReceiverReport(ReceiverReport),
    SourceDescription(Vec<SdesChunk>),
    Bye(Bye),
    /// A well-formed packet of a type we do not use (APP, feedback, XR, ...).
    Other {
        packet_type: u8,
    },
}

/// Writes a common header whose length is patched by [`finish`].
fn start(out: &mut Vec<u8>, count: usize, pt: u8) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0x80 | (count.min(MAX_COUNT) as u8), pt, 0, 0]);
    at
}

fn finish(out: &mut [u8], at: usize) {
    let words = ((out.len() - at) / 4 - 1) as u16;
    out[at + 2..at + 4].copy_from_slice(&words.to_be_bytes());
}

impl SenderReport {
    /// Appends the SR (at most 31 report blocks) to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let blocks = &self.reports[..self.reports.len().min(MAX_COUNT)];
        let at = start(out, blocks.len(), PT_SR);
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(&self.ntp_time.to_be_bytes());
        out.extend_from_slice(&self.rtp_time.to_be_bytes());
        out.extend_from_slice(&self.packet_count.to_be_bytes());
        out.extend_from_slice(&self.octet_count.to_be_bytes());
        blocks.iter().for_each(|b| b.write(out));
        finish(out, at);
    }
}

impl ReceiverReport {
    /// Appends the RR (at most 31 report blocks) to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let blocks = &self.reports[..self.reports.len().min(MAX_COUNT)];
        let at = start(out, blocks.len(), PT_RR);
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        blocks.iter().for_each(|b| b.write(out));
        finish(out, at);
    }
}

/// Appends an SDES packet with one chunk holding our CNAME (cut to 255 bytes).
pub fn write_sdes_cname(ssrc: u32, cname: &str, out: &mut Vec<u8>) {
    let at = start(out, 1, PT_SDES);
    out.extend_from_slice(&ssrc.to_be_bytes());
    let name = &cname.as_bytes()[..cname.len().min(255)];
    out.push(SDES_CNAME);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    // The item list ends with at least one null octet, then pads to a 32-bit boundary.
    out.push(0);
    while !(out.len() - at).is_multiple_of(4) {
        out.push(0);
    }
    finish(out, at);
}

impl Bye {
    /// Appends the BYE (at most 31 sources; the reason cut to 255 bytes).
    pub fn write(&self, out: &mut Vec<u8>) {
        let ssrcs = &self.ssrcs[..self.ssrcs.len().min(MAX_COUNT)];
        let at = start(out, ssrcs.len(), PT_BYE);
        ssrcs.iter().for_each(|s| out.extend_from_slice(&s.to_be_bytes()));
        if let Some(reason) = &self.reason {
            let r = &reason.as_bytes()[..reason.len().min(255)];
            out.push(r.len() as u8);
            out.extend_from_slice(r);
            while !(out.len() - at).is_multiple_of(4) {
                out.push(0);
            }
        }
        finish(out, at);
    }
}

/// Parses a compound RTCP datagram (a single packet is a compound of one).
pub fn parse_compound(buf: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
    if buf.len() < 4 {
        return Err(RtcpError::TooShort);
    }
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err(RtcpError::TooShort);
        }
        let version = rest[0] >> 6;
        if version != 2 {
            return Err(RtcpError::Version(version));
        }
        let len = (u16::from_be_bytes([rest[2], rest[3]]) as usize + 1) * 4;
        if len > rest.len() {
            return Err(RtcpError::Length);
        }
        let mut body_end = len;
        if rest[0] & 0x20 != 0 {
            let pad = rest[len - 1] as usize;
            if pad == 0 || pad > len - 4 {
                return Err(RtcpError::Padding);
            }
            body_end -= pad;
        }
        let count = (rest[0] & 0x1f) as usize;
        out.push(parse_one(rest[1], count, &rest[4..body_end])?);
        rest = &rest[len..];
    }
    Ok(out)
}

fn parse_one(pt: u8, count: usize, body: &[u8]) -> Result<RtcpPacket, RtcpError> {
    let blocks = |b: &[u8]| -> Result<Vec<ReportBlock>, RtcpError> {
        if b.len() < count * 24 {
            return Err(RtcpError::Count);
        }
        Ok(b.chunks_exact(24).take(count).map(ReportBlock::parse).collect())
    };
    Ok(match pt {
        PT_SR => {
            if body.len() < 24 {
                return Err(RtcpError::Count);
            }
            RtcpPacket::SenderReport(SenderReport {
                ssrc: be32(body),
                ntp_time: ((be32(&body[4..]) as u64) << 32) | be32(&body[8..]) as u64,
                rtp_time: be32(&body[12..]),
                packet_count: be32(&body[16..]),
                octet_count: be32(&body[20..]),
                reports: blocks(&body[24..])?,
            })
        }
        PT_RR => {
            if body.len() < 4 {
                return Err(RtcpError::Count);
            }
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: be32(body),
                reports: blocks(&body[4..])?,
            })
        }
        PT_SDES => RtcpPacket::SourceDescription(parse_sdes(count, body)?),
        PT_BYE => {
            if body.len() < count * 4 {
                return Err(RtcpError::Count);
            }
            let ssrcs = body.chunks_exact(4).take(count).map(be32).collect();
            let tail = &body[count * 4..];
            let reason = match tail.first() {
                Some(&n) if n > 0 => {
                    let text = tail.get(1..1 + n as usize).ok_or(RtcpError::Length)?;
                    Some(String::from_utf8_lossy(text).into_owned())
                }
                _ => None,
            };
            RtcpPacket::Bye(Bye { ssrcs, reason })
        }
        other => RtcpPacket::Other { packet_type: other },
    })
}

fn parse_sdes(count: usize, body: &[u8]) -> Result<Vec<SdesChunk>, RtcpError> {
    let mut chunks = Vec::with_capacity(count.min(body.len() / 8));
    let mut i = 0;
    for _ in 0..count {
        if i + 4 > body.len() {
            return Err(RtcpError::Count);
        }
        let ssrc = be32(&body[i..]);
        i += 4;
        let mut cname = None;
        loop {
            let kind = *body.get(i).ok_or(RtcpError::Length)?;
            if kind == 0 {
                // End of the item list: skip to the next 32-bit boundary of the chunk.
                i += 1;
                i = i.next_multiple_of(4);
                break;
            }
            let n = *body.get(i + 1).ok_or(RtcpError::Length)? as usize;
            let text = body.get(i + 2..i + 2 + n).ok_or(RtcpError::Length)?;
            if kind == SDES_CNAME {
                cname = Some(String::from_utf8_lossy(text).into_owned());
            }
            i += 2 + n;
        }
        chunks.push(SdesChunk { ssrc, cname });
    }
    Ok(chunks)
}

/// A duration as 32.32 fixed-point seconds (the NTP format).
pub fn ntp_from_duration(d: std::time::Duration) -> u64 {
    (d.as_secs() << 32).wrapping_add(((d.subsec_nanos() as u64) << 32) / 1_000_000_000)
}

/// The middle 32 bits of an NTP timestamp, as carried in LSR.
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> ReportBlock {
        ReportBlock {
            ssrc: 0xabcd,
            fraction_lost: 64,
            cumulative_lost: -3,
            highest_sequence: 0x0001_0005,
            jitter: 37,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65536,
        }
    }

    #[test]
    fn sr_sdes_bye_compound_round_trips() {
        let sr = SenderReport {
            ssrc: 7,
            ntp_time: 0x0102_0304_0506_0708,
            rtp_time: 160_000,
            packet_count: 1000,
            octet_count: 160_000,
            reports: vec![block()],
        };
        let bye = Bye {
            ssrcs: vec![7],
            reason: Some("call ended".into()),
        };
        let mut buf = Vec::new();
        sr.write(&mut buf);
        assert_eq!(buf.len(), 28 + 24);
        assert_eq!(&buf[..4], &[0x81, 200, 0, 12]);
        write_sdes_cname(7, "parley@host", &mut buf);
        bye.write(&mut buf);
        assert_eq!(buf.len() % 4, 0);
        let parsed = parse_compound(&buf).unwrap();
        assert_eq!(
            parsed,
            vec![
                RtcpPacket::SenderReport(sr),
                RtcpPacket::SourceDescription(vec![SdesChunk {
                    ssrc: 7,
                    cname: Some("parley@host".into())
                }]),
                RtcpPacket::Bye(bye),
            ]
        );
    }

    #[test]
    fn rr_round_trips_and_negative_loss_survives_24_bits() {
        let rr = ReceiverReport {
            ssrc: 9,
            reports: vec![block(), ReportBlock::default()],
        };
        let mut buf = Vec::new();
        rr.write(&mut buf);
        // A CNAME whose length makes the chunk end exactly on a word boundary still gets its null.
        write_sdes_cname(9, "ab", &mut buf);
        let parsed = parse_compound(&buf).unwrap();
        assert_eq!(parsed[0], RtcpPacket::ReceiverReport(rr));
        assert!(matches!(&parsed[1], RtcpPacket::SourceDescription(c) if c[0].cname.as_deref() == Some("ab")));
    }

    #[test]
    fn garbage_is_rejected() {
        let mut buf = Vec::new();
        ReceiverReport {
            ssrc: 1,
            reports: vec![block()],
        }
        .write(&mut buf);
        assert_eq!(parse_compound(&buf[..3]), Err(RtcpError::TooShort));
        assert_eq!(parse_compound(&buf[..buf.len() - 4]), Err(RtcpError::Length));
        let mut v = buf.clone();
        v[0] = 0x41;
        assert_eq!(parse_compound(&v), Err(RtcpError::Version(1)));
        let mut c = buf.clone();
        c[0] = 0x82; // claims two blocks, holds one
        assert_eq!(parse_compound(&c), Err(RtcpError::Count));
        let mut p = buf.clone();
        p[0] |= 0x20;
        *p.last_mut().unwrap() = 200;
        assert_eq!(parse_compound(&p), Err(RtcpError::Padding));
        let mut trailing = buf.clone();
        trailing.extend_from_slice(&[0x80, 201]);
        assert_eq!(parse_compound(&trailing), Err(RtcpError::TooShort));
        // An unknown type is skipped, not an error.
        assert_eq!(
            parse_compound(&[0x80, 204, 0, 0]),
            Ok(vec![RtcpPacket::Other { packet_type: 204 }])
        );
    }

    #[test]
    fn ntp_conversion() {
        let d = std::time::Duration::from_millis(1500);
        assert_eq!(ntp_from_duration(d), (1u64 << 32) | (1u64 << 31));
        assert_eq!(ntp_middle(0x1122_3344_5566_7788), 0x3344_5566);
    }
}
