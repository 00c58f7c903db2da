//! One pass over the text that finds the places where a rule without keywords could match:
//! digit clusters, `@` signs, long token runs, and whether the text holds non-ASCII bytes or
//! escapes that the normaliser must undo.
//!
//! The pass works on 64-byte blocks: on AVX2 CPUs nibble-table lookups classify 32 bytes at
//! a time (see [`FLAG_SETS`]), elsewhere branch-free OR-reductions of compares, so on prose
//! (few digits, no `@`, short words) it costs about one instruction per byte; the exact
//! positions are then found only inside the flagged blocks.

pub(crate) const BLOCK: usize = 64;

pub(crate) const F_DIGIT: u8 = 1;
pub(crate) const F_AT: u8 = 2;
pub(crate) const F_HIGH: u8 = 4;
pub(crate) const F_ESCAPE: u8 = 8; // `\`, `%` or `&`
pub(crate) const F_CODE: u8 = 16; // `;{}=(`
pub(crate) const F_TOKEN: u8 = 32; // a 16-byte quarter made only of token characters
pub(crate) const F_FENCE: u8 = 64; // `` ` `` or `~` (markdown fences)

/// The least length of a token run that is always found: any run this long covers at least one
/// aligned 16-byte quarter.
pub(crate) const MIN_TOKEN_RUN: usize = 31;

#[inline(always)]
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-')
}

#[inline(always)]
fn quarter_all_token(q: &[u8]) -> bool {
    let mut all = 1u8;
    for &b in q {
        let lower = b | 0x20;
        let alpha = lower.wrapping_sub(b'a') < 26;
        let digit = b.wrapping_sub(b'0') < 10;
        let sym = (b == b'+') | (b == b'/') | (b == b'=') | (b == b'_') | (b == b'-');
        all &= (alpha | digit | sym) as u8;
    }
    all != 0
}

#[inline(always)]
fn block_flags(block: &[u8]) -> u8 {
    let (mut digit, mut at, mut high, mut esc, mut code) = (0u8, 0u8, 0u8, 0u8, 0u8);
    let mut fence = 0u8;
    for &b in block {
        fence |= ((b == b'`') | (b == b'~')) as u8;
        digit |= (b.wrapping_sub(b'0') < 10) as u8;
        at |= (b == b'@') as u8;
        high |= b >> 7;
        esc |= ((b == b'\\') | (b == b'%') | (b == b'&')) as u8;
        code |= ((b == b';') | (b == b'{') | (b == b'}') | (b == b'=') | (b == b'(')) as u8;
    }
    let mut token = false;
    for q in block.chunks(16) {
        if q.len() == 16 {
            token |= quarter_all_token(q);
        }
    }
    pack(digit != 0, at != 0, high != 0, esc != 0, code != 0, token)
        | (u8::from(fence != 0) * F_FENCE)
}

/// The flag byte of a block from its six findings.
#[inline(always)]
fn pack(digit: bool, at: bool, high: bool, esc: bool, code: bool, token: bool) -> u8 {
    (u8::from(digit) * F_DIGIT)
        | (u8::from(at) * F_AT)
        | (u8::from(high) * F_HIGH)
        | (u8::from(esc) * F_ESCAPE)
        | (u8::from(code) * F_CODE)
        | (u8::from(token) * F_TOKEN)
}

/// [`block_flags`] of a whole 64-byte block with SSE2 (part of every x86-64 CPU): four
/// 16-byte quarters, each flag an OR of lane compares, then one movemask per flag.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn block_flags_sse2(block: &[u8; BLOCK]) -> u8 {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of every x86-64 CPU (the target's baseline), and the only memory
    // access is the load noted below.
    unsafe {
        // Unsigned `lo <= x <= hi` for bytes: `x - lo` wraps below lo, and the minimum with
        // `hi - lo` equals itself only within the range.
        let in_range = |x: __m128i, lo: u8, hi: u8| {
            let d = _mm_sub_epi8(x, _mm_set1_epi8(lo as i8));
            _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(hi.wrapping_sub(lo) as i8)), d)
        };
        let eq = |x: __m128i, c: u8| _mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8));
        let zero = _mm_setzero_si128();
        let (mut digit, mut at, mut high, mut esc, mut code) = (zero, zero, zero, zero, zero);
        let mut fence = zero;
        let mut token = false;
        for q in 0..4 {
            // `q * 16 + 16 <= BLOCK`, the length of `block`.
            let x = _mm_loadu_si128(block.as_ptr().add(q * 16).cast::<__m128i>());
            let d = in_range(x, b'0', b'9');
            digit = _mm_or_si128(digit, d);
            at = _mm_or_si128(at, eq(x, b'@'));
            high = _mm_or_si128(high, x);
            esc = _mm_or_si128(
                esc,
                _mm_or_si128(_mm_or_si128(eq(x, b'\\'), eq(x, b'%')), eq(x, b'&')),
            );
            let c = _mm_or_si128(
                _mm_or_si128(eq(x, b';'), eq(x, b'{')),
                _mm_or_si128(_mm_or_si128(eq(x, b'}'), eq(x, b'=')), eq(x, b'(')),
            );
            code = _mm_or_si128(code, c);
            fence = _mm_or_si128(fence, _mm_or_si128(eq(x, b'`'), eq(x, b'~')));
            let alpha = in_range(_mm_or_si128(x, _mm_set1_epi8(0x20)), b'a', b'z');
            let sym = _mm_or_si128(
                _mm_or_si128(eq(x, b'+'), eq(x, b'/')),
                _mm_or_si128(_mm_or_si128(eq(x, b'='), eq(x, b'_')), eq(x, b'-')),
            );
            token |= _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(alpha, d), sym)) == 0xFFFF;
        }
        let any = |v: __m128i| _mm_movemask_epi8(v) != 0;
        pack(any(digit), any(at), any(high), any(esc), any(code), token)
            | (u8::from(any(fence)) * F_FENCE)
    }
}

/// Whether the AVX2 passes can run here: the CPU reports AVX2 and `LEAKGUARD_NO_AVX2` is not
/// set (for tests and for comparing passes). Checked once per process.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) fn avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static AVX2: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVX2.get_or_init(|| {
            std::env::var_os("LEAKGUARD_NO_AVX2").is_none() && is_x86_feature_detected!("avx2")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Unsigned `lo <= x <= hi` in each byte lane: `x - lo` wraps below `lo`, and its minimum
/// with `hi - lo` equals itself only within the range.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn in_range_avx2(
    x: std::arch::x86_64::__m256i,
    lo: u8,
    hi: u8,
) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    let d = _mm256_sub_epi8(x, _mm256_set1_epi8(lo as i8));
    _mm256_cmpeq_epi8(
        _mm256_min_epu8(d, _mm256_set1_epi8(hi.wrapping_sub(lo) as i8)),
        d,
    )
}

/// Byte sets for the AVX2 pass, looked up by nibbles in the manner of Hyperscan's "shufti": a
/// byte `x` is in set `c` when bit `c` is set in both `lo[x & 15]` and `hi[x >> 4]`. So each
/// set must be a product of high nibbles and low nibbles; a flag whose bytes are not (`\` and
/// `%`) takes two sets. Bytes of 0x80 and above look up zero rows of `hi` and are in no set.
/// Each entry: the set's bit, its high nibbles and its low nibbles (bit `n` = nibble `n`).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const fn nibble_tables(sets: &[(u8, u16, u16)]) -> ([u8; 16], [u8; 16]) {
    let (mut lo, mut hi) = ([0u8; 16], [0u8; 16]);
    let mut i = 0;
    while i < sets.len() {
        let (bit, his, los) = sets[i];
        let mut n = 0;
        while n < 16 {
            if his & (1 << n) != 0 {
                hi[n] |= bit;
            }
            if los & (1 << n) != 0 {
                lo[n] |= bit;
            }
            n += 1;
        }
        i += 1;
    }
    (lo, hi)
}

/// The nibbles `a..=b` as a nibble set.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const fn span(a: u32, b: u32) -> u16 {
    (((1u32 << (b + 1)) - 1) & !((1u32 << a) - 1)) as u16
}

/// The flag sets: digits, `@`, `\`, `%` and `&`, `; = { }` (0x3B 0x3D 0x7B 0x7D), `(`, `` ` ``, `~`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const FLAG_SETS: [(u8, u16, u16); 8] = [
    (1, 1 << 3, span(0, 9)),
    (2, 1 << 4, 1),
    (4, 1 << 5, 1 << 0xC),
    (8, 1 << 2, (1 << 5) | (1 << 6)),
    (16, (1 << 3) | (1 << 7), (1 << 0xB) | (1 << 0xD)),
    (32, 1 << 2, 1 << 8),
    (64, 1 << 6, 1),
    (128, 1 << 7, 1 << 0xE),
];

/// The flag a bit of [`FLAG_SETS`] stands for.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const SET_FLAGS: [u8; 8] = [
    F_DIGIT, F_AT, F_ESCAPE, F_ESCAPE, F_CODE, F_CODE, F_FENCE, F_FENCE,
];

/// Token characters (letters, digits, `+ - / = _`) as six sets: `A-O`/`a-o`, `P-Z`/`p-z`,
/// digits, `+ - /`, `=`, `_`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const TOKEN_SETS: [(u8, u16, u16); 6] = [
    (1, (1 << 4) | (1 << 6), span(1, 15)),
    (2, (1 << 5) | (1 << 7), span(0, 10)),
    (4, 1 << 3, span(0, 9)),
    (8, 1 << 2, (1 << 0xB) | (1 << 0xD) | (1 << 0xF)),
    (16, 1 << 3, 1 << 0xD),
    (32, 1 << 5, 1 << 0xF),
];

/// The flags of a byte holding the OR of [`FLAG_SETS`] bits.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const FLAGS_OF_SETS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut v = 0;
    while v < 256 {
        let mut bit = 0;
        while bit < 8 {
            if v & (1 << bit) != 0 {
                t[v] |= SET_FLAGS[bit];
            }
            bit += 1;
        }
        v += 1;
    }
    t
};

/// [`block_flags`] of a whole 64-byte block with AVX2: per 32 bytes, two nibble lookups
/// ([`FLAG_SETS`]) give every byte's flag sets, OR-ed over the block and turned into flags by
/// one table lookup; two more ([`TOKEN_SETS`]) tell which bytes are token characters, and a
/// 16-byte quarter is a token quarter when none of its bytes is outside them.
///
/// # Safety
/// The CPU must support AVX2 ([`avx2_available`]).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2")]
unsafe fn block_flags_avx2(block: &[u8; BLOCK]) -> u8 {
    use std::arch::x86_64::*;
    const FLAG_TABLES: ([u8; 16], [u8; 16]) = nibble_tables(&FLAG_SETS);
    const TOKEN_TABLES: ([u8; 16], [u8; 16]) = nibble_tables(&TOKEN_SETS);
    // Both 128-bit lanes hold the same table: `vpshufb` looks up within each lane.
    let table = |t: &[u8; 16]| {
        // SAFETY: `t` is 16 bytes, one unaligned 16-byte load.
        _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(t.as_ptr().cast::<__m128i>()) })
    };
    let (flag_lo, flag_hi) = (table(&FLAG_TABLES.0), table(&FLAG_TABLES.1));
    let (token_lo, token_hi) = (table(&TOKEN_TABLES.0), table(&TOKEN_TABLES.1));
    let nibble = _mm256_set1_epi8(0x0F);
    let zero = _mm256_setzero_si256();
    let (mut sets, mut high) = (zero, zero);
    let mut token = false;
    for half in 0..2 {
        // SAFETY: `half * 32 + 32 <= BLOCK`, the length of `block`.
        let x = unsafe { _mm256_loadu_si256(block.as_ptr().add(half * 32).cast::<__m256i>()) };
        let lo = _mm256_and_si256(x, nibble);
        let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(x), nibble);
        let both = |l: __m256i, h: __m256i| {
            _mm256_and_si256(_mm256_shuffle_epi8(l, lo), _mm256_shuffle_epi8(h, hi))
        };
        sets = _mm256_or_si256(sets, both(flag_lo, flag_hi));
        high = _mm256_or_si256(high, x);
        let outside =
            _mm256_movemask_epi8(_mm256_cmpeq_epi8(both(token_lo, token_hi), zero)) as u32;
        token |= (outside & 0xFFFF) == 0 || (outside >> 16) == 0;
    }
    let s = _mm_or_si128(
        _mm256_castsi256_si128(sets),
        _mm256_extracti128_si256::<1>(sets),
    );
    let s = _mm_or_si128(s, _mm_srli_si128::<8>(s));
    let s = _mm_or_si128(s, _mm_srli_si128::<4>(s));
    let s = _mm_or_si128(s, _mm_srli_si128::<2>(s));
    let s = _mm_or_si128(s, _mm_srli_si128::<1>(s));
    let sets = _mm_cvtsi128_si32(s) as u8;
    FLAGS_OF_SETS[usize::from(sets)]
        | (u8::from(_mm256_movemask_epi8(high) != 0) * F_HIGH)
        | (u8::from(token) * F_TOKEN)
}

/// The flags of every block with [`block_flags_avx2`] (the last, partial block scalar).
///
/// # Safety
/// The CPU must support AVX2 ([`avx2_available`]).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2")]
unsafe fn scan_avx2(hay: &[u8]) -> Features {
    let mut flags = Vec::with_capacity(hay.len() / BLOCK + 1);
    let mut all = 0u8;
    for block in hay.chunks(BLOCK) {
        let f = match <&[u8; BLOCK]>::try_from(block) {
            // SAFETY: the caller vouches for AVX2.
            Ok(whole) => unsafe { block_flags_avx2(whole) },
            Err(_) => block_flags(block),
        };
        all |= f;
        flags.push(f);
    }
    Features { flags, all }
}

/// A maximal run of digits joined by separators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DigitCluster {
    pub start: usize,
    pub end: usize,
    pub digits: u32,
}

/// Bit `i` set: lane `i` of `test` over the 64 bytes of `block` is all ones. Four SSE2
/// quarters (SSE2 is part of every x86-64 CPU); `test` maps 16 bytes to their lane masks.
#[cfg(target_arch = "x86_64")]
pub(crate) fn block_mask_sse2(
    block: &[u8; BLOCK],
    test: impl Fn(std::arch::x86_64::__m128i) -> std::arch::x86_64::__m128i,
) -> u64 {
    use std::arch::x86_64::*;
    let mut m = 0u64;
    for q in 0..4 {
        // SAFETY: SSE2 is part of x86-64; `q * 16 + 16 <= BLOCK`, the length of `block`.
        #[allow(unsafe_code)]
        let bits = unsafe {
            _mm_movemask_epi8(test(_mm_loadu_si128(
                block.as_ptr().add(q * 16).cast::<__m128i>(),
            )))
        };
        m |= u64::from(bits as u16) << (16 * q);
    }
    m
}

/// Bit `i` set: `block[i]` is an ASCII digit (`block` at most 64 bytes).
fn digit_mask(block: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if let Ok(whole) = <&[u8; BLOCK]>::try_from(block) {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of x86-64.
        #[allow(unsafe_code)]
        return block_mask_sse2(whole, |x| unsafe {
            let d = _mm_sub_epi8(x, _mm_set1_epi8(b'0' as i8));
            _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d)
        });
    }
    block
        .iter()
        .enumerate()
        .filter(|(_, b)| b.is_ascii_digit())
        .fold(0, |m, (i, _)| m | 1 << i)
}

/// The iterator of [`Features::blocks`].
pub(crate) struct Blocks<'a> {
    words: std::slice::Chunks<'a, u8>,
    splat: u64,
    /// First block of the word in `pending`, and of the next word.
    base: usize,
    next_base: usize,
    /// The flag bits of the current word not yet reported.
    pending: u64,
}

impl Iterator for Blocks<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.pending == 0 {
            let word = self.words.next()?;
            let mut bytes = [0u8; 8];
            bytes[..word.len()].copy_from_slice(word);
            self.pending = u64::from_le_bytes(bytes) & self.splat;
            self.base = self.next_base;
            self.next_base += 8;
        }
        let byte = self.pending.trailing_zeros() as usize / 8;
        self.pending &= !(0xFF << (8 * byte));
        Some(self.base + byte)
    }
}

/// What the pass found.
#[derive(Debug, Default)]
pub(crate) struct Features {
    pub flags: Vec<u8>,
    pub all: u8,
}

impl Features {
    pub(crate) fn scan(hay: &[u8]) -> Features {
        #[cfg(target_arch = "x86_64")]
        if avx2_available() {
            // SAFETY: the CPU reported AVX2.
            #[allow(unsafe_code)]
            return unsafe { scan_avx2(hay) };
        }
        let mut flags = Vec::with_capacity(hay.len() / BLOCK + 1);
        let mut all = 0u8;
        for block in hay.chunks(BLOCK) {
            #[cfg(target_arch = "x86_64")]
            let f = match <&[u8; BLOCK]>::try_from(block) {
                Ok(whole) => block_flags_sse2(whole),
                Err(_) => block_flags(block),
            };
            #[cfg(not(target_arch = "x86_64"))]
            let f = block_flags(block);
            all |= f;
            flags.push(f);
        }
        Features { flags, all }
    }

    pub(crate) fn any(&self, flag: u8) -> bool {
        self.all & flag != 0
    }

    /// Indexes of blocks carrying any bit of `flag`, in order. The flags are read eight at a
    /// time as one word, so a text with few flagged blocks costs a test per eight blocks.
    pub(crate) fn blocks(&self, flag: u8) -> Blocks<'_> {
        Blocks {
            words: if self.all & flag == 0 {
                [].chunks(8)
            } else {
                self.flags.chunks(8)
            },
            splat: u64::from(flag) * 0x0101_0101_0101_0101,
            base: 0,
            next_base: 0,
            pending: 0,
        }
    }

    /// Digit clusters: digits joined by at most two of ` -./()+` between groups.
    pub(crate) fn digit_clusters(&self, hay: &[u8]) -> Vec<DigitCluster> {
        let mut out = Vec::new();
        if !self.any(F_DIGIT) {
            return out;
        }
        let mut resume = 0usize;
        for bi in self.blocks(F_DIGIT) {
            let base = bi * BLOCK;
            let block_end = (base + BLOCK).min(hay.len());
            // The block's digits as bits; a cluster may start at each one not yet covered.
            let mut digits_left = digit_mask(&hay[base..block_end]);
            while digits_left != 0 {
                let i = base + digits_left.trailing_zeros() as usize;
                digits_left &= digits_left - 1;
                if i < resume {
                    continue;
                }
                let start = i;
                let mut end = i;
                let mut digits = 0u32;
                let mut j = i;
                while j < hay.len() {
                    if hay[j].is_ascii_digit() {
                        digits += 1;
                        j += 1;
                        end = j;
                        continue;
                    }
                    // Up to two separator bytes may join digit groups.
                    let mut k = j;
                    while k < hay.len()
                        && k - j < 2
                        && matches!(hay[k], b' ' | b'-' | b'.' | b'/' | b'(' | b')' | b'+')
                    {
                        k += 1;
                    }
                    if k > j && k < hay.len() && hay[k].is_ascii_digit() {
                        j = k;
                    } else {
                        break;
                    }
                }
                out.push(DigitCluster { start, end, digits });
                resume = end;
            }
        }
        out
    }

    /// Positions where three backticks or three tildes begin (every such position: a run of
    /// four gives two). Every byte of a mark sets [`F_FENCE`] in its block, so a mark lies whole
    /// inside one run of consecutive flagged blocks, and only those runs are searched.
    pub(crate) fn fence_marks(&self, hay: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut blocks = self.blocks(F_FENCE).peekable();
        while let Some(first) = blocks.next() {
            let mut last = first;
            while blocks.peek() == Some(&(last + 1)) {
                last += 1;
                blocks.next();
            }
            let (s, e) = (first * BLOCK, ((last + 1) * BLOCK).min(hay.len()));
            for p in memchr::memchr2_iter(b'`', b'~', &hay[s..e]).map(|p| s + p) {
                if hay.get(p + 1) == Some(&hay[p]) && hay.get(p + 2) == Some(&hay[p]) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// Positions of `@`.
    pub(crate) fn at_signs(&self, hay: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        for bi in self.blocks(F_AT) {
            let base = bi * BLOCK;
            let end = (base + BLOCK).min(hay.len());
            out.extend(memchr::memchr_iter(b'@', &hay[base..end]).map(|p| base + p));
        }
        out
    }

    /// Maximal runs of token characters that are at least [`MIN_TOKEN_RUN`] long.
    pub(crate) fn token_runs(&self, hay: &[u8]) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = Vec::new();
        for bi in self.blocks(F_TOKEN) {
            let base = bi * BLOCK;
            for q in 0..4 {
                let qs = base + q * 16;
                if qs + 16 > hay.len() || !quarter_all_token(&hay[qs..qs + 16]) {
                    continue;
                }
                if out.last().is_some_and(|&(_, e)| e >= qs + 16) {
                    continue;
                }
                let mut s = qs;
                while s > 0 && is_token_byte(hay[s - 1]) {
                    s -= 1;
                }
                let mut e = qs + 16;
                while e < hay.len() && is_token_byte(hay[e]) {
                    e += 1;
                }
                if e - s >= MIN_TOKEN_RUN {
                    out.push((s, e));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_flags_equal_the_scalar_flags() {
        // Random blocks biased towards the bytes the flags look at, and every byte value alone.
        let interesting = b"09/:@\\%&;{}=(+-_azAZ `~\xff\x80.";
        let mut next = crate::test_rng(0x2545_f491_4f6c_dd1d);
        let mut avx2_checked = 0;
        for round in 0..20_000 {
            let mut block = [0u8; BLOCK];
            for b in block.iter_mut() {
                let r = next();
                *b = if r.is_multiple_of(4) {
                    (r >> 8) as u8
                } else {
                    interesting[(r >> 8) as usize % interesting.len()]
                };
            }
            if round % 3 == 0 {
                // A token quarter somewhere.
                let q = (next() % 4) as usize * 16;
                for b in &mut block[q..q + 16] {
                    *b = b"Ab9+/=_-"[(next() % 8) as usize];
                }
            }
            assert_eq!(block_flags_sse2(&block), block_flags(&block), "{block:?}");
            if avx2_available() {
                // SAFETY: the CPU reported AVX2.
                #[allow(unsafe_code)]
                let v = unsafe { block_flags_avx2(&block) };
                assert_eq!(v, block_flags(&block), "avx2 {block:?}");
                avx2_checked += 1;
            }
        }
        for v in 0..=255u8 {
            let block = [v; BLOCK];
            assert_eq!(block_flags_sse2(&block), block_flags(&block), "byte {v}");
            if avx2_available() {
                // SAFETY: the CPU reported AVX2.
                #[allow(unsafe_code)]
                let f = unsafe { block_flags_avx2(&block) };
                assert_eq!(f, block_flags(&block), "avx2 byte {v}");
            }
        }
        // This machine has AVX2; elsewhere the scalar and SSE2 passes are the ones in use.
        assert!(avx2_checked == 20_000 || !avx2_available());
    }

    /// The nibble tables put every byte value in exactly the sets they stand for.
    #[test]
    fn nibble_sets_hold_exactly_their_bytes() {
        let flags = nibble_tables(&FLAG_SETS);
        let token = nibble_tables(&TOKEN_SETS);
        for v in 0..=255u8 {
            let set =
                |t: &([u8; 16], [u8; 16])| t.0[usize::from(v & 15)] & t.1[usize::from(v >> 4)];
            let want = block_flags(&[v]) & !(F_HIGH | F_TOKEN);
            assert_eq!(FLAGS_OF_SETS[usize::from(set(&flags))], want, "byte {v}");
            assert_eq!(set(&token) != 0, is_token_byte(v), "token byte {v}");
        }
    }

    /// `blocks` reports exactly the blocks carrying any of the asked bits, in order, for
    /// every length around the eight-block words.
    #[test]
    fn blocks_are_the_flagged_blocks_in_order() {
        let mut next = crate::test_rng(0x5DEE_CE66_D1CE_4E5B);
        for len in 0..40 {
            for _ in 0..20 {
                let flags: Vec<u8> = (0..len)
                    .map(|_| (next() >> 13) as u8 & (next() >> 7) as u8)
                    .collect();
                let all = flags.iter().fold(0, |a, f| a | f);
                let f = Features { flags, all };
                for flag in [
                    F_DIGIT,
                    F_AT,
                    F_HIGH,
                    F_CODE | F_FENCE,
                    F_TOKEN,
                    F_FENCE,
                    0xFF,
                ] {
                    let want: Vec<usize> = (0..len).filter(|&i| f.flags[i] & flag != 0).collect();
                    assert_eq!(
                        f.blocks(flag).collect::<Vec<_>>(),
                        want,
                        "{:?} {flag}",
                        f.flags
                    );
                }
            }
        }
    }

    #[test]
    fn clusters_join_separated_digit_groups() {
        let hay = b"card 4111 1111-1111 1111 and 42, then 2024-01-05. Call (415) 555-2671";
        let f = Features::scan(hay);
        let got: Vec<(&str, u32)> = f
            .digit_clusters(hay)
            .iter()
            .map(|c| (std::str::from_utf8(&hay[c.start..c.end]).unwrap(), c.digits))
            .collect();
        assert_eq!(
            got,
            vec![
                ("4111 1111-1111 1111", 16),
                ("42", 2),
                ("2024-01-05", 8),
                ("415) 555-2671", 10)
            ]
        );
    }

    #[test]
    fn clusters_cross_block_boundaries_once() {
        let mut hay = vec![b'x'; 60];
        hay.extend_from_slice(b" 1234 5678 9012 ");
        let f = Features::scan(&hay);
        let c = f.digit_clusters(&hay);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].digits, 12);
    }

    #[test]
    fn token_runs_of_31_or_more_are_always_found() {
        for offset in 0..40 {
            for len in [31usize, 32, 47, 80] {
                let mut hay = vec![b' '; offset];
                hay.extend(std::iter::repeat_n(b'Q', len));
                hay.extend_from_slice(b" tail");
                let f = Features::scan(&hay);
                assert_eq!(
                    f.token_runs(&hay),
                    vec![(offset, offset + len)],
                    "offset {offset} len {len}"
                );
            }
        }
    }

    /// The vector digit mask equals the bytes' own test for every byte value at every place.
    #[test]
    fn digit_mask_marks_exactly_the_digits() {
        let mut next = crate::test_rng(0xD1B5_4A32_D192_ED03);
        for v in 0..=255u8 {
            for at in 0..BLOCK {
                let mut block = [0u8; BLOCK];
                for b in &mut block {
                    *b = (next() >> 11) as u8;
                }
                block[at] = v;
                let want = (0..BLOCK)
                    .filter(|&i| block[i].is_ascii_digit())
                    .fold(0u64, |m, i| m | 1 << i);
                assert_eq!(digit_mask(&block), want, "byte {v} at {at}");
                assert_eq!(
                    digit_mask(&block[..at]),
                    want & ((1u64 << at) - 1),
                    "partial {at}"
                );
            }
        }
    }

    /// Fence marks equal a search of every position, in random texts of fence bytes and
    /// others, whatever their place against the block boundaries.
    #[test]
    fn fence_marks_are_every_triple_backtick_or_tilde() {
        let mut next = crate::test_rng(0x2545_F491_4F6C_DD1D);
        for round in 0..3000 {
            let len = (next() % 300) as usize;
            let hay: Vec<u8> = (0..len)
                .map(|_| match next() % 10 {
                    0..=3 => b'`',
                    4..=5 => b'~',
                    6 => b'\n',
                    _ => b'a',
                })
                .collect();
            let want: Vec<usize> = (0..len.saturating_sub(2))
                .filter(|&p| matches!(&hay[p..p + 3], b"```" | b"~~~"))
                .collect();
            assert_eq!(
                Features::scan(&hay).fence_marks(&hay),
                want,
                "round {round}"
            );
        }
    }

    #[test]
    fn prose_sets_no_flags_but_code_does() {
        let prose =
            b"The quarterly review went well and the team agreed on the next steps for the launch.";
        let f = Features::scan(prose);
        assert!(!f.any(F_DIGIT | F_AT | F_HIGH | F_ESCAPE | F_CODE | F_TOKEN | F_FENCE));
        let fenced = b"Here it is:\n~~~\nprint 'x'\n~~~\nand `inline` too";
        assert!(Features::scan(fenced).any(F_FENCE));
        let code = b"int main(void) { return x == 1; }";
        assert!(Features::scan(code).any(F_CODE | F_DIGIT));
        assert!(Features::scan("é".as_bytes()).any(F_HIGH));
        let at = b"mail jane@acme.com now";
        assert_eq!(Features::scan(at).at_signs(at), vec![9]);
    }
}
