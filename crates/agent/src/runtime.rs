//! The agent as the one runtime: [`Agent::start`] brings the guard up as one readable list
//! (data dir, policy sources, load, device CA, recording, proxy, notifier, control channel,
//! watch and pull), owns the policy in force (one way to swap it: [`Agent::put_in_force`]),
//! and answers the [`Control`] calls in process. `leakguard run`, `leakguard service run` and
//! the desktop app are front ends over it.

use crate::notify::{Desktop, NoticeAction, Notifier, Show};
use crate::policy::{self, pull, LoadError, Sources};
use crate::surface::*;
use crate::{AgentError, Recording};
use leakguard_policy::Policy;
use leakguard_proxy::events::{new_id, Event, EventSink};
use leakguard_proxy::Shared;
use leakguard_proxy::{ca, Limits, Loaded, Running, Settings};
use leakguard_store::{Filter, Reader};
use leakguard_types::{
    rfc3339_ms, Action, Clock, EventKind, EventVerdict, Identity, Outcome, SystemClock,
};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How to reach upstream servers.
#[derive(Debug, Clone, Default)]
pub struct Upstream {
    /// Like curl's `--resolve`: `HOST:PORT:ADDR`.
    pub resolve: Vec<String>,
    /// Chain through this HTTP proxy (`http://HOST:PORT`).
    pub proxy: Option<String>,
    /// Extra trusted roots (PEM files), e.g. a corporate inspection CA.
    pub ca: Vec<PathBuf>,
    /// Offer HTTP/2 to upstream servers.
    pub http2: bool,
}

/// Everything the runtime needs; the front ends fill it from their arguments.
#[derive(Debug, Clone)]
pub struct Config {
    /// The proxy's address (loopback only).
    pub listen: SocketAddr,
    /// CA, events, control token and socket, pulled policy.
    pub data_dir: PathBuf,
    pub sources: Sources,
    /// Pull the managed policy from this HTTPS URL (ignored when an MDM policy is installed).
    pub policy_url: Option<String>,
    pub pull_every: Duration,
    pub upstream: Upstream,
    /// Largest request body inspected.
    pub max_body: usize,
    pub clock: Arc<dyn Clock>,
    pub identity: Identity,
    /// How often the policy files are checked for changes.
    pub reload_every: Duration,
    /// Serve the control channel (the desktop app and `leakguard allow` use it).
    pub control: bool,
}

impl Config {
    /// Defaults: 127.0.0.1:8480, the OS's policy locations, the system clock, this user.
    pub fn new(data_dir: PathBuf) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8480)),
            data_dir,
            sources: Sources::discover(None),
            policy_url: None,
            pull_every: Duration::from_secs(300),
            upstream: Upstream::default(),
            max_body: 32 << 20,
            clock: Arc::new(SystemClock),
            identity: crate::identity_from_os(),
            reload_every: Duration::from_millis(500),
            control: true,
        }
    }
}

/// Where notices go: chosen by the front end, so notify-rust stays at the edge.
pub enum Notices {
    /// None (events are still recorded).
    Off,
    /// One line on stderr per notice (a service, a terminal).
    Log,
    /// Desktop notifications; `open` gets the `leakguard://` links of "View details" and
    /// "Allow once…".
    Desktop {
        open: Arc<dyn Fn(&str) + Send + Sync>,
    },
    /// Any other display (tests).
    Custom(Box<dyn Show>),
}

impl std::fmt::Debug for Notices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Notices::Off => "Notices::Off",
            Notices::Log => "Notices::Log",
            Notices::Desktop { .. } => "Notices::Desktop",
            Notices::Custom(_) => "Notices::Custom",
        })
    }
}

/// Notices as log lines.
#[derive(Debug)]
struct LogLine;

impl Show for LogLine {
    fn show(&mut self, notice: &crate::Notice) -> Result<(), String> {
        eprintln!("leakguard: {}: {}", notice.summary, notice.body);
        Ok(())
    }
}

/// Why the guard did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot use the data directory {}: {source} (give another with --data-dir)", path.display())]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Policy(#[from] LoadError),
    #[error(
        "{0}; no earlier copy to fall back on, so the guard does not start without its policy"
    )]
    Pull(pull::PullError),
    #[error(transparent)]
    Ca(#[from] ca::CaError),
    #[error("cannot record events in {}: {source}; make that directory writable by this user, or give another with --data-dir", dir.display())]
    Recording { dir: PathBuf, source: AgentError },
    #[error(transparent)]
    Proxy(#[from] leakguard_proxy::StartError),
    #[error("cannot open the control channel: {0}")]
    Control(std::io::Error),
}

impl StartError {
    /// A stable code for the app.
    pub fn code(&self) -> &'static str {
        match self {
            StartError::DataDir { .. } => "data_dir",
            StartError::Policy(e) => e.code(),
            StartError::Pull(_) => "policy_pull",
            StartError::Ca(_) => "ca",
            StartError::Recording { .. } => "store",
            StartError::Proxy(_) => "proxy",
            StartError::Control(_) => "control",
        }
    }
}

/// The running guard. Cheap to clone; every clone is the same guard.
#[derive(Clone)]
pub struct Agent {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("listen", &self.inner.shared.listen)
            .finish()
    }
}

struct Inner {
    data_dir: PathBuf,
    sources: Sources,
    clock: Arc<dyn Clock>,
    started_ms: i64,
    started: Instant,
    shared: Arc<Shared>,
    recording: Arc<Recording>,
    running: tokio::sync::Mutex<Option<Running>>,
    state: Mutex<PolicyState>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Owned for the life of the guard (the hub holds its sender).
    notifier: Mutex<Option<Notifier>>,
    control: Mutex<Option<crate::control::Server>>,
    pause_end: Mutex<Option<JoinHandle<()>>>,
    /// What the last deployment check found out of place (trust, routing); empty: all well.
    drift: Mutex<Vec<String>>,
    /// Whether each destination group answered through the guard at the last check.
    reach: Mutex<Vec<crate::surface::Reach>>,
    /// Asks the protection watch to check now (after the CA was replaced).
    check_now: Arc<tokio::sync::Notify>,
    /// This device's name (events, unlock codes).
    device: String,
    /// A user stopped the guard through the control channel; the binary stops it.
    stop_requested: tokio::sync::Notify,
    /// Serialises the list of unlock codes already used.
    unlock_used: Mutex<()>,
}

/// What the Policy view shows beyond the policy itself.
#[derive(Debug)]
struct PolicyState {
    loaded_at_ms: i64,
    reloads: u64,
    rejected: VecDeque<Rejected>,
}

/// Refused updates kept for the Policy view.
const REJECTED_KEPT: usize = 20;

/// The hosts a policy decrypts (every group not in `allow` mode): what the CA must cover.
pub fn destination_hosts(policy: &Policy) -> Vec<String> {
    policy
        .destinations
        .iter()
        .filter(|g| g.mode != leakguard_policy::Mode::Allow)
        .flat_map(|g| g.hosts.iter().cloned())
        .collect()
}

impl Agent {
    /// Starts the guard; returns once the proxy listens and the control channel is open.
    ///
    /// # Errors
    /// See [`StartError`]: each says what to do.
    pub async fn start(config: Config, notices: Notices) -> Result<Agent, StartError> {
        let today = config.clock.today();
        ignore_file_size_signal();
        // 1. The data dir, private to the user (0700).
        crate::private_dir(&config.data_dir).map_err(|source| StartError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        // 2. Policy sources: managed, local, pinned key, the copy pulled over HTTPS.
        let sources = resolve_sources(&config).await?;
        // 3. Load: the raw sources become the policy in force. Stamped first, so a change made
        //    while the guard starts is picked up afterwards.
        let stamps = policy::stamps(&sources.watched());
        let loaded = {
            let sources = sources.clone();
            tokio::task::spawn_blocking(move || policy::load(&sources, today))
                .await
                .expect("the policy loader does not panic")?
        };
        // 4. The device CA, made when missing.
        ensure_ca(&config.data_dir.join("ca"), loaded.policy())?;
        // 5. Recording: the event store and the SIEM forwarders.
        let recording = Arc::new(
            Recording::start(&config.data_dir, loaded.policy(), &config.identity).map_err(
                |source| StartError::Recording {
                    dir: config.data_dir.clone(),
                    source,
                },
            )?,
        );
        // 6. The proxy, recording into the hub.
        let settings = Settings {
            listen: config.listen,
            data_dir: config.data_dir.clone(),
            ca_dir: config.data_dir.join("ca"),
            limits: Limits {
                max_body: config.max_body,
                max_decoded: config.max_body.max(64 << 20),
                ..Limits::default()
            },
            resolve: config.upstream.resolve.clone(),
            upstream_proxy: config.upstream.proxy.clone(),
            upstream_ca: config.upstream.ca.clone(),
            events: Some(Arc::clone(&recording.hub) as Arc<dyn EventSink>),
            upstream_http2: config.upstream.http2,
            clock: Arc::clone(&config.clock),
            identity: config.identity.clone(),
            connections: leakguard_proxy::Connections::default(),
        };
        let running = match leakguard_proxy::start(settings, loaded).await {
            Ok(r) => r,
            Err(e) => {
                recording.stop();
                return Err(e.into());
            }
        };
        let shared = Arc::clone(&running.shared);
        let agent = Agent {
            inner: Arc::new(Inner {
                data_dir: config.data_dir.clone(),
                sources: sources.clone(),
                clock: Arc::clone(&config.clock),
                started_ms: config.clock.now_ms(),
                started: Instant::now(),
                shared,
                recording,
                running: tokio::sync::Mutex::new(Some(running)),
                state: Mutex::new(PolicyState {
                    loaded_at_ms: config.clock.now_ms(),
                    reloads: 0,
                    rejected: VecDeque::new(),
                }),
                tasks: Mutex::default(),
                notifier: Mutex::default(),
                control: Mutex::default(),
                pause_end: Mutex::default(),
                drift: Mutex::default(),
                reach: Mutex::default(),
                check_now: Arc::default(),
                device: config.identity.device.clone(),
                stop_requested: tokio::sync::Notify::new(),
                unlock_used: Mutex::new(()),
            }),
        };
        // The CA replaced (bridged from the old one) if the policy names destinations it
        // does not cover, as on every reload.
        let policy = Arc::clone(&agent.inner.shared.policy.load());
        cover_destinations(&agent.inner, policy.policy());
        // 7. Notices, as the front end chose.
        agent.start_notifier(notices)?;
        // 8. The control channel (token file 0600, socket 0600 in the private data dir), and
        //    the proxy's address for clients. A failure here stops what already runs.
        if let Err(e) = agent.open_control(&config).await {
            agent.clone().stop().await;
            return Err(e);
        }
        // 9. Background: watch the policy files, pull the policy.
        let mut tasks = Vec::new();
        if !sources.watched().is_empty() {
            tasks.push(tokio::spawn(watch(
                Arc::downgrade(&agent.inner),
                config.reload_every,
                stamps,
            )));
        }
        if let (Some(url), true) = (&config.policy_url, sources.pulled) {
            tasks.push(tokio::spawn(pull_every(
                Arc::downgrade(&agent.inner),
                config.clone(),
                url.clone(),
            )));
        }
        tasks.push(tokio::spawn(protection_watch(Arc::downgrade(&agent.inner))));
        *agent.inner.tasks.lock().expect("tasks") = tasks;
        Ok(agent)
    }

    async fn open_control(&self, config: &Config) -> Result<(), StartError> {
        if config.control {
            let server = crate::control::Server::start(self.clone(), &config.data_dir)
                .await
                .map_err(StartError::Control)?;
            *self.inner.control.lock().expect("control") = Some(server);
        }
        let addr_file = config.data_dir.join("guard.addr");
        crate::write_private(&addr_file, self.addr().to_string().as_bytes()).map_err(|source| {
            StartError::DataDir {
                path: addr_file,
                source,
            }
        })
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.inner.shared.listen
    }

    /// Where the control channel listens (socket path, or address on systems without Unix
    /// sockets); empty when it is not served.
    pub fn control_location(&self) -> String {
        self.inner
            .control
            .lock()
            .expect("control")
            .as_ref()
            .map(crate::control::Server::location)
            .unwrap_or_default()
    }

    /// Commits every recorded event (tests and shutdown).
    ///
    /// # Errors
    /// The store cannot commit.
    pub fn flush(&self) -> Result<(), leakguard_store::StoreError> {
        self.inner.recording.hub.flush()
    }

    /// Puts a new policy in force: new requests use it, requests in flight finish with the
    /// one they started with, recording follows its event settings. The one way to swap it.
    pub fn put_in_force(&self, loaded: Loaded) {
        put_in_force(&self.inner, loaded);
    }

    /// Resolves when a user stopped the guard through the control channel (`leakguard stop`,
    /// allowed by the policy or an unlock code; already recorded): the front end then calls
    /// [`Agent::stop`].
    pub async fn stop_requested(&self) {
        self.inner.stop_requested.notified().await;
    }

    /// Records that the guard is stopping and why (a signal, the app quitting), before
    /// [`Agent::stop`] commits it with everything else.
    pub fn record_stopping(&self, reason: &str) {
        let mut e = policy_event(&self.inner, EventVerdict::Stopped, Outcome::Reported);
        e.kind = EventKind::Protection;
        e.reason = Some(reason.to_string());
        self.inner.shared.events.record(e);
    }

    /// Checks an unlock code for this device against the policy's `controls.unlock_key` and
    /// the codes already used; a good one is marked used.
    fn redeem(
        &self,
        code: &str,
        to_stop: bool,
    ) -> Result<leakguard_policy::unlock::Unlock, ControlError> {
        let inner = &self.inner;
        let key = inner
            .shared
            .policy
            .load()
            .policy()
            .controls
            .unlock_key
            .clone();
        let now = inner.clock.now_ms() / 1000;
        let refused = |message: String| {
            let mut e = policy_event(inner, EventVerdict::StopRefused, Outcome::Refused);
            e.kind = EventKind::Protection;
            e.reason = Some(format!("an unlock code was refused: {message}"));
            inner.shared.events.record(e);
            ControlError::new("unlock_refused", message)
        };
        let unlock = leakguard_policy::unlock::verify(code, key.as_deref(), &inner.device, now)
            .map_err(|e| refused(e.to_string()))?;
        let stops = unlock.action == leakguard_policy::unlock::UnlockAction::Stop;
        if stops != to_stop {
            // Refused before it is marked used: the user can still use it for what it is for.
            return Err(refused(if stops {
                "this unlock code is for stopping Leakguard (`leakguard stop --code`), not for a pause".into()
            } else {
                "this unlock code is for a pause (`leakguard pause --code`), not for stopping Leakguard".into()
            }));
        }
        let _held = inner.unlock_used.lock().expect("unlock list");
        let path = inner.data_dir.join("unlock-codes-used");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        // `nonce expiry` per line; expired ones are dropped (an expired code is refused anyway).
        let mut kept: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.split_once(' ')
                    .and_then(|(_, t)| t.parse::<i64>().ok())
                    .is_some_and(|t| t >= now)
            })
            .collect();
        if kept
            .iter()
            .any(|l| l.split(' ').next() == Some(unlock.nonce.as_str()))
        {
            return Err(refused(
                leakguard_policy::unlock::UnlockError::Used.to_string(),
            ));
        }
        let line = format!("{} {}", unlock.nonce, unlock.expires);
        kept.push(&line);
        crate::write_private(&path, format!("{}\n", kept.join("\n")).as_bytes()).map_err(|e| {
            ControlError::new(
                "internal",
                format!(
                    "the list of used unlock codes cannot be written ({e}); the code stays unused"
                ),
            )
        })?;
        Ok(unlock)
    }

    /// Stops everything: background tasks, the control channel, the proxy (open exchanges
    /// finish), then recording (everything queued is committed).
    pub async fn stop(self) {
        for t in self.inner.tasks.lock().expect("tasks").drain(..) {
            t.abort();
        }
        if let Some(t) = self.inner.pause_end.lock().expect("pause").take() {
            t.abort();
        }
        let server = self.inner.control.lock().expect("control").take();
        if let Some(s) = server {
            s.stop().await;
        }
        let running = self.inner.running.lock().await.take();
        if let Some(r) = running {
            r.stop().await;
        }
        self.inner.recording.stop();
        self.inner.notifier.lock().expect("notifier").take();
    }

    fn start_notifier(&self, notices: Notices) -> Result<(), StartError> {
        let show: Box<dyn Show> = match notices {
            Notices::Off => return Ok(()),
            Notices::Log => Box::new(LogLine),
            Notices::Custom(show) => show,
            Notices::Desktop { open } => {
                let weak = Arc::downgrade(&self.inner);
                Box::new(Desktop::new(Arc::new(move |action| match action {
                    NoticeAction::ReportFalsePositive { event_id } => {
                        if let Some(inner) = weak.upgrade() {
                            inner
                                .shared
                                .events
                                .record(feedback_event(&inner, &event_id));
                        }
                    }
                    NoticeAction::ViewDetails { event_id } => open(&format!(
                        "leakguard://events/{}",
                        event_id.unwrap_or_default()
                    )),
                    NoticeAction::AllowOnce { code } => open(&format!("leakguard://allow/{code}")),
                })))
            }
        };
        let weak = Arc::downgrade(&self.inner);
        let names: crate::notify::RuleNames = Arc::new(move |id: &str| {
            let inner = weak.upgrade()?;
            let loaded = inner.shared.policy.load();
            let name = loaded
                .engine
                .rules()
                .find(|r| r.id == id)
                .map(|r| r.description);
            name
        });
        let loaded = self.inner.shared.policy.load();
        let notifier =
            Notifier::start(&loaded.policy().notifications, names, show).map_err(|e| {
                StartError::Recording {
                    dir: self.inner.data_dir.clone(),
                    source: AgentError::Thread(e),
                }
            })?;
        self.inner
            .recording
            .hub
            .add_listener(notifier.sender(), crate::notify::may_notify);
        *self.inner.notifier.lock().expect("notifier") = Some(notifier);
        Ok(())
    }
}

/// The managed policy from the OS location, else (with a URL) the copy pulled over HTTPS.
async fn resolve_sources(config: &Config) -> Result<Sources, StartError> {
    let mut sources = config.sources.clone();
    let Some(url) = &config.policy_url else {
        return Ok(sources);
    };
    if sources.managed.is_some() {
        eprintln!("leakguard: an MDM-managed policy is installed; --policy-url is ignored");
        return Ok(sources);
    }
    let dir = config.data_dir.join("pulled");
    if let Err(e) = pull::pull(&config.upstream, url, &dir).await {
        if !dir.join("policy.json").exists() {
            return Err(StartError::Pull(e));
        }
        eprintln!("leakguard: {e}; using the copy pulled earlier");
    }
    sources.managed = Some(dir.join("policy.json"));
    sources.pulled = true;
    Ok(sources)
}

/// How long one destination may take to answer the reachability check.
const REACH_TIMEOUT: Duration = Duration::from_secs(5);

/// One host of each inspected destination group (its first without a wildcard), reached the
/// way the guard reaches it, all at once.
async fn reach_destinations(
    shared: &Arc<Shared>,
    clock: &Arc<dyn Clock>,
) -> Vec<crate::surface::Reach> {
    let loaded = shared.policy.load_full();
    let targets: Vec<(String, String)> = loaded
        .policy()
        .destinations
        .iter()
        .filter(|g| g.mode == leakguard_policy::Mode::Inspect)
        .filter_map(|g| {
            let host = g.hosts.iter().find(|h| !h.contains('*'))?;
            Some((g.name.clone(), host.trim_end_matches('.').to_string()))
        })
        .collect();
    let checks: Vec<_> = targets
        .iter()
        .map(|(_, host)| {
            let (routes, tls, host) = (
                Arc::clone(&shared.routes),
                Arc::clone(&shared.upstream_tls),
                host.clone(),
            );
            tokio::spawn(async move {
                leakguard_proxy::upstream::reach(&routes, &tls, &host, REACH_TIMEOUT).await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(checks.len());
    for c in checks {
        results.push(
            c.await
                .unwrap_or_else(|e| Err(format!("the check failed: {e}"))),
        );
    }
    let checked = rfc3339_ms(clock.now_ms());
    targets
        .into_iter()
        .zip(results)
        .map(|((group, host), r)| crate::surface::Reach {
            group,
            host,
            ok: r.is_ok(),
            detail: r.err().unwrap_or_default(),
            checked: checked.clone(),
        })
        .collect()
}

/// The device CA at start-up, made when missing (one that does not cover the policy is
/// replaced once the agent runs: [`cover_destinations`]).
fn ensure_ca(dir: &Path, policy: &Policy) -> Result<(), StartError> {
    if !dir.join(ca::CERT_FILE).exists() {
        let path = ca::init(dir, &destination_hosts(policy), false)?;
        eprintln!(
            "leakguard: created the device CA {}; trust it to let the guard see LLM traffic",
            path.display()
        );
    }
    Ok(())
}

/// A policy about to go in force names destinations the device CA does not cover: the CA is
/// replaced now (so the new hosts get certificates a client can accept once it trusts the new
/// CA), bridged from the old one (so nothing the old CA covered breaks meanwhile).
fn cover_destinations(inner: &Arc<Inner>, policy: &Policy) {
    let dir = inner.data_dir.join("ca");
    let hosts = destination_hosts(policy);
    if ca::uncovered(&dir, &hosts).is_empty() {
        return;
    }
    let replaced =
        ca::rotate_bridged(&dir, &hosts).and_then(|r| Ok((r, ca::DeviceCa::load(&dir)?)));
    match replaced {
        Ok((rotated, loaded)) => {
            inner.shared.ca.store(Arc::new(loaded));
            after_rotation(inner, rotated);
        }
        Err(e) => eprintln!(
            "leakguard: warning: the new policy names destinations the device CA does not cover, and the CA could not be replaced ({e}); those hosts fail in clients until `leakguard ca rotate` succeeds"
        ),
    }
}

/// After the CA was replaced: the new CA put wherever the old one was trusted (as far as this
/// user may), a `ca_rotated` event saying what was done and what is left, and a deployment
/// check at once (a store still holding only the old CA shows as degraded until fixed).
fn after_rotation(inner: &Arc<Inner>, rotated: ca::Rotated) {
    eprintln!(
        "leakguard: the device CA was replaced ({} -> {}) to cover {}",
        rotated.previous,
        rotated.current,
        rotated.added.join(", ")
    );
    let ctx = leakguard_deploy::Context::for_agent(inner.data_dir.clone(), inner.shared.listen);
    let me = Arc::downgrade(inner);
    let finish = move |lines: Vec<leakguard_deploy::Line>| {
        let Some(me) = me.upgrade() else { return };
        let mut e = policy_event(&me, EventVerdict::CaRotated, Outcome::Reported);
        e.kind = EventKind::Protection;
        e.reason = Some(rotation_reason(&rotated, &lines));
        me.shared.events.record(e);
        me.check_now.notify_one();
    };
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn(async move {
                let lines =
                    tokio::task::spawn_blocking(move || leakguard_deploy::check::retrust(&ctx))
                        .await
                        .unwrap_or_default();
                finish(lines);
            });
        }
        Err(_) => finish(leakguard_deploy::check::retrust(&ctx)),
    }
}

/// The `ca_rotated` event's reason: why, which CAs, and where the new one is trusted.
fn rotation_reason(r: &ca::Rotated, lines: &[leakguard_deploy::Line]) -> String {
    use leakguard_deploy::State;
    let mut reason = format!(
        "the policy added {}, which the device CA {} did not cover: the new device CA {} covers them; {}",
        r.added.join(", "),
        r.previous,
        r.current,
        if r.bridged {
            "clients that trust the old CA keep working for the hosts it covered"
        } else {
            "the old CA was made before CAs could vouch for a successor, so clients that trust only it fail for every intercepted host until they trust the new one"
        }
    );
    let done: Vec<&str> = lines
        .iter()
        .filter(|l| l.state == State::Ok)
        .map(|l| l.what.as_str())
        .collect();
    let left: Vec<String> = lines
        .iter()
        .filter(|l| matches!(l.state, State::Missing | State::Failed))
        .map(|l| format!("{}: {}", l.what, l.detail))
        .collect();
    if !done.is_empty() {
        reason.push_str(&format!("; now trusted in {}", done.join(", ")));
    }
    if !left.is_empty() {
        reason.push_str(&format!("; still to do: {}", left.join("; ")));
    }
    if lines.is_empty() {
        reason.push_str(
            "; trust the new CA where the old one was trusted (`leakguard trust install`)",
        );
    }
    reason
}

fn put_in_force(inner: &Arc<Inner>, loaded: Loaded) {
    cover_destinations(inner, loaded.policy());
    if let Err(e) = inner.recording.apply_policy(loaded.policy()) {
        eprintln!("leakguard: the new policy's event settings cannot be applied ({e}); the previous SIEM targets stay in use");
    }
    inner.shared.policy.store(Arc::new(loaded));
    let mut state = inner.state.lock().expect("policy state");
    state.loaded_at_ms = inner.clock.now_ms();
    state.reloads += 1;
}

fn policy_event(inner: &Inner, verdict: EventVerdict, outcome: Outcome) -> Event {
    Event {
        id: new_id(),
        time: rfc3339_ms(inner.clock.now_ms()),
        kind: EventKind::Policy,
        verdict,
        outcome,
        policy: Some(inner.shared.policy.load().label.clone()),
        ..Event::default()
    }
}

/// Staying on: every `deployment.check_every_s`, is what `leakguard trust install` and
/// `leakguard proxy enable` put in place still there? A change is recorded at once
/// (`protection_degraded` with the reasons, `protection_restored`), shown in Health, and, with
/// `deployment.enforce`, routing is put back. A `heartbeat` every `deployment.heartbeat_s`.
async fn protection_watch(inner: Weak<Inner>) {
    // The network is looked at every few seconds (cheap); the full check runs on its timer, or
    // at once when the network changed.
    const LOOK: Duration = Duration::from_secs(5);
    let mut last_beat = Instant::now();
    let mut next_check = Instant::now();
    let mut last_stamp = None;
    let mut woken = false;
    loop {
        let Some(me) = inner.upgrade() else {
            return;
        };
        let d = me.shared.policy.load().policy().deployment.clone();
        let ctx = leakguard_deploy::Context::for_agent(me.data_dir.clone(), me.shared.listen);
        let stamp = leakguard_deploy::check::network_stamp(&ctx);
        let moved = last_stamp.is_some_and(|s| s != stamp);
        last_stamp = Some(stamp);
        if d.check_every_s > 0 && (moved || woken || Instant::now() >= next_check) {
            next_check = Instant::now() + Duration::from_secs(u64::from(d.check_every_s));
            let enforce = d.enforce;
            let now =
                tokio::task::spawn_blocking(move || leakguard_deploy::check::drift(&ctx, enforce))
                    .await
                    .unwrap_or_else(|e| vec![format!("the deployment check failed: {e}")]);
            let reached = reach_destinations(&me.shared, &me.clock).await;
            *me.reach.lock().expect("reach") = reached;
            let before = std::mem::replace(&mut *me.drift.lock().expect("drift"), now.clone());
            let event = if !now.is_empty() && now != before {
                let after = if moved {
                    " (checked after a network change)"
                } else {
                    ""
                };
                Some((
                    EventVerdict::ProtectionDegraded,
                    format!("{}{after}", now.join("; ")),
                ))
            } else if now.is_empty() && !before.is_empty() {
                Some((
                    EventVerdict::ProtectionRestored,
                    "trust and routing are in place again".to_string(),
                ))
            } else {
                None
            };
            if let Some((verdict, reason)) = event {
                let mut e = policy_event(&me, verdict, Outcome::Reported);
                e.kind = EventKind::Protection;
                e.reason = Some(reason);
                me.shared.events.record(e);
            }
        }
        if d.heartbeat_s > 0 && last_beat.elapsed() >= Duration::from_secs(u64::from(d.heartbeat_s))
        {
            last_beat = Instant::now();
            let mut e = policy_event(&me, EventVerdict::Heartbeat, Outcome::Reported);
            e.kind = EventKind::Protection;
            e.reason = Some(format!(
                "the guard is running (up {} s)",
                me.started.elapsed().as_secs()
            ));
            me.shared.events.record(e);
        }
        let wake = Arc::clone(&me.check_now);
        drop(me);
        let until_check = next_check.saturating_duration_since(Instant::now());
        woken = tokio::select! {
            () = tokio::time::sleep(until_check.clamp(Duration::from_secs(1), LOOK)) => false,
            () = wake.notified() => true,
        };
    }
}

/// A pause starting or ending (kind `pause`), with why.
fn pause_event(inner: &Inner, verdict: EventVerdict, outcome: Outcome, reason: String) -> Event {
    let mut e = policy_event(inner, verdict, outcome);
    e.kind = EventKind::Pause;
    e.reason = Some(reason);
    e
}

/// A false-positive report: the reported event's rules, masked previews, destination and
/// deciding entry travel with it, so `leakguard events feedback` can summarise per rule.
fn feedback_event(inner: &Inner, event_id: &str) -> Event {
    let reported = reader(&inner.data_dir)
        .ok()
        .and_then(|r| r.get(event_id).ok().flatten())
        .map(|s| s.event);
    let mut e = Event {
        id: new_id(),
        time: rfc3339_ms(inner.clock.now_ms()),
        kind: EventKind::Feedback,
        verdict: EventVerdict::FalsePositive,
        outcome: Outcome::Reported,
        reason: Some(format!(
            "the user reported event {event_id} as a false positive"
        )),
        ..Event::default()
    };
    if let Some(r) = reported {
        e.host = r.host;
        e.endpoint = r.endpoint;
        e.provider = r.provider;
        e.group = r.group;
        e.rules = r.rules;
        e.previews = r.previews;
        e.decided_by = r.decided_by;
    }
    e
}

/// Polls the policy files; a good change is put in force within `every`, a bad one is
/// refused with an event and the last good policy stays in force.
async fn watch(inner: Weak<Inner>, every: Duration, mut stamp: policy::Stamps) {
    let Some(files) = inner.upgrade().map(|me| me.sources.watched()) else {
        return;
    };
    loop {
        tokio::time::sleep(every).await;
        let Some(me) = inner.upgrade() else { return };
        let now = policy::stamps(&files);
        if now == stamp {
            continue;
        }
        stamp = now;
        let (sources, today) = (me.sources.clone(), me.clock.today());
        let Ok(result) = tokio::task::spawn_blocking(move || policy::load(&sources, today)).await
        else {
            continue;
        };
        let event = match result {
            Ok(loaded) => {
                eprintln!("leakguard: policy reloaded: {}", loaded.label);
                put_in_force(&me, loaded);
                policy_event(&me, EventVerdict::Applied, Outcome::Forwarded)
            }
            Err(e) => {
                eprintln!(
                    "leakguard: policy update rejected, the last good policy stays in force: {e}"
                );
                let mut event = policy_event(&me, EventVerdict::Rejected, Outcome::Refused);
                event.reason = Some(e.to_string());
                let mut state = me.state.lock().expect("policy state");
                state.rejected.push_back(Rejected {
                    time: event.time.clone(),
                    code: e.code().to_string(),
                    message: e.to_string(),
                });
                while state.rejected.len() > REJECTED_KEPT {
                    state.rejected.pop_front();
                }
                event
            }
        };
        me.shared.events.record(event);
    }
}

/// Pulls the policy every `config.pull_every`; the watcher applies what arrives.
async fn pull_every(inner: Weak<Inner>, config: Config, url: String) {
    let dir = config.data_dir.join("pulled");
    loop {
        tokio::time::sleep(config.pull_every.max(Duration::from_secs(1))).await;
        let Some(me) = inner.upgrade() else { return };
        if let Err(e) = pull::pull(&config.upstream, &url, &dir).await {
            eprintln!("leakguard: {e}; the current policy stays in force");
            let mut event = policy_event(&me, EventVerdict::PullFailed, Outcome::Refused);
            event.reason = Some(e.to_string());
            me.shared.events.record(event);
        }
    }
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ControlError> + Send + 'static,
) -> Result<T, ControlError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|_| {
        Err(ControlError::new(
            "internal",
            "the request failed inside the guard",
        ))
    })
}

fn reader(data_dir: &Path) -> Result<Reader, ControlError> {
    Reader::open_in(data_dir).map_err(|e| {
        ControlError::new(
            "store",
            format!(
                "the event store in {} cannot be opened ({e}); check the directory's permissions",
                data_dir.display()
            ),
        )
    })
}

/// Byte offset -> UTF-16 offset in `text`.
fn utf16_at(text: &str, byte: usize) -> usize {
    text.get(..byte)
        .map_or(0, |s| s.chars().map(char::len_utf16).sum())
}

/// A write past the file-size limit (`ulimit -f`, a quota) raises SIGXFSZ, whose default
/// is to kill the process: the guard would vanish with its held events. Handled, the write
/// fails with EFBIG instead, like a full disk, and the recorder holds the events.
fn ignore_file_size_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut s) = signal(SignalKind::from_raw(libc::SIGXFSZ)) {
            tokio::spawn(async move { while s.recv().await.is_some() {} });
        }
    }
}

impl Control for Agent {
    fn health(&self) -> Reply<'_, Health> {
        Box::pin(async move {
            let inner = &self.inner;
            let shared = &inner.shared;
            let loaded = shared.policy.load_full();
            let ca_dir = inner.data_dir.join("ca");
            let ca_uncovered = ca::uncovered(&ca_dir, &destination_hosts(loaded.policy()));
            let paused_until = shared.paused_until();
            let mut reasons = Vec::new();
            if !ca_uncovered.is_empty() {
                reasons.push(format!(
                    "the device CA does not cover {} and the guard could not replace it (its log says why): run `leakguard ca rotate` and trust the new CA",
                    ca_uncovered.join(", ")
                ));
            }
            {
                let state = inner.state.lock().expect("policy state");
                if let Some(r) = state.rejected.back() {
                    let since_reject = leakguard_store::parse_time(&r.time)
                        .is_some_and(|t| t >= state.loaded_at_ms);
                    if since_reject {
                        reasons.push(format!(
                            "the last policy update was rejected ({}); the previous policy stays in force until a good one arrives",
                            r.message
                        ));
                    }
                }
            }
            reasons.extend(
                inner
                    .drift
                    .lock()
                    .expect("drift")
                    .iter()
                    .map(|r| format!("{r} (deployment check)")),
            );
            if let Some(why) = shared.events.failure() {
                let blocks = loaded.policy().events.on_store_failure
                    == leakguard_policy::StoreFailure::Block;
                reasons.push(if blocks {
                    format!("{why}; requests to AI services are refused until events can be kept (events.on_store_failure: block)")
                } else {
                    format!("{why}; events wait in memory (events.on_store_failure: continue)")
                });
            }
            let protection = if !reasons.is_empty() {
                Protection::Degraded
            } else if paused_until.is_some() {
                Protection::Paused
            } else {
                Protection::Protected
            };
            let data_dir = inner.data_dir.clone();
            let siem = blocking(move || Ok(reader(&data_dir)?.targets()?))
                .await
                .unwrap_or_default();
            Ok(Health {
                protection,
                reasons,
                version: env!("CARGO_PKG_VERSION").to_string(),
                device: inner.device.clone(),
                started: rfc3339_ms(inner.started_ms),
                uptime_s: inner.started.elapsed().as_secs(),
                listen: shared.listen.to_string(),
                pac_url: format!("http://{}/proxy.pac", shared.listen),
                ca_cert: ca_dir.join(ca::CERT_FILE).display().to_string(),
                ca_uncovered,
                policy: loaded.label.clone(),
                paused_until: paused_until.map(rfc3339_ms),
                counters: serde_json::to_value(&shared.counters).unwrap_or_default(),
                events_db: shared.events.location(),
                siem,
                control: self.control_location(),
                destinations: inner.reach.lock().expect("reach").clone(),
            })
        })
    }

    fn allow_once(&self, code: String, reason: String) -> Reply<'_, Allowed> {
        Box::pin(async move {
            self.inner
                .shared
                .allow_once(&code, &reason)
                .map(|ttl| Allowed {
                    code,
                    expires_in_s: ttl.as_secs(),
                })
                .map_err(|e| ControlError::new(e.code(), e.to_string()))
        })
    }

    fn explain(&self, text: String, destination: Option<String>) -> Reply<'_, Explanation> {
        Box::pin(async move {
            let loaded = self.inner.shared.policy.load_full();
            let meta = self.inner.shared.meta();
            blocking(move || {
                let findings = loaded.engine.scan(&text);
                let v = loaded
                    .effective
                    .decide(&findings, destination.as_deref(), &meta);
                let to_redact: Vec<_> = findings
                    .iter()
                    .zip(&v.findings)
                    .filter(|(_, d)| d.action >= Action::Redact)
                    .map(|(f, _)| f.clone())
                    .collect();
                let redacted = leakguard_detect::redact(
                    &text,
                    &to_redact,
                    leakguard_detect::RedactStyle::Placeholder,
                )
                .text;
                let describe = |id: &str| {
                    loaded
                        .engine
                        .rules()
                        .find(|r| r.id == id)
                        .map(|r| r.description.to_string())
                        .unwrap_or_default()
                };
                let findings = findings
                    .iter()
                    .zip(&v.findings)
                    .map(|(f, d)| ExplainedFinding {
                        rule: f.rule.clone(),
                        description: describe(&f.rule),
                        category: f.category.to_string(),
                        severity: f.severity.to_string(),
                        start: f.start,
                        end: f.end,
                        utf16_start: utf16_at(&text, f.start),
                        utf16_end: utf16_at(&text, f.end),
                        preview: f.preview.clone(),
                        action: d.action,
                        by: d.by.clone(),
                    })
                    .collect();
                Ok(Explanation {
                    policy: loaded.label.clone(),
                    destination,
                    group: v.group,
                    verdict: v.action,
                    by: v.by,
                    findings,
                    redacted,
                })
            })
            .await
        })
    }

    fn events(&self, filter: Filter) -> Reply<'_, leakguard_store::Page> {
        let dir = self.inner.data_dir.clone();
        Box::pin(blocking(move || Ok(reader(&dir)?.events(&filter)?)))
    }

    fn event(&self, id: String) -> Reply<'_, Option<leakguard_store::StoredEvent>> {
        let dir = self.inner.data_dir.clone();
        Box::pin(blocking(move || Ok(reader(&dir)?.get(&id)?)))
    }

    fn stats(&self, q: StatsQuery) -> Reply<'_, leakguard_store::Stats> {
        let dir = self.inner.data_dir.clone();
        Box::pin(blocking(move || {
            Ok(reader(&dir)?.stats(q.since_ms, q.until_ms, q.bucket_seconds.max(60))?)
        }))
    }

    fn usage(&self, since_day: String) -> Reply<'_, Vec<leakguard_store::UsageRow>> {
        let dir = self.inner.data_dir.clone();
        Box::pin(blocking(move || Ok(reader(&dir)?.usage(&since_day)?)))
    }

    fn export(&self, request: ExportRequest) -> Reply<'_, Exported> {
        let dir = self.inner.data_dir.clone();
        Box::pin(blocking(move || {
            use std::io::Write;
            let path = PathBuf::from(&request.path);
            if !path.is_absolute() {
                return Err(ControlError::new(
                    "export_path",
                    format!("give an absolute path to export to, not {}", request.path),
                ));
            }
            let reader = reader(&dir)?;
            let cannot = |e: std::io::Error| {
                ControlError::new(
                    "export_write",
                    format!(
                        "cannot write the export to {} ({e}); pick a folder you can write to",
                        path.display()
                    ),
                )
            };
            let file = crate::create_private(&path).map_err(cannot)?;
            let mut sink = std::io::BufWriter::new(file);
            if request.format == ExportFormat::Csv {
                writeln!(sink, "{}", leakguard_store::CSV_HEADER).map_err(cannot)?;
            }
            let n = reader.for_each(&request.filter, |e| {
                let line = match request.format {
                    ExportFormat::Jsonl => serde_json::to_string(&e.event).unwrap_or_default(),
                    ExportFormat::Csv => leakguard_store::csv_line(&e.event),
                };
                writeln!(sink, "{line}").map_err(leakguard_store::StoreError::Io)
            })?;
            sink.flush().map_err(cannot)?;
            Ok(Exported {
                events: n,
                path: request.path,
            })
        }))
    }

    fn policy_in_force(&self) -> Reply<'_, PolicyInForce> {
        Box::pin(async move {
            let inner = &self.inner;
            let loaded = inner.shared.policy.load_full();
            let state = inner.state.lock().expect("policy state");
            let origin = inner.sources.origin();
            Ok(PolicyInForce {
                label: loaded.label.clone(),
                origin,
                managed_path: inner
                    .sources
                    .managed
                    .as_ref()
                    .map(|p| p.display().to_string()),
                local_path: inner
                    .sources
                    .local
                    .as_ref()
                    .map(|p| p.display().to_string()),
                signature: Signature {
                    required: inner.sources.pinned_key.is_some(),
                    key: inner
                        .sources
                        .pinned_key
                        .as_ref()
                        .map(|p| p.display().to_string()),
                    verified: inner.sources.pinned_key.is_some(),
                },
                read_only: matches!(origin, policy::Origin::Managed | policy::Origin::Pulled),
                loaded_at: rfc3339_ms(state.loaded_at_ms),
                reloads: state.reloads,
                rejected: state.rejected.iter().cloned().collect(),
                policy: loaded.effective.managed.clone(),
                local: loaded.effective.local.clone(),
            })
        })
    }

    fn pause(&self, minutes: u32, code: Option<String>) -> Reply<'_, PauseState> {
        Box::pin(async move {
            let inner = &self.inner;
            let max = inner.shared.policy.load().policy().controls.pause_minutes;
            let state = |until: Option<i64>| PauseState {
                paused_until: until.map(rfc3339_ms),
                max_minutes: max,
            };
            if minutes == 0 && code.is_none() {
                if let Some(t) = inner.pause_end.lock().expect("pause").take() {
                    t.abort();
                }
                if inner.shared.paused_until().is_some() {
                    inner.shared.pause_until(0);
                    let e = pause_event(
                        inner,
                        EventVerdict::Resume,
                        Outcome::Resumed,
                        "the user resumed protection".into(),
                    );
                    inner.shared.events.record(e);
                }
                return Ok(state(None));
            }
            let (minutes, with) = match code {
                Some(code) => {
                    let unlock = self.redeem(&code, false)?;
                    let leakguard_policy::unlock::UnlockAction::Pause { minutes } = unlock.action
                    else {
                        return Err(ControlError::new("internal", "a stop code reached the pause"));
                    };
                    (
                        u32::from(minutes),
                        format!(" with unlock code {} from IT", unlock.nonce),
                    )
                }
                None if max == 0 => {
                    return Err(ControlError::new(
                        "pause_not_allowed",
                        format!("your organisation's policy does not allow pausing Leakguard (controls.pause_minutes); ask IT for an unlock code for this device ({})", inner.device),
                    ))
                }
                None if minutes > max => {
                    return Err(ControlError::new(
                        "pause_too_long",
                        format!("the policy allows a pause of at most {max} minutes"),
                    ))
                }
                None => (minutes, String::new()),
            };
            let until = inner.clock.now_ms() + i64::from(minutes) * 60_000;
            inner.shared.pause_until(until);
            let e = pause_event(
                inner,
                EventVerdict::Pause,
                Outcome::Paused,
                format!("the user paused protection for {minutes} minutes{with} (findings are recorded, not stopped)"),
            );
            inner.shared.events.record(e);
            // Resumes by itself, and says so.
            let weak = Arc::downgrade(&self.inner);
            let end = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(u64::from(minutes) * 60)).await;
                if let Some(inner) = weak.upgrade() {
                    inner.shared.pause_until(0);
                    let e = pause_event(
                        &inner,
                        EventVerdict::Resume,
                        Outcome::Resumed,
                        "the pause ended".into(),
                    );
                    inner.shared.events.record(e);
                }
            });
            if let Some(old) = inner.pause_end.lock().expect("pause").replace(end) {
                old.abort();
            }
            Ok(state(Some(until)))
        })
    }

    fn stop(&self, code: Option<String>) -> Reply<'_, Stopping> {
        Box::pin(async move {
            use leakguard_policy::Quit;
            let inner = &self.inner;
            let quit = inner.shared.policy.load().policy().controls.quit;
            let allowed_by = match (quit, code) {
                (Quit::Allow, _) => "controls.quit: allow".to_string(),
                (Quit::UnlockCode, Some(code)) => {
                    let unlock = self.redeem(&code, true)?;
                    format!("unlock code {} from IT", unlock.nonce)
                }
                (Quit::UnlockCode, None) | (Quit::Never, _) => {
                    let message = if quit == Quit::Never {
                        "your organisation's policy does not allow stopping Leakguard (controls.quit: never)".to_string()
                    } else {
                        format!("your organisation's policy allows stopping Leakguard only with an unlock code from IT for this device ({}): `leakguard stop --code CODE`", inner.device)
                    };
                    let mut e = policy_event(inner, EventVerdict::StopRefused, Outcome::Refused);
                    e.kind = EventKind::Protection;
                    e.reason = Some(format!("the user tried to stop the guard: {message}"));
                    inner.shared.events.record(e);
                    return Err(ControlError::new("quit_not_allowed", message));
                }
            };
            self.record_stopping(&format!("the user stopped the guard ({allowed_by})"));
            inner.stop_requested.notify_one();
            Ok(Stopping { allowed_by })
        })
    }

    fn report_false_positive(&self, event_id: String) -> Reply<'_, ()> {
        Box::pin(async move {
            let inner = self.inner.clone();
            let e = tokio::task::spawn_blocking(move || feedback_event(&inner, &event_id))
                .await
                .map_err(|e| ControlError::new("internal", e.to_string()))?;
            self.inner.shared.events.record(e);
            Ok(())
        })
    }

    fn describe_rules(&self, ids: Vec<String>) -> Reply<'_, Vec<RuleDescription>> {
        Box::pin(async move {
            let loaded = self.inner.shared.policy.load();
            Ok(ids
                .iter()
                .take(64)
                .filter_map(|id| {
                    let r = loaded.engine.rules().find(|r| &r.id == id)?;
                    Some(RuleDescription {
                        rule: r.id.clone(),
                        description: r.description.to_string(),
                        category: r.category.to_string(),
                        severity: r.severity.to_string(),
                        advice: advice_for(r.category.as_str()),
                    })
                })
                .collect())
        })
    }

    fn subscribe(&self, filter: Subscribe) -> Reply<'_, Subscription> {
        Box::pin(async move {
            Ok(Subscription::new(
                self.inner.recording.hub.subscribe(filter, 4096),
            ))
        })
    }
}
