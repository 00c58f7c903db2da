//! Moving a batch to a target: syslog over UDP (a datagram per message), TCP or TLS
//! (octet-counted frames, RFC 6587/5425), and one HTTP(S) POST per batch for the JSON formats.

use super::*;

pub(super) enum Transport {
    SyslogUdp {
        addr: String,
        device: String,
    },
    SyslogStream {
        addr: String,
        tls: Option<(
            Arc<rustls::ClientConfig>,
            rustls_pki_types::ServerName<'static>,
        )>,
        device: String,
        conn: Option<Box<dyn Stream>>,
    },
    Http {
        kind: SiemKind,
        url: Url,
        tls: Option<Arc<rustls::ClientConfig>>,
        token: Option<String>,
        device: String,
    },
}

pub(super) trait Stream: Read + Write + Send {
    fn tcp(&self) -> &TcpStream;
}

impl Stream for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Stream for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
}

impl Transport {
    pub(super) fn new(t: &SiemTarget, device: &str) -> Result<Transport, String> {
        let token = match &t.token_file {
            Some(f) => Some(
                std::fs::read_to_string(f)
                    .map_err(|e| format!("cannot read token_file {f}: {e}"))?
                    .trim()
                    .to_string(),
            ),
            None => None,
        };
        let tls_config = || -> Result<Arc<rustls::ClientConfig>, String> {
            let extra: Vec<PathBuf> = t.ca_file.iter().map(PathBuf::from).collect();
            leakguard_proxy::upstream::client_tls(&extra)
                .map(Arc::new)
                .map_err(|e| e.to_string())
        };
        let device = device.to_string();
        Ok(match t.kind {
            SiemKind::SyslogUdp => Transport::SyslogUdp {
                addr: t.address.clone(),
                device,
            },
            SiemKind::SyslogTcp | SiemKind::SyslogTls => {
                let tls = if t.kind == SiemKind::SyslogTls {
                    let host = t
                        .address
                        .rsplit_once(':')
                        .map_or(t.address.as_str(), |(h, _)| h)
                        .trim_matches(['[', ']']);
                    let name = rustls_pki_types::ServerName::try_from(host.to_string())
                        .map_err(|e| format!("bad host in {}: {e}", t.address))?;
                    Some((tls_config()?, name))
                } else {
                    None
                };
                Transport::SyslogStream {
                    addr: t.address.clone(),
                    tls,
                    device,
                    conn: None,
                }
            }
            SiemKind::SplunkHec | SiemKind::Webhook | SiemKind::OtlpHttp => {
                let mut url = Url::parse(&t.address)?;
                if url.path == "/" {
                    url.path = match t.kind {
                        SiemKind::SplunkHec => "/services/collector/event".into(),
                        SiemKind::OtlpHttp => "/v1/logs".into(),
                        _ => "/".into(),
                    };
                }
                let tls = if url.https { Some(tls_config()?) } else { None };
                Transport::Http {
                    kind: t.kind,
                    url,
                    tls,
                    token,
                    device,
                }
            }
        })
    }

    pub(super) fn send(&mut self, events: &[&Event]) -> Result<(), Failure> {
        match self {
            Transport::SyslogUdp { addr, device } => {
                let sock = UdpSocket::bind(if addr.starts_with('[') {
                    "[::]:0"
                } else {
                    "0.0.0.0:0"
                })
                .map_err(|e| Failure::Retry(e.to_string()))?;
                for e in events {
                    let mut msg = syslog_message(e, device);
                    // Stay within one datagram (RFC 5426 lets receivers cut at 2048).
                    msg.truncate(8 * 1024);
                    sock.send_to(msg.as_bytes(), addr.as_str())
                        .map_err(|e| Failure::Retry(format!("syslog udp {addr}: {e}")))?;
                }
                Ok(())
            }
            Transport::SyslogStream {
                addr,
                tls,
                device,
                conn,
            } => {
                let mut frames = Vec::new();
                for e in events {
                    let msg = syslog_message(e, device);
                    frames.extend_from_slice(format!("{} {msg}", msg.len()).as_bytes());
                }
                // A connection the receiver closed since the last batch is replaced first.
                if conn
                    .as_ref()
                    .is_some_and(|c| !still_open(c.tcp(), Duration::ZERO))
                {
                    *conn = None;
                }
                if conn.is_none() {
                    *conn = Some(connect_stream(addr, tls.as_ref())?);
                }
                let c = conn.as_mut().expect("connected");
                let written = c.write_all(&frames).and_then(|()| c.flush());
                // TCP accepts bytes a dying receiver will never read: only a connection
                // still open a moment after the write counts as delivery. Otherwise the
                // batch is sent again (at-least-once).
                if written.is_err() || !still_open(c.tcp(), Duration::from_millis(100)) {
                    *conn = None;
                    return Err(Failure::Retry(format!(
                        "syslog {addr}: connection lost while sending"
                    )));
                }
                Ok(())
            }
            Transport::Http {
                kind,
                url,
                tls,
                token,
                device,
            } => {
                let body = match kind {
                    SiemKind::SplunkHec => hec_body(events, device),
                    SiemKind::OtlpHttp => otlp_body(events, device),
                    _ => webhook_body(events),
                };
                let auth = token.as_ref().map(|t| match kind {
                    SiemKind::SplunkHec => format!("Splunk {t}"),
                    _ => format!("Bearer {t}"),
                });
                let status = http_post(url, tls.as_ref(), auth.as_deref(), &body)?;
                match status {
                    200..=299 => Ok(()),
                    401 | 403 => Err(Failure::Retry(format!(
                        "HTTP {status}: the target refused the token (check token_file)"
                    ))),
                    408 | 429 | 500..=599 => Err(Failure::Retry(format!("HTTP {status}"))),
                    _ => Err(Failure::Rejected(format!("HTTP {status}"))),
                }
            }
        }
    }
}

fn connect_stream(
    addr: &str,
    tls: Option<&(
        Arc<rustls::ClientConfig>,
        rustls_pki_types::ServerName<'static>,
    )>,
) -> Result<Box<dyn Stream>, Failure> {
    let retry = |e: std::io::Error| Failure::Retry(format!("{addr}: {e}"));
    // Every address the name has (localhost: ::1 and 127.0.0.1), first that answers.
    let mut last = None;
    let mut tcp = None;
    for sa in addr.to_socket_addrs().map_err(retry)? {
        match TcpStream::connect_timeout(&sa, IO_TIMEOUT) {
            Ok(t) => {
                tcp = Some(t);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = match (tcp, last) {
        (Some(t), _) => t,
        (None, Some(e)) => return Err(retry(e)),
        (None, None) => return Err(Failure::Retry(format!("{addr}: no address"))),
    };
    tcp.set_write_timeout(Some(IO_TIMEOUT)).map_err(retry)?;
    tcp.set_read_timeout(Some(IO_TIMEOUT)).map_err(retry)?;
    let _ = tcp.set_nodelay(true);
    match tls {
        None => Ok(Box::new(tcp)),
        Some((config, name)) => {
            let conn = rustls::ClientConnection::new(Arc::clone(config), name.clone())
                .map_err(|e| Failure::Retry(format!("{addr}: {e}")))?;
            let mut s = rustls::StreamOwned::new(conn, tcp);
            // Handshake now, so certificate errors surface as such.
            while s.conn.is_handshaking() {
                s.conn
                    .complete_io(&mut s.sock)
                    .map_err(|e| Failure::Retry(format!("{addr}: TLS: {e}")))?;
            }
            Ok(Box::new(s))
        }
    }
}

/// True if, within `wait` (zero: right now), the receiver has neither closed nor reset the
/// connection nor sent anything: syslog receivers never talk back, so readable bytes mean a
/// TLS close or an error.
fn still_open(tcp: &TcpStream, wait: Duration) -> bool {
    let _ = if wait.is_zero() {
        tcp.set_nonblocking(true)
    } else {
        tcp.set_read_timeout(Some(wait))
    };
    let mut b = [0u8; 1];
    let open = matches!(tcp.peek(&mut b), Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut));
    let _ = tcp.set_nonblocking(false);
    let _ = tcp.set_read_timeout(Some(IO_TIMEOUT));
    open
}

/// An `http(s)://host:port/path` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Url {
    https: bool,
    host: String,
    port: u16,
    path: String,
}

impl Url {
    pub(super) fn parse(s: &str) -> Result<Url, String> {
        let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("`{s}` is not an http:// or https:// URL"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
                h.to_string(),
                p.parse().map_err(|_| format!("bad port in `{s}`"))?,
            ),
            _ => (authority.to_string(), if https { 443 } else { 80 }),
        };
        if host.is_empty() {
            return Err(format!("no host in `{s}`"));
        }
        Ok(Url {
            https,
            host,
            port,
            path: path.to_string(),
        })
    }
}

/// One POST on a fresh connection (`Connection: close`); returns the status code.
fn http_post(
    url: &Url,
    tls: Option<&Arc<rustls::ClientConfig>>,
    auth: Option<&str>,
    body: &str,
) -> Result<u16, Failure> {
    let addr = format!("{}:{}", url.host, url.port);
    let retry = |e: std::io::Error| Failure::Retry(format!("{addr}: {e}"));
    let tls_pair = match tls {
        Some(cfg) => Some((
            Arc::clone(cfg),
            rustls_pki_types::ServerName::try_from(url.host.trim_matches(['[', ']']).to_string())
                .map_err(|e| Failure::Retry(e.to_string()))?,
        )),
        None => None,
    };
    let mut s = connect_stream(&addr, tls_pair.as_ref())?;
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: leakguard\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        url.path,
        url.host,
        body.len()
    );
    if let Some(a) = auth {
        head.push_str(&format!("Authorization: {a}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).map_err(retry)?;
    s.write_all(body.as_bytes()).map_err(retry)?;
    s.flush().map_err(retry)?;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    // The status line is all that matters; read until it is complete.
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                response.extend_from_slice(&buf[..n]);
                if response.windows(2).any(|w| w == b"\r\n") || response.len() > 64 * 1024 {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(retry(e)),
        }
    }
    let line = String::from_utf8_lossy(&response);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| Failure::Retry(format!("{addr}: no HTTP status in the reply")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_default_ports_and_paths() {
        let u = Url::parse("https://splunk.corp.example:8088").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port, u.path.as_str()),
            (true, "splunk.corp.example", 8088, "/")
        );
        let u = Url::parse("http://127.0.0.1/hook?x=1").unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/hook?x=1"));
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("https://:99").is_err());
    }
}
