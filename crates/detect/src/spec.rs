//! What a rule author writes: the serde shape of `policies/rules/*.toml` and of custom rules in
//! the policy file. Stage one of two: [`crate::rules`] compiles these into matchers and fails
//! with the rule id and field at fault.

use leakguard_types::{Category, Severity};
use serde::{Deserialize, Serialize};

/// One rule pack file: `policies/rules/<pack>.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PackSpec {
    /// Default category of the pack's rules.
    pub category: Option<Category>,
    /// Default severity of the pack's rules.
    pub severity: Option<Severity>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleSpec>,
}

/// When a rule's regex runs at all. A rule's regex only ever runs inside windows that its
/// trigger produced: this is what keeps a scan near memory speed on text without secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Around an occurrence of one of `keywords` (ASCII case-insensitive). The default when
    /// `keywords` is not empty.
    Keywords,
    /// Around a cluster of digits (digits joined by ` -./()+`) with at least `min_digits`.
    Digits,
    /// Around an `@`.
    At,
    /// Around a run of at least 31 token characters (`A-Za-z0-9+/=_-`).
    Token,
}

/// One detection rule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Stable id, lowercase with dashes: `aws-access-key-id`.
    pub id: String,
    pub description: String,
    /// Falls back to the pack's category.
    pub category: Option<Category>,
    /// Falls back to the pack's severity.
    pub severity: Option<Severity>,
    /// Literal keywords for the prefilter, matched ASCII case-insensitively. A rule with
    /// keywords only runs where one occurs, so every true match must contain (or sit within
    /// `window` of) one of them. `tests/rule_examples.rs` checks this on every example.
    #[serde(default)]
    pub keywords: Vec<String>,
    pub regex: String,
    /// Which capture group is the sensitive value (the span reported and redacted); 0 is the
    /// whole match.
    #[serde(default)]
    pub secret_group: usize,
    /// A checksum or structure check that must pass (see [`crate::validate::Validator`]).
    pub validator: Option<String>,
    /// Minimum Shannon entropy (bits per byte) of the value.
    pub entropy: Option<f32>,
    pub trigger: Option<Trigger>,
    /// For `trigger = "digits"`: the least number of digits a cluster must hold.
    pub min_digits: Option<u32>,
    /// Case-insensitive literals, one of which must occur in the window before the regex runs.
    #[serde(default)]
    pub requires: Vec<String>,
    /// For `trigger = "digits"`: a cheap structural test of the cluster before the regex runs.
    pub shape: Option<ShapeSpec>,
    pub context: Option<ContextSpec>,
    #[serde(default)]
    pub allow: AllowSpec,
    /// Bytes to look before / after a trigger for the match.
    pub window: Option<WindowSpec>,
    /// Base confidence before context words move it (default 0.9).
    pub confidence: Option<f32>,
    /// Where two findings overlap, the lower priority one is dropped (default 100; generic
    /// rules use less so a specific rule wins).
    pub priority: Option<u8>,
    /// Compile the regex with Unicode classes (default: ASCII classes, which are faster).
    #[serde(default)]
    pub unicode: bool,
    /// The value must stand alone: a match that is part of a longer identifier (an ASCII
    /// letter, digit or `_` joined to it directly or through `-`, as in a UUID, an order id
    /// `ORD-0297-7395-3319` or a token `xoxb-0232…`) is not reported.
    #[serde(default)]
    pub standalone: bool,
    /// Rules of one family (the phone formats of several countries) report one finding where
    /// they overlap: the most confident, then the longest.
    pub family: Option<String>,
    /// A regex that must not match the text just before the match (up to 64 bytes, to the
    /// line start): `://[^/\s@]*$` keeps the `user:pass@host` of a URL from being an e-mail.
    pub not_after: Option<String>,
    /// A regex that must not match the text just after the match (up to 64 bytes, to the line
    /// end): `^['"]` keeps a quoted `'RESTRICTED'` in SQL from being a marking.
    pub not_before: Option<String>,
    /// How the preview is masked: `middle` (`AKI…PLE`: a sixth of each end, 4 characters at most), `last4` (`…1111`), `full` (markings)
    /// or `none`. Default by category.
    pub preview: Option<PreviewStyle>,
    #[serde(default)]
    pub examples: Examples,
}

/// The digit cluster, extended over `chars`, must be at least `min_len` long and hold at least
/// `min_separators` of the characters of `chars` that are not letters or digits. An IPv6
/// address is a run of hex digits, `:` and `.` with two colons; `std::io` or `x: u32` is not.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShapeSpec {
    pub chars: String,
    #[serde(default)]
    pub min_len: usize,
    #[serde(default)]
    pub min_separators: usize,
}

impl RuleSpec {
    /// A rule with an id, a description and a regex, every other field at its default; set
    /// keywords or a trigger before compiling it.
    pub fn new(id: &str, description: &str, regex: &str) -> RuleSpec {
        RuleSpec {
            id: id.to_owned(),
            description: description.to_owned(),
            category: None,
            severity: None,
            keywords: Vec::new(),
            regex: regex.to_owned(),
            secret_group: 0,
            validator: None,
            entropy: None,
            trigger: None,
            min_digits: None,
            requires: Vec::new(),
            shape: None,
            context: None,
            allow: AllowSpec::default(),
            window: None,
            confidence: None,
            priority: None,
            unicode: false,
            standalone: false,
            family: None,
            not_after: None,
            not_before: None,
            preview: None,
            examples: Examples::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PreviewStyle {
    Middle,
    Last4,
    Email,
    Full,
    None,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSpec {
    /// Case-insensitive words looked for near the match (a word that starts with an ASCII
    /// letter must start a word of the text).
    pub words: Vec<String>,
    #[serde(default)]
    pub mode: ContextMode,
    /// Bytes either side of the match to look in (default 80).
    pub window: Option<usize>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextMode {
    /// Context words raise confidence; their absence lowers it.
    #[default]
    Boost,
    /// Without a context word the match is dropped.
    Require,
    /// Required when the value is a bare run of digits (no separator, no `+`); a boost
    /// otherwise: `06 12 34 56 78` is a phone number, `0612345678` only next to "phone".
    RequireIfBare,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AllowSpec {
    /// Case-insensitive substrings that make a value not a finding.
    #[serde(default)]
    pub stopwords: Vec<String>,
    /// Regexes over the value that make it not a finding.
    #[serde(default)]
    pub regexes: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    #[serde(default)]
    pub before: usize,
    #[serde(default)]
    pub after: usize,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Examples {
    /// Texts in which the rule must find something.
    #[serde(default, rename = "match")]
    pub matches: Vec<String>,
    /// Texts in which the rule must find nothing.
    #[serde(default)]
    pub no_match: Vec<String>,
}

/// The global allowlist (`policies/rules/allowlist.toml`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistSpec {
    /// Exact values published in documentation (`AKIAIOSFODNN7EXAMPLE`): never findings.
    #[serde(default)]
    pub documented_values: Vec<String>,
    /// Case-sensitive substrings marking a documentation sample (`EXAMPLE`).
    #[serde(default)]
    pub sample_markers: Vec<String>,
    /// Regexes over a secret's value that mark a placeholder (`${VAR}`, `<your-key>`).
    #[serde(default)]
    pub placeholder_regexes: Vec<String>,
    /// Words near a secret that lower its confidence (`example`, `dummy`).
    #[serde(default)]
    pub negative_context: Vec<String>,
}

/// A dictionary of organisation terms: codenames, customers, internal hosts.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DictionarySpec {
    /// Becomes the rule id `dictionary:<name>`.
    pub name: String,
    #[serde(default = "classified")]
    pub category: Category,
    #[serde(default = "medium")]
    pub severity: Severity,
    /// Plain terms, matched case-insensitively as whole words. A term starting with `*.` is a
    /// domain suffix (`*.corp.example.com` matches `build.corp.example.com`).
    #[serde(default)]
    pub terms: Vec<String>,
    /// Salted hashes of terms, so the policy does not itself reveal the codenames.
    pub hashed: Option<HashedTermsSpec>,
}

fn classified() -> Category {
    Category::Classified
}
fn medium() -> Severity {
    Severity::Medium
}

/// Terms given as `hex(sha256(salt || normalise(term)))[..32]`, computed by
/// `leakguard dictionary hash`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HashedTermsSpec {
    pub salt: String,
    pub hashes: Vec<String>,
    /// Longest term in words (default 3).
    pub max_words: Option<usize>,
}
