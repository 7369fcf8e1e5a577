//! A durable journal of completed task outcomes, so a run can be resumed after the supervisor
//! parent itself dies (SIGKILL, power loss) by running only the tasks it does not list.
//!
//! # File format
//!
//! ```text
//! header:  "SUPVJRN1" | u32 format version | u64 total tasks | [u8; 32] fingerprint | u32 crc32
//! record:  u32 payload length | u32 crc32 of payload | payload      (all integers little-endian)
//! payload: bincode 2 (standard config, serde) of (u64 task index, Outcome<O>)
//! ```
//!
//! Records are only ever appended, so a crash can damage at most the tail: [`resume`] reads
//! records up to the first one that is incomplete or fails its checksum, cuts the file back to
//! the end of the last good one, and hands back a [`JournalWriter`] that appends after it.
//!
//! # Durability
//!
//! [`JournalWriter::append`] buffers records and hands them to the kernel (`write(2)`) every 32
//! records or 50 ms, whichever comes first, a background thread covering the case where no
//! further append comes; so after a SIGKILL of the parent everything appended more than ~50 ms
//! earlier is in the file. `fdatasync` runs at most once a second and on
//! [`JournalWriter::finish`] or drop, bounding what a power loss can take.
//!
//! The [`Fingerprint`] in the header ties a journal to one job, its setup and its task list:
//! resuming with other arguments is refused rather than mixing two runs' results.

mod fingerprint;
mod format;
mod resume;
mod writer;

pub use fingerprint::{Fingerprint, FingerprintBuilder};
pub use resume::{Resumed, resume};
pub use writer::JournalWriter;

use std::io;
use std::path::{Path, PathBuf};

/// What can go wrong creating, appending to or resuming a journal. Every message is one line
/// naming the file.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Reading, writing or syncing the file failed.
    #[error("journal {}: {source}", path.display())]
    Io {
        /// The journal file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file does not start with the journal magic bytes.
    #[error("{} is not a supervisor journal", .0.display())]
    NotAJournal(PathBuf),
    /// The file was written by a build with another journal format.
    #[error(
        "journal {} has format version {version}; this build reads version {}",
        path.display(),
        format::VERSION
    )]
    UnsupportedVersion {
        /// The journal file.
        path: PathBuf,
        /// The version found in its header.
        version: u32,
    },
    /// The header is cut short or fails its checksum (e.g. the parent died while creating it).
    #[error("journal {} has a damaged header: {reason}", path.display())]
    DamagedHeader {
        /// The journal file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The journal's fingerprint or task count differs from the run being resumed.
    #[error("journal {} was written for a different job or arguments", path.display())]
    Mismatch {
        /// The journal file.
        path: PathBuf,
    },
    /// An outcome could not be encoded.
    #[error("journal {}: cannot encode the outcome of task {index}: {message}", path.display())]
    Encode {
        /// The journal file.
        path: PathBuf,
        /// The task whose outcome it was.
        index: u64,
        /// The encoder's complaint.
        message: String,
    },
    /// An encoded outcome exceeds the largest record the reader accepts (64 MiB); writing it
    /// would make every later record unreadable.
    #[error(
        "journal {}: the outcome of task {index} encodes to {len} bytes, over the 64 MiB record limit",
        path.display()
    )]
    RecordTooLarge {
        /// The journal file.
        path: PathBuf,
        /// The task whose outcome it was.
        index: u64,
        /// Its encoded size in bytes.
        len: usize,
    },
    /// An earlier write failed (reported then), so the file's tail is in an unknown state and
    /// nothing more is appended.
    #[error("journal {} is unusable after an earlier write error", path.display())]
    Broken {
        /// The journal file.
        path: PathBuf,
    },
}

impl JournalError {
    fn io(path: &Path, source: io::Error) -> Self {
        JournalError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
