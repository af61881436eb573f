//! What offer/answer negotiated for the session, apart from the state machine that uses it,
//! so a reader of the SDP side finds every parameter (and its default) in one place.

use crate::rtp::codec::Codec;
use crate::rtp::jitter::JitterConfig;
use std::net::SocketAddr;
use std::time::Duration;

/// The SDP direction of our media, as last negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    /// We hold the far end (or it sends only): we send no audio, RTCP goes on.
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// A session's parameters, from the SDP offer/answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our SSRC; random, chosen by the caller.
    pub local_ssrc: u32,
    /// First sequence number; random (RFC 3550 §5.1).
    pub initial_sequence: u16,
    /// First RTP timestamp; random.
    pub initial_timestamp: u32,
    pub codec: Codec,
    /// The telephone-event payload type, if negotiated.
    pub dtmf_payload_type: Option<u8>,
    /// The far end's RTP address from its SDP.
    pub remote: SocketAddr,
    /// Its RTCP address (`a=rtcp:`), if not RTP's port + 1.
    pub remote_rtcp: Option<SocketAddr>,
    pub rtcp_mux: bool,
    /// Latch onto the address RTP comes from.
    pub symmetric: bool,
    pub media_timeout: Duration,
    pub cname: String,
    pub jitter: JitterConfig,
    pub direction: Direction,
}

impl SessionConfig {
    /// The usual trunk call: telephone-event on 101, symmetric RTP, 30 s media timeout.
    pub fn new(
        local_ssrc: u32,
        initial_sequence: u16,
        initial_timestamp: u32,
        codec: Codec,
        remote: SocketAddr,
    ) -> Self {
        SessionConfig {
            local_ssrc,
            initial_sequence,
            initial_timestamp,
            codec,
            dtmf_payload_type: Some(101),
            remote,
            remote_rtcp: None,
            rtcp_mux: false,
            symmetric: true,
            media_timeout: Duration::from_secs(30),
            cname: format!("parley-{local_ssrc:08x}"),
            jitter: JitterConfig::default(),
            direction: Direction::SendRecv,
        }
    }
}
