//! Counting one range of one file: the per-task work of the `logs` job, run in a worker.

use std::io::{self, Seek, SeekFrom};

use flate2::read::MultiGzDecoder;
use memchr::memchr;
use serde::{Serialize, Serializer};

use super::counter::LineCounter;
use super::patterns::{LogPatterns, PatternError};
use super::pieces::{MappedPieces, Pieces, ReadPieces, WINDOW};
use super::{LogCounts, LogTask};
use crate::describe_io_error;
use crate::open_regular::{OpenError, open_regular};

/// Bytes read per piece: large enough that syscall overhead vanishes next to the scan, small
/// enough that the piece the kernel just copied is still in the core's own cache (1 MiB of L2
/// on this project's AMD EPYC) when the scan reads it. Measured with paired rounds on the
/// benchmark logs: 128 KiB is 4-5% faster than 1 MiB, 64 KiB 2% slower than 128 KiB.
pub const READ_SIZE: usize = 1 << 17;

/// Why a range could not be counted. An ordinary result, not a reason to retry.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Opening, inspecting or reading the file failed.
    #[error("{}", describe_io_error(.0))]
    Io(io::Error),
    /// A `.gz` file is not valid gzip (or is truncated).
    #[error("gzip: {}", describe_io_error(.0))]
    Gzip(io::Error),
    /// The path names a directory (possibly replaced since discovery).
    #[error("Is a directory")]
    IsDirectory,
    /// The path names a FIFO, socket or device (possibly replaced since discovery).
    #[error("not a regular file")]
    NotRegular,
    /// The patterns cannot be counted (see [`LogPatterns::validate`]).
    #[error(transparent)]
    Pattern(#[from] PatternError),
}

impl LogError {
    /// The user-facing message, e.g. `"Permission denied"`, without `"(os error N)"`.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl From<io::Error> for LogError {
    fn from(err: io::Error) -> Self {
        LogError::Io(err)
    }
}

impl From<OpenError> for LogError {
    fn from(err: OpenError) -> Self {
        match err {
            OpenError::Io(err) => LogError::Io(err),
            OpenError::IsDirectory => LogError::IsDirectory,
            OpenError::NotRegular => LogError::NotRegular,
        }
    }
}

/// Serialized as its message: the kind of error is not needed across the process boundary,
/// and `io::Error` itself cannot be serialized.
impl Serialize for LogError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.message())
    }
}

/// Counts the lines of `task`'s range: every line whose first byte lies in `[start, end)`,
/// reading past `end` to finish the last one, and for each line the first pattern (in order)
/// it contains, if any.
///
/// The line at `start` belongs to this range only if byte `start - 1` is a newline; otherwise
/// it belongs to the previous range and counting begins after the next newline. So the ranges
/// of [`plan_ranges`](super::plan_ranges), wherever they cut, count every line exactly once.
///
/// Works on bytes: invalid UTF-8 is just bytes, `\r\n` ends one line, a last line without a
/// newline counts, and a line of any length is counted in bounded memory. `buf` is the
/// caller's reusable read buffer, grown to [`READ_SIZE`] plus the longest pattern if smaller.
///
/// The file is opened as `hash_file` opens it: `O_NONBLOCK`, then checked to be regular on
/// the open descriptor, so a FIFO swapped in since discovery cannot block the worker. It is
/// read with `read(2)`: a file that shrinks meanwhile (`copytruncate`) just ends early, each
/// range counting the lines it read. [`count_range_mapped`] counts the same faster, where a
/// crash is survivable.
pub fn count_range(
    task: &LogTask,
    patterns: &LogPatterns,
    buf: &mut Vec<u8>,
) -> Result<LogCounts, LogError> {
    count_range_by(task, patterns, buf, Access::Read)
}

/// [`count_range`], counting a plain file's range of at least [`MAP_FROM`] bytes in place:
/// the file is mapped (32 MiB at a time) instead of copied into `buf`: 0.87 of the wall time
/// on the bench's logs of 24 MB, 0.85 of the CPU time on logs of 256 KiB. The counts are [`count_range`]'s, and so is every
/// error; a file that cannot be mapped (a file system without `mmap`) is read.
///
/// # Crash hazard
///
/// If the file shrinks while it is mapped (`copytruncate` of a log being counted), touching a
/// page past its new end raises SIGBUS, which **kills the calling process**. Call this only
/// where that is contained, in a worker process whose death is detected, and count the task
/// again with [`count_range`]: the `logs` job maps on a task's first attempt and reads when the
/// engine runs it again after its worker died.
pub fn count_range_mapped(
    task: &LogTask,
    patterns: &LogPatterns,
    buf: &mut Vec<u8>,
) -> Result<LogCounts, LogError> {
    let access = Access::Map {
        window: WINDOW,
        from: MAP_FROM,
    };
    count_range_by(task, patterns, buf, access)
}

/// Ranges shorter than this are read even by [`count_range_mapped`]: a mapping costs system
/// calls and page-table work per file, which only a large enough range pays back. Measured
/// with two workers on 1 GB of logs per size, all mapped against all read: 0.85 of the CPU
/// time for files of 256 KiB, 0.80 for 512 KiB, but 1.07 for 128 KiB and 1.2 for 64 KiB.
pub const MAP_FROM: u64 = 256 << 10;

/// How [`count_range_by`] gets a plain file's bytes.
#[derive(Clone, Copy, Debug)]
enum Access {
    Read,
    /// Mapped, `window` bytes at a time, when the range has at least `from` bytes.
    Map {
        window: u64,
        from: u64,
    },
}

fn count_range_by(
    task: &LogTask,
    patterns: &LogPatterns,
    buf: &mut Vec<u8>,
    access: Access,
) -> Result<LogCounts, LogError> {
    patterns.validate()?;
    let (mut file, size) = open_regular(&task.path)?;
    let wanted = READ_SIZE + LineCounter::overlap(patterns);
    if buf.len() < wanted {
        buf.resize(wanted, 0);
    }
    if task.gzip {
        // Multi-member: `cat a.gz b.gz` and some rotation tools produce several members.
        let decoder = MultiGzDecoder::new(file);
        let mut pieces = ReadPieces::new(decoder, buf);
        return count_pieces(&mut pieces, 0, task.start, task.end, patterns).map_err(
            |err| match err.kind() {
                io::ErrorKind::InvalidInput
                | io::ErrorKind::InvalidData
                | io::ErrorKind::UnexpectedEof => LogError::Gzip(err),
                _ => LogError::Io(err),
            },
        );
    }
    // Start one byte early: whether that byte is a newline decides who owns the line at `start`.
    let first = task.start.saturating_sub(1);
    // What the range holds of the file as it is now (a file in /proc says 0 and is read).
    let mappable = task.end.min(size).saturating_sub(task.start);
    if let Access::Map { window, from } = access
        && mappable > 0
        && mappable >= from
        && let Ok(mut pieces) = MappedPieces::new(&file, first, size, task.end, window)
    {
        return Ok(count_pieces(
            &mut pieces,
            first,
            task.start,
            task.end,
            patterns,
        )?);
    }
    file.seek(SeekFrom::Start(first))?;
    let mut pieces = ReadPieces::new(file, buf);
    Ok(count_pieces(
        &mut pieces,
        first,
        task.start,
        task.end,
        patterns,
    )?)
}

/// The range rule over a stream whose next byte is at absolute `offset` (≤ `start - 1` when
/// `start > 0`, else 0): skip to the first line starting at or after `start`, then feed the
/// counter up to the newline ending the line that holds byte `end - 1`, or to the end.
fn count_pieces(
    pieces: &mut impl Pieces,
    mut offset: u64,
    start: u64,
    end: u64,
    patterns: &LogPatterns,
) -> io::Result<LogCounts> {
    let mut counter = LineCounter::new(patterns);
    if end <= start {
        return Ok(counter.finish());
    }
    let overlap = LineCounter::overlap(patterns);
    let mut skipping = start > 0;
    // Bytes at the front of each piece repeated from the previous one (never while skipping).
    let mut carried = 0;
    loop {
        let piece = pieces.next(carried)?;
        if piece.len() <= carried {
            break;
        }
        let n = piece.len() - carried;
        let piece_offset = offset;
        offset += n as u64;
        // The new bytes are piece[lo..hi], the first at `piece_offset + (lo - carried)`.
        let mut lo = carried;
        let mut hi = carried + n;
        if skipping {
            // Drop everything up to and including the first newline at or after `start - 1`.
            let from = (start - 1).saturating_sub(piece_offset);
            if from >= n as u64 {
                continue;
            }
            let Some(i) = memchr(b'\n', &piece[lo + from as usize..hi]) else {
                continue;
            };
            lo += from as usize + i + 1;
            skipping = false;
            if piece_offset + (lo - carried) as u64 >= end {
                // The first line starting here starts past the range: it has no lines.
                break;
            }
        }
        let lo_offset = piece_offset + (lo - carried) as u64;
        let mut done = false;
        if offset > end - 1 {
            // This piece reaches the range's last byte: stop after the newline ending its line.
            let from = (end - 1).saturating_sub(lo_offset) as usize;
            if let Some(i) = memchr(b'\n', &piece[lo + from..hi]) {
                hi = lo + from + i + 1;
                done = true;
            }
        }
        let unfinished = counter.feed(&piece[lo - carried..hi], carried);
        if done {
            break;
        }
        carried = unfinished.min(overlap);
    }
    Ok(counter.finish())
}

#[cfg(test)]
mod tests;
