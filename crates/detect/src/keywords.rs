//! The keyword prefilter: finds every occurrence of every rule keyword (ASCII
//! case-insensitive, overlapping) in one pass.
//!
//! # The prefilter contract
//! The prefilter may never drop a true match. A rule with keywords only runs inside windows
//! around its keyword hits, so every text the rule's regex can match must contain one of its
//! keywords within the rule's window. The shipped rules are checked against this contract on
//! all their examples (`tests/rule_examples.rs` runs each example with the prefilter on and off
//! and requires the same findings). This module itself reports *all* overlapping hits: every
//! keyword occurrence sets its trigram's bit, so no occurrence is skipped.
//!
//! # How, and why not a DFA
//! An Aho-Corasick DFA walk is a chain of dependent loads; with ~450 case-insensitive keywords
//! its table is over 1 MB and the walk runs at about 0.5-1 GB/s here. Instead each byte maps to
//! a 6-bit class (letters case-folded), a rolling 18-bit trigram of classes indexes a 32 KB
//! bitmap of keyword beginnings, and only positions whose trigram is set are verified against
//! the keywords starting with that trigram. There is no load-to-load dependency chain, and on
//! prose only a few percent of positions are verified. Keywords whose first three bytes are
//! not all ASCII (Korean, Japanese markings) go to a small Aho-Corasick automaton that runs
//! only when the text has non-ASCII bytes.
//!
//! # The AVX2 pass
//! Where the CPU has AVX2 (checked once; `LEAKGUARD_NO_AVX2` turns it off), texts of 64 bytes
//! and more take a first test that needs no per-byte class lookups: the case-folded four
//! bytes at each of 16 positions are hashed in vector lanes and looked up in a 32 KiB bitmap
//! of keyword prefixes with two gathers (a three-byte keyword sets the bits of every fourth
//! byte). About 3% of prose positions pass and go on to the trigram tests and verification
//! above. Measured on prose: 23% more throughput for the whole engine than the striped
//! scalar pass (the gathers are now most of the pass's time). Both passes are tested
//! against brute force.

use crate::features::{avx2_available, Features, BLOCK, F_HIGH};
use aho_corasick::{AhoCorasick, MatchKind};
use std::collections::HashMap;

/// One keyword occurrence: keyword index and its byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub keyword: u32,
    pub start: usize,
    pub end: usize,
}

const BITS: u32 = 18;
const MASK: u32 = (1 << BITS) - 1;
/// Words of a bitmap over all trigrams. With fixed-size arrays, `x >> 6` of a masked trigram
/// is provably in bounds and the hot loop carries no bounds checks.
const WORDS: usize = (1 << BITS) / 64;

/// The four-byte-prefix bitmap of the AVX2 pass: 2^18 bits in 32-bit words (32 KiB, the L1
/// data cache of the reference machine).
const QUAD_BITS: u32 = 18;
const QUAD_WORDS: usize = (1 << QUAD_BITS) / 32;

/// Hash of four bytes read little-endian, ASCII letters folded to lower case (`| 0x20` folds
/// more than letters; verification is exact).
#[inline(always)]
fn quad_hash(x: u32) -> u32 {
    (x | 0x2020_2020).wrapping_mul(0x9E37_79B1) >> (32 - QUAD_BITS)
}

#[inline(always)]
fn test(map: &[u64; WORDS], x: u32) -> bool {
    map[(x >> 6) as usize & (WORDS - 1)] & (1u64 << (x & 63)) != 0
}

/// Byte -> 6-bit class: 1-26 letters (either case), 27-36 digits, 37-62 other ASCII (folded),
/// 63 non-ASCII, 0 never used. Distinct bytes may share a class; verification is exact.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_lowercase() {
            b - b'a' + 1
        } else if b.is_ascii_uppercase() {
            b - b'A' + 1
        } else if b.is_ascii_digit() {
            b - b'0' + 27
        } else if b < 0x80 {
            37 + b % 26
        } else {
            63
        };
        i += 1;
    }
    t
};

#[inline(always)]
fn trigram(a: u8, b: u8, c: u8) -> u32 {
    (u32::from(CLASS[a as usize]) << 12)
        | (u32::from(CLASS[b as usize]) << 6)
        | u32::from(CLASS[c as usize])
}

/// Identity hashing for the trigram buckets (keys are already well spread 18-bit numbers).
#[derive(Default, Clone, Copy)]
struct TrigramHasher(u64);
impl std::hash::Hasher for TrigramHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
type BuildTrigramHasher = std::hash::BuildHasherDefault<TrigramHasher>;

pub(crate) struct KeywordIndex {
    /// Lowercased keyword bytes.
    keywords: Vec<Vec<u8>>,
    bitmap: Box<[u64; WORDS]>,
    /// Second trigram (bytes 1..4) of keywords of four bytes or more: a cheap second test
    /// before the bucket lookup.
    second: Box<[u64; WORDS]>,
    /// First trigrams of three-byte keywords, which have no second trigram.
    short: Box<[u64; WORDS]>,
    buckets: HashMap<u32, Vec<u32>, BuildTrigramHasher>,
    /// Hashed, case-folded first four bytes of the trigram-path keywords (three-byte keywords
    /// under every fourth byte): the first test of the AVX2 pass.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    quads: Box<[u32; QUAD_WORDS]>,
    /// Whether this CPU runs the AVX2 pass (checked once, at build).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    avx2: bool,
    /// Keywords that do not start with three ASCII bytes, and their ids.
    other: Option<AhoCorasick>,
    other_ids: Vec<u32>,
    other_max: usize,
}

impl std::fmt::Debug for KeywordIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeywordIndex")
            .field("keywords", &self.keywords.len())
            .finish_non_exhaustive()
    }
}

impl KeywordIndex {
    /// Builds the index. Every keyword must be at least three bytes long (the rule compiler
    /// enforces it).
    pub(crate) fn new(keywords: &[String]) -> Result<KeywordIndex, aho_corasick::BuildError> {
        let lowered: Vec<Vec<u8>> = keywords
            .iter()
            .map(|k| k.as_bytes().to_ascii_lowercase())
            .collect();
        let mut bitmap = Box::new([0u64; WORDS]);
        let mut second = Box::new([0u64; WORDS]);
        let mut short = Box::new([0u64; WORDS]);
        let mut buckets: HashMap<u32, Vec<u32>, BuildTrigramHasher> = HashMap::default();
        let mut quads = Box::new([0u32; QUAD_WORDS]);
        let mut other_words = Vec::new();
        let mut other_ids = Vec::new();
        for (id, k) in lowered.iter().enumerate() {
            // ASCII first byte: the trigram path (a non-ASCII byte among the next two is class
            // 63 and still exact). Non-ASCII first byte: the block-restricted automaton.
            if k.len() >= 3 && k[0].is_ascii() {
                let t = trigram(k[0], k[1], k[2]);
                bitmap[(t >> 6) as usize] |= 1 << (t & 63);
                if k.len() == 3 {
                    short[(t >> 6) as usize] |= 1 << (t & 63);
                } else {
                    let t2 = trigram(k[1], k[2], k[3]);
                    second[(t2 >> 6) as usize] |= 1 << (t2 & 63);
                }
                buckets.entry(t).or_default().push(id as u32);
                // A three-byte keyword is followed by anything: set the bit of every fourth
                // byte (after folding only values with bit 5 set occur).
                let fourth: Vec<u8> = if k.len() >= 4 {
                    vec![k[3]]
                } else {
                    (0..=255u8).filter(|b| b & 0x20 != 0).collect()
                };
                for b in fourth {
                    let h = quad_hash(u32::from_le_bytes([k[0], k[1], k[2], b]));
                    quads[(h >> 5) as usize] |= 1 << (h & 31);
                }
            } else {
                other_words.push(k.clone());
                other_ids.push(id as u32);
            }
        }
        let other = if other_words.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(&other_words)?,
            )
        };
        let other_max = lowered
            .iter()
            .filter(|k| !k[0].is_ascii())
            .map(Vec::len)
            .max()
            .unwrap_or(0);
        Ok(KeywordIndex {
            keywords: lowered,
            bitmap,
            second,
            short,
            buckets,
            quads,
            avx2: avx2_available(),
            other,
            other_ids,
            other_max,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.keywords.len()
    }

    /// Every occurrence of every keyword, in no particular order.
    pub(crate) fn hits(&self, hay: &[u8], features: &Features) -> Vec<Hit> {
        let mut out = Vec::new();
        #[cfg(target_arch = "x86_64")]
        let scalar_from = if self.avx2 && hay.len() >= 64 {
            // SAFETY: `avx2` is true only when the CPU reported AVX2 (`avx2_available`).
            #[allow(unsafe_code)]
            unsafe {
                self.hits_avx2(hay, &mut out)
            }
        } else {
            0
        };
        #[cfg(not(target_arch = "x86_64"))]
        let scalar_from = 0;
        if scalar_from > 0 {
            // The AVX2 pass covered keyword starts before `scalar_from`; the rest is short.
            self.hits_scalar_from(hay, scalar_from, &mut out);
        } else if hay.len() >= 3 {
            // Four stripes, each with its own rolling trigram: four independent dependency
            // chains (one chain is a 3-cycle shift-or-and per byte). A stripe starts two bytes
            // before its own range so that a trigram straddling a cut is formed whole.
            let n = hay.len();
            let q = n / 4;
            let starts = [0, q, 2 * q, 3 * q];
            let mut t = [0u32; 4];
            for (k, st) in t.iter_mut().enumerate() {
                let s = starts[k];
                if s >= 2 {
                    *st = trigram(0, hay[s - 2], hay[s - 1]);
                }
            }
            let map: &[u64; WORDS] = &self.bitmap;
            let (s0, s1, s2, s3) = (
                &hay[starts[0]..starts[0] + q],
                &hay[starts[1]..starts[1] + q],
                &hay[starts[2]..starts[2] + q],
                &hay[starts[3]..starts[3] + q],
            );
            for (i, (((&b0, &b1), &b2), &b3)) in s0.iter().zip(s1).zip(s2).zip(s3).enumerate() {
                t[0] = ((t[0] << 6) | u32::from(CLASS[b0 as usize])) & MASK;
                t[1] = ((t[1] << 6) | u32::from(CLASS[b1 as usize])) & MASK;
                t[2] = ((t[2] << 6) | u32::from(CLASS[b2 as usize])) & MASK;
                t[3] = ((t[3] << 6) | u32::from(CLASS[b3 as usize])) & MASK;
                if test(map, t[0]) | test(map, t[1]) | test(map, t[2]) | test(map, t[3]) {
                    for k in 0..4 {
                        let pos = starts[k] + i;
                        if pos >= 2 && test(map, t[k]) {
                            self.candidate(hay, pos - 2, t[k], &mut out);
                        }
                    }
                }
            }
            // The last stripe's remainder: the stripes reported starts up to
            // `starts[3] + q - 3`.
            self.hits_scalar_from(hay, (starts[3] + q).saturating_sub(2), &mut out);
        }
        if let Some(ac) = &self.other {
            // These keywords begin with a non-ASCII byte: only blocks the feature pass flagged
            // as holding one can start them. Consecutive flagged blocks are searched as one
            // span (extended by the longest keyword), so a hit is never cut or doubled.
            let mut spans: Vec<(usize, usize)> = Vec::new();
            for b in features.blocks(F_HIGH) {
                let (s, e) = (b * BLOCK, ((b + 1) * BLOCK + self.other_max).min(hay.len()));
                match spans.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => spans.push((s, e)),
                }
            }
            for (s, e) in spans {
                for m in ac.find_overlapping_iter(&hay[s..e]) {
                    let hit = Hit {
                        keyword: self.other_ids[m.pattern().as_usize()],
                        start: s + m.start(),
                        end: s + m.end(),
                    };
                    if out.last() != Some(&hit) {
                        out.push(hit);
                    }
                }
            }
        }
        out
    }

    /// Keyword starts at `from..` by the rolling trigram, one position at a time.
    fn hits_scalar_from(&self, hay: &[u8], from: usize, out: &mut Vec<Hit>) {
        let map: &[u64; WORDS] = &self.bitmap;
        let mut t = 0u32;
        for pos in from..hay.len() {
            t = ((t << 6) | u32::from(CLASS[hay[pos] as usize])) & MASK;
            // From the third byte on, `t` is the trigram starting at `pos - 2`.
            if pos >= from + 2 && test(map, t) {
                self.candidate(hay, pos - 2, t, out);
            }
        }
    }

    /// The AVX2 pass: for 16 positions at a time, the hashed, folded four bytes starting
    /// there are looked up in `quads` with two 8-lane gathers; the few positions whose bit is
    /// set go through the same second test and verification as the scalar pass. Returns the
    /// first position it did not cover.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    unsafe fn hits_avx2(&self, hay: &[u8], out: &mut Vec<Hit>) -> usize {
        use std::arch::x86_64::*;
        // Lane j of each 128-bit half holds bytes j..j+4 of the loaded 16 (low half: positions
        // 0-3, high half: positions 4-7, from the same 16 bytes broadcast to both halves).
        let spread = _mm256_setr_epi8(
            0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6, 4, 5, 6, 7, 5, 6, 7, 8, 6, 7, 8, 9, 7,
            8, 9, 10,
        );
        let fold = _mm256_set1_epi32(0x2020_2020);
        let mul = _mm256_set1_epi32(0x9E37_79B1_u32 as i32);
        let low5 = _mm256_set1_epi32(31);
        let words = self.quads.as_ptr().cast::<i32>();
        let quad = |at: usize| -> __m256i {
            // SAFETY: the caller keeps `at + 16 <= hay.len()`.
            let v = unsafe { _mm_loadu_si128(hay.as_ptr().add(at).cast::<__m128i>()) };
            let x = _mm256_or_si256(
                _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(v), spread),
                fold,
            );
            let h = _mm256_srli_epi32::<{ 32 - QUAD_BITS as i32 }>(_mm256_mullo_epi32(x, mul));
            // SAFETY: `h >> 5` < QUAD_WORDS, so every gathered word is inside `quads`.
            let w = unsafe { _mm256_i32gather_epi32::<4>(words, _mm256_srli_epi32::<5>(h)) };
            let bit = _mm256_srlv_epi32(w, _mm256_and_si256(h, low5));
            _mm256_slli_epi32::<31>(bit)
        };
        let n = hay.len();
        let mut i = 0;
        while i + 24 <= n {
            let a = quad(i);
            let b = quad(i + 8);
            let any = _mm256_or_si256(a, b);
            if _mm256_testz_si256(any, any) == 0 {
                let mut m = (_mm256_movemask_ps(_mm256_castsi256_ps(a)) as u32 & 0xff)
                    | ((_mm256_movemask_ps(_mm256_castsi256_ps(b)) as u32 & 0xff) << 8);
                while m != 0 {
                    let pos = i + m.trailing_zeros() as usize;
                    m &= m - 1;
                    let t = trigram(hay[pos], hay[pos + 1], hay[pos + 2]);
                    if test(&self.bitmap, t) {
                        self.candidate(hay, pos, t, out);
                    }
                }
            }
            i += 16;
        }
        i
    }

    /// A position whose first trigram is set: test the second trigram, then verify.
    #[inline(always)]
    fn candidate(&self, hay: &[u8], start: usize, t: u32, out: &mut Vec<Hit>) {
        let next = hay.get(start + 3).copied().unwrap_or(0);
        let t2 = ((t << 6) | u32::from(CLASS[next as usize])) & MASK;
        if test(&self.second, t2) || test(&self.short, t) {
            self.verify(hay, start, t, out);
        }
    }

    #[cold]
    #[inline(never)]
    fn verify(&self, hay: &[u8], start: usize, t: u32, out: &mut Vec<Hit>) {
        let Some(ids) = self.buckets.get(&t) else {
            return;
        };
        for &id in ids {
            let k = &self.keywords[id as usize];
            let end = start + k.len();
            if end <= hay.len() && hay[start..end].eq_ignore_ascii_case(k) {
                out.push(Hit {
                    keyword: id,
                    start,
                    end,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<Hit>) -> Vec<(u32, usize, usize)> {
        v.sort_by_key(|h| (h.start, h.keyword));
        v.into_iter().map(|h| (h.keyword, h.start, h.end)).collect()
    }

    /// Every occurrence, by brute force.
    fn naive(kws: &[String], hay: &[u8]) -> Vec<(u32, usize, usize)> {
        let mut out = Vec::new();
        for start in 0..hay.len() {
            for (id, k) in kws.iter().enumerate() {
                let end = start + k.len();
                if end <= hay.len() && hay[start..end].eq_ignore_ascii_case(k.as_bytes()) {
                    out.push((id as u32, start, end));
                }
            }
        }
        out.sort_by_key(|&(k, s, _)| (s, k));
        out
    }

    #[test]
    fn finds_overlapping_case_insensitive_hits() {
        let kws: Vec<String> = vec![
            "akia".into(),
            "secret".into(),
            "client_secret".into(),
            "대외비".into(),
        ];
        let idx = KeywordIndex::new(&kws).unwrap();
        let hay = "CLIENT_SECRET=x AKIA 대외비".as_bytes();
        assert_eq!(
            sorted(idx.hits(hay, &Features::scan(hay))),
            vec![(2, 0, 13), (1, 7, 13), (0, 16, 20), (3, 21, 30)]
        );
        assert_eq!(
            sorted(idx.hits(b"akia", &Features::scan(b"akia"))),
            vec![(0, 0, 4)]
        );
    }

    #[test]
    fn equals_brute_force_on_mixed_text() {
        let kws: Vec<String> = [
            "ghp_",
            "password",
            "xoxb-",
            "sk-ant-",
            "begin",
            "pass",
            "-----begin",
            "aaa",
            "대외비",
            "st.",
            "©1",
            "nur für",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut idx = KeywordIndex::new(&kws).unwrap();
        let mut hay = Vec::new();
        let mut x: u32 = 7;
        while hay.len() < 20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            match x % 9 {
                0 => hay.extend_from_slice(kws[(x as usize / 9) % kws.len()].as_bytes()),
                1 => hay.extend_from_slice(b"PassWord "),
                2 => hay.extend_from_slice("한국어 ".as_bytes()),
                3 => hay.push(b'A'),
                _ => hay.push(b"lorem ipsum dolor sit amet."[(x as usize / 9) % 27]),
            }
        }
        let want = naive(&kws, &hay);
        assert!(want.len() > 1_000);
        // Both passes: AVX2 (where the CPU has it) and scalar.
        for avx2 in [avx2_available(), false] {
            idx.avx2 = avx2;
            assert_eq!(
                sorted(idx.hits(&hay, &Features::scan(&hay))),
                want,
                "avx2 {avx2}"
            );
        }
    }

    #[test]
    fn every_offset_and_length_around_the_vector_blocks() {
        // Keywords of 3, 4 and more bytes placed at every offset of texts whose lengths cross
        // the AVX2 pass's 64-byte minimum and its 16-position steps, in mixed case.
        let kws: Vec<String> = ["aws", "ghp_", "password", "-----begin"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut idx = KeywordIndex::new(&kws).unwrap();
        for len in [60usize, 63, 64, 65, 79, 80, 81, 100, 129] {
            for (k, word) in ["AwS", "GHP_", "PassWord", "-----BEGIN"].iter().enumerate() {
                for at in 0..=len - word.len() {
                    let mut hay = vec![b'.'; len];
                    hay[at..at + word.len()].copy_from_slice(word.as_bytes());
                    for avx2 in [avx2_available(), false] {
                        idx.avx2 = avx2;
                        let got = sorted(idx.hits(&hay, &Features::scan(&hay)));
                        assert_eq!(
                            got,
                            vec![(k as u32, at, at + word.len())],
                            "len {len} at {at} avx2 {avx2}"
                        );
                    }
                }
            }
        }
    }
}
