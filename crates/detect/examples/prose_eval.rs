//! Document fingerprints on a held-out set built from public documents: the READMEs of the
//! crates this workspace depends on (Cargo.lock), read from Cargo's registry cache. The crates
//! are split in two by a hash of their name: one half is "the company's documents" (indexed),
//! the other "unrelated documents". Paragraphs of 40 words or more are the samples:
//!
//! - verbatim: a paragraph of an indexed README, pasted after a question;
//! - edited: the same paragraph reflowed into bullet points (one per sentence), in capitals,
//!   with punctuation dropped and every tenth word replaced;
//! - unrelated: paragraphs of the other half that are not near-copies of an indexed paragraph
//!   (word-trigram Jaccard similarity under 0.3 with every one of them; the near-copies, such
//!   as the same MSRV policy in two crates of one family, are counted apart: finding them is
//!   right).
//!
//! Prints recall for the first two and precision (and false positives) for the third, through
//! the engine (a `fingerprint:` finding of kind `document`), with the default thresholds.
//!
//! `cargo run --release -p leakguard-detect --example prose_eval [-- --check]`: with `--check`
//! it exits with an error when a figure falls below issue 22's bar (verbatim recall 0.95,
//! edited recall 0.85, precision 0.99); scripts/test.sh runs it so.

use leakguard_detect::fingerprint::{FingerprintKey, IndexBuilder, Params};
use leakguard_detect::{Engine, EngineConfig, FingerprintSet};
use std::collections::HashSet;
use std::path::PathBuf;

#[path = "common/registry.rs"]
mod registry;
use registry::{paragraphs, readmes};

fn normal(p: &str) -> String {
    p.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Bullets, capitals, no punctuation, every tenth word replaced.
fn edit(p: &str) -> String {
    let mut out = String::new();
    for sentence in p.split(". ") {
        let words: Vec<String> = sentence
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| {
                if i % 10 == 9 {
                    "REALLY".to_string()
                } else {
                    w.trim_matches(|c: char| !c.is_alphanumeric())
                        .to_uppercase()
                }
            })
            .collect();
        out.push_str("- ");
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    out
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let docs = readmes(&root);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for (name, text) in &docs {
        let h = name.bytes().fold(0x811c_9dc5u32, |h, b| {
            (h ^ b as u32).wrapping_mul(0x0100_0193)
        });
        if h % 2 == 0 {
            ours.push(text.as_str());
        } else {
            theirs.push(text.as_str());
        }
    }
    let salt = b"prose-eval-salt-0001";
    let mut b = IndexBuilder::new("docs", salt, Params::default()).unwrap();
    for d in &ours {
        b.add_document(d);
    }
    let index = b.finish(0);
    let key = FingerprintKey::new(salt).unwrap();
    let mut set = FingerprintSet::new(index.clone(), key);
    if let Some(m) = std::env::var("LG_MIN_PROSE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        set.min_prose_matches = m;
    }
    let engine = Engine::with_config(EngineConfig {
        code_min_lines: 0,
        fingerprints: vec![set],
        ..EngineConfig::default()
    })
    .unwrap();
    let matches = |text: &str| {
        engine.scan(text).iter().any(|f| {
            f.rule == "fingerprint:docs" && f.detail.fingerprint.as_deref() == Some("document")
        })
    };
    let ours_paras: Vec<String> = ours.iter().flat_map(|d| paragraphs(d)).collect();
    let ours_norm: HashSet<String> = ours_paras.iter().map(|p| normal(p)).collect();
    // Word trigrams of each indexed paragraph, and which paragraphs hold each.
    let trigrams = |p: &str| -> HashSet<String> {
        let w: Vec<String> = normal(p).split(' ').map(str::to_string).collect();
        w.windows(3).map(|t| t.join(" ")).collect()
    };
    let ours_tri: Vec<HashSet<String>> = ours_paras.iter().map(|p| trigrams(p)).collect();
    let mut holders: std::collections::HashMap<&str, Vec<usize>> = std::collections::HashMap::new();
    for (i, t) in ours_tri.iter().enumerate() {
        for g in t {
            holders.entry(g.as_str()).or_default().push(i);
        }
    }
    let near_copy = |p: &str| -> bool {
        let t = trigrams(p);
        let mut shared: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
        for g in &t {
            for &i in holders.get(g.as_str()).map(Vec::as_slice).unwrap_or(&[]) {
                *shared.entry(i).or_insert(0) += 1;
            }
        }
        shared.iter().any(|(&i, &n)| {
            let union = t.len() + ours_tri[i].len() - n;
            union > 0 && n as f64 / union as f64 >= 0.3
        })
    };
    let (near, theirs_paras): (Vec<String>, Vec<String>) = theirs
        .iter()
        .flat_map(|d| paragraphs(d))
        .filter(|p| !ours_norm.contains(&normal(p)))
        .partition(|p| near_copy(p));
    // Paragraphs shared by many documents (licence notices) are boilerplate, dropped from the
    // index on purpose: recall is measured on the others (those in one indexed README).
    let mut count = std::collections::HashMap::new();
    for p in &ours_paras {
        *count.entry(normal(p)).or_insert(0) += 1;
    }
    let unique: Vec<&String> = ours_paras
        .iter()
        .filter(|p| count[&normal(p)] == 1)
        .collect();
    let started = std::time::Instant::now();
    let verbatim = unique
        .iter()
        .filter(|p| matches(&format!("Can you summarise this for me?\n\n{p}\n")))
        .count();
    let edited = unique.iter().filter(|p| matches(&edit(p))).count();
    let fps = theirs_paras.iter().filter(|p| matches(p)).count();
    let near_found = near.iter().filter(|p| matches(p)).count();
    if std::env::var_os("LG_SHOW_FP").is_some() {
        for p in theirs_paras.iter().filter(|p| matches(p)) {
            eprintln!("FP: {p}\n");
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let n = unique.len();
    println!(
        "corpus: {} READMEs ({} indexed, {} unrelated); index: {} prose fingerprints from {} words, {} dropped as boilerplate",
        docs.len(),
        ours.len(),
        theirs.len(),
        index.prose_len(),
        index.words,
        index.dropped_common
    );
    println!(
        "verbatim paragraphs: recall {:.4} ({verbatim}/{n}); reflowed and edited: recall {:.4} ({edited}/{n})",
        verbatim as f64 / n as f64,
        edited as f64 / n as f64
    );
    let m = theirs_paras.len();
    println!(
        "unrelated paragraphs: {fps} of {m} matched (false-positive rate {:.4}); precision over all samples {:.4}",
        fps as f64 / m as f64,
        (verbatim + edited) as f64 / (verbatim + edited + fps) as f64
    );
    println!(
        "near-copies of indexed paragraphs in the other half: {near_found} of {} matched",
        near.len()
    );
    println!("{} scans in {secs:.2} s", 2 * n + m + near.len());
    if std::env::args().any(|a| a == "--check") {
        let precision = (verbatim + edited) as f64 / (verbatim + edited + fps) as f64;
        let ok = n >= 200
            && verbatim as f64 >= 0.95 * n as f64
            && edited as f64 >= 0.85 * n as f64
            && precision >= 0.99;
        if !ok {
            eprintln!("prose_eval: below the bar (verbatim 0.95, edited 0.85, precision 0.99; at least 200 samples)");
            std::process::exit(1);
        }
    }
}
