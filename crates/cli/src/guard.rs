//! The guard's front ends: `leakguard run` (a terminal: desktop notifications) and
//! `leakguard service run` (a service: notices as log lines) — arguments to a config, start
//! the agent, wait for a signal, stop — and the commands that talk to a running guard over its
//! control channel (`allow`, `status`, `pause`), and `leakguard ca …`.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use leakguard_agent::policy::{self, Sources};
use leakguard_agent::{control::Client, Agent, Config, Control, Notices, Upstream};
use leakguard_proxy::ca;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use leakguard_agent::default_data_dir;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:8480")]
    listen: SocketAddr,
    /// Data directory (CA, events, control token). Default: $LEAKGUARD_DATA_DIR, else
    /// $XDG_DATA_HOME/leakguard, else ~/.local/share/leakguard.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Policy file; reloaded when it changes. Default: the built-in balanced policy.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Extra trusted roots for upstream servers (PEM), e.g. a corporate inspection CA.
    #[arg(long = "upstream-ca")]
    upstream_ca: Vec<PathBuf>,
    /// Chain through this HTTP proxy: http://HOST:PORT.
    #[arg(long = "upstream-proxy")]
    upstream_proxy: Option<String>,
    /// Like curl's: connect HOST:PORT to ADDR (ADDR may be IP or IP:PORT). Repeatable.
    #[arg(long)]
    resolve: Vec<String>,
    /// Largest request body inspected, in bytes; bigger ones are refused (fail closed).
    #[arg(long, default_value_t = 32 << 20)]
    max_body: usize,
    /// Pull the managed policy from this HTTPS URL (its signature from URL.sig), for
    /// organisations without MDM. An MDM-installed policy file wins over it.
    #[arg(long)]
    policy_url: Option<String>,
    /// Seconds between pulls (conditional GET with the last ETag).
    #[arg(long, default_value_t = 300)]
    policy_pull_secs: u64,
    /// No desktop notifications (events are still recorded).
    #[arg(long)]
    no_notify: bool,
    /// Offer HTTP/2 to upstream servers (off: HTTP/1.1 adds less latency to small prompts).
    #[arg(long)]
    upstream_http2: bool,
}

impl RunArgs {
    fn config(&self) -> Config {
        let mut config = Config::new(self.data_dir.clone().unwrap_or_else(default_data_dir));
        config.listen = self.listen;
        config.sources = Sources::discover(self.policy.clone());
        config.policy_url = self.policy_url.clone();
        config.pull_every = Duration::from_secs(self.policy_pull_secs.max(1));
        config.upstream = Upstream {
            resolve: self.resolve.clone(),
            proxy: self.upstream_proxy.clone(),
            ca: self.upstream_ca.clone(),
            http2: self.upstream_http2,
        };
        config.max_body = self.max_body;
        config
    }
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Run the guard as a service: like `run`, with notices as log lines instead of desktop
    /// notifications (the desktop app shows them to the user).
    Run(RunArgs),
    /// Start the guard at login and restart it when it stops (systemd user unit, LaunchAgent,
    /// logon task); `--system` for a machine without a desktop session.
    Install(crate::deploy_cmd::ServiceArgs),
    /// Stop the service and remove exactly what `install` added.
    Uninstall(crate::deploy_cmd::ServiceArgs),
    /// Is the service installed and the guard answering?
    Status(crate::deploy_cmd::ServiceArgs),
}

/// How the front end tells the user about events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// A terminal on a desktop: notifications (unless `--no-notify`).
    Terminal,
    /// A service: log lines.
    Service,
}

/// `leakguard run` and `leakguard service run`: start, wait for SIGINT or SIGTERM, stop.
pub fn run(args: RunArgs, front: Front) -> Result<()> {
    let config = args.config();
    let notices = match front {
        Front::Service => Notices::Log,
        Front::Terminal if args.no_notify => Notices::Off,
        Front::Terminal => Notices::Desktop {
            open: Arc::new(open_url),
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        // One I/O thread: a request's client and upstream halves then never hop between
        // threads, which measured ~25% less CPU per request and more requests/s on 2 cores.
        // Bodies over 256 KiB are scanned on the blocking pool, so big prompts do not stall it.
        .worker_threads(
            std::env::var("LEAKGUARD_WORKERS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1),
        )
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        if let Some(m) = &config.sources.managed {
            eprintln!(
                "leakguard: managed policy {}{}",
                m.display(),
                if config.sources.pinned_key.is_some() {
                    " (signature required)"
                } else {
                    ""
                }
            );
        }
        let data_dir = config.data_dir.clone();
        // The signals are caught from before the guard says it is ready: a SIGTERM right after
        // the ready line is a clean, recorded stop, not the default death.
        #[cfg(unix)]
        let (mut term, mut interrupt, term_reason) = {
            use tokio::signal::unix::{signal, SignalKind};
            (
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
                "stopped by the operating system or the service manager (SIGTERM)",
            )
        };
        // Windows: the system shutting down, and Ctrl+C in a console.
        #[cfg(windows)]
        let (mut term, mut interrupt, term_reason) = {
            use tokio::signal::windows::{ctrl_c, ctrl_shutdown};
            (
                ctrl_shutdown()?,
                ctrl_c()?,
                "stopped by the operating system (shutdown)",
            )
        };
        let agent = Agent::start(config, notices).await?;
        let addr = agent.addr();
        println!(
            "leakguard: ready on {addr} (PAC: http://{addr}/proxy.pac, CA: {}, control: {})",
            data_dir.join("ca").join(ca::CERT_FILE).display(),
            agent.control_location()
        );
        std::io::stdout().flush().ok();
        tokio::select! {
            _ = interrupt.recv() => agent.record_stopping("interrupted in its terminal (Ctrl+C)"),
            _ = term.recv() => agent.record_stopping(term_reason),
            () = agent.stop_requested() => {}
        }
        eprintln!("leakguard: stopping");
        agent.stop().await;
        Ok(())
    })
}

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create the device CA (name-constrained to the policy's destinations).
    Init {
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Print the path of the CA certificate (to install it as trusted).
    Path {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Print the CA certificate (PEM) and what it is constrained to.
    Show {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Replace the CA with a new one the old one does not vouch for (on suspicion of its key;
    /// trust the new one everywhere). When a policy adds destinations the guard replaces the
    /// CA itself, vouched for by the old one, and records `ca_rotated`.
    Rotate {
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

fn init_ca(data_dir: Option<PathBuf>, policy: Option<PathBuf>, replace: bool) -> Result<()> {
    let dir = data_dir.unwrap_or_else(default_data_dir).join("ca");
    let policy = policy::files::with_engine(policy.as_deref(), crate::today())?.0;
    let hosts = leakguard_agent::destination_hosts(&policy);
    let path = ca::init(&dir, &hosts, replace)?;
    println!("{}", path.display());
    let names = ca::permitted_names(&hosts);
    eprintln!(
        "leakguard: device CA {}. Trust it in the browser or OS store; it can only vouch for these {} names and their subdomains: {}",
        if replace { "replaced (trust the new one; the old one no longer works)" } else { "created" },
        names.len(),
        names.join(", ")
    );
    Ok(())
}

pub fn ca(cmd: CaCommand) -> Result<()> {
    match cmd {
        CaCommand::Init { data_dir, policy } => init_ca(data_dir, policy, false),
        CaCommand::Rotate { data_dir, policy } => init_ca(data_dir, policy, true),
        CaCommand::Path { data_dir } => {
            let path = data_dir
                .unwrap_or_else(default_data_dir)
                .join("ca")
                .join(ca::CERT_FILE);
            anyhow::ensure!(
                path.exists(),
                "no device CA at {}: run `leakguard ca init`",
                path.display()
            );
            println!("{}", path.display());
            Ok(())
        }
        CaCommand::Show { data_dir } => {
            let dir = data_dir.unwrap_or_else(default_data_dir).join("ca");
            let loaded = ca::DeviceCa::load(&dir)?;
            print!("{}", loaded.cert_pem());
            Ok(())
        }
    }
}

fn open_url(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

#[derive(Debug, Args)]
pub struct AllowArgs {
    /// The code from the warning message.
    code: String,
    /// Why this prompt may go (recorded in the event).
    #[arg(long)]
    reason: String,
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The whole health record as JSON.
    #[arg(long)]
    json: bool,
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Minutes (at most the policy's `controls.pause_minutes`); 0 resumes. With `--code`, the
    /// code's minutes apply.
    #[arg(default_value_t = 0, required_unless_present = "code")]
    minutes: u32,
    /// An unlock code from IT for this device.
    #[arg(long)]
    code: Option<String>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// An unlock code from IT for this device (where the policy's `controls.quit` asks for one).
    #[arg(long)]
    code: Option<String>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// One call to the running guard, from a synchronous command.
fn with_client<T>(
    data_dir: Option<PathBuf>,
    call: impl for<'a> FnOnce(&'a Client) -> leakguard_agent::Reply<'a, T>,
) -> Result<T> {
    let client = Client::for_data_dir(&data_dir.unwrap_or_else(default_data_dir))
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(call(&client))
        .map_err(|e| anyhow::anyhow!("{} ({})", e.message, e.code))
}

pub fn allow(args: AllowArgs) -> Result<()> {
    let (code, reason) = (args.code, args.reason);
    let allowed = with_client(args.data_dir, move |c| c.allow_once(code, reason))
        .context("the guard refused")?;
    println!(
        "allowed once for {} minutes: send the prompt again",
        allowed.expires_in_s / 60
    );
    Ok(())
}

pub fn status(args: StatusArgs) -> Result<()> {
    let h = with_client(args.data_dir, |c| c.health())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&h)?);
        return Ok(());
    }
    let state = match h.protection {
        leakguard_agent::Protection::Protected => "protected".to_string(),
        leakguard_agent::Protection::Paused => {
            format!("paused until {}", h.paused_until.as_deref().unwrap_or("?"))
        }
        leakguard_agent::Protection::Degraded => "DEGRADED".to_string(),
    };
    println!("leakguard {}: {state}", h.version);
    for r in &h.reasons {
        println!("  - {r}");
    }
    println!("proxy:   {} (PAC {})", h.listen, h.pac_url);
    println!("policy:  {}", h.policy);
    println!("CA:      {}", h.ca_cert);
    println!("events:  {}", h.events_db);
    println!("uptime:  {} s (since {})", h.uptime_s, h.started);
    for t in &h.siem {
        println!(
            "SIEM {}: {} delivered, {} pending, {} dropped",
            t.target, t.delivered, t.pending, t.dropped
        );
    }
    Ok(())
}

pub fn pause(args: PauseArgs) -> Result<()> {
    let (minutes, code) = (args.minutes, args.code);
    let state = with_client(args.data_dir, move |c| c.pause(minutes, code))?;
    match state.paused_until {
        Some(until) => println!("paused until {until}: findings are recorded, not stopped"),
        None => println!("protection resumed"),
    }
    Ok(())
}

pub fn stop(args: StopArgs) -> Result<()> {
    let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
    let code = args.code;
    let stopping = with_client(Some(data_dir.clone()), move |c| c.stop(code))?;
    // The guard answers, then stops: wait until its control channel is gone.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let answers = match Client::for_data_dir(&data_dir) {
                Ok(c) => c.health().await.is_ok(),
                Err(_) => false,
            };
            if !answers {
                return Ok(());
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "the guard accepted the stop but still answers after 30 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })?;
    println!("Leakguard stopped ({})", stopping.allowed_by);
    Ok(())
}
