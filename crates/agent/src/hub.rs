//! The hub: the proxy's [`EventSink`] in the product. Each event goes to the recorder (SQLite),
//! wakes the SIEM forwarders, and is offered to live listeners (the notifier, the app's event
//! stream). None of it blocks the request that produced the event.

use leakguard_proxy::events::EventSink;
use leakguard_store::{Recorder, RecorderOptions};
use leakguard_types::Event;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Fan-out of events; shared as `Arc<Hub>`.
#[derive(Debug)]
pub struct Hub {
    recorder: Recorder,
    listeners: Mutex<Vec<std::sync::mpsc::SyncSender<Arc<Event>>>>,
    wakers: Mutex<Vec<std::sync::mpsc::SyncSender<()>>>,
}

impl Hub {
    /// Opens the store at `db` and starts recording.
    pub fn start(db: &Path, options: RecorderOptions) -> Result<Hub, crate::AgentError> {
        let recorder = Recorder::start(db, options)?;
        Ok(Hub {
            recorder,
            listeners: Mutex::new(Vec::new()),
            wakers: Mutex::new(Vec::new()),
        })
    }

    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Sends every event to `listener` as it happens (the notifier, the app's live view). A
    /// listener that falls behind misses events rather than slowing the guard down.
    pub fn add_listener(&self, listener: std::sync::mpsc::SyncSender<Arc<Event>>) {
        self.listeners.lock().expect("listeners").push(listener);
    }

    /// What to poke after each event (the SIEM forwarders' wake-ups); replaces the old set.
    pub fn set_wakers(&self, wakers: Vec<std::sync::mpsc::SyncSender<()>>) {
        *self.wakers.lock().expect("wakers") = wakers;
    }

    /// Commits everything recorded so far.
    pub fn flush(&self) -> Result<(), leakguard_store::StoreError> {
        self.recorder.flush()?;
        for w in self.wakers.lock().expect("wakers").iter() {
            let _ = w.try_send(());
        }
        Ok(())
    }
}

impl EventSink for Hub {
    fn record(&self, event: &Event) {
        self.recorder.record(event.clone());
        let listeners = self.listeners.lock().expect("listeners");
        if !listeners.is_empty() {
            let shared = Arc::new(event.clone());
            for l in listeners.iter() {
                let _ = l.try_send(Arc::clone(&shared));
            }
        }
        drop(listeners);
        for w in self.wakers.lock().expect("wakers").iter() {
            // Full means a wake-up is already pending: enough.
            let _ = w.try_send(());
        }
    }

    fn location(&self) -> String {
        self.recorder.path().display().to_string()
    }
}
