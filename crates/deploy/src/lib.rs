//! Leakguard on the laptop: everything outside the guard's own process that makes it protect
//! someone.
//!
//! - [`trust`]: the device CA in the system store, the browsers' NSS databases, the runtimes
//!   that ignore the system store (Node, Python, curl, git through environment variables; Java
//!   through its keystore).
//! - [`routing`]: the desktop's proxy settings pointed at the guard's PAC file (GNOME, KDE,
//!   macOS network services, Windows WinINET), the environment for shells and CLIs, and the
//!   managed browser policies that keep LLM traffic on TCP (no QUIC).
//! - [`service`]: the guard started at login and restarted on a crash (systemd, launchd, a
//!   Windows logon task).
//! - [`doctor`]: a real TLS connection through the guard to a canary on an intercepted host,
//!   per client actually installed, with what to do when one does not trust the CA.
//! - [`check`]: the same facts, cheaply, every few minutes: what has drifted.
//!
//! Everything this crate changes on the machine is written down first in a [`Manifest`] in the
//! data directory, so `uninstall`/`disable` undoes exactly what was done (and restores what was
//! there before), and nothing else. All paths hang off a [`Context`]: tests point the home, the
//! configuration directory and the system root at throw-away directories.

pub mod check;
pub mod doctor;
pub mod routing;
pub mod service;
pub mod trust;

mod manifest;
mod tools;

pub use manifest::{Entry, Group, Manifest, Step};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// What went wrong; every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{tool}` is not installed; {hint}")]
    Missing { tool: String, hint: String },
    #[error("`{command}` failed ({status}): {stderr}")]
    Tool {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("{what} needs administrator rights: run `sudo leakguard {again}`")]
    NeedsAdmin { what: String, again: String },
    #[error("no device CA at {0}: start the guard once or run `leakguard ca init`")]
    NoCa(PathBuf),
    #[error("the record of what Leakguard installed ({path}) is unreadable: {why}; remove it only after undoing its steps by hand (docs/deployment.md)")]
    Manifest { path: PathBuf, why: String },
    #[error("{0}")]
    Unsupported(String),
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where things are for one user on one machine. [`Context::from_env`] reads the real ones;
/// tests build one over temporary directories.
#[derive(Debug, Clone)]
pub struct Context {
    /// The user's home.
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME`, else `~/.config`.
    pub config_home: PathBuf,
    /// The guard's data directory (its CA is `ca/leakguard-ca.pem` there).
    pub data_dir: PathBuf,
    /// System-wide files (trust anchors, browser policies, system units) live under this root:
    /// `/` on a real machine, a throw-away directory in tests and package builds.
    pub root: PathBuf,
    /// Where the guard listens.
    pub listen: SocketAddr,
    /// The `leakguard` binary the service runs.
    pub exe: PathBuf,
    /// The policy file the service is told to use, if not the discovered one.
    pub policy: Option<PathBuf>,
    /// `PATH` used to find tools (`certutil`, `gsettings`, `keytool`, clients for `doctor`).
    pub path: Option<std::ffi::OsString>,
    /// Extra environment for the tools run (e.g. a private `GSETTINGS_BACKEND` in tests).
    pub tool_env: Vec<(String, String)>,
}

/// The guard's default listening address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8480";
/// The NSS nickname, Java alias and file stem of the device CA wherever it is installed.
pub const CA_NAME: &str = "leakguard-device-ca";
/// The CA certificate's file name in `<data_dir>/ca/`.
pub const CA_FILE: &str = "leakguard-ca.pem";

impl Context {
    /// The real machine: `$HOME`, `$XDG_CONFIG_HOME`, the system root `/`.
    pub fn from_env(data_dir: PathBuf, listen: SocketAddr) -> Context {
        let home = std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(".config"));
        Context {
            home,
            config_home,
            data_dir,
            root: PathBuf::from("/"),
            listen,
            exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("leakguard")),
            policy: None,
            path: std::env::var_os("PATH"),
            tool_env: Vec::new(),
        }
    }

    /// The context the agent checks: the real one, with the system root the installing
    /// commands recorded (a throw-away root in tests and images).
    pub fn for_agent(data_dir: PathBuf, listen: SocketAddr) -> Context {
        let mut ctx = Context::from_env(data_dir, listen);
        if let Ok(Manifest {
            root: Some(root), ..
        }) = Manifest::load(&ctx)
        {
            ctx.root = root;
        }
        ctx
    }

    /// A system path (`/etc/...`) under [`Context::root`].
    pub fn sys(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// Is this the real machine's root (not a throw-away one)?
    pub fn real_root(&self) -> bool {
        self.root == Path::new("/")
    }

    /// May this process change system-wide files? Root on the real machine; always under a
    /// throw-away root (its owner writes it).
    pub fn admin(&self) -> bool {
        !self.real_root() || is_admin()
    }

    /// The device CA certificate.
    pub fn ca_cert(&self) -> PathBuf {
        self.data_dir.join("ca").join(CA_FILE)
    }

    /// The CA certificate's PEM text, or [`Error::NoCa`].
    pub fn ca_pem(&self) -> Result<String> {
        let path = self.ca_cert();
        std::fs::read_to_string(&path).map_err(|_| Error::NoCa(path))
    }

    /// The PAC file's URL.
    pub fn pac_url(&self) -> String {
        format!("http://{}/proxy.pac", self.listen)
    }

    /// The proxy URL for clients that take one.
    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.listen)
    }

    /// The record of what was installed.
    pub fn manifest_path(&self) -> PathBuf {
        self.data_dir.join("deployment.json")
    }
}

/// Is this process an administrator (root on Unix)?
pub fn is_admin() -> bool {
    #[cfg(unix)]
    {
        rustix::process::geteuid().is_root()
    }
    #[cfg(windows)]
    {
        // `net session` succeeds only in an elevated process.
        std::process::Command::new("net")
            .arg("session")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
    #[cfg(not(any(unix, windows)))]
    {
        false
    }
}

/// One line of a report: what was looked at and what was found or done.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Line {
    /// `system`, `nss:/home/u/.pki/nssdb`, `gnome`, `node 20.1.0`, ...
    pub what: String,
    pub state: State,
    /// What the state means for the user, and what to do when it is not `ok`.
    pub detail: String,
}

/// The state of one [`Line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// In place (or done now).
    Ok,
    /// Not in place, and it should be.
    Missing,
    /// Could not be checked or done (the tool is missing, rights are missing, it failed).
    Failed,
    /// Not applicable here (no such browser, not this desktop).
    Skipped,
}

impl Line {
    pub fn new(what: impl Into<String>, state: State, detail: impl Into<String>) -> Line {
        Line {
            what: what.into(),
            state,
            detail: detail.into(),
        }
    }
}

/// A report is healthy when nothing in it is missing or failed.
pub fn healthy(lines: &[Line]) -> bool {
    lines
        .iter()
        .all(|l| matches!(l.state, State::Ok | State::Skipped))
}

/// A short stable label of the CA certificate (to notice a rotated CA still trusted in its old
/// form): a 64-bit FNV-1a over the PEM's base64 body, in hex.
pub(crate) fn pem_id(pem: &str) -> String {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    // FNV-1a, 64-bit: a label, not a security check (the certificate itself is compared).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The base64 body of the first certificate in `pem` (to find it inside a bundle).
pub(crate) fn pem_body(pem: &str) -> String {
    pem.lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .map(str::trim)
        .collect()
}

/// Does `bundle` (PEM text) contain the certificate whose body is `body`?
pub(crate) fn bundle_has(bundle: &str, body: &str) -> bool {
    if body.is_empty() {
        return false;
    }
    let flat: String = bundle
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    flat.contains(body)
}
