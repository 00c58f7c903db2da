//! The guard's handler for one request: routing (control plane, WebSocket relay, the
//! pipeline), replies (restoring redacted values) and upstream errors. Connections, CONNECT
//! and tunnels are in [`crate::server`], the stages of a request in [`crate::pipeline`], the
//! shared state in [`crate::state`], the proxy's own endpoints in [`crate::control_plane`].

use crate::pipeline::respond;
use crate::state::Shared;
use hudsucker::{Body, RequestOrResponse};
use hyper::header::{HeaderValue, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use std::sync::Arc;

pub use crate::pipeline::{Destination, WsOutcome};
pub use crate::state::{AllowError, Counters, OVERRIDE_TTL};

/// The handler of one exchange (a request and its response).
#[derive(Debug)]
pub struct Guard {
    pub(crate) shared: Arc<Shared>,
    /// This exchange's placeholders to restore in the reply (hudsucker hands a request and its
    /// response to the same handler instance).
    pub(crate) restore: Option<crate::restore::Pending>,
    /// How to read this exchange's reply (when the policy reads replies of its endpoint).
    pub(crate) reply: Option<crate::reply::ReplyContext>,
    /// This exchange's share of the memory budget for bodies, held until it is dropped.
    pub(crate) memory: crate::body::Reservation,
    /// The event of a request that goes on, made durable while the upstream works on it
    /// ([`Guard::forward`]) and in any case before the exchange ends (`Drop`).
    pub(crate) to_journal: Option<leakguard_types::Event>,
    /// The client connection this exchange came on (which program sent it).
    pub(crate) peer: Option<Arc<crate::peer::Peer>>,
}

/// The path the guard answers itself on every intercepted host (`leakguard doctor`'s canary).
pub const CANARY_PATH: &str = "/.well-known/leakguard-canary";

impl Guard {
    pub fn new(shared: Arc<Shared>) -> Guard {
        Guard {
            shared,
            restore: None,
            reply: None,
            memory: crate::body::Reservation::default(),
            to_journal: None,
            peer: None,
        }
    }

    /// Sends the request on and, while the upstream works on it, makes the request's event
    /// durable: the journal's write is off the request's path, and it is done before the
    /// response is handed back (so before any byte of the answer reaches the client).
    pub(crate) async fn forward<F, T>(&mut self, send: F) -> T
    where
        F: std::future::Future<Output = T>,
    {
        let Some(event) = self.to_journal.take() else {
            return send.await;
        };
        // Made durable when dropped: after one turn for the connection's task to write the
        // request out, or at once if the exchange is abandoned first (the client went away).
        let durable = Durable(&*self.shared.events, Some(event));
        let journal = async move {
            tokio::task::yield_now().await;
            drop(durable);
        };
        tokio::join!(send, journal).0
    }
}

/// An event recorded durably when this is dropped, however the future holding it ends.
struct Durable<'a>(
    &'a dyn crate::events::EventSink,
    Option<leakguard_types::Event>,
);

impl Drop for Durable<'_> {
    fn drop(&mut self) {
        if let Some(event) = self.1.take() {
            self.0.record_durable(event);
        }
    }
}

impl Drop for Guard {
    /// An exchange that ends without [`Guard::forward`] (an upgrade, an error) still leaves
    /// its event durable before its answer is sent.
    fn drop(&mut self) {
        if let Some(event) = self.to_journal.take() {
            self.shared.events.record_durable(event);
        }
    }
}

impl Guard {
    /// Routes one request (CONNECT is the server's): out-of-scope hosts pass, the control
    /// endpoints answer, WebSocket upgrades are relayed, everything else to an intercepted
    /// host is guarded. The rare large futures (the WebSocket relay, the control endpoints)
    /// are boxed, so the future moved for every request stays small.
    pub(crate) async fn dispatch(&mut self, req: Request<Body>) -> RequestOrResponse {
        let Some(host) = req.uri().host().map(str::to_string) else {
            return match self.control(req) {
                RequestOrResponse::Request(req) => Box::pin(self.allow_endpoint(req)).await.into(),
                res => res,
            };
        };
        if !self.shared.intercepts(&host) {
            // Plain HTTP to a host outside the scope: passed on untouched.
            return req.into();
        }
        if req.uri().path() == CANARY_PATH && req.method() == hyper::Method::GET {
            // `leakguard doctor` and the drift check: proof that this client's request to an
            // intercepted host reached the guard (and, over TLS, that it trusts the device
            // CA). Answered here, never forwarded.
            let tls = req.uri().scheme() != Some(&hyper::http::uri::Scheme::HTTP);
            let body = serde_json::json!({
                "leakguard": "canary",
                "host": host,
                "tls": tls,
                "policy": self.shared.policy.load().label,
            });
            return crate::pipeline::respond(
                hyper::StatusCode::OK,
                "application/json",
                body.to_string(),
            )
            .into();
        }
        // WebSocket upgrades (wss:// inside a decrypted tunnel, or plain ws://) are relayed
        // by the guard, through its routes, with every client frame scanned.
        if hyper_tungstenite::is_upgrade_request(&req) {
            let tls = req.uri().scheme() != Some(&hyper::http::uri::Scheme::HTTP);
            return Box::pin(crate::websocket::relay(
                Arc::clone(&self.shared),
                req,
                host,
                tls,
            ))
            .await
            .into();
        }
        Box::pin(self.guard_request(req, host)).await
    }
}

impl Guard {
    /// The upstream's reply: redacted values restored where the exchange asked for it.
    pub(crate) fn handle_response(&mut self, res: Response<Body>) -> Response<Body> {
        // Read first (what the service sent), redacted where the policy says so, then
        // restored for the user.
        let res = match self.reply.take() {
            Some(mut ctx) => {
                let header = |name| {
                    res.headers()
                        .get(name)
                        .and_then(|v: &HeaderValue| v.to_str().ok())
                        .map(str::to_string)
                };
                let (ct, ce) = (header(CONTENT_TYPE), header(CONTENT_ENCODING));
                let (mut parts, body) = res.into_parts();
                // Only identity-encoded replies are redacted (the guard asked for them so).
                let identity = ce
                    .as_deref()
                    .is_none_or(|e| e.eq_ignore_ascii_case("identity"));
                let kind = ctx.kind(ct.as_deref());
                let redactor = ctx
                    .redact
                    .then(|| ctx.redactor())
                    .flatten()
                    .filter(|_| identity && kind.is_some());
                ctx.redacting = redactor.is_some();
                if ctx.redacting {
                    parts.headers.remove(CONTENT_LENGTH);
                }
                let body = match kind {
                    Some(kind) => {
                        let body = ctx.read(kind, ce.as_deref(), body);
                        match redactor {
                            Some((r, spec)) => crate::reply_redact::rewrite(kind, body, r, spec),
                            None => body,
                        }
                    }
                    None => body,
                };
                Response::from_parts(parts, body)
            }
            None => res,
        };
        let Some(pending) = self.restore.take() else {
            return res;
        };
        // Only identity-encoded replies are rewritten; anything else goes back untouched.
        let encoded = res
            .headers()
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| !v.eq_ignore_ascii_case("identity"));
        if encoded {
            return res;
        }
        let ct = res
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        // A reply whose framing the catalog describes (SSE events, numbered lines, AWS
        // event-stream messages, JSON): restored in the text of its events, as reply redaction
        // rewrites it, so a placeholder split over several events comes back whole and every
        // event stays what it was. Other text: in the bytes, chunk by chunk.
        let spec = pending
            .endpoint
            .and_then(|i| self.shared.catalog.endpoints().get(i))
            .map(|e| e.reply().clone())
            .filter(|s| s.has_text());
        let kind = spec
            .as_ref()
            .and_then(|s| crate::reply::kind_of(Some(&ct), Some(s)));
        let textual = ct.contains("event-stream") || ct.contains("json") || ct.starts_with("text/");
        use crate::restore::{InBytes, Pairs, Restorer, Rewriting};
        use http_body_util::combinators::BoxBody;
        let (mut parts, body) = res.into_parts();
        // Then any placeholder left whole elsewhere (a field the catalog does not list, a
        // tool call's arguments): in the bytes, JSON-escaped (never inside AWS event-stream
        // messages, whose lengths and CRCs cover their bytes).
        let in_bytes = Pairs::new(pending.pairs.clone(), true);
        let body = match (spec, kind) {
            (Some(spec), Some(kind)) => {
                let restored =
                    crate::reply_redact::rewrite(kind, body, Restorer::new(pending.pairs), spec);
                if kind == crate::reply::Kind::EventStream {
                    restored
                } else {
                    Body::from(BoxBody::new(Rewriting::new(
                        restored,
                        InBytes::new(in_bytes),
                    )))
                }
            }
            _ if textual && !in_bytes.is_empty() => {
                Body::from(BoxBody::new(Rewriting::new(body, InBytes::new(in_bytes))))
            }
            _ => return Response::from_parts(parts, body),
        };
        parts.headers.remove(CONTENT_LENGTH);
        Response::from_parts(parts, body)
    }

    /// The upstream could not be reached: a 502 that says so.
    pub(crate) fn handle_error(&self, err: &hyper_util::client::legacy::Error) -> Response<Body> {
        let msg = format!("Leakguard could not reach the server: {err}");
        let mut res = respond(
            StatusCode::BAD_GATEWAY,
            "application/json",
            serde_json::json!({"error": {"message": msg, "type": "leakguard_upstream"}})
                .to_string(),
        );
        res.headers_mut()
            .insert("x-leakguard", HeaderValue::from_static("upstream-error"));
        res
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use crate::body::Limits;
    use crate::ca::DeviceCa;
    use crate::inspect::Loaded;
    use crate::upstream::Routes;
    use leakguard_providers::Catalog;
    use leakguard_types::Identity;

    /// The shared state of a guard with the default policy, its CA and event log in `dir`.
    pub(crate) fn shared_in(dir: &std::path::Path) -> Arc<Shared> {
        shared_with(dir, include_str!("../../../policies/default.json"))
    }

    /// The same with another policy text.
    pub(crate) fn shared_with(dir: &std::path::Path, policy: &str) -> Arc<Shared> {
        let policy = leakguard_policy::Policy::parse(policy).unwrap();
        let engine = leakguard_detect::Engine::with_config(policy.engine_config()).unwrap();
        crate::ca::init(&dir.join("ca"), &["chatgpt.com".into()], false).unwrap();
        Arc::new(Shared::new(
            Loaded::new(policy, engine, "test".into()),
            Catalog::builtin(),
            Arc::new(crate::events::EventLog::open(dir).unwrap()),
            Routes::default(),
            Arc::new(DeviceCa::load(&dir.join("ca")).unwrap()),
            Limits::default(),
            "token".into(),
            "127.0.0.1:1".parse().unwrap(),
            Arc::new(crate::upstream::client_tls(&[] as &[&str]).unwrap()),
            Arc::new(leakguard_types::SystemClock),
            Identity::default(),
        ))
    }

    /// An exchange abandoned while its request is on its way (hyper drops the future when the
    /// client goes away) still leaves its event durable: the journal's write is not lost with
    /// the future.
    #[tokio::test]
    async fn an_abandoned_forward_still_records_its_event() {
        let dir = leakguard_testkit::ScratchDir::new("lg-abandon");
        let shared = shared_in(&dir);
        let mut guard = Guard::new(Arc::clone(&shared));
        guard.to_journal = Some(leakguard_types::Event {
            id: "abandoned-exchange-1".into(),
            ..leakguard_types::Event::default()
        });
        {
            let forward = guard.forward(std::future::pending::<()>());
            let mut forward = std::pin::pin!(forward);
            // One poll: the request is on its way, the journal waits for its turn; then the
            // future is dropped.
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(std::future::Future::poll(forward.as_mut(), &mut cx).is_pending());
        }
        let log = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
        assert!(log.contains("abandoned-exchange-1"), "{log}");
    }

    /// hudsucker keeps the handler's future inside its per-request future and moves that
    /// several times (into the instrumented wrapper and hyper's in-flight slot): before the
    /// WebSocket relay and the guard were boxed it was ~14 KB, copied five times a request.
    #[test]
    fn the_future_moved_for_every_request_stays_small() {
        let dir = leakguard_testkit::ScratchDir::new("lg-size");
        let shared = shared_in(&dir);
        let mut guard = Guard::new(Arc::clone(&shared));
        let relay =
            crate::websocket::relay(shared, Request::new(Body::empty()), String::new(), true);
        let relay_size = std::mem::size_of_val(&relay);
        drop(relay);
        let dispatch = guard.dispatch(Request::new(Body::empty()));
        let size = std::mem::size_of_val(&dispatch);
        drop(dispatch);
        assert!(size <= 2048, "dispatch future is {size} bytes");
        assert!(
            size < relay_size,
            "the relay ({relay_size} bytes) is no longer boxed out of dispatch ({size} bytes)"
        );
    }
}
