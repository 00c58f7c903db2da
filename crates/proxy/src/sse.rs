//! Server-sent events as the guard reads them in replies: lines as they complete, and the JSON
//! of a `data:` line (what `reply` reads and what the placeholder restore rewrites).

/// A stream cut into lines as they complete; a line cut by a chunk boundary waits for the rest.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    /// Calls `each` with every line `data` completes (with its `\n`).
    pub fn feed(&mut self, data: &[u8], mut each: impl FnMut(&[u8])) {
        let mut rest = data;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            let (line, tail) = rest.split_at(i + 1);
            rest = tail;
            if self.partial.is_empty() {
                each(line);
            } else {
                let mut joined = std::mem::take(&mut self.partial);
                joined.extend_from_slice(line);
                each(&joined);
            }
        }
        self.partial.extend_from_slice(rest);
    }

    /// Bytes of a line not yet complete.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// The incomplete last line, taken (at the end of the stream).
    pub fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.partial)
    }
}

/// What `each` writes for every line `data` completes (given `owner` and the output), the
/// lines cut by `owner`'s own [`Lines`] (which `lines` reaches).
pub(crate) fn rewrite_lines<T>(
    owner: &mut T,
    data: &[u8],
    lines: impl Fn(&mut T) -> &mut Lines,
    mut each: impl FnMut(&mut T, &[u8], &mut Vec<u8>),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut cut = std::mem::take(lines(owner));
    cut.feed(data, |line| each(owner, line, &mut out));
    *lines(owner) = cut;
    out
}

/// The line without its line end (`\n`, `\r\n`).
pub(crate) fn content(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The JSON object or array of a `data:` line; `None` for other lines, `[DONE]` and what does
/// not parse.
pub(crate) fn data_json(line: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice(data_payload(line)?).ok()
}

/// A `data:` line's JSON text (an object or an array), unparsed.
pub(crate) fn data_payload(line: &[u8]) -> Option<&[u8]> {
    let data = content(line).strip_prefix(b"data:")?;
    let data = data.strip_prefix(b" ").unwrap_or(data);
    matches!(data.first(), Some(b'{' | b'[')).then_some(data)
}

/// A numbered line of a line protocol (`0:"text"`, `15:{...}`, as Le Chat streams): its
/// number and its JSON.
pub(crate) fn numbered(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let line = content(line);
    let colon = memchr::memchr(b':', line)?;
    let (n, json) = (&line[..colon], &line[colon + 1..]);
    (!n.is_empty() && n.len() <= 4 && n.iter().all(u8::is_ascii_digit) && !json.is_empty())
        .then_some((n, json))
}

/// A numbered line as the JSON object `{"N": json}` (what the endpoint's selectors read).
pub(crate) fn numbered_object(n: &[u8], json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + n.len() + 5);
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(n);
    out.extend_from_slice(b"\":");
    out.extend_from_slice(json);
    out.push(b'}');
    out
}

/// Writes `doc` as a `data:` line ending with `line_end` (the rewritten event's own `\n` or
/// `\r\n`, or `\n\n` for an event the guard adds).
pub(crate) fn write_data(out: &mut Vec<u8>, doc: &serde_json::Value, line_end: &[u8]) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&serde_json::to_vec(doc).expect("a JSON value serialises"));
    out.extend_from_slice(line_end);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_lines_are_read_as_objects_of_their_number() {
        let (n, json) = numbered(b"0:\"Hel\\nlo\"\r\n").unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&numbered_object(n, json)).unwrap();
        assert_eq!(doc["0"], "Hel\nlo");
        assert!(numbered(b"data: {}\n").is_none());
        assert!(numbered(b":keep-alive\n").is_none());
        assert!(numbered(b"12345:1\n").is_none());
        assert!(numbered(b"3:\n").is_none());
    }

    #[test]
    fn lines_complete_across_chunks_and_data_lines_parse() {
        let stream = b"event: x\r\ndata: {\"a\":1}\n\ndata: [DONE]\n";
        for cut in 1..stream.len() {
            let mut lines = Lines::default();
            let mut got: Vec<Vec<u8>> = Vec::new();
            lines.feed(&stream[..cut], |l| got.push(l.to_vec()));
            lines.feed(&stream[cut..], |l| got.push(l.to_vec()));
            assert_eq!(got.concat(), stream, "cut {cut}");
            assert_eq!(got.len(), 4);
            assert_eq!(lines.pending(), 0);
        }
        assert_eq!(
            data_json(b"data: {\"a\":1}\r\n"),
            Some(serde_json::json!({"a": 1}))
        );
        assert_eq!(data_json(b"data:[1]\n"), Some(serde_json::json!([1])));
        assert_eq!(data_json(b"data: [DONE]\n"), None);
        assert_eq!(data_json(b"event: x\n"), None);
    }
}
