//! The engine end to end: evasion, dictionaries, markings, code, and configuration errors.

use leakguard_detect::spec::{DictionarySpec, HashedTermsSpec};
use leakguard_detect::{hash_term, Engine, EngineConfig, Error};
use leakguard_types::Category;

fn find<'a>(
    findings: &'a [leakguard_types::Finding],
    rule: &str,
) -> Option<&'a leakguard_types::Finding> {
    findings.iter().find(|f| f.rule == rule)
}

#[test]
fn sees_through_each_evasion_and_reports_original_offsets() {
    let engine = Engine::new().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        // (text, rule, the original slice the finding must cover)
        (
            "key AK\u{200B}IAQYLPMN5HJNGY4F7A done",
            "aws-access-key-id",
            "AK\u{200B}IAQYLPMN5HJNGY4F7A",
        ),
        (
            "key \u{202E}AKIAQYLPMN5HJNGY4F7A\u{202C} done",
            "aws-access-key-id",
            "AKIAQYLPMN5HJNGY4F7A",
        ),
        (
            "key АКIAQYLPMN5HJNGY4F7A done",
            "aws-access-key-id",
            "АКIAQYLPMN5HJNGY4F7A",
        ), // Cyrillic А, К
        (
            "card ４１１１ １１１１ １１１１ １１１１ thanks",
            "credit-card-number",
            "４１１１ １１１１ １１１１ １１１１",
        ),
        (
            "json \\u0041KIAQYLPMN5HJNGY4F7A end",
            "aws-access-key-id",
            "\\u0041KIAQYLPMN5HJNGY4F7A",
        ),
        (
            "url a=%41%4B%49%41QYLPMN5HJNGY4F7A&b=1",
            "aws-access-key-id",
            "%41%4B%49%41QYLPMN5HJNGY4F7A",
        ),
    ];
    for (text, rule, covers) in cases {
        let findings = engine.scan(text);
        let f = find(&findings, rule)
            .unwrap_or_else(|| panic!("{rule} not found in {text:?}: {findings:?}"));
        let at = text.find(covers).unwrap();
        assert!(
            f.start <= at && f.end >= at + covers.len(),
            "{text:?}: span {}..{} does not cover {covers:?}",
            f.start,
            f.end
        );
        // Where the raw bytes still spell the value (a bidi override only changes how it is
        // shown) the plain pass finds it; everywhere else only the normalised copy can.
        let plain = text.contains("AKIAQYLPMN5HJNGY4F7A") || text.contains("4111 1111");
        let want = if plain { None } else { Some("normalized") };
        assert_eq!(f.detail.decoded_from.as_deref(), want, "{text:?}");
    }
}

#[test]
fn base64_blobs_are_decoded_and_scanned_with_bounded_depth() {
    use base64::Engine as _;
    let engine = Engine::new().unwrap();
    let inner = "aws_secret_access_key = hF3kP9qL2mZ8xV7nB4cR1tY6wE0uI5oA3sD2fG8j";
    let once = base64::engine::general_purpose::STANDARD.encode(inner);
    let text = format!("config blob: {once} end");
    let findings = engine.scan(&text);
    let f = find(&findings, "aws-secret-access-key").expect("found inside base64");
    assert_eq!(f.detail.decoded_from.as_deref(), Some("base64"));
    let blob = text.find(&once).unwrap();
    assert!(
        f.start >= blob && f.end <= blob + once.len(),
        "span lies inside the blob"
    );
    // Three levels deep is beyond the default depth of two.
    let thrice = (0..3).fold(inner.to_string(), |s, _| {
        base64::engine::general_purpose::STANDARD.encode(s)
    });
    assert!(find(&engine.scan(&thrice), "aws-secret-access-key").is_none());
    let twice = (0..2).fold(inner.to_string(), |s, _| {
        base64::engine::general_purpose::STANDARD.encode(s)
    });
    assert!(find(&engine.scan(&twice), "aws-secret-access-key").is_some());
}

#[test]
fn documentation_samples_and_public_material_are_not_findings() {
    let engine = Engine::new().unwrap();
    for text in [
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "stripe.api_key = \"sk_test_4eC39HqLyjWDarjtT1zdp7dc\"",
        "publishable: pk_live_51HqLyjWDarjtT1zdp7dcXYZ",
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END PUBLIC KEY-----",
        "password = ${DB_PASSWORD}",
        "api_key: <your-api-key>",
    ] {
        let secrets: Vec<_> = engine.scan(text).into_iter().filter(|f| f.category == Category::Secret).collect();
        assert!(secrets.is_empty(), "{text:?} gave {secrets:?}");
    }
}

#[test]
fn dictionaries_plain_hashed_and_host_suffixes() {
    let salt = "acme-2026-salt";
    let config = EngineConfig {
        dictionaries: vec![
            DictionarySpec {
                name: "codenames".into(),
                category: Category::Classified,
                severity: leakguard_types::Severity::High,
                terms: vec!["Project Halcyon".into(), "*.corp.acme-semi.com".into()],
                hashed: None,
            },
            DictionarySpec {
                name: "customers".into(),
                category: Category::Classified,
                severity: leakguard_types::Severity::Medium,
                terms: vec![],
                hashed: Some(HashedTermsSpec {
                    salt: salt.into(),
                    hashes: vec![hash_term(salt, "Blue Lagoon Foundry")],
                    max_words: Some(3),
                }),
            },
        ],
        organisation_names: vec!["Acme Semiconductor".into()],
        ..EngineConfig::default()
    };
    let engine = Engine::with_config(config).unwrap();
    let text = "// Copyright (c) 2024 Acme Semiconductor. All rights reserved.\nThe project halcyon recipe runs on fab3-mes.corp.acme-semi.com for blue  lagoon FOUNDRY.";
    let findings = engine.scan(text);
    let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    for want in [
        "copyright-header",
        "dictionary:codenames",
        "dictionary:codenames:host",
        "dictionary:customers",
    ] {
        assert!(rules.contains(&want), "{want} missing: {rules:?}");
    }
    let host = find(&findings, "dictionary:codenames:host").unwrap();
    assert_eq!(&text[host.start..host.end], "fab3-mes.corp.acme-semi.com");
    let customer = find(&findings, "dictionary:customers").unwrap();
    assert_eq!(&text[customer.start..customer.end], "blue  lagoon FOUNDRY");
    assert!(
        !customer.preview.contains("lagoon"),
        "the preview masks the term"
    );
    // Whole words only: "halcyonic" is not the codename.
    assert!(find(&engine.scan("a halcyonic summer"), "dictionary:codenames").is_none());
}

#[test]
fn configuration_errors_name_the_rule_and_field() {
    let mut bad = leakguard_detect::spec::RuleSpec::new("acme-badge", "badge", r"BADGE-(\d{6");
    bad.keywords = vec!["badge".into()];
    let err = Engine::with_config(EngineConfig {
        custom_rules: vec![bad.clone()],
        ..EngineConfig::default()
    })
    .unwrap_err();
    assert!(
        matches!(&err, Error::Rule { rule, field: "regex", .. } if rule == "acme-badge"),
        "{err}"
    );
    let mut short = bad.clone();
    short.regex = "BADGE-\\d{6}".into();
    short.keywords = vec!["bd".into()];
    let err = Engine::with_config(EngineConfig {
        custom_rules: vec![short],
        ..EngineConfig::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("shorter than 3 bytes"), "{err}");
    let mut dup = bad;
    dup.id = "aws-access-key-id".into();
    dup.regex = "x".into();
    let err = Engine::with_config(EngineConfig {
        custom_rules: vec![dup],
        ..EngineConfig::default()
    })
    .unwrap_err();
    assert!(matches!(err, Error::Duplicate(ref id) if id == "aws-access-key-id"));
}

#[test]
fn custom_rules_and_disabled_packs_apply() {
    let mut custom = leakguard_detect::spec::RuleSpec::new(
        "acme-badge",
        "Acme badge number",
        r"(?i)badge[ #:]*(\d{6})\b",
    );
    custom.keywords = vec!["badge".into()];
    custom.secret_group = 1;
    let engine = Engine::with_config(EngineConfig {
        custom_rules: vec![custom],
        disabled_packs: vec!["pii".into()],
        ..EngineConfig::default()
    })
    .unwrap();
    let findings = engine.scan("badge #482913, mail jane.doe@acme-semi.com");
    let f = find(&findings, "acme-badge").unwrap();
    assert_eq!(f.category, Category::Custom);
    assert!(
        find(&findings, "email-address").is_none(),
        "pii pack disabled"
    );
}

#[test]
fn korean_markings_and_rrn() {
    let engine = Engine::new().unwrap();
    let text = "[대외비] 3분기 수율 보고서\n담당자 주민등록번호 900101-1234568";
    let findings = engine.scan(text);
    let marking = find(&findings, "marking-korean").unwrap();
    assert_eq!(&text[marking.start..marking.end], "대외비");
    assert!(find(&findings, "kr-resident-registration-number").is_some());
}

/// Regression (found by the redaction property test): a card number followed by another number
/// was swallowed into one 17-digit run, failed Luhn, and was not reported at all.
#[test]
fn card_followed_by_another_number_is_still_found() {
    let engine = Engine::new().unwrap();
    for text in [
        " 4111 1111 1111 1111 0",
        "ref 7 4111-1111-1111-1111 ok",
        "card 5555 5555 5555 4444 12 27",
    ] {
        let findings = engine.scan(text);
        let f =
            find(&findings, "credit-card-number").unwrap_or_else(|| panic!("no card in {text:?}"));
        let value = &text[f.start..f.end];
        assert_eq!(
            value.chars().filter(char::is_ascii_digit).count(),
            16,
            "{text:?} gave {value:?}"
        );
    }
}
