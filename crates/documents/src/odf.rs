//! OpenDocument text, spreadsheets and presentations (ODF 1.2+): a ZIP with `content.xml`.

use crate::archive;
use crate::budget::Budget;
use crate::xml::{self, Ev};
use crate::{DocError, Document, Kind, Piece};
use std::io::{Read, Seek};

pub(crate) fn read<R: Read + Seek>(
    kind: Kind,
    source: R,
    budget: &mut Budget,
    doc: &mut Document,
) -> Result<(), DocError> {
    let corrupt = |detail: String| DocError::Corrupt { kind, detail };
    let mut zip = archive::open(source, kind, budget)?;
    // An encrypted package keeps its manifest readable and says so there.
    if let Some(manifest) = archive::read_member(&mut zip, "META-INF/manifest.xml", kind, budget)? {
        if crate::memfind(&manifest, b"encryption-data").is_some() {
            return Err(DocError::Encrypted);
        }
    }
    let content = archive::read_member(&mut zip, "content.xml", kind, budget)?
        .ok_or_else(|| corrupt("no content.xml".into()))?;
    let content = xml::text_of(content).map_err(corrupt)?;

    // Text paragraphs and headings end a line, table cells are separated by tabs and rows by
    // lines; each sheet (`table:table` in a spreadsheet) and each slide (`draw:page`) is a
    // piece of its own, a text document one piece.
    let mut pieces: Vec<Piece> = Vec::new();
    let mut current = String::new();
    let mut marks: Vec<(usize, String)> = Vec::new();
    let mut label = "body".to_string();
    let mut slide = 0usize;
    let (mut row, mut col) = (0usize, 0usize);
    let mut cell_open = false;
    let mut repeat = 1usize;
    let mut skip = 0u32;
    let mut para = 0u32;
    let flush = |pieces: &mut Vec<Piece>,
                 current: &mut String,
                 marks: &mut Vec<(usize, String)>,
                 label: &str| {
        if !current.trim().is_empty() {
            pieces.push(Piece {
                location: label.to_string(),
                text: std::mem::take(current),
                marks: std::mem::take(marks),
            });
        }
        current.clear();
        marks.clear();
    };
    xml::walk(&content, |ev| match ev {
        // Annotations' metadata (author, date) and the text of tracked deletions are kept
        // out; the annotation text itself is read.
        Ev::Open("creator" | "date", _) => skip += 1,
        Ev::Close("creator" | "date") => skip = skip.saturating_sub(1),
        Ev::Open("table", e) if kind == Kind::Ods => {
            flush(&mut pieces, &mut current, &mut marks, &label);
            label = format!("sheet {}", xml::attr(e, "name").unwrap_or_default());
            row = 0;
        }
        Ev::Open("page", e) if kind == Kind::Odp => {
            flush(&mut pieces, &mut current, &mut marks, &label);
            slide += 1;
            label = match xml::attr(e, "name") {
                Some(n) if !n.starts_with("page") => format!("slide {slide} ({n})"),
                _ => format!("slide {slide}"),
            };
        }
        Ev::Open("notes", _) if kind == Kind::Odp => {
            flush(&mut pieces, &mut current, &mut marks, &label);
            label = format!("notes {slide}");
        }
        Ev::Open("table-row", _) => {
            row += 1;
            col = 0;
        }
        Ev::Close("table-row") if !current.is_empty() && !current.ends_with('\n') => {
            current.push('\n');
        }
        Ev::Open("table-cell" | "covered-table-cell", e) => {
            repeat = xml::attr(e, "number-columns-repeated")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1)
                .min(1024);
            col += 1;
            cell_open = true;
            if kind == Kind::Ods && !current.is_empty() && !current.ends_with('\n') {
                current.push('\t');
            }
        }
        Ev::Close("table-cell" | "covered-table-cell") => {
            while current.ends_with(' ') {
                current.pop();
            }
            col += repeat - 1;
            cell_open = false;
        }
        Ev::Open("tab", _) => current.push('\t'),
        Ev::Open("s", e) => {
            let n = xml::attr(e, "c")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1usize);
            current.push_str(&" ".repeat(n.min(64)));
        }
        Ev::Open("line-break", _) => current.push('\n'),
        Ev::Open("p" | "h", _) => para += 1,
        Ev::Close("p" | "h") => {
            para = para.saturating_sub(1);
            if kind == Kind::Ods && cell_open {
                current.push(' ');
            } else {
                current.push('\n');
            }
        }
        // Text lives in paragraphs and headings; whitespace between elements is layout.
        Ev::Text(t) if skip == 0 && para > 0 => {
            if kind == Kind::Ods
                && cell_open
                && marks.last().map(|(_, r)| r.as_str()) != Some(&cell_name(row, col))
            {
                marks.push((current.len(), cell_name(row, col)));
            }
            current.push_str(t);
        }
        _ => {}
    })
    .map_err(corrupt)?;
    flush(&mut pieces, &mut current, &mut marks, &label);
    doc.parts = match kind {
        Kind::Odp => slide,
        Kind::Ods => pieces.len(),
        _ => 1,
    };
    for p in pieces {
        budget.take_text(p.text.len())?;
        doc.pieces.push(p);
    }
    for name in archive::names(&zip) {
        if name.starts_with("Pictures/") {
            doc.images += 1;
        }
    }
    Ok(())
}

/// `A1`-style name of a cell (1-based row and column).
fn cell_name(row: usize, col: usize) -> String {
    let mut letters = Vec::new();
    let mut c = col;
    while c > 0 {
        letters.push(b'A' + ((c - 1) % 26) as u8);
        c = (c - 1) / 26;
    }
    letters.reverse();
    format!("{}{row}", String::from_utf8(letters).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cell_names() {
        assert_eq!(super::cell_name(1, 1), "A1");
        assert_eq!(super::cell_name(7, 2), "B7");
        assert_eq!(super::cell_name(3, 27), "AA3");
    }
}
