//! The one surface every front end calls: [`Control`]. The running [`crate::Agent`] implements
//! it in process; [`crate::control::Client`] implements it over the local control channel, so
//! the desktop app and the CLI talk to a service-run guard exactly as to one they started.
//!
//! Every call answers `Result<T, ControlError>`; a `ControlError` is the `{code, message}` the
//! app shows, with a message that says what to do.

use leakguard_policy::Policy;
use leakguard_store::{Filter, Page, Stats, StoredEvent, TargetState, UsageRow};
use leakguard_types::{Action, Event};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

/// The future every [`Control`] call returns (boxed, so `dyn Control` works for both the
/// in-process agent and the client).
pub type Reply<'a, T> = Pin<Box<dyn Future<Output = Result<T, ControlError>> + Send + 'a>>;

/// What went wrong, for a person: a stable code and a message that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ControlError {
    pub code: String,
    pub message: String,
}

impl ControlError {
    pub fn new(code: &str, message: impl Into<String>) -> ControlError {
        ControlError {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

impl From<leakguard_store::StoreError> for ControlError {
    fn from(e: leakguard_store::StoreError) -> ControlError {
        ControlError::new("store", format!("the event store cannot be read: {e}"))
    }
}

/// The calls. Each is one request to the guard; none holds a lock across calls.
pub trait Control: Send + Sync {
    /// Protection status with its reasons, counters, versions.
    fn health(&self) -> Reply<'_, Health>;
    /// Lets the warned request with `code` through once (a justification is required).
    fn allow_once(&self, code: String, reason: String) -> Reply<'_, Allowed>;
    /// The decision for a text as if sent to `destination`, by the same engine and policy;
    /// nothing is sent or recorded.
    fn explain(&self, text: String, destination: Option<String>) -> Reply<'_, Explanation>;
    /// One page of events, newest first.
    fn events(&self, filter: Filter) -> Reply<'_, Page>;
    /// One event by id.
    fn event(&self, id: String) -> Reply<'_, Option<StoredEvent>>;
    /// Counts over time for the charts.
    fn stats(&self, query: StatsQuery) -> Reply<'_, Stats>;
    /// Requests, bytes and tokens per day, host and client (the shadow-AI view).
    fn usage(&self, since_day: String) -> Reply<'_, Vec<UsageRow>>;
    /// Writes the events `filter` selects to `path` (0600), as JSON lines or CSV.
    fn export(&self, request: ExportRequest) -> Reply<'_, Exported>;
    /// The policy in force, where it came from, its signature, reloads and rejected updates.
    fn policy_in_force(&self) -> Reply<'_, PolicyInForce>;
    /// Pauses enforcement for `minutes` (0 resumes), where the policy allows it, or for the
    /// minutes an unlock code from IT names (`code`).
    fn pause(&self, minutes: u32, code: Option<String>) -> Reply<'_, PauseState>;
    /// Stops the guard, where the policy allows it (`controls.quit`), or with an unlock code
    /// from IT for this device. The stop is recorded; the guard then exits.
    fn stop(&self, code: Option<String>) -> Reply<'_, Stopping>;
    /// Records that an event was a false positive.
    fn report_false_positive(&self, event_id: String) -> Reply<'_, ()>;
    /// What rules are, for people: description, category, severity and how to avoid a finding
    /// (unknown ids are left out).
    fn describe_rules(&self, ids: Vec<String>) -> Reply<'_, Vec<RuleDescription>>;
    /// Live events as they are recorded (those the filter accepts).
    fn subscribe(&self, filter: Subscribe) -> Reply<'_, Subscription>;
}

/// Whether the device is protected right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protection {
    Protected,
    /// A timed pause the policy allows is running.
    Paused,
    /// Something the user or IT must fix: see the reasons.
    Degraded,
}

/// What `health` answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    pub protection: Protection,
    /// Why not `protected`, each with what to do.
    pub reasons: Vec<String>,
    pub version: String,
    /// This device's name, as its events carry it (what IT needs to make an unlock code).
    #[serde(default)]
    pub device: String,
    /// RFC 3339 start time and seconds since.
    pub started: String,
    pub uptime_s: u64,
    /// The proxy's address and its PAC URL.
    pub listen: String,
    pub pac_url: String,
    /// The device CA certificate, and the destinations it cannot vouch for.
    pub ca_cert: String,
    pub ca_uncovered: Vec<String>,
    /// The label of the policy in force.
    pub policy: String,
    /// RFC 3339 end of the running pause.
    pub paused_until: Option<String>,
    /// Requests, forwarded, blocked… since start.
    pub counters: serde_json::Value,
    pub events_db: String,
    /// Delivery state per SIEM target.
    pub siem: Vec<TargetState>,
    /// The control channel (socket path or address).
    pub control: String,
    /// Each inspected destination group reached through the guard's own routes, as of the
    /// last deployment check (empty until the first has run).
    #[serde(default)]
    pub destinations: Vec<Reach>,
}

/// Whether a destination group answers through the guard (one of its hosts, port 443, the
/// guard's routes and upstream TLS roots).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reach {
    pub group: String,
    pub host: String,
    pub ok: bool,
    /// What failed and what to do; empty when it answered.
    pub detail: String,
    /// RFC 3339 time of the check.
    pub checked: String,
}

/// A rule as the app explains it next to an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleDescription {
    pub rule: String,
    pub description: String,
    pub category: String,
    pub severity: String,
    /// How to send the prompt without this finding (`policies/advice.json`, by category).
    pub advice: String,
}

/// The advice for a category (`policies/advice.json`).
pub fn advice_for(category: &str) -> String {
    static ADVICE: std::sync::OnceLock<serde_json::Map<String, serde_json::Value>> =
        std::sync::OnceLock::new();
    ADVICE
        .get_or_init(|| {
            serde_json::from_str(include_str!("../../../policies/advice.json"))
                .expect("policies/advice.json is a JSON object (tested)")
        })
        .get(category)
        .and_then(|v| v.as_str())
        .unwrap_or("Remove what was found and send the prompt again.")
        .to_string()
}

/// `allow_once`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowed {
    pub code: String,
    pub expires_in_s: u64,
}

/// One finding as the Try-it panel shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExplainedFinding {
    pub rule: String,
    /// The rule's description, for people.
    pub description: String,
    pub category: String,
    pub severity: String,
    /// Byte offsets into the text, and the same in UTF-16 code units (for a web view).
    pub start: usize,
    pub end: usize,
    pub utf16_start: usize,
    pub utf16_end: usize,
    pub preview: String,
    pub action: Action,
    /// The policy entry that gave the action.
    pub by: String,
}

/// `explain`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Explanation {
    pub policy: String,
    pub destination: Option<String>,
    pub group: Option<String>,
    pub verdict: Action,
    pub by: String,
    pub findings: Vec<ExplainedFinding>,
    /// The text with each finding the verdict would redact (or block) replaced by its
    /// placeholder.
    pub redacted: String,
}

/// The window and bucket of `stats`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct StatsQuery {
    pub since_ms: i64,
    pub until_ms: i64,
    pub bucket_seconds: i64,
}

/// How to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

/// What `export` writes, and where.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportRequest {
    pub filter: Filter,
    pub format: ExportFormat,
    /// An absolute path the agent can write (it runs as the same user).
    pub path: String,
}

/// `export`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exported {
    pub events: u64,
    pub path: String,
}

/// A policy update that was refused (the last good policy stayed in force).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rejected {
    pub time: String,
    pub code: String,
    pub message: String,
}

/// The signature state of the policy in force.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Signature {
    /// A key is pinned on this device, so the policy must be signed with it.
    pub required: bool,
    pub key: Option<String>,
    /// The signature verified (always true when required: an unsigned policy does not load).
    pub verified: bool,
}

/// `policy_in_force`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyInForce {
    pub label: String,
    pub origin: crate::policy::Origin,
    pub managed_path: Option<String>,
    pub local_path: Option<String>,
    pub signature: Signature,
    /// Managed or pulled: the user cannot change it.
    pub read_only: bool,
    /// RFC 3339 time it was put in force, and how many reloads since start.
    pub loaded_at: String,
    pub reloads: u64,
    /// The newest refused updates (at most 20), newest last.
    pub rejected: Vec<Rejected>,
    /// The policy (the managed one, or the only one) and the local one on top.
    pub policy: Policy,
    pub local: Option<Policy>,
}

/// `stop`'s answer: the guard stops after answering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopping {
    /// Why it was allowed (`controls.quit: allow`, or the unlock code's nonce).
    pub allowed_by: String,
}

/// `pause`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseState {
    /// RFC 3339 end of the pause; `None`: not paused.
    pub paused_until: Option<String>,
    /// The longest pause the policy allows (0: none).
    pub max_minutes: u32,
}

/// Which live events a subscriber wants. Empty lists mean any.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Subscribe {
    pub kinds: Vec<String>,
    pub outcomes: Vec<String>,
}

impl Subscribe {
    pub fn accepts(&self, e: &Event) -> bool {
        (self.kinds.is_empty() || self.kinds.iter().any(|k| e.kind == k.as_str()))
            && (self.outcomes.is_empty() || self.outcomes.iter().any(|o| e.outcome == o.as_str()))
    }
}

/// Live events. Ends when the guard stops (or the channel to it closes).
#[derive(Debug)]
pub struct Subscription {
    rx: tokio::sync::mpsc::Receiver<Event>,
}

impl Subscription {
    pub(crate) fn new(rx: tokio::sync::mpsc::Receiver<Event>) -> Subscription {
        Subscription { rx }
    }

    /// The next event; `None` once the guard is gone.
    pub async fn next(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// The next event if one is ready (for a body that streams them).
    pub fn poll_next(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_category_has_advice() {
        let fallback = super::advice_for("no-such-category");
        for c in leakguard_types::Category::ALL {
            let a = super::advice_for(c.as_str());
            assert!(a != fallback && a.len() > 40, "{c}: {a}");
        }
    }
}
