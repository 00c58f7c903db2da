//! Accumulation over a conversation: lines of code and fingerprints of company code and
//! documents that each message holds too few of add up over the messages of one conversation
//! (named by the endpoint: a body field or a path segment), so a paste split into pieces is
//! caught by the piece that crosses the line. What is kept is the digest of each message seen
//! and the keyed fingerprint hashes matched, in memory, for a bounded time and number of
//! conversations; never text.

use leakguard_detect::Signals;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Messages remembered per conversation (beyond it the oldest half is forgotten: a message
/// seen again may then count twice, which errs on the side of catching).
const MAX_MESSAGES: usize = 2048;
/// Fingerprint hashes remembered per index and kind in one conversation.
const MAX_HASHES: usize = 8192;

#[derive(Debug, Default)]
struct Conv {
    last: Option<Instant>,
    seen: HashSet<[u8; 32]>,
    messages: u32,
    code_lines: u32,
    code: Vec<HashSet<u64>>,
    prose: Vec<HashSet<u64>>,
}

/// What a conversation holds after a request, and what the request added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Distinct messages counted.
    pub messages: u32,
    pub code_lines: u32,
    /// Per fingerprint index: distinct matched code and prose fingerprints.
    pub code: Vec<usize>,
    pub prose: Vec<usize>,
    /// What this request's new messages added.
    pub added_code_lines: u32,
    pub added_code: Vec<usize>,
    pub added_prose: Vec<usize>,
}

impl Conv {
    fn add(&mut self, messages: &[([u8; 32], &Signals)]) -> Totals {
        // (A message not read for signals, over the size limit, has none: the widest decides.)
        let n = messages
            .iter()
            .map(|(_, s)| s.fingerprints.len())
            .max()
            .unwrap_or(0)
            .max(self.code.len());
        self.code.resize_with(n, HashSet::new);
        self.prose.resize_with(n, HashSet::new);
        let mut t = Totals {
            added_code: vec![0; n],
            added_prose: vec![0; n],
            ..Totals::default()
        };
        for (digest, signals) in messages {
            if !self.seen.insert(*digest) {
                continue;
            }
            if self.seen.len() > MAX_MESSAGES {
                let keep: Vec<[u8; 32]> =
                    self.seen.iter().take(MAX_MESSAGES / 2).copied().collect();
                self.seen = keep.into_iter().collect();
            }
            self.messages += 1;
            self.code_lines = self.code_lines.saturating_add(signals.code_lines);
            t.added_code_lines += signals.code_lines;
            for (i, (code, prose)) in signals.fingerprints.iter().enumerate().take(n) {
                for (set, added, hashes) in [
                    (&mut self.code[i], &mut t.added_code[i], code),
                    (&mut self.prose[i], &mut t.added_prose[i], prose),
                ] {
                    for h in hashes {
                        if set.len() < MAX_HASHES && set.insert(*h) {
                            *added += 1;
                        }
                    }
                }
            }
        }
        t.messages = self.messages;
        t.code_lines = self.code_lines;
        t.code = self.code.iter().map(HashSet::len).collect();
        t.prose = self.prose.iter().map(HashSet::len).collect();
        t
    }
}

/// The conversations seen lately.
#[derive(Debug, Default)]
pub struct Conversations {
    inner: Mutex<HashMap<[u8; 32], Conv>>,
}

impl Conversations {
    /// Counts the request's messages (digest and signals each) into its conversation (`key`,
    /// a digest of the host and the conversation id) or, without one, into a tally of this
    /// request alone (an API request carries its whole history anyway). `window`: how long an
    /// idle conversation is kept; `max`: how many are kept at once.
    pub fn add(
        &self,
        key: Option<[u8; 32]>,
        messages: &[([u8; 32], &Signals)],
        window: Duration,
        max: usize,
    ) -> Totals {
        let Some(key) = key else {
            return Conv::default().add(messages);
        };
        let now = Instant::now();
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(&key) && map.len() >= max.max(1) {
            map.retain(|_, c| c.last.is_some_and(|l| now.duration_since(l) < window));
            while map.len() >= max.max(1) {
                let oldest = map.iter().min_by_key(|(_, c)| c.last).map(|(k, _)| *k);
                match oldest {
                    Some(k) => map.remove(&k),
                    None => break,
                };
            }
        }
        let conv = map.entry(key).or_default();
        if conv.last.is_some_and(|l| now.duration_since(l) >= window) {
            *conv = Conv::default();
        }
        conv.last = Some(now);
        conv.add(messages)
    }

    /// Conversations held.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(lines: u32, code: &[u64]) -> Signals {
        Signals {
            code_lines: lines,
            fingerprints: vec![(code.to_vec(), Vec::new())],
        }
    }

    #[test]
    fn pieces_add_up_once_each_and_conversations_are_bounded() {
        let c = Conversations::default();
        let w = Duration::from_secs(60);
        let a = sig(2, &[1, 2]);
        let b = sig(2, &[2, 3]);
        let t = c.add(Some([1; 32]), &[([10; 32], &a)], w, 10);
        assert_eq!((t.code_lines, t.code[0]), (2, 2));
        // The same message again (an API request resends its history) counts once.
        let t = c.add(Some([1; 32]), &[([10; 32], &a), ([11; 32], &b)], w, 10);
        assert_eq!((t.messages, t.code_lines, t.code[0]), (2, 4, 3));
        assert_eq!((t.added_code_lines, t.added_code[0]), (2, 1));
        // Another conversation starts from nothing; without an id, only the request counts.
        let t = c.add(Some([2; 32]), &[([11; 32], &b)], w, 10);
        assert_eq!(t.code_lines, 2);
        let t = c.add(None, &[([10; 32], &a), ([11; 32], &b)], w, 10);
        assert_eq!(t.code_lines, 4);
        assert_eq!(c.len(), 2);
        // At the cap the oldest is forgotten.
        for k in 3..20u8 {
            c.add(Some([k; 32]), &[([k; 32], &a)], w, 5);
        }
        assert_eq!(c.len(), 5);
        // A message without signals (over the size limit) first changes nothing.
        let t = c.add(
            None,
            &[([50; 32], &Signals::default()), ([51; 32], &a)],
            w,
            5,
        );
        assert_eq!((t.code_lines, t.code, t.added_code), (2, vec![2], vec![2]));
        // A conversation idle for longer than the window starts again.
        let t = c.add(Some([19; 32]), &[([99; 32], &a)], Duration::ZERO, 5);
        assert_eq!(t.messages, 1);
    }
}
