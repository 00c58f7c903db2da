//! Source-code detection: which regions of a text are code, how many lines, which language.
//!
//! Whether a line is code is decided from its shape (how it ends, operators, calls,
//! indentation, statement keywords) with a small penalty for sentence-like lines; regions are
//! runs of code lines allowing blank lines and single prose lines between. Markdown fences are
//! regions by declaration. The language is chosen afterwards from keyword and marker counts
//! over a bounded sample of the region (signatures in `policies/rules/languages.toml`).
//!
//! Cost: one pass over the bytes of each line (no allocation per line) plus a lookup per
//! identifier in the first KiB of each reported region (less once one language clearly leads).

use crate::features::{Features, BLOCK, F_CODE};
use crate::Error;
use aho_corasick::{AhoCorasick, MatchKind};
use leakguard_types::{Category, Finding, FindingDetail, Severity};
use serde::Deserialize;
use std::collections::HashMap;

const LANGUAGES: &str = include_str!("../../../policies/rules/languages.toml");
const SAMPLE: usize = 1024;
/// Bytes voted on between checks whether the language is settled.
const STEP: usize = 256;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageFile {
    language: Vec<LanguageSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageSpec {
    id: String,
    fences: Vec<String>,
    #[serde(default)]
    case_insensitive: bool,
    keywords: Vec<String>,
    markers: Vec<String>,
}

/// A code region found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRegion {
    pub start: usize,
    pub end: usize,
    pub lines: u32,
    pub code_lines: u32,
    pub language: Option<String>,
}

#[derive(Debug)]
pub(crate) struct CodeDetector {
    ids: Vec<String>,
    /// Keywords packed into a `u128` (see [`word_key`]) -> the languages they vote for, one
    /// bit per language.
    keywords: HashMap<u128, u64, BuildWordHasher>,
    markers: AhoCorasick,
    marker_lang: Vec<u16>,
    /// Longest keyword and marker, in bytes: identifiers longer than any keyword are not
    /// looked up, and a step's marker search reaches this far into the next step.
    longest_keyword: usize,
    longest_marker: usize,
    fences: HashMap<String, u16>,
    min_lines: u32,
}

/// Words that start a statement in common languages; one at the start of a line is evidence.
fn starts_statement(word: &[u8]) -> bool {
    matches!(
        word,
        b"if"
            | b"for"
            | b"while"
            | b"return"
            | b"def"
            | b"fn"
            | b"func"
            | b"function"
            | b"class"
            | b"import"
            | b"from"
            | b"let"
            | b"const"
            | b"var"
            | b"val"
            | b"public"
            | b"private"
            | b"protected"
            | b"static"
            | b"int"
            | b"void"
            | b"char"
            | b"package"
            | b"module"
            | b"echo"
            | b"export"
            | b"use"
            | b"struct"
            | b"impl"
            | b"pub"
            | b"elif"
            | b"else"
            | b"try"
            | b"except"
            | b"catch"
            | b"switch"
            | b"case"
            | b"assign"
            | b"always"
            | b"wire"
            | b"reg"
            | b"input"
            | b"output"
            | b"entity"
            | b"architecture"
            | b"signal"
            | b"begin"
            | b"end"
            | b"end;"
            | b"namespace"
            | b"using"
            | b"template"
            | b"typedef"
            | b"guard"
            | b"local"
            | b"fi"
            | b"done"
            | b"do"
            | b"then"
            | b"async"
            | b"await"
            | b"throw"
            | b"new"
            | b"delete"
            | b"defer"
            | b"go"
            | b"type"
            | b"interface"
            | b"enum"
            | b"with"
            | b"raise"
            | b"yield"
            | b"print"
            | b"puts"
            | b"require"
            | b"include"
            | b"foreach"
            | b"unless"
            | b"until"
            | b"SELECT"
            | b"INSERT"
            | b"UPDATE"
            | b"DELETE"
            | b"CREATE"
    )
}

/// Upper-case SQL clause words: at the start of a line they mark a SQL statement's lines,
/// which often carry no punctuation at all (`FROM wafers w`).
fn is_sql_clause(word: &[u8]) -> bool {
    matches!(
        word,
        b"SELECT"
            | b"FROM"
            | b"WHERE"
            | b"JOIN"
            | b"LEFT"
            | b"RIGHT"
            | b"INNER"
            | b"OUTER"
            | b"FULL"
            | b"GROUP"
            | b"ORDER"
            | b"HAVING"
            | b"VALUES"
            | b"SET"
            | b"UNION"
            | b"LIMIT"
            | b"INSERT"
            | b"UPDATE"
            | b"DELETE"
            | b"CREATE"
            | b"ALTER"
            | b"DROP"
            | b"AND"
            | b"OR"
            | b"ON"
            | b"WITH"
            | b"CASE"
            | b"WHEN"
            | b"ELSE"
            | b"END"
            | b"RETURNING"
            | b"OFFSET"
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    Blank,
    Code,
    /// Some evidence (`package main`, a decorator, a comment): part of a region it borders,
    /// never the start of one.
    Weak,
    Other,
}

impl CodeDetector {
    pub(crate) fn new(min_lines: u32) -> Result<CodeDetector, Error> {
        let file: LanguageFile = toml::from_str(LANGUAGES).map_err(|e| Error::Pack {
            pack: "languages".into(),
            message: e.to_string(),
        })?;
        if file.language.len() > 64 {
            return Err(Error::Pack {
                pack: "languages".into(),
                message: format!(
                    "{} languages; at most 64 are supported",
                    file.language.len()
                ),
            });
        }
        let mut keywords: HashMap<u128, u64, BuildWordHasher> = HashMap::default();
        let mut longest_keyword = 0;
        let mut markers = Vec::new();
        let mut marker_lang = Vec::new();
        let mut fences = HashMap::new();
        let mut ids = Vec::new();
        for (i, lang) in file.language.iter().enumerate() {
            let i = i as u16;
            ids.push(lang.id.clone());
            for k in &lang.keywords {
                let key = if lang.case_insensitive {
                    k.to_ascii_lowercase()
                } else {
                    k.clone()
                };
                let mut variants = vec![key];
                if lang.case_insensitive {
                    variants.push(k.to_ascii_uppercase());
                }
                for v in variants {
                    let packed = word_key(v.as_bytes()).ok_or_else(|| Error::Pack {
                        pack: "languages".into(),
                        message: format!(
                            "keyword {v:?} of {} is not an identifier of 1 to 16 bytes",
                            lang.id
                        ),
                    })?;
                    longest_keyword = longest_keyword.max(v.len());
                    *keywords.entry(packed).or_default() |= 1u64 << i;
                }
            }
            for m in &lang.markers {
                markers.push(m.clone());
                marker_lang.push(i);
            }
            for f in &lang.fences {
                fences.insert(f.clone(), i);
            }
        }
        let longest_marker = markers.iter().map(String::len).max().unwrap_or(0);
        let markers = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            // Markers start with common bytes (` `, `:`, `(`): a prefilter only adds restarts.
            .prefilter(false)
            .build(&markers)
            .map_err(|e| Error::Keywords(e.to_string()))?;
        Ok(CodeDetector {
            ids,
            keywords,
            markers,
            marker_lang,
            longest_keyword,
            longest_marker,
            fences,
            min_lines,
        })
    }

    /// Votes the language of a region found by [`CodeDetector::regions_with`] (which leaves
    /// it empty unless a fence declared it): voting costs more than finding regions, so it is
    /// done only for regions that are reported.
    pub(crate) fn fill_language(&self, hay: &[u8], region: &mut CodeRegion) {
        if region.language.is_none() {
            region.language = self.language(&hay[region.start..region.end]);
        }
    }

    /// Findings for every code region of at least `min_lines` lines.
    pub(crate) fn findings(&self, hay: &[u8], features: &Features) -> Vec<Finding> {
        self.regions_with(hay, features)
            .into_iter()
            .filter(|r| r.lines >= self.min_lines)
            .map(|mut r| {
                self.fill_language(hay, &mut r);
                let lang = r.language.clone().unwrap_or_else(|| "unknown".into());
                Finding {
                    rule: "source-code".into(),
                    category: Category::SourceCode,
                    severity: Severity::Medium,
                    start: r.start,
                    end: r.end,
                    confidence: (0.5 + 0.5 * r.code_lines as f32 / r.lines.max(1) as f32).min(1.0),
                    preview: format!("{} lines of {lang}", r.lines),
                    detail: FindingDetail {
                        language: Some(lang),
                        lines: Some(r.lines),
                        ..FindingDetail::default()
                    },
                }
            })
            .collect()
    }

    /// Every code region, of any length.
    pub fn regions(&self, hay: &[u8]) -> Vec<CodeRegion> {
        let mut regions = self.regions_with(hay, &Features::scan(hay));
        for r in &mut regions {
            self.fill_language(hay, r);
        }
        regions
    }

    /// Every code region, using the feature flags the engine already computed.
    ///
    /// Only lines inside 64-byte blocks that hold code punctuation (`;{}=(`) can seed a region;
    /// a region then grows in both directions over code, weak and blank lines, and ends at two
    /// prose lines in a row. On prose this touches a handful of lines; on code every line is
    /// classified once.
    pub(crate) fn regions_with(&self, hay: &[u8], features: &Features) -> Vec<CodeRegion> {
        let mut out = Vec::new();
        let marks = features.fence_marks(hay);
        let fences = !marks.is_empty();
        if !features.any(F_CODE) && !fences {
            return out;
        }
        let lines = LineTable::new(hay);
        let n = lines.len();
        let mut kinds: Vec<Option<LineKind>> = vec![None; n];
        let mut kind = |i: usize| -> LineKind {
            *kinds[i].get_or_insert_with(|| {
                let (s, e) = lines.trimmed_range(hay, i);
                classify(hay, s, e)
            })
        };

        // Fenced blocks first: they are regions by declaration. Fence lines are found by
        // searching for the fence marks, not by looking at every line.
        let mut fence_lines: Vec<usize> = Vec::new();
        fence_lines.extend(
            marks
                .iter()
                .map(|&p| lines.line_of(p))
                .filter(|&l| fence_open(lines.trimmed(hay, l)).is_some()),
        );
        fence_lines.sort_unstable();
        fence_lines.dedup();
        let mut fenced = vec![false; n];
        let mut f = 0;
        while f < fence_lines.len() {
            let i = fence_lines[f];
            let info = fence_open(lines.trimmed(hay, i)).unwrap_or_default();
            let j = fence_lines.get(f + 1).copied().unwrap_or(n);
            f += 2;
            for flag in fenced.iter_mut().take((j + 1).min(n)).skip(i) {
                *flag = true;
            }
            let body = (i + 1)..j.min(n);
            if body.is_empty() {
                continue;
            }
            let nonblank = body
                .clone()
                .filter(|&k| !lines.trimmed(hay, k).is_empty())
                .count() as u32;
            let code_lines = body.clone().filter(|&k| kind(k) == LineKind::Code).count() as u32;
            let lower = info.to_ascii_lowercase();
            let declared = self.fences.get(&lower).copied();
            let prose_fence = matches!(
                lower.as_str(),
                "text" | "txt" | "markdown" | "md" | "plain" | "json" | "yaml" | "csv"
            );
            if nonblank > 0
                && !prose_fence
                && (declared.is_some() || code_lines * 10 >= nonblank * 4)
            {
                let (start, end) = (lines.start(body.start), lines.end(body.end - 1));
                // Undeclared fences get their language voted later, only if reported.
                let language = declared.map(|l| self.ids[l as usize].clone());
                let code_lines = if declared.is_some() {
                    nonblank
                } else {
                    code_lines
                };
                out.push(CodeRegion {
                    start,
                    end,
                    lines: nonblank,
                    code_lines,
                    language,
                });
            }
        }

        // Unfenced regions, seeded from flagged blocks.
        let mut floor = 0usize; // first line not yet part of a region

        // Lines that share a byte with a flagged block, in one walk over lines and blocks.
        let mut seed_lines: Vec<usize> = Vec::new();
        let mut l = 0;
        for b in features.blocks(F_CODE) {
            let (bs, be) = (b * BLOCK, ((b + 1) * BLOCK).min(hay.len()));
            while l < n && lines.end(l) < bs {
                l += 1;
            }
            let mut k = l;
            while k < n && lines.start(k) < be {
                if seed_lines.last() != Some(&k) {
                    seed_lines.push(k);
                }
                k += 1;
            }
        }
        for seed in seed_lines {
            if seed < floor || fenced[seed] || kind(seed) != LineKind::Code {
                continue;
            }
            let (mut first, mut last) = (seed, seed);
            let (mut code_lines, mut weak_lines, mut nonblank) = (1u32, 0u32, 1u32);
            // Backward, then forward: absorb code and weak lines, skip blanks, allow one prose
            // line between.
            for forward in [false, true] {
                let mut gap = 0u32;
                let mut k = seed;
                loop {
                    let next = if forward { k + 1 } else { k.wrapping_sub(1) };
                    if (forward && next >= n)
                        || (!forward && (k == 0 || next < floor))
                        || fenced[next]
                    {
                        break;
                    }
                    k = next;
                    match kind(k) {
                        LineKind::Blank => {}
                        LineKind::Code | LineKind::Weak => {
                            if kind(k) == LineKind::Code {
                                code_lines += 1;
                            } else {
                                weak_lines += 1;
                            }
                            nonblank += 1 + gap;
                            gap = 0;
                            if forward {
                                last = k;
                            } else {
                                first = k;
                            }
                        }
                        LineKind::Other => {
                            gap += 1;
                            if gap >= 2 {
                                break;
                            }
                        }
                    }
                }
            }
            floor = last + 1;
            if code_lines >= 2 && (code_lines + weak_lines) * 10 >= nonblank * 6 {
                let (start, end) = (lines.start(first), lines.end(last));
                out.push(CodeRegion {
                    start,
                    end,
                    lines: (last - first + 1) as u32,
                    code_lines,
                    language: None,
                });
            }
        }
        out.sort_by_key(|r| r.start);
        out
    }

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
fn without_comments(code: &[u8]) -> Vec<u8> {
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
fn settled(votes: &[u32]) -> bool {
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
fn word_key(word: &[u8]) -> Option<u128> {
    let ok = (1..=16).contains(&word.len())
        && word.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then(|| {
        word.iter()
            .enumerate()
            .fold(0u128, |k, (i, &b)| k | u128::from(b) << (8 * i))
    })
}

/// Bytes that start an identifier (ASCII letters, `_`) and that continue one (also digits).
const IDENT_START: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_alphabetic() || b == b'_' as usize;
        b += 1;
    }
    t
};
const IDENT: [bool; 256] = {
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
fn ident_key(text: &[u8], s: usize, e: usize) -> u128 {
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
struct WordHasher(u64);
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
type BuildWordHasher = std::hash::BuildHasherDefault<WordHasher>;

/// Line starts and ends (without the newline) of a text.
struct LineTable {
    starts: Vec<usize>,
    ends: Vec<usize>,
}

impl LineTable {
    fn new(hay: &[u8]) -> LineTable {
        // Room for lines of 32 bytes on average (code lines are shorter than prose lines).
        let mut starts = Vec::with_capacity(hay.len() / 32 + 1);
        starts.push(0);
        let mut ends = Vec::with_capacity(hay.len() / 32 + 1);
        for_each_newline(hay, |nl| {
            ends.push(nl);
            starts.push(nl + 1);
        });
        ends.push(hay.len());
        LineTable { starts, ends }
    }
    fn len(&self) -> usize {
        self.starts.len()
    }
    fn start(&self, i: usize) -> usize {
        self.starts[i]
    }
    fn end(&self, i: usize) -> usize {
        self.ends[i]
    }
    fn trimmed<'h>(&self, hay: &'h [u8], i: usize) -> &'h [u8] {
        trim(&hay[self.starts[i]..self.ends[i]])
    }
    /// Where [`LineTable::trimmed`] lies in `hay`.
    fn trimmed_range(&self, hay: &[u8], i: usize) -> (usize, usize) {
        let t = self.trimmed(hay, i);
        let s = t.as_ptr() as usize - hay.as_ptr() as usize;
        (s, s + t.len())
    }
    /// The line holding byte `pos`.
    fn line_of(&self, pos: usize) -> usize {
        self.starts.partition_point(|&s| s <= pos).saturating_sub(1)
    }
}

/// Calls `f` with the position of every `\n` in `hay`, in order. Whole 64-byte blocks become
/// a bit mask (two AVX2 or four SSE2 compares) whose bits are then read: code has a newline
/// every ~20 bytes, and an iterator of `memchr` calls restarts at each one.
fn for_each_newline(hay: &[u8], mut f: impl FnMut(usize)) {
    #[cfg(target_arch = "x86_64")]
    let base = if crate::features::avx2_available() {
        // SAFETY: the CPU reported AVX2.
        #[allow(unsafe_code)]
        unsafe {
            newline_blocks_avx2(hay, &mut f)
        }
    } else {
        newline_blocks_sse2(hay, &mut f)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let base = 0;
    for nl in memchr::memchr_iter(b'\n', &hay[base..]) {
        f(base + nl);
    }
}

/// Reports the newlines of `m` (bit `i`: byte `base + i`).
#[inline(always)]
fn report_bits(mut m: u64, base: usize, f: &mut impl FnMut(usize)) {
    while m != 0 {
        f(base + m.trailing_zeros() as usize);
        m &= m - 1;
    }
}

/// [`for_each_newline`] over the whole 64-byte blocks of `hay` with SSE2 (part of every
/// x86-64 CPU); returns where the blocks end.
#[cfg(target_arch = "x86_64")]
fn newline_blocks_sse2(hay: &[u8], f: &mut impl FnMut(usize)) -> usize {
    use std::arch::x86_64::*;
    let mut base = 0;
    while let Some(block) = hay.get(base..base + BLOCK) {
        let block = block.try_into().expect("a whole block");
        // SAFETY: SSE2 is part of x86-64.
        #[allow(unsafe_code)]
        let m = crate::features::block_mask_sse2(block, |x| unsafe {
            _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\n' as i8))
        });
        report_bits(m, base, f);
        base += BLOCK;
    }
    base
}

/// [`newline_blocks_sse2`] with AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2")]
unsafe fn newline_blocks_avx2(hay: &[u8], f: &mut impl FnMut(usize)) -> usize {
    use std::arch::x86_64::*;
    let nl = _mm256_set1_epi8(b'\n' as i8);
    let mut base = 0;
    while let Some(block) = hay.get(base..base + BLOCK) {
        // SAFETY: `block` is 64 bytes: two unaligned 32-byte loads.
        let (a, b) = unsafe {
            (
                _mm256_loadu_si256(block.as_ptr().cast::<__m256i>()),
                _mm256_loadu_si256(block.as_ptr().add(32).cast::<__m256i>()),
            )
        };
        let lo = _mm256_movemask_epi8(_mm256_cmpeq_epi8(a, nl)) as u32;
        let hi = _mm256_movemask_epi8(_mm256_cmpeq_epi8(b, nl)) as u32;
        report_bits(u64::from(lo) | (u64::from(hi) << 32), base, f);
        base += BLOCK;
    }
    base
}

/// `line` without ASCII whitespace (`\r` included) at either end. Indentation is skipped
/// eight spaces at a time: code lines start with a lot of it.
fn trim(line: &[u8]) -> &[u8] {
    let mut s = 0;
    while let Some(chunk) = line.get(s..s + 8) {
        if chunk != b"        " {
            break;
        }
        s += 8;
    }
    line[s..].trim_ascii()
}

fn fence_open(line: &[u8]) -> Option<String> {
    let rest = line
        .strip_prefix(b"```")
        .or_else(|| line.strip_prefix(b"~~~"))?;
    let info = rest.trim_ascii();
    let word_end = info
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'{')
        .unwrap_or(info.len());
    Some(String::from_utf8_lossy(&info[..word_end]).into_owned())
}

/// 0: letter, digit, `_` or non-ASCII; 1: space; 2: any other symbol.
const BYTE_CLASS: [u8; 256] = {
    let mut t = [2u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80 {
            t[i] = 0;
        } else if b == b' ' || b == b'\t' {
            t[i] = 1;
        }
        i += 1;
    }
    t
};

/// What [`classify`] counts in a line: words (spaces and tabs, plus one), symbol bytes,
/// two-byte operators, calls (`(` right after an identifier byte) and whether ` = ` occurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LineCounts {
    words: i32,
    symbols: i32,
    ops: i32,
    calls: i32,
    assign: bool,
}

impl LineCounts {
    /// The counts of an empty line (one word: words are spaces plus one).
    const EMPTY: LineCounts = LineCounts {
        words: 1,
        symbols: 0,
        ops: 0,
        calls: 0,
        assign: false,
    };
}

/// The counts of the line `hay[s..e]`. The vector pass reads the line in place, 32 bytes at a
/// time, past its end where `hay` goes on (those bits are masked off), so even short lines
/// need no copy.
fn line_counts(hay: &[u8], s: usize, e: usize) -> LineCounts {
    #[cfg(target_arch = "x86_64")]
    if e - s >= 16 && crate::features::avx2_available() {
        // SAFETY: the CPU reported AVX2.
        #[allow(unsafe_code)]
        return unsafe { line_counts_avx2(hay, s, e) };
    }
    line_counts_scalar(&hay[s..e])
}

/// Whether the symbol `b` at `w`, between `prev` and `next`, is an operator, a call, an
/// assignment: the per-symbol part of [`LineCounts`], shared by both passes.
#[inline(always)]
fn symbol_at(b: u8, prev: u8, next: u8, c: &mut LineCounts) {
    // Table lookups and bitwise ands, not branches: which symbol comes next is anyone's guess.
    c.ops += i32::from((OP_NEXT[b as usize] >> OP_INDEX[next as usize]) & 1);
    // (The byte before a line, 0, is a symbol in `BYTE_CLASS`: no call.)
    c.calls += i32::from((b == b'(') & (BYTE_CLASS[prev as usize] == 0));
    c.assign |= (b == b'=') & (prev == b' ') & (next == b' ');
}

fn line_counts_scalar(t: &[u8]) -> LineCounts {
    let mut c = LineCounts::EMPTY;
    let mut prev = 0u8;
    for (w, &b) in t.iter().enumerate() {
        // No branch on the byte's class: [`symbol_at`] finds nothing at a letter or a space.
        let class = BYTE_CLASS[b as usize];
        c.words += i32::from(class == 1);
        c.symbols += i32::from(class == 2);
        symbol_at(b, prev, t.get(w + 1).copied().unwrap_or(0), &mut c);
        prev = b;
    }
    c
}

/// The two-byte operators [`LineCounts::ops`] counts.
const OPERATORS: [&[u8; 2]; 16] = [
    b"==", b"!=", b"->", b"=>", b"::", b":=", b"&&", b"||", b"+=", b"-=", b"<=", b">=", b"++",
    b"<<", b">>", b"//",
];

/// The bytes of [`OPERATORS`], numbered from 1; every other byte is 0.
const OP_INDEX: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut n = 1;
    let mut i = 0;
    while i < OPERATORS.len() {
        let mut j = 0;
        while j < 2 {
            let b = OPERATORS[i][j] as usize;
            if t[b] == 0 {
                t[b] = n;
                n += 1;
            }
            j += 1;
        }
        i += 1;
    }
    assert!(n <= 16);
    t
};

/// Bit `OP_INDEX[n]` of `OP_NEXT[b]`: `b` followed by `n` is one of [`OPERATORS`] (bit 0, the
/// index of every other byte, is never set).
const OP_NEXT: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < OPERATORS.len() {
        let [a, b] = *OPERATORS[i];
        t[a as usize] |= 1 << OP_INDEX[b as usize];
        i += 1;
    }
    t
};

/// [`line_counts_scalar`] of `hay[s..e]`, 32 bytes at a time: spaces and symbols are counted
/// from compare masks, and only symbol positions other than prose punctuation are looked at
/// one by one. (Computing operators, calls and ` = ` from masks as well, with a second load
/// one byte further on, cost more on prose than it saved on code.) Chunks are loaded from
/// `hay` itself (bits past `e` masked off); only a chunk that would run past the end of `hay`
/// is copied into a buffer first.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2")]
unsafe fn line_counts_avx2(hay: &[u8], s: usize, e: usize) -> LineCounts {
    use crate::features::in_range_avx2 as in_range;
    use std::arch::x86_64::*;
    let t = &hay[s..e];
    let mut c = LineCounts::EMPTY;
    let splat = |b: u8| _mm256_set1_epi8(b as i8);
    let mut o = 0;
    while o < t.len() {
        let x = match hay.get(s + o..s + o + 32) {
            // SAFETY: the slice is 32 bytes.
            Some(chunk) => unsafe { _mm256_loadu_si256(chunk.as_ptr().cast::<__m256i>()) },
            None => {
                let mut pad = [b'a'; 32];
                let n = (t.len() - o).min(32);
                pad[..n].copy_from_slice(&t[o..o + n]);
                // SAFETY: `pad` is 32 bytes.
                unsafe { _mm256_loadu_si256(pad.as_ptr().cast::<__m256i>()) }
            }
        };
        let valid = match t.len() - o {
            32.. => u32::MAX,
            n => (1u32 << n) - 1,
        };
        let word = _mm256_or_si256(
            _mm256_or_si256(
                in_range(x, b'0', b'9'),
                in_range(_mm256_or_si256(x, splat(0x20)), b'a', b'z'),
            ),
            _mm256_or_si256(
                _mm256_cmpeq_epi8(x, splat(b'_')),
                _mm256_cmpgt_epi8(_mm256_setzero_si256(), x),
            ),
        );
        let blank = _mm256_or_si256(
            _mm256_cmpeq_epi8(x, splat(b' ')),
            _mm256_cmpeq_epi8(x, splat(b'\t')),
        );
        let blanks = _mm256_movemask_epi8(blank) as u32 & valid;
        let symbols = !(_mm256_movemask_epi8(word) as u32 | blanks) & valid;
        c.words += blanks.count_ones() as i32;
        c.symbols += symbols.count_ones() as i32;
        // Prose punctuation (`,` `.` `'` `"`) takes no part in operators, calls or ` = `: only
        // the other symbols are looked at.
        let prose = _mm256_or_si256(
            _mm256_or_si256(
                _mm256_cmpeq_epi8(x, splat(b',')),
                _mm256_cmpeq_epi8(x, splat(b'.')),
            ),
            _mm256_or_si256(
                _mm256_cmpeq_epi8(x, splat(b'\'')),
                _mm256_cmpeq_epi8(x, splat(b'"')),
            ),
        );
        let mut symbols = symbols & !(_mm256_movemask_epi8(prose) as u32);
        while symbols != 0 {
            let w = o + symbols.trailing_zeros() as usize;
            symbols &= symbols - 1;
            let prev = if w > 0 { t[w - 1] } else { 0 };
            symbol_at(t[w], prev, t.get(w + 1).copied().unwrap_or(0), &mut c);
        }
        o += 32;
    }
    c
}

/// Decides whether one (trimmed) line, `hay[s..e]`, looks like code.
fn classify(hay: &[u8], s: usize, e: usize) -> LineKind {
    let t = &hay[s..e];
    if t.is_empty() {
        return LineKind::Blank;
    }
    let last = t[t.len() - 1];
    let mut score: i32 = 0;
    match last {
        b';' | b'{' | b'}' => score += 3,
        b')' | b',' | b'(' | b'[' | b']' => score += 1,
        _ => {}
    }
    if matches!(
        t,
        b"}" | b"{"
            | b"};"
            | b"})"
            | b"});"
            | b"end"
            | b"fi"
            | b"done"
            | b"esac"
            | b"endmodule"
            | b"end;"
    ) {
        return LineKind::Code;
    }
    // Every prefix tested below begins with one of these bytes; most lines begin otherwise.
    let marked = matches!(t[0], b'/' | b'*' | b'-' | b'#' | b'@');
    // Comments belong to the code around them (a doc comment must not split a file into
    // regions), but never start a region on their own.
    if marked
        && (t.starts_with(b"//")
            || t.starts_with(b"/*")
            || t.starts_with(b"*/")
            || t.starts_with(b"* ")
            || t == b"*"
            || t.starts_with(b"-- ")
            || t.starts_with(b"#!"))
    {
        return LineKind::Weak;
    }
    // The common case in C-family code: a short line ending in `;`, `{` or `}`.
    if matches!(last, b';' | b'{' | b'}') && t.iter().filter(|&&b| b == b' ').count() < 8 {
        return LineKind::Code;
    }
    if marked
        && (t.starts_with(b"#include")
            || t.starts_with(b"#define")
            || t.starts_with(b"#pragma")
            || t.starts_with(b"#ifdef")
            || t.starts_with(b"#endif"))
    {
        score += 4;
    }
    // (`//`, `/*`, `*/`, `* `, `-- ` and `#!` lines returned as Weak above.)
    if marked && (t.starts_with(b"--") || t.starts_with(b"# ") || t.starts_with(b"@")) {
        score += 1;
    }
    let first_word_end = t
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b';'))
        .unwrap_or(t.len());
    let first_word = &t[..first_word_end];
    let starts_statement = starts_statement(first_word);
    if starts_statement {
        score += 2;
    }
    if is_sql_clause(first_word) && first_word.len() < t.len() {
        score += 3;
    }
    if last == b':' && starts_statement {
        score += 2; // Python block header
    }
    let LineCounts {
        words,
        symbols,
        ops,
        calls,
        assign,
    } = line_counts(hay, s, e);
    score += 2 * ops.min(2) + calls.min(2) + i32::from(assign);
    let ratio = symbols as f32 / t.len() as f32;
    if ratio > 0.12 {
        score += 1;
    }
    // Sentences: many words, few symbols, ending like prose.
    if words >= 8 && matches!(last, b'.' | b'?' | b'!') && ratio < 0.06 {
        score -= 4;
    } else if words >= 6 && ratio < 0.03 {
        score -= 2;
    }
    match score {
        3.. => LineKind::Code,
        1..=2 => LineKind::Weak,
        _ => LineKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_line_counts_equal_the_scalar_counts() {
        let alphabet = b"ab_Z09 \t(){}[];:=<>!&|+-/*.,'\"#@\xc3\xa9";
        let mut next = crate::test_rng(0x9E37_79B9_7F4A_7C15);
        let mut checked = 0;
        for len in 0..200 {
            for _ in 0..20 {
                let line: Vec<u8> = (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect();
                let want = line_counts_scalar(&line);
                // Alone (chunks past its end are copied) and inside a longer text (chunks
                // are read in place and masked), after and before bytes that would make a
                // call, an operator or ` = ` if the line's edges were not respected.
                let (before, after) = [
                    (
                        &b"x(y) = {"[..],
                        &b"; z( == 1 ) \t {{ }} // ab_c x(y) = {; z( == 1 )"[..],
                    ),
                    (b"a", b"= x"),
                    (b"a ", b" = "),
                    (b"=", b">"),
                ][(next() % 4) as usize];
                let mut inside = before.to_vec();
                inside.extend_from_slice(&line);
                inside.extend_from_slice(after);
                let at = before.len();
                assert_eq!(line_counts(&line, 0, len), want, "{line:?}");
                assert_eq!(line_counts(&inside, at, at + len), want, "{line:?}");
                #[cfg(target_arch = "x86_64")]
                if crate::features::avx2_available() {
                    for (hay, s) in [(&line, 0), (&inside, at)] {
                        // SAFETY: the CPU reported AVX2.
                        #[allow(unsafe_code)]
                        let v = unsafe { line_counts_avx2(hay, s, s + len) };
                        assert_eq!(v, want, "{line:?} in {hay:?}");
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked == 4000 || !crate::features::avx2_available());
        // A real line: `let x = f(a) == b;` has a call, an operator and an assignment.
        let c = line_counts_scalar(b"let x = f(a) == b && g(c);");
        assert_eq!((c.calls, c.ops, c.assign), (2, 2, true));
    }

    /// The table lookups of `symbol_at` equal a plain reading of its rules for every byte
    /// before, at and after the symbol.
    #[test]
    fn symbol_tables_equal_the_rules() {
        let ops = [
            "==", "!=", "->", "=>", "::", ":=", "&&", "||", "+=", "-=", "<=", ">=", "++", "<<",
            ">>", "//",
        ];
        for b in 0..=255u8 {
            for next in 0..=255u8 {
                let mut c = LineCounts::EMPTY;
                symbol_at(b, b' ', next, &mut c);
                let op = ops.iter().any(|o| o.as_bytes() == [b, next]);
                assert_eq!(c.ops, i32::from(op), "{b:#x} {next:#x}");
                assert_eq!(c.assign, b == b'=' && next == b' ', "{b:#x} {next:#x}");
            }
            for prev in 0..=255u8 {
                let mut c = LineCounts::EMPTY;
                symbol_at(b'(', prev, b'x', &mut c);
                let ident = prev.is_ascii_alphanumeric() || prev == b'_' || prev >= 0x80;
                assert_eq!(c.calls, i32::from(ident), "call after {prev:#x}");
                let mut c = LineCounts::EMPTY;
                symbol_at(b, prev, b' ', &mut c);
                assert_eq!(c.assign, b == b'=' && prev == b' ');
                if b != b'(' {
                    assert_eq!(c.calls, 0);
                }
            }
        }
    }

    /// Newlines are reported exactly and in order, whatever their place against the blocks.
    #[test]
    fn newlines_are_every_line_feed_in_order() {
        let mut next = crate::test_rng(0xBB67_AE85_84CA_A73B);
        for len in 0..300 {
            for _ in 0..20 {
                let hay: Vec<u8> = (0..len)
                    .map(|_| match next() % 8 {
                        0 => b'\n',
                        1 => b'\r',
                        2 => 0x8A,
                        _ => b'x',
                    })
                    .collect();
                let want: Vec<usize> = (0..len).filter(|&i| hay[i] == b'\n').collect();
                let mut got = Vec::new();
                for_each_newline(&hay, |p| got.push(p));
                assert_eq!(got, want, "{hay:?}");
                // The SSE2 blocks (used where AVX2 is missing) report the same.
                #[cfg(target_arch = "x86_64")]
                {
                    let mut sse2 = Vec::new();
                    let end = newline_blocks_sse2(&hay, &mut |p| sse2.push(p));
                    assert_eq!(end, len / 64 * 64);
                    sse2.extend(want.iter().filter(|&&p| p >= end));
                    assert_eq!(sse2, want, "sse2 {hay:?}");
                }
            }
        }
    }

    /// Line bounds, the line of a byte and trimmed lines equal a plain split of the text.
    #[test]
    fn line_table_equals_a_split_at_newlines() {
        let mut next = crate::test_rng(0x3C6E_F372_FE94_F82B);
        for len in 0..200usize {
            for _ in 0..10 {
                let hay: Vec<u8> = (0..len)
                    .map(|_| b"\n\n \tab;\r"[(next() % 8) as usize])
                    .collect();
                let table = LineTable::new(&hay);
                let mut start = 0;
                let mut want = Vec::new();
                for piece in hay.split(|&b| b == b'\n') {
                    want.push((start, start + piece.len()));
                    start += piece.len() + 1;
                }
                assert_eq!(table.len(), want.len());
                for (i, &(s, e)) in want.iter().enumerate() {
                    assert_eq!(
                        (table.start(i), table.end(i)),
                        (s, e),
                        "line {i} of {hay:?}"
                    );
                    assert_eq!(table.trimmed(&hay, i), hay[s..e].trim_ascii());
                    // Its bytes and its newline are the line's.
                    for pos in (s..=e).filter(|&p| p < len) {
                        assert_eq!(table.line_of(pos), i, "byte {pos} of {hay:?}");
                    }
                }
            }
        }
    }

    /// Lines recognised by how they begin: comments are weak, preprocessor lines are code.
    #[test]
    fn line_prefixes_classify() {
        let kind = |line: &str| classify(line.as_bytes(), 0, line.len());
        for weak in [
            "// a comment",
            "/* start",
            "*/",
            "* doc line",
            "*",
            "-- sql comment",
            "#!/bin/sh",
        ] {
            assert_eq!(kind(weak), LineKind::Weak, "{weak}");
        }
        for code in [
            "#include <stdio.h>",
            "#define MAX 10",
            "#pragma once",
            "#ifdef DEBUG",
            "#endif",
        ] {
            assert_eq!(kind(code), LineKind::Code, "{code}");
        }
        assert_eq!(
            kind("The meeting moved to Friday afternoon, after the review."),
            LineKind::Other
        );
    }

    #[test]
    fn trim_strips_whitespace_like_trim_ascii() {
        for indent in 0..20 {
            for (lead, tail) in [(" ", ""), ("\t", "\r"), (" ", " \r"), ("\t ", "\t")] {
                let line = format!("{}x = 1;{tail}", lead.repeat(indent));
                assert_eq!(trim(line.as_bytes()), b"x = 1;", "{line:?}");
            }
            let blank = " ".repeat(indent) + "\r";
            assert_eq!(trim(blank.as_bytes()), b"");
        }
    }

    #[test]
    fn ident_key_packs_like_word_key_anywhere_in_the_text() {
        let text = b"fn x_1(abcdefghijklmnop: u8) -> Q { let _a9 = zz; } tail_ident";
        let mut checked = 0;
        let mut i = 0;
        while i < text.len() {
            if !IDENT_START[usize::from(text[i])] {
                i += 1;
                continue;
            }
            let s = i;
            while i < text.len() && IDENT[usize::from(text[i])] {
                i += 1;
            }
            for e in s + 1..=i.min(s + 16) {
                assert_eq!(
                    Some(ident_key(text, s, e)),
                    word_key(&text[s..e]),
                    "{:?}",
                    std::str::from_utf8(&text[s..e])
                );
                checked += 1;
            }
        }
        assert!(checked > 40, "{checked}");
    }

    fn detector() -> CodeDetector {
        CodeDetector::new(3).unwrap()
    }

    #[test]
    fn finds_code_inside_prose_with_its_line_count() {
        let text = "Hi, can you fix this? It crashes on startup.\n\nint main(void) {\n    int x = read_sensor(3);\n    if (x > 10) {\n        printf(\"hot %d\\n\", x);\n    }\n    return 0;\n}\n\nThanks a lot for looking at it, it is urgent.";
        let regions = detector().regions(text.as_bytes());
        assert_eq!(regions.len(), 1, "{regions:?}");
        let r = &regions[0];
        assert_eq!(&text[r.start..r.start + 14], "int main(void)");
        assert_eq!(r.lines, 7);
        assert_eq!(r.language.as_deref(), Some("c"));
    }

    #[test]
    fn fenced_blocks_take_their_declared_language() {
        let text = "look:\n```python\nx = compute()\nprint(x)\n```\nok?";
        let regions = detector().regions(text.as_bytes());
        assert_eq!(regions.len(), 1);
        assert_eq!(regions[0].language.as_deref(), Some("python"));
        assert_eq!(regions[0].lines, 2);
    }

    #[test]
    fn prose_is_not_code() {
        let text = "The meeting covered the roadmap (see the attached slides). We agreed on three points:\n\
            first, the launch moves to May; second, the budget stays the same; third, the team grows.\n\
            Please send comments by Friday. Thanks, and have a good weekend!\n\
            Note: the numbers in the deck are preliminary.";
        assert!(detector().regions(text.as_bytes()).is_empty());
    }

    #[test]
    fn comments_do_not_vote_and_rust_paths_are_not_cpp() {
        // Doc comments full of English words that are Python keywords, `Type::method` paths
        // and `self.` field access: this was voted C++ or Python before comments were left out.
        let rust = "/// Returns the value from the map if it is in there, or None when not.\n\
            /// Try it with and without the cache: it is the same as before.\n\
            pub fn lookup(&self, key: &str) -> Option<u32> {\n\
            \x20   let cache = self.cache.lock();\n\
            \x20   if let Some(v) = cache.get(key) {\n\
            \x20       return Some(*v);\n\
            \x20   }\n\
            \x20   Registry::global().find(key).map(Entry::value)\n\
            }\n";
        assert_eq!(
            detector().language(rust.as_bytes()).as_deref(),
            Some("rust")
        );
        let comments_only = "// from the map, in there, is it not with and as before\n\
            // import this from that, as is, pass\n";
        assert_eq!(detector().language(comments_only.as_bytes()), None);
    }

    #[test]
    fn each_language_sample_is_recognised() {
        let samples: &[(&str, &str)] = &[
            ("cpp", "#include <vector>\nnamespace acme {\ntemplate <typename T>\nclass Buffer {\npublic:\n  std::vector<T> data;\n  void push(const T& v) { data.push_back(v); }\n};\n}"),
            ("rust", "use std::io;\nfn main() -> Result<(), io::Error> {\n    let mut buf = String::new();\n    io::stdin().read_line(&mut buf)?;\n    println!(\"{}\", buf.trim());\n    Ok(())\n}"),
            ("go", "package main\nimport \"fmt\"\nfunc main() {\n\tv, err := load()\n\tif err != nil {\n\t\treturn\n\t}\n\tfmt.Println(v)\n}"),
            ("python", "import os\n\ndef load(path):\n    with open(path) as f:\n        data = f.read()\n    if not data:\n        return None\n    return data.split()\n"),
            ("java", "package com.acme;\nimport java.util.List;\npublic class Probe {\n    private final int id;\n    public static void main(String[] args) {\n        System.out.println(\"hi\");\n    }\n}"),
            ("kotlin", "package com.acme\nfun main() {\n    val items = listOf(1, 2, 3)\n    items.forEach { println(it) }\n    val name: String? = null\n    println(name?.length)\n}"),
            ("csharp", "using System;\nnamespace Acme {\n    public class Probe {\n        public int Id { get; set; }\n        public void Run() { Console.WriteLine(\"x\"); }\n    }\n}"),
            ("javascript", "const fs = require('fs');\nfunction load(p) {\n  const data = fs.readFileSync(p);\n  console.log(data.length);\n  return data === null ? [] : data;\n}\nmodule.exports = load;"),
            ("typescript", "interface Probe {\n  id: number;\n  name: string;\n}\nexport function show(p: Probe): string {\n  return `${p.id}: ${p.name}`;\n}"),
            ("swift", "import Foundation\nstruct Probe {\n    let id: Int\n    func describe() -> String {\n        guard id > 0 else { return \"none\" }\n        return \"probe \\(id)\"\n    }\n}"),
            ("shell", "#!/bin/bash\nset -euo pipefail\nfor f in *.log; do\n  if grep -q ERROR \"$f\"; then\n    echo \"$f has errors\"\n  fi\ndone"),
            ("sql", "SELECT w.id, w.lot, AVG(m.value) AS mean\nFROM wafers w\nLEFT JOIN measurements m ON m.wafer_id = w.id\nWHERE w.fab = 'F3' AND m.kind = 'cd';\n"),
            ("verilog", "module counter(input wire clk, input wire rst, output reg [7:0] q);\n  always @(posedge clk) begin\n    if (rst) q <= 8'h00;\n    else q <= q + 1'b1;\n  end\nendmodule"),
            ("vhdl", "library ieee;\nuse ieee.std_logic_1164.all;\nentity counter is\n  port (clk : in std_logic; q : out std_logic_vector(7 downto 0));\nend entity;\narchitecture rtl of counter is\nbegin\nend architecture;"),
            ("c", "#include <stdio.h>\nstatic int read_reg(volatile uint32_t *r) {\n    return (int)(*r & 0xff);\n}\nint main(void) {\n    printf(\"%d\\n\", read_reg(NULL));\n    return 0;\n}"),
        ];
        let d = detector();
        for (want, code) in samples {
            let regions = d.regions(code.as_bytes());
            assert_eq!(regions.len(), 1, "{want}: {regions:?}");
            assert_eq!(regions[0].language.as_deref(), Some(*want), "{want}");
            assert_eq!(
                regions[0].lines as usize,
                code.trim_end().lines().count(),
                "{want}: the region covers every line"
            );
        }
    }
}
