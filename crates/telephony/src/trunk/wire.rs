//! What carries SIP messages for one signalling task: a UDP socket, or TCP connections (plain
//! or TLS).
//!
//! Both give the endpoint the same thing: whole messages with the peer's address in, whole
//! messages to an address out. On a stream a message is cut off the byte stream by
//! [`StreamFramer`]; a response goes back over the connection its request came on (the
//! endpoint answers to the source address, which names that connection); a request to an
//! address with no connection opens one. A connection that cannot be opened (refused, timed
//! out, a TLS certificate that does not verify) comes back as [`Received::Unreachable`], so
//! the call waiting on it fails at once with the reason.
//!
//! Decision: one reader task per connection feeding one channel, and one writer task per
//! connection draining its own queue, so a slow or stalled peer never blocks signalling (the
//! signalling task only ever pushes into unbounded queues). A connection that breaks the
//! framing (no Content-Length, over 64 KiB) or idles for [`IDLE`] is closed; its peer's later
//! messages open a new one, as RFC 3261 §18 expects of stream transports. A connection from an
//! address outside every trunk's `inbound_addresses` is closed at once (before any TLS
//! handshake): a stranger could otherwise hold connections (and their memory) for the idle
//! time, up to the cap, and crowd out the carriers.

use crate::sip::framing::StreamFramer;
use crate::sip::InboundPolicy;
use rustls::pki_types::ServerName;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tracing::debug;

/// A connection with no traffic for this long is closed (calls send nothing for minutes only
/// when the carrier keeps no session timers; it reconnects for the next request).
const IDLE: Duration = Duration::from_secs(15 * 60);
/// Connections kept at most (inbound and outbound): a flood of connects cannot grow memory.
const MAX_CONNECTIONS: usize = 2048;
/// How long connecting to a peer (TCP, then the TLS handshake) may take before the message
/// is given up and the peer reported unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the wire hands signalling.
#[derive(Debug)]
pub(crate) enum Received {
    /// A whole message and who sent it.
    Message(Vec<u8>, SocketAddr),
    /// No connection could be opened to this address; why, in words for the call's record.
    Unreachable(SocketAddr, String),
}

/// The transport of one signalling task.
pub(crate) enum Wire {
    Udp { socket: UdpSocket, buf: Vec<u8> },
    Stream(StreamWire),
}

impl Wire {
    /// The address the wire listens on.
    pub fn local_addr(&self) -> SocketAddr {
        match self {
            Wire::Udp { socket, .. } => socket
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))),
            Wire::Stream(t) => t.local,
        }
    }

    pub fn udp(socket: UdpSocket) -> Wire {
        Wire::Udp {
            socket,
            buf: vec![0u8; 65_536],
        }
    }

    /// The next whole message and who sent it, or a peer found unreachable. Errors of one
    /// datagram or connection are not the wire's: they are logged and the wait goes on.
    pub async fn recv(&mut self) -> Received {
        match self {
            Wire::Udp { socket, buf } => loop {
                match socket.recv_from(buf).await {
                    Ok((n, from)) => return Received::Message(buf[..n].to_vec(), from),
                    Err(e) => debug!(error = %e, "SIP receive error"),
                }
            },
            Wire::Stream(t) => t.recv().await,
        }
    }

    pub async fn send(&self, dest: SocketAddr, payload: &[u8]) {
        match self {
            Wire::Udp { socket, .. } => {
                if let Err(e) = socket.send_to(payload, dest).await {
                    debug!(error = %e, %dest, "SIP send error");
                }
            }
            Wire::Stream(t) => t.send(dest, payload),
        }
    }

    /// The name to verify `dest`'s TLS certificate against (see [`StreamWire::name`]).
    pub fn name(&self, dest: SocketAddr, host: &str) {
        if let Wire::Stream(t) = self {
            t.name(dest, host);
        }
    }
}

/// Plain TCP, or TLS over it.
pub(crate) enum Security {
    Plain,
    Tls {
        /// Present when Parley has a certificate (it then accepts connections).
        acceptor: Option<TlsAcceptor>,
        connector: TlsConnector,
        /// The names the peers' certificates are verified against.
        names: Arc<Mutex<HashMap<SocketAddr, ServerName<'static>>>>,
    },
}

impl Security {
    pub fn tls(tls: &super::tls::SipTls) -> Security {
        Security::Tls {
            acceptor: tls.server.clone().map(TlsAcceptor::from),
            connector: TlsConnector::from(tls.client.clone()),
            names: Arc::default(),
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Security::Plain => "TCP",
            Security::Tls { .. } => "TLS",
        }
    }
}

type Queue = mpsc::UnboundedSender<Vec<u8>>;
type Connections = Arc<Mutex<HashMap<SocketAddr, Queue>>>;

/// SIP over a stream transport: a listener, and a connection per peer address.
pub(crate) struct StreamWire {
    local: SocketAddr,
    incoming: mpsc::UnboundedReceiver<Received>,
    incoming_tx: mpsc::UnboundedSender<Received>,
    connections: Connections,
    security: Security,
}

impl StreamWire {
    /// Accepts connections on `listener` (bound to `local`; none for a TLS side without a
    /// certificate) from now on, from sources `admit` allows.
    pub fn start(
        listener: Option<TcpListener>,
        local: SocketAddr,
        admit: impl InboundPolicy + Send + 'static,
        security: Security,
    ) -> StreamWire {
        let (incoming_tx, incoming) = mpsc::unbounded_channel();
        let connections: Connections = Arc::default();
        let acceptor = match &security {
            Security::Plain => Some(None),
            Security::Tls { acceptor, .. } => acceptor.clone().map(Some),
        };
        if let (Some(listener), Some(acceptor)) = (listener, acceptor) {
            tokio::spawn(accept_loop(
                listener,
                admit,
                acceptor,
                connections.clone(),
                incoming_tx.clone(),
            ));
        }
        StreamWire {
            local,
            incoming,
            incoming_tx,
            connections,
            security,
        }
    }

    /// The name to verify `dest`'s TLS certificate against (the trunk's host); without one,
    /// its IP address is verified. Nothing on plain TCP.
    fn name(&self, dest: SocketAddr, host: &str) {
        if let Security::Tls { names, .. } = &self.security {
            match ServerName::try_from(host.to_string()) {
                Ok(n) => {
                    lock(names).insert(dest, n);
                }
                Err(e) => debug!(%host, error = %e, "not a TLS server name: the address is verified instead"),
            }
        }
    }

    async fn recv(&mut self) -> Received {
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
        let tls = match &self.security {
            Security::Plain => None,
            Security::Tls { connector, names, .. } => {
                let name = lock(names)
                    .get(&dest)
                    .cloned()
                    .unwrap_or_else(|| ServerName::IpAddress(dest.ip().into()));
                Some((connector.clone(), name))
            }
        };
        let label = self.security.label();
        tokio::spawn(async move {
            let opened = tokio::time::timeout(CONNECT_TIMEOUT, async {
                let stream = TcpStream::connect(dest)
                    .await
                    .map_err(|e| format!("{label} connection to {dest} failed: {e}"))?;
                let _ = stream.set_nodelay(true);
                match tls {
                    None => Ok(adopt(stream, dest, &conns, &tx)),
                    Some((connector, name)) => {
                        let stream = connector
                            .connect(name, stream)
                            .await
                            .map_err(|e| format!("TLS handshake with {dest} failed: {e}"))?;
                        Ok(adopt(stream, dest, &conns, &tx))
                    }
                }
            })
            .await
            .unwrap_or_else(|_| Err(format!("{label} connection to {dest} timed out")));
            match opened {
                Ok(Some(out)) => {
                    let _ = out.send(payload);
                }
                Ok(None) => {
                    let _ = tx.send(Received::Unreachable(dest, "too many SIP connections open".into()));
                }
                Err(why) => {
                    debug!(%dest, %why, "SIP connect failed");
                    let _ = tx.send(Received::Unreachable(dest, why));
                }
            }
        });
    }
}

/// Takes the connections of allowed sources, each through its TLS handshake first when
/// `acceptor` is set (in a task of its own: a slow handshake holds up nobody).
async fn accept_loop(
    listener: TcpListener,
    admit: impl InboundPolicy,
    acceptor: Option<TlsAcceptor>,
    conns: Connections,
    incoming: mpsc::UnboundedSender<Received>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) if !admit.allows(peer.ip()) => {
                debug!(%peer, "SIP connection from outside the allow-list: closed");
                drop(stream);
            }
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                match &acceptor {
                    None => {
                        adopt(stream, peer, &conns, &incoming);
                    }
                    Some(acceptor) => {
                        let (acceptor, conns, incoming) = (acceptor.clone(), conns.clone(), incoming.clone());
                        tokio::spawn(async move {
                            match tokio::time::timeout(CONNECT_TIMEOUT, acceptor.accept(stream)).await {
                                Ok(Ok(tls)) => {
                                    adopt(tls, peer, &conns, &incoming);
                                }
                                Ok(Err(e)) => debug!(%peer, error = %e, "SIP TLS handshake failed"),
                                Err(_) => debug!(%peer, "SIP TLS handshake timed out"),
                            }
                        });
                    }
                }
            }
            Err(e) => {
                debug!(error = %e, "SIP accept error");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the reader and writer of a new connection to `peer` and registers its queue;
/// returns the queue, or `None` when the connection limit is reached (the stream is dropped).
fn adopt<S>(
    stream: S,
    peer: SocketAddr,
    conns: &Connections,
    incoming: &mpsc::UnboundedSender<Received>,
) -> Option<Queue>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    {
        let mut map = lock(conns);
        if map.len() >= MAX_CONNECTIONS && !map.contains_key(&peer) {
            debug!(%peer, "SIP connection limit reached");
            return None;
        }
        map.insert(peer, out_tx.clone());
    }
    let (mut reader, mut writer) = tokio::io::split(stream);
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
                                    let _ = incoming.send(Received::Message(m, peer));
                                }
                                Ok(None) => break,
                                Err(e) => {
                                    debug!(%peer, error = %e, "SIP stream framing error: closing");
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
                        if writer.write_all(&bytes).await.is_err() || writer.flush().await.is_err() {
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

    fn plain(listener: TcpListener, local: SocketAddr, allow: &str) -> StreamWire {
        let admit = crate::sip::CidrAllowList::parse([allow]);
        StreamWire::start(Some(listener), local, admit, Security::Plain)
    }

    async fn message(wire: &mut StreamWire) -> (Vec<u8>, SocketAddr) {
        match wire.recv().await {
            Received::Message(m, from) => (m, from),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn messages_are_framed_off_a_stream_and_answers_go_back_on_its_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut wire = plain(listener, addr, "127.0.0.1");
        let mut peer = TcpStream::connect(addr).await.unwrap();
        let msg = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 4\r\n\r\nbody";
        // Split across writes, with a keep-alive CRLF pair first, and two messages at once.
        peer.write_all(b"\r\n\r\n").await.unwrap();
        peer.write_all(&msg[..10]).await.unwrap();
        peer.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        peer.write_all(&[&msg[10..], &msg[..]].concat()).await.unwrap();
        let (a, from) = message(&mut wire).await;
        let (b, _) = message(&mut wire).await;
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
        let wire = plain(listener, local, "127.0.0.1");
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
        let mut wire = plain(listener, addr, "192.0.2.0/24");
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

    /// A certificate authority and a server certificate for 127.0.0.1 it signed, as PEM files
    /// in `dir`: (ca, cert, key).
    pub(crate) fn test_pki(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut leaf = CertificateParams::new(vec!["sip.parley.test".to_string()]).unwrap();
        leaf.subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
        let paths = (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&paths.0, ca_cert.pem()).unwrap();
        std::fs::write(&paths.1, cert.pem()).unwrap();
        std::fs::write(&paths.2, key.serialize_pem()).unwrap();
        paths
    }

    fn tls_wire(
        listener: Option<TcpListener>,
        local: SocketAddr,
        files: super::super::tls::TlsFiles<'_>,
    ) -> StreamWire {
        let tls = super::super::tls::SipTls::from_files(local, files).unwrap();
        let admit = crate::sip::CidrAllowList::parse(["127.0.0.1"]);
        StreamWire::start(listener, local, admit, Security::tls(&tls))
    }

    #[tokio::test]
    async fn tls_carries_messages_both_ways_and_an_untrusted_certificate_is_reported() {
        let dir = std::env::temp_dir().join(format!("parley-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ca, cert, key) = test_pki(&dir);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server_addr = listener.local_addr().unwrap();
        let server_files = super::super::tls::TlsFiles {
            cert: Some(&cert),
            key: Some(&key),
            ca: None,
        };
        let mut server = tls_wire(Some(listener), server_addr, server_files);
        // A client trusting the authority, verifying the trunk by name.
        let trusting = super::super::tls::TlsFiles {
            ca: Some(&ca),
            ..Default::default()
        };
        let mut client = tls_wire(None, SocketAddr::from(([127, 0, 0, 1], 0)), trusting.clone());
        client.name(server_addr, "sip.parley.test");
        client.send(server_addr, b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n");
        let (got, from) = message(&mut server).await;
        assert!(got.starts_with(b"OPTIONS"));
        server.send(from, b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        let (back, _) = message(&mut client).await;
        assert!(back.starts_with(b"SIP/2.0 200 OK"));

        // The same certificate for a name it does not hold: refused, and reported.
        let mut other = tls_wire(None, SocketAddr::from(([127, 0, 0, 1], 0)), trusting);
        other.name(server_addr, "carrier.example.com");
        other.send(server_addr, b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n");
        match other.recv().await {
            Received::Unreachable(dest, why) => {
                assert_eq!(dest, server_addr);
                assert!(why.contains("TLS handshake") && why.contains("certificate"), "{why}");
            }
            m => panic!("{m:?}"),
        }
        // A client that does not trust the authority: refused by its own check.
        let mut stranger = tls_wire(None, SocketAddr::from(([127, 0, 0, 1], 0)), Default::default());
        stranger.send(server_addr, b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n");
        match stranger.recv().await {
            Received::Unreachable(_, why) => assert!(why.contains("UnknownIssuer"), "{why}"),
            m => panic!("{m:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_refused_connection_is_reported_unreachable() {
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dest = closed.local_addr().unwrap();
        drop(closed);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap();
        let mut wire = plain(listener, local, "127.0.0.1");
        wire.send(dest, b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n");
        match wire.recv().await {
            Received::Unreachable(d, why) => {
                assert_eq!(d, dest);
                assert!(why.starts_with("TCP connection to"), "{why}");
            }
            m => panic!("{m:?}"),
        }
    }
}
