//! The per-device CA: created once (`leakguard ca init`), name-constrained to the intercepted LLM
//! domains so that even a stolen key cannot impersonate a bank or an intranet, and used to issue
//! short-lived leaf certificates per host. The leaf key is a separate key made per process: the
//! CA's private key never appears in a TLS handshake.

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints, SanType,
};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// File names inside the CA directory.
pub const CERT_FILE: &str = "leakguard-ca.pem";
pub const KEY_FILE: &str = "leakguard-ca.key";

const CA_VALIDITY_DAYS: i64 = 825;
const LEAF_VALIDITY: time::Duration = time::Duration::hours(24);
/// Leaves are reissued well before they expire.
const LEAF_CACHE_TTL: Duration = Duration::from_secs(12 * 3600);
const LEAF_CACHE_MAX: usize = 1024;

/// What went wrong with the device CA.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("no device CA in {dir}: run `leakguard ca init` first")]
    Missing { dir: PathBuf },
    #[error("a device CA already exists in {dir}: use `leakguard ca rotate` to replace it")]
    Exists { dir: PathBuf },
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the CA private key {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`", path = path.display())]
    KeyPermissions { path: PathBuf, mode: u32 },
    #[error("the device CA files are invalid ({0}); run `leakguard ca rotate` to make new ones")]
    Invalid(String),
    #[error("cannot name-constrain the CA to `{0}`: not a DNS name")]
    BadName(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CaError + '_ {
    move |source| CaError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The DNS subtrees a CA is constrained to: each host pattern without its `*.`.
pub fn permitted_names(host_patterns: &[String]) -> Vec<String> {
    let mut names: Vec<String> = host_patterns
        .iter()
        .map(|h| {
            h.trim_start_matches("*.")
                .trim_end_matches('.')
                .to_ascii_lowercase()
        })
        .filter(|h| !h.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Creates a new CA in `dir` (refuses to overwrite unless `replace`). Returns the certificate path.
pub fn init(dir: &Path, host_patterns: &[String], replace: bool) -> Result<PathBuf, CaError> {
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    if !replace && (cert_path.exists() || key_path.exists()) {
        return Err(CaError::Exists {
            dir: dir.to_path_buf(),
        });
    }
    fs::create_dir_all(dir).map_err(io(dir))?;
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| CaError::Invalid(e.to_string()))?;
    let params = ca_params(host_patterns)?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| CaError::Invalid(e.to_string()))?;
    write_private(&key_path, key.serialize_pem().as_bytes())?;
    write_atomic(&cert_path, cert.pem().as_bytes(), 0o644)?;
    let names = permitted_names(host_patterns).join("\n");
    write_atomic(&dir.join(PERMITTED_FILE), names.as_bytes(), 0o644)?;
    Ok(cert_path)
}

/// The names the CA in `dir` was constrained to (written beside it at init).
pub const PERMITTED_FILE: &str = "permitted-names.txt";

/// Destination host patterns the CA in `dir` cannot vouch for (a policy added them after the
/// CA was made): interception of those hosts fails in the client until `leakguard ca rotate`.
pub fn uncovered(dir: &Path, host_patterns: &[String]) -> Vec<String> {
    let Ok(text) = fs::read_to_string(dir.join(PERMITTED_FILE)) else {
        return Vec::new();
    };
    let permitted: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    permitted_names(host_patterns)
        .into_iter()
        .filter(|n| {
            !permitted.iter().any(|p| {
                n == p
                    || (n.len() > p.len()
                        && n.ends_with(p)
                        && n.as_bytes()[n.len() - p.len() - 1] == b'.')
            })
        })
        .collect()
}

fn ca_params(host_patterns: &[String]) -> Result<CertificateParams, CaError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        format!("Leakguard device CA {}", hostname_hint()),
    );
    dn.push(DnType::OrganizationName, "Leakguard (this device only)");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(CA_VALIDITY_DAYS);
    params.serial_number = Some(random_serial().into());
    let mut permitted = Vec::new();
    for name in permitted_names(host_patterns) {
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            || name.parse::<std::net::IpAddr>().is_ok()
        {
            return Err(CaError::BadName(name));
        }
        permitted.push(GeneralSubtree::DnsName(name));
    }
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: permitted,
        // No IP address, v4 or v6, is ever valid under this CA.
        excluded_subtrees: vec![
            GeneralSubtree::IpAddress(CidrSubnet::V4([0; 4], [0; 4])),
            GeneralSubtree::IpAddress(CidrSubnet::V6([0; 16], [0; 16])),
        ],
    });
    Ok(params)
}

fn hostname_hint() -> String {
    fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| {
            s.trim()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .take(32)
                .collect()
        })
        .unwrap_or_default()
}

fn random_serial() -> u64 {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).expect("the OS random source works");
    u64::from_be_bytes(b) >> 1
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CaError> {
    write_atomic(path, bytes, 0o600)
}

fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CaError> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    let mut f = opts.open(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))?;
    #[cfg(not(unix))]
    let _ = mode; // permissions are set on Unix only
    Ok(())
}

/// The loaded device CA, issuing leaves.
pub struct DeviceCa {
    issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    /// One key for every leaf of this process; never the CA's key.
    leaf_key: KeyPair,
    leaf_key_der: PrivateKeyDer<'static>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    cache: Mutex<HashMap<String, (Arc<ServerConfig>, Instant)>>,
}

impl std::fmt::Debug for DeviceCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCa")
            .field(
                "cached_leaves",
                &self.cache.lock().map(|c| c.len()).unwrap_or(0),
            )
            .finish_non_exhaustive()
    }
}

impl DeviceCa {
    /// Loads the CA from `dir`; refuses a key file other users can read.
    pub fn load(dir: &Path) -> Result<DeviceCa, CaError> {
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        if !cert_path.exists() || !key_path.exists() {
            return Err(CaError::Missing {
                dir: dir.to_path_buf(),
            });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&key_path)
                .map_err(io(&key_path))?
                .permissions()
                .mode()
                & 0o777;
            if mode & 0o077 != 0 {
                return Err(CaError::KeyPermissions {
                    path: key_path,
                    mode,
                });
            }
        }
        let cert_pem = fs::read_to_string(&cert_path).map_err(io(&cert_path))?;
        let key_pem = fs::read_to_string(&key_path).map_err(io(&key_path))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| CaError::Invalid(format!("key: {e}")))?;
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| CaError::Invalid(format!("certificate: {e}")))?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)
            .map_err(|e| CaError::Invalid(format!("certificate: {e}")))?;
        let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| CaError::Invalid(e.to_string()))?;
        let leaf_key_der = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        Ok(DeviceCa {
            issuer,
            cert_der,
            cert_pem,
            leaf_key,
            leaf_key_der,
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// Issues a leaf for `host`. Public for tests that prove the name constraints hold: a leaf
    /// for a host outside them is issued here but rejected by every client.
    pub fn issue_leaf(&self, host: &str) -> Result<CertificateDer<'static>, CaError> {
        let mut params = CertificateParams::default();
        params.serial_number = Some(random_serial().into());
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::minutes(5);
        params.not_after = now + LEAF_VALIDITY;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, host);
        params.distinguished_name = dn;
        params.subject_alt_names = vec![match host.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(
                host.try_into()
                    .map_err(|_| CaError::BadName(host.to_string()))?,
            ),
        }];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&self.leaf_key, &self.issuer)
            .map_err(|e| CaError::Invalid(e.to_string()))?;
        Ok(cert.der().clone())
    }

    /// A rustls server config presenting a leaf for `host` (cached).
    pub fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>, CaError> {
        let host = host.to_ascii_lowercase();
        if let Some((cfg, at)) = self.cache.lock().expect("leaf cache").get(&host) {
            if at.elapsed() < LEAF_CACHE_TTL {
                return Ok(Arc::clone(cfg));
            }
        }
        let leaf = self.issue_leaf(&host)?;
        let mut cfg = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| CaError::Invalid(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf, self.cert_der.clone()],
                self.leaf_key_der.clone_key(),
            )
            .map_err(|e| CaError::Invalid(e.to_string()))?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let cfg = Arc::new(cfg);
        let mut cache = self.cache.lock().expect("leaf cache");
        if cache.len() >= LEAF_CACHE_MAX {
            cache.retain(|_, (_, at)| at.elapsed() < LEAF_CACHE_TTL);
            if cache.len() >= LEAF_CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(host, (Arc::clone(&cfg), Instant::now()));
        Ok(cfg)
    }

    /// The public key of the leaves (for tests: it must differ from the CA's).
    pub fn leaf_public_key(&self) -> Vec<u8> {
        self.leaf_key.public_key_raw().to_vec()
    }

    /// The CA's public key.
    pub fn ca_public_key(&self) -> Vec<u8> {
        use rcgen::PublicKeyData;
        self.issuer.key().der_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lg-ca-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn init_writes_a_private_key_only_the_owner_reads_and_refuses_to_overwrite() {
        let dir = tmp("init");
        init(
            &dir,
            &["api.openai.com".into(), "*.openai.azure.com".into()],
            false,
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(matches!(
            init(&dir, &["x.com".into()], false),
            Err(CaError::Exists { .. })
        ));
        let ca = DeviceCa::load(&dir).unwrap();
        assert_ne!(
            ca.leaf_public_key(),
            ca.ca_public_key(),
            "leaves use their own key"
        );
        let a = ca.server_config("api.openai.com").unwrap();
        let b = ca.server_config("API.openai.com").unwrap();
        assert!(Arc::ptr_eq(&a, &b), "leaves are cached per host");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir.join(KEY_FILE), fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                DeviceCa::load(&dir),
                Err(CaError::KeyPermissions { .. })
            ));
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn permitted_names_strip_wildcards_and_ip_literals_are_refused() {
        assert_eq!(
            permitted_names(&[
                "*.openai.azure.com".into(),
                "Claude.ai".into(),
                "claude.ai".into()
            ]),
            vec!["claude.ai".to_string(), "openai.azure.com".to_string()]
        );
        assert!(matches!(
            ca_params(&["10.0.0.1".into()]),
            Err(CaError::BadName(_))
        ));
        assert!(matches!(
            DeviceCa::load(Path::new("/nonexistent-lg")),
            Err(CaError::Missing { .. })
        ));
    }
}
