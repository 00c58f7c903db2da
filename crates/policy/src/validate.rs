//! Parsing and validation: errors name the JSON path, line and column, and say what to write.

use crate::*;

/// Why a policy text was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not valid policy JSON; `path` is the JSON path of the offending value.
    #[error("{line}:{column}: {path}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("`version` is {0}; this build reads version 1")]
    Version(u32),
    #[error("{field}: {message}")]
    Field { field: String, message: String },
    /// The test's text is never quoted: it may be a real secret (a rejected policy's reason
    /// is recorded and forwarded to the SIEM).
    #[error("the policy's own test #{index} (`tests[{index}]`, destination {destination}) failed: expected {expected}, got {got} (decided by {by})")]
    TestFailed {
        index: usize,
        destination: String,
        expected: Action,
        got: Action,
        by: String,
    },
}

/// Turns serde's message into one that says what to do.
fn hint(message: &str) -> String {
    // "unknown variant `blok`, expected one of `allow`, `audit`, …"
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        if let Some((given, tail)) = rest.split_once('`') {
            let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
            let kind = if expected.contains(&"block") {
                "an action"
            } else if expected.contains(&"source_code") {
                "a category"
            } else if expected.contains(&"block_all") {
                "a mode"
            } else {
                "a valid value"
            };
            let list = match expected.split_last() {
                Some((last, head)) if !head.is_empty() => format!("{} or {last}", head.join(", ")),
                _ => expected.join(", "),
            };
            return format!("`{given}` is not {kind}; expected {list}");
        }
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((given, tail)) = rest.split_once('`') {
            let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
            return format!(
                "`{given}` is not a field here (a typo?); expected one of {}",
                expected.join(", ")
            );
        }
    }
    message.to_string()
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
pub fn days_from_date(date: &str) -> Option<u32> {
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    u32::try_from(era * 146_097 + doe - 719_468).ok()
}

impl Policy {
    /// Parses and validates a policy, then runs its own tests with `scan` (the detection
    /// engine built from this policy's `rules`).
    ///
    /// # Errors
    /// JSON errors with path, line and column; a wrong version; bad host patterns, unknown
    /// groups or dates; a failing own test.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let mut policy: Policy = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            PolicyError::Invalid {
                path,
                line: inner.line(),
                column: inner.column(),
                message: hint(
                    inner
                        .to_string()
                        .split(" at line ")
                        .next()
                        .unwrap_or_default(),
                ),
            }
        })?;
        policy.validate()?;
        for g in &mut policy.destinations {
            for h in g.hosts.iter_mut().chain(g.unscanned_hosts.iter_mut()) {
                h.make_ascii_lowercase();
            }
        }
        Ok(policy)
    }

    fn validate(&self) -> Result<(), PolicyError> {
        if self.version != 1 {
            return Err(PolicyError::Version(self.version));
        }
        let field = |field: String, message: String| PolicyError::Field { field, message };
        let mut names = std::collections::BTreeSet::new();
        for (i, g) in self.destinations.iter().enumerate() {
            if !names.insert(g.name.as_str()) {
                return Err(field(
                    format!("destinations[{i}].name"),
                    format!("`{}` is used twice", g.name),
                ));
            }
            for (j, h) in g.hosts.iter().enumerate() {
                let bare = h.strip_prefix("*.").unwrap_or(h);
                if bare.is_empty()
                    || !bare.contains('.')
                    || bare.contains('*')
                    || bare.contains('/')
                    || bare.contains(':')
                {
                    return Err(field(
                        format!("destinations[{i}].hosts[{j}]"),
                        format!(
                            "`{h}` is not a host pattern; write `example.com` or `*.example.com`"
                        ),
                    ));
                }
            }
        }
        for g in self.actions.groups.keys() {
            if !names.contains(g.as_str()) {
                return Err(field(
                    format!("actions.groups.{g}"),
                    format!(
                        "no destination group is named `{g}`; expected one of {:?}",
                        names
                    ),
                ));
            }
        }
        for g in self.api.keys() {
            if !names.contains(g.as_str()) {
                return Err(field(
                    format!("api.{g}"),
                    format!("no destination group is named `{g}`; expected one of {names:?}"),
                ));
            }
        }
        if let Some(key) = &self.controls.unlock_key {
            if let Err(e) = crate::signing::verifying_key(key) {
                return Err(field("controls.unlock_key".into(), e.to_string()));
            }
        } else if self.controls.quit == Quit::UnlockCode {
            return Err(field(
                "controls.quit".into(),
                "`unlock_code` needs `controls.unlock_key` (the public key that verifies the codes; `leakguard policy keygen` makes a pair)".into(),
            ));
        }
        for (i, t) in self.events.siem.iter().enumerate() {
            let ok = match t.kind {
                SiemKind::SyslogUdp | SiemKind::SyslogTcp | SiemKind::SyslogTls => t
                    .address
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()),
                SiemKind::SplunkHec | SiemKind::Webhook | SiemKind::OtlpHttp => {
                    t.address.starts_with("https://") || t.address.starts_with("http://127.0.0.1")
                }
            };
            if !ok {
                return Err(field(
                    format!("events.siem[{i}].address"),
                    format!(
                        "`{}` does not fit {:?}: syslog targets are host:port, HTTP targets https:// URLs",
                        t.address, t.kind
                    ),
                ));
            }
        }
        if self.events.retention_days == 0 || self.events.max_events == 0 {
            return Err(field(
                "events".into(),
                "retention_days and max_events must be at least 1".into(),
            ));
        }
        for (i, e) in self.exceptions.iter().enumerate() {
            if days_from_date(&e.expires).is_none() {
                return Err(field(
                    format!("exceptions[{i}].expires"),
                    format!("`{}` is not a date; write YYYY-MM-DD", e.expires),
                ));
            }
            if e.reason.trim().is_empty() {
                return Err(field(
                    format!("exceptions[{i}].reason"),
                    "every exception needs a reason".into(),
                ));
            }
        }
        Ok(())
    }
}
