//! Fingerprints of the organisation's code, end to end through the engine.

use leakguard_detect::fingerprint::{tokenize, FingerprintKey, IndexBuilder, Params};
use leakguard_detect::{Engine, EngineConfig, FingerprintSet};
use proptest::prelude::*;
use std::sync::OnceLock;

const SALT: &[u8] = b"acme-semiconductor-2026";
/// "Company code": real source files of this repository.
const COMPANY: &[&str] = &[
    include_str!("../src/engine.rs"),
    include_str!("../src/code/mod.rs"),
    include_str!("../src/code/classify.rs"),
    include_str!("../src/validate.rs"),
];
/// Unrelated code.
const OTHER: &str = include_str!("../../cli/src/scan.rs");

fn index() -> &'static leakguard_detect::fingerprint::FingerprintIndex {
    static INDEX: OnceLock<leakguard_detect::fingerprint::FingerprintIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut b = IndexBuilder::new("acme-fw", SALT, Params::default()).unwrap();
        for f in COMPANY {
            b.add(f.as_bytes());
        }
        b.finish(0)
    })
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let set = FingerprintSet::new(index().clone(), FingerprintKey::new(SALT).unwrap());
        Engine::with_config(EngineConfig {
            fingerprints: vec![set],
            ..EngineConfig::default()
        })
        .unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// The winnowing guarantee: any excerpt of at least w + k - 1 tokens of an indexed file
    /// that holds one non-repetitive k-gram shares a kept fingerprint with the index.
    #[test]
    fn any_excerpt_of_w_plus_k_minus_1_tokens_is_found(file in 0..COMPANY.len(), at in 0.0f64..1.0, extra in 0usize..40) {
        let text = COMPANY[file].as_bytes();
        let tokens = tokenize(text);
        let p = Params::default();
        let need = (p.w + p.k - 1) as usize + extra;
        prop_assume!(tokens.len() > need);
        let i = ((tokens.len() - need) as f64 * at) as usize;
        // The guarantee covers excerpts holding at least one k-gram that is fingerprinted at
        // all (>= MIN_DISTINCT distinct tokens): purely repetitive code is never fingerprinted.
        let k = p.k as usize;
        let informative = (i..=i + need - k).any(|j| {
            let mut codes: Vec<u32> = tokens[j..j + k].iter().map(|t| t.code).collect();
            codes.sort_unstable();
            codes.dedup();
            codes.len() >= leakguard_detect::fingerprint::MIN_DISTINCT
        });
        prop_assume!(informative);
        let excerpt = &text[tokens[i].start as usize..tokens[i + need - 1].end as usize];
        let m = index().lookup(excerpt, &FingerprintKey::new(SALT).unwrap());
        prop_assert!(m.matched >= 1, "{} tokens from token {i} of file {file}: {m:?}", need);
    }
}

/// Renames every identifier that is not a keyword (`foo` -> `v_foo_x`) and reflows whitespace.
fn disguise(code: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let keywords = [
        "fn", "let", "mut", "if", "else", "for", "in", "while", "return", "match", "pub", "struct",
        "impl", "use", "self", "Self", "as", "const", "true", "false", "loop", "break", "continue",
        "where", "Some", "None", "Ok", "Err", "Option", "Result", "Vec", "String", "enum", "type",
        "crate", "mod", "static", "ref", "dyn", "trait", "unsafe", "async", "await", "move",
        "super",
    ];
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() {
            if word
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && !keywords.contains(&word.as_str())
            {
                out.push_str(&format!("v_{word}_x"));
            } else {
                out.push_str(word);
            }
            word.clear();
        }
    };
    for c in code.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            match c {
                '\n' => out.push_str("\n  "),
                ' ' => out.push_str("  "),
                c => out.push(c),
            }
        }
    }
    flush(&mut word, &mut out);
    out
}

fn excerpt(text: &str, from_line: usize, lines: usize) -> String {
    text.lines()
        .skip(from_line)
        .take(lines)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_disguised_excerpt_pasted_in_prose_is_classified() {
    // Twenty lines from a fixed place in the file (not a line number: edits above it would
    // move the excerpt into comments and blank lines).
    let at = COMPANY[0]
        .lines()
        .position(|l| l.contains("for hit in self.keywords.hits(hay, features)"))
        .expect("engine.rs has this line");
    let code = excerpt(COMPANY[0], at, 20);
    let pasted = format!(
        "Hi, our scanner misbehaves. Can you improve this function?\n\n```rust\n{}\n```\n\nThanks!",
        disguise(&code)
    );
    let findings = engine().scan(&pasted);
    let f = findings
        .iter()
        .find(|f| f.rule == "fingerprint:acme-fw")
        .unwrap_or_else(|| panic!("no fingerprint finding in {findings:?}"));
    assert_eq!(f.category, leakguard_types::Category::Classified);
    assert!(f.detail.matched_fraction.unwrap() > 0.5, "{f:?}");
    assert!(
        pasted[f.start..f.end].contains("v_"),
        "the span lies in the pasted code"
    );
    assert!(
        !f.preview.contains("v_"),
        "the preview holds no code: {}",
        f.preview
    );
}

#[test]
fn unrelated_code_and_prose_do_not_match() {
    for start in (0..OTHER.lines().count().saturating_sub(20)).step_by(20) {
        let code = excerpt(OTHER, start, 20);
        let findings = engine().scan(&format!("```rust\n{code}\n```"));
        assert!(
            !findings.iter().any(|f| f.rule.starts_with("fingerprint:")),
            "lines {start}.. of unrelated code matched"
        );
    }
    let findings = engine().scan(include_str!("../benches/prose.txt"));
    assert!(!findings.iter().any(|f| f.rule.starts_with("fingerprint:")));
}

#[test]
fn a_wrong_salt_is_refused_at_load() {
    let set = FingerprintSet::new(
        index().clone(),
        FingerprintKey::new(b"another-salt-entirely").unwrap(),
    );
    let err = Engine::with_config(EngineConfig {
        fingerprints: vec![set],
        ..EngineConfig::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("salt does not match"), "{err}");
}
