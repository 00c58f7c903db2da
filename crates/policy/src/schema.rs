//! The policy file's types: what IT writes, with the JSON Schema generated from them
//! (`policies/schema.json`). Unknown fields are errors everywhere.

use leakguard_types::{Action, Category};
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
    /// One word for how sensitive detection is and what findings call for when `actions`
    /// says nothing: `strict`, `balanced` (the default) or `permissive` (docs/policy.md).
    /// `rules.min_confidence`, `rules.code_min_lines` and every `actions` entry still win.
    #[serde(default, skip_serializing_if = "Sensitivity::is_default")]
    pub sensitivity: Sensitivity,

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
    /// How the device checks that it stays protected (trust and routing still in place).
    #[serde(default, skip_serializing_if = "Deployment::is_default")]
    pub deployment: Deployment,
    /// Uploaded documents (PDF, Office, OpenDocument, RTF, e-mail, notebooks, archives):
    /// how far they are read, and what happens to one that cannot be read or would need
    /// redacting.
    #[serde(default, skip_serializing_if = "Documents::is_default")]
    pub documents: Documents,
    /// Findings too small to count alone (a few lines of code, a few fingerprints of company
    /// code or documents) that add up over the messages of one conversation.
    #[serde(default, skip_serializing_if = "Conversations::is_default")]
    pub conversations: Conversations,
    /// Replies of the intercepted services: read as they stream (never held back) for
    /// secrets, personal data, internal names and the organisation's prompt-leak markers; what
    /// is found is recorded as a `reply` event with the token counts and the model the
    /// provider reported.
    #[serde(default, skip_serializing_if = "Responses::is_default")]
    pub responses: Responses,
    /// Sample texts with the verdict this policy must give; a policy whose own tests fail is
    /// rejected.
    #[serde(default)]
    pub tests: Vec<PolicyTest>,
}

/// How replies are read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Responses {
    /// Read replies (default `true`). Off: replies pass unread and token counts stay
    /// estimates.
    #[serde(default = "Responses::yes")]
    pub scan: bool,
    /// What a finding in a reply does: `audit` (recorded as a `reply` event; the reply goes to
    /// the user as it is) or `redact` (also replaced by `[REDACTED:rule]` in the answer text
    /// before the user sees it). A destination group's `reply_action` overrides it.
    #[serde(default)]
    pub action: ReplyAction,
    /// Phrases of the organisation's system prompts (or canary strings planted in them): a
    /// reply that contains one (any case) leaked the prompt, and is recorded as
    /// `prompt-leak-marker`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub markers: Vec<String>,
}

impl Default for Responses {
    fn default() -> Responses {
        Responses {
            scan: true,
            action: ReplyAction::Audit,
            markers: Vec::new(),
        }
    }
}

impl Responses {
    fn yes() -> bool {
        true
    }

    fn is_default(&self) -> bool {
        *self == Responses::default()
    }
}

/// What a finding in a reply does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplyAction {
    /// Recorded; the reply is not changed.
    #[default]
    Audit,
    /// Recorded, and replaced in the answer's text by `[REDACTED:rule]`: a JSON reply is held
    /// whole (up to 8 MiB) and rewritten; a stream keeps flowing event by event, its text
    /// released 512 characters behind what arrived, so a value split over many deltas is
    /// seen whole before any of it goes out. Replies are then asked for uncompressed.
    Redact,
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
    /// streams, where the model may cut it over several events), so the answer reads right;
    /// the provider still never sees them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restore_redacted: bool,
    /// What a finding in this group's replies does, instead of `responses.action`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_action: Option<ReplyAction>,
    /// Which accounts and organisations may be used: prompts from personal accounts or other
    /// companies' tenants are blocked.
    #[serde(default, skip_serializing_if = "Tenant::is_empty")]
    pub tenant: Tenant,
    /// Hosts of this group (patterns as in `hosts`) whose clients cannot trust the device CA
    /// (certificate pinning, mutual TLS): tunnelled without decryption rather than broken,
    /// and every such connection recorded as `unscanned` (verdict), so the gap is visible in
    /// the events, the SIEM and the app.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unscanned_hosts: Vec<String>,
    /// This group's own choices for documents (override `documents.unreadable` and
    /// `documents.redact`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documents: Option<DocumentChoices>,
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
    /// No tenant list is set: any account or organisation may be used.
    pub fn is_empty(&self) -> bool {
        *self == Tenant::default()
    }

    /// A list by its field name, as the endpoint catalog's tenant facts name it.
    pub fn list(&self, name: &str) -> Option<&[String]> {
        Some(match name {
            "chatgpt_account_domains" => &self.chatgpt_account_domains,
            "claude_organizations" => &self.claude_organizations,
            "openai_organizations" => &self.openai_organizations,
            "openai_projects" => &self.openai_projects,
            _ => return None,
        })
    }

    /// The field names [`Tenant::list`] knows.
    pub const LISTS: [&'static str; 4] = [
        "chatgpt_account_domains",
        "claude_organizations",
        "openai_organizations",
        "openai_projects",
    ];
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
    /// SHA-256 (hex) of the index file: the guard refuses an index that differs, so a signed
    /// policy's signature covers the index it names. Required in a signed policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_sha256: Option<String>,
    /// File holding the salt the index was built with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt_file: Option<String>,
    /// SHA-256 (hex) of the salt file, checked like `index_sha256`. Required in a signed
    /// policy that names a `salt_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt_sha256: Option<String>,
    /// The salt itself (keep such a policy as private as a salt file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// Least kept fingerprints found (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_matches: Option<usize>,
    /// Least fraction of the text's kept fingerprints found (default 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_fraction: Option<f32>,
    /// Least prose fingerprints of the index's documents found in a text for a document match
    /// (default 4: four distinct runs of six or more words shared with company documents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_prose_matches: Option<usize>,
}

/// A sensitivity preset: thresholds and default actions per category in one word.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Everything blocks but low-severity personal data (warned); findings from 0.25
    /// confidence; code from 2 lines.
    Strict,
    /// The built-in defaults: secrets and classified content block, personal data is redacted,
    /// code warns; findings from 0.3 confidence; code from 3 lines.
    #[default]
    Balanced,
    /// A quiet pilot: only high and critical secrets block, the rest is recorded; findings
    /// from 0.6 confidence; code from 8 lines.
    Permissive,
}

impl Sensitivity {
    pub fn is_default(&self) -> bool {
        *self == Sensitivity::Balanced
    }

    /// The least confidence a finding needs.
    pub fn min_confidence(self) -> f32 {
        match self {
            Sensitivity::Strict => 0.25,
            Sensitivity::Balanced => 0.3,
            Sensitivity::Permissive => 0.6,
        }
    }

    /// The least lines of a `source-code` finding.
    pub fn code_min_lines(self) -> u32 {
        match self {
            Sensitivity::Strict => 2,
            Sensitivity::Balanced => 3,
            Sensitivity::Permissive => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Sensitivity::Strict => "strict",
            Sensitivity::Balanced => "balanced",
            Sensitivity::Permissive => "permissive",
        }
    }
}

/// The `actions` section. Precedence, most specific first (docs/policy.md):
/// 1. the destination group's mode (`block_all`, `allow`);
/// 2. `groups.<group>.rules.<rule>`, 3. `rules.<rule>`,
/// 4. `groups.<group>.categories.<category>`, 5. `categories.<category>`,
/// 6. the default of the policy's `sensitivity` for the category and severity.
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
    /// What an event keeps of a finding: `masked` (`AKI…F7A`, default) or `none`.
    #[serde(default)]
    pub previews: PreviewMode,
    /// Keep the *redacted* prompt text (placeholders in place of findings) with the event.
    /// Off by default; the raw prompt is never kept.
    #[serde(default)]
    pub keep_redacted_prompt: bool,
    /// Where events are forwarded (the company's SIEM).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub siem: Vec<SiemTarget>,
    /// While events cannot be written (a full disk, a broken database): `block` refuses
    /// requests to LLM destinations until they can (default), `continue` lets them pass and
    /// keeps their events in memory (a bounded queue) until the disk takes them.
    #[serde(default)]
    pub on_store_failure: StoreFailure,
}

/// What the guard does with LLM requests while it cannot keep events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoreFailure {
    /// Refuse them, saying why: nothing goes out unrecorded.
    #[default]
    Block,
    /// Let them pass; their events wait in memory.
    Continue,
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
            on_store_failure: StoreFailure::default(),
        }
    }
}

/// What an event keeps of a finding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreviewMode {
    /// The masked preview (`AKI…F7A`, `j…@acme.com`).
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
    /// Programs that sent the request: by name as the OS reports it (`code`, `python3`,
    /// `Code.exe`), or by the executable's full path (an entry with `/` or `\`; exact on
    /// Linux and macOS, without case on Windows). An exception that names programs never
    /// applies where the program is unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<String>,
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
    /// Whether the user may stop the guard (`leakguard stop`; the app's Quit when the app
    /// runs the guard itself): `allow` (the default); `unlock_code`, only with a one-time code
    /// from IT for this device (`leakguard policy unlock-code`); `never`. Each stop is an event.
    /// Stops by the operating system (shutdown, `systemctl --user stop`, a kill) cannot be
    /// refused: they are recorded when the guard gets to, and the missing heartbeat shows it.
    #[serde(default, skip_serializing_if = "Quit::is_default")]
    pub quit: Quit,
    /// The public key (the `.pub` text `leakguard policy keygen` writes) that verifies unlock
    /// codes: a code lets a user stop the guard where `quit` is `unlock_code`, or pause it for
    /// the minutes the code names whatever `pause_minutes` says. Keep its private half with the
    /// helpdesk, apart from the policy signing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlock_key: Option<String>,
}

/// Whether the user may stop the guard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Quit {
    #[default]
    Allow,
    UnlockCode,
    Never,
}

impl Quit {
    fn is_default(&self) -> bool {
        *self == Quit::Allow
    }
}

impl Controls {
    fn is_default(&self) -> bool {
        *self == Controls::default()
    }
}

/// Staying on: the agent checks every `check_every_s` seconds that what `leakguard trust
/// install` and `leakguard proxy enable` put in place is still there (and that the desktop's
/// PAC is the current one). A change is recorded as `protection_degraded` with the reason, sent
/// to the SIEM at once and shown in the tray; `protection_restored` when it is back.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// Seconds between checks (default 300; 0 turns the checks off).
    #[serde(default = "Deployment::default_check")]
    pub check_every_s: u32,
    /// Put routing back when it drifted (a user switched the proxy off or another program
    /// changed it), as well as recording it. Default false.
    #[serde(default)]
    pub enforce: bool,
    /// Seconds between heartbeat events, so the SIEM sees a laptop that went silent (default
    /// 3600; 0: none).
    #[serde(default = "Deployment::default_heartbeat")]
    pub heartbeat_s: u32,
}

impl Deployment {
    fn default_check() -> u32 {
        300
    }

    fn default_heartbeat() -> u32 {
        3600
    }

    fn is_default(&self) -> bool {
        *self == Deployment::default()
    }
}

impl Default for Deployment {
    fn default() -> Self {
        Deployment {
            check_every_s: Deployment::default_check(),
            enforce: false,
            heartbeat_s: Deployment::default_heartbeat(),
        }
    }
}

/// How uploaded documents are read, and what happens when one cannot be.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Documents {
    /// A document that cannot be read (encrypted, a legacy binary Office file, damaged, over
    /// a bound below): `block` (default) or `audit` (forwarded and recorded).
    #[serde(default)]
    pub unreadable: DocumentChoice,
    /// A document with a finding the policy would redact (a document cannot be rewritten):
    /// `block` (default, the user is told which file and what to remove) or `audit`.
    #[serde(default)]
    pub redact: DocumentChoice,
    /// Bytes that may be expanded from a document's compressed parts in all (default
    /// 268435456, 256 MiB).
    #[serde(default = "Documents::default_expanded")]
    pub max_expanded_bytes: u64,
    /// ... and at most this many times the document's own size (default 200; a 1 MiB
    /// floor). A zip bomb expands by thousands.
    #[serde(default = "Documents::default_ratio")]
    pub max_ratio: u64,
    /// Text read out of one upload for scanning (default 67108864, 64 MiB).
    #[serde(default = "Documents::default_text")]
    pub max_text_bytes: u64,
    /// Archives within archives (default 4).
    #[serde(default = "Documents::default_depth")]
    pub max_depth: u32,
    /// Files in one archive (default 10000).
    #[serde(default = "Documents::default_members")]
    pub max_members: u32,
    /// Milliseconds to read one upload (default 10000).
    #[serde(default = "Documents::default_millis")]
    pub max_millis: u64,
    /// Largest file upload inspected (default 536870912, 512 MiB). An upload beyond the
    /// guard's in-memory cap (`max_body_bytes`, 32 MiB) and up to this is spooled to a 0600
    /// file in the data directory (unlinked at once, gone when the request is done) and read
    /// from there in bounded memory. Above it, `too_large` decides.
    #[serde(default = "Documents::default_upload")]
    pub max_upload_bytes: u64,
    /// An upload above `max_upload_bytes`: `block` (default, with a message that says the
    /// limit) or `audit` (forwarded unread, recorded).
    #[serde(default)]
    pub too_large: DocumentChoice,
    /// Largest PDF (or RTF, e-mail, notebook: the formats read whole) read into memory from a
    /// spooled upload (default 134217728, 128 MiB); a larger one is unreadable.
    #[serde(default = "Documents::default_in_memory")]
    pub max_in_memory_bytes: u64,
}

/// Accumulation over a conversation: a paste split into pieces does not pass.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conversations {
    /// Minutes a conversation is remembered after its last message (default 60; 0 turns
    /// accumulation off). Only digests of messages and keyed fingerprint hashes are kept, in
    /// memory, never text.
    #[serde(default = "Conversations::default_window")]
    pub window_minutes: u32,
    /// Conversations remembered at once (default 2000; the oldest are forgotten first).
    #[serde(default = "Conversations::default_max")]
    pub max_conversations: u32,
    /// Lines of code over the messages of one conversation that count as a `source-code`
    /// finding though no message alone had enough (default 12; 0: code lines do not add up).
    /// Fingerprints add up to each index's own `min_matches` and `min_prose_matches`.
    #[serde(default = "Conversations::default_code_lines")]
    pub code_lines: u32,
}

impl Conversations {
    fn default_window() -> u32 {
        60
    }
    fn default_max() -> u32 {
        2000
    }
    fn default_code_lines() -> u32 {
        12
    }
    fn is_default(&self) -> bool {
        *self == Conversations::default()
    }
}

impl Default for Conversations {
    fn default() -> Self {
        Conversations {
            window_minutes: Conversations::default_window(),
            max_conversations: Conversations::default_max(),
            code_lines: Conversations::default_code_lines(),
        }
    }
}

/// A destination group's own document choices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentChoices {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<DocumentChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redact: Option<DocumentChoice>,
}

/// What happens to an upload the guard cannot check or cannot rewrite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentChoice {
    /// Refuse the request and tell the user which file and why.
    #[default]
    Block,
    /// Forward it and record why it was not checked (or what it held).
    Audit,
}

impl Documents {
    fn default_expanded() -> u64 {
        256 << 20
    }
    fn default_ratio() -> u64 {
        200
    }
    fn default_text() -> u64 {
        64 << 20
    }
    fn default_depth() -> u32 {
        4
    }
    fn default_members() -> u32 {
        10_000
    }
    fn default_millis() -> u64 {
        10_000
    }
    fn default_upload() -> u64 {
        512 << 20
    }
    fn default_in_memory() -> u64 {
        128 << 20
    }
    fn is_default(&self) -> bool {
        *self == Documents::default()
    }
}

impl Default for Documents {
    fn default() -> Self {
        Documents {
            unreadable: DocumentChoice::Block,
            redact: DocumentChoice::Block,
            max_expanded_bytes: Documents::default_expanded(),
            max_ratio: Documents::default_ratio(),
            max_text_bytes: Documents::default_text(),
            max_depth: Documents::default_depth(),
            max_members: Documents::default_members(),
            max_millis: Documents::default_millis(),
            max_upload_bytes: Documents::default_upload(),
            too_large: DocumentChoice::Block,
            max_in_memory_bytes: Documents::default_in_memory(),
        }
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
