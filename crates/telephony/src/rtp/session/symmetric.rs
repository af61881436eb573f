//! Symmetric RTP (RFC 4961): which source's packets are accepted and where audio and RTCP go,
//! kept together because a NAT rebinding or a moved far end changes both at once.

use super::{MediaEvent, MediaSession};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

/// Silence of the latched source after which another source may take over.
const RELATCH_SILENCE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
pub(super) enum Latch {
    /// Waiting for the first valid packet.
    Open,
    Latched {
        addr: SocketAddr,
        ssrc: u32,
        last_seen: Instant,
    },
}

impl MediaSession {
    pub(super) fn accept_source(&mut self, source: SocketAddr, ssrc: u32, now: Instant) -> bool {
        if !self.cfg.symmetric {
            return true;
        }
        let take = match self.latch {
            Latch::Open => true,
            Latch::Latched {
                addr,
                ssrc: latched,
                last_seen,
            } => {
                if addr == source {
                    self.latch = Latch::Latched {
                        addr,
                        ssrc,
                        last_seen: now,
                    };
                    return true;
                }
                ssrc == latched || now.saturating_duration_since(last_seen) >= RELATCH_SILENCE
            }
        };
        if take {
            self.latch = Latch::Latched {
                addr: source,
                ssrc,
                last_seen: now,
            };
            if source != self.rtp_dest {
                self.rtp_dest = source;
                self.rtcp_latched = None;
                self.push_event(MediaEvent::RemoteAddrChanged(source));
            }
        }
        take
    }

    pub(super) fn rtcp_destination(&self) -> SocketAddr {
        if self.cfg.rtcp_mux {
            return self.rtp_dest;
        }
        if let Some(a) = self.rtcp_latched {
            return a;
        }
        match (self.cfg.remote_rtcp, self.rtp_dest == self.cfg.remote) {
            (Some(a), true) => a,
            _ => {
                let d = self.rtp_dest;
                SocketAddr::new(d.ip(), d.port().checked_add(1).unwrap_or(d.port()))
            }
        }
    }
}
