//! What carries SIP messages for one signalling task: a UDP socket, or TCP connections.
//!
//! Both give the endpoint the same thing: whole messages with the peer's address in, whole
//! messages to an address out. On TCP a message is cut off the byte stream by
//! [`StreamFramer`]; a response goes back over the connection its request came on (the
//! endpoint answers to the source address, which names that connection); a request to an
//! address with no connection opens one.
//!
//! Decision: one reader task per connection feeding one channel, and one writer task per
//! connection draining its own queue, so a slow or stalled peer never blocks signalling (the
//! signalling task only ever pushes into unbounded queues). A connection that breaks the
//! framing (no Content-Length, over 64 KiB) or idles for [`IDLE`] is closed; its peer's later
//! messages open a new one, as RFC 3261 §18 expects of stream transports. A connection from an
//! address outside every trunk's `inbound_addresses` is closed at once: a stranger could
//! otherwise hold connections (and their memory) for the idle time, up to the cap, and crowd
//! out the carriers.

use crate::sip::framing::StreamFramer;
use crate::sip::InboundPolicy;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tracing::debug;

/// A connection with no traffic for this long is closed (calls send nothing for minutes only
/// when the carrier keeps no session timers; it reconnects for the next request).
const IDLE: Duration = Duration::from_secs(15 * 60);
/// Connections kept at most (inbound and outbound): a flood of connects cannot grow memory.
const MAX_CONNECTIONS: usize = 2048;
/// How long connecting to a peer may take before the message is dropped (the transaction's
/// own timer then fails the request, as a lost datagram would).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The transport of one signalling task.
pub(crate) enum Wire {
    Udp { socket: UdpSocket, buf: Vec<u8> },
    Tcp(TcpWire),
}

impl Wire {
    /// The address the wire listens on.
    pub fn local_addr(&self) -> SocketAddr {
        match self {
            Wire::Udp { socket, .. } => socket
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))),
            Wire::Tcp(t) => t.local,
        }
    }

    pub fn udp(socket: UdpSocket) -> Wire {
        Wire::Udp {
            socket,
            buf: vec![0u8; 65_536],
        }
    }

    /// The next whole message and who sent it. Errors of one datagram or connection are not
    /// the wire's: they are logged and the wait goes on.
    pub async fn recv(&mut self) -> (Vec<u8>, SocketAddr) {
        match self {
            Wire::Udp { socket, buf } => loop {
                match socket.recv_from(buf).await {
                    Ok((n, from)) => return (buf[..n].to_vec(), from),
                    Err(e) => debug!(error = %e, "SIP receive error"),
                }
            },
            Wire::Tcp(t) => t.recv().await,
        }
    }

    pub async fn send(&self, dest: SocketAddr, payload: &[u8]) {
        match self {
            Wire::Udp { socket, .. } => {
                if let Err(e) = socket.send_to(payload, dest).await {
                    debug!(error = %e, %dest, "SIP send error");
                }
            }
            Wire::Tcp(t) => t.send(dest, payload),
        }
    }
}

type Connections = Arc<Mutex<HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>>>;

/// SIP over TCP: a listener, and a connection per peer address.
pub(crate) struct TcpWire {
    local: SocketAddr,
    incoming: mpsc::UnboundedReceiver<(Vec<u8>, SocketAddr)>,
    incoming_tx: mpsc::UnboundedSender<(Vec<u8>, SocketAddr)>,
    connections: Connections,
}

impl TcpWire {
    /// Accepts connections on `listener` (bound to `local`) from now on, from sources `admit`
    /// allows.
    pub fn start(listener: TcpListener, local: SocketAddr, admit: impl InboundPolicy + Send + 'static) -> TcpWire {
        let (incoming_tx, incoming) = mpsc::unbounded_channel();
        let connections: Connections = Arc::default();
        let (tx, conns) = (incoming_tx.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) if !admit.allows(peer.ip()) => {
                        debug!(%peer, "SIP TCP connection from outside the allow-list: closed");
                        drop(stream);
                    }
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        adopt(stream, peer, &conns, &tx);
                    }
                    Err(e) => {
                        debug!(error = %e, "SIP TCP accept error");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        TcpWire {
            local,
            incoming,
            incoming_tx,
            connections,
        }
    }

    async fn recv(&mut self) -> (Vec<u8>, SocketAddr) {
        match self.incoming.recv().await {
            Some(m) => m,
            // The sender half lives in `self`: the channel never closes.
            None => std::future::pending().await,
        }
    }

    fn send(&self, dest: SocketAddr, payload: &[u8]) {
        let existing = lock(&self.connections).get(&dest).cloned();
        if let Some(tx) = existing {
            if tx.send(payload.to_vec()).is_ok() {
                return;
            }
        }
        // No connection to `dest` yet (or it just closed): open one, then send.
        let (conns, tx, payload) = (self.connections.clone(), self.incoming_tx.clone(), payload.to_vec());
        tokio::spawn(async move {
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(dest)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    if let Some(out) = adopt(stream, dest, &conns, &tx) {
                        let _ = out.send(payload);
                    }
                }
                Ok(Err(e)) => debug!(error = %e, %dest, "SIP TCP connect failed"),
                Err(_) => debug!(%dest, "SIP TCP connect timed out"),
            }
        });
    }
}

fn lock(c: &Connections) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the reader and writer of a new connection to `peer` and registers its queue;
/// returns the queue, or `None` when the connection limit is reached (the stream is dropped).
fn adopt(
    stream: TcpStream,
    peer: SocketAddr,
    conns: &Connections,
    incoming: &mpsc::UnboundedSender<(Vec<u8>, SocketAddr)>,
) -> Option<mpsc::UnboundedSender<Vec<u8>>> {
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    {
        let mut map = lock(conns);
        if map.len() >= MAX_CONNECTIONS && !map.contains_key(&peer) {
            debug!(%peer, "SIP TCP connection limit reached");
            return None;
        }
        map.insert(peer, out_tx.clone());
    }
    let (mut reader, mut writer) = stream.into_split();
    let (conns, incoming) = (conns.clone(), incoming.clone());
    let mine = out_tx.clone();
    tokio::spawn(async move {
        let mut framer = StreamFramer::default();
        let mut buf = vec![0u8; 16 * 1024];
        let mut writer_done = false;
        loop {
            tokio::select! {
                r = tokio::time::timeout(IDLE, reader.read(&mut buf)) => match r {
                    Ok(Ok(n)) if n > 0 => {
                        framer.push(&buf[..n]);
                        loop {
                            match framer.next_message() {
                                Ok(Some(m)) => {
                                    let _ = incoming.send((m, peer));
                                }
                                Ok(None) => break,
                                Err(e) => {
                                    debug!(%peer, error = %e, "SIP TCP framing error: closing");
                                    writer_done = true;
                                    break;
                                }
                            }
                        }
                        if writer_done {
                            break;
                        }
                    }
                    _ => break, // closed, failed or idle
                },
                m = out_rx.recv(), if !writer_done => match m {
                    Some(bytes) => {
                        if writer.write_all(&bytes).await.is_err() {
                            break;
                        }
                    }
                    None => writer_done = true,
                },
            }
        }
        let _ = writer.shutdown().await;
        // Forget the connection unless a newer one to the same peer replaced it.
        let mut map = lock(&conns);
        if map.get(&peer).is_some_and(|tx| tx.same_channel(&mine)) {
            map.remove(&peer);
        }
    });
    Some(out_tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_are_framed_off_a_stream_and_answers_go_back_on_its_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut wire = TcpWire::start(listener, addr, crate::sip::CidrAllowList::parse(["127.0.0.1"]));
        let mut peer = TcpStream::connect(addr).await.unwrap();
        let msg = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 4\r\n\r\nbody";
        // Split across writes, with a keep-alive CRLF pair first, and two messages at once.
        peer.write_all(b"\r\n\r\n").await.unwrap();
        peer.write_all(&msg[..10]).await.unwrap();
        peer.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        peer.write_all(&[&msg[10..], &msg[..]].concat()).await.unwrap();
        let (a, from) = wire.recv().await;
        let (b, _) = wire.recv().await;
        assert_eq!((a.as_slice(), b.as_slice()), (&msg[..], &msg[..]));
        assert_eq!(from, peer.local_addr().unwrap());
        wire.send(from, b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        let mut got = vec![0u8; 64];
        let n = peer.read(&mut got).await.unwrap();
        assert!(got[..n].starts_with(b"SIP/2.0 200 OK"));
    }

    #[tokio::test]
    async fn a_send_to_an_unconnected_address_connects_and_a_broken_stream_is_closed() {
        let far = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let far_addr = far.local_addr().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap();
        let wire = TcpWire::start(listener, local, crate::sip::CidrAllowList::parse(["127.0.0.1"]));
        wire.send(far_addr, b"BYE sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n");
        let (mut s, _) = far.accept().await.unwrap();
        let mut got = vec![0u8; 64];
        let n = s.read(&mut got).await.unwrap();
        assert!(got[..n].starts_with(b"BYE"));
        // No Content-Length on a stream: the connection is closed, nothing is delivered.
        s.write_all(b"INFO sip:x SIP/2.0\r\n\r\n").await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 0, "closed by Parley");
    }

    #[tokio::test]
    async fn a_connection_from_outside_the_allow_list_is_closed_at_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut wire = TcpWire::start(listener, addr, crate::sip::CidrAllowList::parse(["192.0.2.0/24"]));
        let mut peer = TcpStream::connect(addr).await.unwrap();
        let _ = peer
            .write_all(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n")
            .await;
        let mut got = vec![0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(2), peer.read(&mut got))
            .await
            .unwrap()
            .unwrap_or(0);
        assert_eq!(n, 0, "closed");
        let nothing = tokio::time::timeout(Duration::from_millis(200), wire.recv()).await;
        assert!(nothing.is_err(), "nothing reached signalling");
    }
}
