//! `Policy::decide` for 10 findings against the shipped default policy.
//! Run: `cargo bench -p leakguard-policy --bench decide`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use leakguard_policy::{Policy, RequestMeta};
use leakguard_types::{Category, Finding, FindingDetail, Severity};

fn bench(c: &mut Criterion) {
    let policy = Policy::parse(include_str!("../../../policies/default.json")).unwrap();
    let kinds = [
        ("aws-access-key-id", Category::Secret, Severity::High),
        ("email-address", Category::Pii, Severity::Low),
        ("credit-card-number", Category::Pii, Severity::High),
        ("source-code", Category::SourceCode, Severity::Medium),
        ("marking-confidential", Category::Classified, Severity::High),
    ];
    let findings: Vec<Finding> = (0..10)
        .map(|i| {
            let (rule, category, severity) = kinds[i % kinds.len()];
            Finding {
                rule: rule.into(),
                category,
                severity,
                start: i,
                end: i + 1,
                confidence: 0.9,
                preview: "…".into(),
                detail: FindingDetail::default(),
            }
        })
        .collect();
    let meta = RequestMeta {
        today: 20_413,
        ..RequestMeta::default()
    };
    c.bench_function("decide/10_findings/chatgpt.com", |b| {
        b.iter(|| policy.decide(black_box(&findings), Some("chatgpt.com"), &meta))
    });
    c.bench_function("decide/10_findings/x.openai.azure.com", |b| {
        b.iter(|| policy.decide(black_box(&findings), Some("x.openai.azure.com"), &meta))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
