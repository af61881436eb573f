//! SDP: any bytes parse or fail, never panic; an offer that parses is answered or refused
//! with an error, and our answer parses back to the same negotiated media.
#![no_main]
use libfuzzer_sys::fuzz_target;
use parley_telephony::sip::sdp;

fuzz_target!(|data: &[u8]| {
    let Ok(offer) = sdp::parse(data) else { return };
    let local = sdp::LocalMedia {
        rtp: "192.0.2.5:40000".parse().unwrap(),
        public_ip: None,
    };
    let _ = sdp::read_answer(data);
    if let Ok((body, neg)) = sdp::answer(&local, &offer, 2) {
        let back = sdp::read_answer(body.as_bytes()).expect("our answer parses");
        assert_eq!(back.codec, neg.codec);
        assert_eq!(back.payload_type, neg.payload_type);
        assert_eq!(back.dtmf_payload_type, neg.dtmf_payload_type);
    }
});
