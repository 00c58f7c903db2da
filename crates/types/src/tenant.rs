//! What a request shows about the account or organisation it is sent for. The endpoint
//! catalog (`policies/endpoints.json`, `tenants`) says where each fact is read and which
//! tenant list of the policy checks it; the policy compares. A new provider's tenant check is
//! data in both places, not code.

use serde::{Deserialize, Serialize};

/// How a fact's value is compared with the entries of the policy's list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantMatch {
    /// The whole value, ASCII case-insensitive.
    #[default]
    Exact,
    /// The part after the last `@` of an email address.
    EmailDomain,
}

/// One fact about the tenant of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantFact {
    /// The policy's tenant list that checks it (`chatgpt_account_domains`, `openai_projects`…).
    pub list: String,
    /// How a refusal names it: "the ChatGPT account".
    pub shown_as: String,
    pub matching: TenantMatch,
    /// What the request shows; `None` when it shows nothing (logged out, no header).
    pub value: Option<String>,
}

impl TenantFact {
    /// The part of the value the policy's entries are compared with.
    pub fn compared(&self) -> Option<&str> {
        let v = self.value.as_deref()?;
        match self.matching {
            TenantMatch::Exact => Some(v),
            TenantMatch::EmailDomain => v.rsplit_once('@').map(|(_, d)| d),
        }
    }
}

/// The tenant facts of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantFacts {
    /// `chatgpt-web`, `claude-web`, `openai`, … (the endpoint catalog's provider).
    pub provider: String,
    pub facts: Vec<TenantFact>,
}
