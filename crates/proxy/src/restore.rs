//! Restoring redacted values in the reply: when a policy asks for it, a placeholder the model
//! echoes (`[REDACTED:email-address#1]`) is replaced by the user's original value on the way
//! back, chunk by chunk (SSE stays streamed), so the answer reads right and the provider never
//! saw the value. Only identity-encoded replies are rewritten.

use bytes::Bytes;
use hudsucker::Body;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// What an exchange leaves for restoring its reply: placeholder -> original value, and the
/// request's endpoint in the catalog when the catalog says where its replies' text is.
#[derive(Debug)]
pub struct Pending {
    pub pairs: Vec<(String, String)>,
    pub endpoint: Option<usize>,
}

/// Placeholder -> original, JSON-escaped when the reply is JSON or SSE.
#[derive(Debug, Clone)]
pub struct Pairs(Vec<(Vec<u8>, Vec<u8>)>);

impl Pairs {
    /// Drops placeholders that stand for two different values (they cannot be restored).
    pub fn new(pairs: Vec<(String, String)>, json_escape: bool) -> Pairs {
        let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut ambiguous = Vec::new();
        for (p, v) in pairs {
            let v = if json_escape {
                let quoted = serde_json::to_string(&v).expect("a string serialises");
                quoted.as_bytes()[1..quoted.len() - 1].to_vec()
            } else {
                v.into_bytes()
            };
            match out.iter().find(|(q, _)| *q == p.as_bytes()) {
                Some((_, w)) if *w != v => ambiguous.push(p.into_bytes()),
                Some(_) => {}
                None => out.push((p.into_bytes(), v)),
            }
        }
        out.retain(|(p, _)| !ambiguous.contains(p));
        Pairs(out)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn longest(&self) -> usize {
        self.0.iter().map(|(p, _)| p.len()).max().unwrap_or(0)
    }

    /// Replaces every complete placeholder in `buf`; returns the output and the tail that may
    /// be the start of a placeholder cut by the chunk boundary (kept for the next chunk).
    fn apply(&self, buf: &[u8], last: bool) -> (Vec<u8>, Vec<u8>) {
        let mut out = Vec::with_capacity(buf.len());
        let mut i = 0;
        'outer: while i < buf.len() {
            if buf[i] == b'[' {
                for (p, v) in &self.0 {
                    if buf[i..].starts_with(p) {
                        out.extend_from_slice(v);
                        i += p.len();
                        continue 'outer;
                    }
                }
                let rest = &buf[i..];
                if !last
                    && rest.len() < self.longest()
                    && self.0.iter().any(|(p, _)| p.starts_with(rest))
                {
                    return (out, rest.to_vec());
                }
            }
            out.push(buf[i]);
            i += 1;
        }
        (out, Vec::new())
    }
}

/// A change made to a reply body as it streams: `chunk` gives what may go now of the bytes
/// received, `end` what was held back when the body is over.
pub trait Rewrite: Send + Unpin + 'static {
    fn chunk(&mut self, data: &[u8]) -> Vec<u8>;
    fn end(&mut self) -> Vec<u8>;
}

/// A reply body passed through a [`Rewrite`], frame by frame (nothing is buffered beyond what
/// the rewrite holds back).
pub struct Rewriting<R> {
    inner: Body,
    rewrite: R,
    done: bool,
}

impl<R> std::fmt::Debug for Rewriting<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rewriting").finish_non_exhaustive()
    }
}

impl<R: Rewrite> Rewriting<R> {
    pub fn new(inner: Body, rewrite: R) -> Rewriting<R> {
        Rewriting {
            inner,
            rewrite,
            done: false,
        }
    }
}

impl<R: Rewrite> HttpBody for Rewriting<R> {
    type Data = Bytes;
    type Error = hudsucker::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.done = true;
                    let rest = this.rewrite.end();
                    if rest.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(rest)))));
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        let out = this.rewrite.chunk(&data);
                        if out.is_empty() {
                            continue;
                        }
                        return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                    }
                    Err(other) => return Poll::Ready(Some(Ok(other))),
                },
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// Placeholders restored in the reply's bytes, chunk by chunk: the start of a placeholder cut
/// by a chunk boundary waits for the next chunk.
#[derive(Debug)]
pub struct InBytes {
    pairs: Pairs,
    carry: Vec<u8>,
}

impl InBytes {
    pub fn new(pairs: Pairs) -> InBytes {
        InBytes {
            pairs,
            carry: Vec::new(),
        }
    }
}

impl Rewrite for InBytes {
    fn chunk(&mut self, data: &[u8]) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(data);
        let (out, carry) = self.pairs.apply(&buf, false);
        self.carry = carry;
        out
    }

    fn end(&mut self) -> Vec<u8> {
        let rest = std::mem::take(&mut self.carry);
        self.pairs.apply(&rest, true).0
    }
}

/// Placeholders restored in the answer's text, as a [`Transform`] of the framings the reply
/// redaction reads (SSE events, numbered lines, AWS event-stream messages, a JSON reply or the
/// items of a JSON array): each event's text fields are parsed out, joined with what an
/// earlier event left open, restored and written back, so a placeholder the model streams over
/// several events (`[REDACTED:em` … `ail-address#1]`) comes back whole and every event stays
/// what it was (valid JSON, a message with its lengths and CRCs). The start of a placeholder
/// is held back until the event that completes it (or the event that ends the answer, or one
/// more event of the same shape).
#[derive(Debug)]
pub(crate) struct Restorer(Pairs);

impl Restorer {
    /// `pairs` are placeholder -> the original value, as the user wrote it (not escaped).
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Restorer {
        Restorer(Pairs::new(pairs, false))
    }
}

impl crate::reply_redact::Transform for Restorer {
    fn release(&self, held: &mut String, all: bool) -> String {
        let (done, open) = self.0.apply(held.as_bytes(), all);
        // Placeholders are ASCII and the held part starts at a `[`: both halves stay UTF-8.
        *held = String::from_utf8(open).unwrap_or_default();
        String::from_utf8(done).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply_redact::InStream;

    #[test]
    fn a_placeholder_split_over_stream_events_is_restored_in_the_text() {
        let catalog = leakguard_providers::Catalog::builtin();
        let spec = catalog
            .endpoints()
            .iter()
            .find(|e| e.id == "openai-chat-completions")
            .unwrap()
            .reply()
            .clone();
        let text = "write to [REDACTED:email-address#1] today";
        let events: String = text
            .as_bytes()
            .chunks(5)
            .map(|c| {
                let delta = serde_json::to_string(std::str::from_utf8(c).unwrap()).unwrap();
                format!(
                    "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{delta}}}}}]}}\n\n"
                )
            })
            .collect::<String>()
            + "data: [DONE]\n\n";
        // Every way of cutting the stream into chunks gives the same answer.
        for cut in [1, 7, 64, events.len()] {
            let mut r = InStream::new(
                Restorer::new(vec![(
                    "[REDACTED:email-address#1]".into(),
                    "jane \"j\" doe@acme.com".into(),
                )]),
                spec.clone(),
            );
            let mut out = Vec::new();
            for chunk in events.as_bytes().chunks(cut) {
                out.extend(r.chunk(chunk));
            }
            out.extend(r.end());
            let out = String::from_utf8(out).unwrap();
            let joined: String = out
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                .filter_map(|v| {
                    v["choices"][0]["delta"]["content"]
                        .as_str()
                        .map(str::to_string)
                })
                .collect();
            assert_eq!(
                joined, "write to jane \"j\" doe@acme.com today",
                "cut {cut}: {out}"
            );
            assert!(out.ends_with("data: [DONE]\n\n"), "{out}");
        }
        // A placeholder still open when the stream ends goes out in one more event.
        let mut r = InStream::new(
            Restorer::new(vec![("[REDACTED:x#1]".into(), "v".into())]),
            spec,
        );
        let mut out = r
            .chunk(b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a [REDAC\"}}]}\n\n");
        out.extend(r.end());
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains("\"content\":\"a \"") && out.contains("\"content\":\"[REDAC\""),
            "{out}"
        );
    }

    #[test]
    fn placeholders_are_restored_even_when_cut_between_chunks() {
        let pairs = Pairs::new(
            vec![
                (
                    "[REDACTED:email-address#1]".into(),
                    "jane \"j\" doe@acme.com".into(),
                ),
                ("[REDACTED:x#1]".into(), "a".into()),
                ("[REDACTED:x#1]".into(), "b".into()),
            ],
            true,
        );
        let text = b"write to [REDACTED:email-address#1] and [REDACTED:x#1] [not one]";
        for cut in 0..text.len() {
            let (mut out, carry) = pairs.apply(&text[..cut], false);
            let mut rest = carry;
            rest.extend_from_slice(&text[cut..]);
            let (tail, _) = pairs.apply(&rest, true);
            out.extend_from_slice(&tail);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                r#"write to jane \"j\" doe@acme.com and [REDACTED:x#1] [not one]"#,
                "cut at {cut}"
            );
        }
    }
}
