//! SDP (RFC 4566) for G.711 calls: parse a remote description, build our offer, answer a remote
//! offer, and reduce either to a [`Negotiated`] result the RTP layer can use.
//!
//! Decision: only the first `m=audio` line with a non-zero port counts; video, a second audio
//! stream and unknown attributes are ignored rather than refused, because carriers add all
//! sorts of lines and a phone call needs exactly one audio stream. Codec choice follows the
//! remote's order (RFC 3264 §6.1: the offerer's preference), among PCMU and PCMA only.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Bounds against hostile descriptions (SDP rides in a ≤ 64 KiB SIP body anyway).
const MAX_LINES: usize = 256;
const MAX_FORMATS: usize = 64;

/// G.711 codecs, the only ones Parley's media layer speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Pcmu,
    Pcma,
}

impl Codec {
    pub fn static_payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }
}

/// Media direction, as the description's author states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// The direction that answers this one (RFC 3264 §6.1).
    pub fn reversed(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }
    fn attr(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
}

/// The audio stream of a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioMedia {
    pub port: u16,
    pub formats: Vec<u8>,
    pub rtpmaps: Vec<RtpMap>,
    pub fmtps: Vec<(u8, String)>,
    pub ptime: Option<u32>,
    pub direction: Direction,
    /// The media-level `c=` if any (overrides the session's).
    pub connection: Option<IpAddr>,
    /// `a=rtcp:PORT [IN IP4 ADDR]` (RFC 3605): where its RTCP goes, if not RTP's port + 1.
    pub rtcp: Option<(u16, Option<IpAddr>)>,
    /// `a=rtcp-mux` (RFC 5761): RTCP on the RTP port.
    pub rtcp_mux: bool,
}

/// What we read from a remote description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    pub connection: Option<IpAddr>,
    pub audio: Option<AudioMedia>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("SDP is not UTF-8 text")]
    NotText,
    #[error("SDP has too many lines")]
    TooLong,
    #[error("malformed SDP line")]
    Malformed,
    #[error("SDP has no audio stream")]
    NoAudio,
    #[error("no common codec (PCMU/PCMA)")]
    NoCommonCodec,
    #[error("SDP has no connection address")]
    NoConnection,
}

/// The negotiated media of a call, from our side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub codec: Codec,
    pub payload_type: u8,
    /// Where to send RTP; `None` while the remote holds the call with `c=0.0.0.0`.
    pub remote_rtp: Option<SocketAddr>,
    /// RFC 4733 telephone-event payload type, when both sides support it.
    pub dtmf_payload_type: Option<u8>,
    /// What *we* may do: `RecvOnly` or `Inactive` while the remote holds the call.
    pub direction: Direction,
    pub ptime: u32,
    /// Where the far end wants RTCP (`a=rtcp:`), if not RTP's port + 1.
    pub remote_rtcp: Option<SocketAddr>,
    /// RTCP shares the RTP port both ways (both sides said `a=rtcp-mux`).
    pub rtcp_mux: bool,
}

impl Negotiated {
    /// True when we must not send audio (the far end put us on hold).
    pub fn on_hold(&self) -> bool {
        matches!(self.direction, Direction::RecvOnly | Direction::Inactive) || self.remote_rtp.is_none()
    }
}

/// Our side of the media: the address written into `c=`/`m=` (the public one behind NAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalMedia {
    pub rtp: SocketAddr,
    /// The address peers reach our RTP socket at, when it differs from `rtp.ip()` (NAT).
    pub public_ip: Option<IpAddr>,
}

impl LocalMedia {
    fn ip(&self) -> IpAddr {
        self.public_ip.unwrap_or(self.rtp.ip())
    }
}

fn parse_addr(v: &str) -> Result<IpAddr, SdpError> {
    let mut it = v.split_ascii_whitespace();
    let (Some("IN"), Some(_), Some(addr)) = (it.next(), it.next(), it.next()) else {
        return Err(SdpError::Malformed);
    };
    // Multicast TTL suffix (`/127`) is irrelevant to a phone call.
    addr.split('/')
        .next()
        .unwrap_or("")
        .parse()
        .map_err(|_| SdpError::Malformed)
}

/// Parses a description.
pub fn parse(body: &[u8]) -> Result<SessionDescription, SdpError> {
    let text = std::str::from_utf8(body).map_err(|_| SdpError::NotText)?;
    let mut sd = SessionDescription {
        connection: None,
        audio: None,
    };
    let mut session_dir = Direction::SendRecv;
    // Some(..) while inside the chosen audio m-section; `skipping` inside any other.
    let mut current: Option<AudioMedia> = None;
    let mut skipping = false;
    for (n, line) in text.lines().enumerate() {
        if n >= MAX_LINES {
            return Err(SdpError::TooLong);
        }
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let (kind, value) = line.split_once('=').ok_or(SdpError::Malformed)?;
        match kind {
            "m" => {
                if let Some(a) = current.take() {
                    sd.audio.get_or_insert(a);
                }
                let mut it = value.split_ascii_whitespace();
                let media = it.next().ok_or(SdpError::Malformed)?;
                let port: u16 = it
                    .next()
                    .and_then(|p| p.split('/').next())
                    .and_then(|p| p.parse().ok())
                    .ok_or(SdpError::Malformed)?;
                let proto = it.next().ok_or(SdpError::Malformed)?;
                let formats: Vec<u8> = it.take(MAX_FORMATS).filter_map(|f| f.parse().ok()).collect();
                skipping = media != "audio" || port == 0 || sd.audio.is_some() || !proto.contains("RTP/AVP");
                if !skipping {
                    current = Some(AudioMedia {
                        port,
                        formats,
                        rtpmaps: Vec::new(),
                        fmtps: Vec::new(),
                        ptime: None,
                        direction: session_dir,
                        connection: None,
                        rtcp: None,
                        rtcp_mux: false,
                    });
                }
            }
            "c" => {
                let addr = parse_addr(value)?;
                match current.as_mut() {
                    Some(a) => a.connection = Some(addr),
                    None if !skipping => sd.connection = Some(addr),
                    None => {}
                }
            }
            "a" => {
                let (name, arg) = value.split_once(':').unwrap_or((value, ""));
                let dir = match name {
                    "sendrecv" => Some(Direction::SendRecv),
                    "sendonly" => Some(Direction::SendOnly),
                    "recvonly" => Some(Direction::RecvOnly),
                    "inactive" => Some(Direction::Inactive),
                    _ => None,
                };
                match (current.as_mut(), dir) {
                    (None, Some(d)) if !skipping => session_dir = d,
                    (Some(a), Some(d)) => a.direction = d,
                    (Some(a), None) => parse_media_attr(a, name, arg)?,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if let Some(a) = current.take() {
        sd.audio.get_or_insert(a);
    }
    Ok(sd)
}

fn parse_media_attr(a: &mut AudioMedia, name: &str, arg: &str) -> Result<(), SdpError> {
    match name {
        "rtpmap" if a.rtpmaps.len() < MAX_FORMATS => {
            let (pt, enc) = arg.split_once(' ').ok_or(SdpError::Malformed)?;
            let mut e = enc.trim().split('/');
            let encoding = e.next().unwrap_or("").to_string();
            let clock_rate = e.next().and_then(|r| r.parse().ok()).unwrap_or(0);
            if let Ok(payload_type) = pt.parse() {
                a.rtpmaps.push(RtpMap {
                    payload_type,
                    encoding,
                    clock_rate,
                });
            }
        }
        "fmtp" if a.fmtps.len() < MAX_FORMATS => {
            let (pt, params) = arg.split_once(' ').unwrap_or((arg, ""));
            if let Ok(pt) = pt.parse() {
                a.fmtps.push((pt, params.trim().to_string()));
            }
        }
        "ptime" => a.ptime = arg.trim().parse().ok().filter(|p| (10..=200).contains(p)),
        "rtcp" => {
            let mut it = arg.split_ascii_whitespace();
            // A port we cannot read is ignored (RTCP then goes to RTP's port + 1), not an error:
            // RTCP is never worth refusing a call for.
            if let Some(port) = it.next().and_then(|p| p.parse::<u16>().ok()).filter(|p| *p != 0) {
                let rest: Vec<&str> = it.collect();
                let addr = match rest.as_slice() {
                    ["IN", _, addr] => addr.parse().ok(),
                    _ => None,
                };
                a.rtcp = Some((port, addr));
            }
        }
        "rtcp-mux" => a.rtcp_mux = true,
        _ => {}
    }
    Ok(())
}

impl AudioMedia {
    fn rtpmap(&self, pt: u8) -> Option<&RtpMap> {
        self.rtpmaps.iter().find(|m| m.payload_type == pt)
    }
    /// The codec a payload type means here (static 0/8 need no rtpmap).
    fn codec_of(&self, pt: u8) -> Option<Codec> {
        match self.rtpmap(pt) {
            Some(m) if m.clock_rate == 8000 || m.clock_rate == 0 => {
                if m.encoding.eq_ignore_ascii_case("PCMU") {
                    Some(Codec::Pcmu)
                } else if m.encoding.eq_ignore_ascii_case("PCMA") {
                    Some(Codec::Pcma)
                } else {
                    None
                }
            }
            Some(_) => None,
            None => match pt {
                0 => Some(Codec::Pcmu),
                8 => Some(Codec::Pcma),
                _ => None,
            },
        }
    }
    fn telephone_event(&self) -> Option<u8> {
        self.formats.iter().copied().find(|pt| {
            self.rtpmap(*pt)
                .is_some_and(|m| m.encoding.eq_ignore_ascii_case("telephone-event") && m.clock_rate == 8000)
        })
    }
}

/// Reduces a remote description to the negotiated media (used for their answer to our offer
/// and, with our answer's choices, for their offer).
fn negotiate(remote: &SessionDescription) -> Result<Negotiated, SdpError> {
    let audio = remote.audio.as_ref().ok_or(SdpError::NoAudio)?;
    let (payload_type, codec) = audio
        .formats
        .iter()
        .find_map(|pt| audio.codec_of(*pt).map(|c| (*pt, c)))
        .ok_or(SdpError::NoCommonCodec)?;
    let ip = audio.connection.or(remote.connection).ok_or(SdpError::NoConnection)?;
    let held_by_addr = ip.is_unspecified();
    let remote_rtp = (!held_by_addr).then(|| SocketAddr::new(ip, audio.port));
    let mut direction = audio.direction.reversed();
    if held_by_addr && direction == Direction::SendRecv {
        direction = Direction::RecvOnly; // RFC 2543 hold: the remote does not want our audio.
    }
    let remote_rtcp = audio
        .rtcp
        .filter(|_| !held_by_addr)
        .map(|(port, addr)| SocketAddr::new(addr.unwrap_or(ip), port));
    Ok(Negotiated {
        codec,
        payload_type,
        remote_rtp,
        dtmf_payload_type: audio.telephone_event(),
        direction,
        ptime: audio.ptime.unwrap_or(20),
        remote_rtcp,
        rtcp_mux: audio.rtcp_mux,
    })
}

fn header(local: &LocalMedia, version: u64) -> String {
    let ip = local.ip();
    let fam = if ip.is_ipv4() { "IP4" } else { "IP6" };
    format!("v=0\r\no=parley 1 {version} IN {fam} {ip}\r\ns=parley\r\nc=IN {fam} {ip}\r\nt=0 0\r\n")
}

/// Our offer: PCMU 0, PCMA 8, telephone-event 101 (0-16), 20 ms. `version` must grow with
/// every new description in a dialog (RFC 3264 §8).
///
/// Decision: a call has one UDP socket, for RTP and RTCP. The offer says so twice: `a=rtcp-mux`
/// (RFC 5761), and `a=rtcp:` naming the RTP port (RFC 3605) for a far end that does not mux,
/// so its receiver reports reach the socket that listens instead of port + 1, where nothing
/// does.
pub fn offer(local: &LocalMedia, version: u64, direction: Direction) -> String {
    let mut s = header(local, version);
    let port = local.rtp.port();
    let _ = write!(
        s,
        "m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=rtcp:{port}\r\n\
         a=rtcp-mux\r\na={}\r\n",
        direction.attr()
    );
    s
}

/// Reads the remote's answer to our [`offer`].
pub fn read_answer(body: &[u8]) -> Result<Negotiated, SdpError> {
    negotiate(&parse(body)?)
}

/// Answers a remote offer: their first PCMU/PCMA, their telephone-event payload type when
/// offered, and the direction that mirrors theirs (hold -> recvonly/inactive).
pub fn answer(local: &LocalMedia, offer: &SessionDescription, version: u64) -> Result<(String, Negotiated), SdpError> {
    let neg = negotiate(offer)?;
    let mut s = header(local, version);
    let mut fmts = neg.payload_type.to_string();
    if let Some(te) = neg.dtmf_payload_type {
        let _ = write!(fmts, " {te}");
    }
    let _ = write!(
        s,
        "m=audio {} RTP/AVP {fmts}\r\na=rtpmap:{} {}/8000\r\n",
        local.rtp.port(),
        neg.payload_type,
        neg.codec.name()
    );
    if let Some(te) = neg.dtmf_payload_type {
        let audio = offer.audio.as_ref().ok_or(SdpError::NoAudio)?;
        let events = audio
            .fmtps
            .iter()
            .find(|(pt, _)| *pt == te)
            .map_or("0-16", |(_, f)| f.as_str());
        let _ = write!(s, "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} {events}\r\n");
    }
    // One socket for RTP and RTCP (see [`offer`]): mux when offered, else name the RTP port.
    if neg.rtcp_mux {
        s.push_str("a=rtcp-mux\r\n");
    } else {
        let _ = write!(s, "a=rtcp:{}\r\n", local.rtp.port());
    }
    let _ = write!(s, "a=ptime:{}\r\na={}\r\n", neg.ptime, neg.direction.attr());
    Ok((s, neg))
}

/// The `c=` address a description is on hold with (handy for tests and logs).
pub fn is_hold_address(ip: IpAddr) -> bool {
    ip == IpAddr::V4(Ipv4Addr::UNSPECIFIED)
}
