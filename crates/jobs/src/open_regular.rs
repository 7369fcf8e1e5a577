//! Opening a file that discovery listed as regular, safely, for any job that reads contents.

use std::ffi::{CStr, OsStr};
use std::os::fd::{AsFd, BorrowedFd};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

/// Why [`open_regular`] gave no file; each job maps it into its own error type.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// Opening or inspecting the file failed.
    Io(io::Error),
    /// The path names a directory (possibly replaced since discovery).
    IsDirectory,
    /// The path names a FIFO, socket or device (possibly replaced since discovery).
    NotRegular,
}

/// Opens `path` (raw bytes of a Unix path) for reading, refusing anything not regular.
///
/// The file is opened with `O_NONBLOCK` and checked with `fstat` before any read: discovery
/// listed it as a regular file, but it may have been replaced by a FIFO (whose `open` would
/// otherwise block forever waiting for a writer) or a device since. Checking the open
/// descriptor rather than the path leaves no window for another swap. `O_NONBLOCK` has no
/// effect on reads of regular files, so the descriptor is used as is. Also returns the size
/// `fstat` saw, which lets readers stop without a last read that only confirms the end.
pub(crate) fn open_regular(path: &[u8]) -> Result<(File, u64), OpenError> {
    let file = OpenOptions::new()
        .read(true)
        // O_NOCTTY: a terminal device slipped in under the path must not become ours.
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(OsStr::from_bytes(path))
        .map_err(OpenError::Io)?;
    checked_regular(file)
}

/// [`open_regular`] of `name` in the directory `dir` (a file's last component, opened
/// relative to its directory: the kernel looks up one name, not every component of a path).
pub(crate) fn open_regular_at(dir: BorrowedFd<'_>, name: &CStr) -> Result<(File, u64), OpenError> {
    let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let fd = nix::fcntl::openat(dir, name, flags, Mode::empty())
        .map_err(|errno| OpenError::Io(io::Error::from_raw_os_error(errno as i32)))?;
    checked_regular(File::from(fd))
}

/// [`checked_regular`] from what the kernel has cached of the file
/// ([`crate::sys::cached_stat`]): the same answer, except that a network or FUSE file system
/// gives its cached size instead of asking its server, so the check cannot hang. Where
/// `statx` is missing or refused (a kernel before 4.11, an old sandbox profile), the plain
/// `fstat` of [`checked_regular`] answers.
pub(crate) fn checked_regular_cached(file: File) -> Result<(File, u64), OpenError> {
    match crate::sys::cached_stat::cached_type_and_size(file.as_fd()) {
        Ok((file_type, size)) => regular_by_type(file, file_type, size),
        Err(err) if matches!(err.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
            checked_regular(file)
        }
        Err(err) => Err(OpenError::Io(err)),
    }
}

/// `file` with its size if the open descriptor is a regular file (`fstat`), else why not.
pub(crate) fn checked_regular(file: File) -> Result<(File, u64), OpenError> {
    let metadata = file.metadata().map_err(OpenError::Io)?;
    regular_by_type(file, metadata.mode() & libc::S_IFMT, metadata.len())
}

/// `file` and `size` if `file_type` (the `S_IFMT` bits of its mode) is a regular file's.
fn regular_by_type(file: File, file_type: u32, size: u64) -> Result<(File, u64), OpenError> {
    match file_type {
        libc::S_IFREG => Ok((file, size)),
        libc::S_IFDIR => Err(OpenError::IsDirectory),
        _ => Err(OpenError::NotRegular),
    }
}
