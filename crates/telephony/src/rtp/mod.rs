//! RTP media for SIP trunks, sans-I/O: bytes and time in, bytes, events and the next wake-up out.
//!
//! - [`packet`]: the RTP header (RFC 3550 §5.1), parsed without copying, and written.
//! - [`rtcp`]: RTCP sender/receiver reports, SDES CNAME and BYE, as compound packets.
//! - [`stats`]: receive statistics for reports: loss, extended highest sequence, jitter (A.1, A.3, A.8).
//! - [`codec`]: G.711 PCMU (payload type 0) and PCMA (8); the pipeline always speaks mu-law.
//! - [`jitter`]: the reorder/jitter buffer, one 20 ms frame out per tick, with loss concealment.
//! - [`dtmf`]: RFC 4733 telephone-events, received (one digit per press) and sent.
//! - [`session`]: one call's media: symmetric RTP, the drift-free 20 ms packet clock, RTCP, the
//!   media timeout. The socket shell feeds it datagrams and time and drains what it returns.
//!
//! Decision: nothing here reads a clock or touches a socket. Every input carries its `now`
//! (a [`tokio::time::Instant`], the same clock the voice pipeline's frames carry), and the session
//! says when it next wants to be woken. So a ten-minute call runs in a unit test in milliseconds,
//! and the fuzz targets drive the same code the shell does.

pub mod codec;
pub mod dtmf;
pub mod jitter;
pub mod packet;
pub mod rtcp;
pub mod session;
pub mod stats;

pub use codec::Codec;
pub use session::{Channel, Direction, MediaEvent, MediaSession, SessionConfig, SessionStats, Transmit};

/// Tells RTCP from RTP on one port (RFC 5761 §4): RTCP packet types 192..=223 sit where RTP's
/// marker bit and payload types 64..=95 would, which no G.711 or telephone-event stream uses.
pub fn is_rtcp(datagram: &[u8]) -> bool {
    datagram.len() >= 2 && (192..=223).contains(&datagram[1])
}

#[cfg(test)]
mod tests {
    #[test]
    fn demultiplexes_rtp_and_rtcp() {
        assert!(super::is_rtcp(&[0x80, 200, 0, 6]));
        assert!(!super::is_rtcp(&[0x80, 0, 0, 1]));
        assert!(!super::is_rtcp(&[0x80, 0x80 | 101]));
        assert!(!super::is_rtcp(&[0x80]));
    }
}
