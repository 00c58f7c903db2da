//! Organisation dictionaries: project codenames, customer names, internal host suffixes, and
//! the company names of copyright headers. Plain terms become ordinary keyword rules (so they
//! share the one prefilter pass); hashed terms are looked up word n-gram by n-gram, so the
//! policy file never spells out a codename.

use crate::spec::{DictionarySpec, HashedTermsSpec, RuleSpec};
use crate::Error;
use leakguard_types::{Category, Finding, FindingDetail, Severity};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use unicode_normalization::UnicodeNormalization;

fn dict_err(name: &str, message: impl Into<String>) -> Error {
    Error::Dictionary {
        name: name.to_owned(),
        message: message.into(),
    }
}

fn blank_rule(id: String, description: String) -> RuleSpec {
    let mut r = RuleSpec::new(&id, &description, "");
    r.confidence = Some(0.95);
    r.unicode = true;
    r.preview = Some(crate::spec::PreviewStyle::Middle);
    r
}

/// The keyword rules for a dictionary's plain terms: one rule for whole-word terms and one for
/// `*.domain` suffixes.
pub(crate) fn plain_rules(d: &DictionarySpec) -> Result<Vec<RuleSpec>, Error> {
    if d.name.is_empty()
        || !d
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(dict_err(
            &d.name,
            "names are lowercase letters, digits and dashes",
        ));
    }
    let mut out = Vec::new();
    let (domains, words): (Vec<&String>, Vec<&String>) =
        d.terms.iter().partition(|t| t.starts_with("*."));
    let words: Vec<&String> = words.into_iter().filter(|w| !w.trim().is_empty()).collect();
    if !words.is_empty() {
        for w in &words {
            if w.trim().len() < 3 {
                return Err(dict_err(
                    &d.name,
                    format!("term `{w}` is shorter than 3 bytes"),
                ));
            }
        }
        let alternation = words
            .iter()
            .map(|w| regex::escape(w.trim()))
            .collect::<Vec<_>>()
            .join("|");
        let mut r = blank_rule(
            format!("dictionary:{}", d.name),
            format!("Term from the `{}` dictionary", d.name),
        );
        r.keywords = words.iter().map(|w| w.trim().to_lowercase()).collect();
        // Whole words where the term has word characters at its edges.
        r.regex = format!(r"(?i)(?:^|[^\p{{L}}\p{{N}}_])({alternation})(?:$|[^\p{{L}}\p{{N}}_])");
        r.secret_group = 1;
        r.window = Some(crate::spec::WindowSpec {
            before: 8,
            after: 8,
        });
        out.push(r);
    }
    if !domains.is_empty() {
        let suffixes: Vec<String> = domains
            .iter()
            .map(|t| t[2..].to_ascii_lowercase())
            .collect();
        if suffixes.iter().any(|s| s.len() < 4 || !s.contains('.')) {
            return Err(dict_err(
                &d.name,
                "a `*.` term needs a domain with a dot, like `*.corp.example.com`",
            ));
        }
        let alternation = suffixes
            .iter()
            .map(|s| regex::escape(s))
            .collect::<Vec<_>>()
            .join("|");
        let mut r = blank_rule(
            format!("dictionary:{}:host", d.name),
            format!("Internal host from the `{}` dictionary", d.name),
        );
        r.keywords = suffixes;
        r.regex =
            format!(r"(?i)\b((?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{alternation}))\b");
        r.secret_group = 1;
        r.unicode = false;
        r.preview = Some(crate::spec::PreviewStyle::Full);
        r.window = Some(crate::spec::WindowSpec {
            before: 128,
            after: 8,
        });
        out.push(r);
    }
    Ok(out)
}

/// `Copyright (c) 2024 Acme Corp` and the like, for the organisation's own names.
pub(crate) fn copyright_rule(names: &[String]) -> Option<RuleSpec> {
    let names: Vec<String> = names
        .iter()
        .map(|n| n.trim())
        .filter(|n| n.len() >= 2)
        .map(regex::escape)
        .collect();
    if names.is_empty() {
        return None;
    }
    let mut r = blank_rule(
        "copyright-header".into(),
        "Copyright notice naming the organisation".into(),
    );
    // `©` alone is two bytes, under the prefilter's three-byte minimum.
    r.keywords = vec![
        "copyright".into(),
        "(c)".into(),
        "© ".into(),
        "©1".into(),
        "©2".into(),
    ];
    r.regex = format!(
        r"(?i)(?:copyright|\(c\)|©)(?:\s*(?:\(c\)|©))?\s*(?:\d{{4}}(?:\s*[-–]\s*\d{{4}})?,?\s*)?(?:by\s+)?(?:{})",
        names.join("|")
    );
    r.preview = Some(crate::spec::PreviewStyle::Full);
    r.window = Some(crate::spec::WindowSpec {
        before: 8,
        after: 96,
    });
    Some(r)
}

/// How a term is normalised before hashing: NFKC, lowercase, words joined by one space.
pub fn normalise_term(term: &str) -> String {
    let lowered: String = term.nfkc().collect::<String>().to_lowercase();
    lowered
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The hash of a term as written in a policy: 32 hex characters.
pub fn hash_term(salt: &str, term: &str) -> String {
    let digest = Sha256::new()
        .chain_update(salt.as_bytes())
        .chain_update([0u8])
        .chain_update(normalise_term(term).as_bytes())
        .finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug)]
pub(crate) struct HashedDictionary {
    id: String,
    category: Category,
    severity: Severity,
    salt: String,
    hashes: HashSet<[u8; 16]>,
    max_words: usize,
}

impl HashedDictionary {
    pub(crate) fn new(d: &DictionarySpec, h: &HashedTermsSpec) -> Result<HashedDictionary, Error> {
        if h.salt.len() < 8 {
            return Err(dict_err(
                &d.name,
                "hashed.salt must be at least 8 characters",
            ));
        }
        let mut hashes = HashSet::new();
        for hex in &h.hashes {
            let bytes: Option<Vec<u8>> = (0..hex.len())
                .step_by(2)
                .map(|i| {
                    hex.get(i..i + 2)
                        .and_then(|p| u8::from_str_radix(p, 16).ok())
                })
                .collect();
            let arr: [u8; 16] = bytes
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| dict_err(&d.name, format!("hash `{hex}` is not 32 hex characters (make hashes with `leakguard dictionary hash`)")))?;
            hashes.insert(arr);
        }
        Ok(HashedDictionary {
            id: format!("dictionary:{}", d.name),
            category: d.category,
            severity: d.severity,
            salt: h.salt.clone(),
            hashes,
            max_words: h.max_words.unwrap_or(3).clamp(1, 6),
        })
    }

    pub(crate) fn findings(&self, hay: &[u8]) -> Vec<Finding> {
        let text = String::from_utf8_lossy(hay);
        if text.len() != hay.len() {
            // Offsets would not map; scan the valid prefix only.
            let valid = std::str::from_utf8(hay).map_or_else(|e| e.valid_up_to(), |s| s.len());
            return self.findings(&hay[..valid]);
        }
        // Words with their byte spans.
        let mut words: Vec<(usize, usize)> = Vec::new();
        let mut start = None;
        for (i, c) in text.char_indices() {
            if c.is_alphanumeric() {
                start.get_or_insert(i);
            } else if let Some(s) = start.take() {
                words.push((s, i));
            }
        }
        if let Some(s) = start {
            words.push((s, text.len()));
        }
        let mut out = Vec::new();
        for i in 0..words.len() {
            let mut phrase = String::new();
            for n in 0..self.max_words.min(words.len() - i) {
                let (ws, we) = words[i + n];
                if n > 0 {
                    phrase.push(' ');
                }
                phrase.push_str(&text[ws..we]);
                let normal = normalise_term(&phrase);
                let digest = Sha256::new()
                    .chain_update(self.salt.as_bytes())
                    .chain_update([0u8])
                    .chain_update(normal.as_bytes())
                    .finalize();
                let key: [u8; 16] = digest[..16].try_into().unwrap_or_default();
                if self.hashes.contains(&key) {
                    out.push(Finding {
                        rule: self.id.clone(),
                        category: self.category,
                        severity: self.severity,
                        start: words[i].0,
                        end: we,
                        confidence: 0.95,
                        preview: crate::mask::preview(
                            phrase.as_bytes(),
                            crate::spec::PreviewStyle::Middle,
                        ),
                        detail: FindingDetail::default(),
                    });
                }
            }
        }
        out
    }
}
