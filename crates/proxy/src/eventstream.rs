//! AWS event streams (`application/vnd.amazon.eventstream`), the binary framing Bedrock's
//! `converse-stream` and `invoke-with-response-stream` answer in: each message is a 12-byte
//! prelude (total length, headers length, CRC), headers (`:event-type`, `:message-type`, …),
//! a payload and a CRC. The guard reads them, and rewrites a message whose text it redacts
//! (new lengths and CRCs, the same headers); a message whose lengths make no sense ends the
//! reading, never the stream.

/// The largest message AWS sends is 16 MiB; anything claiming more is not an event stream.
const MAX_MESSAGE: usize = 16 << 20;
const PRELUDE: usize = 12;
const TRAILER: usize = 4;

/// One message: the headers the reader needs and the payload.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Message<'a> {
    /// `:event-type` (`contentBlockDelta`, `metadata`, `chunk`, …).
    pub event_type: Option<&'a str>,
    /// `:message-type`: `event`, or `exception` / `error`.
    pub message_type: Option<&'a str>,
    /// The headers as they were sent (to write the message again around a new payload).
    pub headers: &'a [u8],
    pub payload: &'a [u8],
    /// The whole message as it was sent.
    pub raw: &'a [u8],
}

/// The model's own event inside an InvokeModel stream's `chunk` message (`bytes`, base64), or
/// `None` for any other message.
pub(crate) fn chunk_event(
    event_type: Option<&str>,
    payload: &serde_json::Value,
) -> Option<serde_json::Value> {
    use base64::Engine as _;
    let b64 = (event_type == Some("chunk"))
        .then(|| payload.get("bytes").and_then(serde_json::Value::as_str))
        .flatten()?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    serde_json::from_slice(&raw).ok()
}

/// A message with `headers` (as sent) around `payload`: prelude, headers, payload, CRCs.
pub(crate) fn encode(headers: &[u8], payload: &[u8]) -> Vec<u8> {
    let total = PRELUDE + headers.len() + payload.len() + TRAILER;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(headers);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// Bytes of the stream as they arrive, cut into messages.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    buf: Vec<u8>,
    /// A message's lengths were impossible: nothing more is read.
    broken: bool,
}

impl Frames {
    /// Adds `data` and calls `each` for every message it completes. `false`: the stream is
    /// not (or no longer) a well-framed event stream, and reading stopped.
    pub fn feed(&mut self, data: &[u8], mut each: impl FnMut(Message<'_>)) -> bool {
        if self.broken {
            // Nothing more is kept: a rewriter passes what follows itself.
            return false;
        }
        self.buf.extend_from_slice(data);
        let mut at = 0;
        while self.buf.len() - at >= PRELUDE {
            let b = &self.buf[at..];
            let total = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
            let headers = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
            if total > MAX_MESSAGE || total < PRELUDE + TRAILER + headers {
                // What is left stays for `take_rest` (a rewriter passes it on as it is).
                self.broken = true;
                self.buf.drain(..at);
                return false;
            }
            if b.len() < total {
                break;
            }
            let head = &b[PRELUDE..PRELUDE + headers];
            let payload = &b[PRELUDE + headers..total - TRAILER];
            let (event_type, message_type) = read_headers(head);
            each(Message {
                event_type,
                message_type,
                headers: head,
                payload,
                raw: &b[..total],
            });
            at += total;
        }
        self.buf.drain(..at);
        true
    }

    /// The bytes not yet cut into messages (a message cut short at the end, or everything
    /// from where the framing broke).
    pub fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// The framing broke: nothing more is cut.
    pub fn broken(&self) -> bool {
        self.broken
    }
}

/// The `:event-type` and `:message-type` string headers (other headers and types skipped by
/// their lengths; a malformed header ends the list).
fn read_headers(mut h: &[u8]) -> (Option<&str>, Option<&str>) {
    let (mut event, mut message) = (None, None);
    while let Some((&len, rest)) = h.split_first() {
        let len = usize::from(len);
        if rest.len() < len + 1 {
            break;
        }
        let name = &rest[..len];
        let kind = rest[len];
        let rest = &rest[len + 1..];
        // Value sizes by type (the event-stream encoding): 0/1 bool, 2 byte, 3 short,
        // 4 int, 5 long, 6 bytes and 7 string (u16 length), 8 timestamp, 9 UUID.
        let (value, rest) = match kind {
            0 | 1 => (None, rest),
            2 => (None, rest.get(1..).unwrap_or_default()),
            3 => (None, rest.get(2..).unwrap_or_default()),
            4 => (None, rest.get(4..).unwrap_or_default()),
            5 | 8 => (None, rest.get(8..).unwrap_or_default()),
            9 => (None, rest.get(16..).unwrap_or_default()),
            6 | 7 => {
                if rest.len() < 2 {
                    break;
                }
                let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                let Some(v) = rest.get(2..2 + n) else {
                    break;
                };
                (
                    (kind == 7).then(|| std::str::from_utf8(v).ok()).flatten(),
                    &rest[2 + n..],
                )
            }
            _ => break,
        };
        match name {
            b":event-type" => event = value,
            b":message-type" => message = value,
            _ => {}
        }
        h = rest;
    }
    (event, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakguard_testkit::eventstream_message as encode;

    fn event(kind: &str, payload: &str) -> Vec<u8> {
        encode(
            &[
                (":event-type", kind),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            payload.as_bytes(),
        )
    }

    #[test]
    fn a_message_written_again_is_what_aws_would_send() {
        let original = event("contentBlockDelta", r#"{"delta":{"text":"Hel"}}"#);
        let mut frames = Frames::default();
        let mut again = Vec::new();
        frames.feed(&original, |m| {
            again = super::encode(m.headers, m.payload);
            assert_eq!(m.raw, &original[..]);
        });
        assert_eq!(
            again, original,
            "same headers and payload: same bytes, CRCs included"
        );
    }

    #[test]
    fn messages_are_read_whatever_the_cuts_and_a_nonsense_length_stops_reading() {
        let mut stream = event("contentBlockDelta", r#"{"delta":{"text":"Hel"}}"#);
        stream.extend(event("metadata", r#"{"usage":{"inputTokens":5}}"#));
        // Every cut, down to one byte at a time, gives the same two messages.
        for step in [1, 3, 7, 16, stream.len()] {
            let mut frames = Frames::default();
            let mut got = Vec::new();
            for chunk in stream.chunks(step) {
                assert!(frames.feed(chunk, |m| got.push((
                    m.event_type.map(str::to_string),
                    m.message_type.map(str::to_string),
                    String::from_utf8(m.payload.to_vec()).unwrap()
                ))));
            }
            assert_eq!(got.len(), 2, "step {step}");
            assert_eq!(got[0].0.as_deref(), Some("contentBlockDelta"));
            assert_eq!(got[0].1.as_deref(), Some("event"));
            assert_eq!(got[0].2, r#"{"delta":{"text":"Hel"}}"#);
            assert_eq!(got[1].0.as_deref(), Some("metadata"));
        }
        let mut frames = Frames::default();
        let mut n = 0;
        assert!(!frames.feed(&[0xff; 32], |_| n += 1));
        assert!(!frames.feed(&stream, |_| n += 1), "stays stopped");
        assert_eq!(n, 0);
    }
}
