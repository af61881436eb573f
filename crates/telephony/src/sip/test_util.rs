//! Helpers shared by the SIP tests: a fake trunk that reads what we send and answers it.

use super::message::{parse, Message, Method};
use super::sdp::LocalMedia;
use super::transaction::{Transmit, Transport};
use super::uac::{DialParams, Uac};
use std::net::SocketAddr;
use std::time::Duration;

pub const TRUNK: &str = "198.51.100.10:5060";
pub const LOCAL: &str = "192.0.2.5:5060";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn media() -> LocalMedia {
    LocalMedia {
        rtp: addr("192.0.2.5:40000"),
        public_ip: None,
    }
}

pub fn dial_params(transport: Transport) -> DialParams {
    DialParams {
        call_id: "call-1@parley".into(),
        from: "+15550001111".into(),
        to: "+15552223333".into(),
        trunk: addr(TRUNK),
        trunk_host: "trunk.example.net".into(),
        transport,
        username: Some("parley".into()),
        password: Some("secret".into()),
        from_domain: None,
        local_addr: addr(LOCAL),
        public_addr: None,
        media: media(),
        ring_timeout: Duration::from_secs(30),
    }
}

/// Everything `poll` yields, parsed.
pub fn drain(poll: impl FnMut() -> Option<Transmit>) -> Vec<(Message, Transmit)> {
    std::iter::from_fn(poll)
        .map(|t| (parse(&t.payload).expect("we send parseable SIP"), t))
        .collect()
}

pub fn uac_sent(uac: &mut Uac) -> Vec<Message> {
    drain(|| uac.poll_transmit()).into_iter().map(|(m, _)| m).collect()
}

pub fn method_of(m: &Message) -> Option<Method> {
    m.method().cloned()
}

pub const ANSWER_SDP: &str = "v=0\r\no=- 1 1 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\n\
m=audio 30000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n";

/// The trunk's response to one of our requests, with a To-tag and optional extras.
pub fn answer(req: &Message, status: u16, headers: &[(&str, &str)], body: &str) -> Message {
    let mut r = Message::response_to(req, status, Some("trunktag"));
    for (n, v) in headers {
        r.headers.push(n, *v);
    }
    if !body.is_empty() {
        r.headers.push("Content-Type", "application/sdp");
        r.body = body.as_bytes().to_vec();
    }
    r
}

/// A request from the far end inside the dialog our UAC made (their tag `trunktag`).
pub fn in_dialog(method: &str, uac_invite: &Message, cseq: u32, extra: &[(&str, &str)], body: &str) -> Message {
    let from_tag = uac_invite.from().unwrap().tag().unwrap().to_string();
    let mut raw = format!(
        "{method} sip:+15550001111@192.0.2.5:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bKr{cseq}{method}\r\n\
From: <sip:+15552223333@trunk.example.net>;tag=trunktag\r\nTo: <sip:+15550001111@trunk.example.net>;tag={from_tag}\r\n\
Call-ID: call-1@parley\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n"
    );
    for (n, v) in extra {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    raw.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    parse(raw.as_bytes()).unwrap()
}
