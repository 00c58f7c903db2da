//! A small `multipart/form-data` splitter (RFC 7578), enough to find the text parts of an upload
//! and to put them back after redaction. Bytes outside the part contents are kept as they came.

use memchr::memmem;

/// One part: its headers as they came and where its content lies in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub name: Option<String>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub start: usize,
    pub end: usize,
}

/// The boundary parameter of a multipart content type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data")
        && !mime.trim().to_ascii_lowercase().starts_with("multipart/")
    {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// How many `boundary` parameters a content type has (more than one is ambiguous).
pub(crate) fn boundary_params(content_type: &str) -> usize {
    content_type
        .split(';')
        .skip(1)
        .filter(|p| {
            p.split_once('=')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        })
        .count()
}

/// The bytes before the first delimiter and after the closing one.
pub(crate) fn outside<'b>(body: &'b [u8], boundary: &str) -> (&'b [u8], &'b [u8]) {
    let delim = format!("--{boundary}");
    let close = format!("--{boundary}--");
    let preamble = memmem::find(body, delim.as_bytes()).map_or(&body[..0], |i| &body[..i]);
    let epilogue = memmem::rfind(body, close.as_bytes())
        .map_or(&body[body.len()..], |i| &body[i + close.len()..]);
    (preamble, epilogue)
}

/// Splits a body into parts; `None` if it is not well-formed.
pub(crate) fn parts(body: &[u8], boundary: &str) -> Option<Vec<Part>> {
    if boundary.is_empty() || boundary.len() > 200 {
        return None;
    }
    let delim = format!("--{boundary}");
    let next_delim = format!("\r\n--{boundary}");
    let first = memmem::find(body, delim.as_bytes())?;
    let mut pos = first + delim.len();
    let finder = memmem::Finder::new(next_delim.as_bytes());
    let mut out = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            return Some(out);
        }
        if !body[pos..].starts_with(b"\r\n") {
            return None;
        }
        let head_start = pos + 2;
        let head_len = memmem::find(&body[head_start..], b"\r\n\r\n")?;
        let head = std::str::from_utf8(&body[head_start..head_start + head_len]).ok()?;
        let start = head_start + head_len + 4;
        let end = start + finder.find(&body[start..])?;
        let mut part = Part {
            name: None,
            filename: None,
            content_type: None,
            start,
            end,
        };
        read_headers(head, &mut part);
        out.push(part);
        pos = end + next_delim.len();
    }
}

/// The boundary of a multipart body's content type; more than one boundary is ambiguous.
pub(crate) fn boundary_of(content_type: Option<&str>) -> Result<String, crate::ExtractError> {
    if boundary_params(content_type.unwrap_or("")) > 1 {
        return Err(crate::ExtractError::Ambiguous("two boundary parameters"));
    }
    content_type
        .and_then(boundary)
        .ok_or(crate::ExtractError::MalformedMultipart)
}

/// How a part is named in segment locations: `multipart:file(notes.txt)`, `multipart:purpose`.
pub(crate) fn label(p: &Part, index: usize) -> String {
    match (&p.name, &p.filename) {
        (_, Some(f)) => format!("multipart:file({f})"),
        (Some(n), None) => format!("multipart:{n}"),
        (None, None) => format!("multipart:part{index}"),
    }
}

/// A part's name, file name and content type from its header block.
pub(crate) fn read_headers(head: &str, part: &mut Part) {
    for line in head.split("\r\n") {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case("content-disposition") {
            part.name = param(v, "name");
            part.filename = param(v, "filename");
        } else if k.trim().eq_ignore_ascii_case("content-type") {
            part.content_type = Some(v.trim().to_ascii_lowercase());
        }
    }
}

fn param(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_found_with_their_names() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nassistants\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nline one\r\nline two\r\n--XyZ--\r\n";
        let b = boundary("multipart/form-data; boundary=XyZ").unwrap();
        let p = parts(body, &b).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name.as_deref(), Some("purpose"));
        assert_eq!(&body[p[0].start..p[0].end], b"assistants");
        assert_eq!(p[1].filename.as_deref(), Some("notes.txt"));
        assert_eq!(&body[p[1].start..p[1].end], b"line one\r\nline two");
        assert!(
            parts(&body[..body.len() - 12], &b).is_none(),
            "a truncated body is not well-formed"
        );
        assert_eq!(
            boundary("multipart/form-data; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("application/json"), None);
    }
}
