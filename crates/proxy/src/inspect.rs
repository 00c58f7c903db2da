//! The scan-decide step for one request body or WebSocket frame: extract the provider's text
//! segments, scan them (through the scan cache), let the policy decide about the whole request
//! (content, kill switch, tenant, API rules), and work out what to send. No I/O: the pipeline
//! does that.

use crate::conversation::Conversations;
use crate::events::{rule_counts, Event};
use crate::scan_cache::{self, ScanCache};
use leakguard_detect::{redact, Engine, RedactStyle, Signals};
use leakguard_policy::{DocumentChoice, Effective, Policy, RequestFacts, RequestMeta, Verdict};
use leakguard_providers::{
    extract_query, extract_with, refusal, rewrite, Catalog, DocumentLimits, ErrorShape, Extracted,
    Refusal,
};
use leakguard_types::{Action, Finding, TenantFacts};
use sha2::{Digest, Sha256};

/// The policy in force (managed over local) with the engine built from it; swapped as a
/// whole on reload.
#[derive(Debug)]
pub struct Loaded {
    /// Decisions: the managed policy, tightened by the user's local one if any.
    pub effective: Effective,
    pub engine: Engine,
    /// Shown in events: the policy's name and the first 12 hex digits of its file's SHA-256.
    pub label: String,
    /// Findings of segments seen before, for this engine (a reload starts an empty one).
    pub scan_cache: ScanCache,
    /// Findings of request fields (model, path, User-Agent) seen before.
    pub fields_cache: ScanCache,
    /// Conversation signals of segments seen before (by the segment's SHA-256).
    pub signals_cache: SignalsCache,
    /// What recent conversations hold (see [`crate::conversation`]).
    pub conversations: Conversations,
}

/// The [`Signals`] of segments seen before; forgotten as a whole when full.
#[derive(Debug, Default)]
pub struct SignalsCache(std::sync::Mutex<std::collections::HashMap<[u8; 32], Signals>>);

impl SignalsCache {
    const CAPACITY: usize = 4096;

    fn get_or(&self, key: [u8; 32], compute: impl FnOnce() -> Signals) -> Signals {
        if let Some(s) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return s.clone();
        }
        let s = compute();
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        map.insert(key, s.clone());
        s
    }
}

impl Loaded {
    /// A single policy (no local one on top).
    pub fn new(policy: Policy, engine: Engine, label: String) -> Loaded {
        Loaded {
            effective: Effective {
                managed: policy,
                local: None,
            },
            engine,
            label,
            scan_cache: ScanCache::default(),
            fields_cache: ScanCache::default(),
            signals_cache: SignalsCache::default(),
            conversations: Conversations::default(),
        }
    }

    /// The policy whose destinations, API rules and messages apply: the managed one (a local
    /// policy tightens decisions only).
    pub fn policy(&self) -> &Policy {
        &self.effective.managed
    }
}

/// The facts of a request the decision needs.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub host: String,
    pub method: String,
    /// With the query string.
    pub path: String,
    pub content_type: Option<String>,
    pub client: Option<String>,
    /// What the request shows about its tenant (read as the endpoint catalog says).
    pub tenant: TenantFacts,
}

/// What to do with the request.
#[derive(Debug)]
pub enum Plan {
    /// Send the original bytes as they came.
    Forward,
    /// Send this body instead (identity encoding); `restore` maps each placeholder to the
    /// value it hides, for putting back in the reply when the policy asks for it.
    Rewritten {
        body: Vec<u8>,
        restore: Vec<(String, String)>,
    },
    /// Answer the client with this; `warn_code` is set when the user may allow it once.
    Refuse {
        refusal: Refusal,
        warn_code: Option<String>,
    },
}

/// The outcome of inspecting one body.
#[derive(Debug)]
pub struct Inspection {
    pub plan: Plan,
    pub verdict: Verdict,
    /// SHA-256 over the destination host and each extracted segment's SHA-256 (in order): the
    /// event's `prompt_sha256` and the warn code.
    pub content_hash: [u8; 32],
    /// For a warned request, what an allow-once grant is bound to: the content, the
    /// destination host, the endpoint (path template) and the model. A grant is used only if
    /// the whole body holds nothing the warned text did not (see `Shared::act`).
    pub grant_key: Option<[u8; 32]>,
    /// A known endpoint read no text from its listed fields while other fields held prose
    /// (their paths): the caller records a `coverage` event.
    pub coverage_gap: Option<Vec<String>>,
}

/// Inspects a decoded body and fills in the request's `event` (endpoint, model, findings,
/// verdict, outcome); the caller made it with the request's own fields (host, method, path,
/// client, policy). `Err` carries a fail-closed refusal with its reason.
pub fn inspect(
    loaded: &Loaded,
    catalog: &Catalog,
    info: &RequestInfo,
    body: &[u8],
    meta: &RequestMeta,
    event: &mut Event,
) -> Result<Inspection, (Refusal, String)> {
    let limits = document_limits(loaded.policy());
    let (shape, extracted) = extracted_or_refusal(catalog, info, 400, |endpoint, path| {
        extract_with(endpoint, path, info.content_type.as_deref(), body, &limits)
    })?;
    Ok(judge(
        loaded, shape, info, &extracted, body, meta, event, false,
    ))
}

/// The query of a request without a body (`chatgpt.com/?q=…`, `perplexity.ai/search?q=…`):
/// each parameter is scanned as text (endpoint `url`). `None` when there is nothing to record
/// (no finding the policy acts on, no prompt parameter of the host): the request goes on
/// unrecorded, as any other request without a body. A query cannot be rewritten, so a redact
/// verdict blocks.
pub fn inspect_query(
    loaded: &Loaded,
    catalog: &Catalog,
    info: &RequestInfo,
    query: &str,
    meta: &RequestMeta,
    event: &mut Event,
) -> Option<Inspection> {
    let extracted = extract_query(query);
    let prompt_params = catalog.url_prompt_params(&info.host);
    let has_prompt = extracted.segments.iter().any(|s| {
        let name = s.location.strip_prefix("query:").unwrap_or("");
        let name = name.split('>').next().unwrap_or("");
        prompt_params.iter().any(|p| p == name)
    });
    // The query is the text here, so the request's own fields are read without it.
    let without_query = RequestInfo {
        path: info.path.split('?').next().unwrap_or("/").to_string(),
        ..info.clone()
    };
    let shape = catalog.error_shape_for_host(&info.host);
    let mut seen = event.clone();
    let mut x = judge(
        loaded,
        shape,
        &without_query,
        &extracted,
        &[],
        meta,
        &mut seen,
        false,
    );
    if !has_prompt && x.verdict.action == Action::Allow {
        return None;
    }
    if matches!(x.plan, Plan::Rewritten { .. }) {
        seen.outcome = leakguard_types::Outcome::Blocked;
        seen.reason = Some("a prompt in a URL cannot be redacted, so it was blocked".into());
        x.plan = Plan::Refuse {
            refusal: refusal(
                shape,
                403,
                "leakguard_blocked",
                &format!(
                    "Blocked by Leakguard: {} in the address of a request to {}.",
                    x.verdict.by, info.host
                ),
            ),
            warn_code: None,
        };
    }
    *event = seen;
    Some(x)
}

/// [`inspect`] for an upload spooled to disk: its documents and text are read from the file
/// (see `leakguard_providers::extract_spooled`); a spooled body is never rewritten.
pub fn inspect_spooled(
    loaded: &Loaded,
    catalog: &Catalog,
    info: &RequestInfo,
    spool: &crate::body::Spool,
    meta: &RequestMeta,
    event: &mut Event,
) -> Result<Inspection, (Refusal, String)> {
    let policy = loaded.policy();
    let (shape, extracted) = extracted_or_refusal(catalog, info, 413, |endpoint, path| {
        leakguard_providers::extract_spooled(
            endpoint,
            path,
            info.content_type.as_deref(),
            &spool.file,
            spool.len,
            &document_limits(policy),
            policy.documents.max_in_memory_bytes,
        )
    })?;
    let x = judge(loaded, shape, info, &extracted, &[], meta, event, false);
    event.bytes = usize::try_from(spool.len).unwrap_or(usize::MAX);
    Ok(x)
}

/// The request's endpoint and error shape, and what `read` extracts for it; a body that cannot
/// be read is a fail-closed refusal (`status`) with the reason.
fn extracted_or_refusal(
    catalog: &Catalog,
    info: &RequestInfo,
    status: u16,
    read: impl FnOnce(
        Option<&leakguard_providers::Endpoint>,
        &str,
    ) -> Result<Extracted, leakguard_providers::ExtractError>,
) -> Result<(ErrorShape, Extracted), (Refusal, String)> {
    let path_only = info.path.split('?').next().unwrap_or("");
    let endpoint = catalog.classify(&info.host, &info.method, &info.path);
    let shape = endpoint.map_or_else(|| catalog.error_shape_for_host(&info.host), |e| e.error);
    let extracted = read(endpoint, path_only).map_err(|e| {
        let msg = format!(
            "Blocked by Leakguard: the request to {} could not be inspected ({e}).",
            info.host
        );
        (
            refusal(shape, status, "leakguard_fail_closed", &msg),
            e.to_string(),
        )
    })?;
    Ok((shape, extracted))
}

/// The policy's bounds for reading uploaded documents.
pub fn document_limits(policy: &Policy) -> DocumentLimits {
    let d = &policy.documents;
    DocumentLimits {
        max_expanded_bytes: d.max_expanded_bytes,
        max_ratio: d.max_ratio,
        max_text_bytes: d.max_text_bytes,
        max_depth: d.max_depth,
        max_members: d.max_members as usize,
        max_millis: d.max_millis,
    }
}

/// What the policy says about documents for a destination group: (unreadable, redact).
fn document_choices(policy: &Policy, group: Option<&str>) -> (DocumentChoice, DocumentChoice) {
    let own = group
        .and_then(|g| policy.destinations.iter().find(|d| d.name == g))
        .and_then(|d| d.documents.as_ref());
    (
        own.and_then(|o| o.unreadable)
            .unwrap_or(policy.documents.unreadable),
        own.and_then(|o| o.redact)
            .unwrap_or(policy.documents.redact),
    )
}

/// Scans what was extracted, decides about the whole request and plans what to send; fills in
/// the event. `frame`: a WebSocket frame, which cannot be answered, so a warn cannot be
/// allowed from the message (the user allows it in the app or with `leakguard allow`).
#[allow(clippy::too_many_arguments)] // the stages' inputs, each named at the two call sites
pub fn judge(
    loaded: &Loaded,
    shape: ErrorShape,
    info: &RequestInfo,
    extracted: &Extracted,
    body: &[u8],
    meta: &RequestMeta,
    event: &mut Event,
    frame: bool,
) -> Inspection {
    // Scan every segment; findings keep the index of their segment. Each segment's SHA-256
    // keys the scan cache (a conversation's earlier messages come again with every turn) and
    // goes into the content hash, so the text is hashed once.
    let mut findings: Vec<Finding> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    let mut hasher = Sha256::new();
    hasher.update(info.host.as_bytes());
    let mut digests: Vec<[u8; 32]> = Vec::with_capacity(extracted.segments.len());
    for (i, seg) in extracted.segments.iter().enumerate() {
        let digest: [u8; 32] = Sha256::digest(seg.text.as_bytes()).into();
        digests.push(digest);
        hasher.update(digest);
        let found = if seg.text.len() >= scan_cache::MIN_BYTES {
            loaded
                .scan_cache
                .get_or_scan(digest, || loaded.engine.scan(&seg.text))
        } else {
            loaded.engine.scan(&seg.text)
        };
        for f in found {
            findings.push(f);
            owner.push(i);
        }
    }
    if extracted.binary_body {
        for f in loaded.engine.scan_bytes(body) {
            findings.push(f);
            owner.push(BINARY);
        }
        hasher.update(body);
    }
    // Small findings of the conversation's messages add up (a paste split into pieces).
    accumulate(loaded, info, extracted, &digests, &mut findings, &mut owner);
    // The request's own fields go out as they are and are recorded: scanned like the text,
    // and kept in the event only masked.
    let fields = RequestFields::new(extracted.model.as_deref(), info);
    // The same client sends the same model, path and User-Agent again and again: cached.
    let field_findings = loaded
        .fields_cache
        .get_or_scan(Sha256::digest(fields.text.as_bytes()).into(), || {
            loaded.engine.scan(&fields.text)
        });
    for f in &field_findings {
        findings.push(f.clone());
        owner.push(FIELDS);
    }
    let verdict = loaded
        .effective
        .decide_request(&findings, &facts(info, extracted), meta);

    let content_hash: [u8; 32] = hasher.finalize().into();
    // Only a warned request needs what a grant is bound to.
    let grant_key = (verdict.action == Action::Warn).then(|| {
        let mut g = Sha256::new();
        g.update(content_hash);
        for part in [
            info.host.as_str(),
            &crate::events::path_template(&info.path),
            extracted.model.as_deref().unwrap_or(""),
        ] {
            g.update((part.len() as u64).to_le_bytes());
            g.update(part.as_bytes());
        }
        g.finalize().into()
    });
    let text_bytes = extracted.text_bytes();

    event.endpoint = extracted.endpoint.clone();
    event.provider = extracted.provider.clone();
    // The caller recorded the path and client as templates; with a finding in them they are
    // recorded again, masked.
    if field_findings.is_empty() {
        event.model = extracted.model.clone();
    } else {
        let (model, path, client) = fields.masked(&field_findings);
        event.model = model;
        event.path = path;
        event.client = client;
    }
    event.max_tokens = extracted.max_tokens;
    event.group = verdict.group.clone();
    event.verdict = verdict.action.into();
    event.decided_by = verdict.by.clone();
    event.rules = rule_counts(&findings, &verdict);
    event.previews = crate::events::previews(&findings, loaded.policy().events.previews);
    event.prompt_sha256 = hex(&content_hash);
    event.bytes = body.len();
    event.text_bytes = text_bytes;
    event.est_tokens = text_bytes.div_ceil(4);
    event.binary_parts = extracted.binary_parts;
    event.unlisted_fields = {
        let mut v: Vec<String> = owner
            .iter()
            .filter_map(|&o| extracted.unlisted_location(o))
            .map(str::to_string)
            .collect();
        v.dedup();
        v.truncate(8);
        v
    };
    event.documents = extracted.documents.iter().map(|d| d.summary()).collect();
    event.unscanned_images = extracted.images;
    let (on_unreadable, on_document_redact) =
        document_choices(loaded.policy(), verdict.group.as_deref());

    if loaded.policy().events.keep_redacted_prompt {
        event.redacted_prompt = Some(redacted_prompt(&extracted.segments, &findings, &owner));
    }

    // The finding that decided, and where it is when that is inside an uploaded document
    // ("plan.docx: body", "multipart:file(pay.xlsx): sheet Payroll, cell B2").
    let top_index = findings
        .iter()
        .zip(&verdict.findings)
        .enumerate()
        .max_by_key(|(_, (f, d))| (d.action, f.severity))
        .map(|(i, _)| i);
    let top_place = top_index.and_then(|i| {
        let seg = extracted.segments.get(owner[i])?;
        seg.file.as_ref()?;
        Some(seg.place(findings[i].start))
    });
    let message = |template: &str| -> String {
        let top = top_index.map(|i| &findings[i]);
        let mut m = template
            .replace(
                "{category}",
                &top.map_or_else(|| "content".to_string(), |f| f.category.to_string()),
            )
            .replace("{rule}", top.map_or("policy", |f| f.rule.as_str()))
            .replace("{destination}", &info.host);
        if let Some(place) = &top_place {
            m.push_str(&format!(" Found in the uploaded file at {place}."));
        }
        if let Some(url) = &loaded.policy().messages.policy_url {
            m.push_str(&format!(" See {url}"));
        }
        m
    };

    let blocked = || Plan::Refuse {
        refusal: refusal(
            shape,
            403,
            "leakguard_blocked",
            &message(&loaded.policy().messages.block),
        ),
        warn_code: None,
    };
    let plan = match verdict.action {
        // The kill switch, a tenant or an API rule: its own refusal.
        _ if verdict.stop.is_some() => {
            let stop = verdict.stop.as_ref().expect("checked");
            event.outcome = leakguard_types::Outcome::Blocked;
            Plan::Refuse {
                refusal: refusal(shape, stop.status, stop.code, &stop.message),
                warn_code: None,
            }
        }
        Action::Allow | Action::Audit => {
            event.outcome = leakguard_types::Outcome::Forwarded;
            Plan::Forward
        }
        // A finding to redact inside an uploaded document: a document cannot be rewritten, so
        // the policy's `documents.redact` decides (block, default: the user is told which file
        // and where; or audit: the document goes as it is and the event says so).
        Action::Redact
            if on_document_redact == DocumentChoice::Block
                && findings
                    .iter()
                    .zip(&verdict.findings)
                    .zip(&owner)
                    .any(|((_, d), o)| {
                        d.action == Action::Redact && in_document(extracted, *o)
                    }) =>
        {
            event.outcome = leakguard_types::Outcome::Blocked;
            event.reason = Some(format!(
                "a document cannot be redacted{}",
                top_place
                    .as_ref()
                    .map_or(String::new(), |p| format!(" ({p})"))
            ));
            Plan::Refuse {
                refusal: refusal(
                    shape,
                    403,
                    "leakguard_blocked",
                    &format!(
                        "{} A document cannot be redacted: remove it from the file and upload the file again.",
                        message(&loaded.policy().messages.block)
                    ),
                ),
                warn_code: None,
            }
        }
        Action::Redact => {
            let mut replacements = Vec::new();
            let mut restore = Vec::new();
            // Findings in a binary body or in the request's own fields (model, URL, client)
            // cannot be replaced in place: those requests are blocked.
            let unrewritable = findings
                .iter()
                .zip(&verdict.findings)
                .zip(&owner)
                .any(|((_, d), o)| (*o == BINARY || *o == FIELDS) && d.action == Action::Redact);
            for (i, seg) in extracted.segments.iter().enumerate() {
                let to_redact: Vec<Finding> = findings
                    .iter()
                    .zip(&verdict.findings)
                    .zip(&owner)
                    .filter(|((_, d), o)| **o == i && d.action == Action::Redact)
                    .map(|((f, _), _)| f.clone())
                    .collect();
                // Audited, not redacted: the document it is in goes as it is.
                if seg.file.is_some() {
                    continue;
                }
                if !to_redact.is_empty() {
                    let r = redact(&seg.text, &to_redact, RedactStyle::Placeholder);
                    for rep in &r.replacements {
                        restore.push((
                            rep.placeholder.clone(),
                            seg.text[rep.start..rep.end].to_string(),
                        ));
                    }
                    replacements.push((i, r.text));
                }
            }
            let rewritten = if unrewritable {
                None
            } else {
                rewrite(extracted, body, &replacements).ok()
            };
            // Redaction that cannot leave a copy: the rewritten body is read and scanned once
            // more, whole; anything that survived blocks the request instead.
            let leftover = match &rewritten {
                Some(b) if !replacements.is_empty() => {
                    survivor(loaded, info, extracted, b, &restore, meta, frame)
                }
                _ => None,
            };
            if let Some(why) = leftover {
                event.outcome = leakguard_types::Outcome::Blocked;
                event.reason = Some(format!(
                    "redaction was not complete ({why}), so it was blocked"
                ));
                return Inspection {
                    plan: blocked(),
                    verdict,
                    content_hash,
                    grant_key,
                    coverage_gap: extracted.coverage_gap.clone(),
                };
            }
            match rewritten {
                Some(_) if replacements.is_empty() => {
                    event.outcome = leakguard_types::Outcome::Forwarded;
                    event.reason =
                        Some("findings in an uploaded document were audited, not redacted".into());
                    Plan::Forward
                }
                Some(b) => {
                    event.outcome = leakguard_types::Outcome::Redacted;
                    Plan::Rewritten { body: b, restore }
                }
                None => {
                    event.outcome = leakguard_types::Outcome::Blocked;
                    event.reason = Some("the body cannot be redacted, so it was blocked".into());
                    blocked()
                }
            }
        }
        Action::Warn => {
            let code = hex(&content_hash[..6]);
            event.outcome = leakguard_types::Outcome::Warned;
            event.override_code = Some(code.clone());
            let how = if frame {
                "open Leakguard and allow it once"
            } else {
                "allow it once"
            };
            let m = format!(
                "{} To send it anyway, {how}: leakguard allow {code} --reason \"…\"",
                message(&loaded.policy().messages.warn)
            );
            Plan::Refuse {
                refusal: refusal(shape, 403, "leakguard_warn", &m),
                warn_code: Some(code),
            }
        }
        Action::Block => {
            event.outcome = leakguard_types::Outcome::Blocked;
            blocked()
        }
    };
    // An uploaded document that could not be read was not checked: the policy's
    // `documents.unreadable` decides what that means (block by default).
    let plan = match (plan, extracted.unreadable()) {
        (plan @ Plan::Refuse { .. }, _) | (plan, None) => plan,
        (plan, Some(doc)) => {
            let why = doc.unreadable.as_deref().unwrap_or("");
            if on_unreadable == DocumentChoice::Block {
                event.outcome = leakguard_types::Outcome::Blocked;
                event.verdict = leakguard_types::EventVerdict::Block;
                event.reason = Some(format!("unreadable document: {}", doc.summary()));
                let mut m = format!(
                    "Blocked by Leakguard: the file {} could not be checked: {why}.",
                    doc.file
                );
                if let Some(url) = &loaded.policy().messages.policy_url {
                    m.push_str(&format!(" See {url}"));
                }
                Plan::Refuse {
                    refusal: refusal(shape, 403, "leakguard_blocked", &m),
                    warn_code: None,
                }
            } else {
                event.reason = Some(format!(
                    "forwarded without being checked (documents.unreadable: audit): {}",
                    doc.summary()
                ));
                plan
            }
        }
    };
    Inspection {
        plan,
        verdict,
        content_hash,
        grant_key,
        coverage_gap: extracted.coverage_gap.clone(),
    }
}

/// What the policy's rules about the request itself (model, tokens, tenant) look at.
fn facts<'a>(info: &'a RequestInfo, extracted: &'a Extracted) -> RequestFacts<'a> {
    RequestFacts {
        host: Some(&info.host),
        model: extracted.model.as_deref(),
        max_tokens: extracted.max_tokens,
        tenant: Some(&info.tenant),
    }
}

/// Why a rewritten body may not go: the body read again as a whole (every string, whatever
/// the adapter lists) still holds a value that was redacted, or a finding the policy blocks
/// or redacts outside an uploaded document (a second copy of the text, a field the first
/// reading did not reach). `None`: nothing survived.
fn survivor(
    loaded: &Loaded,
    info: &RequestInfo,
    extracted: &Extracted,
    new_body: &[u8],
    redacted: &[(String, String)],
    meta: &RequestMeta,
    frame: bool,
) -> Option<String> {
    let again = if frame {
        match std::str::from_utf8(new_body) {
            Ok(t) => Extracted::text_frame(t),
            Err(_) => return Some("the redacted frame is not text".into()),
        }
    } else {
        match extract_with(
            None,
            info.path.split('?').next().unwrap_or(""),
            info.content_type.as_deref(),
            new_body,
            &document_limits(loaded.policy()),
        ) {
            Ok(x) => x,
            Err(e) => return Some(format!("the redacted body cannot be read again: {e}")),
        }
    };
    for (_, value) in redacted {
        if value.len() >= 4
            && (memchr::memmem::find(new_body, value.as_bytes()).is_some()
                || again
                    .segments
                    .iter()
                    .any(|s| s.text.contains(value.as_str())))
        {
            return Some("a redacted value is still in another copy of the text".into());
        }
    }
    let mut findings = Vec::new();
    for seg in again.segments.iter().filter(|s| s.file.is_none()) {
        findings.extend(loaded.engine.scan(&seg.text));
    }
    if findings.is_empty() {
        return None;
    }
    let verdict = loaded
        .effective
        .decide_request(&findings, &facts(info, extracted), meta);
    verdict
        .findings
        .iter()
        .zip(&findings)
        .find(|(d, _)| matches!(d.action, Action::Redact | Action::Block))
        .map(|(_, f)| format!("{} is still in the body after redaction", f.rule))
}

/// Messages larger than this do not add to a conversation's tally.
const SIGNALS_MAX_BYTES: usize = 32 << 10;

/// Adds the request's messages to its conversation (see [`crate::conversation`]) and, where
/// the conversation's lines of code or matched fingerprints reach the line though no message
/// alone did, a finding on the newest message: `source-code`, or `fingerprint:<index>`. Only a
/// request that added to the tally can cross it, so a later message without code is not held.
fn accumulate(
    loaded: &Loaded,
    info: &RequestInfo,
    extracted: &Extracted,
    digests: &[[u8; 32]],
    findings: &mut Vec<Finding>,
    owner: &mut Vec<usize>,
) {
    let cfg = &loaded.policy().conversations;
    let engine = &loaded.engine;
    let sets = &engine.config().fingerprints;
    let code_on = cfg.code_lines > 0 && engine.config().code_min_lines > 0;
    let Some(last) = extracted.segments.len().checked_sub(1) else {
        return;
    };
    if cfg.window_minutes == 0 || (!code_on && sets.is_empty()) {
        return;
    }
    // A split paste comes in small pieces; a large message is judged whole on its own (and
    // reading its signals again would cost a second pass over it).
    let signals: Vec<Signals> = extracted
        .segments
        .iter()
        .zip(digests)
        .map(|(seg, d)| {
            if seg.text.len() > SIGNALS_MAX_BYTES {
                return Signals::default();
            }
            loaded
                .signals_cache
                .get_or(*d, || engine.signals(&seg.text))
        })
        .collect();
    let messages: Vec<([u8; 32], &Signals)> = digests.iter().copied().zip(&signals).collect();
    let key = extracted.conversation.as_ref().map(|c| {
        let mut h = Sha256::new();
        h.update(info.host.as_bytes());
        h.update([0]);
        h.update(c.as_bytes());
        h.finalize().into()
    });
    let t = loaded.conversations.add(
        key,
        &messages,
        std::time::Duration::from_secs(u64::from(cfg.window_minutes) * 60),
        cfg.max_conversations as usize,
    );
    let end = extracted.segments[last].text.len();
    let over = |what: String| format!("{what} over {} messages of this conversation", t.messages);
    let mut push = |f: Finding| {
        if !findings.iter().any(|g| g.rule == f.rule) {
            findings.push(f);
            owner.push(last);
        }
    };
    if code_on && t.added_code_lines > 0 && t.code_lines >= cfg.code_lines && t.messages > 1 {
        push(Finding {
            rule: "source-code".into(),
            category: leakguard_types::Category::SourceCode,
            severity: leakguard_types::Severity::Medium,
            start: 0,
            end,
            confidence: 0.7,
            preview: over(format!("{} lines of code", t.code_lines)),
            detail: leakguard_types::FindingDetail {
                lines: Some(t.code_lines),
                ..Default::default()
            },
        });
    }
    let at = |v: &[usize], i: usize| v.get(i).copied().unwrap_or(0);
    for (i, set) in sets.iter().enumerate() {
        let (code, prose) = (at(&t.code, i), at(&t.prose, i));
        let code_hit = at(&t.added_code, i) > 0 && code >= set.min_matches.max(1);
        let prose_hit = at(&t.added_prose, i) > 0 && prose >= set.min_prose_matches.max(1);
        if (code_hit || prose_hit) && t.messages > 1 {
            push(Finding {
                rule: format!("fingerprint:{}", set.index.label),
                category: leakguard_types::Category::Classified,
                severity: leakguard_types::Severity::High,
                start: 0,
                end,
                confidence: 0.8,
                preview: over(format!(
                    "{} fingerprints of {}",
                    if code_hit { code } else { prose },
                    set.index.label
                )),
                detail: leakguard_types::FindingDetail {
                    fingerprint: Some(if code_hit { "code" } else { "document" }.into()),
                    ..Default::default()
                },
            });
        }
    }
}

/// Whether a finding's owner is text read out of an uploaded document.
fn in_document(extracted: &Extracted, owner: usize) -> bool {
    extracted
        .segments
        .get(owner)
        .is_some_and(|s| s.file.is_some())
}

/// The owner of a finding in a binary body.
const BINARY: usize = usize::MAX;
/// The owner of a finding in the request's own fields.
const FIELDS: usize = usize::MAX - 1;

/// The fields of a request that are sent as they are and recorded: the model the body names,
/// the URL path (with its query) and the client's User-Agent, one per line for the scanner.
struct RequestFields {
    text: String,
    /// Where each field ends in `text`.
    model_end: usize,
    path_end: usize,
    has_model: bool,
    has_client: bool,
}

impl RequestFields {
    fn new(model: Option<&str>, info: &RequestInfo) -> RequestFields {
        let one_line = |s: &str| s.replace(|c: char| c.is_control(), " ");
        let mut text = one_line(model.unwrap_or(""));
        let model_end = text.len();
        text.push('\n');
        text.push_str(&one_line(&info.path));
        let path_end = text.len();
        text.push('\n');
        text.push_str(&one_line(info.client.as_deref().unwrap_or("")));
        RequestFields {
            text,
            model_end,
            path_end,
            has_model: model.is_some(),
            has_client: info.client.is_some(),
        }
    }

    /// The model, the path (a template: ids and the query left out) and the client as an
    /// event keeps them, every finding replaced by its placeholder.
    fn masked(&self, findings: &[Finding]) -> (Option<String>, String, Option<String>) {
        let part = |start: usize, end: usize| -> String {
            let mine: Vec<Finding> = findings
                .iter()
                .filter(|f| f.start >= start && f.end <= end)
                .map(|f| Finding {
                    start: f.start - start,
                    end: f.end - start,
                    ..f.clone()
                })
                .collect();
            redact(&self.text[start..end], &mine, RedactStyle::Placeholder).text
        };
        let model = self.has_model.then(|| part(0, self.model_end));
        let path = crate::events::path_template(&part(self.model_end + 1, self.path_end));
        let client = self.has_client.then(|| {
            part(self.path_end + 1, self.text.len())
                .chars()
                .take(120)
                .collect()
        });
        (model, path, client)
    }
}

/// A refusal for a body that could not be read (too large, bomb, bad encoding).
pub fn fail_closed(catalog: &Catalog, host: &str, status: u16, reason: &str) -> Refusal {
    let shape: ErrorShape = catalog.error_shape_for_host(host);
    refusal(
        shape,
        status,
        "leakguard_fail_closed",
        &format!("Blocked by Leakguard: the request to {host} could not be inspected ({reason})."),
    )
}

/// Lower-case hex of `b`.
pub fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(DIGITS[usize::from(x >> 4)] as char);
        s.push(DIGITS[usize::from(x & 15)] as char);
    }
    s
}

/// The prompt as the record may keep it: every segment with every finding (whatever its action)
/// replaced by its placeholder, segments separated by a blank line, cut at 64 KiB.
fn redacted_prompt(
    segments: &[leakguard_providers::TextSegment],
    findings: &[Finding],
    owner: &[usize],
) -> String {
    const KEEP: usize = 64 << 10;
    let mut kept = String::new();
    for (i, seg) in segments.iter().enumerate() {
        let mine: Vec<Finding> = findings
            .iter()
            .zip(owner)
            .filter(|(_, o)| **o == i)
            .map(|(f, _)| f.clone())
            .collect();
        if !kept.is_empty() {
            kept.push_str("\n\n");
        }
        kept.push_str(&redact(&seg.text, &mine, RedactStyle::Placeholder).text);
        if kept.len() > KEEP {
            let mut cut = KEEP;
            while !kept.is_char_boundary(cut) {
                cut -= 1;
            }
            kept.truncate(cut);
            break;
        }
    }
    kept
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const AWS_KEY: &str = "AKIAQYLPMN5HJNGY4F7A";

    fn loaded() -> Loaded {
        let policy = Policy::parse(include_str!("../../../policies/default.json")).unwrap();
        let engine = Engine::with_config(policy.engine_config()).unwrap();
        Loaded::new(policy, engine, "test".into())
    }

    fn conversation(messages: &[String]) -> Vec<u8> {
        leakguard_testkit::chat_body(messages).into_bytes()
    }

    fn message(turn: usize) -> String {
        format!("Turn {turn}: please tighten the wording of the planning notes. ").repeat(8)
    }

    /// The inspection and the event it filled in.
    fn run(l: &Loaded, body: &[u8]) -> (Inspection, Event) {
        upload(
            l,
            "api.openai.com",
            "/v1/chat/completions",
            "application/json",
            body,
        )
    }

    #[test]
    fn earlier_messages_are_not_scanned_again_and_still_decide() {
        let l = loaded();
        // Turn 1 carries a secret: blocked.
        let mut history = vec![format!("{} with my key {AWS_KEY}", message(1))];
        let (first, _) = run(&l, &conversation(&history));
        assert_eq!(first.verdict.action, Action::Block);
        assert_eq!(l.scan_cache.stats(), (0, 1));
        // Each later turn repeats the earlier messages: only the new one is scanned, and the
        // secret found in turn 1 still blocks every request that carries it.
        for turn in 2..6 {
            history.push(message(turn));
            let (hits_before, misses_before) = l.scan_cache.stats();
            let (later, later_event) = run(&l, &conversation(&history));
            let (hits, misses) = l.scan_cache.stats();
            assert_eq!(
                misses - misses_before,
                1,
                "turn {turn}: only the new message"
            );
            assert_eq!(hits - hits_before, turn as u64 - 1, "turn {turn}");
            assert_eq!(later.verdict.action, Action::Block, "turn {turn}");
            assert!(
                later_event
                    .rules
                    .iter()
                    .any(|r| r.rule == "aws-access-key-id"),
                "turn {turn}: {:?}",
                later_event.rules
            );
        }
    }

    #[test]
    fn a_changed_message_is_scanned_again() {
        let l = loaded();
        let clean = message(1);
        assert_eq!(
            run(&l, &conversation(std::slice::from_ref(&clean)))
                .0
                .verdict
                .action,
            Action::Allow
        );
        // The same length, its start swapped for a key: a different digest, so a new scan.
        let changed = format!("{AWS_KEY} {}", &clean[AWS_KEY.len() + 1..]);
        assert_eq!(changed.len(), clean.len());
        let (again, _) = run(&l, &conversation(&[changed]));
        assert_eq!(again.verdict.action, Action::Block);
        assert_eq!(l.scan_cache.stats(), (0, 2));
        // And the clean one is still answered from the cache, still clean.
        assert_eq!(
            run(&l, &conversation(&[clean])).0.verdict.action,
            Action::Allow
        );
        assert_eq!(l.scan_cache.stats(), (1, 2));
    }

    fn upload(l: &Loaded, host: &str, path: &str, ct: &str, body: &[u8]) -> (Inspection, Event) {
        let info = RequestInfo {
            host: host.into(),
            method: "POST".into(),
            path: path.into(),
            content_type: Some(ct.into()),
            client: None,
            tenant: TenantFacts::default(),
        };
        let mut event = Event::default();
        let x = inspect(
            l,
            &Catalog::builtin(),
            &info,
            body,
            &RequestMeta::default(),
            &mut event,
        )
        .unwrap_or_else(|(_, why)| panic!("inspection failed: {why}"));
        (x, event)
    }

    fn refusal_text(x: &Inspection) -> String {
        match &x.plan {
            Plan::Refuse { refusal, .. } => String::from_utf8_lossy(&refusal.body).into_owned(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_secret_in_an_uploaded_word_file_blocks_and_names_the_file() {
        use leakguard_testkit::office;
        let l = loaded();
        let doc = office::docx(&["Quarterly notes", &format!("deploy key {AWS_KEY}")]);
        let (ct, body) = office::multipart_file(
            "file",
            "notes.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            &doc,
        );
        let (x, event) = upload(&l, "api.openai.com", "/v1/files", &ct, &body);
        assert_eq!(x.verdict.action, Action::Block);
        assert!(
            event.rules.iter().any(|r| r.rule == "aws-access-key-id"),
            "{:?}",
            event.rules
        );
        let text = refusal_text(&x);
        assert!(text.contains("notes.docx: body"), "{text}");
        assert_eq!(event.documents.len(), 1);
        assert!(
            event.documents[0].starts_with("notes.docx (docx, 1 parts"),
            "{:?}",
            event.documents
        );
        // The same file, clean, goes out as it is.
        let clean = office::docx(&["Quarterly notes", "nothing to hide"]);
        let (ct, body) =
            office::multipart_file("file", "notes.docx", "application/octet-stream", &clean);
        let (x, event) = upload(&l, "api.openai.com", "/v1/files", &ct, &body);
        assert!(matches!(x.plan, Plan::Forward), "{:?}", x.plan);
        assert!(event.text_bytes > 0);
    }

    #[test]
    fn a_card_in_a_sheet_cannot_be_redacted_so_the_upload_is_blocked_with_the_cell() {
        use leakguard_testkit::office;
        let l = loaded();
        let sheet = office::xlsx(
            "Payroll",
            &[&["Name", "Card"], &["Ann Lee", "4111 1111 1111 1111"]],
        );
        // Raw upload, as ChatGPT's file upload sends it: personal data is redacted by the
        // default policy, which a document cannot be.
        let (x, event) = upload(
            &l,
            "files.oaiusercontent.com",
            "/file-abc",
            "application/octet-stream",
            &sheet,
        );
        assert_eq!(x.verdict.action, Action::Redact, "{:?}", event.rules);
        let text = refusal_text(&x);
        assert!(text.contains("upload: sheet Payroll, cell B2"), "{text}");
        assert!(text.contains("cannot be redacted"), "{text}");
        assert_eq!(event.outcome, leakguard_types::Outcome::Blocked);

        // With `documents.redact: audit` the file goes as it is, and the event says why.
        let mut policy = l.policy().clone();
        policy.documents.redact = DocumentChoice::Audit;
        let engine = Engine::with_config(policy.engine_config()).unwrap();
        let audit = Loaded::new(policy, engine, "audit".into());
        let (x, event) = upload(
            &audit,
            "files.oaiusercontent.com",
            "/file-abc",
            "application/octet-stream",
            &sheet,
        );
        assert!(matches!(x.plan, Plan::Forward), "{:?}", x.plan);
        assert_eq!(event.outcome, leakguard_types::Outcome::Forwarded);
        assert!(event.reason.as_deref().unwrap_or("").contains("audited"));
    }

    #[test]
    fn an_unreadable_document_follows_the_policy() {
        use leakguard_testkit::office;
        let l = loaded();
        // An OLE compound file named .docx: what Word writes for a password-protected file.
        let mut locked = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
        locked.extend_from_slice(&[0u8; 1024]);
        let (ct, body) =
            office::multipart_file("file", "board.docx", "application/octet-stream", &locked);
        let (x, event) = upload(&l, "api.openai.com", "/v1/files", &ct, &body);
        let text = refusal_text(&x);
        assert!(
            text.contains("the file board.docx could not be checked"),
            "{text}"
        );
        assert!(text.contains("password"), "{text}");
        assert_eq!(event.outcome, leakguard_types::Outcome::Blocked);
        assert!(event
            .reason
            .as_deref()
            .unwrap()
            .starts_with("unreadable document: board.docx"));

        // A destination group may choose to let it through, recorded.
        let mut policy = l.policy().clone();
        let api = policy
            .destinations
            .iter_mut()
            .find(|d| d.name == "enterprise-api")
            .unwrap();
        api.documents = Some(leakguard_policy::DocumentChoices {
            unreadable: Some(DocumentChoice::Audit),
            redact: None,
        });
        let engine = Engine::with_config(policy.engine_config()).unwrap();
        let audit = Loaded::new(policy, engine, "audit".into());
        let (x, event) = upload(&audit, "api.openai.com", "/v1/files", &ct, &body);
        assert!(matches!(x.plan, Plan::Forward), "{:?}", x.plan);
        assert!(event
            .reason
            .as_deref()
            .unwrap()
            .contains("without being checked"));
        // ... but not for the consumer chat group, which keeps the default.
        let (x, _) = upload(
            &audit,
            "claude.ai",
            "/api/organizations/o1/upload",
            &ct,
            &body,
        );
        assert!(matches!(x.plan, Plan::Refuse { .. }));
    }

    #[test]
    fn code_split_into_two_line_pieces_is_caught_within_one_conversation() {
        let l = loaded();
        let code = include_str!("conversation.rs");
        // Sixteen lines of code in eight messages of two lines, as a user would paste them
        // to get around a limit.
        let lines: Vec<&str> = code
            .lines()
            .skip_while(|l| !l.starts_with("impl Conv {"))
            .filter(|l| l.trim().len() > 8)
            .take(16)
            .collect();
        let send = |conversation: &str, text: &str| {
            let body = serde_json::json!({
                "action": "next",
                "conversation_id": conversation,
                "messages": [{"author": {"role": "user"}, "content": {"content_type": "text", "parts": [text]}}],
                "model": "gpt-4o",
            });
            upload(
                &l,
                "chatgpt.com",
                "/backend-api/conversation",
                "application/json",
                body.to_string().as_bytes(),
            )
        };
        let mut caught_at = None;
        for (i, pair) in lines.chunks(2).enumerate() {
            let (x, event) = send("conv-1", &pair.join("\n"));
            // No piece alone holds enough code to be reported.
            assert!(engine_alone_passes(&l, &pair.join("\n")), "piece {i}");
            if x.verdict.action != Action::Allow {
                assert_eq!(x.verdict.action, Action::Warn, "{:?}", event.rules);
                assert!(
                    event
                        .previews
                        .iter()
                        .any(|p| p.contains("messages of this conversation")),
                    "{:?}",
                    event.previews
                );
                caught_at.get_or_insert(i + 1);
            }
        }
        let at = caught_at.expect("the split paste was caught");
        assert!((6..=8).contains(&at), "caught at piece {at}");
        // The same pieces in eight different conversations pass: nothing adds up.
        for (i, pair) in lines.chunks(2).enumerate() {
            let (x, _) = send(&format!("other-{i}"), &pair.join("\n"));
            assert_eq!(x.verdict.action, Action::Allow, "piece {i}");
        }
        // A later message without code in the first conversation is not held.
        let (x, _) = send("conv-1", "Thanks, that explains it.");
        assert_eq!(x.verdict.action, Action::Allow);
    }

    fn engine_alone_passes(l: &Loaded, text: &str) -> bool {
        !l.engine.scan(text).iter().any(|f| f.rule == "source-code")
    }

    #[test]
    fn the_content_hash_follows_the_text_and_its_order() {
        let l = loaded();
        let (a, b) = (message(1), message(2));
        let ab = run(&l, &conversation(&[a.clone(), b.clone()]))
            .0
            .content_hash;
        assert_eq!(
            ab,
            run(&l, &conversation(&[a.clone(), b.clone()]))
                .0
                .content_hash
        );
        assert_ne!(ab, run(&l, &conversation(&[b, a])).0.content_hash);
    }

    /// Thirty lines of this crate's Rust, joined by real newlines.
    pub(crate) fn sample_code() -> String {
        include_str!("conversation.rs")
            .lines()
            .skip_while(|l| !l.starts_with("impl Conv {"))
            .take(30)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The default policy with personal data redacted in every destination group.
    fn loaded_redacting() -> Loaded {
        let mut p: serde_json::Value =
            serde_json::from_str(include_str!("../../../policies/default.json")).unwrap();
        p["actions"]["groups"] = serde_json::json!({});
        let policy = Policy::parse(&p.to_string()).unwrap();
        let engine = Engine::with_config(policy.engine_config()).unwrap();
        Loaded::new(policy, engine, "test".into())
    }

    /// A JSON document in which `selector` (`messages[*].content[*].text`) reaches `value`.
    fn placed(selector: &str, value: &str) -> serde_json::Value {
        enum Step {
            Field(String),
            Index(usize),
        }
        let mut steps = Vec::new();
        for part in selector.split('.') {
            let mut pieces = part.split('[');
            let name = pieces.next().unwrap();
            if !name.is_empty() {
                steps.push(Step::Field(if name == "*" {
                    "k".into()
                } else {
                    name.into()
                }));
            }
            for idx in pieces {
                let idx = idx.trim_end_matches(']');
                steps.push(Step::Index(idx.parse().unwrap_or(0)));
            }
        }
        let mut v = serde_json::Value::String(value.into());
        for step in steps.into_iter().rev() {
            v = match step {
                Step::Field(f) => serde_json::json!({ f: v }),
                Step::Index(i) => {
                    let mut a = vec![serde_json::Value::Null; i];
                    a.push(v);
                    serde_json::Value::Array(a)
                }
            };
        }
        v
    }

    /// A host and path of `e` that the catalog classifies as `e`.
    fn address_of(e: &leakguard_providers::Endpoint) -> Option<(String, String)> {
        let host = e.hosts()[0].replace("*.", "x.");
        let path = e.paths()[0].replace("**", "x/y").replace('*', "x");
        let c = Catalog::builtin();
        let method = e.methods()[0].clone();
        (c.classify(&host, &method, &path).map(|f| f.id.as_str()) == Some(e.id.as_str()))
            .then_some((host, path))
    }

    fn inspect_at(l: &Loaded, host: &str, path: &str, body: &[u8]) -> (Inspection, Event) {
        upload(l, host, path, "application/json", body)
    }

    #[test]
    fn every_adapter_redacts_every_copy_or_blocks() {
        const CARD: &str = "4111 1111 1111 1111";
        let l = loaded_redacting();
        let catalog = Catalog::builtin();
        let mut checked = 0;
        for e in catalog.endpoints() {
            if e.body != leakguard_providers::BodyKind::Json {
                continue;
            }
            let Some((host, path)) = address_of(e) else {
                panic!(
                    "endpoint {}: its first host and path do not classify as it",
                    e.id
                );
            };
            let Some(sel) = e.text().iter().find(|s| !s.base64) else {
                continue;
            };
            let text = format!("the card is {CARD} ok");
            // A second copy in a field the adapter does not list: both are redacted.
            let mut doc = placed(&sel.to_string(), &text);
            doc["x_copy"] = text.clone().into();
            let (x, event) = inspect_at(&l, &host, &path, doc.to_string().as_bytes());
            match &x.plan {
                Plan::Rewritten { body, .. } => {
                    let out = String::from_utf8_lossy(body);
                    assert!(!out.contains(CARD), "{}: a copy survived: {out}", e.id);
                    assert_eq!(
                        out.matches("[REDACTED:credit-card-number").count(),
                        2,
                        "{}: {out}",
                        e.id
                    );
                }
                other => panic!("{}: expected a redaction, got {other:?} ({event:?})", e.id),
            }
            assert_eq!(event.unlisted_fields, ["x_copy"], "{}", e.id);
            // A copy where no string is (an object key) cannot be rewritten: blocked.
            let mut doc = placed(&sel.to_string(), &text);
            doc["x_keys"] = serde_json::json!({ CARD: true });
            let (x, event) = inspect_at(&l, &host, &path, doc.to_string().as_bytes());
            assert!(
                matches!(
                    x.plan,
                    Plan::Refuse {
                        warn_code: None,
                        ..
                    }
                ),
                "{}: {:?}",
                e.id,
                x.plan
            );
            assert!(
                event
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.contains("redaction was not complete")),
                "{}: {:?}",
                e.id,
                event.reason
            );
            checked += 1;
        }
        assert!(checked >= 18, "only {checked} adapters checked");
    }

    #[test]
    fn a_secret_in_an_unlisted_field_blocks_and_the_event_names_the_field() {
        let l = loaded();
        let body = serde_json::json!({"model": "gpt-4.1", "input": "go",
            "prompt": {"id": "pmpt_1", "variables": {"customer": format!("key {AWS_KEY}")}}});
        let (x, event) = inspect_at(
            &l,
            "api.openai.com",
            "/v1/responses",
            body.to_string().as_bytes(),
        );
        assert_eq!(x.verdict.action, Action::Block);
        assert_eq!(event.unlisted_fields, ["prompt.variables.customer"]);
        assert!(
            event.text_bytes > 2,
            "the unlisted text counts: {}",
            event.text_bytes
        );
        assert!(x.coverage_gap.is_none());
    }

    #[test]
    fn a_known_endpoint_whose_text_fields_are_empty_reports_a_coverage_gap() {
        let l = loaded();
        let body = serde_json::json!({"action": "next", "model": "gpt-5",
            "input": {"turns": [{"author": "user", "body": "please review the Q3 board notes"}]}});
        let (x, _) = inspect_at(
            &l,
            "chatgpt.com",
            "/backend-api/f/conversation",
            body.to_string().as_bytes(),
        );
        assert_eq!(
            x.coverage_gap,
            Some(vec!["input.turns[0].body".to_string()])
        );
        // A body whose listed fields hold the text has no gap.
        let (x, _) = run(
            &l,
            leakguard_testkit::chat_body(&["hello".into()]).as_bytes(),
        );
        assert!(x.coverage_gap.is_none());
    }

    #[test]
    fn code_in_json_inside_a_form_field_is_read_with_its_real_newlines() {
        let l = loaded();
        let code = sample_code();
        // Gemini's web app: f.req is JSON whose second item is a string of JSON.
        let inner = serde_json::json!([[code, 0, null], ["en"], ["c_1", "r_1"]]).to_string();
        let freq = serde_json::json!([null, inner]).to_string();
        let mut body = String::from("f.req=");
        for b in freq.bytes() {
            if b.is_ascii_alphanumeric() {
                body.push(b as char);
            } else {
                body.push_str(&format!("%{b:02X}"));
            }
        }
        body.push_str("&at=x");
        let (x, event) = upload(
            &l,
            "gemini.google.com",
            "/_/BardChatUi/data/assistant.lamda.BardFrontendService/StreamGenerate",
            "application/x-www-form-urlencoded;charset=UTF-8",
            body.as_bytes(),
        );
        assert!(
            event.rules.iter().any(|r| r.category == "source_code"),
            "{:?}",
            event.rules
        );
        assert_eq!(x.verdict.action, Action::Warn);
    }

    fn query(l: &Loaded, host: &str, path_and_query: &str) -> Option<(Inspection, Event)> {
        let info = RequestInfo {
            host: host.into(),
            method: "GET".into(),
            path: path_and_query.into(),
            content_type: None,
            client: None,
            tenant: TenantFacts::default(),
        };
        let mut event = Event::default();
        let q = path_and_query.split_once('?').map_or("", |(_, q)| q);
        inspect_query(
            l,
            &Catalog::builtin(),
            &info,
            q,
            &RequestMeta::default(),
            &mut event,
        )
        .map(|x| (x, event))
    }

    #[test]
    fn a_prompt_in_the_address_is_scanned_and_recorded() {
        let l = loaded();
        let (x, event) = query(
            &l,
            "chatgpt.com",
            &format!("/?q=use+key+{AWS_KEY}&model=gpt-4o"),
        )
        .unwrap();
        assert!(matches!(
            x.plan,
            Plan::Refuse {
                warn_code: None,
                ..
            }
        ));
        assert_eq!(event.endpoint, "url");
        assert!(event.rules.iter().any(|r| r.rule == "aws-access-key-id"));
        // A clean prompt parameter is recorded (forwarded); a query with neither a prompt
        // parameter nor a finding is not.
        let (x, event) = query(&l, "chatgpt.com", "/?q=what+is+rust").unwrap();
        assert!(matches!(x.plan, Plan::Forward));
        assert_eq!(event.text_bytes, "what is rust".len());
        assert!(query(&l, "chatgpt.com", "/assets/app.js?v=123").is_none());
        // Personal data in a query cannot be redacted: blocked.
        let (x, _) = query(
            &l,
            "www.perplexity.ai",
            "/search?q=card+4111+1111+1111+1111",
        )
        .unwrap();
        assert!(
            matches!(
                x.plan,
                Plan::Refuse {
                    warn_code: None,
                    ..
                }
            ),
            "{:?}",
            x.plan
        );
    }
}
