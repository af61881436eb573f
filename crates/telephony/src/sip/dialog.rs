//! A confirmed dialog's identity and route (RFC 3261 §12) and the in-dialog requests built
//! from it.
//!
//! Decision: every Route is treated as a loose router (`;lr`); strict routing (RFC 2543) is
//! not supported, since no current carrier uses it. Where a request goes: the first Route, or
//! the remote target when there is none, if that URI's host is an IP literal; otherwise the
//! peer we already talk to (the trunk, or the inbound INVITE's source), because this layer
//! does no DNS. Carriers put IP literals in Record-Route and Contact in practice.

use super::headers::{NameAddr, Uri};
use super::message::{Message, Method};
use super::transaction::{branch, Transport};
use std::net::SocketAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
    /// Our From/To name-addr without tag, e.g. `<sip:+15550001@trunk.example>`.
    pub local_uri: String,
    pub remote_uri: String,
    /// The remote's Contact URI: the Request-URI of our in-dialog requests.
    pub remote_target: String,
    /// Route header values in the order they are sent.
    pub route_set: Vec<String>,
    pub local_cseq: u32,
    pub remote_cseq: Option<u32>,
}

/// What every outgoing request of a call needs to know about our side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSide {
    pub transport: Transport,
    /// The address peers reach our SIP socket at (the public one behind NAT).
    pub contact_addr: SocketAddr,
    /// The user part of our Contact (our number).
    pub user: String,
    /// Where to send when a URI is not an IP literal.
    pub peer: SocketAddr,
}

impl LocalSide {
    pub fn via(&self, branch: &str) -> String {
        format!(
            "SIP/2.0/{} {};branch={branch};rport",
            self.transport.via_name(),
            self.contact_addr
        )
    }
    pub fn contact(&self) -> String {
        format!(
            "<sip:{}@{}{}>",
            self.user,
            self.contact_addr,
            self.transport.uri_param()
        )
    }
    /// Where a request with this Request-URI and route set goes.
    pub fn dest(&self, target: &str, route_set: &[String]) -> SocketAddr {
        let uri = match route_set.first() {
            Some(r) => NameAddr::parse(r).map(|n| n.uri),
            None => Uri::parse(target),
        };
        uri.and_then(|u| u.socket_addr()).unwrap_or(self.peer)
    }
}

/// Name-addr text without header parameters (so without the tag).
pub fn strip_params(value: &str) -> String {
    match NameAddr::parse(value) {
        Some(n) => format!("<{}>", n.uri_text),
        None => value.to_string(),
    }
}

impl Dialog {
    /// Builds an in-dialog request (new CSeq unless ACK, new branch). Returns it with its branch.
    pub fn request(&mut self, local: &LocalSide, method: Method, ack_cseq: Option<u32>) -> (Message, String) {
        let br = branch();
        let mut m = Message::request(method.clone(), self.remote_target.clone());
        m.headers.push("Via", local.via(&br));
        m.headers.push("Max-Forwards", "70");
        m.headers
            .push("From", format!("{};tag={}", self.local_uri, self.local_tag));
        m.headers
            .push("To", format!("{};tag={}", self.remote_uri, self.remote_tag));
        m.headers.push("Call-ID", self.call_id.clone());
        let seq = match ack_cseq {
            Some(n) => n,
            None => {
                self.local_cseq += 1;
                self.local_cseq
            }
        };
        m.headers.push("CSeq", format!("{seq} {}", method.as_str()));
        for r in &self.route_set {
            m.headers.push("Route", r.clone());
        }
        if matches!(method, Method::Invite | Method::Refer | Method::Update) {
            m.headers.push("Contact", local.contact());
        }
        (m, br)
    }

    pub fn dest(&self, local: &LocalSide) -> SocketAddr {
        local.dest(&self.remote_target, &self.route_set)
    }

    /// True when a request's tags belong to this dialog (theirs in From, ours in To).
    pub fn matches(&self, req: &Message) -> bool {
        let from_tag = req.from().and_then(|f| f.tag().map(str::to_string));
        let to_tag = req.to().and_then(|t| t.tag().map(str::to_string));
        from_tag.as_deref() == Some(self.remote_tag.as_str()) && to_tag.as_deref() == Some(self.local_tag.as_str())
    }
}
