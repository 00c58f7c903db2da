//! WebSocket upgrades to intercepted hosts, relayed by the guard itself.
//!
//! hudsucker would dial the upstream WebSocket on its own, with the system's resolver and no
//! upstream proxy, so `--resolve` and `--upstream-proxy` would not apply to it. Here the guard
//! dials through its [`crate::upstream::Routes`] and its upstream TLS config, completes the
//! upstream handshake first (a refusal becomes the client's 502, and the subprotocol the server
//! chose is passed back), then upgrades the client and relays frames: client-to-server text
//! frames, text and binary, go through the same scan-decide pipeline as request bodies
//! ([`crate::Shared::websocket_text`], [`crate::Shared::websocket_binary`]: scan cache, one
//! verdict with the upgrade's tenant facts, rate limits, warn overrides); server-to-client
//! frames are read as replies ([`crate::reply::FrameReader`]: audited and passed untouched, or
//! redacted frame by frame where the policy redacts the destination's replies);
//! control frames pass as they are.
//!
//! `Sec-WebSocket-Extensions` is not forwarded: with permessage-deflate the frames would be
//! compressed and the guard could not read them.

use crate::pipeline::WsOutcome;
use crate::state::Shared;
use hudsucker::futures::{SinkExt, StreamExt};
use hudsucker::tokio_tungstenite::tungstenite::Message;
use hudsucker::Body;
use hyper::header::{HeaderValue, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_PROTOCOL};
use hyper::{Request, Response, StatusCode};
use std::sync::Arc;

fn plain(status: StatusCode, msg: String) -> Response<Body> {
    let mut res = Response::new(Body::from(msg));
    *res.status_mut() = status;
    res.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    res
}

/// A byte stream to the upstream: TLS for wss://, plain TCP for ws://.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// Answers a WebSocket upgrade request to `host` and relays the connection (`tls`: wss://).
pub(crate) async fn relay(
    shared: Arc<Shared>,
    mut req: Request<Body>,
    host: String,
    tls: bool,
) -> Response<Body> {
    let port = req.uri().port_u16().unwrap_or(if tls { 443 } else { 80 });
    let path = req.uri().path().to_string();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    // The kill switch is the policy's decision, as for a request; the tenant facts the
    // upgrade shows (headers, path) go with every frame's verdict.
    if let Some(stop) = shared.switched_off(&shared.policy.load(), &host) {
        return plain(StatusCode::FORBIDDEN, stop.message);
    }
    let tenant = shared.tenant_of(&host, &path_and_query, req.headers());

    let scheme = if tls { "wss" } else { "ws" };
    let mut upstream_req = Request::builder().uri(format!("{scheme}://{host}{path_and_query}"));
    for (name, value) in req.headers() {
        if name != SEC_WEBSOCKET_EXTENSIONS {
            upstream_req = upstream_req.header(name, value);
        }
    }
    let Ok(upstream_req) = upstream_req.body(()) else {
        return plain(StatusCode::BAD_REQUEST, "bad WebSocket request".into());
    };
    let bad_gateway = |e: String| {
        plain(
            StatusCode::BAD_GATEWAY,
            format!("Leakguard could not open the WebSocket to {host}: {e}"),
        )
    };
    let tcp = match shared.routes.connect(&host, port).await {
        Ok(t) => t,
        Err(e) => return bad_gateway(e.to_string()),
    };
    let stream: Box<dyn Io> = if tls {
        let Ok(name) = rustls_pki_types::ServerName::try_from(host.clone()) else {
            return bad_gateway("not a valid host name".into());
        };
        match tokio_rustls::TlsConnector::from(Arc::clone(&shared.upstream_tls))
            .connect(name, tcp)
            .await
        {
            Ok(t) => Box::new(t),
            Err(e) => return bad_gateway(e.to_string()),
        }
    } else {
        Box::new(tcp)
    };
    let (upstream, upstream_res) =
        match hudsucker::tokio_tungstenite::client_async_with_config(upstream_req, stream, None)
            .await
        {
            Ok(pair) => pair,
            Err(e) => return bad_gateway(e.to_string()),
        };

    let (mut res, client) = match hyper_tungstenite::upgrade(&mut req, None) {
        Ok(pair) => pair,
        Err(e) => {
            return plain(
                StatusCode::BAD_REQUEST,
                format!("bad WebSocket request: {e}"),
            )
        }
    };
    if let Some(p) = upstream_res.headers().get(SEC_WEBSOCKET_PROTOCOL) {
        res.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, p.clone());
    }
    tokio::spawn(async move {
        let Ok(client) = client.await else {
            return;
        };
        let (mut up_sink, mut up_stream) = upstream.split();
        let (mut client_sink, mut client_stream) = client.split();
        let to_server = async {
            while let Some(Ok(msg)) = client_stream.next().await {
                let out = match msg {
                    Message::Text(text) => {
                        match shared.websocket_text(&host, &path, &tenant, text.as_str()) {
                            WsOutcome::Pass => Some(Message::Text(text)),
                            WsOutcome::Replace(t) => Some(Message::text(t)),
                            WsOutcome::Drop => None,
                        }
                    }
                    Message::Binary(data) => {
                        match shared.websocket_binary(&host, &path, &tenant, &data) {
                            WsOutcome::Pass => Some(Message::Binary(data)),
                            WsOutcome::Replace(t) => Some(Message::binary(t.into_bytes())),
                            WsOutcome::Drop => None,
                        }
                    }
                    other => Some(other),
                };
                if let Some(m) = out {
                    if up_sink.send(m).await.is_err() {
                        break;
                    }
                }
            }
            let _ = up_sink.close().await;
        };
        let mut replies = crate::reply::FrameReader::for_websocket(&shared, &host, &path);
        let to_client = async {
            while let Some(Ok(mut msg)) = up_stream.next().await {
                if let Some(r) = replies.as_mut() {
                    let redacted = match &msg {
                        Message::Text(t) => r
                            .frame(t.as_bytes())
                            .and_then(|b| String::from_utf8(b).ok().map(Message::text)),
                        Message::Binary(b) => r.frame(b).map(Message::binary),
                        _ => None,
                    };
                    if let Some(m) = redacted {
                        msg = m;
                    }
                }
                if client_sink.send(msg).await.is_err() {
                    break;
                }
            }
            let _ = client_sink.close().await;
        };
        tokio::join!(to_server, to_client);
    });
    res.map(Body::from)
}
