//! Base64-encoded text inside a prompt (a pasted config blob, a data URL, a Kubernetes secret)
//! is decoded and scanned again, within bounds on depth and total size set by the engine.

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
    fn encoded_span_covers_whole_groups() {
        assert_eq!(encoded_span(100, 40, 0, 3), (100, 104));
        assert_eq!(encoded_span(100, 40, 4, 5), (104, 108));
        assert_eq!(encoded_span(100, 10, 6, 9), (108, 110));
    }
}
