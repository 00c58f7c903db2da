//! Splunk HTTP Event Collector: one JSON object per event, concatenated.

use super::*;

/// Splunk HEC: one JSON object per event, concatenated.
pub fn hec_body(events: &[&Event], device: &str) -> String {
    let mut out = String::new();
    for e in events {
        let host = if e.device.is_empty() {
            device
        } else {
            &e.device
        };
        out.push_str(
            &serde_json::json!({
                "time": epoch_seconds(e),
                "host": host,
                "source": "leakguard",
                "sourcetype": "leakguard:event",
                "event": e,
            })
            .to_string(),
        );
    }
    out
}
