//! Source-code detection: which regions of a text are code, how many lines, which language.
//!
//! Whether a line is code is decided from its shape (how it ends, operators, calls,
//! indentation, statement keywords) with a small penalty for sentence-like lines; regions are
//! runs of code lines allowing blank lines and single prose lines between. Markdown fences are
//! regions by declaration. The language is chosen afterwards from keyword and marker counts
//! over a bounded sample of the region (signatures in `policies/rules/languages.toml`).
//!
//! Cost: one pass over the bytes of each line (no allocation per line) plus a lookup per
//! identifier in the first KiB of each reported region (less once one language clearly leads).//!
//! The stages, one file each: `lines.rs` (line table, newline search, trimming, fences),
//! `classify.rs` (is one line code? counts by SIMD where the CPU has it), this file (regions:
//! runs of code lines, findings), `language.rs` (which language, by votes).

mod classify;
mod language;
mod lines;

use classify::{classify, LineKind};
use language::*;
use lines::{fence_open, LineTable};

use crate::features::{Features, BLOCK, F_CODE};
use crate::Error;
use aho_corasick::{AhoCorasick, MatchKind};
use leakguard_types::{Category, Finding, FindingDetail, Severity};
use serde::Deserialize;
use std::collections::HashMap;

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
            if code_lines >= 2
                && (code_lines + weak_lines) * 10 >= nonblank * 6
                && !mostly_sentences(hay, &lines, first, last)
            {
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
}

/// English function words that lines of code hardly ever hold as bare words.
const SENTENCE_WORDS: [&[u8]; 24] = [
    b"the", b"a", b"an", b"and", b"then", b"we", b"you", b"it", b"this", b"that", b"our", b"your",
    b"its", b"of", b"to", b"for", b"with", b"when", b"which", b"into", b"before", b"after",
    b"also", b"because",
];

/// A line without an assignment that holds two or more English function words as words.
fn reads_as_sentence(t: &[u8]) -> bool {
    if memchr::memchr(b'=', t).is_some() {
        return false;
    }
    t.split(|&b| b == b' ')
        .map(|w| w.strip_suffix(b",").unwrap_or(w))
        .filter(|w| SENTENCE_WORDS.iter().any(|s| s.eq_ignore_ascii_case(w)))
        .nth(1)
        .is_some()
}

/// A short region (8 lines at most) most of whose lines read as sentences is a paragraph that
/// names a few functions ("We use parse() for input;"), not code. Checked per region, so it
/// costs nothing on real code.
fn mostly_sentences(hay: &[u8], lines: &lines::LineTable, first: usize, last: usize) -> bool {
    if last - first >= 8 {
        return false;
    }
    let (mut sentences, mut nonblank) = (0, 0);
    for k in first..=last {
        let t = hay[lines.start(k)..lines.end(k)].trim_ascii();
        if t.is_empty() {
            continue;
        }
        nonblank += 1;
        sentences += usize::from(reads_as_sentence(t));
    }
    sentences * 2 > nonblank
}

#[cfg(test)]
mod tests {
    use super::*;
    use classify::*;
    use lines::*;

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
    fn a_paragraph_that_names_functions_is_not_code_and_a_docstring_with_examples_is() {
        let d = detector();
        let para = "We use parse() for input;\nformat() renders the result;\nand validate() checks the schema;\n";
        assert!(
            d.regions(para.as_bytes()).is_empty(),
            "{:?}",
            d.regions(para.as_bytes())
        );
        let doc = "def area(r):\n    \"\"\"Return the area of a circle.\n\n    >>> area(2)\n    12.566370614359172\n    \"\"\"\n    return math.pi * r * r\n";
        assert!(!d.regions(doc.as_bytes()).is_empty());
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
