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

/// A live listener and the events it wants. `deliver` answers false once the listener is
/// gone, and it is then dropped.
struct Listener {
    deliver: Deliver,
    wants: Box<dyn Fn(&Event) -> bool + Send + Sync>,
}

/// Hands an event to a listener; false once the listener is gone.
type Deliver = Box<dyn Fn(&Arc<Event>) -> bool + Send + Sync>;

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listener")
    }
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
        use std::sync::mpsc::TrySendError;
        self.listeners.lock().expect("listeners").push(Listener {
            deliver: Box::new(move |e| {
                !matches!(
                    listener.try_send(Arc::clone(e)),
                    Err(TrySendError::Disconnected(_))
                )
            }),
            wants: Box::new(wants),
        });
    }

    /// A live subscription (the app's event stream): the events `filter` accepts, up to
    /// `capacity` waiting; a subscriber that falls further behind misses events.
    pub fn subscribe(
        &self,
        filter: crate::Subscribe,
        capacity: usize,
    ) -> tokio::sync::mpsc::Receiver<Event> {
        use tokio::sync::mpsc::error::TrySendError;
        let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
        self.listeners.lock().expect("listeners").push(Listener {
            deliver: Box::new(move |e| {
                !matches!(tx.try_send(Event::clone(e)), Err(TrySendError::Closed(_)))
            }),
            wants: Box::new(move |e| filter.accepts(e)),
        });
        rx
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

impl Hub {
    /// Hands `event` to the listeners that want it.
    fn tell_listeners(&self, event: &Event) {
        let mut listeners = self.listeners.lock().expect("listeners");
        let mut shared: Option<Arc<Event>> = None;
        listeners.retain(|l| {
            if !(l.wants)(event) {
                return true;
            }
            let e = shared.get_or_insert_with(|| Arc::new(event.clone()));
            (l.deliver)(e)
        });
    }
}

impl EventSink for Hub {
    fn record(&self, event: Event) {
        self.tell_listeners(&event);
        self.recorder.record(event);
    }

    fn record_durable(&self, event: Event) -> bool {
        self.tell_listeners(&event);
        self.recorder.record_journaled(event)
    }

    /// Straight onto the request's row: an answer with nothing to report is no news to a
    /// listener (the request's own event was told), and costs the store no row.
    fn record_answer(
        &self,
        answer: leakguard_types::Answer,
        _reply: &mut dyn FnMut(leakguard_types::Answer) -> Event,
    ) {
        self.recorder.record_answer(answer);
    }

    fn failure(&self) -> Option<String> {
        self.recorder.counters.failure()
    }

    fn location(&self) -> String {
        self.recorder.path().display().to_string()
    }
}
