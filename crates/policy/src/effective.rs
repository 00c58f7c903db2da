//! Managed over local: how a user's or team's policy may tighten, never loosen.

use crate::*;

/// A managed policy (pushed by MDM) with an optional local one (the user's or a team's).
///
/// "Tighten" means exactly this:
/// - every request gets the stricter of the managed decision and the local decision (so a
///   local exception, `allow` action or `allow` mode can never loosen what the managed policy
///   decides);
/// - the local file may add detection (custom rules, dictionaries, organisation names,
///   fingerprints) but its `disable_packs`, `disable`, `min_confidence` and `code_min_lines`
///   are ignored, so it cannot remove detection the managed policy has; its `sensitivity`
///   can only lower the thresholds (a `strict` local file over a `balanced` managed one);
/// - its own `tests` must still pass for it to load.
#[derive(Debug, Clone)]
pub struct Effective {
    pub managed: Policy,
    pub local: Option<Policy>,
}

impl Effective {
    /// The stricter of the two decisions (the managed one wins ties and explains itself).
    pub fn decide(&self, findings: &[Finding], host: Option<&str>, meta: &RequestMeta) -> Verdict {
        let managed = self.managed.decide(findings, host, meta);
        match &self.local {
            Some(local) => stricter(managed, local.decide(findings, host, meta)),
            None => managed,
        }
    }

    /// The decision for one whole request ([`Policy::decide_request`]): the stricter content
    /// decision, then the managed policy's kill switch, tenant and API rules (a local policy
    /// adds detection and stricter actions, not destinations).
    pub fn decide_request(
        &self,
        findings: &[Finding],
        request: &RequestFacts<'_>,
        meta: &RequestMeta,
    ) -> Verdict {
        let group = request.host.and_then(|h| self.managed.group_of(h));
        let managed = self.managed.decide_in(findings, group, request.host, meta);
        let content = match &self.local {
            Some(local) => stricter(managed, local.decide(findings, request.host, meta)),
            None => managed,
        };
        self.managed.stopped(content, group, request)
    }

    /// The detection settings: the managed policy's, plus what the local one adds.
    pub fn engine_config(&self) -> leakguard_detect::EngineConfig {
        let mut c = self.managed.engine_config();
        if let Some(local) = &self.local {
            c.custom_rules.extend(local.rules.custom.iter().cloned());
            c.dictionaries
                .extend(local.rules.dictionaries.iter().cloned());
            c.organisation_names
                .extend(local.rules.organisation_names.iter().cloned());
            // A stricter local `sensitivity` lowers the thresholds; a looser one is ignored.
            c.min_confidence = c.min_confidence.min(local.sensitivity.min_confidence());
            if c.code_min_lines > 0 {
                c.code_min_lines = c.code_min_lines.min(local.sensitivity.code_min_lines());
            }
        }
        c
    }
}

/// The local verdict only when it is stricter (the managed one wins ties and explains itself).
fn stricter(managed: Verdict, mut local: Verdict) -> Verdict {
    if local.action > managed.action {
        local.by = format!("local policy: {}", local.by);
        local
    } else {
        managed
    }
}
