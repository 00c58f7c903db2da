//! Jupyter notebooks (nbformat 4): each cell's source, and the text of its outputs.

use crate::budget::Budget;
use crate::{DocError, Document, Kind, Piece};
use serde_json::Value;

pub(crate) fn looks_like_notebook(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        && crate::memfind(head, b"\"cells\"").is_some()
        || crate::memfind(head, b"\"nbformat\"").is_some() && head.first() == Some(&b'{')
}

pub(crate) fn read(bytes: &[u8], budget: &mut Budget, doc: &mut Document) -> Result<(), DocError> {
    let kind = Kind::Notebook;
    let nb: Value = serde_json::from_slice(bytes).map_err(|e| DocError::Corrupt {
        kind,
        detail: e.to_string(),
    })?;
    let cells = nb
        .get("cells")
        .and_then(Value::as_array)
        .ok_or(DocError::Corrupt {
            kind,
            detail: "no cells".into(),
        })?;
    doc.parts = cells.len();
    for (i, cell) in cells.iter().enumerate() {
        let mut text = joined(cell.get("source"));
        for output in cell
            .get("outputs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut add = |v: Option<&Value>| {
                let t = joined(v);
                if !t.is_empty() {
                    text.push('\n');
                    text.push_str(&t);
                }
            };
            add(output.get("text"));
            if let Some(data) = output.get("data") {
                add(data.get("text/plain"));
                add(data.get("text/markdown"));
                if data.get("image/png").is_some() || data.get("image/jpeg").is_some() {
                    doc.images += 1;
                }
            }
            add(output.get("traceback"));
        }
        if !text.trim().is_empty() {
            budget.take_text(text.len())?;
            doc.pieces.push(Piece {
                location: format!("cell {}", i + 1),
                text,
                marks: Vec::new(),
            });
        }
    }
    Ok(())
}

/// nbformat keeps multi-line strings as a string or a list of lines.
fn joined(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}
