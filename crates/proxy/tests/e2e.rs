//! End to end with real parts: the real proxy on 127.0.0.1:0, a real TLS upstream that
//! impersonates the LLM hosts (test CA), and curl as the client, trusting the device CA.

use leakguard_detect::Engine;
use leakguard_policy::Policy;
use leakguard_proxy::{ca, Limits, Loaded, Running, Settings};
use leakguard_testkit::{ScratchDir, TestCa, Upstream, SSE_GAP};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Instant;

const AWS_KEY: &str = "AKIAQYLPMN5HJNGY4F7A";
const OPENAI_CHAT: &str = "https://api.openai.com/v1/chat/completions";

struct Rig {
    up: Upstream,
    guard: Running,
    dir: ScratchDir,
    upstream_ca: PathBuf,
}

fn loaded(policy_json: &str) -> Loaded {
    let policy = Policy::parse(policy_json).expect("policy");
    let engine = Engine::with_config(policy.engine_config()).expect("engine");
    Loaded::new(policy, engine, "test".into())
}

fn default_policy() -> &'static str {
    include_str!("../../../policies/default.json")
}

/// A device CA for the policy's destinations in `dir/ca`, and a guard started with it.
async fn start_guard(
    dir: &std::path::Path,
    l: Loaded,
    limits: Limits,
    resolve: Vec<String>,
    upstream_proxy: Option<String>,
    upstream_ca: PathBuf,
    upstream_http2: bool,
) -> Running {
    let hosts: Vec<String> = l
        .policy()
        .destinations
        .iter()
        .flat_map(|g| g.hosts.clone())
        .collect();
    ca::init(&dir.join("ca"), &hosts, false).unwrap();
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        ca_dir: dir.join("ca"),
        limits,
        resolve,
        upstream_proxy,
        upstream_ca: vec![upstream_ca],
        events: None,
        upstream_http2,
        clock: std::sync::Arc::new(leakguard_types::SystemClock),
        identity: leakguard_types::Identity::default(),
        connections: leakguard_proxy::Connections::default(),
    };
    leakguard_proxy::start(settings, l)
        .await
        .expect("proxy starts")
}

async fn rig_with(policy_json: &str, max_body: usize) -> Rig {
    rig_opts(policy_json, max_body, false).await
}

async fn rig_opts(policy_json: &str, max_body: usize, upstream_http2: bool) -> Rig {
    rig_full(policy_json, max_body, upstream_http2, |_| Vec::new()).await
}

/// The default rig with more `--resolve` entries.
async fn rig_resolving(extra: fn(&Upstream) -> Vec<String>) -> Rig {
    rig_full(default_policy(), 32 << 20, false, extra).await
}

async fn rig_full(
    policy_json: &str,
    max_body: usize,
    upstream_http2: bool,
    extra: fn(&Upstream) -> Vec<String>,
) -> Rig {
    // The rig's data directory (CA, events, overrides), removed with the rig.
    let dir = ScratchDir::new("lg-e2e");
    let test_ca = TestCa::new("upstream test CA");
    let upstream_ca = dir.join("upstream-ca.pem");
    test_ca.write_pem(&upstream_ca);
    let up = Upstream::start(&test_ca).await;
    let mut resolve = up.resolve_args();
    resolve.extend(extra(&up));
    let guard = start_guard(
        &dir,
        loaded(policy_json),
        Limits {
            max_body,
            max_decoded: 64 << 20,
            max_ratio: 200,
            ..Limits::default()
        },
        resolve,
        None,
        upstream_ca.clone(),
        upstream_http2,
    )
    .await;
    Rig {
        up,
        guard,
        dir,
        upstream_ca,
    }
}

async fn rig() -> Rig {
    rig_with(default_policy(), 32 << 20).await
}

impl Rig {
    fn device_ca(&self) -> PathBuf {
        self.dir.join("ca").join(ca::CERT_FILE)
    }

    /// Runs curl through the guard trusting only the device CA; returns (status, body).
    async fn curl(&self, args: &[&str]) -> (u16, String) {
        let (status, body, _) = curl_via(self.guard.addr, &self.device_ca(), args).await;
        (status, body)
    }

    async fn post_json(&self, url: &str, body: &str) -> (u16, String) {
        self.curl(&[
            url,
            "-H",
            "content-type: application/json",
            "--data-binary",
            body,
        ])
        .await
    }

    /// POSTs `body` as JSON; the status and the reply's bytes as they came (a binary stream,
    /// such as an AWS event stream), through a file in the rig's directory.
    async fn post_json_bytes(&self, url: &str, body: &str) -> (u16, Vec<u8>) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let file = self.dir.join(format!("reply-{n}.bin"));
        let (status, _) = self
            .curl(&[
                url,
                "-H",
                "content-type: application/json",
                "--data-binary",
                body,
                "-o",
                file.to_str().unwrap(),
            ])
            .await;
        let bytes = std::fs::read(&file).unwrap_or_default();
        let _ = std::fs::remove_file(&file);
        (status, bytes)
    }

    /// An OpenAI chat request for a stream of the answer to `prompt`.
    async fn post_openai_stream(&self, prompt: &str) -> (u16, String) {
        let body = serde_json::json!({"model": "gpt-4o", "stream": true,
            "messages": [{"role": "user", "content": prompt}]});
        self.post_json(OPENAI_CHAT, &body.to_string()).await
    }

    /// POSTs the file at `path` with `content-type: application/json` and `headers`.
    async fn post_file(
        &self,
        url: &str,
        path: &std::path::Path,
        headers: &[&str],
    ) -> (u16, String) {
        let data = format!("@{}", path.display());
        let mut args = vec![
            url,
            "-H",
            "content-type: application/json",
            "--data-binary",
            &data,
        ];
        for h in headers {
            if h.starts_with("--") {
                args.push(h);
            } else {
                args.extend(["-H", h]);
            }
        }
        self.curl(&args).await
    }

    fn upstream_bodies(&self) -> Vec<String> {
        self.up
            .requests()
            .iter()
            .map(|s| String::from_utf8_lossy(&s.body).into_owned())
            .collect()
    }

    fn events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each event line is JSON"))
            .collect()
    }
}

/// Runs curl through the proxy at `proxy`, trusting only `cacert`; returns (status, body,
/// stderr). Status 0: curl failed before any HTTP answer.
async fn curl_via(
    proxy: std::net::SocketAddr,
    cacert: &std::path::Path,
    args: &[&str],
) -> (u16, String, String) {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--max-time",
        "20",
        "--proxy",
        &format!("http://{proxy}"),
    ])
    .arg("--cacert")
    .arg(cacert)
    .args(["-w", "\n%{http_code}"])
    .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("curl runs"))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (
        code.trim().parse().unwrap_or(0),
        body.to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn chat(content: &str) -> String {
    serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": content}]})
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clean_prompt_passes_byte_for_byte() {
    let r = rig().await;
    // Odd spacing and key order: the upstream must see exactly these bytes.
    let body = r#"{ "messages":[{"content":"Summarise the meeting notes, please.","role":"user"}],  "model":"gpt-4o" }"#;
    let (status, answer) = r
        .post_json("https://api.openai.com/v1/chat/completions", body)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("Hello from upstream"));
    assert_eq!(r.upstream_bodies(), vec![body.to_string()]);
    assert_eq!(
        r.up.requests()[0].version,
        "HTTP/1.1",
        "HTTP/1.1 upstream unless HTTP/2 is enabled"
    );
    let ev: Vec<serde_json::Value> = r
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "request")
        .collect();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["outcome"], "forwarded");
    assert_eq!(ev[0]["endpoint"], "openai-chat-completions");
    assert_eq!(ev[0]["model"], "gpt-4o");
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_secret_is_blocked_before_it_leaves_and_never_recorded() {
    let r = rig().await;
    let (status, answer) = r
        .post_json(
            "https://api.openai.com/v1/chat/completions",
            &chat(&format!("deploy with aws_access_key_id = {AWS_KEY}")),
        )
        .await;
    assert_eq!(status, 403);
    let err: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(err["error"]["code"], "leakguard_blocked");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("aws-access-key-id"));
    assert!(
        !answer.contains(AWS_KEY),
        "the refusal never repeats the secret"
    );
    assert!(
        r.up.requests().is_empty(),
        "the upstream never saw the request"
    );
    let log = std::fs::read_to_string(r.dir.join("events.jsonl")).unwrap();
    assert!(log.contains("\"outcome\":\"blocked\"") && log.contains("AKI…F7A"));
    assert!(!log.contains(AWS_KEY), "events hold masked previews only");

    // Anthropic's clients get Anthropic's error shape.
    let body = serde_json::json!({"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": format!("key {AWS_KEY}")}]});
    let (status, answer) = r
        .post_json("https://api.anthropic.com/v1/messages", &body.to_string())
        .await;
    assert_eq!(status, 403);
    let err: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        (err["type"].as_str(), err["error"]["type"].as_str()),
        (Some("error"), Some("permission_error"))
    );
    assert!(r.up.requests().is_empty());
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn personal_data_is_redacted_and_the_upstream_sees_the_placeholder() {
    let r = rig().await;
    let body = serde_json::json!({"action": "next", "messages": [{"author": {"role": "user"},
        "content": {"content_type": "text", "parts": ["the customer card is 4111 1111 1111 1111, please check"]}}]});
    let (status, _) = r
        .post_json(
            "https://chatgpt.com/backend-api/conversation",
            &body.to_string(),
        )
        .await;
    assert_eq!(status, 200);
    let seen = r.upstream_bodies();
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].contains("4111 1111 1111 1111"), "{}", seen[0]);
    assert!(
        seen[0].contains("[REDACTED:credit-card-number#1]"),
        "{}",
        seen[0]
    );
    let parsed: serde_json::Value =
        serde_json::from_str(&seen[0]).expect("the rewritten body is JSON");
    assert_eq!(parsed["action"], "next");
    assert_eq!(r.events()[0]["outcome"], "redacted");

    // A gzip body is decoded, redacted and sent as identity with a fixed Content-Length.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, body.to_string().as_bytes()).unwrap();
    let path = r.dir.join("body.gz");
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    let (status, _) = r
        .post_file(
            "https://chatgpt.com/backend-api/conversation",
            &path,
            &["content-encoding: gzip"],
        )
        .await;
    assert_eq!(status, 200);
    let seen = r.up.requests();
    let last = seen.last().unwrap();
    assert!(String::from_utf8_lossy(&last.body).contains("[REDACTED:credit-card-number#1]"));
    assert!(!last.headers.iter().any(|(k, _)| k == "content-encoding"));
    let len = last
        .headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse::<usize>().unwrap());
    assert_eq!(len, Some(last.body.len()));
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sse_events_arrive_one_by_one() {
    let r = rig().await;
    let body = serde_json::json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let mut child = Command::new("curl")
        .args([
            "-sS",
            "-N",
            "--max-time",
            "20",
            "--proxy",
            &format!("http://{}", r.guard.addr),
        ])
        .arg("--cacert")
        .arg(r.device_ca())
        .args([
            "https://api.openai.com/v1/chat/completions",
            "-H",
            "content-type: application/json",
            "--data-binary",
            &body,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let arrivals = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.starts_with("data:"))
            .map(|_| Instant::now())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    child.wait().unwrap();
    assert_eq!(arrivals.len(), 4, "all four events arrived");
    // The upstream waits SSE_GAP between events: buffered, they would arrive together.
    let spread = arrivals[3] - arrivals[0];
    assert!(
        spread >= SSE_GAP * 2,
        "events arrived within {spread:?}: they were buffered"
    );
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_host_outside_the_scope_is_tunnelled_without_decryption() {
    let r = rig().await;
    // Trusting only the upstream's own CA works: the client saw the upstream's certificate.
    let secret = format!("secret={AWS_KEY}");
    let (status, _, stderr) = curl_via(
        r.guard.addr,
        &r.upstream_ca,
        &["https://intranet.test/wiki", "-d", &secret],
    )
    .await;
    assert_eq!(status, 200, "{stderr}");
    // Trusting only the device CA fails: the guard did not present its own certificate.
    let (status, _) = r.curl(&["https://intranet.test/wiki"]).await;
    assert_eq!(
        status, 0,
        "the device CA must not vouch for a tunnelled host"
    );
    assert!(r.events().is_empty(), "tunnelled traffic is never recorded");
    assert!(r.guard.shared.counters.tunnelled.load(Ordering::Relaxed) >= 2);
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_device_ca_cannot_vouch_for_a_host_outside_its_name_constraints() {
    let r = rig().await;
    let device = leakguard_proxy::ca::DeviceCa::load(&r.dir.join("ca")).unwrap();
    let serve = |host: &'static str| {
        let cfg = device.server_config(host).unwrap();
        async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            tokio::spawn(async move {
                let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
                while let Ok((tcp, _)) = l.accept().await {
                    let a = acceptor.clone();
                    tokio::spawn(async move {
                        if let Ok(mut tls) = a.accept(tcp).await {
                            use tokio::io::{AsyncReadExt, AsyncWriteExt};
                            let mut head = Vec::new();
                            let mut buf = [0u8; 1024];
                            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                                match tls.read(&mut buf).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => head.extend_from_slice(&buf[..n]),
                                }
                            }
                            let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
                            let _ = tls.shutdown().await;
                        }
                    });
                }
            });
            port
        }
    };
    let run = |host: &str, port: u16, ca: PathBuf| {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sS",
            "--http1.1",
            "--max-time",
            "10",
            "--resolve",
            &format!("{host}:{port}:127.0.0.1"),
            "--cacert",
        ])
        .arg(ca)
        .arg(format!("https://{host}:{port}/"));
        async move {
            tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap()
        }
    };
    let good = serve("api.openai.com").await;
    let out = run("api.openai.com", good, r.device_ca()).await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok",
        "control: a permitted name works: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bank = serve("bank.example").await;
    let out = run("bank.example", bank, r.device_ca()).await;
    assert!(
        !out.status.success(),
        "a leaf for bank.example must be rejected"
    );
    assert_eq!(
        out.status.code(),
        Some(60),
        "curl: certificate problem ({})",
        String::from_utf8_lossy(&out.stderr)
    );
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_warned_prompt_passes_once_after_the_user_allows_it() {
    let r = rig().await;
    let code = "int main(void) {\n  int x = read_sensor(3);\n  if (x > 10) {\n    alarm(x);\n  }\n  return 0;\n}";
    let body = serde_json::json!({"prompt": code, "attachments": [], "files": []}).to_string();
    let url = "https://claude.ai/api/organizations/o1/chat_conversations/c1/completion";
    let (status, answer) = r.post_json(url, &body).await;
    assert_eq!(status, 403, "{answer}");
    let err: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let message = err["error"]["message"].as_str().unwrap();
    let allow_code = message
        .split("leakguard allow ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert!(r.up.requests().is_empty());

    // Without the token the proxy's allow endpoint refuses (a web page cannot grant it).
    let allow = |token: Option<String>| {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://{}/leakguard/allow", r.guard.addr),
        ]);
        if let Some(t) = token {
            cmd.args(["-H", &format!("authorization: Bearer {t}")]);
        }
        cmd.args([
            "-d",
            &serde_json::json!({"code": allow_code, "reason": "sample code from the public docs"})
                .to_string(),
        ]);
        async move {
            String::from_utf8(
                tokio::task::spawn_blocking(move || cmd.output().unwrap())
                    .await
                    .unwrap()
                    .stdout,
            )
            .unwrap()
        }
    };
    assert_eq!(allow(None).await, "401");
    assert_eq!(allow(Some("wrong".into())).await, "401");
    let token = std::fs::read_to_string(r.dir.join("control.token")).unwrap();
    assert_eq!(allow(Some(token.clone())).await, "200");
    let (status, _) = r.post_json(url, &body).await;
    assert_eq!(status, 200, "the allowed prompt passes");
    assert_eq!(r.up.requests().len(), 1);
    let (status, _) = r.post_json(url, &body).await;
    assert_eq!(status, 403, "the allowance was for one send");
    let outcomes: Vec<String> = r
        .events()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, ["warned", "overridden", "overridden", "warned"]);
    let ev = r.events();
    assert_eq!(ev[2]["justification"], "sample code from the public docs");
    r.guard.stop().await;
}

/// Issue 20: a grant is bound to the content, the destination, the endpoint and the model,
/// and is used only when the whole body holds nothing the warned text did not.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_allow_once_grant_is_bound_to_the_model_and_the_whole_body() {
    let r = rig().await;
    let code = "int main(void) {\n  int x = read_sensor(3);\n  if (x > 10) {\n    alarm(x);\n  }\n  return 0;\n}";
    let body = |model: &str, extra: &str| {
        serde_json::json!({"prompt": code, "model": model, "attachments": [], "files": [], "rendering_mode": extra})
            .to_string()
    };
    let url = "https://claude.ai/api/organizations/o1/chat_conversations/c1/completion";
    let warned = body("claude-sonnet-4", "messages");
    let (status, answer) = r.post_json(url, &warned).await;
    assert_eq!(status, 403, "{answer}");
    let allow_code = answer
        .split("leakguard allow ")
        .nth(1)
        .and_then(|m| m.split_whitespace().next())
        .unwrap()
        .to_string();
    let token = std::fs::read_to_string(r.dir.join("control.token")).unwrap();
    let out = tokio::task::spawn_blocking({
        let url = format!("http://{}/leakguard/allow", r.guard.addr);
        let data = serde_json::json!({"code": allow_code, "reason": "public sample"}).to_string();
        move || {
            Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &url])
                .args(["-H", &format!("authorization: Bearer {token}"), "-d", &data])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    // The same text for another model, or with a key in a field the adapter does not read:
    // the grant does not cover them.
    let (status, _) = r.post_json(url, &body("claude-opus-4", "messages")).await;
    assert_eq!(status, 403, "another model");
    let (status, _) = r
        .post_json(url, &body("claude-sonnet-4", &format!("key {AWS_KEY}")))
        .await;
    assert_ne!(status, 200, "a key in an unread field");
    assert!(r.up.requests().is_empty(), "neither went out");
    // The request that was allowed still passes, once.
    let (status, _) = r.post_json(url, &warned).await;
    assert_eq!(status, 200);
    assert_eq!(r.up.requests().len(), 1);
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_bodies_fail_closed_and_the_proxy_stays_up() {
    let r = rig_with(default_policy(), 64 << 10).await;
    let url = "https://api.openai.com/v1/chat/completions";
    let (status, answer) = r
        .post_json(
            url,
            r#"{"messages": [{"role": "user", "content": "unterminated"#,
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("leakguard_fail_closed") && answer.contains("not valid JSON"));
    let bad_utf8 = r.dir.join("bad.json");
    std::fs::write(
        &bad_utf8,
        b"{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}",
    )
    .unwrap();
    let (status, answer) = r.post_file(url, &bad_utf8, &[]).await;
    assert_eq!(status, 400);
    assert!(answer.contains("UTF-8"));
    // Over the body cap.
    let big = r.dir.join("big.json");
    std::fs::write(&big, chat(&"a".repeat(100 << 10))).unwrap();
    let (status, answer) = r.post_file(url, &big, &[]).await;
    assert_eq!(status, 413, "{answer}");
    // A compression bomb: ~40 KiB of gzip that would become 40 MiB.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..40 {
        std::io::Write::write_all(&mut gz, &zeros).unwrap();
    }
    let bomb = r.dir.join("bomb.gz");
    std::fs::write(&bomb, gz.finish().unwrap()).unwrap();
    let (status, answer) = r.post_file(url, &bomb, &["content-encoding: gzip"]).await;
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains("compression bomb"), "{answer}");
    assert!(
        r.up.requests().is_empty(),
        "nothing unreadable reached the upstream"
    );
    // Still up and still answering.
    let (status, _) = r.post_json(url, &chat("hello")).await;
    assert_eq!(status, 200);
    assert_eq!(
        r.guard.shared.counters.fail_closed.load(Ordering::Relaxed),
        4
    );
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kill_switch_blocks_a_destination_and_the_policy_swaps_live() {
    let strict = default_policy().replace(
        r#"{ "name": "enterprise-api", "hosts""#,
        r#"{ "name": "enterprise-api", "mode": "block_all", "hosts""#,
    );
    assert_ne!(strict, default_policy());
    let r = rig().await;
    let url = "https://api.openai.com/v1/chat/completions";
    assert_eq!(r.post_json(url, &chat("hello")).await.0, 200);
    // Hot swap on the running proxy: the same keep-alive pool, the new rules.
    let mut no_tests: serde_json::Value = serde_json::from_str(&strict).unwrap();
    no_tests["tests"] = serde_json::json!([]);
    r.guard.swap_policy(loaded(&no_tests.to_string()));
    let (status, answer) = r.post_json(url, &chat("hello")).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("leakguard_kill_switch"), "{answer}");
    assert_eq!(r.up.requests().len(), 1);
    r.guard.stop().await;
}

/// The body of one of the guard's own endpoints, fetched with curl.
fn get(r: &Rig, path: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", &format!("http://{}{path}", r.guard.addr)])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pac_file_and_health() {
    let r = rig().await;
    let pac = get(&r, "/proxy.pac");
    assert!(pac.contains("FindProxyForURL"));
    assert!(pac.contains(&format!("PROXY {}", r.guard.addr)));
    assert!(pac.contains("dnsDomainIs(h, \".openai.azure.com\")"));
    assert!(pac.contains("return \"DIRECT\""));
    let health: serde_json::Value = serde_json::from_str(&get(&r, "/leakguard/health")).unwrap();
    assert_eq!(health["status"], "ok");
    r.guard.stop().await;
}

/// The PAC file as browsers run it (node evaluates it with the PAC helper it uses): a
/// trailing-dot or upper-case name of an LLM host goes through the guard, not DIRECT.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pac_sends_trailing_dot_and_mixed_case_llm_hosts_to_the_guard() {
    let r = rig().await;
    let pac = get(&r, "/proxy.pac");
    let script = format!(
        "function dnsDomainIs(h, d) {{ return h.length >= d.length && h.substring(h.length - d.length) == d; }}\n{pac}\n\
         for (const h of process.argv.slice(1)) console.log(h + ' ' + FindProxyForURL('https://' + h + '/', h));"
    );
    let hosts = [
        "chatgpt.com.",
        "CHATGPT.COM",
        "chatgpt.com..",
        "x.openai.azure.com.",
        "example.com.",
        "notchatgpt.com.",
    ];
    let out = Command::new("node")
        .arg("-e")
        .arg(&script)
        .args(hosts)
        .output()
        .expect("node runs the PAC file");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers = String::from_utf8(out.stdout).unwrap();
    let proxy = format!("PROXY {}", r.guard.addr);
    for line in answers.lines() {
        let (host, answer) = line.split_once(' ').unwrap();
        let direct = host.starts_with("example") || host.starts_with("notchatgpt");
        assert_eq!(answer == "DIRECT", direct, "{host}: {answer}");
        if !direct {
            assert_eq!(answer, proxy, "{host}");
        }
    }
    assert_eq!(answers.lines().count(), hosts.len());
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_governance_pins_models_caps_tokens_and_rate_limits() {
    let mut p: serde_json::Value = serde_json::from_str(default_policy()).unwrap();
    p["tests"] = serde_json::json!([]);
    p["api"] = serde_json::json!({"enterprise-api": {"models": ["gpt-4o*"], "max_tokens": 1000, "requests_per_minute": 3}});
    // The consumer group fails open and has a small body cap.
    p["destinations"][0]["fail_mode"] = "allow".into();
    p["destinations"][0]["max_body_bytes"] = (8 << 10).into();
    let r = rig_with(&p.to_string(), 32 << 20).await;
    let url = "https://api.openai.com/v1/chat/completions";
    let body = |model: &str, max_tokens: u64| {
        serde_json::json!({"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": "hello"}]}).to_string()
    };
    let (status, answer) = r.post_json(url, &body("gpt-3.5-turbo", 10)).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("leakguard_model_not_allowed") && answer.contains("gpt-4o*"));
    let (status, answer) = r.post_json(url, &body("gpt-4o", 5000)).await;
    assert_eq!(status, 400);
    assert!(answer.contains("over the cap of 1000"), "{answer}");
    for _ in 0..3 {
        assert_eq!(r.post_json(url, &body("gpt-4o-mini", 10)).await.0, 200);
    }
    let (status, answer) = r
        .curl(&[
            url,
            "-H",
            "content-type: application/json",
            "--data-binary",
            &body("gpt-4o", 10),
            "-D",
            "-",
        ])
        .await;
    assert_eq!(status, 429, "{answer}");
    let retry: u64 = answer
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .expect("a Retry-After header")
        .trim()
        .parse()
        .unwrap();
    assert!((1..=61).contains(&retry), "{retry}");
    assert_eq!(
        r.up.requests().len(),
        3,
        "only the allowed requests went out"
    );

    // fail_mode allow: a malformed body to the consumer group goes on, recorded as unscanned.
    let (status, _) = r
        .post_json("https://chatgpt.com/backend-api/conversation", "{not json")
        .await;
    assert_eq!(status, 200);
    assert_eq!(r.up.requests().last().unwrap().body, b"{not json");
    let last = r
        .events()
        .into_iter()
        .rfind(|e| e["kind"] == "request")
        .unwrap();
    assert_eq!(
        (last["verdict"].as_str(), last["outcome"].as_str()),
        (Some("unscanned"), Some("forwarded"))
    );
    // ...but its body cap still holds.
    let big = r.dir.join("big.json");
    std::fs::write(&big, "x".repeat(20 << 10)).unwrap();
    let (status, _) = r
        .post_file("https://chatgpt.com/backend-api/conversation", &big, &[])
        .await;
    assert_eq!(status, 413);
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tenant_rules_block_personal_accounts_and_foreign_organisations() {
    let mut p: serde_json::Value = serde_json::from_str(default_policy()).unwrap();
    p["tests"] = serde_json::json!([]);
    p["destinations"][0]["tenant"] = serde_json::json!({"chatgpt_account_domains": ["acme-semi.com"], "claude_organizations": ["org-acme"]});
    p["destinations"][1]["tenant"] = serde_json::json!({"openai_organizations": ["org-acme"]});
    let r = rig_with(&p.to_string(), 32 << 20).await;
    let jwt = |email: &str| {
        use base64::Engine as _;
        let enc = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.sig",
            enc(serde_json::json!({"alg": "RS256"})),
            enc(serde_json::json!({"https://api.openai.com/profile": {"email": email}}))
        )
    };
    let convo = r#"{"action":"next","messages":[{"author":{"role":"user"},"content":{"content_type":"text","parts":["hello"]}}]}"#;
    let url = "https://chatgpt.com/backend-api/conversation";
    let with_auth = |token: String| {
        let (url, convo) = (url.to_string(), convo.to_string());
        let r = &r;
        async move {
            r.curl(&[
                &url,
                "-H",
                "content-type: application/json",
                "-H",
                &format!("authorization: Bearer {token}"),
                "--data-binary",
                &convo,
            ])
            .await
        }
    };
    assert_eq!(
        with_auth(jwt("jane@acme-semi.com")).await.0,
        200,
        "the company account passes"
    );
    let (status, answer) = with_auth(jwt("jane.doe@gmail.com")).await;
    assert_eq!(status, 403);
    assert!(
        answer.contains("leakguard_tenant") && answer.contains("company account"),
        "{answer}"
    );
    assert_eq!(
        r.post_json(url, convo).await.0,
        403,
        "logged-out use is refused"
    );
    let claude = |org: &str| {
        format!("https://claude.ai/api/organizations/{org}/chat_conversations/c1/completion")
    };
    assert_eq!(
        r.post_json(&claude("org-acme"), r#"{"prompt":"hi"}"#)
            .await
            .0,
        200
    );
    assert_eq!(
        r.post_json(&claude("org-personal"), r#"{"prompt":"hi"}"#)
            .await
            .0,
        403
    );
    let api = "https://api.openai.com/v1/chat/completions";
    assert_eq!(
        r.curl(&[
            api,
            "-H",
            "content-type: application/json",
            "-H",
            "openai-organization: org-acme",
            "--data-binary",
            &chat("hi")
        ])
        .await
        .0,
        200
    );
    assert_eq!(
        r.post_json(api, &chat("hi")).await.0,
        403,
        "the organisation header is required"
    );
    assert_eq!(r.up.requests().len(), 3);
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chunked_uploads_are_inspected_like_any_other_body() {
    let r = rig().await;
    let body = r.dir.join("chunked.json");
    std::fs::write(
        &body,
        chat(&format!("deploy with aws_access_key_id = {AWS_KEY}")),
    )
    .unwrap();
    let url = "https://api.openai.com/v1/chat/completions";
    // HTTP/1.1 with Transfer-Encoding: chunked (no Content-Length).
    let (status, _) = r
        .post_file(url, &body, &["transfer-encoding: chunked", "--http1.1"])
        .await;
    assert_eq!(status, 403, "a chunked body is read whole and scanned");
    std::fs::write(&body, chat("a clean chunked prompt")).unwrap();
    let (status, _) = r
        .post_file(url, &body, &["transfer-encoding: chunked", "--http1.1"])
        .await;
    assert_eq!(status, 200);
    assert_eq!(r.upstream_bodies(), vec![chat("a clean chunked prompt")]);
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_guard_chains_through_an_upstream_proxy() {
    // The corporate proxy here is a second guard; the first reaches the LLM host only through it.
    let corporate = rig().await;
    let dir = corporate.dir.join("edge");
    std::fs::create_dir_all(&dir).unwrap();
    // The corporate proxy inspects TLS too: its CA is an extra upstream root.
    let edge = start_guard(
        &dir,
        loaded(default_policy()),
        Limits::default(),
        Vec::new(),
        Some(format!("http://{}", corporate.guard.addr)),
        corporate.device_ca(),
        true,
    )
    .await;
    let body = chat("through two guards");
    let (status, _, stderr) = curl_via(
        edge.addr,
        &dir.join("ca").join(ca::CERT_FILE),
        &[
            "https://api.openai.com/v1/chat/completions",
            "-H",
            "content-type: application/json",
            "-d",
            &body,
        ],
    )
    .await;
    assert_eq!(status, 200, "{stderr}");
    assert_eq!(
        corporate.upstream_bodies(),
        vec![chat("through two guards")]
    );
    assert_eq!(
        corporate
            .events()
            .iter()
            .filter(|e| e["kind"] == "request")
            .count(),
        1,
        "the corporate proxy saw the request"
    );
    edge.stop().await;
    corporate.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_may_speak_http2_or_http1_to_the_guard() {
    let r = rig().await;
    let url = "https://api.openai.com/v1/chat/completions";
    let send = |flag: &'static str, text: &str| {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sS",
            "--max-time",
            "10",
            flag,
            "--proxy",
            &format!("http://{}", r.guard.addr),
            "--cacert",
        ])
        .arg(r.device_ca())
        .args([
            url,
            "-H",
            "content-type: application/json",
            "--data-binary",
            &chat(text),
            "-o",
            "/dev/null",
        ])
        .args(["-w", "%{http_version} %{http_code}"]);
        async move {
            String::from_utf8(
                tokio::task::spawn_blocking(move || cmd.output().unwrap())
                    .await
                    .unwrap()
                    .stdout,
            )
            .unwrap()
        }
    };
    for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        assert_eq!(
            send(flag, &format!("secret {AWS_KEY}")).await,
            format!("{version} 403"),
            "{flag}"
        );
        assert_eq!(
            send(flag, "clean").await,
            format!("{version} 200"),
            "{flag}"
        );
    }
    assert_eq!(r.upstream_bodies().len(), 2);
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redacted_values_are_restored_in_the_reply_when_the_policy_asks() {
    let mut p: serde_json::Value = serde_json::from_str(default_policy()).unwrap();
    p["tests"] = serde_json::json!([]);
    p["destinations"][0]["restore_redacted"] = true.into();
    let r = rig_with(&p.to_string(), 32 << 20).await;
    // This endpoint's test upstream echoes the body it received in a JSON reply.
    let url = "https://claude.ai/api/organizations/o1/chat_conversations/c1/append_message";
    let (status, answer) = r
        .post_json(
            url,
            r#"{"prompt":"the card is 4111 1111 1111 1111, thanks"}"#,
        )
        .await;
    assert_eq!(status, 200);
    let seen = r.upstream_bodies();
    assert!(
        seen[0].contains("[REDACTED:credit-card-number#1]") && !seen[0].contains("4111"),
        "{}",
        seen[0]
    );
    assert!(
        answer.contains("4111 1111 1111 1111") && !answer.contains("[REDACTED:"),
        "the user sees the value: {answer}"
    );
    let reply: serde_json::Value =
        serde_json::from_str(&answer).expect("the restored reply is still JSON");
    assert!(reply["echo"]
        .as_str()
        .unwrap()
        .contains("4111 1111 1111 1111"));
    r.guard.stop().await;
}

#[tokio::test]
async fn the_redacted_prompt_is_kept_only_when_the_policy_asks() {
    let body = r#"{"prompt":"bill card 4111 1111 1111 1111 for the Q3 order"}"#;
    let url = "https://claude.ai/api/organizations/o1/chat_conversations/c1/append_message";
    for keep in [false, true] {
        let mut p: serde_json::Value = serde_json::from_str(default_policy()).unwrap();
        p["tests"] = serde_json::json!([]);
        p["events"]["keep_redacted_prompt"] = keep.into();
        let r = rig_with(&p.to_string(), 32 << 20).await;
        let (status, _) = r.post_json(url, body).await;
        assert_eq!(status, 200);
        let events = r.events();
        let kept = events.last().unwrap()["redacted_prompt"].clone();
        if keep {
            let kept = kept.as_str().expect("kept when asked");
            assert_eq!(
                kept,
                "bill card [REDACTED:credit-card-number#1] for the Q3 order"
            );
        } else {
            assert!(kept.is_null(), "off by default: {kept}");
        }
        let log = std::fs::read_to_string(r.dir.join("events.jsonl")).unwrap();
        assert!(!log.contains("4111 1111"), "never the raw value");
        r.guard.stop().await;
    }
}

/// A WebSocket client through the guard: CONNECT, TLS trusting only the device CA, upgrade.
async fn websocket_through(
    r: &Rig,
    url: &str,
) -> hudsucker::tokio_tungstenite::WebSocketStream<
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
> {
    let host = url
        .trim_start_matches("wss://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let tcp = raw_tunnel(r.guard.addr, &format!("{host}:443")).await;
    let tls = device_tls(r, None, &[])
        .connect(rustls_pki_types::ServerName::try_from(host).unwrap(), tcp)
        .await
        .expect("the device CA vouches for the intercepted host");
    let mut req =
        hudsucker::tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            url,
        )
        .unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "chat.v1".parse().unwrap());
    req.headers_mut().insert(
        "sec-websocket-extensions",
        "permessage-deflate".parse().unwrap(),
    );
    let (ws, res) = hudsucker::tokio_tungstenite::client_async(req, tls)
        .await
        .expect("the WebSocket opens through the guard");
    assert_eq!(
        res.headers().get("sec-websocket-protocol").unwrap(),
        "chat.v1",
        "the upstream's subprotocol reaches the client"
    );
    ws
}

/// The next text frame.
/// Asks the test upstream's WebSocket for `answer` and returns the last of the three frames it
/// sends (its halves, then the whole of it), as the page gets it.
async fn whole_answer<S>(
    ws: &mut hudsucker::tokio_tungstenite::WebSocketStream<S>,
    answer: &str,
) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use hudsucker::futures::SinkExt;
    use hudsucker::tokio_tungstenite::tungstenite::Message;
    ws.send(Message::text(scripted(answer))).await.unwrap();
    next_text(ws).await;
    next_text(ws).await;
    next_text(ws).await
}

async fn next_text<S>(ws: &mut hudsucker::tokio_tungstenite::WebSocketStream<S>) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use hudsucker::futures::StreamExt;
    use hudsucker::tokio_tungstenite::tungstenite::Message;
    loop {
        if let Message::Text(t) = ws.next().await.expect("a frame").unwrap() {
            return t.as_str().to_string();
        }
    }
}

#[tokio::test]
async fn websocket_frames_are_relayed_through_resolve_and_scanned_end_to_end() {
    use hudsucker::futures::SinkExt;
    use hudsucker::tokio_tungstenite::tungstenite::Message;
    let r = rig().await;
    let mut ws = websocket_through(&r, "wss://chatgpt.com/backend-api/ws?x=1").await;
    ws.send(Message::text("hello there")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "echo: hello there");
    // A secret: the frame is dropped, so the next answer is the echo of the frame after it.
    ws.send(Message::text("key AKIAQYLPMN5HJNGY4F7A please"))
        .await
        .unwrap();
    ws.send(Message::text("card 4111 1111 1111 1111 ok"))
        .await
        .unwrap();
    assert_eq!(
        next_text(&mut ws).await,
        "echo: card [REDACTED:credit-card-number#1] ok"
    );
    ws.close(None).await.unwrap();

    let frames: Vec<String> =
        r.up.requests()
            .iter()
            .filter(|s| s.method == "WS")
            .map(|s| String::from_utf8_lossy(&s.body).into_owned())
            .collect();
    assert_eq!(
        frames,
        vec!["hello there", "card [REDACTED:credit-card-number#1] ok"],
        "the upstream (reached through --resolve) never saw the key or the card"
    );
    let events = r.events();
    let ws_events: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["kind"] == "websocket").collect();
    let outcomes: Vec<&str> = ws_events
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, vec!["forwarded", "blocked", "redacted"]);
    assert_eq!(ws_events[1]["rules"][0]["rule"], "aws-access-key-id");
    r.guard.stop().await;
}

/// Issue 21: what the service sends back over a WebSocket is read as a reply (a key cut between
/// two frames, then resent whole as services resend the answer so far, is one `reply` event;
/// the frames reach the client untouched), and binary client frames are scanned as text ones
/// are: a clean one passes, one with a key is dropped, a UTF-8 one with a card is redacted.
#[tokio::test]
async fn websocket_server_frames_are_read_and_binary_frames_scanned() {
    use hudsucker::futures::{SinkExt, StreamExt};
    use hudsucker::tokio_tungstenite::tungstenite::Message;
    let r = rig().await;
    let mut ws = websocket_through(&r, "wss://chatgpt.com/backend-api/ws").await;
    let answer = "the key AKIAQYLPMN5HJNGY4F7A is yours";
    let reversed: String = answer.chars().rev().collect();
    ws.send(Message::text(format!("REPLYREV<<{reversed}>>")))
        .await
        .unwrap();
    let (a, b, c) = (
        next_text(&mut ws).await,
        next_text(&mut ws).await,
        next_text(&mut ws).await,
    );
    assert_eq!(format!("{a}{b}"), answer, "the frames pass untouched");
    assert_eq!(c, answer);
    assert!(
        !a.contains("AKIAQYLPMN5HJNGY4F7A") && !b.contains("AKIAQYLPMN5HJNGY4F7A"),
        "the key is cut between the first two frames"
    );
    ws.send(Message::binary(b"plain bytes".to_vec()))
        .await
        .unwrap();
    ws.send(Message::binary(
        b"\xff\xfe\x00key AKIAQYLPMN5HJNGY4F7A\x01".to_vec(),
    ))
    .await
    .unwrap();
    ws.send(Message::binary(b"card 4111 1111 1111 1111".to_vec()))
        .await
        .unwrap();
    let mut echoes = Vec::new();
    while echoes.len() < 2 {
        if let Message::Binary(b) = ws.next().await.expect("a frame").unwrap() {
            echoes.push(String::from_utf8_lossy(&b).into_owned());
        }
    }
    assert_eq!(
        echoes,
        vec![
            "echo: plain bytes",
            "echo: card [REDACTED:credit-card-number#1]"
        ]
    );
    ws.close(None).await.unwrap();
    let binary: Vec<String> =
        r.up.requests()
            .iter()
            .filter(|s| s.method == "WS-BINARY")
            .map(|s| String::from_utf8_lossy(&s.body).into_owned())
            .collect();
    assert_eq!(
        binary,
        vec!["plain bytes", "card [REDACTED:credit-card-number#1]"],
        "the upstream never saw the key or the card"
    );
    let events = r.events();
    let replies: Vec<&serde_json::Value> = events.iter().filter(|e| e["kind"] == "reply").collect();
    assert_eq!(replies.len(), 1, "one reply event: {replies:?}");
    assert_eq!(replies[0]["host"], "chatgpt.com");
    assert_eq!(replies[0]["verdict"], "audit");
    assert_eq!(replies[0]["endpoint"], "websocket");
    assert!(
        replies[0].get("reply_to").is_none(),
        "a frame answers no recorded request"
    );
    assert_eq!(replies[0]["rules"][0]["rule"], "aws-access-key-id");
    assert_eq!(replies[0]["rules"][0]["count"], 1);
    assert_eq!(
        replies[0]["bytes"],
        b.len(),
        "found at the frame that completed the key, not at its whole resend"
    );
    let outcomes: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "websocket")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        vec!["forwarded", "forwarded", "blocked", "redacted"]
    );
    r.guard.stop().await;
}

/// Issue 21: where the policy redacts a destination's replies, what a WebSocket server sends is
/// redacted frame by frame: a JSON frame's strings (the card inside it), a text frame that
/// holds a value whole (the service's resend of the answer so far). A key cut between two
/// frames cannot be taken back from the frame already sent: it is reported as audited, and its
/// whole resend as redacted; each value is reported once as redacted.
#[tokio::test]
async fn websocket_server_frames_are_redacted_where_the_group_redacts_replies() {
    use hudsucker::futures::SinkExt;
    use hudsucker::tokio_tungstenite::tungstenite::Message;
    let r = rig_redacting_replies_of("consumer-chat").await;
    let mut ws = websocket_through(&r, "wss://chatgpt.com/backend-api/ws").await;
    let answer = format!("the key {AWS_KEY} is yours");
    ws.send(Message::text(scripted(&answer))).await.unwrap();
    let (a, b, c) = (
        next_text(&mut ws).await,
        next_text(&mut ws).await,
        next_text(&mut ws).await,
    );
    assert_eq!(
        format!("{a}{b}"),
        answer,
        "the halves pass: neither holds the key"
    );
    assert_eq!(c, "the key [REDACTED:aws-access-key-id] is yours");
    // A JSON answer: the frame that carries it whole has its strings redacted and stays JSON.
    let json = r#"{"type":"delta","text":"pay with 4111 1111 1111 1111 today","n":3}"#;
    ws.send(Message::text(scripted(json))).await.unwrap();
    let (first, second, whole) = (
        next_text(&mut ws).await,
        next_text(&mut ws).await,
        next_text(&mut ws).await,
    );
    // The halves are not JSON: each is redacted as text where it holds the card whole.
    assert_eq!(first, r#"{"type":"delta","text":"pay with "#);
    assert_eq!(second, r#"[REDACTED:credit-card-number] today","n":3}"#);
    let v: serde_json::Value = serde_json::from_str(&whole).expect("still JSON");
    assert_eq!(
        v,
        serde_json::json!({"type":"delta","text":"pay with [REDACTED:credit-card-number] today","n":3})
    );
    ws.close(None).await.unwrap();
    let events = r.events();
    let replies: Vec<(&str, &str, &str)> = events
        .iter()
        .filter(|e| e["kind"] == "reply")
        .map(|e| {
            (
                e["verdict"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
                e["rules"][0]["rule"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        replies,
        vec![
            ("audit", "forwarded", "aws-access-key-id"),
            ("redact", "redacted", "aws-access-key-id"),
            ("redact", "redacted", "credit-card-number"),
        ],
        "{events:?}"
    );
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poe_answers_on_its_update_channel_are_read_and_redacted_inside_their_json_string() {
    // Poe's web app sends the prompt with a GraphQL mutation and reads the answer on a
    // WebSocket to `tch<N>.tch.poe.com` (inside the policy's `poe.com`, which covers its
    // subdomains): each frame's `messages` are JSON written into strings,
    // `messageAdded.text` the answer so far (multi-line code included, as `\n` inside the
    // inner JSON).
    let text =
        format!("Here:\n```\naws_access_key_id = {AWS_KEY}\n```\nPay with 4111 1111 1111 1111.");
    let inner = serde_json::json!({"message_type": "subscriptionUpdate", "payload": {
        "subscription_name": "messageAdded", "data": {"messageAdded": {"text": text,
        "state": "complete", "author": "capybara"}}}});
    let frame = serde_json::json!({"messages": [inner.to_string()], "min_seq": 7});
    let url = "wss://tch1.tch.poe.com/up/chan1-8888/updates?min_seq=1&channel=poe-chan1-8888";
    // Audited (the default policy): the frames pass as they came, the key and the card found.
    let r = rig().await;
    let mut ws = websocket_through(&r, url).await;
    let whole = whole_answer(&mut ws, &frame.to_string()).await;
    assert_eq!(whole, frame.to_string());
    ws.close(None).await.unwrap();
    let replies = events_of_kind(&r, "reply", 1).await;
    let rules: Vec<&str> = replies
        .iter()
        .flat_map(|e| e["rules"].as_array().unwrap().iter())
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert!(rules.contains(&"aws-access-key-id"), "{replies:?}");
    assert!(rules.contains(&"credit-card-number"), "{replies:?}");
    assert!(replies.iter().all(|e| e["host"] == "tch1.tch.poe.com"));
    r.guard.stop().await;
    // Redacted where the group says so: the whole frame is still JSON, its message still JSON
    // in a string, the answer's text with the key and the card replaced.
    let r = rig_redacting_replies_of("consumer-chat").await;
    let mut ws = websocket_through(&r, url).await;
    let whole = whole_answer(&mut ws, &frame.to_string()).await;
    let outer: serde_json::Value = serde_json::from_str(&whole).expect("still JSON");
    let message: serde_json::Value =
        serde_json::from_str(outer["messages"][0].as_str().unwrap()).expect("still JSON inside");
    assert_eq!(
        message["payload"]["data"]["messageAdded"]["text"],
        text.replace(AWS_KEY, "[REDACTED:aws-access-key-id]")
            .replace("4111 1111 1111 1111", "[REDACTED:credit-card-number]")
    );
    assert_eq!(outer["min_seq"], 7);
    ws.close(None).await.unwrap();
    r.guard.stop().await;
}

#[tokio::test]
async fn http2_to_the_upstream_when_enabled_keeps_bodies_and_redaction_right() {
    let r = rig_opts(default_policy(), 32 << 20, true).await;
    let body = r#"{"messages":[{"role":"user","content":"plain question"}],"model":"gpt-4o"}"#;
    let (status, _) = r
        .post_json("https://api.openai.com/v1/chat/completions", body)
        .await;
    assert_eq!(status, 200);
    // Consumer chat redacts cards (API destinations audit them in the default policy).
    let (status, _) = r
        .post_json(
            "https://claude.ai/api/organizations/o1/chat_conversations/c1/completion",
            r#"{"prompt":"card 4111 1111 1111 1111 please"}"#,
        )
        .await;
    assert_eq!(status, 200);
    let seen = r.up.requests();
    assert!(
        seen.iter().all(|s| s.version == "HTTP/2.0"),
        "ALPN chose h2"
    );
    assert_eq!(
        String::from_utf8_lossy(&seen[0].body),
        body,
        "byte for byte over h2"
    );
    let redacted = String::from_utf8_lossy(&seen[1].body).into_owned();
    assert!(
        redacted.contains("[REDACTED:credit-card-number#1]") && !redacted.contains("4111"),
        "{redacted}"
    );
    r.guard.stop().await;
}

// ---- Hardening: an in-scope CONNECT never becomes a blind tunnel (issue 20) ----

/// CONNECT `target` through the guard; the socket after the guard's 200.
async fn raw_tunnel(guard: std::net::SocketAddr, target: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(guard).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    tcp.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        assert_eq!(
            tcp.read(&mut b).await.unwrap(),
            1,
            "the guard answers CONNECT"
        );
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

/// Verifies the server's certificate with the device CA as if the client had asked for
/// `name`, whatever SNI it sent (so a test can send an SNI the guard does not vouch for and
/// still prove who answered).
#[derive(Debug)]
struct VerifyAs {
    inner: std::sync::Arc<rustls::client::WebPkiServerVerifier>,
    name: rustls_pki_types::ServerName<'static>,
}

impl rustls::client::danger::ServerCertVerifier for VerifyAs {
    fn verify_server_cert(
        &self,
        end_entity: &rustls_pki_types::CertificateDer<'_>,
        intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp, now)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A TLS client that trusts only the device CA, checking the certificate for `vouched`
/// (`None`: for the SNI), offering `alpn`.
fn device_tls(r: &Rig, vouched: Option<&str>, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    use rustls_pki_types::pem::PemObject;
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_file_iter(r.device_ca()).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let mut cfg = match vouched {
        None => builder.with_root_certificates(roots).with_no_client_auth(),
        Some(name) => {
            let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
                std::sync::Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            let name = rustls_pki_types::ServerName::try_from(name.to_string()).unwrap();
            builder
                .dangerous()
                .with_custom_certificate_verifier(std::sync::Arc::new(VerifyAs { inner, name }))
                .with_no_client_auth()
        }
    };
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
}

/// Writes one HTTP/1.1 request with `Connection: close` and reads the whole answer.
async fn raw_exchange<S>(s: &mut S, head: &str, body: &str) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let req = format!(
        "{head}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    // A TLS stream buffers what it cannot write at once: flushed, the request is on its way.
    s.flush().await.unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// A stream whose first write sends one byte, pauses, then the rest: the ClientHello's first
/// byte arrives in its own TCP segment.
struct SplitFirstWrite {
    inner: tokio::net::TcpStream,
    state: u8,
    pause: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl tokio::io::AsyncRead for SplitFirstWrite {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for SplitFirstWrite {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::task::Poll;
        match self.state {
            0 => {
                let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, &buf[..1]);
                if let Poll::Ready(Ok(_)) = r {
                    self.state = 1;
                    self.pause = Some(Box::pin(tokio::time::sleep(
                        std::time::Duration::from_millis(100),
                    )));
                }
                r
            }
            1 => {
                if let Some(p) = self.pause.as_mut() {
                    std::task::ready!(p.as_mut().poll(cx));
                }
                self.pause = None;
                self.state = 2;
                std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
            }
            _ => std::pin::Pin::new(&mut self.inner).poll_write(cx, buf),
        }
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

use std::future::Future as _;

fn secret_chat() -> String {
    chat(&format!("deploy with aws_access_key_id = {AWS_KEY}"))
}

const CHAT_HEAD: &str = "POST /v1/chat/completions HTTP/1.1\r\nhost: api.openai.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_hello_split_across_segments_is_decrypted_not_spliced() {
    let r = rig().await;
    let tcp = raw_tunnel(r.guard.addr, "api.openai.com:443").await;
    let split = SplitFirstWrite {
        inner: tcp,
        state: 0,
        pause: None,
    };
    let name = rustls_pki_types::ServerName::try_from("api.openai.com").unwrap();
    let mut tls = device_tls(&r, None, &[b"http/1.1"])
        .connect(name, split)
        .await
        .expect("the device CA answers: the tunnel was decrypted");
    let answer = raw_exchange(&mut tls, CHAT_HEAD, &secret_chat()).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(r.up.requests().is_empty(), "nothing reached the upstream");
    assert!(r.events().iter().any(|e| e["outcome"] == "blocked"));
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plaintext_http_inside_an_in_scope_connect_is_scanned_not_spliced() {
    let r = rig().await;
    let mut tcp = raw_tunnel(r.guard.addr, "api.openai.com:443").await;
    let answer = raw_exchange(&mut tcp, CHAT_HEAD, &secret_chat()).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(r.up.requests().is_empty());
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_in_scope_connect_with_an_out_of_scope_sni_is_decrypted_for_the_connect_host() {
    let r = rig().await;
    let tcp = raw_tunnel(r.guard.addr, "api.openai.com:443").await;
    // SNI example.com (outside the scope); the certificate must still be the device CA's for
    // the CONNECT host, and the request is scanned and goes nowhere else.
    let name = rustls_pki_types::ServerName::try_from("example.com").unwrap();
    let mut tls = device_tls(&r, Some("api.openai.com"), &[b"http/1.1"])
        .connect(name, tcp)
        .await
        .expect("decrypted with a device-CA leaf for api.openai.com");
    let answer = raw_exchange(
        &mut tls,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: example.com",
        &secret_chat(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(r.up.requests().is_empty());
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connect_to_an_ip_address_with_an_llm_host_in_the_sni_is_decrypted() {
    // The request goes to the SNI's host on the CONNECT's port: route that to the upstream.
    let r =
        rig_resolving(|up| vec![format!("api.openai.com:{}:{}", up.addr.port(), up.addr)]).await;
    // The upstream's own address: before, the guard spliced straight to it.
    let tcp = raw_tunnel(r.guard.addr, &r.up.addr.to_string()).await;
    let name = rustls_pki_types::ServerName::try_from("api.openai.com").unwrap();
    let mut tls = device_tls(&r, None, &[b"http/1.1"])
        .connect(name, tcp)
        .await
        .expect("the device CA answers for the SNI");
    let answer = raw_exchange(&mut tls, CHAT_HEAD, &secret_chat()).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(r.up.requests().is_empty());
    // A clean prompt the same way reaches the host named in the SNI.
    let tcp = raw_tunnel(r.guard.addr, &r.up.addr.to_string()).await;
    let name = rustls_pki_types::ServerName::try_from("api.openai.com").unwrap();
    let mut tls = device_tls(&r, None, &[b"http/1.1"])
        .connect(name, tcp)
        .await
        .unwrap();
    let answer = raw_exchange(&mut tls, CHAT_HEAD, &chat("what is a monad?")).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let seen = r.up.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].host, "api.openai.com");
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bytes_that_are_neither_tls_nor_http_to_an_llm_host_are_refused_and_recorded() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let r = rig().await;
    let mut tcp = raw_tunnel(r.guard.addr, "api.openai.com:443").await;
    tcp.write_all(b"\x00\x01\x02\x03 not a protocol")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let n = tcp.read_to_end(&mut rest).await.unwrap_or(0);
    assert_eq!(n, 0, "closed without a byte passed on");
    let events = r.events();
    let e = events
        .iter()
        .find(|e| e["method"] == "CONNECT")
        .expect("the refusal is recorded");
    assert_eq!(e["outcome"], "refused");
    assert_eq!(e["host"], "api.openai.com");
    assert!(e["reason"]
        .as_str()
        .unwrap()
        .contains("neither TLS nor HTTP"));
    assert!(r.up.requests().is_empty());
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_authority_form_target_inside_a_tunnel_is_a_400_not_a_panic() {
    let r = rig().await;
    for head in [
        "CONNECT chatgpt.com:443 HTTP/1.1\r\nhost: chatgpt.com:443",
        "POST chatgpt.com:443 HTTP/1.1\r\nhost: chatgpt.com",
    ] {
        let tcp = raw_tunnel(r.guard.addr, "chatgpt.com:443").await;
        let name = rustls_pki_types::ServerName::try_from("chatgpt.com").unwrap();
        let mut tls = device_tls(&r, None, &[b"http/1.1"])
            .connect(name, tcp)
            .await
            .unwrap();
        let answer = raw_exchange(&mut tls, head, "{}").await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{head}: {answer}");
    }
    // The guard is still up and answering.
    assert!(get(&r, "/leakguard/health").contains("\"status\":\"ok\""));
    assert!(r.up.requests().is_empty());
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http2_requests_for_another_authority_are_misdirected_not_forwarded() {
    use http_body_util::{BodyExt, Full};
    let r = rig().await;
    let tcp = raw_tunnel(r.guard.addr, "api.openai.com:443").await;
    let name = rustls_pki_types::ServerName::try_from("api.openai.com").unwrap();
    let tls = device_tls(&r, None, &[b"h2"])
        .connect(name, tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let post = |uri: &str, body: String| {
        hyper::Request::post(uri)
            .header("content-type", "application/json")
            .body(Full::new(bytes::Bytes::from(body)))
            .unwrap()
    };
    // Another LLM host and a host outside the scope, on the api.openai.com connection.
    for uri in [
        "https://claude.ai/api/append_message",
        "https://example.com/v1/chat/completions",
    ] {
        let res = send
            .send_request(post(uri, chat("hello there")))
            .await
            .unwrap();
        assert_eq!(res.status(), 421, "{uri}");
    }
    assert!(r.up.requests().is_empty(), "neither request was forwarded");
    // The connection's own host works as before.
    let res = send
        .send_request(post(
            "https://api.openai.com/v1/chat/completions",
            secret_chat(),
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = send
        .send_request(post(
            "https://api.openai.com/v1/chat/completions",
            chat("what is a monad?"),
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let _ = res.into_body().collect().await;
    assert_eq!(r.up.requests().len(), 1);
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_that_speaks_first_is_not_kept_waiting_outside_the_scope() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let r = rig().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(b"220 smtp.example ESMTP ready\r\n")
            .await
            .unwrap();
        let mut b = [0u8; 64];
        let n = s.read(&mut b).await.unwrap();
        s.write_all(&b[..n]).await.unwrap();
    });
    let mut tcp = raw_tunnel(r.guard.addr, &addr.to_string()).await;
    let mut greeting = [0u8; 30];
    tcp.read_exact(&mut greeting).await.unwrap();
    assert_eq!(&greeting, b"220 smtp.example ESMTP ready\r\n");
    tcp.write_all(b"EHLO me\r\n").await.unwrap();
    let mut echo = [0u8; 9];
    tcp.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"EHLO me\r\n");
    r.guard.stop().await;
}

// ---- Hardening: ambiguity is refused, text in every form is read (issue 20) ----

/// One request over a decrypted tunnel to `host` with a raw head and body bytes; the answer.
async fn raw_https(r: &Rig, host: &str, head: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = raw_tunnel(r.guard.addr, &format!("{host}:443")).await;
    let name = rustls_pki_types::ServerName::try_from(host.to_string()).unwrap();
    let mut tls = device_tls(r, None, &[b"http/1.1"])
        .connect(name, tcp)
        .await
        .unwrap();
    let mut req = format!(
        "{head}\r\nhost: {host}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    tls.write_all(&req).await.unwrap();
    // TLS buffers what it cannot write at once; without a flush the request may sit there.
    tls.flush().await.unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_encodings_boundaries_and_repeated_json_keys_are_refused_as_ambiguous() {
    let r = rig().await;
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(secret_chat().as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let answer = raw_https(
        &r,
        "api.openai.com",
        "POST /v1/chat/completions HTTP/1.1\r\ncontent-type: application/json\r\ncontent-encoding: identity\r\ncontent-encoding: gzip",
        &gz,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("ambiguous"), "{answer}");
    let body = "--a\r\ncontent-disposition: form-data; name=\"file\"; filename=\"n.txt\"\r\n\r\nhello\r\n--a--\r\n";
    let answer = raw_https(
        &r,
        "api.openai.com",
        "POST /v1/files HTTP/1.1\r\ncontent-type: multipart/form-data; boundary=a; boundary=b",
        body.as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    // The same key twice: serde would scan the last value, a server might use the first.
    let body = format!(
        r#"{{"model": "gpt-4o", "messages": [{{"role": "user", "content": "key {AWS_KEY}"}}], "messages": [{{"role": "user", "content": "hello"}}]}}"#
    );
    let answer = raw_https(
        &r,
        "api.openai.com",
        "POST /v1/chat/completions HTTP/1.1\r\ncontent-type: application/json",
        body.as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("same key twice"), "{answer}");
    assert!(r.up.requests().is_empty());
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_in_utf16_numbers_file_names_binary_parts_and_epilogues_are_found() {
    let r = rig().await;
    let post = |head: &'static str, body: Vec<u8>| {
        let r = &r;
        // Cards are audited on the API group and held on consumer chat: the card goes there.
        let host = if head.contains("/backend-api/") {
            "chatgpt.com"
        } else {
            "api.openai.com"
        };
        async move { raw_https(r, host, head, &body).await }
    };
    // UTF-16 text to an endpoint the catalog does not know.
    let mut utf16 = vec![0xFF, 0xFE];
    for u in format!("{{\"note\": \"deploy with {AWS_KEY}\"}}").encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    let cases: Vec<(&str, &'static str, Vec<u8>)> = vec![
        (
            "UTF-16",
            "POST /v1/some/new/endpoint HTTP/1.1\r\ncontent-type: application/json; charset=utf-16",
            utf16,
        ),
        (
            "a card number as a JSON number",
            "POST /backend-api/some/new/endpoint HTTP/1.1\r\ncontent-type: application/json",
            br#"{"note": "pay with", "card": 4111111111111111}"#.to_vec(),
        ),
        (
            "a key in a file name",
            "POST /v1/files HTTP/1.1\r\ncontent-type: multipart/form-data; boundary=zz",
            format!("--zz\r\ncontent-disposition: form-data; name=\"file\"; filename=\"{AWS_KEY}.txt\"\r\ncontent-type: text/plain\r\n\r\nhello\r\n--zz--\r\n").into_bytes(),
        ),
        (
            "a key in an image part",
            "POST /v1/files HTTP/1.1\r\ncontent-type: multipart/form-data; boundary=zz",
            [
                b"--zz\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a.png\"\r\ncontent-type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\x00\x00tEXtComment\x00".to_vec(),
                format!("aws_access_key_id = {AWS_KEY}").into_bytes(),
                b"\x00\xff\xfe\r\n--zz--\r\n".to_vec(),
            ]
            .concat(),
        ),
        (
            "a key after the closing boundary",
            "POST /v1/files HTTP/1.1\r\ncontent-type: multipart/form-data; boundary=zz",
            format!("--zz\r\ncontent-disposition: form-data; name=\"purpose\"\r\n\r\nassistants\r\n--zz--\r\naws_access_key_id = {AWS_KEY}\r\n").into_bytes(),
        ),
    ];
    for (what, head, body) in cases {
        let answer = post(head, body).await;
        assert!(answer.starts_with("HTTP/1.1 403"), "{what}: {answer}");
    }
    assert!(r.up.requests().is_empty(), "none of them went out");
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_host_listed_as_unscanned_is_tunnelled_and_recorded_never_decrypted() {
    // A desktop app that pins its certificate: its host is listed, not broken.
    let mut policy: serde_json::Value = serde_json::from_str(default_policy()).unwrap();
    for g in policy["destinations"].as_array_mut().unwrap() {
        if g["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h == "claude.ai")
        {
            g["unscanned_hosts"] = serde_json::json!(["claude.ai"]);
        }
    }
    let r = rig_with(&policy.to_string(), 32 << 20).await;
    // The client sees the upstream's own certificate: the guard did not decrypt.
    let secret = format!("secret={AWS_KEY}");
    let (status, _, stderr) = curl_via(
        r.guard.addr,
        &r.upstream_ca,
        &["https://claude.ai/pinned", "-d", &secret],
    )
    .await;
    assert_eq!(status, 200, "{stderr}");
    let (status, _) = r.curl(&["https://claude.ai/pinned"]).await;
    assert_eq!(
        status, 0,
        "the device CA must not answer for an unscanned host"
    );
    // Each such connection is an event, with the group and why.
    let events = r.events();
    let unscanned: Vec<_> = events
        .iter()
        .filter(|e| e["verdict"] == "unscanned" && e["host"] == "claude.ai")
        .collect();
    assert_eq!(unscanned.len(), 2, "{events:?}");
    assert_eq!(unscanned[0]["outcome"], "forwarded");
    assert!(unscanned[0]["group"].is_string());
    assert!(unscanned[0]["reason"].as_str().unwrap().contains("pinned"));
    assert!(!events.iter().any(|e| e.to_string().contains(AWS_KEY)));
    // The listed host's tunnel still reads the ClientHello: an LLM host in its SNI is
    // decrypted and its prompt scanned (no way around the guard through the list).
    let tcp = raw_tunnel(r.guard.addr, "claude.ai:443").await;
    let name = rustls_pki_types::ServerName::try_from("api.openai.com").unwrap();
    let mut tls = device_tls(&r, None, &[b"http/1.1"])
        .connect(name, tcp)
        .await
        .expect("the device CA answers for the LLM host in the SNI");
    let answer = raw_exchange(&mut tls, CHAT_HEAD, &secret_chat()).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_prompt_in_the_address_is_scanned_and_a_browser_gets_a_page() {
    let r = rig().await;
    const KEY: &str = "AKIAQYLPMN5HJNGY4F7A";
    // A browser opening chatgpt.com/?q=<prompt>: blocked with a page it shows.
    let (status, page) = r
        .curl(&[
            &format!("https://chatgpt.com/?q=use+aws_access_key_id+{KEY}"),
            "-H",
            "accept: text/html,application/xhtml+xml",
        ])
        .await;
    assert_eq!(status, 403);
    assert!(page.contains("<h1>Blocked by Leakguard</h1>"), "{page}");
    assert!(
        page.contains("aws-access-key-id") && !page.contains(KEY),
        "{page}"
    );
    // A clean prompt in the address goes on and is recorded; an asset's query is not.
    let (status, _) = r.curl(&["https://chatgpt.com/?q=what+is+rust"]).await;
    assert_eq!(status, 200);
    let (status, _) = r.curl(&["https://chatgpt.com/assets/app.js?v=123"]).await;
    assert_eq!(status, 200);
    let events = r.events();
    let url: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["endpoint"] == "url")
        .map(|e| (e["outcome"].as_str().unwrap(), e["path"].as_str().unwrap()))
        .collect();
    assert_eq!(url, [("blocked", "/"), ("forwarded", "/")], "{events:?}");
    assert_eq!(
        events.len(),
        2,
        "the asset request is not recorded: {events:?}"
    );
    assert!(!std::fs::read_to_string(r.dir.join("events.jsonl"))
        .unwrap()
        .contains(KEY));
    let seen: Vec<String> = r.up.requests().iter().map(|s| s.path.clone()).collect();
    assert!(!seen.iter().any(|p| p.contains(KEY)), "{seen:?}");
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unlisted_fields_are_scanned_and_a_changed_body_raises_one_coverage_event() {
    let r = rig().await;
    const KEY: &str = "AKIAQYLPMN5HJNGY4F7A";
    // A secret in a field the ChatGPT adapter does not list is found, and the event names it.
    let body = serde_json::json!({"action": "next", "model": "gpt-5",
        "messages": [{"author": {"role": "user"}, "content": {"content_type": "text", "parts": ["hello"]}}],
        "client_contextual_info": {"note": format!("aws_access_key_id = {KEY}")}});
    let (status, _) = r
        .post_json(
            "https://chatgpt.com/backend-api/f/conversation",
            &body.to_string(),
        )
        .await;
    assert_eq!(status, 403);
    // The site changes its body shape: the prose is still scanned, and IT hears of it once.
    let changed = |text: &str| {
        serde_json::json!({"action": "next", "model": "gpt-5",
            "input": {"turns": [{"author": "user", "body": text}]}})
        .to_string()
    };
    for text in [
        "please review the Q3 board notes",
        "and now the Q4 board notes please",
    ] {
        let (status, _) = r
            .post_json(
                "https://chatgpt.com/backend-api/f/conversation",
                &changed(text),
            )
            .await;
        assert_eq!(status, 200);
    }
    let (status, _) = r
        .post_json(
            "https://chatgpt.com/backend-api/f/conversation",
            &changed(&format!("my key is {KEY} right")),
        )
        .await;
    assert_eq!(status, 403, "the changed shape's text is scanned");
    let events = r.events();
    assert_eq!(
        events[0]["unlisted_fields"],
        serde_json::json!(["client_contextual_info.note"]),
        "{events:?}"
    );
    let coverage: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["kind"] == "coverage").collect();
    assert_eq!(coverage.len(), 1, "{events:?}");
    assert_eq!(coverage[0]["endpoint"], "chatgpt-web-conversation");
    assert_eq!(
        coverage[0]["unlisted_fields"],
        serde_json::json!(["input.turns[0].body"])
    );
    assert!(!std::fs::read_to_string(r.dir.join("events.jsonl"))
        .unwrap()
        .contains(KEY));
    r.guard.stop().await;
}

/// Waits until the rig's events hold `n` of kind `kind` (a reply's event is written when its
/// last chunk has gone to the client, so just after curl returns).
async fn events_of_kind(r: &Rig, kind: &str, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..500 {
        let got: Vec<serde_json::Value> = r
            .events()
            .into_iter()
            .filter(|e| e["kind"] == kind)
            .collect();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("fewer than {n} events of kind {kind}: {:?}", r.events());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replies_are_read_as_they_stream_and_recorded_with_their_usage() {
    let mut policy: serde_json::Value = serde_json::from_str(default_policy()).unwrap();
    policy["responses"] = serde_json::json!({"markers": ["You are AcmeBot, the internal"]});
    policy["rules"]["dictionaries"] = serde_json::json!([{"name": "internal-hosts",
        "category": "classified", "severity": "high", "terms": ["*.fab.acme-semi.com"]}]);
    let r = rig_with(&policy.to_string(), 32 << 20).await;
    const KEY: &str = "AKIAQYLPMN5HJNGY4F7A";
    // An OpenAI stream whose answer carries an AWS key, cut into four-character deltas.
    let prompt = scripted(&format!("here: aws_access_key_id = {KEY} done"));
    let (status, text) = r.post_openai_stream(&prompt).await;
    assert_eq!(status, 200);
    // The key never travels whole in one event: it is split over several deltas.
    assert!(
        !text.contains(KEY) && text.contains("\"content\":\"_key\""),
        "{text}"
    );
    let replies = events_of_kind(&r, "reply", 1).await;
    let e = &replies[0];
    assert_eq!(e["rules"][0]["rule"], "aws-access-key-id", "{e}");
    assert_eq!(e["verdict"], "audit");
    assert_eq!(
        (
            e["input_tokens"].as_u64(),
            e["output_tokens"].as_u64(),
            e["cached_tokens"].as_u64()
        ),
        (Some(11), Some(42), Some(3))
    );
    assert_eq!(e["served_model"], "gpt-test");
    let request = r
        .events()
        .into_iter()
        .find(|e| e["kind"] == "request")
        .unwrap();
    assert_eq!(e["reply_to"], request["id"]);
    // An Anthropic stream that leaks the system prompt (a registered marker), and a JSON
    // reply with a card number.
    let prompt = scripted("Sure. My instructions: you are acmebot, the internal helper.");
    let body = serde_json::json!({"model": "claude-test", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": prompt}]});
    let (status, _) = r
        .post_json("https://api.anthropic.com/v1/messages", &body.to_string())
        .await;
    assert_eq!(status, 200);
    let prompt = scripted("the card on file is 4111 1111 1111 1111.");
    let (status, text) = r
        .post_json("https://api.openai.com/v1/chat/completions", &chat(&prompt))
        .await;
    assert_eq!(status, 200);
    assert!(
        text.contains("4111 1111 1111 1111"),
        "replies are audited, not changed: {text}"
    );
    // An answer that names one of the organisation's internal hosts.
    let prompt = scripted("The nightly build runs on ci7.fab.acme-semi.com, ask there.");
    let (status, _) = r
        .post_json("https://api.openai.com/v1/chat/completions", &chat(&prompt))
        .await;
    assert_eq!(status, 200);
    let replies = events_of_kind(&r, "reply", 4).await;
    let rules: Vec<&str> = replies
        .iter()
        .map(|e| e["rules"][0]["rule"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        rules,
        [
            "aws-access-key-id",
            "prompt-leak-marker",
            "credit-card-number",
            "dictionary:internal-hosts:host"
        ]
    );
    assert_eq!(replies[1]["output_tokens"], 42);
    let log = std::fs::read_to_string(r.dir.join("events.jsonl")).unwrap();
    assert!(!log.contains(KEY) && !log.contains("4111 1111"), "{log}");
    // A clean reply is recorded only for its usage.
    let (status, _) = r
        .post_json("https://api.openai.com/v1/chat/completions", &chat("hello"))
        .await;
    assert_eq!(status, 200);
    let replies = events_of_kind(&r, "reply", 5).await;
    assert_eq!(replies[4]["verdict"], "allow");
    assert!(
        replies[4]["rules"].as_array().is_none_or(|a| a.is_empty()),
        "{}",
        replies[4]
    );
    assert_eq!(replies[4]["input_tokens"], 5);
    r.guard.stop().await;
}

/// A rig whose policy redacts the replies of destination group `group`.
async fn rig_redacting_replies_of(group: &str) -> Rig {
    let mut p: serde_json::Value = serde_json::from_str(default_policy()).unwrap();
    p["tests"] = serde_json::json!([]);
    let groups = p["destinations"].as_array_mut().unwrap();
    let g = groups.iter_mut().find(|g| g["name"] == group).unwrap();
    g["reply_action"] = "redact".into();
    rig_with(&p.to_string(), 32 << 20).await
}

/// A prompt that makes the test upstream answer about 1.9 KB with an AWS key in the middle and
/// a card at the very end, and that answer as the user must see it, redacted.
fn answer_to_redact() -> (String, String) {
    let filler = "The deployment notes continue with the usual steps for the team. ".repeat(14);
    let answer = format!(
        "{filler}Use aws_access_key_id = {AWS_KEY} for it. {filler}The card is 4111 1111 1111 1111 here."
    );
    let expected = answer
        .replace(AWS_KEY, "[REDACTED:aws-access-key-id]")
        .replace("4111 1111 1111 1111", "[REDACTED:credit-card-number]");
    (scripted(&answer), expected)
}

/// Checks a `reply` event of `endpoint` names both values of [`answer_to_redact`].
fn assert_audited_key_and_card(e: &serde_json::Value, endpoint: &str) {
    assert_eq!(e["endpoint"], endpoint, "{e}");
    let rules: Vec<&str> = e["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert!(rules.contains(&"aws-access-key-id"), "{e}");
    assert!(rules.contains(&"credit-card-number"), "{e}");
}

/// Waits for `n` `reply` events and checks each says its reply was redacted.
async fn assert_replies_redacted(r: &Rig, n: usize) -> Vec<serde_json::Value> {
    let replies = events_of_kind(r, "reply", n).await;
    for e in &replies {
        assert_eq!(
            (e["verdict"].as_str(), e["outcome"].as_str()),
            (Some("redact"), Some("redacted")),
            "{e}"
        );
    }
    replies
}

fn scripted(answer: &str) -> String {
    format!("REPLYREV<<{}>>", answer.chars().rev().collect::<String>())
}

/// The text of an SSE stream's events (OpenAI's `choices[0].delta.content`, Anthropic's
/// `delta.text`), checking that every `data:` line is still JSON and nothing follows `[DONE]`.
fn streamed_text(stream: &str) -> String {
    let data: Vec<&str> = stream
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    if let Some(done) = data.iter().position(|d| *d == "[DONE]") {
        assert_eq!(done, data.len() - 1, "nothing after [DONE]: {stream}");
    }
    data.iter()
        .filter(|d| **d != "[DONE]")
        .map(|d| serde_json::from_str::<serde_json::Value>(d).expect("each event is JSON"))
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .or(v["delta"]["text"].as_str())
                .map(str::to_string)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replies_are_redacted_for_a_group_that_asks_even_split_over_many_deltas() {
    let r = rig_redacting_replies_of("enterprise-api").await;
    let (prompt, expected) = answer_to_redact();
    // OpenAI's stream, four characters a delta: the key and the card arrive cut over
    // several deltas, far from the start and at the very end.
    let (status, stream) = r.post_openai_stream(&prompt).await;
    assert_eq!(status, 200);
    assert!(
        !stream.contains("4111") && !stream.contains("AKIA"),
        "{stream}"
    );
    assert_eq!(streamed_text(&stream), expected);
    assert!(
        stream.matches("data: ").count() > 200,
        "still streamed event by event"
    );
    // Anthropic's stream (named events): the same.
    let body = serde_json::json!({"model": "claude-test", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": prompt}]});
    let (status, stream) = r
        .post_json("https://api.anthropic.com/v1/messages", &body.to_string())
        .await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&stream), expected, "{stream}");
    for event in stream.split("\n\n").filter(|e| e.contains("data: ")) {
        assert_eq!(event.matches("event: ").count(), 1, "{event}");
    }
    // A JSON reply: its text field rewritten (and its length right, or curl would fail).
    let (status, json) = r
        .post_json("https://api.openai.com/v1/chat/completions", &chat(&prompt))
        .await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&json).expect("still JSON");
    assert_eq!(v["choices"][0]["message"]["content"], expected.as_str());
    assert_eq!(v["usage"]["completion_tokens"], 3, "the rest untouched");
    assert_replies_redacted(&r, 3).await;
    // A consumer chat (no `reply_action`): audited, not changed.
    let (status, stream) = r
        .post_json(
            "https://chatgpt.com/backend-api/conversation",
            &serde_json::json!({"action": "next", "messages": [{"id": "m1",
                "author": {"role": "user"}, "content": {"content_type": "text",
                "parts": [scripted("card is 4111 1111 1111 1111")]}}]})
            .to_string(),
        )
        .await;
    assert_eq!(status, 200);
    assert!(stream.contains("4111"), "{stream}");
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gemini_streams_are_redacted_item_by_item_and_end_once() {
    let r = rig_redacting_replies_of("enterprise-api").await;
    let (prompt, expected) = answer_to_redact();
    let body = serde_json::json!({"contents": [{"role": "user", "parts": [{"text": prompt}]}]});
    let base = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent";
    // The texts and the events that end the answer (finish reason, usage) of Gemini items.
    let read = |items: &[serde_json::Value]| {
        let text: String = items
            .iter()
            .filter_map(|i| i["candidates"][0]["content"]["parts"][0]["text"].as_str())
            .collect();
        let finishes = items
            .iter()
            .filter(|i| i["candidates"][0]["finishReason"].is_string())
            .count();
        let usages = items
            .iter()
            .filter(|i| i["usageMetadata"].is_object())
            .count();
        (text, finishes, usages, items.len())
    };
    // One JSON array (no `alt=sse`): still one JSON array, item by item, the key and the card
    // cut over four-character items replaced, the finish reason and usage once, last.
    let (status, array) = r.post_json(base, &body.to_string()).await;
    assert_eq!(status, 200);
    let items: Vec<serde_json::Value> = serde_json::from_str(&array).expect("still one JSON array");
    let (text, finishes, usages, n) = read(&items);
    assert_eq!(text, expected);
    assert_eq!((finishes, usages), (1, 1), "{array}");
    assert!(items[n - 1]["candidates"][0]["finishReason"].is_string());
    assert!(n > 200, "still item by item: {n}");
    assert!(
        !array.contains("AKIA") && !array.contains("4111"),
        "{array}"
    );
    // SSE (`alt=sse`, as the SDKs ask): the same, event by event.
    let (status, stream) = r
        .post_json(&format!("{base}?alt=sse"), &body.to_string())
        .await;
    assert_eq!(status, 200);
    let items: Vec<serde_json::Value> = stream
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).expect("each event is JSON"))
        .collect();
    let (text, finishes, usages, n) = read(&items);
    assert_eq!(text, expected);
    assert_eq!((finishes, usages), (1, 1), "{stream}");
    assert!(n > 200, "still event by event: {n}");
    for e in assert_replies_redacted(&r, 2).await {
        assert_eq!(e["endpoint"], "gemini-generate-content", "{e}");
        assert_eq!(e["output_tokens"], 42, "{e}");
    }
    r.guard.stop().await;
}

/// The text of a Le Chat reply (numbered lines: `0:"text"`, or JSON patches of the content
/// chunks), checking that every line is still `N:json`.
fn lechat_text(reply: &str) -> String {
    let mut text = String::new();
    for line in reply.lines() {
        let (n, json) = line.split_once(':').expect("a numbered line");
        assert!(n.parse::<u32>().is_ok(), "{line}");
        let v: serde_json::Value = serde_json::from_str(json).expect("each line is JSON");
        if let Some(t) = v.as_str() {
            text.push_str(t);
        }
        for p in v["json"]["patches"].as_array().into_iter().flatten() {
            match &p["value"] {
                serde_json::Value::String(t) => text.push_str(t),
                serde_json::Value::Array(chunks) => chunks
                    .iter()
                    .filter_map(|c| c["text"].as_str())
                    .for_each(|t| text.push_str(t)),
                _ => {}
            }
        }
    }
    text
}

/// Le Chat's `/api/chat` with `body`: the reply (after a 200).
async fn post_lechat(r: &Rig, body: &serde_json::Value) -> String {
    let (status, reply) = r
        .post_json("https://chat.mistral.ai/api/chat", &body.to_string())
        .await;
    assert_eq!(status, 200, "{reply}");
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn le_chat_replies_are_read_and_redacted_line_by_line() {
    let (prompt, expected) = answer_to_redact();
    // Both generations of the web app: the message as a string (`0:"text"` lines back), and
    // as typed parts (JSON patches back).
    let bodies = [
        serde_json::json!({"chatId": "c1", "mode": "append", "messageInput": prompt,
            "messageId": "m1", "model": "mistral-large-latest"}),
        serde_json::json!({"chatId": "c1", "mode": "append", "messageId": "m2",
            "messageInput": [{"type": "text", "text": prompt}], "messageFiles": []}),
    ];
    // Audited (the default policy): the reply goes as it came, the key and the card found.
    let r = rig().await;
    for body in &bodies {
        let reply = post_lechat(&r, body).await;
        assert!(
            lechat_text(&reply).contains("4111 1111 1111 1111"),
            "untouched: {reply}"
        );
    }
    let replies = events_of_kind(&r, "reply", 2).await;
    for e in &replies {
        assert_audited_key_and_card(e, "lechat-web-chat");
    }
    r.guard.stop().await;
    // Redacted where the group says so: line by line, still numbered JSON lines, the key and
    // the card cut over four-character lines replaced, the status line last.
    let r = rig_redacting_replies_of("consumer-chat").await;
    for body in &bodies {
        let reply = post_lechat(&r, body).await;
        assert!(
            !reply.contains("4111") && !reply.contains("AKIA"),
            "{reply}"
        );
        assert_eq!(lechat_text(&reply), expected);
        assert!(reply.lines().count() > 200, "still line by line");
        assert!(
            reply.trim_end().ends_with(r#"2:{"status":"completed"}"#),
            "{reply}"
        );
    }
    assert_replies_redacted(&r, 2).await;
    r.guard.stop().await;
}

/// The answer's text in a ChatGPT web stream (`v1` delta encoding): appends to the message's
/// first part, whether with their pointer, bare (continuing the last one) or inside a patch.
fn chatgpt_text(reply: &str) -> String {
    const PART: &str = "/message/content/parts/0";
    let mut text = String::new();
    let mut last_pointer = String::new();
    for data in reply.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if data == "[DONE]" {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(data).unwrap_or_else(|_| panic!("every event is JSON: {data}"));
        if let Some(p) = v["p"].as_str() {
            last_pointer = p.to_string();
        }
        match &v["v"] {
            serde_json::Value::String(t) if last_pointer == PART => text.push_str(t),
            serde_json::Value::Array(ops) => {
                for op in ops.iter().filter(|op| op["p"] == PART) {
                    text.push_str(op["v"].as_str().unwrap_or_default());
                }
            }
            _ => {}
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chatgpt_web_replies_are_read_and_redacted_in_its_delta_encoding() {
    let (prompt, expected) = answer_to_redact();
    let body = serde_json::json!({"action": "next", "model": "auto",
        "parent_message_id": "client-created-root", "conversation_id": "c1",
        "messages": [{"id": "u1", "author": {"role": "user"},
            "content": {"content_type": "text", "parts": [prompt]}}]});
    let url = "https://chatgpt.com/backend-api/f/conversation";
    // Audited (the default policy): the stream goes as it came, the key and the card found,
    // the model that served `auto` recorded.
    let r = rig().await;
    let (status, reply) = r.post_json(url, &body.to_string()).await;
    assert_eq!(status, 200, "{reply}");
    assert!(
        chatgpt_text(&reply).contains("4111 1111 1111 1111"),
        "untouched: {reply}"
    );
    let e = &events_of_kind(&r, "reply", 1).await[0];
    assert_audited_key_and_card(e, "chatgpt-web-conversation");
    assert_eq!(e["served_model"], "gpt-test", "{e}");
    r.guard.stop().await;
    // Redacted where the group says so: still the same delta encoding event by event (bare
    // continuations and the final patch included), the key and the card replaced.
    let r = rig_redacting_replies_of("consumer-chat").await;
    let (status, reply) = r.post_json(url, &body.to_string()).await;
    assert_eq!(status, 200, "{reply}");
    assert!(
        !reply.contains("4111") && !reply.contains("AKIA"),
        "{reply}"
    );
    assert_eq!(chatgpt_text(&reply), expected);
    assert!(
        reply.matches("event: delta\n").count() > 100,
        "still delta by delta"
    );
    assert_eq!(
        reply.matches("finished_successfully").count(),
        1,
        "the status change kept, once: the event that ends the answer takes the held text"
    );
    assert!(reply.trim_end().ends_with("data: [DONE]"), "{reply}");
    assert_replies_redacted(&r, 1).await;
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bedrock_event_streams_are_read_as_replies() {
    let r = rig().await;
    let prompt = scripted(&format!("here: aws_access_key_id = {AWS_KEY} done"));
    let base = "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1:0";
    // Converse: the key cut over four-character `contentBlockDelta` messages.
    let converse =
        serde_json::json!({"messages": [{"role": "user", "content": [{"text": prompt}]}]});
    let (status, body) = r
        .post_json(&format!("{base}/converse-stream"), &converse.to_string())
        .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("contentBlockDelta") && !body.contains(AWS_KEY),
        "the stream went through as messages: {body}"
    );
    // InvokeModel: the model's own events, base64 in `chunk` messages.
    let invoke = serde_json::json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
        "messages": [{"role": "user", "content": prompt}]});
    let (status, _) = r
        .post_json(
            &format!("{base}/invoke-with-response-stream"),
            &invoke.to_string(),
        )
        .await;
    assert_eq!(status, 200);
    let replies = events_of_kind(&r, "reply", 2).await;
    for (e, endpoint) in replies.iter().zip(["bedrock-converse", "bedrock-invoke"]) {
        assert_eq!(e["endpoint"], endpoint, "{e}");
        assert_eq!(e["rules"][0]["rule"], "aws-access-key-id", "{e}");
        assert_eq!(
            (e["input_tokens"].as_u64(), e["output_tokens"].as_u64()),
            (Some(11), Some(42)),
            "{e}"
        );
    }
    r.guard.stop().await;
}

/// The texts of an AWS event stream's messages (Converse's `delta.text`, InvokeModel's base64
/// `chunk`s of the model's events), checking that every message's lengths and CRCs check
/// out, as boto3 would insist.
fn eventstream_texts(bytes: &[u8]) -> Vec<String> {
    let mut texts = Vec::new();
    for (headers, payload) in &leakguard_testkit::eventstream_messages(bytes) {
        assert!(headers
            .iter()
            .any(|(n, v)| n == ":message-type" && v == "event"));
        let outer: serde_json::Value = serde_json::from_slice(payload).unwrap();
        let doc = match outer["bytes"].as_str() {
            Some(b64) => {
                use base64::Engine as _;
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap();
                serde_json::from_slice(&raw).unwrap()
            }
            None => outer,
        };
        if let Some(t) = doc["delta"]["text"].as_str() {
            texts.push(t.to_string());
        }
    }
    texts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bedrock_event_streams_are_redacted_message_by_message_with_valid_crcs() {
    let r = rig_redacting_replies_of("cloud-ai").await;
    let (prompt, expected) = answer_to_redact();
    let base = "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1:0";
    let converse =
        serde_json::json!({"messages": [{"role": "user", "content": [{"text": prompt}]}]});
    let invoke = serde_json::json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
        "messages": [{"role": "user", "content": prompt}]});
    for (api, body) in [
        ("converse-stream", converse),
        ("invoke-with-response-stream", invoke),
    ] {
        let (status, bytes) = r
            .post_json_bytes(&format!("{base}/{api}"), &body.to_string())
            .await;
        assert_eq!(status, 200, "{api}");
        let texts = eventstream_texts(&bytes);
        let messages = leakguard_testkit::eventstream_messages(&bytes);
        assert_eq!(texts.concat(), expected, "{api}");
        assert!(
            texts.len() > 200,
            "{api}: still streamed message by message"
        );
        let kinds: Vec<&str> = messages
            .iter()
            .filter_map(|(h, _)| h.iter().find(|(n, _)| n == ":event-type"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert!(
            kinds.contains(&"metadata") || kinds.contains(&"chunk"),
            "{api}: {kinds:?}"
        );
    }
    assert_replies_redacted(&r, 2).await;
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_placeholder_streamed_over_several_events_is_restored_whole() {
    let mut p: serde_json::Value = serde_json::from_str(default_policy()).unwrap();
    p["tests"] = serde_json::json!([]);
    p["destinations"][0]["restore_redacted"] = true.into();
    let r = rig_with(&p.to_string(), 32 << 20).await;
    // The model's answer echoes the placeholder, streamed four characters per event (Claude
    // web's stream, Anthropic's event shape).
    let answer: String = "your card [REDACTED:credit-card-number#1] is noted"
        .chars()
        .rev()
        .collect();
    let body = serde_json::json!({"prompt": format!("the card is 4111 1111 1111 1111 REPLYREV<<{answer}>>")});
    let (status, stream) = r
        .post_json(
            "https://claude.ai/api/organizations/o1/chat_conversations/c1/completion",
            &body.to_string(),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        r.upstream_bodies()[0].contains("[REDACTED:credit-card-number#1]"),
        "the service saw the placeholder"
    );
    let texts: Vec<String> = stream
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str::<serde_json::Value>(d).expect("each event is still JSON"))
        .filter_map(|v| v["delta"]["text"].as_str().map(str::to_string))
        .collect();
    assert!(texts.len() > 5, "still streamed as many events: {stream}");
    assert_eq!(
        texts.concat(),
        "your card 4111 1111 1111 1111 is noted",
        "{stream}"
    );
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn placeholders_are_restored_whole_in_every_providers_stream_shape() {
    let mut p: serde_json::Value = serde_json::from_str(default_policy()).unwrap();
    p["tests"] = serde_json::json!([]);
    for d in p["destinations"].as_array_mut().unwrap() {
        d["restore_redacted"] = true.into();
    }
    for group in ["enterprise-api", "cloud-ai"] {
        p["actions"]["groups"][group]["categories"]["pii"] = "redact".into();
    }
    let r = rig_with(&p.to_string(), 32 << 20).await;
    // The model echoes the placeholder the service saw, four characters an event, so the
    // placeholder is cut over several events in every shape.
    let answer: String = "your card [REDACTED:credit-card-number#1] is noted"
        .chars()
        .rev()
        .collect();
    let prompt = format!("the card is 4111 1111 1111 1111 REPLYREV<<{answer}>>");
    let expected = "your card 4111 1111 1111 1111 is noted";
    let post = |url: &'static str, body: serde_json::Value| {
        let r = &r;
        async move {
            let (status, reply) = r.post_json(url, &body.to_string()).await;
            assert_eq!(status, 200, "{url}: {reply}");
            reply
        }
    };
    // OpenAI's chunks.
    let stream = post(
        "https://api.openai.com/v1/chat/completions",
        serde_json::json!({"model": "gpt-4o", "stream": true,
            "messages": [{"role": "user", "content": prompt}]}),
    )
    .await;
    assert_eq!(streamed_text(&stream), expected, "openai: {stream}");
    // Gemini: SSE events and one JSON array of items.
    let gemini = serde_json::json!({"contents": [{"role": "user", "parts": [{"text": prompt}]}]});
    let gemini_text = |items: Vec<serde_json::Value>| -> String {
        items
            .iter()
            .filter_map(|i| i["candidates"][0]["content"]["parts"][0]["text"].as_str())
            .collect()
    };
    let stream = post("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", gemini.clone()).await;
    let items = stream
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).expect("each event is JSON"))
        .collect();
    assert_eq!(gemini_text(items), expected, "gemini sse: {stream}");
    let array = post("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent", gemini).await;
    let items = serde_json::from_str(&array).expect("still one JSON array");
    assert_eq!(gemini_text(items), expected, "gemini array: {array}");
    // Le Chat's numbered lines, ChatGPT's delta encoding.
    let lines = post(
        "https://chat.mistral.ai/api/chat",
        serde_json::json!({"chatId": "c1", "mode": "append", "messageInput": prompt}),
    )
    .await;
    assert_eq!(lechat_text(&lines), expected, "le chat: {lines}");
    let deltas = post(
        "https://chatgpt.com/backend-api/f/conversation",
        serde_json::json!({"action": "next", "model": "auto", "messages": [{"id": "u1",
            "author": {"role": "user"}, "content": {"content_type": "text", "parts": [prompt]}}]}),
    )
    .await;
    assert_eq!(chatgpt_text(&deltas), expected, "chatgpt: {deltas}");
    // Bedrock's AWS event stream: messages rewritten with their lengths and CRCs.
    let converse =
        serde_json::json!({"messages": [{"role": "user", "content": [{"text": prompt}]}]});
    let (status, bytes) = r
        .post_json_bytes(
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1:0/converse-stream",
            &converse.to_string(),
        )
        .await;
    assert_eq!(status, 200);
    let texts = eventstream_texts(&bytes);
    assert_eq!(texts.concat(), expected, "bedrock");
    assert!(texts.len() > 5, "still message by message");
    // No service ever saw the card.
    let seen = r.upstream_bodies();
    assert_eq!(seen.len(), 6);
    assert!(
        seen.iter()
            .all(|b| b.contains("[REDACTED:credit-card-number#1]") && !b.contains("4111")),
        "{seen:?}"
    );
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_budgets_count_what_the_replies_reported() {
    let mut p: serde_json::Value = serde_json::from_str(default_policy()).unwrap();
    p["tests"] = serde_json::json!([]);
    p["api"] = serde_json::json!({"enterprise-api": {"tokens_per_minute": 60}});
    let r = rig_with(&p.to_string(), 32 << 20).await;
    let url = "https://api.openai.com/v1/chat/completions";
    // A short prompt (an estimate of a few tokens) whose streamed answer reports 11 in and 42
    // out: the minute now holds 53 tokens.
    let body = serde_json::json!({"model": "gpt-4o", "stream": true,
        "messages": [{"role": "user", "content": "REPLYREV<<ko>>"}]});
    assert_eq!(r.post_json(url, &body.to_string()).await.0, 200);
    let replies = events_of_kind(&r, "reply", 1).await;
    assert_eq!(replies[0]["output_tokens"], 42);
    // The next prompt's estimate (about 20 tokens) would fit an estimate-only budget (a few
    // tokens so far) but not the reported one.
    let next = chat("a question of some eighty characters, to be estimated at twenty. ");
    let (status, answer) = r.post_json(url, &next).await;
    assert_eq!(status, 429, "{answer}");
    assert!(answer.contains("60 tokens a minute"), "{answer}");
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_program_that_sent_a_request_with_findings_is_named_clean_ones_are_not_looked_up() {
    let r = rig().await;
    let key = chat(&format!("deploy with aws_access_key_id = {AWS_KEY}"));
    let (status, _) = r.post_json(OPENAI_CHAT, &key).await;
    assert_eq!(status, 403);
    let (status, _) = r.post_json(OPENAI_CHAT, &chat("what is a monad?")).await;
    assert_eq!(status, 200);
    let events = r.events();
    let blocked = events
        .iter()
        .find(|e| e["outcome"] == "blocked")
        .expect("the block is recorded");
    // The rig's client is curl, a child process of this test.
    let process = blocked["process"].as_str().unwrap_or_default();
    assert!(process.starts_with("curl ("), "{blocked}");
    let clean = events
        .iter()
        .find(|e| e["outcome"] == "forwarded")
        .expect("the clean request is recorded");
    assert!(clean.get("process").is_none(), "{clean}");
    r.guard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_exception_by_program_applies_to_that_program_only() {
    let mut p: serde_json::Value = serde_json::from_str(default_policy()).unwrap();
    p["tests"] = serde_json::json!([]);
    p["exceptions"] = serde_json::json!([
        {"reason": "release tooling in python", "expires": "2099-12-31",
         "rules": ["aws-access-key-id"], "processes": ["python3"]},
    ]);
    let prompt = chat(&format!("deploy with aws_access_key_id = {AWS_KEY}"));
    let url = "https://api.openai.com/v1/chat/completions";
    let r = rig_with(&p.to_string(), 32 << 20).await;
    assert_eq!(
        r.post_json(url, &prompt).await.0,
        403,
        "curl is not python3"
    );
    r.guard.stop().await;
    p["exceptions"][0]["processes"] = serde_json::json!(["curl"]);
    p["exceptions"][0]["reason"] = "the same, for curl".into();
    let r = rig_with(&p.to_string(), 32 << 20).await;
    assert_eq!(r.post_json(url, &prompt).await.0, 200, "curl is excepted");
    let events = r.events();
    let e = events
        .iter()
        .find(|e| e["kind"] == "request")
        .expect("recorded");
    assert_eq!(e["verdict"], "audit", "{e}");
    assert_eq!(e["decided_by"], "exceptions[0] (the same, for curl)", "{e}");
    assert!(
        e["process"]
            .as_str()
            .is_some_and(|p| p.starts_with("curl (")),
        "{e}"
    );
    r.guard.stop().await;
    // By the executable's path (what cannot be imitated by naming a program `curl`): the
    // path the kernel reports for curl, and a wrong one.
    let curl = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("curl"))
        .find(|p| p.exists())
        .and_then(|p| std::fs::canonicalize(p).ok())
        .expect("curl on the PATH");
    for (path, status) in [(curl.to_str().unwrap(), 200), ("/opt/other/curl", 403)] {
        p["exceptions"][0]["processes"] = serde_json::json!([path]);
        let r = rig_with(&p.to_string(), 32 << 20).await;
        assert_eq!(r.post_json(url, &prompt).await.0, status, "{path}");
        r.guard.stop().await;
    }
}
