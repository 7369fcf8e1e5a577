//! Walking roots into a deterministic stream of entries: the discovery that the `hash` and
//! `logs` jobs share, each with its own file-name filter and its own public entry type.
//!
//! Runs in the parent. It only reads directories and metadata, never file contents, and it
//! never opens anything that is not a directory, so a FIFO or device in the tree cannot block
//! or disturb it.

mod skip;

use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, FileType};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use walkdir::{DirEntry, WalkDir};

use crate::describe_io_error;

pub use skip::SkipReason;

/// Decides, from a file name's raw bytes, whether a file met during the walk is wanted.
pub(crate) trait NameFilter {
    /// Whether a file (or symlink, or special file) with this final name component is wanted.
    fn matches(&self, file_name: &[u8]) -> bool;
}

/// One thing the walk met; each job converts it into its own public type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Walked {
    /// A regular file, with its size at discovery time.
    File { path: Vec<u8>, size: u64 },
    /// An entry passed over on purpose.
    Skipped { path: Vec<u8>, reason: SkipReason },
    /// An entry or directory that could not be examined.
    Error { path: Vec<u8>, message: String },
}

/// Walks roots in the given order, each one depth-first with the entries of every directory
/// sorted by file name (byte order), so the output is the same on every run.
///
/// A root that is a regular file (or a symlink to one) is yielded whether or not it matches
/// the filter: naming it explicitly is asking for it.
pub(crate) struct Walk<F> {
    roots: VecDeque<PathBuf>,
    walk: Option<walkdir::IntoIter>,
    filter: F,
    follow: bool,
}

impl<F: NameFilter> Walk<F> {
    pub(crate) fn new(roots: &[PathBuf], filter: F, follow_symlinks: bool) -> Self {
        Walk {
            roots: roots.iter().cloned().collect(),
            walk: None,
            filter,
            follow: follow_symlinks,
        }
    }
}

impl<F: fmt::Debug> fmt::Debug for Walk<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Walk")
            .field("roots_left", &self.roots.len())
            .field("filter", &self.filter)
            .field("follow", &self.follow)
            .finish_non_exhaustive()
    }
}

impl<F: NameFilter> Iterator for Walk<F> {
    type Item = Walked;

    fn next(&mut self) -> Option<Walked> {
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
impl<F: NameFilter> std::iter::FusedIterator for Walk<F> {}

impl<F: NameFilter> Walk<F> {
    fn classify(&self, entry: &DirEntry) -> Option<Walked> {
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

    fn describe_error(&self, err: &walkdir::Error) -> Option<Walked> {
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
        // name filter; other failures (unreadable directories, a missing root) always matter
        // because they hide an unknown number of files.
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
) -> Option<Walked> {
    let reason = if file_type.is_dir() {
        return None;
    } else if file_type.is_file() {
        return Some(match size() {
            Ok(size) => Walked::File {
                path: path.as_os_str().as_bytes().to_vec(),
                size,
            },
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

fn skipped(path: &Path, reason: SkipReason) -> Walked {
    Walked::Skipped {
        path: path.as_os_str().as_bytes().to_vec(),
        reason,
    }
}

fn error(path: &Path, message: String) -> Walked {
    Walked::Error {
        path: path.as_os_str().as_bytes().to_vec(),
        message,
    }
}
