//! A generic JSON webhook: the batch as a JSON array of events, as stored.

use super::*;

/// The body of a webhook POST.
pub fn webhook_body(events: &[&Event]) -> String {
    serde_json::to_string(events).expect("events serialise")
}
