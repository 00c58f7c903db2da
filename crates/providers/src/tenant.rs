//! Where each tenant fact of a request is read (`policies/endpoints.json`, `tenants`): a
//! header, a path segment, or a claim of the bearer JWT. Reading is all this does; the policy
//! compares the facts with its lists.

use leakguard_types::{TenantFact, TenantFacts, TenantMatch};
use serde::Deserialize;

/// Where a fact is read.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TenantSource {
    /// A request header, trimmed.
    Header(String),
    /// The path segment right after this prefix (`/api/organizations/` -> the organisation id).
    PathAfter(String),
    /// The first claim found in the payload of the `Authorization: Bearer` JWT; each claim is a
    /// list of keys into nested objects. The signature is not checked: the guard only reads
    /// which account the client uses; the server checks the token.
    BearerJwt(Vec<Vec<String>>),
}

/// One fact of the catalog's `tenants` list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantEntry {
    /// The providers (catalog `provider` values) whose requests show this fact.
    pub providers: Vec<String>,
    /// The policy's tenant list that checks it.
    pub list: String,
    /// How a refusal names it.
    pub shown_as: String,
    #[serde(default, rename = "match")]
    pub matching: TenantMatch,
    pub from: TenantSource,
}

impl TenantEntry {
    fn read(&self, path: &str, header: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        match &self.from {
            TenantSource::Header(name) => header(name).map(|v| v.trim().to_string()),
            TenantSource::PathAfter(prefix) => path
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.split(['/', '?']).next())
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            TenantSource::BearerJwt(claims) => {
                let auth = header("authorization")?;
                let jwt = auth.trim().strip_prefix("Bearer ")?;
                let payload = jwt_payload(jwt)?;
                claims.iter().find_map(|keys| {
                    keys.iter()
                        .try_fold(&payload, |v, k| v.get(k))
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                })
            }
        }
    }
}

fn jwt_payload(jwt: &str) -> Option<serde_json::Value> {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The tenant facts of a request to a provider: every entry that names it, read.
pub fn tenant_facts(
    entries: &[TenantEntry],
    provider: &str,
    path: &str,
    header: &dyn Fn(&str) -> Option<String>,
) -> TenantFacts {
    TenantFacts {
        provider: provider.to_string(),
        facts: entries
            .iter()
            .filter(|e| e.providers.iter().any(|p| p == provider))
            .map(|e| TenantFact {
                list: e.list.clone(),
                shown_as: e.shown_as.clone(),
                matching: e.matching,
                value: e.read(path, header),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use crate::Catalog;

    fn jwt(payload: &str) -> String {
        use base64::Engine as _;
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!("{}.{}.sig", b.encode("{}"), b.encode(payload))
    }

    fn value(facts: &leakguard_types::TenantFacts, list: &str) -> Option<String> {
        facts.facts.iter().find(|f| f.list == list)?.value.clone()
    }

    #[test]
    fn the_shipped_catalog_reads_account_organisation_and_project() {
        let c = Catalog::builtin();
        let auth = format!(
            "Bearer {}",
            jwt(r#"{"https://api.openai.com/profile":{"email":"jane@acme.com"}}"#)
        );
        let none = |_: &str| None;
        let chatgpt = c.tenant_facts("chatgpt.com", "/backend-api/conversation", &|h: &str| {
            (h == "authorization").then(|| auth.clone())
        });
        assert_eq!(chatgpt.provider, "chatgpt-web");
        assert_eq!(
            value(&chatgpt, "chatgpt_account_domains").as_deref(),
            Some("jane@acme.com")
        );
        assert_eq!(chatgpt.facts[0].compared(), Some("acme.com"));
        // A top-level `email` claim is read too; no token: no value (logged out).
        let plain = format!("Bearer {}", jwt(r#"{"email":"joe@gmail.com"}"#));
        let f = c.tenant_facts("chatgpt.com", "/", &|_: &str| Some(plain.clone()));
        assert_eq!(
            value(&f, "chatgpt_account_domains").as_deref(),
            Some("joe@gmail.com")
        );
        let f = c.tenant_facts("chatgpt.com", "/", &none);
        assert_eq!(f.facts.len(), 1);
        assert_eq!(value(&f, "chatgpt_account_domains"), None);

        let claude = c.tenant_facts("claude.ai", "/api/organizations/0d1e-acme/chat", &none);
        assert_eq!(
            value(&claude, "claude_organizations").as_deref(),
            Some("0d1e-acme")
        );
        let api = c.tenant_facts(
            "api.openai.com",
            "/v1/chat/completions",
            &|h: &str| match h {
                "openai-organization" => Some(" org-acme ".into()),
                "openai-project" => Some("proj_a".into()),
                _ => None,
            },
        );
        assert_eq!(
            value(&api, "openai_organizations").as_deref(),
            Some("org-acme")
        );
        assert_eq!(value(&api, "openai_projects").as_deref(), Some("proj_a"));
        // A provider without tenant entries shows no facts.
        assert!(c
            .tenant_facts("api.anthropic.com", "/v1/messages", &none)
            .facts
            .is_empty());
    }
}
