//! The `logs` job: per file, count lines and lines per pattern (default `ERROR` then
//! `WARNING`, a line counting for the first it contains), as the seed's log example does,
//! but on bytes, fast, and with big files split across workers.
//!
//! [`discover_logs`] runs in the parent and yields [`LogFound`] entries; [`LogTask::split`]
//! (over [`plan_ranges`]) turns each file into byte-range tasks, whose work is
//! [`count_range`] with the run's [`LogPatterns`], or [`count_range_mapped`], the same counted
//! in place where a process may die of a file shrinking under its mapping (a supervised
//! worker). [`LogCounts::merge`] adds a file's ranges back up; a line belongs to the range
//! holding its first byte, so the sum is exact.

mod count_range;
mod counter;
mod counts;
mod discover;
pub(crate) mod line_scan;
mod patterns;
mod pieces;
mod ranges;
mod task;
#[cfg(test)]
mod test_rng;

pub use crate::walk::SkipReason;
pub use count_range::{LogError, MAP_FROM, READ_SIZE, count_range, count_range_mapped};
pub use counts::LogCounts;
pub use discover::{DEFAULT_GLOB, DiscoverLogs, GlobError, LogFound, discover_logs};
pub use patterns::{LogPatterns, PatternError};
pub use ranges::{WHOLE_STREAM, plan_ranges};
pub use task::LogTask;
