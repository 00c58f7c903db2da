//! Where the policy comes from and how it becomes the policy in force: the sources (the
//! managed file IT installs, the user's local file, the pinned key, a copy pulled over HTTPS),
//! [`load`] (raw sources -> [`Loaded`], with a typed [`LoadError`]), and the record of what is
//! in force for the app's Policy view.

pub mod files;
pub mod pull;

use leakguard_policy::{Effective, PolicyError, RequestMeta};
use leakguard_proxy::Loaded;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Why a policy cannot be put in force. The last good policy stays in force on any of them.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read policy {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{error}", path.display())]
    Invalid { path: PathBuf, error: PolicyError },
    #[error("built-in default policy: {0}")]
    Builtin(PolicyError),
    #[error("the policy key {} is pinned: the policy must be signed with it: {}: {reason}", key.display(), path.display())]
    Signature {
        path: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("{label}: rules.disable_packs: `{pack}` is not a rule pack; expected one of {known}")]
    UnknownPack {
        label: String,
        pack: String,
        known: String,
    },
    #[error("{label}: rules.fingerprints: {message}")]
    Fingerprint { label: String, message: String },
    #[error("{label}: {message}")]
    Engine { label: String, message: String },
    #[error("{label}: {message}")]
    OwnTests { label: String, message: String },
}

impl LoadError {
    /// A stable code for the app (`{code, message}`).
    pub fn code(&self) -> &'static str {
        match self {
            LoadError::Read { .. } => "policy_unreadable",
            LoadError::Invalid { .. } | LoadError::Builtin(_) | LoadError::UnknownPack { .. } => {
                "policy_invalid"
            }
            LoadError::Signature { .. } => "policy_signature",
            LoadError::Fingerprint { .. } => "policy_fingerprints",
            LoadError::Engine { .. } => "policy_rules",
            LoadError::OwnTests { .. } => "policy_tests_failed",
        }
    }
}

/// Where the managed policy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Installed by IT (MDM, package) in the OS location: read-only for the user.
    Managed,
    /// Pulled over HTTPS from the organisation's URL.
    Pulled,
    /// The user's own file (`--policy`), with no managed policy.
    Local,
    /// The shipped default.
    Builtin,
}

/// Where the guard's policy comes from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The managed (MDM) policy, when the file exists, or the pulled copy.
    pub managed: Option<PathBuf>,
    /// Whether `managed` is the copy pulled over HTTPS.
    pub pulled: bool,
    /// The user's own policy: it can only tighten a managed one.
    pub local: Option<PathBuf>,
    /// The pinned public key: when present, the managed policy (or, without one, the local
    /// policy) must carry a valid `.sig`.
    pub pinned_key: Option<PathBuf>,
}

/// An administrator's override of the managed locations: `name` read from the environment
/// only by a guard running as root (a system service, whose environment only an
/// administrator sets). A user's own guard ignores it: whoever starts a guard must not be able
/// to swap the managed policy or its pinned key for their own.
fn admin_override(name: &str) -> Option<PathBuf> {
    #[cfg(unix)]
    {
        if rustix::process::geteuid().is_root() {
            return std::env::var_os(name).map(PathBuf::from);
        }
    }
    let _ = name;
    None
}

/// The managed policy location of this OS (`LEAKGUARD_MANAGED_POLICY` overrides it for a
/// guard running as root only).
pub fn managed_policy_path() -> PathBuf {
    if let Some(p) = admin_override("LEAKGUARD_MANAGED_POLICY") {
        return p;
    }
    if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/Leakguard/policy.json")
    } else if cfg!(windows) {
        let base = std::env::var_os("ProgramData")
            .map_or_else(|| PathBuf::from(r"C:\ProgramData"), PathBuf::from);
        base.join("Leakguard").join("policy.json")
    } else {
        PathBuf::from("/etc/leakguard/policy.json")
    }
}

/// The pinned policy key, installed next to the managed policy (`LEAKGUARD_POLICY_KEY`
/// overrides it for a guard running as root only).
pub fn pinned_key_path() -> PathBuf {
    if let Some(p) = admin_override("LEAKGUARD_POLICY_KEY") {
        return p;
    }
    managed_policy_path().with_file_name("policy.pub")
}

impl Sources {
    /// The managed location and pinned key of this OS (used when they exist), and the local
    /// file given with `--policy`.
    pub fn discover(local: Option<PathBuf>) -> Sources {
        Sources {
            managed: Some(managed_policy_path()).filter(|p| p.exists()),
            pulled: false,
            local,
            pinned_key: Some(pinned_key_path()).filter(|p| p.exists()),
        }
    }

    /// Files whose change triggers a reload (each policy and its signature).
    pub fn watched(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self
            .managed
            .iter()
            .chain(self.local.iter())
            .cloned()
            .collect();
        for p in v.clone() {
            v.push(files::sig_path(&p));
        }
        v
    }

    /// Where the policy in force comes from.
    pub fn origin(&self) -> Origin {
        match (&self.managed, self.pulled, &self.local) {
            (Some(_), true, _) => Origin::Pulled,
            (Some(_), false, _) => Origin::Managed,
            (None, _, Some(_)) => Origin::Local,
            (None, _, None) => Origin::Builtin,
        }
    }
}

/// The policy in force on this device: the managed one (if any) tightened by the local one,
/// exactly as the guard enforces it; `today` dates the policies' own tests.
///
/// # Errors
/// See [`LoadError`].
pub fn load(src: &Sources, today: u32) -> Result<Loaded, LoadError> {
    let signed = src.managed.as_deref().or(src.local.as_deref());
    if let (Some(key), Some(policy)) = (&src.pinned_key, signed) {
        files::verify(policy, key)?;
    }
    match &src.managed {
        Some(managed_path) => {
            let local = src.local.as_deref().map(files::read).transpose()?;
            let (managed, engine) =
                files::with_engine_and_local(Some(managed_path), local.as_ref(), today)?;
            let mut label = format!(
                "managed: {}",
                files::label_for(Some(managed_path), &managed)
            );
            if let (Some(l), Some(path)) = (&local, &src.local) {
                let meta = RequestMeta {
                    today,
                    ..Default::default()
                };
                l.run_own_tests(&engine, &meta)
                    .map_err(|e| LoadError::OwnTests {
                        label: path.display().to_string(),
                        message: e.to_string(),
                    })?;
                label.push_str(&format!(" + local: {}", files::label_for(Some(path), l)));
            }
            Ok(Loaded {
                effective: Effective { managed, local },
                engine,
                label,
                scan_cache: Default::default(),
                fields_cache: Default::default(),
                signals_cache: Default::default(),
                conversations: Default::default(),
            })
        }
        None => {
            let (policy, engine) = files::with_engine(src.local.as_deref(), today)?;
            let label = files::label_for(src.local.as_deref(), &policy);
            Ok(Loaded::new(policy, engine, label))
        }
    }
}

/// Modification time and a hash of the content: a rewrite within one timestamp tick (coarse
/// file systems) is still seen. Policy files are small; reading them twice a second is cheap.
pub(crate) type Stamps = Vec<Option<(SystemTime, u64)>>;

pub(crate) fn stamps(files: &[PathBuf]) -> Stamps {
    files.iter().map(|f| stamp(f)).collect()
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    use std::hash::{Hash, Hasher};
    let m = std::fs::metadata(path).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::read(path).ok()?.hash(&mut h);
    Some((m.modified().ok()?, h.finish()))
}
