//! The bounds of one read, and what is left of them.

use crate::DocError;
use std::io::Read;
use std::time::{Duration, Instant};

/// Bounds for reading one document (with everything inside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bytes that may be expanded from compressed data in all (archive members, Office XML
    /// parts, PDF streams).
    pub max_expanded_bytes: u64,
    /// ... and at most this many times the document's own size (with a 1 MiB floor): a zip
    /// bomb expands thousands of times, real documents tens.
    pub max_ratio: u64,
    /// Text kept for scanning.
    pub max_text_bytes: u64,
    /// Archives inside archives (a document in a zip is one level).
    pub max_depth: u32,
    /// Files in one archive.
    pub max_members: usize,
    /// Time for the whole read.
    pub max_millis: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_expanded_bytes: 256 << 20,
            max_ratio: 200,
            max_text_bytes: 64 << 20,
            max_depth: 4,
            max_members: 10_000,
            max_millis: 10_000,
        }
    }
}

/// What is left of the limits during one read.
#[derive(Debug)]
pub(crate) struct Budget {
    pub limits: Limits,
    expand_limit: u64,
    expanded: u64,
    text: u64,
    deadline: Instant,
}

impl Budget {
    pub fn new(limits: &Limits, input: usize) -> Budget {
        let by_ratio = (input as u64).saturating_mul(limits.max_ratio).max(1 << 20);
        Budget {
            limits: limits.clone(),
            expand_limit: limits.max_expanded_bytes.min(by_ratio),
            expanded: 0,
            text: 0,
            deadline: Instant::now() + Duration::from_millis(limits.max_millis),
        }
    }

    /// Bytes that may still be expanded.
    pub fn expand_left(&self) -> u64 {
        self.expand_limit.saturating_sub(self.expanded)
    }

    pub fn expand_error(&self) -> DocError {
        DocError::Expands {
            limit: self.expand_limit,
        }
    }

    /// Reads a compressed stream to its end, counting what it expands to against the budget.
    pub fn read_all(&mut self, reader: &mut dyn Read) -> Result<Vec<u8>, std::io::Error> {
        let left = self.expand_left();
        let mut out = Vec::new();
        reader.take(left + 1).read_to_end(&mut out)?;
        if out.len() as u64 > left {
            self.expanded = self.expand_limit + 1;
            return Err(std::io::Error::other(BOMB));
        }
        self.expanded += out.len() as u64;
        Ok(out)
    }

    /// Counts expanded bytes read by a parser that bounds itself.
    pub fn take_expanded(&mut self, n: usize) -> Result<(), DocError> {
        self.expanded += n as u64;
        if self.expanded > self.expand_limit {
            return Err(self.expand_error());
        }
        Ok(())
    }

    /// Counts text kept.
    pub fn take_text(&mut self, n: usize) -> Result<(), DocError> {
        self.text += n as u64;
        if self.text > self.limits.max_text_bytes {
            return Err(DocError::TooMuchText {
                limit: self.limits.max_text_bytes,
            });
        }
        Ok(())
    }

    pub fn check_time(&self) -> Result<(), DocError> {
        if Instant::now() > self.deadline {
            return Err(DocError::TooSlow {
                limit_ms: self.limits.max_millis,
            });
        }
        Ok(())
    }

    /// An I/O error from [`Budget::read_all`] as a document error.
    pub fn io_error(&self, kind: crate::Kind, e: std::io::Error) -> DocError {
        if e.to_string() == BOMB {
            self.expand_error()
        } else {
            DocError::Corrupt {
                kind,
                detail: e.to_string(),
            }
        }
    }
}

const BOMB: &str = "expansion over the budget";
