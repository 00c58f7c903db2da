//! Syslog RFC 5424: the event as JSON in MSG, key fields as structured data.

use super::*;

/// `<PRI>1 TIME HOST leakguard - MSGID [SD] JSON` (RFC 5424). Facility 13 (log audit);
/// severity warning for blocks, notice for warn/redact, informational otherwise. The SD-ID
/// uses the documentation enterprise number 32473 until Leakguard has its own.
pub fn syslog_message(e: &Event, device: &str) -> String {
    let severity = match e.outcome.as_str() {
        "blocked" | "refused" => 4,
        "warned" | "redacted" | "overridden" => 5,
        _ => 6,
    };
    let host = if e.device.is_empty() {
        device
    } else {
        &e.device
    };
    let rules: Vec<&str> = e.rules.iter().map(|r| r.rule.as_str()).collect();
    format!(
        "<{}>1 {} {} leakguard - {} [leakguard@32473 id=\"{}\" host=\"{}\" verdict=\"{}\" outcome=\"{}\" rules=\"{}\"] {}",
        13 * 8 + severity,
        if e.time.is_empty() { "-" } else { &e.time },
        header_token(host),
        header_token(if e.outcome.is_unset() {
            e.kind.as_str()
        } else {
            e.outcome.as_str()
        }),
        sd_escape(&e.id),
        sd_escape(&e.host),
        sd_escape(e.verdict.as_str()),
        sd_escape(e.outcome.as_str()),
        sd_escape(&rules.join(",")),
        serde_json::to_string(e).expect("events serialise")
    )
}

/// A header field: printable ASCII without spaces, `-` when empty.
fn header_token(s: &str) -> String {
    let t: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    if t.is_empty() {
        "-".into()
    } else {
        t
    }
}

fn sd_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
