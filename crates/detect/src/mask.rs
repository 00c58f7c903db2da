//! Masked previews: enough for a person to recognise which value was meant, never enough to
//! use it. A preview never shows more than a third of a value.

use crate::spec::PreviewStyle;

const ELLIPSIS: char = '…';

/// The masked preview of `value` in the given style.
pub fn preview(value: &[u8], style: PreviewStyle) -> String {
    let text = String::from_utf8_lossy(value);
    let chars: Vec<char> = text.chars().filter(|c| !c.is_control()).collect();
    let n = chars.len();
    let take = |range: std::ops::Range<usize>| chars[range].iter().collect::<String>();
    match style {
        PreviewStyle::None => ELLIPSIS.to_string(),
        PreviewStyle::Full => {
            if n <= 48 {
                take(0..n)
            } else {
                format!("{}{ELLIPSIS}", take(0..47))
            }
        }
        PreviewStyle::Middle => {
            // Each end shows a sixth at most (4 characters at most): a third in all.
            let keep = (n / 6).min(4);
            if keep == 0 {
                ELLIPSIS.to_string()
            } else {
                format!("{}{ELLIPSIS}{}", take(0..keep), take(n - keep..n))
            }
        }
        PreviewStyle::Last4 => {
            let digits: Vec<char> = chars
                .iter()
                .copied()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            let keep = if digits.len() >= 12 {
                4
            } else if digits.len() >= 6 {
                2
            } else {
                0
            };
            let tail: String = digits[digits.len() - keep..].iter().collect();
            format!("{ELLIPSIS}{tail}")
        }
        PreviewStyle::Email => match chars.iter().position(|&c| c == '@') {
            Some(at) if at > 0 => {
                let first = chars[0];
                format!("{first}{ELLIPSIS}@{}", take(at + 1..n))
            }
            _ => preview(value, PreviewStyle::Middle),
        },
    }
}

/// Shannon entropy of `value` in bits per byte.
pub fn shannon_entropy(value: &[u8]) -> f32 {
    if value.is_empty() {
        return 0.0;
    }
    // H = log2(n) - (1/n) * sum(c * log2(c)) over the byte counts c. The counts are read back
    // through the value itself (each distinct byte once, its count then cleared), so a short
    // value costs neither a walk over all 256 counts nor a logarithm per byte value.
    let mut counts = [0u32; 256];
    for &b in value {
        counts[usize::from(b)] += 1;
    }
    let mut sum = 0f64;
    for &b in value {
        let c = std::mem::take(&mut counts[usize::from(b)]);
        if c > 1 {
            let c = f64::from(c);
            sum += c * c.log2();
        }
    }
    let n = value.len() as f64;
    (n.log2() - sum / n) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_hide_most_of_the_value() {
        let cases: &[(&str, PreviewStyle, &str)] = &[
            ("AKIAIOSFODNN7EXAMPLE", PreviewStyle::Middle, "AKI…PLE"),
            ("hunter", PreviewStyle::Middle, "h…r"),
            ("hunte", PreviewStyle::Middle, "…"),
            ("s3cr3tP4ss", PreviewStyle::Middle, "s…s"),
            ("Tr0ub4dor&3xyzQ!", PreviewStyle::Middle, "Tr…Q!"),
            (
                "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
                PreviewStyle::Middle,
                "ghp_…wxyz",
            ),
            ("4111 1111 1111 1111", PreviewStyle::Last4, "…1111"),
            ("536-22-1234", PreviewStyle::Last4, "…34"),
            ("jane.doe@acme.com", PreviewStyle::Email, "j…@acme.com"),
            ("CONFIDENTIAL", PreviewStyle::Full, "CONFIDENTIAL"),
        ];
        for (value, style, want) in cases {
            let got = preview(value.as_bytes(), *style);
            assert_eq!(got, *want, "{value}");
            if *style == PreviewStyle::Middle {
                let shown = got.chars().filter(|&c| c != ELLIPSIS).count();
                assert!(shown * 3 <= value.chars().count(), "{value}: {got}");
            }
        }
    }

    #[test]
    fn entropy_orders_random_above_repetitive() {
        assert_eq!(shannon_entropy(b"aaaaaaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-6);
        assert!(shannon_entropy(b"q8Zr3Fw7Kp2Lx9Ms4Tn6") > 4.0);
        // Equal to the textbook sum of -p * log2(p), for short and long values.
        let mut next = crate::test_rng(0x0123_4567_89AB_CDEF);
        for len in [1usize, 2, 3, 7, 20, 64, 300, 70_000] {
            for spread in [2u64, 16, 64, 256] {
                let v: Vec<u8> = (0..len).map(|_| (next() % spread) as u8).collect();
                let mut counts = [0f64; 256];
                for &b in &v {
                    counts[usize::from(b)] += 1.0;
                }
                let want: f64 = counts
                    .iter()
                    .filter(|&&c| c > 0.0)
                    .map(|&c| -(c / len as f64) * (c / len as f64).log2())
                    .sum();
                let got = shannon_entropy(&v);
                assert!(
                    (f64::from(got) - want).abs() < 1e-4,
                    "{len} {spread}: {got} vs {want}"
                );
            }
        }
    }
}
