//! Which local program sent a request: see the `leakguard-peer` crate (one module per OS, the
//! macOS and Windows ones compiled for their targets by `scripts/cross-check.sh`).

pub use leakguard_peer::{executable, process_of, program, ClientAddr, Peer};
