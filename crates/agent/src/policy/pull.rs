//! The managed policy pulled over HTTPS, for organisations without MDM: a conditional GET with
//! the last ETag, the signature from `URL.sig`, both written atomically into the data dir where
//! the watcher picks them up like any other managed policy.

use crate::Upstream;
use std::path::Path;

/// Why a pull did not bring a policy.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("policy pull: {0}")]
    Fetch(String),
    #[error("policy pull: cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// Pulls the policy and its signature into `dir` when the server has a new one. Returns
/// whether the files changed.
///
/// # Errors
/// The server cannot be reached or answers an error, or the files cannot be written.
pub async fn pull(upstream: &Upstream, url: &str, dir: &Path) -> Result<bool, PullError> {
    use leakguard_proxy::upstream::{self, Fetched};
    let fetch_err = |e: &dyn std::fmt::Display| PullError::Fetch(e.to_string());
    let routes = std::sync::Arc::new(
        upstream::Routes::new(&upstream.resolve, upstream.proxy.as_deref())
            .map_err(|e| fetch_err(&e))?,
    );
    let tls = upstream::client_tls(&upstream.ca).map_err(|e| fetch_err(&e))?;
    let write_err = |path: &Path, source| PullError::Write {
        path: path.display().to_string(),
        source,
    };
    crate::private_dir(dir).map_err(|e| write_err(dir, e))?;
    let etag_file = dir.join("policy.etag");
    let etag = if dir.join("policy.json").exists() {
        std::fs::read_to_string(&etag_file).ok()
    } else {
        None
    };
    let fetched = upstream::fetch(routes.clone(), tls.clone(), url, etag.as_deref(), 4 << 20)
        .await
        .map_err(|e| fetch_err(&e))?;
    let Fetched::Body { bytes, etag } = fetched else {
        return Ok(false);
    };
    let sig = match upstream::fetch(routes, tls, &format!("{url}.sig"), None, 64 << 10).await {
        Ok(Fetched::Body { bytes, .. }) => Some(bytes),
        _ => None,
    };
    let write = |name: &str, data: &[u8]| -> Result<(), PullError> {
        let tmp = dir.join(format!("{name}.tmp"));
        std::fs::write(&tmp, data).map_err(|e| write_err(&tmp, e))?;
        std::fs::rename(&tmp, dir.join(name)).map_err(|e| write_err(&dir.join(name), e))
    };
    // Signature first, then the policy: the reload then finds them matching.
    match sig {
        Some(s) => write("policy.json.sig", &s)?,
        None => {
            let _ = std::fs::remove_file(dir.join("policy.json.sig"));
        }
    }
    write("policy.json", &bytes)?;
    match etag {
        Some(e) => write("policy.etag", e.as_bytes())?,
        None => {
            let _ = std::fs::remove_file(&etag_file);
        }
    }
    Ok(true)
}
