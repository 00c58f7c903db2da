//! The agent: the one surface both front ends (the `leakguard` CLI and the desktop app) call.
//! It takes the proxy's events and sends each where it belongs: the event store (SQLite), the
//! company's SIEM (through the store's durable outbox) and the user's screen (a desktop
//! notification, coalesced).
//!
//! What it will not do: decide anything. Detection, policy and the proxy decide; the agent
//! records and tells.
//!
//! Key decision: the proxy hands an event to [`Hub`] and goes on; the store, the forwarders
//! and the notifier each run on their own thread, so a slow disk, a dead SIEM or a missing
//! notification daemon never slows a request down.

pub mod hub;
pub mod notify;
pub mod recording;
pub mod siem;

pub use hub::Hub;
pub use notify::{Notice, NoticeAction, Notifier};
pub use recording::{NotifySetup, Recording};
pub use siem::{target_key, Forwarders};

/// What went wrong starting the agent's parts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    #[error(transparent)]
    Store(#[from] leakguard_store::StoreError),
    #[error("SIEM target {target}: {message}")]
    Target { target: String, message: String },
    #[error("cannot start a background thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// This device's name, for events and syslog's HOSTNAME field.
pub fn device_name() -> String {
    let from_file = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_string());
    from_file
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-device".into())
}

/// The OS user the guard runs for.
pub fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}
