//! Recording as the guard runs it: the hub (store + live listeners) and the SIEM forwarders,
//! configured from the policy and re-configured when it changes.

use crate::{AgentError, Forwarders, Hub};
use leakguard_policy::{Policy, SiemTarget};
use leakguard_store::{Recorder, RecorderOptions, Retention};
use leakguard_types::Identity;
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
}

fn retention(policy: &Policy) -> Retention {
    Retention {
        max_age_days: policy.events.retention_days,
        max_events: policy.events.max_events,
        ..Retention::default()
    }
}

impl Recording {
    /// Opens the event store in `data_dir` and starts a forwarder per SIEM target of `policy`;
    /// every event carries `identity`'s device and user.
    ///
    /// # Errors
    /// The store cannot be opened, or a SIEM target is unusable (token or CA file missing).
    pub fn start(
        data_dir: &Path,
        policy: &Policy,
        identity: &Identity,
    ) -> Result<Recording, AgentError> {
        let db = leakguard_store::db_path(data_dir);
        let device = identity.device.clone();
        let targets = policy.events.siem.clone();
        let hub = Arc::new(Hub::start(
            &db,
            RecorderOptions {
                device: device.clone(),
                os_user: identity.user.clone().unwrap_or_else(|| "unknown".into()),
                retention: retention(policy),
                targets: targets.iter().map(crate::target_key).collect(),
                outbox_cap: OUTBOX_CAP,
                full_durability: false,
            },
        )?);
        let forwarders = Forwarders::start(&db, &targets, &device)?;
        hub.set_wakers(forwarders.wakers());
        Ok(Recording {
            hub,
            db,
            device,
            forwarders: Mutex::new(Some((targets, forwarders))),
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
