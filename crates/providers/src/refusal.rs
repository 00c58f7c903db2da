//! What a refused request looks like to the provider's own clients, so that the SDK raises a
//! readable error and the web page shows the message in the conversation.

use crate::catalog::ErrorShape;
use serde_json::json;

/// A ready-to-send refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// Builds the refusal for `shape`. `code` is a stable machine-readable reason
/// (`leakguard_blocked`, `leakguard_warn`, `leakguard_fail_closed`, `leakguard_rate_limited`…),
/// `message` the one line the user reads; it never holds the secret.
pub fn refusal(shape: ErrorShape, status: u16, code: &str, message: &str) -> Refusal {
    let body = match shape {
        ErrorShape::Openai => json!({
            "error": {"message": message, "type": "leakguard_policy", "param": null, "code": code}
        }),
        ErrorShape::Anthropic | ErrorShape::ClaudeWeb => json!({
            "type": "error",
            "error": {"type": anthropic_type(status), "message": message, "details": {"code": code}}
        }),
        ErrorShape::Gemini => json!({
            "error": {"code": status, "message": message, "status": gemini_status(status),
                      "details": [{"reason": code}]}
        }),
        ErrorShape::ChatgptWeb => json!({"detail": message, "code": code}),
        ErrorShape::Bedrock => {
            // Not `code`: botocore would take it for the exception's name.
            json!({"__type": aws_type(status), "message": message, "reason": code})
        }
        ErrorShape::Generic => json!({"error": {"message": message, "type": code}}),
    };
    Refusal {
        status,
        content_type: "application/json",
        body: serde_json::to_vec(&body).expect("a JSON value serialises"),
    }
}

fn anthropic_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        _ => "permission_error",
    }
}

fn aws_type(status: u16) -> &'static str {
    match status {
        400 | 413 => "ValidationException",
        429 => "ThrottlingException",
        503 => "ServiceUnavailableException",
        _ => "AccessDeniedException",
    }
}

fn gemini_status(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        413 => "INVALID_ARGUMENT",
        429 => "RESOURCE_EXHAUSTED",
        _ => "PERMISSION_DENIED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn each_shape_carries_the_message_where_its_clients_read_it() {
        let msg = "Blocked by Leakguard: secret (aws-access-key-id)";
        let read = |shape| {
            let r = refusal(shape, 403, "leakguard_blocked", msg);
            assert_eq!(r.status, 403);
            serde_json::from_slice::<Value>(&r.body).unwrap()
        };
        assert_eq!(read(ErrorShape::Openai)["error"]["message"], msg);
        assert_eq!(
            read(ErrorShape::Openai)["error"]["code"],
            "leakguard_blocked"
        );
        let a = read(ErrorShape::Anthropic);
        assert_eq!(
            (a["type"].as_str(), a["error"]["type"].as_str()),
            (Some("error"), Some("permission_error"))
        );
        assert_eq!(a["error"]["message"], msg);
        assert_eq!(
            read(ErrorShape::Gemini)["error"]["status"],
            "PERMISSION_DENIED"
        );
        assert_eq!(read(ErrorShape::ChatgptWeb)["detail"], msg);
        let b = read(ErrorShape::Bedrock);
        assert_eq!(
            (b["__type"].as_str(), b["message"].as_str()),
            (Some("AccessDeniedException"), Some(msg))
        );
        assert_eq!(read(ErrorShape::Generic)["error"]["message"], msg);
        let limited = refusal(
            ErrorShape::Anthropic,
            429,
            "leakguard_rate_limited",
            "slow down",
        );
        assert!(String::from_utf8(limited.body)
            .unwrap()
            .contains("rate_limit_error"));
    }
}
