//! Reading replies: what an intercepted service answers is read as it streams, never held
//! back. The endpoint's `reply` (policies/endpoints.json) says where the answer text is in a
//! JSON reply or in each SSE event (or AWS event-stream message), so text streamed as many
//! small deltas is scanned joined up; it is scanned in windows with a carry, so a secret cut
//! between two windows is still whole in one. At the end one `reply` event records what was found (secrets, personal data,
//! internal names, the policy's prompt-leak markers; masked), the token counts and the model
//! the provider reported. Replies are audited here; where the policy says `redact` they are
//! also rewritten on their way to the user (`reply_redact.rs`).

use crate::events::Event;
use crate::inspect::Loaded;
use crate::state::Shared;
use bytes::Bytes;
use hudsucker::Body;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use leakguard_providers::Usage;
use leakguard_types::{Action, Category, Finding, Severity};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Text is scanned once this much of it waits…
const WINDOW: usize = 8 << 10;
/// … and this much of each window's end is scanned again with the next (a finding that
/// starts in it may not have arrived whole).
const CARRY: usize = 512;
/// Replies kept for reading at the end (a JSON reply, or any compressed reply) up to this
/// size; a larger one is passed on and recorded as read only in part.
const MAX_KEPT: usize = 8 << 20;

/// How a reply with `content_type` to an endpoint whose replies `spec` describes is framed:
/// `None` for what is neither JSON nor a stream the guard knows (it goes as it is).
pub(crate) fn kind_of(
    content_type: Option<&str>,
    spec: Option<&leakguard_providers::ReplySpec>,
) -> Option<Kind> {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    Some(if ct.contains("vnd.amazon.eventstream") {
        Kind::EventStream
    } else if ct.contains("json") {
        Kind::Json
    } else if spec.is_some_and(|s| s.lines()) {
        Kind::Lines
    } else if ct.contains("event-stream") {
        Kind::Sse
    } else {
        return None;
    })
}

/// What a forwarded request leaves for reading its reply.
#[derive(Debug)]
pub(crate) struct ReplyContext {
    pub shared: Arc<Shared>,
    pub loaded: Arc<Loaded>,
    /// The request's event (its id, host, path, endpoint, group, model).
    pub request: Event,
    /// The request's endpoint in the catalog (none for WebSocket frames: each frame's
    /// strings are read).
    endpoint: Option<usize>,
    /// The policy redacts this destination's replies (`reply_action` of its group, else
    /// `responses.action`).
    pub redact: bool,
    /// The reply's text is being redacted on its way to the user: what is recorded was also
    /// replaced.
    pub redacting: bool,
}

impl ReplyContext {
    /// The context for reading the reply to the request `event` records, when its replies are
    /// read: only the request's identifying fields are kept.
    pub fn for_request(shared: &Arc<Shared>, event: &Event) -> Option<ReplyContext> {
        let loaded = shared.policy.load_full();
        if !loaded.policy().responses.scan {
            return None;
        }
        let endpoint = shared
            .catalog
            .index_of(&event.endpoint)
            .filter(|&i| !shared.catalog.endpoints()[i].reply().is_empty())?;
        let redact = redacts(&loaded, event.group.as_deref());
        Some(ReplyContext {
            endpoint: Some(endpoint),
            redact,
            redacting: false,
            shared: Arc::clone(shared),
            loaded,
            request: Event {
                id: event.id.clone(),
                host: event.host.clone(),
                method: event.method.clone(),
                path: event.path.clone(),
                endpoint: event.endpoint.clone(),
                provider: event.provider.clone(),
                model: event.model.clone(),
                client: event.client.clone(),
                group: event.group.clone(),
                policy: event.policy.clone(),
                est_tokens: event.est_tokens,
                ..Event::default()
            },
        })
    }

    /// How a reply with `content_type` is read (and redacted): `None` for what is neither JSON
    /// nor a stream the guard knows (it goes as it is).
    pub fn kind(&self, content_type: Option<&str>) -> Option<Kind> {
        kind_of(content_type, self.spec())
    }

    /// Wraps a reply body of `kind` ([`ReplyContext::kind`]) in a reader.
    pub fn read(self, kind: Kind, encoding: Option<&str>, body: Body) -> Body {
        let encoding = encoding
            .filter(|e| !e.eq_ignore_ascii_case("identity"))
            .map(str::to_string);
        Body::from(http_body_util::combinators::BoxBody::new(Reading {
            inner: body,
            state: Some(State {
                ctx: self,
                kind,
                encoding,
                kept: Vec::new(),
                truncated: false,
                lines: crate::sse::Lines::default(),
                frames: crate::eventstream::Frames::default(),
                text: String::new(),
                findings: Vec::new(),
                usage: Usage::default(),
                reply_bytes: 0,
            }),
        }))
    }
}

/// Whether the policy redacts the replies of destination group `group` (its `reply_action`,
/// else `responses.action`).
fn redacts(loaded: &Loaded, group: Option<&str>) -> bool {
    let policy = loaded.policy();
    group
        .and_then(|g| policy.destinations.iter().find(|d| d.name == g))
        .and_then(|d| d.reply_action)
        .unwrap_or(policy.responses.action)
        == leakguard_policy::ReplyAction::Redact
}

/// How a reply is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Sse,
    Json,
    /// AWS event-stream framing (Bedrock's `converse-stream`, `invoke-with-response-stream`).
    EventStream,
    /// Numbered lines (`0:"text"`, `15:{...}`: Le Chat), whatever the content type says.
    Lines,
}

struct State {
    ctx: ReplyContext,
    kind: Kind,
    /// A compressed reply is kept and read at the end.
    encoding: Option<String>,
    kept: Vec<u8>,
    truncated: bool,
    /// The SSE stream's lines.
    lines: crate::sse::Lines,
    /// The event stream's messages.
    frames: crate::eventstream::Frames,
    /// Answer text not yet scanned (with the carry of the last window).
    text: String,
    findings: Vec<Finding>,
    usage: Usage,
    reply_bytes: usize,
}

impl State {
    fn feed(&mut self, data: &[u8]) {
        self.reply_bytes += data.len();
        if self.kind == Kind::Json || self.encoding.is_some() {
            if self.kept.len() + data.len() <= MAX_KEPT {
                self.kept.extend_from_slice(data);
            } else {
                self.truncated = true;
            }
            return;
        }
        match self.kind {
            Kind::EventStream => self.event_stream(data),
            _ => self.lines(data),
        }
        self.scan(false);
    }

    /// Event-stream messages as they complete: each event's JSON payload is read, and a
    /// `chunk`'s `bytes` (InvokeModel's stream: the model's own event, base64) decoded first.
    fn event_stream(&mut self, data: &[u8]) {
        let mut frames = std::mem::take(&mut self.frames);
        let mut docs = Vec::new();
        let framed = frames.feed(data, |m| {
            if m.message_type.is_some_and(|t| t != "event") {
                return;
            }
            let Ok(doc) = serde_json::from_slice::<serde_json::Value>(m.payload) else {
                return;
            };
            docs.push(crate::eventstream::chunk_event(m.event_type, &doc).unwrap_or(doc));
        });
        if !framed {
            self.truncated = true;
        }
        self.frames = frames;
        for doc in docs {
            self.read_doc(&doc);
        }
    }

    /// Lines as they complete (an SSE stream's, or numbered lines), each read by [`State::line`].
    fn lines(&mut self, data: &[u8]) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(data, |line| self.line(line));
        if lines.pending() > MAX_KEPT {
            self.truncated = true;
            lines.take_rest();
        }
        self.lines = lines;
    }

    /// One line: an SSE `data:` line's JSON, or a numbered line `N:json` as `{"N": json}`.
    fn line(&mut self, line: &[u8]) {
        if self.kind == Kind::Lines {
            if let Some((n, json)) = crate::sse::numbered(line) {
                self.read_json(&crate::sse::numbered_object(n, json));
            }
        } else if let Some(json) = crate::sse::data_payload(line) {
            self.read_json(json);
        }
    }

    /// One JSON reply or event's data, parsed only as far as the endpoint's reply fields reach.
    fn read_json(&mut self, json: &[u8]) {
        let endpoints = self.ctx.shared.catalog.endpoints();
        if let Some(e) = self.ctx.endpoint.and_then(|i| endpoints.get(i)) {
            e.reply().read_bytes(json, &mut self.text, &mut self.usage);
        }
    }

    fn read_doc(&mut self, doc: &serde_json::Value) {
        let endpoints = self.ctx.shared.catalog.endpoints();
        if let Some(e) = self.ctx.endpoint.and_then(|i| endpoints.get(i)) {
            e.reply().read(doc, &mut self.text, &mut self.usage);
        }
    }

    /// Scans the waiting text once a window is full (or at the end): findings that start
    /// before the carry are kept, the rest is scanned again with what follows.
    fn scan(&mut self, last: bool) {
        if self.text.is_empty() || (!last && self.text.len() < WINDOW) {
            return;
        }
        let mut cut = if last {
            self.text.len()
        } else {
            self.text.len() - CARRY
        };
        while !self.text.is_char_boundary(cut) {
            cut -= 1;
        }
        for f in found_in(&self.ctx.loaded, &self.text) {
            if f.start < cut {
                self.findings.push(f);
            }
        }
        self.text.drain(..cut);
    }

    /// The reply is over (or the client went away): read what was kept, scan the rest and
    /// record the `reply` event when there is something to record.
    fn finish(mut self) {
        if !self.kept.is_empty() && self.encoding.is_none() {
            // A JSON reply as it came: read where it was kept.
            let kept = std::mem::take(&mut self.kept);
            self.read_json(&kept);
        } else if !self.kept.is_empty() {
            let raw = Bytes::from(std::mem::take(&mut self.kept));
            let limits = &self.ctx.shared.limits;
            if let Ok(plain) = crate::body::decode(&raw, self.encoding.as_deref(), limits) {
                match self.kind {
                    Kind::Json => self.read_json(&plain),
                    Kind::Sse | Kind::Lines => {
                        self.encoding = None;
                        self.lines(&plain);
                    }
                    Kind::EventStream => {
                        self.encoding = None;
                        self.event_stream(&plain);
                    }
                }
            }
        }
        let rest = self.lines.take_rest();
        self.line(&rest);
        self.scan(true);
        let State {
            mut ctx,
            findings,
            usage,
            truncated,
            reply_bytes,
            ..
        } = self;
        let req = &ctx.request;
        let kept = ctx.acted_on(findings);
        // Budgets count what the provider counted: the reply's tokens beyond the request's
        // estimate are added to its group's minute.
        if let (Some(i), Some(o)) = (usage.input_tokens, usage.output_tokens) {
            let extra = (i + o).saturating_sub(req.est_tokens as u64);
            ctx.shared
                .add_reported_tokens(&ctx.loaded, req.group.as_deref(), extra);
        }
        let served = usage
            .model
            .clone()
            .filter(|m| !same_model(req.model.as_deref(), m));
        if kept.is_empty() && usage.is_empty() {
            return;
        }
        let mut req = std::mem::take(&mut ctx.request);
        if kept.is_empty() && !truncated {
            // Nothing to report but the counts: they go onto the request's event (a sink
            // that keeps only events gets the `reply` event instead).
            let answer = leakguard_types::Answer {
                reply_to: std::mem::take(&mut req.id),
                time_ms: crate::events::now_ms(),
                host: std::mem::take(&mut req.host),
                client: req.client.take(),
                method: std::mem::take(&mut req.method),
                path: std::mem::take(&mut req.path),
                endpoint: std::mem::take(&mut req.endpoint),
                provider: req.provider.take(),
                model: req.model.take(),
                group: req.group.take(),
                input_tokens: usage.input_tokens,
                output_tokens: usage.output_tokens,
                cached_tokens: usage.cached_tokens,
                served_model: served,
            };
            let mut req = Some(req);
            ctx.shared.events.record_answer(answer, &mut |a| {
                let mut req = req.take().unwrap_or_default();
                let served = a.served_model.clone();
                (req.id, req.host, req.client) = (a.reply_to, a.host, a.client);
                (req.method, req.path, req.endpoint) = (a.method, a.path, a.endpoint);
                (req.provider, req.model, req.group) = (a.provider, a.model, a.group);
                ctx.event(req, &[], &usage, served, reply_bytes, false)
            });
            return;
        }
        let event = ctx.event(req, &kept, &usage, served, reply_bytes, truncated);
        ctx.shared.events.record(event);
    }
}

/// Whether the model that answered is the one asked for: the same name, or a dated or
/// versioned snapshot of the alias asked for (`gpt-4o` answered by `gpt-4o-2024-08-06`,
/// `claude-sonnet-4-5` by `claude-sonnet-4-5-20250929`), which is how providers name what
/// serves an alias and not a swap worth an event.
fn same_model(asked: Option<&str>, served: &str) -> bool {
    let Some(asked) = asked else {
        return false;
    };
    let asked = asked.rsplit('/').next().unwrap_or(asked);
    let served_name = served.rsplit('/').next().unwrap_or(served);
    served_name == asked
        || served_name
            .strip_prefix(asked)
            .and_then(|rest| rest.strip_prefix(['-', '@', ':']))
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// What a reply's text holds: the engine's findings (not source code: answers are full of
/// it) and the policy's prompt-leak markers.
fn found_in(loaded: &Loaded, text: &str) -> Vec<Finding> {
    let mut out: Vec<Finding> = loaded
        .engine
        .scan(text)
        .into_iter()
        .filter(|f| f.category != Category::SourceCode)
        .collect();
    let markers = &loaded.policy().responses.markers;
    if !markers.is_empty() {
        let lower = text.to_lowercase();
        for m in markers {
            let m_lower = m.to_lowercase();
            if let Some(at) = lower.find(&m_lower) {
                out.push(Finding {
                    rule: "prompt-leak-marker".into(),
                    category: Category::Custom,
                    severity: Severity::High,
                    start: at,
                    end: at + m_lower.len(),
                    confidence: 1.0,
                    preview: m.chars().take(40).collect(),
                    detail: Default::default(),
                });
            }
        }
    }
    out
}

/// The findings the policy would act on for a reply from `host` (an allowed rule, such as a
/// public IP, is not news).
fn acted_on(
    shared: &Shared,
    loaded: &Loaded,
    host: &str,
    model: Option<&str>,
    findings: Vec<Finding>,
) -> Vec<Finding> {
    if findings.is_empty() {
        return findings;
    }
    let verdict = loaded.effective.decide_request(
        &findings,
        &leakguard_policy::RequestFacts {
            host: Some(host),
            model,
            max_tokens: None,
            tenant: None,
        },
        &shared.meta(),
    );
    findings
        .into_iter()
        .zip(&verdict.findings)
        .filter(|(_, d)| d.action != Action::Allow)
        .map(|(f, _)| f)
        .collect()
}

/// Replaces what the policy acts on in a reply's text (`reply_action: redact`).
pub(crate) struct Redactor {
    shared: Arc<Shared>,
    loaded: Arc<Loaded>,
    host: String,
    model: Option<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// `text[..upto]` with every finding the policy acts on replaced by `[REDACTED:rule]`,
    /// and where that safe part really ends: before `upto` when a finding starts before it
    /// and ends after (it waits for the rest of its text).
    pub fn redact(&self, text: &str, upto: usize) -> (String, usize) {
        let (out, cut, _) = self.redact_noting(text, upto);
        (out, cut)
    }

    /// The same, with the findings replaced.
    fn redact_noting(&self, text: &str, upto: usize) -> (String, usize, Vec<Finding>) {
        let mut findings = acted_on(
            &self.shared,
            &self.loaded,
            &self.host,
            self.model.as_deref(),
            found_in(&self.loaded, text),
        );
        findings.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
        let mut cut = upto.min(text.len());
        while let Some(f) = findings.iter().find(|f| f.start < cut && f.end > cut) {
            cut = f.start;
        }
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut out = String::with_capacity(cut);
        let mut at = 0;
        let mut replaced = Vec::new();
        for f in findings.into_iter().filter(|f| f.end <= cut) {
            if f.start < at || !text.is_char_boundary(f.start) || !text.is_char_boundary(f.end) {
                continue;
            }
            out.push_str(&text[at..f.start]);
            out.push_str("[REDACTED:");
            out.push_str(&f.rule);
            out.push(']');
            at = f.end;
            replaced.push(f);
        }
        out.push_str(&text[at..cut]);
        (out, cut, replaced)
    }
}

impl ReplyContext {
    /// What redacts this reply's text, and where the endpoint's reply text is (none when the
    /// catalog does not say: nothing can be rewritten by field).
    pub fn redactor(&self) -> Option<(Redactor, leakguard_providers::ReplySpec)> {
        let spec = self.spec().filter(|s| s.has_text())?.clone();
        Some((self.text_redactor(), spec))
    }

    /// Where the endpoint's replies hold their parts (none for WebSocket frames).
    pub fn spec(&self) -> Option<&leakguard_providers::ReplySpec> {
        self.endpoint
            .and_then(|i| self.shared.catalog.endpoints().get(i))
            .map(|e| e.reply())
    }

    /// What replaces the findings the policy acts on in this reply's text.
    fn text_redactor(&self) -> Redactor {
        Redactor {
            shared: Arc::clone(&self.shared),
            loaded: Arc::clone(&self.loaded),
            host: self.request.host.clone(),
            model: self.request.model.clone(),
        }
    }

    /// The findings the policy would act on.
    fn acted_on(&self, findings: Vec<Finding>) -> Vec<Finding> {
        let req = &self.request;
        acted_on(
            &self.shared,
            &self.loaded,
            &req.host,
            req.model.as_deref(),
            findings,
        )
    }

    /// One `reply` event: what was found (masked), the token counts, the model served when it
    /// is not the one asked for. `req` is the request's event (as kept for this).
    fn event(
        &self,
        req: Event,
        kept: &[Finding],
        usage: &Usage,
        served: Option<String>,
        reply_bytes: usize,
        truncated: bool,
    ) -> Event {
        let ctx = self;
        let reason = served
            .as_ref()
            .map(|m| {
                format!(
                    "served by {m}, not the {} the request named",
                    req.model.as_deref().unwrap_or("model")
                )
            })
            .or_else(|| truncated.then(|| "the reply was read only in part (too large)".into()));
        // Replies are audited (every rule's action is `audit`), or redacted.
        let action = if self.redacting {
            Action::Redact
        } else {
            Action::Audit
        };
        let rules = crate::events::count_rules(kept.iter().map(|f| (f, action)));
        Event {
            id: crate::events::new_id(),
            time: crate::events::now_rfc3339(),
            kind: leakguard_types::EventKind::Reply,
            host: req.host,
            method: req.method,
            path: req.path,
            endpoint: req.endpoint,
            provider: req.provider,
            model: req.model,
            client: req.client,
            group: req.group,
            policy: req.policy,
            verdict: match (kept.is_empty(), self.redacting) {
                (true, _) => leakguard_types::EventVerdict::Allow,
                (false, false) => leakguard_types::EventVerdict::Audit,
                (false, true) => leakguard_types::EventVerdict::Redact,
            },
            outcome: if self.redacting && !kept.is_empty() {
                leakguard_types::Outcome::Redacted
            } else {
                leakguard_types::Outcome::Forwarded
            },
            decided_by: if kept.is_empty() {
                String::new()
            } else {
                "responses.action".into()
            },
            previews: crate::events::previews(kept, ctx.loaded.policy().events.previews),
            rules,
            bytes: reply_bytes,
            reply_to: (!req.id.is_empty()).then_some(req.id),
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cached_tokens: usage.cached_tokens,
            reason,
            served_model: served,
            ..Event::default()
        }
    }
}

/// Server-to-client WebSocket frames of one connection, read as they pass: each frame's text
/// (the strings of a JSON frame, SignalR's records too; a binary frame as text where it is
/// text) is scanned with the end of the frames before it, so a secret cut between frames is
/// still whole; a value reported once on the connection is not reported again (services
/// that resend the whole answer so far in every update). Frames go on untouched, unless the
/// policy redacts this destination's replies: then each frame's strings (a JSON frame's,
/// SignalR's records', a text frame's whole text) have what the policy acts on replaced before
/// the frame goes on. A frame is a message of its own to the page, so nothing is held back
/// across frames: a value cut between two frames is reported, and only a frame that holds it
/// whole (as services that resend the answer so far do) has it replaced.
pub(crate) struct FrameReader {
    ctx: ReplyContext,
    redactor: Option<Redactor>,
    carry: String,
    reported: std::collections::HashSet<(String, String)>,
    /// Values replaced in a frame, reported once each as redacted.
    reported_redacted: std::collections::HashSet<(String, String)>,
}

impl FrameReader {
    /// A reader for the frames a WebSocket to `host` sends back, when the policy reads
    /// replies.
    pub fn for_websocket(shared: &Arc<Shared>, host: &str, path: &str) -> Option<FrameReader> {
        let loaded = shared.policy.load_full();
        if !loaded.policy().responses.scan {
            return None;
        }
        let request = Event {
            host: host.to_string(),
            method: "WEBSOCKET".into(),
            path: crate::events::path_template(path),
            endpoint: "websocket".into(),
            group: loaded.policy().group_of(host).map(|g| g.name.clone()),
            policy: Some(loaded.label.clone()),
            ..Event::default()
        };
        let ctx = ReplyContext {
            shared: Arc::clone(shared),
            redact: redacts(&loaded, request.group.as_deref()),
            loaded,
            request,
            endpoint: None,
            redacting: false,
        };
        Some(FrameReader {
            redactor: ctx.redact.then(|| ctx.text_redactor()),
            ctx,
            carry: String::new(),
            reported: Default::default(),
            reported_redacted: Default::default(),
        })
    }

    /// One frame from the server; `Some`: the frame to send instead (redacted).
    pub fn frame(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        let text = String::from_utf8_lossy(data);
        let frame = leakguard_providers::Extracted::text_frame(&text);
        // Redacted string by string, where the frame is text (a binary frame that is not
        // UTF-8 has no place to put a replacement).
        let utf8 = matches!(text, std::borrow::Cow::Borrowed(_));
        let mut redacted = Vec::new();
        let replaced = match (&self.redactor, utf8) {
            (Some(r), true) => {
                let mut replacements = Vec::new();
                for (i, seg) in frame.segments.iter().enumerate() {
                    let (out, _, found) = r.redact_noting(&seg.text, seg.text.len());
                    if !found.is_empty() {
                        for f in found {
                            let value = seg.text[f.start..f.end].to_string();
                            if self.reported_redacted.insert((f.rule.clone(), value)) {
                                redacted.push(f);
                            }
                        }
                        replacements.push((i, out));
                    }
                }
                if replacements.is_empty() {
                    None
                } else {
                    leakguard_providers::rewrite(&frame, data, &replacements).ok()
                }
            }
            _ => None,
        };
        if replaced.is_some() && !redacted.is_empty() {
            // What this frame had replaced, the first time each value was.
            self.ctx.redacting = true;
            let req = self.ctx.request.clone();
            let event = self
                .ctx
                .event(req, &redacted, &Usage::default(), None, data.len(), false);
            self.ctx.shared.events.record(event);
            self.ctx.redacting = false;
        }
        let mut hay = std::mem::take(&mut self.carry);
        // A frame's strings apart, consecutive frames joined as they are (deltas of one text).
        for (i, seg) in frame.segments.iter().enumerate() {
            if i > 0 {
                hay.push('\n');
            }
            hay.push_str(&seg.text);
        }
        if self.reported.len() + self.reported_redacted.len() > 4096 {
            // A connection open for days: forget what was reported long ago.
            self.reported.clear();
            self.reported_redacted.clear();
        }
        // Reported as read (audited) when the frame went on as it came.
        let found = if replaced.is_some() {
            Vec::new()
        } else {
            found_in(&self.ctx.loaded, &hay)
        };
        let new: Vec<Finding> = found
            .into_iter()
            .filter(|f| {
                let value = hay.get(f.start..f.end).unwrap_or_default().to_string();
                self.reported.insert((f.rule.clone(), value))
            })
            .collect();
        let kept = self.ctx.acted_on(new);
        if !kept.is_empty() {
            let req = self.ctx.request.clone();
            let event = self
                .ctx
                .event(req, &kept, &Usage::default(), None, data.len(), false);
            self.ctx.shared.events.record(event);
        }
        let mut cut = hay.len().saturating_sub(CARRY);
        while !hay.is_char_boundary(cut) {
            cut += 1;
        }
        self.carry = hay.split_off(cut);
        replaced
    }
}

/// A reply body read on its way to the client; every chunk goes on as it came.
struct Reading {
    inner: Body,
    state: Option<State>,
}

impl Drop for Reading {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            state.finish();
        }
    }
}

impl HttpBody for Reading {
    type Data = Bytes;
    type Error = hudsucker::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(state)) = (frame.data_ref(), this.state.as_mut()) {
                    state.feed(data);
                }
            }
            Poll::Ready(None) => {
                if let Some(state) = this.state.take() {
                    state.finish();
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::same_model;

    #[test]
    fn a_snapshot_of_the_alias_asked_for_is_the_same_model_and_a_swap_is_not() {
        for (asked, served) in [
            ("gpt-4o", "gpt-4o"),
            ("gpt-4o", "gpt-4o-2024-08-06"),
            ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"),
            ("openai/gpt-4o", "openai/gpt-4o-2024-11-20"),
            ("gemini-2.5-flash", "gemini-2.5-flash-001"),
        ] {
            assert!(same_model(Some(asked), served), "{asked} -> {served}");
        }
        for (asked, served) in [
            (Some("gpt-4o"), "gpt-4o-mini-2024-07-18"),
            (Some("gpt-4o-2024-08-06"), "gpt-4o-2024-11-20"),
            (Some("gpt-4o"), "gpt-test"),
            (Some("gpt-4"), "gpt-4o"),
            (None, "gpt-4o"),
        ] {
            assert!(!same_model(asked, served), "{asked:?} -> {served}");
        }
    }
}
