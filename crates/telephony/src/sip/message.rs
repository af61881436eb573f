//! SIP messages (RFC 3261 §7, §25): parse bytes into a [`Message`], serialize one back.
//!
//! Decision: our own parser rather than `rsip`. rsip 0.4.0 declares no license on crates.io
//! (checked with `cargo info rsip`), and this layer faces the internet: we want hard bounds
//! (64 KiB per message, 100 header lines) and an error, never a panic, on every input. A small
//! parser over `&str` split only at ASCII delimiters is fully fuzzable and keeps those promises.
//! Headers stay as (name, raw value) pairs in arrival order, compact names expanded; typed
//! views (Via, From/To, CSeq, URIs) live in [`super::headers`] and are parsed on demand.

use super::headers::{self, CSeq, NameAddr, Via};
use std::fmt::Write as _;

/// Largest message accepted (datagram or stream), header section and body together.
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024;
/// Most header lines accepted; a scanner sending more gets an error, not an allocation spree.
pub const MAX_HEADERS: usize = 100;

/// A request method. `Other` keeps an extension method's name so a 501 can echo it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    Info,
    Refer,
    Notify,
    Update,
    Prack,
    Subscribe,
    Message,
    Publish,
    Other(String),
}

impl Method {
    /// Parses a method token (case-sensitive, as RFC 3261 §7.1 says).
    pub fn parse(s: &str) -> Option<Method> {
        if s.is_empty() || !s.bytes().all(is_token_byte) {
            return None;
        }
        Some(match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "INFO" => Method::Info,
            "REFER" => Method::Refer,
            "NOTIFY" => Method::Notify,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            other => Method::Other(other.to_string()),
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Info => "INFO",
            Method::Refer => "REFER",
            Method::Notify => "NOTIFY",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s,
        }
    }
}

/// RFC 3261 token characters (method names, header names).
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// The first line: a request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request { method: Method, uri: String },
    Response { status: u16, reason: String },
}

/// Header lines in arrival order. Names compare case-insensitively; compact forms are expanded
/// at parse time so `v:` and `Via:` are one header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// First value of `name`, raw (a list header may hold several comma-separated values).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).next()
    }
    /// Every line of `name`, raw.
    pub fn get_all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Every element of a comma-separated list header (Via, Route, Record-Route, Contact…),
    /// across all its lines, commas inside quotes or `<…>` kept.
    pub fn list(&self, name: &str) -> Vec<&str> {
        self.get_all(name).flat_map(headers::split_list).collect()
    }
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_string(), value.into()));
    }
    /// Replaces every line of `name` with one.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.remove(name);
        self.push(name, value);
    }
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A SIP request or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub start: StartLine,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// Why bytes are not a SIP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("message larger than 64 KiB")]
    TooLarge,
    #[error("only CRLFs (a keep-alive)")]
    KeepAlive,
    #[error("no end of header section")]
    Incomplete,
    #[error("header section is not UTF-8")]
    NotUtf8,
    #[error("bad start line")]
    BadStartLine,
    #[error("bad header line")]
    BadHeader,
    #[error("too many header lines")]
    TooManyHeaders,
    #[error("bad Content-Length")]
    BadContentLength,
    #[error("body shorter than Content-Length")]
    Truncated,
}

/// Compact header names (RFC 3261 §7.3.3 and extensions) to their full names.
fn expand_compact(name: &str) -> &str {
    if name.len() != 1 {
        return name;
    }
    match name.as_bytes()[0].to_ascii_lowercase() {
        b'v' => "Via",
        b'f' => "From",
        b't' => "To",
        b'i' => "Call-ID",
        b'm' => "Contact",
        b'l' => "Content-Length",
        b'c' => "Content-Type",
        b'k' => "Supported",
        b'e' => "Content-Encoding",
        b's' => "Subject",
        b'o' => "Event",
        b'r' => "Refer-To",
        b'b' => "Referred-By",
        b'u' => "Allow-Events",
        b'x' => "Session-Expires",
        _ => name,
    }
}

/// Index just past the blank line ending the header section, and the section's length.
fn header_end(data: &[u8]) -> Option<(usize, usize)> {
    data.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, i + 4))
}

/// Parses one complete message. For a datagram, a missing Content-Length means "the rest".
pub fn parse(data: &[u8]) -> Result<Message, ParseError> {
    if data.len() > MAX_MESSAGE_SIZE {
        return Err(ParseError::TooLarge);
    }
    let start = data
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .ok_or(ParseError::KeepAlive)?;
    let data = &data[start..];
    let (head_len, body_start) = header_end(data).ok_or(ParseError::Incomplete)?;
    let head = std::str::from_utf8(&data[..head_len]).map_err(|_| ParseError::NotUtf8)?;
    let mut lines = head.split("\r\n");
    let first = lines.next().ok_or(ParseError::BadStartLine)?;
    let start = parse_start_line(first)?;

    // Unfold continuation lines (leading SP/HT) into the previous header.
    let mut raw: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let last = raw.last_mut().ok_or(ParseError::BadHeader)?;
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        if raw.len() >= MAX_HEADERS {
            return Err(ParseError::TooManyHeaders);
        }
        let colon = line.find(':').ok_or(ParseError::BadHeader)?;
        let name = line[..colon].trim_end();
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(ParseError::BadHeader);
        }
        let value = line[colon + 1..].trim();
        raw.push((expand_compact(name).to_string(), value.to_string()));
    }
    // Serializing always writes a Content-Length: a message must leave room for it, or what we
    // send would be one header over what we accept (found by `scripts/fuzz-protocols`).
    if raw.len() >= MAX_HEADERS && !raw.iter().any(|(n, _)| n.eq_ignore_ascii_case("Content-Length")) {
        return Err(ParseError::TooManyHeaders);
    }
    let headers = Headers(raw);
    let rest = &data[body_start..];
    let body = match headers.get("Content-Length") {
        Some(v) => {
            let len: usize = v.trim().parse().map_err(|_| ParseError::BadContentLength)?;
            if len > rest.len() {
                return Err(ParseError::Truncated);
            }
            rest[..len].to_vec()
        }
        None => rest.to_vec(),
    };
    Ok(Message { start, headers, body })
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::BadStartLine);
        }
        let status: u16 = code.parse().map_err(|_| ParseError::BadStartLine)?;
        if !(100..700).contains(&status) {
            return Err(ParseError::BadStartLine);
        }
        return Ok(StartLine::Response {
            status,
            reason: reason.to_string(),
        });
    }
    let mut parts = line.split(' ');
    let (Some(m), Some(uri), Some(ver), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(ParseError::BadStartLine);
    };
    if ver != "SIP/2.0" || uri.is_empty() || !uri.contains(':') {
        return Err(ParseError::BadStartLine);
    }
    let method = Method::parse(m).ok_or(ParseError::BadStartLine)?;
    Ok(StartLine::Request {
        method,
        uri: uri.to_string(),
    })
}

impl Message {
    pub fn request(method: Method, uri: impl Into<String>) -> Message {
        Message {
            start: StartLine::Request {
                method,
                uri: uri.into(),
            },
            headers: Headers::default(),
            body: Vec::new(),
        }
    }

    pub fn response(status: u16) -> Message {
        Message {
            start: StartLine::Response {
                status,
                reason: reason_phrase(status).to_string(),
            },
            headers: Headers::default(),
            body: Vec::new(),
        }
    }

    /// The response skeleton to a request (RFC 3261 §8.2.6): Vias, From, To, Call-ID and CSeq
    /// copied; `to_tag` added to To when the request's To has none.
    pub fn response_to(req: &Message, status: u16, to_tag: Option<&str>) -> Message {
        let mut r = Message::response(status);
        for v in req.headers.get_all("Via") {
            r.headers.push("Via", v);
        }
        if let Some(f) = req.headers.get("From") {
            r.headers.push("From", f);
        }
        if let Some(t) = req.headers.get("To") {
            let has_tag = req.to().is_some_and(|t| t.tag().is_some());
            match to_tag {
                Some(tag) if !has_tag && status != 100 => r.headers.push("To", format!("{t};tag={tag}")),
                _ => r.headers.push("To", t),
            }
        }
        for h in ["Call-ID", "CSeq"] {
            if let Some(v) = req.headers.get(h) {
                r.headers.push(h, v);
            }
        }
        r
    }

    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { status, .. } => Some(*status),
            StartLine::Request { .. } => None,
        }
    }
    pub fn reason(&self) -> &str {
        match &self.start {
            StartLine::Response { reason, .. } => reason,
            StartLine::Request { .. } => "",
        }
    }
    pub fn request_uri(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }
    pub fn call_id(&self) -> Option<&str> {
        self.headers.get("Call-ID").filter(|c| !c.is_empty())
    }
    pub fn cseq(&self) -> Option<CSeq> {
        self.headers.get("CSeq").and_then(CSeq::parse)
    }
    pub fn from(&self) -> Option<NameAddr> {
        self.headers.get("From").and_then(NameAddr::parse)
    }
    pub fn to(&self) -> Option<NameAddr> {
        self.headers.get("To").and_then(NameAddr::parse)
    }
    pub fn top_via(&self) -> Option<Via> {
        self.headers.list("Via").first().and_then(|v| Via::parse(v))
    }
    pub fn content_type(&self) -> Option<String> {
        self.headers
            .get("Content-Type")
            .map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }

    /// Checks the headers every request must carry in a parseable form (RFC 3261 §8.1.1);
    /// the error names what is missing, for the 400's reason phrase.
    pub fn validate(&self) -> Result<(), &'static str> {
        self.top_via().ok_or("Bad Via")?;
        self.call_id().ok_or("Missing Call-ID")?;
        let cseq = self.cseq().ok_or("Bad CSeq")?;
        self.from().ok_or("Bad From")?;
        self.to().ok_or("Bad To")?;
        if let Some(m) = self.method() {
            if *m != cseq.method {
                return Err("CSeq method mismatch");
            }
        }
        Ok(())
    }

    /// Serializes; Content-Length always written from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::with_capacity(512);
        match &self.start {
            StartLine::Request { method, uri } => {
                let _ = write!(s, "{} {} SIP/2.0\r\n", method.as_str(), uri);
            }
            StartLine::Response { status, reason } => {
                let _ = write!(s, "SIP/2.0 {status} {reason}\r\n");
            }
        }
        for (n, v) in self.headers.iter() {
            if n.eq_ignore_ascii_case("Content-Length") {
                continue;
            }
            let _ = write!(s, "{n}: {v}\r\n");
        }
        let _ = write!(s, "Content-Length: {}\r\n\r\n", self.body.len());
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

/// The standard reason phrase of a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "Unknown",
    }
}

/// Pulls what a 400 needs (Via, From, To, Call-ID, CSeq lines) out of bytes that did not
/// parse. `None` (drop silently) unless the first line looks like a request and all five are
/// present: a response must never be answered, and a 400 nobody can match is noise.
pub fn salvage_bad_request(data: &[u8], reason: &str) -> Option<Message> {
    if data.len() > MAX_MESSAGE_SIZE {
        return None;
    }
    let text = String::from_utf8_lossy(&data[..header_end(data).map_or(data.len(), |h| h.0)]);
    let mut lines = text.split("\r\n");
    let first = lines.next()?;
    let method = Method::parse(first.split(' ').next()?)?;
    if method == Method::Ack || first.starts_with("SIP/") {
        return None;
    }
    let mut r = Message::response(400);
    if let StartLine::Response { reason: r0, .. } = &mut r.start {
        *r0 = format!("Bad Request ({reason})");
    }
    let mut found = [false; 5];
    for line in lines.take(MAX_HEADERS) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = expand_compact(name.trim());
        for (i, want) in ["Via", "From", "To", "Call-ID", "CSeq"].iter().enumerate() {
            if name.eq_ignore_ascii_case(want) {
                if i == 0 && Via::parse(headers::split_list(value.trim()).first()?).is_none() {
                    return None;
                }
                found[i] = true;
                r.headers.push(want, value.trim());
            }
        }
    }
    found.iter().all(|f| *f).then_some(r)
}
