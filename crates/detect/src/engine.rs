//! The engine: the stages every scan goes through, in order.
//!
//! 1. `features` — one vectorised pass: digits, `@`, long tokens, non-ASCII, escapes, code
//!    punctuation.
//! 2. `keywords` — one striped DFA pass: every keyword occurrence.
//! 3. windows — each trigger opens a window for the rules it concerns; windows are widened to
//!    token delimiters and merged per rule.
//! 4. confirm — each rule's regex runs only inside its windows; the value then passes the
//!    allowlist, entropy floor, validator and context words.
//! 5. layers — the same stages on the normalised copy (evasion) and on decoded base64 blobs,
//!    with spans mapped back to the original.
//! 6. code regions, hashed dictionaries.
//! 7. resolve — duplicates and lower-priority overlaps dropped; findings sorted by offset.

use crate::code::CodeDetector;
use crate::dictionary::HashedDictionary;
use crate::encoded;
use crate::features::Features;
use crate::fingerprint::{FingerprintIndex, FingerprintKey};
use crate::keywords::KeywordIndex;
use crate::mask::{preview, shannon_entropy};
use crate::normalize::{normalize, suspicious_windows};
use crate::rules::{
    compile, parse_pack, Allowlist, GateMatches, Rule, RuleGate, BUILTIN_ALLOWLIST, BUILTIN_PACKS,
};
use crate::spec::{AllowlistSpec, DictionarySpec, RuleSpec, Trigger};
use crate::{dictionary, Error};
use leakguard_types::{Category, Finding, FindingDetail, Severity};
use std::collections::HashMap;
use std::sync::Arc;

/// What the policy file (or a caller) can change about the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Built-in packs to leave out (`secrets-generic`, `pii`, …).
    pub disabled_packs: Vec<String>,
    /// Single rules to leave out, by id.
    pub disabled_rules: Vec<String>,
    /// Extra rules, same shape as the TOML packs; category defaults to `custom`.
    pub custom_rules: Vec<RuleSpec>,
    /// Organisation dictionaries: codenames, customers, internal hosts.
    pub dictionaries: Vec<DictionarySpec>,
    /// Company names for the `copyright-header` rule.
    pub organisation_names: Vec<String>,
    /// Report source code regions of at least this many lines (0 disables the detector).
    pub code_min_lines: u32,
    /// Decode base64 blobs and scan them.
    pub decode_base64: bool,
    /// How many encodings deep to look (base64 inside base64…).
    pub max_decode_depth: u8,
    /// Findings below this confidence are dropped.
    pub min_confidence: f32,
    /// Run every rule on the whole text instead of only inside trigger windows. For tests of the
    /// prefilter contract; far slower.
    pub disable_prefilter: bool,
    /// Fingerprint indexes of the organisation's code, with their keys and thresholds.
    pub fingerprints: Vec<FingerprintSet>,
}

/// What a text holds that may be too little to report alone but adds up over the messages of
/// one conversation: lines of code (in regions of any length) and, per fingerprint index, the
/// keyed fingerprints of company code and documents it matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    pub code_lines: u32,
    /// Per index of `EngineConfig::fingerprints`, in order: (code, prose) matched hashes.
    pub fingerprints: Vec<(Vec<u64>, Vec<u64>)>,
}

/// One fingerprint index as the engine uses it.
#[derive(Debug, Clone)]
pub struct FingerprintSet {
    pub index: Arc<FingerprintIndex>,
    pub key: FingerprintKey,
    /// Least kept fingerprints of a code region found in the index (default 8).
    pub min_matches: usize,
    /// Least fraction of the region's kept fingerprints found (default 0.2).
    pub min_fraction: f32,
    /// Least prose fingerprints found for a document match (default 4).
    pub min_prose_matches: usize,
}

impl FingerprintSet {
    pub fn new(index: FingerprintIndex, key: FingerprintKey) -> FingerprintSet {
        FingerprintSet {
            index: Arc::new(index),
            key,
            min_matches: 8,
            min_fraction: 0.2,
            min_prose_matches: 4,
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            disabled_packs: Vec::new(),
            disabled_rules: Vec::new(),
            custom_rules: Vec::new(),
            dictionaries: Vec::new(),
            organisation_names: Vec::new(),
            code_min_lines: 3,
            decode_base64: true,
            max_decode_depth: 2,
            min_confidence: 0.3,
            disable_prefilter: false,
            fingerprints: Vec::new(),
        }
    }
}

/// A rule as the outside world sees it (for `leakguard rules` and the UI).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuleInfo {
    pub id: String,
    pub pack: String,
    pub description: String,
    pub category: Category,
    pub severity: Severity,
    pub keywords: Vec<String>,
}

/// The compiled detection engine. Build once, share (`Send + Sync`), scan from any thread.
#[derive(Debug)]
pub struct Engine {
    rules: Vec<Rule>,
    pub(crate) keywords: KeywordIndex,
    /// For keyword `k`: the rules it triggers.
    keyword_rules: Vec<Vec<u32>>,
    digit_rules: Vec<u32>,
    /// One pass over a digit cluster's window deciding which digit rules can match there.
    digit_gate: RuleGate,
    /// For a cluster of `d` digits (`d` capped at the last index): how many of `digit_rules`
    /// take it (they are sorted by the digits they need).
    digit_takers: Vec<usize>,
    at_rules: Vec<u32>,
    token_rules: Vec<u32>,
    /// For token-triggered rules: one automaton over all their `requires` literals, and for
    /// each literal the rules it selects. Rules without literals run on every token run.
    token_literals: Option<aho_corasick::AhoCorasick>,
    token_literal_rules: Vec<Vec<u32>>,
    token_unconditional: Vec<u32>,
    allowlist: Allowlist,
    code: Option<CodeDetector>,
    hashed: Vec<HashedDictionary>,
    config: EngineConfig,
}

/// A confirmed match before it becomes a [`Finding`].
#[derive(Debug, Clone)]
struct Raw {
    rule: u32,
    start: usize,
    end: usize,
    confidence: f32,
    preview: String,
    decoded_from: Option<&'static str>,
}

const DELIM_REACH: usize = 256;

#[inline]
fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t'
            | b'\n'
            | b'\r'
            | b'"'
            | b'\''
            | b'`'
            | b'<'
            | b'>'
            | b'('
            | b')'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b','
            | b';'
    )
}

impl Engine {
    /// The engine with the built-in rules and default settings.
    ///
    /// # Errors
    /// Only if a shipped rule is broken, which the test suite prevents.
    pub fn new() -> Result<Engine, Error> {
        Engine::with_config(EngineConfig::default())
    }

    /// The engine with the built-in rules adjusted by `config`.
    ///
    /// # Errors
    /// A rule, dictionary or allowlist entry that does not compile, naming the rule and field.
    pub fn with_config(config: EngineConfig) -> Result<Engine, Error> {
        let mut rules = Vec::new();
        let mut seen: HashMap<String, ()> = HashMap::new();
        let mut add = |rule: Rule, rules: &mut Vec<Rule>| -> Result<(), Error> {
            if seen.insert(rule.id.to_string(), ()).is_some() {
                return Err(Error::Duplicate(rule.id.to_string()));
            }
            rules.push(rule);
            Ok(())
        };
        for (pack, text) in BUILTIN_PACKS {
            if config.disabled_packs.iter().any(|p| p == pack) {
                continue;
            }
            let spec = parse_pack(pack, text)?;
            for r in &spec.rules {
                if config.disabled_rules.contains(&r.id) {
                    continue;
                }
                add(
                    compile(false, r, pack, spec.category, spec.severity)?,
                    &mut rules,
                )?;
            }
        }
        for r in &config.custom_rules {
            add(
                compile(
                    true,
                    r,
                    "custom",
                    Some(Category::Custom),
                    Some(Severity::High),
                )?,
                &mut rules,
            )?;
        }
        for d in &config.dictionaries {
            for spec in dictionary::plain_rules(d)? {
                add(
                    compile(
                        true,
                        &spec,
                        "dictionary",
                        Some(d.category),
                        Some(d.severity),
                    )?,
                    &mut rules,
                )?;
            }
        }
        if let Some(spec) = dictionary::copyright_rule(&config.organisation_names) {
            add(
                compile(
                    true,
                    &spec,
                    "dictionary",
                    Some(Category::Classified),
                    Some(Severity::High),
                )?,
                &mut rules,
            )?;
        }
        let hashed = config
            .dictionaries
            .iter()
            .filter_map(|d| d.hashed.as_ref().map(|h| HashedDictionary::new(d, h)))
            .collect::<Result<Vec<_>, _>>()?;

        let allow_spec: AllowlistSpec =
            toml::from_str(BUILTIN_ALLOWLIST).map_err(|e| Error::Allowlist(e.to_string()))?;
        let allowlist = Allowlist::compile(&allow_spec)?;

        let mut keyword_ids: HashMap<String, u32> = HashMap::new();
        let mut keyword_list: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<u32>> = Vec::new();
        let (mut digit_rules, mut at_rules, mut token_rules) = (Vec::new(), Vec::new(), Vec::new());
        for (i, rule) in rules.iter().enumerate() {
            let i = i as u32;
            match rule.trigger {
                Trigger::Keywords => {
                    for kw in &rule.keywords {
                        let id = *keyword_ids.entry(kw.clone()).or_insert_with(|| {
                            keyword_list.push(kw.clone());
                            keyword_rules.push(Vec::new());
                            (keyword_list.len() - 1) as u32
                        });
                        if !keyword_rules[id as usize].contains(&i) {
                            keyword_rules[id as usize].push(i);
                        }
                    }
                }
                Trigger::Digits => digit_rules.push(i),
                Trigger::At => at_rules.push(i),
                Trigger::Token => token_rules.push(i),
            }
        }
        let keywords =
            KeywordIndex::new(&keyword_list).map_err(|e| Error::Keywords(e.to_string()))?;
        let mut literal_list: Vec<String> = Vec::new();
        let mut token_literal_rules: Vec<Vec<u32>> = Vec::new();
        let mut token_unconditional = Vec::new();
        for &r in &token_rules {
            let spec = &rules[r as usize].spec;
            if spec.requires.is_empty() {
                token_unconditional.push(r);
            }
            for lit in &spec.requires {
                let lit = lit.to_ascii_lowercase();
                match literal_list.iter().position(|l| *l == lit) {
                    Some(i) => token_literal_rules[i].push(r),
                    None => {
                        literal_list.push(lit);
                        token_literal_rules.push(vec![r]);
                    }
                }
            }
        }
        let token_literals = if literal_list.is_empty() {
            None
        } else {
            Some(
                aho_corasick::AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                    .build(&literal_list)
                    .map_err(|e| Error::Keywords(e.to_string()))?,
            )
        };
        for set in &config.fingerprints {
            if !set.index.accepts(&set.key) {
                return Err(Error::Fingerprint(format!("index `{}`: the salt does not match this index; use the salt it was built with", set.index.label)));
            }
        }
        // Fewest digits first: a cluster stops at the first rule that needs more digits than
        // it has (most clusters in code are one to three digits long).
        digit_rules.sort_by_key(|&r| rules[r as usize].min_digits);
        let digit_gate = RuleGate::new(&rules, &digit_rules);
        let most_needed = digit_rules
            .last()
            .map_or(0, |&r| rules[r as usize].min_digits as usize);
        let digit_takers = (0..=most_needed)
            .map(|d| digit_rules.partition_point(|&r| rules[r as usize].min_digits as usize <= d))
            .collect();
        let code = (config.code_min_lines > 0 || !config.fingerprints.is_empty())
            .then(|| CodeDetector::new(config.code_min_lines.max(1)))
            .transpose()?;
        let engine = Engine {
            rules,
            keywords,
            keyword_rules,
            digit_rules,
            digit_gate,
            digit_takers,
            at_rules,
            token_rules,
            token_literals,
            token_literal_rules,
            token_unconditional,
            allowlist,
            code,
            hashed,
            config,
        };
        Ok(engine)
    }

    /// Compiles every rule and runs each once on its first example, so the first real scans
    /// pay neither compilation (~0.2 ms a rule) nor cold lazy-DFA caches. Long-running
    /// processes (the guard) call this at start; one-shot scans skip it and compile only the
    /// rules their text triggers.
    pub fn warm(&self) {
        for rule in &self.rules {
            for ex in rule.spec.examples.matches.iter().take(1) {
                let _ = rule.regex().find(ex.as_bytes());
                if rule.trigger == Trigger::Digits {
                    let _ = self.digit_gate.matches(ex.as_bytes());
                }
            }
        }
    }

    /// The rules loaded, in pack order.
    pub fn rules(&self) -> impl Iterator<Item = RuleInfo> + '_ {
        self.rules.iter().map(|r| RuleInfo {
            id: r.id.to_string(),
            pack: r.pack.to_string(),
            description: r.description.clone(),
            category: r.category,
            severity: r.severity,
            keywords: r.keywords.clone(),
        })
    }

    /// The spec (with examples) of each rule, for the example tests and `leakguard rules`.
    pub fn rule_specs(&self) -> impl Iterator<Item = (&str, &RuleSpec)> + '_ {
        self.rules.iter().map(|r| (&*r.pack, &r.spec))
    }

    /// Number of distinct prefilter keywords.
    pub fn keyword_count(&self) -> usize {
        self.keywords.len()
    }

    /// Scans UTF-8 text. Spans lie on char boundaries of `text`.
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        self.scan_bytes(text.as_bytes())
    }

    /// Scans bytes that may not be valid UTF-8 (a binary file, a broken body). Invalid
    /// sequences are treated as opaque bytes; nothing panics.
    pub fn scan_bytes(&self, hay: &[u8]) -> Vec<Finding> {
        let features = Features::scan(hay);
        let mut raws = Vec::new();
        self.scan_layers(hay, &features, 0, &mut raws);
        let mut findings = self.resolve(raws);
        if let Some(code) = &self.code {
            if self.config.code_min_lines > 0 {
                findings.extend(code.findings(hay, &features));
            }
            if !self.config.fingerprints.is_empty() {
                findings.extend(self.fingerprint_findings(code, hay, &features));
                self.prose_findings(hay, &mut findings);
            }
        }
        for d in &self.hashed {
            findings.extend(d.findings(hay));
        }
        findings.sort_by(|a, b| {
            a.start
                .cmp(&b.start)
                .then(b.end.cmp(&a.end))
                .then(a.rule.cmp(&b.rule))
        });
        findings
    }

    fn scan_layers(&self, hay: &[u8], features: &Features, depth: u8, out: &mut Vec<Raw>) {
        let first = out.len();
        self.scan_plain(hay, features, out);
        let found_plain = out.len() - first;

        for (ws, we) in suspicious_windows(hay, features, 256) {
            let window = &hay[ws..we];
            let Some(norm) = normalize(window, true, true) else {
                continue;
            };
            let nf = Features::scan(&norm.text);
            let mut extra = Vec::new();
            self.scan_plain(&norm.text, &nf, &mut extra);
            for mut r in extra {
                let (s, e) = norm.original_span(r.start, r.end);
                let (s, e) = (s + ws, e + ws);
                let dup = out[first..first + found_plain]
                    .iter()
                    .any(|o| o.rule == r.rule && o.start < e && s < o.end);
                if !dup {
                    r.start = s;
                    r.end = e;
                    r.decoded_from = Some("normalized");
                    out.push(r);
                }
            }
        }

        if self.config.decode_base64 && depth < self.config.max_decode_depth {
            let mut budget = hay.len().max(1 << 20);
            // A short text (a prompt that is only the blob) is searched for shorter runs too.
            let runs = if hay.len() <= SHORT_TEXT {
                encoded::short_runs(hay)
            } else {
                features.token_runs(hay)
            };
            for (rs, re) in runs {
                let Some((decoded, encoding, at)) = encoded::decode_run(&hay[rs..re]) else {
                    continue;
                };
                let rs = rs + at;
                if decoded.len() > budget {
                    break;
                }
                budget -= decoded.len();
                let mut inner = Vec::new();
                self.scan_layers(&decoded, &Features::scan(&decoded), depth + 1, &mut inner);
                for mut r in inner {
                    let (s, e) = encoding.span(rs, re - rs, r.start, r.end);
                    r.start = s;
                    r.end = e;
                    r.decoded_from = Some(encoding.name());
                    out.push(r);
                }
            }
        }
        self.fix_char_boundaries(hay, &mut out[first..]);
    }

    /// Findings must lie on char boundaries of valid UTF-8 input.
    fn fix_char_boundaries(&self, hay: &[u8], raws: &mut [Raw]) {
        let is_boundary = |i: usize| i == 0 || i >= hay.len() || (hay[i] as i8) >= -0x40;
        for r in raws {
            while r.start > 0 && !is_boundary(r.start) {
                r.start -= 1;
            }
            while r.end < hay.len() && !is_boundary(r.end) {
                r.end += 1;
            }
        }
    }

    /// Stages 1-4 on one buffer.
    fn scan_plain(&self, hay: &[u8], features: &Features, out: &mut Vec<Raw>) {
        let len = hay.len();
        // Per scan: whether each rule's `requires` words occur anywhere in the text, decided
        // the first time the rule is triggered. A rule whose words are absent skips all windows.
        let required_present: Vec<std::cell::Cell<u8>> = (0..self.rules.len())
            .map(|_| std::cell::Cell::new(2))
            .collect();
        // Whether the rule's `requires` words occur in the text at all. Keyword-triggered rules
        // already run on narrow windows; the whole-text check pays only for rules that digits,
        // `@` or tokens trigger all over a text (checked before a window is even widened).
        let possible = |r: u32| -> bool {
            let rule = &self.rules[r as usize];
            if rule.requires.is_empty() || rule.trigger == Trigger::Keywords {
                return true;
            }
            let cell = &required_present[r as usize];
            if cell.get() == 2 {
                cell.set(u8::from(rule.requires.found_in(hay)));
            }
            cell.get() == 1
        };
        let confirm = |r: u32, s: usize, e: usize, out: &mut Vec<Raw>| {
            if possible(r) {
                self.confirm(r, hay, s, e, out);
            }
        };
        let mut windows: Vec<(u32, usize, usize)> = Vec::new();
        if self.config.disable_prefilter {
            windows.extend((0..self.rules.len() as u32).map(|r| (r, 0, len)));
        } else {
            for hit in self.keywords.hits(hay, features) {
                for &r in &self.keyword_rules[hit.keyword as usize] {
                    let rule = &self.rules[r as usize];
                    windows.push((
                        r,
                        hit.start.saturating_sub(rule.before),
                        (hit.end + rule.after).min(len),
                    ));
                }
            }
            // Feature-triggered windows are confirmed at once: each trigger's window is widened
            // once and shared by every rule of that trigger; overlapping windows may find the
            // same match twice, which `resolve` removes.
            if !self.digit_rules.is_empty() {
                for c in features.digit_clusters(hay) {
                    // Widened once, for the first rule that takes the cluster.
                    let mut near: Option<(usize, usize)> = None;
                    // A cluster that several rules take is first searched for all their
                    // patterns at once (in that shared window), and only the rules whose
                    // pattern occurs run their own regex.
                    let takers =
                        self.digit_takers[(c.digits as usize).min(self.digit_takers.len() - 1)];
                    let mut gate: Option<Option<GateMatches<'_>>> = None;
                    for (i, &r) in self.digit_rules[..takers].iter().enumerate() {
                        let rule = &self.rules[r as usize];
                        if !rule
                            .shape
                            .as_ref()
                            .is_none_or(|sh| sh.fits(hay, c.start, c.end))
                            || !possible(r)
                        {
                            continue;
                        }
                        if rule.before > 8 || rule.after > 8 {
                            let (s, e) = widen(
                                hay,
                                c.start.saturating_sub(rule.before),
                                (c.end + rule.after).min(len),
                            );
                            confirm(r, s, e, out);
                            continue;
                        }
                        let (s, e) = *near.get_or_insert_with(|| {
                            widen(hay, c.start.saturating_sub(8), (c.end + 8).min(len))
                        });
                        if takers >= GATE_MIN_RULES {
                            let matched =
                                gate.get_or_insert_with(|| self.digit_gate.matches(&hay[s..e]));
                            if matched.as_ref().is_some_and(|m| !m.may_match(i)) {
                                continue;
                            }
                        }
                        confirm(r, s, e, out);
                    }
                }
            }
            if !self.at_rules.is_empty() {
                for at in features.at_signs(hay) {
                    let (ws, we) = widen(hay, at, (at + 1).min(len));
                    for &r in &self.at_rules {
                        confirm(r, ws, we, out);
                    }
                }
            }
            if !self.token_rules.is_empty() {
                let mut selected: Vec<u32> = Vec::new();
                for (s, e) in features.token_runs(hay) {
                    selected.clear();
                    selected.extend_from_slice(&self.token_unconditional);
                    if let Some(ac) = &self.token_literals {
                        // The literals sit in the run (after a `NAME=` prefix, say) or just
                        // before it (`pat…` of `pat….hex`).
                        let from = s.saturating_sub(48);
                        for m in ac.find_overlapping_iter(&hay[from..e]) {
                            selected.extend_from_slice(
                                &self.token_literal_rules[m.pattern().as_usize()],
                            );
                        }
                    }
                    selected.sort_unstable();
                    selected.dedup();
                    for &r in &selected {
                        let rule = &self.rules[r as usize];
                        let (ws, we) = widen(
                            hay,
                            s.saturating_sub(rule.before),
                            (e + rule.after).min(len),
                        );
                        self.confirm(r, hay, ws, we, out);
                    }
                }
            }
        }
        if windows.is_empty() {
            return;
        }
        for w in windows.iter_mut() {
            let (s, e) = widen(hay, w.1, w.2);
            w.1 = s;
            w.2 = e;
        }
        windows.sort_unstable();
        let mut merged: Vec<(u32, usize, usize)> = Vec::with_capacity(windows.len());
        for w in windows {
            match merged.last_mut() {
                Some(last) if last.0 == w.0 && w.1 <= last.2 => last.2 = last.2.max(w.2),
                _ => merged.push(w),
            }
        }
        for (r, ws, we) in merged {
            confirm(r, ws, we, out);
        }
    }

    fn confirm(&self, r: u32, hay: &[u8], ws: usize, we: usize, out: &mut Vec<Raw>) {
        let rule = &self.rules[r as usize];
        let window = &hay[ws..we];
        // Token rules were selected by their literal already (see `scan_plain`).
        if rule.trigger != Trigger::Token
            && !rule.requires.is_empty()
            && !rule.requires.found_in(window)
        {
            return;
        }
        if rule.secret_group == 0 {
            for m in rule.regex().find_iter(window) {
                self.accept(
                    rule,
                    r,
                    hay,
                    ws + m.start(),
                    ws + m.end(),
                    ws + m.start(),
                    ws + m.end(),
                    out,
                );
            }
        } else {
            for caps in rule.regex().captures_iter(window) {
                let (Some(whole), Some(secret)) = (caps.get(0), caps.get(rule.secret_group)) else {
                    continue;
                };
                self.accept(
                    rule,
                    r,
                    hay,
                    ws + whole.start(),
                    ws + whole.end(),
                    ws + secret.start(),
                    ws + secret.end(),
                    out,
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn accept(
        &self,
        rule: &Rule,
        r: u32,
        hay: &[u8],
        ms: usize,
        me: usize,
        mut ss: usize,
        mut se: usize,
        out: &mut Vec<Raw>,
    ) {
        if se <= ss {
            return;
        }
        // A digit run can swallow a neighbouring number (`4111 1111 1111 1111 0`): when the
        // validator rejects the whole run, the longest run of whole digit groups inside it that
        // passes is the finding.
        if let (Some(v), Trigger::Digits) = (rule.validator, rule.trigger) {
            if !v.check(&hay[ss..se]) {
                match best_group_span(&hay[ss..se], |sub| v.check(sub)) {
                    Some((a, b)) => {
                        se = ss + b;
                        ss += a;
                    }
                    None => return,
                }
            }
        }
        let value = &hay[ss..se];
        let is_secret = matches!(rule.category, Category::Secret | Category::Custom);
        if is_secret && self.allowlist.allows(value) {
            return;
        }
        if rule.allow_stop.found_in(value) {
            return;
        }
        if rule.allow_re.iter().any(|re| re.is_match(value)) {
            return;
        }
        if rule.standalone && !stands_alone(hay, ss, se) {
            return;
        }
        if let Some(re) = &rule.not_after {
            if re.is_match(line_before(hay, ss)) {
                return;
            }
        }
        if let Some(re) = &rule.not_before {
            if re.is_match(line_after(hay, se)) {
                return;
            }
        }
        if let Some(floor) = rule.entropy {
            if shannon_entropy(value) < floor {
                return;
            }
        }
        if let Some(v) = rule.validator {
            if !v.check(value) {
                return;
            }
        }
        let mut confidence = rule.confidence;
        if let Some(ctx) = &rule.context {
            let around = &hay[ms.saturating_sub(ctx.window)..(me + ctx.window).min(hay.len())];
            let present = ctx.words.found_as_word_in(around);
            let require =
                ctx.require || (ctx.require_if_bare && value.iter().all(u8::is_ascii_digit));
            if require && !present {
                return;
            }
            if !require {
                confidence += if present { 0.1 } else { -0.2 };
            }
        }
        if is_secret && !self.allowlist.negative_context.is_empty() {
            let before = &hay[ms.saturating_sub(40)..ms];
            let after = &hay[me..(me + 40).min(hay.len())];
            if self.allowlist.negative_context.found_in(before)
                || self.allowlist.negative_context.found_in(after)
            {
                confidence -= 0.3;
            }
        }
        let confidence = confidence.clamp(0.0, 1.0);
        if confidence < self.config.min_confidence {
            return;
        }
        out.push(Raw {
            rule: r,
            start: ss,
            end: se,
            confidence,
            preview: preview(value, rule.preview),
            decoded_from: None,
        });
    }

    /// Stage 7: drop duplicates and findings overlapped by a higher-priority rule of the same
    /// category; turn the rest into [`Finding`]s.
    fn resolve(&self, mut raws: Vec<Raw>) -> Vec<Finding> {
        raws.sort_by(|a, b| {
            a.start
                .cmp(&b.start)
                .then(b.end.cmp(&a.end))
                .then(a.rule.cmp(&b.rule))
        });
        raws.dedup_by(|b, a| a.rule == b.rule && a.start == b.start && a.end == b.end);
        let mut keep = vec![true; raws.len()];
        for i in 0..raws.len() {
            let ri = &self.rules[raws[i].rule as usize];
            let mut j = i + 1;
            while j < raws.len() && raws[j].start < raws[i].end {
                let rj = &self.rules[raws[j].rule as usize];
                if ri.category == rj.category {
                    if ri.family.is_some() && ri.family == rj.family && raws[i].rule != raws[j].rule
                    {
                        // One number, two countries' formats: the more confident (then the
                        // longer) finding stays.
                        let (a, b) = (&raws[i], &raws[j]);
                        let a_wins =
                            (a.confidence, a.end - a.start) >= (b.confidence, b.end - b.start);
                        if a_wins {
                            keep[j] = false;
                        } else {
                            keep[i] = false;
                        }
                    } else if ri.priority < rj.priority {
                        keep[i] = false;
                    } else if rj.priority < ri.priority {
                        keep[j] = false;
                    } else if raws[i].rule == raws[j].rule {
                        // The same rule twice over one value (plain and decoded): keep the first.
                        keep[j] = false;
                    }
                }
                j += 1;
            }
        }
        raws.into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(r, _)| {
                let rule = &self.rules[r.rule as usize];
                Finding {
                    rule: rule.id.to_string(),
                    category: rule.category,
                    severity: rule.severity,
                    start: r.start,
                    end: r.end,
                    confidence: r.confidence,
                    preview: r.preview,
                    detail: FindingDetail {
                        decoded_from: r.decoded_from.map(str::to_owned),
                        ..FindingDetail::default()
                    },
                }
            })
            .collect()
    }

    /// The source-code regions of a text, of any length (findings only report regions of at
    /// least `code_min_lines`). Empty when the code detector is disabled.
    pub fn code_regions(&self, text: &str) -> Vec<crate::CodeRegion> {
        self.code
            .as_ref()
            .map_or_else(Vec::new, |c| c.regions(text.as_bytes()))
    }

    /// The language voted for a piece of code (keyword and marker counts), or `None` when no
    /// language has enough votes or the code detector is disabled.
    pub fn code_language(&self, code: &str) -> Option<String> {
        self.code.as_ref().and_then(|c| c.language(code.as_bytes()))
    }

    /// Code whose kept fingerprints are found in an organisation index. The lookup covers the
    /// span from the first code region to the last, once: reflowed or oddly laid out code can
    /// split into several regions, and k-grams that cross a region border must still count.
    fn fingerprint_findings(
        &self,
        code: &CodeDetector,
        hay: &[u8],
        features: &Features,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut regions = code.regions_with(hay, features);
        if let Some(first) = regions.first_mut() {
            code.fill_language(hay, first);
        }
        let (Some(first), Some(last)) = (regions.first(), regions.last()) else {
            return out;
        };
        let (rs, re) = (first.start, last.end);
        let text = &hay[rs..re];
        for set in &self.config.fingerprints {
            let m = set.index.lookup(text, &set.key);
            if m.matched >= set.min_matches.max(1) && m.fraction() >= set.min_fraction {
                let (start, end) = (rs + m.start, rs + m.end);
                let lines = memchr::memchr_iter(b'\n', &hay[start..end]).count() as u32 + 1;
                out.push(Finding {
                    rule: format!("fingerprint:{}", set.index.label),
                    category: Category::Classified,
                    severity: Severity::High,
                    start,
                    end,
                    confidence: (0.6 + 0.4 * m.fraction()).min(1.0),
                    preview: format!(
                        "{lines} lines matching {} of {} fingerprints of {}",
                        m.matched, m.total, set.index.label
                    ),
                    detail: FindingDetail {
                        lines: Some(lines),
                        matched_fraction: Some(m.fraction()),
                        language: first.language.clone(),
                        fingerprint: Some("code".into()),
                        ..FindingDetail::default()
                    },
                });
            }
        }
        out
    }

    /// Text of the organisation's documents (or of its code's comments): the whole text's
    /// words are looked up in each index's prose part. One finding per index, from the first
    /// to the last matched run; none where the same index already matched the text as code.
    fn prose_findings(&self, hay: &[u8], findings: &mut Vec<Finding>) {
        for set in &self.config.fingerprints {
            if set.index.prose_len() == 0 {
                continue;
            }
            let rule = format!("fingerprint:{}", set.index.label);
            if findings.iter().any(|f| f.rule == rule) {
                continue;
            }
            let m = set.index.lookup_prose(hay, &set.key);
            if m.matched < set.min_prose_matches.max(1) {
                continue;
            }
            // Offsets come from the text read as UTF-8 (lossily): kept within the bytes.
            let end = m.end.min(hay.len());
            let start = m.start.min(end);
            let lines = memchr::memchr_iter(b'\n', &hay[start..end]).count() as u32 + 1;
            findings.push(Finding {
                rule,
                category: Category::Classified,
                severity: Severity::High,
                start,
                end,
                confidence: (0.6 + 0.4 * m.fraction()).min(1.0),
                preview: format!(
                    "text matching {} of {} document fingerprints of {}",
                    m.matched, m.total, set.index.label
                ),
                detail: FindingDetail {
                    lines: Some(lines),
                    matched_fraction: Some(m.fraction()),
                    fingerprint: Some("document".into()),
                    ..FindingDetail::default()
                },
            });
        }
    }

    /// The text's [`Signals`] (for conversation-level accumulation).
    pub fn signals(&self, text: &str) -> Signals {
        let hay = text.as_bytes();
        let code_lines = self.code.as_ref().map_or(0, |c| {
            c.regions_with(hay, &Features::scan(hay))
                .iter()
                .map(|r| r.code_lines)
                .sum()
        });
        Signals {
            code_lines,
            fingerprints: self
                .config
                .fingerprints
                .iter()
                .map(|set| set.index.matched_hashes(hay, &set.key))
                .collect(),
        }
    }

    /// The configuration the engine was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The rule id of every rule, for checks that refer to rules by id.
    pub fn has_rule(&self, id: &str) -> bool {
        self.rules.iter().any(|r| &*r.id == id)
    }
}

/// Whether `hay[s..e]` is not part of a longer identifier: no ASCII letter, digit or `_`
/// touches it, directly or through one `-`.
fn stands_alone(hay: &[u8], s: usize, e: usize) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let glued_before = match s.checked_sub(1).map(|j| hay[j]) {
        Some(b) if word(b) => true,
        Some(b'-') => s >= 2 && word(hay[s - 2]),
        _ => false,
    };
    let glued_after = match hay.get(e) {
        Some(&b) if word(b) => true,
        Some(b'-') => hay.get(e + 1).is_some_and(|&b| word(b)),
        _ => false,
    };
    !glued_before && !glued_after
}

/// Up to 64 bytes before `at`, from the line's start (on a character boundary).
fn line_before(hay: &[u8], at: usize) -> &[u8] {
    let mut s = at.saturating_sub(64);
    if let Some(nl) = memchr::memrchr(b'\n', &hay[s..at]) {
        s += nl + 1;
    }
    while s < at && (hay[s] as i8) < -0x40 {
        s += 1;
    }
    &hay[s..at]
}

/// Up to 64 bytes after `at`, to the line's end (on a character boundary).
fn line_after(hay: &[u8], at: usize) -> &[u8] {
    let mut e = (at + 64).min(hay.len());
    if let Some(nl) = memchr::memchr(b'\n', &hay[at..e]) {
        e = at + nl;
    }
    while e > at && e < hay.len() && (hay[e] as i8) < -0x40 {
        e -= 1;
    }
    &hay[at..e]
}

/// The longest (then leftmost) span of whole separator-delimited groups of `value` that
/// passes `ok`, as offsets into `value`.
fn best_group_span(value: &[u8], ok: impl Fn(&[u8]) -> bool) -> Option<(usize, usize)> {
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, &b) in value.iter().enumerate() {
        let sep = matches!(b, b' ' | b'-' | b'.' | b'/');
        match (sep, start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                groups.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        groups.push((s, value.len()));
    }
    if groups.len() < 2 || groups.len() > 24 {
        return None;
    }
    let mut best: Option<(usize, usize)> = None;
    for i in 0..groups.len() {
        for j in i..groups.len() {
            if i == 0 && j == groups.len() - 1 {
                continue; // the whole value already failed
            }
            let (a, b) = (groups[i].0, groups[j].1);
            if best.is_some_and(|(x, y)| y - x >= b - a) {
                continue;
            }
            if ok(&value[a..b]) {
                best = Some((a, b));
            }
        }
    }
    best
}

/// A digit cluster taken by at least this many rules goes through the [`RuleGate`] first
/// (below it, running the few regexes costs less than the set's pass).
const GATE_MIN_RULES: usize = 3;

/// Texts up to this long are searched for base64 runs of 24 characters and more (a key of 20
/// characters alone, base64-encoded); longer texts for the block pass's runs of 31 and more.
const SHORT_TEXT: usize = 256;

/// Widens `start..end` outward to the nearest token delimiters (at most [`DELIM_REACH`] bytes
/// each way), so a regex's word boundaries mean the same in the window as in the text.
fn widen(hay: &[u8], start: usize, end: usize) -> (usize, usize) {
    let mut s = start;
    let floor = start.saturating_sub(DELIM_REACH);
    while s > floor && !is_delim(hay[s - 1]) {
        s -= 1;
    }
    let mut e = end;
    let ceil = (end + DELIM_REACH).min(hay.len());
    while e < ceil && !is_delim(hay[e]) {
        e += 1;
    }
    (s, e)
}

/// Shared handle to an engine.
pub type SharedEngine = Arc<Engine>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The digit gate says "may match" wherever a digit rule's own regex matches: every
    /// example (matching or not) of every digit rule, alone and inside a sentence.
    #[test]
    fn the_digit_gate_never_hides_a_match() {
        let engine = Engine::new().unwrap();
        let mut checked = 0;
        for (i, &r) in engine.digit_rules.iter().enumerate() {
            let rule = &engine.rules[r as usize];
            let examples = &rule.spec.examples;
            for ex in examples.matches.iter().chain(&examples.no_match) {
                for text in [ex.clone(), format!("Order 1099511627776, see {ex} today")] {
                    let gate = engine.digit_gate.matches(text.as_bytes()).unwrap();
                    let alone = rule.regex().is_match(text.as_bytes());
                    assert_eq!(gate.may_match(i), alone, "{} on {text:?}", rule.id);
                    checked += 1;
                }
            }
        }
        assert!(checked > 100, "only {checked} examples");
    }

    /// Custom digit rules join the gate; one whose pattern cannot join a set (a verbose-mode
    /// comment would swallow the set's closing parenthesis) is left out of it and always runs,
    /// and both still find their numbers.
    #[test]
    fn custom_digit_rules_are_found_with_and_without_a_gate() {
        let rule = |regex: &str| -> RuleSpec {
            let mut spec: RuleSpec = toml::from_str(
                "id = \"acme-order\"\ndescription = \"order number\"\ntrigger = \"digits\"\nmin_digits = 13\nregex = \"x\"",
            )
            .unwrap();
            spec.regex = regex.to_string();
            spec
        };
        let text = "Shipped as ORD-1099511627776 yesterday; card 4111 1111 1111 1111.";
        for (spec, gated) in [
            (rule(r"ORD-\d{13}\b"), true),
            (rule("(?x) ORD- \\d{13} # thirteen digits"), false),
        ] {
            let engine = Engine::with_config(EngineConfig {
                custom_rules: vec![spec],
                ..EngineConfig::default()
            })
            .unwrap();
            // Outside a window holding an order number, the rule runs only when it is not
            // in the set.
            let i = engine
                .digit_rules
                .iter()
                .position(|&r| &*engine.rules[r as usize].id == "acme-order")
                .unwrap();
            let gate = engine.digit_gate.matches(b"x").unwrap();
            assert_eq!(gate.may_match(i), !gated);
            let rules: Vec<String> = engine.scan(text).into_iter().map(|f| f.rule).collect();
            assert!(rules.iter().any(|r| r == "acme-order"), "{rules:?}");
            assert!(rules.iter().any(|r| r.contains("card")), "{rules:?}");
        }
    }

    /// A long number that wakes every digit rule does not hide a card number next to it.
    #[test]
    fn a_card_next_to_a_long_number_is_found() {
        let engine = Engine::new().unwrap();
        let text = "Request 1099511627776 paid with 4111 1111 1111 1111 yesterday.";
        let rules: Vec<String> = engine.scan(text).into_iter().map(|f| f.rule).collect();
        assert!(rules.iter().any(|r| r.contains("card")), "{rules:?}");
    }
}
