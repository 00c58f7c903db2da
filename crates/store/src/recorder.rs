//! The recorder: the one writer of the event database, on its own thread. The guard hands it
//! events without waiting; it commits whatever has queued up in one transaction, applies
//! retention a little at a time, and spills to a private JSON-lines file if the database
//! refuses a write, importing that file back the next time it starts. Nothing the guard
//! decided is lost to a full disk or a locked file.

use crate::{now_ms, Event, Result, Retention, Store, StoreError};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How the recorder stamps, keeps and forwards events.
#[derive(Debug, Clone)]
pub struct RecorderOptions {
    /// Written into events that do not name a device / user.
    pub device: String,
    pub os_user: String,
    pub retention: Retention,
    /// SIEM target keys every event is queued for.
    pub targets: Vec<String>,
    pub outbox_cap: u64,
    /// fsync on every commit (survives power loss, not only crashes).
    pub full_durability: bool,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions {
            device: String::new(),
            os_user: String::new(),
            retention: Retention::default(),
            targets: Vec::new(),
            outbox_cap: 100_000,
            full_durability: false,
        }
    }
}

enum Msg {
    /// An event, and for a journaled one the journal's length after its line.
    Event(Box<Event>, Option<u64>),
    /// What an answer with nothing to report says, for its request's row.
    Answer(Box<leakguard_types::Answer>),
    Flush(mpsc::SyncSender<()>),
    Configure(Retention, Vec<String>, u64),
}

/// Counters of the recorder.
#[derive(Debug, Default)]
pub struct RecorderCounters {
    pub committed: AtomicU64,
    pub spilled: AtomicU64,
    pub pruned: AtomicU64,
    /// Events the writer could neither commit nor spill, waiting in memory for the disk.
    pub held: AtomicU64,
    /// Events dropped because the in-memory queue was full (oldest first).
    pub dropped: AtomicU64,
    /// Why events cannot be written right now; `None` when they can.
    failure: Mutex<Option<String>>,
    /// Whether `failure` is set: read on every request, so without the lock.
    failing: std::sync::atomic::AtomicBool,
}

impl RecorderCounters {
    /// Why events cannot be written right now, if they cannot.
    pub fn failure(&self) -> Option<String> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        self.failure.lock().expect("failure").clone()
    }

    fn set_failure(&self, why: Option<String>) {
        let mut f = self.failure.lock().expect("failure");
        self.failing.store(why.is_some(), Ordering::Release);
        *f = why;
    }
}

/// A handle on the writer thread; cheap to share (`Arc`).
#[derive(Debug)]
pub struct Recorder {
    tx: Mutex<Option<mpsc::SyncSender<Msg>>>,
    journal: Arc<Mutex<Journal>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    path: PathBuf,
    pub counters: Arc<RecorderCounters>,
    after_commit: Arc<Mutex<Vec<mpsc::SyncSender<()>>>>,
}

/// The journal: each event the guard is about to answer for is appended here (one `write`,
/// no fsync: it survives a crash of the process, which is what a SIGKILL is) before the
/// answer leaves; the writer commits to the database in groups as before, and empties the
/// journal once everything in it is committed. Read back (idempotently, by event id) at the
/// next start.
#[derive(Debug)]
struct Journal {
    file: Option<std::fs::File>,
    path: PathBuf,
    len: u64,
}

/// The journal is emptied once everything in it is committed and it has grown past this.
const JOURNAL_TRIM: u64 = 256 << 10;

/// Events queued beyond this make `record` wait for the writer (a stuck disk slows the guard
/// down rather than losing events or growing without bound).
const QUEUE: usize = 100_000;
const BATCH: usize = 2_000;
/// How long the writer gathers events after the first of a burst before committing (not when
/// someone waits for the commit: then it commits at once).
const GATHER: Duration = Duration::from_millis(25);
/// Events kept in memory while neither the database nor the spill file can be written.
const HELD_MAX: usize = 10_000;
/// How often the writer tries the disk again while it holds events.
const RETRY: Duration = Duration::from_secs(1);
const PRUNE_EVERY: Duration = Duration::from_secs(30);
const PRUNE_BUDGET: usize = 5_000;

impl Recorder {
    /// Opens the database at `path` (errors surface here, on the caller's thread) and starts
    /// the writer.
    pub fn start(path: &Path, options: RecorderOptions) -> Result<Recorder> {
        let mut store = Store::open(path)?;
        store.set_full_durability(options.full_durability)?;
        store.set_targets(options.targets.clone(), options.outbox_cap);
        store.set_identity(&options.device, &options.os_user);
        let spill = spill_path(path);
        import_spill(&mut store, &spill)?;
        let journal_path = path.with_file_name("events-journal.jsonl");
        import_spill(&mut store, &journal_path)?;
        let journal = Arc::new(Mutex::new(Journal {
            file: open_append(&journal_path).ok(),
            path: journal_path,
            len: 0,
        }));
        let counters = Arc::new(RecorderCounters::default());
        let after_commit: Arc<Mutex<Vec<mpsc::SyncSender<()>>>> = Arc::default();
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let thread = {
            let counters = Arc::clone(&counters);
            let after_commit = Arc::clone(&after_commit);
            let journal = Arc::clone(&journal);
            std::thread::Builder::new()
                .name("leakguard-recorder".into())
                .spawn(move || {
                    writer(
                        store,
                        rx,
                        options,
                        spill,
                        &counters,
                        &after_commit,
                        &journal,
                    )
                })?
        };
        Ok(Recorder {
            tx: Mutex::new(Some(tx)),
            journal,
            thread: Mutex::new(Some(thread)),
            path: path.to_path_buf(),
            counters,
            after_commit,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Poked (without blocking) after every commit: the SIEM forwarders' wake-ups.
    pub fn set_after_commit(&self, wakers: Vec<mpsc::SyncSender<()>>) {
        *self.after_commit.lock().expect("wakers") = wakers;
    }

    /// Queues an event; returns at once unless 100,000 are already waiting.
    pub fn record(&self, event: Event) {
        if let Some(tx) = self.tx.lock().expect("recorder").as_ref() {
            let _ = tx.send(Msg::Event(Box::new(event), None));
        }
    }

    /// Queues what an answer with nothing to report says (token counts, the model that
    /// served it): it goes onto its request's row, with no row of its own.
    pub fn record_answer(&self, answer: leakguard_types::Answer) {
        if let Some(tx) = self.tx.lock().expect("recorder").as_ref() {
            let _ = tx.send(Msg::Answer(Box::new(answer)));
        }
    }

    /// Appends the event to the journal, then queues it: when this returns `true` the event
    /// survives a crash of the process. `false`: the journal could not be written (a full
    /// disk); the event is queued all the same and the failure is reported.
    pub fn record_journaled(&self, event: Event) -> bool {
        let mut line = match serde_json::to_vec(&event) {
            Ok(l) => l,
            Err(_) => {
                self.record(event);
                return false;
            }
        };
        line.push(b'\n');
        let tx = self.tx.lock().expect("recorder");
        let Some(tx) = tx.as_ref() else {
            return false;
        };
        // The journal's order is the queue's: both under the journal's lock.
        let mut guard = self.journal.lock().expect("journal");
        let j = &mut *guard;
        let written = match j.file.as_mut() {
            Some(f) => match f.write_all(&line) {
                Ok(()) => true,
                Err(e) => {
                    // A partial line would spoil the next one: cut it off.
                    let _ = f.set_len(j.len);
                    self.counters.set_failure(Some(format!(
                        "events cannot be written: {} says \"{e}\" (is the disk full?)",
                        j.path.display()
                    )));
                    false
                }
            },
            None => false,
        };
        if written {
            j.len += line.len() as u64;
        }
        let mark = written.then_some(j.len);
        let _ = tx.send(Msg::Event(Box::new(event), mark));
        written
    }

    /// Waits until every event queued before this call is committed (or spilled).
    pub fn flush(&self) -> Result<()> {
        let (done_tx, done_rx) = mpsc::sync_channel(1);
        let tx = self.tx.lock().expect("recorder").clone();
        tx.ok_or(StoreError::Stopped)?
            .send(Msg::Flush(done_tx))
            .map_err(|_| StoreError::Stopped)?;
        done_rx.recv().map_err(|_| StoreError::Stopped)
    }

    /// New retention limits and SIEM targets (after a policy reload).
    pub fn configure(&self, retention: Retention, targets: Vec<String>, outbox_cap: u64) {
        if let Some(tx) = self.tx.lock().expect("recorder").as_ref() {
            let _ = tx.send(Msg::Configure(retention, targets, outbox_cap));
        }
    }

    /// Commits what is queued and stops the writer.
    pub fn stop(&self) {
        drop(self.tx.lock().expect("recorder").take());
        if let Some(t) = self.thread.lock().expect("recorder").take() {
            let _ = t.join();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spill_path(db: &Path) -> PathBuf {
    db.with_file_name("events-unstored.jsonl")
}

fn writer(
    mut store: Store,
    rx: mpsc::Receiver<Msg>,
    mut options: RecorderOptions,
    spill: PathBuf,
    counters: &RecorderCounters,
    after_commit: &Mutex<Vec<mpsc::SyncSender<()>>>,
    journal: &Mutex<Journal>,
) {
    lower_priority();
    let mut last_prune: Option<Instant> = None;
    let mut backlog = false;
    let mut w = Writer {
        spill,
        counters,
        after_commit,
        held: std::collections::VecDeque::new(),
        dropped_unrecorded: 0,
        journal,
        journal_mark: 0,
        committed_mark: 0,
    };
    // Emptied by every commit; their room is kept from one burst to the next.
    let mut batch: Vec<Event> = Vec::new();
    let mut answers = Vec::new();
    loop {
        let wait = if !w.held.is_empty() {
            RETRY
        } else if backlog {
            Duration::from_millis(50)
        } else {
            PRUNE_EVERY
        };
        let first = match rx.recv_timeout(wait) {
            Ok(m) => Some(m),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Stopping: one last try for what is held.
                w.commit(&mut store, &mut Vec::new(), &mut Vec::new(), &options);
                w.trim_journal(0);
                break;
            }
        };
        let mut flushes = Vec::new();
        let gather_from = Instant::now();
        let mut gathered = false;
        let mut next = first;
        while let Some(msg) = next {
            match msg {
                // The store stamps the device and OS user (`Store::set_identity`).
                Msg::Event(e, mark) => {
                    batch.push(*e);
                    if let Some(m) = mark {
                        w.journal_mark = m;
                    }
                }
                Msg::Answer(a) => answers.push(*a),
                Msg::Flush(done) => flushes.push(done),
                Msg::Configure(retention, targets, cap) => {
                    // Events queued so far go to the targets they were queued under.
                    w.commit(&mut store, &mut batch, &mut answers, &options);
                    options.retention = retention;
                    store.set_targets(targets, cap);
                }
            }
            // Group commit: events arriving within GATHER of the first share its transaction
            // (one commit per burst instead of one per request); a flush or a full batch
            // ends the gathering.
            next = if batch.len() + answers.len() >= BATCH || !flushes.is_empty() {
                None
            } else {
                match rx.try_recv() {
                    Ok(m) => Some(m),
                    Err(_) if !gathered && batch.len() + answers.len() > 0 => {
                        // Sleep rather than wait on the channel: senders then never pay
                        // for waking this thread, one wake-up per burst instead of per event.
                        gathered = true;
                        std::thread::sleep(GATHER.saturating_sub(gather_from.elapsed()));
                        rx.try_recv().ok()
                    }
                    Err(_) => None,
                }
            };
        }
        w.commit(&mut store, &mut batch, &mut answers, &options);
        w.trim_journal(JOURNAL_TRIM);
        for done in flushes {
            let _ = done.send(());
        }
        if backlog || last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(Instant::now());
            match store.prune(&options.retention, now_ms(), PRUNE_BUDGET) {
                Ok(n) => {
                    counters.pruned.fetch_add(n as u64, Ordering::Relaxed);
                    backlog = n == PRUNE_BUDGET;
                }
                Err(e) => {
                    eprintln!("leakguard: event retention failed: {e}");
                    backlog = false;
                }
            }
        }
    }
}

/// Recording can wait a few milliseconds; the requests the guard is forwarding cannot. On
/// Linux, where nice values are per thread, the writer gives way to the proxy's threads.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        let _ = rustix::process::setpriority_process(Some(tid), 10);
    }
}

struct Writer<'a> {
    spill: PathBuf,
    counters: &'a RecorderCounters,
    after_commit: &'a Mutex<Vec<mpsc::SyncSender<()>>>,
    /// Events neither the database nor the spill file took, oldest first.
    held: std::collections::VecDeque<Event>,
    /// Dropped from `held` and not yet recorded as dropped.
    dropped_unrecorded: u64,
    journal: &'a Mutex<Journal>,
    /// The journal's length after the last journaled event taken from the queue, and after
    /// the last one safely stored.
    journal_mark: u64,
    committed_mark: u64,
}

impl Writer<'_> {
    /// Commits what is held and `batch` (or spills them); what neither takes is held in
    /// memory, up to [`HELD_MAX`] events (beyond that the oldest are dropped and counted).
    /// Pokes the SIEM forwarders.
    fn commit(
        &mut self,
        store: &mut Store,
        batch: &mut Vec<Event>,
        answers: &mut Vec<leakguard_types::Answer>,
        options: &RecorderOptions,
    ) {
        if batch.is_empty() && answers.is_empty() && self.held.is_empty() {
            return;
        }
        // The batch itself is written (and emptied afterwards, keeping its room for the next
        // one); what is held goes in front of it.
        if !self.held.is_empty() {
            batch.splice(0..0, self.held.drain(..));
        }
        let all = batch;
        let stored = store
            .insert_with(all, answers)
            .or_else(|_| store.insert_with(all, answers));
        if stored.is_err() {
            // Spilled or held with the events, as `reply` events the store folds in later.
            all.extend(answers.drain(..).map(leakguard_types::Answer::into_event));
        }
        answers.clear();
        let ok = match stored {
            Ok(_) => {
                self.counters
                    .committed
                    .fetch_add(all.len() as u64, Ordering::Relaxed);
                for w in self.after_commit.lock().expect("wakers").iter() {
                    // Full: a wake-up is already pending.
                    let _ = w.try_send(());
                }
                true
            }
            Err(e) => match append_spill(&self.spill, all) {
                Ok(()) => {
                    eprintln!(
                        "leakguard: cannot store {} events ({e}); kept in {} until the database takes them",
                        all.len(),
                        self.spill.display()
                    );
                    self.counters
                        .spilled
                        .fetch_add(all.len() as u64, Ordering::Relaxed);
                    true
                }
                Err(spill_err) => {
                    let why = format!(
                        "events cannot be written: the database says \"{e}\" and {} says \"{spill_err}\" (is the disk full?)",
                        self.spill.display()
                    );
                    if self.counters.failure().is_none() {
                        eprintln!("leakguard: {why}; holding them in memory");
                    }
                    self.counters.set_failure(Some(why));
                    // The oldest go first when the queue is full.
                    let over = all.len().saturating_sub(HELD_MAX);
                    let mut held = std::collections::VecDeque::from(std::mem::take(all));
                    held.drain(..over);
                    self.counters
                        .dropped
                        .fetch_add(over as u64, Ordering::Relaxed);
                    self.dropped_unrecorded += over as u64;
                    self.counters
                        .held
                        .store(held.len() as u64, Ordering::Relaxed);
                    self.held = held;
                    return;
                }
            },
        };
        all.clear();
        if ok {
            if self.dropped_unrecorded > 0 {
                let note = dropped_event(self.dropped_unrecorded, options);
                if store.insert(std::slice::from_ref(&note)).is_ok() {
                    self.dropped_unrecorded = 0;
                }
            }
            self.counters.held.store(0, Ordering::Relaxed);
            self.counters.set_failure(None);
            self.committed_mark = self.journal_mark;
        }
    }

    /// Empties the journal when everything in it is stored and it is longer than `over`.
    fn trim_journal(&mut self, over: u64) {
        let mut j = self.journal.lock().expect("journal");
        if j.len > over && j.len == self.committed_mark && self.held.is_empty() {
            if let Some(f) = j.file.as_ref() {
                if f.set_len(0).is_ok() {
                    j.len = 0;
                    self.journal_mark = 0;
                    self.committed_mark = 0;
                }
            }
        }
    }
}

/// The record of events dropped while the disk could not take them (`bytes`: how many).
fn dropped_event(n: u64, options: &RecorderOptions) -> Event {
    Event {
        id: format!("dropped-{}", now_ms()),
        time: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        kind: leakguard_types::EventKind::Policy,
        device: options.device.clone(),
        os_user: options.os_user.clone(),
        verdict: leakguard_types::EventVerdict::EventsLost,
        decided_by: "leakguard:recorder".into(),
        reason: Some(format!(
            "{n} events were dropped while the event database could not be written (the in-memory queue holds {HELD_MAX})"
        )),
        bytes: n as usize,
        ..Event::default()
    }
}

/// Opens `path` for appending (created 0600).
fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

fn append_spill(spill: &Path, batch: &[Event]) -> std::io::Result<()> {
    let mut f = open_append(spill)?;
    let mut buf = Vec::new();
    for e in batch {
        serde_json::to_writer(&mut buf, e).map_err(std::io::Error::other)?;
        buf.push(b'\n');
    }
    f.write_all(&buf)?;
    f.sync_data()
}

/// Moves events a previous run could not store into the database. A line cut short by a
/// crash is skipped (it was never acknowledged).
fn import_spill(store: &mut Store, spill: &Path) -> Result<()> {
    let Ok(file) = std::fs::File::open(spill) else {
        return Ok(());
    };
    let mut events = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        if let Ok(e) = serde_json::from_str::<Event>(&line?) {
            events.push(e);
        }
    }
    for chunk in events.chunks(BATCH) {
        store.insert(chunk)?;
    }
    std::fs::remove_file(spill)?;
    Ok(())
}
