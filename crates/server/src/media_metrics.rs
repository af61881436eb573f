//! The SIP network's media counters ([`parley_telephony::trunk::metrics`]) on `/metrics`:
//! read at each scrape, so a scrape costs a few atomic loads and a call nothing.

use parley_telephony::trunk::metrics::MediaMetrics;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use std::sync::Arc;

/// The collector of one SIP network's media counters.
#[derive(Debug)]
pub struct SipMedia(pub Arc<MediaMetrics>);

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    ConstCounter::new(v).encode(e.encode_descriptor(name, help, None, MetricType::Counter)?)
}

impl Collector for SipMedia {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let s = self.0.snapshot();
        let count = s.gap_buckets.iter().map(|(_, n)| n).sum();
        // The text encoder writes an upper bound of f64::MAX as +Inf.
        let buckets: Vec<(f64, u64)> = s
            .gap_buckets
            .iter()
            .map(|&(b, n)| (if b.is_finite() { b } else { f64::MAX }, n))
            .collect();
        e.encode_descriptor(
            "sip_rtp_send_gap_seconds",
            "Time between a SIP call's consecutive outgoing RTP packets, taken at the send call (20 ms when on time)",
            None,
            MetricType::Histogram,
        )?
        .encode_histogram::<NoLabelSet>(s.gap_sum_seconds, count, &buckets, None)?;
        counter(
            &mut e,
            "sip_rtp_packets_sent",
            "RTP packets sent on SIP calls",
            s.packets_sent,
        )?;
        counter(
            &mut e,
            "sip_rtp_frames_late",
            "Outgoing frames sent 20 ms or more after their time",
            s.frames_late,
        )?;
        let mut missed = e.encode_descriptor(
            "sip_rtp_frames_missed",
            "Outgoing frames never sent: the media task woke over 200 ms late (skipped), the voice pipeline had no frame ready (underrun), over 200 ms were queued (queue_full)",
            None,
            MetricType::Counter,
        )?;
        for (reason, v) in [
            ("skipped", s.frames_skipped),
            ("underrun", s.frames_underrun),
            ("queue_full", s.frames_queue_full),
        ] {
            ConstCounter::new(v).encode(missed.encode_family(&[("reason", reason)])?)?;
        }
        counter(
            &mut e,
            "sip_caller_frames_dropped",
            "Callers' frames dropped because a call's voice pipeline was a second behind",
            s.caller_frames_dropped,
        )?;
        let mut rtcp = e.encode_descriptor(
            "sip_rtcp_packets",
            "RTCP packets of SIP calls: compound reports sent, packets received from the far ends",
            None,
            MetricType::Counter,
        )?;
        for (direction, v) in [("sent", s.rtcp_sent), ("received", s.rtcp_received)] {
            ConstCounter::new(v).encode(rtcp.encode_family(&[("direction", direction)])?)?;
        }
        ConstGauge::new(s.legs as i64).encode(e.encode_descriptor(
            "sip_media_legs",
            "SIP calls whose media task runs",
            None,
            MetricType::Gauge,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_media_counters_encode_as_openmetrics() {
        let mut r = prometheus_client::registry::Registry::with_prefix("parley");
        r.register_collector(Box::new(SipMedia(Arc::new(MediaMetrics::default()))));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &r).unwrap();
        for line in [
            "# TYPE parley_sip_rtp_send_gap_seconds histogram",
            "parley_sip_rtp_send_gap_seconds_bucket{le=\"0.02\"} 0",
            "parley_sip_rtp_send_gap_seconds_bucket{le=\"+Inf\"} 0",
            "parley_sip_rtp_send_gap_seconds_count 0",
            "parley_sip_rtp_packets_sent_total 0",
            "parley_sip_rtp_frames_late_total 0",
            "parley_sip_rtp_frames_missed_total{reason=\"underrun\"} 0",
            "parley_sip_caller_frames_dropped_total 0",
            "parley_sip_rtcp_packets_total{direction=\"received\"} 0",
            "parley_sip_media_legs 0",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} missing from:\n{out}");
        }
    }
}
