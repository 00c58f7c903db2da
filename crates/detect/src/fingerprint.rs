//! Fingerprints of the organisation's own code: recognise a pasted excerpt of a company
//! repository, even reformatted or with renamed identifiers, without the code being on the
//! laptop.
//!
//! How: code is turned into a token stream that keeps only what survives cosmetic edits
//! (comments and whitespace dropped; identifiers, numbers and strings reduced to their class;
//! keywords and operators kept), every run of [`Params::k`] tokens is hashed with a key derived
//! from the organisation's salt, and winnowing keeps the minimum hash of every window of
//! [`Params::w`] consecutive k-gram hashes. Winnowing guarantees that two texts sharing a run
//! of at least `w + k - 1` tokens share at least one kept fingerprint, unless every k-gram of
//! the run is repetitive (fewer than [`MIN_DISTINCT`] distinct tokens), which is never
//! fingerprinted (docs/fingerprints.md).
//!
//! The index holds only keyed 64-bit hashes: without the salt it cannot be used to test guesses
//! of code, and it holds no source text. This module does no I/O: the CLI walks directories
//! and writes files.

use sha2::{Digest, Sha256};
use siphasher::sip::SipHasher13;
use std::collections::{HashMap, HashSet};
use std::hash::Hasher;

/// Winnowing parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Tokens per k-gram.
    pub k: u16,
    /// k-grams per winnowing window.
    pub w: u16,
}

impl Default for Params {
    /// k = 16 tokens (about two lines of code once identifiers are classes, long enough that
    /// generic shapes like `ID ( ID , ID ) ;` do not match on their own), w = 8: any shared run
    /// of 23 tokens is found, and about 2/(w+1) = 22% of k-grams are kept.
    fn default() -> Self {
        Params { k: 16, w: 8 }
    }
}

/// Errors reading or building an index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FingerprintError {
    #[error("not a Leakguard fingerprint index (bad magic); build one with `leakguard fingerprint build`")]
    NotAnIndex,
    #[error("fingerprint index version {0} is not supported by this build (expected 1); rebuild the index")]
    Version(u16),
    #[error("fingerprint index is truncated or corrupt: {0}")]
    Corrupt(&'static str),
    #[error("fingerprint index checksum mismatch: the file is corrupt or was modified")]
    Checksum,
    #[error("the salt does not match this index (index `{0}`); use the salt it was built with")]
    WrongSalt(String),
    #[error("salt must be at least 8 bytes")]
    ShortSalt,
    #[error("k must be 4..=64 and w 1..=64")]
    BadParams,
}

/// The keys derived from an organisation's salt.
#[derive(Clone)]
pub struct FingerprintKey {
    token: (u64, u64),
    finish: u64,
    base: u64,
    check: u64,
}

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey(..)")
    }
}

impl FingerprintKey {
    /// Derives the keys from a salt (at least 8 bytes).
    ///
    /// # Errors
    /// [`FingerprintError::ShortSalt`] for a salt under 8 bytes.
    pub fn new(salt: &[u8]) -> Result<FingerprintKey, FingerprintError> {
        if salt.len() < 8 {
            return Err(FingerprintError::ShortSalt);
        }
        let d = Sha256::new()
            .chain_update(b"leakguard-fingerprint-v1\0")
            .chain_update(salt)
            .finalize();
        let word = |i: usize| u64::from_le_bytes(d[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        let check = Sha256::new()
            .chain_update(b"leakguard-fingerprint-check\0")
            .chain_update(salt)
            .finalize();
        Ok(FingerprintKey {
            token: (word(0), word(1)),
            finish: word(2),
            base: word(3) | 1,
            check: u64::from_le_bytes(check[..8].try_into().unwrap_or([0; 8])),
        })
    }

    fn token_hash(&self, code: u32) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.token.0, self.token.1);
        h.write_u32(code);
        h.finish()
    }
}

/// A token: its class or keyword code and its byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub code: u32,
    pub start: u32,
    pub end: u32,
}

/// A k-gram needs at least this many distinct tokens to be fingerprinted.
pub const MIN_DISTINCT: usize = 7;

const ID: u32 = 1;
const NUM: u32 = 2;
const STR: u32 = 3;
const OP_BASE: u32 = 0x100;
const KW_BASE: u32 = 0x1000;

fn keyword_table() -> &'static HashMap<Vec<u8>, u32> {
    static TABLE: std::sync::OnceLock<HashMap<Vec<u8>, u32>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        // The union of every language's keywords (policies/rules/languages.toml) plus common
        // ones, lowercased for SQL/VHDL. The same table is used to build and to match, so a
        // word is a keyword or an identifier consistently.
        #[derive(serde::Deserialize)]
        struct File {
            language: Vec<Lang>,
        }
        #[derive(serde::Deserialize)]
        struct Lang {
            keywords: Vec<String>,
            #[serde(default)]
            case_insensitive: bool,
        }
        let mut words: Vec<String> = Vec::new();
        if let Ok(f) =
            toml::from_str::<File>(include_str!("../../../policies/rules/languages.toml"))
        {
            for l in f.language {
                for k in l.keywords {
                    words.push(if l.case_insensitive {
                        k.to_ascii_lowercase()
                    } else {
                        k
                    });
                }
            }
        }
        for extra in [
            "else", "break", "continue", "true", "false", "null", "nil", "None", "self", "this",
            "static", "inline", "do", "goto", "sizeof", "unsigned", "signed", "long", "short",
            "float", "double", "bool", "auto", "mut", "ref", "loop",
        ] {
            words.push(extra.to_string());
        }
        words.sort();
        words.dedup();
        words
            .into_iter()
            .enumerate()
            .map(|(i, w)| (w.into_bytes(), KW_BASE + i as u32))
            .collect()
    })
}

/// After a `#` followed by a space or `!`: a preprocessor directive (`# define`) or a Rust
/// attribute (`#![…]`, `# [inline]`) is code; anything else (`# comment`, `#!/bin/sh`) is not.
fn hash_is_code(rest: &[u8]) -> bool {
    let rest = rest.strip_prefix(b"!").unwrap_or(rest);
    let rest = rest.trim_ascii_start();
    if rest.first() == Some(&b'[') {
        return true;
    }
    let word_end = rest
        .iter()
        .position(|b| !b.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    matches!(
        &rest[..word_end],
        b"include"
            | b"define"
            | b"if"
            | b"ifdef"
            | b"ifndef"
            | b"endif"
            | b"else"
            | b"elif"
            | b"pragma"
            | b"undef"
            | b"error"
            | b"warning"
            | b"line"
    )
}

/// Turns code into the normalised token stream. Language-independent on purpose: the same
/// text gives the same tokens at build time (where the file name is known) and at match time
/// (where it is not).
pub fn tokenize(text: &[u8]) -> Vec<Token> {
    let kw = keyword_table();
    let mut out = Vec::with_capacity(text.len() / 4);
    let n = text.len();
    let mut i = 0usize;
    let at_line_start_or_space = |i: usize| i == 0 || text[i - 1].is_ascii_whitespace();
    while i < n {
        let b = text[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let next = text.get(i + 1).copied().unwrap_or(0);
        // Comments: `//…`, `/*…*/`, `# …` / `#!…` (not `#include`), ` -- …` (SQL, VHDL).
        if b == b'/' && next == b'/' {
            i = memchr::memchr(b'\n', &text[i..]).map_or(n, |p| i + p);
            continue;
        }
        if b == b'/' && next == b'*' {
            i = memchr::memmem::find(&text[i + 2..], b"*/").map_or(n, |p| i + 2 + p + 2);
            continue;
        }
        if b == b'#'
            && (next.is_ascii_whitespace() || next == b'!' || next == 0)
            && !hash_is_code(&text[i + 1..])
        {
            i = memchr::memchr(b'\n', &text[i..]).map_or(n, |p| i + p);
            continue;
        }
        if b == b'-' && next == b'-' && text.get(i + 2) == Some(&b' ') && at_line_start_or_space(i)
        {
            i = memchr::memchr(b'\n', &text[i..]).map_or(n, |p| i + p);
            continue;
        }
        let start = i;
        if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 {
            while i < n && (text[i].is_ascii_alphanumeric() || text[i] == b'_' || text[i] >= 0x80) {
                i += 1;
            }
            let word = &text[start..i];
            let code = kw
                .get(word)
                .or_else(|| kw.get(&word.to_ascii_lowercase()))
                .copied()
                .unwrap_or(ID);
            out.push(Token {
                code,
                start: start as u32,
                end: i as u32,
            });
            continue;
        }
        if b.is_ascii_digit() {
            while i < n
                && (text[i].is_ascii_alphanumeric()
                    || text[i] == b'_'
                    || (text[i] == b'.' && text.get(i + 1).is_some_and(u8::is_ascii_digit)))
            {
                i += 1;
            }
            out.push(Token {
                code: NUM,
                start: start as u32,
                end: i as u32,
            });
            continue;
        }
        if b == b'"' || b == b'\'' || b == b'`' {
            // Triple-quoted strings (Python) span lines; others end at their quote or the line.
            let triple = text
                .get(i..i + 3)
                .is_some_and(|t| t[0] == b && t[1] == b && t[2] == b);
            let end = if triple {
                memchr::memmem::find(&text[i + 3..], &[b, b, b]).map(|p| i + 3 + p + 3)
            } else {
                let mut j = i + 1;
                let mut found = None;
                while j < n && (text[j] != b'\n' || b == b'`') {
                    if text[j] == b'\\' {
                        j += 2;
                        continue;
                    }
                    if text[j] == b {
                        found = Some(j + 1);
                        break;
                    }
                    j += 1;
                }
                found
            };
            match end {
                // A lone `'` (a Rust lifetime, an apostrophe) is an operator, not a string.
                Some(e)
                    if !(b == b'\''
                        && e - i > 3
                        && text[i + 1..e - 1].iter().any(|c| c.is_ascii_whitespace())
                        && e - i > 40) =>
                {
                    out.push(Token {
                        code: STR,
                        start: start as u32,
                        end: e as u32,
                    });
                    i = e;
                }
                _ => {
                    out.push(Token {
                        code: OP_BASE + u32::from(b),
                        start: start as u32,
                        end: (i + 1) as u32,
                    });
                    i += 1;
                }
            }
            continue;
        }
        out.push(Token {
            code: OP_BASE + u32::from(b),
            start: start as u32,
            end: (i + 1) as u32,
        });
        i += 1;
    }
    out
}

/// Whether the start of a file says it was generated (`@generated`, `DO NOT EDIT`, …): such
/// files are data or tool output, not code the organisation writes or anyone pastes.
pub fn looks_generated(head: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&head[..head.len().min(1024)]).to_ascii_lowercase();
    [
        "@generated",
        "do not edit",
        "code generated",
        "autogenerated",
        "auto-generated",
    ]
    .iter()
    .any(|m| head.contains(m))
}

/// A kept fingerprint and the token index of the k-gram it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    pub hash: u64,
    pub at: u32,
}

fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// Keyed k-gram hashes of a token stream, then winnowed.
pub fn winnow(tokens: &[Token], key: &FingerprintKey, params: Params) -> Vec<Kept> {
    winnow_in(tokens, key, params, 0)
}

/// Hashes of prose k-grams are kept apart from those of code (a different final key).
const PROSE_DOMAIN: u64 = 0x7072_6f73_655f_7631; // "prose_v1"

/// [`winnow`] in a hash domain (0: code; [`PROSE_DOMAIN`]: prose).
fn winnow_in(tokens: &[Token], key: &FingerprintKey, params: Params, domain: u64) -> Vec<Kept> {
    let k = params.k as usize;
    let w = params.w as usize;
    if tokens.len() < k {
        return Vec::new();
    }
    let mut cache: HashMap<u32, u64> = HashMap::new();
    let th: Vec<u64> = tokens
        .iter()
        .map(|t| {
            *cache
                .entry(t.code)
                .or_insert_with(|| key.token_hash(t.code))
        })
        .collect();
    // Rolling polynomial hash over token hashes: h = sum th[i+j] * B^(k-1-j).
    let base = key.base;
    let top = (0..k - 1).fold(1u64, |acc, _| acc.wrapping_mul(base));
    let mut h = 0u64;
    for &x in &th[..k] {
        h = h.wrapping_mul(base).wrapping_add(x);
    }
    // Repetitive k-grams (`pub mod ID ; pub mod ID ;`, a run of `static ID : ID = NUM ;`) are
    // the same in every code base once identifiers are classes: they get the largest hash, so
    // winnowing keeps them only when a whole window is repetitive, and then they are skipped.
    // Distinct tokens are counted over a sliding window.
    let mut counts: HashMap<u32, u16> = HashMap::new();
    let mut distinct = 0usize;
    for t in &tokens[..k] {
        let c = counts.entry(t.code).or_insert(0);
        if *c == 0 {
            distinct += 1;
        }
        *c += 1;
    }
    // (Prose k-grams are shorter than code ones: at most one repeated word in one.)
    let min_distinct = MIN_DISTINCT.min(k.saturating_sub(1)).max(1);
    let mark = |h: u64, distinct: usize| {
        if distinct < min_distinct {
            u64::MAX
        } else {
            fmix64(h ^ key.finish ^ domain)
        }
    };
    let mut grams = Vec::with_capacity(th.len() - k + 1);
    grams.push(mark(h, distinct));
    for i in k..th.len() {
        h = h
            .wrapping_sub(th[i - k].wrapping_mul(top))
            .wrapping_mul(base)
            .wrapping_add(th[i]);
        if let Some(c) = counts.get_mut(&tokens[i - k].code) {
            *c -= 1;
            if *c == 0 {
                distinct -= 1;
            }
        }
        let c = counts.entry(tokens[i].code).or_insert(0);
        if *c == 0 {
            distinct += 1;
        }
        *c += 1;
        grams.push(mark(h, distinct));
    }
    // Robust winnowing: in each window the minimum (rightmost on ties); record a choice once.
    let mut kept = Vec::new();
    if grams.len() <= w {
        let (i, &m) = grams
            .iter()
            .enumerate()
            .rev()
            .min_by_key(|(_, g)| **g)
            .unwrap_or((0, &grams[0]));
        if m != u64::MAX {
            kept.push(Kept {
                hash: m,
                at: i as u32,
            });
        }
        return kept;
    }
    let mut deque: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    let mut last: Option<usize> = None;
    for i in 0..grams.len() {
        while deque.back().is_some_and(|&j| grams[j] >= grams[i]) {
            deque.pop_back();
        }
        deque.push_back(i);
        if deque.front().is_some_and(|&j| j + w <= i) {
            deque.pop_front();
        }
        if i + 1 >= w {
            let m = *deque.front().unwrap_or(&i);
            if last != Some(m) && grams[m] != u64::MAX {
                kept.push(Kept {
                    hash: grams[m],
                    at: m as u32,
                });
            }
            last = Some(m);
        }
    }
    kept
}

/// Prose winnowing parameters: k = 6 words, w = 6, so any shared run of 11 words is found
/// (a sentence), and a paragraph of 60 words keeps about 15 fingerprints.
pub const PROSE_PARAMS: Params = Params { k: 6, w: 6 };

/// The code of a number in prose: every number is the same token, so "Q3 2024" and "Q4 2025"
/// match and a reworded figure does not break a run.
const WORD_NUM: u32 = 2;

/// Words of prose after normalisation: case folded, punctuation, whitespace and layout dropped
/// (a reflowed paragraph, bullet points or a table of the same sentences give the same
/// words), every number one token. Each word's code is a 32-bit hash of its folded form.
pub fn tokenize_prose(text: &[u8]) -> Vec<Token> {
    let text = String::from_utf8_lossy(text);
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let flush = |s: usize, e: usize, out: &mut Vec<Token>| {
        let word = &text[s..e];
        let code = if word.chars().all(|c| c.is_numeric()) {
            WORD_NUM
        } else {
            // FNV-1a over the folded characters; codes below 0x10000 are left to classes.
            let mut h: u32 = 0x811c_9dc5;
            for c in word.chars().flat_map(char::to_lowercase) {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    h ^= u32::from(b);
                    h = h.wrapping_mul(0x0100_0193);
                }
            }
            h | 0x1_0000
        };
        out.push(Token {
            code,
            start: s as u32,
            end: e as u32,
        });
    };
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            flush(s, i, &mut out);
        }
    }
    if let Some(s) = start {
        flush(s, text.len(), &mut out);
    }
    out
}

/// The comments and docstrings of a source file, as prose: `//`, `#`, `--` and `;;` line
/// comments, `/* */` blocks and Python's triple-quoted strings. The rest of each line is code
/// and is left out.
pub fn prose_of_code(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    let mut out = String::new();
    let mut in_block: Option<&str> = None;
    for line in text.lines() {
        let mut rest = line.trim();
        loop {
            if let Some(end) = in_block {
                match rest.find(end) {
                    Some(i) => {
                        out.push_str(rest[..i].trim_start_matches('*').trim());
                        out.push(' ');
                        rest = &rest[i + end.len()..];
                        in_block = None;
                    }
                    None => {
                        out.push_str(rest.trim_start_matches('*').trim());
                        out.push('\n');
                        break;
                    }
                }
            }
            let starts = [("/*", "*/"), ("\"\"\"", "\"\"\""), ("\'\'\'", "\'\'\'")];
            let next = starts
                .iter()
                .filter_map(|(open, close)| rest.find(open).map(|i| (i, *open, *close)))
                .min_by_key(|(i, _, _)| *i);
            let line_comment = ["//", "#", "-- ", ";;"]
                .iter()
                .filter_map(|m| rest.find(m))
                .min();
            match (next, line_comment) {
                (Some((i, open, close)), lc) if lc.is_none_or(|l| i < l) => {
                    rest = &rest[i + open.len()..];
                    in_block = Some(close);
                }
                (_, Some(l)) => {
                    let comment = rest[l..].trim_start_matches(['/', '#', '-', ';', '!']);
                    out.push_str(comment.trim());
                    out.push('\n');
                    break;
                }
                _ => break,
            }
        }
    }
    out
}

/// Builds an index from source files.
#[derive(Debug)]
pub struct IndexBuilder {
    label: String,
    key: FingerprintKey,
    params: Params,
    /// fingerprint -> number of files it occurs in.
    df: HashMap<u64, u32>,
    excluded: HashSet<u64>,
    files: u32,
    lines: u64,
    tokens: u64,
    /// The same for prose (documents, and the comments of code).
    prose_df: HashMap<u64, u32>,
    prose_excluded: HashSet<u64>,
    prose_files: u32,
    documents: u32,
    words: u64,
}

/// How many files of the indexed code a fingerprint may occur in before it counts as
/// boilerplate and is dropped (at least this many, or 1% of the files if more).
pub const BOILERPLATE_MIN_FILES: u32 = 8;

impl IndexBuilder {
    /// # Errors
    /// A short salt or out-of-range parameters.
    pub fn new(label: &str, salt: &[u8], params: Params) -> Result<IndexBuilder, FingerprintError> {
        if !(4..=64).contains(&params.k) || !(1..=64).contains(&params.w) {
            return Err(FingerprintError::BadParams);
        }
        Ok(IndexBuilder {
            label: label.to_string(),
            key: FingerprintKey::new(salt)?,
            params,
            df: HashMap::new(),
            excluded: HashSet::new(),
            files: 0,
            lines: 0,
            tokens: 0,
            prose_df: HashMap::new(),
            prose_excluded: HashSet::new(),
            prose_files: 0,
            documents: 0,
            words: 0,
        })
    }

    /// Adds one document of the organisation's (its text: Markdown, plain text, the text of a
    /// DOCX, PPTX or PDF, a wiki page): its prose is fingerprinted.
    pub fn add_document(&mut self, text: &str) {
        self.documents += 1;
        self.add_prose(text.as_bytes());
    }

    fn add_prose(&mut self, text: &[u8]) {
        let tokens = tokenize_prose(text);
        if tokens.len() < PROSE_PARAMS.k as usize {
            return;
        }
        self.prose_files += 1;
        self.words += tokens.len() as u64;
        let mut seen = HashSet::new();
        for kept in winnow_in(&tokens, &self.key, PROSE_PARAMS, PROSE_DOMAIN) {
            if seen.insert(kept.hash) {
                *self.prose_df.entry(kept.hash).or_insert(0) += 1;
            }
        }
    }

    /// A public document whose prose must never match (a vendor's manual, a standard, the
    /// public website).
    pub fn exclude_reference_document(&mut self, text: &str) {
        let tokens = tokenize_prose(text.as_bytes());
        for kept in winnow_in(&tokens, &self.key, PROSE_PARAMS, PROSE_DOMAIN) {
            self.prose_excluded.insert(kept.hash);
        }
    }

    /// Adds one source file of the organisation's code.
    pub fn add(&mut self, text: &[u8]) {
        let tokens = tokenize(text);
        self.files += 1;
        self.lines += memchr::memchr_iter(b'\n', text).count() as u64 + 1;
        self.tokens += tokens.len() as u64;
        let mut seen = HashSet::new();
        for kept in winnow(&tokens, &self.key, self.params) {
            if seen.insert(kept.hash) {
                *self.df.entry(kept.hash).or_insert(0) += 1;
            }
        }
        // Comments and docstrings are prose: an excerpt that is mostly docstring is
        // recognised too.
        self.add_prose(prose_of_code(text).as_bytes());
    }

    /// Adds a file of public reference code: its fingerprints are excluded from the index, so
    /// code the company shares with the outside world (boilerplate, vendored libraries, common
    /// idioms) never matches.
    pub fn exclude_reference(&mut self, text: &[u8]) {
        let tokens = tokenize(text);
        for kept in winnow(&tokens, &self.key, self.params) {
            self.excluded.insert(kept.hash);
        }
        self.exclude_reference_document(&prose_of_code(text));
    }

    /// The finished index. `created` is seconds since the Unix epoch (passed in for testing).
    pub fn finish(self, created: u64) -> FingerprintIndex {
        // Fingerprints in more than 1% of the files (at least BOILERPLATE_MIN_FILES) are
        // boilerplate; those of the reference are public: both are dropped.
        let (mut dropped_common, mut dropped_reference) = (0u64, 0u64);
        let mut keep = |df: &HashMap<u64, u32>, excluded: &HashSet<u64>, files: u32| {
            let limit = BOILERPLATE_MIN_FILES.max(files / 100);
            let mut kept: Vec<u64> = Vec::with_capacity(df.len());
            for (h, n) in df {
                if excluded.contains(h) {
                    dropped_reference += 1;
                } else if *n > limit {
                    dropped_common += 1;
                } else {
                    kept.push(*h);
                }
            }
            kept.sort_unstable();
            kept
        };
        let fps = keep(&self.df, &self.excluded, self.files);
        let prose = keep(&self.prose_df, &self.prose_excluded, self.prose_files);
        FingerprintIndex {
            label: self.label,
            created,
            params: self.params,
            files: self.files,
            lines: self.lines,
            tokens: self.tokens,
            salt_check: self.key.check,
            dropped_common,
            dropped_reference,
            fingerprints: fps,
            documents: self.documents,
            words: self.words,
            prose,
        }
    }
}

/// A loaded index: sorted keyed fingerprints and what they were built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintIndex {
    pub label: String,
    pub created: u64,
    pub params: Params,
    pub files: u32,
    pub lines: u64,
    pub tokens: u64,
    pub dropped_common: u64,
    pub dropped_reference: u64,
    salt_check: u64,
    fingerprints: Vec<u64>,
    /// Documents indexed (files of code count in `files`; their comments are prose too).
    pub documents: u32,
    /// Words of prose indexed.
    pub words: u64,
    /// Prose fingerprints ([`PROSE_PARAMS`]), sorted.
    prose: Vec<u64>,
}

const MAGIC: &[u8; 8] = b"LGFPIDX\0";
/// Version 1: code only. Version 2 adds a prose section (written only when there is prose,
/// so a code-only index stays byte for byte what version 1 wrote).
const VERSION: u16 = 1;
const VERSION_PROSE: u16 = 2;

/// What matched in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeMatch {
    /// Kept fingerprints of the text found in the index.
    pub matched: usize,
    /// Kept fingerprints of the text.
    pub total: usize,
    /// Byte range from the first to the last matched k-gram.
    pub start: usize,
    pub end: usize,
}

impl CodeMatch {
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            0.0
        } else {
            self.matched as f32 / self.total as f32
        }
    }
}

impl FingerprintIndex {
    /// Number of fingerprints kept.
    pub fn len(&self) -> usize {
        self.fingerprints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty()
    }

    /// Whether `key` is the one the index was built with.
    pub fn accepts(&self, key: &FingerprintKey) -> bool {
        key.check == self.salt_check
    }

    /// The versioned file format: magic, version, parameters, counts, salt check, label,
    /// sorted fingerprints (8 bytes each), SHA-256 of all before it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(
            128 + self.label.len() + (self.fingerprints.len() + self.prose.len()) * 8,
        );
        b.extend_from_slice(MAGIC);
        let version = if self.prose.is_empty() {
            VERSION
        } else {
            VERSION_PROSE
        };
        b.extend_from_slice(&version.to_le_bytes());
        b.extend_from_slice(&self.params.k.to_le_bytes());
        b.extend_from_slice(&self.params.w.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&self.created.to_le_bytes());
        b.extend_from_slice(&self.files.to_le_bytes());
        b.extend_from_slice(&self.lines.to_le_bytes());
        b.extend_from_slice(&self.tokens.to_le_bytes());
        b.extend_from_slice(&self.dropped_common.to_le_bytes());
        b.extend_from_slice(&self.dropped_reference.to_le_bytes());
        b.extend_from_slice(&self.salt_check.to_le_bytes());
        let label = self.label.as_bytes();
        b.extend_from_slice(&(label.len().min(u16::MAX as usize) as u16).to_le_bytes());
        b.extend_from_slice(&label[..label.len().min(u16::MAX as usize)]);
        b.extend_from_slice(&(self.fingerprints.len() as u64).to_le_bytes());
        for f in &self.fingerprints {
            b.extend_from_slice(&f.to_le_bytes());
        }
        if version == VERSION_PROSE {
            b.extend_from_slice(&self.documents.to_le_bytes());
            b.extend_from_slice(&self.words.to_le_bytes());
            b.extend_from_slice(&(self.prose.len() as u64).to_le_bytes());
            for f in &self.prose {
                b.extend_from_slice(&f.to_le_bytes());
            }
        }
        let sum = Sha256::digest(&b);
        b.extend_from_slice(&sum);
        b
    }

    /// Reads an index written by [`FingerprintIndex::to_bytes`].
    ///
    /// # Errors
    /// Wrong magic or version, truncation, a checksum mismatch, unsorted fingerprints.
    pub fn from_bytes(bytes: &[u8]) -> Result<FingerprintIndex, FingerprintError> {
        if bytes.len() < 8 || &bytes[..8] != MAGIC {
            return Err(FingerprintError::NotAnIndex);
        }
        if bytes.len() < 8 + 2 + 32 {
            return Err(FingerprintError::Corrupt("shorter than a header"));
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != VERSION && version != VERSION_PROSE {
            return Err(FingerprintError::Version(version));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != sum {
            return Err(FingerprintError::Checksum);
        }
        let mut r = Reader { b: body, at: 10 };
        let k = r.u16()?;
        let w = r.u16()?;
        let _flags = r.u16()?;
        let created = r.u64()?;
        let files = r.u32()?;
        let lines = r.u64()?;
        let tokens = r.u64()?;
        let dropped_common = r.u64()?;
        let dropped_reference = r.u64()?;
        let salt_check = r.u64()?;
        let label_len = r.u16()? as usize;
        let label = String::from_utf8_lossy(r.take(label_len)?).into_owned();
        let count = r.u64()? as usize;
        let fingerprints = r.hashes(count)?;
        let (documents, words, prose) = if version == VERSION_PROSE {
            let documents = r.u32()?;
            let words = r.u64()?;
            let n = r.u64()? as usize;
            (documents, words, r.hashes(n)?)
        } else {
            (0, 0, Vec::new())
        };
        if r.at != body.len() {
            return Err(FingerprintError::Corrupt(
                "fingerprint count does not match the file size",
            ));
        }
        if !(4..=64).contains(&k) || !(1..=64).contains(&w) {
            return Err(FingerprintError::BadParams);
        }
        Ok(FingerprintIndex {
            label,
            created,
            params: Params { k, w },
            files,
            lines,
            tokens,
            salt_check,
            dropped_common,
            dropped_reference,
            fingerprints,
            documents,
            words,
            prose,
        })
    }

    /// The kept fingerprints of a text found in the index, code and prose: what a
    /// conversation accumulates (keyed hashes, never text).
    pub fn matched_hashes(&self, text: &[u8], key: &FingerprintKey) -> (Vec<u64>, Vec<u64>) {
        let code = winnow(&tokenize(text), key, self.params)
            .into_iter()
            .map(|k| k.hash)
            .filter(|h| self.fingerprints.binary_search(h).is_ok())
            .collect();
        let prose = if self.prose.is_empty() {
            Vec::new()
        } else {
            winnow_in(&tokenize_prose(text), key, PROSE_PARAMS, PROSE_DOMAIN)
                .into_iter()
                .map(|k| k.hash)
                .filter(|h| self.prose.binary_search(h).is_ok())
                .collect()
        };
        (code, prose)
    }

    /// Prose fingerprints held.
    pub fn prose_len(&self) -> usize {
        self.prose.len()
    }

    /// Looks up the prose of a text (every word of it, code or not) in the document part.
    pub fn lookup_prose(&self, text: &[u8], key: &FingerprintKey) -> CodeMatch {
        let tokens = tokenize_prose(text);
        let kept = winnow_in(&tokens, key, PROSE_PARAMS, PROSE_DOMAIN);
        let k = PROSE_PARAMS.k as usize;
        located(&tokens, &kept, k, &self.prose)
    }

    /// Looks up a text's kept fingerprints.
    pub fn lookup(&self, text: &[u8], key: &FingerprintKey) -> CodeMatch {
        let tokens = tokenize(text);
        let kept = winnow(&tokens, key, self.params);
        let k = self.params.k as usize;
        located(&tokens, &kept, k, &self.fingerprints)
    }
}

/// How many of the kept fingerprints are in `index` (sorted), and the byte range from the
/// first matched k-gram to the last.
fn located(tokens: &[Token], kept: &[Kept], k: usize, index: &[u64]) -> CodeMatch {
    let mut matched = 0;
    let (mut start, mut end) = (usize::MAX, 0usize);
    for kp in kept {
        if index.binary_search(&kp.hash).is_ok() {
            matched += 1;
            let first = &tokens[kp.at as usize];
            let last = &tokens[(kp.at as usize + k - 1).min(tokens.len() - 1)];
            start = start.min(first.start as usize);
            end = end.max(last.end as usize);
        }
    }
    if matched == 0 {
        start = 0;
    }
    CodeMatch {
        matched,
        total: kept.len(),
        start,
        end,
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// `n` sorted 64-bit fingerprints.
    fn hashes(&mut self, n: usize) -> Result<Vec<u64>, FingerprintError> {
        let len = n.checked_mul(8).ok_or(FingerprintError::Corrupt(
            "fingerprint count does not match the file size",
        ))?;
        let raw =
            self.b
                .get(self.at..self.at.saturating_add(len))
                .ok_or(FingerprintError::Corrupt(
                    "fingerprint count does not match the file size",
                ))?;
        self.at += len;
        let out: Vec<u64> = raw
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        if out.windows(2).any(|p| p[0] >= p[1]) {
            return Err(FingerprintError::Corrupt("fingerprints are not sorted"));
        }
        Ok(out)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], FingerprintError> {
        let s = self
            .b
            .get(self.at..self.at + n)
            .ok_or(FingerprintError::Corrupt("header cut short"))?;
        self.at += n;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, FingerprintError> {
        Ok(u16::from_le_bytes(
            self.take(2)?
                .try_into()
                .map_err(|_| FingerprintError::Corrupt("header"))?,
        ))
    }
    fn u32(&mut self) -> Result<u32, FingerprintError> {
        Ok(u32::from_le_bytes(
            self.take(4)?
                .try_into()
                .map_err(|_| FingerprintError::Corrupt("header"))?,
        ))
    }
    fn u64(&mut self) -> Result<u64, FingerprintError> {
        Ok(u64::from_le_bytes(
            self.take(8)?
                .try_into()
                .map_err(|_| FingerprintError::Corrupt("header"))?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: &[u8] = b"acme-test-salt";

    fn codes(text: &str) -> Vec<u32> {
        tokenize(text.as_bytes()).iter().map(|t| t.code).collect()
    }

    #[test]
    fn normalisation_ignores_comments_whitespace_and_names_per_language() {
        let pairs: &[(&str, &str)] = &[
            // C / C++ / Java / Go / Rust / JS: `//` and `/* */` comments, renamed identifiers.
            (
                "int total = count(items, 3); // sum\n",
                "int   s=\n  f( xs ,9 ) ; /* renamed */",
            ),
            (
                "for (i = 0; i < n; i++) { x[i] = y; }",
                "for(j=1;j<m;j++){z[j]=w;}",
            ),
            (
                "fn main() { let v = vec![1, 2]; }",
                "fn run ( ) {\n    let items = vec ! [ 7 , 8 ] ;\n}",
            ),
            // Python and shell: `#` comments, docstrings are strings.
            (
                "def f(a):\n    \"\"\"Doc.\"\"\"\n    return a + 1  # one\n",
                "def g(b):\n    '''Other doc'''\n    return b + 2\n",
            ),
            (
                "if [ -f \"$x\" ]; then echo ok; fi",
                "if [ -f \"$yy\" ]; then   echo fine; fi # note",
            ),
            // SQL (`--` comments, case-insensitive keywords) and VHDL.
            (
                "SELECT a, b FROM t WHERE c = 1; -- all",
                "select x , y from u where z = 2 ;",
            ),
            (
                "q <= d when rising_edge(clk); -- reg",
                "out1 <= in1 when rising_edge(ck);",
            ),
            // Verilog.
            (
                "always @(posedge clk) q <= d;",
                "always @(posedge ck) r <= e; // flop",
            ),
        ];
        for (a, b) in pairs {
            assert_eq!(codes(a), codes(b), "{a:?} vs {b:?}");
        }
        // Keywords and operators are kept: different structure, different tokens.
        assert_ne!(codes("while (x) { y(); }"), codes("if (x) { y(); }"));
        assert_ne!(codes("a + b"), codes("a - b"));
        // `#include` is code, not a comment; `i--` is not a comment.
        assert_eq!(codes("#include <stdio.h>").len(), 7);
        assert_eq!(codes("i-- ;").len(), 4);
    }

    #[test]
    fn file_format_round_trips_and_rejects_damage() {
        let mut b = IndexBuilder::new("acme-fw", SALT, Params::default()).unwrap();
        b.add(
            b"int main(void) { int x = read(3); if (x > 10) { printf(\"%d\", x); } return 0; }\n"
                .repeat(3)
                .as_slice(),
        );
        b.add(
            b"def f(a, b):\n    return [x * 2 for x in a if x not in b]\n"
                .repeat(4)
                .as_slice(),
        );
        let idx = b.finish(1_800_000_000);
        assert!(!idx.is_empty());
        let bytes = idx.to_bytes();
        // Compact: header plus 8 bytes per fingerprint plus the checksum.
        assert!(
            bytes.len() <= 128 + idx.label.len() + 8 * idx.len(),
            "{} bytes for {}",
            bytes.len(),
            idx.len()
        );
        let back = FingerprintIndex::from_bytes(&bytes).unwrap();
        assert_eq!(back, idx);
        let mut flipped = bytes.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 1;
        assert!(matches!(
            FingerprintIndex::from_bytes(&flipped),
            Err(FingerprintError::Checksum)
        ));
        assert!(matches!(
            FingerprintIndex::from_bytes(&bytes[..bytes.len() - 9]),
            Err(FingerprintError::Checksum | FingerprintError::Corrupt(_))
        ));
        assert!(matches!(
            FingerprintIndex::from_bytes(b"not an index at all, really"),
            Err(FingerprintError::NotAnIndex)
        ));
        let mut v9 = bytes;
        v9[8] = 9;
        assert!(matches!(
            FingerprintIndex::from_bytes(&v9),
            Err(FingerprintError::Version(9))
        ));
    }

    const MEMO: &str = "The Falcon programme moves the wafer inspection line to the new \
        Hwaseong site in the third quarter. Yield on the pilot lots is still below the target \
        agreed with the customer, so the ramp is held until the defect review on 14 March. \
        Procurement will confirm the second source for the reticle pods before the board meets.";

    fn prose_index(docs: &[&str]) -> FingerprintIndex {
        let mut b = IndexBuilder::new("docs", b"org-salt-123", Params::default()).unwrap();
        for d in docs {
            b.add_document(d);
        }
        b.finish(1)
    }

    #[test]
    fn a_paragraph_of_an_indexed_document_is_found_verbatim_reflowed_and_as_bullets() {
        let key = FingerprintKey::new(b"org-salt-123").unwrap();
        let index = prose_index(&[
            MEMO,
            "An unrelated note about the canteen menu for the week ahead and the parking rules.",
        ]);
        assert!(index.prose_len() > 10, "{}", index.prose_len());
        let all = index.lookup_prose(MEMO.as_bytes(), &key);
        assert_eq!(all.matched, all.total);
        // Reflowed, in other case, as bullets with the full stops gone.
        let bullets: String = MEMO
            .split(". ")
            .map(|s| format!("- {}\n", s.to_uppercase().replace(',', "")))
            .collect();
        let m = index.lookup_prose(bullets.as_bytes(), &key);
        assert!(m.matched * 10 >= m.total * 9, "{m:?}");
        // Lightly edited: a word changed in each sentence, figures changed.
        let edited = MEMO
            .replace("moves", "shifts")
            .replace("still", "now")
            .replace("14 March", "21 April")
            .replace("confirm", "approve");
        let m = index.lookup_prose(edited.as_bytes(), &key);
        assert!(m.matched >= 4, "{m:?}");
        // Unrelated prose shares no fingerprint.
        let other =
            b"Our team met the vendor on Tuesday to discuss pricing for the new laptops and \
            agreed to revisit the contract terms after the holiday season ends next month.";
        assert_eq!(index.lookup_prose(other, &key).matched, 0);
        // Prose and code fingerprints live apart: the memo is not code.
        assert_eq!(index.lookup(MEMO.as_bytes(), &key).matched, 0);
    }

    #[test]
    fn a_prose_index_round_trips_and_a_code_only_index_stays_version_1() {
        let index = prose_index(&[MEMO]);
        let bytes = index.to_bytes();
        assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 2);
        let back = FingerprintIndex::from_bytes(&bytes).unwrap();
        assert_eq!(back, index);
        assert_eq!(back.documents, 1);
        let code_only = IndexBuilder::new("c", b"org-salt-123", Params::default())
            .unwrap()
            .finish(1)
            .to_bytes();
        assert_eq!(u16::from_le_bytes([code_only[8], code_only[9]]), 1);
    }

    #[test]
    fn comments_and_docstrings_of_code_are_prose() {
        let code = b"/* Moves the stage to the die and waits for it to settle. */\nfn step() {\n    // retry twice when the encoder lags behind the command\n    go(); // fast path\n}\ndef f():\n    \"\"\"Return the wafer map of the lot.\n    Raises on a missing lot.\"\"\"\n    return 1\n";
        let prose = prose_of_code(code);
        for want in [
            "Moves the stage to the die and waits for it to settle.",
            "retry twice when the encoder lags behind the command",
            "fast path",
            "Return the wafer map of the lot.",
            "Raises on a missing lot.",
        ] {
            assert!(prose.contains(want), "{want:?} not in {prose:?}");
        }
        assert!(!prose.contains("go()"), "{prose:?}");
    }

    #[test]
    fn the_salt_keys_every_fingerprint() {
        let text = b"static int stage_step(struct die *d) { return move_to(d->x, d->y) ? 0 : -1; } int a; int b; int c;";
        let t = tokenize(text);
        let a = winnow(
            &t,
            &FingerprintKey::new(b"salt-one-1234").unwrap(),
            Params::default(),
        );
        let b = winnow(
            &t,
            &FingerprintKey::new(b"salt-two-1234").unwrap(),
            Params::default(),
        );
        assert!(!a.is_empty());
        let sa: HashSet<u64> = a.iter().map(|k| k.hash).collect();
        assert!(
            b.iter().all(|k| !sa.contains(&k.hash)),
            "different salts share fingerprints"
        );
        let mut builder = IndexBuilder::new("x", b"salt-one-1234", Params::default()).unwrap();
        builder.add(text);
        let idx = builder.finish(0);
        assert!(idx.accepts(&FingerprintKey::new(b"salt-one-1234").unwrap()));
        assert!(!idx.accepts(&FingerprintKey::new(b"salt-two-1234").unwrap()));
        assert!(matches!(
            FingerprintKey::new(b"short"),
            Err(FingerprintError::ShortSalt)
        ));
    }

    #[test]
    fn common_and_reference_fingerprints_are_dropped() {
        let shared = b"import os\nimport sys\nfrom typing import List, Dict, Optional\nfrom dataclasses import dataclass, field\n".to_vec();
        let mut b = IndexBuilder::new("x", SALT, Params::default()).unwrap();
        for i in 0..20 {
            let mut f = shared.clone();
            f.extend_from_slice(
                format!("def unique_{i}(a):\n    return a * {i} + sum(range({i}))\n").as_bytes(),
            );
            b.add(&f);
        }
        let idx = b.finish(0);
        assert!(
            idx.dropped_common > 0,
            "the shared import block is boilerplate"
        );
        let key = FingerprintKey::new(SALT).unwrap();
        assert_eq!(
            idx.lookup(&shared, &key).matched,
            0,
            "boilerplate alone does not match"
        );
    }
}
