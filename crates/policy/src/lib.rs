//! The policy IT writes: one JSON file with a schema (`policies/schema.json`, generated from
//! these types), validated with errors that name the JSON path, line and column, and a pure,
//! fast decision engine: [`Policy::decide`] turns findings, a destination and request facts
//! into a [`Verdict`] that says which entry decided.
//!
//! It will not do I/O beyond parsing the text it is given: reading files, verifying
//! signatures, merging managed over local policies and hot reload belong to the loader that
//! arrives with the rest of the policy issue.
//!
//! Key decision: unknown fields are errors everywhere, so a typo (`"acitons"`, `"blok"`) fails
//! the load instead of silently weakening protection.

pub mod signing;

use leakguard_types::{Action, Category, Finding, Severity};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The policy file.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The schema, for editors (`./schema.json`); ignored.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Format version; this build reads version 1.
    pub version: u32,
    /// A name for people (shown in the app and in events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where prompts go: host patterns in groups, each with a mode.
    #[serde(default)]
    pub destinations: Vec<DestinationGroup>,
    /// Detection rules: packs, custom rules, dictionaries, fingerprints.
    #[serde(default)]
    pub rules: RulesSection,
    /// What to do about findings.
    #[serde(default)]
    pub actions: Actions,
    /// What users are told.
    #[serde(default)]
    pub messages: Messages,
    /// API governance per destination group (by group name): token caps, pinned models,
    /// rate limits.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub api: BTreeMap<String, ApiRules>,
    /// The event record: retention, previews, SIEM targets.
    #[serde(default)]
    pub events: EventsSettings,
    /// Which verdicts notify the user, and how bursts are coalesced.
    #[serde(default)]
    pub notifications: Notifications,
    /// Time-bounded exemptions.
    #[serde(default)]
    pub exceptions: Vec<Exception>,
    /// What the user may do to the guard on this device.
    #[serde(default, skip_serializing_if = "Controls::is_default")]
    pub controls: Controls,
    /// Sample texts with the verdict this policy must give; a policy whose own tests fail is
    /// rejected.
    #[serde(default)]
    pub tests: Vec<PolicyTest>,
}

/// A group of destinations (consumer chat, enterprise API, code assistants…).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationGroup {
    /// Group name, used by `actions.groups` and `exceptions`.
    pub name: String,
    /// Host patterns: `chatgpt.com` (the host and its subdomains) or `*.openai.azure.com`
    /// (subdomains only).
    pub hosts: Vec<String>,
    #[serde(default)]
    pub mode: Mode,
    /// What happens to a request that cannot be inspected (malformed, undecodable, a
    /// compression bomb): `block` (default) or `allow` (forwarded unscanned, and recorded).
    #[serde(default, skip_serializing_if = "FailMode::is_block")]
    pub fail_mode: FailMode,
    /// Largest request body inspected for this group, in bytes (default: the guard's
    /// `--max-body`, 32 MiB). Bigger bodies are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<u64>,
    /// Put the original values back where the reply echoes a redaction placeholder (also in
    /// SSE streams), so the answer reads right; the provider still never sees them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restore_redacted: bool,
    /// Which accounts and organisations may be used: prompts from personal accounts or other
    /// companies' tenants are blocked.
    #[serde(default, skip_serializing_if = "Tenant::is_empty")]
    pub tenant: Tenant,
}

/// Tenant rules of a destination group. An empty list allows any; a non-empty one requires
/// the fact to be present and listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// ChatGPT web: allowed email domains of the signed-in account (from the login JWT's
    /// `https://api.openai.com/profile` email claim). Logged-out use is refused too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chatgpt_account_domains: Vec<String>,
    /// Claude web: allowed organisation ids (from `/api/organizations/{id}/…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claude_organizations: Vec<String>,
    /// OpenAI API: required `OpenAI-Organization` header values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub openai_organizations: Vec<String>,
    /// OpenAI API: required `OpenAI-Project` header values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub openai_projects: Vec<String>,
}

impl Tenant {
    fn is_empty(&self) -> bool {
        *self == Tenant::default()
    }
}

/// What the guard learnt about the tenant of a request (pure data; the guard extracts it).
#[derive(Debug, Clone, Default)]
pub struct TenantFacts {
    /// `chatgpt-web`, `claude-web`, `openai`, … (the endpoint catalog's provider).
    pub provider: String,
    pub account_email: Option<String>,
    pub organization: Option<String>,
    pub project: Option<String>,
}

/// What happens to a request the guard cannot inspect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Refuse it with the reason (fail closed).
    #[default]
    Block,
    /// Forward it unscanned and record that it was not inspected.
    Allow,
}

impl FailMode {
    fn is_block(&self) -> bool {
        *self == FailMode::Block
    }
}

/// API governance for one destination group.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiRules {
    /// Requests asking for more output tokens than this are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Refuse requests that do not say how many output tokens they want.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_max_tokens: bool,
    /// Allowed models (`*` matches any run of characters: `gpt-4o-2024-*`). Empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// Requests per minute through the guard to this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    /// Estimated input tokens per minute (4 bytes of text ≈ 1 token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u64>,
}

/// Why an API request breaks the group's API rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiViolation {
    /// HTTP status for the refusal.
    pub status: u16,
    /// Stable code, e.g. `leakguard_model_not_allowed`.
    pub code: &'static str,
    pub message: String,
    /// The policy entry, e.g. `api.enterprise-api.models`.
    pub by: String,
}

/// `*` matches any run of characters; everything else literally (ASCII case-insensitive).
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some((c, rest)) => {
                t.first().is_some_and(|x| x.eq_ignore_ascii_case(c)) && go(rest, &t[1..])
            }
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// How a destination group is treated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Decrypt, scan and apply actions.
    #[default]
    Inspect,
    /// Kill switch: block every request.
    BlockAll,
    /// Not decrypted, not scanned.
    Allow,
}

/// The `rules` section: what the detection engine loads.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesSection {
    /// Built-in packs to turn off, e.g. `["secrets-generic"]`.
    #[serde(default)]
    pub disable_packs: Vec<String>,
    /// Single rules to turn off, by id.
    #[serde(default)]
    pub disable: Vec<String>,
    /// Extra rules, with the fields of `policies/rules/*.toml` (docs/rules.md).
    #[serde(default)]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub custom: Vec<leakguard_detect::spec::RuleSpec>,
    /// Organisation dictionaries: codenames, customers, internal host suffixes.
    #[serde(default)]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub dictionaries: Vec<leakguard_detect::spec::DictionarySpec>,
    /// Company names for the `copyright-header` rule.
    #[serde(default)]
    pub organisation_names: Vec<String>,
    /// Least lines for a `source-code` finding (0 turns the code detector off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_min_lines: Option<u32>,
    /// Findings below this confidence are dropped (default 0.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_confidence: Option<f32>,
    /// Fingerprint indexes of the organisation's code (docs/fingerprints.md).
    #[serde(default)]
    pub fingerprints: Vec<FingerprintEntry>,
}

/// One fingerprint index. Relative paths are relative to the policy file.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FingerprintEntry {
    /// The index file made by `leakguard fingerprint build`.
    pub index: String,
    /// File holding the salt the index was built with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt_file: Option<String>,
    /// The salt itself (keep such a policy as private as a salt file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// Least kept fingerprints found (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_matches: Option<usize>,
    /// Least fraction of the text's kept fingerprints found (default 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_fraction: Option<f32>,
}

/// The `actions` section. Precedence, most specific first (docs/policy.md):
/// 1. the destination group's mode (`block_all`, `allow`);
/// 2. `groups.<group>.rules.<rule>`, 3. `rules.<rule>`,
/// 4. `groups.<group>.categories.<category>`, 5. `categories.<category>`,
/// 6. the built-in default for the category and severity.
///
/// A rule key ending in `*` matches ids by prefix (`fingerprint:*`). An exception that applies
/// turns a finding's action into `audit`. The request's action is the strictest over findings.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Actions {
    #[serde(default)]
    pub categories: BTreeMap<Category, Action>,
    #[serde(default)]
    pub rules: BTreeMap<String, Action>,
    #[serde(default)]
    pub groups: BTreeMap<String, GroupActions>,
}

/// Actions for one destination group.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupActions {
    #[serde(default)]
    pub categories: BTreeMap<Category, Action>,
    #[serde(default)]
    pub rules: BTreeMap<String, Action>,
}

/// The `events` section.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EventsSettings {
    /// Events older than this many days are deleted.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// At most this many events are kept (the oldest go first).
    #[serde(default = "default_max_events")]
    pub max_events: u64,
    /// What an event keeps of a finding: `masked` (`AKIA…4F7A`, default) or `none`.
    #[serde(default)]
    pub previews: PreviewMode,
    /// Keep the *redacted* prompt text (placeholders in place of findings) with the event.
    /// Off by default; the raw prompt is never kept.
    #[serde(default)]
    pub keep_redacted_prompt: bool,
    /// Where events are forwarded (the company's SIEM).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub siem: Vec<SiemTarget>,
}

fn default_retention_days() -> u32 {
    90
}

fn default_max_events() -> u64 {
    1_000_000
}

impl Default for EventsSettings {
    fn default() -> Self {
        EventsSettings {
            retention_days: default_retention_days(),
            max_events: default_max_events(),
            previews: PreviewMode::default(),
            keep_redacted_prompt: false,
            siem: Vec::new(),
        }
    }
}

/// What an event keeps of a finding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreviewMode {
    /// The masked preview (`AKIA…4F7A`, `j…@acme.com`).
    #[default]
    Masked,
    /// Rule ids and counts only.
    None,
}

/// One SIEM destination.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SiemTarget {
    pub kind: SiemKind,
    /// `host:port` for syslog, an `https://` URL for HTTP kinds.
    pub address: String,
    /// File holding the bearer token (HEC token, webhook secret), read at load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
    /// Extra trusted root (PEM) for TLS to this target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
}

/// How events reach a SIEM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SiemKind {
    /// RFC 5424 syslog over UDP.
    SyslogUdp,
    /// RFC 5424 syslog over TCP (octet-counted framing).
    SyslogTcp,
    /// RFC 5424 syslog over TLS.
    SyslogTls,
    /// Splunk HTTP Event Collector.
    SplunkHec,
    /// JSON POST to any HTTPS endpoint.
    Webhook,
    /// OpenTelemetry logs over OTLP/HTTP.
    OtlpHttp,
}

/// The `notifications` section.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// Verdicts that show a desktop notification (default: block, warn, redact).
    #[serde(default = "default_notify_on")]
    pub on: Vec<Action>,
    /// A burst within this many seconds becomes one summary notification.
    #[serde(default = "default_coalesce_seconds")]
    pub coalesce_seconds: u32,
}

fn default_notify_on() -> Vec<Action> {
    vec![Action::Block, Action::Warn, Action::Redact]
}

fn default_coalesce_seconds() -> u32 {
    10
}

impl Default for Notifications {
    fn default() -> Self {
        Notifications {
            on: default_notify_on(),
            coalesce_seconds: default_coalesce_seconds(),
        }
    }
}

/// What users are told when a request is blocked or warned about.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Messages {
    /// Shown on block: `{rule}`, `{category}`, `{destination}` are filled in.
    pub block: String,
    /// Shown on warn.
    pub warn: String,
    /// The company's AI policy page, linked from every message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_url: Option<String>,
}

impl Default for Messages {
    fn default() -> Self {
        Messages {
            block: "Blocked by Leakguard: {category} ({rule}) in a prompt to {destination}.".into(),
            warn: "Leakguard: {category} ({rule}) in a prompt to {destination}. Send it anyway only if you are sure.".into(),
            policy_url: None,
        }
    }
}

/// A time-bounded exemption. Every field given must match; an empty list matches anything.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// Why it exists (shown in `policy explain` and recorded with events).
    pub reason: String,
    /// Last day it applies, `YYYY-MM-DD` (UTC, inclusive).
    pub expires: String,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// Destination group names.
    #[serde(default)]
    pub destinations: Vec<String>,
    /// Rule ids (prefix with `*` as in `actions.rules`).
    #[serde(default)]
    pub rules: Vec<String>,
}

/// What the user may do to the guard (the app's tray menu and `leakguard pause`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Controls {
    /// Longest timed pause a user may take, in minutes (0, the default: no pause). While
    /// paused, findings are recorded (verdict `audit`, decided by `controls.pause_minutes`)
    /// instead of blocked, warned or redacted; `block_all` destinations stay blocked. Each
    /// pause and its end are recorded and forwarded.
    #[serde(default)]
    pub pause_minutes: u32,
}

impl Controls {
    fn is_default(&self) -> bool {
        *self == Controls::default()
    }
}

/// A sample the policy must decide as stated.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyTest {
    pub text: String,
    /// Host the sample is sent to (default: none, i.e. the defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    pub expect: Action,
}

/// Facts about a request that exceptions and decisions may use. Time is passed in.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub user: Option<String>,
    pub groups: Vec<String>,
    /// Days since 1970-01-01 (UTC), for exception expiry.
    pub today: u32,
    /// The user paused the guard (within `controls.pause_minutes`): findings are audited.
    pub paused: bool,
}

/// Why a finding got its action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub rule: String,
    pub action: Action,
    /// The policy entry that decided, e.g. `actions.groups.consumer-chat.categories.source_code`.
    pub by: String,
}

/// The outcome for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub action: Action,
    /// The entry that decided the request's action.
    pub by: String,
    /// The destination group, if the host is in one.
    pub group: Option<String>,
    pub findings: Vec<Decision>,
}

/// Why a policy text was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not valid policy JSON; `path` is the JSON path of the offending value.
    #[error("{line}:{column}: {path}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("`version` is {0}; this build reads version 1")]
    Version(u32),
    #[error("{field}: {message}")]
    Field { field: String, message: String },
    #[error("the policy's own test #{index} failed: expected {expected} for {text:?}, got {got} (decided by {by})")]
    TestFailed {
        index: usize,
        text: String,
        expected: Action,
        got: Action,
        by: String,
    },
}

/// Turns serde's message into one that says what to do.
fn hint(message: &str) -> String {
    // "unknown variant `blok`, expected one of `allow`, `audit`, …"
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        if let Some((given, tail)) = rest.split_once('`') {
            let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
            let kind = if expected.contains(&"block") {
                "an action"
            } else if expected.contains(&"source_code") {
                "a category"
            } else if expected.contains(&"block_all") {
                "a mode"
            } else {
                "a valid value"
            };
            let list = match expected.split_last() {
                Some((last, head)) if !head.is_empty() => format!("{} or {last}", head.join(", ")),
                _ => expected.join(", "),
            };
            return format!("`{given}` is not {kind}; expected {list}");
        }
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((given, tail)) = rest.split_once('`') {
            let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
            return format!(
                "`{given}` is not a field here (a typo?); expected one of {}",
                expected.join(", ")
            );
        }
    }
    message.to_string()
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
pub fn days_from_date(date: &str) -> Option<u32> {
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    u32::try_from(era * 146_097 + doe - 719_468).ok()
}

fn rule_key_matches(key: &str, rule: &str) -> bool {
    match key.strip_suffix('*') {
        Some(prefix) => rule.starts_with(prefix),
        None => key == rule,
    }
}

/// The most specific matching key of a rule map: an exact id beats the longest prefix.
fn lookup_rule<'a>(map: &'a BTreeMap<String, Action>, rule: &str) -> Option<(&'a str, Action)> {
    if let Some((k, a)) = map.get_key_value(rule) {
        return Some((k, *a));
    }
    map.iter()
        .filter(|(k, _)| rule_key_matches(k, rule))
        .max_by_key(|(k, _)| k.len())
        .map(|(k, a)| (k.as_str(), *a))
}

/// What a finding calls for when the policy says nothing about it.
pub fn default_action(category: Category, severity: Severity) -> Action {
    use Severity::*;
    match (category, severity) {
        (_, Info) => Action::Audit,
        (Category::Secret | Category::Custom, Critical | High) => Action::Block,
        (Category::Secret | Category::Custom, Medium) => Action::Warn,
        (Category::Pii, Critical | High | Medium) => Action::Redact,
        (Category::SourceCode, _) => Action::Warn,
        (Category::Classified, Critical | High) => Action::Block,
        (Category::Classified, Medium) => Action::Warn,
        (_, Low) => Action::Audit,
    }
}

impl Policy {
    /// Parses and validates a policy, then runs its own tests with `scan` (the detection
    /// engine built from this policy's `rules`).
    ///
    /// # Errors
    /// JSON errors with path, line and column; a wrong version; bad host patterns, unknown
    /// groups or dates; a failing own test.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let mut policy: Policy = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            PolicyError::Invalid {
                path,
                line: inner.line(),
                column: inner.column(),
                message: hint(
                    inner
                        .to_string()
                        .split(" at line ")
                        .next()
                        .unwrap_or_default(),
                ),
            }
        })?;
        policy.validate()?;
        for g in &mut policy.destinations {
            for h in &mut g.hosts {
                h.make_ascii_lowercase();
            }
        }
        Ok(policy)
    }

    fn validate(&self) -> Result<(), PolicyError> {
        if self.version != 1 {
            return Err(PolicyError::Version(self.version));
        }
        let field = |field: String, message: String| PolicyError::Field { field, message };
        let mut names = std::collections::BTreeSet::new();
        for (i, g) in self.destinations.iter().enumerate() {
            if !names.insert(g.name.as_str()) {
                return Err(field(
                    format!("destinations[{i}].name"),
                    format!("`{}` is used twice", g.name),
                ));
            }
            for (j, h) in g.hosts.iter().enumerate() {
                let bare = h.strip_prefix("*.").unwrap_or(h);
                if bare.is_empty()
                    || !bare.contains('.')
                    || bare.contains('*')
                    || bare.contains('/')
                    || bare.contains(':')
                {
                    return Err(field(
                        format!("destinations[{i}].hosts[{j}]"),
                        format!(
                            "`{h}` is not a host pattern; write `example.com` or `*.example.com`"
                        ),
                    ));
                }
            }
        }
        for g in self.actions.groups.keys() {
            if !names.contains(g.as_str()) {
                return Err(field(
                    format!("actions.groups.{g}"),
                    format!(
                        "no destination group is named `{g}`; expected one of {:?}",
                        names
                    ),
                ));
            }
        }
        for g in self.api.keys() {
            if !names.contains(g.as_str()) {
                return Err(field(
                    format!("api.{g}"),
                    format!("no destination group is named `{g}`; expected one of {names:?}"),
                ));
            }
        }
        for (i, t) in self.events.siem.iter().enumerate() {
            let ok = match t.kind {
                SiemKind::SyslogUdp | SiemKind::SyslogTcp | SiemKind::SyslogTls => t
                    .address
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()),
                SiemKind::SplunkHec | SiemKind::Webhook | SiemKind::OtlpHttp => {
                    t.address.starts_with("https://") || t.address.starts_with("http://127.0.0.1")
                }
            };
            if !ok {
                return Err(field(
                    format!("events.siem[{i}].address"),
                    format!(
                        "`{}` does not fit {:?}: syslog targets are host:port, HTTP targets https:// URLs",
                        t.address, t.kind
                    ),
                ));
            }
        }
        if self.events.retention_days == 0 || self.events.max_events == 0 {
            return Err(field(
                "events".into(),
                "retention_days and max_events must be at least 1".into(),
            ));
        }
        for (i, e) in self.exceptions.iter().enumerate() {
            if days_from_date(&e.expires).is_none() {
                return Err(field(
                    format!("exceptions[{i}].expires"),
                    format!("`{}` is not a date; write YYYY-MM-DD", e.expires),
                ));
            }
            if e.reason.trim().is_empty() {
                return Err(field(
                    format!("exceptions[{i}].reason"),
                    "every exception needs a reason".into(),
                ));
            }
        }
        Ok(())
    }

    /// Checks a request against the `api` rules of its destination group (the stateless ones:
    /// token caps and pinned models; rate limits are counted by the guard).
    pub fn check_api(
        &self,
        host: &str,
        model: Option<&str>,
        max_tokens: Option<u64>,
    ) -> Result<(), ApiViolation> {
        let Some(group) = self.group_of(host) else {
            return Ok(());
        };
        let Some(rules) = self.api.get(&group.name) else {
            return Ok(());
        };
        let g = &group.name;
        if !rules.models.is_empty() {
            let allowed = model.is_some_and(|m| rules.models.iter().any(|p| glob_matches(p, m)));
            if !allowed {
                return Err(ApiViolation {
                    status: 403,
                    code: "leakguard_model_not_allowed",
                    message: format!(
                        "Blocked by Leakguard: model `{}` is not allowed for {host}; allowed: {}.",
                        model.unwrap_or("(none given)"),
                        rules.models.join(", ")
                    ),
                    by: format!("api.{g}.models"),
                });
            }
        }
        match (max_tokens, rules.max_tokens) {
            (Some(asked), Some(cap)) if asked > cap => Err(ApiViolation {
                status: 400,
                code: "leakguard_max_tokens",
                message: format!(
                    "Blocked by Leakguard: max_tokens {asked} is over the cap of {cap} for {host}."
                ),
                by: format!("api.{g}.max_tokens"),
            }),
            (None, _) if rules.require_max_tokens => Err(ApiViolation {
                status: 400,
                code: "leakguard_max_tokens_required",
                message: format!("Blocked by Leakguard: requests to {host} must set max_tokens."),
                by: format!("api.{g}.require_max_tokens"),
            }),
            _ => Ok(()),
        }
    }

    /// Checks the tenant rules of the host's group against what the request shows.
    pub fn check_tenant(&self, host: &str, facts: &TenantFacts) -> Result<(), ApiViolation> {
        let Some(group) = self.group_of(host) else {
            return Ok(());
        };
        let t = &group.tenant;
        let g = &group.name;
        let refuse = |what: &str, field: &str, shown: Option<&str>| {
            ApiViolation {
            status: 403,
            code: "leakguard_tenant",
            message: format!(
                "Blocked by Leakguard: {what} {} is not allowed for {host}; use your company account.",
                shown.map_or_else(|| "(none)".to_string(), |s| format!("`{s}`"))
            ),
            by: format!("destinations.{g}.tenant.{field}"),
        }
        };
        let listed = |list: &[String], v: Option<&str>| {
            v.is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v)))
        };
        match facts.provider.as_str() {
            "chatgpt-web" if !t.chatgpt_account_domains.is_empty() => {
                let domain = facts
                    .account_email
                    .as_deref()
                    .and_then(|e| e.rsplit_once('@'))
                    .map(|(_, d)| d);
                if !listed(&t.chatgpt_account_domains, domain) {
                    return Err(refuse(
                        "the ChatGPT account",
                        "chatgpt_account_domains",
                        facts.account_email.as_deref(),
                    ));
                }
            }
            "claude-web"
                if !t.claude_organizations.is_empty()
                    && !listed(&t.claude_organizations, facts.organization.as_deref()) =>
            {
                return Err(refuse(
                    "the Claude organisation",
                    "claude_organizations",
                    facts.organization.as_deref(),
                ));
            }
            "openai" | "azure-openai" => {
                if !t.openai_organizations.is_empty()
                    && !listed(&t.openai_organizations, facts.organization.as_deref())
                {
                    return Err(refuse(
                        "the OpenAI organisation",
                        "openai_organizations",
                        facts.organization.as_deref(),
                    ));
                }
                if !t.openai_projects.is_empty()
                    && !listed(&t.openai_projects, facts.project.as_deref())
                {
                    return Err(refuse(
                        "the OpenAI project",
                        "openai_projects",
                        facts.project.as_deref(),
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The destination group of a host, if any.
    pub fn group_of(&self, host: &str) -> Option<&DestinationGroup> {
        // Host patterns are lower-cased at parse time; the host only when it needs it (this
        // runs several times per request in the guard).
        let host = host.trim_end_matches('.');
        let lowered;
        let host = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = host.to_ascii_lowercase();
            lowered.as_str()
        } else {
            host
        };
        self.destinations.iter().find(|g| {
            g.hosts.iter().any(|p| match p.strip_prefix("*.") {
                Some(suffix) => {
                    host.len() > suffix.len()
                        && host.ends_with(suffix)
                        && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                }
                None => {
                    host == p
                        || (host.ends_with(p.as_str())
                            && host.as_bytes().get(host.len().wrapping_sub(p.len() + 1))
                                == Some(&b'.'))
                }
            })
        })
    }

    /// The decision for one request. Pure and allocation-light; see [`Actions`] for the order.
    pub fn decide(&self, findings: &[Finding], host: Option<&str>, meta: &RequestMeta) -> Verdict {
        let group = host.and_then(|h| self.group_of(h));
        let group_name = group.map(|g| g.name.clone());
        match group.map(|g| g.mode) {
            Some(Mode::BlockAll) => {
                return Verdict {
                    action: Action::Block,
                    by: format!(
                        "destinations.{}.mode = block_all",
                        group_name.clone().unwrap_or_default()
                    ),
                    group: group_name,
                    findings: Vec::new(),
                }
            }
            Some(Mode::Allow) => {
                return Verdict {
                    action: Action::Allow,
                    by: format!(
                        "destinations.{}.mode = allow",
                        group_name.clone().unwrap_or_default()
                    ),
                    group: group_name,
                    findings: Vec::new(),
                }
            }
            _ => {}
        }
        let ga = group_name.as_ref().and_then(|g| self.actions.groups.get(g));
        let mut decisions = Vec::with_capacity(findings.len());
        for f in findings {
            let (mut action, mut by) =
                if let Some((k, a)) = ga.and_then(|g| lookup_rule(&g.rules, &f.rule)) {
                    (
                        a,
                        format!(
                            "actions.groups.{}.rules.{k}",
                            group_name.as_deref().unwrap_or_default()
                        ),
                    )
                } else if let Some((k, a)) = lookup_rule(&self.actions.rules, &f.rule) {
                    (a, format!("actions.rules.{k}"))
                } else if let Some(a) = ga.and_then(|g| g.categories.get(&f.category)) {
                    (
                        *a,
                        format!(
                            "actions.groups.{}.categories.{}",
                            group_name.as_deref().unwrap_or_default(),
                            f.category
                        ),
                    )
                } else if let Some(a) = self.actions.categories.get(&f.category) {
                    (*a, format!("actions.categories.{}", f.category))
                } else {
                    (
                        default_action(f.category, f.severity),
                        format!("default for {} {}", f.severity, f.category),
                    )
                };
            if action > Action::Audit {
                if let Some((i, e)) = self
                    .exceptions
                    .iter()
                    .enumerate()
                    .find(|(_, e)| self.exception_applies(e, f, group_name.as_deref(), meta))
                {
                    action = Action::Audit;
                    by = format!("exceptions[{i}] ({})", e.reason);
                }
            }
            if action > Action::Audit && meta.paused {
                action = Action::Audit;
                by = "controls.pause_minutes (paused by the user)".to_string();
            }
            decisions.push(Decision {
                rule: f.rule.clone(),
                action,
                by,
            });
        }
        let strictest = decisions.iter().max_by_key(|d| d.action);
        let (action, by) = strictest.map_or((Action::Allow, "no findings".to_string()), |d| {
            (d.action, d.by.clone())
        });
        Verdict {
            action,
            by,
            group: group_name,
            findings: decisions,
        }
    }

    fn exception_applies(
        &self,
        e: &Exception,
        f: &Finding,
        group: Option<&str>,
        meta: &RequestMeta,
    ) -> bool {
        let unexpired = days_from_date(&e.expires).is_some_and(|d| meta.today <= d);
        let user = e.users.is_empty()
            || meta
                .user
                .as_ref()
                .is_some_and(|u| e.users.iter().any(|x| x.eq_ignore_ascii_case(u)));
        let groups = e.groups.is_empty() || meta.groups.iter().any(|g| e.groups.contains(g));
        let dest = e.destinations.is_empty()
            || group.is_some_and(|g| e.destinations.iter().any(|x| x == g));
        let rule = e.rules.is_empty() || e.rules.iter().any(|k| rule_key_matches(k, &f.rule));
        unexpired && user && groups && dest && rule
    }

    /// The detection-engine settings of this policy (fingerprint indexes are loaded by the
    /// caller, which does the I/O).
    pub fn engine_config(&self) -> leakguard_detect::EngineConfig {
        let mut c = leakguard_detect::EngineConfig {
            disabled_packs: self.rules.disable_packs.clone(),
            disabled_rules: self.rules.disable.clone(),
            custom_rules: self.rules.custom.clone(),
            dictionaries: self.rules.dictionaries.clone(),
            organisation_names: self.rules.organisation_names.clone(),
            ..leakguard_detect::EngineConfig::default()
        };
        if let Some(n) = self.rules.code_min_lines {
            c.code_min_lines = n;
        }
        if let Some(m) = self.rules.min_confidence {
            c.min_confidence = m;
        }
        c
    }

    /// Runs the policy's `tests` with an engine built from it.
    ///
    /// # Errors
    /// The first test whose verdict differs.
    pub fn run_own_tests(
        &self,
        engine: &leakguard_detect::Engine,
        meta: &RequestMeta,
    ) -> Result<usize, PolicyError> {
        for (index, t) in self.tests.iter().enumerate() {
            let v = self.decide(&engine.scan(&t.text), t.destination.as_deref(), meta);
            if v.action != t.expect {
                return Err(PolicyError::TestFailed {
                    index,
                    text: t.text.chars().take(60).collect(),
                    expected: t.expect,
                    got: v.action,
                    by: v.by,
                });
            }
        }
        Ok(self.tests.len())
    }

    /// The JSON Schema of the policy file, as written to `policies/schema.json`.
    pub fn schema_json() -> String {
        let schema = schemars::schema_for!(Policy);
        serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
    }
}

/// A managed policy (pushed by MDM) with an optional local one (the user's or a team's).
///
/// "Tighten" means exactly this:
/// - every request gets the stricter of the managed decision and the local decision (so a
///   local exception, `allow` action or `allow` mode can never loosen what the managed policy
///   decides);
/// - the local file may add detection (custom rules, dictionaries, organisation names,
///   fingerprints) but its `disable_packs`, `disable`, `min_confidence` and `code_min_lines`
///   are ignored, so it cannot remove detection the managed policy has;
/// - its own `tests` must still pass for it to load.
#[derive(Debug, Clone)]
pub struct Effective {
    pub managed: Policy,
    pub local: Option<Policy>,
}

impl Effective {
    /// The stricter of the two decisions (the managed one wins ties and explains itself).
    pub fn decide(&self, findings: &[Finding], host: Option<&str>, meta: &RequestMeta) -> Verdict {
        let managed = self.managed.decide(findings, host, meta);
        match &self.local {
            Some(local) => {
                let mut l = local.decide(findings, host, meta);
                if l.action > managed.action {
                    l.by = format!("local policy: {}", l.by);
                    l
                } else {
                    managed
                }
            }
            None => managed,
        }
    }

    /// The detection settings: the managed policy's, plus what the local one adds.
    pub fn engine_config(&self) -> leakguard_detect::EngineConfig {
        let mut c = self.managed.engine_config();
        if let Some(local) = &self.local {
            c.custom_rules.extend(local.rules.custom.iter().cloned());
            c.dictionaries
                .extend(local.rules.dictionaries.iter().cloned());
            c.organisation_names
                .extend(local.rules.organisation_names.iter().cloned());
        }
        c
    }
}

#[cfg(test)]
mod tests;
