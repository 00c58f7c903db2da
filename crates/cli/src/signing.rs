//! File handling around policy signatures: key files (private 0600), `POLICY.sig` next to
//! the policy.

use anyhow::{Context, Result};
use leakguard_agent::policy::files::sig_path;
use leakguard_policy::signing;
use std::io::Write;
use std::path::Path;

/// Writes a file readable by its owner only (0600 on Unix), refusing to overwrite.
fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

pub fn keygen(prefix: &Path) -> Result<()> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    let (private, public) = signing::keypair(seed);
    let key = prefix.with_extension("key");
    let pubkey = prefix.with_extension("pub");
    write_private(&key, &private)?;
    std::fs::write(&pubkey, public)
        .with_context(|| format!("cannot write {}", pubkey.display()))?;
    eprintln!(
        "wrote {} (private, 0600: keep it off the laptops) and {} (pin it on every laptop)",
        key.display(),
        pubkey.display()
    );
    Ok(())
}

pub fn sign_file(policy: &Path, key: &Path) -> Result<()> {
    // Refuse to sign a policy that does not load: a signed broken policy helps nobody.
    leakguard_agent::policy::files::with_engine(Some(policy), crate::today())?;
    let bytes =
        std::fs::read(policy).with_context(|| format!("cannot read {}", policy.display()))?;
    let private =
        std::fs::read_to_string(key).with_context(|| format!("cannot read {}", key.display()))?;
    let sig = signing::sign(&bytes, &private).with_context(|| key.display().to_string())?;
    let out = sig_path(policy);
    std::fs::write(&out, sig).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

pub fn verify_file(policy: &Path, public_key: &Path) -> Result<()> {
    Ok(leakguard_agent::policy::files::verify(policy, public_key)?)
}

/// A one-time unlock code for `device`, valid for `valid_minutes`.
pub fn unlock_code(
    key: &Path,
    device: &str,
    action: leakguard_policy::unlock::UnlockAction,
    valid_minutes: u32,
) -> Result<String> {
    let private =
        std::fs::read_to_string(key).with_context(|| format!("cannot read {}", key.display()))?;
    let mut nonce = [0u8; 8];
    getrandom::getrandom(&mut nonce)
        .map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let expires = now + i64::from(valid_minutes) * 60;
    leakguard_policy::unlock::issue(&private, device, action, expires, nonce)
        .with_context(|| key.display().to_string())
}
