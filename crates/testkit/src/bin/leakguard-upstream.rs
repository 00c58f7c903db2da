//! `leakguard-upstream DIR`: runs the test upstream for script-driven tests (Python SDKs,
//! Chromium). Writes `DIR/upstream-ca.pem`, prints `ready ADDR` and logs every request it
//! received to `DIR/upstream.jsonl` (host, method, path, body as text).

use sha2::Digest as _;
use std::io::Write;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: leakguard-upstream DIR"),
    );
    std::fs::create_dir_all(&dir).expect("create dir");
    let ca = leakguard_testkit::TestCa::new("leakguard test upstream CA");
    ca.write_pem(&dir.join("upstream-ca.pem"));
    let up = leakguard_testkit::Upstream::start(&ca).await;
    println!("ready {}", up.addr);
    std::io::stdout().flush().ok();
    let log = dir.join("upstream.jsonl");
    let mut written = 0;
    #[cfg(unix)]
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal");
    loop {
        // SIGTERM where there is one; elsewhere Ctrl+C only.
        #[cfg(unix)]
        let terminated = term.recv();
        #[cfg(not(unix))]
        let terminated = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {}
            _ = terminated => break,
            _ = tokio::signal::ctrl_c() => break,
        }
        let seen = up.requests();
        if seen.len() > written {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .expect("log");
            for s in &seen[written..] {
                // The body as text (lossy), and its length and SHA-256 so a test can tell
                // that a binary upload arrived byte for byte.
                let sha: String = sha2::Sha256::digest(&s.body)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let line = serde_json::json!({"host": s.host, "method": s.method, "path": s.path,
                    "body": String::from_utf8_lossy(&s.body), "len": s.body.len(), "sha256": sha});
                writeln!(f, "{line}").expect("write");
            }
            written = seen.len();
        }
    }
}
