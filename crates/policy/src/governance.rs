//! Tenant and API rules: who may be signed in, which models, how many tokens. Stateless checks
//! that [`Policy::decide_request`](crate::Policy) folds into the verdict; rate windows, which need
//! state, are counted by the guard.

use crate::*;
use leakguard_types::TenantFacts;

/// A refusal that is not about the content: the kill switch, a tenant or an API rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stop {
    /// HTTP status for the refusal.
    pub status: u16,
    /// Stable code, e.g. `leakguard_model_not_allowed`.
    pub code: &'static str,
    pub message: String,
    /// The policy entry, e.g. `api.enterprise-api.models`.
    pub by: String,
}

/// `*` matches any run of characters; everything else literally (ASCII case-insensitive).
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some((c, rest)) => {
                t.first().is_some_and(|x| x.eq_ignore_ascii_case(c)) && go(rest, &t[1..])
            }
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

impl Policy {
    /// Checks a request against the `api` rules of its destination group (the stateless ones:
    /// token caps and pinned models; rate limits are counted by the guard).
    pub fn check_api(
        &self,
        host: &str,
        model: Option<&str>,
        max_tokens: Option<u64>,
    ) -> Result<(), Stop> {
        match self.group_of(host) {
            Some(group) => self.api_rules(group, host, model, max_tokens),
            None => Ok(()),
        }
    }

    fn api_rules(
        &self,
        group: &DestinationGroup,
        host: &str,
        model: Option<&str>,
        max_tokens: Option<u64>,
    ) -> Result<(), Stop> {
        let Some(rules) = self.api.get(&group.name) else {
            return Ok(());
        };
        let g = &group.name;
        if !rules.models.is_empty() {
            let allowed = model.is_some_and(|m| rules.models.iter().any(|p| glob_matches(p, m)));
            if !allowed {
                return Err(Stop {
                    status: 403,
                    code: "leakguard_model_not_allowed",
                    message: format!(
                        "Blocked by Leakguard: model `{}` is not allowed for {host}; allowed: {}.",
                        model.unwrap_or("(none given)"),
                        rules.models.join(", ")
                    ),
                    by: format!("api.{g}.models"),
                });
            }
        }
        match (max_tokens, rules.max_tokens) {
            (Some(asked), Some(cap)) if asked > cap => Err(Stop {
                status: 400,
                code: "leakguard_max_tokens",
                message: format!(
                    "Blocked by Leakguard: max_tokens {asked} is over the cap of {cap} for {host}."
                ),
                by: format!("api.{g}.max_tokens"),
            }),
            (None, _) if rules.require_max_tokens => Err(Stop {
                status: 400,
                code: "leakguard_max_tokens_required",
                message: format!("Blocked by Leakguard: requests to {host} must set max_tokens."),
                by: format!("api.{g}.require_max_tokens"),
            }),
            _ => Ok(()),
        }
    }

    /// Checks the tenant rules of the host's group against what the request shows.
    pub fn check_tenant(&self, host: &str, facts: &TenantFacts) -> Result<(), Stop> {
        match self.group_of(host) {
            Some(group) => tenant_rules(group, host, facts),
            None => Ok(()),
        }
    }

    /// The first rule of the group that is not about content and stops this request: tenant,
    /// then API (the stateless ones; rate windows are counted by the guard).
    pub(crate) fn group_stop(
        &self,
        group: &DestinationGroup,
        host: &str,
        request: &RequestFacts<'_>,
    ) -> Option<Stop> {
        let tenant = request
            .tenant
            .map_or(Ok(()), |facts| tenant_rules(group, host, facts));
        tenant
            .and_then(|()| self.api_rules(group, host, request.model, request.max_tokens))
            .err()
    }
}

/// Each fact whose policy list is not empty must be shown and listed.
fn tenant_rules(group: &DestinationGroup, host: &str, facts: &TenantFacts) -> Result<(), Stop> {
    for fact in &facts.facts {
        let Some(list) = group.tenant.list(&fact.list) else {
            continue;
        };
        if list.is_empty() {
            continue;
        }
        let listed = fact
            .compared()
            .is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v)));
        if !listed {
            return Err(Stop {
                status: 403,
                code: "leakguard_tenant",
                message: format!(
                    "Blocked by Leakguard: {} {} is not allowed for {host}; use your company account.",
                    fact.shown_as,
                    fact.value
                        .as_deref()
                        .map_or_else(|| "(none)".to_string(), |s| format!("`{s}`"))
                ),
                by: format!("destinations.{}.tenant.{}", group.name, fact.list),
            });
        }
    }
    Ok(())
}
