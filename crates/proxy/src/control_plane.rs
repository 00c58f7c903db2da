//! The proxy's own small HTTP surface (requests addressed to it, not through it): the PAC
//! file, the device CA, health, and allow-once for a warned prompt (bearer token).

use crate::body;
use crate::guard::Guard;
use crate::pipeline::respond;
use crate::state::{AllowError, Shared};
use hudsucker::{Body, RequestOrResponse};
use hyper::{Method, Request, Response, StatusCode};
use leakguard_policy::Mode;

impl Shared {
    /// The PAC file: destination hosts through the proxy, everything else DIRECT.
    pub fn pac(&self) -> String {
        pac_for(self.policy.load().policy(), self.listen)
    }
}

/// The PAC file for a policy and a listening address: the hosts of every destination group not
/// in `allow` mode through the guard, everything else DIRECT. The same text whether the guard
/// serves it or `leakguard proxy enable --offline` writes it before the guard runs.
pub fn pac_for(policy: &leakguard_policy::Policy, listen: std::net::SocketAddr) -> String {
    let mut conds = Vec::new();
    for g in policy.destinations.iter().filter(|g| g.mode != Mode::Allow) {
        for h in &g.hosts {
            let h = h.to_ascii_lowercase();
            match h.strip_prefix("*.") {
                Some(s) => conds.push(format!("dnsDomainIs(h, \".{s}\")")),
                None => conds.push(format!("h == \"{h}\" || dnsDomainIs(h, \".{h}\")")),
            }
        }
    }
    let cond = if conds.is_empty() {
        "false".to_string()
    } else {
        conds.join(" ||\n      ")
    };
    format!(
        "// Leakguard: only LLM destinations go through the local guard.\nfunction FindProxyForURL(url, host) {{\n  var h = host.toLowerCase();\n  // `chatgpt.com.` is the same host as `chatgpt.com`: never DIRECT because of the dot.\n  while (h.charAt(h.length - 1) == \".\") h = h.substring(0, h.length - 1);\n  if ({cond})\n    return \"PROXY {addr}\";\n  return \"DIRECT\";\n}}\n",
        addr = listen
    )
}

impl Guard {
    /// Requests addressed to the proxy itself. Only under a loopback name: a page on another
    /// site whose name was rebound to 127.0.0.1 (DNS rebinding) sends its own name as `Host`
    /// and is refused, so it can read neither health nor anything else here.
    pub(crate) fn control(&self, req: Request<Body>) -> RequestOrResponse {
        if !loopback_host(req.headers().get(hyper::header::HOST)) {
            return RequestOrResponse::Response(respond(
                StatusCode::MISDIRECTED_REQUEST,
                "text/plain",
                "Leakguard answers its own requests only at 127.0.0.1, [::1] or localhost\n",
            ));
        }
        let path = req.uri().path().to_string();
        let shared = &self.shared;
        let res = match (req.method(), path.as_str()) {
            (&Method::GET, "/proxy.pac") => respond(
                StatusCode::OK,
                "application/x-ns-proxy-autoconfig",
                shared.pac(),
            ),
            (&Method::GET, "/leakguard/ca.pem") => respond(
                StatusCode::OK,
                "application/x-pem-file",
                shared.ca.load().cert_pem().to_string(),
            ),
            (&Method::GET, "/leakguard/health") => {
                let loaded = shared.policy.load();
                let body = serde_json::json!({
                    "status": "ok",
                    "policy": loaded.label,
                    "listen": shared.listen.to_string(),
                    "events": shared.events.location(),
                    "counters": &shared.counters,
                });
                respond(StatusCode::OK, "application/json", body.to_string())
            }
            (&Method::POST, "/leakguard/allow") => return RequestOrResponse::Request(req),
            _ => respond(
                StatusCode::NOT_FOUND,
                "text/plain",
                "Leakguard: not found\n",
            ),
        };
        RequestOrResponse::Response(res)
    }

    pub(crate) async fn allow_endpoint(&self, req: Request<Body>) -> Response<Body> {
        let shared = &self.shared;
        let authorised = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| constant_time_eq(t.as_bytes(), shared.control_token.as_bytes()));
        if !authorised {
            return respond(
                StatusCode::UNAUTHORIZED,
                "application/json",
                r#"{"error":"a valid control token is required"}"#,
            );
        }
        let Ok(body) = body::collect(req.into_body(), None, 16 << 10).await else {
            return respond(
                StatusCode::PAYLOAD_TOO_LARGE,
                "application/json",
                r#"{"error":"body too large"}"#,
            );
        };
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&body);
        let (code, reason) = match &parsed {
            Ok(v) => (
                v["code"].as_str().unwrap_or(""),
                v["reason"].as_str().unwrap_or(""),
            ),
            Err(_) => ("", ""),
        };
        match shared.allow_once(code, reason) {
            Ok(ttl) => respond(
                StatusCode::OK,
                "application/json",
                serde_json::json!({"allowed": code, "expires_in_s": ttl.as_secs()}).to_string(),
            ),
            Err(e) => respond(
                match e {
                    AllowError::NoReason => StatusCode::BAD_REQUEST,
                    AllowError::Unknown => StatusCode::NOT_FOUND,
                },
                "application/json",
                serde_json::json!({"error": e.to_string()}).to_string(),
            ),
        }
    }
}

/// Whether a `Host` header names this machine's loopback (with any port).
fn loopback_host(host: Option<&hyper::header::HeaderValue>) -> bool {
    let Some(h) = host.and_then(|h| h.to_str().ok()) else {
        // HTTP/1.0 without Host: nothing a browser sends.
        return true;
    };
    let name = match h.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => h.rsplit_once(':').map_or(h, |(n, _)| n),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::loopback_host;
    use hyper::header::HeaderValue;

    #[test]
    fn only_loopback_names_reach_the_guards_own_endpoints() {
        for ok in [
            "127.0.0.1:8480",
            "localhost:8480",
            "LOCALHOST",
            "[::1]:8480",
            "127.0.0.2",
        ] {
            assert!(loopback_host(Some(&HeaderValue::from_static(ok))), "{ok}");
        }
        for bad in [
            "attacker.example:8480",
            "127.0.0.1.nip.io",
            "10.0.0.1:8480",
            "[fe80::1]:80",
        ] {
            assert!(
                !loopback_host(Some(&HeaderValue::from_static(bad))),
                "{bad}"
            );
        }
    }
}
