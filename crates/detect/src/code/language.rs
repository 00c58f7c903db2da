//! Which language a code region is in: keyword and marker votes over a bounded sample
//! (signatures in `policies/rules/languages.toml`).

use super::*;

pub(super) const LANGUAGES: &str = include_str!("../../../../policies/rules/languages.toml");
pub(super) const SAMPLE: usize = 1024;
/// Bytes voted on between checks whether the language is settled.
pub(super) const STEP: usize = 256;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LanguageFile {
    pub(super) language: Vec<LanguageSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LanguageSpec {
    pub(super) id: String,
    pub(super) fences: Vec<String>,
    #[serde(default)]
    pub(super) case_insensitive: bool,
    pub(super) keywords: Vec<String>,
    pub(super) markers: Vec<String>,
}

impl CodeDetector {
    /// The most likely language of a code sample, by keyword and marker votes.
    ///
    /// Comment lines are left out (their words are prose, and prose words such as `from`,
    /// `in` or `is` are keywords of some language). The sample (at most [`SAMPLE`] bytes of
    /// the remaining lines) is read in steps of [`STEP`] bytes; voting stops
    /// early once one language leads clearly ([`settled`]), which on a typical block happens
    /// after the first step.
    pub fn language(&self, code: &[u8]) -> Option<String> {
        let kept = without_comments(code);
        let sample = &kept[..];
        let mut votes = vec![0u32; self.ids.len()];
        let mut i = 0;
        let mut step_end = 0;
        while step_end < sample.len() {
            let step_start = step_end;
            step_end = (step_start + STEP).min(sample.len());
            // Identifiers that start in this step (the last may run into the next).
            while i < step_end {
                if !IDENT_START[usize::from(sample[i])] {
                    i += 1;
                    continue;
                }
                let s = i;
                i += 1;
                while i < sample.len() && IDENT[usize::from(sample[i])] {
                    i += 1;
                }
                if i - s <= self.longest_keyword {
                    if let Some(&langs) = self.keywords.get(&ident_key(sample, s, i)) {
                        let mut m = langs;
                        while m != 0 {
                            votes[m.trailing_zeros() as usize] += 1;
                            m &= m - 1;
                        }
                    }
                }
            }
            // Markers that start in this step.
            let reach = (step_end + self.longest_marker).min(sample.len());
            for m in self.markers.find_iter(&sample[step_start..reach]) {
                if step_start + m.start() >= step_end {
                    break;
                }
                votes[self.marker_lang[m.pattern().as_usize()] as usize] += 3;
            }
            if settled(&votes) {
                break;
            }
        }
        let (best, &score) = votes
            .iter()
            .enumerate()
            .max_by_key(|(i, v)| (**v, std::cmp::Reverse(*i)))?;
        (score >= 3).then(|| self.ids[best].clone())
    }
}

/// The first [`SAMPLE`] bytes of `code` without its comment lines (`//`, `/*`, `*`, `# `,
/// `-- `), looking at no more than four times that much.
pub(super) fn without_comments(code: &[u8]) -> Vec<u8> {
    let mut kept = Vec::with_capacity(SAMPLE);
    let horizon = &code[..code.len().min(4 * SAMPLE)];
    let mut start = 0;
    while start < horizon.len() {
        let end = memchr::memchr(b'\n', &horizon[start..]).map_or(horizon.len(), |p| start + p + 1);
        let line = &horizon[start..end];
        start = end;
        let t = line.trim_ascii_start();
        let comment = t.starts_with(b"//")
            || t.starts_with(b"/*")
            || t.starts_with(b"*")
            || t.starts_with(b"# ")
            || t == b"#\n"
            || t.starts_with(b"-- ");
        if !comment {
            kept.extend_from_slice(line);
            if kept.len() >= SAMPLE {
                kept.truncate(SAMPLE);
                break;
            }
        }
    }
    kept
}

/// Whether the vote is decided: the leader has at least 15 votes and twice the runner-up's.
pub(super) fn settled(votes: &[u32]) -> bool {
    let (mut first, mut second) = (0u32, 0u32);
    for &v in votes {
        if v > first {
            second = first;
            first = v;
        } else if v > second {
            second = v;
        }
    }
    first >= 15 && first >= 2 * second
}

/// An identifier of 1 to 16 ASCII bytes as one number (bytes little-endian, zero-padded):
/// identifier bytes are never zero, so distinct identifiers get distinct keys.
pub(super) fn word_key(word: &[u8]) -> Option<u128> {
    let ok = (1..=16).contains(&word.len())
        && word.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then(|| {
        word.iter()
            .enumerate()
            .fold(0u128, |k, (i, &b)| k | u128::from(b) << (8 * i))
    })
}

/// Bytes that start an identifier (ASCII letters, `_`) and that continue one (also digits).
pub(super) const IDENT_START: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_alphabetic() || b == b'_' as usize;
        b += 1;
    }
    t
};
pub(super) const IDENT: [bool; 256] = {
    let mut t = IDENT_START;
    let mut b = b'0' as usize;
    while b <= b'9' as usize {
        t[b] = true;
        b += 1;
    }
    t
};

/// [`word_key`] of the identifier `text[s..e]` (1 to 16 bytes, all [`IDENT`]): one unaligned
/// 16-byte load and a mask where the text allows, the byte loop at its end.
pub(super) fn ident_key(text: &[u8], s: usize, e: usize) -> u128 {
    debug_assert!(e > s && e - s <= 16);
    match text.get(s..s + 16) {
        Some(window) => {
            let mut w = [0u8; 16];
            w.copy_from_slice(window);
            let len = e - s;
            let mask = if len == 16 {
                u128::MAX
            } else {
                (1u128 << (8 * len)) - 1
            };
            u128::from_le_bytes(w) & mask
        }
        None => text[s..e]
            .iter()
            .enumerate()
            .fold(0u128, |k, (i, &b)| k | u128::from(b) << (8 * i)),
    }
}

/// Hashes a [`word_key`]: fold the halves and multiply (the table uses the high bits).
#[derive(Default, Clone, Copy)]
pub(super) struct WordHasher(u64);
impl std::hash::Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u128(&mut self, x: u128) {
        let folded = (x as u64) ^ ((x >> 64) as u64).rotate_left(29);
        self.0 = folded.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
pub(super) type BuildWordHasher = std::hash::BuildHasherDefault<WordHasher>;
