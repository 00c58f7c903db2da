//! Seeing through evasion: zero-width and bidi characters, compatibility forms (full-width
//! digits, ligatures, math letters), decimal digits of every script (Unicode `Nd`), Cyrillic
//! and Greek homoglyphs and the other ASCII look-alikes of UTS #39, JSON `\uXXXX` escapes, URL
//! percent-encoding and HTML character references (`&#65;`, `&#x41;`, `&amp;`) are undone into
//! a normalised copy of the text. Every byte of the copy
//! remembers the byte range of the original it came from, so a finding in the copy is reported
//! at offsets into the original (covering the hidden characters between, so redaction removes
//! them too).

use unicode_normalization::UnicodeNormalization;

/// The normalised text and its map back to the original.
#[derive(Debug)]
pub(crate) struct Normalized {
    pub text: Vec<u8>,
    /// For byte `i` of `text`: the original byte range of the character it came from.
    origin: Vec<(u32, u32)>,
}

impl Normalized {
    /// The original range covering normalised bytes `start..end`.
    pub(crate) fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        let s = self.origin[start].0 as usize;
        let e = self.origin[end.max(start + 1) - 1].1 as usize;
        (s, e)
    }
}

/// Invisible characters that only serve to split a token: zero-width space/joiners, word
/// joiner, BOM, soft hyphen, bidi embeddings, overrides and isolates, Mongolian vowel separator.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0000}'..='\u{E007F}')
}

/// Cyrillic and Greek letters that look like Latin ones.
fn homoglyph(c: char) -> Option<char> {
    Some(match c {
        'А' | 'Α' => 'A',
        'В' | 'Β' => 'B',
        'С' | 'Ϲ' => 'C',
        'Е' | 'Ε' => 'E',
        'Н' | 'Η' => 'H',
        'І' | 'Ι' | 'Ӏ' => 'I',
        'Ј' => 'J',
        'К' | 'Κ' => 'K',
        'М' | 'Μ' => 'M',
        'Ν' => 'N',
        'О' | 'Ο' => 'O',
        'Р' | 'Ρ' => 'P',
        'Ѕ' => 'S',
        'Т' | 'Τ' => 'T',
        'Х' | 'Χ' => 'X',
        'У' | 'Υ' => 'Y',
        'Ζ' => 'Z',
        'а' | 'α' => 'a',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' => 'e',
        'һ' => 'h',
        'і' | 'ι' | 'ı' => 'i',
        'ј' => 'j',
        'κ' => 'k',
        'ӏ' | 'ℓ' => 'l',
        'о' | 'ο' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'τ' => 't',
        'υ' => 'u',
        'ν' => 'v',
        'ԝ' => 'w',
        'х' | 'χ' => 'x',
        'у' => 'y',
        _ => return None,
    })
}

/// Blocks where NFKC changes characters that matter for detection. Other scripts (Hangul,
/// Han, Kana…) are left alone, which keeps Korean and Japanese prose fast.
fn nfkc_may_change(c: char) -> bool {
    matches!(c as u32,
        0x00A0..=0x00FF | 0x2000..=0x2BFF | 0x3000 | 0x3200..=0x33FF | 0xFB00..=0xFB4F
        | 0xFE30..=0xFE6F | 0xFF00..=0xFFEF | 0x1D400..=0x1D7FF | 0x1F100..=0x1F1FF)
}

/// Whether the normaliser changes `c` (a character to look at in [`suspicious_windows`]).
#[inline]
fn is_suspicious(c: char) -> bool {
    is_invisible(c)
        || homoglyph(c).is_some()
        || nfkc_may_change(c)
        || crate::confusables::nd_digit(c).is_some()
        || crate::confusables::confusable(c).is_some()
}

/// An HTML character reference at `i` (`&#65;`, `&#x41;`, or one of the names that matter
/// in text: `amp lt gt quot apos nbsp`): the character and the reference's length.
fn parse_entity(hay: &[u8], i: usize) -> Option<(char, usize)> {
    let rest = &hay[i..hay.len().min(i + 12)];
    let semi = memchr::memchr(b';', rest)?;
    let body = rest.get(1..semi)?;
    let c = if let Some(num) = body.strip_prefix(b"#") {
        let (digits, radix) = match num.first() {
            Some(b'x' | b'X') => (&num[1..], 16),
            _ => (num, 10),
        };
        if digits.is_empty() || digits.len() > 7 {
            return None;
        }
        let v = u32::from_str_radix(std::str::from_utf8(digits).ok()?, radix).ok()?;
        char::from_u32(v)?
    } else {
        match body {
            b"amp" => '&',
            b"lt" => '<',
            b"gt" => '>',
            b"quot" => '"',
            b"apos" => '\'',
            b"nbsp" => ' ',
            _ => return None,
        }
    };
    Some((c, semi + 1))
}

fn hex_val(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

fn parse_u_escape(hay: &[u8], i: usize) -> Option<u32> {
    if hay.get(i) == Some(&b'\\') && hay.get(i + 1) == Some(&b'u') && i + 6 <= hay.len() {
        let mut v = 0u32;
        for &b in &hay[i + 2..i + 6] {
            v = v * 16 + hex_val(b)?;
        }
        Some(v)
    } else {
        None
    }
}

struct Builder {
    text: Vec<u8>,
    origin: Vec<(u32, u32)>,
    changed: bool,
}

impl Builder {
    fn push_char(&mut self, c: char, start: usize, end: usize) {
        let c = homoglyph(c).unwrap_or(c);
        let mut buf = [0u8; 4];
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            self.text.push(b);
            self.origin.push((start as u32, end as u32));
        }
    }

    fn push_transformed(&mut self, c: char, start: usize, end: usize) {
        if is_invisible(c) {
            self.changed = true;
        } else if let Some(h) = homoglyph(c) {
            self.changed = true;
            self.push_char(h, start, end);
        } else if let Some(d) = crate::confusables::nd_digit(c) {
            self.changed = true;
            self.push_char(d as char, start, end);
        } else if nfkc_may_change(c) {
            let mut n = 0;
            let mut same = true;
            for d in std::iter::once(c).nfkc() {
                same &= d == c;
                n += 1;
                self.push_char(d, start, end);
            }
            self.changed |= !same || n != 1;
        } else if let Some(a) = (!c.is_ascii())
            .then(|| crate::confusables::confusable(c))
            .flatten()
        {
            self.changed = true;
            self.push_char(a as char, start, end);
        } else {
            self.push_char(c, start, end);
        }
    }
}

/// Normalises `hay`; `None` when nothing would change (the common case, decided fast).
pub(crate) fn normalize(hay: &[u8], has_high: bool, has_escape: bool) -> Option<Normalized> {
    if !has_high && !has_escape {
        return None;
    }
    if !has_high && !has_any_escape(hay) {
        return None;
    }
    let mut b = Builder {
        text: Vec::with_capacity(hay.len()),
        origin: Vec::with_capacity(hay.len()),
        changed: false,
    };
    let mut i = 0usize;
    while i < hay.len() {
        let byte = hay[i];
        if byte < 0x80 {
            if byte == b'\\' {
                if let Some(v) = parse_u_escape(hay, i) {
                    // A surrogate pair spells one character in two escapes.
                    let (cp, len) = if (0xD800..0xDC00).contains(&v) {
                        match parse_u_escape(hay, i + 6) {
                            Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                                (0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00), 12)
                            }
                            _ => (0xFFFD, 6),
                        }
                    } else {
                        (v, 6)
                    };
                    let c = char::from_u32(cp).unwrap_or('\u{FFFD}');
                    b.changed = true;
                    b.push_transformed(c, i, i + len);
                    i += len;
                    continue;
                }
            }
            if byte == b'&' {
                if let Some((c, len)) = parse_entity(hay, i) {
                    b.changed = true;
                    b.push_transformed(c, i, i + len);
                    i += len;
                    continue;
                }
            }
            if byte == b'%' {
                if let Some((decoded, len)) = percent_run(hay, i) {
                    b.changed = true;
                    let start = i;
                    for c in String::from_utf8_lossy(&decoded).chars() {
                        b.push_transformed(c, start, start + len);
                    }
                    i += len;
                    continue;
                }
            }
            b.text.push(byte);
            b.origin.push((i as u32, i as u32 + 1));
            i += 1;
            continue;
        }
        // Non-ASCII: decode one character; invalid bytes are dropped from the copy.
        let rest = &hay[i..hay.len().min(i + 4)];
        let valid = match std::str::from_utf8(rest) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or(""),
        };
        match valid.chars().next() {
            Some(c) => {
                let len = c.len_utf8();
                b.push_transformed(c, i, i + len);
                i += len;
            }
            None => {
                b.changed = true;
                i += 1;
            }
        }
    }
    b.changed.then_some(Normalized {
        text: b.text,
        origin: b.origin,
    })
}

/// Windows of `hay` that hold something the normaliser would change (an invisible character,
/// a homoglyph, a compatibility form, an escape), each widened by `reach` bytes to whitespace
/// and merged. Only these are normalised and scanned again, so one odd character in a large
/// file costs a small window, not a second pass over the file.
pub(crate) fn suspicious_windows(
    hay: &[u8],
    features: &crate::features::Features,
    reach: usize,
) -> Vec<(usize, usize)> {
    use crate::features::{BLOCK, F_ESCAPE, F_HIGH};
    let mut points: Vec<usize> = Vec::new();
    if features.any(F_ESCAPE) {
        points.extend(escapes(hay));
    }
    // Only the 64-byte blocks that hold a non-ASCII byte are walked; `i` carries a character
    // that runs over a block's end into the next.
    let mut i = 0;
    for b in features.blocks(F_HIGH) {
        i = i.max(b * BLOCK);
        let block_end = ((b + 1) * BLOCK).min(hay.len());
        while i < block_end {
            if hay[i] < 0x80 {
                i += 1;
                continue;
            }
            let rest = &hay[i..hay.len().min(i + 4)];
            let c = match std::str::from_utf8(rest) {
                Ok(s) => s.chars().next(),
                Err(e) => std::str::from_utf8(&rest[..e.valid_up_to()])
                    .ok()
                    .and_then(|s| s.chars().next()),
            };
            match c {
                Some(c) => {
                    if is_suspicious(c) {
                        points.push(i);
                    }
                    i += c.len_utf8();
                }
                None => {
                    points.push(i);
                    i += 1;
                }
            }
        }
    }
    points.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for p in points {
        let mut s = p.saturating_sub(reach);
        while s > 0 && !hay[s - 1].is_ascii_whitespace() && p - s < 2 * reach {
            s -= 1;
        }
        let mut e = (p + reach).min(hay.len());
        while e < hay.len() && !hay[e].is_ascii_whitespace() && e - p < 2 * reach {
            e += 1;
        }
        while s > 0 && (hay[s] as i8) < -0x40 {
            s -= 1;
        }
        while e < hay.len() && (hay[e] as i8) < -0x40 {
            e += 1;
        }
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

fn is_escape(hay: &[u8], i: usize) -> bool {
    match hay[i] {
        b'&' => parse_entity(hay, i).is_some(),
        _ => parse_u_escape(hay, i).is_some() || percent_run(hay, i).is_some(),
    }
}

/// Where escapes start: `\uXXXX`, `%XX` and numeric character references (`&#…;`; a named
/// one such as `&amp;` is decoded inside a window that something else opened, but does not
/// open one: `&` is everywhere in code).
fn escapes(hay: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let slash_percent = memchr::memchr2_iter(b'\\', b'%', hay).filter(|&i| is_escape(hay, i));
    let references = memchr::memmem::find_iter(hay, b"&#").filter(|&i| is_escape(hay, i));
    slash_percent.chain(references)
}

fn has_any_escape(hay: &[u8]) -> bool {
    escapes(hay).next().is_some()
}

/// A run of `%XX` escapes starting at `i`, decoded; at least one escape whose byte is not a
/// plain printable separator, so `50% 20` or `100%` stay as they are.
fn percent_run(hay: &[u8], i: usize) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut j = i;
    while j + 3 <= hay.len() && hay[j] == b'%' {
        match (hex_val(hay[j + 1]), hex_val(hay[j + 2])) {
            (Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                j += 3;
            }
            _ => break,
        }
    }
    (!out.is_empty()).then_some((out, j - i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspicious_windows_find_a_hidden_character_at_every_offset_across_blocks() {
        for k in 0..200 {
            // An innocent accented letter first, then a zero-width space at byte k (it may
            // straddle two 64-byte blocks).
            let mut text = "é".to_string();
            text.push_str(&"a".repeat(k));
            text.push('\u{200b}');
            text.push_str(&"b".repeat(150));
            let at = "é".len() + k;
            let f = crate::features::Features::scan(text.as_bytes());
            let w = suspicious_windows(text.as_bytes(), &f, 8);
            assert!(
                w.iter().any(|&(s, e)| s <= at && at < e),
                "offset {k}: {w:?}"
            );
        }
    }

    fn norm(s: &str) -> String {
        let n = normalize(
            s.as_bytes(),
            !s.is_ascii(),
            s.contains('\\') || s.contains('%') || s.contains('&'),
        );
        n.map(|n| String::from_utf8(n.text).unwrap())
            .unwrap_or_else(|| s.to_string())
    }

    #[test]
    fn undoes_each_evasion() {
        let cases = [
            (
                "AK\u{200B}IA\u{2060}QYLPMN5HJNGY4F7A",
                "AKIAQYLPMN5HJNGY4F7A",
            ),
            ("\u{202E}AKIA\u{202C}", "AKIA"),
            ("ＡＫＩＡ１２３", "AKIA123"),
            ("АКІА", "AKIA"), // Cyrillic
            ("\\u0041KIA", "AKIA"),
            ("\\ud83d\\ude00x", "😀x"),
            ("sk%2Dant%2Dapi03", "sk-ant-api03"),
            ("대외비 문서", "대외비 문서"),
            ("50% of 100%", "50% of 100%"),
            ("&#65;KIA&#x51;Y", "AKIAQY"),
            // Named references are decoded where a numeric one opened the window.
            (
                "a &amp; b &lt;c&gt; &bogus; &#;&#66;",
                "a & b <c> &bogus; &#;B",
            ),
            ("R&amp;D alone", "R&amp;D alone"),
            ("٤١١١ ۱۱۱۱ १११११", "4111 1111 11111"),
            ("Ꭺ𝖪ІА", "AKIA"),
            ("R&D and Q&A", "R&D and Q&A"),
        ];
        for (input, want) in cases {
            assert_eq!(norm(input), want, "{input:?}");
        }
    }

    #[test]
    fn spans_map_back_over_hidden_characters() {
        let s = "key: AK\u{200B}IA end";
        let n = normalize(s.as_bytes(), true, false).unwrap();
        let text = std::str::from_utf8(&n.text).unwrap();
        let at = text.find("AKIA").unwrap();
        let (os, oe) = n.original_span(at, at + 4);
        assert_eq!(&s[os..oe], "AK\u{200B}IA");
    }

    #[test]
    fn unchanged_text_gives_none() {
        assert!(normalize("plain ascii".as_bytes(), false, false).is_none());
        assert!(normalize("한국어 텍스트".as_bytes(), true, false).is_none());
        assert!(normalize(b"100% sure", false, true).is_none());
    }

    #[test]
    fn invalid_utf8_is_dropped_not_fatal() {
        let n = normalize(b"AK\xffIA", true, false).unwrap();
        assert_eq!(n.text, b"AKIA");
        assert_eq!(n.original_span(0, 4), (0, 5));
    }
}
