//! ZIP (also the container of Office and OpenDocument files), tar and gzip.

use crate::budget::Budget;
use crate::{member, DocError, Document, Kind};
use std::io::{Cursor, Read, Seek};
use zip::ZipArchive;

/// A ZIP package over any seekable source: a slice in memory, or a spooled upload on disk
/// (members are then read one at a time, within the budget).
pub(crate) type Zip<R> = ZipArchive<R>;

/// Which ZIP-based format: an Office or OpenDocument file, or a plain archive.
pub(crate) fn zip_kind(bytes: &[u8]) -> Kind {
    zip_kind_of(bytes, Cursor::new(bytes))
}

/// [`zip_kind`] with the head of the file and a seekable source of all of it.
pub(crate) fn zip_kind_of<R: Read + Seek>(bytes: &[u8], source: R) -> Kind {
    // OpenDocument stores its MIME type uncompressed as the first member.
    let head = &bytes[..bytes.len().min(256)];
    for (mime, kind) in [
        (&b"application/vnd.oasis.opendocument.text"[..], Kind::Odt),
        (b"application/vnd.oasis.opendocument.spreadsheet", Kind::Ods),
        (
            b"application/vnd.oasis.opendocument.presentation",
            Kind::Odp,
        ),
    ] {
        if crate::memfind(head, mime).is_some() {
            return kind;
        }
    }
    let Ok(archive) = ZipArchive::new(source) else {
        return Kind::Zip;
    };
    if archive.index_for_name("[Content_Types].xml").is_none() {
        return Kind::Zip;
    }
    for (part, kind) in [
        ("word/document.xml", Kind::Docx),
        ("ppt/presentation.xml", Kind::Pptx),
        ("xl/workbook.xml", Kind::Xlsx),
    ] {
        if archive.index_for_name(part).is_some() {
            return kind;
        }
    }
    Kind::Zip
}

pub(crate) fn open<R: Read + Seek>(
    source: R,
    kind: Kind,
    budget: &Budget,
) -> Result<Zip<R>, DocError> {
    let archive = ZipArchive::new(source).map_err(|e| DocError::Corrupt {
        kind,
        detail: e.to_string(),
    })?;
    if archive.len() > budget.limits.max_members {
        return Err(DocError::TooManyMembers {
            limit: budget.limits.max_members,
        });
    }
    Ok(archive)
}

/// The names of the members, in archive order.
pub(crate) fn names<R: Read + Seek>(archive: &Zip<R>) -> Vec<String> {
    archive
        .file_names()
        .filter_map(Result::ok)
        .map(|n| n.into_owned())
        .collect()
}

/// One member's bytes, expanded within the budget. `Ok(None)` if there is no such member.
pub(crate) fn read_member<R: Read + Seek>(
    archive: &mut Zip<R>,
    name: &str,
    kind: Kind,
    budget: &mut Budget,
) -> Result<Option<Vec<u8>>, DocError> {
    let Some(index) = archive.index_for_name(name) else {
        return Ok(None);
    };
    read_index(archive, index, kind, budget).map(Some)
}

fn read_index<R: Read + Seek>(
    archive: &mut Zip<R>,
    index: usize,
    kind: Kind,
    budget: &mut Budget,
) -> Result<Vec<u8>, DocError> {
    budget.check_time()?;
    let mut file = match archive.by_index(index) {
        Ok(f) => f,
        Err(zip::result::ZipError::UnsupportedArchive(what)) if what.contains("assword") => {
            return Err(DocError::Encrypted)
        }
        Err(zip::result::ZipError::UnsupportedArchive(_)) => {
            return Err(DocError::Unsupported(
                "a ZIP compression method other than deflate",
            ))
        }
        Err(e) => {
            return Err(DocError::Corrupt {
                kind,
                detail: e.to_string(),
            })
        }
    };
    if file.encrypted() {
        return Err(DocError::Encrypted);
    }
    // The declared size is checked first (cheap), the real one while expanding.
    if file.size() > budget.expand_left() {
        return Err(budget.expand_error());
    }
    budget
        .read_all(&mut file)
        .map_err(|e| budget.io_error(kind, e))
}

/// A plain archive: every member is read as text or as a document.
pub(crate) fn read(
    kind: Kind,
    bytes: &[u8],
    name: Option<&str>,
    budget: &mut Budget,
    depth: u32,
    doc: &mut Document,
) -> Result<(), DocError> {
    read_from(kind, Cursor::new(bytes), name, budget, depth, doc)
}

/// [`read`] from any seekable source.
pub(crate) fn read_from<R: Read + Seek>(
    kind: Kind,
    source: R,
    name: Option<&str>,
    budget: &mut Budget,
    depth: u32,
    doc: &mut Document,
) -> Result<(), DocError> {
    let mut source = source;
    match kind {
        Kind::Zip => {
            let mut archive = open(source, kind, budget)?;
            let names = names(&archive);
            for (index, name) in names.iter().enumerate() {
                if name.ends_with('/') {
                    continue;
                }
                doc.parts += 1;
                match read_index(&mut archive, index, kind, budget) {
                    Ok(content) => member(name, &content, budget, depth, doc)?,
                    Err(e @ (DocError::Encrypted | DocError::Unsupported(_))) => {
                        doc.problems.push((name.clone(), e))
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Kind::Tar => {
            let mut archive = tar::Archive::new(source);
            let entries = archive.entries().map_err(|e| corrupt(kind, e))?;
            for entry in entries {
                let mut entry = entry.map_err(|e| corrupt(kind, e))?;
                if !entry.header().entry_type().is_file() {
                    continue;
                }
                doc.parts += 1;
                if doc.parts > budget.limits.max_members {
                    return Err(DocError::TooManyMembers {
                        limit: budget.limits.max_members,
                    });
                }
                let path = entry
                    .path()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| format!("member {}", doc.parts));
                // A tar member is stored, not compressed: its bytes are the input's own, but
                // reading them still counts (the budget is about memory too).
                let content = budget
                    .read_all(&mut entry)
                    .map_err(|e| budget.io_error(kind, e))?;
                member(&path, &content, budget, depth, doc)?;
            }
        }
        Kind::Gzip => {
            let mut decoder = flate2::read::GzDecoder::new(&mut source);
            let inner = budget
                .read_all(&mut decoder)
                .map_err(|e| budget.io_error(kind, e))?;
            let inner_name = inner_name(name);
            doc.parts += 1;
            // The file inside a .gz is one level down, like a member.
            if crate::sniff(&inner, Some(&inner_name)) == Some(Kind::Tar) {
                read(Kind::Tar, &inner, Some(&inner_name), budget, depth, doc)?;
            } else {
                member(&inner_name, &inner, budget, depth, doc)?;
            }
        }
        _ => unreachable!("only archives come here"),
    }
    Ok(())
}

/// `x.tar.gz` → `x.tar`, `x.tgz` → `x.tar`, `notes.txt.gz` → `notes.txt`.
fn inner_name(name: Option<&str>) -> String {
    let name = name.unwrap_or("(gzip)");
    let base = name.rsplit('/').next().unwrap_or(name);
    if let Some(stem) = base.strip_suffix(".tgz") {
        format!("{stem}.tar")
    } else if let Some(stem) = base.strip_suffix(".gz") {
        stem.to_string()
    } else {
        base.to_string()
    }
}

fn corrupt(kind: Kind, e: impl std::fmt::Display) -> DocError {
    DocError::Corrupt {
        kind,
        detail: e.to_string(),
    }
}
