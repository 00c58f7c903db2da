//! The hub: the proxy's [`EventSink`] in the product. Each event goes to the recorder (SQLite;
//! its commits wake the SIEM forwarders) and to the live listeners that want it (the notifier,
//! the app's event stream). None of it blocks the request that produced the event.

use leakguard_proxy::events::EventSink;
use leakguard_store::{Recorder, RecorderOptions};
use leakguard_types::Event;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Fan-out of events; shared as `Arc<Hub>`.
#[derive(Debug)]
pub struct Hub {
    recorder: Recorder,
    listeners: Mutex<Vec<Listener>>,
}

/// A live listener and the events it wants.
#[derive(Debug)]
struct Listener {
    tx: std::sync::mpsc::SyncSender<Arc<Event>>,
    wants: fn(&Event) -> bool,
}

impl Hub {
    /// Opens the store at `db` and starts recording.
    pub fn start(db: &Path, options: RecorderOptions) -> Result<Hub, crate::AgentError> {
        let recorder = Recorder::start(db, options)?;
        Ok(Hub {
            recorder,
            listeners: Mutex::new(Vec::new()),
        })
    }

    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Sends the events `wants` accepts to `listener` as they happen (the notifier, the
    /// app's live view). Only those: a thread woken per clean request would cost the proxy
    /// more than the request itself. A listener that falls behind misses events rather than
    /// slowing the guard down.
    pub fn add_listener(
        &self,
        listener: std::sync::mpsc::SyncSender<Arc<Event>>,
        wants: fn(&Event) -> bool,
    ) {
        self.listeners.lock().expect("listeners").push(Listener {
            tx: listener,
            wants,
        });
    }

    /// What to poke after each commit (the SIEM forwarders' wake-ups); replaces the old set.
    pub fn set_wakers(&self, wakers: Vec<std::sync::mpsc::SyncSender<()>>) {
        self.recorder.set_after_commit(wakers);
    }

    /// Commits everything recorded so far.
    pub fn flush(&self) -> Result<(), leakguard_store::StoreError> {
        self.recorder.flush()
    }
}

impl EventSink for Hub {
    fn record(&self, event: Event) {
        {
            let listeners = self.listeners.lock().expect("listeners");
            let mut shared: Option<Arc<Event>> = None;
            for l in listeners.iter().filter(|l| (l.wants)(&event)) {
                let e = shared.get_or_insert_with(|| Arc::new(event.clone()));
                let _ = l.tx.try_send(Arc::clone(e));
            }
        }
        self.recorder.record(event);
    }

    fn location(&self) -> String {
        self.recorder.path().display().to_string()
    }
}
