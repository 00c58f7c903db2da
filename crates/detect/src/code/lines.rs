//! Lines: where each starts and ends (newlines found a 64-byte block at a time), trimming,
//! Markdown fences.

#[cfg(target_arch = "x86_64")]
use crate::features::BLOCK;

/// Line starts and ends (without the newline) of a text.
pub(super) struct LineTable {
    pub(super) starts: Vec<usize>,
    pub(super) ends: Vec<usize>,
}

impl LineTable {
    pub(super) fn new(hay: &[u8]) -> LineTable {
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
    pub(super) fn len(&self) -> usize {
        self.starts.len()
    }
    pub(super) fn start(&self, i: usize) -> usize {
        self.starts[i]
    }
    pub(super) fn end(&self, i: usize) -> usize {
        self.ends[i]
    }
    pub(super) fn trimmed<'h>(&self, hay: &'h [u8], i: usize) -> &'h [u8] {
        trim(&hay[self.starts[i]..self.ends[i]])
    }
    /// Where [`LineTable::trimmed`] lies in `hay`.
    pub(super) fn trimmed_range(&self, hay: &[u8], i: usize) -> (usize, usize) {
        let t = self.trimmed(hay, i);
        let s = t.as_ptr() as usize - hay.as_ptr() as usize;
        (s, s + t.len())
    }
    /// The line holding byte `pos`.
    pub(super) fn line_of(&self, pos: usize) -> usize {
        self.starts.partition_point(|&s| s <= pos).saturating_sub(1)
    }
}

/// Calls `f` with the position of every `\n` in `hay`, in order. Whole 64-byte blocks become
/// a bit mask (two AVX2 or four SSE2 compares) whose bits are then read: code has a newline
/// every ~20 bytes, and an iterator of `memchr` calls restarts at each one.
pub(super) fn for_each_newline(hay: &[u8], mut f: impl FnMut(usize)) {
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
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(super) fn report_bits(mut m: u64, base: usize, f: &mut impl FnMut(usize)) {
    while m != 0 {
        f(base + m.trailing_zeros() as usize);
        m &= m - 1;
    }
}

/// [`for_each_newline`] over the whole 64-byte blocks of `hay` with SSE2 (part of every
/// x86-64 CPU); returns where the blocks end.
#[cfg(target_arch = "x86_64")]
pub(super) fn newline_blocks_sse2(hay: &[u8], f: &mut impl FnMut(usize)) -> usize {
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
pub(super) unsafe fn newline_blocks_avx2(hay: &[u8], f: &mut impl FnMut(usize)) -> usize {
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
pub(super) fn trim(line: &[u8]) -> &[u8] {
    let mut s = 0;
    while let Some(chunk) = line.get(s..s + 8) {
        if chunk != b"        " {
            break;
        }
        s += 8;
    }
    line[s..].trim_ascii()
}

pub(super) fn fence_open(line: &[u8]) -> Option<String> {
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
