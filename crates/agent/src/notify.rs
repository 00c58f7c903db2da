//! Desktop notifications: one line that says what happened and why, the moment a prompt is
//! blocked, held or redacted. A burst becomes one summary instead of fifty toasts: the first
//! event of a quiet period shows at once, the rest of the window are summed up when it closes.
//!
//! The coalescing is pure ([`Coalescer`], time passed in); showing goes through notify-rust
//! (D-Bus `org.freedesktop.Notifications` on Linux, Notification Center on macOS, toasts on
//! Windows). Actions (Allow once…, View details, Report false positive) call back into the
//! agent where the platform supports them.

use leakguard_policy::Notifications;
use leakguard_types::{Action, Event};
use std::collections::BTreeMap;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// What a user can do from a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeAction {
    /// Open the desktop app's allow-once dialog for this warn code.
    AllowOnce { code: String },
    /// Show the event (or the event list for a summary) in the desktop app.
    ViewDetails { event_id: Option<String> },
    /// Record that this finding was a false positive.
    ReportFalsePositive { event_id: String },
}

// Buttons on a notification are a freedesktop feature: on macOS and Windows the notice
// points to the app instead.
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
impl NoticeAction {
    fn key(&self) -> &'static str {
        match self {
            NoticeAction::AllowOnce { .. } => "allow-once",
            NoticeAction::ViewDetails { .. } => "view-details",
            NoticeAction::ReportFalsePositive { .. } => "report-false-positive",
        }
    }

    fn label(&self) -> &'static str {
        match self {
            NoticeAction::AllowOnce { .. } => "Allow once…",
            NoticeAction::ViewDetails { .. } => "View details",
            NoticeAction::ReportFalsePositive { .. } => "Report false positive",
        }
    }
}

/// One notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub summary: String,
    pub body: String,
    pub actions: Vec<NoticeAction>,
    /// Blocks are critical (they stay until dismissed on most desktops).
    pub critical: bool,
}

/// Friendly rule names: `aws-secret-access-key` -> `AWS secret access key`.
pub type RuleNames = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Whether an event can ever become a notification (the hub's filter for the notifier).
pub fn may_notify(e: &Event) -> bool {
    action_of(e).is_some()
}

/// The action an event's outcome stands for, if it is one a user is told about.
fn action_of(e: &Event) -> Option<Action> {
    if !matches!(e.kind.as_str(), "request" | "websocket") {
        return None;
    }
    match e.outcome.as_str() {
        "blocked" | "refused" => Some(Action::Block),
        "warned" => Some(Action::Warn),
        "redacted" => Some(Action::Redact),
        _ => None,
    }
}

/// The notification for one event.
pub fn notice_for(e: &Event, names: &RuleNames) -> Notice {
    let rule = e.rules.first();
    let what = rule
        .map(|r| {
            names(&r.rule)
                .map(|d| short_description(&d))
                .unwrap_or_else(|| r.rule.clone())
        })
        .or_else(|| e.reason.clone())
        .unwrap_or_else(|| "content your policy protects".into());
    let place = if e.host.is_empty() {
        String::new()
    } else {
        format!(" in a prompt to {}", e.host)
    };
    let more = e.rules.len().saturating_sub(1);
    let more = if more > 0 {
        format!(
            " and {more} more finding type{}",
            if more == 1 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    let rule_line = rule.map_or_else(String::new, |r| format!(" — rule {}", r.rule));
    let (verb, body) = match e.outcome.as_str() {
        "warned" => (
            "Held",
            format!(
                "Nothing was sent. If it is fine to share, choose Allow once… (code {}).",
                e.override_code.as_deref().unwrap_or("-")
            ),
        ),
        "redacted" => (
            "Redacted",
            "The prompt was sent with placeholders in place of the sensitive values.".to_string(),
        ),
        _ => ("Blocked", "Nothing was sent.".to_string()),
    };
    let mut actions = Vec::new();
    if let (Some(code), "warned") = (&e.override_code, e.outcome.as_str()) {
        actions.push(NoticeAction::AllowOnce { code: code.clone() });
    }
    actions.push(NoticeAction::ViewDetails {
        event_id: Some(e.id.clone()),
    });
    if rule.is_some() {
        actions.push(NoticeAction::ReportFalsePositive {
            event_id: e.id.clone(),
        });
    }
    Notice {
        summary: format!("{verb}: {what}{more}{place}{rule_line}"),
        body,
        actions,
        critical: verb == "Blocked",
    }
}

/// "OpenAI API key (legacy or project…)" -> "OpenAI API key".
fn short_description(d: &str) -> String {
    d.split(" (").next().unwrap_or(d).trim().to_string()
}

/// The summary of a burst.
pub fn summary_for(events: &[Arc<Event>], window: Duration) -> Notice {
    let mut by_host: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rules: Vec<&str> = Vec::new();
    let (mut blocked, mut held, mut redacted) = (0, 0, 0);
    for e in events {
        *by_host.entry(e.host.as_str()).or_default() += 1;
        for r in &e.rules {
            if !rules.contains(&r.rule.as_str()) {
                rules.push(&r.rule);
            }
        }
        match e.outcome.as_str() {
            "warned" => held += 1,
            "redacted" => redacted += 1,
            _ => blocked += 1,
        }
    }
    let mut parts = Vec::new();
    for (n, word) in [(blocked, "blocked"), (held, "held"), (redacted, "redacted")] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    let hosts: Vec<String> = by_host.iter().map(|(h, n)| format!("{h} ×{n}")).collect();
    rules.truncate(5);
    Notice {
        summary: format!(
            "Leakguard: {} more prompt{} in the last {} s ({})",
            events.len(),
            if events.len() == 1 { "" } else { "s" },
            window.as_secs().max(1),
            parts.join(", ")
        ),
        body: format!("{} — rules: {}", hosts.join(", "), rules.join(", ")),
        actions: vec![NoticeAction::ViewDetails { event_id: None }],
        critical: blocked > 0,
    }
}

/// Turns a stream of events into notifications: the first of a quiet period at once, the rest
/// of its window as one summary when the window closes.
#[derive(Debug)]
pub struct Coalescer {
    window: Duration,
    on: Vec<Action>,
    window_start: Option<Instant>,
    pending: Vec<Arc<Event>>,
}

impl Coalescer {
    pub fn new(settings: &Notifications) -> Coalescer {
        Coalescer {
            window: Duration::from_secs(u64::from(settings.coalesce_seconds)),
            on: settings.on.clone(),
            window_start: None,
            pending: Vec::new(),
        }
    }

    /// For tests and callers that count in milliseconds.
    pub fn with_window(mut self, window: Duration) -> Coalescer {
        self.window = window;
        self
    }

    /// An event arrived at `now`: `Some` when it is shown at once.
    pub fn offer(&mut self, e: Arc<Event>, now: Instant) -> Option<Arc<Event>> {
        if !action_of(&e).is_some_and(|a| self.on.contains(&a)) {
            return None;
        }
        match self.window_start {
            Some(start) if now.duration_since(start) < self.window => {
                self.pending.push(e);
                None
            }
            _ => {
                self.window_start = Some(now);
                Some(e)
            }
        }
    }

    /// When the next [`Coalescer::tick`] can have something to say.
    pub fn deadline(&self) -> Option<Instant> {
        self.window_start
            .filter(|_| !self.pending.is_empty())
            .map(|s| s + self.window)
    }

    /// At `now`: the summary of a window that has closed with events in it. A summary opens
    /// a new window, so a steady stream gives one summary per window.
    pub fn tick(&mut self, now: Instant) -> Option<Vec<Arc<Event>>> {
        let deadline = self.deadline()?;
        if now < deadline {
            return None;
        }
        self.window_start = Some(now);
        Some(std::mem::take(&mut self.pending))
    }

    pub fn window(&self) -> Duration {
        self.window
    }
}

/// Where notices go: the desktop (notify-rust) or, in tests of the coalescing, a channel.
pub trait Show: Send + 'static {
    /// # Errors
    /// The platform could not show it (no notification service).
    fn show(&mut self, notice: &Notice) -> Result<(), String>;
}

impl Show for Box<dyn Show> {
    fn show(&mut self, notice: &Notice) -> Result<(), String> {
        (**self).show(notice)
    }
}

/// The desktop's notification service.
pub struct Desktop {
    on_action: Arc<dyn Fn(NoticeAction) + Send + Sync>,
    /// Threads waiting for a click (a notice nobody dismisses keeps one waiting).
    waiting: Arc<std::sync::atomic::AtomicUsize>,
}

/// At most this many notices wait for a click; beyond it notices are shown without buttons.
const MAX_WAITING: usize = 8;

impl std::fmt::Debug for Desktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Desktop")
    }
}

impl Desktop {
    pub fn new(on_action: Arc<dyn Fn(NoticeAction) + Send + Sync>) -> Desktop {
        Desktop {
            on_action,
            waiting: Arc::default(),
        }
    }
}

impl Show for Desktop {
    fn show(&mut self, notice: &Notice) -> Result<(), String> {
        use std::sync::atomic::Ordering;
        let buttons = self.waiting.load(Ordering::SeqCst) < MAX_WAITING;
        let mut n = notify_rust::Notification::new();
        n.appname("Leakguard")
            .summary(&notice.summary)
            .body(&notice.body)
            .icon("security-high");
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            n.urgency(if notice.critical {
                notify_rust::Urgency::Critical
            } else {
                notify_rust::Urgency::Normal
            });
            if buttons {
                for a in &notice.actions {
                    n.action(a.key(), a.label());
                }
            }
        }
        let handle = n.show().map_err(|e| e.to_string())?;
        #[cfg(all(unix, not(target_os = "macos")))]
        if buttons && !notice.actions.is_empty() {
            let actions = notice.actions.clone();
            let on_action = Arc::clone(&self.on_action);
            let waiting = Arc::clone(&self.waiting);
            waiting.fetch_add(1, Ordering::SeqCst);
            // Waiting for a click blocks until the notification closes: on its own thread.
            let spawned = std::thread::Builder::new()
                .name("leakguard-notice".into())
                .spawn(move || {
                    handle.wait_for_action(|key| {
                        if let Some(a) = actions.iter().find(|a| a.key() == key) {
                            on_action(a.clone());
                        }
                    });
                    waiting.fetch_sub(1, Ordering::SeqCst);
                });
            if spawned.is_err() {
                self.waiting.fetch_sub(1, Ordering::SeqCst);
            }
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = (handle, &self.on_action, buttons);
        Ok(())
    }
}

/// The notifier thread's handle: send it events.
#[derive(Debug)]
pub struct Notifier {
    tx: mpsc::SyncSender<Arc<Event>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Notifier {
    /// Starts the notifier: events sent to [`Notifier::sender`] are coalesced and shown.
    pub fn start(
        settings: &Notifications,
        names: RuleNames,
        mut show: impl Show,
    ) -> std::io::Result<Notifier> {
        let (tx, rx) = mpsc::sync_channel::<Arc<Event>>(1024);
        let mut coalescer = Coalescer::new(settings);
        let thread = std::thread::Builder::new()
            .name("leakguard-notifier".into())
            .spawn(move || {
                let mut warned = false;
                let mut display = |notice: Notice| {
                    if let Err(e) = show.show(&notice) {
                        if !warned {
                            eprintln!("leakguard: cannot show a desktop notification ({e}); events are still recorded");
                            warned = true;
                        }
                    }
                };
                loop {
                    let wait = coalescer
                        .deadline()
                        .map(|d| d.saturating_duration_since(Instant::now()));
                    let got = match wait {
                        Some(w) => rx.recv_timeout(w),
                        None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                    };
                    match got {
                        Ok(e) => {
                            if let Some(e) = coalescer.offer(e, Instant::now()) {
                                display(notice_for(&e, &names));
                            }
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                    if let Some(burst) = coalescer.tick(Instant::now()) {
                        display(summary_for(&burst, coalescer.window()));
                    }
                }
            })?;
        Ok(Notifier {
            tx,
            thread: Some(thread),
        })
    }

    /// Where to send events (hand it to [`crate::Hub::add_listener`]).
    pub fn sender(&self) -> mpsc::SyncSender<Arc<Event>> {
        self.tx.clone()
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        // The thread ends when every sender is gone; do not wait for listeners held elsewhere.
        let _ = self.thread.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakguard_types::RuleCount;

    fn blocked(i: usize, host: &str, rule: &str) -> Arc<Event> {
        Arc::new(Event {
            id: format!("e{i}"),
            kind: leakguard_types::EventKind::Request,
            host: host.into(),
            verdict: leakguard_types::EventVerdict::Block,
            outcome: leakguard_types::Outcome::Blocked,
            rules: vec![RuleCount {
                rule: rule.into(),
                category: "secret".into(),
                action: "block".into(),
                count: 1,
            }],
            ..Event::default()
        })
    }

    fn names() -> RuleNames {
        Arc::new(|id: &str| {
            (id == "aws-secret-access-key")
                .then(|| "AWS secret access key (40 characters, in context)".to_string())
        })
    }

    #[test]
    fn one_line_says_what_where_and_which_rule() {
        let n = notice_for(
            &blocked(1, "chatgpt.com", "aws-secret-access-key"),
            &names(),
        );
        assert_eq!(
            n.summary,
            "Blocked: AWS secret access key in a prompt to chatgpt.com — rule aws-secret-access-key"
        );
        assert!(n.critical);
        assert_eq!(n.actions.len(), 2, "view details, report false positive");
        let mut warned = (*blocked(2, "claude.ai", "jwt")).clone();
        warned.outcome = leakguard_types::Outcome::Warned;
        warned.override_code = Some("K7Q2".into());
        let n = notice_for(&warned, &names());
        assert!(
            n.summary.starts_with("Held: jwt in a prompt to claude.ai"),
            "{}",
            n.summary
        );
        assert!(n.body.contains("K7Q2"));
        assert_eq!(
            n.actions[0],
            NoticeAction::AllowOnce {
                code: "K7Q2".into()
            }
        );
    }

    #[test]
    fn a_burst_gives_one_notice_then_one_summary_per_window() {
        let mut c = Coalescer::new(&Notifications::default()).with_window(Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(c.offer(blocked(0, "chatgpt.com", "jwt"), t0).is_some());
        for i in 1..50 {
            let host = if i % 2 == 0 {
                "chatgpt.com"
            } else {
                "claude.ai"
            };
            assert!(c
                .offer(
                    blocked(i, host, "jwt"),
                    t0 + Duration::from_millis(i as u64 * 10)
                )
                .is_none());
        }
        assert!(
            c.tick(t0 + Duration::from_secs(9)).is_none(),
            "window still open"
        );
        assert_eq!(c.deadline(), Some(t0 + Duration::from_secs(10)));
        let burst = c.tick(t0 + Duration::from_secs(10)).unwrap();
        assert_eq!(burst.len(), 49);
        let s = summary_for(&burst, c.window());
        assert_eq!(
            s.summary,
            "Leakguard: 49 more prompts in the last 10 s (49 blocked)"
        );
        assert_eq!(s.body, "chatgpt.com ×24, claude.ai ×25 — rules: jwt");
        assert!(
            c.tick(t0 + Duration::from_secs(30)).is_none(),
            "nothing pending"
        );
        // After a quiet window the next event shows at once again.
        assert!(c
            .offer(
                blocked(99, "claude.ai", "jwt"),
                t0 + Duration::from_secs(31)
            )
            .is_some());
    }

    #[test]
    fn only_the_configured_outcomes_notify() {
        let settings = Notifications {
            on: vec![Action::Block],
            ..Notifications::default()
        };
        let mut c = Coalescer::new(&settings);
        let mut redacted = (*blocked(1, "claude.ai", "email")).clone();
        redacted.outcome = leakguard_types::Outcome::Redacted;
        assert!(c.offer(Arc::new(redacted), Instant::now()).is_none());
        let mut allowed = (*blocked(2, "claude.ai", "email")).clone();
        allowed.outcome = leakguard_types::Outcome::Forwarded;
        assert!(c.offer(Arc::new(allowed), Instant::now()).is_none());
        let mut policy = (*blocked(3, "", "x")).clone();
        policy.kind = leakguard_types::EventKind::Policy;
        assert!(c.offer(Arc::new(policy), Instant::now()).is_none());
        assert!(c
            .offer(blocked(4, "claude.ai", "jwt"), Instant::now())
            .is_some());
    }
}
