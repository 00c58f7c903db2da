//! Every shipped rule proves itself: each `examples.match` text must produce a finding of that
//! rule, each `examples.no_match` text must not. Each match example is also scanned with the
//! prefilter disabled, and must give the same findings of that rule: the prefilter contract.

use leakguard_detect::{Engine, EngineConfig};
use leakguard_types::Category;
use std::collections::BTreeSet;

fn engines() -> (Engine, Engine) {
    let fast = Engine::new().expect("shipped rules compile");
    let slow = Engine::with_config(EngineConfig {
        disable_prefilter: true,
        ..EngineConfig::default()
    })
    .expect("shipped rules compile");
    (fast, slow)
}

fn spans(engine: &Engine, text: &str, rule: &str) -> BTreeSet<(usize, usize)> {
    engine
        .scan(text)
        .into_iter()
        .filter(|f| f.rule == rule)
        .map(|f| (f.start, f.end))
        .collect()
}

#[test]
fn every_rule_matches_its_examples_and_not_its_counter_examples() {
    let (fast, slow) = engines();
    let mut failures = Vec::new();
    let mut rules = 0;
    for (pack, spec) in fast.rule_specs() {
        rules += 1;
        if spec.examples.matches.is_empty() {
            failures.push(format!("{pack}/{}: no examples.match", spec.id));
        }
        if spec.examples.no_match.is_empty() {
            failures.push(format!("{pack}/{}: no examples.no_match", spec.id));
        }
        for ex in &spec.examples.matches {
            let got = spans(&fast, ex, &spec.id);
            if got.is_empty() {
                let others: Vec<String> = fast.scan(ex).iter().map(|f| f.rule.clone()).collect();
                failures.push(format!(
                    "{pack}/{}: missed its example {ex:?} (found instead: {others:?})",
                    spec.id
                ));
                continue;
            }
            // The same example inside a longer text, so that the vectorised keyword pass
            // (texts of 64 bytes and more) sees it too.
            let pad = " ".repeat(70);
            let padded = format!("{pad}\n{ex}\n{pad}");
            // (A span starting in the padding has no shifted form: the counts then differ.)
            let shifted: BTreeSet<(usize, usize)> = spans(&fast, &padded, &spec.id)
                .into_iter()
                .filter_map(|(s, e)| Some((s.checked_sub(pad.len() + 1)?, e - pad.len() - 1)))
                .collect();
            // Same spans; a rule that runs to the end of its block may take in the padding.
            let covered = got
                .iter()
                .all(|&(s, e)| shifted.iter().any(|&(s2, e2)| s2 == s && e2 >= e));
            if !covered || shifted.len() != got.len() {
                failures.push(format!(
                    "{pack}/{}: inside a longer text {ex:?} gave {shifted:?}, alone {got:?}",
                    spec.id
                ));
            }
            let without_prefilter = spans(&slow, ex, &spec.id);
            if got != without_prefilter {
                failures.push(format!("{pack}/{}: prefilter changed the result on {ex:?}: {got:?} vs {without_prefilter:?}", spec.id));
            }
        }
        for ex in &spec.examples.no_match {
            if !spans(&fast, ex, &spec.id).is_empty() {
                failures.push(format!(
                    "{pack}/{}: matched its counter-example {ex:?}",
                    spec.id
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {rules} rules failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn at_least_150_credential_types_ship() {
    let engine = Engine::new().unwrap();
    let secrets = engine
        .rules()
        .filter(|r| r.category == Category::Secret)
        .count();
    assert!(secrets >= 150, "only {secrets} secret rules");
    let ids: BTreeSet<String> = engine.rules().map(|r| r.id).collect();
    for must in [
        "aws-access-key-id",
        "aws-secret-access-key",
        "gcp-service-account-key",
        "azure-storage-connection-string",
        "azure-sas-token",
        "openai-project-key",
        "anthropic-api-key",
        "anthropic-admin-key",
        "huggingface-token",
        "github-pat-token",
        "github-fine-grained-pat",
        "gitlab-pat",
        "slack-bot-token",
        "slack-webhook-url",
        "discord-bot-token",
        "telegram-bot-token",
        "stripe-secret-key",
        "square-access-token",
        "twilio-api-key",
        "sendgrid-api-key",
        "shopify-access-token",
        "npm-access-token",
        "pypi-upload-token",
        "crates-io-token",
        "nuget-api-key",
        "rubygems-api-key",
        "private-key",
        "jwt",
        "database-url-password",
        "generic-password",
        "credit-card-number",
        "us-ssn",
        "iban",
        "email-address",
        "kr-resident-registration-number",
        "in-aadhaar",
        "br-cpf",
        "jp-my-number",
        "uk-national-insurance-number",
        "de-tax-id",
        "fr-nir",
        "marking-korean",
        "marking-confidential",
    ] {
        assert!(ids.contains(must), "missing rule {must}");
    }
}
