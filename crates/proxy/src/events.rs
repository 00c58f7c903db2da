//! Events: what the proxy tells the rest of the product about each decision. The proxy hands
//! every [`Event`] to an [`EventSink`]: the agent's (SQLite store, notifications, SIEM) when the
//! guard runs as a product, or [`EventLog`] (JSON lines in the data dir) when the proxy runs on
//! its own. Metadata and masked previews only: never a prompt or a raw value.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use leakguard_types::{Event, RuleCount};

/// Each rule's part in a verdict: the rule, its category, its action and how often it fired.
pub fn rule_counts(
    findings: &[leakguard_types::Finding],
    verdict: &leakguard_policy::Verdict,
) -> Vec<RuleCount> {
    count_rules(
        findings
            .iter()
            .zip(verdict.findings.iter().map(|d| d.action)),
    )
}

/// Findings with the action each got, counted per rule (in first-seen order).
pub fn count_rules<'a>(
    decided: impl IntoIterator<Item = (&'a leakguard_types::Finding, leakguard_types::Action)>,
) -> Vec<RuleCount> {
    let mut rules: Vec<RuleCount> = Vec::new();
    for (f, action) in decided {
        match rules.iter_mut().find(|r| r.rule == f.rule) {
            Some(r) => r.count += 1,
            None => rules.push(RuleCount {
                rule: f.rule.clone(),
                category: f.category.to_string(),
                action: action.to_string(),
                count: 1,
            }),
        }
    }
    rules
}

/// The previews an event keeps: up to 8 masked ones, or none when the policy says so.
pub fn previews(
    findings: &[leakguard_types::Finding],
    mode: leakguard_policy::PreviewMode,
) -> Vec<String> {
    match mode {
        leakguard_policy::PreviewMode::Masked => {
            findings.iter().map(|f| f.preview.clone()).take(8).collect()
        }
        leakguard_policy::PreviewMode::None => Vec::new(),
    }
}

/// A URL path as events keep it: the query left out, and every segment that looks like an id
/// (digits, hex, UUIDs, long tokens) replaced by `{id}`, so an event says which endpoint was
/// called without carrying conversation ids or anything pasted into a URL.
pub fn path_template(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = String::with_capacity(path.len());
    for (i, seg) in segments.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        if looks_like_id(seg) {
            out.push_str("{id}");
        } else {
            out.push_str(seg);
        }
    }
    out
}

/// A User-Agent as events keep it before it is scanned: id-like parts replaced, 120
/// characters at most.
pub fn client_template(ua: &str) -> String {
    let mut out = String::with_capacity(ua.len().min(120));
    for (i, word) in ua.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&path_template(word));
    }
    out.chars().take(120).collect()
}

fn looks_like_id(seg: &str) -> bool {
    if seg.starts_with("[REDACTED:") {
        return false;
    }
    let digits = seg.bytes().filter(u8::is_ascii_digit).count();
    let letters = seg.bytes().filter(u8::is_ascii_alphabetic).count();
    let separators = seg
        .bytes()
        .filter(|b| matches!(b, b'-' | b'.' | b':' | b'_'))
        .count();
    let hex = seg.len() >= 8 && seg.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    // A word with a version in it (`v1`, `gpt-4o`, `gemini-2.0-flash:generateContent`)
    // stays; a number, a hex or UUID id, or a long token does not.
    let version = seg.contains('.') && seg.len() <= 12;
    (digits >= 2 && letters == 0 && !version)
        || (hex && digits > 0)
        || (seg.len() >= 16 && digits >= 2 && letters >= 2 && separators <= 1)
        || seg.len() > 48
        || seg.bytes().any(|b| b == b'%' || b == b'=' || b == b'+')
}

/// Where the proxy's events go. `record` must not block for long: it runs on the proxy's
/// request path.
pub trait EventSink: Send + Sync + std::fmt::Debug {
    /// Takes the event: the sink keeps it without copying.
    fn record(&self, event: Event);
    /// Takes the event and returns once it survives a crash of the guard (`true`; `false`:
    /// it could not be written and waits in memory). The guard calls this before it answers a
    /// request or sends it on, so a SIGKILL right after an answer loses no event.
    fn record_durable(&self, event: Event) -> bool {
        self.record(event);
        true
    }
    /// Takes what an answer with nothing to report says (its token counts, the model that
    /// served it), which belongs on its request's event. `reply` makes it a `reply` event of
    /// its own, for a sink that keeps only events: the default records that.
    fn record_answer(
        &self,
        answer: leakguard_types::Answer,
        reply: &mut dyn FnMut(leakguard_types::Answer) -> Event,
    ) {
        self.record(reply(answer));
    }
    /// Why events cannot be kept right now (a full disk), if they cannot.
    fn failure(&self) -> Option<String> {
        None
    }
    /// Where events end up (shown by `/leakguard/health`).
    fn location(&self) -> String;
}

impl EventSink for EventLog {
    fn record(&self, event: Event) {
        EventLog::record(self, &event);
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

/// The append-only event file.
#[derive(Debug)]
pub struct EventLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl EventLog {
    /// Opens (creates, mode 0600) `dir/events.jsonl`.
    pub fn open(dir: &Path) -> std::io::Result<EventLog> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("events.jsonl");
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&path)?;
        Ok(EventLog {
            path,
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event as one line, in one write, so a crash never leaves half an event
    /// followed by a whole one.
    pub fn record(&self, event: &Event) {
        let mut line = serde_json::to_vec(event).expect("events serialise");
        line.push(b'\n');
        let mut f = self.file.lock().expect("event log");
        // An event that cannot be written must not take the request down with it.
        let _ = f.write_all(&line);
    }
}

/// A unique event id (128 bits, hex): a random per-process prefix and a counter, so ids never
/// repeat across restarts or machines and making one costs no system call.
pub fn new_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut b = [0u8; 8];
        getrandom::getrandom(&mut b).expect("the OS random source works");
        u64::from_le_bytes(b)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&prefix.to_be_bytes());
    bytes[8..].copy_from_slice(&n.to_be_bytes());
    crate::inspect::hex(&bytes)
}

/// Now, as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    leakguard_types::rfc3339_ms(now_ms())
}

/// Now, in Unix ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_the_endpoint_and_lose_ids_tokens_and_the_query() {
        for (path, want) in [
            (
                "/v1/chat/completions?api-key=sk-123",
                "/v1/chat/completions",
            ),
            (
                "/backend-api/conversation/6f1c2e4a-9b7d-4c1e-8f3a-2d5b6c7e8f90",
                "/backend-api/conversation/{id}",
            ),
            (
                "/v1beta/models/gemini-2.0-flash-001:generateContent",
                "/v1beta/models/gemini-2.0-flash-001:generateContent",
            ),
            (
                "/api/organizations/1234567/chat",
                "/api/organizations/{id}/chat",
            ),
            (
                "/v1/files/AKIAQYLPMN5HJNGY4F7A/content",
                "/v1/files/{id}/content",
            ),
            (
                "/v1/threads/thread_abc123XYZ789def456/runs",
                "/v1/threads/{id}/runs",
            ),
            (
                "/openai/deployments/gpt-4o/chat/completions",
                "/openai/deployments/gpt-4o/chat/completions",
            ),
        ] {
            assert_eq!(path_template(path), want, "{path}");
        }
        assert_eq!(
            client_template("OpenAI/Python 1.40.0 token/ghp_0123456789abcdefghijklmnopqrstuvwxyz"),
            "OpenAI/Python 1.40.0 token/{id}"
        );
    }
}
