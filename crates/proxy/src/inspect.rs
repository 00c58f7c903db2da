//! The scan-decide step for one request body: extract the provider's text segments, scan them,
//! let the policy decide, and work out what to send. No I/O: the handler does that.

use crate::events::{rule_counts, Event};
use leakguard_detect::{redact, Engine, RedactStyle};
use leakguard_policy::{Effective, Policy, RequestMeta, Verdict};
use leakguard_providers::{extract, refusal, rewrite, Catalog, ErrorShape, Refusal};
use leakguard_types::{Action, Finding};
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
    /// SHA-256 of the destination host and all extracted text: what a warn override is bound to.
    pub content_hash: [u8; 32],
    pub event: Event,
}

/// Inspects a decoded body. `Err` carries a fail-closed refusal with its reason.
pub fn inspect(
    loaded: &Loaded,
    catalog: &Catalog,
    info: &RequestInfo,
    body: &[u8],
    meta: &RequestMeta,
) -> Result<Inspection, (Refusal, String)> {
    let path_only = info.path.split('?').next().unwrap_or("");
    let endpoint = catalog.classify(&info.host, &info.method, &info.path);
    let shape = endpoint.map_or_else(|| catalog.error_shape_for_host(&info.host), |e| e.error);
    let extracted =
        extract(endpoint, path_only, info.content_type.as_deref(), body).map_err(|e| {
            let msg = format!(
                "Blocked by Leakguard: the request to {} could not be inspected ({e}).",
                info.host
            );
            (
                refusal(shape, 400, "leakguard_fail_closed", &msg),
                e.to_string(),
            )
        })?;

    // Scan every segment; findings keep the index of their segment.
    let mut findings: Vec<Finding> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    for (i, seg) in extracted.segments.iter().enumerate() {
        for f in loaded.engine.scan(&seg.text) {
            findings.push(f);
            owner.push(i);
        }
    }
    if extracted.binary_body {
        for f in loaded.engine.scan_bytes(body) {
            findings.push(f);
            owner.push(usize::MAX);
        }
    }
    let verdict = loaded.effective.decide(&findings, Some(&info.host), meta);

    let mut hasher = Sha256::new();
    hasher.update(info.host.as_bytes());
    for s in &extracted.segments {
        hasher.update(b"\n");
        hasher.update(s.text.as_bytes());
    }
    if extracted.binary_body {
        hasher.update(body);
    }
    let content_hash: [u8; 32] = hasher.finalize().into();
    let text_bytes = extracted.text_bytes();

    let mut event = Event {
        kind: "request".into(),
        host: info.host.clone(),
        method: info.method.clone(),
        path: path_only.to_string(),
        endpoint: extracted.endpoint.clone(),
        provider: extracted.provider.clone(),
        model: extracted.model.clone(),
        max_tokens: extracted.max_tokens,
        client: info.client.as_ref().map(|c| c.chars().take(120).collect()),
        group: verdict.group.clone(),
        verdict: verdict.action.to_string(),
        decided_by: verdict.by.clone(),
        rules: rule_counts(&findings, &verdict),
        previews: crate::events::previews(&findings, loaded.policy().events.previews),
        prompt_sha256: hex(&content_hash),
        bytes: body.len(),
        text_bytes,
        est_tokens: text_bytes.div_ceil(4),
        binary_parts: extracted.binary_parts,
        policy: Some(loaded.label.clone()),
        ..Event::default()
    };

    if loaded.policy().events.keep_redacted_prompt {
        event.redacted_prompt = Some(redacted_prompt(&extracted.segments, &findings, &owner));
    }

    let message = |template: &str| -> String {
        let top = findings
            .iter()
            .zip(&verdict.findings)
            .max_by_key(|(f, d)| (d.action, f.severity))
            .map(|(f, _)| f);
        let mut m = template
            .replace(
                "{category}",
                &top.map_or_else(|| "content".to_string(), |f| f.category.to_string()),
            )
            .replace("{rule}", top.map_or("policy", |f| f.rule.as_str()))
            .replace("{destination}", &info.host);
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
        Action::Allow | Action::Audit => {
            event.outcome = "forwarded".into();
            Plan::Forward
        }
        Action::Redact => {
            let mut replacements = Vec::new();
            let mut restore = Vec::new();
            // Findings in a binary body cannot be replaced in place: those requests are blocked.
            let unrewritable = extracted.binary_body && owner.contains(&usize::MAX);
            for (i, seg) in extracted.segments.iter().enumerate() {
                let to_redact: Vec<Finding> = findings
                    .iter()
                    .zip(&verdict.findings)
                    .zip(&owner)
                    .filter(|((_, d), o)| **o == i && d.action == Action::Redact)
                    .map(|((f, _), _)| f.clone())
                    .collect();
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
                rewrite(&extracted, body, &replacements).ok()
            };
            match rewritten {
                Some(b) => {
                    event.outcome = "redacted".into();
                    Plan::Rewritten { body: b, restore }
                }
                None => {
                    event.outcome = "blocked".into();
                    event.reason = Some("the body cannot be redacted, so it was blocked".into());
                    blocked()
                }
            }
        }
        Action::Warn => {
            let code = hex(&content_hash[..6]);
            event.outcome = "warned".into();
            event.override_code = Some(code.clone());
            let m = format!(
                "{} To send it anyway, allow it once: leakguard allow {code} --reason \"…\"",
                message(&loaded.policy().messages.warn)
            );
            Plan::Refuse {
                refusal: refusal(shape, 403, "leakguard_warn", &m),
                warn_code: Some(code),
            }
        }
        Action::Block => {
            event.outcome = "blocked".into();
            blocked()
        }
    };
    Ok(Inspection {
        plan,
        verdict,
        content_hash,
        event,
    })
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
