//! Twilio media-stream frames: any bytes, as one or more text frames, into a session that is
//! either fresh or already started. Nothing may panic; an accepted frame leaves the session
//! able to send.
//!
//! Run from `crates/telephony`: `cargo +nightly fuzz run twilio_frames`. Seeds: one mode byte
//! (bit 0: start the session first; bit 1: send after each frame) then newline-separated frames.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley_telephony::twilio::frames::{parse_outbound, MediaStream, Outbound, StreamEvent};
use std::time::Instant;

const START: &str = r#"{"event":"start","sequenceNumber":"1","streamSid":"MZ1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","tracks":["inbound"],"customParameters":{},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let now = Instant::now();
    let mut s = MediaStream::new();
    if mode & 1 == 1 {
        s.handle_text(START, now).expect("the start frame is valid");
    }
    // Newline-separated frames, and the whole input as one frame.
    for frame in text.split('\n').chain(std::iter::once(text.as_ref())) {
        let _ = s.handle_text(frame, now);
        while let Some(e) = s.poll_event() {
            if let StreamEvent::Audio(f) = e {
                assert_eq!(f.len(), 160);
            }
        }
        if mode & 2 == 2 && s.stream_sid().is_some() && !s.is_stopped() {
            s.send_audio(&[0xFF; 160]).expect("a started stream sends");
            s.mark("m").expect("a started stream marks");
            s.clear().expect("a started stream clears");
        }
        while let Some(t) = s.poll_transmit() {
            let _: Outbound = parse_outbound(&t).expect("our own frames parse");
        }
    }
    // The fake's side of the protocol: Parley's messages parsed from arbitrary text.
    let _ = parse_outbound(&text);
});
