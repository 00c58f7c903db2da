//! The hudsucker handlers: scope (what is decrypted), the request pipeline, WebSocket frames, the
//! blind tunnel for everything else, and the proxy's own small HTTP surface (PAC, health, allow).

use crate::body::{self, BodyError, Limits};
use crate::ca::DeviceCa;
use crate::events::{new_id, now_rfc3339, Event, EventSink};
use crate::inspect::{fail_closed, hex, inspect, Loaded, Plan, RequestInfo};
use crate::upstream::Routes;
use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::Full;
use hudsucker::tokio_tungstenite::tungstenite::Message;
use hudsucker::{
    Body, HttpContext, HttpHandler, RequestOrResponse, WebSocketContext, WebSocketHandler,
};
use hyper::header::{HeaderValue, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use leakguard_policy::{FailMode, Mode, RequestMeta, TenantFacts};
use leakguard_providers::{Catalog, Refusal};
use leakguard_types::{Action, Clock, Identity};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a warned request may be allowed, and how long an allowance lasts.
pub const OVERRIDE_TTL: Duration = Duration::from_secs(600);

/// A refusal by the `api` rules: status, code, message, policy entry, Retry-After seconds.
type Governed = (u16, &'static str, String, String, Option<u64>);

const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Running totals, for health and the UI.
#[derive(Debug, Default, serde::Serialize)]
pub struct Counters {
    pub requests: AtomicU64,
    pub forwarded: AtomicU64,
    pub redacted: AtomicU64,
    pub blocked: AtomicU64,
    pub warned: AtomicU64,
    pub overridden: AtomicU64,
    pub fail_closed: AtomicU64,
    pub tunnelled: AtomicU64,
    pub bodyless: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

#[derive(Debug, Default)]
struct Overrides {
    /// code -> (content hash, when warned)
    pending: HashMap<String, ([u8; 32], Instant)>,
    /// content hash -> (granted at, justification)
    granted: HashMap<[u8; 32], (Instant, String)>,
}

/// Why a warned request cannot be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AllowError {
    #[error("a reason is required to allow a warned prompt")]
    NoReason,
    #[error("no warned prompt with that code in the last 10 minutes")]
    Unknown,
}

impl AllowError {
    /// A stable code for the app.
    pub fn code(self) -> &'static str {
        match self {
            AllowError::NoReason => "reason_required",
            AllowError::Unknown => "unknown_code",
        }
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct Shared {
    pub policy: ArcSwap<Loaded>,
    pub catalog: Arc<Catalog>,
    pub events: Arc<dyn EventSink>,
    pub routes: Arc<Routes>,
    pub ca: Arc<DeviceCa>,
    pub limits: Limits,
    pub control_token: String,
    pub listen: SocketAddr,
    pub counters: Counters,
    /// The upstream TLS config (platform roots + `--upstream-ca`), for WebSocket relays.
    pub upstream_tls: Arc<rustls::ClientConfig>,
    overrides: Mutex<Overrides>,
    /// Per destination group: (when, estimated tokens) of the requests of the last minute.
    rate: Mutex<HashMap<String, std::collections::VecDeque<(Instant, u64)>>>,
    /// The time source (exception expiry, pauses).
    clock: Arc<dyn Clock>,
    /// The person the guard acts for (the policy's exceptions by user and group).
    identity: Identity,
    /// A timed pause the policy allows: until this time (ms since the epoch), 0 when none.
    paused_until_ms: std::sync::atomic::AtomicI64,
}

impl Shared {
    #[allow(clippy::too_many_arguments)] // one call site, each part named at it
    pub fn new(
        loaded: Loaded,
        catalog: Catalog,
        events: Arc<dyn EventSink>,
        routes: Routes,
        ca: Arc<DeviceCa>,
        limits: Limits,
        control_token: String,
        listen: SocketAddr,
        upstream_tls: Arc<rustls::ClientConfig>,
        clock: Arc<dyn Clock>,
        identity: Identity,
    ) -> Shared {
        Shared {
            policy: ArcSwap::from_pointee(loaded),
            catalog: Arc::new(catalog),
            events,
            routes: Arc::new(routes),
            ca,
            limits,
            control_token,
            listen,
            counters: Counters::default(),
            upstream_tls,
            overrides: Mutex::new(Overrides::default()),
            rate: Mutex::default(),
            clock,
            identity,
            paused_until_ms: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// Now, in ms since the epoch, by the guard's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Pauses enforcement until `until_ms` (0 resumes). The caller checks the policy allows it.
    pub fn pause_until(&self, until_ms: i64) {
        self.paused_until_ms.store(until_ms, Ordering::SeqCst);
    }

    /// When the current pause ends, if one is running.
    pub fn paused_until(&self) -> Option<i64> {
        let until = self.paused_until_ms.load(Ordering::SeqCst);
        (until > self.now_ms()).then_some(until)
    }

    /// The facts of a request that exceptions and pauses use: user, groups, today, paused.
    pub fn meta(&self) -> RequestMeta {
        let now = self.now_ms();
        RequestMeta {
            user: self.identity.user.clone(),
            groups: self.identity.groups.clone(),
            today: u32::try_from(now.div_euclid(86_400_000)).unwrap_or(0),
            paused: self.paused_until_ms.load(Ordering::Relaxed) > now,
        }
    }

    /// Whether `host` is decrypted: it is in a destination group whose mode is not `allow`.
    pub fn intercepts(&self, host: &str) -> bool {
        let loaded = self.policy.load();
        loaded
            .policy()
            .group_of(host)
            .is_some_and(|g| g.mode != Mode::Allow)
    }

    /// Grants a warned request once. `None` if the code is unknown or expired.
    pub fn allow(&self, code: &str, justification: &str) -> Option<()> {
        let mut o = self.overrides.lock().expect("overrides");
        let (hash, at) = o.pending.remove(code)?;
        if at.elapsed() > OVERRIDE_TTL {
            return None;
        }
        o.granted
            .insert(hash, (Instant::now(), justification.to_string()));
        Some(())
    }

    /// Grants the warned request `code` once, with the user's justification, and records it.
    /// Returns how long the grant lasts.
    ///
    /// # Errors
    /// No justification, or no warned request with that code in the last 10 minutes.
    pub fn allow_once(&self, code: &str, justification: &str) -> Result<Duration, AllowError> {
        let justification = justification.trim();
        if justification.is_empty() {
            return Err(AllowError::NoReason);
        }
        self.allow(code, justification).ok_or(AllowError::Unknown)?;
        self.events.record(Event {
            id: new_id(),
            time: now_rfc3339(),
            kind: "override".into(),
            verdict: "warn".into(),
            outcome: "overridden".into(),
            override_code: Some(code.to_string()),
            justification: Some(justification.chars().take(500).collect()),
            ..Event::default()
        });
        Ok(OVERRIDE_TTL)
    }

    fn take_grant(&self, hash: &[u8; 32]) -> Option<String> {
        let mut o = self.overrides.lock().expect("overrides");
        let (at, why) = o.granted.remove(hash)?;
        (at.elapsed() <= OVERRIDE_TTL).then_some(why)
    }

    fn remember_warn(&self, code: String, hash: [u8; 32]) {
        let mut o = self.overrides.lock().expect("overrides");
        o.pending.retain(|_, (_, at)| at.elapsed() <= OVERRIDE_TTL);
        o.pending.insert(code, (hash, Instant::now()));
    }

    /// The PAC file: destination hosts through the proxy, everything else DIRECT.
    pub fn pac(&self) -> String {
        let loaded = self.policy.load();
        let mut conds = Vec::new();
        for g in loaded
            .policy()
            .destinations
            .iter()
            .filter(|g| g.mode != Mode::Allow)
        {
            for h in &g.hosts {
                let h = h.to_ascii_lowercase();
                match h.strip_prefix("*.") {
                    Some(s) => conds.push(format!("dnsDomainIs(h, \".{s}\")")),
                    None => conds.push(format!("h == \"{h}\" || dnsDomainIs(h, \".{h}\")")),
                }
            }
        }
        let cond = if conds.is_empty() {
            "false".to_string()
        } else {
            conds.join(" ||\n      ")
        };
        format!(
            "// Leakguard: only LLM destinations go through the local guard.\nfunction FindProxyForURL(url, host) {{\n  var h = host.toLowerCase();\n  if ({cond})\n    return \"PROXY {addr}\";\n  return \"DIRECT\";\n}}\n",
            addr = self.listen
        )
    }
}

/// The handler hudsucker clones per connection.
#[derive(Debug, Clone)]
pub struct Guard {
    shared: Arc<Shared>,
    /// This exchange's placeholders to restore in the reply (hudsucker hands a request and its
    /// response to the same handler instance).
    restore: Option<crate::restore::Pairs>,
}

impl Guard {
    pub fn new(shared: Arc<Shared>) -> Guard {
        Guard {
            shared,
            restore: None,
        }
    }
}

fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type)
        .header("cache-control", "no-store")
        .body(Body::from(Full::new(body.into())))
        .expect("a valid response")
}

fn refusal_response(r: Refusal, outcome: &str) -> Response<Body> {
    let mut res = respond(
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::FORBIDDEN),
        r.content_type,
        r.body,
    );
    res.headers_mut().insert(
        "x-leakguard",
        HeaderValue::from_str(outcome).unwrap_or(HeaderValue::from_static("refused")),
    );
    res
}

impl Guard {
    /// CONNECT to a host outside the scope: answer 200 and splice bytes, never decrypting and
    /// without waiting for the client to speak first.
    fn tunnel(&self, req: Request<Body>) -> Response<Body> {
        let Some(authority) = req.uri().authority().cloned() else {
            return respond(
                StatusCode::BAD_REQUEST,
                "text/plain",
                "CONNECT needs host:port",
            );
        };
        let shared = Arc::clone(&self.shared);
        bump(&shared.counters.tunnelled);
        tokio::spawn(async move {
            let port = authority.port_u16().unwrap_or(443);
            let Ok(mut server) = shared.routes.connect(authority.host(), port).await else {
                return;
            };
            if let Ok(upgraded) = hyper::upgrade::on(req).await {
                let mut client = TokioIo::new(upgraded);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
        Response::new(Body::empty())
    }

    /// Requests addressed to the proxy itself.
    fn control(&self, req: Request<Body>) -> RequestOrResponse {
        let path = req.uri().path().to_string();
        let shared = &self.shared;
        let res = match (req.method(), path.as_str()) {
            (&Method::GET, "/proxy.pac") => respond(
                StatusCode::OK,
                "application/x-ns-proxy-autoconfig",
                shared.pac(),
            ),
            (&Method::GET, "/leakguard/ca.pem") => respond(
                StatusCode::OK,
                "application/x-pem-file",
                shared.ca.cert_pem().to_string(),
            ),
            (&Method::GET, "/leakguard/health") => {
                let loaded = shared.policy.load();
                let body = serde_json::json!({
                    "status": "ok",
                    "policy": loaded.label,
                    "listen": shared.listen.to_string(),
                    "events": shared.events.location(),
                    "counters": &shared.counters,
                });
                respond(StatusCode::OK, "application/json", body.to_string())
            }
            (&Method::POST, "/leakguard/allow") => return RequestOrResponse::Request(req),
            _ => respond(
                StatusCode::NOT_FOUND,
                "text/plain",
                "Leakguard: not found\n",
            ),
        };
        RequestOrResponse::Response(res)
    }

    async fn allow_endpoint(&self, req: Request<Body>) -> Response<Body> {
        let shared = &self.shared;
        let authorised = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| constant_time_eq(t.as_bytes(), shared.control_token.as_bytes()));
        if !authorised {
            return respond(
                StatusCode::UNAUTHORIZED,
                "application/json",
                r#"{"error":"a valid control token is required"}"#,
            );
        }
        let Ok(body) = body::collect(req.into_body(), None, 16 << 10).await else {
            return respond(
                StatusCode::PAYLOAD_TOO_LARGE,
                "application/json",
                r#"{"error":"body too large"}"#,
            );
        };
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&body);
        let (code, reason) = match &parsed {
            Ok(v) => (
                v["code"].as_str().unwrap_or(""),
                v["reason"].as_str().unwrap_or(""),
            ),
            Err(_) => ("", ""),
        };
        match shared.allow_once(code, reason) {
            Ok(ttl) => respond(
                StatusCode::OK,
                "application/json",
                serde_json::json!({"allowed": code, "expires_in_s": ttl.as_secs()}).to_string(),
            ),
            Err(e) => respond(
                match e {
                    AllowError::NoReason => StatusCode::BAD_REQUEST,
                    AllowError::Unknown => StatusCode::NOT_FOUND,
                },
                "application/json",
                serde_json::json!({"error": e.to_string()}).to_string(),
            ),
        }
    }

    /// Routes one request: CONNECT and out-of-scope hosts pass, the control endpoints answer,
    /// WebSocket upgrades are relayed, everything else to an intercepted host is guarded. The
    /// rare large futures (the WebSocket relay, the control endpoints) are boxed, so the future
    /// hudsucker moves for every request stays small.
    async fn dispatch(&mut self, req: Request<Body>) -> RequestOrResponse {
        if req.method() == Method::CONNECT {
            let host = req.uri().host().unwrap_or("").to_string();
            return if self.shared.intercepts(&host) {
                req.into()
            } else {
                self.tunnel(req).into()
            };
        }
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
        // wss:// (inside the decrypted tunnel) is relayed by the guard, through its routes;
        // a plain ws:// upgrade is left to hudsucker, whose frames `handle_message` scans.
        if hyper_tungstenite::is_upgrade_request(&req)
            && req.uri().scheme() == Some(&hyper::http::uri::Scheme::HTTPS)
        {
            return Box::pin(crate::websocket::relay(Arc::clone(&self.shared), req, host))
                .await
                .into();
        }
        Box::pin(self.guard_request(req, host)).await
    }

    /// One intercepted request: its stages run in [`Guard::exchange`], and its event is
    /// recorded here, once, whatever the path (forwarded, redacted, warned, blocked, refused).
    async fn guard_request(&mut self, req: Request<Body>, host: String) -> RequestOrResponse {
        let mut pending_restore: Option<Vec<(String, String)>> = None;
        let started = Instant::now();
        let (result, event) = self.exchange(req, host, &mut pending_restore).await;
        if let Some(mut event) = event {
            event.latency_us = started.elapsed().as_micros() as u64;
            self.shared.events.record(event);
        }
        self.restore = pending_restore
            .map(|p| crate::restore::Pairs::new(p, true))
            .filter(|p| !p.is_empty());
        result
    }

    /// The request's stages: destination (resolved once), kill switch, body, decode, inspect
    /// (scan + decide), tenant and API rules, rate limits, act. Returns the answer and the
    /// event to record (`None` only for a request without a body, which is counted).
    async fn exchange(
        &self,
        req: Request<Body>,
        host: String,
        pending_restore: &mut Option<Vec<(String, String)>>,
    ) -> (RequestOrResponse, Option<Event>) {
        let shared = &self.shared;
        bump(&shared.counters.requests);
        let loaded = shared.policy.load_full();
        let (mut parts, body) = req.into_parts();
        let info = RequestInfo {
            host: host.clone(),
            method: parts.method.to_string(),
            path: parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string(),
            content_type: parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            client: parts
                .headers
                .get(USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        };
        let mut event = Event {
            id: new_id(),
            time: now_rfc3339(),
            kind: "request".into(),
            host: host.clone(),
            method: info.method.clone(),
            path: info.path.split('?').next().unwrap_or("").to_string(),
            client: info.client.as_ref().map(|c| c.chars().take(120).collect()),
            policy: Some(loaded.label.clone()),
            ..Event::default()
        };
        // The destination, resolved once for the whole request.
        let dest = Destination::resolve(&loaded, &host, &shared.limits);
        event.group = dest.group.clone();
        if dest.mode == Mode::BlockAll {
            body::drain(body, shared.limits.max_body).await;
            let name = dest.group.clone().unwrap_or_default();
            let msg = format!("Blocked by Leakguard: {host} is switched off by your organisation's policy ({name}).");
            event.verdict = "block".into();
            event.outcome = "blocked".into();
            event.decided_by = format!("destinations.{name}.mode = block_all");
            bump(&shared.counters.blocked);
            let shape = shared.catalog.error_shape_for_host(&host);
            let res = refusal_response(
                leakguard_providers::refusal(shape, 403, "leakguard_kill_switch", &msg),
                "blocked",
            );
            return (res.into(), Some(event));
        }

        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let raw = match body::collect(body, declared, dest.max_body).await {
            Ok(b) => b,
            Err(e) => return (self.refuse_unreadable(&mut event, &host, &e), Some(event)),
        };
        if raw.is_empty() {
            bump(&shared.counters.bodyless);
            bump(&shared.counters.forwarded);
            return (
                Request::from_parts(parts, Body::from(Full::new(raw))).into(),
                None,
            );
        }
        let encoding = parts
            .headers
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let decoded = match body::decode(&raw, encoding.as_deref(), &shared.limits) {
            Ok(d) => d,
            Err(e) if dest.fail_open => {
                let res = self.forward_unscanned(&mut event, parts, raw, e.to_string());
                return (res, Some(event));
            }
            Err(e) => return (self.refuse_unreadable(&mut event, &host, &e), Some(event)),
        };
        // Scanning is CPU work: keep it off the I/O thread when the body is large (only then
        // are the inputs copied for the blocking pool).
        let meta = shared.meta();
        let outcome = if decoded.len() > 256 << 10 {
            let (loaded, catalog) = (Arc::clone(&loaded), Arc::clone(&shared.catalog));
            let (info, decoded) = (info.clone(), decoded.clone());
            let fallback =
                crate::inspect::fail_closed(&catalog, &info.host, 500, "the scanner failed");
            let base = event.clone();
            match tokio::task::spawn_blocking(move || {
                let r = inspect(&loaded, &catalog, &info, &decoded, &meta, &mut event);
                (r, event)
            })
            .await
            {
                Ok((r, filled)) => {
                    event = filled;
                    r
                }
                Err(_) => {
                    event = base;
                    Err((fallback, "the scanner panicked".into()))
                }
            }
        } else {
            inspect(&loaded, &shared.catalog, &info, &decoded, &meta, &mut event)
        };
        let x = match outcome {
            Ok(x) => x,
            Err((_, reason)) if dest.fail_open => {
                let res = self.forward_unscanned(&mut event, parts, raw, reason);
                return (res, Some(event));
            }
            Err((refusal, reason)) => {
                bump(&shared.counters.fail_closed);
                event.verdict = "block".into();
                event.outcome = "refused".into();
                event.reason = Some(reason);
                event.bytes = decoded.len();
                return (refusal_response(refusal, "refused").into(), Some(event));
            }
        };
        if !matches!(
            x.plan,
            Plan::Refuse {
                warn_code: None,
                ..
            }
        ) {
            let facts = tenant_facts(&shared.catalog, &host, &info.path, &parts.headers);
            let tenant = loaded
                .policy()
                .check_tenant(&host, &facts)
                .map_err(|v| (v.status, v.code, v.message, v.by, None));
            if let Err(refused) = tenant.and_then(|()| self.govern(&loaded, &dest, &host, &event)) {
                let (status, code, message, by, retry_after) = refused;
                bump(&shared.counters.blocked);
                event.outcome = "blocked".into();
                event.verdict = "block".into();
                event.decided_by = by;
                let shape = shared.catalog.error_shape_for_host(&host);
                let mut res = refusal_response(
                    leakguard_providers::refusal(shape, status, code, &message),
                    "blocked",
                );
                if let Some(secs) = retry_after {
                    res.headers_mut()
                        .insert(hyper::header::RETRY_AFTER, HeaderValue::from(secs));
                }
                return (res.into(), Some(event));
            }
        }
        let result: RequestOrResponse = match x.plan {
            Plan::Forward => {
                bump(&shared.counters.forwarded);
                Request::from_parts(parts, Body::from(Full::new(raw))).into()
            }
            Plan::Rewritten {
                body: new_body,
                restore,
            } => {
                bump(&shared.counters.redacted);
                if dest.restore && !restore.is_empty() {
                    *pending_restore = Some(restore);
                }
                parts.headers.remove(CONTENT_ENCODING);
                parts
                    .headers
                    .insert(CONTENT_LENGTH, HeaderValue::from(new_body.len()));
                Request::from_parts(parts, Body::from(Full::new(Bytes::from(new_body)))).into()
            }
            Plan::Refuse {
                refusal,
                warn_code: Some(code),
            } => {
                if let Some(why) = shared.take_grant(&x.content_hash) {
                    bump(&shared.counters.overridden);
                    event.outcome = "overridden".into();
                    event.justification = Some(why.chars().take(500).collect());
                    Request::from_parts(parts, Body::from(Full::new(raw))).into()
                } else {
                    bump(&shared.counters.warned);
                    shared.remember_warn(code, x.content_hash);
                    refusal_response(refusal, "warned").into()
                }
            }
            Plan::Refuse {
                refusal,
                warn_code: None,
            } => {
                bump(&shared.counters.blocked);
                refusal_response(refusal, "blocked").into()
            }
        };
        (result, Some(event))
    }

    /// The `api` rules of the host's group: pinned models, token caps, rate limits.
    fn govern(
        &self,
        loaded: &Loaded,
        dest: &Destination,
        host: &str,
        event: &Event,
    ) -> Result<(), Governed> {
        if let Err(v) = loaded
            .policy()
            .check_api(host, event.model.as_deref(), event.max_tokens)
        {
            return Err((v.status, v.code, v.message, v.by, None));
        }
        let Some(group) = &dest.group else {
            return Ok(());
        };
        let Some(rules) = loaded.policy().api.get(group) else {
            return Ok(());
        };
        if rules.requests_per_minute.is_none() && rules.tokens_per_minute.is_none() {
            return Ok(());
        }
        let mut windows = self.shared.rate.lock().expect("rate windows");
        let w = windows.entry(group.clone()).or_default();
        let now = Instant::now();
        while w
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= RATE_WINDOW)
        {
            w.pop_front();
        }
        let tokens: u64 = w.iter().map(|(_, t)| *t).sum();
        let over_requests = rules
            .requests_per_minute
            .is_some_and(|n| w.len() as u64 >= u64::from(n));
        let over_tokens = rules
            .tokens_per_minute
            .is_some_and(|n| tokens + event.est_tokens as u64 > n);
        if over_requests || over_tokens {
            let retry = w.front().map_or(1, |(at, _)| {
                (RATE_WINDOW - now.duration_since(*at)).as_secs() + 1
            });
            let (what, by) = if over_requests {
                (
                    format!(
                        "{} requests a minute",
                        rules.requests_per_minute.unwrap_or(0)
                    ),
                    "requests_per_minute",
                )
            } else {
                (
                    format!("{} tokens a minute", rules.tokens_per_minute.unwrap_or(0)),
                    "tokens_per_minute",
                )
            };
            return Err((
                429,
                "leakguard_rate_limited",
                format!("Leakguard: the limit for {host} is {what}; try again in {retry} s."),
                format!("api.{group}.{by}"),
                Some(retry),
            ));
        }
        w.push_back((now, event.est_tokens as u64));
        Ok(())
    }

    /// `fail_mode: allow`: the body could not be inspected; it goes on as it came, recorded.
    fn forward_unscanned(
        &self,
        event: &mut Event,
        parts: hyper::http::request::Parts,
        raw: Bytes,
        reason: String,
    ) -> RequestOrResponse {
        bump(&self.shared.counters.forwarded);
        event.verdict = "unscanned".into();
        event.outcome = "forwarded".into();
        event.decided_by = "fail_mode = allow".into();
        event.reason = Some(reason);
        event.bytes = raw.len();
        Request::from_parts(parts, Body::from(Full::new(raw))).into()
    }

    fn refuse_unreadable(&self, event: &mut Event, host: &str, e: &BodyError) -> RequestOrResponse {
        let shared = &self.shared;
        bump(&shared.counters.fail_closed);
        let status = match e {
            BodyError::TooLarge { .. } | BodyError::Bomb { .. } => 413,
            BodyError::UnsupportedEncoding(_) => 415,
            _ => 400,
        };
        event.verdict = "block".into();
        event.outcome = "refused".into();
        event.reason = Some(e.to_string());
        let mut res = refusal_response(
            fail_closed(&shared.catalog, host, status, &e.to_string()),
            "refused",
        );
        // The rest of an oversized body is not read: close the connection after answering.
        res.headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
        res.into()
    }
}

/// What the policy says about one destination host, resolved once per request.
#[derive(Debug, Clone)]
pub struct Destination {
    /// The destination group, if the host is in one.
    pub group: Option<String>,
    pub mode: Mode,
    /// `fail_mode: allow`: a body that cannot be inspected is forwarded unscanned.
    pub fail_open: bool,
    /// Largest body inspected for this destination.
    pub max_body: usize,
    /// Put redacted values back in the reply.
    pub restore: bool,
}

impl Destination {
    pub fn resolve(loaded: &Loaded, host: &str, limits: &Limits) -> Destination {
        let group = loaded.policy().group_of(host);
        Destination {
            group: group.map(|g| g.name.clone()),
            mode: group.map_or(Mode::Inspect, |g| g.mode),
            fail_open: group.is_some_and(|g| g.fail_mode == FailMode::Allow),
            max_body: group
                .and_then(|g| g.max_body_bytes)
                .map_or(limits.max_body, |n| {
                    usize::try_from(n).unwrap_or(usize::MAX)
                }),
            restore: group.is_some_and(|g| g.restore_redacted),
        }
    }
}

/// What a request shows about its tenant: the ChatGPT account's email (login JWT), the Claude
/// organisation (path), the OpenAI organisation and project (headers).
fn tenant_facts(
    catalog: &Catalog,
    host: &str,
    path: &str,
    headers: &hyper::HeaderMap,
) -> TenantFacts {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
    };
    let provider = catalog
        .provider_for_host(host)
        .unwrap_or_default()
        .to_string();
    let mut facts = TenantFacts {
        provider,
        ..TenantFacts::default()
    };
    match facts.provider.as_str() {
        "chatgpt-web" => {
            facts.account_email = header("authorization")
                .and_then(|a| a.strip_prefix("Bearer ").map(str::to_string))
                .and_then(|jwt| jwt_email(&jwt));
        }
        "claude-web" => {
            facts.organization = path
                .strip_prefix("/api/organizations/")
                .and_then(|rest| rest.split(['/', '?']).next())
                .filter(|s| !s.is_empty())
                .map(str::to_string);
        }
        _ => {
            facts.organization = header("openai-organization");
            facts.project = header("openai-project");
        }
    }
    facts
}

/// The email claim of a ChatGPT login JWT (the signature is not checked: the guard only reads
/// which account the browser uses; the server checks the token).
fn jwt_email(jwt: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("https://api.openai.com/profile")
        .and_then(|p| p.get("email"))
        .or_else(|| v.get("email"))
        .and_then(|e| e.as_str())
        .map(str::to_string)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl HttpHandler for Guard {
    async fn handle_request(
        &mut self,
        _ctx: &HttpContext,
        req: Request<Body>,
    ) -> RequestOrResponse {
        self.dispatch(req).await
    }

    async fn handle_response(&mut self, _ctx: &HttpContext, res: Response<Body>) -> Response<Body> {
        let Some(pairs) = self.restore.take() else {
            return res;
        };
        // Only identity-encoded text replies are rewritten; anything else goes back untouched.
        let encoded = res
            .headers()
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| !v.eq_ignore_ascii_case("identity"));
        let texty = res
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| {
                t.contains("json") || t.contains("event-stream") || t.starts_with("text/")
            });
        if encoded || !texty {
            return res;
        }
        let (mut parts, body) = res.into_parts();
        parts.headers.remove(CONTENT_LENGTH);
        let body = crate::restore::Restoring::new(body, pairs);
        Response::from_parts(
            parts,
            Body::from(http_body_util::combinators::BoxBody::new(body)),
        )
    }

    async fn handle_error(
        &mut self,
        _ctx: &HttpContext,
        err: hyper_util::client::legacy::Error,
    ) -> Response<Body> {
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

    async fn should_intercept_tls(
        &mut self,
        _ctx: &HttpContext,
        hello: rustls::server::ClientHello<'_>,
    ) -> bool {
        // The CONNECT host was in scope; the SNI must be too (no SNI: the CONNECT host is used).
        hello
            .server_name()
            .is_none_or(|sni| self.shared.intercepts(sni))
    }
}

impl WebSocketHandler for Guard {
    async fn handle_message(
        &mut self,
        ctx: &WebSocketContext,
        message: Message,
    ) -> Option<Message> {
        let WebSocketContext::ClientToServer { dst, .. } = ctx else {
            return Some(message);
        };
        let Message::Text(text) = &message else {
            return Some(message);
        };
        let host = dst.host().unwrap_or("").to_string();
        if !self.shared.intercepts(&host) {
            return Some(message);
        }
        let text = text.as_str().to_string();
        match self.shared.websocket_text(&host, dst.path(), &text) {
            WsOutcome::Pass => Some(message),
            WsOutcome::Replace(t) => Some(Message::text(t)),
            WsOutcome::Drop => None,
        }
    }
}

/// What happens to one client-to-server WebSocket text frame.
#[derive(Debug, PartialEq, Eq)]
pub enum WsOutcome {
    Pass,
    /// Redacted text in place of the frame.
    Replace(String),
    /// A frame cannot be answered with an error: a blocked or warned one is dropped.
    Drop,
}

impl Shared {
    /// Scans one WebSocket text frame to an intercepted host, decides, and records an event.
    pub fn websocket_text(&self, host: &str, path: &str, text: &str) -> WsOutcome {
        let started = Instant::now();
        let loaded = self.policy.load_full();
        let meta = self.meta();
        // Frames repeat (a chat client re-sends context): the same scan cache as request
        // segments, keyed by the frame's SHA-256, which is also the event's prompt hash.
        let digest: [u8; 32] = {
            use sha2::Digest;
            sha2::Sha256::digest(text.as_bytes()).into()
        };
        let findings = if text.len() >= crate::scan_cache::MIN_BYTES {
            loaded
                .scan_cache
                .get_or_scan(digest, || loaded.engine.scan(text))
        } else {
            loaded.engine.scan(text)
        };
        let verdict = loaded.effective.decide(&findings, Some(host), &meta);
        let mut event = Event {
            id: new_id(),
            time: now_rfc3339(),
            kind: "websocket".into(),
            host: host.to_string(),
            path: path.to_string(),
            endpoint: "websocket".into(),
            verdict: verdict.action.to_string(),
            decided_by: verdict.by.clone(),
            group: verdict.group.clone(),
            previews: crate::events::previews(&findings, loaded.policy().events.previews),
            rules: crate::events::rule_counts(&findings, &verdict),
            bytes: text.len(),
            text_bytes: text.len(),
            est_tokens: text.len().div_ceil(4),
            policy: Some(loaded.label.clone()),
            ..Event::default()
        };
        let out = match verdict.action {
            Action::Allow | Action::Audit => {
                event.outcome = "forwarded".into();
                WsOutcome::Pass
            }
            Action::Redact => {
                let to_redact: Vec<_> = findings
                    .iter()
                    .zip(&verdict.findings)
                    .filter(|(_, d)| d.action == Action::Redact)
                    .map(|(f, _)| f.clone())
                    .collect();
                event.outcome = "redacted".into();
                let r = leakguard_detect::redact(
                    text,
                    &to_redact,
                    leakguard_detect::RedactStyle::Placeholder,
                );
                WsOutcome::Replace(r.text)
            }
            // A frame cannot be answered with an error: it is dropped.
            Action::Warn | Action::Block => {
                event.outcome = "blocked".into();
                WsOutcome::Drop
            }
        };
        event.prompt_sha256 = hex(&digest);
        event.latency_us = started.elapsed().as_micros() as u64;
        self.events.record(event);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared state of a guard with the default policy, its CA and event log in `dir`.
    fn shared_in(dir: &std::path::Path) -> Arc<Shared> {
        let policy =
            leakguard_policy::Policy::parse(include_str!("../../../policies/default.json"))
                .unwrap();
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

    #[test]
    fn websocket_frames_are_scanned_redacted_or_dropped_and_recorded() {
        let dir = leakguard_testkit::ScratchDir::new("lg-ws");
        let shared = shared_in(&dir);
        assert_eq!(
            shared.websocket_text("chatgpt.com", "/ws", "hello there"),
            WsOutcome::Pass
        );
        assert_eq!(
            shared.websocket_text("chatgpt.com", "/ws", "key AKIAQYLPMN5HJNGY4F7A"),
            WsOutcome::Drop
        );
        match shared.websocket_text("chatgpt.com", "/ws", "card 4111 1111 1111 1111 ok") {
            WsOutcome::Replace(t) => assert_eq!(t, "card [REDACTED:credit-card-number#1] ok"),
            other => panic!("expected a redaction, got {other:?}"),
        }
        let log = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
        let outcomes: Vec<String> = log
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["outcome"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(outcomes, ["forwarded", "blocked", "redacted"]);
        assert!(log.contains("\"kind\":\"websocket\""));
        assert!(!log.contains("AKIAQYLPMN5HJNGY4F7A") && !log.contains("4111 1111"));
        // A long frame sent again is answered from the scan cache, with the same decision.
        let long = format!("{} key AKIAQYLPMN5HJNGY4F7A", "context ".repeat(40));
        let cache = || shared.policy.load().scan_cache.stats();
        let before = cache();
        assert_eq!(
            shared.websocket_text("chatgpt.com", "/ws", &long),
            WsOutcome::Drop
        );
        assert_eq!(
            shared.websocket_text("chatgpt.com", "/ws", &long),
            WsOutcome::Drop
        );
        assert_eq!(cache(), (before.0 + 1, before.1 + 1), "one scan, one hit");
    }

    /// hudsucker keeps the handler's future inside its per-request future and moves that
    /// several times (into the instrumented wrapper and hyper's in-flight slot): before the
    /// WebSocket relay and the guard were boxed it was ~14 KB, copied five times a request.
    #[test]
    fn the_future_moved_for_every_request_stays_small() {
        let dir = leakguard_testkit::ScratchDir::new("lg-size");
        let shared = shared_in(&dir);
        let mut guard = Guard::new(Arc::clone(&shared));
        let relay = crate::websocket::relay(shared, Request::new(Body::empty()), String::new());
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
