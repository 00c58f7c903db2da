//! The shared vocabulary of Leakguard: what a detector finds ([`Finding`]), how bad it is
//! ([`Category`], [`Severity`]) and what the guard does about it ([`Action`]).
//!
//! This crate does no I/O and holds no logic beyond ordering and naming, so every other crate
//! (detection, policy, proxy, store, desktop) can depend on it without pulling anything else in.
//!
//! Key decision: a [`Finding`] carries byte offsets into the *original* text and a masked
//! preview, never the matched value itself. The raw value stays inside the detection engine and
//! is only handed to the redactor.

pub mod context;
pub mod event;
pub mod tenant;
pub use context::{Clock, Identity, SystemClock};
pub use event::{rfc3339_ms, Answer, Event, EventKind, EventVerdict, Outcome, RuleCount};
pub use tenant::{TenantFact, TenantFacts, TenantMatch};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What kind of sensitive content a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Credentials: API keys, tokens, passwords, private keys.
    Secret,
    /// Personal data: cards, national ids, emails, phone numbers.
    Pii,
    /// Source code, of any origin.
    SourceCode,
    /// Content the organisation marked or fingerprinted as its own: markings, codenames,
    /// internal hosts, fingerprints of its repositories.
    Classified,
    /// Rules an administrator added in the policy.
    Custom,
}

impl Category {
    /// All categories, in a stable order.
    pub const ALL: [Category; 5] = [
        Category::Secret,
        Category::Pii,
        Category::SourceCode,
        Category::Classified,
        Category::Custom,
    ];

    /// The stable snake_case name used in JSON, the policy and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Secret => "secret",
            Category::Pii => "pii",
            Category::SourceCode => "source_code",
            Category::Classified => "classified",
            Category::Custom => "custom",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                UnknownName::new(
                    "a category",
                    s,
                    "secret, pii, source_code, classified or custom",
                )
            })
    }
}

/// How much harm a finding would do if it leaked.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownName::new("a severity", s, "info, low, medium, high or critical"))
    }
}

/// What the guard does with a request. Ordered from the most permissive to the strictest, so
/// `max()` over several decisions gives the one that must win.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Forward, record only usage metadata.
    Allow,
    /// Forward and record the findings.
    Audit,
    /// Rewrite the sensitive spans with placeholders, then forward.
    Redact,
    /// Block, but let the user allow this exact content once.
    Warn,
    /// Block.
    Block,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Allow,
        Action::Audit,
        Action::Redact,
        Action::Warn,
        Action::Block,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Audit => "audit",
            Action::Redact => "redact",
            Action::Warn => "warn",
            Action::Block => "block",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownName::new("an action", s, "allow, audit, warn, redact or block"))
    }
}

/// A name that is not one of an enum's values; its message says which values are expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    pub kind: &'static str,
    pub given: String,
    pub expected: &'static str,
}

impl UnknownName {
    fn new(kind: &'static str, given: &str, expected: &'static str) -> Self {
        UnknownName {
            kind,
            given: given.to_owned(),
            expected,
        }
    }
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not {}; expected {}",
            self.given, self.kind, self.expected
        )
    }
}

impl std::error::Error for UnknownName {}

/// One piece of sensitive content found in a text.
///
/// `start..end` are byte offsets into the original text that was scanned (for valid UTF-8 they
/// always lie on char boundaries). `preview` is masked: it never holds the whole value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id, e.g. `aws-access-key-id`, `source-code`, `fingerprint:acme-fw`.
    pub rule: String,
    pub category: Category,
    pub severity: Severity,
    pub start: usize,
    pub end: usize,
    /// 0.0 ..= 1.0: validators and context words move it.
    pub confidence: f32,
    /// Masked preview, e.g. `AKI…PLE`.
    pub preview: String,
    #[serde(default, skip_serializing_if = "FindingDetail::is_empty")]
    pub detail: FindingDetail,
}

impl Finding {
    /// Length of the span in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True for an empty span (never produced by the engine).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Extra facts some detectors add to a finding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindingDetail {
    /// Programming language, for `source_code` findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Number of lines in the region, for `source_code` and `classified` code findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<u32>,
    /// How the value was hidden when it was found: `normalized` (zero-width, homoglyphs,
    /// full-width, escapes) or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded_from: Option<String>,
    /// For fingerprint matches: fraction of the segment's code that matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_fraction: Option<f32>,
    /// For fingerprint matches: what matched, `code` or `document` (the prose of company
    /// documents, and the comments and docstrings of company code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl FindingDetail {
    pub fn is_empty(&self) -> bool {
        self.language.is_none()
            && self.lines.is_none()
            && self.decoded_from.is_none()
            && self.matched_fraction.is_none()
            && self.fingerprint.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_ordered_from_permissive_to_strict() {
        let mut all = Action::ALL.to_vec();
        all.reverse();
        all.sort();
        assert_eq!(all, Action::ALL.to_vec());
        assert_eq!(Action::Audit.max(Action::Warn), Action::Warn);
        assert!(Action::Block > Action::Warn);
    }

    #[test]
    fn names_round_trip_and_unknown_names_explain_themselves() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>().unwrap(), a);
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
        }
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
        }
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), s);
        }
        let err = "blok".parse::<Action>().unwrap_err().to_string();
        assert_eq!(
            err,
            "`blok` is not an action; expected allow, audit, warn, redact or block"
        );
    }

    #[test]
    fn empty_detail_is_not_serialised() {
        let f = Finding {
            rule: "x".into(),
            category: Category::Secret,
            severity: Severity::High,
            start: 1,
            end: 3,
            confidence: 0.5,
            preview: "…".into(),
            detail: FindingDetail::default(),
        };
        let json = serde_json::to_string(&f).unwrap();
        assert!(!json.contains("detail"), "{json}");
        let back: Finding = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
        assert_eq!(f.len(), 2);
    }
}
