//! The result of counting one range, and how results of ranges add up.

use serde::{Deserialize, Serialize};

/// What [`count_range`](super::count_range) found in one range (or, merged, in a whole file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogCounts {
    /// Lines whose first byte lies in the range; a last line without `\n` counts too.
    pub lines: u64,
    /// Per pattern, in the order of [`LogPatterns`](super::LogPatterns): lines counted for it.
    pub counts: Vec<u64>,
    /// Bytes of the counted lines, newlines included: the ranges of a file add up to its size
    /// (for gzip, to its decompressed size).
    pub bytes: u64,
}

impl LogCounts {
    /// All zero, for `patterns` patterns.
    pub fn new(patterns: usize) -> Self {
        LogCounts {
            lines: 0,
            counts: vec![0; patterns],
            bytes: 0,
        }
    }

    /// Adds `other` in. Merging the counts of all ranges of a file, in any order, gives the
    /// counts of the whole file. If the pattern lists differ in length (they should not), the
    /// shorter is treated as padded with zeros.
    pub fn merge(&mut self, other: &LogCounts) {
        self.lines += other.lines;
        self.bytes += other.bytes;
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_field_by_field() {
        let mut total = LogCounts::new(2);
        total.merge(&LogCounts {
            lines: 3,
            counts: vec![1, 2],
            bytes: 30,
        });
        total.merge(&LogCounts {
            lines: 4,
            counts: vec![0, 1, 5],
            bytes: 12,
        });
        assert_eq!(
            total,
            LogCounts {
                lines: 7,
                counts: vec![1, 3, 5],
                bytes: 42,
            }
        );
    }
}
