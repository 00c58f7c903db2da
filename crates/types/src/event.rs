//! The record of one decision: what the guard saw (metadata only) and what it did.
//!
//! An [`Event`] never holds a prompt or a raw value: rule ids with counts, masked previews and a
//! SHA-256 of the prompt text let an admin prove what happened without keeping what was said.

use serde::{Deserialize, Serialize};

/// An enum whose values are stable lower-case names: serialised, stored and compared as those
/// names (so the stored and exported format is the names themselves), with `as_str`,
/// `Display`, `FromStr` and `== "name"`.
macro_rules! named {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $v:ident = $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        pub enum $name {
            /// Not set (an empty name).
            #[default]
            Unset,
            $($(#[$vm])* $v,)+
        }

        impl $name {
            /// Every value but `Unset`.
            pub const ALL: &'static [$name] = &[$($name::$v,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $name::Unset => "",
                    $($name::$v => $s,)+
                }
            }

            pub fn is_unset(&self) -> bool {
                *self == $name::Unset
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    "" => Ok($name::Unset),
                    $($s => Ok($name::$v),)+
                    other => Err(format!(
                        "`{other}` is not {}; expected one of {}",
                        $what,
                        [$($s),+].join(", ")
                    )),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

named! {
    /// What an event is about.
    EventKind, "an event kind" {
        /// An intercepted HTTP request.
        Request = "request",
        /// A client-to-server WebSocket frame.
        Websocket = "websocket",
        /// The user allowed a warned prompt once.
        Override = "override",
        /// The policy in force changed, was rejected or could not be pulled.
        Policy = "policy",
        /// The user paused the guard, or the pause ended.
        Pause = "pause",
        /// The user reported a false positive.
        Feedback = "feedback",
        /// This device's protection: trust or routing drifted, came back, or a heartbeat.
        Protection = "protection",
        /// A known endpoint's text fields came back empty while the body held prose elsewhere:
        /// the site probably changed its request shape (the text was read anyway).
        Coverage = "coverage",
        /// What an intercepted service answered: findings in the reply, its token counts and
        /// the model that served it (`reply_to` names the request's event).
        Reply = "reply",
    }
}

named! {
    /// What the policy (or the guard, for its own events) decided.
    EventVerdict, "a verdict" {
        Allow = "allow",
        Audit = "audit",
        Warn = "warn",
        Redact = "redact",
        Block = "block",
        /// `fail_mode: allow`: forwarded without inspection.
        Unscanned = "unscanned",
        /// A policy update took effect.
        Applied = "applied",
        /// Events were dropped while the event database could not be written.
        EventsLost = "events_lost",
        /// A policy update was refused; the last good policy stays.
        Rejected = "rejected",
        /// The pulled policy could not be fetched.
        PullFailed = "pull_failed",
        Pause = "pause",
        Resume = "resume",
        FalsePositive = "false_positive",
        /// Trust or routing is no longer in place (the reasons say what).
        ProtectionDegraded = "protection_degraded",
        /// Everything is in place again.
        ProtectionRestored = "protection_restored",
        /// The guard is running on this device (sent every `deployment.heartbeat_s`).
        Heartbeat = "heartbeat",
        /// The device CA was replaced by one covering destinations a new policy added (the
        /// reason names them, both CAs, and where the new one is trusted).
        CaRotated = "ca_rotated",
        /// The guard stopped (the reason says who: the user as the policy allows, an unlock
        /// code, the operating system).
        Stopped = "stopped",
        /// A user's attempt to stop the guard, or an unlock code, was refused.
        StopRefused = "stop_refused",
    }
}

named! {
    /// What the guard did.
    Outcome, "an outcome" {
        Forwarded = "forwarded",
        Redacted = "redacted",
        Blocked = "blocked",
        Warned = "warned",
        Overridden = "overridden",
        /// Refused without a finding: unreadable, too large, a bomb (fail closed).
        Refused = "refused",
        Reported = "reported",
        Paused = "paused",
        Resumed = "resumed",
    }
}

impl From<crate::Action> for EventVerdict {
    fn from(a: crate::Action) -> Self {
        match a {
            crate::Action::Allow => EventVerdict::Allow,
            crate::Action::Audit => EventVerdict::Audit,
            crate::Action::Warn => EventVerdict::Warn,
            crate::Action::Redact => EventVerdict::Redact,
            crate::Action::Block => EventVerdict::Block,
        }
    }
}

/// One rule's part in a decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RuleCount {
    pub rule: String,
    pub category: String,
    pub action: String,
    pub count: u32,
}

/// A decision the guard made (or a fact about the guard itself, kind `policy`).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct Event {
    /// 128-bit hex id, unique across devices and restarts: SIEMs de-duplicate on it.
    pub id: String,
    /// RFC 3339 UTC with milliseconds.
    pub time: String,
    pub kind: EventKind,
    /// The device's host name and the OS user the guard runs for.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub device: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub os_user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// The path without its query string.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The output-token cap the request asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// The client's User-Agent, cut to 120 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The local program that sent it, `name (pid)`, where the OS tells (Linux); looked up
    /// for requests with findings and where the policy has exceptions by program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The policy's verdict.
    pub verdict: EventVerdict,
    /// What was done.
    pub outcome: Outcome,
    /// The policy entry that decided.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub decided_by: String,
    pub rules: Vec<RuleCount>,
    /// Masked previews (`AKI…QXA`), at most 8.
    pub previews: Vec<String>,
    /// SHA-256 over the destination host and the SHA-256 of each extracted text segment, in
    /// order (a WebSocket frame is one segment): the same prompt to the same host gives the
    /// same value. For correlating without keeping the text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prompt_sha256: String,
    pub bytes: usize,
    pub text_bytes: usize,
    pub est_tokens: usize,
    pub latency_us: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub binary_parts: usize,
    /// The documents the request uploaded, as read: `plan.pdf (pdf, 3 parts, 5120 bytes of
    /// text)`, or `locked.docx (docx): unreadable: …`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<String>,
    /// Fields of the body that the endpoint's adapter does not list as text, where a finding
    /// was (`prompt.variables.customer`): read anyway, named so that a site's new field shows
    /// up in the events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unlisted_fields: Vec<String>,
    /// For a `reply`: the id of the request's event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// Token counts the provider reported in its reply (input includes cached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// The model the provider says served the reply, when it differs from the one asked for
    /// (an alias resolved to a snapshot, or a pinned model swapped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_model: Option<String>,
    /// Images the request uploaded (also inside documents): not scanned, counted so the usage
    /// view shows how much goes out unscanned.
    #[serde(skip_serializing_if = "is_zero")]
    pub unscanned_images: usize,
    /// Why a request was refused without a finding (fail-closed), or a policy load error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The policy in force (its label: source and version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// For `warned`: the code the user can allow once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// The prompt with every finding replaced by its placeholder; kept only when the policy's
    /// `events.keep_redacted_prompt` is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redacted_prompt: Option<String>,
}

impl Event {
    /// The distinct categories of the rules that fired, in first-seen order.
    pub fn categories(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in &self.rules {
            if !out.contains(&r.category.as_str()) {
                out.push(&r.category);
            }
        }
        out
    }

    /// The one-line account a user reads: "Blocked: aws-secret-access-key in a prompt to
    /// chatgpt.com".
    pub fn headline(&self) -> String {
        let what = match self.outcome {
            Outcome::Blocked | Outcome::Refused => "Blocked",
            Outcome::Warned => "Held for your confirmation",
            Outcome::Redacted => "Redacted",
            Outcome::Overridden => "Allowed once",
            Outcome::Forwarded => "Sent",
            other => other.as_str(),
        };
        let cause = match (self.rules.first(), &self.reason) {
            (Some(r), _) => {
                let more = self.rules.len() - 1;
                if more > 0 {
                    format!("{} (+{more} more)", r.rule)
                } else {
                    r.rule.clone()
                }
            }
            (None, Some(reason)) => reason.clone(),
            (None, None) => "policy".to_string(),
        };
        if self.kind == EventKind::Reply {
            let tokens = match (self.input_tokens, self.output_tokens) {
                (Some(i), Some(o)) => format!("{i} tokens in, {o} out"),
                _ => "no usage reported".into(),
            };
            return match self.rules.first() {
                Some(_) => format!("Reply from {} held {cause}", self.host),
                None => format!("Reply from {}: {tokens}", self.host),
            };
        }
        if self.host.is_empty() {
            format!("{what}: {cause}")
        } else {
            format!("{what}: {cause} in a prompt to {}", self.host)
        }
    }
}

/// What an answer with nothing to report says: the provider's token counts and the model that
/// served it. It belongs on its request's stored event (`reply_to`), not in an event of its
/// own, so the event store takes it as it is (no id, no listeners) and folds it onto that row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// The request's event id.
    pub reply_to: String,
    /// When the answer ended (Unix ms).
    pub time_ms: i64,
    /// The request's host and client (the usage record's keys).
    pub host: String,
    pub client: Option<String>,
    /// What else the request's event says of it, for the rare row of its own (a request
    /// that was never stored): moved from the reply's copy of it, not cloned.
    pub method: String,
    pub path: String,
    pub endpoint: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub group: Option<String>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cached_tokens: Option<u64>,
    /// The model that answered, when it is not the one the request named.
    pub served_model: Option<String>,
}

impl Answer {
    /// The answer as a `reply` event of its own (for a store that cannot put it on its
    /// request's row: a spill file, a request that was never stored). Its id is the request's
    /// with `-answer`, so recording it twice stores it once. The device and OS user are the
    /// store's to stamp, as on every event.
    pub fn into_event(self) -> Event {
        Event {
            id: format!("{}-answer", self.reply_to),
            time: rfc3339_ms(self.time_ms),
            kind: EventKind::Reply,
            host: self.host,
            client: self.client,
            method: self.method,
            path: self.path,
            endpoint: self.endpoint,
            provider: self.provider,
            model: self.model,
            group: self.group,
            verdict: EventVerdict::Allow,
            outcome: Outcome::Forwarded,
            reply_to: Some(self.reply_to),
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cached_tokens: self.cached_tokens,
            served_model: self.served_model,
            ..Event::default()
        }
    }
}

/// RFC 3339 UTC with milliseconds for a Unix time in ms (`2026-11-21T13:07:22.123Z`), the
/// form every event time has (years outside 0000-9999 are clamped to them).
pub fn rfc3339_ms(unix_ms: i64) -> String {
    let (days, ms_of_day) = (
        unix_ms.div_euclid(86_400_000),
        unix_ms.rem_euclid(86_400_000),
    );
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let s = ms_of_day / 1000;
    // Written digit by digit: this runs for every event, and `format!` cost more than the
    // date arithmetic.
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut n: i64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year.clamp(0, 9999));
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, s / 3600);
    put(14, 2, s / 60 % 60);
    put(17, 2, s % 60);
    put(20, 3, ms_of_day % 1000);
    String::from_utf8_lossy(&out).into_owned()
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(rule: &str, category: &str) -> RuleCount {
        RuleCount {
            rule: rule.into(),
            category: category.into(),
            action: "block".into(),
            count: 1,
        }
    }

    #[test]
    fn headline_names_the_outcome_the_rule_and_the_destination() {
        let mut e = Event {
            outcome: Outcome::Blocked,
            host: "chatgpt.com".into(),
            rules: vec![rule("aws-secret-access-key", "secret")],
            ..Event::default()
        };
        assert_eq!(
            e.headline(),
            "Blocked: aws-secret-access-key in a prompt to chatgpt.com"
        );
        e.rules.push(rule("email", "pii"));
        e.outcome = Outcome::Redacted;
        assert_eq!(
            e.headline(),
            "Redacted: aws-secret-access-key (+1 more) in a prompt to chatgpt.com"
        );
        assert_eq!(e.categories(), vec!["secret", "pii"]);
        let refused = Event {
            outcome: Outcome::Refused,
            reason: Some("malformed JSON".into()),
            ..Event::default()
        };
        assert_eq!(refused.headline(), "Blocked: malformed JSON");
        let mut reply = Event {
            kind: EventKind::Reply,
            outcome: Outcome::Forwarded,
            host: "api.openai.com".into(),
            input_tokens: Some(11),
            output_tokens: Some(42),
            ..Event::default()
        };
        assert_eq!(
            reply.headline(),
            "Reply from api.openai.com: 11 tokens in, 42 out"
        );
        reply.rules.push(rule("aws-access-key-id", "secret"));
        assert_eq!(
            reply.headline(),
            "Reply from api.openai.com held aws-access-key-id"
        );
    }

    #[test]
    fn times_format_as_rfc3339_utc_with_milliseconds() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_795_266_442_123), "2026-11-21T13:07:22.123Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn events_round_trip_and_old_lines_still_read() {
        let e = Event {
            id: "ab".into(),
            kind: EventKind::Request,
            rules: vec![rule("jwt", "secret")],
            max_tokens: Some(5),
            ..Event::default()
        };
        let json = serde_json::to_string(&e).unwrap();
        assert!(!json.contains("redacted_prompt"), "{json}");
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
        let old: Event = serde_json::from_str(r#"{"id":"x","verdict":"allow"}"#).unwrap();
        assert_eq!(old.verdict, "allow");
    }
}

#[cfg(test)]
mod names {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>().unwrap(), *k);
            assert_eq!(
                serde_json::to_string(k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        for v in EventVerdict::ALL {
            assert_eq!(v.as_str().parse::<EventVerdict>().unwrap(), *v);
        }
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), *o);
        }
        assert_eq!(EventVerdict::from(crate::Action::Redact), "redact");
        assert!("blokked"
            .parse::<Outcome>()
            .unwrap_err()
            .contains("forwarded"));
        assert!(serde_json::from_str::<Event>(r#"{"outcome":"blokked"}"#).is_err());
        // An unset value is the empty name, as events stored before had it.
        assert_eq!(Event::default().outcome, "");
    }
}
