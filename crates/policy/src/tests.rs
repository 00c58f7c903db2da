use super::*;
use leakguard_types::FindingDetail;

fn finding(rule: &str, category: Category, severity: Severity) -> Finding {
    Finding {
        rule: rule.into(),
        category,
        severity,
        start: 0,
        end: 1,
        confidence: 0.9,
        preview: "…".into(),
        detail: FindingDetail::default(),
    }
}

const POLICY: &str = r#"{
  "version": 1,
  "destinations": [
    { "name": "consumer-chat", "hosts": ["chatgpt.com", "claude.ai"] },
    { "name": "enterprise-api", "hosts": ["api.openai.com", "*.openai.azure.com"] },
    { "name": "banned", "hosts": ["chat.deepseek.com"], "mode": "block_all" },
    { "name": "trusted", "hosts": ["llm.corp.example.com"], "mode": "allow" }
  ],
  "actions": {
    "categories": { "pii": "redact", "source_code": "audit" },
    "rules": { "email-address": "allow", "fingerprint:*": "block" },
    "groups": {
      "consumer-chat": { "categories": { "source_code": "block" }, "rules": { "email-address": "redact" } }
    }
  },
  "exceptions": [
    { "reason": "SEC-142 red team", "expires": "2026-12-31", "users": ["mallory"], "rules": ["aws-*"] }
  ]
}"#;

#[test]
fn precedence_most_specific_wins() {
    let p = Policy::parse(POLICY).unwrap();
    let meta = RequestMeta {
        today: days_from_date("2026-11-21").unwrap(),
        ..RequestMeta::default()
    };
    // (rule, category, severity, destination, expected action, deciding entry)
    type Row<'a> = (
        &'a str,
        Category,
        Severity,
        Option<&'a str>,
        Action,
        &'a str,
    );
    let table: &[Row<'_>] = &[
        // group rule beats global rule
        (
            "email-address",
            Category::Pii,
            Severity::Low,
            Some("chatgpt.com"),
            Action::Redact,
            "actions.groups.consumer-chat.rules.email-address",
        ),
        (
            "email-address",
            Category::Pii,
            Severity::Low,
            Some("api.openai.com"),
            Action::Allow,
            "actions.rules.email-address",
        ),
        // global rule (prefix) beats group category
        (
            "fingerprint:acme",
            Category::Classified,
            Severity::High,
            Some("api.openai.com"),
            Action::Block,
            "actions.rules.fingerprint:*",
        ),
        // group category beats global category
        (
            "source-code",
            Category::SourceCode,
            Severity::Medium,
            Some("chatgpt.com"),
            Action::Block,
            "actions.groups.consumer-chat.categories.source_code",
        ),
        (
            "source-code",
            Category::SourceCode,
            Severity::Medium,
            Some("x.openai.azure.com"),
            Action::Audit,
            "actions.categories.source_code",
        ),
        (
            "iban",
            Category::Pii,
            Severity::High,
            None,
            Action::Redact,
            "actions.categories.pii",
        ),
        // built-in default
        (
            "aws-access-key-id",
            Category::Secret,
            Severity::High,
            Some("chatgpt.com"),
            Action::Block,
            "balanced default for high secret",
        ),
    ];
    for (rule, cat, sev, host, want, by) in table {
        let v = p.decide(&[finding(rule, *cat, *sev)], *host, &meta);
        assert_eq!(
            (v.action, v.by.as_str()),
            (*want, *by),
            "{rule} to {host:?}"
        );
    }
}

#[test]
fn modes_exceptions_and_the_strictest_finding() {
    let p = Policy::parse(POLICY).unwrap();
    let today = RequestMeta {
        today: days_from_date("2026-11-21").unwrap(),
        ..RequestMeta::default()
    };
    let v = p.decide(&[], Some("chat.deepseek.com"), &today);
    assert_eq!(
        (v.action, v.by.as_str()),
        (Action::Block, "destinations.banned.mode = block_all")
    );
    let v = p.decide(
        &[finding(
            "aws-access-key-id",
            Category::Secret,
            Severity::High,
        )],
        Some("llm.corp.example.com"),
        &today,
    );
    assert_eq!(v.action, Action::Allow);
    let aws = [
        finding("aws-access-key-id", Category::Secret, Severity::High),
        finding("email-address", Category::Pii, Severity::Low),
    ];
    let mallory = RequestMeta {
        user: Some("mallory".into()),
        ..today.clone()
    };
    let v = p.decide(&aws, Some("chatgpt.com"), &mallory);
    assert_eq!(
        v.action,
        Action::Redact,
        "the exception lowers the key to audit; the email still redacts"
    );
    assert_eq!(v.findings[0].by, "exceptions[0] (SEC-142 red team)");
    let later = RequestMeta {
        today: days_from_date("2027-01-01").unwrap(),
        ..mallory
    };
    assert_eq!(
        p.decide(&aws, Some("chatgpt.com"), &later).action,
        Action::Block,
        "expired exceptions do not apply"
    );
    assert_eq!(
        p.decide(&aws, Some("chatgpt.com"), &today).action,
        Action::Block,
        "other users are not exempt"
    );
    assert_eq!(
        p.decide(&[], Some("chatgpt.com"), &today).action,
        Action::Allow
    );
}

#[test]
fn host_patterns() {
    let p = Policy::parse(POLICY).unwrap();
    let g = |h: &str| p.group_of(h).map(|g| g.name.as_str());
    assert_eq!(g("chatgpt.com"), Some("consumer-chat"));
    assert_eq!(g("ab.chatgpt.com"), Some("consumer-chat"));
    assert_eq!(g("notchatgpt.com"), None);
    assert_eq!(g("x.openai.azure.com"), Some("enterprise-api"));
    assert_eq!(g("openai.azure.com"), None, "*. matches subdomains only");
    assert_eq!(g("CHATGPT.COM."), Some("consumer-chat"));
}

#[test]
fn errors_say_where_and_what_to_do() {
    let bad = "{\n  \"version\": 1,\n  \"actions\": {\n    \"categories\": { \"secret\": \"blok\" }\n  }\n}";
    let e = Policy::parse(bad).unwrap_err().to_string();
    assert!(e.starts_with("4:"), "{e}");
    assert!(e.contains("actions.categories"), "{e}");
    assert!(
        e.contains("`blok` is not an action; expected allow, audit, redact, warn or block"),
        "{e}"
    );
    let typo = r#"{"version": 1, "acitons": {}}"#;
    let e = Policy::parse(typo).unwrap_err().to_string();
    assert!(e.contains("`acitons` is not a field here (a typo?)"), "{e}");
    let e = Policy::parse(r#"{"version": 2}"#).unwrap_err().to_string();
    assert!(e.contains("version 1"), "{e}");
    let e = Policy::parse(
        r#"{"version": 1, "destinations": [{"name": "a", "hosts": ["https://chatgpt.com/"]}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("destinations[0].hosts[0]") && e.contains("not a host pattern"),
        "{e}"
    );
    let e = Policy::parse(r#"{"version": 1, "actions": {"groups": {"nope": {}}}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no destination group is named `nope`"), "{e}");
    let e = Policy::parse(r#"{"version": 1, "exceptions": [{"reason": "x", "expires": "soon"}]}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("exceptions[0].expires"), "{e}");
}

#[test]
fn shipped_policies_load_and_pass_their_own_tests() {
    for (name, text, min_tests) in [
        (
            "default.json",
            include_str!("../../../policies/default.json"),
            5,
        ),
        (
            "examples/audit-only.json",
            include_str!("../../../policies/examples/audit-only.json"),
            3,
        ),
        (
            "examples/strict.json",
            include_str!("../../../policies/examples/strict.json"),
            4,
        ),
        (
            "examples/pilot-permissive.json",
            include_str!("../../../policies/examples/pilot-permissive.json"),
            6,
        ),
        // Its fingerprint index is loaded by the CLI (I/O); its own tests do not need it.
        (
            "examples/semiconductor.json",
            include_str!("../../../policies/examples/semiconductor.json"),
            6,
        ),
    ] {
        let p = Policy::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let engine = leakguard_detect::Engine::with_config(p.engine_config()).unwrap();
        let n = p
            .run_own_tests(
                &engine,
                &RequestMeta {
                    today: days_from_date("2026-11-21").unwrap(),
                    ..RequestMeta::default()
                },
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(n >= min_tests, "{name} has only {n} tests");
    }
}

#[test]
fn the_schema_file_is_current() {
    let current = include_str!("../../../policies/schema.json");
    assert!(current == Policy::schema_json(), "policies/schema.json is stale: run `cargo run -p leakguard -- policy schema > policies/schema.json`");
}

#[test]
fn the_policy_reference_covers_every_field_of_the_schema() {
    // docs/policy.md is checked against the schema: every property of every object the schema
    // defines is named there in backticks.
    let doc = include_str!("../../../docs/policy.md");
    // Words inside `code spans`.
    let words: std::collections::BTreeSet<&str> = doc
        .split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|span| span.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|w| !w.is_empty())
        .collect();
    let schema: serde_json::Value = serde_json::from_str(&Policy::schema_json()).unwrap();
    let mut objects = vec![&schema];
    if let Some(defs) = schema["$defs"].as_object() {
        objects.extend(defs.values());
    }
    let mut missing = Vec::new();
    for o in objects {
        if let Some(props) = o["properties"].as_object() {
            for name in props.keys() {
                if name != "$schema" && !words.contains(name.as_str()) {
                    missing.push(name.clone());
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/policy.md does not document: {missing:?}"
    );
}

#[test]
fn tenant_rules_refuse_personal_accounts_and_foreign_organisations() {
    use leakguard_types::{TenantFact, TenantFacts, TenantMatch};
    let p = Policy::parse(
        r#"{"version":1,"destinations":[
            {"name":"chat","hosts":["chatgpt.com","claude.ai"],
             "tenant":{"chatgpt_account_domains":["acme.com"],"claude_organizations":["0d1e-acme"]}},
            {"name":"api","hosts":["api.openai.com"],"tenant":{"openai_organizations":["org-acme"],"openai_projects":["proj_a"]}}]}"#,
    )
    .unwrap();
    let facts = |provider: &str, email: Option<&str>, org: Option<&str>, project: Option<&str>| {
        // As the endpoint catalog's `tenants` read them for each provider.
        let fact = |list: &str, shown_as: &str, matching, value: Option<&str>| TenantFact {
            list: list.into(),
            shown_as: shown_as.into(),
            matching,
            value: value.map(Into::into),
        };
        let facts = match provider {
            "chatgpt-web" => vec![fact(
                "chatgpt_account_domains",
                "the ChatGPT account",
                TenantMatch::EmailDomain,
                email,
            )],
            "claude-web" => vec![fact(
                "claude_organizations",
                "the Claude organisation",
                TenantMatch::Exact,
                org,
            )],
            _ => vec![
                fact(
                    "openai_organizations",
                    "the OpenAI organisation",
                    TenantMatch::Exact,
                    org,
                ),
                fact(
                    "openai_projects",
                    "the OpenAI project",
                    TenantMatch::Exact,
                    project,
                ),
            ],
        };
        TenantFacts {
            provider: provider.into(),
            facts,
        }
    };
    assert!(p
        .check_tenant(
            "chatgpt.com",
            &facts("chatgpt-web", Some("jane@ACME.com"), None, None)
        )
        .is_ok());
    let e = p
        .check_tenant(
            "chatgpt.com",
            &facts("chatgpt-web", Some("jane@gmail.com"), None, None),
        )
        .unwrap_err();
    assert_eq!(e.by, "destinations.chat.tenant.chatgpt_account_domains");
    assert!(e.message.contains("jane@gmail.com"));
    assert!(
        p.check_tenant("chatgpt.com", &facts("chatgpt-web", None, None, None))
            .is_err(),
        "logged out"
    );
    assert!(p
        .check_tenant(
            "claude.ai",
            &facts("claude-web", None, Some("0d1e-acme"), None)
        )
        .is_ok());
    assert!(p
        .check_tenant("claude.ai", &facts("claude-web", None, Some("other"), None))
        .is_err());
    assert!(p
        .check_tenant(
            "api.openai.com",
            &facts("openai", None, Some("org-acme"), Some("proj_a"))
        )
        .is_ok());
    assert!(p
        .check_tenant(
            "api.openai.com",
            &facts("openai", None, Some("org-acme"), None)
        )
        .is_err());
    assert!(p
        .check_tenant(
            "api.openai.com",
            &facts("openai", None, None, Some("proj_a"))
        )
        .is_err());
    assert!(
        p.check_tenant("example.org", &facts("openai", None, None, None))
            .is_ok(),
        "outside every group"
    );
}

#[test]
fn events_and_notifications_sections_have_safe_defaults_and_checked_targets() {
    let p = Policy::parse(r#"{"version":1}"#).unwrap();
    assert_eq!(
        (p.events.retention_days, p.events.max_events),
        (90, 1_000_000)
    );
    assert_eq!(p.events.previews, crate::PreviewMode::Masked);
    assert!(
        !p.events.keep_redacted_prompt,
        "the redacted prompt is not kept unless asked"
    );
    assert_eq!(
        p.notifications.on,
        vec![Action::Block, Action::Warn, Action::Redact]
    );
    let p = Policy::parse(
        r#"{"version":1,"events":{"previews":"none","retention_days":30,
            "siem":[{"kind":"syslog_tls","address":"siem.corp:6514","ca_file":"corp-ca.pem"},
                    {"kind":"splunk_hec","address":"https://hec.corp:8088/services/collector","token_file":"hec.token"}]},
            "notifications":{"on":["block"],"coalesce_seconds":30}}"#,
    )
    .unwrap();
    assert_eq!(p.events.siem.len(), 2);
    assert_eq!(p.notifications.coalesce_seconds, 30);
    let err = Policy::parse(
        r#"{"version":1,"events":{"siem":[{"kind":"syslog_tcp","address":"https://x"}]}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("events.siem[0].address"), "{err}");
    let err = Policy::parse(
        r#"{"version":1,"events":{"siem":[{"kind":"webhook","address":"http://example.com/x"}]}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("https://"), "{err}");
    let err = Policy::parse(r#"{"version":1,"notifications":{"on":["blok"]}}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("blok"), "{err}");
}

#[test]
fn api_rules_cap_tokens_pin_models_and_name_the_entry() {
    let p = Policy::parse(
        r#"{"version":1,
            "destinations":[{"name":"api","hosts":["api.openai.com"],"fail_mode":"allow","max_body_bytes":1000}],
            "api":{"api":{"max_tokens":4096,"require_max_tokens":true,"models":["gpt-4o-2024-*","o3"]}}}"#,
    )
    .unwrap();
    assert_eq!(p.destinations[0].fail_mode, crate::FailMode::Allow);
    assert!(p
        .check_api("api.openai.com", Some("gpt-4o-2024-08-06"), Some(100))
        .is_ok());
    assert!(p.check_api("api.openai.com", Some("O3"), Some(100)).is_ok());
    let e = p
        .check_api("api.openai.com", Some("gpt-4o"), Some(100))
        .unwrap_err();
    assert_eq!(
        (e.status, e.code, e.by.as_str()),
        (403, "leakguard_model_not_allowed", "api.api.models")
    );
    assert!(e.message.contains("gpt-4o-2024-*"));
    let e = p
        .check_api("api.openai.com", Some("o3"), Some(5000))
        .unwrap_err();
    assert_eq!((e.status, e.code), (400, "leakguard_max_tokens"));
    let e = p.check_api("api.openai.com", Some("o3"), None).unwrap_err();
    assert_eq!(e.code, "leakguard_max_tokens_required");
    assert!(
        p.check_api("claude.ai", None, None).is_ok(),
        "hosts outside the group are not governed"
    );
    let err = Policy::parse(r#"{"version":1,"api":{"nope":{}}}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("api.nope") && err.contains("no destination group"),
        "{err}"
    );
    assert!(crate::glob_matches(
        "claude-*-4-5*",
        "claude-sonnet-4-5-20250929"
    ));
    assert!(!crate::glob_matches("gpt-4o", "gpt-4o-mini"));
}

#[test]
fn dates() {
    assert_eq!(days_from_date("1970-01-01"), Some(0));
    assert_eq!(days_from_date("2000-03-01"), Some(11_017));
    assert_eq!(days_from_date("2026-13-01"), None);
}

mod merge {
    use super::*;
    use proptest::prelude::*;

    const LOCAL: &str = r#"{
      "version": 1,
      "destinations": [
        { "name": "consumer-chat", "hosts": ["chatgpt.com"], "mode": "allow" },
        { "name": "mine", "hosts": ["claude.ai"] }
      ],
      "rules": { "disable_packs": ["secrets-generic"], "disable": ["aws-access-key-id"] },
      "actions": { "categories": { "secret": "allow", "pii": "allow", "source_code": "block" }, "rules": { "*": "allow" } },
      "exceptions": [{ "reason": "me", "expires": "2099-01-01" }]
    }"#;

    fn any_finding() -> impl Strategy<Value = Finding> {
        let rules = prop::sample::select(vec![
            "aws-access-key-id",
            "email-address",
            "credit-card-number",
            "source-code",
            "fingerprint:acme",
            "marking-korean",
            "acme-badge",
        ]);
        let cats = prop::sample::select(Category::ALL.to_vec());
        let sevs = prop::sample::select(Severity::ALL.to_vec());
        (rules, cats, sevs).prop_map(|(r, c, s)| finding(r, c, s))
    }

    proptest! {
        /// Whatever a local policy says, the effective verdict is never looser than the
        /// managed one.
        #[test]
        fn a_local_policy_never_loosens_a_managed_verdict(
            findings in prop::collection::vec(any_finding(), 0..6),
            host in prop::sample::select(vec!["chatgpt.com", "claude.ai", "api.openai.com", "x.openai.azure.com", "chat.deepseek.com", "example.org"]),
            user in prop::option::of(prop::sample::select(vec!["mallory", "alice"])),
        ) {
            let managed = Policy::parse(POLICY).unwrap();
            let local = Policy::parse(LOCAL).unwrap();
            let meta = RequestMeta { user: user.map(str::to_string), today: days_from_date("2026-11-21").unwrap(), ..RequestMeta::default() };
            let alone = managed.decide(&findings, Some(host), &meta);
            let effective = Effective { managed, local: Some(local) }.decide(&findings, Some(host), &meta);
            prop_assert!(effective.action >= alone.action, "{:?} loosened to {:?}", alone, effective);
        }
    }

    #[test]
    fn a_local_policy_can_tighten_and_cannot_disable_detection() {
        let managed = Policy::parse(POLICY).unwrap();
        let local = Policy::parse(r#"{"version": 1, "actions": {"categories": {"source_code": "block"}}, "rules": {"disable_packs": ["pii"]}}"#).unwrap();
        let meta = RequestMeta::default();
        let code = [finding(
            "source-code",
            Category::SourceCode,
            Severity::Medium,
        )];
        let e = Effective {
            managed: managed.clone(),
            local: Some(local),
        };
        assert_eq!(
            managed
                .decide(&code, Some("x.openai.azure.com"), &meta)
                .action,
            Action::Audit
        );
        let v = e.decide(&code, Some("x.openai.azure.com"), &meta);
        assert_eq!(
            v.action,
            Action::Block,
            "the local policy tightens code to block"
        );
        assert!(v.by.starts_with("local policy: "), "{}", v.by);
        let config = e.engine_config();
        assert!(
            config.disabled_packs.is_empty() && config.disabled_rules.is_empty(),
            "local disable lists are ignored"
        );
    }
}

#[test]
fn a_pause_audits_findings_but_never_lifts_a_kill_switch() {
    let p = Policy::parse(POLICY).unwrap();
    let key = [finding(
        "aws-access-key-id",
        Category::Secret,
        Severity::Critical,
    )];
    let paused = RequestMeta {
        paused: true,
        ..RequestMeta::default()
    };
    let normal = p.decide(&key, Some("chatgpt.com"), &RequestMeta::default());
    assert_eq!(normal.action, Action::Block);
    let v = p.decide(&key, Some("chatgpt.com"), &paused);
    assert_eq!(v.action, Action::Audit);
    assert_eq!(v.by, "controls.pause_minutes (paused by the user)");
    // A destination switched off stays off during a pause.
    let banned = p.decide(&key, Some("chat.deepseek.com"), &paused);
    assert_eq!(banned.action, Action::Block);
    assert_eq!(banned.by, "destinations.banned.mode = block_all");
    // Allowed findings stay allowed (a pause never makes anything stricter).
    let email = [finding("email-address", Category::Pii, Severity::Low)];
    assert_eq!(
        p.decide(&email, Some("api.openai.com"), &paused).action,
        Action::Allow
    );
    // The setting is off unless the policy names a length.
    assert_eq!(p.controls.pause_minutes, 0);
    let with = Policy::parse(&POLICY.replacen(
        "\"version\": 1,",
        "\"version\": 1, \"controls\": {\"pause_minutes\": 30},",
        1,
    ))
    .unwrap();
    assert_eq!(with.controls.pause_minutes, 30);
}

#[test]
fn one_verdict_for_the_whole_request_names_the_entry_that_decided() {
    use crate::RequestFacts;
    use leakguard_types::{TenantFact, TenantFacts, TenantMatch};
    let p = Policy::parse(
        r#"{"version":1,"destinations":[
            {"name":"chat","hosts":["chatgpt.com"],"tenant":{"chatgpt_account_domains":["acme.com"]}},
            {"name":"api","hosts":["api.openai.com"]},
            {"name":"open","hosts":["api.mistral.ai"],"mode":"allow"},
            {"name":"off","hosts":["deepseek.com"],"mode":"block_all"}],
           "api":{"api":{"models":["gpt-4o*"],"max_tokens":1000},"open":{"require_max_tokens":true}}}"#,
    )
    .unwrap();
    let meta = RequestMeta::default();
    let account = |email: &str| TenantFacts {
        provider: "chatgpt-web".into(),
        facts: vec![TenantFact {
            list: "chatgpt_account_domains".into(),
            shown_as: "the ChatGPT account".into(),
            matching: TenantMatch::EmailDomain,
            value: Some(email.into()),
        }],
    };
    let personal = account("jane@gmail.com");
    let chat = |tenant| RequestFacts {
        host: Some("chatgpt.com"),
        tenant: Some(tenant),
        ..RequestFacts::default()
    };
    // Clean text, company account: allowed, no stop.
    let company = account("jane@acme.com");
    let v = p.decide_request(&[], &chat(&company), &meta);
    assert_eq!((v.action, v.stop.is_none()), (Action::Allow, true));
    // Clean text, personal account: the tenant rule decides.
    let v = p.decide_request(&[], &chat(&personal), &meta);
    assert_eq!(v.action, Action::Block);
    assert_eq!(v.by, "destinations.chat.tenant.chatgpt_account_domains");
    assert_eq!(v.stop.as_ref().unwrap().code, "leakguard_tenant");
    // A warned finding does not hide the tenant rule; a content block stands as the reason.
    let warned = [finding(
        "generic-high-entropy",
        Category::Secret,
        Severity::Medium,
    )];
    let v = p.decide_request(&warned, &chat(&personal), &meta);
    assert_eq!((v.action, v.stop.is_some()), (Action::Block, true));
    assert_eq!(v.findings[0].action, Action::Warn, "content decisions kept");
    let blocked = [finding(
        "aws-access-key-id",
        Category::Secret,
        Severity::Critical,
    )];
    let v = p.decide_request(&blocked, &chat(&personal), &meta);
    assert_eq!((v.action, v.stop.is_none()), (Action::Block, true));
    assert_eq!(v.by, "balanced default for critical secret");
    // API rules from the adapter's facts.
    let api = |model, max_tokens| RequestFacts {
        host: Some("api.openai.com"),
        model,
        max_tokens,
        tenant: None,
    };
    assert!(p
        .decide_request(&[], &api(Some("gpt-4o-mini"), Some(500)), &meta)
        .stop
        .is_none());
    let v = p.decide_request(&[], &api(Some("o3"), Some(500)), &meta);
    assert_eq!(v.by, "api.api.models");
    let v = p.decide_request(&[], &api(Some("gpt-4o"), Some(5000)), &meta);
    assert_eq!(v.stop.unwrap().code, "leakguard_max_tokens");
    // An `allow` group is not scanned, but its API rules still apply.
    let open = RequestFacts {
        host: Some("api.mistral.ai"),
        ..RequestFacts::default()
    };
    assert_eq!(
        p.decide_request(&blocked, &open, &meta).by,
        "api.open.require_max_tokens"
    );
    // The kill switch is a verdict with its own refusal.
    let off = RequestFacts {
        host: Some("deepseek.com"),
        ..RequestFacts::default()
    };
    let v = p.decide_request(&[], &off, &meta);
    assert_eq!(v.by, "destinations.off.mode = block_all");
    let stop = v.stop.unwrap();
    assert_eq!((stop.status, stop.code), (403, "leakguard_kill_switch"));
    assert!(
        stop.message.contains("deepseek.com is switched off"),
        "{}",
        stop.message
    );
    // `decide` alone (a scan outside the proxy) applies no tenant or API rule.
    assert_eq!(
        p.decide(&[], Some("api.openai.com"), &meta).action,
        Action::Allow
    );
}

#[test]
fn sensitivity_presets_set_thresholds_and_default_actions() {
    let preset = |word: &str| {
        Policy::parse(&format!(r#"{{"version": 1, "sensitivity": "{word}"}}"#)).unwrap()
    };
    let engine = |p: &Policy| leakguard_detect::Engine::with_config(p.engine_config()).unwrap();
    let meta = RequestMeta::default();
    let card = "card 4111 1111 1111 1111 exp 09/28";
    let key = "key AKIAQYLPMN5HJNGY4F7A";
    let code = "fn main() {\n    let x = compute(1, 2);\n    println!(\"{x}\");\n}\n";
    let cases = [
        ("strict", card, Action::Block),
        ("strict", key, Action::Block),
        ("balanced", card, Action::Redact),
        ("balanced", key, Action::Block),
        ("permissive", card, Action::Audit),
        ("permissive", key, Action::Block),
    ];
    for (word, text, want) in cases {
        let p = preset(word);
        let v = p.decide(&engine(&p).scan(text), Some("chatgpt.com"), &meta);
        assert_eq!(v.action, want, "{word}: {text}");
    }
    // Four lines of code: a finding under strict and balanced, none under permissive (8).
    for (word, found) in [("strict", true), ("balanced", true), ("permissive", false)] {
        let p = preset(word);
        let any = engine(&p)
            .scan(code)
            .iter()
            .any(|f| f.rule == "source-code");
        assert_eq!(any, found, "{word}");
    }
    assert_eq!(preset("strict").engine_config().min_confidence, 0.25);
    assert_eq!(preset("permissive").engine_config().min_confidence, 0.6);
    // An explicit threshold wins over the preset.
    let p = Policy::parse(
        r#"{"version": 1, "sensitivity": "permissive", "rules": {"min_confidence": 0.4}}"#,
    )
    .unwrap();
    assert_eq!(p.engine_config().min_confidence, 0.4);
    // The verdict names the preset that decided.
    let p = preset("strict");
    let v = p.decide(&engine(&p).scan(card), Some("chatgpt.com"), &meta);
    assert!(v.by.starts_with("strict default for"), "{}", v.by);
    assert!(Policy::parse(r#"{"version": 1, "sensitivity": "loose"}"#).is_err());
}

#[test]
fn a_local_preset_tightens_thresholds_and_never_loosens_them() {
    let managed = Policy::parse(r#"{"version": 1}"#).unwrap();
    let strict = Policy::parse(r#"{"version": 1, "sensitivity": "strict"}"#).unwrap();
    let loose = Policy::parse(r#"{"version": 1, "sensitivity": "permissive"}"#).unwrap();
    let e = Effective {
        managed: managed.clone(),
        local: Some(strict),
    };
    assert_eq!(e.engine_config().min_confidence, 0.25);
    assert_eq!(e.engine_config().code_min_lines, 2);
    let e = Effective {
        managed,
        local: Some(loose),
    };
    assert_eq!(e.engine_config().min_confidence, 0.3);
    assert_eq!(e.engine_config().code_min_lines, 3);
}
