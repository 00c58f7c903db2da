//! What the handlers share: the policy in force, the catalog, the event sink, routes, the CA,
//! counters, warn overrides, rate windows, the clock and the user, and a timed pause.

use crate::body::Limits;
use crate::ca::DeviceCa;
use crate::events::{new_id, now_rfc3339, Event, EventSink};
use crate::inspect::Loaded;
use crate::upstream::Routes;
use arc_swap::ArcSwap;
use leakguard_policy::{Mode, RequestMeta};
use leakguard_providers::Catalog;
use leakguard_types::{Clock, Identity};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a warned request may be allowed, and how long an allowance lasts.
pub const OVERRIDE_TTL: Duration = Duration::from_secs(600);

/// Running totals, for health and the UI.
#[derive(Debug, Default, serde::Serialize)]
pub struct Counters {
    pub requests: AtomicU64,
    pub forwarded: AtomicU64,
    pub redacted: AtomicU64,
    pub blocked: AtomicU64,
    pub warned: AtomicU64,
    pub overridden: AtomicU64,
    pub fail_closed: AtomicU64,
    pub tunnelled: AtomicU64,
    pub bodyless: AtomicU64,
    /// Requests inside a tunnel that named another host (421) or no path (400).
    pub misdirected: AtomicU64,
    /// Connections turned away at the connection cap.
    pub over_capacity: AtomicU64,
    /// Failed accepts (out of descriptors): the loop backs off instead of spinning.
    pub accept_errors: AtomicU64,
}

pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

#[derive(Debug, Default)]
pub(crate) struct Overrides {
    /// code -> (content hash, when warned)
    pending: HashMap<String, ([u8; 32], Instant)>,
    /// content hash -> (granted at, justification)
    granted: HashMap<[u8; 32], (Instant, String)>,
}

/// Why a warned request cannot be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AllowError {
    #[error("a reason is required to allow a warned prompt")]
    NoReason,
    #[error("no warned prompt with that code in the last 10 minutes")]
    Unknown,
}

impl AllowError {
    /// A stable code for the app.
    pub fn code(self) -> &'static str {
        match self {
            AllowError::NoReason => "reason_required",
            AllowError::Unknown => "unknown_code",
        }
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct Shared {
    /// Where uploads beyond the in-memory cap are spooled (the data directory's `spool`;
    /// unset: the system's temporary directory).
    pub spool_dir: std::sync::OnceLock<std::path::PathBuf>,
    pub policy: ArcSwap<Loaded>,
    pub catalog: Arc<Catalog>,
    pub events: Arc<dyn EventSink>,
    pub routes: Arc<Routes>,
    /// The device CA issuing leaves; replaced whole when the agent rotates it.
    pub ca: ArcSwap<DeviceCa>,
    pub limits: Limits,
    /// What bodies being inspected may take of memory at once (`limits.in_flight`).
    pub memory: crate::body::Budget,
    pub control_token: String,
    pub listen: SocketAddr,
    pub counters: Counters,
    /// The upstream TLS config (platform roots + `--upstream-ca`), for WebSocket relays.
    pub upstream_tls: Arc<rustls::ClientConfig>,
    pub(crate) overrides: Mutex<Overrides>,
    /// Per destination group: (when, tokens, whether it is a request) of the last minute: a
    /// request's estimate when it was let through, and what its reply reported beyond it.
    #[allow(clippy::type_complexity)] // one window per group, read in one place
    pub(crate) rate: Mutex<HashMap<String, std::collections::VecDeque<(Instant, u64, bool)>>>,
    /// The time source (exception expiry, pauses).
    pub(crate) clock: Arc<dyn Clock>,
    /// The person the guard acts for (the policy's exceptions by user and group).
    pub(crate) identity: Identity,
    /// A timed pause the policy allows: until this time (ms since the epoch), 0 when none.
    pub(crate) paused_until_ms: std::sync::atomic::AtomicI64,
    /// When a `coverage` event was last recorded, per host and endpoint (one an hour).
    pub(crate) coverage_seen: Mutex<HashMap<String, Instant>>,
}

impl Shared {
    #[allow(clippy::too_many_arguments)] // one call site, each part named at it
    pub fn new(
        loaded: Loaded,
        catalog: Catalog,
        events: Arc<dyn EventSink>,
        routes: Routes,
        ca: Arc<DeviceCa>,
        limits: Limits,
        control_token: String,
        listen: SocketAddr,
        upstream_tls: Arc<rustls::ClientConfig>,
        clock: Arc<dyn Clock>,
        identity: Identity,
    ) -> Shared {
        Shared {
            spool_dir: std::sync::OnceLock::new(),
            policy: ArcSwap::from_pointee(loaded),
            catalog: Arc::new(catalog),
            events,
            routes: Arc::new(routes),
            ca: ArcSwap::new(ca),
            memory: crate::body::Budget::new(limits.in_flight),
            limits,
            control_token,
            listen,
            counters: Counters::default(),
            upstream_tls,
            overrides: Mutex::new(Overrides::default()),
            rate: Mutex::default(),
            clock,
            identity,
            paused_until_ms: std::sync::atomic::AtomicI64::new(0),
            coverage_seen: Mutex::default(),
        }
    }

    /// Now, in ms since the epoch, by the guard's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Pauses enforcement until `until_ms` (0 resumes). The caller checks the policy allows it.
    pub fn pause_until(&self, until_ms: i64) {
        self.paused_until_ms.store(until_ms, Ordering::SeqCst);
    }

    /// When the current pause ends, if one is running.
    pub fn paused_until(&self) -> Option<i64> {
        let until = self.paused_until_ms.load(Ordering::SeqCst);
        (until > self.now_ms()).then_some(until)
    }

    /// The facts of a request that exceptions and pauses use: user, groups, today, paused.
    pub fn meta(&self) -> RequestMeta {
        let now = self.now_ms();
        RequestMeta {
            user: self.identity.user.clone(),
            groups: self.identity.groups.clone(),
            today: u32::try_from(now.div_euclid(86_400_000)).unwrap_or(0),
            paused: self.paused_until_ms.load(Ordering::Relaxed) > now,
            process: None,
        }
    }

    /// Whether `host` is decrypted: it is in a destination group whose mode is not `allow`.
    pub fn intercepts(&self, host: &str) -> bool {
        let loaded = self.policy.load();
        loaded
            .policy()
            .group_of(host)
            .is_some_and(|g| g.mode != Mode::Allow)
    }

    /// The destination group that lists `host` in its `unscanned_hosts` (clients that cannot
    /// trust the device CA): such connections are tunnelled and recorded, never decrypted.
    pub fn unscanned(&self, host: &str) -> Option<String> {
        let loaded = self.policy.load();
        loaded
            .policy()
            .unscanned_group(host)
            .filter(|g| g.mode != Mode::Allow)
            .map(|g| g.name.clone())
    }

    /// Grants a warned request once. `None` if the code is unknown or expired.
    pub fn allow(&self, code: &str, justification: &str) -> Option<()> {
        let mut o = self.overrides.lock().expect("overrides");
        let (hash, at) = o.pending.remove(code)?;
        if at.elapsed() > OVERRIDE_TTL {
            return None;
        }
        o.granted
            .insert(hash, (Instant::now(), justification.to_string()));
        Some(())
    }

    /// Grants the warned request `code` once, with the user's justification, and records it.
    /// Returns how long the grant lasts.
    ///
    /// # Errors
    /// No justification, or no warned request with that code in the last 10 minutes.
    pub fn allow_once(&self, code: &str, justification: &str) -> Result<Duration, AllowError> {
        let justification = justification.trim();
        if justification.is_empty() {
            return Err(AllowError::NoReason);
        }
        self.allow(code, justification).ok_or(AllowError::Unknown)?;
        self.events.record(Event {
            id: new_id(),
            time: now_rfc3339(),
            kind: leakguard_types::EventKind::Override,
            verdict: leakguard_types::EventVerdict::Warn,
            outcome: leakguard_types::Outcome::Overridden,
            override_code: Some(code.to_string()),
            justification: Some(justification.chars().take(500).collect()),
            ..Event::default()
        });
        Ok(OVERRIDE_TTL)
    }

    pub(crate) fn has_grant(&self, hash: &[u8; 32]) -> bool {
        let o = self.overrides.lock().expect("overrides");
        o.granted
            .get(hash)
            .is_some_and(|(at, _)| at.elapsed() <= OVERRIDE_TTL)
    }

    pub(crate) fn take_grant(&self, hash: &[u8; 32]) -> Option<String> {
        let mut o = self.overrides.lock().expect("overrides");
        let (at, why) = o.granted.remove(hash)?;
        (at.elapsed() <= OVERRIDE_TTL).then_some(why)
    }

    pub(crate) fn remember_warn(&self, code: String, hash: [u8; 32]) {
        let mut o = self.overrides.lock().expect("overrides");
        o.pending.retain(|_, (_, at)| at.elapsed() <= OVERRIDE_TTL);
        o.pending.insert(code, (hash, Instant::now()));
    }
}
