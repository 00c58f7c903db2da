//! RTF (1.9.1): the text of the document, control words for paragraphs, tabs and special
//! characters turned into their characters, destinations that are not text (fonts, colours,
//! styles, pictures, metadata, `\*` groups) left out.

use crate::budget::Budget;
use crate::{DocError, Document, Piece};

/// Destinations whose content is not document text.
const SKIP: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "info",
    "pict",
    "themedata",
    "colorschememapping",
    "datastore",
    "latentstyles",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "generator",
    "xmlnstbl",
    "header_skip",
    "object",
    "fldinst",
    "filetbl",
    "revtbl",
    "mmathPr",
];

pub(crate) fn read(bytes: &[u8], budget: &mut Budget, doc: &mut Document) -> Result<(), DocError> {
    let text = to_text(bytes);
    doc.parts = 1;
    if !text.trim().is_empty() {
        budget.take_text(text.len())?;
        doc.pieces.push(Piece {
            location: "body".into(),
            text,
            marks: Vec::new(),
        });
    }
    Ok(())
}

/// The text of an RTF document. Bytes of `\'hh` escapes are Windows-1252 (the default ANSI
/// code page); `\uN` is a Unicode character followed by `\ucN` (default 1) fallback characters.
pub(crate) fn to_text(bytes: &[u8]) -> String {
    struct Group {
        skip: bool,
        uc: usize,
    }
    let mut out = String::new();
    let mut stack: Vec<Group> = vec![Group { skip: false, uc: 1 }];
    let mut pending_skip = 0usize; // fallback characters still to drop after \uN
    let mut i = 0;
    let skipping = |stack: &Vec<Group>| stack.last().is_some_and(|g| g.skip);
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'{' => {
                let (skip, uc) = stack.last().map_or((false, 1), |g| (g.skip, g.uc));
                // `{\*\dest ...}`: an optional destination, not text.
                let star = bytes[i + 1..].starts_with(b"\\*");
                stack.push(Group {
                    skip: skip || star,
                    uc,
                });
                i += 1;
            }
            b'}' => {
                if stack.len() > 1 {
                    stack.pop();
                }
                i += 1;
            }
            b'\\' => {
                i += 1;
                let Some(&c) = bytes.get(i) else { break };
                if c.is_ascii_alphabetic() {
                    let start = i;
                    while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                        i += 1;
                    }
                    let word = std::str::from_utf8(&bytes[start..i]).unwrap_or("");
                    let num_start = i;
                    if i < bytes.len() && (bytes[i] == b'-' || bytes[i].is_ascii_digit()) {
                        i += 1;
                        while i < bytes.len() && bytes[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                    let param: Option<i64> = std::str::from_utf8(&bytes[num_start..i])
                        .ok()
                        .and_then(|s| s.parse().ok());
                    if bytes.get(i) == Some(&b' ') {
                        i += 1;
                    }
                    if SKIP.contains(&word) {
                        if let Some(g) = stack.last_mut() {
                            g.skip = true;
                        }
                        continue;
                    }
                    if skipping(&stack) {
                        continue;
                    }
                    match word {
                        "par" | "line" | "sect" | "page" | "row" => out.push('\n'),
                        "tab" | "cell" => out.push('\t'),
                        "emdash" => out.push('—'),
                        "endash" => out.push('–'),
                        "bullet" => out.push('•'),
                        "lquote" => out.push('‘'),
                        "rquote" => out.push('’'),
                        "ldblquote" => out.push('“'),
                        "rdblquote" => out.push('”'),
                        "uc" => {
                            if let Some(g) = stack.last_mut() {
                                g.uc = param.unwrap_or(1).clamp(0, 8) as usize;
                            }
                        }
                        "u" => {
                            if let Some(n) = param {
                                let code = if n < 0 { n + 65536 } else { n } as u32;
                                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                                pending_skip = stack.last().map_or(1, |g| g.uc);
                            }
                        }
                        _ => {}
                    }
                } else {
                    i += 1;
                    match c {
                        b'\'' => {
                            let hex = bytes
                                .get(i..i + 2)
                                .and_then(|h| std::str::from_utf8(h).ok());
                            i += 2;
                            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                                if pending_skip > 0 {
                                    pending_skip -= 1;
                                } else if !skipping(&stack) {
                                    out.push(cp1252(v));
                                }
                            }
                        }
                        b'~' if !skipping(&stack) => out.push('\u{a0}'),
                        b'_' if !skipping(&stack) => out.push('-'),
                        b'\\' | b'{' | b'}' if !skipping(&stack) => out.push(c as char),
                        b'\n' | b'\r' if !skipping(&stack) => out.push('\n'),
                        _ => {}
                    }
                }
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                // Plain text: ASCII as it is, other bytes as Windows-1252.
                let start = i;
                while i < bytes.len() && !matches!(bytes[i], b'{' | b'}' | b'\\' | b'\r' | b'\n') {
                    i += 1;
                }
                if skipping(&stack) {
                    continue;
                }
                for &ch in &bytes[start..i] {
                    if pending_skip > 0 {
                        pending_skip -= 1;
                        continue;
                    }
                    out.push(cp1252(ch));
                }
            }
        }
    }
    out
}

/// A Windows-1252 byte as a character (the bytes 0x80-0x9F that differ from Latin-1).
fn cp1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[(b - 0x80) as usize],
        _ => b as char,
    }
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn text_controls_and_escapes() {
        let rtf =
            br"{\rtf1\ansi{\fonttbl{\f0 Arial;}}{\*\generator Riched20;}\f0 Hello \b world\b0\par
Caf\'e9 \u8364? costs\tab 5\par{\*\comment hidden}}";
        assert_eq!(to_text(rtf), "Hello world\nCafé € costs\t5\n");
    }
}
