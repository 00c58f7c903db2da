//! SIEM forwarding against real receivers on loopback: an HTTPS Splunk-HEC-style collector, a
//! webhook and an OTLP/HTTP endpoint (small servers here), and Debian's rsyslog for syslog
//! over UDP, TCP and TLS (its GnuTLS driver). Each receiver is stopped mid-run and started
//! again: every event arrives, none is dropped, the outbox stays within its bound.

use leakguard_agent::siem::{target_key, Forwarders};
use leakguard_policy::{SiemKind, SiemTarget};
use leakguard_store::fixtures::sample_event;
use leakguard_store::{Outbox, Recorder, RecorderOptions};
use leakguard_testkit::TestCa;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BASE: i64 = 1_790_000_000_000;

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Request bodies a receiver got, with their Authorization header.
type Got = Arc<Mutex<Vec<(String, String, String)>>>;

/// A small HTTP(S) receiver: answers 200 to every POST and keeps (path, auth, body).
struct Receiver {
    port: u16,
    tls: Option<Arc<rustls::ServerConfig>>,
    got: Got,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(port: u16, tls: Option<Arc<rustls::ServerConfig>>, got: Got) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, got, tls) = (Arc::clone(&stop), Arc::clone(&got), tls.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let _ = serve_one(conn, tls.as_ref(), &got);
                }
            })
        };
        Receiver {
            port,
            tls,
            got,
            stop,
            thread: Some(thread),
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        self.thread.take().unwrap().join().unwrap();
    }

    fn restart(&mut self) {
        *self = Receiver::start(self.port, self.tls.clone(), Arc::clone(&self.got));
    }
}

fn serve_one(
    conn: TcpStream,
    tls: Option<&Arc<rustls::ServerConfig>>,
    got: &Got,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut stream: Box<dyn ReadWrite> = match tls {
        Some(cfg) => Box::new(rustls::StreamOwned::new(
            rustls::ServerConnection::new(Arc::clone(cfg)).map_err(std::io::Error::other)?,
            conn,
        )),
        None => Box::new(conn),
    };
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let len: usize = header("content-length").parse().unwrap_or(0);
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
    got.lock()
        .unwrap()
        .push((path, header("authorization"), body));
    stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")?;
    stream.flush()
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Event ids that occur in `text`, among `0..n` of this test's events.
fn ids_in(text: &str, n: u64) -> HashSet<u64> {
    (0..n)
        .filter(|i| text.contains(&sample_event(*i, BASE).id))
        .collect()
}

fn record(recorder: &Recorder, range: std::ops::Range<u64>) {
    for i in range {
        recorder.record(sample_event(i, BASE));
    }
    recorder.flush().unwrap();
}

/// A recorder that queues every event for `targets`.
fn recorder_for(db: &Path, targets: &[SiemTarget]) -> Recorder {
    Recorder::start(
        db,
        RecorderOptions {
            targets: targets.iter().map(target_key).collect(),
            ..RecorderOptions::default()
        },
    )
    .unwrap()
}

fn pending(db: &Path) -> u64 {
    Outbox::open(db)
        .unwrap()
        .states()
        .unwrap()
        .iter()
        .map(|s| s.pending)
        .sum()
}

fn failing(db: &Path, n: usize) -> bool {
    Outbox::open(db)
        .unwrap()
        .states()
        .unwrap()
        .iter()
        .filter(|s| s.last_error.is_some())
        .count()
        >= n
}

#[test]
fn http_targets_get_every_event_across_a_receiver_outage() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("siem test CA");
    let ca_file = dir.path().join("ca.pem");
    ca.write_pem(&ca_file);
    let token_file = dir.path().join("hec.token");
    std::fs::write(&token_file, "hec-token-123\n").unwrap();
    let tls = Arc::new(ca.server_config(&["localhost"]));
    let (hec_got, hook_got, otlp_got): (Got, Got, Got) = Default::default();
    let mut hec = Receiver::start(0, Some(tls), Arc::clone(&hec_got));
    let mut hook = Receiver::start(0, None, Arc::clone(&hook_got));
    let mut otlp = Receiver::start(0, None, Arc::clone(&otlp_got));
    let targets = vec![
        SiemTarget {
            kind: SiemKind::SplunkHec,
            address: format!("https://localhost:{}", hec.port),
            token_file: Some(token_file.display().to_string()),
            ca_file: Some(ca_file.display().to_string()),
        },
        SiemTarget {
            kind: SiemKind::Webhook,
            address: format!("http://127.0.0.1:{}/leakguard", hook.port),
            token_file: Some(token_file.display().to_string()),
            ca_file: None,
        },
        SiemTarget {
            kind: SiemKind::OtlpHttp,
            address: format!("http://127.0.0.1:{}", otlp.port),
            token_file: None,
            ca_file: None,
        },
    ];
    let db = dir.path().join("events.db");
    let recorder = recorder_for(&db, &targets);
    let forwarders = Forwarders::start(&db, &targets, "laptop-7").unwrap();
    let all = |got: &Got| {
        got.lock()
            .unwrap()
            .iter()
            .map(|(_, _, b)| b.clone())
            .collect::<Vec<_>>()
            .join("\n")
    };
    record(&recorder, 0..300);
    wait_until(
        "the first 300 events at every receiver",
        Duration::from_secs(30),
        || {
            [&hec_got, &hook_got, &otlp_got]
                .iter()
                .all(|g| ids_in(&all(g), 300).len() == 300)
        },
    );

    // Outage: events queue up, the forwarders record why they cannot deliver.
    hec.stop();
    hook.stop();
    otlp.stop();
    record(&recorder, 300..600);
    wait_until(
        "the forwarders to notice the outage",
        Duration::from_secs(30),
        || failing(&db, 3),
    );
    assert!(pending(&db) > 0, "undelivered events wait in the outbox");
    hec.restart();
    hook.restart();
    otlp.restart();
    wait_until(
        "all 600 events at every receiver",
        Duration::from_secs(60),
        || {
            [&hec_got, &hook_got, &otlp_got]
                .iter()
                .all(|g| ids_in(&all(g), 600).len() == 600)
        },
    );
    wait_until("an empty outbox", Duration::from_secs(10), || {
        pending(&db) == 0
    });
    let states = Outbox::open(&db).unwrap().states().unwrap();
    for s in &states {
        assert_eq!(s.dropped, 0, "{}: nothing dropped", s.target);
        assert!(s.delivered >= 600, "{}: {}", s.target, s.delivered);
        assert!(
            s.last_error.is_none(),
            "{}: a success clears the error",
            s.target
        );
    }

    // Formats and auth as each target expects.
    let hec_reqs = hec_got.lock().unwrap().clone();
    assert!(hec_reqs
        .iter()
        .all(|(p, a, _)| p == "/services/collector/event" && a == "Splunk hec-token-123"));
    let first: serde_json::Value = serde_json::Deserializer::from_str(&hec_reqs[0].2)
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(first["sourcetype"], "leakguard:event");
    assert_eq!(first["event"]["id"], sample_event(0, BASE).id);
    let hook_reqs = hook_got.lock().unwrap().clone();
    assert!(hook_reqs
        .iter()
        .all(|(p, a, _)| p == "/leakguard" && a == "Bearer hec-token-123"));
    let arr: Vec<serde_json::Value> = serde_json::from_str(&hook_reqs[0].2).unwrap();
    assert!(!arr.is_empty());
    let otlp_reqs = otlp_got.lock().unwrap().clone();
    assert!(otlp_reqs.iter().all(|(p, _, _)| p == "/v1/logs"));
    let logs: serde_json::Value = serde_json::from_str(&otlp_reqs[0].2).unwrap();
    assert_eq!(
        logs["resourceLogs"][0]["resource"]["attributes"][1]["value"]["stringValue"],
        "laptop-7"
    );
    // No event holds a raw secret to begin with; the payloads carry masked previews only.
    assert!(!all(&hec_got).contains("AKIAQYLPMN5HJNGY4F7A"));
    forwarders.stop();
}

/// One rsyslogd with its own config, work dir and output file.
struct Rsyslog {
    dir: PathBuf,
    child: Option<Child>,
    port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn rsyslogd() -> &'static str {
    if Path::new("/usr/sbin/rsyslogd").exists() {
        "/usr/sbin/rsyslogd"
    } else {
        "rsyslogd"
    }
}

impl Rsyslog {
    /// `tls`: (CA, cert, key) files for the GnuTLS driver; otherwise plain TCP and UDP.
    fn start(dir: &Path, tls: Option<(&Path, &Path, &Path)>) -> Rsyslog {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let work = dir.join("work");
        std::fs::create_dir_all(&work).unwrap();
        // The configurations live in tests/rsyslog/; only paths and the port are filled in.
        let template = match tls {
            Some(_) => include_str!("rsyslog/tls.conf"),
            None => include_str!("rsyslog/plain.conf"),
        };
        let mut conf = template
            .replace("@WORK@", &work.display().to_string())
            .replace("@PORT@", &port.to_string())
            .replace("@OUT@", &dir.join("out.log").display().to_string());
        if let Some((ca, cert, key)) = tls {
            conf = conf
                .replace("@CA@", &ca.display().to_string())
                .replace("@CERT@", &cert.display().to_string())
                .replace("@KEY@", &key.display().to_string());
        }
        assert!(!conf.contains('@'), "every placeholder filled: {conf}");
        std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
        let mut r = Rsyslog {
            dir: dir.to_path_buf(),
            child: None,
            port,
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let child = Command::new(rsyslogd())
            .arg("-n")
            .arg("-f")
            .arg(self.dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(self.dir.join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rsyslogd runs (scripts/setup.sh installs rsyslog and rsyslog-gnutls)");
        self.child = Some(child);
        let port = self.port;
        wait_until("rsyslogd to listen", Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            c.wait().unwrap();
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.dir.join("out.log")).unwrap_or_default()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn rsyslog_gets_every_event_over_tcp_and_tls_across_a_restart_and_udp_too() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("syslog test CA");
    let (ca_file, cert_file, key_file) = (
        dir.path().join("ca.pem"),
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
    );
    ca.write_pem(&ca_file);
    let (cert, key) = ca.leaf_pem(&["localhost"]);
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    let mut plain = Rsyslog::start(&dir.path().join("plain"), None);
    let mut tls = Rsyslog::start(
        &dir.path().join("tls"),
        Some((&ca_file, &cert_file, &key_file)),
    );
    let udp_dir = dir.path().join("udp-only");
    let targets = vec![
        SiemTarget {
            kind: SiemKind::SyslogTcp,
            address: format!("127.0.0.1:{}", plain.port),
            token_file: None,
            ca_file: None,
        },
        SiemTarget {
            kind: SiemKind::SyslogTls,
            address: format!("localhost:{}", tls.port),
            token_file: None,
            ca_file: Some(ca_file.display().to_string()),
        },
    ];
    let db = dir.path().join("events.db");
    let recorder = recorder_for(&db, &targets);
    let forwarders = Forwarders::start(&db, &targets, "laptop-7").unwrap();
    record(&recorder, 0..200);
    wait_until(
        "200 events in both rsyslogs",
        Duration::from_secs(30),
        || ids_in(&plain.output(), 200).len() == 200 && ids_in(&tls.output(), 200).len() == 200,
    );
    plain.stop();
    tls.stop();
    record(&recorder, 200..400);
    wait_until("the forwarders to notice", Duration::from_secs(30), || {
        failing(&db, 2)
    });
    plain.spawn();
    tls.spawn();
    wait_until(
        "400 events in both rsyslogs",
        Duration::from_secs(60),
        || ids_in(&plain.output(), 400).len() == 400 && ids_in(&tls.output(), 400).len() == 400,
    );
    wait_until("an empty outbox", Duration::from_secs(10), || {
        pending(&db) == 0
    });
    for s in Outbox::open(&db).unwrap().states().unwrap() {
        assert_eq!(s.dropped, 0, "{}", s.target);
    }
    // What rsyslog stored is RFC 5424 with our structured data and the event as JSON.
    let line = plain
        .output()
        .lines()
        .find(|l| l.contains(&sample_event(0, BASE).id))
        .unwrap()
        .to_string();
    assert!(line.starts_with("<"), "{line}");
    assert!(
        line.contains(" laptop-0042 leakguard - blocked [leakguard@32473 id=\""),
        "{line}"
    );
    forwarders.stop();

    // UDP: fire and forget, one datagram per event, to the plain instance.
    let udp_target = vec![SiemTarget {
        kind: SiemKind::SyslogUdp,
        address: format!("127.0.0.1:{}", plain.port),
        token_file: None,
        ca_file: None,
    }];
    let udp_db = udp_dir.join("events.db");
    let udp_recorder = recorder_for(&udp_db, &udp_target);
    let udp = Forwarders::start(&udp_db, &udp_target, "laptop-7").unwrap();
    let mut tagged = Vec::new();
    for i in 0..50u64 {
        let mut e = sample_event(i, BASE);
        e.id = format!("udp-{i:04}");
        tagged.push(e.id.clone());
        udp_recorder.record(e);
    }
    udp_recorder.flush().unwrap();
    wait_until("50 UDP events in rsyslog", Duration::from_secs(30), || {
        let out = plain.output();
        tagged
            .iter()
            .all(|id| out.contains(&format!("id=\"{id}\"")))
    });
    udp.stop();
}
