//! The redaction operator, applied after detection (detection finds spans; this replaces them).
//!
//! Overlapping findings are merged into one span labelled by the most severe rule (ties: the
//! longer span, then the rule id), so the result does not depend on the order findings came in.
//! The same value gets the same placeholder everywhere in one text, and any other occurrence of
//! a redacted value is replaced too, so the output never contains a value that was redacted.

use leakguard_types::Finding;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// How a span is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RedactStyle {
    /// `[REDACTED:aws-access-key-id#1]`
    #[default]
    Placeholder,
    /// Every character but the last four becomes `*` (values under 12 characters: all).
    Mask,
    /// `[HASH:aws-access-key-id:3f1a9c0d2b7e]`, the first 12 hex digits of the value's SHA-256.
    Hash,
}

/// One replaced span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// Byte range in the original text.
    pub start: usize,
    pub end: usize,
    pub rule: String,
    pub placeholder: String,
}

/// The redacted text and what was replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction {
    pub text: String,
    pub replacements: Vec<Replacement>,
}

/// Replaces every finding's span in `text`.
pub fn redact(text: &str, findings: &[Finding], style: RedactStyle) -> Redaction {
    // Merge overlapping spans into clusters.
    let mut spans: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.end <= text.len() && f.start < f.end)
        .collect();
    spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut clusters: Vec<(usize, usize, &Finding)> = Vec::new();
    for f in spans {
        match clusters.last_mut() {
            Some((_, end, label)) if f.start < *end => {
                *end = (*end).max(f.end);
                let better = (f.severity, f.len(), std::cmp::Reverse(&f.rule))
                    > (label.severity, label.len(), std::cmp::Reverse(&label.rule));
                if better {
                    *label = f;
                }
            }
            _ => clusters.push((f.start, f.end, f)),
        }
    }
    let mut numbers: HashMap<&str, HashMap<&str, usize>> = HashMap::new();
    let mut out = String::with_capacity(text.len());
    let mut replacements = Vec::new();
    let mut values: Vec<(&str, String)> = Vec::new();
    let mut pos = 0;
    for (start, end, label) in clusters {
        // Clusters are char-aligned for valid findings; refuse to split a char otherwise.
        let (start, end) = (floor_boundary(text, start), ceil_boundary(text, end));
        if start < pos {
            continue;
        }
        out.push_str(&text[pos..start]);
        let value = &text[start..end];
        let placeholder = match style {
            RedactStyle::Placeholder => {
                let per_rule = numbers.entry(label.rule.as_str()).or_default();
                let next = per_rule.len() + 1;
                let n = *per_rule.entry(value).or_insert(next);
                format!("[REDACTED:{}#{n}]", label.rule)
            }
            RedactStyle::Mask => {
                let chars: Vec<char> = value.chars().collect();
                let keep = if chars.len() >= 12 { 4 } else { 0 };
                chars
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        if i + keep >= chars.len() || c.is_whitespace() {
                            *c
                        } else {
                            '*'
                        }
                    })
                    .collect()
            }
            RedactStyle::Hash => {
                let digest = Sha256::digest(value.as_bytes());
                let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
                format!("[HASH:{}:{hex}]", label.rule)
            }
        };
        out.push_str(&placeholder);
        replacements.push(Replacement {
            start,
            end,
            rule: label.rule.clone(),
            placeholder: placeholder.clone(),
        });
        if value.chars().count() >= 6 {
            values.push((value, placeholder));
        }
        pos = end;
    }
    out.push_str(&text[pos..]);
    // Any other occurrence of a redacted value (one the detector did not report separately,
    // e.g. inside a longer word) is replaced as well; longest values first.
    values.sort_by_key(|v| std::cmp::Reverse(v.0.len()));
    values.dedup_by(|a, b| a.0 == b.0);
    for (value, placeholder) in &values {
        if out.contains(value) {
            out = out.replace(value, placeholder);
        }
    }
    Redaction {
        text: out,
        replacements,
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakguard_types::{Category, FindingDetail, Severity};

    fn f(rule: &str, sev: Severity, start: usize, end: usize) -> Finding {
        Finding {
            rule: rule.into(),
            category: Category::Secret,
            severity: sev,
            start,
            end,
            confidence: 0.9,
            preview: "…".into(),
            detail: FindingDetail::default(),
        }
    }

    #[test]
    fn same_value_same_placeholder_and_numbers_per_rule() {
        let text = "a=KEY1 b=KEY2 c=KEY1";
        let fs = [
            f("k", Severity::High, 2, 6),
            f("k", Severity::High, 9, 13),
            f("k", Severity::High, 16, 20),
        ];
        let r = redact(text, &fs, RedactStyle::Placeholder);
        assert_eq!(r.text, "a=[REDACTED:k#1] b=[REDACTED:k#2] c=[REDACTED:k#1]");
        assert_eq!(r.replacements.len(), 3);
    }

    #[test]
    fn overlaps_merge_deterministically_under_the_most_severe_rule() {
        let text = "token=abcdefghijklmnop end";
        let a = f("generic-api-key", Severity::Medium, 6, 22);
        let b = f("specific-key", Severity::High, 8, 22);
        let one = redact(text, &[a.clone(), b.clone()], RedactStyle::Placeholder);
        let two = redact(text, &[b, a], RedactStyle::Placeholder);
        assert_eq!(one, two);
        assert_eq!(one.text, "token=[REDACTED:specific-key#1] end");
    }

    #[test]
    fn other_occurrences_of_a_redacted_value_are_replaced_too() {
        let text = "key sk-abcdef123456 and again xsk-abcdef123456x";
        let r = redact(
            text,
            &[f("k", Severity::High, 4, 19)],
            RedactStyle::Placeholder,
        );
        assert!(!r.text.contains("sk-abcdef123456"), "{}", r.text);
    }

    #[test]
    fn mask_and_hash_styles() {
        let text = "card 4111111111111111.";
        let fs = [f("credit-card", Severity::High, 5, 21)];
        assert_eq!(
            redact(text, &fs, RedactStyle::Mask).text,
            "card ************1111."
        );
        let h = redact(text, &fs, RedactStyle::Hash).text;
        assert!(
            h.starts_with("card [HASH:credit-card:")
                && h.ends_with("].")
                && h.len() == "card [HASH:credit-card:".len() + 12 + 2
        );
    }
}
