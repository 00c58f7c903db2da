//! Realistic events for tests and benchmarks (not part of the product's surface).

use crate::{format_time, Event, RuleCount};
use leakguard_types::{EventVerdict, Outcome};

const HOSTS: [&str; 5] = [
    "chatgpt.com",
    "api.openai.com",
    "claude.ai",
    "api.anthropic.com",
    "gemini.google.com",
];
const RULES: [(&str, &str, &str); 6] = [
    ("aws-access-key-id", "secret", "AKIA…7QXA"),
    ("github-pat-classic", "secret", "ghp_…x9Qa"),
    ("credit-card", "pii", "4111…1111"),
    ("email", "pii", "j…@acme.example"),
    ("source-code", "source_code", "rust, 48 lines"),
    ("marking-confidential", "classified", "CONF…TIAL"),
];

/// The `i`-th sample event at `base_ms + i` seconds: one in four with findings, like a busy
/// week of real traffic.
pub fn sample_event(i: u64, base_ms: i64) -> Event {
    let host = HOSTS[(i % 5) as usize];
    let with_findings = i.is_multiple_of(4);
    let (rules, previews, verdict, outcome) = if with_findings {
        let (rule, category, preview) = RULES[((i / 4) % 6) as usize];
        let action = if category == "pii" { "redact" } else { "block" };
        (
            vec![RuleCount {
                rule: rule.into(),
                category: category.into(),
                action: action.into(),
                count: 1 + (i % 3) as u32,
            }],
            vec![preview.to_string()],
            action.parse().expect("a verdict name"),
            if action == "block" {
                Outcome::Blocked
            } else {
                Outcome::Redacted
            },
        )
    } else {
        (
            Vec::new(),
            Vec::new(),
            EventVerdict::Allow,
            Outcome::Forwarded,
        )
    };
    Event {
        id: format!("{:016x}{:016x}", 0x5eed_u64, i),
        time: format_time(base_ms + i as i64 * 1000),
        kind: leakguard_types::EventKind::Request,
        device: "laptop-0042".into(),
        os_user: "jdoe".into(),
        host: host.into(),
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        endpoint: "openai-chat".into(),
        provider: Some("openai".into()),
        model: Some("gpt-4o-mini".into()),
        max_tokens: Some(512),
        client: Some("OpenAI/Python 1.52.0".into()),
        group: Some("llm".into()),
        verdict,
        outcome,
        decided_by: if with_findings {
            "rules.default".into()
        } else {
            String::new()
        },
        rules,
        previews,
        prompt_sha256: format!("{:064x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        bytes: 1800 + (i % 700) as usize,
        text_bytes: 1200,
        est_tokens: 300,
        latency_us: 180 + i % 90,
        policy: Some("managed acme-2026-11 (sha256 3f2a…)".into()),
        ..Event::default()
    }
}
