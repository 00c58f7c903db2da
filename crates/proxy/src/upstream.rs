//! Connections to the real servers: `--resolve` overrides, optional chaining through a corporate
//! proxy (`--upstream-proxy http://host:port`), TCP_NODELAY on every socket, and TLS with the
//! platform's roots plus any extra roots (`--upstream-ca`).

use hyper::Uri;
use hyper_util::rt::TokioIo;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why the upstream settings were refused.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("--resolve `{0}`: expected HOST:PORT:ADDR (ADDR may be IP or IP:PORT), like curl's")]
    Resolve(String),
    #[error("--upstream-proxy `{0}`: expected http://HOST:PORT")]
    ProxyUrl(String),
    #[error("--upstream-ca {path}: {message}")]
    Ca { path: String, message: String },
}

/// Where connections go.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    /// `host:port` (lower case) -> `addr:port`.
    overrides: HashMap<String, String>,
    /// `host:port` of an HTTP proxy to CONNECT through.
    proxy: Option<String>,
}

impl Routes {
    pub fn new(resolve: &[String], upstream_proxy: Option<&str>) -> Result<Routes, UpstreamError> {
        let mut overrides = HashMap::new();
        for r in resolve {
            let mut it = r.splitn(3, ':');
            let (Some(host), Some(port), Some(addr)) = (it.next(), it.next(), it.next()) else {
                return Err(UpstreamError::Resolve(r.clone()));
            };
            let port: u16 = port
                .parse()
                .map_err(|_| UpstreamError::Resolve(r.clone()))?;
            let target = if addr.parse::<std::net::IpAddr>().is_ok() {
                match addr.parse::<std::net::Ipv6Addr>() {
                    Ok(_) => format!("[{addr}]:{port}"),
                    Err(_) => format!("{addr}:{port}"),
                }
            } else if addr.parse::<std::net::SocketAddr>().is_ok() {
                addr.to_string()
            } else {
                return Err(UpstreamError::Resolve(r.clone()));
            };
            overrides.insert(format!("{}:{port}", host.to_ascii_lowercase()), target);
        }
        let proxy = match upstream_proxy {
            None => None,
            Some(u) => {
                let rest = u
                    .strip_prefix("http://")
                    .ok_or_else(|| UpstreamError::ProxyUrl(u.into()))?;
                let hostport = rest.trim_end_matches('/');
                if !hostport.contains(':') || hostport.contains('/') {
                    return Err(UpstreamError::ProxyUrl(u.into()));
                }
                Some(hostport.to_string())
            }
        };
        Ok(Routes { overrides, proxy })
    }

    /// Opens a TCP connection to `host:port` (through the upstream proxy if one is set), with
    /// TCP_NODELAY.
    pub async fn connect(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        let key = format!("{}:{port}", host.trim_end_matches('.').to_ascii_lowercase());
        let target = self.overrides.get(&key).cloned().unwrap_or(key);
        let stream = match &self.proxy {
            None => TcpStream::connect(&target).await?,
            Some(proxy) => {
                let mut s = TcpStream::connect(proxy).await?;
                s.set_nodelay(true)?;
                s.write_all(
                    format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes(),
                )
                .await?;
                let mut head = Vec::with_capacity(256);
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if head.len() > 16 << 10 || s.read(&mut byte).await? == 0 {
                        return Err(io::Error::other(
                            "the upstream proxy closed the connection during CONNECT",
                        ));
                    }
                    head.push(byte[0]);
                }
                let status = head.split(|&b| b == b' ').nth(1).unwrap_or_default();
                if !status.starts_with(b"2") {
                    return Err(io::Error::other(format!(
                        "the upstream proxy refused CONNECT {target}: {}",
                        String::from_utf8_lossy(
                            head.split(|&b| b == b'\r').next().unwrap_or_default()
                        )
                    )));
                }
                s
            }
        };
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// The TCP half of the upstream connector, for hyper-rustls to wrap.
#[derive(Debug, Clone)]
pub struct RoutedConnector(pub Arc<Routes>);

impl tower_service::Service<Uri> for RoutedConnector {
    type Response = TokioIo<TcpStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let routes = Arc::clone(&self.0);
        Box::pin(async move {
            let host = uri
                .host()
                .ok_or_else(|| io::Error::other("request without a host"))?
                .to_string();
            let port = uri
                .port_u16()
                .unwrap_or(if uri.scheme_str() == Some("http") {
                    80
                } else {
                    443
                });
            routes
                .connect(host.trim_start_matches('[').trim_end_matches(']'), port)
                .await
                .map(TokioIo::new)
        })
    }
}

/// TLS to the real servers: the platform's roots plus `extra_roots` PEM files.
pub fn client_tls(extra_roots: &[impl AsRef<Path>]) -> Result<ClientConfig, UpstreamError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    for path in extra_roots {
        let path = path.as_ref();
        let fail = |message: String| UpstreamError::Ca {
            path: path.display().to_string(),
            message,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| fail(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| fail(e.to_string()))?;
        if certs.is_empty() {
            return Err(fail("no PEM certificate in the file".into()));
        }
        for c in certs {
            roots.add(c).map_err(|e| fail(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_entries_like_curls() {
        let r = Routes::new(
            &[
                "api.openai.com:443:127.0.0.1:8443".into(),
                "Claude.ai:443:127.0.0.2".into(),
                "v6.test:443:::1".into(),
            ],
            None,
        )
        .unwrap();
        assert_eq!(r.overrides["api.openai.com:443"], "127.0.0.1:8443");
        assert_eq!(r.overrides["claude.ai:443"], "127.0.0.2:443");
        assert_eq!(r.overrides["v6.test:443"], "[::1]:443");
        for bad in ["x", "x:y:1.2.3.4", "h:443:not-an-ip"] {
            assert!(Routes::new(&[bad.to_string()], None).is_err(), "{bad}");
        }
        assert!(Routes::new(&[], Some("https://p:1")).is_err());
        assert_eq!(
            Routes::new(&[], Some("http://proxy.corp:3128"))
                .unwrap()
                .proxy
                .as_deref(),
            Some("proxy.corp:3128")
        );
    }
}

/// The result of a conditional GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// 304: the copy we hold is current.
    NotModified,
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
    },
}

/// A conditional HTTPS GET (If-None-Match) through the same routes and roots as the guard's
/// upstream connections, for pulling a policy. Bodies over `limit` bytes are refused.
pub async fn fetch(
    routes: Arc<Routes>,
    tls: ClientConfig,
    url: &str,
    etag: Option<&str>,
    limit: usize,
) -> Result<Fetched, String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!("`{url}`: only https:// URLs are pulled"));
    }
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .wrap_connector(RoutedConnector(routes));
    let client: hyper_util::client::legacy::Client<_, http_body_util::Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(https);
    let mut req = hyper::Request::get(uri).header("user-agent", "leakguard-policy-pull");
    if let Some(tag) = etag {
        req = req.header("if-none-match", tag);
    }
    let req = req
        .body(http_body_util::Empty::new())
        .map_err(|e| e.to_string())?;
    let res = tokio::time::timeout(std::time::Duration::from_secs(30), client.request(req))
        .await
        .map_err(|_| format!("{url}: no answer within 30 s"))?
        .map_err(|e| format!("{url}: {e}"))?;
    match res.status().as_u16() {
        304 => Ok(Fetched::NotModified),
        200 => {
            let etag = res
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = crate::body::collect(res.into_body(), None, limit)
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            Ok(Fetched::Body {
                bytes: body.to_vec(),
                etag,
            })
        }
        s => Err(format!("{url}: the server answered {s}")),
    }
}

/// Whether `host:443` answers the way the guard would reach it (its routes: `--resolve`,
/// `--upstream-proxy`; its upstream TLS roots) within `timeout`. `Err` says what failed, in
/// words for the Health view.
pub async fn reach(
    routes: &Routes,
    tls: &std::sync::Arc<ClientConfig>,
    host: &str,
    timeout: std::time::Duration,
) -> Result<(), String> {
    let attempt = async {
        let tcp = routes.connect(host, 443).await.map_err(|e| {
            format!(
                "cannot connect to {host}:443 ({e}); check the network, DNS or the upstream proxy"
            )
        })?;
        let name = rustls_pki_types::ServerName::try_from(host.to_string())
            .map_err(|_| format!("{host} is not a valid host name"))?;
        tokio_rustls::TlsConnector::from(std::sync::Arc::clone(tls))
            .connect(name, tcp)
            .await
            .map_err(|e| {
                format!(
                    "TLS with {host} failed ({e}); a network device that inspects TLS may be in the way"
                )
            })?;
        Ok(())
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{host}:443 did not answer within {} s; check the network or the upstream proxy",
            timeout.as_secs()
        )),
    }
}
