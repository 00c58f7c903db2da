//! Loading a policy file for the CLI: parse and validate it (leakguard-policy), load the
//! fingerprint indexes it names (I/O, relative to the policy file), build the engine, and run
//! the policy's own tests.

use anyhow::{Context, Result};
use leakguard_detect::Engine;
use leakguard_policy::{Policy, RequestMeta};
use std::path::Path;

/// Today as days since 1970-01-01 (UTC), for exception expiry.
pub fn today() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| (d.as_secs() / 86_400) as u32)
}

/// Reads and validates a policy file.
pub fn load(path: &Path) -> Result<Policy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read policy {}", path.display()))?;
    Policy::parse(&text).map_err(|e| anyhow::anyhow!("{}:{e}", path.display()))
}

/// The policy (the shipped default without a file) and the engine built from it. The
/// policy's own tests must pass.
pub fn load_with_engine(path: Option<&Path>) -> Result<(Policy, Engine)> {
    load_with_engine_and_local(path, None)
}

/// As [`load_with_engine`], with the detection additions of a local policy on top (its custom
/// rules, dictionaries and organisation names; its disable lists are ignored: a local policy
/// can only tighten a managed one).
pub fn load_with_engine_and_local(
    path: Option<&Path>,
    local: Option<&Policy>,
) -> Result<(Policy, Engine)> {
    let policy = match path {
        Some(p) => load(p)?,
        None => Policy::parse(include_str!("../../../policies/default.json"))
            .map_err(|e| anyhow::anyhow!("built-in default policy: {e}"))?,
    };
    let label = path.map_or_else(
        || "built-in default policy".to_string(),
        |p| p.display().to_string(),
    );
    let mut config = match local {
        Some(l) => leakguard_policy::Effective {
            managed: policy.clone(),
            local: Some(l.clone()),
        }
        .engine_config(),
        None => policy.engine_config(),
    };
    let known: Vec<&str> = leakguard_detect::BUILTIN_PACKS
        .iter()
        .map(|(n, _)| *n)
        .collect();
    for pack in &config.disabled_packs {
        anyhow::ensure!(
            known.contains(&pack.as_str()),
            "{label}: rules.disable_packs: `{pack}` is not a rule pack; expected one of {}",
            known.join(", ")
        );
    }
    let base = path.and_then(Path::parent).unwrap_or(Path::new("."));
    for fp in &policy.rules.fingerprints {
        let index_path = base.join(&fp.index);
        let data = std::fs::read(&index_path).with_context(|| {
            format!(
                "{label}: rules.fingerprints: cannot read {}",
                index_path.display()
            )
        })?;
        let index = leakguard_detect::fingerprint::FingerprintIndex::from_bytes(&data)
            .with_context(|| format!("{label}: rules.fingerprints: {}", index_path.display()))?;
        let salt = match (&fp.salt, &fp.salt_file) {
            (Some(_), Some(_)) => {
                anyhow::bail!("{label}: rules.fingerprints: give `salt` or `salt_file`, not both")
            }
            (Some(s), None) => {
                anyhow::ensure!(
                    s.len() >= 8,
                    "{label}: rules.fingerprints: `salt` must be at least 8 characters"
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
    let engine = Engine::with_config(config).with_context(|| label.clone())?;
    // A given policy must pass its own tests to load. The built-in default's are proven by
    // the test suite (`shipped_policies_load_and_pass_their_own_tests`), so every CLI start
    // does not pay for them again.
    if path.is_some() {
        policy
            .run_own_tests(
                &engine,
                &RequestMeta {
                    today: today(),
                    ..RequestMeta::default()
                },
            )
            .map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
    }
    Ok((policy, engine))
}

/// The engine for a policy (or the shipped default).
pub fn engine(path: Option<&Path>) -> Result<Engine> {
    Ok(load_with_engine(path)?.1)
}
