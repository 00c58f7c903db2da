//! Test-only parts: a test CA, and a TLS server on 127.0.0.1 that answers as the LLM APIs and
//! web apps would (OpenAI, Anthropic, ChatGPT web, Claude web), records every request it
//! received, and streams SSE events with a gap between them so tests can see they arrive one
//! by one.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::ServerConfig;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The gap between SSE events the upstream sends.
pub const SSE_GAP: Duration = Duration::from_millis(150);

/// A request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub host: String,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `HTTP/1.1` or `HTTP/2.0` (what the guard spoke to the upstream).
    pub version: String,
}

/// A scratch directory under the system temp dir, unique per process and call, removed with
/// everything in it when dropped (tests may write ~100 MB into one).
#[derive(Debug)]
pub struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    pub fn new(prefix: &str) -> ScratchDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        ScratchDir(dir)
    }
}

impl std::ops::Deref for ScratchDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for ScratchDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CA for tests, and leaves it issues.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub cert_pem: String,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestCa")
    }
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("self-signed");
        TestCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server config presenting a leaf for all `hosts`.
    pub fn server_config(&self, hosts: &[&str]) -> ServerConfig {
        let key = KeyPair::generate().expect("key");
        let params =
            CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())
                .expect("params");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        let mut cfg = ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::from(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("config");
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        cfg
    }

    /// A leaf for `hosts` as PEM (certificate, PKCS#8 key), for servers configured by file
    /// (rsyslog).
    pub fn leaf_pem(&self, hosts: &[&str]) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let params =
            CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())
                .expect("params");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        (cert.pem(), key.serialize_pem())
    }

    pub fn write_pem(&self, path: &Path) {
        std::fs::write(path, &self.cert_pem).expect("write CA");
    }
}

/// The hosts the upstream impersonates.
pub const HOSTS: &[&str] = &[
    "api.openai.com",
    "api.anthropic.com",
    "chatgpt.com",
    "claude.ai",
    "files.oaiusercontent.com",
    "intranet.test",
    "bedrock-runtime.us-east-1.amazonaws.com",
    "generativelanguage.googleapis.com",
    "gemini.google.com",
    "chat.mistral.ai",
    "tch1.tch.poe.com",
];

/// A running upstream.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Files served on GET with an ETag (304 on a matching If-None-Match), e.g. a policy.
    pub files: Files,
}

/// Path -> (content, etag).
pub type Files = Arc<Mutex<std::collections::HashMap<String, (Vec<u8>, String)>>>;

impl Upstream {
    /// Starts on 127.0.0.1:0 with a leaf for [`HOSTS`] from `ca`.
    pub async fn start(ca: &TestCa) -> Upstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(ca.server_config(HOSTS)));
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let files: Files = Arc::default();
        let s2 = Arc::clone(&seen);
        let f2 = Arc::clone(&files);
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let seen = Arc::clone(&s2);
                let files = Arc::clone(&f2);
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let sni = tls.get_ref().1.server_name().unwrap_or("").to_string();
                    let svc = hyper::service::service_fn(move |req| {
                        answer(req, sni.clone(), Arc::clone(&seen), Arc::clone(&files))
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        Upstream { addr, seen, files }
    }

    /// Serves `content` at `path` with a new ETag.
    pub fn serve(&self, path: &str, content: &[u8]) {
        let etag = format!(
            "\"{:x}-{}\"",
            content.len(),
            content.iter().map(|&b| u64::from(b)).sum::<u64>()
        );
        self.files
            .lock()
            .expect("files")
            .insert(path.to_string(), (content.to_vec(), etag));
    }

    /// `--resolve` arguments pointing every impersonated host at this upstream.
    pub fn resolve_args(&self) -> Vec<String> {
        HOSTS
            .iter()
            .map(|h| format!("{h}:443:{}", self.addr))
            .collect()
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A page served as https://chatgpt.com/leakguard-e2e.html: it sends four ChatGPT-web-shaped
/// prompts (clean, with a secret, with a card number, and one whose scripted answer carries an
/// AWS key) from the page, as the real web app does, and writes what came back into the
/// document for the test to read.
pub const E2E_PAGE: &str = r#"<!doctype html><html><head><title>leakguard e2e</title></head><body>waiting
<script>
async function send(text) {
  const body = {action: "next", model: "auto", parent_message_id: "client-created-root",
    messages: [{id: crypto.randomUUID(), author: {role: "user"}, content: {content_type: "text", parts: [text]}}]};
  const r = await fetch("/backend-api/f/conversation", {method: "POST",
    headers: {"content-type": "application/json", "accept": "text/event-stream"}, body: JSON.stringify(body)});
  return {status: r.status, text: (await r.text()).slice(0, 20000)};
}
(async () => {
  const out = [];
  out.push(await send("What is a good name for a pet turtle?"));
  out.push(await send("deploy with aws_access_key_id = AKIAQYLPMN5HJNGY4F7A"));
  out.push(await send("the customer card is 4111 1111 1111 1111, is that valid?"));
  // The answer, written reversed so that the prompt holds no key: "Use AKIA… for the deploy."
  const answer = "Use AKIAQYLPMN5HJNGY4F7A for the deploy.";
  out.push(await send("REPLYREV<<" + answer.split("").reverse().join("") + ">>"));
  document.body.textContent = "RESULT " + JSON.stringify(out);
})().catch(e => { document.body.textContent = "ERROR " + e; });
</script></body></html>"#;

/// A page served as https://gemini.google.com/leakguard-e2e-gemini.html: it sends a prompt the
/// way Gemini's web app does (a form whose `f.req` is JSON holding JSON holding the prompt),
/// once with a pasted function that carries an AWS key and once clean, and writes the statuses
/// into the document.
pub const E2E_GEMINI_PAGE: &str = r#"<!doctype html><html><head><title>leakguard e2e gemini</title></head><body>waiting
<script>
async function send(prompt) {
  const inner = JSON.stringify([[prompt, 0, null, null, null, null, 0], ["en"], ["c_1", "r_1", "rc_1"]]);
  const form = new URLSearchParams({"f.req": JSON.stringify([null, inner]), "at": "AJvLN6M:1700000000000"});
  const r = await fetch("/_/BardChatUi/data/assistant.lamda.BardFrontendService/StreamGenerate?bl=boq_assistant&rt=c",
    {method: "POST", body: form});
  return {status: r.status, text: (await r.text()).slice(0, 2000)};
}
(async () => {
  const code = "def deploy():\n    client = boto3.client(\"s3\",\n        aws_access_key_id=\"AKIAQYLPMN5HJNGY4F7A\")\n    return client\n";
  const out = [await send("Why does this fail?\n" + code), await send("What is a good name for a pet turtle?")];
  document.body.textContent = "RESULT " + JSON.stringify(out);
})().catch(e => { document.body.textContent = "ERROR " + e; });
</script></body></html>"#;

/// A WebSocket endpoint on any path: records each text frame (method `WS`) and answers it with
/// `echo: TEXT` (or a scripted answer: `REPLYREV<<…>>`), each binary frame (method
/// `WS-BINARY`) with a binary `echo: …`; offers the first subprotocol the client asked for.
fn websocket_echo(
    mut req: Request<hyper::body::Incoming>,
    sni: String,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> Response<Body> {
    use futures_util::{SinkExt, StreamExt};
    use hyper_tungstenite::tungstenite::Message;
    let path = req.uri().path().to_string();
    let protocol = req
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|p| p.trim().to_string());
    let Ok((mut res, ws)) = hyper_tungstenite::upgrade(&mut req, None) else {
        let mut bad = Response::new(Full::new(Bytes::from_static(b"bad upgrade")).boxed());
        *bad.status_mut() = hyper::StatusCode::BAD_REQUEST;
        return bad;
    };
    if let Some(p) = protocol.and_then(|p| hyper::header::HeaderValue::from_str(&p).ok()) {
        res.headers_mut().insert("sec-websocket-protocol", p);
    }
    tokio::spawn(async move {
        let Ok(mut ws) = ws.await else {
            return;
        };
        while let Some(Ok(msg)) = ws.next().await {
            match msg {
                Message::Text(t) => {
                    seen.lock().expect("seen").push(Seen {
                        host: sni.clone(),
                        method: "WS".into(),
                        path: path.clone(),
                        headers: Vec::new(),
                        body: t.as_bytes().to_vec(),
                        version: "WS".into(),
                    });
                    // `REPLYREV<<txet>>`: the answer is `text`, sent as a service streams it:
                    // its first half, its second half, then the whole of it again.
                    let scripted: Option<String> = t.split_once("REPLYREV<<").and_then(|(_, r)| {
                        r.split_once(">>")
                            .map(|(rev, _)| rev.chars().rev().collect())
                    });
                    let frames = match scripted {
                        Some(answer) => {
                            let mut mid = answer.len() / 2;
                            while !answer.is_char_boundary(mid) {
                                mid += 1;
                            }
                            vec![
                                answer[..mid].to_string(),
                                answer[mid..].to_string(),
                                answer.clone(),
                            ]
                        }
                        None => vec![format!("echo: {t}")],
                    };
                    for f in frames {
                        if ws.send(Message::text(f)).await.is_err() {
                            return;
                        }
                    }
                }
                Message::Binary(b) => {
                    seen.lock().expect("seen").push(Seen {
                        host: sni.clone(),
                        method: "WS-BINARY".into(),
                        path: path.clone(),
                        headers: Vec::new(),
                        body: b.to_vec(),
                        version: "WS".into(),
                    });
                    let mut echo = b"echo: ".to_vec();
                    echo.extend_from_slice(&b);
                    if ws.send(Message::binary(echo)).await.is_err() {
                        break;
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
    });
    res.map(|b| b.boxed())
}

async fn answer(
    req: Request<hyper::body::Incoming>,
    sni: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    files: Files,
) -> Result<Response<Body>, Infallible> {
    if hyper_tungstenite::is_upgrade_request(&req) {
        return Ok(websocket_echo(req, sni, seen));
    }
    if req.method() == hyper::Method::GET {
        let file = files.lock().expect("files").get(req.uri().path()).cloned();
        if let Some((content, etag)) = file {
            seen.lock().expect("seen").push(Seen {
                host: sni.clone(),
                method: "GET".into(),
                path: req.uri().path().to_string(),
                headers: req
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body: Vec::new(),
                version: format!("{:?}", req.version()),
            });
            let matches = req
                .headers()
                .get("if-none-match")
                .is_some_and(|v| v.as_bytes() == etag.as_bytes());
            let res = Response::builder().header("etag", etag);
            let res = if matches {
                res.status(304)
                    .body(BodyExt::boxed(Full::new(Bytes::new())))
            } else {
                res.body(BodyExt::boxed(Full::new(Bytes::from(content))))
            };
            return Ok(res.expect("response"));
        }
    }
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let wants_stream = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("stream").and_then(|s| s.as_bool()))
        .unwrap_or(false)
        || path.ends_with("/conversation")
        || path.ends_with("/completion");
    seen.lock().expect("seen").push(Seen {
        host: sni.clone(),
        method: parts.method.to_string(),
        path: path.clone(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.clone(),
        version: format!("{:?}", parts.version),
    });
    let echo = String::from_utf8_lossy(&body)
        .chars()
        .take(2000)
        .collect::<String>();
    let page = match path.as_str() {
        "/leakguard-e2e.html" => Some(E2E_PAGE),
        "/leakguard-e2e-gemini.html" => Some(E2E_GEMINI_PAGE),
        _ => None,
    };
    if let Some(page) = page {
        let res = Response::builder()
            .header("content-type", "text/html; charset=utf-8")
            .body(BodyExt::boxed(Full::new(Bytes::from_static(
                page.as_bytes(),
            ))))
            .expect("response");
        return Ok(res);
    }
    // `REPLYREV<<txet>>` in a prompt: the reply's text is `text` (written reversed so that the
    // prompt itself holds no secret), streamed four characters per event.
    let whole = String::from_utf8_lossy(&body);
    let scripted: Option<String> = whole.split_once("REPLYREV<<").and_then(|(_, rest)| {
        rest.split_once(">>")
            .map(|(t, _)| t.chars().rev().collect::<String>())
    });
    // Bedrock's streaming APIs answer in AWS event-stream framing, four characters a delta.
    let bedrock_stream = path.ends_with("/converse-stream");
    if bedrock_stream || path.ends_with("/invoke-with-response-stream") {
        let text = scripted.as_deref().unwrap_or("Hello from upstream");
        let pieces = four_char_pieces(text);
        let mut messages: Vec<(&str, serde_json::Value)> = Vec::new();
        if bedrock_stream {
            messages.push(("messageStart", serde_json::json!({"role": "assistant"})));
            for p in &pieces {
                messages.push((
                    "contentBlockDelta",
                    serde_json::json!({"contentBlockIndex": 0, "delta": {"text": p}}),
                ));
            }
            messages.push((
                "contentBlockStop",
                serde_json::json!({"contentBlockIndex": 0}),
            ));
            messages.push(("messageStop", serde_json::json!({"stopReason": "end_turn"})));
            messages.push((
                "metadata",
                serde_json::json!({"usage": {"inputTokens": 11, "outputTokens": 42, "totalTokens": 53},
                    "metrics": {"latencyMs": 7}}),
            ));
        } else {
            // InvokeModel streams the model's own events (Anthropic's here), each base64 in a
            // `chunk`.
            let mut native = vec![serde_json::json!({"type": "message_start", "message": {
                "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
                "content": [], "usage": {"input_tokens": 11, "output_tokens": 1}}})];
            for p in &pieces {
                native.push(
                    serde_json::json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": p}}),
                );
            }
            native.push(serde_json::json!({"type": "message_delta",
                "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 42}}));
            native.push(serde_json::json!({"type": "message_stop",
                "amazon-bedrock-invocationMetrics": {"inputTokenCount": 11, "outputTokenCount": 42,
                    "invocationLatency": 7, "firstByteLatency": 3}}));
            use base64::Engine as _;
            for n in native {
                let b64 = base64::engine::general_purpose::STANDARD.encode(n.to_string());
                messages.push(("chunk", serde_json::json!({"bytes": b64})));
            }
        }
        let frames: Vec<Result<Frame<Bytes>, Infallible>> = messages
            .into_iter()
            .map(|(kind, payload)| {
                Ok(Frame::data(Bytes::from(eventstream_message(
                    &[
                        (":event-type", kind),
                        (":content-type", "application/json"),
                        (":message-type", "event"),
                    ],
                    payload.to_string().as_bytes(),
                ))))
            })
            .collect();
        let res = Response::builder()
            .header("content-type", "application/vnd.amazon.eventstream")
            .body(BodyExt::boxed(StreamBody::new(futures_util::stream::iter(
                frames,
            ))))
            .expect("response");
        return Ok(res);
    }
    // Le Chat's `/api/chat`: numbered lines, four characters a line; `0:"text"` when the
    // message came as a string (the older web app), JSON patches of the message's content
    // chunks when it came as typed parts (the newer one); a last metadata line without text.
    if let (true, Some(text)) = (
        sni == "chat.mistral.ai" && path == "/api/chat",
        scripted.as_ref(),
    ) {
        let typed = serde_json::from_slice::<serde_json::Value>(&body)
            .is_ok_and(|v| v["messageInput"].is_array());
        let mut lines = vec!["1:{\"messageId\":\"m1\"}\n".to_string()];
        for (i, p) in four_char_pieces(text).iter().enumerate() {
            let value = serde_json::to_string(p).expect("a string serialises");
            lines.push(match (typed, i) {
                (false, _) => format!("0:{value}\n"),
                (true, 0) => format!("15:{{\"json\":{{\"type\":\"message\",\"patches\":[{{\"op\":\"replace\",\"path\":\"/contentChunks\",\"value\":[{{\"type\":\"text\",\"text\":{value}}}]}}]}}}}\n"),
                (true, _) => format!("15:{{\"json\":{{\"patches\":[{{\"op\":\"append\",\"path\":\"/contentChunks/0/text\",\"value\":{value}}}]}}}}\n"),
            });
        }
        lines.push("2:{\"status\":\"completed\"}\n".into());
        return Ok(streamed("text/plain; charset=utf-8", lines));
    }
    // ChatGPT's web app: SSE in its `v1` delta encoding, four characters a delta: the message
    // added whole (empty), the first piece appended at its JSON pointer, the next ones as bare
    // `{"v": …}` (they continue the last pointer and operation), the last one inside a `patch`
    // with the status change, then the stream's end markers.
    if let (true, Some(text)) = (
        sni == "chatgpt.com" && path.ends_with("/conversation"),
        scripted.as_ref(),
    ) {
        let pieces = four_char_pieces(text);
        let n = pieces.len();
        let mut events = vec![
            "event: delta_encoding\ndata: \"v1\"\n\n".to_string(),
            "event: delta\ndata: {\"p\": \"\", \"o\": \"add\", \"v\": {\"message\": {\"id\": \"m1\", \"author\": {\"role\": \"assistant\"}, \"content\": {\"content_type\": \"text\", \"parts\": [\"\"]}, \"status\": \"in_progress\", \"metadata\": {\"model_slug\": \"gpt-test\"}}, \"conversation_id\": \"c1\"}, \"c\": 0}\n\n".to_string(),
        ];
        for (i, p) in pieces.iter().enumerate() {
            let v = serde_json::to_string(p).expect("a string serialises");
            events.push(match i {
                0 => format!("event: delta\ndata: {{\"p\": \"/message/content/parts/0\", \"o\": \"append\", \"v\": {v}}}\n\n"),
                i if i + 1 == n => format!("event: delta\ndata: {{\"p\": \"\", \"o\": \"patch\", \"v\": [{{\"p\": \"/message/content/parts/0\", \"o\": \"append\", \"v\": {v}}}, {{\"p\": \"/message/status\", \"o\": \"replace\", \"v\": \"finished_successfully\"}}]}}\n\n"),
                _ => format!("event: delta\ndata: {{\"v\": {v}}}\n\n"),
            });
        }
        events.push(
            "data: {\"type\": \"message_stream_complete\", \"conversation_id\": \"c1\"}\n\n".into(),
        );
        events.push("data: [DONE]\n\n".into());
        return Ok(streamed("text/event-stream; charset=utf-8", events));
    }
    // Gemini's streamGenerateContent: SSE events with `alt=sse` (as the SDKs ask), else one
    // JSON array whose items arrive as the model writes them; the last item carries the last
    // text with the finish reason and the usage, as Gemini sends it.
    if let (true, Some(text)) = (path.ends_with(":streamGenerateContent"), scripted.as_ref()) {
        let sse = parts.uri.query().unwrap_or("").contains("alt=sse");
        let pieces = four_char_pieces(text);
        let n = pieces.len();
        let items: Vec<String> = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut item = serde_json::json!({"candidates": [{"content": {"parts": [{"text": p}],
                    "role": "model"}, "index": 0}], "modelVersion": "gemini-test"});
                if i + 1 == n {
                    item["candidates"][0]["finishReason"] = "STOP".into();
                    item["usageMetadata"] = serde_json::json!({"promptTokenCount": 11,
                        "candidatesTokenCount": 42, "totalTokenCount": 53});
                }
                item.to_string()
            })
            .collect();
        let frames: Vec<String> = if sse {
            items.iter().map(|i| format!("data: {i}\r\n\r\n")).collect()
        } else {
            let mut frames: Vec<String> = items
                .iter()
                .enumerate()
                .map(|(k, i)| {
                    if k == 0 {
                        format!("[{i}")
                    } else {
                        format!("\n,\r\n{i}")
                    }
                })
                .collect();
            frames.push("\n]".into());
            frames
        };
        let ct = if sse {
            "text/event-stream"
        } else {
            "application/json; charset=UTF-8"
        };
        return Ok(streamed(ct, frames));
    }
    if let (true, Some(text)) = (wants_stream, scripted.as_ref()) {
        let pieces = four_char_pieces(text);
        let mut events: Vec<String> = Vec::new();
        let anthropic = matches!(sni.as_str(), "api.anthropic.com" | "claude.ai");
        if anthropic {
            events.push("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"claude-test\",\"usage\":{\"input_tokens\":11,\"output_tokens\":1}}}\n\n".into());
        }
        for p in &pieces {
            let delta = serde_json::to_string(p).expect("a string serialises");
            events.push(if anthropic {
                format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":{delta}}}}}\n\n")
            } else {
                format!("data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-test\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{delta}}}}}]}}\n\n")
            });
        }
        if anthropic {
            events.push("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":42}}\n\n".into());
        } else {
            events.push("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-test\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":42,\"prompt_tokens_details\":{\"cached_tokens\":3}}}\n\ndata: [DONE]\n\n".into());
        }
        return Ok(streamed("text/event-stream", events));
    }
    if wants_stream {
        let events: Vec<String> = match sni.as_str() {
            "api.anthropic.com" | "claude.ai" => vec![
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-test\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":0}}}\n\n".into(),
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n".into(),
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n".into(),
                "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n".into(),
                "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":1}}\n\n".into(),
                "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".into(),
            ],
            _ => vec![
                "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n".into(),
                "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":null}]}\n\n".into(),
                "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n".into(),
                "data: [DONE]\n\n".into(),
            ],
        };
        let stream = futures_util::stream::unfold(
            (events.into_iter(), true),
            |(mut it, first)| async move {
                let next = it.next()?;
                if !first {
                    tokio::time::sleep(SSE_GAP).await;
                }
                Some((
                    Ok::<_, Infallible>(Frame::data(Bytes::from(next))),
                    (it, false),
                ))
            },
        );
        let res = Response::builder()
            .header("content-type", "text/event-stream")
            .header("cache-control", "no-cache")
            .body(BodyExt::boxed(StreamBody::new(stream)))
            .expect("response");
        return Ok(res);
    }
    let answer = scripted.as_deref().unwrap_or("Hello from upstream");
    let json = match (sni.as_str(), path.as_str()) {
        ("api.openai.com", "/v1/chat/completions") => serde_json::json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-test",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
        }),
        ("api.anthropic.com", "/v1/messages") => serde_json::json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
            "content": [{"type": "text", "text": answer}],
            "stop_reason": "end_turn", "stop_sequence": null, "usage": {"input_tokens": 5, "output_tokens": 3}
        }),
        ("bedrock-runtime.us-east-1.amazonaws.com", p) if p.ends_with("/converse") => {
            serde_json::json!({
                "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
                "stopReason": "end_turn", "usage": {"inputTokens": 5, "outputTokens": 3, "totalTokens": 8},
                "metrics": {"latencyMs": 1}
            })
        }
        ("generativelanguage.googleapis.com", p) if p.ends_with(":generateContent") => {
            serde_json::json!({
                "candidates": [{"content": {"parts": [{"text": answer}], "role": "model"}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8},
                "modelVersion": "gemini-test"
            })
        }
        _ => serde_json::json!({"upstream": sni, "path": path, "echo": echo}),
    };
    let res = Response::builder()
        .header("content-type", "application/json")
        .header("x-upstream", "leakguard-testkit")
        .body(BodyExt::boxed(Full::new(Bytes::from(json.to_string()))))
        .expect("response");
    Ok(res)
}

/// A reply of `content_type` sent as `chunks`, each one a frame of its own (as a service
/// streams them).
fn streamed(content_type: &str, chunks: Vec<String>) -> Response<Body> {
    let frames: Vec<_> = chunks
        .into_iter()
        .map(|c| Ok::<_, Infallible>(Frame::data(Bytes::from(c))))
        .collect();
    Response::builder()
        .header("content-type", content_type)
        .body(BodyExt::boxed(StreamBody::new(futures_util::stream::iter(
            frames,
        ))))
        .expect("response")
}

/// A scripted answer as a model streams it: four characters a delta.
fn four_char_pieces(text: &str) -> Vec<String> {
    text.chars()
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|c| c.iter().collect())
        .collect()
}

/// One AWS event-stream message with string headers: prelude (total and headers lengths, their
/// CRC-32), headers, payload, CRC-32 of all before it, as Bedrock's streaming APIs frame them.
pub fn eventstream_message(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut head = Vec::new();
    for (name, value) in headers {
        head.push(name.len() as u8);
        head.extend_from_slice(name.as_bytes());
        head.push(7);
        head.extend_from_slice(&(value.len() as u16).to_be_bytes());
        head.extend_from_slice(value.as_bytes());
    }
    let total = 12 + head.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(head.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// One event-stream message as a client reads it: its string headers and its payload.
pub type EventStreamMessage = (Vec<(String, String)>, Vec<u8>);

/// The messages of an AWS event stream as a client reads them: each one's string headers and
/// payload. Panics on a wrong length or CRC, as an SDK would refuse the stream.
pub fn eventstream_messages(mut bytes: &[u8]) -> Vec<EventStreamMessage> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        assert!(
            bytes.len() >= 16,
            "a message cut short: {} bytes left",
            bytes.len()
        );
        let total = u32::from_be_bytes(bytes[0..4].try_into().unwrap()) as usize;
        let head_len = u32::from_be_bytes(bytes[4..8].try_into().unwrap()) as usize;
        let prelude_crc = u32::from_be_bytes(bytes[8..12].try_into().unwrap());
        assert_eq!(crc32fast::hash(&bytes[..8]), prelude_crc, "prelude CRC");
        assert!(total <= bytes.len() && 16 + head_len <= total, "lengths");
        let crc = u32::from_be_bytes(bytes[total - 4..total].try_into().unwrap());
        assert_eq!(crc32fast::hash(&bytes[..total - 4]), crc, "message CRC");
        let mut h = &bytes[12..12 + head_len];
        let mut headers = Vec::new();
        while let Some((&n, rest)) = h.split_first() {
            let name = String::from_utf8(rest[..usize::from(n)].to_vec()).unwrap();
            let rest = &rest[usize::from(n)..];
            assert_eq!(rest[0], 7, "string headers only");
            let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
            headers.push((name, String::from_utf8(rest[3..3 + len].to_vec()).unwrap()));
            h = &rest[3 + len..];
        }
        out.push((headers, bytes[12 + head_len..total - 4].to_vec()));
        bytes = &bytes[total..];
    }
    out
}

/// POSTs a JSON `body` through the proxy at `proxy` to `target` (absolute form, plain HTTP),
/// with extra `headers` (each ending in CRLF); blocking. Returns the status line and the body.
pub fn post_through(
    proxy: SocketAddr,
    target: &str,
    headers: &str,
    body: &str,
) -> (String, String) {
    use std::io::{Read, Write};
    let host = target
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("");
    let mut s = std::net::TcpStream::connect(proxy).expect("the guard accepts");
    write!(
        s,
        "POST {target} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("the request is sent");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let (head, rest) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        rest.to_string(),
    )
}

/// Sets this process's file-size limit (`None`: back to the hard limit). With a limit of a
/// byte no file can grow: a full disk, for real, without touching the machine. Per process:
/// a test that uses it belongs in a test binary of its own.
#[cfg(unix)]
pub fn set_file_size_limit(bytes: Option<u64>) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let hard = getrlimit(Resource::Fsize).maximum;
    setrlimit(
        Resource::Fsize,
        Rlimit {
            current: bytes.or(hard),
            maximum: hard,
        },
    )
    .expect("the file-size limit can be lowered and raised up to the hard limit");
}

/// An OpenAI Chat Completions body carrying `messages` as a conversation (user and assistant
/// in turn), as API clients send it: every earlier message again with each new one.
pub fn chat_body(messages: &[String]) -> String {
    let messages: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            serde_json::json!({"role": role, "content": m})
        })
        .collect();
    serde_json::json!({"model": "gpt-4o", "messages": messages}).to_string()
}

/// Minimal Office files for the guard's unit and integration tests (the realistic ones, made
/// by python-docx, openpyxl and LibreOffice, are in tests/documents).
pub mod office {
    use std::io::Write;

    fn zip_of(members: &[(&str, String)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in members {
            w.start_file(*name, opts).expect("zip member");
            w.write_all(data.as_bytes()).expect("zip write");
        }
        w.finish().expect("zip").into_inner()
    }

    fn esc(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }

    /// A Word document with one paragraph per item.
    pub fn docx(paragraphs: &[&str]) -> Vec<u8> {
        let body: String = paragraphs
            .iter()
            .map(|p| {
                format!(
                    "<w:p><w:r><w:t xml:space=\"preserve\">{}</w:t></w:r></w:p>",
                    esc(p)
                )
            })
            .collect();
        zip_of(&[
            ("[Content_Types].xml", "<Types/>".into()),
            (
                "word/document.xml",
                format!("<w:document xmlns:w=\"w\"><w:body>{body}</w:body></w:document>"),
            ),
        ])
    }

    /// An Excel workbook with one sheet `name` of rows of inline-string cells.
    pub fn xlsx(name: &str, rows: &[&[&str]]) -> Vec<u8> {
        let mut data = String::new();
        for (r, row) in rows.iter().enumerate() {
            data.push_str(&format!("<row r=\"{}\">", r + 1));
            for (c, cell) in row.iter().enumerate() {
                let col = (b'A' + c as u8) as char;
                data.push_str(&format!(
                    "<c r=\"{col}{}\" t=\"inlineStr\"><is><t>{}</t></is></c>",
                    r + 1,
                    esc(cell)
                ));
            }
            data.push_str("</row>");
        }
        zip_of(&[
            ("[Content_Types].xml", "<Types/>".into()),
            (
                "xl/workbook.xml",
                format!("<workbook xmlns:r=\"r\"><sheets><sheet name=\"{}\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>", esc(name)),
            ),
            (
                "xl/_rels/workbook.xml.rels",
                "<Relationships><Relationship Id=\"rId1\" Target=\"worksheets/sheet1.xml\"/></Relationships>".into(),
            ),
            (
                "xl/worksheets/sheet1.xml",
                format!("<worksheet><sheetData>{data}</sheetData></worksheet>"),
            ),
        ])
    }

    /// A `multipart/form-data` body with one file part: (content type, body).
    pub fn multipart_file(
        field: &str,
        filename: &str,
        mime: &str,
        data: &[u8],
    ) -> (String, Vec<u8>) {
        let boundary = "----leakguardtestboundary7MA4YWxk";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nassistants\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {mime}\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), body)
    }
}
