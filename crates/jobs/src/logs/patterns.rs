//! The job's setup: which byte strings to count lines for.

use serde::{Deserialize, Serialize};

/// The patterns of a `logs` run, in priority order: a line counts for the first one it
/// contains, at most once, as in the seed's `if 'ERROR' in line: ... elif 'WARNING' in line`.
///
/// Matching is exact and case-sensitive on bytes. Build it with [`LogPatterns::new`] to have
/// bad patterns refused at the command line; [`count_range`](super::count_range) checks again
/// and refuses a set that [`LogPatterns::validate`] rejects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPatterns {
    /// The patterns, raw bytes, highest priority first.
    pub patterns: Vec<Vec<u8>>,
}

/// A pattern that cannot be counted line by line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// An empty pattern would be in every line, which is counting lines: that is `lines`.
    #[error("empty pattern")]
    Empty,
    /// A pattern with a newline spans lines, so no single line can contain it.
    #[error("pattern {0:?} contains a newline")]
    Newline(String),
}

impl Default for LogPatterns {
    /// `ERROR` then `WARNING`, the seed's two.
    fn default() -> Self {
        LogPatterns {
            patterns: vec![b"ERROR".to_vec(), b"WARNING".to_vec()],
        }
    }
}

impl LogPatterns {
    /// Checks and wraps `patterns`. An empty list is allowed: only lines are counted.
    pub fn new(patterns: Vec<Vec<u8>>) -> Result<Self, PatternError> {
        let set = LogPatterns { patterns };
        set.validate()?;
        Ok(set)
    }

    /// Refuses empty patterns and patterns containing `\n`.
    pub fn validate(&self) -> Result<(), PatternError> {
        for pattern in &self.patterns {
            if pattern.is_empty() {
                return Err(PatternError::Empty);
            }
            if pattern.contains(&b'\n') {
                return Err(PatternError::Newline(
                    String::from_utf8_lossy(pattern).into_owned(),
                ));
            }
        }
        Ok(())
    }

    /// The longest pattern's length, which bounds how much of an unfinished line must be kept
    /// to find a match that straddles two reads.
    pub(crate) fn max_len(&self) -> usize {
        self.patterns.iter().map(Vec::len).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_seeds() {
        let set = LogPatterns::default();
        assert_eq!(set.patterns, [b"ERROR".to_vec(), b"WARNING".to_vec()]);
        assert_eq!(set.max_len(), 7);
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert_eq!(
            LogPatterns::new(vec![b"".to_vec()]),
            Err(PatternError::Empty)
        );
        let err = LogPatterns::new(vec![b"a\nb".to_vec()]).unwrap_err();
        assert_eq!(err.to_string(), r#"pattern "a\nb" contains a newline"#);
        assert!(LogPatterns::new(vec![]).is_ok());
        assert!(LogPatterns::new(vec![b"\xff\r".to_vec()]).is_ok());
    }
}
