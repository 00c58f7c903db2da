//! A walk over the events of an XML part, names without their namespace prefix.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

pub(crate) enum Ev<'a> {
    Open(&'a str, &'a BytesStart<'a>),
    Close(&'a str),
    Text(&'a str),
}

/// Calls `f` for every element opened and closed (an empty element is both) and every run of
/// text (entities resolved). `Err` with the parser's message on malformed XML.
pub(crate) fn walk(xml: &str, mut f: impl FnMut(Ev<'_>)) -> Result<(), String> {
    let mut reader = Reader::from_str(xml);
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => {
                let name = e.name();
                f(Ev::Open(local(name.as_ref()), &e));
            }
            Event::Empty(e) => {
                let name = e.name();
                let local = local(name.as_ref());
                f(Ev::Open(local, &e));
                f(Ev::Close(local));
            }
            Event::End(e) => {
                let name = e.name();
                f(Ev::Close(local(name.as_ref())));
            }
            Event::Text(t) => f(Ev::Text(&t.xml10_content())),
            Event::CData(t) => f(Ev::Text(&t)),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => quick_xml::escape::resolve_predefined_entity(&r).map(str::to_string),
                };
                if let Some(s) = resolved {
                    f(Ev::Text(&s));
                }
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// An attribute's value by its local name.
pub(crate) fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (local(a.key.as_ref()) == name).then(|| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| a.value.to_string())
        })
    })
}

/// Bytes of an XML part as text (UTF-8, a BOM dropped; UTF-16 with a BOM).
pub(crate) fn text_of(bytes: Vec<u8>) -> Result<String, String> {
    match bytes.as_slice() {
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] => Ok(crate::as_text(&bytes).unwrap_or_default()),
        [0xEF, 0xBB, 0xBF, ..] => String::from_utf8(bytes[3..].to_vec()).map_err(|e| e.to_string()),
        _ => String::from_utf8(bytes).map_err(|e| e.to_string()),
    }
}
