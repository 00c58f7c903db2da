//! Word, PowerPoint and Excel files (Office Open XML, ECMA-376): ZIP packages of XML parts.

use crate::archive::{self, Zip};
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
    let mut zip = archive::open(source, kind, budget)?;
    let names = archive::names(&zip);
    match kind {
        Kind::Docx => docx(&mut zip, &names, budget, doc)?,
        Kind::Pptx => pptx(&mut zip, &names, budget, doc)?,
        Kind::Xlsx => xlsx(&mut zip, &names, budget, doc)?,
        _ => unreachable!("only OOXML kinds come here"),
    }
    // Pictures are counted; embedded files (a sheet in a deck, a document in a sheet) are
    // read as documents of their own.
    for name in &names {
        if name.contains("/media/") {
            doc.images += 1;
        } else if name.contains("/embeddings/") {
            let content = archive::read_member(&mut zip, name, kind, budget)?.unwrap_or_default();
            let label = format!("embedded {}", name.rsplit('/').next().unwrap_or(name));
            crate::member(&label, &content, budget, 0, doc)?;
        }
    }
    Ok(())
}

fn part_text<R: Read + Seek>(
    zip: &mut Zip<R>,
    name: &str,
    kind: Kind,
    budget: &mut Budget,
) -> Result<Option<String>, DocError> {
    let Some(bytes) = archive::read_member(zip, name, kind, budget)? else {
        return Ok(None);
    };
    xml::text_of(bytes)
        .map(Some)
        .map_err(|detail| DocError::Corrupt { kind, detail })
}

/// The text of a WordprocessingML or DrawingML part: runs of `t`, a tab for `tab`, a new
/// line for `br`/`cr` and at the end of each paragraph.
fn flow_text(xml_text: &str, kind: Kind) -> Result<String, DocError> {
    let mut out = String::new();
    let mut in_text = 0u32;
    xml::walk(xml_text, |ev| match ev {
        Ev::Open("t" | "delText" | "instrText", _) => in_text += 1,
        Ev::Close("t" | "delText" | "instrText") => in_text = in_text.saturating_sub(1),
        Ev::Open("tab", _) if in_text == 0 => out.push('\t'),
        Ev::Open("br" | "cr", _) => out.push('\n'),
        Ev::Close("p") => out.push('\n'),
        Ev::Text(t) if in_text > 0 => out.push_str(t),
        _ => {}
    })
    .map_err(|detail| DocError::Corrupt { kind, detail })?;
    Ok(out)
}

fn push(
    doc: &mut Document,
    budget: &mut Budget,
    location: String,
    text: String,
) -> Result<(), DocError> {
    if text.trim().is_empty() {
        return Ok(());
    }
    budget.take_text(text.len())?;
    doc.pieces.push(Piece {
        location,
        text,
        marks: Vec::new(),
    });
    Ok(())
}

/// Parts named `<prefix><n>.xml`, by `n`.
fn numbered<'n>(names: &'n [String], prefix: &str) -> Vec<(u32, &'n str)> {
    let mut out: Vec<(u32, &str)> = names
        .iter()
        .filter_map(|n| {
            let num = n.strip_prefix(prefix)?.strip_suffix(".xml")?;
            Some((num.parse().ok()?, n.as_str()))
        })
        .collect();
    out.sort();
    out
}

fn docx<R: Read + Seek>(
    zip: &mut Zip<R>,
    names: &[String],
    budget: &mut Budget,
    doc: &mut Document,
) -> Result<(), DocError> {
    let kind = Kind::Docx;
    let body = part_text(zip, "word/document.xml", kind, budget)?.ok_or(DocError::Corrupt {
        kind,
        detail: "no word/document.xml".into(),
    })?;
    let text = flow_text(&body, kind)?;
    doc.parts = 1;
    push(doc, budget, "body".into(), text)?;
    for (prefix, label) in [
        ("word/header", "header"),
        ("word/footer", "footer"),
        ("word/footnotes", "footnotes"),
        ("word/endnotes", "endnotes"),
        ("word/comments", "comments"),
    ] {
        for name in names
            .iter()
            .filter(|n| n.starts_with(prefix) && n.ends_with(".xml"))
        {
            if let Some(x) = part_text(zip, name, kind, budget)? {
                let text = flow_text(&x, kind)?;
                push(doc, budget, label.into(), text)?;
            }
        }
    }
    Ok(())
}

fn pptx<R: Read + Seek>(
    zip: &mut Zip<R>,
    names: &[String],
    budget: &mut Budget,
    doc: &mut Document,
) -> Result<(), DocError> {
    let kind = Kind::Pptx;
    let slides = numbered(names, "ppt/slides/slide");
    doc.parts = slides.len();
    for (n, name) in slides {
        if let Some(x) = part_text(zip, name, kind, budget)? {
            let text = flow_text(&x, kind)?;
            push(doc, budget, format!("slide {n}"), text)?;
        }
    }
    for (n, name) in numbered(names, "ppt/notesSlides/notesSlide") {
        if let Some(x) = part_text(zip, name, kind, budget)? {
            let text = flow_text(&x, kind)?;
            push(doc, budget, format!("notes {n}"), text)?;
        }
    }
    for name in names
        .iter()
        .filter(|n| n.starts_with("ppt/comments/") && n.ends_with(".xml"))
    {
        if let Some(x) = part_text(zip, name, kind, budget)? {
            let mut text = String::new();
            let mut inside = false;
            xml::walk(&x, |ev| match ev {
                Ev::Open("text", _) => inside = true,
                Ev::Close("text") => {
                    inside = false;
                    text.push('\n');
                }
                Ev::Text(t) if inside => text.push_str(t),
                _ => {}
            })
            .map_err(|detail| DocError::Corrupt { kind, detail })?;
            push(doc, budget, "comments".into(), text)?;
        }
    }
    Ok(())
}

fn xlsx<R: Read + Seek>(
    zip: &mut Zip<R>,
    names: &[String],
    budget: &mut Budget,
    doc: &mut Document,
) -> Result<(), DocError> {
    let kind = Kind::Xlsx;
    let corrupt = |detail: String| DocError::Corrupt { kind, detail };
    // Shared strings: the text of most cells.
    let mut shared: Vec<String> = Vec::new();
    if let Some(x) = part_text(zip, "xl/sharedStrings.xml", kind, budget)? {
        let mut current = String::new();
        let mut in_t = false;
        let mut in_phonetic = false;
        xml::walk(&x, |ev| match ev {
            Ev::Open("si", _) => current.clear(),
            Ev::Close("si") => shared.push(std::mem::take(&mut current)),
            Ev::Open("rPh", _) => in_phonetic = true,
            Ev::Close("rPh") => in_phonetic = false,
            Ev::Open("t", _) => in_t = true,
            Ev::Close("t") => in_t = false,
            Ev::Text(t) if in_t && !in_phonetic => current.push_str(t),
            _ => {}
        })
        .map_err(corrupt)?;
    }
    // Sheet names, in workbook order, to their parts (through the workbook's relationships).
    let mut targets: Vec<(String, String)> = Vec::new();
    if let Some(x) = part_text(zip, "xl/_rels/workbook.xml.rels", kind, budget)? {
        xml::walk(&x, |ev| {
            if let Ev::Open("Relationship", e) = ev {
                if let (Some(id), Some(target)) = (xml::attr(e, "Id"), xml::attr(e, "Target")) {
                    let target = target.trim_start_matches('/');
                    let path = if target.starts_with("xl/") {
                        target.to_string()
                    } else {
                        format!("xl/{target}")
                    };
                    targets.push((id, path));
                }
            }
        })
        .map_err(corrupt)?;
    }
    let mut sheets: Vec<(String, String)> = Vec::new();
    if let Some(x) = part_text(zip, "xl/workbook.xml", kind, budget)? {
        xml::walk(&x, |ev| {
            if let Ev::Open("sheet", e) = ev {
                let name = xml::attr(e, "name").unwrap_or_default();
                if let Some(id) = xml::attr(e, "id") {
                    if let Some((_, path)) = targets.iter().find(|(i, _)| *i == id) {
                        sheets.push((name, path.clone()));
                    }
                }
            }
        })
        .map_err(corrupt)?;
    }
    if sheets.is_empty() {
        // No relationships: the sheet parts by number.
        for (n, name) in numbered(names, "xl/worksheets/sheet") {
            sheets.push((format!("Sheet{n}"), name.to_string()));
        }
    }
    doc.parts = sheets.len();
    for (sheet, part) in sheets {
        let Some(x) = part_text(zip, &part, kind, budget)? else {
            continue;
        };
        let mut text = String::new();
        let mut marks = Vec::new();
        let mut cell_ref = String::new();
        let mut cell_type = String::new();
        let mut value = String::new();
        let mut in_value = false;
        let mut row_has_cells = false;
        xml::walk(&x, |ev| match ev {
            Ev::Open("c", e) => {
                cell_ref = xml::attr(e, "r").unwrap_or_default();
                cell_type = xml::attr(e, "t").unwrap_or_default();
                value.clear();
            }
            Ev::Open("v", _) | Ev::Open("t", _) => in_value = true,
            Ev::Close("v") | Ev::Close("t") => in_value = false,
            Ev::Text(t) if in_value => value.push_str(t),
            Ev::Close("c") => {
                let shown = match cell_type.as_str() {
                    "s" => value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| shared.get(i).cloned())
                        .unwrap_or_default(),
                    _ => std::mem::take(&mut value),
                };
                if !shown.is_empty() {
                    if row_has_cells {
                        text.push('\t');
                    }
                    marks.push((text.len(), cell_ref.clone()));
                    text.push_str(&shown);
                    row_has_cells = true;
                }
            }
            Ev::Close("row") => {
                if row_has_cells {
                    text.push('\n');
                }
                row_has_cells = false;
            }
            _ => {}
        })
        .map_err(corrupt)?;
        if !text.trim().is_empty() {
            budget.take_text(text.len())?;
            doc.pieces.push(Piece {
                location: format!("sheet {sheet}"),
                text,
                marks,
            });
        }
    }
    for name in names
        .iter()
        .filter(|n| n.starts_with("xl/comments") && n.ends_with(".xml"))
    {
        if let Some(x) = part_text(zip, name, kind, budget)? {
            let text = flow_text(&x, kind)?;
            push(doc, budget, "comments".into(), text)?;
        }
    }
    Ok(())
}
