//! E-mail (RFC 5322 with MIME): the subject, the text and HTML bodies, and every attachment
//! read as a document or text of its own.

use crate::budget::Budget;
use crate::{DocError, Document, Kind, Piece};
use mail_parser::{MessageParser, MimeHeaders};

pub(crate) fn looks_like_mail(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).to_ascii_lowercase();
    [
        "from:",
        "to:",
        "subject:",
        "received:",
        "mime-version:",
        "message-id:",
        "date:",
    ]
    .iter()
    .filter(|h| head.starts_with(*h) || head.contains(&format!("\n{h}")))
    .count()
        >= 2
}

pub(crate) fn read(
    bytes: &[u8],
    budget: &mut Budget,
    depth: u32,
    doc: &mut Document,
) -> Result<(), DocError> {
    let message = MessageParser::new().parse(bytes).ok_or(DocError::Corrupt {
        kind: Kind::Eml,
        detail: "not an e-mail message".into(),
    })?;
    let mut text = String::new();
    if let Some(subject) = message.subject() {
        text.push_str("Subject: ");
        text.push_str(subject);
        text.push('\n');
    }
    let mut i = 0;
    while let Some(body) = message.body_text(i) {
        text.push_str(&body);
        text.push('\n');
        i += 1;
    }
    if i == 0 {
        let mut j = 0;
        while let Some(html) = message.body_html(j) {
            text.push_str(&mail_parser::decoders::html::html_to_text(&html));
            text.push('\n');
            j += 1;
        }
    }
    doc.parts = 1;
    if !text.trim().is_empty() {
        budget.take_text(text.len())?;
        doc.pieces.push(Piece {
            location: "message".into(),
            text,
            marks: Vec::new(),
        });
    }
    for (n, part) in message.attachments().enumerate() {
        doc.parts += 1;
        let name = part
            .attachment_name()
            .map(str::to_string)
            .unwrap_or_else(|| format!("attachment {}", n + 1));
        let content = part.contents();
        budget.take_expanded(content.len())?;
        crate::member(&format!("attachment {name}"), content, budget, depth, doc)?;
    }
    Ok(())
}
