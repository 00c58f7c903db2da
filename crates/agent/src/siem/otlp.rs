//! OpenTelemetry logs over OTLP/HTTP, JSON encoding.

use super::*;

/// OTLP/HTTP logs, JSON encoding: one resource (this device), one scope, a record per event
/// with the event as the body and key fields as attributes.
pub fn otlp_body(events: &[&Event], device: &str) -> String {
    let attr = |k: &str, v: &str| serde_json::json!({"key": k, "value": {"stringValue": v}});
    let records: Vec<serde_json::Value> = events
        .iter()
        .map(|e| {
            let (num, text) = match e.outcome.as_str() {
                "blocked" | "refused" => (13, "WARN"),
                "warned" | "redacted" | "overridden" => (10, "INFO2"),
                _ => (9, "INFO"),
            };
            let nanos = leakguard_store::parse_time(&e.time).unwrap_or(0) as i128 * 1_000_000;
            serde_json::json!({
                "timeUnixNano": nanos.to_string(),
                "severityNumber": num,
                "severityText": text,
                "body": {"stringValue": serde_json::to_string(e).expect("events serialise")},
                "attributes": [
                    attr("leakguard.event.id", &e.id),
                    attr("leakguard.outcome", e.outcome.as_str()),
                    attr("leakguard.verdict", e.verdict.as_str()),
                    attr("server.address", &e.host),
                    attr("leakguard.rules", &e.rules.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>().join(",")),
                ],
            })
        })
        .collect();
    serde_json::json!({
        "resourceLogs": [{
            "resource": {"attributes": [attr("service.name", "leakguard"), attr("host.name", device)]},
            "scopeLogs": [{"scope": {"name": "leakguard"}, "logRecords": records}],
        }]
    })
    .to_string()
}
