//! Leakguard's detection engine: finds secrets, personal data, source code and classified
//! content in a text segment, and redacts what it found.
//!
//! ```
//! let engine = leakguard_detect::Engine::new().unwrap();
//! let findings = engine.scan("deploy with AKIAQYLPMN5HJNGY4F7A please");
//! assert_eq!(findings[0].rule, "aws-access-key-id");
//! assert_eq!(findings[0].preview, "AKI…F7A");
//! ```
//!
//! What it does: rules are data (`policies/rules/*.toml`, compiled in); one vectorised feature
//! pass and one striped Aho-Corasick pass decide where each rule's regex may match; regexes run
//! only in those windows; validators, entropy floors, allowlists and context words confirm.
//! Evasion (zero-width characters, homoglyphs, full-width forms, escapes, base64) is undone on
//! a copy whose offsets map back to the original.
//!
//! What it will not do: any I/O, any HTTP, any policy decision. It says what is there; the
//! policy says what to do about it.
//!
//! The key design decision: the prefilter contract. A rule only runs where its trigger fired,
//! and every shipped rule proves on its own examples that the prefilter never hides a match
//! (see [`keywords`](crate::keywords) and `tests/rule_examples.rs`).

mod code;
mod confusables;
mod dictionary;
mod encoded;
mod engine;
mod features;
pub mod fingerprint;
mod keywords;
mod mask;
mod normalize;
mod redact;
mod rules;
pub mod spec;
pub mod validate;

/// A xorshift generator for tests that want many varied inputs, the same on every run.
#[cfg(test)]
pub(crate) fn test_rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

pub use code::CodeRegion;
pub use dictionary::{hash_term, normalise_term};
pub use engine::{Engine, EngineConfig, FingerprintSet, RuleInfo, SharedEngine, Signals};
pub use mask::shannon_entropy;
pub use redact::{redact, RedactStyle, Redaction, Replacement};
pub use rules::{parse_pack, BUILTIN_PACKS};

/// Why the engine could not be built. Every variant names what is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("rule pack `{pack}`: {message}")]
    Pack { pack: String, message: String },
    #[error("rule `{rule}`: field `{field}`: {message}")]
    Rule {
        rule: String,
        field: &'static str,
        message: String,
    },
    #[error("two rules have the id `{0}`; rule ids must be unique")]
    Duplicate(String),
    #[error("dictionary `{name}`: {message}")]
    Dictionary { name: String, message: String },
    #[error("allowlist: {0}")]
    Allowlist(String),
    #[error("keyword prefilter: {0}")]
    Keywords(String),
    #[error("fingerprints: {0}")]
    Fingerprint(String),
}

#[cfg(test)]
mod send_sync {
    #[test]
    fn engine_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<crate::Engine>();
    }
}
