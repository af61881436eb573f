//! The RTP fixed header (RFC 3550 §5.1): parse without copying, and serialize.
//!
//! Decision: a parser of our own rather than the `rtp` crate. That crate (webrtc-rs) is sound but
//! not light: it brings `webrtc-util` (with its own networking and a tokio dependency), `bytes`,
//! `rand` and `serde`, and copies every payload into a `Bytes`. G.711 needs a 12-byte header and a
//! borrowed payload; the whole parser is this file, checks every length against the datagram,
//! and allocates nothing, so it is cheap on the 50-packets-a-second path and easy to fuzz.

use thiserror::Error;

/// The only RTP version there is.
pub const VERSION: u8 = 2;
/// Length of the fixed header without CSRCs.
pub const FIXED_HEADER_LEN: usize = 12;
/// At most 15 contributing sources fit the 4-bit CC field.
pub const MAX_CSRC: usize = 15;

/// Why a datagram is not an RTP packet. Such datagrams are dropped and counted, never a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PacketError {
    #[error("shorter than the 12-byte RTP header")]
    TooShort,
    #[error("RTP version {0}, expected 2")]
    Version(u8),
    #[error("the CSRC list runs past the datagram")]
    CsrcOverrun,
    #[error("the header extension runs past the datagram")]
    ExtensionOverrun,
    #[error("the padding count is zero or runs into the header")]
    Padding,
}

/// The contributing sources of a packet, inline (no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Csrcs {
    len: u8,
    ids: [u32; MAX_CSRC],
}

impl Csrcs {
    /// The list, or `None` if it has more than 15 entries.
    pub fn from_slice(ids: &[u32]) -> Option<Self> {
        if ids.len() > MAX_CSRC {
            return None;
        }
        let mut c = Csrcs {
            len: ids.len() as u8,
            ..Default::default()
        };
        c.ids[..ids.len()].copy_from_slice(ids);
        Some(c)
    }

    pub fn as_slice(&self) -> &[u32] {
        &self.ids[..self.len as usize]
    }
}

/// A header extension (RFC 3550 §5.3.1): a profile word and data, a whole number of 32-bit words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    pub profile: u16,
    pub data: &'a [u8],
}

/// One RTP packet, borrowing its payload from the datagram it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub csrcs: Csrcs,
    pub extension: Option<Extension<'a>>,
    pub payload: &'a [u8],
    /// Padding octets after the payload, the count octet included (0: no padding).
    pub padding: u8,
}

impl<'a> RtpPacket<'a> {
    /// A plain packet: no CSRC, no extension, no padding (what Parley sends).
    pub fn new(payload_type: u8, sequence: u16, timestamp: u32, ssrc: u32, payload: &'a [u8]) -> Self {
        RtpPacket {
            marker: false,
            payload_type: payload_type & 0x7f,
            sequence,
            timestamp,
            ssrc,
            csrcs: Csrcs::default(),
            extension: None,
            payload,
            padding: 0,
        }
    }

    /// Parses one datagram, checking every length against it.
    pub fn parse(buf: &'a [u8]) -> Result<Self, PacketError> {
        if buf.len() < FIXED_HEADER_LEN {
            return Err(PacketError::TooShort);
        }
        let version = buf[0] >> 6;
        if version != VERSION {
            return Err(PacketError::Version(version));
        }
        let has_padding = buf[0] & 0x20 != 0;
        let has_extension = buf[0] & 0x10 != 0;
        let cc = (buf[0] & 0x0f) as usize;
        let mut off = FIXED_HEADER_LEN + 4 * cc;
        if off > buf.len() {
            return Err(PacketError::CsrcOverrun);
        }
        let mut ids = [0u32; MAX_CSRC];
        for (i, id) in ids.iter_mut().enumerate().take(cc) {
            *id = be32(&buf[FIXED_HEADER_LEN + 4 * i..]);
        }
        let extension = if has_extension {
            if off + 4 > buf.len() {
                return Err(PacketError::ExtensionOverrun);
            }
            let profile = u16::from_be_bytes([buf[off], buf[off + 1]]);
            let words = u16::from_be_bytes([buf[off + 2], buf[off + 3]]) as usize;
            let end = off + 4 + 4 * words;
            if end > buf.len() {
                return Err(PacketError::ExtensionOverrun);
            }
            let data = &buf[off + 4..end];
            off = end;
            Some(Extension { profile, data })
        } else {
            None
        };
        let mut end = buf.len();
        let mut padding = 0;
        if has_padding {
            padding = buf[buf.len() - 1];
            if padding == 0 || padding as usize > end - off {
                return Err(PacketError::Padding);
            }
            end -= padding as usize;
        }
        Ok(RtpPacket {
            marker: buf[1] & 0x80 != 0,
            payload_type: buf[1] & 0x7f,
            sequence: u16::from_be_bytes([buf[2], buf[3]]),
            timestamp: be32(&buf[4..]),
            ssrc: be32(&buf[8..]),
            csrcs: Csrcs { len: cc as u8, ids },
            extension,
            payload: &buf[off..end],
            padding,
        })
    }

    /// Appends the packet to `out`. Extension data that is not a whole number of words is
    /// zero-padded to one (the wire cannot say anything else).
    pub fn write(&self, out: &mut Vec<u8>) {
        let csrcs = self.csrcs.as_slice();
        out.push(
            (VERSION << 6)
                | (u8::from(self.padding > 0) << 5)
                | (u8::from(self.extension.is_some()) << 4)
                | csrcs.len() as u8,
        );
        out.push((u8::from(self.marker) << 7) | (self.payload_type & 0x7f));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for id in csrcs {
            out.extend_from_slice(&id.to_be_bytes());
        }
        if let Some(ext) = self.extension {
            let words = ext.data.len().div_ceil(4).min(u16::MAX as usize);
            out.extend_from_slice(&ext.profile.to_be_bytes());
            out.extend_from_slice(&(words as u16).to_be_bytes());
            let data = &ext.data[..ext.data.len().min(words * 4)];
            out.extend_from_slice(data);
            out.resize(out.len() + words * 4 - data.len(), 0);
        }
        out.extend_from_slice(self.payload);
        if self.padding > 0 {
            out.resize(out.len() + self.padding as usize - 1, 0);
            out.push(self.padding);
        }
    }

    /// The packet as a new datagram.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(FIXED_HEADER_LEN + self.payload.len());
        self.write(&mut v);
        v
    }
}

pub(crate) fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_packet_round_trips() {
        let payload = [0xffu8; 160];
        let mut p = RtpPacket::new(0, 65535, 0xdead_beef, 0x1234_5678, &payload);
        p.marker = true;
        let bytes = p.to_vec();
        assert_eq!(bytes.len(), 172);
        assert_eq!(&bytes[..2], &[0x80, 0x80]);
        assert_eq!(RtpPacket::parse(&bytes), Ok(p));
    }

    #[test]
    fn csrc_extension_and_padding_round_trip() {
        let payload = [1u8, 2, 3];
        let ext = [9u8; 8];
        let mut p = RtpPacket::new(8, 7, 8, 9, &payload);
        p.csrcs = Csrcs::from_slice(&[1, 2, 3]).unwrap();
        p.extension = Some(Extension {
            profile: 0xbede,
            data: &ext,
        });
        p.padding = 5;
        let bytes = p.to_vec();
        assert_eq!(bytes.len(), 12 + 12 + 4 + 8 + 3 + 5);
        let q = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(q, p);
        assert_eq!(q.csrcs.as_slice(), &[1, 2, 3]);
        assert!(Csrcs::from_slice(&[0; 16]).is_none());
    }

    #[test]
    fn garbage_is_rejected() {
        let good = RtpPacket::new(0, 1, 2, 3, &[0; 4]).to_vec();
        assert_eq!(RtpPacket::parse(&good[..11]), Err(PacketError::TooShort));
        let mut v1 = good.clone();
        v1[0] = 0x40;
        assert_eq!(RtpPacket::parse(&v1), Err(PacketError::Version(1)));
        let mut cc = good.clone();
        cc[0] |= 0x02; // two CSRCs, 8 bytes, but only 4 bytes follow
        assert_eq!(RtpPacket::parse(&cc), Err(PacketError::CsrcOverrun));
        let mut x = good.clone();
        x[0] |= 0x10; // extension header claims 0 words: 4 bytes present, ok
        assert!(RtpPacket::parse(&x).is_ok());
        x[15] = 1; // now one word of data that is not there
        assert_eq!(RtpPacket::parse(&x), Err(PacketError::ExtensionOverrun));
        let mut pad = good.clone();
        pad[0] |= 0x20;
        *pad.last_mut().unwrap() = 0;
        assert_eq!(RtpPacket::parse(&pad), Err(PacketError::Padding));
        *pad.last_mut().unwrap() = 5; // more than the 4 payload bytes
        assert_eq!(RtpPacket::parse(&pad), Err(PacketError::Padding));
        *pad.last_mut().unwrap() = 4; // the whole payload is padding: legal, empty payload
        assert_eq!(RtpPacket::parse(&pad).unwrap().payload, &[] as &[u8]);
    }
}
