//! The policy IT writes: one JSON file with a schema (`policies/schema.json`, generated from
//! these types), validated with errors that name the JSON path, line and column, and a pure,
//! fast decision engine: [`Policy::decide`] turns findings, a destination and request facts
//! into a [`Verdict`] that says which entry decided.
//!
//! It will not do I/O beyond parsing the text it is given: reading files, verifying
//! signatures, merging managed over local policies and hot reload belong to the loader that
//! arrives with the rest of the policy issue.
//!
//! Key decision: unknown fields are errors everywhere, so a typo (`"acitons"`, `"blok"`) fails
//! the load instead of silently weakening protection.

mod decide;
mod effective;
mod governance;
mod schema;
pub mod signing;
pub mod unlock;
mod validate;

pub use decide::*;
pub use effective::*;
pub use governance::*;
pub use schema::*;
pub use validate::*;

pub(crate) use leakguard_types::{Action, Category, Finding, Severity};
pub(crate) use serde::Serialize;
pub(crate) use std::collections::BTreeMap;

impl Policy {
    /// Whether an exception names programs: then the program behind every request is looked
    /// up (once per connection), not only behind requests with findings.
    pub fn has_process_exceptions(&self) -> bool {
        self.exceptions.iter().any(|e| !e.processes.is_empty())
    }

    /// The destination group of a host, if any.
    pub fn group_of(&self, host: &str) -> Option<&DestinationGroup> {
        // Host patterns are lower-cased at parse time; the host only when it needs it (this
        // runs several times per request in the guard).
        let host = host.trim_end_matches('.');
        let lowered;
        let host = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = host.to_ascii_lowercase();
            lowered.as_str()
        } else {
            host
        };
        self.destinations
            .iter()
            .find(|g| g.hosts.iter().any(|p| host_matches(p, host)))
    }

    /// The group of a host its policy lists as unscannable (`unscanned_hosts`: pinned or
    /// mutual-TLS clients), if any.
    pub fn unscanned_group(&self, host: &str) -> Option<&DestinationGroup> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.group_of(&host)
            .filter(|g| g.unscanned_hosts.iter().any(|p| host_matches(p, &host)))
    }

    /// The detection-engine settings of this policy (fingerprint indexes are loaded by the
    /// caller, which does the I/O).
    pub fn engine_config(&self) -> leakguard_detect::EngineConfig {
        let mut c = leakguard_detect::EngineConfig {
            disabled_packs: self.rules.disable_packs.clone(),
            disabled_rules: self.rules.disable.clone(),
            custom_rules: self.rules.custom.clone(),
            dictionaries: self.rules.dictionaries.clone(),
            organisation_names: self.rules.organisation_names.clone(),
            min_confidence: self.sensitivity.min_confidence(),
            code_min_lines: self.sensitivity.code_min_lines(),
            ..leakguard_detect::EngineConfig::default()
        };
        if let Some(n) = self.rules.code_min_lines {
            c.code_min_lines = n;
        }
        if let Some(m) = self.rules.min_confidence {
            c.min_confidence = m;
        }
        c
    }

    /// Runs the policy's `tests` with an engine built from it.
    ///
    /// # Errors
    /// The first test whose verdict differs.
    pub fn run_own_tests(
        &self,
        engine: &leakguard_detect::Engine,
        meta: &RequestMeta,
    ) -> Result<usize, PolicyError> {
        for (index, t) in self.tests.iter().enumerate() {
            let v = self.decide(&engine.scan(&t.text), t.destination.as_deref(), meta);
            if v.action != t.expect {
                return Err(PolicyError::TestFailed {
                    index,
                    destination: t.destination.clone().unwrap_or_else(|| "any".into()),
                    expected: t.expect,
                    got: v.action,
                    by: v.by,
                });
            }
        }
        Ok(self.tests.len())
    }

    /// The JSON Schema of the policy file, as written to `policies/schema.json`.
    pub fn schema_json() -> String {
        let schema = schemars::schema_for!(Policy);
        serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
    }
}

#[cfg(test)]
mod tests;

/// Does a lower-case host match a host pattern (`example.com`: it and its subdomains;
/// `*.example.com`: subdomains only)?
fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len()
                && host.ends_with(suffix)
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
        }
        None => {
            host == pattern
                || (host.ends_with(pattern)
                    && host
                        .as_bytes()
                        .get(host.len().wrapping_sub(pattern.len() + 1))
                        == Some(&b'.'))
        }
    }
}
