//! Phone networks behind one interface, producing and consuming 8 kHz mu-law audio in 20 ms frames.
//!
//! - [`audio`]: the frame format (160 mu-law bytes = 20 ms at 8 kHz) and G.711 conversion (the
//!   `audio-codec` crate's PCMU codec).
//! - [`line`]: one party's end of a call: the events it receives (ringing, answer, audio, DTMF,
//!   hang-up, …) and the sender it uses (audio, DTMF, hang-up, transfer, clear).
//! - [`network`]: the [`network::PhoneNetwork`] trait every network implements (dial out,
//!   deliver incoming calls to a [`network::Switchboard`], serve its own HTTP routes) and what
//!   crosses it ([`network::DialRequest`] with its carrier [`network::Route`],
//!   [`network::IncomingCall`], [`network::Refusal`]).
//! - [`registry`]: [`registry::Networks`], the server's networks behind one handle; the call
//!   runner dials through it and never names a concrete network.
//! - [`rtp`]: sans-I/O RTP media for SIP trunks: packets, RTCP, G.711, the jitter buffer,
//!   RFC 4733 DTMF and the per-call media session a socket shell drives.
//! - [`sandbox`]: Parley's built-in phone network. Numbers ring [`sandbox::Subscriber`]s (the
//!   voice layer's personas) with a real ring cadence, busy, no-answer and reject, and wires
//!   both ends with audio only: the agent and the persona hear each other as sound, never text.
//! - [`trunk`]: the SIP trunk network: the socket shell (a signalling task, a media task per
//!   call) around [`sip`] and [`rtp`], implementing [`network::PhoneNetwork`].
//! - [`sip`]: SIP trunking, sans-I/O (parser, SDP, digest, outbound/inbound call state machines,
//!   a per-socket endpoint with the toll-fraud allow-list); the socket shell drives it.
//! - [`twilio`]: Twilio's protocols (REST calls, signed webhooks, TwiML, the media-stream
//!   WebSocket as a sans-I/O session) and, for tests, a fake Twilio on loopback.
//! - [`twilio::network::TwilioNetwork`]: the Twilio network: dials through the REST API, takes
//!   calls on its signed `/twilio/…` webhook routes, carries audio over the media-stream WebSocket.
//!
//! Decision: each party paces its own audio (one frame per 20 ms tick, silence included), as RTP
//! endpoints do; the line itself only carries frames. So the pipeline under test holds the same
//! real-time contract it will hold on a SIP trunk.

pub mod audio;
pub mod line;
pub mod network;
pub mod registry;
pub mod rtp;
pub mod sandbox;
pub mod sip;
pub mod trunk;
pub mod twilio;

pub use line::{Endpoint, LineEvent, LineSender};
pub use network::{
    DialRequest, IncomingCall, NetworkError, NetworkKind, PhoneNetwork, Refusal, Route, RunCall, Switchboard,
};
pub use registry::Networks;
