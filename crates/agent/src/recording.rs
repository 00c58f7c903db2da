//! Recording as the guard runs it: the hub (store + live listeners), the SIEM forwarders and
//! the notifier, configured from the policy and re-configured when it changes.

use crate::notify::{Desktop, NoticeAction, Notifier, RuleNames};
use crate::{AgentError, Forwarders, Hub};
use leakguard_policy::{Policy, SiemTarget};
use leakguard_store::{Recorder, RecorderOptions, Retention};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Undelivered events kept per SIEM target before the oldest are dropped (and counted).
pub const OUTBOX_CAP: u64 = 200_000;

/// The recording side of a running guard.
#[derive(Debug)]
pub struct Recording {
    pub hub: Arc<Hub>,
    db: PathBuf,
    device: String,
    forwarders: Mutex<Option<(Vec<SiemTarget>, Forwarders)>>,
    /// Owned for the life of the recording (the hub holds its sender).
    _notifier: Option<Notifier>,
}

/// Desktop notifications for a recording.
pub struct NotifySetup {
    pub rule_names: RuleNames,
    pub on_action: Arc<dyn Fn(NoticeAction) + Send + Sync>,
}

impl std::fmt::Debug for NotifySetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NotifySetup")
    }
}

fn retention(policy: &Policy) -> Retention {
    Retention {
        max_age_days: policy.events.retention_days,
        max_events: policy.events.max_events,
        ..Retention::default()
    }
}

impl Recording {
    /// Opens the event store in `data_dir`, starts a forwarder per SIEM target of `policy` and,
    /// with `notify`, the desktop notifier.
    ///
    /// # Errors
    /// The store cannot be opened, or a SIEM target is unusable (token or CA file missing).
    pub fn start(
        data_dir: &Path,
        policy: &Policy,
        notify: Option<NotifySetup>,
    ) -> Result<Recording, AgentError> {
        let db = leakguard_store::db_path(data_dir);
        let device = crate::device_name();
        let targets = policy.events.siem.clone();
        let hub = Arc::new(Hub::start(
            &db,
            RecorderOptions {
                device: device.clone(),
                os_user: crate::os_user(),
                retention: retention(policy),
                targets: targets.iter().map(crate::target_key).collect(),
                outbox_cap: OUTBOX_CAP,
                full_durability: false,
            },
        )?);
        let forwarders = Forwarders::start(&db, &targets, &device)?;
        hub.set_wakers(forwarders.wakers());
        let notifier = match notify {
            Some(setup) => {
                let n = Notifier::start(
                    &policy.notifications,
                    setup.rule_names,
                    Desktop::new(setup.on_action),
                )?;
                hub.add_listener(n.sender(), crate::notify::may_notify);
                Some(n)
            }
            None => None,
        };
        Ok(Recording {
            hub,
            db,
            device,
            forwarders: Mutex::new(Some((targets, forwarders))),
            _notifier: notifier,
        })
    }

    pub fn recorder(&self) -> &Recorder {
        self.hub.recorder()
    }

    /// A new policy: new retention limits, and new forwarders if its SIEM targets changed
    /// (undelivered events of a target the policy dropped stay in the database, counted as
    /// pending, until `leakguard events targets` shows them gone).
    ///
    /// # Errors
    /// A new SIEM target is unusable; the old forwarders keep running.
    pub fn apply_policy(&self, policy: &Policy) -> Result<(), AgentError> {
        let targets = policy.events.siem.clone();
        let mut slot = self.forwarders.lock().expect("forwarders");
        let changed = slot.as_ref().is_none_or(|(old, _)| *old != targets);
        if changed {
            let fresh = Forwarders::start(&self.db, &targets, &self.device)?;
            if let Some((_, old)) = slot.take() {
                old.stop();
            }
            self.hub.set_wakers(fresh.wakers());
            *slot = Some((targets.clone(), fresh));
        }
        self.recorder().configure(
            retention(policy),
            targets.iter().map(crate::target_key).collect(),
            OUTBOX_CAP,
        );
        Ok(())
    }

    /// Commits what is queued and stops the forwarders.
    pub fn stop(&self) {
        let _ = self.hub.flush();
        if let Some((_, f)) = self.forwarders.lock().expect("forwarders").take() {
            f.stop();
        }
        self.hub.recorder().stop();
    }
}
