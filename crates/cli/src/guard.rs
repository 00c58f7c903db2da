//! `leakguard run`, `leakguard ca …` and `leakguard allow`: the headless guard and its CA.

use crate::policy_file;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use leakguard_proxy::{ca, events, Limits, Loaded, Settings};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

/// Where the guard keeps its CA, events and control token.
pub fn default_data_dir() -> PathBuf {
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

/// Pulls the policy and its signature into `dir` when the server has a new one. Returns
/// whether the files changed.
async fn pull_policy(args: &RunArgs, url: &str, dir: &Path) -> Result<bool> {
    use leakguard_proxy::upstream::{self, Fetched};
    let routes = std::sync::Arc::new(upstream::Routes::new(
        &args.resolve,
        args.upstream_proxy.as_deref(),
    )?);
    let tls = upstream::client_tls(&args.upstream_ca)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let etag_file = dir.join("policy.etag");
    let have_policy = dir.join("policy.json").exists();
    let etag = if have_policy {
        std::fs::read_to_string(&etag_file).ok()
    } else {
        None
    };
    let fetched = upstream::fetch(routes.clone(), tls.clone(), url, etag.as_deref(), 4 << 20)
        .await
        .map_err(|e| anyhow::anyhow!("policy pull: {e}"))?;
    let Fetched::Body { bytes, etag } = fetched else {
        return Ok(false);
    };
    let sig = match upstream::fetch(routes, tls, &format!("{url}.sig"), None, 64 << 10).await {
        Ok(Fetched::Body { bytes, .. }) => Some(bytes),
        _ => None,
    };
    let write = |name: &str, data: &[u8]| -> Result<()> {
        let tmp = dir.join(format!("{name}.tmp"));
        std::fs::write(&tmp, data).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, dir.join(name))
            .with_context(|| format!("cannot write {}", dir.join(name).display()))
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
    /// Replace the CA with a new one (after a policy adds destinations, or on suspicion).
    Rotate {
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long)]
        policy: Option<PathBuf>,
    },
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

fn destination_hosts(policy: &leakguard_policy::Policy) -> Vec<String> {
    policy
        .destinations
        .iter()
        .filter(|g| g.mode != leakguard_policy::Mode::Allow)
        .flat_map(|g| g.hosts.iter().cloned())
        .collect()
}

fn init_ca(data_dir: Option<PathBuf>, policy: Option<PathBuf>, replace: bool) -> Result<()> {
    let dir = data_dir.unwrap_or_else(default_data_dir).join("ca");
    let policy = policy_file::load_with_engine(policy.as_deref())?.0;
    let hosts = destination_hosts(&policy);
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

fn label_for(path: Option<&Path>, policy: &leakguard_policy::Policy) -> String {
    let name = policy
        .name
        .clone()
        .unwrap_or_else(|| "unnamed policy".into());
    match path.and_then(|p| std::fs::read(p).ok()) {
        Some(bytes) => {
            let h = Sha256::digest(&bytes);
            format!(
                "{name} ({})",
                h.iter()
                    .take(6)
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            )
        }
        None => format!("{name} (built-in)"),
    }
}

/// Where the guard's policy comes from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The managed (MDM) policy, when the file exists.
    pub managed: Option<PathBuf>,
    /// The user's own policy: it can only tighten a managed one.
    pub local: Option<PathBuf>,
    /// The pinned public key: when present, the managed policy (or, without one, the local
    /// policy) must carry a valid `.sig`.
    pub pinned_key: Option<PathBuf>,
}

/// The managed policy location of this OS (`LEAKGUARD_MANAGED_POLICY` overrides it).
pub fn managed_policy_path() -> PathBuf {
    if let Some(p) = std::env::var_os("LEAKGUARD_MANAGED_POLICY") {
        return PathBuf::from(p);
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
/// overrides it).
pub fn pinned_key_path() -> PathBuf {
    if let Some(p) = std::env::var_os("LEAKGUARD_POLICY_KEY") {
        return PathBuf::from(p);
    }
    managed_policy_path().with_file_name("policy.pub")
}

impl Sources {
    /// The managed location and pinned key of this OS (used when they exist), and the local
    /// file given with `--policy`.
    pub fn discover(local: Option<PathBuf>) -> Sources {
        let managed = Some(managed_policy_path()).filter(|p| p.exists());
        let pinned_key = Some(pinned_key_path()).filter(|p| p.exists());
        Sources {
            managed,
            local,
            pinned_key,
        }
    }

    /// Files whose change triggers a reload.
    pub fn watched(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self
            .managed
            .iter()
            .chain(self.local.iter())
            .cloned()
            .collect();
        for p in v.clone() {
            v.push(crate::signing::sig_path(&p));
        }
        v
    }
}

pub fn load(src: &Sources) -> Result<Loaded> {
    let signed = src.managed.as_deref().or(src.local.as_deref());
    if let (Some(key), Some(policy)) = (&src.pinned_key, signed) {
        crate::signing::verify_file(policy, key).with_context(|| {
            format!(
                "the policy key {} is pinned: the policy must be signed with it",
                key.display()
            )
        })?;
    }
    match &src.managed {
        Some(managed_path) => {
            let local = src.local.as_deref().map(policy_file::load).transpose()?;
            let (managed, engine) =
                policy_file::load_with_engine_and_local(Some(managed_path), local.as_ref())?;
            let mut label = format!("managed: {}", label_for(Some(managed_path), &managed));
            if let (Some(l), Some(path)) = (&local, &src.local) {
                let meta = leakguard_policy::RequestMeta {
                    today: policy_file::today(),
                    ..Default::default()
                };
                l.run_own_tests(&engine, &meta)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                label.push_str(&format!(" + local: {}", label_for(Some(path), l)));
            }
            Ok(Loaded {
                effective: leakguard_policy::Effective { managed, local },
                engine,
                label,
                scan_cache: Default::default(),
            })
        }
        None => {
            let (policy, engine) = policy_file::load_with_engine(src.local.as_deref())?;
            let label = label_for(src.local.as_deref(), &policy);
            Ok(Loaded::new(policy, engine, label))
        }
    }
}

/// Modification time and a hash of the content: a rewrite within one timestamp tick (coarse
/// file systems) is still seen. Policy files are small; reading them twice a second is cheap.
fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    use std::hash::{Hash, Hasher};
    let m = std::fs::metadata(path).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::read(path).ok()?.hash(&mut h);
    Some((m.modified().ok()?, h.finish()))
}

pub fn run(args: RunArgs) -> Result<()> {
    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
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
    let pulled_dir = data_dir.join("pulled");
    let mut sources = Sources::discover(args.policy.clone());
    if let Some(url) = &args.policy_url {
        if sources.managed.is_some() {
            eprintln!("leakguard: an MDM-managed policy is installed; --policy-url is ignored");
        } else {
            if let Err(e) = rt.block_on(pull_policy(&args, url, &pulled_dir)) {
                anyhow::ensure!(
                    pulled_dir.join("policy.json").exists(),
                    "{e:#}; no earlier copy to fall back on, so the guard does not start without its policy"
                );
                eprintln!("leakguard: {e:#}; using the copy pulled earlier");
            }
            sources.managed = Some(pulled_dir.join("policy.json"));
        }
    }
    if let Some(m) = &sources.managed {
        eprintln!(
            "leakguard: managed policy {}{}",
            m.display(),
            if sources.pinned_key.is_some() {
                " (signature required)"
            } else {
                ""
            }
        );
    }
    // Stamped before loading: a change made while the guard starts is picked up afterwards.
    let loaded_stamps = stamps(&sources.watched());
    let loaded = load(&sources)?;
    let ca_dir = data_dir.join("ca");
    let missing = ca::uncovered(&ca_dir, &destination_hosts(loaded.policy()));
    if !missing.is_empty() {
        eprintln!(
            "leakguard: warning: the device CA does not cover {} (the policy added them after the CA was made); clients will refuse the guard's certificate for them until you run `leakguard ca rotate` and trust the new CA",
            missing.join(", ")
        );
    }
    if !ca_dir.join(ca::CERT_FILE).exists() {
        let path = ca::init(&ca_dir, &destination_hosts(loaded.policy()), false)?;
        eprintln!(
            "leakguard: created the device CA {}; trust it to let the guard see LLM traffic",
            path.display()
        );
    }
    let shared_slot: Arc<OnceLock<Arc<leakguard_proxy::guard::Shared>>> = Arc::default();
    let recording = Arc::new(
        leakguard_agent::Recording::start(
            &data_dir,
            loaded.policy(),
            (!args.no_notify).then(|| notify_setup(&shared_slot)),
        )
        .with_context(|| format!("cannot start recording in {}", data_dir.display()))?,
    );
    let settings = Settings {
        listen: args.listen,
        data_dir: data_dir.clone(),
        ca_dir,
        limits: Limits {
            max_body: args.max_body,
            max_decoded: args.max_body.max(64 << 20),
            ..Limits::default()
        },
        resolve: args.resolve.clone(),
        upstream_proxy: args.upstream_proxy.clone(),
        upstream_ca: args.upstream_ca.clone(),
        events: Some(Arc::clone(&recording.hub) as Arc<dyn events::EventSink>),
        upstream_http2: args.upstream_http2,
    };
    let stop_recording = Arc::clone(&recording);
    let result = rt.block_on(async move {
        let running = leakguard_proxy::start(settings, loaded).await?;
        let _ = shared_slot.set(Arc::clone(&running.shared));
        let addr = running.addr;
        std::fs::write(data_dir.join("guard.addr"), addr.to_string())
            .with_context(|| format!("cannot write {}", data_dir.join("guard.addr").display()))?;
        println!(
            "leakguard: ready on {addr} (PAC: http://{addr}/proxy.pac, CA: {})",
            data_dir.join("ca").join(ca::CERT_FILE).display()
        );
        std::io::stdout().flush().ok();

        let reload = {
            let shared = std::sync::Arc::clone(&running.shared);
            (!sources.watched().is_empty()).then(|| {
                tokio::spawn(watch_policy(
                    sources.clone(),
                    loaded_stamps,
                    shared,
                    Arc::clone(&recording),
                ))
            })
        };
        let pulling = sources.managed.as_deref() == Some(pulled_dir.join("policy.json").as_path());
        let puller = match (&args.policy_url, pulling) {
            (Some(url), true) => {
                let url = url.clone();
                let shared = std::sync::Arc::clone(&running.shared);
                let every = Duration::from_secs(args.policy_pull_secs.max(1));
                Some(tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(every).await;
                        if let Err(e) = pull_policy(&args, &url, &pulled_dir).await {
                            eprintln!("leakguard: {e:#}; the current policy stays in force");
                            shared.events.record(events::Event {
                                id: events::new_id(),
                                time: events::now_rfc3339(),
                                kind: "policy".into(),
                                verdict: "pull_failed".into(),
                                outcome: "refused".into(),
                                reason: Some(format!("{e:#}")),
                                policy: Some(shared.policy.load().label.clone()),
                                ..events::Event::default()
                            });
                        }
                    }
                }))
            }
            _ => None,
        };
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        for task in [reload, puller].into_iter().flatten() {
            task.abort();
        }
        eprintln!("leakguard: stopping");
        running.stop().await;
        Ok(())
    });
    stop_recording.stop();
    result
}

/// Desktop notifications: friendly rule names from the engine in force, and what the
/// notification's buttons do.
fn notify_setup(
    shared: &Arc<OnceLock<Arc<leakguard_proxy::guard::Shared>>>,
) -> leakguard_agent::NotifySetup {
    use leakguard_agent::NoticeAction;
    let names = Arc::clone(shared);
    let actions = Arc::clone(shared);
    leakguard_agent::NotifySetup {
        rule_names: Arc::new(move |id: &str| {
            let shared = names.get()?;
            let loaded = shared.policy.load();
            let name = loaded
                .engine
                .rules()
                .find(|r| r.id == id)
                .map(|r| r.description);
            name
        }),
        on_action: Arc::new(move |action| match action {
            NoticeAction::ReportFalsePositive { event_id } => {
                if let Some(shared) = actions.get() {
                    shared.events.record(events::Event {
                        id: events::new_id(),
                        time: events::now_rfc3339(),
                        kind: "feedback".into(),
                        verdict: "false_positive".into(),
                        outcome: "reported".into(),
                        reason: Some(format!(
                            "the user reported event {event_id} as a false positive"
                        )),
                        ..events::Event::default()
                    });
                }
            }
            // The desktop app registers the leakguard: scheme and opens the event or the
            // allow-once dialog.
            NoticeAction::ViewDetails { event_id } => open_url(&format!(
                "leakguard://events/{}",
                event_id.unwrap_or_default()
            )),
            NoticeAction::AllowOnce { code } => open_url(&format!("leakguard://allow/{code}")),
        }),
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

/// Polls the policy file; a good change is applied within a second, a bad one is refused with
/// an event and the last good policy stays in force.
type Stamps = Vec<Option<(SystemTime, u64)>>;

fn stamps(files: &[PathBuf]) -> Stamps {
    files.iter().map(|f| file_stamp(f)).collect()
}

async fn watch_policy(
    sources: Sources,
    mut stamp: Stamps,
    shared: std::sync::Arc<leakguard_proxy::guard::Shared>,
    recording: Arc<leakguard_agent::Recording>,
) {
    let files = sources.watched();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = stamps(&files);
        if now == stamp {
            continue;
        }
        stamp = now;
        let src = sources.clone();
        let result = tokio::task::spawn_blocking(move || load(&src)).await;
        let mut event = events::Event {
            id: events::new_id(),
            time: events::now_rfc3339(),
            kind: "policy".into(),
            ..events::Event::default()
        };
        match result {
            Ok(Ok(loaded)) => {
                event.verdict = "applied".into();
                event.outcome = "forwarded".into();
                event.policy = Some(loaded.label.clone());
                eprintln!("leakguard: policy reloaded: {}", loaded.label);
                if let Err(e) = recording.apply_policy(loaded.policy()) {
                    eprintln!("leakguard: the new policy's event settings cannot be applied ({e}); the previous SIEM targets stay in use");
                }
                shared.policy.store(std::sync::Arc::new(loaded));
            }
            Ok(Err(e)) => {
                event.verdict = "rejected".into();
                event.outcome = "refused".into();
                event.reason = Some(format!("{e:#}"));
                event.policy = Some(shared.policy.load().label.clone());
                eprintln!(
                    "leakguard: policy update rejected, the last good policy stays in force: {e:#}"
                );
            }
            Err(_) => continue,
        }
        shared.events.record(event);
    }
}

pub fn allow(args: AllowArgs) -> Result<()> {
    let dir = args.data_dir.unwrap_or_else(default_data_dir);
    let addr = std::fs::read_to_string(dir.join("guard.addr")).with_context(|| {
        format!(
            "the guard does not seem to run (no {})",
            dir.join("guard.addr").display()
        )
    })?;
    let token = std::fs::read_to_string(dir.join("control.token"))
        .context("cannot read the control token")?;
    let body = serde_json::json!({"code": args.code, "reason": args.reason}).to_string();
    let mut s = std::net::TcpStream::connect(addr.trim())
        .with_context(|| format!("cannot reach the guard at {addr}"))?;
    write!(
        s,
        "POST /leakguard/allow HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        addr.trim(),
        token.trim(),
        body.len()
    )?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    let (head, rest) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    anyhow::ensure!(
        head.starts_with("HTTP/1.1 200"),
        "the guard refused: {}",
        rest.trim()
    );
    println!("allowed once for 10 minutes: send the prompt again");
    Ok(())
}
