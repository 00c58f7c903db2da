//! Accuracy on issue 23's test set: personal data as people write it (dates of birth,
//! passports, IBANs, phone numbers), personal numbers in digits of other scripts, secrets in
//! encodings, and negatives: hard look-alikes (`tests/accuracy/corpus.jsonl`, built by
//! `tests/accuracy/make_corpus.py` from the public sources it names) and real prose (the
//! paragraphs of the READMEs of the crates this workspace depends on, from Cargo's registry).
//!
//! A finding counts for an expected value when it is of the value's family (`dob` is rule
//! `date-of-birth`, `phone` any `phone-number-*` rule, `secret` any secret rule…) and overlaps
//! it; a second finding of the family on the same value (a number reported as two countries'
//! phones), or any finding elsewhere, is a false positive. Prints recall per class, precision
//! over all findings and false positives per 100 KB of negative text.
//!
//! `cargo run --release -p leakguard-detect --example accuracy_eval [-- --check] [-- --show]`:
//! `--check` exits with an error below issue 23's bars (recall 0.95 per class, precision
//! 0.98, under 1 false positive per 100 KB of negatives); `--show` prints every miss and
//! false positive. scripts/test.sh runs it with `--check`.

use leakguard_detect::Engine;
use leakguard_types::{Category, Finding};
use std::collections::BTreeMap;
use std::path::Path;

#[path = "common/registry.rs"]
mod registry;

struct Sample {
    class: String,
    text: String,
    expect: Vec<(String, usize, usize)>,
}

fn family(f: &Finding) -> &'static str {
    let r = f.rule.as_str();
    match r {
        _ if r.starts_with("date-of-birth") => "dob",
        "passport-number" => "passport",
        "iban" => "iban",
        "credit-card-number" => "card",
        "email-address" => "email",
        _ if r.starts_with("phone-number") => "phone",
        _ if r.starts_with("us-ssn") => "ssn",
        _ if r.starts_with("kr-resident-registration") => "rrn",
        _ => match f.category {
            Category::Secret => "secret",
            Category::SourceCode => "code",
            Category::Classified => "classified",
            Category::Pii => "pii",
            Category::Custom => "custom",
        },
    }
}

#[derive(Default)]
struct Tally {
    samples: usize,
    bytes: usize,
    expected: usize,
    found: usize,
    true_pos: usize,
    false_pos: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let check = args.iter().any(|a| a == "--check");
    let show = args.iter().any(|a| a == "--show");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpus = std::fs::read_to_string(root.join("tests/accuracy/corpus.jsonl"))
        .expect("tests/accuracy/corpus.jsonl (python3 tests/accuracy/make_corpus.py)");
    let mut samples: Vec<Sample> = corpus
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("corpus line");
            let text = v["text"].as_str().expect("text").to_string();
            let expect = v["expect"]
                .as_array()
                .expect("expect")
                .iter()
                .map(|e| {
                    let value = e["value"].as_str().expect("value");
                    let at = text.find(value).expect("value in text");
                    (
                        e["family"].as_str().expect("family").to_string(),
                        at,
                        at + value.len(),
                    )
                })
                .collect();
            Sample {
                class: v["class"].as_str().expect("class").to_string(),
                text,
                expect,
            }
        })
        .collect();
    for (_, readme) in registry::readmes(&root) {
        for p in registry::paragraphs(&readme) {
            samples.push(Sample {
                class: "prose".into(),
                text: p,
                expect: Vec::new(),
            });
        }
    }

    let engine = Engine::new().expect("engine");
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for s in &samples {
        let findings = engine.scan(&s.text);
        let t = tallies.entry(s.class.clone()).or_default();
        t.samples += 1;
        t.bytes += s.text.len();
        t.expected += s.expect.len();
        let mut claimed = vec![false; s.expect.len()];
        for f in &findings {
            let fam = family(f);
            let hit = s
                .expect
                .iter()
                .position(|(ef, a, b)| ef == fam && f.start < *b && *a < f.end);
            match hit {
                Some(i) if !claimed[i] => {
                    claimed[i] = true;
                    t.true_pos += 1;
                }
                _ => {
                    t.false_pos += 1;
                    if show {
                        println!(
                            "FALSE POSITIVE [{}] {} {:?} in {:?}",
                            s.class,
                            f.rule,
                            &s.text[f.start..f.end],
                            s.text.chars().take(160).collect::<String>()
                        );
                    }
                }
            }
        }
        t.found += claimed.iter().filter(|c| **c).count();
        if show {
            for (i, (fam, a, b)) in s.expect.iter().enumerate() {
                if !claimed[i] {
                    println!(
                        "MISSED [{}] {fam} {:?} in {:?}",
                        s.class,
                        &s.text[*a..*b],
                        s.text.chars().take(160).collect::<String>()
                    );
                }
            }
        }
    }

    println!(
        "{:<16} {:>7} {:>9} {:>8} {:>8} {:>6}",
        "class", "samples", "bytes", "recall", "found", "false+"
    );
    let (mut tp, mut fp, mut neg_bytes, mut neg_fp) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for (class, t) in &tallies {
        let recall = (t.expected > 0).then(|| t.found as f64 / t.expected as f64);
        println!(
            "{class:<16} {:>7} {:>9} {:>8} {:>8} {:>6}",
            t.samples,
            t.bytes,
            recall.map_or("-".into(), |r| format!("{r:.3}")),
            format!("{}/{}", t.found, t.expected),
            t.false_pos
        );
        tp += t.true_pos;
        fp += t.false_pos;
        if t.expected == 0 {
            neg_bytes += t.bytes;
            neg_fp += t.false_pos;
        }
        if let Some(r) = recall {
            if r < 0.95 {
                failures.push(format!("{class}: recall {r:.3} < 0.95"));
            }
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let per_100k = neg_fp as f64 * 100_000.0 / neg_bytes.max(1) as f64;
    println!(
        "precision {precision:.3} ({tp} right, {fp} false); negatives: {neg_fp} false positives \
         in {neg_bytes} bytes = {per_100k:.2} per 100 KB"
    );
    if precision < 0.98 {
        failures.push(format!("precision {precision:.3} < 0.98"));
    }
    if per_100k >= 1.0 {
        failures.push(format!("{per_100k:.2} false positives per 100 KB >= 1"));
    }
    if check && !failures.is_empty() {
        eprintln!("accuracy below the bar: {}", failures.join("; "));
        std::process::exit(1);
    }
}
