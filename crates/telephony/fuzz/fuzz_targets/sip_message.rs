//! SIP parser: any bytes parse or fail, never panic; what parses re-serializes to bytes that
//! parse to the same message; the salvage path (400 to a malformed request) never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use parley_telephony::sip::{framing::StreamFramer, message};

fuzz_target!(|data: &[u8]| {
    match message::parse(data) {
        Ok(m) => {
            let _ = m.validate();
            let _ = (m.top_via(), m.cseq(), m.from(), m.to(), m.content_type());
            let _ = m.headers.list("Route");
            let again = message::parse(&m.to_bytes()).expect("our own output parses");
            assert_eq!(again.start, m.start);
            assert_eq!(again.body, m.body);
        }
        Err(e) => {
            let _ = message::salvage_bad_request(data, &e.to_string());
        }
    }
    let mut f = StreamFramer::default();
    f.push(data);
    while let Ok(Some(m)) = f.next_message() {
        let _ = message::parse(&m);
    }
});
