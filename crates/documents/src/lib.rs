//! The text of documents, for scanning: PDF, Word, PowerPoint and Excel (OOXML), OpenDocument
//! text, spreadsheets and presentations, RTF, e-mail (with its attachments), Jupyter notebooks
//! and ZIP, tar and gzip archives of any of these or of code.
//!
//! Every read is bounded ([`Limits`]): bytes expanded from compressed data (absolute and as a
//! ratio of the input), text kept, archive depth and members, and time. A document over a bound,
//! encrypted, in a format that cannot be read here (legacy binary Office) or damaged is an
//! [`DocError`], never a partial pass: the caller decides what an unreadable document means
//! (the policy's `documents.unreadable`).
//!
//! The text comes as [`Piece`]s, each with where it was found: `page 3`, `slide 2`,
//! `sheet Budget`, `notes 1`, `cell 4`, `attachment plan.docx: page 1`,
//! `src/main.rs` (an archive member).

mod archive;
mod budget;
mod mail;
mod notebook;
mod odf;
mod ooxml;
mod pdf;
mod rtf;
mod xml;

use budget::Budget;
pub use budget::Limits;

/// A document format this crate reads (or recognises to refuse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Pdf,
    Docx,
    Pptx,
    Xlsx,
    Odt,
    Ods,
    Odp,
    Rtf,
    Eml,
    Notebook,
    Zip,
    Tar,
    Gzip,
    /// `.doc`, `.xls`, `.ppt`, or an encrypted OOXML file (both OLE compound files): recognised,
    /// not read.
    Compound,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pdf => "pdf",
            Kind::Docx => "docx",
            Kind::Pptx => "pptx",
            Kind::Xlsx => "xlsx",
            Kind::Odt => "odt",
            Kind::Ods => "ods",
            Kind::Odp => "odp",
            Kind::Rtf => "rtf",
            Kind::Eml => "eml",
            Kind::Notebook => "ipynb",
            Kind::Zip => "zip",
            Kind::Tar => "tar",
            Kind::Gzip => "gzip",
            Kind::Compound => "ole",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text found in a document, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// `page 3`, `slide 2`, `sheet Budget`, `body`, `src/lib.rs`, `report.zip/q3.pdf: page 1`.
    pub location: String,
    pub text: String,
    /// Finer places inside the text, in order: (byte offset where it starts, name), such as
    /// the cells of a sheet (`B7`). Empty when the location says it all.
    pub marks: Vec<(usize, String)>,
}

impl Piece {
    /// The location of a byte offset in this piece: `sheet Budget, cell B7`.
    pub fn locate(&self, offset: usize) -> String {
        match self.marks.partition_point(|(start, _)| *start <= offset) {
            0 => self.location.clone(),
            i => format!("{}, cell {}", self.location, self.marks[i - 1].1),
        }
    }
}

/// What was read from a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub kind: Kind,
    pub pieces: Vec<Piece>,
    /// Pages, slides, sheets, or members the document has (what a user would count).
    pub parts: usize,
    /// Images inside it (not scanned: text in images is out of scope).
    pub images: usize,
    /// Archive members that could not be read (encrypted, unsupported, over a bound), with
    /// where and why. A caller treats any as an unreadable document.
    pub problems: Vec<(String, DocError)>,
}

impl Document {
    pub fn text_bytes(&self) -> usize {
        self.pieces.iter().map(|p| p.text.len()).sum()
    }
}

/// Why a document could not be read. The message says what a user can do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocError {
    #[error("it is encrypted or password-protected, so its content cannot be checked; send it without the password protection")]
    Encrypted,
    #[error(
        "it is in a format Leakguard cannot read ({0}); save it as PDF or a current Office format"
    )]
    Unsupported(&'static str),
    #[error("it is damaged or not a valid {kind} file ({detail})")]
    Corrupt { kind: Kind, detail: String },
    #[error("it expands to more than {limit} bytes (a compression bomb, or too large to check)")]
    Expands { limit: u64 },
    #[error("it holds more than {limit} bytes of text, more than can be checked")]
    TooMuchText { limit: u64 },
    #[error("its archives are nested more than {limit} deep")]
    TooDeep { limit: u32 },
    #[error("it holds more than {limit} files")]
    TooManyMembers { limit: usize },
    #[error("reading it took longer than {limit_ms} ms")]
    TooSlow { limit_ms: u64 },
    #[error("it is larger than {limit} bytes, more than Leakguard reads of this format")]
    TooLarge { limit: u64 },
    #[error("it could not be read from disk: {0}")]
    Io(String),
}

/// What a document's bytes are, from their magic (and, for formats without one, the file name).
/// `None`: not a document this crate reads (plain text, an image, unknown binary).
pub fn sniff(bytes: &[u8], name: Option<&str>) -> Option<Kind> {
    let ext = name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    let head = &bytes[..bytes.len().min(1024)];
    if memfind(head, b"%PDF-").is_some() {
        return Some(Kind::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Some(archive::zip_kind(bytes));
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Some(Kind::Compound);
    }
    if bytes.starts_with(b"{\\rtf") {
        return Some(Kind::Rtf);
    }
    if bytes.starts_with(&[0x1F, 0x8B]) {
        return Some(Kind::Gzip);
    }
    if bytes.len() > 262 && &bytes[257..262] == b"ustar" {
        return Some(Kind::Tar);
    }
    match ext.as_deref() {
        Some("eml") if mail::looks_like_mail(bytes) => Some(Kind::Eml),
        Some("ipynb") if notebook::looks_like_notebook(bytes) => Some(Kind::Notebook),
        _ if name.is_none() && notebook::looks_like_notebook(bytes) => Some(Kind::Notebook),
        _ => None,
    }
}

/// An image by its magic: PNG, JPEG, GIF, WebP, BMP, TIFF, HEIC/AVIF.
pub fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG\r\n\x1a\n")
        || bytes.starts_with(&[0xFF, 0xD8, 0xFF])
        || bytes.starts_with(b"GIF87a")
        || bytes.starts_with(b"GIF89a")
        || (bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP"))
        || bytes.starts_with(b"BM")
        || bytes.starts_with(b"II*\0")
        || bytes.starts_with(b"MM\0*")
        || (bytes.get(4..8) == Some(b"ftyp")
            && matches!(
                bytes.get(8..12),
                Some(b"heic" | b"heix" | b"avif" | b"mif1")
            ))
}

/// Reads a document's text. `name` (a file name) helps with formats that have no magic.
/// `Ok(None)`: not a document (scan the bytes as they are).
pub fn extract(
    bytes: &[u8],
    name: Option<&str>,
    limits: &Limits,
) -> Result<Option<Document>, DocError> {
    let Some(kind) = sniff(bytes, name) else {
        return Ok(None);
    };
    let mut budget = Budget::new(limits, bytes.len());
    let out = guarded(kind, || read(kind, bytes, name, &mut budget, 0))?;
    Ok(Some(out))
}

/// Reads a document from a seekable source of `len` bytes (an upload spooled to disk).
/// ZIP-based formats (Office, OpenDocument, zip) and tar and gzip archives are read member by
/// member, so memory stays within the budget whatever the file's size; the formats that need
/// the whole file (PDF, RTF, e-mail, notebooks) are read into memory up to `in_memory` bytes,
/// and beyond it the document is unreadable ([`DocError::TooLarge`]).
pub fn extract_reader<R: std::io::Read + std::io::Seek>(
    mut source: R,
    len: u64,
    name: Option<&str>,
    limits: &Limits,
    in_memory: u64,
) -> Result<Option<Document>, DocError> {
    use std::io::{Read, SeekFrom};
    let io = |e: std::io::Error| DocError::Io(e.to_string());
    let mut head = Vec::with_capacity(1024);
    source.seek(SeekFrom::Start(0)).map_err(io)?;
    (&mut source)
        .take(1024)
        .read_to_end(&mut head)
        .map_err(io)?;
    source.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut kind = sniff(&head, name);
    if matches!(kind, Some(Kind::Zip)) {
        kind = Some(archive::zip_kind_of(&head, &mut source));
        source.seek(SeekFrom::Start(0)).map_err(io)?;
    }
    let Some(kind) = kind else {
        return Ok(None);
    };
    let mut budget = Budget::new(limits, usize::try_from(len).unwrap_or(usize::MAX));
    let out = guarded(kind, || {
        let mut doc = Document::empty(kind);
        match kind {
            Kind::Docx | Kind::Pptx | Kind::Xlsx => {
                ooxml::read(kind, &mut source, &mut budget, &mut doc)?
            }
            Kind::Odt | Kind::Ods | Kind::Odp => {
                odf::read(kind, &mut source, &mut budget, &mut doc)?
            }
            Kind::Zip | Kind::Tar | Kind::Gzip => {
                archive::read_from(kind, &mut source, name, &mut budget, 0, &mut doc)?
            }
            _ if len > in_memory => return Err(DocError::TooLarge { limit: in_memory }),
            _ => {
                let mut bytes = Vec::with_capacity(len as usize);
                source.read_to_end(&mut bytes).map_err(io)?;
                doc = read(kind, &bytes, name, &mut budget, 0)?;
            }
        }
        Ok(doc)
    })?;
    Ok(Some(out))
}

impl Document {
    fn empty(kind: Kind) -> Document {
        Document {
            kind,
            pieces: Vec::new(),
            parts: 0,
            images: 0,
            problems: Vec::new(),
        }
    }
}

/// Runs a read of third-party parsers on hostile input: a panic in one is a document that
/// cannot be read, not a crash of the guard.
fn guarded(
    kind: Kind,
    f: impl FnOnce() -> Result<Document, DocError>,
) -> Result<Document, DocError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(DocError::Corrupt {
            kind,
            detail: "the parser gave up on it".into(),
        })
    })
}

/// Reads one document (at `depth` inside archives).
fn read(
    kind: Kind,
    bytes: &[u8],
    name: Option<&str>,
    budget: &mut Budget,
    depth: u32,
) -> Result<Document, DocError> {
    budget.check_time()?;
    let mut doc = Document::empty(kind);
    match kind {
        Kind::Pdf => pdf::read(bytes, budget, &mut doc)?,
        Kind::Docx | Kind::Pptx | Kind::Xlsx => {
            ooxml::read(kind, std::io::Cursor::new(bytes), budget, &mut doc)?
        }
        Kind::Odt | Kind::Ods | Kind::Odp => {
            odf::read(kind, std::io::Cursor::new(bytes), budget, &mut doc)?
        }
        Kind::Rtf => rtf::read(bytes, budget, &mut doc)?,
        Kind::Eml => mail::read(bytes, budget, depth, &mut doc)?,
        Kind::Notebook => notebook::read(bytes, budget, &mut doc)?,
        Kind::Zip | Kind::Tar | Kind::Gzip => {
            archive::read(kind, bytes, name, budget, depth, &mut doc)?
        }
        Kind::Compound => {
            return Err(if name.is_some_and(is_ooxml_name) {
                DocError::Encrypted
            } else {
                DocError::Unsupported("a legacy binary Office file")
            })
        }
    }
    Ok(doc)
}

fn is_ooxml_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".docx", ".xlsx", ".pptx", ".docm", ".xlsm", ".pptm"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// A file inside a document or archive: its text as a piece when it is text, read as a
/// document when it is one, counted when it is an image; anything else is left out.
fn member(
    location: &str,
    bytes: &[u8],
    budget: &mut Budget,
    depth: u32,
    doc: &mut Document,
) -> Result<(), DocError> {
    budget.check_time()?;
    if let Some(kind) = sniff(bytes, Some(location)) {
        if depth + 1 > budget.limits.max_depth {
            doc.problems.push((
                location.to_string(),
                DocError::TooDeep {
                    limit: budget.limits.max_depth,
                },
            ));
            return Ok(());
        }
        match read(kind, bytes, Some(location), budget, depth + 1) {
            Ok(inner) => {
                doc.images += inner.images;
                for p in inner.pieces {
                    doc.pieces.push(Piece {
                        location: format!("{location}: {}", p.location),
                        text: p.text,
                        marks: p.marks,
                    });
                }
                for (at, e) in inner.problems {
                    doc.problems.push((format!("{location}: {at}"), e));
                }
            }
            // Bounds of the whole read stop everything; a member's own trouble is recorded.
            Err(e @ (DocError::Expands { .. } | DocError::TooMuchText { .. })) => return Err(e),
            Err(e @ DocError::TooSlow { .. }) => return Err(e),
            Err(e) => doc.problems.push((location.to_string(), e)),
        }
        return Ok(());
    }
    if is_image(bytes) {
        doc.images += 1;
        return Ok(());
    }
    if let Some(text) = as_text(bytes) {
        if !text.trim().is_empty() {
            budget.take_text(text.len())?;
            doc.pieces.push(Piece {
                location: location.to_string(),
                text,
                marks: Vec::new(),
            });
        }
    }
    Ok(())
}

/// Bytes as text: UTF-8 (a BOM dropped), or UTF-16 with a BOM; `None` for binary.
fn as_text(bytes: &[u8]) -> Option<String> {
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => std::str::from_utf8(rest).ok().map(str::to_string),
        [0xFF, 0xFE, rest @ ..] => Some(utf16(rest, false)),
        [0xFE, 0xFF, rest @ ..] => Some(utf16(rest, true)),
        _ if bytes[..bytes.len().min(8192)].contains(&0) => None,
        _ => std::str::from_utf8(bytes).ok().map(str::to_string),
    }
}

/// UTF-16 bytes (no byte-order mark) as text; unpaired surrogates become U+FFFD.
pub fn utf16(bytes: &[u8], big: bool) -> String {
    let units = bytes.chunks_exact(2).map(|c| {
        if big {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_le_bytes([c[0], c[1]])
        }
    });
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests;
