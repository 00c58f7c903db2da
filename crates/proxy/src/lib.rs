//! The local TLS-intercepting proxy: a device CA (name-constrained), scope (only LLM hosts are
//! decrypted; everything else is a blind tunnel), body limits and decoding, the scan-decide-act
//! pipeline, the PAC file and events. The front door (accept, CONNECT, tunnels) is the
//! guard's own ([`server`]); hudsucker's body type and WebSocket re-exports are used; see
//! docs/proxy.md.

mod admit;
pub mod body;
pub mod ca;
mod control_plane;
pub mod conversation;
pub mod events;
mod eventstream;
pub mod guard;
pub mod inspect;
pub mod peer;
pub mod pipeline;
mod reply;
mod reply_redact;
pub mod restore;
pub mod scan_cache;
pub mod server;
mod sse;
pub mod state;
pub mod upstream;
mod websocket;

pub use control_plane::pac_for;
pub use server::Connections;
pub use state::Shared;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;

pub use body::Limits;
pub use inspect::Loaded;

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the guard listens on loopback only; {0} is not a loopback address")]
    NotLoopback(SocketAddr),
    #[error("cannot listen on {addr}: {source} (is another guard running? pick another port with --listen)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Ca(#[from] ca::CaError),
    #[error(transparent)]
    Upstream(#[from] upstream::UpstreamError),
    #[error("cannot open the event log in {dir}: {source}")]
    Events {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the control token: {0}")]
    Token(std::io::Error),
    #[error("the proxy failed to start: {0}")]
    Proxy(String),
}

/// How to run the guard.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// The CA directory (default: `data_dir/ca`).
    pub ca_dir: PathBuf,
    pub limits: Limits,
    pub resolve: Vec<String>,
    pub upstream_proxy: Option<String>,
    pub upstream_ca: Vec<PathBuf>,
    /// Where events go; `None`: `events.jsonl` in the data dir.
    pub events: Option<Arc<dyn events::EventSink>>,
    /// Offer HTTP/2 to upstream servers (ALPN). Off by default: measured here, HTTP/1.1 with
    /// keep-alive adds less latency to small prompts and SSE; on for upstreams that need h2.
    pub upstream_http2: bool,
    /// The time source (exception expiry, pauses).
    pub clock: Arc<dyn leakguard_types::Clock>,
    /// Who the guard protects (the policy's exceptions by user and group).
    pub identity: leakguard_types::Identity,
    /// The connection cap and the timeouts of connections.
    pub connections: Connections,
}

/// A running guard.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Replaces the policy (hot reload): new requests use it, requests in flight finish with
    /// the one they started with, connections stay open.
    pub fn swap_policy(&self, loaded: Loaded) {
        self.shared.policy.store(Arc::new(loaded));
    }

    /// Stops accepting, lets open exchanges finish, and returns.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = self.task.await;
    }
}

fn bind_loopback(addr: SocketAddr) -> Result<tokio::net::TcpListener, StartError> {
    use socket2::{Domain, Protocol, Socket, Type};
    if !addr.ip().is_loopback() {
        return Err(StartError::NotLoopback(addr));
    }
    let bind = |e| StartError::Bind { addr, source: e };
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(bind)?;
    socket.set_reuse_address(true).map_err(bind)?;
    // Accepted sockets inherit TCP_NODELAY from the listener on Linux, which is how it reaches
    // the sockets hudsucker accepts (it sets it nowhere itself).
    socket.set_nodelay(true).map_err(bind)?;
    socket.set_nonblocking(true).map_err(bind)?;
    socket.bind(&addr.into()).map_err(bind)?;
    socket.listen(1024).map_err(bind)?;
    tokio::net::TcpListener::from_std(socket.into()).map_err(bind)
}

/// The control token file (0600): only the user can grant a warned prompt.
pub fn control_token(data_dir: &std::path::Path) -> std::io::Result<String> {
    let path = data_dir.join("control.token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        if t.trim().len() >= 32 {
            return Ok(t.trim().to_string());
        }
    }
    let mut b = [0u8; 24];
    getrandom::getrandom(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
    let token = inspect::hex(&b);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    opts.open(&path)?.write_all(token.as_bytes())?;
    Ok(token)
}

/// Starts the guard; returns once it is listening.
pub async fn start(settings: Settings, loaded: Loaded) -> Result<Running, StartError> {
    let device_ca = Arc::new(ca::DeviceCa::load(&settings.ca_dir)?);
    server::raise_descriptor_limit();
    let listener = bind_loopback(settings.listen)?;
    let addr = listener.local_addr().map_err(|e| StartError::Bind {
        addr: settings.listen,
        source: e,
    })?;
    let routes = upstream::Routes::new(&settings.resolve, settings.upstream_proxy.as_deref())?;
    let tls = Arc::new(upstream::client_tls(&settings.upstream_ca)?);
    let events: Arc<dyn events::EventSink> = match &settings.events {
        Some(sink) => Arc::clone(sink),
        None => Arc::new(
            events::EventLog::open(&settings.data_dir).map_err(|source| StartError::Events {
                dir: settings.data_dir.clone(),
                source,
            })?,
        ),
    };
    let token = control_token(&settings.data_dir).map_err(StartError::Token)?;
    let shared = Arc::new(Shared::new(
        loaded,
        leakguard_providers::Catalog::builtin(),
        events,
        routes,
        Arc::clone(&device_ca),
        settings.limits,
        token,
        addr,
        Arc::clone(&tls),
        settings.clock,
        settings.identity,
    ));
    let _ = shared.spool_dir.set(settings.data_dir.join("spool"));
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls).clone())
        .https_or_http();
    let routed = upstream::RoutedConnector(Arc::clone(&shared.routes));
    let https = if settings.upstream_http2 {
        builder.enable_all_versions().wrap_connector(routed)
    } else {
        builder.enable_http1().wrap_connector(routed)
    };
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let front = Arc::new(server::Front::new(
        Arc::clone(&shared),
        https,
        settings.connections,
    ));
    let task = tokio::spawn(server::serve(listener, front, stop_rx));
    Ok(Running {
        addr,
        shared,
        stop: Some(stop_tx),
        task,
    })
}
