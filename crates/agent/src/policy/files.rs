//! Reading one policy file: parse and validate it (leakguard-policy), load the fingerprint
//! indexes it names (relative to the policy file), build the engine, and run the policy's own
//! tests. Signatures (`POLICY.sig` beside the policy) are checked here too.

use super::LoadError;
use leakguard_detect::Engine;
use leakguard_policy::{signing, Policy, RequestMeta};
use std::path::{Path, PathBuf};

/// The shipped default policy (`policies/default.json`).
pub const BUILTIN_POLICY: &str = include_str!("../../../../policies/default.json");

/// Reads and validates a policy file.
///
/// # Errors
/// The file cannot be read, or it is not a valid policy.
pub fn read(path: &Path) -> Result<Policy, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Policy::parse(&text).map_err(|error| LoadError::Invalid {
        path: path.to_path_buf(),
        error,
    })
}

/// The policy (the shipped default without a file) and the engine built from it. A given
/// policy must pass its own tests (the built-in default's are proven by the test suite, so a
/// start does not pay for them again).
///
/// # Errors
/// See [`LoadError`].
pub fn with_engine(path: Option<&Path>, today: u32) -> Result<(Policy, Engine), LoadError> {
    with_engine_and_local(path, None, today)
}

/// As [`with_engine`], with the detection additions of a local policy on top (its custom
/// rules, dictionaries and organisation names; its disable lists are ignored: a local policy
/// can only tighten a managed one).
///
/// # Errors
/// See [`LoadError`].
pub fn with_engine_and_local(
    path: Option<&Path>,
    local: Option<&Policy>,
    today: u32,
) -> Result<(Policy, Engine), LoadError> {
    let policy = match path {
        Some(p) => read(p)?,
        None => Policy::parse(BUILTIN_POLICY).map_err(LoadError::Builtin)?,
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
    if let Some(pack) = config
        .disabled_packs
        .iter()
        .find(|p| !known.contains(&p.as_str()))
    {
        return Err(LoadError::UnknownPack {
            label,
            pack: pack.clone(),
            known: known.join(", "),
        });
    }
    let base = path.and_then(Path::parent).unwrap_or(Path::new("."));
    let fingerprint = |message: String| LoadError::Fingerprint {
        label: label.clone(),
        message,
    };
    for fp in &policy.rules.fingerprints {
        let index_path = base.join(&fp.index);
        let data = std::fs::read(&index_path)
            .map_err(|e| fingerprint(format!("cannot read {}: {e}", index_path.display())))?;
        same_hash(&data, fp.index_sha256.as_deref(), &index_path).map_err(fingerprint)?;
        if let (Some(file), Some(want)) = (&fp.salt_file, &fp.salt_sha256) {
            let salt_path = base.join(file);
            let bytes = std::fs::read(&salt_path)
                .map_err(|e| fingerprint(format!("cannot read {}: {e}", salt_path.display())))?;
            same_hash(&bytes, Some(want), &salt_path).map_err(fingerprint)?;
        }
        let index = leakguard_detect::fingerprint::FingerprintIndex::from_bytes(&data)
            .map_err(|e| fingerprint(format!("{}: {e}", index_path.display())))?;
        let salt = match (&fp.salt, &fp.salt_file) {
            (Some(_), Some(_)) => {
                return Err(fingerprint("give `salt` or `salt_file`, not both".into()))
            }
            (Some(s), None) if s.len() < 8 => {
                return Err(fingerprint("`salt` must be at least 8 characters".into()))
            }
            (Some(s), None) => s.as_bytes().to_vec(),
            (None, file) => read_salt(file.as_ref().map(|s| base.join(s)).as_deref())
                .map_err(|e| fingerprint(e.to_string()))?,
        };
        let key = leakguard_detect::fingerprint::FingerprintKey::new(&salt)
            .map_err(|e| fingerprint(e.to_string()))?;
        let mut set = leakguard_detect::FingerprintSet::new(index, key);
        if let Some(m) = fp.min_matches {
            set.min_matches = m;
        }
        if let Some(f) = fp.min_fraction {
            set.min_fraction = f;
        }
        if let Some(m) = fp.min_prose_matches {
            set.min_prose_matches = m;
        }
        config.fingerprints.push(set);
    }
    let engine = Engine::with_config(config).map_err(|e| LoadError::Engine {
        label: label.clone(),
        message: e.to_string(),
    })?;
    if path.is_some() {
        policy
            .run_own_tests(
                &engine,
                &RequestMeta {
                    today,
                    ..RequestMeta::default()
                },
            )
            .map_err(|e| LoadError::OwnTests {
                label,
                message: e.to_string(),
            })?;
    }
    Ok((policy, engine))
}

/// The organisation's fingerprint salt: the first line of `salt_file`, or
/// `LEAKGUARD_FINGERPRINT_SALT`.
///
/// # Errors
/// Neither is given, the file cannot be read, or the salt is shorter than 8 characters.
pub fn read_salt(salt_file: Option<&Path>) -> Result<Vec<u8>, SaltError> {
    let salt = match salt_file {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|source| SaltError::Read {
                path: p.to_path_buf(),
                source,
            })?
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
        None => std::env::var("LEAKGUARD_FINGERPRINT_SALT").map_err(|_| SaltError::Missing)?,
    };
    if salt.len() < 8 {
        return Err(SaltError::Short);
    }
    Ok(salt.into_bytes())
}

/// Why the fingerprint salt is not usable.
#[derive(Debug, thiserror::Error)]
pub enum SaltError {
    #[error("cannot read salt file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("give --salt-file FILE or set LEAKGUARD_FINGERPRINT_SALT: the index is keyed with the organisation's salt")]
    Missing,
    #[error("the salt must be at least 8 characters")]
    Short,
}

/// `POLICY.sig`, beside the policy.
pub fn sig_path(policy: &Path) -> PathBuf {
    let mut name = policy.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// Checks `POLICY.sig` against the public key file.
///
/// # Errors
/// A file cannot be read, the policy is unsigned, or the signature does not verify.
pub fn verify(policy: &Path, public_key: &Path) -> Result<(), LoadError> {
    let fail = |reason: String| LoadError::Signature {
        path: policy.to_path_buf(),
        key: public_key.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(policy)
        .map_err(|e| fail(format!("cannot read {}: {e}", policy.display())))?;
    let public = std::fs::read_to_string(public_key)
        .map_err(|e| fail(format!("cannot read {}: {e}", public_key.display())))?;
    let sig = std::fs::read_to_string(sig_path(policy))
        .map_err(|_| fail(signing::SignatureError::Unsigned.to_string()))?;
    signing::verify(&bytes, &sig, &public).map_err(|e| fail(e.to_string()))?;
    require_covered(policy)
}

/// `data`'s SHA-256 is `want` (hex, any case), when the policy names one.
fn same_hash(data: &[u8], want: Option<&str>, path: &Path) -> Result<(), String> {
    use sha2::{Digest, Sha256};
    let Some(want) = want else {
        return Ok(());
    };
    let got = hex(&Sha256::digest(data));
    if got.eq_ignore_ascii_case(want.trim()) {
        Ok(())
    } else {
        Err(format!(
            "{} does not match the SHA-256 the policy names (a swapped or damaged file; it has {got}): install the file the policy was signed with",
            path.display()
        ))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A signed policy's signature must cover every file it makes the guard trust: each
/// fingerprint index, and each salt file, must be named with its SHA-256.
///
/// # Errors
/// [`LoadError::Fingerprint`] naming the entry without a hash.
pub fn require_covered(policy_path: &Path) -> Result<(), LoadError> {
    let policy = read(policy_path)?;
    for fp in &policy.rules.fingerprints {
        let missing = if fp.index_sha256.is_none() {
            Some("index_sha256")
        } else if fp.salt_file.is_some() && fp.salt_sha256.is_none() {
            Some("salt_sha256")
        } else {
            None
        };
        if let Some(field) = missing {
            return Err(LoadError::Fingerprint {
                label: policy_path.display().to_string(),
                message: format!(
                    "the signed policy names {} without `{field}`: its signature would not cover that file; add the SHA-256 `leakguard fingerprint build` printed (or `sha256sum`), then sign again",
                    fp.index
                ),
            });
        }
    }
    Ok(())
}

/// The label events and the app show: the policy's name and the first 12 hex digits of the
/// SHA-256 of its file (`built-in` without one).
pub fn label_for(path: Option<&Path>, policy: &Policy) -> String {
    use sha2::{Digest, Sha256};
    let name = policy
        .name
        .clone()
        .unwrap_or_else(|| "unnamed policy".into());
    match path.and_then(|p| std::fs::read(p).ok()) {
        Some(bytes) => {
            let h = Sha256::digest(&bytes);
            let short: String = h.iter().take(6).map(|b| format!("{b:02x}")).collect();
            format!("{name} ({short})")
        }
        None => format!("{name} (built-in)"),
    }
}
