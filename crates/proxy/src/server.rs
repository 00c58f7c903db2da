//! The guard's front door: the accept loop, each connection, and what happens after CONNECT.
//!
//! hudsucker decided a tunnel's fate on the first read of at most four bytes and on the
//! CONNECT host alone, so a ClientHello split over two segments, a plaintext `POST`, an SNI
//! that differs from the CONNECT host or a CONNECT to an IP address became blind tunnels to an
//! LLM host; its accept loop spun on `EMFILE` and had no connection cap or header timeout.
//! None of that can be changed from its handler traits, so the guard owns these steps (see
//! docs/proxy.md): hudsucker's body type and WebSocket re-exports are still used.
//!
//! After a CONNECT the guard reads until it can decide (bounded in bytes and time):
//! - the first byte is `0x16`: the whole ClientHello is read (however it is split), and the
//!   CONNECT host and the SNI are both checked: an LLM host in either means the tunnel is
//!   decrypted, and its requests go to that host, never to whatever a request names;
//! - an in-scope CONNECT that starts with an HTTP method is served as plaintext HTTP (scanned
//!   like any other request); any other bytes to an in-scope host are refused and recorded;
//! - outside the scope, a server that speaks first (SMTP, SSH) is let through at once, and a
//!   ClientHello naming no LLM host is spliced with every byte already read.

use crate::guard::Guard;
use crate::pipeline::respond;
use crate::state::{bump, Shared};
use hudsucker::{Body, RequestOrResponse};
use hyper::body::Incoming;
use hyper::http::uri::{Authority, Scheme};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use leakguard_types::{EventVerdict, Outcome};
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, OwnedSemaphorePermit, Semaphore};

/// The HTTP client requests are forwarded with (through the guard's routes and upstream TLS).
pub(crate) type UpstreamClient =
    Client<hyper_rustls::HttpsConnector<crate::upstream::RoutedConnector>, hudsucker::Body>;

/// Bounds on connections: how many, and how long a client may take to say what it wants.
#[derive(Debug, Clone, Copy)]
pub struct Connections {
    /// Open client connections (tunnels included). `0`: derived from the descriptor limit.
    pub max: usize,
    /// A request's headers must arrive within this (an idle keep-alive connection is closed
    /// after it too).
    pub header_timeout: Duration,
    /// After CONNECT to an LLM host, the ClientHello (or request line) must arrive within this.
    pub hello_timeout: Duration,
    /// An HTTP/2 connection (to the guard or inside a decrypted tunnel) that starts no new
    /// request for this long is closed gracefully: GOAWAY, and the streams in flight (a long
    /// answer) finish first. HTTP/1 keep-alive is bounded by `header_timeout`.
    pub h2_idle: Duration,
}

impl Default for Connections {
    fn default() -> Self {
        Connections {
            max: 0,
            header_timeout: Duration::from_secs(20),
            hello_timeout: Duration::from_secs(10),
            h2_idle: Duration::from_secs(300),
        }
    }
}

/// The longest ClientHello the guard reads before deciding (real ones are under 2 KiB; with
/// post-quantum key shares about 1.9 KiB; padded ones up to 16 KiB).
const MAX_HELLO: usize = 64 << 10;

impl Connections {
    /// The cap actually used: the configured one, or what the process's descriptor limit
    /// allows (each intercepted connection needs two descriptors; some are kept for the
    /// store, the policy watch and the control channel).
    pub fn cap(&self) -> usize {
        if self.max > 0 {
            return self.max;
        }
        let fds = descriptor_limit().unwrap_or(1024);
        (fds.saturating_sub(64) / 2).clamp(16, 8192)
    }
}

#[cfg(unix)]
fn descriptor_limit() -> Option<usize> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .map(|n| n as usize)
}

#[cfg(not(unix))]
fn descriptor_limit() -> Option<usize> {
    None
}

/// Raises the soft descriptor limit to the hard one (macOS's launchd gives 256 by default).
pub fn raise_descriptor_limit() {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let l = getrlimit(Resource::Nofile);
        // macOS refuses values above OPEN_MAX even when the hard limit is "unlimited".
        let want = l.maximum.unwrap_or(u64::MAX).min(65_536);
        if l.current.is_some_and(|c| c < want) {
            let _ = setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(want),
                    maximum: l.maximum,
                },
            );
        }
    }
}

/// What every connection shares.
pub(crate) struct Front {
    pub shared: Arc<Shared>,
    pub client: UpstreamClient,
    pub h1: hyper::server::conn::http1::Builder,
    pub h2: hyper::server::conn::http2::Builder<TokioExecutor>,
    pub conns: Connections,
}

impl Front {
    pub(crate) fn new(
        shared: Arc<Shared>,
        connector: hyper_rustls::HttpsConnector<crate::upstream::RoutedConnector>,
        conns: Connections,
    ) -> Front {
        let mut client = Client::builder(TokioExecutor::new());
        client
            .http1_title_case_headers(true)
            .http1_preserve_header_case(true);
        let mut h1 = hyper::server::conn::http1::Builder::new();
        h1.title_case_headers(true)
            .preserve_header_case(true)
            .timer(TokioTimer::new())
            .header_read_timeout(conns.header_timeout);
        let mut h2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        h2.timer(TokioTimer::new());
        // A peer that stops answering pings is dropped (after an idle GOAWAY too, where hyper
        // waits for the peer's ping before closing).
        h2.keep_alive_interval(Some(Duration::from_secs(30)));
        h2.keep_alive_timeout(Duration::from_secs(20));
        Front {
            shared,
            client: client.build(connector),
            h1,
            h2,
            conns,
        }
    }
}

/// Accepts until `stop`, then lets open exchanges finish (up to 10 s) and returns.
pub(crate) async fn serve(listener: TcpListener, front: Arc<Front>, stop: oneshot::Receiver<()>) {
    let cap = front.conns.cap();
    let permits = Arc::new(Semaphore::new(cap));
    // Connections over the cap are told why, a few at a time; beyond that they are closed.
    let turn_away = Arc::new(Semaphore::new(32));
    let (shut_tx, shut_rx) = watch::channel(false);
    let mut stop = std::pin::pin!(stop);
    let mut backoff = Duration::ZERO;
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((tcp, _)) => {
                backoff = Duration::ZERO;
                match Arc::clone(&permits).try_acquire_owned() {
                    Ok(permit) => {
                        let peer =
                            match (tcp.peer_addr(), tcp.local_addr()) {
                                (Ok(client), Ok(guard)) => Some(Arc::new(crate::peer::Peer::new(
                                    crate::peer::ClientAddr { client, guard },
                                ))),
                                _ => None,
                            };
                        let conn = Conn {
                            front: Arc::clone(&front),
                            origin: Origin::Listener,
                            _permit: Arc::new(permit),
                            shutdown: shut_rx.clone(),
                            peer,
                        };
                        tokio::spawn(conn.serve_client(tcp));
                    }
                    Err(_) => {
                        bump(&front.shared.counters.over_capacity);
                        if let Ok(p) = Arc::clone(&turn_away).try_acquire_owned() {
                            tokio::spawn(too_busy(tcp, cap, p));
                        }
                    }
                }
            }
            // Out of descriptors (or another transient error): wait before trying again
            // instead of spinning on a listener that stays readable.
            Err(_) => {
                bump(&front.shared.counters.accept_errors);
                backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                tokio::select! {
                    _ = &mut stop => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
            }
        }
    }
    drop(listener);
    let _ = shut_tx.send(true);
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        permits.acquire_many(cap.min(u32::MAX as usize) as u32),
    )
    .await;
}

/// A served connection that can be asked to finish its exchanges and close.
trait Graceful: std::future::Future {
    fn graceful(self: Pin<&mut Self>);
}

impl<I, S, B> Graceful for hyper::server::conn::http1::UpgradeableConnection<I, S>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, B, E> Graceful for hyper::server::conn::http2::Connection<I, S, E>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn graceful(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Runs `conn` to its end; when the guard stops, lets it finish what is in flight.
async fn until_stopped<C: Graceful>(conn: C, shutdown: &mut watch::Receiver<bool>) {
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped(shutdown) => {
            conn.as_mut().graceful();
            let _ = conn.await;
        }
    }
}

/// Resolves once no request has started for `idle` (`last`: ms since `t0` of the last start).
async fn idle_for(last: &AtomicU64, t0: Instant, idle: Duration) {
    loop {
        let since = t0
            .elapsed()
            .saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
        if since >= idle {
            return;
        }
        tokio::time::sleep(idle - since).await;
    }
}

/// Resolves once the guard is stopping.
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// The answer to a connection over the cap.
async fn too_busy(mut tcp: tokio::net::TcpStream, cap: usize, _p: OwnedSemaphorePermit) {
    let msg = format!(
        "Leakguard has {cap} connections open, its limit; try again in a moment. \
         If this persists, a program on this computer is holding connections open.\n"
    );
    let res = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nRetry-After: 2\r\nConnection: close\r\n\r\n{msg}",
        msg.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), tcp.write_all(res.as_bytes())).await;
}

/// Where a connection's requests came from: the listener (proxy requests, CONNECT, the
/// guard's own endpoints) or the inside of a tunnel decided for one host.
#[derive(Clone, Debug)]
enum Origin {
    Listener,
    Tunnel {
        scheme: Scheme,
        authority: Authority,
        host: String,
    },
}

#[derive(Clone)]
struct Conn {
    front: Arc<Front>,
    origin: Origin,
    /// Held by the connection and whatever it becomes (tunnel, WebSocket), so the cap counts
    /// them all.
    _permit: Arc<OwnedSemaphorePermit>,
    shutdown: watch::Receiver<bool>,
    /// The client's end of the connection (which program sent a request, asked at most once).
    peer: Option<Arc<crate::peer::Peer>>,
}

/// Which HTTP a connection speaks: told by ALPN inside TLS, by its first bytes otherwise.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    H1,
    H2,
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

impl Conn {
    /// A client of the listener: HTTP/2 with prior knowledge or HTTP/1, told by its first
    /// bytes, which must arrive within the header timeout (a client that connects and says
    /// nothing is closed, not kept forever).
    async fn serve_client(self, mut tcp: tokio::net::TcpStream) {
        let mut seen = Vec::with_capacity(H2_PREFACE.len());
        let deadline = tokio::time::Instant::now() + self.front.conns.header_timeout;
        while seen.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(&seen) {
            let mut b = [0u8; 24];
            let want = H2_PREFACE.len() - seen.len();
            match tokio::time::timeout_at(deadline, tcp.read(&mut b[..want])).await {
                Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&b[..n]),
                _ => return,
            }
        }
        let proto = if seen == H2_PREFACE {
            Proto::H2
        } else {
            Proto::H1
        };
        self.serve(TokioIo::new(Prefixed::new(seen, tcp)), proto)
            .await;
    }

    /// Serves HTTP on `io` until the client closes or the guard stops.
    async fn serve<I>(self, io: I, proto: Proto)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let mut shutdown = self.shutdown.clone();
        let front = Arc::clone(&self.front);
        // When the last request started (ms since `t0`): an HTTP/2 connection idle for
        // `h2_idle` is closed gracefully.
        let t0 = Instant::now();
        let last = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&last);
        let service = hyper::service::service_fn(move |req| {
            seen.store(t0.elapsed().as_millis() as u64, Ordering::Relaxed);
            self.clone().exchange(req)
        });
        if proto == Proto::H2 {
            let conn = front.h2.serve_connection(io, service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = stopped(&mut shutdown) => {}
                _ = idle_for(&last, t0, front.conns.h2_idle) => {}
            }
            conn.as_mut().graceful();
            let _ = conn.await;
        } else {
            let conn = front.h1.serve_connection(io, service).with_upgrades();
            until_stopped(conn, &mut shutdown).await;
        }
    }

    /// One request: placed in its tunnel, handed to the guard, then forwarded.
    async fn exchange(self, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
        let req = req.map(Body::from);
        let req = match &self.origin {
            Origin::Listener if req.method() == Method::CONNECT => return Ok(self.connect(req)),
            Origin::Listener => req,
            Origin::Tunnel {
                scheme,
                authority,
                host,
            } => match in_tunnel(req, scheme, authority, host) {
                Ok(req) => req,
                Err(res) => {
                    bump(&self.front.shared.counters.misdirected);
                    return Ok(res);
                }
            },
        };
        let mut guard = Guard::new(Arc::clone(&self.front.shared));
        guard.peer.clone_from(&self.peer);
        let req = match guard.dispatch(req).await {
            RequestOrResponse::Request(req) => req,
            RequestOrResponse::Response(res) => return Ok(res),
        };
        if req.headers().contains_key(hyper::header::UPGRADE) {
            drop(guard);
            return Ok(self.forward_upgrade(req).await);
        }
        let client = &self.front.client;
        Ok(match guard.forward(client.request(normalize(req))).await {
            Ok(res) => guard.handle_response(res.map(Body::from)),
            Err(e) => guard.handle_error(&e),
        })
    }

    /// An upgrade the guard does not inspect (outside the scope): forwarded, and on `101` the
    /// two upgraded connections are spliced.
    async fn forward_upgrade(&self, mut req: Request<Body>) -> Response<Body> {
        let client_side = hyper::upgrade::on(&mut req);
        let mut res = match self.front.client.request(normalize(req)).await {
            Ok(res) => res,
            Err(e) => return Guard::new(Arc::clone(&self.front.shared)).handle_error(&e),
        };
        if res.status() == StatusCode::SWITCHING_PROTOCOLS {
            let server_side = hyper::upgrade::on(&mut res);
            let keep = self.clone();
            tokio::spawn(async move {
                if let (Ok(c), Ok(s)) = tokio::join!(client_side, server_side) {
                    keep.splice(TokioIo::new(c), TokioIo::new(s), &[]).await;
                }
            });
        }
        res.map(Body::from)
    }

    /// CONNECT: answer 200, then decide on what the client sends.
    fn connect(&self, req: Request<Body>) -> Response<Body> {
        let Some(authority) = req.uri().authority().cloned() else {
            return respond(
                StatusCode::BAD_REQUEST,
                "text/plain",
                "Leakguard: CONNECT needs host:port\n",
            );
        };
        let conn = self.clone();
        tokio::spawn(async move {
            if let Ok(upgraded) = hyper::upgrade::on(req).await {
                conn.after_connect(TokioIo::new(upgraded), authority).await;
            }
        });
        Response::new(Body::empty())
    }

    async fn after_connect<IO>(self, mut client: IO, authority: Authority)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let shared = Arc::clone(&self.front.shared);
        let connect_host = normal_host(authority.host());
        let port = authority.port_u16().unwrap_or(443);
        let mut seen = Vec::new();
        // A host the policy lists as unscannable takes the path of an out-of-scope one (its
        // ClientHello is still read, so an LLM host in its SNI is decrypted), and is recorded.
        if shared.intercepts(&connect_host) && shared.unscanned(&connect_host).is_none() {
            let sniffed = tokio::time::timeout(
                self.front.conns.hello_timeout,
                sniff(&mut client, &mut seen),
            )
            .await;
            match sniffed {
                Ok(Ok(Sniffed::Tls(accepted))) => {
                    let (accepted, fed) = *accepted;
                    let rest = seen.split_off(fed);
                    self.intercept(Prefixed::new(rest, client), accepted, connect_host, port)
                        .await
                }
                Ok(Ok(Sniffed::Http)) => {
                    let origin = Origin::Tunnel {
                        scheme: Scheme::HTTP,
                        authority,
                        host: connect_host,
                    };
                    let conn = Conn { origin, ..self };
                    conn.serve(TokioIo::new(Prefixed::new(seen, client)), Proto::H1)
                        .await
                }
                Ok(Ok(Sniffed::Closed)) | Ok(Err(_)) => {}
                Ok(Ok(Sniffed::BadTls(e))) => refused(
                    &shared,
                    &connect_host,
                    format!("a TLS connection whose ClientHello could not be read ({e})"),
                ),
                Ok(Ok(Sniffed::Other)) => refused(
                    &shared,
                    &connect_host,
                    "a tunnel that is neither TLS nor HTTP".into(),
                ),
                Ok(Ok(Sniffed::TooLong)) => refused(
                    &shared,
                    &connect_host,
                    format!("a TLS ClientHello longer than {MAX_HELLO} bytes"),
                ),
                Err(_) => refused(
                    &shared,
                    &connect_host,
                    format!(
                        "no complete ClientHello or request line within {} s",
                        self.front.conns.hello_timeout.as_secs()
                    ),
                ),
            }
            return;
        }
        // Outside the scope: dial now, so a server that speaks first is not kept waiting.
        let Ok(mut server) = shared.routes.connect(&connect_host, port).await else {
            return;
        };
        let mut from_server = vec![0u8; 8 << 10];
        let sniffed = tokio::select! {
            s = sniff_unbounded_start(&mut client, &mut seen, self.front.conns.hello_timeout) => Some(s),
            n = server.read(&mut from_server) => {
                match n {
                    Ok(n) if n > 0 => {
                        if client.write_all(&from_server[..n]).await.is_err() {
                            return;
                        }
                    }
                    _ => return,
                }
                None
            }
        };
        let mut sni_seen = None;
        match sniffed {
            Some(Ok(Sniffed::Tls(accepted))) => {
                let (accepted, fed) = *accepted;
                let sni = accepted.client_hello().server_name().map(normal_host);
                sni_seen.clone_from(&sni);
                let pinned = |h: &String| shared.unscanned(h).is_some();
                if let Some(sni) = sni.clone().filter(|s| shared.intercepts(s) && !pinned(s)) {
                    // An LLM host in the SNI: decrypted and sent to that host.
                    drop(server);
                    let rest = seen.split_off(fed);
                    return self
                        .intercept(Prefixed::new(rest, client), accepted, sni, port)
                        .await;
                }
            }
            Some(Ok(Sniffed::TooLong)) | Some(Err(_)) if seen.first() == Some(&0x16) => {
                // A TLS client that never finished its ClientHello: its SNI cannot be read,
                // so it may not pass.
                return refused(
                    &shared,
                    &connect_host,
                    "a TLS ClientHello that was never completed".into(),
                );
            }
            Some(Ok(Sniffed::Closed)) => return,
            _ => {}
        }
        for host in [Some(&connect_host), sni_seen.as_ref()]
            .into_iter()
            .flatten()
        {
            if let Some(group) = shared.unscanned(host) {
                unscanned(&shared, host, group);
                break;
            }
        }
        bump(&shared.counters.tunnelled);
        self.splice(client, server, &seen).await;
    }

    /// Decrypts a tunnel for `host` with the device CA and serves its requests, which all go
    /// to `host`.
    async fn intercept<IO>(
        self,
        io: Prefixed<IO>,
        accepted: rustls::server::Accepted,
        host: String,
        port: u16,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let shared = &self.front.shared;
        let cfg = match shared.ca.load().server_config(&host) {
            Ok(c) => c,
            Err(e) => {
                return refused(
                    shared,
                    &host,
                    format!("the device CA cannot vouch for {host}: {e}"),
                )
            }
        };
        let Ok(tls) = tokio_rustls::StartHandshake::from_parts(accepted, io)
            .into_stream(cfg)
            .await
        else {
            return;
        };
        let Ok(authority) = Authority::try_from(format!("{host}:{port}")) else {
            return;
        };
        let conn = Conn {
            origin: Origin::Tunnel {
                scheme: Scheme::HTTPS,
                authority,
                host,
            },
            ..self
        };
        let proto = match tls.get_ref().1.alpn_protocol() {
            Some(b"h2") => Proto::H2,
            _ => Proto::H1,
        };
        conn.serve(TokioIo::new(tls), proto).await;
    }

    /// Copies bytes both ways (after writing what was already read from the client), until
    /// either side closes or the guard stops.
    async fn splice<A, B>(&self, mut client: A, mut server: B, seen: &[u8])
    where
        A: AsyncRead + AsyncWrite + Unpin,
        B: AsyncRead + AsyncWrite + Unpin,
    {
        let mut shutdown = self.shutdown.clone();
        if !seen.is_empty() && server.write_all(seen).await.is_err() {
            return;
        }
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
            _ = stopped(&mut shutdown) => {}
        }
    }
}

/// A request inside a tunnel decided for `host`: it goes to that host. An authority-form or
/// asterisk-form target is a 400; a request naming another host (an absolute URI or HTTP/2's
/// `:authority`) is a 421, so a client never reaches a host the scope decision was not made
/// for.
#[allow(clippy::result_large_err)]
fn in_tunnel(
    req: Request<Body>,
    scheme: &Scheme,
    authority: &Authority,
    host: &str,
) -> Result<Request<Body>, Response<Body>> {
    let uri = req.uri();
    let origin_form = uri.path().starts_with('/');
    if req.method() == Method::CONNECT || !origin_form {
        return Err(respond(
            StatusCode::BAD_REQUEST,
            "text/plain",
            "Leakguard: inside a tunnel a request names a path (origin form), not host:port\n",
        ));
    }
    if let Some(named) = uri.host() {
        if normal_host(named) != host {
            return Err(respond(
                StatusCode::MISDIRECTED_REQUEST,
                "text/plain",
                format!(
                    "Leakguard: this connection is for {host}; open a new connection for {}\n",
                    normal_host(named)
                ),
            ));
        }
    }
    let (mut parts, body) = req.into_parts();
    let mut u = parts.uri.into_parts();
    u.scheme = Some(scheme.clone());
    u.authority = Some(authority.clone());
    if u.path_and_query.is_none() {
        u.path_and_query = Some(hyper::http::uri::PathAndQuery::from_static("/"));
    }
    parts.uri = match Uri::from_parts(u) {
        Ok(uri) => uri,
        Err(_) => {
            return Err(respond(
                StatusCode::BAD_REQUEST,
                "text/plain",
                "Leakguard: the request target could not be read\n",
            ))
        }
    };
    Ok(Request::from_parts(parts, body))
}

/// What goes upstream: hyper sets `Host` from the URI; HTTP/2's several `cookie` fields
/// become one; the proxy's own headers stay here.
fn normalize(mut req: Request<Body>) -> Request<Body> {
    let h = req.headers_mut();
    h.remove(hyper::header::HOST);
    h.remove(hyper::header::PROXY_AUTHORIZATION);
    h.remove("proxy-connection");
    if h.get_all(hyper::header::COOKIE).iter().count() > 1 {
        let joined: Vec<&[u8]> = h
            .get_all(hyper::header::COOKIE)
            .iter()
            .map(|v| v.as_bytes())
            .collect();
        if let Ok(v) = hyper::header::HeaderValue::from_bytes(&joined.join(&b"; "[..])) {
            h.insert(hyper::header::COOKIE, v);
        }
    }
    *req.version_mut() = hyper::Version::HTTP_11;
    req
}

/// A host as the scope compares it: lower case, no trailing dot, no IPv6 brackets.
fn normal_host(h: &str) -> String {
    h.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// A tunnel to an LLM host that could not be decided safely: closed, counted and recorded.
fn refused(shared: &Shared, host: &str, reason: String) {
    bump(&shared.counters.fail_closed);
    let group = shared
        .policy
        .load()
        .policy()
        .group_of(host)
        .map(|g| g.name.clone());
    connect_event(
        shared,
        host,
        group,
        (EventVerdict::Block, Outcome::Refused),
        "leakguard:tunnel",
        reason,
    );
}

/// A connection to a host the policy lists as unscannable (pinned or mutual-TLS clients):
/// tunnelled, and recorded so the gap is visible.
fn unscanned(shared: &Shared, host: &str, group: String) {
    connect_event(
        shared,
        host,
        Some(group),
        (EventVerdict::Unscanned, Outcome::Forwarded),
        "destinations.unscanned_hosts",
        "tunnelled without inspection: the policy lists this host's clients as unable to trust the device CA (pinned certificates or mutual TLS)".into(),
    );
}

/// The event of a decision about a whole tunnel (method `CONNECT`).
fn connect_event(
    shared: &Shared,
    host: &str,
    group: Option<String>,
    (verdict, outcome): (EventVerdict, Outcome),
    decided_by: &str,
    reason: String,
) {
    let event = crate::events::Event {
        id: crate::events::new_id(),
        time: crate::events::now_rfc3339(),
        kind: leakguard_types::EventKind::Request,
        host: host.to_string(),
        method: "CONNECT".into(),
        group,
        policy: Some(shared.policy.load().label.clone()),
        verdict,
        outcome,
        decided_by: decided_by.into(),
        reason: Some(reason),
        ..Default::default()
    };
    shared.events.record(event);
}

/// What the first bytes of a tunnel are.
enum Sniffed {
    /// A complete ClientHello, and how many of the bytes read rustls has taken.
    Tls(Box<(rustls::server::Accepted, usize)>),
    BadTls(String),
    TooLong,
    /// Starts like an HTTP request line.
    Http,
    Other,
    Closed,
}

/// Reads into `seen` until the first bytes can be classified; a TLS ClientHello is read to
/// its end however it is split into records and segments. Cancel-safe: everything read is in
/// `seen`.
async fn sniff<IO: AsyncRead + Unpin>(io: &mut IO, seen: &mut Vec<u8>) -> io::Result<Sniffed> {
    let mut acceptor = rustls::server::Acceptor::default();
    let mut fed = 0;
    loop {
        match seen.first() {
            None => {}
            Some(0x16) => loop {
                let before = fed;
                if fed < seen.len() {
                    let mut rest = &seen[fed..];
                    match acceptor.read_tls(&mut rest) {
                        Ok(n) => fed += n,
                        Err(e) => return Ok(Sniffed::BadTls(e.to_string())),
                    }
                }
                match acceptor.accept() {
                    Ok(Some(a)) => return Ok(Sniffed::Tls(Box::new((a, fed)))),
                    Ok(None) if fed == seen.len() || fed == before => break,
                    Ok(None) => {}
                    Err((e, _)) => return Ok(Sniffed::BadTls(e.to_string())),
                }
            },
            Some(b) if b.is_ascii_uppercase() => return Ok(Sniffed::Http),
            Some(_) => return Ok(Sniffed::Other),
        }
        if seen.len() >= MAX_HELLO {
            return Ok(Sniffed::TooLong);
        }
        let mut chunk = [0u8; 4096];
        let n = io.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Sniffed::Closed);
        }
        seen.extend_from_slice(&chunk[..n]);
    }
}

/// [`sniff`] for a tunnel outside the scope: waiting for the client's first byte is not
/// bounded (an idle tunnel is normal), finishing a ClientHello once begun is.
async fn sniff_unbounded_start<IO: AsyncRead + Unpin>(
    io: &mut IO,
    seen: &mut Vec<u8>,
    hello_timeout: Duration,
) -> io::Result<Sniffed> {
    let mut chunk = [0u8; 4096];
    let n = io.read(&mut chunk).await?;
    if n == 0 {
        return Ok(Sniffed::Closed);
    }
    seen.extend_from_slice(&chunk[..n]);
    tokio::time::timeout(hello_timeout, sniff(io, seen))
        .await
        .unwrap_or(Ok(Sniffed::TooLong))
}

/// A stream that yields `prefix` before reading from `inner`.
struct Prefixed<IO> {
    prefix: Vec<u8>,
    at: usize,
    inner: IO,
}

impl<IO> Prefixed<IO> {
    fn new(prefix: Vec<u8>, inner: IO) -> Self {
        Prefixed {
            prefix,
            at: 0,
            inner,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Prefixed<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.at < self.prefix.len() {
            let n = (self.prefix.len() - self.at).min(buf.remaining());
            let at = self.at;
            buf.put_slice(&self.prefix[at..at + n]);
            self.at += n;
            if self.at == self.prefix.len() {
                self.prefix = Vec::new();
                self.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Prefixed<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, method: Method) -> Request<Body> {
        Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap()
    }

    fn place(r: Request<Body>) -> Result<Uri, StatusCode> {
        let a = Authority::from_static("chatgpt.com:443");
        in_tunnel(r, &Scheme::HTTPS, &a, "chatgpt.com")
            .map(|r| r.uri().clone())
            .map_err(|r| r.status())
    }

    #[test]
    fn requests_in_a_tunnel_go_to_its_host_or_are_refused() {
        assert_eq!(
            place(req("/backend-api/conversation?x=1", Method::POST)).unwrap(),
            "https://chatgpt.com:443/backend-api/conversation?x=1"
        );
        // Absolute form naming the tunnel's host (any case, trailing dot): placed.
        assert!(place(req("https://ChatGPT.com./x", Method::POST)).is_ok());
        // Another host, as an absolute URI or HTTP/2's :authority: misdirected. Authority form
        // (CONNECT or any method) and asterisk form: a 400, not a panic.
        for (uri, method, want) in [
            (
                "https://example.com/x",
                Method::POST,
                StatusCode::MISDIRECTED_REQUEST,
            ),
            ("chatgpt.com:443", Method::CONNECT, StatusCode::BAD_REQUEST),
            ("example.com:443", Method::GET, StatusCode::BAD_REQUEST),
            ("*", Method::OPTIONS, StatusCode::BAD_REQUEST),
        ] {
            assert_eq!(place(req(uri, method)).unwrap_err(), want, "{uri}");
        }
    }

    #[tokio::test]
    async fn a_client_hello_split_into_single_bytes_is_read_whole() {
        let hello = client_hello("chatgpt.com");
        // Every byte in its own read.
        let (mut a, mut b) = tokio::io::duplex(1);
        let writer = tokio::spawn(async move {
            for byte in hello {
                a.write_all(&[byte]).await.unwrap();
            }
            a
        });
        let mut seen = Vec::new();
        let Sniffed::Tls(accepted) = sniff(&mut b, &mut seen).await.unwrap() else {
            panic!("not read as a ClientHello")
        };
        let (accepted, fed) = *accepted;
        assert_eq!(accepted.client_hello().server_name(), Some("chatgpt.com"));
        assert_eq!(fed, seen.len());
        drop(writer.await.unwrap());
    }

    #[tokio::test]
    async fn first_bytes_are_classified() {
        for (bytes, want) in [
            (&b"POST /v1/chat HTTP/1.1\r\n"[..], "http"),
            (b"\x00\x01\x02", "other"),
            (b"\x16\x03\x01\x00\x05hello", "bad"),
        ] {
            let mut seen = Vec::new();
            let mut r = bytes;
            let got = match sniff(&mut r, &mut seen).await.unwrap() {
                Sniffed::Http => "http",
                Sniffed::Other => "other",
                Sniffed::BadTls(_) => "bad",
                Sniffed::Closed => "closed",
                _ => "?",
            };
            assert_eq!(got, want, "{bytes:?}");
        }
    }

    /// A real ClientHello from rustls.
    pub(crate) fn client_hello(sni: &str) -> Vec<u8> {
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        let mut c = rustls::ClientConnection::new(
            Arc::new(cfg),
            rustls_pki_types::ServerName::try_from(sni.to_string()).unwrap(),
        )
        .unwrap();
        let mut out = Vec::new();
        c.write_tls(&mut out).unwrap();
        out
    }
}
