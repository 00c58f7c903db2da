//! Redacting replies (`reply_action: redact`): what the policy acts on in the answer's text is
//! replaced by `[REDACTED:rule]` before the user sees it. A JSON reply is held whole and its
//! text fields rewritten; an SSE stream keeps flowing event by event, but its text is released
//! [`HOLD`] bytes behind what arrived, so a value the model streams over many deltas is seen
//! whole before any of it leaves. Both are [`Rewrite`]s of the reply body, after the reading
//! that records the `reply` event and before any restore of the user's own values.

use crate::reply::Redactor;
use crate::restore::Rewrite;
use leakguard_providers::ReplySpec;

/// Text held back in a stream: a finding that starts in it may not have arrived whole.
const HOLD: usize = 512;
/// Text is scanned again once this much more than [`HOLD`] waits (not at every delta).
const STEP: usize = 256;
/// A JSON reply larger than this is passed on as it is (and the reading records it as read
/// only in part).
const MAX_HELD: usize = 8 << 20;

/// A JSON reply, held whole and its text fields redacted at the end.
#[derive(Debug)]
pub struct InJson {
    redactor: Redactor,
    spec: ReplySpec,
    held: Vec<u8>,
    /// Too large to hold: what came after passes as it is.
    passing: bool,
}

impl InJson {
    pub fn new(redactor: Redactor, spec: ReplySpec) -> InJson {
        InJson {
            redactor,
            spec,
            held: Vec::new(),
            passing: false,
        }
    }
}

impl Rewrite for InJson {
    fn chunk(&mut self, data: &[u8]) -> Vec<u8> {
        if self.passing {
            return data.to_vec();
        }
        if self.held.len() + data.len() > MAX_HELD {
            self.passing = true;
            let mut out = std::mem::take(&mut self.held);
            out.extend_from_slice(data);
            return out;
        }
        self.held.extend_from_slice(data);
        Vec::new()
    }

    fn end(&mut self) -> Vec<u8> {
        let held = std::mem::take(&mut self.held);
        let Ok(mut doc) = serde_json::from_slice::<serde_json::Value>(&held) else {
            return held;
        };
        let r = &self.redactor;
        if !self.spec.rewrite_text(&mut doc, |t| r.redact(t, t.len()).0) {
            return held;
        }
        serde_json::to_vec(&doc).unwrap_or(held)
    }
}

/// What may go of the held text (all of it at the end), redacted.
fn release(held: &mut String, redactor: &Redactor, all: bool) -> String {
    if !all && held.len() < HOLD + STEP {
        return String::new();
    }
    let upto = if all { held.len() } else { held.len() - HOLD };
    let (out, cut) = redactor.redact(held, upto);
    held.drain(..cut);
    out
}

/// An SSE stream whose events the catalog describes: each event's text joins the text held
/// back, and what is safe of it (all but the last [`HOLD`] bytes, and never part of a finding)
/// goes out redacted in that event. Before an event without text (the end of the answer, its
/// usage, `[DONE]`) everything held goes out in one more event shaped like the last one with
/// text, so clients that stop at `[DONE]` miss nothing.
pub struct InStream {
    redactor: Redactor,
    spec: ReplySpec,
    lines: crate::sse::Lines,
    /// The lines of the event being read (up to its blank line).
    event: Vec<Vec<u8>>,
    /// Answer text received and not yet sent.
    held: String,
    /// The last event with text: its `event:` line and its data, as a shape for what is held.
    last: Option<(Option<Vec<u8>>, serde_json::Value)>,
}

impl std::fmt::Debug for InStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InStream")
            .field("held", &self.held.len())
            .finish_non_exhaustive()
    }
}

impl InStream {
    pub fn new(redactor: Redactor, spec: ReplySpec) -> InStream {
        InStream {
            redactor,
            spec,
            lines: crate::sse::Lines::default(),
            event: Vec::new(),
            held: String::new(),
            last: None,
        }
    }

    /// Everything held, in one more event shaped like the last one with text.
    fn flush(&mut self, out: &mut Vec<u8>) {
        if self.held.is_empty() {
            return;
        }
        let text = release(&mut self.held, &self.redactor, true);
        let Some((name, doc)) = self.last.clone() else {
            return;
        };
        if let Some(name) = name {
            out.extend_from_slice(&name);
        }
        out.extend(crate::restore::event_with_text(&self.spec, doc, text));
    }

    /// One whole event (its lines up to and with the blank line).
    fn event_out(&mut self, out: &mut Vec<u8>) {
        let lines = std::mem::take(&mut self.event);
        let data_at = lines
            .iter()
            .position(|l| crate::sse::content(l).starts_with(b"data:"));
        let mut doc = data_at.and_then(|i| crate::sse::data_json(&lines[i]));
        let (held, redactor) = (&mut self.held, &self.redactor);
        let had_text = doc.as_mut().is_some_and(|d| {
            self.spec.rewrite_text(d, |text| {
                held.push_str(text);
                release(held, redactor, false)
            })
        });
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
        let mut out = Vec::with_capacity(data.len() + 64);
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(data, |line| {
            let blank = crate::sse::content(line).is_empty();
            self.event.push(line.to_vec());
            if blank {
                self.event_out(&mut out);
            }
        });
        self.lines = lines;
        out
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

/// An AWS event stream (Bedrock's `converse-stream` and `invoke-with-response-stream`), redacted
/// as [`InStream`] redacts SSE: each event message's text (Converse's `delta.text`; in a
/// `chunk`, the model's own event, base64 in `bytes`) joins the text held back, what is safe
/// of it goes out in that message, written again with the same headers, a new length and new
/// CRCs; before a message without text (the end of the block, `metadata`, an exception)
/// everything held goes out in one more message shaped like the last one with text. If the
/// framing breaks, what follows passes as it came (the reading records it as read in part).
pub struct InEventStream {
    redactor: Redactor,
    spec: ReplySpec,
    frames: crate::eventstream::Frames,
    held: String,
    /// The last message with text: its headers, its payload and, for a `chunk`, the model's
    /// event inside it.
    last: Option<(Vec<u8>, serde_json::Value, Option<serde_json::Value>)>,
}

impl std::fmt::Debug for InEventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InEventStream")
            .field("held", &self.held.len())
            .finish_non_exhaustive()
    }
}

impl InEventStream {
    pub fn new(redactor: Redactor, spec: ReplySpec) -> InEventStream {
        InEventStream {
            redactor,
            spec,
            frames: crate::eventstream::Frames::default(),
            held: String::new(),
            last: None,
        }
    }

    /// A message's payload around `inner` (a `chunk`'s model event, base64 in `bytes`).
    fn payload(outer: &serde_json::Value, inner: Option<&serde_json::Value>) -> Vec<u8> {
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
        if self.held.is_empty() {
            return;
        }
        let text = release(&mut self.held, &self.redactor, true);
        let Some((headers, mut outer, mut inner)) = self.last.clone() else {
            return;
        };
        let mut text = Some(text);
        let doc = inner.as_mut().unwrap_or(&mut outer);
        self.spec
            .rewrite_text(doc, |_| text.take().unwrap_or_default());
        let payload = Self::payload(&outer, inner.as_ref());
        out.extend(crate::eventstream::encode(&headers, &payload));
    }

    fn message(&mut self, m: &crate::eventstream::Message<'_>, out: &mut Vec<u8>) {
        let parsed = (m.message_type == Some("event"))
            .then(|| serde_json::from_slice::<serde_json::Value>(m.payload).ok())
            .flatten();
        let Some(mut outer) = parsed else {
            self.flush(out);
            out.extend_from_slice(m.raw);
            return;
        };
        let mut inner = crate::eventstream::chunk_event(m.event_type, &outer);
        let (held, redactor) = (&mut self.held, &self.redactor);
        let doc = inner.as_mut().unwrap_or(&mut outer);
        let had_text = self.spec.rewrite_text(doc, |text| {
            held.push_str(text);
            release(held, redactor, false)
        });
        if !had_text {
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
