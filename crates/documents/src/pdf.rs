//! PDF: the text of each page (content streams decompressed within the budget, fonts'
//! encodings and ToUnicode maps applied by lopdf).

use crate::budget::Budget;
use crate::{DocError, Document, Kind, Piece};
use lopdf::content::Content;
use lopdf::{Encoding, LoadOptions, Object};
use std::collections::HashMap;

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
    // Fonts are shared by pages: each font's encoding (a ToUnicode map is parsed) once.
    let mut encodings: HashMap<*const lopdf::Dictionary, Option<Encoding<'_>>> = HashMap::new();
    for (&number, &page_id) in &pages {
        budget.check_time()?;
        // A page's content streams expand within what is left of the budget (and 64 MiB).
        let left = budget.expand_left().min(64 << 20) as usize;
        let text = page_text(&pdf, page_id, left, &mut encodings).map_err(|e| {
            let detail = e.to_string();
            if detail.contains("limit") || detail.contains("Limit") {
                budget.expand_error()
            } else {
                // A page whose content cannot be decoded leaves the document unreadable: a
                // page that cannot be checked must not pass as if it were empty.
                DocError::Corrupt {
                    kind,
                    detail: format!("page {number}: {detail}"),
                }
            }
        })?;
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

/// The text a page shows, as lopdf's own `extract_text` reads it (text-showing operators
/// through each font's encoding, a line per text object), with the fonts' encodings cached
/// across pages: lopdf's call looks up the page tree and parses every font again for each page,
/// which made a 4,000-page report take seconds.
fn page_text<'a>(
    pdf: &'a lopdf::Document,
    page_id: lopdf::ObjectId,
    limit: usize,
    encodings: &mut HashMap<*const lopdf::Dictionary, Option<Encoding<'a>>>,
) -> lopdf::Result<String> {
    let fonts = pdf.get_page_fonts(page_id)?;
    let mut by_name: HashMap<&[u8], *const lopdf::Dictionary> = HashMap::new();
    for (name, font) in &fonts {
        let key = *font as *const lopdf::Dictionary;
        encodings
            .entry(key)
            .or_insert_with(|| font.get_font_encoding_with_limit(pdf, limit).ok());
        by_name.insert(name.as_slice(), key);
    }
    let content = Content::decode(&pdf.get_page_content_with_limit(page_id, limit)?)?;
    let mut text = String::new();
    let mut current: Option<&Encoding<'a>> = None;
    for op in &content.operations {
        match op.operator.as_str() {
            "Tf" => {
                current = op
                    .operands
                    .first()
                    .and_then(|o| o.as_name().ok())
                    .and_then(|n| by_name.get(n))
                    .and_then(|k| encodings.get(k))
                    .and_then(Option::as_ref);
            }
            "Tj" | "TJ" => {
                if let Some(e) = current {
                    collect(&mut text, e, &op.operands);
                }
            }
            "'" | "\"" => {
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                let operands = if op.operator == "'" {
                    &op.operands[..]
                } else {
                    op.operands.get(2..).unwrap_or(&[])
                };
                if let Some(e) = current {
                    collect(&mut text, e, operands);
                }
            }
            "T*" | "ET" if !text.ends_with('\n') => text.push('\n'),
            // A move to another line ends one; a move along the line separates words.
            "Td" | "TD" if !text.is_empty() && !text.ends_with(char::is_whitespace) => {
                text.push(if moves_down(&op.operands) { '\n' } else { ' ' });
            }
            _ => {}
        }
    }
    Ok(text)
}

/// Whether a `Td`/`TD` offset moves to another line (a vertical move).
fn moves_down(operands: &[Object]) -> bool {
    operands
        .get(1)
        .and_then(|o| o.as_float().ok())
        .is_some_and(|dy| dy.abs() > 0.01)
}

fn collect(text: &mut String, encoding: &Encoding<'_>, operands: &[Object]) {
    for operand in operands {
        match operand {
            Object::String(bytes, _) => {
                let _ = encoding.write_to_string(bytes, text);
            }
            Object::Array(items) => {
                collect(text, encoding, items);
            }
            // A large negative kerning in a TJ array is a space between words.
            Object::Integer(i) if *i < -100 => text.push(' '),
            Object::Real(r) if *r < -100.0 => text.push(' '),
            _ => {}
        }
    }
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
