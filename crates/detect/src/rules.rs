//! Compiling rule specs into matchers (stage two of the config): every error names the rule id
//! and the field at fault, so a bad rule fails at load, never during a scan.

use crate::mask::shannon_entropy;
use crate::spec::{AllowlistSpec, ContextMode, PackSpec, PreviewStyle, RuleSpec, Trigger};
use crate::validate::Validator;
use crate::Error;
use aho_corasick::AhoCorasick;
use leakguard_types::{Category, Severity};
use memchr::memmem::Finder;
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use std::sync::Arc;

/// The rule packs shipped in `policies/rules/`, compiled into the binary.
pub const BUILTIN_PACKS: &[(&str, &str)] = &[
    (
        "secrets-cloud",
        include_str!("../../../policies/rules/secrets-cloud.toml"),
    ),
    (
        "secrets-ai",
        include_str!("../../../policies/rules/secrets-ai.toml"),
    ),
    (
        "secrets-vcs",
        include_str!("../../../policies/rules/secrets-vcs.toml"),
    ),
    (
        "secrets-comms",
        include_str!("../../../policies/rules/secrets-comms.toml"),
    ),
    (
        "secrets-payments",
        include_str!("../../../policies/rules/secrets-payments.toml"),
    ),
    (
        "secrets-saas",
        include_str!("../../../policies/rules/secrets-saas.toml"),
    ),
    (
        "secrets-devops",
        include_str!("../../../policies/rules/secrets-devops.toml"),
    ),
    (
        "secrets-keys",
        include_str!("../../../policies/rules/secrets-keys.toml"),
    ),
    (
        "secrets-generic",
        include_str!("../../../policies/rules/secrets-generic.toml"),
    ),
    ("pii", include_str!("../../../policies/rules/pii.toml")),
    (
        "markings",
        include_str!("../../../policies/rules/markings.toml"),
    ),
];

/// The global allowlist shipped in `policies/rules/allowlist.toml`.
pub const BUILTIN_ALLOWLIST: &str = include_str!("../../../policies/rules/allowlist.toml");

/// Parses one pack file.
pub fn parse_pack(name: &str, text: &str) -> Result<PackSpec, Error> {
    toml::from_str(text).map_err(|e| Error::Pack {
        pack: name.to_owned(),
        message: e.to_string(),
    })
}

/// A set of literals matched ASCII case-insensitively, without allocating per check.
#[derive(Debug, Clone)]
pub(crate) struct WordSet(Option<AhoCorasick>, Vec<u8>, Vec<Finder<'static>>);

impl WordSet {
    pub(crate) fn new<S: AsRef<str>>(words: &[S]) -> WordSet {
        if words.is_empty() {
            return WordSet(None, Vec::new(), Vec::new());
        }
        // Let the crate pick its automaton: it adds a rare-byte or Teddy prefilter, which
        // matters when a set is run over a whole text.
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(words.iter().map(|w| w.as_ref().as_bytes()))
            .ok();
        // All single non-letter bytes (`:`, `.`, `-`): memchr is faster than any automaton.
        let bytes: Vec<u8> = if words
            .iter()
            .all(|w| w.as_ref().len() == 1 && !w.as_ref().as_bytes()[0].is_ascii_alphabetic())
        {
            words.iter().map(|w| w.as_ref().as_bytes()[0]).collect()
        } else {
            Vec::new()
        };
        // A few words without ASCII letters (`로`, `길`, `社外秘`): case does not apply, and
        // SIMD substring search beats an automaton.
        let exact: Vec<Finder<'static>> = if words.len() <= 4
            && words
                .iter()
                .all(|w| !w.as_ref().bytes().any(|b| b.is_ascii_alphabetic()))
        {
            words
                .iter()
                .map(|w| Finder::new(w.as_ref().as_bytes()).into_owned())
                .collect()
        } else {
            Vec::new()
        };
        WordSet(ac, bytes, exact)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// True if any word occurs in `hay`.
    pub(crate) fn found_in(&self, hay: &[u8]) -> bool {
        match self.1.as_slice() {
            [a] => memchr::memchr(*a, hay).is_some(),
            [a, b] => memchr::memchr2(*a, *b, hay).is_some(),
            [a, b, c] => memchr::memchr3(*a, *b, *c, hay).is_some(),
            _ if !self.2.is_empty() => self.2.iter().any(|f| f.find(hay).is_some()),
            _ => self.0.as_ref().is_some_and(|ac| ac.is_match(hay)),
        }
    }

    /// Like [`WordSet::found_in`], but a word that starts with an ASCII letter must start a
    /// word of `hay` (no ASCII letter just before it): `ssn` is not in "Passnummer".
    pub(crate) fn found_as_word_in(&self, hay: &[u8]) -> bool {
        let Some(ac) = self
            .0
            .as_ref()
            .filter(|_| self.1.is_empty() && self.2.is_empty())
        else {
            return self.found_in(hay);
        };
        ac.find_overlapping_iter(hay).any(|m| {
            let s = m.start();
            !hay[s].is_ascii_alphabetic() || s == 0 || !hay[s - 1].is_ascii_alphabetic()
        })
    }
}

#[derive(Debug)]
pub(crate) struct Context {
    pub words: WordSet,
    pub require: bool,
    pub require_if_bare: bool,
    pub window: usize,
}

#[derive(Debug)]
pub(crate) struct Rule {
    pub id: Arc<str>,
    pub pack: Arc<str>,
    pub description: String,
    pub category: Category,
    pub severity: Severity,
    pub keywords: Vec<String>,
    /// Compiled on first use for shipped rules (the test suite proves they compile), at load
    /// for custom rules (so a bad policy fails up front). See [`Rule::regex`].
    regex: std::sync::OnceLock<Regex>,
    pattern: String,
    unicode: bool,
    pub secret_group: usize,
    pub validator: Option<Validator>,
    pub entropy: Option<f32>,
    pub trigger: Trigger,
    pub min_digits: u32,
    pub requires: WordSet,
    pub shape: Option<Shape>,
    pub context: Option<Context>,
    pub allow_stop: WordSet,
    pub allow_re: Vec<Regex>,
    pub standalone: bool,
    pub family: Option<Arc<str>>,
    pub not_after: Option<Regex>,
    pub not_before: Option<Regex>,
    pub before: usize,
    pub after: usize,
    pub confidence: f32,
    pub priority: u8,
    pub preview: PreviewStyle,
    pub spec: RuleSpec,
}

/// A compiled [`crate::spec::ShapeSpec`].
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    member: [bool; 256],
    separator: [bool; 256],
    min_len: usize,
    min_separators: usize,
}

impl Shape {
    fn new(spec: &crate::spec::ShapeSpec) -> Shape {
        let mut member = [false; 256];
        let mut separator = [false; 256];
        for b in spec.chars.bytes() {
            member[b as usize] = true;
            separator[b as usize] = !b.is_ascii_alphanumeric();
        }
        Shape {
            member,
            separator,
            min_len: spec.min_len,
            min_separators: spec.min_separators,
        }
    }

    /// Whether the run of member bytes around `start..end` has the shape (looks at most 64
    /// bytes either way).
    pub(crate) fn fits(&self, hay: &[u8], start: usize, end: usize) -> bool {
        let mut s = start;
        while s > 0 && start - s < 64 && self.member[hay[s - 1] as usize] {
            s -= 1;
        }
        let mut e = end;
        while e < hay.len() && e - end < 64 && self.member[hay[e] as usize] {
            e += 1;
        }
        let separators = hay[s..e]
            .iter()
            .filter(|&&b| self.separator[b as usize])
            .count();
        e - s >= self.min_len && separators >= self.min_separators
    }
}

impl Rule {
    /// The compiled regex, compiled now if this is its first use.
    pub(crate) fn regex(&self) -> &Regex {
        self.regex.get_or_init(|| {
            // Shipped rules compile (tests/rule_examples.rs compiles every one); a rule that
            // somehow does not gets a regex that matches nothing rather than a panic mid-scan.
            build_regex(&self.pattern, self.unicode).unwrap_or_else(|_| {
                build_regex(r"(?-u:[^\x00-\xFF])", false).expect("a constant regex compiles")
            })
        })
    }
}

/// One automaton over several rules' regexes: a single pass over a window tells which of them
/// can match in it, so a window that triggers many rules (a long number wakes every phone, ID
/// and card rule) runs only the regexes that will match, not one search per rule.
#[derive(Debug)]
pub(crate) struct RuleGate {
    /// Each rule's pattern, in `(?-u:…)` for a rule compiled without Unicode (the set is
    /// built with it), so each pattern means in the set what it means alone.
    patterns: Vec<String>,
    compiled: std::sync::OnceLock<Option<GateSet>>,
}

#[derive(Debug)]
struct GateSet {
    set: RegexSet,
    /// For each pattern, its index in `set`; `None` for a pattern that cannot join a set (a
    /// verbose-mode comment swallowing the closing parenthesis, say): its rule always runs.
    slot: Vec<Option<usize>>,
}

/// What one pass of the gate found in a window.
pub(crate) struct GateMatches<'g> {
    found: regex::bytes::SetMatches,
    slot: &'g [Option<usize>],
}

impl GateMatches<'_> {
    /// Whether rule `i` of the gate may match in the window (its regex must run).
    pub(crate) fn may_match(&self, i: usize) -> bool {
        self.slot[i].is_none_or(|k| self.found.matched(k))
    }
}

impl RuleGate {
    /// A gate over `ids` (index `i` of a match set is `ids[i]`).
    pub(crate) fn new(rules: &[Rule], ids: &[u32]) -> RuleGate {
        let patterns = ids
            .iter()
            .map(|&r| {
                let rule = &rules[r as usize];
                if rule.unicode {
                    rule.pattern.clone()
                } else {
                    format!("(?-u:{})", rule.pattern)
                }
            })
            .collect();
        RuleGate {
            patterns,
            compiled: std::sync::OnceLock::new(),
        }
    }

    /// The set, compiled on first use. Should it not compile, the patterns that do not compile
    /// in a set alone are left out (their rules always run); `None` (every rule runs) only if
    /// the rest does not compile either.
    fn compiled(&self) -> Option<&GateSet> {
        self.compiled
            .get_or_init(|| {
                let build = |patterns: &[&String]| {
                    RegexSetBuilder::new(patterns)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
                        .build()
                        .ok()
                };
                let all: Vec<&String> = self.patterns.iter().collect();
                if let Some(set) = build(&all) {
                    let slot = (0..all.len()).map(Some).collect();
                    return Some(GateSet { set, slot });
                }
                let mut kept = Vec::new();
                let slot = all
                    .iter()
                    .map(|&p| {
                        build(&[p]).map(|_| {
                            kept.push(p);
                            kept.len() - 1
                        })
                    })
                    .collect();
                Some(GateSet {
                    set: build(&kept)?,
                    slot,
                })
            })
            .as_ref()
    }

    /// Which rules may match somewhere in `window` (`None`: no set, run every rule).
    pub(crate) fn matches(&self, window: &[u8]) -> Option<GateMatches<'_>> {
        self.compiled().map(|g| GateMatches {
            found: g.set.matches(window),
            slot: &g.slot,
        })
    }
}

fn rule_err(rule: &str, field: &'static str, message: impl Into<String>) -> Error {
    Error::Rule {
        rule: rule.to_owned(),
        field,
        message: message.into(),
    }
}

/// Compiled-program and lazy-DFA limits of every rule regex: rules run on small windows;
/// raised so a big alternation never makes the lazy DFA thrash or give up.
const REGEX_SIZE_LIMIT: usize = 32 << 20;
const REGEX_DFA_SIZE_LIMIT: usize = 8 << 20;

pub(crate) fn build_regex(pattern: &str, unicode: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .unicode(unicode)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .build()
}

pub(crate) fn compile(
    eager: bool,
    spec: &RuleSpec,
    pack: &str,
    pack_category: Option<Category>,
    pack_severity: Option<Severity>,
) -> Result<Rule, Error> {
    let id = spec.id.as_str();
    if id.is_empty()
        || !id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b':' | b'_' | b'.')
        })
    {
        return Err(rule_err(
            id,
            "id",
            "ids are lowercase letters, digits and dashes, e.g. `aws-access-key-id`",
        ));
    }
    let category = spec.category.or(pack_category).ok_or_else(|| {
        rule_err(
            id,
            "category",
            "missing; expected secret, pii, source_code, classified or custom",
        )
    })?;
    let severity = spec.severity.or(pack_severity).unwrap_or(Severity::Medium);
    // Syntax and group count are checked here for every rule; the (costly) compilation of
    // shipped rules waits until a rule is first triggered.
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(spec.unicode)
        .utf8(false)
        .build()
        .parse(&spec.regex)
        .map_err(|e| rule_err(id, "regex", e.to_string()))?;
    let groups = hir.properties().explicit_captures_len();
    if spec.secret_group > groups {
        return Err(rule_err(
            id,
            "secret_group",
            format!("the regex has only {groups} capture groups"),
        ));
    }
    let regex = std::sync::OnceLock::new();
    if eager {
        let compiled = build_regex(&spec.regex, spec.unicode)
            .map_err(|e| rule_err(id, "regex", e.to_string()))?;
        let _ = regex.set(compiled);
    }
    let validator = match &spec.validator {
        None => None,
        Some(name) => Some(Validator::from_name(name).ok_or_else(|| {
            rule_err(
                id,
                "validator",
                format!(
                    "`{name}` is not a validator; expected one of {}",
                    Validator::NAMES
                ),
            )
        })?),
    };
    let trigger = match (spec.trigger, spec.keywords.is_empty()) {
        (Some(Trigger::Keywords) | None, false) => Trigger::Keywords,
        (Some(Trigger::Keywords), true) => return Err(rule_err(id, "keywords", "trigger `keywords` needs at least one keyword")),
        (Some(t), true) => t,
        (Some(_), false) => return Err(rule_err(id, "trigger", "a rule with keywords is triggered by them; remove `trigger` or the keywords")),
        (None, true) => return Err(rule_err(id, "trigger", "a rule needs keywords or a trigger (digits, at, token) so the prefilter knows where it can match")),
    };
    for kw in &spec.keywords {
        if kw.len() < 3 {
            return Err(rule_err(
                id,
                "keywords",
                format!("keyword `{kw}` is shorter than 3 bytes: it would hit everywhere"),
            ));
        }
    }
    let (def_before, def_after) = match trigger {
        Trigger::Keywords => (48, 320),
        Trigger::Digits => (8, 8),
        Trigger::At | Trigger::Token => (0, 0),
    };
    let window = spec.window;
    let context = match &spec.context {
        None => None,
        Some(c) if c.words.is_empty() => return Err(rule_err(id, "context.words", "is empty")),
        Some(c) => Some(Context {
            words: WordSet::new(&c.words),
            require: c.mode == ContextMode::Require,
            require_if_bare: c.mode == ContextMode::RequireIfBare,
            window: c.window.unwrap_or(80),
        }),
    };
    let allow_re = spec
        .allow
        .regexes
        .iter()
        .map(|r| build_regex(r, true).map_err(|e| rule_err(id, "allow.regexes", e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let guard = |field: &'static str, re: &Option<String>| {
        re.as_deref()
            .map(|r| build_regex(r, true).map_err(|e| rule_err(id, field, e.to_string())))
            .transpose()
    };
    let not_after = guard("not_after", &spec.not_after)?;
    let not_before = guard("not_before", &spec.not_before)?;
    let preview = spec.preview.unwrap_or(match category {
        Category::Classified => PreviewStyle::Full,
        Category::Pii => PreviewStyle::Last4,
        _ => PreviewStyle::Middle,
    });
    let confidence = spec.confidence.unwrap_or(0.9);
    if !(0.0..=1.0).contains(&confidence) {
        return Err(rule_err(id, "confidence", "must lie between 0 and 1"));
    }
    Ok(Rule {
        id: Arc::from(id),
        pack: Arc::from(pack),
        description: spec.description.clone(),
        category,
        severity,
        keywords: spec
            .keywords
            .iter()
            .map(|k| k.to_ascii_lowercase())
            .collect(),
        regex,
        pattern: spec.regex.clone(),
        unicode: spec.unicode,
        secret_group: spec.secret_group,
        validator,
        entropy: spec.entropy,
        trigger,
        min_digits: spec.min_digits.unwrap_or(1),
        requires: WordSet::new(&spec.requires),
        shape: spec.shape.as_ref().map(Shape::new),
        context,
        allow_stop: WordSet::new(&spec.allow.stopwords),
        allow_re,
        standalone: spec.standalone,
        family: spec.family.as_deref().map(Arc::from),
        not_after,
        not_before,
        before: window.map_or(def_before, |w| w.before),
        after: window.map_or(def_after, |w| w.after),
        confidence,
        priority: spec.priority.unwrap_or(100),
        preview,
        spec: spec.clone(),
    })
}

/// The compiled global allowlist.
#[derive(Debug)]
pub(crate) struct Allowlist {
    documented: std::collections::HashSet<Vec<u8>>,
    sample_markers: Vec<Finder<'static>>,
    /// All placeholder patterns as one set: one pass per value instead of one per pattern.
    placeholders: RegexSet,
    pub negative_context: WordSet,
}

impl Allowlist {
    pub(crate) fn compile(spec: &AllowlistSpec) -> Result<Allowlist, Error> {
        let placeholders = RegexSetBuilder::new(&spec.placeholder_regexes)
            .unicode(false)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
            .build()
            .map_err(|set_error| {
                // Name the pattern at fault: compile them alone (only on this error path).
                let e = spec
                    .placeholder_regexes
                    .iter()
                    .find_map(|r| build_regex(r, false).err())
                    .map_or_else(|| set_error.to_string(), |e| e.to_string());
                Error::Allowlist(format!("placeholder_regexes: {e}"))
            })?;
        Ok(Allowlist {
            documented: spec
                .documented_values
                .iter()
                .map(|v| v.as_bytes().to_vec())
                .collect(),
            sample_markers: spec
                .sample_markers
                .iter()
                .map(|m| Finder::new(m.as_bytes()).into_owned())
                .collect(),
            placeholders,
            negative_context: WordSet::new(&spec.negative_context),
        })
    }

    /// True when `value` is a documentation sample or a placeholder, not a real secret.
    pub(crate) fn allows(&self, value: &[u8]) -> bool {
        if self.documented.contains(value)
            || self.sample_markers.iter().any(|m| m.find(value).is_some())
        {
            return true;
        }
        if self.placeholders.is_match(value) {
            return true;
        }
        // One character repeated, or a value of very low variety (`aaaaaaaa`, `12121212`).
        let distinct = {
            let mut seen = [false; 256];
            value
                .iter()
                .filter(|&&b| !std::mem::replace(&mut seen[b as usize], true))
                .count()
        };
        distinct <= 2 || (value.len() >= 16 && shannon_entropy(value) < 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_match_as_one_set_and_a_bad_pattern_is_named() {
        let spec = AllowlistSpec {
            placeholder_regexes: vec![r"^\$\{[^}]*\}$".into(), r"(?i)^changeme$".into()],
            ..AllowlistSpec::default()
        };
        let list = Allowlist::compile(&spec).unwrap();
        assert!(list.allows(b"${AWS_SECRET}"));
        assert!(list.allows(b"CHANGEME"));
        assert!(!list.allows(b"wJalrXUtnFEMI/K7MDENGbPxRfiCYzQ8pL2aTv9N"));
        let bad = AllowlistSpec {
            placeholder_regexes: vec![r"^ok$".into(), r"(unclosed".into()],
            ..AllowlistSpec::default()
        };
        let err = Allowlist::compile(&bad).unwrap_err().to_string();
        assert!(
            err.contains("placeholder_regexes") && err.contains("(unclosed"),
            "{err}"
        );
    }
}
