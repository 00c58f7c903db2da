//! Findings of recently scanned text segments, keyed by each segment's SHA-256.
//!
//! API clients send the whole conversation with every turn: the tenth request of a chat
//! carries the nine earlier messages again, and an agent's requests repeat the same long
//! system prompt and tool results. The findings of a segment seen before cannot have changed
//! (scanning depends only on the text and the engine, and the cache lives in
//! [`Loaded`](crate::inspect::Loaded), which a policy reload replaces whole), so only the new
//! segments are scanned. The policy still decides on every request, over all findings, cached
//! or not: a secret in an earlier message blocks every later turn that carries it.
//!
//! The cache holds digests and findings (rule ids, offsets, masked previews), never text.
//! It is bounded: scans with more than [`MAX_FINDINGS`] findings are not kept, and there are
//! two generations of at most half of [`CAPACITY`] entries each; a hit in the older
//! generation moves the entry to the newer one, and when the newer one is full the older is
//! dropped (an approximate LRU at O(1) per access).

use leakguard_types::Finding;
use std::collections::HashMap;
use std::sync::Mutex;

/// Entries kept at most (both generations).
pub const CAPACITY: usize = 4096;

/// Segments shorter than this are scanned every time: a lookup would save little.
pub const MIN_BYTES: usize = 256;

/// Scans with more findings than this are not kept (a dump of thousands of records would
/// make one entry as large as the rest together; such requests are refused anyway).
pub const MAX_FINDINGS: usize = 64;

/// The keys are SHA-256 digests, already uniform: their first eight bytes are the hash.
#[derive(Default, Clone, Copy)]
struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // A `[u8; 32]` key is written as its length, then its bytes: the bytes are the digest.
        if let Some(first) = bytes.first_chunk::<8>() {
            self.0 = u64::from_le_bytes(*first);
        }
    }
    fn write_usize(&mut self, _length: usize) {}
}

type DigestMap = HashMap<[u8; 32], Vec<Finding>, std::hash::BuildHasherDefault<DigestHasher>>;

/// See the module notes.
#[derive(Debug, Default)]
pub struct ScanCache {
    inner: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    young: DigestMap,
    old: DigestMap,
    hits: u64,
    misses: u64,
}

impl std::fmt::Debug for Generations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generations")
            .field("entries", &(self.young.len() + self.old.len()))
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .finish()
    }
}

impl ScanCache {
    /// The findings of the segment whose digest is `key`, scanning it with `scan` if the
    /// cache does not hold them.
    pub fn get_or_scan(&self, key: [u8; 32], scan: impl FnOnce() -> Vec<Finding>) -> Vec<Finding> {
        {
            let mut g = self.lock();
            if let Some(found) = g.young.get(&key).cloned() {
                g.hits += 1;
                return found;
            }
            if let Some(found) = g.old.remove(&key) {
                g.hits += 1;
                g.insert(key, found.clone());
                return found;
            }
            g.misses += 1;
        }
        // Scanned without the lock: another request may scan the same text meanwhile, which
        // costs time, not correctness.
        let found = scan();
        if found.len() <= MAX_FINDINGS {
            self.lock().insert(key, found.clone());
        }
        found
    }

    /// Lookups answered from the cache, and lookups that scanned.
    pub fn stats(&self) -> (u64, u64) {
        let g = self.lock();
        (g.hits, g.misses)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        let g = self.lock();
        g.young.len() + g.old.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every entry (benchmarks measure first sight of a text this way).
    pub fn clear(&self) {
        let mut g = self.lock();
        g.young.clear();
        g.old.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        // A panic while holding the lock leaves whole entries behind (each insert is one
        // map operation): the data stays usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Generations {
    fn insert(&mut self, key: [u8; 32], found: Vec<Finding>) {
        if self.young.len() >= CAPACITY / 2 {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key, found);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakguard_types::{Category, FindingDetail, Severity};

    fn key(i: u32) -> [u8; 32] {
        let mut k = [0u8; 32];
        k[..4].copy_from_slice(&i.wrapping_mul(0x9E37_79B1).to_le_bytes());
        k[4..8].copy_from_slice(&i.to_le_bytes());
        k
    }

    fn finding(start: usize) -> Finding {
        Finding {
            rule: "email-address".into(),
            category: Category::Pii,
            severity: Severity::Medium,
            start,
            end: start + 5,
            confidence: 0.9,
            preview: "j…@acme.com".into(),
            detail: FindingDetail::default(),
        }
    }

    #[test]
    fn a_second_lookup_does_not_scan_and_returns_the_same_findings() {
        let cache = ScanCache::default();
        let mut scans = 0;
        let first = cache.get_or_scan(key(1), || {
            scans += 1;
            vec![finding(7)]
        });
        let second = cache.get_or_scan(key(1), || {
            scans += 1;
            Vec::new()
        });
        assert_eq!(scans, 1);
        assert_eq!(first, second);
        assert_eq!(cache.stats(), (1, 1));
        // Another digest is another segment.
        let other = cache.get_or_scan(key(2), Vec::new);
        assert!(other.is_empty());
        assert_eq!(cache.stats(), (1, 2));
    }

    #[test]
    fn scans_with_many_findings_are_not_kept() {
        let cache = ScanCache::default();
        let many = || (0..=MAX_FINDINGS).map(finding).collect::<Vec<_>>();
        let mut scans = 0;
        for _ in 0..2 {
            let found = cache.get_or_scan(key(9), || {
                scans += 1;
                many()
            });
            assert_eq!(found.len(), MAX_FINDINGS + 1);
        }
        assert_eq!(scans, 2);
        assert!(cache.is_empty());
    }

    #[test]
    fn it_stays_bounded_and_keeps_what_is_used() {
        let cache = ScanCache::default();
        cache.get_or_scan(key(0), || vec![finding(0)]);
        for i in 1..(3 * CAPACITY as u32) {
            cache.get_or_scan(key(i), Vec::new);
            // Key 0 is used all along (a long system prompt): it must survive every rotation.
            if i % (CAPACITY as u32 / 4) == 0 {
                let found = cache.get_or_scan(key(0), || panic!("key 0 was dropped at {i}"));
                assert_eq!(found, vec![finding(0)]);
            }
            assert!(cache.len() <= CAPACITY, "{} entries", cache.len());
        }
        // An entry not used for a whole capacity's worth of inserts is gone.
        let mut rescanned = false;
        cache.get_or_scan(key(1), || {
            rescanned = true;
            Vec::new()
        });
        assert!(rescanned);
    }
}
