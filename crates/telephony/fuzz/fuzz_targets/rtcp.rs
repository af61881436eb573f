//! Any datagram: compound RTCP parsing never panics; parsed reports write back to themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley_telephony::rtp::rtcp::{parse_compound, RtcpPacket};

fuzz_target!(|data: &[u8]| {
    let Ok(packets) = parse_compound(data) else {
        return;
    };
    for p in packets {
        let mut buf = Vec::new();
        match &p {
            RtcpPacket::SenderReport(sr) if sr.reports.len() <= 31 => sr.write(&mut buf),
            RtcpPacket::ReceiverReport(rr) if rr.reports.len() <= 31 => rr.write(&mut buf),
            RtcpPacket::Bye(bye) => {
                let mut b = bye.clone();
                b.reason = None;
                b.write(&mut buf);
                assert_eq!(parse_compound(&buf), Ok(vec![RtcpPacket::Bye(b)]));
                continue;
            }
            _ => continue,
        }
        assert_eq!(parse_compound(&buf), Ok(vec![p]));
    }
});
