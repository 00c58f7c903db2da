//! Extraction of the text segments of a request body, and rewriting them after redaction.

use crate::catalog::{BodyKind, Endpoint};
use crate::multipart::{self, Part};
use crate::selector::{self, Key};
use base64::Engine as _;
use leakguard_documents as documents;
use serde_json::Value;
use std::collections::HashSet;

pub use documents::Limits as DocumentLimits;

/// Why a body could not be read as its endpoint says it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("the request body is not valid UTF-8 (first bad byte at offset {offset})")]
    InvalidUtf8 { offset: usize },
    #[error("the request body is not valid JSON (line {line}, column {column}): {message}")]
    MalformedJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the multipart request body is malformed or has no boundary")]
    MalformedMultipart,
    #[error("the request is ambiguous ({0}): a server could read it differently than Leakguard, so it is refused")]
    Ambiguous(&'static str),
    #[error("this body ({what}) cannot be rewritten for redaction")]
    Unrewritable { what: &'static str },
    #[error("replacement for segment {index}, which does not exist")]
    NoSuchSegment { index: usize },
    #[error("the request body is too large to inspect in memory, and only file uploads (raw or multipart) are read from disk")]
    TooLargeToSpool,
    #[error("the spooled request body could not be read back: {0}")]
    Spool(String),
}

#[derive(Debug, Clone)]
enum Target {
    Json {
        path: Vec<Key>,
        base64_prefix: Option<String>,
    },
    /// A string inside JSON that is itself the text of a string of the body (a tool call's
    /// `arguments`): rewritten by rewriting that string.
    Nested {
        outer: Vec<Key>,
        inner: Vec<Key>,
    },
    Part {
        index: usize,
    },
    Raw,
    Form,
    /// Text read from the body that is not a place in it (numbers, file names, the text
    /// runs of binary parts, bytes outside multipart parts, a body in another charset): it is
    /// scanned, and cannot be rewritten (a redact verdict on it blocks).
    Derived,
}

/// One piece of user-written text and where it lives in the body.
#[derive(Debug, Clone)]
pub struct TextSegment {
    pub text: String,
    /// `messages[0].content[1].text`, `multipart:file(notes.txt)`, `(body)`,
    /// `multipart:file(plan.pdf): page 2`.
    pub location: String,
    /// Text read out of an uploaded document: the file's name (or where it was, when it has
    /// none).
    pub file: Option<String>,
    /// ... and where in the file (`page 2`, `sheet Payroll`, `attachment plan.docx: body`).
    pub in_file: String,
    /// Finer places in the text (cells of a sheet): (byte offset where each starts, name).
    pub marks: Vec<(usize, String)>,
    /// A field the endpoint does not list as text (read anyway, so a new field is not a hole):
    /// events name the field of a finding in it.
    pub unlisted: bool,
    target: Target,
}

impl TextSegment {
    fn new(text: String, location: String, target: Target) -> TextSegment {
        TextSegment {
            text,
            location,
            file: None,
            in_file: String::new(),
            marks: Vec::new(),
            unlisted: false,
            target,
        }
    }

    /// Where a byte offset of this segment's text is, for a person: `plan.docx: body`,
    /// `pay.xlsx: sheet Payroll, cell B2`; the location in the body for text that is not
    /// from a document.
    pub fn place(&self, offset: usize) -> String {
        let base = match &self.file {
            Some(f) => format!("{f}: {}", self.in_file),
            None => self.location.clone(),
        };
        match self.marks.partition_point(|(start, _)| *start <= offset) {
            0 => base,
            i => format!("{base}, cell {}", self.marks[i - 1].1),
        }
    }
}

/// An uploaded document the request carries, as read (or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentSeen {
    /// The file name, or where in the request it was when it has none.
    pub file: String,
    /// `pdf`, `docx`, `zip`, … (`unknown` when it could not even be told).
    pub kind: &'static str,
    /// Pages, slides, sheets or members.
    pub parts: usize,
    pub text_bytes: usize,
    /// Why it could not be read (then nothing of it was scanned, or not all).
    pub unreadable: Option<String>,
}

impl DocumentSeen {
    /// `plan.pdf (pdf, 3 parts, 12345 bytes of text)`, `locked.docx (docx): unreadable: …`
    pub fn summary(&self) -> String {
        match &self.unreadable {
            Some(why) => format!("{} ({}): unreadable: {why}", self.file, self.kind),
            None => format!(
                "{} ({}, {} parts, {} bytes of text)",
                self.file, self.kind, self.parts, self.text_bytes
            ),
        }
    }
}

#[derive(Debug, Clone)]
enum Doc {
    /// The document, and bytes that follow it as they were (a SignalR frame's record
    /// separator).
    Json(Value, &'static [u8]),
    Multipart(Vec<Part>),
    Raw,
    Form,
    Empty,
}

/// What a request carries.
#[derive(Debug, Clone)]
pub struct Extracted {
    /// The endpoint id, or `unknown` for an intercepted host no endpoint covers.
    pub endpoint: String,
    pub provider: Option<String>,
    pub segments: Vec<TextSegment>,
    pub model: Option<String>,
    pub max_tokens: Option<u64>,
    /// The body is binary (a raw upload that is not UTF-8): scan its bytes, it cannot be redacted.
    pub binary_body: bool,
    /// Binary attachments (images, documents inside base64 or multipart): documents are read
    /// (see `documents`), images counted (`images`).
    pub binary_parts: usize,
    /// The documents uploaded with the request, read or unreadable.
    pub documents: Vec<DocumentSeen>,
    /// Images uploaded with the request (also inside documents): not scanned.
    pub images: usize,
    /// The conversation the request continues, where the endpoint names one (a body field or
    /// a path segment): findings too small to count alone add up over a conversation.
    pub conversation: Option<String>,
    /// A known endpoint whose text fields all came back empty while other fields hold prose:
    /// the site has probably changed its body (the fields are read anyway, as unlisted), and
    /// the guard says so with a `coverage` event. The paths of those fields.
    pub coverage_gap: Option<Vec<String>>,
    doc: Doc,
}

impl Extracted {
    /// A WebSocket text frame (endpoint `websocket`). A frame that is one JSON record (as
    /// SignalR and most chat sockets send, optionally ended by SignalR's record separator
    /// 0x1E) is read as JSON: each of its strings is a segment, strings that hold JSON again
    /// are read too, and a rewrite keeps the frame's shape. Any other frame is one segment
    /// and a rewrite replaces it whole.
    pub fn text_frame(text: &str) -> Extracted {
        let mut out = Extracted::empty(None, "");
        out.endpoint = "websocket".into();
        let (record, suffix): (&str, &'static [u8]) = match text.strip_suffix('\u{1e}') {
            Some(r) => (r, b"\x1e"),
            None => (text, b""),
        };
        if looks_like_json(record.as_bytes()) && !record.contains('\u{1e}') {
            if let Ok(doc) = crate::strict_json::parse(record) {
                let mut found = Vec::new();
                selector::all_strings(&doc, &mut Vec::new(), &mut found);
                for (path, s) in found {
                    push_plain(&mut out, path, s);
                }
                push_numbers(&mut out, &doc);
                out.doc = Doc::Json(doc, suffix);
                return out;
            }
        }
        out.segments.push(TextSegment::new(
            text.to_string(),
            "(frame)".into(),
            Target::Raw,
        ));
        out.doc = Doc::Raw;
        out
    }

    /// The fields of a finding's segments that the endpoint does not list as text.
    pub fn unlisted_location(&self, segment: usize) -> Option<&str> {
        self.segments
            .get(segment)
            .filter(|s| s.unlisted)
            .map(|s| s.location.as_str())
    }

    /// Total bytes of text extracted.
    pub fn text_bytes(&self) -> usize {
        self.segments.iter().map(|s| s.text.len()).sum()
    }

    /// Nothing yet, for `endpoint` (a spooled body is filled in by `extract_spooled`).
    pub(crate) fn empty(endpoint: Option<&Endpoint>, path: &str) -> Extracted {
        Extracted {
            endpoint: endpoint.map_or_else(|| "unknown".to_string(), |e| e.id.clone()),
            provider: endpoint.map(|e| e.provider.clone()),
            segments: Vec::new(),
            model: endpoint.and_then(|e| e.model_in_path(path)),
            max_tokens: None,
            binary_body: false,
            binary_parts: 0,
            documents: Vec::new(),
            images: 0,
            conversation: endpoint.and_then(|e| e.conversation_in_path(path)),
            coverage_gap: None,
            doc: Doc::Empty,
        }
    }

    pub(crate) fn push_derived(&mut self, location: String, text: String) {
        push_derived(self, location, text);
    }

    /// A document's pieces as segments naming the file and the place, and its summary.
    pub(crate) fn push_document_pieces(
        &mut self,
        label: &str,
        file: String,
        doc: documents::Document,
    ) {
        let text_bytes = doc.text_bytes();
        let unreadable = doc
            .problems
            .first()
            .map(|(at, e)| format!("{at} in it could not be read: {e}"));
        for p in doc.pieces {
            self.segments.push(TextSegment {
                text: p.text,
                location: format!("{label}: {}", p.location),
                file: Some(file.clone()),
                in_file: p.location,
                marks: p.marks,
                unlisted: false,
                target: Target::Derived,
            });
        }
        self.images += doc.images;
        self.documents.push(DocumentSeen {
            file,
            kind: doc.kind.as_str(),
            parts: doc.parts,
            text_bytes,
            unreadable,
        });
    }

    /// The first document that could not be read.
    pub fn unreadable(&self) -> Option<&DocumentSeen> {
        self.documents.iter().find(|d| d.unreadable.is_some())
    }
}

/// Reads the user-written text out of a body. `endpoint` is `None` for an intercepted host with
/// no known endpoint: then every string of a JSON body, every text part of a multipart body or
/// the whole text of any other body is a segment, so nothing passes unscanned.
pub fn extract(
    endpoint: Option<&Endpoint>,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Extracted, ExtractError> {
    extract_with(
        endpoint,
        path,
        content_type,
        body,
        &DocumentLimits::default(),
    )
}

/// [`extract`] with the bounds for reading uploaded documents (the policy's `documents`).
pub fn extract_with(
    endpoint: Option<&Endpoint>,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
    limits: &DocumentLimits,
) -> Result<Extracted, ExtractError> {
    let mut out = Extracted::empty(endpoint, path);
    if body.is_empty() {
        return Ok(out);
    }
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    // Text in another charset (UTF-16, Latin-1) is decoded and scanned as such; it cannot be
    // rewritten in place.
    if let Some(text) = decode_charset(&ct, body) {
        match crate::strict_json::parse(&text) {
            Ok(doc) => {
                let mut found = Vec::new();
                selector::all_strings(&doc, &mut Vec::new(), &mut found);
                for (path, s) in found {
                    push_derived(&mut out, selector::display(&path), s.to_string());
                }
                push_numbers(&mut out, &doc);
            }
            Err(_) => push_derived(&mut out, "(body, decoded)".into(), text),
        }
        out.doc = Doc::Raw;
        return Ok(out);
    }
    let kind = match endpoint {
        Some(e) => e.body,
        None if ct.starts_with("multipart/") => BodyKind::Multipart,
        None if ct.contains("json") || looks_like_json(body) => BodyKind::Json,
        None if ct.starts_with("application/x-www-form-urlencoded") => {
            return extract_form(out, body);
        }
        None => BodyKind::Raw,
    };
    match kind {
        BodyKind::Json => {
            let text = std::str::from_utf8(body).map_err(|e| ExtractError::InvalidUtf8 {
                offset: e.valid_up_to(),
            })?;
            let doc: Value = crate::strict_json::parse(text).map_err(|e| {
                if e.to_string().starts_with(crate::strict_json::DUPLICATE_KEY) {
                    ExtractError::Ambiguous("a JSON object with the same key twice")
                } else {
                    ExtractError::MalformedJson {
                        line: e.line(),
                        column: e.column(),
                        message: e.to_string(),
                    }
                }
            })?;
            let mut found = Vec::new();
            match endpoint {
                Some(e) => {
                    // Every place a listed selector reached (text, model, conversation): the
                    // rest of the body's strings are read afterwards as unlisted fields.
                    let mut taken: HashSet<Vec<Key>> = HashSet::new();
                    for sel in &e.text {
                        sel.strings(&doc, &mut found);
                        for (path, s) in found.drain(..) {
                            taken.insert(path.clone());
                            if sel.base64 {
                                let name = sibling_name(&doc, &path);
                                push_base64(&mut out, path, s, name.as_deref(), limits);
                            } else {
                                push_plain(&mut out, path, s);
                            }
                        }
                    }
                    let listed = out.segments.len();
                    if let Some(m) = &e.model {
                        let mut v = Vec::new();
                        m.strings(&doc, &mut v);
                        taken.extend(v.iter().map(|(p, _)| p.clone()));
                        out.model = v.first().map(|(_, s)| s.to_string()).or(out.model);
                    }
                    out.max_tokens = e.max_tokens.iter().find_map(|sel| number_at(sel, &doc));
                    let mut v = Vec::new();
                    for sel in &e.conversation {
                        sel.strings(&doc, &mut v);
                    }
                    taken.extend(v.iter().map(|(p, _)| p.clone()));
                    if out.conversation.is_none() {
                        out.conversation = v
                            .into_iter()
                            .map(|(_, s)| s)
                            .find(|s| !s.is_empty())
                            .map(str::to_string);
                    }
                    // No blind spots: every other string is scanned too, marked as unlisted.
                    selector::all_strings(&doc, &mut Vec::new(), &mut found);
                    let first_unlisted = out.segments.len();
                    for (path, s) in found.drain(..) {
                        if !taken.contains(&path) {
                            push_plain(&mut out, path, s);
                        }
                    }
                    for seg in &mut out.segments[first_unlisted..] {
                        seg.unlisted = true;
                    }
                    if !e.text.is_empty() && listed == 0 {
                        let prose: Vec<String> = out.segments[first_unlisted..]
                            .iter()
                            .filter(|s| reads_as_prose(&s.text))
                            .map(|s| s.location.clone())
                            .take(5)
                            .collect();
                        if !prose.is_empty() {
                            out.coverage_gap = Some(prose);
                        }
                    }
                }
                None => {
                    selector::all_strings(&doc, &mut Vec::new(), &mut found);
                    for (path, s) in found {
                        push_plain(&mut out, path, s);
                    }
                }
            }
            push_numbers(&mut out, &doc);
            out.doc = Doc::Json(doc, b"");
        }
        BodyKind::Multipart => {
            let b = multipart::boundary_of(content_type)?;
            let parts = multipart::parts(body, &b).ok_or(ExtractError::MalformedMultipart)?;
            for (index, p) in parts.iter().enumerate() {
                let content = &body[p.start..p.end];
                let is_binary_type = p.content_type.as_deref().is_some_and(|t| {
                    t.starts_with("image/") || t.starts_with("audio/") || t.starts_with("video/")
                });
                let label = multipart::label(p, index);
                match std::str::from_utf8(content) {
                    Ok(text) if !is_binary_type => {
                        if text.is_empty() {
                            continue;
                        }
                        out.segments.push(TextSegment::new(
                            text.to_string(),
                            label.clone(),
                            Target::Part { index },
                        ));
                        // A notebook, an e-mail or RTF is text, and also a document: read as
                        // one, so code in notebook cells and mail attachments are seen too.
                        if documents::sniff(content, p.filename.as_deref()).is_some() {
                            push_document(&mut out, &label, p.filename.as_deref(), content, limits);
                        }
                    }
                    _ => {
                        out.binary_parts += 1;
                        if push_document(&mut out, &label, p.filename.as_deref(), content, limits) {
                            if let Some(f) = &p.filename {
                                push_derived(&mut out, "multipart:filename".into(), f.clone());
                            }
                            continue;
                        }
                        // Anything else not UTF-8: its printable runs at least.
                        let runs = printable_runs(content);
                        if !runs.is_empty() {
                            let name = p.filename.as_deref().or(p.name.as_deref());
                            push_derived(
                                &mut out,
                                format!("multipart:{}(bytes)", name.unwrap_or("part")),
                                runs,
                            );
                        }
                    }
                }
                if let Some(f) = &p.filename {
                    push_derived(&mut out, "multipart:filename".into(), f.clone());
                }
            }
            let (preamble, epilogue) = multipart::outside(body, &b);
            for (what, bytes) in [("preamble", preamble), ("epilogue", epilogue)] {
                let runs = printable_runs(bytes);
                if !runs.trim().is_empty() {
                    push_derived(&mut out, format!("multipart:{what}"), runs);
                }
            }
            out.doc = Doc::Multipart(parts);
        }
        BodyKind::Raw => {
            match std::str::from_utf8(body) {
                Ok(text) => {
                    out.segments.push(TextSegment::new(
                        text.to_string(),
                        "(body)".into(),
                        Target::Raw,
                    ));
                    if documents::sniff(body, None).is_some() {
                        push_document(&mut out, "upload", None, body, limits);
                    }
                }
                // A raw upload of a document is read as one; an image is counted; any other
                // binary body is scanned as bytes.
                Err(_) => {
                    out.binary_body = !push_document(&mut out, "upload", None, body, limits);
                }
            }
            out.doc = Doc::Raw;
        }
    }
    Ok(out)
}

fn push_derived(out: &mut Extracted, location: String, text: String) {
    out.segments
        .push(TextSegment::new(text, location, Target::Derived));
}

/// Reads `bytes` as an uploaded document (its text becomes segments that name the file and
/// the place in it). `false`: not a document (an image is counted), the caller scans the
/// bytes.
fn push_document(
    out: &mut Extracted,
    label: &str,
    name: Option<&str>,
    bytes: &[u8],
    limits: &DocumentLimits,
) -> bool {
    let file = name.map_or_else(|| label.to_string(), str::to_string);
    match documents::extract(bytes, name, limits) {
        Ok(Some(doc)) => {
            out.push_document_pieces(label, file, doc);
            true
        }
        // An image is counted (its pixels are not read) and its bytes' printable runs are
        // still scanned by the caller: text chunks and metadata (a PNG tEXt, EXIF) can carry
        // secrets.
        Ok(None) if documents::is_image(bytes) => {
            out.images += 1;
            false
        }
        Ok(None) => false,
        Err(e) => {
            out.documents.push(DocumentSeen {
                file,
                kind: documents::sniff(bytes, name).map_or("unknown", |k| k.as_str()),
                parts: 0,
                text_bytes: 0,
                unreadable: Some(e.to_string()),
            });
            true
        }
    }
}

/// The `filename` (or `name`, `title`) beside a field or beside its parent, as OpenAI's
/// `file` parts and Anthropic's `document` blocks (`title` next to `source.data`) carry it.
fn sibling_name(doc: &Value, path: &[Key]) -> Option<String> {
    let (_, parent) = path.split_last()?;
    let mut chain = vec![doc];
    for k in parent {
        let v = *chain.last()?;
        chain.push(match (k, v) {
            (Key::Field(f), Value::Object(m)) => m.get(f)?,
            (Key::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        });
    }
    chain.iter().rev().take(2).find_map(|v| {
        ["filename", "name", "title"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .map(str::to_string)
    })
}

/// Every whole number of 12 digits or more in a JSON document (a card or account number sent
/// as a number), one per line, as one segment. Shorter numbers (counts, seeds, seconds) are
/// left alone: they are what JSON numbers usually are.
fn push_numbers(out: &mut Extracted, doc: &Value) {
    fn walk(v: &Value, acc: &mut String) {
        match v {
            Value::Number(n) => {
                let t = n.to_string();
                if t.len() >= 12 && t.bytes().all(|b| b.is_ascii_digit()) {
                    acc.push_str(&t);
                    acc.push('\n');
                }
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, acc)),
            Value::Object(m) => m.values().for_each(|c| walk(c, acc)),
            _ => {}
        }
    }
    let mut acc = String::new();
    walk(doc, &mut acc);
    if !acc.is_empty() {
        push_derived(out, "(numbers)".into(), acc);
    }
}

/// The runs of 6 or more printable ASCII characters in `bytes`, one per line (what `strings`
/// shows of a binary file).
pub(crate) fn printable_runs(bytes: &[u8]) -> String {
    let mut out = String::new();
    for run in bytes
        .split(|b| !(b.is_ascii_graphic() || *b == b' '))
        .filter(|r| r.len() >= 6)
    {
        out.push_str(std::str::from_utf8(run).unwrap_or(""));
        out.push('\n');
    }
    out
}

/// A body in UTF-16 (by its charset or its byte-order mark) or Latin-1, decoded; `None` for
/// UTF-8 and anything else.
fn decode_charset(content_type: &str, body: &[u8]) -> Option<String> {
    let charset = content_type
        .split(';')
        .skip(1)
        .find_map(|p| p.trim().strip_prefix("charset="))
        .map(|c| c.trim_matches('"').to_ascii_lowercase());
    let utf16 = documents::utf16;
    match (charset.as_deref(), body) {
        (_, [0xFF, 0xFE, rest @ ..]) => Some(utf16(rest, false)),
        (_, [0xFE, 0xFF, rest @ ..]) => Some(utf16(rest, true)),
        (Some("utf-16le"), _) | (Some("utf-16"), _) => Some(utf16(body, false)),
        (Some("utf-16be"), _) => Some(utf16(body, true)),
        (Some("iso-8859-1" | "latin1" | "latin-1" | "windows-1252"), _)
            if std::str::from_utf8(body).is_err() =>
        {
            Some(body.iter().map(|&b| b as char).collect())
        }
        _ => None,
    }
}

fn looks_like_json(body: &[u8]) -> bool {
    matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}

fn number_at(sel: &selector::Selector, doc: &Value) -> Option<u64> {
    // Selectors reach strings; numbers are looked up by walking the plain field path.
    let path = sel.to_string();
    let mut v = doc;
    for field in path.split('.') {
        v = v.get(field)?;
    }
    v.as_u64()
}

fn push_base64(
    out: &mut Extracted,
    path: Vec<Key>,
    s: &str,
    name: Option<&str>,
    limits: &DocumentLimits,
) {
    let (prefix, payload) = match s.strip_prefix("data:") {
        Some(rest) => match rest.find(";base64,") {
            Some(i) => (Some(s[..5 + i + 8].to_string()), &rest[i + 8..]),
            None => (None, s),
        },
        None => (Some(String::new()), s),
    };
    let decoded = prefix.as_ref().and_then(|_| {
        base64::engine::general_purpose::STANDARD
            .decode(payload.trim())
            .ok()
    });
    match (prefix, decoded) {
        (Some(prefix), Some(bytes)) => match String::from_utf8(bytes) {
            Ok(text) => {
                let location = format!("{}(base64)", selector::display(&path));
                if documents::sniff(text.as_bytes(), name).is_some() {
                    push_document(out, &location, name, text.as_bytes(), limits);
                }
                out.segments.push(TextSegment::new(
                    text,
                    location,
                    Target::Json {
                        path,
                        base64_prefix: Some(prefix),
                    },
                ))
            }
            Err(e) => {
                out.binary_parts += 1;
                let bytes = e.into_bytes();
                let location = format!("{}(base64)", selector::display(&path));
                push_document(out, &location, name, &bytes, limits);
                // A short value of base64 letters may be a plain-text secret that happens to
                // decode: scan it as written too. Real binary attachments are larger.
                if s.len() <= SHORT_BASE64 {
                    push_plain(out, path, s);
                }
            }
        },
        // Not base64: plain text in a field that may carry either (Anthropic text documents).
        _ => push_plain(out, path, s),
    }
}

/// Values up to this size that decode to binary are also scanned as text.
const SHORT_BASE64: usize = 4096;

fn push_plain(out: &mut Extracted, path: Vec<Key>, s: &str) {
    if s.is_empty() {
        return;
    }
    let location = selector::display(&path);
    // A string that holds JSON (a tool call's arguments, a frame's payload) is read as JSON:
    // its strings are scanned as the user wrote them, and each can be redacted in place.
    if let Some(inner) = nested_json(s) {
        push_nested_doc(out, &location, &inner, |ipath| Target::Nested {
            outer: path.clone(),
            inner: ipath.to_vec(),
        });
        return;
    }
    out.segments.push(TextSegment::new(
        s.to_string(),
        location,
        Target::Json {
            path,
            base64_prefix: None,
        },
    ));
}

/// How deep strings holding JSON are unwrapped (Gemini's web app sends JSON in a string in
/// JSON in a form field).
const NESTED_DEPTH: usize = 4;

/// `s` parsed as JSON when it is a JSON array or object with at least one string in it.
fn nested_json(s: &str) -> Option<Value> {
    if s.len() < 4 || !looks_like_json(s.as_bytes()) {
        return None;
    }
    let v = crate::strict_json::parse(s).ok()?;
    fn has_string(v: &Value) -> bool {
        match v {
            Value::String(_) => true,
            Value::Array(a) => a.iter().any(has_string),
            Value::Object(m) => m.values().any(has_string),
            _ => false,
        }
    }
    has_string(&v).then_some(v)
}

/// The strings of `doc` with their places.
fn strings_of(doc: &Value) -> Vec<(Vec<Key>, &str)> {
    let mut found = Vec::new();
    selector::all_strings(doc, &mut Vec::new(), &mut found);
    found
}

/// The strings (and long numbers) of `inner`, the JSON a string at `location` held: each a
/// segment with the target `target_of` gives for its place inside.
fn push_nested_doc(
    out: &mut Extracted,
    location: &str,
    inner: &Value,
    target_of: impl Fn(&[Key]) -> Target,
) {
    for (ipath, is) in strings_of(inner) {
        let target = target_of(&ipath);
        push_nested(out, location, ipath, is, target, 1);
    }
    push_numbers(out, inner);
}

/// A string found inside a string that held JSON, at `depth`: `outer>inner` names its place.
/// Only the first level can be rewritten; deeper levels are scanned (a redaction there
/// blocks).
fn push_nested(
    out: &mut Extracted,
    outer: &str,
    inner: Vec<Key>,
    s: &str,
    target: Target,
    depth: usize,
) {
    if s.is_empty() {
        return;
    }
    let location = format!("{outer}>{}", selector::display(&inner));
    if depth < NESTED_DEPTH {
        if let Some(v) = nested_json(s) {
            for (ipath, is) in strings_of(&v) {
                push_nested(out, &location, ipath, is, Target::Derived, depth + 1);
            }
            push_numbers(out, &v);
            return;
        }
    }
    out.segments
        .push(TextSegment::new(s.to_string(), location, target));
}

/// Text a person wrote rather than an id, a name or a flag: a few words.
fn reads_as_prose(s: &str) -> bool {
    s.len() >= 12 && s.split_whitespace().nth(2).is_some()
}

fn extract_form(mut out: Extracted, body: &[u8]) -> Result<Extracted, ExtractError> {
    for (k, v) in form_pairs(body) {
        let value = String::from_utf8(v).map_err(|e| ExtractError::InvalidUtf8 {
            offset: e.utf8_error().valid_up_to(),
        })?;
        if value.is_empty() {
            continue;
        }
        let location = format!("form:{k}");
        // A field that holds JSON (Gemini's `f.req`) is read as JSON.
        if let Some(inner) = nested_json(&value) {
            push_nested_doc(&mut out, &location, &inner, |_| Target::Derived);
            continue;
        }
        out.segments
            .push(TextSegment::new(value, location, Target::Form));
    }
    out.doc = Doc::Form;
    Ok(out)
}

/// The text of a URL's query (`q=how+to…&model=x`): each parameter's value, percent-decoded,
/// is a segment named `query:<name>` (endpoint `url`); a value that holds JSON is read as
/// JSON. A query cannot be rewritten: a redaction in it blocks.
pub fn extract_query(query: &str) -> Extracted {
    let mut out = Extracted::empty(None, "");
    out.endpoint = "url".into();
    for (k, v) in form_pairs(query.as_bytes()) {
        let value = String::from_utf8_lossy(&v).into_owned();
        if value.is_empty() {
            continue;
        }
        let location = format!("query:{k}");
        if let Some(inner) = nested_json(&value) {
            push_nested_doc(&mut out, &location, &inner, |_| Target::Derived);
            continue;
        }
        push_derived(&mut out, location, value);
    }
    out.doc = Doc::Raw;
    out
}

/// The `name=value` pairs of a form body or a query, both percent-decoded (the name lossily).
fn form_pairs(body: &[u8]) -> impl Iterator<Item = (String, Vec<u8>)> + '_ {
    body.split(|&b| b == b'&').map(|pair| {
        let (k, v) = match memchr::memchr(b'=', pair) {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        (
            String::from_utf8_lossy(&percent_decode(k)).into_owned(),
            percent_decode(v),
        )
    })
}

fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => match (hex(s[i + 1]), hex(s[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Puts replacement texts back: `(segment index, new text)`. Returns the new body.
pub fn rewrite(
    extracted: &Extracted,
    body: &[u8],
    replacements: &[(usize, String)],
) -> Result<Vec<u8>, ExtractError> {
    if replacements.is_empty() {
        return Ok(body.to_vec());
    }
    for (index, _) in replacements {
        match extracted.segments.get(*index) {
            None => return Err(ExtractError::NoSuchSegment { index: *index }),
            Some(seg) if matches!(seg.target, Target::Derived) => {
                return Err(ExtractError::Unrewritable {
                    what: "text that is not a place in the body (a number, a file name, a binary part, another charset)",
                })
            }
            Some(_) => {}
        }
    }
    match &extracted.doc {
        Doc::Json(doc, suffix) => {
            let mut doc = doc.clone();
            let mut nested: Vec<(&Vec<Key>, &Vec<Key>, &str)> = Vec::new();
            for (index, text) in replacements {
                let (path, base64_prefix) = match &extracted.segments[*index].target {
                    Target::Json {
                        path,
                        base64_prefix,
                    } => (path, base64_prefix),
                    Target::Nested { outer, inner } => {
                        nested.push((outer, inner, text));
                        continue;
                    }
                    _ => unreachable!("json documents have json targets"),
                };
                let slot = selector::get_mut(&mut doc, path)
                    .ok_or(ExtractError::NoSuchSegment { index: *index })?;
                *slot = Value::String(match base64_prefix {
                    Some(prefix) => format!(
                        "{prefix}{}",
                        base64::engine::general_purpose::STANDARD.encode(text)
                    ),
                    None => text.clone(),
                });
            }
            // A string inside a string that holds JSON: that JSON is read, changed and
            // written back into its string.
            for (outer, inner, text) in nested {
                let unreadable = ExtractError::Unrewritable {
                    what: "JSON inside a string that changed while being rewritten",
                };
                let slot = selector::get_mut(&mut doc, outer).ok_or(unreadable.clone())?;
                let mut v: Value = slot
                    .as_str()
                    .and_then(|s| crate::strict_json::parse(s).ok())
                    .ok_or(unreadable.clone())?;
                *selector::get_mut(&mut v, inner).ok_or(unreadable)? =
                    Value::String(text.to_string());
                *slot = Value::String(serde_json::to_string(&v).expect("a JSON value serialises"));
            }
            let mut out = serde_json::to_vec(&doc).expect("a JSON value serialises");
            out.extend_from_slice(suffix);
            Ok(out)
        }
        Doc::Multipart(parts) => {
            let mut by_part: Vec<(usize, &str)> = replacements
                .iter()
                .map(|(i, t)| match extracted.segments[*i].target {
                    Target::Part { index } => (index, t.as_str()),
                    _ => unreachable!("multipart documents have part targets"),
                })
                .collect();
            by_part.sort_by_key(|(i, _)| *i);
            let mut out = Vec::with_capacity(body.len());
            let mut pos = 0;
            for (index, text) in by_part {
                let p = &parts[index];
                out.extend_from_slice(&body[pos..p.start]);
                out.extend_from_slice(text.as_bytes());
                pos = p.end;
            }
            out.extend_from_slice(&body[pos..]);
            Ok(out)
        }
        Doc::Raw => match replacements.last() {
            Some((_, text)) => Ok(text.as_bytes().to_vec()),
            None => Ok(body.to_vec()),
        },
        Doc::Form => Err(ExtractError::Unrewritable {
            what: "a form-encoded body",
        }),
        Doc::Empty => Ok(body.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode(b"a%20b+c%zz%4"), b"a b c%zz%4");
    }

    #[test]
    fn invalid_utf8_and_malformed_json_are_errors_not_passes() {
        let c = Catalog::builtin();
        let e = c.classify("api.openai.com", "POST", "/v1/chat/completions");
        assert_eq!(
            extract(
                e,
                "/v1/chat/completions",
                Some("application/json"),
                b"{\"a\":\"\xff\"}"
            )
            .unwrap_err(),
            ExtractError::InvalidUtf8 { offset: 6 }
        );
        assert!(matches!(
            extract(e, "/", Some("application/json"), b"{\"messages\": [").unwrap_err(),
            ExtractError::MalformedJson { .. }
        ));
    }

    #[test]
    fn unknown_endpoints_give_every_string() {
        let body = br#"{"a":{"b":["one",{"c":"two"}]},"n":3}"#;
        let x = extract(None, "/x", Some("application/json"), body).unwrap();
        let locs: Vec<_> = x.segments.iter().map(|s| s.location.as_str()).collect();
        assert_eq!(locs, ["a.b[0]", "a.b[1].c"]);
        assert_eq!(x.endpoint, "unknown");
        let raw = extract(None, "/x", Some("text/plain"), b"plain words").unwrap();
        assert_eq!(raw.segments[0].text, "plain words");
        let bin = extract(None, "/x", None, b"\x00\xff\xfe").unwrap();
        assert!(bin.binary_body && bin.segments.is_empty());
        let form = extract(
            None,
            "/x",
            Some("application/x-www-form-urlencoded"),
            b"f.req=hello%20there&at=1",
        )
        .unwrap();
        assert_eq!(form.segments[0].text, "hello there");
        assert!(
            rewrite(&form, b"", &[(0, "x".into())]).is_err(),
            "forms cannot be redacted"
        );
    }
}
