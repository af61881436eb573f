//! Parser, serializer and SDP tests: round trips, bounds, and the malformed inputs a scanner
//! sends.

use super::message::{parse, salvage_bad_request, Message, Method, ParseError, StartLine, MAX_HEADERS};
use super::sdp::{self, Codec, Direction, SdpError};
use super::test_util::*;

const INVITE: &str = "INVITE sip:+15551230000@192.0.2.5 SIP/2.0\r\n\
v: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK1;rport,SIP/2.0/UDP 10.1.1.1;branch=z9hG4bK0\r\n\
f: \"Ann\" <sip:+15557654321@carrier.example>;tag=ann\r\nt: <sip:+15551230000@192.0.2.5>\r\n\
i: abc@host\r\nCSeq: 10 INVITE\r\nm: <sip:ann@198.51.100.10>\r\nSubject: a long\r\n  folded line\r\n\
c: application/sdp\r\nl: 4\r\n\r\nv=0\r\nextra bytes after the body";

#[test]
fn parses_compact_folded_multi_value_headers() {
    let m = parse(INVITE.as_bytes()).unwrap();
    assert_eq!(m.method(), Some(&Method::Invite));
    assert_eq!(m.headers.list("Via").len(), 2);
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK1"));
    assert_eq!(m.call_id(), Some("abc@host"));
    assert_eq!(m.cseq().unwrap().seq, 10);
    assert_eq!(m.from().unwrap().tag(), Some("ann"));
    assert_eq!(m.headers.get("subject"), Some("a long folded line"));
    assert_eq!(m.content_type().as_deref(), Some("application/sdp"));
    assert_eq!(m.body, b"v=0\r");
    assert!(m.validate().is_ok());
}

#[test]
fn serializes_and_parses_back() {
    let m = parse(INVITE.as_bytes()).unwrap();
    let again = parse(&m.to_bytes()).unwrap();
    assert_eq!(again, m);
    let mut r = Message::response_to(&m, 180, Some("us"));
    r.headers.push("Contact", "<sip:x@192.0.2.5>");
    let r2 = parse(&r.to_bytes()).unwrap();
    assert_eq!(r2.status(), Some(180));
    assert_eq!(r2.reason(), "Ringing");
    assert_eq!(r2.to().unwrap().tag(), Some("us"));
    assert_eq!(r2.headers.list("Via").len(), 2);
    assert_eq!(r2.headers.get("Content-Length"), Some("0"));
}

#[test]
fn enforces_bounds_and_rejects_broken_framing() {
    let big = vec![b'a'; 64 * 1024 + 1];
    assert_eq!(parse(&big), Err(ParseError::TooLarge));
    let mut many = String::from("OPTIONS sip:a@b SIP/2.0\r\n");
    for i in 0..=MAX_HEADERS {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(parse(many.as_bytes()), Err(ParseError::TooManyHeaders));
    // At the limit, a Content-Length must be among them: serializing always writes one, and our
    // own output has to parse (a datagram of 100 headers without it did not, after the round).
    for with_length in [false, true] {
        let mut full = String::from("OPTIONS sip:a@b SIP/2.0\r\n");
        for i in 1..MAX_HEADERS {
            full.push_str(&format!("X-H{i}: v\r\n"));
        }
        full.push_str(if with_length {
            "l: 0\r\n\r\n"
        } else {
            "X-Last: v\r\n\r\n"
        });
        match parse(full.as_bytes()) {
            Ok(m) => {
                assert!(with_length);
                assert_eq!(
                    parse(&m.to_bytes()).map(|again| again.headers.iter().count()),
                    Ok(MAX_HEADERS)
                );
            }
            Err(e) => assert_eq!((with_length, e), (false, ParseError::TooManyHeaders)),
        }
    }
    assert_eq!(parse(b"\r\n\r\n"), Err(ParseError::KeepAlive));
    assert_eq!(
        parse(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n"),
        Err(ParseError::Incomplete)
    );
    assert_eq!(parse(b"OPTIONS sip:a@b SIP/3.0\r\n\r\n"), Err(ParseError::BadStartLine));
    assert_eq!(parse(b"SIP/2.0 99 Low\r\n\r\n"), Err(ParseError::BadStartLine));
    assert_eq!(
        parse(b"OPT IONS sip:a@b SIP/2.0\r\n\r\n"),
        Err(ParseError::BadStartLine)
    );
    assert_eq!(
        parse(b"OPTIONS sip:a@b SIP/2.0\r\nno colon\r\n\r\n"),
        Err(ParseError::BadHeader)
    );
    assert_eq!(
        parse(b"OPTIONS sip:a@b SIP/2.0\r\nl: -1\r\n\r\n"),
        Err(ParseError::BadContentLength)
    );
    assert_eq!(
        parse(b"OPTIONS sip:a@b SIP/2.0\r\nl: 10\r\n\r\nabc"),
        Err(ParseError::Truncated)
    );
    assert_eq!(
        parse(b"OPTIONS sip:a@b SIP/2.0\r\nX: \xff\r\n\r\n"),
        Err(ParseError::NotUtf8)
    );
    let ext = parse(b"FOO sip:a@b SIP/2.0\r\n\r\n").unwrap();
    assert_eq!(
        ext.start,
        StartLine::Request {
            method: Method::Other("FOO".into()),
            uri: "sip:a@b".into()
        }
    );
    assert!(ext.validate().is_err());
}

#[test]
fn salvage_answers_requests_only_and_only_with_the_five_headers() {
    let broken = "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKq\r\nFrom: <sip:x@y>;tag=1\r\n\
To: <sip:a@b>\r\nCall-ID: q\r\nCSeq: 1 INVITE\r\nContent-Length: 500\r\n\r\nshort";
    let r = salvage_bad_request(broken.as_bytes(), "body shorter than Content-Length").unwrap();
    assert_eq!(r.status(), Some(400));
    assert_eq!(r.call_id(), Some("q"));
    assert!(salvage_bad_request(broken.replace("Call-ID: q\r\n", "").as_bytes(), "x").is_none());
    assert!(salvage_bad_request(broken.replacen("INVITE sip", "ACK sip", 1).as_bytes(), "x").is_none());
    assert!(salvage_bad_request(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a\r\n\r\n", "x").is_none());
}

#[test]
fn sdp_offer_lists_g711_and_telephone_event() {
    let offer = sdp::offer(&media(), 1, Direction::SendRecv);
    let parsed = sdp::parse(offer.as_bytes()).unwrap();
    let a = parsed.audio.unwrap();
    assert_eq!(a.formats, vec![0, 8, 101]);
    assert_eq!(a.port, 40000);
    assert_eq!(a.ptime, Some(20));
    assert_eq!(parsed.connection, Some("192.0.2.5".parse().unwrap()));
}

#[test]
fn sdp_answer_follows_the_remote_order_and_mirrors_direction() {
    let offer = sdp::parse(ANSWER_SDP.as_bytes()).unwrap();
    let (body, neg) = sdp::answer(&media(), &offer, 2).unwrap();
    assert_eq!(
        (neg.codec, neg.payload_type, neg.dtmf_payload_type),
        (Codec::Pcma, 8, Some(101))
    );
    assert!(body.contains("m=audio 40000 RTP/AVP 8 101\r\n") && body.contains("a=sendrecv"));
    // Dynamic payload numbers for G.711 and telephone-event are honoured.
    let dynamic = ANSWER_SDP.replace("RTP/AVP 8 101", "RTP/AVP 96 97 0").replace(
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:96 opus/48000/2\r\na=rtpmap:97 telephone-event/8000",
    );
    let (_, neg) = sdp::answer(&media(), &sdp::parse(dynamic.as_bytes()).unwrap(), 2).unwrap();
    assert_eq!(
        (neg.codec, neg.payload_type, neg.dtmf_payload_type),
        (Codec::Pcmu, 0, Some(97))
    );
    for (attr, ours) in [
        ("sendonly", Direction::RecvOnly),
        ("recvonly", Direction::SendOnly),
        ("inactive", Direction::Inactive),
    ] {
        let held = sdp::parse(ANSWER_SDP.replace("sendrecv", attr).as_bytes()).unwrap();
        let (body, neg) = sdp::answer(&media(), &held, 3).unwrap();
        assert_eq!(neg.direction, ours);
        assert!(body.contains(&format!(
            "a={}",
            match ours {
                Direction::RecvOnly => "recvonly",
                Direction::SendOnly => "sendonly",
                _ => "inactive",
            }
        )));
    }
}

#[test]
fn sdp_refusals_and_media_sections() {
    let opus_only = ANSWER_SDP
        .replace("RTP/AVP 8 101", "RTP/AVP 96")
        .replace("a=rtpmap:8 PCMA/8000", "a=rtpmap:96 opus/48000/2");
    let o = sdp::parse(opus_only.as_bytes()).unwrap();
    assert_eq!(sdp::answer(&media(), &o, 1).unwrap_err(), SdpError::NoCommonCodec);
    let video_first = ANSWER_SDP.replace("m=audio", "m=video 5000 RTP/AVP 96\r\nc=IN IP4 10.9.9.9\r\nm=audio");
    let neg = sdp::read_answer(video_first.as_bytes()).unwrap();
    assert_eq!(neg.remote_rtp, Some(addr("198.51.100.20:30000")));
    let media_c = ANSWER_SDP.replace("a=sendrecv", "c=IN IP4 10.0.0.77");
    assert_eq!(
        sdp::read_answer(media_c.as_bytes()).unwrap().remote_rtp,
        Some(addr("10.0.0.77:30000"))
    );
    assert_eq!(sdp::read_answer(b"v=0\r\n").unwrap_err(), SdpError::NoAudio);
    assert_eq!(sdp::parse(b"garbage").unwrap_err(), SdpError::Malformed);
    assert_eq!(sdp::parse(b"\xff\xfe").unwrap_err(), SdpError::NotText);
    let rejected_stream = ANSWER_SDP.replace("m=audio 30000", "m=audio 0");
    assert_eq!(
        sdp::read_answer(rejected_stream.as_bytes()).unwrap_err(),
        SdpError::NoAudio
    );
}

/// One socket per call carries RTP and RTCP: the offer asks for rtcp-mux and names the RTP port
/// as the RTCP port; an answer muxes when offered and names its RTP port otherwise; the far
/// end's own RTCP address is read.
#[test]
fn sdp_rtcp_goes_to_the_rtp_socket_and_the_far_end_rtcp_address_is_read() {
    let offer = sdp::offer(&media(), 1, Direction::SendRecv);
    assert!(
        offer.contains("a=rtcp:40000\r\n") && offer.contains("a=rtcp-mux\r\n"),
        "{offer}"
    );
    let ours = sdp::parse(offer.as_bytes()).unwrap().audio.unwrap();
    assert_eq!((ours.rtcp, ours.rtcp_mux), (Some((40000, None)), true));

    // A plain answer: RTCP to RTP's port + 1 (the session's default), no mux.
    let plain = sdp::read_answer(ANSWER_SDP.as_bytes()).unwrap();
    assert_eq!((plain.remote_rtcp, plain.rtcp_mux), (None, false));
    // Its RTCP elsewhere, with and without an address.
    let elsewhere = ANSWER_SDP.replace("a=sendrecv", "a=rtcp:30011 IN IP4 10.0.0.9\r\na=sendrecv");
    assert_eq!(
        sdp::read_answer(elsewhere.as_bytes()).unwrap().remote_rtcp,
        Some(addr("10.0.0.9:30011"))
    );
    let port_only = ANSWER_SDP.replace("a=sendrecv", "a=rtcp:30005\r\na=sendrecv");
    assert_eq!(
        sdp::read_answer(port_only.as_bytes()).unwrap().remote_rtcp,
        Some(addr("198.51.100.20:30005"))
    );
    // Unreadable: ignored, not a refusal.
    let junk = ANSWER_SDP.replace("a=sendrecv", "a=rtcp:many\r\na=sendrecv");
    assert_eq!(sdp::read_answer(junk.as_bytes()).unwrap().remote_rtcp, None);

    // Answering: mux when offered; otherwise our RTP port as our RTCP port.
    let muxed = sdp::parse(ANSWER_SDP.replace("a=sendrecv", "a=rtcp-mux\r\na=sendrecv").as_bytes()).unwrap();
    let (body, neg) = sdp::answer(&media(), &muxed, 2).unwrap();
    assert!(
        neg.rtcp_mux && body.contains("a=rtcp-mux\r\n") && !body.contains("a=rtcp:"),
        "{body}"
    );
    let (body, neg) = sdp::answer(&media(), &sdp::parse(ANSWER_SDP.as_bytes()).unwrap(), 2).unwrap();
    assert!(
        !neg.rtcp_mux && body.contains("a=rtcp:40000\r\n") && !body.contains("rtcp-mux"),
        "{body}"
    );
}
