//! The sandbox phone network: numbers ring virtual subscribers inside the process.
//!
//! The network owns call setup (ring cadence, busy, no-answer, reject) so that every subscriber
//! gets it right and the timing is the same as on a real line; once answered, the two ends are
//! joined by [`crate::line::pair`] and exchange audio only.

use crate::line::{self, Endpoint, LineEvent, Signal};
use crate::network::{BoxFuture, DialRequest, NetworkError, NetworkKind, PhoneNetwork};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

/// How a subscriber's phone reacts to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pickup {
    /// Answers after this many rings.
    AfterRings(u32),
    /// Never answers.
    Never,
    /// Busy.
    Busy,
    /// Declines.
    Reject,
}

/// Whoever answers a sandbox number (the voice layer's personas).
pub trait Subscriber: Send + 'static {
    /// How the phone reacts to the call.
    fn pickup(&self) -> Pickup;
    /// Runs the answered call on the subscriber's end until it ends.
    fn run(self: Box<Self>, line: Endpoint) -> BoxFuture<'static, ()>;
}

/// Finds the subscriber of a number, for one team (teams bind their own sandbox numbers).
pub trait Directory: Send + Sync + 'static {
    fn lookup<'a>(&'a self, team_id: &'a str, number: &'a str) -> BoxFuture<'a, Option<Box<dyn Subscriber>>>;
}

/// Timing of the sandbox network.
#[derive(Debug, Clone, Copy)]
pub struct SandboxConfig {
    /// One ring cycle (North American cadence is 6 s: 2 s on, 4 s off).
    pub ring_period: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            ring_period: Duration::from_secs(6),
        }
    }
}

/// The built-in network.
pub struct SandboxNetwork {
    directory: Arc<dyn Directory>,
    config: SandboxConfig,
}

impl SandboxNetwork {
    pub fn new(directory: Arc<dyn Directory>, config: SandboxConfig) -> Self {
        SandboxNetwork { directory, config }
    }

    /// A subscriber calls in (the support-line pattern): returns Parley's end of the call,
    /// already answered, and runs the subscriber on the other end.
    pub fn call_in(&self, caller: Box<dyn Subscriber>) -> Endpoint {
        let (ours, theirs) = line::pair();
        tokio::spawn(caller.run(theirs));
        ours
    }
}

impl PhoneNetwork for SandboxNetwork {
    fn kind(&self) -> NetworkKind {
        NetworkKind::Sandbox
    }

    fn dial(&self, req: DialRequest) -> BoxFuture<'_, Result<Endpoint, NetworkError>> {
        Box::pin(async move {
            let sub = self
                .directory
                .lookup(&req.team_id, &req.to)
                .await
                .ok_or_else(|| NetworkError::Unreachable(format!("no sandbox subscriber at {}", req.to)))?;
            let (ev_tx, ev_rx) = line::channel();
            let (sender, signals) = line::signals();
            tokio::spawn(set_up(sub, req, self.config, ev_tx, signals));
            Ok(Endpoint { events: ev_rx, sender })
        })
    }
}

/// Rings the subscriber and, if it answers, joins the two ends.
async fn set_up(
    sub: Box<dyn Subscriber>,
    req: DialRequest,
    cfg: SandboxConfig,
    events: mpsc::Sender<LineEvent>,
    mut signals: mpsc::Receiver<Signal>,
) {
    let rings = match sub.pickup() {
        Pickup::Busy => {
            let _ = events.send(LineEvent::Busy(None)).await;
            return;
        }
        Pickup::Reject => {
            let _ = events.send(LineEvent::Ringing).await;
            let _ = events.send(LineEvent::Rejected(None)).await;
            return;
        }
        Pickup::Never => u32::MAX,
        Pickup::AfterRings(n) => n.max(1),
    };
    let start = Instant::now();
    let give_up = start + req.ring_timeout;
    for ring in 0..rings {
        if Instant::now() >= give_up {
            break;
        }
        if events.send(LineEvent::Ringing).await.is_err() {
            return;
        }
        // The next ring (or the answer) or the ring timeout, whichever comes first; the caller
        // may hang up (cancel) meanwhile.
        let until = (start + cfg.ring_period * (ring + 1)).min(give_up);
        loop {
            tokio::select! {
                _ = sleep_until(until) => break,
                sig = signals.recv() => match sig {
                    None | Some(Signal::HangUp) | Some(Signal::Transfer(_)) => return,
                    Some(_) => {} // audio (and clear, mark) before the answer goes nowhere
                }
            }
        }
    }
    if Instant::now() >= give_up {
        let _ = events.send(LineEvent::NoAnswer(None)).await;
        return;
    }
    let _ = events.send(LineEvent::Answered).await;
    // Join: our signals go to the subscriber, the subscriber's to our events.
    let (sub_ev_tx, sub_ev_rx) = line::channel();
    let (sub_send, sub_sig) = line::signals();
    tokio::spawn(line::carry(signals, events.clone(), sub_ev_tx.clone()));
    tokio::spawn(line::carry(sub_sig, sub_ev_tx, events));
    sub.run(Endpoint {
        events: sub_ev_rx,
        sender: sub_send,
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Echo(Pickup);
    impl Subscriber for Echo {
        fn pickup(&self) -> Pickup {
            self.0
        }
        fn run(self: Box<Self>, mut line: Endpoint) -> BoxFuture<'static, ()> {
            Box::pin(async move {
                while let Some(ev) = line.events.recv().await {
                    match ev {
                        LineEvent::Audio(f) => line.sender.audio(f).await,
                        LineEvent::Dtmf('#') => return line.sender.hang_up().await,
                        LineEvent::HungUp => return,
                        _ => {}
                    }
                }
            })
        }
    }

    struct Dir(HashMap<&'static str, Pickup>);
    impl Directory for Dir {
        fn lookup<'a>(&'a self, _team: &'a str, n: &'a str) -> BoxFuture<'a, Option<Box<dyn Subscriber>>> {
            let p = self.0.get(n).copied();
            Box::pin(async move { p.map(|p| Box::new(Echo(p)) as Box<dyn Subscriber>) })
        }
    }

    fn net() -> SandboxNetwork {
        let dir = Dir(HashMap::from([
            ("+1", Pickup::AfterRings(2)),
            ("+2", Pickup::Never),
            ("+3", Pickup::Busy),
            ("+4", Pickup::Reject),
        ]));
        SandboxNetwork::new(
            Arc::new(dir),
            SandboxConfig {
                ring_period: Duration::from_secs(6),
            },
        )
    }

    fn req(to: &str) -> DialRequest {
        DialRequest {
            call_id: uuid::Uuid::new_v4(),
            team_id: "t".into(),
            from: "+10".into(),
            to: to.into(),
            ring_timeout: Duration::from_secs(30),
            route: crate::network::Route::Sandbox,
        }
    }

    async fn progress(ep: &mut Endpoint) -> Vec<LineEvent> {
        let mut out = vec![];
        while let Some(ev) = ep.events.recv().await {
            let last = !matches!(ev, LineEvent::Ringing);
            out.push(ev);
            if last {
                break;
            }
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn answers_on_the_second_ring_then_carries_audio_and_dtmf() {
        let n = net();
        let t0 = Instant::now();
        let mut ep = n.dial(req("+1")).await.unwrap();
        let p = progress(&mut ep).await;
        assert_eq!(p, [LineEvent::Ringing, LineEvent::Ringing, LineEvent::Answered]);
        assert_eq!(t0.elapsed(), Duration::from_secs(12));
        ep.sender.audio([7; 160]).await;
        assert_eq!(ep.events.recv().await, Some(LineEvent::Audio([7; 160])));
        ep.sender.dtmf('#').await;
        assert_eq!(ep.events.recv().await, Some(LineEvent::HungUp));
    }

    #[tokio::test(start_paused = true)]
    async fn busy_reject_no_answer_and_unknown_numbers() {
        let n = net();
        let mut ep = n.dial(req("+3")).await.unwrap();
        assert_eq!(progress(&mut ep).await, [LineEvent::Busy(None)]);
        let mut ep = n.dial(req("+4")).await.unwrap();
        assert_eq!(progress(&mut ep).await, [LineEvent::Ringing, LineEvent::Rejected(None)]);
        let t0 = Instant::now();
        let mut ep = n.dial(req("+2")).await.unwrap();
        let p = progress(&mut ep).await;
        assert_eq!(p.last(), Some(&LineEvent::NoAnswer(None)));
        assert_eq!(p.len(), 6, "{p:?}"); // rings at 0, 6, 12, 18, 24 s; gives up at 30 s
        assert_eq!(t0.elapsed(), Duration::from_secs(30));
        assert!(matches!(n.dial(req("+9")).await, Err(NetworkError::Unreachable(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_can_cancel_while_it_rings() {
        let n = net();
        let mut ep = n.dial(req("+2")).await.unwrap();
        assert_eq!(ep.events.recv().await, Some(LineEvent::Ringing));
        ep.sender.hang_up().await;
        assert_eq!(ep.events.recv().await, None);
    }
}
