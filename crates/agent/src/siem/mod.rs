//! SIEM forwarding: one thread per target drains that target's outbox in the event store,
//! oldest first, and removes events only once the target took them (at-least-once; event ids
//! are stable, so a SIEM can drop the rare duplicate). Failures back off exponentially (1 s to
//! 30 s, with jitter); a target down for days fills its bounded outbox, whose oldest entries
//! are then dropped and counted (`leakguard events targets`).
//!
//! Formats: syslog RFC 5424 (UDP one message per datagram; TCP and TLS octet-counted, RFC
//! 6587/5425) with the event as JSON in MSG and key fields as structured data; Splunk HEC;
//! a generic JSON webhook; OpenTelemetry logs over OTLP/HTTP in its JSON encoding. One wire
//! format per file (`syslog.rs`, `splunk.rs`, `webhook.rs`, `otlp.rs`); `transport.rs` moves
//! the bytes (UDP, TCP, TLS, HTTP POST).

use crate::AgentError;
use leakguard_policy::{SiemKind, SiemTarget};
use leakguard_store::{Outbox, OutboxItem};
use leakguard_types::Event;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

mod otlp;
mod splunk;
mod syslog;
mod transport;
mod webhook;

pub use otlp::otlp_body;
pub use splunk::hec_body;
pub use syslog::syslog_message;
use transport::Transport;
pub use webhook::webhook_body;

/// The outbox key of a target: kind and address.
pub fn target_key(t: &SiemTarget) -> String {
    let kind = serde_json::to_value(t.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    format!("{kind}:{}", t.address)
}

const BATCH: usize = 200;
const IDLE_POLL: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The running forwarders.
#[derive(Debug)]
pub struct Forwarders {
    threads: Vec<std::thread::JoinHandle<()>>,
    wakers: Vec<mpsc::SyncSender<()>>,
    stop: Arc<AtomicBool>,
}

impl Forwarders {
    /// Starts one forwarder per target on the database at `db`. Token and CA files are read
    /// here, so a wrong path fails at start with the target named.
    ///
    /// # Errors
    /// A target's token or CA file cannot be read, its address does not parse, or the
    /// database cannot be opened.
    pub fn start(
        db: &Path,
        targets: &[SiemTarget],
        device: &str,
    ) -> Result<Forwarders, AgentError> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let mut wakers = Vec::new();
        for t in targets {
            let key = target_key(t);
            let transport = Transport::new(t, device).map_err(|message| AgentError::Target {
                target: key.clone(),
                message,
            })?;
            let outbox = Outbox::open(db)?;
            let (wake_tx, wake_rx) = mpsc::sync_channel(1);
            wakers.push(wake_tx);
            let stop = Arc::clone(&stop);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("leakguard-siem-{}", threads.len()))
                    .spawn(move || forward(key, transport, outbox, wake_rx, stop))?,
            );
        }
        Ok(Forwarders {
            threads,
            wakers,
            stop,
        })
    }

    /// Wake-up senders to hand to the [`crate::Hub`].
    pub fn wakers(&self) -> Vec<mpsc::SyncSender<()>> {
        self.wakers.clone()
    }

    /// Stops the forwarders (what is not delivered stays in the outbox for the next run).
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        for w in &self.wakers {
            let _ = w.try_send(());
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn forward(
    key: String,
    mut transport: Transport,
    mut outbox: Outbox,
    wake: mpsc::Receiver<()>,
    stop: Arc<AtomicBool>,
) {
    let mut backoff = Duration::ZERO;
    let mut batch_limit = BATCH;
    while !stop.load(Ordering::SeqCst) {
        let items = match outbox.next(&key, batch_limit) {
            Ok(items) => items,
            Err(e) => {
                eprintln!("leakguard: SIEM {key}: cannot read the outbox: {e}");
                Vec::new()
            }
        };
        if items.is_empty() {
            let _ = wake.recv_timeout(IDLE_POLL);
            continue;
        }
        let events: Vec<&Event> = items.iter().filter_map(|i| i.event.as_ref()).collect();
        let result = if events.is_empty() {
            Ok(())
        } else {
            transport.send(&events)
        };
        match result {
            Ok(()) => {
                backoff = Duration::ZERO;
                batch_limit = BATCH;
                if let Err(e) = outbox.ack(&key, &items) {
                    eprintln!("leakguard: SIEM {key}: cannot update the outbox: {e}");
                }
            }
            Err(Failure::Rejected(why)) if items.len() == 1 => {
                // The target refuses this one event for good: drop it, counted, and go on.
                eprintln!("leakguard: SIEM {key}: event refused, dropped: {why}");
                let gone = [OutboxItem {
                    seq: items[0].seq,
                    event: None,
                }];
                let _ = outbox.ack(&key, &gone);
                let _ = outbox.failed(&key, &format!("event refused: {why}"));
                batch_limit = BATCH;
            }
            Err(Failure::Rejected(_)) => {
                // Find the one event it objects to.
                batch_limit = 1;
            }
            Err(Failure::Retry(why)) => {
                let _ = outbox.failed(&key, &why);
                backoff = (backoff * 2).clamp(Duration::from_secs(1), MAX_BACKOFF);
                let jittered = backoff.mul_f64(0.8 + 0.4 * jitter());
                // Waits for the back-off or a stop, whichever comes first.
                let _ = wait_or_stop(&wake, &stop, jittered);
            }
        }
    }
}

fn wait_or_stop(wake: &mpsc::Receiver<()>, stop: &AtomicBool, total: Duration) -> bool {
    let deadline = std::time::Instant::now() + total;
    while !stop.load(Ordering::SeqCst) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return true;
        }
        // Wake-ups from new events do not cut a back-off short; only `stop` does.
        let _ = wake.recv_timeout(left.min(Duration::from_millis(250)));
    }
    false
}

fn jitter() -> f64 {
    let mut b = [0u8; 2];
    let _ = getrandom::getrandom(&mut b);
    f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX)
}

enum Failure {
    /// Try again later (network, 5xx, 429, auth).
    Retry(String),
    /// The target refuses the content (4xx other than 408/429/401/403).
    Rejected(String),
}

fn epoch_seconds(e: &Event) -> f64 {
    leakguard_store::parse_time(&e.time).unwrap_or(0) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakguard_types::RuleCount;

    fn event() -> Event {
        Event {
            id: "0123abcd".into(),
            time: "2026-11-21T13:07:22.123Z".into(),
            kind: leakguard_types::EventKind::Request,
            host: "chatgpt.com".into(),
            verdict: leakguard_types::EventVerdict::Block,
            outcome: leakguard_types::Outcome::Blocked,
            rules: vec![RuleCount {
                rule: "aws-secret-access-key".into(),
                category: "secret".into(),
                action: "block".into(),
                count: 1,
            }],
            previews: vec!["wJal…KEY\"]".into()],
            ..Event::default()
        }
    }

    #[test]
    fn syslog_lines_follow_rfc5424_with_escaped_structured_data() {
        let mut e = event();
        e.rules[0].rule = "odd\"rule]".into();
        let line = syslog_message(&e, "laptop 7");
        assert!(
            line.starts_with("<108>1 2026-11-21T13:07:22.123Z laptop7 leakguard - blocked [leakguard@32473 id=\"0123abcd\" host=\"chatgpt.com\""),
            "{line}"
        );
        assert!(line.contains(r#"rules="odd\"rule\]"]"#), "{line}");
        let json = &line[line.find("] {").unwrap() + 2..];
        let back: Event = serde_json::from_str(json).unwrap();
        assert_eq!(back.id, "0123abcd");
    }

    #[test]
    fn hec_and_otlp_bodies_carry_every_event() {
        let e = event();
        let hec = hec_body(&[&e, &e], "dev");
        let objects: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&hec)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0]["sourcetype"], "leakguard:event");
        assert_eq!(objects[0]["time"], 1_795_266_442.123);
        assert_eq!(
            objects[0]["event"]["rules"][0]["rule"],
            "aws-secret-access-key"
        );
        let otlp: serde_json::Value = serde_json::from_str(&otlp_body(&[&e], "dev")).unwrap();
        let rec = &otlp["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
        assert_eq!(rec["timeUnixNano"], "1795266442123000000");
        assert_eq!(rec["severityNumber"], 13);
        assert_eq!(rec["attributes"][0]["value"]["stringValue"], "0123abcd");
    }
}
