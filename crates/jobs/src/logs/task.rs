//! One task of the `logs` job: a byte range of one file.

use serde::{Deserialize, Serialize};

use super::plan_ranges;

/// Count the lines of one file whose first byte lies in `[start, end)`.
///
/// For a gzip file the offsets are in the decompressed stream; discovery plans gzip files as
/// one task with [`WHOLE_STREAM`](super::WHOLE_STREAM), as for any file `end` = `u64::MAX`
/// means "to the end, however long".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogTask {
    /// The file, raw path bytes.
    pub path: Vec<u8>,
    /// First byte of the range.
    pub start: u64,
    /// One past the last byte of the range.
    pub end: u64,
    /// Read through a gzip decoder (the name ends with `.gz`).
    pub gzip: bool,
}

impl LogTask {
    /// The tasks for one discovered file, in file order: one per range of
    /// [`plan_ranges`]`(size, gzip, target)`. Their merged counts are the file's.
    pub fn split(path: &[u8], size: u64, gzip: bool, target: u64) -> Vec<LogTask> {
        plan_ranges(size, gzip, target)
            .into_iter()
            .map(|(start, end)| LogTask {
                path: path.to_vec(),
                start,
                end,
                gzip,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_follows_the_plan() {
        let tasks = LogTask::split(b"/var/log/x.log", 25, false, 10);
        let ranges: Vec<_> = tasks.iter().map(|t| (t.start, t.end)).collect();
        assert_eq!(ranges, [(0, 8), (8, 16), (16, 25)]);
        assert!(tasks.iter().all(|t| t.path == b"/var/log/x.log" && !t.gzip));
        let gz = LogTask::split(b"a.gz", 1 << 30, true, 10);
        assert_eq!(
            gz,
            [LogTask {
                path: b"a.gz".to_vec(),
                start: 0,
                end: u64::MAX,
                gzip: true,
            }]
        );
    }
}
