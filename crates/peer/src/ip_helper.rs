//! Windows' IP Helper tables (`GetExtendedTcpTable`, `GetIpForwardTable`, ...): each is a
//! count followed by rows, asked for with a size the call corrects. One reader for every
//! table, here and in `leakguard-deploy`'s network-change fingerprint, so the unsafe part is
//! written (and run under Wine by `scripts/cross-check.sh`) once.

use windows_sys::Win32::Foundation::{ERROR_INSUFFICIENT_BUFFER, NO_ERROR};

/// A table from an IP Helper `call(buffer, size)` that writes at most `*size` bytes into
/// `buffer` or sets `*size` to what it needs: in a buffer aligned for its rows, asked again
/// while the table grows between the size query and the read. `None` when the call fails.
pub fn table(mut call: impl FnMut(*mut core::ffi::c_void, *mut u32) -> u32) -> Option<Vec<u64>> {
    let mut size: u32 = 0;
    for _ in 0..4 {
        let mut buf = vec![0u64; (size as usize).div_ceil(8).max(1)];
        let mut have = (buf.len() * 8) as u32;
        match call(buf.as_mut_ptr().cast(), &mut have) {
            NO_ERROR => return Some(buf),
            ERROR_INSUFFICIENT_BUFFER => size = have,
            _ => return None,
        }
    }
    None
}

/// The rows of a table read by [`table`]: its leading entry count (a `u32`), then that many
/// rows of type `R` from `offset` (the table struct's `table` field). `None` when the count
/// says more rows than the buffer holds.
pub fn rows<R: Copy>(buf: &[u64], offset: usize) -> Option<Vec<R>> {
    let first = *buf.first()?;
    // The count is the buffer's first four bytes (Windows is little-endian).
    let n = (first as u32) as usize;
    let size = std::mem::size_of::<R>();
    if n.checked_mul(size)?.checked_add(offset)? > buf.len() * 8 {
        return None;
    }
    let base = buf.as_ptr().cast::<u8>();
    Some(
        (0..n)
            .map(|i| {
                // SAFETY: row `i` lies inside the buffer (checked above); rows are plain
                // integers and bytes, read unaligned to be safe whatever the offset.
                #[allow(unsafe_code)]
                unsafe {
                    std::ptr::read_unaligned(base.add(offset + i * size).cast::<R>())
                }
            })
            .collect(),
    )
}
