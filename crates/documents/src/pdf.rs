//! PDF: the text of each page (content streams decompressed within the budget, fonts'
//! encodings and ToUnicode maps applied by lopdf).

use crate::budget::Budget;
use crate::{DocError, Document, Kind, Piece};
use lopdf::{LoadOptions, Object};

pub(crate) fn read(bytes: &[u8], budget: &mut Budget, doc: &mut Document) -> Result<(), DocError> {
    let kind = Kind::Pdf;
    let limit = budget.expand_left().min(usize::MAX as u64) as usize;
    let options = LoadOptions {
        max_decompressed_size: Some(limit),
        ..LoadOptions::default()
    };
    let mut pdf = lopdf::Document::load_mem_with_options(bytes, options).map_err(|e| {
        let detail = e.to_string();
        if is_encryption_error(&detail) {
            DocError::Encrypted
        } else if detail.contains("limit") || detail.contains("Limit") {
            budget.expand_error()
        } else {
            DocError::Corrupt { kind, detail }
        }
    })?;
    // Encrypted with an empty user password (only printing or copying restricted): readable.
    if pdf.is_encrypted() && pdf.decrypt("").is_err() {
        return Err(DocError::Encrypted);
    }
    let pages = pdf.get_pages();
    doc.parts = pages.len();
    for (&number, &page_id) in &pages {
        budget.check_time()?;
        let left = budget.expand_left().min(usize::MAX as u64) as usize;
        let text = match pdf.extract_text_with_limit(&[number], left) {
            Ok(t) => t,
            Err(e) => {
                let detail = e.to_string();
                if detail.contains("limit") || detail.contains("Limit") {
                    return Err(budget.expand_error());
                }
                // A page whose content cannot be decoded leaves the document unreadable:
                // a page that cannot be checked must not pass as if it were empty.
                return Err(DocError::Corrupt {
                    kind,
                    detail: format!("page {number}: {detail}"),
                });
            }
        };
        doc.images += images_on(&pdf, page_id);
        let text = tidy(&text);
        if !text.trim().is_empty() {
            budget.take_text(text.len())?;
            doc.pieces.push(Piece {
                location: format!("page {number}"),
                text,
                marks: Vec::new(),
            });
        }
    }
    Ok(())
}

fn is_encryption_error(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    d.contains("decrypt") || d.contains("password") || d.contains("encrypt")
}

/// Image XObjects a page's resources name.
fn images_on(pdf: &lopdf::Document, page: lopdf::ObjectId) -> usize {
    let Ok((resources, ids)) = pdf.get_page_resources(page) else {
        return 0;
    };
    let mut dicts: Vec<&lopdf::Dictionary> = resources.into_iter().collect();
    dicts.extend(ids.iter().filter_map(|id| pdf.get_dictionary(*id).ok()));
    let mut n = 0;
    for res in dicts {
        let xobjects = match res.get(b"XObject") {
            Ok(Object::Reference(id)) => pdf.get_dictionary(*id).ok(),
            Ok(Object::Dictionary(d)) => Some(d),
            _ => None,
        };
        for (_, obj) in xobjects.into_iter().flat_map(|d| d.iter()) {
            let stream = match obj {
                Object::Reference(id) => pdf.get_object(*id).ok().and_then(|o| o.as_stream().ok()),
                _ => None,
            };
            if stream.is_some_and(|s| {
                s.dict
                    .get(b"Subtype")
                    .and_then(Object::as_name)
                    .is_ok_and(|n| n == b"Image")
            }) {
                n += 1;
            }
        }
    }
    n
}

/// lopdf gives each text-showing operator its own line; words of one line come apart and
/// lines of one paragraph too. Lines are kept (a secret is never split by this), runs of
/// blank lines folded.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
