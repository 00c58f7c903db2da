//! The local control channel: the [`Control`] calls served to other processes of the same
//! user (the desktop app, `leakguard allow`, `leakguard status`), and the [`Client`] that
//! makes them.
//!
//! Transport: HTTP/1.1 over a Unix socket, `DATA_DIR/control.sock` (0600, in the 0700 data
//! dir), so another local user cannot even connect; every call also carries the bearer token
//! of `DATA_DIR/control.token` (0600). On systems without Unix sockets the same protocol runs
//! on an ephemeral loopback port written to `DATA_DIR/control.addr`, where the token is the
//! only lock, and requests with a non-loopback `Host` are refused (DNS rebinding).
//!
//! Protocol: `POST /v1/<call>` with a JSON body, answered with JSON (200) or a
//! `{code, message}` error (4xx/5xx). `POST /v1/subscribe` answers a stream of JSON lines,
//! one event each, for as long as the client reads.

use crate::surface::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The socket (or, without Unix sockets, the file naming the loopback address).
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.sock")
}

/// Largest request body the channel reads.
const MAX_REQUEST: usize = 4 << 20;

/// The serving side; dropped or stopped with the agent.
#[derive(Debug)]
pub struct Server {
    task: tokio::task::JoinHandle<()>,
    location: String,
    socket: Option<PathBuf>,
}

impl Server {
    /// Opens the channel for `control` with the token of `data_dir`.
    ///
    /// # Errors
    /// The socket or token cannot be created.
    pub async fn start<C: Control + Clone + 'static>(
        control: C,
        data_dir: &Path,
    ) -> std::io::Result<Server> {
        let token: Arc<str> = leakguard_proxy::control_token(data_dir)?.into();
        #[cfg(unix)]
        {
            let path = socket_path(data_dir);
            // A socket left by a guard that died: nobody answers on it, so it is replaced.
            if path.exists() {
                if tokio::net::UnixStream::connect(&path).await.is_ok() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::AddrInUse,
                        format!(
                            "another guard already serves {}; stop it first",
                            path.display()
                        ),
                    ));
                }
                std::fs::remove_file(&path)?;
            }
            let listener = tokio::net::UnixListener::bind(&path)?;
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            }
            let task = tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    };
                    serve_connection(stream, control.clone(), Arc::clone(&token), false);
                }
            });
            Ok(Server {
                task,
                location: path.display().to_string(),
                socket: Some(path),
            })
        }
        #[cfg(not(unix))]
        {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
            let addr = listener.local_addr()?;
            crate::write_private(&data_dir.join("control.addr"), addr.to_string().as_bytes())?;
            let task = tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    };
                    serve_connection(stream, control.clone(), Arc::clone(&token), true);
                }
            });
            Ok(Server {
                task,
                location: addr.to_string(),
                socket: None,
            })
        }
    }

    /// Where it listens.
    pub fn location(&self) -> String {
        self.location.clone()
    }

    /// Stops accepting and removes the socket.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        if let Some(p) = &self.socket {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn serve_connection<S, C>(stream: S, control: C, token: Arc<str>, check_host: bool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    C: Control + Clone + 'static,
{
    tokio::spawn(async move {
        let service = hyper::service::service_fn(move |req| {
            let (control, token) = (control.clone(), Arc::clone(&token));
            async move {
                Ok::<_, std::convert::Infallible>(handle(&control, &token, check_host, req).await)
            }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });
}

type ReplyBody = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

fn json_response(status: StatusCode, body: Vec<u8>) -> Response<ReplyBody> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(Full::new(Bytes::from(body)).boxed())
        .expect("a valid response")
}

fn error_response(status: StatusCode, e: &ControlError) -> Response<ReplyBody> {
    json_response(status, serde_json::to_vec(e).unwrap_or_default())
}

fn status_for(code: &str) -> StatusCode {
    match code {
        "unauthorized" => StatusCode::UNAUTHORIZED,
        "unknown_code" | "not_found" => StatusCode::NOT_FOUND,
        "pause_not_allowed" | "quit_not_allowed" | "unlock_refused" => StatusCode::FORBIDDEN,
        "store" | "internal" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn loopback_host(req: &Request<Incoming>) -> bool {
    let Some(host) = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return true;
    };
    let name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(name, _)| name);
    matches!(name, "localhost" | "127.0.0.1" | "[::1]")
}

#[derive(Deserialize)]
struct AllowArgs {
    code: String,
    reason: String,
}

#[derive(Deserialize)]
struct ExplainArgs {
    text: String,
    destination: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct IdArg {
    id: String,
}

#[derive(Serialize, Deserialize)]
struct IdsArg {
    ids: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct DayArg {
    since_day: String,
}

#[derive(Serialize, Deserialize)]
struct MinutesArg {
    minutes: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct CodeArg {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<String>,
}

async fn handle<C: Control>(
    control: &C,
    token: &str,
    check_host: bool,
    req: Request<Incoming>,
) -> Response<ReplyBody> {
    if check_host && !loopback_host(&req) {
        return error_response(
            StatusCode::FORBIDDEN,
            &ControlError::new(
                "bad_host",
                "the control channel answers loopback names only",
            ),
        );
    }
    let authorised = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes()));
    if !authorised {
        return error_response(
            StatusCode::UNAUTHORIZED,
            &ControlError::new(
                "unauthorized",
                "a valid control token is required (control.token in the guard's data dir)",
            ),
        );
    }
    if req.method() != Method::POST {
        return error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &ControlError::new("method", "control calls are POST /v1/<call>"),
        );
    }
    let call = req.uri().path().trim_start_matches("/v1/").to_string();
    let body = match http_body_util::Limited::new(req.into_body(), MAX_REQUEST)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &ControlError::new("too_large", "the request is larger than 4 MiB"),
            )
        }
    };
    match call.as_str() {
        "health" => reply(control.health().await),
        "allow_once" => answer(&body, |a: AllowArgs| control.allow_once(a.code, a.reason)).await,
        "explain" => {
            answer(&body, |a: ExplainArgs| {
                control.explain(a.text, a.destination)
            })
            .await
        }
        "events" => answer(&body, |f| control.events(f)).await,
        "event" => answer(&body, |a: IdArg| control.event(a.id)).await,
        "stats" => answer(&body, |q| control.stats(q)).await,
        "usage" => answer(&body, |a: DayArg| control.usage(a.since_day)).await,
        "export" => answer(&body, |r| control.export(r)).await,
        "policy_in_force" => reply(control.policy_in_force().await),
        "pause" => answer(&body, |a: MinutesArg| control.pause(a.minutes, a.code)).await,
        "stop" => answer(&body, |a: CodeArg| control.stop(a.code)).await,
        "report_false_positive" => {
            answer(&body, |a: IdArg| control.report_false_positive(a.id)).await
        }
        "describe_rules" => answer(&body, |a: IdsArg| control.describe_rules(a.ids)).await,
        "subscribe" => {
            let filter = match args(&body) {
                Ok(f) => f,
                Err(e) => return reply::<()>(Err(e)),
            };
            match control.subscribe(filter).await {
                Ok(sub) => Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/x-ndjson")
                    .header("cache-control", "no-store")
                    .body(EventLines(sub).boxed())
                    .expect("a valid response"),
                Err(e) => reply::<()>(Err(e)),
            }
        }
        other => error_response(
            StatusCode::NOT_FOUND,
            &ControlError::new("not_found", format!("no control call `{other}`")),
        ),
    }
}

/// A call's arguments from its JSON body (an empty body is `{}`).
fn args<T: DeserializeOwned>(body: &[u8]) -> Result<T, ControlError> {
    let body = if body.is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| ControlError::new("bad_request", format!("bad arguments: {e}")))
}

/// A call's result as the answer: JSON, or the error with its status.
fn reply<T: Serialize>(r: Result<T, ControlError>) -> Response<ReplyBody> {
    match r {
        Ok(v) => json_response(StatusCode::OK, serde_json::to_vec(&v).unwrap_or_default()),
        Err(e) => error_response(status_for(&e.code), &e),
    }
}

/// Parses the arguments, makes the call, answers its result.
async fn answer<'a, A: DeserializeOwned, T: Serialize>(
    body: &[u8],
    call: impl FnOnce(A) -> Reply<'a, T>,
) -> Response<ReplyBody> {
    match args(body) {
        Ok(a) => reply(call(a).await),
        Err(e) => reply::<()>(Err(e)),
    }
}

/// A subscription as a response body: one JSON line per event, as they come.
struct EventLines(Subscription);

impl http_body::Body for EventLines {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.0.poll_next(cx) {
            Poll::Ready(Some(e)) => {
                let mut line = serde_json::to_vec(&e).unwrap_or_default();
                line.push(b'\n');
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(line)))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Where a client finds the guard.
#[derive(Debug, Clone)]
enum Endpoint {
    #[cfg(unix)]
    Socket(PathBuf),
    #[cfg_attr(unix, allow(dead_code))]
    Tcp(String),
}

/// The [`Control`] calls over the control channel of a running guard.
#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Endpoint,
    token: String,
}

impl Client {
    /// The guard whose data dir is `data_dir`.
    ///
    /// # Errors
    /// No guard has run there (no token), or the token cannot be read (another user's guard).
    pub fn for_data_dir(data_dir: &Path) -> Result<Client, ControlError> {
        let token_file = data_dir.join("control.token");
        let token = std::fs::read_to_string(&token_file).map_err(|e| {
            ControlError::new(
                "not_running",
                format!(
                    "the guard does not seem to run for this user (cannot read {}: {e}); start it with `leakguard run`",
                    token_file.display()
                ),
            )
        })?;
        #[cfg(unix)]
        let endpoint = Endpoint::Socket(socket_path(data_dir));
        #[cfg(not(unix))]
        let endpoint = Endpoint::Tcp(
            std::fs::read_to_string(data_dir.join("control.addr"))
                .map_err(|_| {
                    ControlError::new(
                        "not_running",
                        "the guard does not seem to run: start it with `leakguard run`",
                    )
                })?
                .trim()
                .to_string(),
        );
        Ok(Client {
            endpoint,
            token: token.trim().to_string(),
        })
    }

    async fn send(&self, call: &str, body: Vec<u8>) -> Result<Response<Incoming>, ControlError> {
        let unreachable = |e: &dyn std::fmt::Display| {
            ControlError::new(
                "not_running",
                format!("cannot reach the guard's control channel ({e}); is `leakguard run` or the service running?"),
            )
        };
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("/v1/{call}"))
            .header(hyper::header::HOST, "localhost")
            .header(
                hyper::header::AUTHORIZATION,
                format!("Bearer {}", self.token),
            )
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .expect("a valid request");
        macro_rules! over {
            ($stream:expr) => {{
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new($stream))
                        .await
                        .map_err(|e| unreachable(&e))?;
                tokio::spawn(conn);
                sender
                    .send_request(req)
                    .await
                    .map_err(|e| unreachable(&e))?
            }};
        }
        let res = match &self.endpoint {
            #[cfg(unix)]
            Endpoint::Socket(p) => over!(tokio::net::UnixStream::connect(p)
                .await
                .map_err(|e| unreachable(&e))?),
            Endpoint::Tcp(a) => over!(tokio::net::TcpStream::connect(a.as_str())
                .await
                .map_err(|e| unreachable(&e))?),
        };
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status();
        let bytes = res
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Err(
            serde_json::from_slice::<ControlError>(&bytes).unwrap_or_else(|_| {
                ControlError::new("protocol", format!("the guard answered {status}"))
            }),
        )
    }

    async fn call<A: Serialize, T: DeserializeOwned>(
        &self,
        call: &str,
        args: &A,
    ) -> Result<T, ControlError> {
        let body = serde_json::to_vec(args).unwrap_or_default();
        let res = self.send(call, body).await?;
        let bytes = res
            .into_body()
            .collect()
            .await
            .map_err(|e| {
                ControlError::new("protocol", format!("the guard's answer broke off: {e}"))
            })?
            .to_bytes();
        serde_json::from_slice(&bytes).map_err(|e| {
            ControlError::new("protocol", format!("unexpected answer from the guard: {e}"))
        })
    }
}

#[derive(Serialize)]
struct NoArgs {}

impl Control for Client {
    fn health(&self) -> Reply<'_, Health> {
        Box::pin(self.call("health", &NoArgs {}))
    }

    fn allow_once(&self, code: String, reason: String) -> Reply<'_, Allowed> {
        Box::pin(async move {
            self.call(
                "allow_once",
                &serde_json::json!({"code": code, "reason": reason}),
            )
            .await
        })
    }

    fn explain(&self, text: String, destination: Option<String>) -> Reply<'_, Explanation> {
        Box::pin(async move {
            self.call(
                "explain",
                &serde_json::json!({"text": text, "destination": destination}),
            )
            .await
        })
    }

    fn events(&self, filter: leakguard_store::Filter) -> Reply<'_, leakguard_store::Page> {
        Box::pin(async move { self.call("events", &filter).await })
    }

    fn event(&self, id: String) -> Reply<'_, Option<leakguard_store::StoredEvent>> {
        Box::pin(async move { self.call("event", &IdArg { id }).await })
    }

    fn stats(&self, query: StatsQuery) -> Reply<'_, leakguard_store::Stats> {
        Box::pin(async move { self.call("stats", &query).await })
    }

    fn usage(&self, since_day: String) -> Reply<'_, Vec<leakguard_store::UsageRow>> {
        Box::pin(async move { self.call("usage", &DayArg { since_day }).await })
    }

    fn export(&self, request: ExportRequest) -> Reply<'_, Exported> {
        Box::pin(async move { self.call("export", &request).await })
    }

    fn policy_in_force(&self) -> Reply<'_, PolicyInForce> {
        Box::pin(self.call("policy_in_force", &NoArgs {}))
    }

    fn pause(&self, minutes: u32, code: Option<String>) -> Reply<'_, PauseState> {
        Box::pin(async move { self.call("pause", &MinutesArg { minutes, code }).await })
    }

    fn stop(&self, code: Option<String>) -> Reply<'_, Stopping> {
        Box::pin(async move { self.call("stop", &CodeArg { code }).await })
    }

    fn report_false_positive(&self, event_id: String) -> Reply<'_, ()> {
        Box::pin(async move {
            self.call("report_false_positive", &IdArg { id: event_id })
                .await
        })
    }

    fn describe_rules(&self, ids: Vec<String>) -> Reply<'_, Vec<RuleDescription>> {
        Box::pin(async move { self.call("describe_rules", &IdsArg { ids }).await })
    }

    fn subscribe(&self, filter: Subscribe) -> Reply<'_, Subscription> {
        Box::pin(async move {
            let res = self
                .send("subscribe", serde_json::to_vec(&filter).unwrap_or_default())
                .await?;
            let (tx, rx) = tokio::sync::mpsc::channel(4096);
            tokio::spawn(async move {
                let mut body = res.into_body();
                let mut pending: Vec<u8> = Vec::new();
                while let Some(Ok(frame)) = body.frame().await {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    pending.extend_from_slice(&data);
                    while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=nl).collect();
                        if let Ok(e) = serde_json::from_slice(&line) {
                            if tx.send(e).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
            Ok(Subscription::new(rx))
        })
    }
}
