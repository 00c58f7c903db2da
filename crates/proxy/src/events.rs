//! Events: one JSON line per intercepted request in `events.jsonl` in the data dir (until the
//! SQLite store lands). Metadata and masked previews only: never a prompt or a raw value.

use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One rule's part in a decision.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RuleCount {
    pub rule: String,
    pub category: String,
    pub action: String,
    pub count: u32,
}

/// A decision the guard made (or a fact about the guard itself, kind `policy`).
#[derive(Debug, Clone, Serialize, Default)]
pub struct Event {
    pub id: String,
    pub time: String,
    /// `request`, `websocket`, `policy`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// The path without its query string.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The output-token cap the request asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// The client's User-Agent, cut to 120 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The policy's verdict.
    pub verdict: String,
    /// What was done: `forwarded`, `redacted`, `blocked`, `warned`, `overridden`, `refused`.
    pub outcome: &'static str,
    /// The policy entry that decided.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub decided_by: String,
    pub rules: Vec<RuleCount>,
    /// Masked previews (`AKIA…7QXA`), at most 8.
    pub previews: Vec<String>,
    /// SHA-256 of the extracted prompt text, for correlating without keeping it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prompt_sha256: String,
    pub bytes: usize,
    pub text_bytes: usize,
    pub est_tokens: usize,
    pub latency_us: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub binary_parts: usize,
    /// Why a request was refused without a finding (fail-closed), or a policy load error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// For `warned`: the code the user can allow once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

/// Each rule's part in a verdict: the rule, its category, its action and how often it fired.
pub fn rule_counts(
    findings: &[leakguard_types::Finding],
    verdict: &leakguard_policy::Verdict,
) -> Vec<RuleCount> {
    let mut rules: Vec<RuleCount> = Vec::new();
    for (f, d) in findings.iter().zip(&verdict.findings) {
        match rules.iter_mut().find(|r| r.rule == f.rule) {
            Some(r) => r.count += 1,
            None => rules.push(RuleCount {
                rule: f.rule.clone(),
                category: f.category.to_string(),
                action: d.action.to_string(),
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

fn is_zero(n: &usize) -> bool {
    *n == 0
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
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}
