//! The agent: the runtime of the guard and the one surface both front ends (the `leakguard`
//! CLI, its service mode and the desktop app) call.
//!
//! - [`Agent::start`] brings the guard up as one readable list: data dir, policy sources and
//!   load ([`policy`]), device CA, recording (the [`Hub`]: store + SIEM [`Forwarders`] + live
//!   listeners), the proxy, notices, the control channel, policy watch and pull.
//! - [`Control`] is the surface: health, allow-once, explain, event queries, the policy in
//!   force, pause, live events. The [`Agent`] implements it in process and
//!   [`control::Client`] over the local control channel (a Unix socket, 0600, in the user's
//!   0700 data dir, plus a bearer token from a 0600 file), so another process — the desktop
//!   app, `leakguard allow` — talks to a service-run guard exactly as to one it started.
//!
//! What it will not do: decide anything. Detection, policy and the proxy decide; the agent
//! runs them, records and tells.
//!
//! Key decision: the proxy hands an event to [`Hub`] and goes on; the store, the forwarders
//! and the notifier each run on their own thread, so a slow disk, a dead SIEM or a missing
//! notification daemon never slows a request down.

pub mod control;
pub mod hub;
pub mod notify;
pub mod policy;
pub mod recording;
pub mod runtime;
pub mod siem;
pub mod surface;

pub use hub::Hub;
pub use notify::{Notice, NoticeAction, Notifier, Show};
pub use recording::Recording;
pub use runtime::{destination_hosts, Agent, Config, Notices, StartError, Upstream};
pub use siem::{target_key, Forwarders};
pub use surface::*;

use std::path::Path;

/// What went wrong starting the agent's parts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    #[error(transparent)]
    Store(#[from] leakguard_store::StoreError),
    #[error("SIEM target {target}: {message}")]
    Target { target: String, message: String },
    #[error("cannot start a background thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// This device's name, for events and syslog's HOSTNAME field.
pub fn device_name() -> String {
    let from_file = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_string());
    from_file
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-device".into())
}

/// The OS user the guard runs for.
pub fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// The person and device of this process: the OS user and the host name.
pub fn identity_from_os() -> leakguard_types::Identity {
    leakguard_types::Identity {
        user: Some(os_user()),
        groups: Vec::new(),
        device: device_name(),
    }
}

/// Where the guard keeps its CA, events and control token: `$LEAKGUARD_DATA_DIR`, else
/// `$XDG_DATA_HOME/leakguard`, else `~/.local/share/leakguard`.
pub fn default_data_dir() -> std::path::PathBuf {
    use std::path::PathBuf;
    if let Some(d) = std::env::var_os("LEAKGUARD_DATA_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(d).join("leakguard");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/share/leakguard"),
        None => PathBuf::from(".leakguard"),
    }
}

/// Creates `dir` (and its parents) readable by its owner only (0700 on Unix); tightens an
/// existing one.
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates (or truncates) a file readable by its owner only (0600 on Unix).
pub(crate) fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Writes a file readable by its owner only.
pub(crate) fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    create_private(path)?.write_all(data)
}
