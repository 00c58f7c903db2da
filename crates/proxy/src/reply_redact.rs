//! Rewriting the answer's text in a reply, whatever its framing: redacting it
//! (`reply_action: redact`: what the policy acts on is replaced by `[REDACTED:rule]` before the
//! user sees it) or restoring the user's own values in place of the placeholders the model
//! echoes (`restore_redacted`). Both are a [`Transform`] of the text; the framings are shared
//! ([`rewrite`]). A JSON reply is held whole and its text fields rewritten; a stream (SSE events, AWS event-stream messages, the items of a JSON
//! array as Gemini streams without SSE) keeps flowing event by event, but its text is released
//! [`HOLD`] bytes behind what arrived, so a value the model streams over many deltas is seen
//! whole before any of it leaves. All are [`Rewrite`]s of the reply body, after the reading
//! that records the `reply` event and before any restore of the user's own values.

use crate::reply::{Kind, Redactor};
use crate::restore::{Rewrite, Rewriting};
use hudsucker::Body;
use leakguard_providers::ReplySpec;
use serde_json::Value;

/// Text held back in a stream: a finding that starts in it may not have arrived whole.
const HOLD: usize = 512;
/// Text is scanned again once this much more than [`HOLD`] waits (not at every delta).
const STEP: usize = 256;
/// A JSON reply (or one item of a JSON array stream) larger than this is passed on as it is
/// (and the reading records it as read only in part).
const MAX_HELD: usize = 8 << 20;

/// `body`, a reply framed as `kind`, with its answer's text (where `spec` says it is) through
/// `transform`, in that framing's rewriter.
pub(crate) fn rewrite(
    kind: Kind,
    body: Body,
    transform: impl Transform + 'static,
    spec: ReplySpec,
) -> Body {
    fn boxed<R: Rewrite + Sync>(body: Body, rewrite: R) -> Body {
        Body::from(http_body_util::combinators::BoxBody::new(Rewriting::new(
            body, rewrite,
        )))
    }
    match kind {
        Kind::Sse => boxed(body, InStream::new(transform, spec)),
        Kind::Lines => boxed(body, InLines::new(transform, spec)),
        Kind::EventStream => boxed(body, InEventStream::new(transform, spec)),
        Kind::Json => boxed(body, InJson::new(transform, spec)),
    }
}

/// What a reply's text becomes on its way to the user, as it streams.
pub(crate) trait Transform: Send + Sync {
    /// What may go now of `held` (the text so far not yet sent; all of it when `all`), taken
    /// out of `held`.
    fn release(&self, held: &mut String, all: bool) -> String;

    /// A whole text (a JSON reply's field), transformed.
    fn whole(&self, text: &str) -> String {
        let mut held = text.to_string();
        self.release(&mut held, true)
    }
}

impl Transform for Redactor {
    /// Redacted, [`HOLD`] bytes behind what arrived: a value streamed over many deltas is
    /// seen whole before any of it leaves.
    fn release(&self, held: &mut String, all: bool) -> String {
        if !all && held.len() < HOLD + STEP {
            return String::new();
        }
        let upto = if all { held.len() } else { held.len() - HOLD };
        let (out, cut) = self.redact(held, upto);
        held.drain(..cut);
        out
    }

    fn whole(&self, text: &str) -> String {
        self.redact(text, text.len()).0
    }
}

/// The answer text of a stream on its way through: each event's text joins what is held
/// back, and what is safe of it goes out in that event. An event that ends the answer (a
/// finish reason, as Gemini's last event carries with its last text) takes all that is held.
/// What is held when an event without text comes (the end, usage, `[DONE]`) goes out in one
/// more event shaped like the last one with text ([`Held::rest`]).
struct Held {
    transform: Box<dyn Transform>,
    spec: ReplySpec,
    text: String,
}

impl Held {
    fn new(transform: impl Transform + 'static, spec: ReplySpec) -> Held {
        Held {
            transform: Box::new(transform),
            spec,
            text: String::new(),
        }
    }

    /// Takes the text of one event's `doc` in and puts back what may go. `false`: no text.
    fn take(&mut self, doc: &mut Value) -> bool {
        let all = self.spec.finishes(doc);
        let (held, transform) = (&mut self.text, &self.transform);
        self.spec.rewrite_text(doc, |text, last| {
            held.push_str(text);
            transform.release(held, all && last)
        })
    }

    /// Everything held, in a copy of `shape` (the last event with text): its first text field
    /// gets it, the others are emptied. `None` (and no copy): nothing is held.
    fn rest(&mut self, shape: &Value) -> Option<Value> {
        if self.text.is_empty() {
            return None;
        }
        let mut doc = shape.clone();
        let text = self.transform.release(&mut self.text, true);
        self.spec.put_text(&mut doc, text);
        Some(doc)
    }
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("text", &self.text.len())
            .finish_non_exhaustive()
    }
}

/// A JSON reply: held whole and its text fields redacted at the end; or, when it is a JSON
/// array (Gemini's `streamGenerateContent` without `alt=sse`), redacted item by item as the
/// items complete, like the events of a stream.
#[derive(Debug)]
pub struct InJson {
    held: Held,
    bytes: Vec<u8>,
    /// Too large to hold, or not what it seemed: what comes passes as it is.
    passing: bool,
    /// The reply is a JSON array, read item by item.
    items: Option<Items>,
    /// The last item with text, as a shape for what is held.
    last: Option<Value>,
}

impl InJson {
    pub(crate) fn new(transform: impl Transform + 'static, spec: ReplySpec) -> InJson {
        InJson {
            held: Held::new(transform, spec),
            bytes: Vec::new(),
            passing: false,
            items: None,
            last: None,
        }
    }

    /// What is held, as one more item: `before` the next item (after the separator already
    /// sent: the item and then a separator), else after the last one (a separator, then the
    /// item).
    fn flush_item(&mut self, out: &mut Vec<u8>, before: bool) {
        let Some(doc) = self.last.as_ref().and_then(|d| self.held.rest(d)) else {
            return;
        };
        if !before {
            out.push(b',');
        }
        out.extend(serde_json::to_vec(&doc).unwrap_or_default());
        if before {
            out.push(b',');
        }
    }

    fn item_out(&mut self, item: &[u8], out: &mut Vec<u8>) {
        let mut doc = serde_json::from_slice::<Value>(item).ok();
        if doc.as_mut().is_some_and(|d| self.held.take(d)) {
            let doc = doc.unwrap_or_default();
            out.extend(serde_json::to_vec(&doc).unwrap_or_default());
            self.last = Some(doc);
        } else {
            // No text here: what is held goes first.
            self.flush_item(out, true);
            out.extend_from_slice(item);
        }
    }

    fn array_chunk(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let Some(mut items) = self.items.take() else {
            return;
        };
        let mut pieces = Vec::new();
        items.feed(data, &mut pieces);
        for piece in pieces {
            match piece {
                Piece::Between(b) => out.extend_from_slice(&b),
                Piece::Item(item) => self.item_out(&item, out),
                Piece::Close(b) => {
                    self.flush_item(out, false);
                    out.extend_from_slice(&b);
                }
                Piece::Broken(b) => {
                    // After a separator: what is held goes as an item of its own first.
                    self.flush_item(out, true);
                    out.extend_from_slice(&b);
                    self.passing = true;
                }
            }
        }
        if !self.passing {
            self.items = Some(items);
        }
    }
}

impl Rewrite for InJson {
    fn chunk(&mut self, data: &[u8]) -> Vec<u8> {
        if self.passing {
            return data.to_vec();
        }
        if self.items.is_none() && self.bytes.iter().all(u8::is_ascii_whitespace) {
            // The first byte that is not white space says whether the reply is an array.
            if let Some(&first) = data.iter().find(|b| !b.is_ascii_whitespace()) {
                if first == b'[' {
                    let mut out = std::mem::take(&mut self.bytes);
                    self.items = Some(Items::default());
                    self.array_chunk(data, &mut out);
                    return out;
                }
            }
        }
        if self.items.is_some() {
            let mut out = Vec::with_capacity(data.len() + 64);
            self.array_chunk(data, &mut out);
            return out;
        }
        if self.bytes.len() + data.len() > MAX_HELD {
            self.passing = true;
            let mut out = std::mem::take(&mut self.bytes);
            out.extend_from_slice(data);
            return out;
        }
        self.bytes.extend_from_slice(data);
        Vec::new()
    }

    fn end(&mut self) -> Vec<u8> {
        if let Some(mut items) = self.items.take() {
            // Cut short: what is held, then what was left as it came.
            let mut out = Vec::new();
            let rest = items.take_rest();
            self.flush_item(&mut out, !rest.is_empty());
            out.extend(rest);
            return out;
        }
        let held = std::mem::take(&mut self.bytes);
        let Ok(mut doc) = serde_json::from_slice::<Value>(&held) else {
            return held;
        };
        let t = &self.held.transform;
        if !self
            .held
            .spec
            .rewrite_text(&mut doc, |text, _| t.whole(text))
        {
            return held;
        }
        serde_json::to_vec(&doc).unwrap_or(held)
    }
}

/// A part of a JSON array as its bytes arrive.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    /// The opening bracket, separators and white space: passed as they are.
    Between(Vec<u8>),
    /// One whole object item.
    Item(Vec<u8>),
    /// The closing bracket and what follows.
    Close(Vec<u8>),
    /// Not an array of objects (or an item too large to hold): the rest as it came.
    Broken(Vec<u8>),
}

/// Cuts a JSON array of objects into its items as they complete, whatever the chunks.
#[derive(Debug, Default)]
struct Items {
    /// Bytes of the item being read.
    item: Vec<u8>,
    /// Nesting inside the array (1: between items).
    depth: usize,
    in_string: bool,
    escaped: bool,
    closed: bool,
}

impl Items {
    fn feed(&mut self, data: &[u8], out: &mut Vec<Piece>) {
        let mut between = Vec::new();
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            if self.closed {
                between.extend_from_slice(&data[i..]);
                break;
            }
            if self.depth <= 1 {
                match b {
                    b'[' if self.depth == 0 => {
                        self.depth = 1;
                        between.push(b);
                    }
                    b'{' if self.depth == 1 => {
                        if !between.is_empty() {
                            out.push(Piece::Between(std::mem::take(&mut between)));
                        }
                        self.depth = 2;
                        self.item.push(b);
                    }
                    b']' if self.depth == 1 => {
                        if !between.is_empty() {
                            out.push(Piece::Between(std::mem::take(&mut between)));
                        }
                        self.closed = true;
                        out.push(Piece::Close(data[i..].to_vec()));
                        return;
                    }
                    b',' if self.depth == 1 => between.push(b),
                    b if b.is_ascii_whitespace() => between.push(b),
                    _ => {
                        between.extend_from_slice(&data[i..]);
                        out.push(Piece::Broken(between));
                        return;
                    }
                }
                i += 1;
                continue;
            }
            // Inside an item: copy up to the byte that closes it.
            let start = i;
            let mut done = false;
            while i < data.len() {
                let b = data[i];
                i += 1;
                if self.in_string {
                    if self.escaped {
                        self.escaped = false;
                    } else if b == b'\\' {
                        self.escaped = true;
                    } else if b == b'"' {
                        self.in_string = false;
                    }
                    continue;
                }
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth -= 1;
                        if self.depth == 1 {
                            done = true;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            self.item.extend_from_slice(&data[start..i]);
            if done {
                out.push(Piece::Item(std::mem::take(&mut self.item)));
            } else if self.item.len() > MAX_HELD {
                let mut rest = std::mem::take(&mut self.item);
                rest.extend_from_slice(&data[i..]);
                out.push(Piece::Broken(rest));
                return;
            }
        }
        if !between.is_empty() {
            out.push(Piece::Between(between));
        }
    }

    /// What was read of an item not finished.
    fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.item)
    }
}

/// An SSE stream whose events the catalog describes: each event's text goes through
/// [`Held`]; before an event without text (the end of the answer, its usage, `[DONE]`)
/// everything held goes out in one more event shaped like the last one with text, so clients
/// that stop at `[DONE]` miss nothing.
#[derive(Debug)]
pub struct InStream {
    held: Held,
    lines: crate::sse::Lines,
    /// The lines of the event being read (up to its blank line).
    event: Vec<Vec<u8>>,
    /// The last event with text: its `event:` line and its data, as a shape for what is held.
    last: Option<(Option<Vec<u8>>, Value)>,
}

impl InStream {
    pub(crate) fn new(transform: impl Transform + 'static, spec: ReplySpec) -> InStream {
        InStream {
            held: Held::new(transform, spec),
            lines: crate::sse::Lines::default(),
            event: Vec::new(),
            last: None,
        }
    }

    /// Everything held, in one more event shaped like the last one with text.
    fn flush(&mut self, out: &mut Vec<u8>) {
        let Some((name, shape)) = &self.last else {
            return;
        };
        let Some(doc) = self.held.rest(shape) else {
            return;
        };
        if let Some(name) = name {
            out.extend_from_slice(name);
        }
        crate::sse::write_data(out, &doc, b"\n\n");
    }

    /// One whole event (its lines up to and with the blank line).
    fn event_out(&mut self, out: &mut Vec<u8>) {
        let lines = std::mem::take(&mut self.event);
        let data_at = lines
            .iter()
            .position(|l| crate::sse::content(l).starts_with(b"data:"));
        let mut doc = data_at.and_then(|i| crate::sse::data_json(&lines[i]));
        let had_text = doc.as_mut().is_some_and(|d| self.held.take(d));
        let (Some(i), Some(doc), true) = (data_at, doc, had_text) else {
            // No text here: what is held goes first (the answer is over, or pausing).
            self.flush(out);
            out.extend(lines.concat());
            return;
        };
        let name = lines
            .iter()
            .find(|l| crate::sse::content(l).starts_with(b"event:"))
            .cloned();
        for (j, line) in lines.iter().enumerate() {
            if j == i {
                crate::sse::write_data(out, &doc, &line[crate::sse::content(line).len()..]);
            } else {
                out.extend_from_slice(line);
            }
        }
        self.last = Some((name, doc));
    }
}

impl Rewrite for InStream {
    fn chunk(&mut self, data: &[u8]) -> Vec<u8> {
        crate::sse::rewrite_lines(
            self,
            data,
            |s| &mut s.lines,
            |s, line, out| {
                s.event.push(line.to_vec());
                if crate::sse::content(line).is_empty() {
                    s.event_out(out);
                }
            },
        )
    }

    fn end(&mut self) -> Vec<u8> {
        let rest = self.lines.take_rest();
        if !rest.is_empty() {
            self.event.push(rest);
        }
        let mut out = Vec::new();
        if !self.event.is_empty() {
            self.event_out(&mut out);
        }
        self.flush(&mut out);
        out
    }
}

/// A stream of numbered lines (`0:"text"`, `15:{"json":{"patches":[...]}}`: Le Chat), each read
/// as `{"N": json}`: each line's text goes through [`Held`] and the line is written again with
/// its number; before a line without text (the end, the message's metadata) everything held
/// goes out in one more line shaped like the last one with text. Other lines pass as they came.
#[derive(Debug)]
pub struct InLines {
    held: Held,
    lines: crate::sse::Lines,
    /// The last line with text (as `{"N": json}`), as a shape for what is held.
    last: Option<Value>,
}

impl InLines {
    pub(crate) fn new(transform: impl Transform + 'static, spec: ReplySpec) -> InLines {
        InLines {
            held: Held::new(transform, spec),
            lines: crate::sse::Lines::default(),
            last: None,
        }
    }

    /// `doc` (`{"N": json}`) as its line, ending with `end`.
    fn write(out: &mut Vec<u8>, doc: &Value, end: &[u8]) {
        if let Some((n, json)) = doc.as_object().and_then(|o| o.iter().next()) {
            out.extend_from_slice(n.as_bytes());
            out.push(b':');
            out.extend(serde_json::to_vec(json).unwrap_or_default());
            out.extend_from_slice(end);
        }
    }

    fn flush(&mut self, out: &mut Vec<u8>) {
        if let Some(doc) = self.last.as_ref().and_then(|d| self.held.rest(d)) {
            Self::write(out, &doc, b"\n");
        }
    }

    fn line_out(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let mut doc = crate::sse::numbered(line).and_then(|(n, json)| {
            serde_json::from_slice::<Value>(&crate::sse::numbered_object(n, json)).ok()
        });
        if !doc.as_mut().is_some_and(|d| self.held.take(d)) {
            self.flush(out);
            out.extend_from_slice(line);
            return;
        }
        let doc = doc.unwrap_or_default();
        Self::write(out, &doc, &line[crate::sse::content(line).len()..]);
        self.last = Some(doc);
    }
}

impl Rewrite for InLines {
    fn chunk(&mut self, data: &[u8]) -> Vec<u8> {
        crate::sse::rewrite_lines(self, data, |s| &mut s.lines, Self::line_out)
    }

    fn end(&mut self) -> Vec<u8> {
        let rest = self.lines.take_rest();
        let mut out = Vec::new();
        if !rest.is_empty() {
            self.line_out(&rest, &mut out);
        }
        self.flush(&mut out);
        out
    }
}

/// An AWS event stream (Bedrock's `converse-stream` and `invoke-with-response-stream`), redacted
/// as [`InStream`] redacts SSE: each event message's text (Converse's `delta.text`; in a
/// `chunk`, the model's own event, base64 in `bytes`) goes through [`Held`], and the message
/// is written again with the same headers, a new length and new CRCs; before a message
/// without text (the end of the block, `metadata`, an exception) everything held goes out in
/// one more message shaped like the last one with text. If the framing breaks, what follows
/// passes as it came (the reading records it as read in part).
#[derive(Debug)]
pub struct InEventStream {
    held: Held,
    frames: crate::eventstream::Frames,
    /// The last message with text: its headers, its payload and, for a `chunk`, the model's
    /// event inside it.
    last: Option<(Vec<u8>, Value, Option<Value>)>,
}

impl InEventStream {
    pub(crate) fn new(transform: impl Transform + 'static, spec: ReplySpec) -> InEventStream {
        InEventStream {
            held: Held::new(transform, spec),
            frames: crate::eventstream::Frames::default(),
            last: None,
        }
    }

    /// A message's payload around `inner` (a `chunk`'s model event, base64 in `bytes`).
    fn payload(outer: &Value, inner: Option<&Value>) -> Vec<u8> {
        use base64::Engine as _;
        match inner {
            Some(event) => {
                let mut outer = outer.clone();
                let raw = serde_json::to_vec(event).unwrap_or_default();
                outer["bytes"] = base64::engine::general_purpose::STANDARD.encode(raw).into();
                serde_json::to_vec(&outer).unwrap_or_default()
            }
            None => serde_json::to_vec(outer).unwrap_or_default(),
        }
    }

    /// Everything held, in one more message shaped like the last one with text.
    fn flush(&mut self, out: &mut Vec<u8>) {
        let Some((headers, outer, inner)) = &self.last else {
            return;
        };
        let payload = match inner {
            Some(inner) => match self.held.rest(inner) {
                Some(inner) => Self::payload(outer, Some(&inner)),
                None => return,
            },
            None => match self.held.rest(outer) {
                Some(outer) => Self::payload(&outer, None),
                None => return,
            },
        };
        out.extend(crate::eventstream::encode(headers, &payload));
    }

    fn message(&mut self, m: &crate::eventstream::Message<'_>, out: &mut Vec<u8>) {
        let parsed = (m.message_type == Some("event"))
            .then(|| serde_json::from_slice::<Value>(m.payload).ok())
            .flatten();
        let Some(mut outer) = parsed else {
            self.flush(out);
            out.extend_from_slice(m.raw);
            return;
        };
        let mut inner = crate::eventstream::chunk_event(m.event_type, &outer);
        if !self.held.take(inner.as_mut().unwrap_or(&mut outer)) {
            self.flush(out);
            out.extend_from_slice(m.raw);
            return;
        }
        let payload = Self::payload(&outer, inner.as_ref());
        out.extend(crate::eventstream::encode(m.headers, &payload));
        self.last = Some((m.headers.to_vec(), outer, inner));
    }
}

impl Rewrite for InEventStream {
    fn chunk(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 64);
        if self.frames.broken() {
            out.extend_from_slice(data);
            return out;
        }
        let mut frames = std::mem::take(&mut self.frames);
        let framed = frames.feed(data, |m| self.message(&m, &mut out));
        if !framed {
            // Not an event stream (any more): what is held, then the rest as it came.
            self.flush(&mut out);
            out.extend(frames.take_rest());
        }
        self.frames = frames;
        out
    }

    fn end(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.flush(&mut out);
        out.extend(self.frames.take_rest());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(chunks: &[&str]) -> Vec<Piece> {
        let mut items = Items::default();
        let mut out = Vec::new();
        for c in chunks {
            items.feed(c.as_bytes(), &mut out);
        }
        out
    }

    fn between(s: &str) -> Piece {
        Piece::Between(s.as_bytes().to_vec())
    }

    fn item(s: &str) -> Piece {
        Piece::Item(s.as_bytes().to_vec())
    }

    #[test]
    fn a_json_array_is_cut_into_its_items_as_they_complete() {
        // Gemini's shape: items on their own lines, commas between; strings with brackets,
        // braces, quotes and escapes in them; chunks cut anywhere.
        let a = r#"{"candidates":[{"content":{"parts":[{"text":"x } ] \" \\"}]}}]}"#;
        let b = r#"{"usageMetadata":{"promptTokenCount":5}}"#;
        let whole = format!("[{a}\n,\r\n{b}\n]");
        let pieces = cut(&[&whole]);
        assert_eq!(
            pieces,
            [
                between("["),
                item(a),
                between("\n,\r\n"),
                item(b),
                between("\n"),
                Piece::Close(b"]".to_vec())
            ]
        );
        // Byte by byte: the same items, each given out as soon as its last byte came.
        let bytes: Vec<String> = whole.chars().map(String::from).collect();
        let mut items = Items::default();
        let mut seen = Vec::new();
        for (i, c) in bytes.iter().enumerate() {
            let mut out = Vec::new();
            items.feed(c.as_bytes(), &mut out);
            for p in out {
                if let Piece::Item(it) = p {
                    seen.push((i, String::from_utf8(it).unwrap()));
                }
            }
        }
        assert_eq!(
            seen,
            [
                (a.len(), a.to_string()),
                (a.len() + 4 + b.len(), b.to_string())
            ]
        );
    }

    #[test]
    fn what_is_not_an_array_of_objects_breaks_off_and_passes_as_it_came() {
        assert_eq!(
            cut(&["[{\"a\":1}, 2, {\"b\":2}]"]),
            [
                between("["),
                item("{\"a\":1}"),
                Piece::Broken(b", 2, {\"b\":2}]".to_vec())
            ]
        );
        // An item cut short stays in the cutter for the end to pass on.
        let mut items = Items::default();
        let mut out = Vec::new();
        items.feed(b"[{\"a\":\"unfinished", &mut out);
        assert_eq!(out, [between("[")]);
        assert_eq!(items.take_rest(), b"{\"a\":\"unfinished");
    }
}
