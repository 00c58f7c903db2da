//! Whether one line is code, from its shape: how it ends, operators, calls, indentation,
//! statement keywords, with a small penalty for sentence-like lines.

/// Words that start a statement in common languages; one at the start of a line is evidence.
pub(super) fn starts_statement(word: &[u8]) -> bool {
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
pub(super) fn is_sql_clause(word: &[u8]) -> bool {
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
pub(super) enum LineKind {
    Blank,
    Code,
    /// Some evidence (`package main`, a decorator, a comment): part of a region it borders,
    /// never the start of one.
    Weak,
    Other,
}

/// 0: letter, digit, `_` or non-ASCII; 1: space; 2: any other symbol.
pub(super) const BYTE_CLASS: [u8; 256] = {
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
pub(super) struct LineCounts {
    pub(super) words: i32,
    pub(super) symbols: i32,
    pub(super) ops: i32,
    pub(super) calls: i32,
    pub(super) assign: bool,
}

impl LineCounts {
    /// The counts of an empty line (one word: words are spaces plus one).
    pub(super) const EMPTY: LineCounts = LineCounts {
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
pub(super) fn line_counts(hay: &[u8], s: usize, e: usize) -> LineCounts {
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
pub(super) fn symbol_at(b: u8, prev: u8, next: u8, c: &mut LineCounts) {
    // Table lookups and bitwise ands, not branches: which symbol comes next is anyone's guess.
    c.ops += i32::from((OP_NEXT[b as usize] >> OP_INDEX[next as usize]) & 1);
    // (The byte before a line, 0, is a symbol in `BYTE_CLASS`: no call.)
    c.calls += i32::from((b == b'(') & (BYTE_CLASS[prev as usize] == 0));
    c.assign |= (b == b'=') & (prev == b' ') & (next == b' ');
}

pub(super) fn line_counts_scalar(t: &[u8]) -> LineCounts {
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
pub(super) const OPERATORS: [&[u8; 2]; 16] = [
    b"==", b"!=", b"->", b"=>", b"::", b":=", b"&&", b"||", b"+=", b"-=", b"<=", b">=", b"++",
    b"<<", b">>", b"//",
];

/// The bytes of [`OPERATORS`], numbered from 1; every other byte is 0.
pub(super) const OP_INDEX: [u8; 256] = {
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
pub(super) const OP_NEXT: [u16; 256] = {
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
pub(super) unsafe fn line_counts_avx2(hay: &[u8], s: usize, e: usize) -> LineCounts {
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
pub(super) fn classify(hay: &[u8], s: usize, e: usize) -> LineKind {
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
