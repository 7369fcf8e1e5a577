//! Discovery: turning root paths into a deterministic stream of files to hash.
//!
//! Runs in the parent. It only reads directories and metadata, never file contents, and it
//! never opens anything that is not a directory, so a FIFO or device in the tree cannot block
//! or disturb it.

use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, FileType};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use walkdir::{DirEntry, WalkDir};

use super::ext_filter::ExtFilter;
use crate::describe_io_error;

/// What to look for under the roots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoverOptions {
    /// File-name suffixes to keep (`"log"` and `".log"` are the same); empty keeps all files.
    pub extensions: Vec<String>,
    /// Follow symlinks met during the walk (loops are reported, never walked forever).
    pub follow_symlinks: bool,
}

/// A regular file to hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileEntry {
    /// The path as the walk produced it (root joined with the relative components), raw bytes.
    pub path: Vec<u8>,
    /// Size at discovery time, for scheduling; the hash reports what it actually read.
    pub size: u64,
}

/// Why an entry was deliberately not hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SkipReason {
    /// A named pipe: opening it could block forever and reading it would consume its data.
    Fifo,
    /// A Unix domain socket, which cannot be read as a file.
    Socket,
    /// A block or character device: reading it could be endless (`/dev/zero`) or disruptive.
    Device,
    /// A symlink met while walking with symlink following off.
    Symlink,
}

impl SkipReason {
    /// A short stable identifier for machine-readable output: `fifo`, `socket`, `device`,
    /// `symlink`.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::Fifo => "fifo",
            SkipReason::Socket => "socket",
            SkipReason::Device => "device",
            SkipReason::Symlink => "symlink",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::Fifo => "is a FIFO",
            SkipReason::Socket => "is a socket",
            SkipReason::Device => "is a device",
            SkipReason::Symlink => "symlink (not followed)",
        })
    }
}

/// One thing discovery met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Found {
    /// A regular file to hash.
    File(FileEntry),
    /// An entry that is deliberately not hashed.
    Skipped {
        /// The entry's path, raw bytes.
        path: Vec<u8>,
        /// Why it was skipped.
        reason: SkipReason,
    },
    /// An entry or directory that could not be examined; the walk goes on without it.
    Error {
        /// The path concerned, raw bytes (empty if the walker could not name one).
        path: Vec<u8>,
        /// What went wrong, e.g. `"Permission denied"` or `"dangling symlink"`.
        message: String,
    },
}

/// Walks `roots` in the given order, each one depth-first with the entries of every directory
/// sorted by file name (byte order), so the output is the same on every run.
///
/// A root that is a regular file (or, as with `md5sum`, a symlink to one) is yielded as a file
/// whether or not it matches the extension filter: naming it explicitly is asking for it.
pub fn discover(roots: &[PathBuf], opts: &DiscoverOptions) -> Discover {
    Discover {
        roots: roots.iter().cloned().collect(),
        walk: None,
        filter: ExtFilter::new(&opts.extensions),
        follow: opts.follow_symlinks,
    }
}

/// The lazy stream returned by [`discover`].
pub struct Discover {
    roots: VecDeque<PathBuf>,
    walk: Option<walkdir::IntoIter>,
    filter: ExtFilter,
    follow: bool,
}

impl fmt::Debug for Discover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discover")
            .field("roots_left", &self.roots.len())
            .field("filter", &self.filter)
            .field("follow", &self.follow)
            .finish_non_exhaustive()
    }
}

impl Iterator for Discover {
    type Item = Found;

    fn next(&mut self) -> Option<Found> {
        loop {
            let Some(walk) = self.walk.as_mut() else {
                let root = self.roots.pop_front()?;
                self.walk = Some(
                    WalkDir::new(root)
                        .follow_links(self.follow)
                        .sort_by_file_name()
                        .into_iter(),
                );
                continue;
            };
            let found = match walk.next() {
                None => {
                    self.walk = None;
                    continue;
                }
                Some(Ok(entry)) => self.classify(&entry),
                Some(Err(err)) => self.describe_error(&err),
            };
            if found.is_some() {
                return found;
            }
        }
    }
}

// Once the roots are exhausted every later call returns `None` again.
impl std::iter::FusedIterator for Discover {}

impl Discover {
    fn classify(&self, entry: &DirEntry) -> Option<Found> {
        let path = entry.path();
        let file_type = entry.file_type();
        if file_type.is_dir() {
            return None;
        }
        let is_root = entry.depth() == 0;
        if !is_root && !self.filter.matches(entry.file_name().as_bytes()) {
            return None;
        }
        if file_type.is_symlink() {
            if !is_root {
                return Some(skipped(path, SkipReason::Symlink));
            }
            // walkdir reports an explicit root symlink as a symlink even though it follows it.
            return Some(match fs::metadata(path) {
                Ok(meta) => classify_type(path, meta.file_type(), || Ok(meta.len()))?,
                Err(err) => error(path, describe_io_error(&err)),
            });
        }
        classify_type(path, file_type, || entry.metadata().map(|m| m.len()))
    }

    fn describe_error(&self, err: &walkdir::Error) -> Option<Found> {
        let path = err.path().unwrap_or(Path::new(""));
        if let Some(ancestor) = err.loop_ancestor() {
            let message = format!(
                "symlink loop: points back to ancestor directory {}",
                ancestor.display()
            );
            return Some(error(path, message));
        }
        let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        // A failure on a symlink is about the file it would have been, so it is subject to the
        // extension filter; other failures (unreadable directories, a missing root) always
        // matter because they hide an unknown number of files.
        if is_link && err.depth() > 0 {
            let name = path.file_name().unwrap_or_default();
            if !self.filter.matches(name.as_bytes()) {
                return None;
            }
        }
        let message = match err.io_error() {
            Some(io) if is_link && io.kind() == io::ErrorKind::NotFound => {
                "dangling symlink".to_owned()
            }
            Some(io) => describe_io_error(io),
            None => err.to_string(),
        };
        Some(error(path, message))
    }
}

/// Classifies a non-directory, non-symlink type; `size` is only consulted for regular files.
fn classify_type(
    path: &Path,
    file_type: FileType,
    size: impl FnOnce() -> Result<u64, walkdir::Error>,
) -> Option<Found> {
    let reason = if file_type.is_dir() {
        return None;
    } else if file_type.is_file() {
        return Some(match size() {
            Ok(size) => Found::File(FileEntry {
                path: path.as_os_str().as_bytes().to_vec(),
                size,
            }),
            Err(err) => error(
                path,
                err.io_error()
                    .map_or_else(|| err.to_string(), describe_io_error),
            ),
        });
    } else if file_type.is_fifo() {
        SkipReason::Fifo
    } else if file_type.is_socket() {
        SkipReason::Socket
    } else if file_type.is_block_device() || file_type.is_char_device() {
        SkipReason::Device
    } else {
        // Only a symlink is left, and callers resolve those first.
        SkipReason::Symlink
    };
    Some(skipped(path, reason))
}

fn skipped(path: &Path, reason: SkipReason) -> Found {
    Found::Skipped {
        path: path.as_os_str().as_bytes().to_vec(),
        reason,
    }
}

fn error(path: &Path, message: String) -> Found {
    Found::Error {
        path: path.as_os_str().as_bytes().to_vec(),
        message,
    }
}

#[cfg(test)]
mod tests;
