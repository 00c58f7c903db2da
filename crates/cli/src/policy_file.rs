//! The part of the policy file the scanner understands today: the `rules` section (enable and
//! disable packs and rules, custom rules, dictionaries, organisation names, code threshold).
//! The full policy (destinations, actions, exceptions, signing) arrives with its own crate;
//! until then any other section is rejected, so a typo never silently weakens detection.

use anyhow::{Context, Result};
use leakguard_detect::spec::{DictionarySpec, RuleSpec};
use leakguard_detect::{Engine, EngineConfig};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub version: u32,
    #[serde(default)]
    pub rules: RulesSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesSection {
    /// Built-in packs to turn off, e.g. `["secrets-generic"]`.
    #[serde(default)]
    pub disable_packs: Vec<String>,
    /// Single rules to turn off, by id.
    #[serde(default)]
    pub disable: Vec<String>,
    /// Extra rules, same fields as `policies/rules/*.toml`.
    #[serde(default)]
    pub custom: Vec<RuleSpec>,
    #[serde(default)]
    pub dictionaries: Vec<DictionarySpec>,
    /// Company names for the `copyright-header` rule.
    #[serde(default)]
    pub organisation_names: Vec<String>,
    /// Least lines for a `source-code` finding (0 turns the code detector off).
    pub code_min_lines: Option<u32>,
    /// Findings below this confidence are dropped (default 0.3).
    pub min_confidence: Option<f32>,
    /// Fingerprint indexes of the organisation's code.
    #[serde(default)]
    pub fingerprints: Vec<FingerprintEntry>,
}

/// One fingerprint index in a policy. Relative paths are relative to the policy file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FingerprintEntry {
    /// The index file made by `leakguard fingerprint build`.
    pub index: PathBuf,
    /// File holding the salt the index was built with.
    pub salt_file: Option<PathBuf>,
    /// The salt itself, for policies distributed as privately as a salt file would be.
    pub salt: Option<String>,
    /// Least kept fingerprints of a code region found in the index (default 6).
    pub min_matches: Option<usize>,
    /// Least fraction of the region's kept fingerprints found (default 0.25).
    pub min_fraction: Option<f32>,
}

/// Reads and validates a policy file.
pub fn load(path: &Path) -> Result<PolicyFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read policy {}", path.display()))?;
    let policy: PolicyFile = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))?;
    anyhow::ensure!(
        policy.version == 1,
        "{}: `version` is {}; this build understands version 1",
        path.display(),
        policy.version
    );
    Ok(policy)
}

/// The engine for a policy (or the built-in defaults without one).
pub fn engine(policy: Option<&Path>) -> Result<Engine> {
    let mut config = EngineConfig::default();
    if let Some(path) = policy {
        let p = load(path)?;
        let known: Vec<&str> = leakguard_detect::BUILTIN_PACKS
            .iter()
            .map(|(n, _)| *n)
            .collect();
        for pack in &p.rules.disable_packs {
            anyhow::ensure!(
                known.contains(&pack.as_str()),
                "{}: rules.disable_packs: `{pack}` is not a rule pack; expected one of {}",
                path.display(),
                known.join(", ")
            );
        }
        config.disabled_packs = p.rules.disable_packs;
        config.disabled_rules = p.rules.disable;
        config.custom_rules = p.rules.custom;
        config.dictionaries = p.rules.dictionaries;
        config.organisation_names = p.rules.organisation_names;
        if let Some(n) = p.rules.code_min_lines {
            config.code_min_lines = n;
        }
        if let Some(c) = p.rules.min_confidence {
            config.min_confidence = c;
        }
        let base = path.parent().unwrap_or(Path::new("."));
        for fp in &p.rules.fingerprints {
            let index_path = base.join(&fp.index);
            let data = std::fs::read(&index_path).with_context(|| {
                format!(
                    "{}: rules.fingerprints: cannot read {}",
                    path.display(),
                    index_path.display()
                )
            })?;
            let index = leakguard_detect::fingerprint::FingerprintIndex::from_bytes(&data)
                .with_context(|| {
                    format!(
                        "{}: rules.fingerprints: {}",
                        path.display(),
                        index_path.display()
                    )
                })?;
            let salt = match (&fp.salt, &fp.salt_file) {
                (Some(_), Some(_)) => anyhow::bail!(
                    "{}: rules.fingerprints: give `salt` or `salt_file`, not both",
                    path.display()
                ),
                (Some(s), None) => {
                    anyhow::ensure!(
                        s.len() >= 8,
                        "{}: rules.fingerprints: `salt` must be at least 8 characters",
                        path.display()
                    );
                    s.as_bytes().to_vec()
                }
                (None, file) => {
                    crate::fingerprint::read_salt(file.as_ref().map(|s| base.join(s)).as_deref())?
                }
            };
            let key = leakguard_detect::fingerprint::FingerprintKey::new(&salt)?;
            let mut set = leakguard_detect::FingerprintSet::new(index, key);
            if let Some(m) = fp.min_matches {
                set.min_matches = m;
            }
            if let Some(f) = fp.min_fraction {
                set.min_fraction = f;
            }
            config.fingerprints.push(set);
        }
        let engine =
            Engine::with_config(config).with_context(|| format!("policy {}", path.display()))?;
        return Ok(engine);
    }
    Ok(Engine::with_config(config)?)
}
