//! Reading replies: where a provider's answer text, token usage and served model sit in a JSON
//! reply or in one event of its SSE stream (the endpoint's `reply` in the catalog). Stream
//! deltas are read by their fields, so text split over many events joins up as the model wrote
//! it, never with the events' own ids and names in between.

use crate::selector::Selector;
use serde::Deserialize;
use serde_json::Value;

/// The catalog's `reply` of an endpoint, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReply {
    #[serde(default)]
    text: Vec<String>,
    #[serde(default)]
    input_tokens: Vec<String>,
    #[serde(default)]
    output_tokens: Vec<String>,
    #[serde(default)]
    cached_tokens: Vec<String>,
    #[serde(default)]
    model: Vec<String>,
    #[serde(default)]
    finish: Vec<String>,
    #[serde(default)]
    lines: bool,
}

/// Where the reply's parts are, in a JSON reply or in each SSE event's data.
#[derive(Debug, Clone, Default)]
pub struct ReplySpec {
    text: Vec<Selector>,
    input_tokens: Vec<Selector>,
    output_tokens: Vec<Selector>,
    cached_tokens: Vec<Selector>,
    model: Vec<Selector>,
    /// Where a stream event says the answer is over (a finish reason): the last event with
    /// text, where everything a redaction held back must go.
    finish: Vec<Selector>,
    /// The reply streams numbered lines (`N:json`, Le Chat's protocol), each read as the
    /// object `{"N": json}`.
    lines: bool,
    /// What all of them reach (to parse a reply without the rest).
    reach: crate::selector::Reach,
}

/// Token counts and the model, as the provider reported them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cached_tokens: Option<u64>,
    pub model: Option<String>,
}

impl Usage {
    pub fn is_empty(&self) -> bool {
        *self == Usage::default()
    }
}

impl ReplySpec {
    pub(crate) fn parse(raw: &RawReply) -> Result<ReplySpec, String> {
        let sel = |list: &[String]| -> Result<Vec<Selector>, String> {
            list.iter().map(|s| Selector::parse(s)).collect()
        };
        let mut spec = ReplySpec {
            text: sel(&raw.text)?,
            input_tokens: sel(&raw.input_tokens)?,
            output_tokens: sel(&raw.output_tokens)?,
            cached_tokens: sel(&raw.cached_tokens)?,
            model: sel(&raw.model)?,
            finish: sel(&raw.finish)?,
            lines: raw.lines,
            reach: Default::default(),
        };
        spec.reach = crate::selector::Reach::of(
            spec.text
                .iter()
                .chain(&spec.input_tokens)
                .chain(&spec.output_tokens)
                .chain(&spec.cached_tokens)
                .chain(&spec.model),
        );
        Ok(spec)
    }

    /// Whether the catalog says anything about this endpoint's replies.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.input_tokens.is_empty() && self.output_tokens.is_empty()
    }

    /// Reads one JSON reply or event's data from its bytes, building only the parts the
    /// selectors reach (the same result as [`ReplySpec::read`] on the whole document, for a
    /// fraction of the work). `false`: not JSON.
    pub fn read_bytes(&self, bytes: &[u8], text: &mut String, usage: &mut Usage) -> bool {
        match self.reach.parse(bytes) {
            Some(doc) => {
                self.read_tree(&doc, text, usage);
                true
            }
            None => false,
        }
    }

    /// Reads one JSON reply, or one SSE event's data (a JSON array, as Gemini streams without
    /// SSE, is read item by item): appends its text to `text` and keeps the largest count of
    /// each kind seen (streams repeat or grow them; Anthropic's input count comes first and
    /// its output count last).
    pub fn read(&self, doc: &Value, text: &mut String, usage: &mut Usage) {
        self.read_tree(doc, text, usage);
    }

    fn read_tree<T: crate::selector::Tree>(&self, doc: &T, text: &mut String, usage: &mut Usage) {
        if let Some(items) = doc.items() {
            if !items.is_empty() && items.iter().all(T::is_object) {
                for item in items {
                    self.read_tree(item, text, usage);
                }
                return;
            }
        }
        for sel in &self.text {
            sel.each_str(doc, &mut |s| text.push_str(s));
        }
        let count = |sels: &[Selector], slot: &mut Option<u64>| {
            for n in sels.iter().filter_map(|s| s.first_number(doc)) {
                *slot = Some(slot.map_or(n, |m| m.max(n)));
            }
        };
        count(&self.input_tokens, &mut usage.input_tokens);
        count(&self.output_tokens, &mut usage.output_tokens);
        count(&self.cached_tokens, &mut usage.cached_tokens);
        let mut model = None;
        for sel in &self.model {
            sel.each_str(doc, &mut |m| {
                if model.is_none() && !m.is_empty() {
                    model = Some(m);
                }
            });
        }
        if let Some(m) = model {
            usage.model = Some(m.to_string());
        }
    }
}

impl ReplySpec {
    /// Whether the catalog says where a reply's text is (what restoring placeholders across
    /// stream events needs).
    pub fn has_text(&self) -> bool {
        !self.text.is_empty()
    }

    /// Rewrites each string of the reply's text in `doc`, in order, with `f` (told whether it
    /// is the document's last). `false`: the document holds none.
    pub fn rewrite_text(&self, doc: &mut Value, mut f: impl FnMut(&str, bool) -> String) -> bool {
        let mut paths = Vec::new();
        for sel in &self.text {
            let mut found = Vec::new();
            sel.strings(doc, &mut found);
            paths.extend(found.into_iter().map(|(p, _)| p));
        }
        let n = paths.len();
        for (i, p) in paths.iter().enumerate() {
            if let Some(Value::String(s)) = crate::selector::get_mut(doc, p) {
                *s = f(s, i + 1 == n);
            }
        }
        n > 0
    }

    /// Puts `text` in `doc`'s first text field and empties the others (an event added to a
    /// stream to carry what was held back).
    pub fn put_text(&self, doc: &mut Value, text: String) {
        let mut text = Some(text);
        self.rewrite_text(doc, |_, _| text.take().unwrap_or_default());
    }

    /// Whether the reply streams numbered lines (`N:json`), each read as `{"N": json}`.
    pub fn lines(&self) -> bool {
        self.lines
    }

    /// Whether this stream event ends the answer (it holds a finish reason).
    pub fn finishes(&self, doc: &Value) -> bool {
        let mut found = false;
        for sel in &self.finish {
            sel.each_str(doc, &mut |s| found |= !s.is_empty());
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;

    fn spec(id: &str) -> ReplySpec {
        let c = Catalog::builtin();
        c.endpoints()
            .iter()
            .find(|e| e.id == id)
            .unwrap()
            .reply()
            .clone()
    }

    /// Reads the events both ways, whole documents and only what the selectors reach, and
    /// checks they agree.
    fn read_stream(spec: &ReplySpec, events: &[&str]) -> (String, Usage) {
        let (mut text, mut usage) = (String::new(), Usage::default());
        let (mut pruned_text, mut pruned_usage) = (String::new(), Usage::default());
        for e in events {
            spec.read(&serde_json::from_str(e).unwrap(), &mut text, &mut usage);
            assert!(spec.read_bytes(e.as_bytes(), &mut pruned_text, &mut pruned_usage));
        }
        assert_eq!((&pruned_text, &pruned_usage), (&text, &usage), "{events:?}");
        (text, usage)
    }

    #[test]
    fn the_text_of_an_event_is_rewritten_in_place() {
        let spec = spec("anthropic-messages");
        let mut doc: Value = serde_json::from_str(
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ab"}}"#,
        )
        .unwrap();
        assert!(spec.rewrite_text(&mut doc, |t, last| {
            assert!(last);
            t.to_uppercase()
        }));
        assert_eq!(doc["delta"]["text"], "AB");
        assert_eq!(doc["delta"]["type"], "text_delta");
        let mut stop: Value = serde_json::from_str(r#"{"type":"message_stop"}"#).unwrap();
        assert!(!spec.rewrite_text(&mut stop, |t, _| t.to_uppercase()));
        // Gemini's last event of a stream says so (a finish reason); the others do not.
        let gemini = super::tests::spec("gemini-generate-content");
        let mut parts: Value = serde_json::from_str(
            r#"{"candidates":[{"content":{"parts":[{"text":"a"},{"text":"b"}]},"finishReason":"STOP"}]}"#,
        )
        .unwrap();
        assert!(gemini.finishes(&parts));
        let mut lasts = Vec::new();
        gemini.rewrite_text(&mut parts, |t, last| {
            lasts.push(last);
            t.into()
        });
        assert_eq!(lasts, [false, true]);
        let mid: Value =
            serde_json::from_str(r#"{"candidates":[{"content":{"parts":[{"text":"a"}]}}]}"#)
                .unwrap();
        assert!(!gemini.finishes(&mid));
        let openai = super::tests::spec("openai-chat-completions");
        let null: Value = serde_json::from_str(
            r#"{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}"#,
        )
        .unwrap();
        assert!(!openai.finishes(&null));
    }

    #[test]
    fn each_provider_stream_shape_joins_its_deltas_and_reads_its_usage() {
        // OpenAI chat completions with stream_options.include_usage.
        let (t, u) = read_stream(
            &spec("openai-chat-completions"),
            &[
                r#"{"id":"c","object":"chat.completion.chunk","model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"role":"assistant","content":"AKIA"}}]}"#,
                r#"{"id":"c","object":"chat.completion.chunk","model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"QYLPMN5HJNGY4F7A"}}]}"#,
                r#"{"id":"c","object":"chat.completion.chunk","model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":4}}}"#,
            ],
        );
        assert_eq!(t, "AKIAQYLPMN5HJNGY4F7A");
        assert_eq!(
            u,
            Usage {
                input_tokens: Some(12),
                output_tokens: Some(7),
                cached_tokens: Some(4),
                model: Some("gpt-4o-2024-08-06".into())
            }
        );
        // OpenAI Responses: output_text deltas, usage in response.completed.
        let (t, u) = read_stream(
            &spec("openai-responses"),
            &[
                r#"{"type":"response.created","response":{"id":"r","model":"gpt-4.1-2025-04-14","output":[]}}"#,
                r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"Hel"}"#,
                r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"lo"}"#,
                r#"{"type":"response.completed","response":{"id":"r","model":"gpt-4.1-2025-04-14","usage":{"input_tokens":9,"output_tokens":2,"input_tokens_details":{"cached_tokens":0}}}}"#,
            ],
        );
        assert_eq!(t, "Hello");
        assert_eq!((u.input_tokens, u.output_tokens), (Some(9), Some(2)));
        assert_eq!(u.model.as_deref(), Some("gpt-4.1-2025-04-14"));
        // Anthropic Messages: input in message_start, output in message_delta.
        let (t, u) = read_stream(
            &spec("anthropic-messages"),
            &[
                r#"{"type":"message_start","message":{"id":"m","model":"claude-sonnet-4-20250514","usage":{"input_tokens":25,"output_tokens":1,"cache_read_input_tokens":3}}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi "}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"there"}}"#,
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}"#,
            ],
        );
        assert_eq!(t, "Hi there");
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.cached_tokens),
            (Some(25), Some(15), Some(3))
        );
        // Le Chat's numbered lines, each read as `{"N": json}`: `0:"text"` in one generation of
        // the web app, JSON patches of the message's content chunks in the next.
        let (t, _) = read_stream(
            &spec("lechat-web-chat"),
            &[
                r#"{"0":"Hel"}"#,
                r#"{"1":{"messageId":"m1"}}"#,
                r#"{"15":{"json":{"type":"message","patches":[{"op":"replace","path":"/contentChunks","value":[{"type":"text","text":"lo "}]}]}}}"#,
                r#"{"15":{"json":{"patches":[{"op":"append","path":"/contentChunks/0/text","value":"there"}]}}}"#,
            ],
        );
        assert_eq!(t, "Hello there");
        // Gemini: candidates' parts, usageMetadata, modelVersion; also as one JSON array.
        let gemini = spec("gemini-generate-content");
        let (t, u) = read_stream(
            &gemini,
            &[
                r#"[{"candidates":[{"content":{"parts":[{"text":"one "}],"role":"model"}}],"modelVersion":"gemini-2.5-pro"},{"candidates":[{"content":{"parts":[{"text":"two"}]}}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":2,"cachedContentTokenCount":1}}]"#,
            ],
        );
        assert_eq!(t, "one two");
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.cached_tokens),
            (Some(8), Some(2), Some(1))
        );
        // Bedrock Converse (a JSON reply).
        let (t, u) = read_stream(
            &spec("bedrock-converse"),
            &[
                r#"{"output":{"message":{"role":"assistant","content":[{"text":"ok then"}]}},"stopReason":"end_turn","usage":{"inputTokens":30,"outputTokens":4,"totalTokens":34}}"#,
            ],
        );
        assert_eq!(t, "ok then");
        assert_eq!((u.input_tokens, u.output_tokens), (Some(30), Some(4)));
        // Gemini Code Assist wraps Gemini's reply in `response`.
        let (t, _) = read_stream(
            &spec("gemini-code-assist"),
            &[r#"{"response":{"candidates":[{"content":{"parts":[{"text":"done"}]}}]}}"#],
        );
        assert_eq!(t, "done");
    }
}
