//! Walking roots into a deterministic stream of entries: the discovery that the `hash` and
//! `logs` jobs share, each with its own file-name filter and its own public entry type.
//!
//! Runs in the parent. It only reads directories and metadata, never file contents, and it
//! never opens anything that is not a directory, so a FIFO or device in the tree cannot block
//! or disturb it.

mod listing;
mod parallel;

pub(crate) use parallel::{sample_positions, sizes_pay};

pub(crate) use listing::Listing;
mod skip;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, FileType};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use walkdir::{DirEntry, WalkDir};

use crate::describe_io_error;
use crate::partition::Partition;

pub use skip::SkipReason;

/// Decides, from a file name's raw bytes, whether a file met during the walk is wanted.
pub(crate) trait NameFilter {
    /// Whether a file (or symlink, or special file) with this final name component is wanted.
    fn matches(&self, file_name: &[u8]) -> bool;
}

/// Which regular files the walk `stat`s for their sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sizes {
    /// Every one (the `logs` job plans byte ranges from them).
    Every,
    /// Those of directories where a sample says sizes pay for their `stat` (see
    /// [`parallel`]); the others are given size 0. Only the parallel walk samples: the serial
    /// one (following symlinks) `stat`s every file anyway.
    WherePaying,
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
    walk: Option<Current>,
    filter: F,
    follow: bool,
    /// Only entries of this partition are yielded (see [`Owned`]).
    partition: Option<Partition>,
    /// The operand being walked: its 0-based position among the roots, and its bytes.
    operand: Option<(usize, Vec<u8>)>,
    sizes: Sizes,
}

/// The entries of one partition under one root operand: decided per entry during the walk, so
/// a partition's walk never holds the other partitions' entries.
#[derive(Clone, Copy)]
pub(crate) struct Owned<'a> {
    partition: Partition,
    operand: usize,
    root: &'a [u8],
}

impl Owned<'_> {
    /// Whether the entry is this partition's (files, skips and errors alike: each appears in
    /// exactly one partition's output).
    pub(crate) fn keeps(&self, walked: &Walked) -> bool {
        let path = match walked {
            Walked::File { path, .. }
            | Walked::Skipped { path, .. }
            | Walked::Error { path, .. } => path,
        };
        self.partition.owns_path(self.operand, self.root, path)
    }
}

/// The root being walked.
enum Current {
    /// One entry at a time, by walkdir: following symlinks, or a root that is no directory.
    Serial(walkdir::IntoIter),
    /// Walked on every core at once, yielded from memory.
    Parallel(listing::ListingIter),
}

impl<F: NameFilter + Sync> Walk<F> {
    pub(crate) fn new(roots: &[PathBuf], filter: F, follow_symlinks: bool) -> Self {
        Walk {
            roots: roots.iter().cloned().collect(),
            walk: None,
            filter,
            follow: follow_symlinks,
            partition: None,
            operand: None,
            sizes: Sizes::Every,
        }
    }

    /// `stat`s files for their sizes only where a sample of their directory says it pays
    /// ([`Sizes::WherePaying`]); by default every file is.
    pub(crate) fn sizes_where_paying(mut self) -> Self {
        self.sizes = Sizes::WherePaying;
        self
    }

    /// Yields only what `partition` owns.
    pub(crate) fn in_partition(mut self, partition: Partition) -> Self {
        self.partition = (partition.count() > 1).then_some(partition);
        self
    }

    fn owned(&self) -> Option<Owned<'_>> {
        let (operand, root) = self.operand.as_ref()?;
        Some(Owned {
            partition: self.partition?,
            operand: *operand,
            root,
        })
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

impl<F: NameFilter + Sync> Iterator for Walk<F> {
    type Item = Walked;

    fn next(&mut self) -> Option<Walked> {
        loop {
            if self.walk.is_none() && !self.begin_next_root() {
                return None;
            }
            match self.step() {
                Some(found) => return Some(found),
                None => self.walk = None,
            }
        }
    }
}

impl<F: NameFilter + Sync> Walk<F> {
    /// Starts walking the next root; false when none is left.
    fn begin_next_root(&mut self) -> bool {
        let Some(root) = self.roots.pop_front() else {
            return false;
        };
        let operand = self.operand.as_ref().map_or(0, |(i, _)| i + 1);
        self.operand = Some((operand, root.as_os_str().as_bytes().to_vec()));
        self.walk = Some(self.start(root));
        true
    }

    /// The next entry of the root being walked (`None` when it is done, or none is).
    fn step(&mut self) -> Option<Walked> {
        loop {
            let next = match self.walk.as_mut()? {
                // Already only this partition's entries.
                Current::Parallel(walked) => return walked.next(),
                Current::Serial(walk) => walk.next()?,
            };
            let found = match next {
                Ok(entry) => self.classify(&entry),
                Err(err) => self.describe_error(&err),
            };
            let Some(found) = found else {
                continue;
            };
            if self.owned().is_some_and(|owned| !owned.keeps(&found)) {
                continue;
            }
            return Some(found);
        }
    }

    /// Everything the walk has left, in its order, the files held compactly: a tree's walk
    /// is kept as the parallel walk made it, never as one allocation per path.
    pub(crate) fn into_listing(mut self) -> Listing {
        let mut all = Listing::default();
        loop {
            if self.walk.is_none() && !self.begin_next_root() {
                return all;
            }
            match self.walk.take() {
                Some(Current::Parallel(walked)) => all.append(walked.into_rest()),
                serial => {
                    self.walk = serial;
                    while let Some(found) = self.step() {
                        all.push(found);
                    }
                    self.walk = None;
                }
            }
        }
    }
}

// Once the roots are exhausted every later call returns `None` again.
impl<F: NameFilter + Sync> std::iter::FusedIterator for Walk<F> {}

impl<F: NameFilter + Sync> Walk<F> {
    /// A real directory is walked on every core when symlinks are not followed; anything else
    /// (a file, a symlink, a missing path, or any root when following symlinks) serially.
    fn start(&self, root: PathBuf) -> Current {
        let is_dir = fs::symlink_metadata(&root).is_ok_and(|m| m.is_dir());
        if is_dir && !self.follow && !SERIAL_ONLY.get() {
            let walked = parallel::walk_dir(&root, &self.filter, self.owned().as_ref(), self.sizes);
            return Current::Parallel(walked.into_iter());
        }
        Current::Serial(
            WalkDir::new(root)
                .follow_links(self.follow)
                .sort_by_file_name()
                .into_iter(),
        )
    }

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
        classify_type(path, file_type, || {
            entry.metadata().map(|m| m.len()).map_err(|e| {
                e.io_error()
                    .map_or_else(|| e.to_string(), describe_io_error)
            })
        })
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
    size: impl FnOnce() -> Result<u64, String>,
) -> Option<Walked> {
    let reason = if file_type.is_dir() {
        return None;
    } else if file_type.is_file() {
        return Some(match size() {
            Ok(size) => Walked::File {
                path: path.as_os_str().as_bytes().to_vec(),
                size,
            },
            Err(message) => error(path, message),
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

thread_local! {
    /// Tests set this to compare the parallel walk with the serial one.
    static SERIAL_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
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
