//! `leakguard-proxybench [--iters N] [--load-requests N] [--leakguard BIN [--policy FILE] |
//! --peer mitmproxy --mitmdump PATH]`: the proxy's figures, measured against a direct connection to the same
//! TLS upstream in one run (scripts/bench.sh runs it).
//!
//! The proxy under test is a separate process (so its CPU time and memory can be read from
//! /proc): by default `target/release/leakguard run` with the built-in policy; with
//! `--peer mitmproxy` the same upstream is measured through mitmdump and the regex-redaction
//! addon in bench/mitm_redact.py, for the side-by-side table.
//!
//! `--paired [--policy FILE] [--leakguard BIN] [--other-policy FILE] [--other-leakguard BIN]
//! [--rounds R] [--load-requests N]`: two guards (A, and B with the other policy or binary)
//! loaded at the same time, four keep-alive connections each, N requests each per round (4 KB
//! prompts, a small JSON reply with token counts); each guard's CPU per request from /proc and
//! B/A per round and overall. Both run under the same machine load at the same moment, so the
//! ratio holds where whole-run figures drift between runs on a shared machine.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use leakguard_testkit::{TestCa, Upstream};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Sender = http1::SendRequest<Full<Bytes>>;

struct Target {
    proxy: Option<String>,
    tls: Arc<ClientConfig>,
    upstream: String,
}

async fn open(t: &Target, host: &str) -> Sender {
    let mut tcp = match &t.proxy {
        Some(p) => {
            let mut s = TcpStream::connect(p).await.expect("proxy");
            s.set_nodelay(true).unwrap();
            s.write_all(
                format!("CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                assert_eq!(
                    s.read(&mut b).await.unwrap(),
                    1,
                    "proxy closed during CONNECT"
                );
                head.push(b[0]);
            }
            assert!(
                head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"),
                "{}",
                String::from_utf8_lossy(&head)
            );
            s
        }
        None => TcpStream::connect(&t.upstream).await.expect("upstream"),
    };
    tcp.set_nodelay(true).unwrap();
    let _ = &mut tcp;
    let tls = tokio_rustls::TlsConnector::from(Arc::clone(&t.tls))
        .connect(ServerName::try_from(host.to_string()).unwrap(), tcp)
        .await
        .expect("tls");
    let (sender, conn) = http1::handshake(TokioIo::new(tls)).await.expect("http1");
    tokio::spawn(conn);
    sender
}

async fn exchange(s: &mut Sender, host: &str, body: &Bytes) -> Duration {
    let req = Request::post("/v1/chat/completions")
        .header("host", host)
        .header("content-type", "application/json")
        .body(Full::new(body.clone()))
        .unwrap();
    s.ready().await.expect("connection ready");
    let start = Instant::now();
    let res = s.send_request(req).await.expect("response");
    assert_eq!(
        res.status(),
        200,
        "the benchmark prompt must pass the policy"
    );
    res.into_body().collect().await.unwrap();
    start.elapsed()
}

/// Text of about `bytes` bytes that starts with `tag`: every request of the benchmark sends
/// different text (the guard caches the scans of segments it has seen, so sending the same
/// prompt again would measure the cache, not the scan).
fn text(bytes: usize, tag: &str) -> String {
    let sentence = "Please review the quarterly planning notes and suggest a clearer structure for the summary section. ";
    let mut text = format!("{tag}. ");
    while text.len() < bytes {
        text.push_str(sentence);
    }
    text.truncate(bytes);
    text
}

/// A message of about `bytes` bytes as people paste them into a chat: a question, then a
/// fenced block of code (half the bytes), distinct for each `tag`.
fn message_with_code(bytes: usize, tag: &str) -> String {
    let mut code = String::from("```rust\nfn plan(input: &[u32]) -> Vec<u32> {\n");
    let mut i = 0;
    while code.len() < bytes / 2 {
        code.push_str(&format!(
            "    let value_{i} = input.iter().map(|x| x * {i}).sum::<u32>(); // step {i}\n"
        ));
        i += 1;
    }
    code.push_str("    vec![]\n}\n```");
    format!("{}\n\n{code}", text(bytes / 2, tag))
}

/// An OpenAI chat body with one user message of `bytes` bytes, distinct for each `n` (built
/// by hand: the load generator makes one per request, and the text needs no escaping).
fn prompt(bytes: usize, n: u64) -> Bytes {
    Bytes::from(format!(
        r#"{{"model":"gpt-4o","messages":[{{"role":"user","content":"{}"}}]}}"#,
        text(bytes, &format!("Request {n}"))
    ))
}

/// An OpenAI chat body carrying `messages` as a conversation.
fn chat(messages: &[String]) -> Bytes {
    Bytes::from(leakguard_testkit::chat_body(messages))
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

/// User and system CPU time from the text of a `/proc/.../stat` file.
fn stat_cpu(stat: &str) -> (Duration, Duration) {
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        let t: u64 = f.get(i).and_then(|x| x.parse().ok()).unwrap_or(0);
        Duration::from_secs_f64(t as f64 / 100.0)
    };
    (ticks(11), ticks(12))
}

fn proc_cpu(pid: u32) -> Duration {
    let (user, sys) =
        stat_cpu(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default());
    user + sys
}

/// CPU time (user, system) of each thread of `pid`, keyed by thread id, with the thread's name.
type ThreadCpu = std::collections::BTreeMap<u32, (String, Duration, Duration)>;

fn thread_cpu(pid: u32) -> ThreadCpu {
    let mut out = std::collections::BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(tid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let name = stat
            .split_once('(')
            .and_then(|(_, r)| r.rsplit_once(')'))
            .map(|(n, _)| n.to_string())
            .unwrap_or_default();
        let (user, sys) = stat_cpu(&stat);
        out.insert(tid, (name, user, sys));
    }
    out
}

fn proc_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn roots(pem: &Path) -> Arc<ClientConfig> {
    let mut store = RootCertStore::empty();
    let data = std::fs::read(pem).expect("ca");
    for c in rustls_pemfile_certs(&data) {
        store.add(c).unwrap();
    }
    Arc::new(
        ClientConfig::builder_with_provider(
            Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        )
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth(),
    )
}

fn rustls_pemfile_certs(data: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(data)
        .map(|c| c.unwrap())
        .collect()
}

struct Peer {
    child: Child,
    addr: String,
    ca: PathBuf,
    started_in: Duration,
}

fn start_leakguard(
    bin: &Path,
    dir: &Path,
    up: &Upstream,
    upstream_ca: &Path,
    policy: Option<&str>,
) -> Peer {
    let mut cmd = Command::new(bin);
    cmd.args(["run", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("guard"))
        .arg("--upstream-ca")
        .arg(upstream_ca);
    if let Some(p) = policy {
        cmd.args(["--policy", p]);
    }
    for r in up.resolve_args() {
        cmd.args(["--resolve", &r]);
    }
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("leakguard run");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let started_in = start.elapsed();
    let addr = line
        .split("ready on ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("ready line")
        .to_string();
    Peer {
        child,
        addr,
        ca: dir.join("guard/ca/leakguard-ca.pem"),
        started_in,
    }
}

fn start_mitmproxy(mitmdump: &Path, dir: &Path, up: &Upstream, upstream_ca: &Path) -> Peer {
    let confdir = dir.join("mitm");
    std::fs::create_dir_all(&confdir).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addon = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/mitm_redact.py");
    let start = Instant::now();
    let child = Command::new(mitmdump)
        .args([
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            &port.to_string(),
            "-q",
            "--set",
        ])
        .arg(format!("confdir={}", confdir.display()))
        .arg("--set")
        .arg(format!(
            "ssl_verify_upstream_trusted_ca={}",
            upstream_ca.display()
        ))
        .env("LG_UPSTREAM", up.addr.to_string())
        .arg("-s")
        .arg(addon)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mitmdump");
    // Ready when it accepts connections and has written its CA.
    let ca = confdir.join("mitmproxy-ca-cert.pem");
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() || !ca.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "mitmdump did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    Peer {
        child,
        addr: format!("127.0.0.1:{port}"),
        ca,
        started_in: start.elapsed(),
    }
}

/// `n` requests through `via` on four keep-alive connections; the guard's CPU per request.
async fn load(via: Arc<Target>, pid: u32, n: u64, tag: u64) -> Duration {
    let host = "api.openai.com";
    let cpu0 = proc_cpu(pid);
    let mut tasks = Vec::new();
    for conn in 0..4u64 {
        let via = Arc::clone(&via);
        tasks.push(tokio::spawn(async move {
            let mut s = open(&via, host).await;
            for i in 0..n.div_ceil(4) {
                let body = prompt(4 << 10, tag << 48 | (conn + 1) << 40 | i);
                exchange(&mut s, host, &body).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (proc_cpu(pid) - cpu0) / (n.div_ceil(4) * 4) as u32
}

/// Two guards loaded at the same time: CPU per request of each, and B/A.
async fn paired(arg: impl Fn(&str) -> Option<String>, root: &Path, dir: &Path) {
    let ca = TestCa::new("bench upstream CA");
    let upstream_ca = dir.join("upstream-ca.pem");
    ca.write_pem(&upstream_ca);
    let up = Upstream::start(&ca).await;
    let bin = |k: &str| {
        arg(k)
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/release/leakguard"))
    };
    let (bin_a, bin_b) = (bin("--leakguard"), bin("--other-leakguard"));
    let (policy_a, policy_b) = (arg("--policy"), arg("--other-policy"));
    let rounds: usize = arg("--rounds").and_then(|v| v.parse().ok()).unwrap_or(6);
    let n: u64 = arg("--load-requests")
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let mut peers = Vec::new();
    let mut targets = Vec::new();
    for (name, bin, policy) in [("a", &bin_a, &policy_a), ("b", &bin_b, &policy_b)] {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        let peer = start_leakguard(bin, &d, &up, &upstream_ca, policy.as_deref());
        targets.push(Arc::new(Target {
            proxy: Some(peer.addr.clone()),
            tls: roots(&peer.ca),
            upstream: up.addr.to_string(),
        }));
        peers.push(peer);
    }
    let (pid_a, pid_b) = (peers[0].child.id(), peers[1].child.id());
    println!(
        "# paired: A = {} {}, B = {} {}; {n} requests each per round, both at once",
        bin_a.display(),
        policy_a.as_deref().unwrap_or("(built-in policy)"),
        bin_b.display(),
        policy_b.as_deref().unwrap_or("(built-in policy)")
    );
    // Warm-up: connections, caches, the recorder's first writes.
    load(Arc::clone(&targets[0]), pid_a, 400, 0).await;
    load(Arc::clone(&targets[1]), pid_b, 400, 0).await;
    println!("| round | A CPU per request (ms) | B CPU per request (ms) | B/A |");
    println!("| --- | --- | --- | --- |");
    let (mut sum_a, mut sum_b, mut ratios) = (Duration::ZERO, Duration::ZERO, Vec::new());
    for r in 1..=rounds {
        let tag = r as u64;
        let (a, b) = tokio::join!(
            load(Arc::clone(&targets[0]), pid_a, n, tag),
            load(Arc::clone(&targets[1]), pid_b, n, tag)
        );
        let ratio = b.as_secs_f64() / a.as_secs_f64().max(1e-9);
        println!("| {r} | {} | {} | {ratio:.3} |", ms(a), ms(b));
        sum_a += a;
        sum_b += b;
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "| all | {} | {} | {:.3} (rounds {:.3}-{:.3}, median {:.3}) |",
        ms(sum_a / rounds as u32),
        ms(sum_b / rounds as u32),
        sum_b.as_secs_f64() / sum_a.as_secs_f64().max(1e-9),
        ratios[0],
        ratios[ratios.len() - 1],
        ratios[ratios.len() / 2]
    );
    for mut p in peers {
        let _ = p.child.kill();
        let _ = p.child.wait();
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let iters: usize = arg("--iters").and_then(|v| v.parse().ok()).unwrap_or(400);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::temp_dir().join(format!("lg-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    if args.iter().any(|a| a == "--paired") {
        paired(arg, &root, &dir).await;
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let ca = TestCa::new("bench upstream CA");
    let upstream_ca = dir.join("upstream-ca.pem");
    ca.write_pem(&upstream_ca);
    let up = Upstream::start(&ca).await;
    let name = arg("--peer").unwrap_or_else(|| "leakguard".into());
    let mut peer = match name.as_str() {
        "mitmproxy" => start_mitmproxy(
            Path::new(&arg("--mitmdump").expect("--mitmdump PATH")),
            &dir,
            &up,
            &upstream_ca,
        ),
        _ => start_leakguard(
            &arg("--leakguard")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("target/release/leakguard")),
            &dir,
            &up,
            &upstream_ca,
            arg("--policy").as_deref(),
        ),
    };
    let pid = peer.child.id();
    let host = "api.openai.com";
    let direct = Target {
        proxy: None,
        tls: roots(&upstream_ca),
        upstream: up.addr.to_string(),
    };
    let via = Target {
        proxy: Some(peer.addr.clone()),
        tls: roots(&peer.ca),
        upstream: up.addr.to_string(),
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss = proc_rss_mb(pid);

    println!(
        "# {name}: {iters} sequential requests per size, keep-alive, direct vs proxied in one run"
    );
    println!("| figure | direct | via {name} | added |");
    println!("| --- | --- | --- | --- |");
    let mut cpu_per_req = Vec::new();
    let mut n = 0u64;
    for size in [4 << 10, 100 << 10] {
        let mut d = open(&direct, host).await;
        let mut p = open(&via, host).await;
        for _ in 0..20 {
            n += 1;
            let body = prompt(size, n);
            exchange(&mut d, host, &body).await;
            exchange(&mut p, host, &body).await;
        }
        let (mut dt, mut pt) = (Vec::new(), Vec::new());
        let bodies: Vec<Bytes> = (1..=iters as u64).map(|i| prompt(size, n + i)).collect();
        n += iters as u64;
        let cpu0 = proc_cpu(pid);
        for body in &bodies {
            dt.push(exchange(&mut d, host, body).await);
            pt.push(exchange(&mut p, host, body).await);
        }
        cpu_per_req.push((size, (proc_cpu(pid) - cpu0) / iters as u32));
        for (label, q) in [("p50", 0.5), ("p99", 0.99)] {
            let (a, b) = (pct(&mut dt, q), pct(&mut pt, q));
            println!(
                "| {} KB prompt, {label} (ms) | {} | {} | {} |",
                size >> 10,
                ms(a),
                ms(b),
                ms(b.saturating_sub(a))
            );
        }
    }
    // New connections: CONNECT + both handshakes + one small exchange.
    let (mut dc, mut pc) = (Vec::new(), Vec::new());
    for _ in 0..(iters / 4).max(20) {
        n += 1;
        let small = prompt(256, n);
        let t = Instant::now();
        let mut s = open(&direct, host).await;
        exchange(&mut s, host, &small).await;
        dc.push(t.elapsed());
        let t = Instant::now();
        let mut s = open(&via, host).await;
        exchange(&mut s, host, &small).await;
        pc.push(t.elapsed());
    }
    let (a, b) = (pct(&mut dc, 0.5), pct(&mut pc, 0.5));
    println!(
        "| new connection + 1 request, p50 (ms) | {} | {} | {} |",
        ms(a),
        ms(b),
        ms(b.saturating_sub(a))
    );
    let (a, b) = (pct(&mut dc, 0.99), pct(&mut pc, 0.99));
    println!(
        "| new connection + 1 request, p99 (ms) | {} | {} | {} |",
        ms(a),
        ms(b),
        ms(b.saturating_sub(a))
    );

    // SSE: time to the first event.
    let sse_body = Bytes::from(
        r#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
    );
    let (mut ds, mut ps) = (Vec::new(), Vec::new());
    let mut d = open(&direct, host).await;
    let mut p = open(&via, host).await;
    for _ in 0..30 {
        for (s, out) in [(&mut d, &mut ds), (&mut p, &mut ps)] {
            let req = Request::post("/v1/chat/completions")
                .header("host", host)
                .header("content-type", "application/json")
                .body(Full::new(sse_body.clone()))
                .unwrap();
            s.ready().await.unwrap();
            let t = Instant::now();
            let mut res = s.send_request(req).await.unwrap();
            let first = res.body_mut().frame().await.unwrap().unwrap();
            assert!(first.is_data());
            out.push(t.elapsed());
            res.into_body().collect().await.unwrap();
        }
    }
    let (a, b) = (pct(&mut ds, 0.5), pct(&mut ps, 0.5));
    println!(
        "| SSE time to first event, p50 (ms) | {} | {} | {} |",
        ms(a),
        ms(b),
        ms(b.saturating_sub(a))
    );

    // A streamed reply of 8 KB (2,048 events of four characters, as a model streams tokens):
    // the whole stream, direct and through the proxy (which reads it as it passes).
    let words = "the quarterly plan keeps the same shape as before and ships on time ";
    let reply: String = words.repeat(8192 / words.len() + 1)[..8192].to_string();
    let reversed: String = reply.chars().rev().collect();
    let long_body = Bytes::from(
        serde_json::json!({"model": "gpt-4o", "stream": true,
            "messages": [{"role": "user", "content": format!("REPLYREV<<{reversed}>>")}]})
        .to_string(),
    );
    let (mut dl, mut pl) = (Vec::new(), Vec::new());
    let mut d = open(&direct, host).await;
    let mut p = open(&via, host).await;
    for _ in 0..30 {
        for (s, out) in [(&mut d, &mut dl), (&mut p, &mut pl)] {
            let req = Request::post("/v1/chat/completions")
                .header("host", host)
                .header("content-type", "application/json")
                .body(Full::new(long_body.clone()))
                .unwrap();
            s.ready().await.unwrap();
            let t = Instant::now();
            let res = s.send_request(req).await.unwrap();
            let all = res.into_body().collect().await.unwrap().to_bytes();
            assert!(all.len() > 8192);
            out.push(t.elapsed());
        }
    }
    let (a, b) = (pct(&mut dl, 0.5), pct(&mut pl, 0.5));
    println!(
        "| SSE 8 KB reply in 2,048 events, whole stream, p50 (ms) | {} | {} | {} |",
        ms(a),
        ms(b),
        ms(b.saturating_sub(a))
    );

    // A conversation as API clients send it: each request carries every earlier message, so
    // the tenth of ten 4 KB turns (a question and a code block each) is 40 KB. Then the same
    // sizes with every message new.
    let turns = 10;
    // Enough requests for a CPU figure: /proc counts in 10 ms ticks.
    let conversations = (iters / 10).max(5);
    let mut p = open(&via, host).await;
    let mut per_request = Vec::new();
    for fresh in [false, true] {
        let cpu0 = proc_cpu(pid);
        for c in 0..conversations {
            let mut history = Vec::new();
            for t in 0..turns {
                if fresh {
                    history = (0..=t)
                        .map(|k| {
                            message_with_code(4 << 10, &format!("Fresh {c} turn {t} message {k}"))
                        })
                        .collect();
                } else {
                    history.push(message_with_code(
                        4 << 10,
                        &format!("Conversation {c} turn {t}"),
                    ));
                }
                exchange(&mut p, host, &chat(&history)).await;
            }
        }
        per_request.push((proc_cpu(pid) - cpu0) / (conversations * turns) as u32);
    }
    println!(
        "| proxy CPU per request, {turns}-turn conversation of 4 KB messages with code, each request carrying the earlier ones (ms) | | {} | |",
        ms(per_request[0])
    );
    println!(
        "| the same request sizes with every message new (ms) | | {} | |",
        ms(per_request[1])
    );

    // Throughput: 8 keep-alive connections, 4 KB prompts, for 3 s (or, with
    // `--load-requests N`, exactly N requests: a fixed amount of work to compare under a profiler).
    let per_conn: Option<u64> = arg("--load-requests")
        .and_then(|v| v.parse::<u64>().ok())
        .map(|n| n.div_ceil(8));
    let cpu0 = proc_cpu(pid);
    let threads0 = thread_cpu(pid);
    let load_start = Instant::now();
    let deadline = load_start + Duration::from_secs(3);
    let via = Arc::new(via);
    let mut tasks = Vec::new();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for conn in 0..8u64 {
        let via = Arc::clone(&via);
        tasks.push(tokio::spawn(async move {
            let mut s = open(&via, host).await;
            let mut n = 0u64;
            while per_conn.map_or(Instant::now() < deadline, |k| n < k) {
                // Distinct per request (connection and count in the text).
                let body = prompt(4 << 10, (conn + 1) << 40 | n);
                exchange(&mut s, host, &body).await;
                n += 1;
            }
            n
        }));
    }
    let load_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&load_done));
        tokio::spawn(async move {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let rss = (proc_rss_mb(pid) * 1024.0) as u64;
                peak.fetch_max(rss, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    let load_time = load_start.elapsed();
    load_done.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.await.unwrap();
    let load_cpu = (proc_cpu(pid) - cpu0) / total.max(1) as u32;
    // Where that CPU went, per thread of the guard (on stderr: a diagnostic, not a figure).
    let n = total.max(1) as u32;
    for (tid, (name, user, sys)) in thread_cpu(pid) {
        let (user0, sys0) = threads0.get(&tid).map(|t| (t.1, t.2)).unwrap_or_default();
        let (user, sys) = (user.saturating_sub(user0), sys.saturating_sub(sys0));
        if !(user + sys).is_zero() {
            eprintln!(
                "thread {tid} {name}: {} ms per request under load (user {}, system {})",
                ms((user + sys) / n),
                ms(user / n),
                ms(sys / n)
            );
        }
    }
    println!(
        "| requests/s, 8 keep-alive connections, 4 KB | | {:.0} | |",
        total as f64 / load_time.as_secs_f64()
    );
    for (size, cpu) in cpu_per_req {
        println!(
            "| proxy CPU per request, {} KB, sequential (ms) | | {} | |",
            size >> 10,
            ms(cpu)
        );
    }
    println!(
        "| proxy CPU per request under load, 4 KB (ms) | | {} | |",
        ms(load_cpu)
    );
    println!("| RSS idle (MB) | | {:.1} | |", idle_rss);
    println!(
        "| RSS peak under load (MB) | | {:.1} | |",
        peak.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0
    );
    println!("| start to ready (ms) | | {} | |", ms(peer.started_in));
    // SIGTERM first (a clean shutdown, so a profiler wrapped around the guard writes its
    // data), SIGKILL if it is not gone in 10 s.
    let _ = Command::new("kill")
        .args(["-TERM", &peer.child.id().to_string()])
        .status();
    let stop = Instant::now() + Duration::from_secs(10);
    while peer.child.try_wait().ok().flatten().is_none() && Instant::now() < stop {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = peer.child.kill();
    let _ = peer.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
