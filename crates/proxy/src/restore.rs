//! Restoring redacted values in the reply: when a policy asks for it, a placeholder the model
//! echoes (`[REDACTED:email-address#1]`) is replaced by the user's original value on the way
//! back, chunk by chunk (SSE stays streamed), so the answer reads right and the provider never
//! saw the value. Only identity-encoded replies are rewritten.

use bytes::Bytes;
use hudsucker::Body;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

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

/// A reply body with placeholders restored.
pub struct Restoring {
    inner: Body,
    pairs: Pairs,
    carry: Vec<u8>,
    done: bool,
}

impl std::fmt::Debug for Restoring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restoring")
            .field("placeholders", &self.pairs.0.len())
            .finish_non_exhaustive()
    }
}

impl Restoring {
    pub fn new(inner: Body, pairs: Pairs) -> Restoring {
        Restoring {
            inner,
            pairs,
            carry: Vec::new(),
            done: false,
        }
    }
}

impl HttpBody for Restoring {
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
                    if this.carry.is_empty() {
                        return Poll::Ready(None);
                    }
                    let rest = std::mem::take(&mut this.carry);
                    let (out, _) = this.pairs.apply(&rest, true);
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        let mut buf = std::mem::take(&mut this.carry);
                        buf.extend_from_slice(&data);
                        let (out, carry) = this.pairs.apply(&buf, false);
                        this.carry = carry;
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

#[cfg(test)]
mod tests {
    use super::*;

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
