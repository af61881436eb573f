//! One party's end of a call, and the wire that joins two ends.
//!
//! An [`Endpoint`] is what a network hands to whoever holds the call (the voice pipeline, or a
//! sandbox persona): a stream of [`LineEvent`]s and a [`LineSender`]. Audio is never buffered
//! by the line beyond a small channel: each side paces its own frames, like an RTP endpoint.

use crate::audio::MulawFrame;
use tokio::sync::mpsc;

/// What an endpoint observes.
#[derive(Debug, Clone, PartialEq)]
pub enum LineEvent {
    /// The far end is ringing (one event per ring).
    Ringing,
    /// The far end picked up.
    Answered,
    /// The far end is busy (with the carrier's cause, e.g. `sip 486 Busy Here`).
    Busy(Option<String>),
    /// Nobody answered before the ring timeout (or the carrier gave up ringing: its cause).
    NoAnswer(Option<String>),
    /// The far end declined the call (the carrier's cause).
    Rejected(Option<String>),
    /// The network could not complete or keep the call: the carrier's cause, as a person
    /// reads it (`sip 503 Service Unavailable`, `twilio: failed`, `no RTP for 30 s`).
    Failed(String),
    /// 20 ms of audio from the far end.
    Audio(MulawFrame),
    /// The far end pressed a key.
    Dtmf(char),
    /// The far end hung up.
    HungUp,
    /// The network accepted our transfer request; our leg is over.
    Transferred(String),
    /// Everything sent before [`LineSender::mark`] with this name has been played at the far
    /// end (or was dropped by a [`LineSender::clear`]).
    Marked(String),
}

/// What an endpoint sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    Audio(MulawFrame),
    Dtmf(char),
    HangUp,
    Transfer(String),
    Clear,
    Mark(String),
}

/// The sending half of an endpoint. Cloneable; sending after the call ended is a no-op.
#[derive(Debug, Clone)]
pub struct LineSender {
    pub(crate) tx: mpsc::Sender<Signal>,
}

impl LineSender {
    /// Sends one frame. Waits if the line is congested (it never is on loopback).
    pub async fn audio(&self, frame: MulawFrame) {
        let _ = self.tx.send(Signal::Audio(frame)).await;
    }
    /// Presses a key (RFC 4733 telephone-event on SIP; an event on the sandbox).
    pub async fn dtmf(&self, digit: char) {
        let _ = self.tx.send(Signal::Dtmf(digit)).await;
    }
    /// Hangs up.
    pub async fn hang_up(&self) {
        let _ = self.tx.send(Signal::HangUp).await;
    }
    /// Asks the network to transfer the far end to `number` (a blind transfer, SIP REFER).
    pub async fn transfer(&self, number: &str) {
        let _ = self.tx.send(Signal::Transfer(number.to_string())).await;
    }
    /// Drops audio already sent but not yet played at the far end (barge-in). Networks that
    /// play what arrives at once (RTP, the sandbox) have nothing queued and ignore it; a
    /// media stream sends its `clear`.
    pub async fn clear(&self) {
        let _ = self.tx.send(Signal::Clear).await;
    }
    /// Marks this point of the outgoing audio: [`LineEvent::Marked`] comes back once
    /// everything before it has played (or was cleared).
    pub async fn mark(&self, name: &str) {
        let _ = self.tx.send(Signal::Mark(name.to_string())).await;
    }
}

/// One party's end of a call.
#[derive(Debug)]
pub struct Endpoint {
    pub events: mpsc::Receiver<LineEvent>,
    pub sender: LineSender,
}

/// Channel depth: one second of audio, so a briefly busy receiver never drops frames.
pub(crate) const DEPTH: usize = 64;

pub(crate) fn channel() -> (mpsc::Sender<LineEvent>, mpsc::Receiver<LineEvent>) {
    mpsc::channel(DEPTH)
}

pub(crate) fn signals() -> (LineSender, mpsc::Receiver<Signal>) {
    let (tx, rx) = mpsc::channel(DEPTH);
    (LineSender { tx }, rx)
}

/// Carries one direction of an answered call: what `from` sends becomes `to`'s events.
/// A hang-up reaches the other side as [`LineEvent::HungUp`]; a transfer is acknowledged to
/// the sender and ends the other side's leg (the sandbox has no third party to bridge to).
pub(crate) async fn carry(
    mut from: mpsc::Receiver<Signal>,
    from_events: mpsc::Sender<LineEvent>,
    to_events: mpsc::Sender<LineEvent>,
) {
    while let Some(sig) = from.recv().await {
        match sig {
            Signal::Audio(f) => {
                if to_events.send(LineEvent::Audio(f)).await.is_err() {
                    break;
                }
            }
            Signal::Dtmf(d) => {
                let _ = to_events.send(LineEvent::Dtmf(d)).await;
            }
            Signal::HangUp => {
                let _ = to_events.send(LineEvent::HungUp).await;
                return;
            }
            Signal::Transfer(n) => {
                let _ = from_events.send(LineEvent::Transferred(n)).await;
                let _ = to_events.send(LineEvent::HungUp).await;
                return;
            }
            // Frames are handed over as they are sent, so nothing waits to be cleared, and
            // everything before a mark has reached the far end when the mark gets here.
            Signal::Clear => {}
            Signal::Mark(name) => {
                let _ = from_events.send(LineEvent::Marked(name)).await;
            }
        }
    }
    // The sender dropped its end without hanging up (a crash): the other side hears a hang-up.
    let _ = to_events.send(LineEvent::HungUp).await;
}

/// The network's side of an endpoint, for a network that lives outside this crate (the
/// dashboard's browser calls): the endpoint's signals as they are sent (audio, clear, hang-up:
/// nothing is interpreted here) and the events to deliver to it.
#[derive(Debug)]
pub struct FarEnd {
    pub signals: mpsc::Receiver<Signal>,
    pub events: mpsc::Sender<LineEvent>,
}

/// An endpoint and its far end, connected.
pub fn far_end() -> (Endpoint, FarEnd) {
    let (ev_tx, ev_rx) = channel();
    let (sender, signals) = signals();
    (Endpoint { events: ev_rx, sender }, FarEnd { signals, events: ev_tx })
}

/// Joins two parties: returns their endpoints, already connected both ways.
pub fn pair() -> (Endpoint, Endpoint) {
    let (a_ev_tx, a_ev_rx) = channel();
    let (b_ev_tx, b_ev_rx) = channel();
    let (a_send, a_sig) = signals();
    let (b_send, b_sig) = signals();
    tokio::spawn(carry(a_sig, a_ev_tx.clone(), b_ev_tx.clone()));
    tokio::spawn(carry(b_sig, b_ev_tx, a_ev_tx));
    (
        Endpoint {
            events: a_ev_rx,
            sender: a_send,
        },
        Endpoint {
            events: b_ev_rx,
            sender: b_send,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn audio_dtmf_and_hang_up_cross_the_wire() {
        let (mut a, mut b) = pair();
        a.sender.audio([1; 160]).await;
        a.sender.dtmf('5').await;
        assert_eq!(b.events.recv().await, Some(LineEvent::Audio([1; 160])));
        assert_eq!(b.events.recv().await, Some(LineEvent::Dtmf('5')));
        b.sender.hang_up().await;
        assert_eq!(a.events.recv().await, Some(LineEvent::HungUp));
    }

    #[tokio::test]
    async fn a_mark_comes_back_after_the_audio_before_it_and_clear_drops_nothing_sent() {
        let (mut a, mut b) = pair();
        a.sender.audio([1; 160]).await;
        a.sender.clear().await;
        a.sender.mark("m1").await;
        assert_eq!(b.events.recv().await, Some(LineEvent::Audio([1; 160])));
        assert_eq!(a.events.recv().await, Some(LineEvent::Marked("m1".into())));
    }

    #[tokio::test]
    async fn a_transfer_is_acknowledged_and_ends_the_far_leg() {
        let (mut a, mut b) = pair();
        a.sender.transfer("+12125550100").await;
        assert_eq!(
            a.events.recv().await,
            Some(LineEvent::Transferred("+12125550100".into()))
        );
        assert_eq!(b.events.recv().await, Some(LineEvent::HungUp));
    }
}
