//! The endpoint catalog: `policies/endpoints.json`.

use crate::selector::Selector;
use crate::tenant::TenantEntry;
use regex::Regex;
use serde::Deserialize;

/// The shipped catalog.
pub const BUILTIN_ENDPOINTS: &str = include_str!("../../../policies/endpoints.json");

/// How a request body is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyKind {
    Json,
    Multipart,
    /// The body itself is the content (file uploads).
    Raw,
}

/// The error shape a provider's clients display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ErrorShape {
    /// `{"error":{"message","type","code"}}`
    Openai,
    /// `{"type":"error","error":{"type","message"}}`
    Anthropic,
    /// `{"error":{"code","message","status"}}`
    Gemini,
    /// `{"detail": message}`, which the ChatGPT page shows in the conversation.
    ChatgptWeb,
    /// Anthropic's shape, which claude.ai shows as the error of the turn.
    ClaudeWeb,
    /// AWS's REST-JSON error, `{"__type":"AccessDeniedException","message"}`: boto3 and the AWS
    /// SDKs raise it as that exception with the message.
    Bedrock,
    /// `{"error":{"message","type":"leakguard_blocked"}}`
    #[default]
    Generic,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    id: String,
    provider: String,
    #[serde(default)]
    error: ErrorShape,
    hosts: Vec<String>,
    paths: Vec<String>,
    #[serde(default)]
    methods: Vec<String>,
    body: BodyKind,
    #[serde(default)]
    text: Vec<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    model_from_path: Option<String>,
    #[serde(default)]
    max_tokens: Vec<String>,
    #[serde(default)]
    conversation: Vec<String>,
    #[serde(default)]
    conversation_from_path: Option<String>,
    #[serde(default)]
    reply: crate::reply::RawReply,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    endpoints: Vec<RawEndpoint>,
    #[serde(default)]
    tenants: Vec<TenantEntry>,
    #[serde(default)]
    url_prompts: Vec<UrlPrompt>,
}

/// Where a web app takes a prompt in its address (`chatgpt.com/?q=…`): the query parameters
/// of a request without a body that carry the user's text. Every query of an intercepted
/// request is scanned; one with these parameters is also recorded when nothing is found.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlPrompt {
    pub hosts: Vec<String>,
    pub params: Vec<String>,
}

/// One endpoint: which requests it covers and where their text is.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub provider: String,
    pub error: ErrorShape,
    pub body: BodyKind,
    hosts: Vec<String>,
    paths: Vec<String>,
    methods: Vec<String>,
    pub(crate) text: Vec<Selector>,
    pub(crate) model: Option<Selector>,
    pub(crate) model_from_path: Option<Regex>,
    pub(crate) max_tokens: Vec<Selector>,
    /// Where the conversation id is: body fields, or a capture of the path.
    pub(crate) conversation: Vec<Selector>,
    pub(crate) conversation_from_path: Option<Regex>,
    reply: crate::reply::ReplySpec,
}

impl Endpoint {
    /// The host patterns this endpoint is known on (`api.openai.com`, `*.githubcopilot.com`).
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The path patterns (`/v1/chat/completions`, `/model/*/converse`).
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// The methods (upper case; `POST` unless the catalog says otherwise).
    pub fn methods(&self) -> &[String] {
        &self.methods
    }

    /// Where the reply's text, token usage and served model are.
    pub fn reply(&self) -> &crate::reply::ReplySpec {
        &self.reply
    }

    /// The selectors of the fields that carry the user's text.
    pub fn text(&self) -> &[Selector] {
        &self.text
    }

    /// The conversation id in the request path (Claude web: `/chat_conversations/<id>/`).
    pub fn conversation_in_path(&self, path: &str) -> Option<String> {
        let re = self.conversation_from_path.as_ref()?;
        re.captures(path)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().to_string())
    }

    /// The model named in the request path (Gemini: `/v1beta/models/gemini-2.5-pro:generateContent`).
    pub fn model_in_path(&self, path: &str) -> Option<String> {
        let re = self.model_from_path.as_ref()?;
        re.captures(path)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().to_string())
    }
}

/// Why an endpoint catalog was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("endpoint catalog is not valid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("endpoint `{endpoint}`: {message}")]
    Endpoint { endpoint: String, message: String },
}

/// All known endpoints.
#[derive(Debug, Clone)]
pub struct Catalog {
    endpoints: Vec<Endpoint>,
    tenants: Vec<TenantEntry>,
    url_prompts: Vec<UrlPrompt>,
}

impl Catalog {
    /// The shipped catalog (`policies/endpoints.json`).
    pub fn builtin() -> Catalog {
        Catalog::from_json(BUILTIN_ENDPOINTS)
            .expect("the shipped endpoint catalog is valid (tested)")
    }

    /// Parses a catalog; every selector and pattern is checked.
    pub fn from_json(text: &str) -> Result<Catalog, CatalogError> {
        let raw: RawCatalog = serde_json::from_str(text).map_err(|e| CatalogError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let mut endpoints = Vec::with_capacity(raw.endpoints.len());
        for e in raw.endpoints {
            let fail = |message: String| CatalogError::Endpoint {
                endpoint: e.id.clone(),
                message,
            };
            let sel = |list: &[String]| -> Result<Vec<Selector>, CatalogError> {
                list.iter()
                    .map(|s| Selector::parse(s).map_err(fail))
                    .collect()
            };
            if e.body == BodyKind::Json && e.text.is_empty() {
                return Err(fail("a json endpoint needs `text` selectors".into()));
            }
            for p in &e.paths {
                if !p.starts_with('/') {
                    return Err(fail(format!("path `{p}` must start with `/`")));
                }
            }
            if e.hosts.is_empty() || e.paths.is_empty() {
                return Err(fail("needs at least one host and one path".into()));
            }
            let conversation_from_path = match &e.conversation_from_path {
                Some(re) => Some(
                    Regex::new(re).map_err(|err| fail(format!("conversation_from_path: {err}")))?,
                ),
                None => None,
            };
            let model_from_path = match &e.model_from_path {
                Some(re) => {
                    Some(Regex::new(re).map_err(|err| fail(format!("model_from_path: {err}")))?)
                }
                None => None,
            };
            let reply = crate::reply::ReplySpec::parse(&e.reply)
                .map_err(|m| fail(format!("reply: {m}")))?;
            endpoints.push(Endpoint {
                reply,
                text: sel(&e.text)?,
                model: match &e.model {
                    Some(m) => Some(Selector::parse(m).map_err(fail)?),
                    None => None,
                },
                max_tokens: sel(&e.max_tokens)?,
                conversation: sel(&e.conversation)?,
                conversation_from_path,
                model_from_path,
                methods: if e.methods.is_empty() {
                    vec!["POST".into()]
                } else {
                    e.methods.iter().map(|m| m.to_ascii_uppercase()).collect()
                },
                hosts: e.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
                paths: e.paths,
                id: e.id,
                provider: e.provider,
                error: e.error,
                body: e.body,
            });
        }
        for t in &raw.tenants {
            if t.providers.is_empty() || t.list.is_empty() || t.shown_as.is_empty() {
                return Err(CatalogError::Endpoint {
                    endpoint: format!("tenants ({})", t.list),
                    message: "a tenant fact needs providers, list and shown_as".into(),
                });
            }
        }
        for u in &raw.url_prompts {
            if u.hosts.is_empty() || u.params.is_empty() {
                return Err(CatalogError::Endpoint {
                    endpoint: "url_prompts".into(),
                    message: "a URL prompt needs hosts and params".into(),
                });
            }
        }
        Ok(Catalog {
            endpoints,
            tenants: raw.tenants,
            url_prompts: raw.url_prompts,
        })
    }

    /// The query parameters that carry a prompt on `host` (empty: none known).
    pub fn url_prompt_params(&self, host: &str) -> &[String] {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.url_prompts
            .iter()
            .find(|u| u.hosts.iter().any(|h| host_matches(h, &host)))
            .map_or(&[], |u| u.params.as_slice())
    }

    /// Every host a URL prompt is known on (for the coverage test).
    pub fn url_prompt_hosts(&self) -> impl Iterator<Item = &str> {
        self.url_prompts
            .iter()
            .flat_map(|u| u.hosts.iter().map(String::as_str))
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Where the endpoint with this id is in [`Catalog::endpoints`].
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.endpoints.iter().position(|e| e.id == id)
    }

    /// The catalog's tenant facts (where each is read, which policy list checks it).
    pub fn tenants(&self) -> &[TenantEntry] {
        &self.tenants
    }

    /// What a request to `host` shows about its tenant; `header` reads a request header by its
    /// lower-case name.
    pub fn tenant_facts(
        &self,
        host: &str,
        path: &str,
        header: &dyn Fn(&str) -> Option<String>,
    ) -> leakguard_types::TenantFacts {
        let provider = self.provider_for_host(host).unwrap_or_default();
        crate::tenant::tenant_facts(&self.tenants, provider, path, header)
    }

    /// The endpoint a request goes to, if any; the first match in file order wins.
    /// `path` may carry a query string (ignored).
    pub fn classify(&self, host: &str, method: &str, path: &str) -> Option<&Endpoint> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let path = path.split(['?', '#']).next().unwrap_or("");
        self.endpoints.iter().find(|e| {
            e.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
                && e.hosts.iter().any(|h| host_matches(h, &host))
                && e.paths
                    .iter()
                    .any(|p| path_matches(p.as_bytes(), path.as_bytes()))
        })
    }

    /// The first endpoint of a host (any path): it names the host's provider and error shape.
    fn first_for_host(&self, host: &str) -> Option<&Endpoint> {
        let host = host.to_ascii_lowercase();
        self.endpoints
            .iter()
            .find(|e| e.hosts.iter().any(|h| host_matches(h, &host)))
    }

    /// The provider of a host's first endpoint (`chatgpt-web`, `claude-web`, `openai`…).
    pub fn provider_for_host(&self, host: &str) -> Option<&str> {
        self.first_for_host(host).map(|e| e.provider.as_str())
    }

    /// The error shape for a host: that of its first endpoint, else generic.
    pub fn error_shape_for_host(&self, host: &str) -> ErrorShape {
        self.first_for_host(host)
            .map(|e| e.error)
            .unwrap_or_default()
    }
}

/// `*.example.com` matches any subdomain (not the apex); anything else matches exactly.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1
                && host.ends_with(suffix)
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
        }
        None => pattern == host,
    }
}

/// `*` matches within one path segment, `**` across segments.
fn path_matches(pat: &[u8], path: &[u8]) -> bool {
    match pat.first() {
        None => path.is_empty(),
        Some(b'*') if pat.get(1) == Some(&b'*') => {
            let rest = &pat[2..];
            (0..=path.len()).any(|i| path_matches(rest, &path[i..]))
        }
        Some(b'*') => {
            let rest = &pat[1..];
            let limit = path.iter().position(|&b| b == b'/').unwrap_or(path.len());
            (0..=limit).any(|i| path_matches(rest, &path[i..]))
        }
        Some(&c) => path.first() == Some(&c) && path_matches(&pat[1..], &path[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalog_loads() {
        let c = Catalog::builtin();
        assert!(c.endpoints().len() >= 12);
    }

    #[test]
    fn requests_are_classified_by_host_method_and_path() {
        let c = Catalog::builtin();
        let id = |h: &str, m: &str, p: &str| c.classify(h, m, p).map(|e| e.id.clone());
        assert_eq!(
            id("api.openai.com", "POST", "/v1/chat/completions").as_deref(),
            Some("openai-chat-completions")
        );
        assert_eq!(
            id("API.OpenAI.com.", "post", "/v1/chat/completions?x=1").as_deref(),
            Some("openai-chat-completions")
        );
        assert_eq!(id("api.openai.com", "GET", "/v1/chat/completions"), None);
        assert_eq!(
            id(
                "acme.openai.azure.com",
                "POST",
                "/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21"
            )
            .as_deref(),
            Some("azure-openai-chat-completions")
        );
        assert_eq!(
            id(
                "openai.azure.com",
                "POST",
                "/openai/deployments/x/chat/completions"
            ),
            None,
            "apex is not a subdomain"
        );
        assert_eq!(
            id(
                "claude.ai",
                "POST",
                "/api/organizations/0d1e/chat_conversations/77aa/completion"
            )
            .as_deref(),
            Some("claude-web-completion")
        );
        assert_eq!(
            id(
                "claude.ai",
                "POST",
                "/api/organizations/0d1e/chat_conversations/77aa/x/completion"
            ),
            None
        );
        assert_eq!(
            id(
                "generativelanguage.googleapis.com",
                "POST",
                "/v1beta/models/gemini-2.5-pro:streamGenerateContent"
            )
            .as_deref(),
            Some("gemini-generate-content")
        );
        assert_eq!(
            id("files.oaiusercontent.com", "PUT", "/file-abc?sig=1").as_deref(),
            Some("chatgpt-upload")
        );
        assert_eq!(
            id("chatgpt.com", "POST", "/backend-api/f/conversation").as_deref(),
            Some("chatgpt-web-conversation")
        );
    }

    #[test]
    fn path_patterns() {
        assert!(path_matches(b"/a/*/c", b"/a/b/c"));
        assert!(!path_matches(b"/a/*/c", b"/a/b/x/c"));
        assert!(path_matches(b"/a/**", b"/a/b/x/c"));
        assert!(path_matches(
            b"/v1beta/models/*",
            b"/v1beta/models/g:generateContent"
        ));
        assert!(!path_matches(b"/v1/x", b"/v1/x/"));
    }

    #[test]
    fn a_bad_catalog_names_the_endpoint_and_the_fault() {
        let bad = r#"{"endpoints":[{"id":"x","provider":"p","hosts":["h"],"paths":["/a"],"body":"json","text":["a[q]"]}]}"#;
        let err = Catalog::from_json(bad).unwrap_err().to_string();
        assert!(err.contains("endpoint `x`") && err.contains("[q]"), "{err}");
        let typo = r#"{"endpoints":[{"id":"x","provider":"p","hosts":["h"],"paths":["/a"],"body":"json","txt":["a"]}]}"#;
        assert!(Catalog::from_json(typo)
            .unwrap_err()
            .to_string()
            .contains("txt"));
    }
}
