//! Properties that must hold for any input.

use leakguard_detect::{redact, Engine, RedactStyle};
use proptest::prelude::*;
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new().unwrap())
}

/// Secrets and personal data that the engine finds on their own.
const VALUES: &[&str] = &[
    "AKIAQYLPMN5HJNGY4F7A",
    "4111 1111 1111 1111",
    "jane.doe@acme-semi.com",
    "DE89 3704 0044 0532 0130 00",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "sk-ant-api03-NqVwYS81VP7Hb1DX8pPd5khxE3pyIgKpaUnArl63XykWZeiNNCiia3anXn9k3ksu9mI4ROnl89Sm995ytbxAk7jqevt0MAA",
];

fn text_with_values() -> impl Strategy<Value = (String, Vec<&'static str>)> {
    let piece = prop_oneof![
        4 => "[a-zA-Z ,.\\n]{0,40}".prop_map(|s| (s, None)),
        1 => "[\\u{0}-\\u{2FFF}]{0,8}".prop_map(|s| (s, None)),
        2 => proptest::sample::select(VALUES).prop_map(|v| (format!(" {v} "), Some(v))),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|parts| {
        let mut text = String::new();
        let mut used = Vec::new();
        for (s, v) in parts {
            text.push_str(&s);
            used.extend(v);
        }
        (text, used)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn scanning_arbitrary_bytes_never_panics_and_spans_are_in_bounds(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for f in engine().scan_bytes(&bytes) {
            prop_assert!(f.start < f.end && f.end <= bytes.len(), "{f:?}");
        }
    }

    #[test]
    fn spans_lie_on_char_boundaries(text in "\\PC{0,300}") {
        for f in engine().scan(&text) {
            prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end), "{f:?} in {text:?}");
        }
    }

    #[test]
    fn redacted_output_never_contains_a_redacted_value((text, used) in text_with_values()) {
        let findings = engine().scan(&text);
        for style in [RedactStyle::Placeholder, RedactStyle::Mask, RedactStyle::Hash] {
            let out = redact(&text, &findings, style);
            for f in &findings {
                let value = &text[f.start..f.end];
                if value.chars().count() >= 6 {
                    prop_assert!(!out.text.contains(value), "{value:?} survived {style:?} in {:?}", out.text);
                }
            }
        }
        // Every planted value was found (so the property above is not vacuous).
        for v in used {
            let start = text.find(v).unwrap();
            prop_assert!(findings.iter().any(|f| f.start <= start && f.end >= start + v.len() - 1), "{v} not found in {text:?}");
        }
    }
}
