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
//! # The pair pass
//! On x86-64 (SSE2, every such CPU) texts of 33 bytes and more take a first test
//! with neither per-byte class lookups nor gathers, in the manner of Hyperscan's FDR: the
//! keywords are spread over eight buckets (by length, then by prefix), and each hashed,
//! case-folded byte pair of the text looks up one 32-bit word of a 16 KiB table whose byte
//! `3 - j` holds, for every bucket, whether no keyword of the bucket has that pair at offset
//! `j`. Shifting the words of consecutive positions into one accumulator (shift-or) tells, for
//! every position, which buckets still could start a keyword there, from five bytes of text.
//! The pairs are hashed sixteen at a time in SSE2 lanes. On prose about one position in 130
//! passes (mostly real prefixes: "confer" for "confidential", "linked" for "linkedin") and goes
//! on to the trigram tests and verification above. It replaced an AVX2 test that hashed four
//! bytes per position and looked them up with gathers: gathers are slow on the reference CPU
//! and that test let 3% of prose positions through. Measured alternating the two builds
//! (`profile_scan prose`, best and median of 10): 483 → 579 and 388 → 466 MB/s for the whole
//! engine. A plain loop doing one table lookup per byte runs at about 1.4 GB/s on that CPU,
//! which bounds any pass of this kind. Both passes are tested against brute force, with the
//! shipped keywords and with small sets.

use crate::features::{Features, BLOCK, F_HIGH};
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

/// The pair pass: bits of a hashed byte pair, offsets of a keyword tested (a keyword of `len`
/// bytes has `len - 1` pairs; the first four are tested) and buckets.
const PAIR_BITS: u32 = 12;
const PAIRS: usize = 1 << PAIR_BITS;
const REACH: usize = 4;
const PAIR_BUCKETS: usize = 8;
/// Keyword starts per chunk of the pair pass (a multiple of 16).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const PAIR_CHUNK: usize = 256;

/// Hash of two bytes, ASCII letters folded to lower case (`| 0x20` folds more than letters;
/// verification is exact). The SSE2 pass computes the same function in 16-bit lanes.
#[inline(always)]
fn pair_key(a: u8, b: u8) -> usize {
    let x = u16::from(a | 0x20) | (u16::from(b | 0x20) << 8);
    usize::from(x.wrapping_mul(0x9E37) >> (16 - PAIR_BITS))
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

/// A keyword's first eight bytes as a single comparison: eight bytes of text, with bit 5 set
/// where the keyword has a letter (folding `A`-`Z` onto `a`-`z` and nothing else onto a
/// letter) and masked to the keyword's length, equal `word` exactly when those bytes match
/// ignoring ASCII case.
#[derive(Debug, Clone, Copy)]
struct Prefix {
    word: u64,
    fold: u64,
    mask: u64,
}

impl Prefix {
    fn new(keyword: &[u8]) -> Prefix {
        let (mut word, mut fold, mut mask) = (0u64, 0u64, 0u64);
        for (i, &b) in keyword.iter().take(8).enumerate() {
            word |= u64::from(b) << (8 * i);
            mask |= 0xFF << (8 * i);
            if b.is_ascii_lowercase() {
                fold |= 0x20 << (8 * i);
            }
        }
        Prefix { word, fold, mask }
    }

    #[inline(always)]
    fn matches(&self, eight: [u8; 8]) -> bool {
        (u64::from_le_bytes(eight) | self.fold) & self.mask == self.word
    }
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
    /// Per keyword, its first eight bytes as one word test (see [`Prefix`]).
    prefixes: Vec<Prefix>,
    /// The pair pass's table: for each hashed pair, byte `3 - j` has bit `b` set when no
    /// keyword of bucket `b` has that pair at offset `j` (and bucket `b` has no keyword too
    /// short to have a pair there).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pairs: Box<[u32; PAIRS]>,
    /// Whether scans take the pair pass (tests turn it off to check the scalar pass).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pair_pass: bool,
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

/// The pair pass's table for the trigram-path keywords (first byte ASCII, three bytes or more).
/// Keywords are grouped by how many pairs are tested (two, three or four: a bucket mixing a
/// short keyword with long ones would pass anything after the short one's pairs), each group
/// gets buckets in proportion to its size (at least one), and within a group the sorted
/// keywords are cut into runs, so keywords sharing a prefix share a bucket.
fn pair_table(keywords: &[Vec<u8>]) -> Box<[u32; PAIRS]> {
    let mut groups: [Vec<&[u8]>; REACH - 1] = Default::default();
    for k in keywords {
        if k.len() >= 3 && k[0].is_ascii() {
            groups[(k.len() - 1).min(REACH) - 2].push(k);
        }
    }
    let mut share = [0usize; REACH - 1];
    for (g, ks) in groups.iter().enumerate() {
        share[g] = usize::from(!ks.is_empty());
    }
    for _ in share.iter().sum::<usize>()..PAIR_BUCKETS {
        let g = (0..groups.len())
            .filter(|&g| share[g] > 0)
            .max_by_key(|&g| groups[g].len() * 1000 / share[g]);
        if let Some(g) = g {
            share[g] += 1;
        }
    }
    let mut table = Box::new([u32::MAX; PAIRS]);
    let mut bucket = 0;
    for (g, ks) in groups.iter_mut().enumerate() {
        if ks.is_empty() {
            continue;
        }
        let reach = g + 2;
        ks.sort_unstable();
        for run in ks.chunks(ks.len().div_ceil(share[g])) {
            let bit = 1u32 << bucket;
            // Offsets past this group's pairs: anything passes.
            for j in reach..REACH {
                for e in table.iter_mut() {
                    *e &= !(bit << (8 * (REACH - 1 - j)));
                }
            }
            for k in run {
                for j in 0..reach {
                    table[pair_key(k[j], k[j + 1])] &= !(bit << (8 * (REACH - 1 - j)));
                }
            }
            bucket += 1;
        }
    }
    table
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
            pairs: pair_table(&lowered),
            prefixes: lowered.iter().map(|k| Prefix::new(k)).collect(),
            keywords: lowered,
            bitmap,
            second,
            short,
            buckets,
            pair_pass: true,
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
        let scalar_from = if self.pair_pass {
            // SAFETY: SSE2 is part of x86-64 itself: every CPU that runs this code has it.
            #[allow(unsafe_code)]
            unsafe {
                self.hits_pairs(hay, &mut out)
            }
        } else {
            0
        };
        #[cfg(not(target_arch = "x86_64"))]
        let scalar_from = 0;
        if scalar_from > 0 {
            // The pair pass covered keyword starts before `scalar_from`; the rest is short.
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

    /// The pair pass (module notes): for chunks of up to `PAIR_CHUNK` keyword starts, the
    /// hashed pairs are computed 16 at a time, then shifted together four positions at a time;
    /// a start any bucket passes goes through the trigram tests and verification. Returns the
    /// first start it did not cover (0 for texts under 33 bytes).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sse2")]
    #[allow(unsafe_code)]
    fn hits_pairs(&self, hay: &[u8], out: &mut Vec<Hit>) -> usize {
        use std::arch::x86_64::*;
        let n = hay.len();
        let table: &[u32; PAIRS] = &self.pairs;
        let mut keys = [0u16; PAIR_CHUNK + 16];
        let fold = _mm_set1_epi8(0x20);
        let mul = _mm_set1_epi16(0x9E37_u16 as i16);
        // The four words of starts `i..i + 4`, each shifted to its position (one accumulator).
        let word = |keys: &[u16; PAIR_CHUNK + 16], i: usize| -> u64 {
            let k = &keys[i..i + 4];
            u64::from(table[usize::from(k[0]) & (PAIRS - 1)])
                | u64::from(table[usize::from(k[1]) & (PAIRS - 1)]) << 8
                | u64::from(table[usize::from(k[2]) & (PAIRS - 1)]) << 16
                | u64::from(table[usize::from(k[3]) & (PAIRS - 1)]) << 24
        };
        let mut c = 0;
        loop {
            // Starts `c..c + ch` need the pairs at `c..c + ch + 4`; they are computed 16 at a
            // time for `c..c + ch + 16`, from the bytes up to `c + ch + 17`.
            let ch = PAIR_CHUNK.min(n.saturating_sub(c + 17) / 16 * 16);
            if ch == 0 {
                return c;
            }
            for g in (0..=ch).step_by(16) {
                let p = c + g;
                // SAFETY: `p + 17 <= c + ch + 17 <= n`: both 16-byte loads are inside `hay`.
                let (a, b) = unsafe {
                    (
                        _mm_loadu_si128(hay.as_ptr().add(p).cast::<__m128i>()),
                        _mm_loadu_si128(hay.as_ptr().add(p + 1).cast::<__m128i>()),
                    )
                };
                let (a, b) = (_mm_or_si128(a, fold), _mm_or_si128(b, fold));
                let shift = |x: __m128i| _mm_srli_epi16::<{ 16 - PAIR_BITS as i32 }>(x);
                let lo = shift(_mm_mullo_epi16(_mm_unpacklo_epi8(a, b), mul));
                let hi = shift(_mm_mullo_epi16(_mm_unpackhi_epi8(a, b), mul));
                let dst = &mut keys[g..g + 16];
                // SAFETY: `dst` holds 16 u16s: two 16-byte stores.
                unsafe {
                    _mm_storeu_si128(dst.as_mut_ptr().cast::<__m128i>(), lo);
                    _mm_storeu_si128(dst.as_mut_ptr().add(8).cast::<__m128i>(), hi);
                }
            }
            let mut prev = word(&keys, 0);
            let mut b = 0;
            while b < ch {
                let a1 = word(&keys, b + 4);
                let a2 = word(&keys, b + 8);
                // Byte `t` of `fail`: the buckets that cannot start a keyword at `c + b + t`.
                let fail = u64::from((prev >> 24) as u32 | (a1 << 8) as u32)
                    | u64::from((a1 >> 24) as u32 | (a2 << 8) as u32) << 32;
                let mut pass = !fail;
                while pass != 0 {
                    let t = pass.trailing_zeros() as usize / 8;
                    pass &= !(0xFF << (8 * t));
                    let s = c + b + t;
                    let tri = trigram(hay[s], hay[s + 1], hay[s + 2]);
                    if test(&self.bitmap, tri) {
                        self.candidate(hay, s, tri, out);
                    }
                }
                prev = a2;
                b += 8;
            }
            c += ch;
        }
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
        // Eight bytes of text at once where the text has them: most candidates fail there.
        let eight = hay[start..].first_chunk::<8>().copied();
        for &id in ids {
            let k = &self.keywords[id as usize];
            let end = start + k.len();
            if end > hay.len() {
                continue;
            }
            let found = match eight {
                Some(e) => {
                    self.prefixes[id as usize].matches(e)
                        && (k.len() <= 8 || hay[start + 8..end].eq_ignore_ascii_case(&k[8..]))
                }
                None => hay[start..end].eq_ignore_ascii_case(k),
            };
            if found {
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

    /// The eight-byte prefix test agrees with `eq_ignore_ascii_case` for every byte value
    /// against letters, digits and symbols, at every keyword length up to eight.
    #[test]
    fn prefix_test_equals_case_insensitive_compare() {
        let keyword = b"aZ_9-q\xc3x";
        let lowered = keyword.to_ascii_lowercase();
        let mut checked = 0;
        for len in 1..=8 {
            let k = &lowered[..len];
            let p = Prefix::new(k);
            for pos in 0..len {
                for v in 0..=255u8 {
                    let mut text = *b"AZ_9-Q\xc3X";
                    text[pos] = v;
                    let want = text[..len].eq_ignore_ascii_case(k);
                    assert_eq!(p.matches(text), want, "len {len} pos {pos} byte {v}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 36 * 256);
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

    /// The pair pass (on x86-64) and the scalar pass both report exactly `want`.
    fn both_passes_find(idx: &mut KeywordIndex, hay: &[u8], want: &[(u32, usize, usize)]) {
        for pair_pass in [true, false] {
            idx.pair_pass = pair_pass;
            assert_eq!(
                sorted(idx.hits(hay, &Features::scan(hay))),
                want,
                "pair pass {pair_pass}"
            );
        }
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
        both_passes_find(&mut idx, &hay, &want);
    }

    #[test]
    fn every_offset_and_length_around_the_vector_blocks() {
        // Keywords of 3, 4 and more bytes placed at every offset of texts whose lengths cross
        // the pair pass's 33-byte minimum, its 16-position key steps and its 8-position
        // shift steps, in mixed case.
        let kws: Vec<String> = ["aws", "ghp_", "password", "-----begin"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut idx = KeywordIndex::new(&kws).unwrap();
        for len in [
            32usize, 33, 34, 48, 49, 50, 60, 63, 64, 65, 79, 80, 81, 100, 129,
        ] {
            for (k, word) in ["AwS", "GHP_", "PassWord", "-----BEGIN"].iter().enumerate() {
                for at in 0..=len - word.len() {
                    let mut hay = vec![b'.'; len];
                    hay[at..at + word.len()].copy_from_slice(word.as_bytes());
                    for pair_pass in [true, false] {
                        idx.pair_pass = pair_pass;
                        let got = sorted(idx.hits(&hay, &Features::scan(&hay)));
                        assert_eq!(
                            got,
                            vec![(k as u32, at, at + word.len())],
                            "len {len} at {at} pair pass {pair_pass}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_shipped_keywords_equal_brute_force() {
        // All of the default engine's keywords at once (eight buckets of dozens of keywords),
        // in a text of prose, whole keywords in random case, keyword prefixes one byte short
        // (which pass the pair test and must fail verification) and random bytes.
        let engine = crate::Engine::new().unwrap();
        let kws: Vec<String> = engine
            .keywords
            .keywords
            .iter()
            .map(|k| String::from_utf8(k.clone()).unwrap())
            .collect();
        let mut idx = KeywordIndex::new(&kws).unwrap();
        let mut rng = crate::test_rng(11);
        let mut hay = Vec::new();
        while hay.len() < 30_000 {
            let x = rng();
            let k = kws[(x as usize >> 8) % kws.len()].as_bytes();
            match x % 6 {
                0 => hay.extend(k.iter().map(|&b| {
                    if rng() & 1 == 0 {
                        b.to_ascii_uppercase()
                    } else {
                        b
                    }
                })),
                1 => hay.extend_from_slice(&k[..k.len() - 1]),
                2 => hay.push((x >> 16) as u8),
                _ => hay.extend_from_slice(b"The review of the roadmap is on Tuesday. "),
            }
        }
        let want = naive(&kws, &hay);
        assert!(want.len() > 800, "{}", want.len());
        both_passes_find(&mut idx, &hay, &want);
    }
}
