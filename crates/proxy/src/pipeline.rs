//! One intercepted request, as a list of stages (docs/architecture.md, "A request's stages"):
//! destination (resolved once), kill switch, body, decode, inspect (scan + one verdict for the
//! whole request: content, tenant, API rules), admit (rate limits), act; and its event,
//! recorded once on every path. WebSocket frames run the same inspect, admit and act.

use crate::body::{self, BodyError, Limits};
use crate::events::{new_id, now_rfc3339, Event};
use crate::guard::Guard;
use crate::inspect::{fail_closed, inspect, judge, Inspection, Loaded, Plan, RequestInfo};
use crate::state::{bump, Shared};
use bytes::Bytes;
use http_body_util::Full;
use hudsucker::{Body, RequestOrResponse};
use hyper::header::{HeaderValue, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use hyper::{Request, Response, StatusCode};
use leakguard_policy::{FailMode, Mode, RequestFacts, Stop};
use leakguard_providers::{refusal, Catalog, Extracted, Refusal};
use leakguard_types::TenantFacts;
use std::sync::Arc;
use std::time::Instant;

pub(crate) fn respond(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Body> {
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

/// Whether the client is a browser navigating (it asks for HTML): it is answered with a page.
fn accepts_html(headers: &hyper::HeaderMap) -> bool {
    headers
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// The page a browser shows for a blocked address (`chatgpt.com/?q=<secret>`): what was found,
/// never the value.
fn blocked_page(event: &Event) -> Response<Body> {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let rules = event
        .rules
        .iter()
        .map(|r| format!("<li>{} ({})</li>", esc(&r.rule), esc(&r.category)))
        .collect::<String>();
    let code = event
        .override_code
        .as_deref()
        .map(|c| {
            format!(
                "<p>To send it anyway, allow it once in Leakguard or run \
                 <code>leakguard allow {c} --reason \"…\"</code>, then reload.</p>"
            )
        })
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Blocked by Leakguard</title></head><body style=\"font-family:sans-serif;\
         max-width:40em;margin:4em auto\"><h1>Blocked by Leakguard</h1>\
         <p>The address of this request to <b>{host}</b> holds something the company's AI \
         use policy does not let leave this device:</p><ul>{rules}</ul>{code}\
         <p>Remove it from the address (or the prompt) and try again.</p></body></html>",
        host = esc(&event.host)
    );
    let mut res = respond(StatusCode::FORBIDDEN, "text/html; charset=utf-8", html);
    res.headers_mut()
        .insert("x-leakguard", HeaderValue::from_static("blocked"));
    res
}

/// A refusal by a rule that is not about content, in the provider's error shape.
fn stop_response(
    catalog: &Catalog,
    host: &str,
    stop: &Stop,
    retry_after: Option<u64>,
) -> Response<Body> {
    let shape = catalog.error_shape_for_host(host);
    let mut res = refusal_response(
        refusal(shape, stop.status, stop.code, &stop.message),
        "blocked",
    );
    if let Some(secs) = retry_after {
        res.headers_mut()
            .insert(hyper::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    res
}

/// What the guard does with a request or frame the verdict let through or held.
enum Act {
    /// Send the original bytes.
    Forward,
    /// Send this body instead; restore these placeholders in the reply.
    Rewrite(Vec<u8>, Vec<(String, String)>),
    /// Answer with this (blocked, warned, rate limited).
    Answer(Response<Body>),
}

impl Shared {
    /// Whether a grant may be used for this request: the whole body (every field, not only
    /// the text the adapter reads) holds no finding of a rule the warned text did not fire.
    /// Run only when a warned request comes back, so its cost is paid rarely.
    fn grant_fits(&self, loaded: &Loaded, body: &[u8], event: &Event) -> bool {
        loaded
            .engine
            .scan_bytes(body)
            .iter()
            .all(|f| event.rules.iter().any(|r| r.rule == f.rule))
    }

    /// Admit and act, shared by requests and frames: a hard refusal stands; otherwise the rate
    /// limits count the request, then the plan is carried out, a warned one sent if the user
    /// allowed this content once. Fills in the event's outcome.
    fn act(
        &self,
        loaded: &Loaded,
        x: Inspection,
        host: &str,
        body: &[u8],
        event: &mut Event,
    ) -> Act {
        let hard_refusal = matches!(
            x.plan,
            Plan::Refuse {
                warn_code: None,
                ..
            }
        );
        if !hard_refusal {
            if let Err(t) = self.admit(
                loaded,
                x.verdict.group.as_deref(),
                host,
                event.est_tokens as u64,
            ) {
                bump(&self.counters.blocked);
                event.outcome = leakguard_types::Outcome::Blocked;
                event.verdict = leakguard_types::EventVerdict::Block;
                event.decided_by = t.stop.by.clone();
                return Act::Answer(stop_response(
                    &self.catalog,
                    host,
                    &t.stop,
                    Some(t.retry_after),
                ));
            }
        }
        match x.plan {
            Plan::Forward => {
                bump(&self.counters.forwarded);
                Act::Forward
            }
            Plan::Rewritten { body, restore } => {
                bump(&self.counters.redacted);
                Act::Rewrite(body, restore)
            }
            Plan::Refuse {
                refusal,
                warn_code: Some(code),
            } => {
                let key = x.grant_key.expect("a warned request has a grant key");
                let usable = self.has_grant(&key) && self.grant_fits(loaded, body, event);
                if let Some(why) = usable.then(|| self.take_grant(&key)).flatten() {
                    bump(&self.counters.overridden);
                    event.outcome = leakguard_types::Outcome::Overridden;
                    event.justification = Some(why.chars().take(500).collect());
                    Act::Forward
                } else {
                    bump(&self.counters.warned);
                    self.remember_warn(code, key);
                    Act::Answer(refusal_response(refusal, "warned"))
                }
            }
            Plan::Refuse {
                refusal,
                warn_code: None,
            } => {
                bump(&self.counters.blocked);
                Act::Answer(refusal_response(refusal, "blocked"))
            }
        }
    }

    /// The tenant facts a request shows, read as the endpoint catalog says.
    pub(crate) fn tenant_of(
        &self,
        host: &str,
        path: &str,
        headers: &hyper::HeaderMap,
    ) -> TenantFacts {
        self.catalog.tenant_facts(host, path, &|name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
    }

    /// The kill switch's refusal for `host`, if its destination is switched off: the policy's
    /// verdict with no content, so the message and the deciding entry come from one place.
    pub(crate) fn switched_off(&self, loaded: &Loaded, host: &str) -> Option<Stop> {
        let v = loaded.effective.decide_request(
            &[],
            &RequestFacts {
                host: Some(host),
                ..RequestFacts::default()
            },
            &self.meta(),
        );
        v.stop.filter(|s| s.code == "leakguard_kill_switch")
    }
}

impl Guard {
    /// The program behind this exchange's connection, `name (pid) /path/to/exe`: looked up
    /// once per connection, on the blocking pool (boxed: the request's own future stays small).
    fn process(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send>> {
        let peer = self.peer.clone();
        Box::pin(async move {
            let peer = peer?;
            if let Some(known) = peer.known() {
                return known;
            }
            tokio::task::spawn_blocking(move || peer.process())
                .await
                .ok()
                .flatten()
        })
    }

    /// The facts exceptions and decisions use; the program too when an exception names
    /// programs (only then is anything looked up: the clean path gets a ready value).
    fn request_meta(
        &self,
        loaded: &Loaded,
    ) -> futures_util::future::Either<
        std::future::Ready<leakguard_policy::RequestMeta>,
        std::pin::Pin<Box<dyn std::future::Future<Output = leakguard_policy::RequestMeta> + Send>>,
    > {
        let mut meta = self.shared.meta();
        if !loaded.policy().has_process_exceptions() {
            return futures_util::future::Either::Left(std::future::ready(meta));
        }
        let process = self.process();
        futures_util::future::Either::Right(Box::pin(async move {
            meta.process = process.await;
            meta
        }))
    }

    /// One intercepted request: its stages run in [`Guard::exchange`], and its event is
    /// recorded here, once, whatever the path (forwarded, redacted, warned, blocked, refused).
    pub(crate) async fn guard_request(
        &mut self,
        req: Request<Body>,
        host: String,
    ) -> RequestOrResponse {
        let mut pending_restore: Option<Vec<(String, String)>> = None;
        let started = Instant::now();
        let (mut result, event) = self.exchange(req, host, &mut pending_restore).await;
        // Where the reply's text is, for restoring placeholders inside stream events.
        let mut text_of_reply = None;
        if let Some(mut event) = event {
            event.latency_us = started.elapsed().as_micros() as u64;
            // Which program sent it: for requests with findings (clean traffic never pays
            // for reading the process table), once per connection.
            if !event.rules.is_empty() && event.process.is_none() {
                event.process = self.process().await;
            }
            if pending_restore.is_some() {
                let catalog = &self.shared.catalog;
                text_of_reply = catalog
                    .index_of(&event.endpoint)
                    .filter(|&i| catalog.endpoints()[i].reply().has_text());
            }
            // A request that goes on: its reply is read (the policy's `responses`).
            if matches!(result, RequestOrResponse::Request(_))
                && event.kind == leakguard_types::EventKind::Request
            {
                self.reply = crate::reply::ReplyContext::for_request(&self.shared, &event);
                // A reply to redact is asked for uncompressed (only those are rewritten).
                if let (Some(true), RequestOrResponse::Request(req)) =
                    (self.reply.as_ref().map(|c| c.redact), &mut result)
                {
                    req.headers_mut().insert(
                        hyper::header::ACCEPT_ENCODING,
                        hyper::header::HeaderValue::from_static("identity"),
                    );
                }
            }
            // Durable before the guard's own answer leaves; a request that goes on is made
            // durable while the upstream works on it (`Guard::forward`).
            if matches!(result, RequestOrResponse::Request(_)) {
                self.to_journal = Some(event);
            } else {
                self.shared.events.record_durable(event);
            }
        }
        self.restore =
            pending_restore
                .filter(|p| !p.is_empty())
                .map(|pairs| crate::restore::Pending {
                    pairs,
                    endpoint: text_of_reply,
                });
        result
    }

    /// A known endpoint read no text from its listed fields, but prose from others (`gap`):
    /// the site has probably changed its request shape. One `coverage` event an hour per host
    /// and endpoint tells IT (the text was scanned anyway, as unlisted fields).
    fn coverage_event(&self, request: &Event, gap: &[String]) {
        let key = format!("{} {}", request.host, request.endpoint);
        {
            let mut seen = self.shared.coverage_seen.lock().expect("coverage lock");
            let now = Instant::now();
            if seen
                .get(&key)
                .is_some_and(|t| now.duration_since(*t) < COVERAGE_EVERY)
            {
                return;
            }
            seen.insert(key, now);
        }
        let event = Event {
            id: new_id(),
            time: now_rfc3339(),
            kind: leakguard_types::EventKind::Coverage,
            host: request.host.clone(),
            method: request.method.clone(),
            path: request.path.clone(),
            endpoint: request.endpoint.clone(),
            provider: request.provider.clone(),
            client: request.client.clone(),
            group: request.group.clone(),
            policy: request.policy.clone(),
            verdict: leakguard_types::EventVerdict::Audit,
            outcome: leakguard_types::Outcome::Reported,
            decided_by: "coverage".into(),
            unlisted_fields: gap.to_vec(),
            reason: Some(format!(
                "none of the text fields the adapter lists for {} held text, but {} did: the \
                 site has probably changed its request shape; the text was scanned anyway \
                 (update policies/endpoints.json)",
                request.endpoint,
                gap.join(", ")
            )),
            ..Event::default()
        };
        self.shared.events.record(event);
    }

    /// The request's stages: destination (resolved once), kill switch, body, decode, inspect
    /// (scan + one verdict: content, tenant, API rules), admit (rate limits), act. Returns the
    /// answer and the event to record (`None` only for a request without a body, which is
    /// counted).
    async fn exchange(
        &mut self,
        req: Request<Body>,
        host: String,
        pending_restore: &mut Option<Vec<(String, String)>>,
    ) -> (RequestOrResponse, Option<Event>) {
        let shared = &self.shared;
        bump(&shared.counters.requests);
        let loaded = shared.policy.load_full();
        // 1. The destination, resolved once for the whole request.
        let dest = Destination::resolve(&loaded, &host, &shared.limits);
        let (mut parts, body) = req.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let header = |name| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let info = RequestInfo {
            method: parts.method.to_string(),
            content_type: header(CONTENT_TYPE),
            client: header(USER_AGENT),
            // Read (a header, a JWT) only where the group has tenant rules to check.
            tenant: if dest.tenant_rules {
                shared.tenant_of(&host, &path, &parts.headers)
            } else {
                TenantFacts::default()
            },
            host: host.clone(),
            path,
        };
        let mut event = Event {
            id: new_id(),
            time: now_rfc3339(),
            kind: leakguard_types::EventKind::Request,
            host: host.clone(),
            method: info.method.clone(),
            path: crate::events::path_template(&info.path),
            client: info.client.as_deref().map(crate::events::client_template),
            policy: Some(loaded.label.clone()),
            ..Event::default()
        };
        event.group = dest.group.clone();
        // 2. Nothing goes out unrecorded: while events cannot be kept, the policy decides.
        if let Some(why) = shared.events.failure() {
            if loaded.policy().events.on_store_failure == leakguard_policy::StoreFailure::Block {
                body::drain(body, shared.limits.max_body).await;
                bump(&shared.counters.fail_closed);
                event.verdict = leakguard_types::EventVerdict::Block;
                event.outcome = leakguard_types::Outcome::Refused;
                event.decided_by = "events.on_store_failure".into();
                event.reason = Some(why.clone());
                let msg = format!(
                    "Blocked by Leakguard: it cannot record events right now ({why}), and the policy \
                     pauses requests to AI services until it can. Free some disk space; if this \
                     persists, tell IT."
                );
                let refusal = leakguard_providers::refusal(
                    shared.catalog.error_shape_for_host(&host),
                    503,
                    "leakguard_store_failure",
                    &msg,
                );
                return (refusal_response(refusal, "refused").into(), Some(event));
            }
        }
        // 3. The kill switch: decided before the body is read.
        if dest.mode == Mode::BlockAll {
            if let Some(stop) = shared.switched_off(&loaded, &host) {
                body::drain(body, shared.limits.max_body).await;
                bump(&shared.counters.blocked);
                event.verdict = leakguard_types::EventVerdict::Block;
                event.outcome = leakguard_types::Outcome::Blocked;
                event.decided_by = stop.by.clone();
                let res = stop_response(&shared.catalog, &host, &stop, None);
                return (res.into(), Some(event));
            }
        }
        // 4. Ambiguity is refused, not guessed: where the guard and a server could read the
        //    request differently.
        let ambiguous = if parts.headers.get_all(CONTENT_ENCODING).iter().count() > 1 {
            Some("several Content-Encoding headers")
        } else if dest.tenant_rules
            && parts
                .headers
                .get_all(hyper::header::AUTHORIZATION)
                .iter()
                .count()
                > 1
        {
            Some("several Authorization headers")
        } else {
            None
        };
        if let Some(what) = ambiguous {
            body::drain(body, shared.limits.max_body).await;
            let why = leakguard_providers::ExtractError::Ambiguous(what).to_string();
            let res = self.refuse(&mut event, &host, 400, &why);
            return (res.into(), Some(event));
        }
        // 5. The body, bounded by the destination's cap.
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        // 5a. A file upload larger than the in-memory cap is spooled to disk and read from
        //     there (documents member by member), up to the policy's `documents` limit.
        if declared.is_some_and(|n: u64| n > dest.max_body as u64)
            && is_file_upload(shared, &info)
            && parts
                .headers
                .get(CONTENT_ENCODING)
                .is_none_or(|v| v.as_bytes().eq_ignore_ascii_case(b"identity"))
        {
            let declared = declared.unwrap_or(0);
            return self
                .spooled(loaded, &dest, parts, body, info, event, declared)
                .await;
        }
        // 5b. A file upload of undeclared size (chunked): in memory up to the cap, then on
        //     disk like 5a.
        let raw = if declared.is_none() && is_file_upload(shared, &info) {
            let limit = loaded.policy().documents.max_upload_bytes;
            match body::collect_or_spool(
                body,
                dest.max_body,
                limit,
                shared.limits.idle,
                &shared.memory,
                &spool_dir(shared),
            )
            .await
            {
                Ok(body::Collected::Memory(b, reservation)) => {
                    self.memory = reservation;
                    b
                }
                Ok(body::Collected::Spooled(spool)) => {
                    return self.inspect_spool(loaded, parts, info, event, spool).await;
                }
                Err(e) => return (self.refuse_unreadable(&mut event, &host, &e), Some(event)),
            }
        } else {
            let idle = Some(shared.limits.idle);
            let collected =
                body::collect_within(body, declared, dest.max_body, idle, Some(&shared.memory))
                    .await;
            match collected {
                Ok((b, reservation)) => {
                    // Held until the exchange is over (the guard is dropped after the reply).
                    self.memory = reservation;
                    b
                }
                Err(e) => return (self.refuse_unreadable(&mut event, &host, &e), Some(event)),
            }
        };
        if raw.is_empty() {
            // 5c. No body, but a prompt may be in the address (`chatgpt.com/?q=…`): the query
            //     is scanned, and recorded when it holds a finding or a prompt parameter.
            if let Some(query) = info.path.split_once('?').map(|(_, q)| q) {
                let meta = self.request_meta(&loaded).await;
                let x = crate::inspect::inspect_query(
                    &loaded,
                    &shared.catalog,
                    &info,
                    query,
                    &meta,
                    &mut event,
                );
                if let Some(x) = x {
                    let page = accepts_html(&parts.headers);
                    let result: RequestOrResponse =
                        match shared.act(&loaded, x, &host, &[], &mut event) {
                            Act::Forward => {
                                Request::from_parts(parts, Body::from(Full::new(raw))).into()
                            }
                            Act::Answer(_) if page => blocked_page(&event).into(),
                            Act::Answer(res) => res.into(),
                            Act::Rewrite(..) => unreachable!("a query is never rewritten"),
                        };
                    return (result, Some(event));
                }
            }
            bump(&shared.counters.bodyless);
            bump(&shared.counters.forwarded);
            return (
                Request::from_parts(parts, Body::from(Full::new(raw))).into(),
                None,
            );
        }
        // 6. Decode (Content-Encoding, bounded against bombs).
        let encoding = header(CONTENT_ENCODING);
        let decoded = match body::decode(&raw, encoding.as_deref(), &shared.limits) {
            Ok(d) => d,
            Err(e) if dest.fail_open => {
                let res = self.forward_unscanned(&mut event, parts, raw, e.to_string());
                return (res, Some(event));
            }
            Err(e) => return (self.refuse_unreadable(&mut event, &host, &e), Some(event)),
        };
        // 7. Inspect: scan and one verdict. Scanning is CPU work: keep it off the I/O thread
        // when the body is large, or may hold a document to unpack (only then are the inputs
        // copied for the blocking pool).
        let meta = self.request_meta(&loaded).await;
        // (A JSON body up to that size may carry a small base64 document: it is read on the
        // I/O thread like the rest of the JSON.)
        let may_hold_document = decoded.len() > 4 << 10
            && !info.content_type.as_deref().is_some_and(|t| {
                let t = t.to_ascii_lowercase();
                t.starts_with("text/") || t.contains("json")
            });
        let outcome = if decoded.len() > 256 << 10 || may_hold_document {
            let (loaded, catalog) = (Arc::clone(&loaded), Arc::clone(&shared.catalog));
            let (info, decoded) = (info.clone(), decoded.clone());
            let fallback =
                crate::inspect::fail_closed(&catalog, &info.host, 500, "the scanner failed");
            off_thread(&mut event, fallback, move |event| {
                inspect(&loaded, &catalog, &info, &decoded, &meta, event)
            })
            .await
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
                event.verdict = leakguard_types::EventVerdict::Block;
                event.outcome = leakguard_types::Outcome::Refused;
                event.reason = Some(reason);
                event.bytes = decoded.len();
                return (refusal_response(refusal, "refused").into(), Some(event));
            }
        };
        if let Some(gap) = &x.coverage_gap {
            self.coverage_event(&event, gap);
        }
        // 8. Admit (rate limits) and act.
        let result: RequestOrResponse = match shared.act(&loaded, x, &host, &decoded, &mut event) {
            Act::Forward => Request::from_parts(parts, Body::from(Full::new(raw))).into(),
            Act::Rewrite(new_body, restore) => {
                if dest.restore && !restore.is_empty() {
                    *pending_restore = Some(restore);
                }
                parts.headers.remove(CONTENT_ENCODING);
                parts
                    .headers
                    .insert(CONTENT_LENGTH, HeaderValue::from(new_body.len()));
                Request::from_parts(parts, Body::from(Full::new(Bytes::from(new_body)))).into()
            }
            Act::Answer(res) => res.into(),
        };
        (result, Some(event))
    }

    /// A file upload beyond the in-memory cap: above `documents.max_upload_bytes` the policy's
    /// `too_large` decides; otherwise it is spooled, inspected from disk off the I/O threads,
    /// and forwarded from the spool (never rewritten) or refused.
    #[allow(clippy::too_many_arguments)] // the request's parts, each named at the one call site
    async fn spooled(
        &mut self,
        loaded: Arc<Loaded>,
        dest: &Destination,
        parts: hyper::http::request::Parts,
        body: Body,
        info: RequestInfo,
        mut event: Event,
        declared: u64,
    ) -> (RequestOrResponse, Option<Event>) {
        let shared = Arc::clone(&self.shared);
        let docs = loaded.policy().documents.clone();
        let host = info.host.clone();
        event.bytes = usize::try_from(declared).unwrap_or(usize::MAX);
        if declared > docs.max_upload_bytes {
            let why = format!(
                "the upload is {declared} bytes, larger than the {}-byte limit for uploads Leakguard checks (documents.max_upload_bytes)",
                docs.max_upload_bytes
            );
            if docs.too_large == leakguard_policy::DocumentChoice::Audit || dest.fail_open {
                bump(&shared.counters.forwarded);
                event.verdict = leakguard_types::EventVerdict::Unscanned;
                event.outcome = leakguard_types::Outcome::Forwarded;
                event.decided_by = "documents.too_large = audit".into();
                event.reason = Some(why);
                return (Request::from_parts(parts, body).into(), Some(event));
            }
            let mut res = self.refuse(&mut event, &host, 413, &why);
            res.headers_mut()
                .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
            return (res.into(), Some(event));
        }
        let spool = match body::spool_within(
            body,
            docs.max_upload_bytes,
            shared.limits.idle,
            &shared.memory,
            &spool_dir(&shared),
        )
        .await
        {
            Ok(s) => s,
            Err(e) => return (self.refuse_unreadable(&mut event, &host, &e), Some(event)),
        };
        self.inspect_spool(loaded, parts, info, event, spool).await
    }

    /// Inspects a spooled upload from disk off the I/O threads, then forwards it from the
    /// spool (never rewritten) or refuses it.
    async fn inspect_spool(
        &mut self,
        loaded: Arc<Loaded>,
        parts: hyper::http::request::Parts,
        info: RequestInfo,
        mut event: Event,
        spool: body::Spool,
    ) -> (RequestOrResponse, Option<Event>) {
        let shared = Arc::clone(&self.shared);
        let host = info.host.clone();
        let spool = Arc::new(spool);
        let meta = self.request_meta(&loaded).await;
        let (l, catalog, sp) = (
            Arc::clone(&loaded),
            Arc::clone(&shared.catalog),
            Arc::clone(&spool),
        );
        let fallback =
            crate::inspect::fail_closed(&shared.catalog, &host, 500, "the scanner failed");
        let outcome = off_thread(&mut event, fallback, move |event| {
            crate::inspect::inspect_spooled(&l, &catalog, &info, &sp, &meta, event)
        })
        .await;
        let x = match outcome {
            Ok(x) => x,
            Err((refusal, reason)) => {
                bump(&shared.counters.fail_closed);
                event.verdict = leakguard_types::EventVerdict::Block;
                event.outcome = leakguard_types::Outcome::Refused;
                event.reason = Some(reason);
                return (refusal_response(refusal, "refused").into(), Some(event));
            }
        };
        event.bytes = usize::try_from(spool.len).unwrap_or(usize::MAX);
        let result: RequestOrResponse = match shared.act(&loaded, x, &host, &[], &mut event) {
            Act::Forward => match body::spool_body(&spool) {
                Ok(b) => Request::from_parts(parts, b).into(),
                Err(e) => self
                    .refuse(
                        &mut event,
                        &host,
                        500,
                        &format!("the spooled upload could not be read back: {e}"),
                    )
                    .into(),
            },
            // A spooled body holds no text that can be replaced in place.
            Act::Rewrite(..) => self
                .refuse(&mut event, &host, 403, "the upload cannot be redacted")
                .into(),
            Act::Answer(res) => res.into(),
        };
        (result, Some(event))
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
        event.verdict = leakguard_types::EventVerdict::Unscanned;
        event.outcome = leakguard_types::Outcome::Forwarded;
        event.decided_by = "fail_mode = allow".into();
        event.reason = Some(reason);
        event.bytes = raw.len();
        Request::from_parts(parts, Body::from(Full::new(raw))).into()
    }

    fn refuse_unreadable(&self, event: &mut Event, host: &str, e: &BodyError) -> RequestOrResponse {
        let status = match e {
            BodyError::TooLarge { .. } | BodyError::Bomb { .. } => 413,
            BodyError::UnsupportedEncoding(_) => 415,
            BodyError::Stalled(_) => 408,
            BodyError::Busy => 503,
            _ => 400,
        };
        let mut res = self.refuse(event, host, status, &e.to_string());
        // The rest of an oversized body is not read: close the connection after answering.
        res.headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
        res.into()
    }

    /// Fails closed: the provider-shaped refusal of a request that could not be inspected,
    /// counted, with its reason in the event.
    fn refuse(&self, event: &mut Event, host: &str, status: u16, reason: &str) -> Response<Body> {
        bump(&self.shared.counters.fail_closed);
        event.verdict = leakguard_types::EventVerdict::Block;
        event.outcome = leakguard_types::Outcome::Refused;
        event.reason = Some(reason.to_string());
        refusal_response(
            fail_closed(&self.shared.catalog, host, status, reason),
            "refused",
        )
    }
}

/// Where uploads are spooled: the data directory's `spool`, else the system's temporary one.
fn spool_dir(shared: &Shared) -> std::path::PathBuf {
    shared
        .spool_dir
        .get()
        .cloned()
        .unwrap_or_else(|| std::env::temp_dir().join("leakguard-spool"))
}

/// Runs an inspection on the blocking pool with its own copy of the event (filled in on
/// return); a panic there fails closed with `fallback`.
async fn off_thread(
    event: &mut Event,
    fallback: Refusal,
    run: impl FnOnce(&mut Event) -> Result<Inspection, (Refusal, String)> + Send + 'static,
) -> Result<Inspection, (Refusal, String)> {
    let mut own = event.clone();
    match tokio::task::spawn_blocking(move || {
        let r = run(&mut own);
        (r, own)
    })
    .await
    {
        Ok((r, filled)) => {
            *event = filled;
            r
        }
        Err(_) => Err((fallback, "the scanner panicked".into())),
    }
}

/// Whether a request is a file upload that may be read from disk: its endpoint takes a raw
/// or multipart body, or (no endpoint) it is multipart or not JSON or text.
fn is_file_upload(shared: &Shared, info: &RequestInfo) -> bool {
    let ct = info
        .content_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    match shared
        .catalog
        .classify(&info.host, &info.method, &info.path)
    {
        Some(e) => matches!(
            e.body,
            leakguard_providers::BodyKind::Raw | leakguard_providers::BodyKind::Multipart
        ),
        None => ct.starts_with("multipart/") || !(ct.contains("json") || ct.starts_with("text/")),
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
    /// The group has tenant rules (only then are the request's tenant facts read).
    pub tenant_rules: bool,
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
            tenant_rules: group.is_some_and(|g| !g.tenant.is_empty()),
        }
    }
}

/// What happens to one client-to-server WebSocket text frame.
#[derive(Debug, PartialEq, Eq)]
pub enum WsOutcome {
    Pass,
    /// Redacted text in place of the frame.
    Replace(String),
    /// A frame cannot be answered with an error: a blocked or warned one is dropped (a warned
    /// one passes when it is sent again after the user allowed it once).
    Drop,
}

impl Shared {
    /// One WebSocket text frame to an intercepted host: the same inspect (scan cache, one
    /// verdict with the connection's tenant facts), admit and act as a request body, and one
    /// event (kind `websocket`).
    pub fn websocket_text(
        &self,
        host: &str,
        path: &str,
        tenant: &TenantFacts,
        text: &str,
    ) -> WsOutcome {
        self.websocket_frame(host, path, tenant, text, true)
    }

    /// A client-to-server binary frame: UTF-8 is read as text (a redaction is sent as the
    /// same binary frame rewritten); other bytes are scanned as text where they hold it, and
    /// a frame that would need rewriting is dropped (its event says blocked): the guard does
    /// not know the protocol to rewrite it in.
    pub fn websocket_binary(
        &self,
        host: &str,
        path: &str,
        tenant: &TenantFacts,
        data: &[u8],
    ) -> WsOutcome {
        match std::str::from_utf8(data) {
            Ok(text) => self.websocket_frame(host, path, tenant, text, true),
            Err(_) => {
                let text = String::from_utf8_lossy(data);
                self.websocket_frame(host, path, tenant, &text, false)
            }
        }
    }

    fn websocket_frame(
        &self,
        host: &str,
        path: &str,
        tenant: &TenantFacts,
        text: &str,
        rewritable: bool,
    ) -> WsOutcome {
        let started = Instant::now();
        bump(&self.counters.requests);
        let loaded = self.policy.load_full();
        let info = RequestInfo {
            host: host.to_string(),
            method: "WEBSOCKET".into(),
            path: path.to_string(),
            content_type: None,
            client: None,
            tenant: tenant.clone(),
        };
        let mut event = Event {
            id: new_id(),
            time: now_rfc3339(),
            kind: leakguard_types::EventKind::Websocket,
            host: host.to_string(),
            path: crate::events::path_template(path),
            policy: Some(loaded.label.clone()),
            ..Event::default()
        };
        let shape = self.catalog.error_shape_for_host(host);
        let frame = Extracted::text_frame(text);
        let x = judge(
            &loaded,
            shape,
            &info,
            &frame,
            text.as_bytes(),
            &self.meta(),
            &mut event,
            true,
        );
        let out = match self.act(&loaded, x, host, text.as_bytes(), &mut event) {
            Act::Forward => WsOutcome::Pass,
            Act::Rewrite(body, _) => match String::from_utf8(body) {
                Ok(t) if rewritable => WsOutcome::Replace(t),
                _ => {
                    event.outcome = leakguard_types::Outcome::Blocked;
                    WsOutcome::Drop
                }
            },
            Act::Answer(_) => WsOutcome::Drop,
        };
        event.latency_us = started.elapsed().as_micros() as u64;
        self.events.record(event);
        out
    }
}

/// How often a `coverage` event is recorded for one host and endpoint.
const COVERAGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::tests::{shared_in, shared_with};

    #[test]
    fn websocket_frames_are_scanned_redacted_or_dropped_and_recorded() {
        let dir = leakguard_testkit::ScratchDir::new("lg-ws");
        let shared = shared_in(&dir);
        assert_eq!(
            shared.websocket_text("chatgpt.com", "/ws", &TenantFacts::default(), "hello there"),
            WsOutcome::Pass
        );
        assert_eq!(
            shared.websocket_text(
                "chatgpt.com",
                "/ws",
                &TenantFacts::default(),
                "key AKIAQYLPMN5HJNGY4F7A"
            ),
            WsOutcome::Drop
        );
        match shared.websocket_text(
            "chatgpt.com",
            "/ws",
            &TenantFacts::default(),
            "card 4111 1111 1111 1111 ok",
        ) {
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
            shared.websocket_text("chatgpt.com", "/ws", &TenantFacts::default(), &long),
            WsOutcome::Drop
        );
        assert_eq!(
            shared.websocket_text("chatgpt.com", "/ws", &TenantFacts::default(), &long),
            WsOutcome::Drop
        );
        assert_eq!(cache(), (before.0 + 1, before.1 + 1), "one scan, one hit");
    }

    const CODE: &str = "int main(void) {\n  int x = read_sensor(3);\n  if (x > 10) {\n    alarm(x);\n  }\n  return 0;\n}";

    fn outcomes(dir: &std::path::Path) -> Vec<(String, String)> {
        std::fs::read_to_string(dir.join("events.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["outcome"].as_str().unwrap_or("").to_string(),
                    v["decided_by"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn json_frames_are_read_as_json_and_redacted_in_place() {
        let dir = leakguard_testkit::ScratchDir::new("lg-ws-json");
        let shared = shared_in(&dir);
        let ws = |text: &str| {
            shared.websocket_text(
                "substrate.office.com",
                "/m365Copilot/Chathub/x",
                &TenantFacts::default(),
                text,
            )
        };
        // A SignalR invocation, as Microsoft 365 Copilot's chat hub sends it (ended by 0x1E).
        let frame =
            serde_json::json!({"arguments": [{"message": {"text": "card 4111 1111 1111 1111 ok",
            "author": "user"}}], "invocationId": "0", "target": "chat", "type": 4})
            .to_string()
                + "\u{1e}";
        match ws(&frame) {
            WsOutcome::Replace(t) => {
                let record = t
                    .strip_suffix('\u{1e}')
                    .expect("the record separator is kept");
                let v: serde_json::Value = serde_json::from_str(record).expect("still JSON");
                assert_eq!(
                    v["arguments"][0]["message"]["text"],
                    "card [REDACTED:credit-card-number#1] ok"
                );
                assert_eq!(v["target"], "chat");
            }
            other => panic!("expected a redaction, got {other:?}"),
        }
        // Pasted code arrives with its newlines escaped inside the frame's JSON: read as JSON,
        // it is code again.
        let code = crate::inspect::tests::sample_code();
        let frame = serde_json::json!({"arguments": [{"message": {"text": code}}], "type": 4})
            .to_string()
            + "\u{1e}";
        assert_eq!(
            ws(&frame),
            WsOutcome::Drop,
            "source code warns: the frame is held"
        );
        let log = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
        assert!(log.contains("source-code"), "{log}");
        assert!(!log.contains("4111 1111"));
    }

    #[test]
    fn a_warned_frame_is_held_until_the_user_allows_it_once() {
        let dir = leakguard_testkit::ScratchDir::new("lg-ws-warn");
        let shared = shared_in(&dir);
        let none = TenantFacts::default();
        assert_eq!(
            shared.websocket_text("chatgpt.com", "/ws", &none, CODE),
            WsOutcome::Drop
        );
        let log = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
        let warned: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
        assert_eq!(warned["outcome"], "warned");
        let code = warned["override_code"].as_str().unwrap().to_string();
        shared.allow_once(&code, "reviewed with my lead").unwrap();
        // The same frame again: sent once, recorded as overridden; then held again.
        assert_eq!(
            shared.websocket_text("chatgpt.com", "/ws", &none, CODE),
            WsOutcome::Pass
        );
        assert_eq!(
            shared.websocket_text("chatgpt.com", "/ws", &none, CODE),
            WsOutcome::Drop
        );
        let got: Vec<String> = outcomes(&dir).into_iter().map(|(o, _)| o).collect();
        assert_eq!(got, ["warned", "overridden", "overridden", "warned"]);
    }

    #[test]
    fn frames_get_the_tenant_and_api_rules_of_their_connection() {
        let dir = leakguard_testkit::ScratchDir::new("lg-ws-tenant");
        let mut policy: serde_json::Value =
            serde_json::from_str(include_str!("../../../policies/default.json")).unwrap();
        let groups = policy["destinations"].as_array_mut().unwrap();
        let chat = groups
            .iter_mut()
            .find(|g| {
                g["hosts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|h| h == "chatgpt.com")
            })
            .unwrap();
        chat["tenant"] = serde_json::json!({"chatgpt_account_domains": ["acme.com"]});
        let group = chat["name"].as_str().unwrap().to_string();
        policy["api"] = serde_json::json!({ group.clone(): {"requests_per_minute": 2} });
        let shared = shared_with(&dir, &policy.to_string());
        let jwt = |email: &str| {
            use base64::Engine as _;
            let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let claims = serde_json::json!({"https://api.openai.com/profile": {"email": email}});
            format!(
                "Bearer {}.{}.x",
                b.encode("{}"),
                b.encode(claims.to_string())
            )
        };
        let upgrade = |email: &str| {
            let mut h = hyper::HeaderMap::new();
            h.insert("authorization", jwt(email).parse().unwrap());
            shared.tenant_of("chatgpt.com", "/backend-api/ws", &h)
        };
        let personal = upgrade("jane@gmail.com");
        assert_eq!(
            shared.websocket_text("chatgpt.com", "/ws", &personal, "hello"),
            WsOutcome::Drop
        );
        let company = upgrade("jane@acme.com");
        for _ in 0..2 {
            assert_eq!(
                shared.websocket_text("chatgpt.com", "/ws", &company, "hello"),
                WsOutcome::Pass
            );
        }
        // The third frame in the minute is over the group's rate.
        assert_eq!(
            shared.websocket_text("chatgpt.com", "/ws", &company, "hello"),
            WsOutcome::Drop
        );
        let got = outcomes(&dir);
        assert_eq!(
            got[0],
            (
                "blocked".to_string(),
                format!("destinations.{group}.tenant.chatgpt_account_domains")
            )
        );
        assert_eq!(got[1].0, "forwarded");
        assert_eq!(
            got[3],
            (
                "blocked".to_string(),
                format!("api.{group}.requests_per_minute")
            )
        );
    }

    #[test]
    fn every_tenant_fact_of_the_catalog_is_checked_by_a_policy_list() {
        let catalog = Catalog::builtin();
        assert!(!catalog.tenants().is_empty());
        for t in catalog.tenants() {
            assert!(
                leakguard_policy::Tenant::LISTS.contains(&t.list.as_str()),
                "endpoints.json tenants: `{}` is not a tenant list of the policy",
                t.list
            );
        }
    }
}
