//! Encoded text inside a prompt (a pasted config blob, a data URL, a Kubernetes secret, a hex
//! dump) is decoded and scanned again, within bounds on depth and total size set by the engine:
//! base64 (standard and URL-safe) and base16 (hex) runs that decode to printable UTF-8 text.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);

/// Decodes a token run when it is base64 of mostly printable UTF-8 text.
pub(crate) fn decode_text(run: &[u8]) -> Option<Vec<u8>> {
    let body = run
        .strip_suffix(b"==")
        .or_else(|| run.strip_suffix(b"="))
        .unwrap_or(run);
    if body.len() < 24 || body.len() % 4 == 1 || body.contains(&b'=') {
        return None;
    }
    let url = body.iter().any(|&b| b == b'-' || b == b'_');
    let std = body.iter().any(|&b| b == b'+' || b == b'/');
    // Text in base64 mixes cases and digits; an identifier or a hex digest does not decode to
    // text anyway, but this skips the work.
    let has_upper = body.iter().any(u8::is_ascii_uppercase);
    let has_lower = body.iter().any(u8::is_ascii_lowercase);
    if (url && std) || !(has_upper && has_lower) {
        return None;
    }
    let decoded = if url {
        URL_SAFE.decode(body)
    } else {
        STANDARD.decode(body)
    }
    .ok()?;
    let text = std::str::from_utf8(&decoded).ok()?;
    let total = text.chars().count();
    let printable = text
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .count();
    (total >= 16 && printable * 100 >= total * 95).then_some(decoded)
}

/// How a run was encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Base64,
    Hex,
}

impl Encoding {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Encoding::Base64 => "base64",
            Encoding::Hex => "hex",
        }
    }

    /// The range of the run that encodes decoded bytes `start..end`.
    pub(crate) fn span(
        self,
        run_start: usize,
        run_len: usize,
        start: usize,
        end: usize,
    ) -> (usize, usize) {
        match self {
            Encoding::Base64 => encoded_span(run_start, run_len, start, end),
            Encoding::Hex => (
                run_start + 2 * start,
                (run_start + 2 * end).min(run_start + run_len),
            ),
        }
    }
}

/// Decodes a token run (or, for `name=value`, its value) that is base64 or hex of text: the
/// decoded bytes, the encoding and where the encoded part starts in the run.
pub(crate) fn decode_run(run: &[u8]) -> Option<(Vec<u8>, Encoding, usize)> {
    let mut at = 0;
    let mut part = run;
    // `token=…`: the value after the last `=` that is not padding.
    let unpadded = run.len() - run.iter().rev().take_while(|&&b| b == b'=').count();
    if let Some(eq) = memchr::memrchr(b'=', &run[..unpadded]) {
        at = eq + 1;
        part = &run[at..];
    }
    if let Some(d) = decode_hex(part) {
        return Some((d, Encoding::Hex, at));
    }
    decode_text(part).map(|d| (d, Encoding::Base64, at))
}

/// Hex (base16) of printable text: an even run of 32 or more hex digits in one case.
pub(crate) fn decode_hex(run: &[u8]) -> Option<Vec<u8>> {
    if run.len() < 32 || run.len() % 2 == 1 || !run.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let upper = run.iter().any(u8::is_ascii_uppercase);
    let lower = run.iter().any(u8::is_ascii_lowercase);
    if upper && lower {
        return None;
    }
    let mut out = Vec::with_capacity(run.len() / 2);
    for pair in run.chunks_exact(2) {
        let v = (pair[0] as char).to_digit(16)? * 16 + (pair[1] as char).to_digit(16)?;
        let b = v as u8;
        // Text: printable ASCII or whitespace (UTF-8 above, checked below).
        if b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t') {
            return None;
        }
        out.push(b);
    }
    let text = std::str::from_utf8(&out).ok()?;
    (text.chars().count() >= 16).then_some(out)
}

/// Maximal runs of base64/hex characters of 24 or more in a short text (the token runs of the
/// block pass start at 31 characters; a 20-character key is 28 in base64).
pub(crate) fn short_runs(hay: &[u8]) -> Vec<(usize, usize)> {
    let is_token = crate::features::is_token_byte;
    let mut out = Vec::new();
    let mut i = 0;
    while i < hay.len() {
        if !is_token(hay[i]) {
            i += 1;
            continue;
        }
        let s = i;
        while i < hay.len() && is_token(hay[i]) {
            i += 1;
        }
        if i - s >= 24 {
            out.push((s, i));
        }
    }
    out
}

/// The range of the base64 run that encodes decoded bytes `start..end` (whole 4-char groups).
pub(crate) fn encoded_span(
    run_start: usize,
    run_len: usize,
    start: usize,
    end: usize,
) -> (usize, usize) {
    let s = run_start + (start / 3) * 4;
    let e = run_start + (end.div_ceil(3) * 4).min(run_len);
    (s, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_text_and_refuses_noise() {
        let enc = STANDARD.encode("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzKEY");
        assert!(decode_text(enc.as_bytes()).is_some());
        let url = URL_SAFE.encode("password: correct horse battery staple???>>>");
        assert!(decode_text(url.as_bytes()).is_some());
        assert!(decode_text(b"ThisIsAVeryLongJavaIdentifierNameForTesting").is_none());
        assert!(decode_text(b"0123456789abcdef0123456789abcdef").is_none());
    }

    #[test]
    fn decodes_hex_and_assignments() {
        let hex: String = b"ghp_0123456789abcdefABCDEF"
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let (d, e, at) = decode_run(hex.as_bytes()).unwrap();
        assert_eq!(
            (d.as_slice(), e, at),
            (&b"ghp_0123456789abcdefABCDEF"[..], Encoding::Hex, 0)
        );
        // A SHA-256 digest is not text.
        let digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert!(decode_run(digest.as_bytes()).is_none());
        let b64 = STANDARD.encode("AKIAQYLPMN5HJNGY4F7A");
        let run = format!("token={b64}");
        let (d, e, at) = decode_run(run.as_bytes()).unwrap();
        assert_eq!(
            (d.as_slice(), e, at),
            (&b"AKIAQYLPMN5HJNGY4F7A"[..], Encoding::Base64, 6)
        );
        assert_eq!(Encoding::Hex.span(10, 40, 2, 5), (14, 20));
        assert_eq!(
            short_runs(b"x QUtJQVFZTFBNTjVISk5HWTRGN0E= y"),
            vec![(2, 30)]
        );
    }

    #[test]
    fn encoded_span_covers_whole_groups() {
        assert_eq!(encoded_span(100, 40, 0, 3), (100, 104));
        assert_eq!(encoded_span(100, 40, 4, 5), (104, 108));
        assert_eq!(encoded_span(100, 10, 6, 9), (108, 110));
    }
}
