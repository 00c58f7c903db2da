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
    let (key, _, cert) = new_ca(host_patterns)?;
    write_private(&key_path, key.serialize_pem().as_bytes())?;
    write_atomic(&cert_path, cert.pem().as_bytes(), 0o644)?;
    let names = permitted_names(host_patterns).join("\n");
    write_atomic(&dir.join(PERMITTED_FILE), names.as_bytes(), 0o644)?;
    // A CA made anew (by hand, perhaps because the old key is suspect) is never bridged to the
    // one it replaces.
    for stale in [BRIDGE_FILE, PREVIOUS_FILE] {
        remove_if_there(&dir.join(stale))?;
    }
    Ok(cert_path)
}

fn remove_if_there(path: &Path) -> Result<(), CaError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

/// The current CA's certificate signed by the CA it replaced: written when the guard replaced
/// its CA itself because a policy added destinations, and sent after each leaf so that a
/// client still trusting the old CA keeps working for the hosts the old CA covered.
pub const BRIDGE_FILE: &str = "leakguard-ca-bridge.pem";
/// The replaced CA's certificate (public; its key is gone once the bridge is made).
pub const PREVIOUS_FILE: &str = "previous-ca.pem";
/// A rotation is written here in full, then moved into place (finished on the next load if the
/// process died in between); `ready` marks a complete set.
const STAGE_DIR: &str = "next";
const STAGE_READY: &str = "ready";

/// What [`rotate_bridged`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// The replaced CA's SHA-256 fingerprint (first 8 bytes, hex).
    pub previous: String,
    /// The new CA's.
    pub current: String,
    /// The names the new CA covers and the old one did not.
    pub added: Vec<String>,
    /// Whether the old CA vouches for the new one. A CA made before bridging existed (path
    /// length 0) cannot: clients trusting only it then fail until the new CA is trusted.
    pub bridged: bool,
}

/// Replaces the CA in `dir` with one constrained to `host_patterns`, keeping clients that trust
/// the old one working for the hosts it covered: the new CA is also signed by the old one (the
/// bridge, sent after each leaf). The old key is then deleted; the old CA's own constraints
/// still apply on that path, so the bridge widens nothing the old CA did not already vouch
/// for. Used when a policy adds destinations the CA does not cover.
pub fn rotate_bridged(dir: &Path, host_patterns: &[String]) -> Result<Rotated, CaError> {
    finish_staged(dir)?;
    let added = uncovered(dir, host_patterns);
    let (old_pem, old_key) = read_ca(dir)?;
    let can_bridge = may_sign_a_ca(&old_pem);
    let old_issuer = Issuer::from_ca_cert_pem(&old_pem, old_key)
        .map_err(|e| CaError::Invalid(format!("certificate: {e}")))?;
    let (key, params, cert) = new_ca(host_patterns)?;
    let bridge = if can_bridge {
        let b = params
            .signed_by(&key, &old_issuer)
            .map_err(|e| CaError::Invalid(e.to_string()))?;
        Some(b.pem())
    } else {
        None
    };
    let stage = dir.join(STAGE_DIR);
    if stage.exists() {
        fs::remove_dir_all(&stage).map_err(io(&stage))?;
    }
    fs::create_dir_all(&stage).map_err(io(&stage))?;
    write_private(&stage.join(KEY_FILE), key.serialize_pem().as_bytes())?;
    write_atomic(&stage.join(CERT_FILE), cert.pem().as_bytes(), 0o644)?;
    if let Some(bridge) = &bridge {
        write_atomic(&stage.join(BRIDGE_FILE), bridge.as_bytes(), 0o644)?;
    }
    write_atomic(&stage.join(PREVIOUS_FILE), old_pem.as_bytes(), 0o644)?;
    let names = permitted_names(host_patterns).join("\n");
    write_atomic(&stage.join(PERMITTED_FILE), names.as_bytes(), 0o644)?;
    write_atomic(&stage.join(STAGE_READY), b"", 0o644)?;
    finish_staged(dir)?;
    if !can_bridge {
        // The successor has no bridge: an older one (for another key) goes.
        remove_if_there(&dir.join(BRIDGE_FILE))?;
    }
    Ok(Rotated {
        previous: fingerprint(&old_pem),
        current: fingerprint(&cert.pem()),
        added,
        bridged: can_bridge,
    })
}

/// May the CA in `pem` sign another CA (its path length allows one below it)?
fn may_sign_a_ca(pem: &str) -> bool {
    let Ok(der) = CertificateDer::from_pem_slice(pem.as_bytes()) else {
        return false;
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(&der) else {
        return false;
    };
    matches!(
        cert.basic_constraints(),
        Ok(Some(bc)) if bc.value.ca && bc.value.path_len_constraint != Some(0)
    )
}

/// Moves a complete staged rotation into place (idempotent: a crash between two moves is
/// finished by the next call); an incomplete one is discarded and the old CA stays.
fn finish_staged(dir: &Path) -> Result<(), CaError> {
    let stage = dir.join(STAGE_DIR);
    if !stage.is_dir() {
        return Ok(());
    }
    if stage.join(STAGE_READY).exists() {
        for name in [
            KEY_FILE,
            CERT_FILE,
            BRIDGE_FILE,
            PREVIOUS_FILE,
            PERMITTED_FILE,
        ] {
            let from = stage.join(name);
            if from.exists() {
                fs::rename(&from, dir.join(name)).map_err(io(&from))?;
            }
        }
    }
    fs::remove_dir_all(&stage).map_err(io(&stage))
}

/// A certificate's SHA-256 fingerprint, first 8 bytes in hex (a label for events and Health).
pub fn fingerprint(pem: &str) -> String {
    use sha2::Digest;
    let der = CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|d| d.to_vec())
        .unwrap_or_default();
    sha2::Sha256::digest(&der)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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

/// A new CA key and its self-signed certificate (with the parameters, to sign a bridge).
fn new_ca(
    host_patterns: &[String],
) -> Result<(KeyPair, CertificateParams, rcgen::Certificate), CaError> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| CaError::Invalid(e.to_string()))?;
    let params = ca_params(host_patterns)?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| CaError::Invalid(e.to_string()))?;
    Ok((key, params, cert))
}

fn ca_params(host_patterns: &[String]) -> Result<CertificateParams, CaError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        // Unique per CA: a replaced CA and its successor must never share a name, or the bridge
        // between them would look self-issued to a client building a path.
        format!(
            "Leakguard device CA {} {:08x}",
            hostname_hint(),
            random_serial() as u32
        ),
    );
    dn.push(DnType::OrganizationName, "Leakguard (this device only)");
    params.distinguished_name = dn;
    // One CA may stand between this one and a leaf: the bridge to its successor (see
    // [`rotate_bridged`]). Name constraints bind everything below either way.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
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

/// The CA certificate and key in `dir`, the key refused when others can read it.
fn read_ca(dir: &Path) -> Result<(String, KeyPair), CaError> {
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
    Ok((cert_pem, key))
}

/// The bridge in `dir` if it is for this CA's key and still valid (a stale or foreign one is
/// ignored: the CA alone is sent).
fn bridge_for(dir: &Path, ca: &CertificateDer<'_>) -> Option<CertificateDer<'static>> {
    let pem = fs::read(dir.join(BRIDGE_FILE)).ok()?;
    let bridge = CertificateDer::from_pem_slice(&pem).ok()?;
    let (_, b) = x509_parser::parse_x509_certificate(&bridge).ok()?;
    let (_, c) = x509_parser::parse_x509_certificate(ca).ok()?;
    let same = b.tbs_certificate.subject_pki.raw == c.tbs_certificate.subject_pki.raw
        && b.tbs_certificate.subject.as_raw() == c.tbs_certificate.subject.as_raw();
    (same && b.validity().is_valid()).then(|| bridge.clone().into_owned())
}

/// The loaded device CA, issuing leaves.
pub struct DeviceCa {
    issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    /// What follows each leaf: the bridge while one is valid, else the CA itself.
    chain_tail: CertificateDer<'static>,
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
    /// Loads the CA from `dir` (finishing a rotation a crash interrupted); refuses a key file
    /// other users can read.
    pub fn load(dir: &Path) -> Result<DeviceCa, CaError> {
        finish_staged(dir)?;
        let (cert_pem, key) = read_ca(dir)?;
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| CaError::Invalid(format!("certificate: {e}")))?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)
            .map_err(|e| CaError::Invalid(format!("certificate: {e}")))?;
        let chain_tail = bridge_for(dir, &cert_der).unwrap_or_else(|| cert_der.clone());
        let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| CaError::Invalid(e.to_string()))?;
        let leaf_key_der = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        Ok(DeviceCa {
            issuer,
            cert_der,
            chain_tail,
            cert_pem,
            leaf_key,
            leaf_key_der,
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Is the CA bridged from the one it replaced (see [`rotate_bridged`])?
    pub fn bridged(&self) -> bool {
        self.chain_tail != self.cert_der
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

    /// What the guard presents for `host`: a new leaf, then the bridge from the previous CA
    /// while there is one, else the CA itself.
    pub fn chain_for(&self, host: &str) -> Result<Vec<CertificateDer<'static>>, CaError> {
        Ok(vec![self.issue_leaf(host)?, self.chain_tail.clone()])
    }

    /// A rustls server config presenting a leaf for `host` (cached).
    pub fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>, CaError> {
        let host = host.to_ascii_lowercase();
        if let Some((cfg, at)) = self.cache.lock().expect("leaf cache").get(&host) {
            if at.elapsed() < LEAF_CACHE_TTL {
                return Ok(Arc::clone(cfg));
            }
        }
        let mut cfg = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| CaError::Invalid(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(self.chain_for(&host)?, self.leaf_key_der.clone_key())
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

    /// Does a client trusting only `root_pem` accept what `ca` presents for `host`?
    fn accepts(root_pem: &str, ca: &DeviceCa, host: &str) -> Result<(), rustls::Error> {
        use rustls::client::danger::ServerCertVerifier;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(root_pem.as_bytes()).unwrap())
            .unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        )
        .build()
        .unwrap();
        let chain = ca.chain_for(host).unwrap();
        let name = rustls_pki_types::ServerName::try_from(host.to_string()).unwrap();
        verifier
            .verify_server_cert(
                &chain[0],
                &chain[1..],
                &name,
                &[],
                rustls_pki_types::UnixTime::now(),
            )
            .map(|_| ())
    }

    #[test]
    fn a_rotation_for_new_destinations_keeps_the_old_trust_working_for_what_it_covered() {
        let dir = tmp("rotate");
        init(&dir, &["chatgpt.com".into()], false).unwrap();
        let old = fs::read_to_string(dir.join(CERT_FILE)).unwrap();
        let old_key = fs::read_to_string(dir.join(KEY_FILE)).unwrap();
        let hosts: Vec<String> = vec!["chatgpt.com".into(), "*.x.ai".into()];
        assert_eq!(uncovered(&dir, &hosts), vec!["x.ai".to_string()]);
        let r = rotate_bridged(&dir, &hosts).unwrap();
        assert!(r.bridged);
        assert_eq!(r.added, vec!["x.ai".to_string()]);
        assert_eq!(r.previous, fingerprint(&old));
        let new = fs::read_to_string(dir.join(CERT_FILE)).unwrap();
        assert_eq!(r.current, fingerprint(&new));
        assert_ne!(r.previous, r.current);
        assert!(uncovered(&dir, &hosts).is_empty());
        assert!(!dir.join(STAGE_DIR).exists(), "the staged set was moved in");
        assert_ne!(
            fs::read_to_string(dir.join(KEY_FILE)).unwrap(),
            old_key,
            "the old key is gone"
        );
        assert_eq!(fs::read_to_string(dir.join(PREVIOUS_FILE)).unwrap(), old);
        let ca = DeviceCa::load(&dir).unwrap();
        assert!(ca.bridged());
        // Trusting the old CA: what it covered still works, the new host does not.
        accepts(&old, &ca, "chatgpt.com").unwrap();
        accepts(&old, &ca, "api.x.ai").unwrap_err();
        // Trusting the new one: both.
        accepts(&new, &ca, "chatgpt.com").unwrap();
        accepts(&new, &ca, "api.x.ai").unwrap();
        // Neither vouches for anything else.
        accepts(&new, &ca, "bank.example").unwrap_err();
        accepts(&old, &ca, "bank.example").unwrap_err();
        // A CA made anew by hand (a suspect key) is never bridged: the old trust stops.
        init(&dir, &hosts, true).unwrap();
        let fresh = DeviceCa::load(&dir).unwrap();
        assert!(!fresh.bridged());
        accepts(&old, &fresh, "chatgpt.com").unwrap_err();
        assert!(!dir.join(BRIDGE_FILE).exists() && !dir.join(PREVIOUS_FILE).exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_ca_made_before_bridging_is_replaced_without_a_bridge() {
        let dir = tmp("legacy");
        fs::create_dir_all(&dir).unwrap();
        // As CAs were made before: no CA may stand below it.
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = ca_params(&["chatgpt.com".into()]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let old = params.self_signed(&key).unwrap().pem();
        write_private(&dir.join(KEY_FILE), key.serialize_pem().as_bytes()).unwrap();
        write_atomic(&dir.join(CERT_FILE), old.as_bytes(), 0o644).unwrap();
        write_atomic(&dir.join(PERMITTED_FILE), b"chatgpt.com", 0o644).unwrap();
        assert!(!may_sign_a_ca(&old));
        let r = rotate_bridged(&dir, &["chatgpt.com".into(), "x.ai".into()]).unwrap();
        assert!(!r.bridged);
        assert!(!dir.join(BRIDGE_FILE).exists());
        let ca = DeviceCa::load(&dir).unwrap();
        assert!(!ca.bridged());
        let new = fs::read_to_string(dir.join(CERT_FILE)).unwrap();
        assert!(
            may_sign_a_ca(&new),
            "the new CA can bridge to its own successor"
        );
        accepts(&new, &ca, "x.ai").unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_rotation_cut_short_is_finished_when_complete_and_dropped_when_not() {
        let dir = tmp("staged");
        let other = tmp("staged-other");
        init(&dir, &["chatgpt.com".into()], false).unwrap();
        init(&other, &["claude.ai".into()], false).unwrap();
        let current = fs::read_to_string(dir.join(CERT_FILE)).unwrap();
        // Incomplete (no `ready`): dropped, the CA in place stays.
        let stage = dir.join(STAGE_DIR);
        fs::create_dir_all(&stage).unwrap();
        fs::copy(other.join(CERT_FILE), stage.join(CERT_FILE)).unwrap();
        let ca = DeviceCa::load(&dir).unwrap();
        assert_eq!(ca.cert_pem(), current);
        assert!(!stage.exists());
        // Complete, with the key already moved when the process died: finished.
        fs::create_dir_all(&stage).unwrap();
        fs::copy(other.join(CERT_FILE), stage.join(CERT_FILE)).unwrap();
        fs::copy(other.join(PERMITTED_FILE), stage.join(PERMITTED_FILE)).unwrap();
        fs::copy(other.join(KEY_FILE), dir.join(KEY_FILE)).unwrap();
        fs::write(stage.join(STAGE_READY), b"").unwrap();
        let ca = DeviceCa::load(&dir).unwrap();
        assert_eq!(
            ca.cert_pem(),
            fs::read_to_string(other.join(CERT_FILE)).unwrap()
        );
        assert!(!stage.exists());
        assert_eq!(uncovered(&dir, &["claude.ai".into()]), Vec::<String>::new());
        fs::remove_dir_all(&dir).unwrap();
        fs::remove_dir_all(&other).unwrap();
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
