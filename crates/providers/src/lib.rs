//! Provider adapters: for each LLM endpoint, where the user-written text sits in the request
//! body, how to put redacted text back, and what a refusal looks like to that provider's clients.
//!
//! Endpoints are data (`policies/endpoints.json`, compiled in, overridable). Nothing here knows
//! about rules or policy, and nothing does I/O: the proxy hands in bytes and gets text segments,
//! then hands back replacements and gets bytes.

mod catalog;
mod extract;
mod multipart;
mod refusal;
mod reply;
mod selector;
mod spooled;
mod strict_json;
mod tenant;

pub use catalog::{BodyKind, Catalog, CatalogError, Endpoint, ErrorShape, UrlPrompt};
pub use extract::{
    extract, extract_query, extract_with, rewrite, DocumentLimits, DocumentSeen, ExtractError,
    Extracted, TextSegment,
};
pub use refusal::{refusal, Refusal};
pub use reply::{ReplySpec, Usage};
pub use selector::Selector;
pub use spooled::extract_spooled;
pub use tenant::{TenantEntry, TenantSource};
