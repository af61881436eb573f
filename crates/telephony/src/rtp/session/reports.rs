//! RTCP (RFC 3550 §6): the far end's reports read (loss, jitter, round trip, BYE) and ours
//! written, apart from RTP because they run on their own schedule and their own address.

use super::{Channel, MediaEvent, MediaSession, Transmit};
use crate::rtp::rtcp::{
    ntp_from_duration, ntp_middle, parse_compound, write_sdes_cname, Bye, ReceiverReport, ReportBlock, RtcpPacket,
    SenderReport,
};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

impl MediaSession {
    fn ntp(&self, now: Instant) -> u64 {
        self.ntp_start
            .wrapping_add(ntp_from_duration(now.saturating_duration_since(self.start)))
    }

    pub(super) fn handle_rtcp(&mut self, datagram: &[u8], source: SocketAddr, now: Instant) {
        let Ok(packets) = parse_compound(datagram) else {
            self.stats.malformed += 1;
            return;
        };
        let remote_ssrc = self.recv.as_ref().map(|r| r.ssrc());
        let sender_is_remote = packets.iter().any(|p| match p {
            RtcpPacket::SenderReport(sr) => Some(sr.ssrc) == remote_ssrc,
            RtcpPacket::ReceiverReport(rr) => Some(rr.ssrc) == remote_ssrc,
            _ => false,
        });
        if self.cfg.symmetric {
            // Same guard as RTP: the peer's address, or a report from the SSRC we latched.
            if !(source.ip() == self.rtp_dest.ip() || sender_is_remote) {
                self.stats.foreign += 1;
                return;
            }
            if !self.cfg.rtcp_mux {
                self.rtcp_latched = Some(source);
            }
        }
        self.stats.rtcp_received += 1;
        for p in packets {
            match p {
                RtcpPacket::SenderReport(sr) => {
                    if remote_ssrc.is_none_or(|r| r == sr.ssrc) {
                        self.last_sr = Some((ntp_middle(sr.ntp_time), now));
                    }
                    self.note_reports(&sr.reports, now);
                }
                RtcpPacket::ReceiverReport(rr) => self.note_reports(&rr.reports, now),
                RtcpPacket::Bye(bye) => {
                    if remote_ssrc.is_none_or(|r| bye.ssrcs.contains(&r)) {
                        self.push_event(MediaEvent::RemoteBye);
                    }
                }
                RtcpPacket::SourceDescription(_) | RtcpPacket::Other { .. } => {}
            }
        }
    }

    fn note_reports(&mut self, blocks: &[ReportBlock], now: Instant) {
        let now_mid = ntp_middle(self.ntp(now));
        for b in blocks.iter().filter(|b| b.ssrc == self.cfg.local_ssrc) {
            self.stats.remote_fraction_lost = Some(b.fraction_lost);
            self.stats.remote_cumulative_lost = Some(b.cumulative_lost);
            self.stats.remote_jitter_ms = Some(b.jitter as f64 / 8.0);
            if b.last_sr != 0 {
                let rtt = now_mid.wrapping_sub(b.last_sr).wrapping_sub(b.delay_since_last_sr);
                if rtt < 1 << 20 {
                    // Under 16 s: anything more is a stale or bogus report.
                    self.stats.round_trip = Some(Duration::from_micros((rtt as u64 * 1_000_000) >> 16));
                }
            }
        }
    }

    pub(super) fn send_rtcp(&mut self, now: Instant, bye: bool) {
        let (lsr, dlsr) = match self.last_sr {
            Some((mid, at)) => {
                let d = now.saturating_duration_since(at);
                (mid, ((d.as_micros() as u64) << 16) / 1_000_000)
            }
            None => (0, 0),
        };
        let reports: Vec<_> = self
            .recv
            .as_mut()
            .and_then(|r| r.report_block(lsr, dlsr.min(u32::MAX as u64) as u32))
            .into_iter()
            .collect();
        let ssrc = self.cfg.local_ssrc;
        let mut buf = Vec::with_capacity(128);
        if self.sent_since_report {
            SenderReport {
                ssrc,
                ntp_time: self.ntp(now),
                rtp_time: self.cfg.initial_timestamp.wrapping_add(self.rtp_clock(now)),
                packet_count: self.stats.packets_sent as u32,
                octet_count: self.stats.octets_sent as u32,
                reports,
            }
            .write(&mut buf);
        } else {
            ReceiverReport { ssrc, reports }.write(&mut buf);
        }
        self.sent_since_report = false;
        write_sdes_cname(ssrc, &self.cfg.cname, &mut buf);
        if bye {
            Bye {
                ssrcs: vec![ssrc],
                reason: None,
            }
            .write(&mut buf);
        }
        self.stats.rtcp_sent += 1;
        let t = Transmit {
            channel: Channel::Rtcp,
            destination: self.rtcp_destination(),
            payload: buf,
        };
        self.push_transmit(t);
    }
}
