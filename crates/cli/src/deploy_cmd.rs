//! `leakguard trust`, `leakguard proxy`, `leakguard env`, `leakguard service install|uninstall|
//! status` and `leakguard doctor`: the guard made to protect this machine (leakguard-deploy).

use anyhow::Result;
use clap::{Args, Subcommand};
use leakguard_deploy::{self as deploy, Context, Line, State};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Where the guard is and whose machine this is.
#[derive(Debug, Clone, Args)]
pub struct Where {
    /// The guard's data directory (its CA). Default as for `leakguard run`.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where the guard listens.
    #[arg(long, default_value = deploy::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// System files (trust anchors, browser policies, system units) under this directory
    /// instead of `/`: for building images and packages, and for tests.
    #[arg(long, hide = true)]
    root: Option<PathBuf>,
    /// Machine-readable output (JSON lines).
    #[arg(long)]
    json: bool,
}

impl Where {
    fn context(&self) -> Context {
        let mut ctx = Context::from_env(
            self.data_dir
                .clone()
                .unwrap_or_else(crate::guard::default_data_dir),
            self.listen,
        );
        if let Some(root) = &self.root {
            ctx.root = root.clone();
        }
        ctx
    }
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust the device CA: the system store (as administrator), the browsers' NSS databases,
    /// the runtimes that ignore the system store (Node, Python, curl, git, ...) and Java.
    Install(TrustArgs),
    /// Remove exactly what `install` added.
    Uninstall(TrustArgs),
    /// Is the current device CA trusted in each place?
    Status(TrustArgs),
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Only the operating system's store.
    #[arg(long)]
    system: bool,
    /// Only the browsers' NSS databases.
    #[arg(long)]
    nss: bool,
    /// Only the runtimes' environment variables.
    #[arg(long)]
    runtimes: bool,
    /// Only the JDK's keystore.
    #[arg(long)]
    java: bool,
    /// A Java keystore other than the JDK's `cacerts`.
    #[arg(long)]
    java_keystore: Option<PathBuf>,
    #[command(flatten)]
    at: Where,
}

impl TrustArgs {
    fn options(&self) -> deploy::trust::Options {
        use deploy::trust::Target;
        let mut targets = Vec::new();
        for (on, t) in [
            (self.system, Target::System),
            (self.nss, Target::Nss),
            (self.runtimes, Target::Runtimes),
            (self.java, Target::Java),
        ] {
            if on {
                targets.push(t);
            }
        }
        deploy::trust::Options {
            targets,
            java_keystore: self.java_keystore.clone(),
        }
    }
}

pub fn trust(cmd: TrustCommand) -> Result<ExitCode> {
    match cmd {
        TrustCommand::Install(a) => {
            let lines = deploy::trust::install(&a.at.context(), &a.options())?;
            Ok(report(&lines, a.at.json, Mode::Change))
        }
        TrustCommand::Uninstall(a) => {
            let lines = deploy::trust::uninstall(&a.at.context())?;
            Ok(report(&lines, a.at.json, Mode::Change))
        }
        TrustCommand::Status(a) => {
            let lines = deploy::trust::status(&a.at.context(), &a.options())?;
            Ok(report(&lines, a.at.json, Mode::Status))
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ProxyCommand {
    /// Send LLM traffic to the guard: the desktop's automatic proxy (the guard's PAC, inline)
    /// and HTTPS_PROXY for shells and CLIs; with `--browsers` (administrator) instead the
    /// machine's managed browser policies (QUIC off, the PAC enforced).
    Enable(ProxyArgs),
    /// Put the previous settings back.
    Disable(ProxyArgs),
    /// Is LLM traffic routed to the guard?
    Status(ProxyArgs),
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Only the managed browser policies, machine-wide (administrator): QUIC off, the PAC
    /// inline and mandatory.
    #[arg(long)]
    browsers: bool,
    /// Only the environment for shells and CLIs.
    #[arg(long)]
    env_only: bool,
    /// The PAC from the policy file instead of the running guard (before the guard first
    /// runs: installers, the package's post-install).
    #[arg(long)]
    offline: bool,
    /// The policy for `--offline` (default: the one the guard discovers).
    #[arg(long)]
    policy: Option<PathBuf>,
    #[command(flatten)]
    at: Where,
}

/// The guard's PAC computed from a policy file (or the discovered one), for `listen`.
fn offline_pac(policy: Option<&std::path::Path>, listen: SocketAddr) -> Result<String> {
    let policy = leakguard_agent::policy::files::with_engine(policy, crate::today())?.0;
    Ok(leakguard_proxy::pac_for(&policy, listen))
}

pub fn proxy(cmd: ProxyCommand) -> Result<ExitCode> {
    match cmd {
        ProxyCommand::Enable(a) => {
            let pac = if a.offline {
                Some(offline_pac(a.policy.as_deref(), a.at.listen)?)
            } else {
                None
            };
            let opts = deploy::routing::Options {
                browsers: a.browsers,
                env_only: a.env_only,
                pac,
            };
            let lines = deploy::routing::enable(&a.at.context(), &opts)?;
            Ok(report(&lines, a.at.json, Mode::Change))
        }
        ProxyCommand::Disable(a) => {
            let lines = deploy::routing::disable(&a.at.context())?;
            Ok(report(&lines, a.at.json, Mode::Change))
        }
        ProxyCommand::Status(a) => {
            let lines = deploy::routing::status(&a.at.context());
            Ok(report(&lines, a.at.json, Mode::Status))
        }
    }
}

/// `leakguard setup`: everything one user needs, in one step (what the packaged user unit
/// runs before the guard at each login; repeated runs change nothing).
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Undo it: routing and trust back as they were.
    #[arg(long)]
    undo: bool,
    /// The policy (default: the one the guard discovers).
    #[arg(long)]
    policy: Option<PathBuf>,
    #[command(flatten)]
    at: Where,
}

pub fn setup(a: SetupArgs) -> Result<ExitCode> {
    let ctx = a.at.context();
    let mut lines = Vec::new();
    if a.undo {
        lines.extend(deploy::routing::disable(&ctx)?);
        lines.extend(deploy::trust::uninstall(&ctx)?);
        return Ok(report(&lines, a.at.json, Mode::Change));
    }
    // The user's device CA, covering the policy's destinations.
    let policy =
        leakguard_agent::policy::files::with_engine(a.policy.as_deref(), crate::today())?.0;
    let ca_dir = ctx.data_dir.join("ca");
    if !ca_dir.join(leakguard_proxy::ca::CERT_FILE).exists() {
        let hosts = leakguard_agent::destination_hosts(&policy);
        let path = leakguard_proxy::ca::init(&ca_dir, &hosts, false)?;
        lines.push(Line::new(
            "device CA",
            State::Ok,
            format!("created {}", path.display()),
        ));
    }
    lines.extend(deploy::trust::install(&ctx, &Default::default())?);
    // The running guard's PAC when it answers, else the same PAC computed from the policy.
    let pac = deploy::routing::fetch_pac(&ctx)
        .unwrap_or_else(|_| leakguard_proxy::pac_for(&policy, ctx.listen));
    let opts = deploy::routing::Options {
        pac: Some(pac),
        ..Default::default()
    };
    lines.extend(deploy::routing::enable(&ctx, &opts)?);
    Ok(report(&lines, a.at.json, Mode::Change))
}

/// `leakguard env`.
#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(flatten)]
    at: Where,
}

pub fn env(a: EnvArgs) -> Result<ExitCode> {
    print!("{}", deploy::routing::env_script(&a.at.context()));
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// A system unit for a machine without a desktop session (administrator).
    #[arg(long)]
    system: bool,
    /// The policy file the service uses (default: the one the guard discovers).
    #[arg(long)]
    policy: Option<PathBuf>,
    #[command(flatten)]
    at: Where,
}

pub fn service_install(a: ServiceArgs) -> Result<ExitCode> {
    let mut ctx = a.at.context();
    ctx.policy = a.policy.clone();
    let opts = deploy::service::Options { system: a.system };
    let lines = deploy::service::install(&ctx, &opts)?;
    Ok(report(&lines, a.at.json, Mode::Change))
}

pub fn service_uninstall(a: ServiceArgs) -> Result<ExitCode> {
    let lines = deploy::service::uninstall(&a.at.context())?;
    Ok(report(&lines, a.at.json, Mode::Change))
}

pub fn service_status(a: ServiceArgs) -> Result<ExitCode> {
    let mut ctx = a.at.context();
    ctx.policy = a.policy.clone();
    Ok(report(
        &deploy::service::status(&ctx),
        a.at.json,
        Mode::Status,
    ))
}

/// `leakguard doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Only these clients (curl, node, python, java, chromium, chrome). Repeatable.
    #[arg(long = "client")]
    clients: Vec<String>,
    /// The intercepted host whose canary the clients fetch.
    #[arg(long, default_value = "chatgpt.com")]
    host: String,
    #[command(flatten)]
    at: Where,
}

pub fn doctor(a: DoctorArgs) -> Result<ExitCode> {
    let ctx = a.at.context();
    let mut lines = deploy::service::status(&ctx);
    match deploy::trust::status(&ctx, &Default::default()) {
        Ok(t) => lines.extend(t.into_iter().map(|l| prefixed("trust", l))),
        Err(e) => lines.push(Line::new("trust", State::Failed, e.to_string())),
    }
    lines.extend(
        deploy::routing::status(&ctx)
            .into_iter()
            .filter(|l| l.what != "guard")
            .map(|l| prefixed("routing", l)),
    );
    // Firefox has no headless fetch: its profiles are in the trust lines above (nss).
    lines.extend(deploy::doctor::clients(&ctx, &a.host, &a.clients));
    Ok(report(&lines, a.at.json, Mode::Status))
}

fn prefixed(prefix: &str, mut l: Line) -> Line {
    l.what = format!("{prefix} {}", l.what);
    l
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Exit 1 when something failed.
    Change,
    /// Exit 1 when something is missing or failed.
    Status,
}

fn report(lines: &[Line], json: bool, mode: Mode) -> ExitCode {
    for l in lines {
        if json {
            println!("{}", serde_json::to_string(l).expect("line serialises"));
        } else {
            let tag = match l.state {
                State::Ok => "ok",
                State::Missing => "MISSING",
                State::Failed => "FAILED",
                State::Skipped => "skipped",
            };
            println!("{tag:<8} {:<28} {}", l.what, l.detail);
        }
    }
    if lines.is_empty() && !json {
        println!("nothing to do");
    }
    let bad = match mode {
        Mode::Change => lines.iter().any(|l| l.state == State::Failed),
        Mode::Status => !deploy::healthy(lines),
    };
    if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
