//! SIEM forwarding: one thread per target drains that target's outbox in the event store,
//! oldest first, and removes events only once the target took them (at-least-once; event ids
//! are stable, so a SIEM can drop the rare duplicate). Failures back off exponentially (1 s to
//! 30 s, with jitter); a target down for days fills its bounded outbox, whose oldest entries
//! are then dropped and counted (`leakguard events targets`).
//!
//! Formats: syslog RFC 5424 (UDP one message per datagram; TCP and TLS octet-counted, RFC
//! 6587/5425) with the event as JSON in MSG and key fields as structured data; Splunk HEC;
//! a generic JSON webhook; OpenTelemetry logs over OTLP/HTTP in its JSON encoding.

use crate::AgentError;
use leakguard_policy::{SiemKind, SiemTarget};
use leakguard_store::{Outbox, OutboxItem};
use leakguard_types::Event;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// The outbox key of a target: kind and address.
pub fn target_key(t: &SiemTarget) -> String {
    let kind = serde_json::to_value(t.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    format!("{kind}:{}", t.address)
}

const BATCH: usize = 200;
const IDLE_POLL: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The running forwarders.
#[derive(Debug)]
pub struct Forwarders {
    threads: Vec<std::thread::JoinHandle<()>>,
    wakers: Vec<mpsc::SyncSender<()>>,
    stop: Arc<AtomicBool>,
}

impl Forwarders {
    /// Starts one forwarder per target on the database at `db`. Token and CA files are read
    /// here, so a wrong path fails at start with the target named.
    ///
    /// # Errors
    /// A target's token or CA file cannot be read, its address does not parse, or the
    /// database cannot be opened.
    pub fn start(
        db: &Path,
        targets: &[SiemTarget],
        device: &str,
    ) -> Result<Forwarders, AgentError> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let mut wakers = Vec::new();
        for t in targets {
            let key = target_key(t);
            let transport = Transport::new(t, device).map_err(|message| AgentError::Target {
                target: key.clone(),
                message,
            })?;
            let outbox = Outbox::open(db)?;
            let (wake_tx, wake_rx) = mpsc::sync_channel(1);
            wakers.push(wake_tx);
            let stop = Arc::clone(&stop);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("leakguard-siem-{}", threads.len()))
                    .spawn(move || forward(key, transport, outbox, wake_rx, stop))?,
            );
        }
        Ok(Forwarders {
            threads,
            wakers,
            stop,
        })
    }

    /// Wake-up senders to hand to the [`crate::Hub`].
    pub fn wakers(&self) -> Vec<mpsc::SyncSender<()>> {
        self.wakers.clone()
    }

    /// Stops the forwarders (what is not delivered stays in the outbox for the next run).
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        for w in &self.wakers {
            let _ = w.try_send(());
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn forward(
    key: String,
    mut transport: Transport,
    mut outbox: Outbox,
    wake: mpsc::Receiver<()>,
    stop: Arc<AtomicBool>,
) {
    let mut backoff = Duration::ZERO;
    let mut batch_limit = BATCH;
    while !stop.load(Ordering::SeqCst) {
        let items = match outbox.next(&key, batch_limit) {
            Ok(items) => items,
            Err(e) => {
                eprintln!("leakguard: SIEM {key}: cannot read the outbox: {e}");
                Vec::new()
            }
        };
        if items.is_empty() {
            let _ = wake.recv_timeout(IDLE_POLL);
            continue;
        }
        let events: Vec<&Event> = items.iter().filter_map(|i| i.event.as_ref()).collect();
        let result = if events.is_empty() {
            Ok(())
        } else {
            transport.send(&events)
        };
        match result {
            Ok(()) => {
                backoff = Duration::ZERO;
                batch_limit = BATCH;
                if let Err(e) = outbox.ack(&key, &items) {
                    eprintln!("leakguard: SIEM {key}: cannot update the outbox: {e}");
                }
            }
            Err(Failure::Rejected(why)) if items.len() == 1 => {
                // The target refuses this one event for good: drop it, counted, and go on.
                eprintln!("leakguard: SIEM {key}: event refused, dropped: {why}");
                let gone = [OutboxItem {
                    seq: items[0].seq,
                    event: None,
                }];
                let _ = outbox.ack(&key, &gone);
                let _ = outbox.failed(&key, &format!("event refused: {why}"));
                batch_limit = BATCH;
            }
            Err(Failure::Rejected(_)) => {
                // Find the one event it objects to.
                batch_limit = 1;
            }
            Err(Failure::Retry(why)) => {
                let _ = outbox.failed(&key, &why);
                backoff = (backoff * 2).clamp(Duration::from_secs(1), MAX_BACKOFF);
                let jittered = backoff.mul_f64(0.8 + 0.4 * jitter());
                // Waits for the back-off or a stop, whichever comes first.
                let _ = wait_or_stop(&wake, &stop, jittered);
            }
        }
    }
}

fn wait_or_stop(wake: &mpsc::Receiver<()>, stop: &AtomicBool, total: Duration) -> bool {
    let deadline = std::time::Instant::now() + total;
    while !stop.load(Ordering::SeqCst) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return true;
        }
        // Wake-ups from new events do not cut a back-off short; only `stop` does.
        let _ = wake.recv_timeout(left.min(Duration::from_millis(250)));
    }
    false
}

fn jitter() -> f64 {
    let mut b = [0u8; 2];
    let _ = getrandom::getrandom(&mut b);
    f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX)
}

enum Failure {
    /// Try again later (network, 5xx, 429, auth).
    Retry(String),
    /// The target refuses the content (4xx other than 408/429/401/403).
    Rejected(String),
}

enum Transport {
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

trait Stream: Read + Write + Send {
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
    fn new(t: &SiemTarget, device: &str) -> Result<Transport, String> {
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

    fn send(&mut self, events: &[&Event]) -> Result<(), Failure> {
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
                    _ => serde_json::to_string(events).expect("events serialise"),
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

/// `<PRI>1 TIME HOST leakguard - MSGID [SD] JSON` (RFC 5424). Facility 13 (log audit);
/// severity warning for blocks, notice for warn/redact, informational otherwise. The SD-ID
/// uses the documentation enterprise number 32473 until Leakguard has its own.
pub fn syslog_message(e: &Event, device: &str) -> String {
    let severity = match e.outcome.as_str() {
        "blocked" | "refused" => 4,
        "warned" | "redacted" | "overridden" => 5,
        _ => 6,
    };
    let host = if e.device.is_empty() {
        device
    } else {
        &e.device
    };
    let rules: Vec<&str> = e.rules.iter().map(|r| r.rule.as_str()).collect();
    format!(
        "<{}>1 {} {} leakguard - {} [leakguard@32473 id=\"{}\" host=\"{}\" verdict=\"{}\" outcome=\"{}\" rules=\"{}\"] {}",
        13 * 8 + severity,
        if e.time.is_empty() { "-" } else { &e.time },
        header_token(host),
        header_token(if e.outcome.is_unset() {
            e.kind.as_str()
        } else {
            e.outcome.as_str()
        }),
        sd_escape(&e.id),
        sd_escape(&e.host),
        sd_escape(e.verdict.as_str()),
        sd_escape(e.outcome.as_str()),
        sd_escape(&rules.join(",")),
        serde_json::to_string(e).expect("events serialise")
    )
}

/// A header field: printable ASCII without spaces, `-` when empty.
fn header_token(s: &str) -> String {
    let t: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    if t.is_empty() {
        "-".into()
    } else {
        t
    }
}

fn sd_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn epoch_seconds(e: &Event) -> f64 {
    leakguard_store::parse_time(&e.time).unwrap_or(0) as f64 / 1000.0
}

/// Splunk HEC: one JSON object per event, concatenated.
pub fn hec_body(events: &[&Event], device: &str) -> String {
    let mut out = String::new();
    for e in events {
        let host = if e.device.is_empty() {
            device
        } else {
            &e.device
        };
        out.push_str(
            &serde_json::json!({
                "time": epoch_seconds(e),
                "host": host,
                "source": "leakguard",
                "sourcetype": "leakguard:event",
                "event": e,
            })
            .to_string(),
        );
    }
    out
}

/// OTLP/HTTP logs, JSON encoding: one resource (this device), one scope, a record per event
/// with the event as the body and key fields as attributes.
pub fn otlp_body(events: &[&Event], device: &str) -> String {
    let attr = |k: &str, v: &str| serde_json::json!({"key": k, "value": {"stringValue": v}});
    let records: Vec<serde_json::Value> = events
        .iter()
        .map(|e| {
            let (num, text) = match e.outcome.as_str() {
                "blocked" | "refused" => (13, "WARN"),
                "warned" | "redacted" | "overridden" => (10, "INFO2"),
                _ => (9, "INFO"),
            };
            let nanos = leakguard_store::parse_time(&e.time).unwrap_or(0) as i128 * 1_000_000;
            serde_json::json!({
                "timeUnixNano": nanos.to_string(),
                "severityNumber": num,
                "severityText": text,
                "body": {"stringValue": serde_json::to_string(e).expect("events serialise")},
                "attributes": [
                    attr("leakguard.event.id", &e.id),
                    attr("leakguard.outcome", e.outcome.as_str()),
                    attr("leakguard.verdict", e.verdict.as_str()),
                    attr("server.address", &e.host),
                    attr("leakguard.rules", &e.rules.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>().join(",")),
                ],
            })
        })
        .collect();
    serde_json::json!({
        "resourceLogs": [{
            "resource": {"attributes": [attr("service.name", "leakguard"), attr("host.name", device)]},
            "scopeLogs": [{"scope": {"name": "leakguard"}, "logRecords": records}],
        }]
    })
    .to_string()
}

/// An `http(s)://host:port/path` address.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    https: bool,
    host: String,
    port: u16,
    path: String,
}

impl Url {
    fn parse(s: &str) -> Result<Url, String> {
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
    use leakguard_types::RuleCount;

    fn event() -> Event {
        Event {
            id: "0123abcd".into(),
            time: "2026-11-21T13:07:22.123Z".into(),
            kind: leakguard_types::EventKind::Request,
            host: "chatgpt.com".into(),
            verdict: leakguard_types::EventVerdict::Block,
            outcome: leakguard_types::Outcome::Blocked,
            rules: vec![RuleCount {
                rule: "aws-secret-access-key".into(),
                category: "secret".into(),
                action: "block".into(),
                count: 1,
            }],
            previews: vec!["wJal…KEY\"]".into()],
            ..Event::default()
        }
    }

    #[test]
    fn syslog_lines_follow_rfc5424_with_escaped_structured_data() {
        let mut e = event();
        e.rules[0].rule = "odd\"rule]".into();
        let line = syslog_message(&e, "laptop 7");
        assert!(
            line.starts_with("<108>1 2026-11-21T13:07:22.123Z laptop7 leakguard - blocked [leakguard@32473 id=\"0123abcd\" host=\"chatgpt.com\""),
            "{line}"
        );
        assert!(line.contains(r#"rules="odd\"rule\]"]"#), "{line}");
        let json = &line[line.find("] {").unwrap() + 2..];
        let back: Event = serde_json::from_str(json).unwrap();
        assert_eq!(back.id, "0123abcd");
    }

    #[test]
    fn hec_and_otlp_bodies_carry_every_event() {
        let e = event();
        let hec = hec_body(&[&e, &e], "dev");
        let objects: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&hec)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0]["sourcetype"], "leakguard:event");
        assert_eq!(objects[0]["time"], 1_795_266_442.123);
        assert_eq!(
            objects[0]["event"]["rules"][0]["rule"],
            "aws-secret-access-key"
        );
        let otlp: serde_json::Value = serde_json::from_str(&otlp_body(&[&e], "dev")).unwrap();
        let rec = &otlp["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
        assert_eq!(rec["timeUnixNano"], "1795266442123000000");
        assert_eq!(rec["severityNumber"], 13);
        assert_eq!(rec["attributes"][0]["value"]["stringValue"], "0123abcd");
    }

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
