//! Fuzzes the detection engine and the redactor: no input may panic, spans stay in bounds and
//! on char boundaries, and redaction removes every value it replaced.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static ENGINE: OnceLock<leakguard_detect::Engine> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let engine = ENGINE.get_or_init(|| leakguard_detect::Engine::new().expect("engine"));
    for f in engine.scan_bytes(data) {
        assert!(f.start < f.end && f.end <= data.len());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let findings = engine.scan(text);
        for f in &findings {
            assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        }
        let out = leakguard_detect::redact(text, &findings, leakguard_detect::RedactStyle::Placeholder);
        for f in &findings {
            let value = &text[f.start..f.end];
            if value.chars().count() >= 6 {
                assert!(!out.text.contains(value));
            }
        }
    }
});
