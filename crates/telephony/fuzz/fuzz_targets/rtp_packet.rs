//! Any datagram: parsing never panics, and what parses writes back to the same packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley_telephony::rtp::packet::RtpPacket;

fuzz_target!(|data: &[u8]| {
    let _ = parley_telephony::rtp::is_rtcp(data);
    if let Ok(p) = RtpPacket::parse(data) {
        assert!(p.payload.len() <= data.len());
        let bytes = p.to_vec();
        assert_eq!(RtpPacket::parse(&bytes), Ok(p));
    }
});
