//! The guard under connection pressure (issue 20): a cap with a clear 503 beyond it, header
//! and body-idle timeouts that close what a client leaves hanging, and an accept loop that
//! does not spin.

use leakguard_detect::Engine;
use leakguard_policy::Policy;
use leakguard_proxy::{ca, Connections, Limits, Loaded, Running, Settings};
use leakguard_testkit::ScratchDir;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn guard(dir: &std::path::Path, connections: Connections, limits: Limits) -> Running {
    let policy = Policy::parse(include_str!("../../../policies/default.json")).unwrap();
    let engine = Engine::with_config(policy.engine_config()).unwrap();
    ca::init(&dir.join("ca"), &["api.openai.com".into()], false).unwrap();
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        ca_dir: dir.join("ca"),
        limits,
        resolve: Vec::new(),
        upstream_proxy: None,
        upstream_ca: Vec::new(),
        events: None,
        upstream_http2: false,
        clock: std::sync::Arc::new(leakguard_types::SystemClock),
        identity: leakguard_types::Identity::default(),
        connections,
    };
    leakguard_proxy::start(settings, Loaded::new(policy, engine, "test".into()))
        .await
        .unwrap()
}

/// Sends `req` on a new connection and reads until the guard closes it.
async fn exchange(addr: std::net::SocketAddr, req: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(req).await.unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

const HEALTH: &[u8] =
    b"GET /leakguard/health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n";

/// Polls until `f` holds, failing after `limit`.
async fn until<F: std::future::Future<Output = bool>>(limit: Duration, mut f: impl FnMut() -> F) {
    let start = Instant::now();
    while !f().await {
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_cap_a_client_gets_a_503_and_idle_connections_are_closed_by_the_header_timeout() {
    let dir = ScratchDir::new("lg-conns");
    let conns = Connections {
        max: 8,
        header_timeout: Duration::from_secs(1),
        ..Connections::default()
    };
    let g = guard(&dir, conns, Limits::default()).await;
    // Eight clients that connect and say nothing (and one that sends half a header line).
    let mut idle = Vec::new();
    for i in 0..8 {
        let mut s = TcpStream::connect(g.addr).await.unwrap();
        if i == 0 {
            s.write_all(b"GET /leakguard/health HTTP/1.1\r\nhost: 12")
                .await
                .unwrap();
        }
        idle.push(s);
    }
    // The ninth is told why at once, not left hanging.
    let answer = exchange(g.addr, HEALTH).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("connections open"), "{answer}");
    assert!(
        g.shared
            .counters
            .over_capacity
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    // The idle ones are closed by the header timeout...
    for (i, s) in idle.iter_mut().enumerate() {
        let mut b = [0u8; 256];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut b))
            .await
            .unwrap_or_else(|_| panic!("the guard closes idle connection {i}"))
            .unwrap_or(0);
        // hyper may answer a half-sent header with 408 before closing; never with data.
        let head = String::from_utf8_lossy(&b[..n]);
        assert!(n == 0 || head.starts_with("HTTP/1.1 408"), "{head}");
    }
    // ...and the guard answers again.
    until(Duration::from_secs(10), || async {
        exchange(g.addr, HEALTH).await.starts_with("HTTP/1.1 200")
    })
    .await;
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_to_an_llm_host_is_dropped_after_the_idle_timeout_and_recorded() {
    let dir = ScratchDir::new("lg-conns-body");
    let limits = Limits {
        idle: Duration::from_secs(1),
        ..Limits::default()
    };
    let g = guard(&dir, Connections::default(), limits).await;
    let mut s = TcpStream::connect(g.addr).await.unwrap();
    s.write_all(
        b"POST http://api.openai.com/v1/chat/completions HTTP/1.1\r\nhost: api.openai.com\r\n\
          content-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"model\":",
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("the guard gives up on the stalled body")
        .unwrap();
    let answer = String::from_utf8_lossy(&out);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let log = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    assert!(log.contains("\"outcome\":\"refused\"") && log.contains("nothing of the request body"));
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_gets_a_goaway_and_is_closed() {
    let dir = ScratchDir::new("lg-conns-h2");
    let conns = Connections {
        h2_idle: Duration::from_secs(1),
        ..Connections::default()
    };
    let g = guard(&dir, conns, Limits::default()).await;
    // HTTP/2 with prior knowledge: the preface and an empty SETTINGS frame, then nothing.
    let mut s = TcpStream::connect(g.addr).await.unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let started = Instant::now();
    // Read the guard's frames until a GOAWAY (type 7) arrives.
    let mut bytes = Vec::new();
    let saw_goaway = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return false;
            }
            bytes.extend_from_slice(&chunk[..n]);
            let mut at = 0;
            while at + 9 <= bytes.len() {
                let len = (usize::from(bytes[at]) << 16)
                    | (usize::from(bytes[at + 1]) << 8)
                    | usize::from(bytes[at + 2]);
                if bytes[at + 3] == 7 {
                    return true;
                }
                at += 9 + len;
            }
        }
    })
    .await
    .expect("a GOAWAY within 20 s");
    assert!(saw_goaway, "the guard sent GOAWAY before closing");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before the idle time"
    );
    g.stop().await;
}
