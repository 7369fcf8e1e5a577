//! Discovery: turning root paths into a deterministic stream of files to hash.
//!
//! The walk itself (ordering, symlinks, special files, errors) is shared with the `logs` job
//! and lives in `crate::walk`; this module adds the `--ext` filter and the hash job's types.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ext_filter::ExtFilter;
use crate::PathList;
use crate::partition::Partition;
use crate::walk::{NameFilter, Walk, Walked};

pub use crate::walk::SkipReason;

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
    /// (Encoded as one byte string, not a sequence of numbers: it crosses to a worker for
    /// every file.)
    #[serde(with = "serde_bytes")]
    pub path: Vec<u8>,
    /// Size at discovery time, for scheduling (largest first); the hash reports what it
    /// actually read. 0 where [`Discover::sizes_where_paying`] judged a `stat` not worth it (a
    /// directory whose sampled files average under 1 KiB).
    pub size: u64,
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

impl From<Walked> for Found {
    fn from(walked: Walked) -> Self {
        match walked {
            Walked::File { path, size } => Found::File(FileEntry { path, size }),
            Walked::Skipped { path, reason } => Found::Skipped { path, reason },
            Walked::Error { path, message } => Found::Error { path, message },
        }
    }
}

impl NameFilter for ExtFilter {
    fn matches(&self, file_name: &[u8]) -> bool {
        ExtFilter::matches(self, file_name)
    }
}

/// Walks `roots` in the given order, each one depth-first with the entries of every directory
/// sorted by file name (byte order), so the output is the same on every run.
///
/// A root that is a regular file (or, as with `md5sum`, a symlink to one) is yielded as a file
/// whether or not it matches the extension filter: naming it explicitly is asking for it.
pub fn discover(roots: &[PathBuf], opts: &DiscoverOptions) -> Discover {
    Discover {
        walk: Walk::new(
            roots,
            ExtFilter::new(&opts.extensions),
            opts.follow_symlinks,
        ),
    }
}

/// The lazy stream returned by [`discover`].
pub struct Discover {
    walk: Walk<ExtFilter>,
}

impl fmt::Debug for Discover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Discover").field(&self.walk).finish()
    }
}

impl Discover {
    /// Yields only the entries (files, skips and errors) of `partition`, decided during the
    /// walk by each entry's key (its operand's index and its path relative to that operand; see
    /// [`crate::partition`]).
    pub fn in_partition(self, partition: Partition) -> Self {
        Discover {
            walk: self.walk.in_partition(partition),
        }
    }

    /// Takes sizes only where they pay, for a caller that uses them only to hash the largest
    /// files first: in a directory of tiny files (a sample of them, the first and every 16th,
    /// averaging under 1 KiB) the other files are given size 0 instead of a `stat` each, which
    /// was a quarter of the CPU time of hashing a million small files. Which files those are
    /// depends only on the tree, so the result is the same on every run. (Only the parallel
    /// walk samples; with `follow_symlinks` every size is taken.)
    pub fn sizes_where_paying(self) -> Self {
        Discover {
            walk: self.walk.sizes_where_paying(),
        }
    }
}

/// Everything one discovery found, its files held compactly: what a parent keeps of a tree of
/// a million files while they are hashed.
#[derive(Debug, Default)]
pub struct Discovered {
    /// The regular files, in the walk's order, each with its size at discovery (see
    /// [`FileEntry::size`]).
    pub files: PathList,
    /// Everything else met (skips and errors), in the walk's order.
    pub others: Vec<Found>,
}

impl Discovered {
    /// Adds one entry met (a file goes to `files`).
    pub fn push(&mut self, found: Found) {
        match found {
            Found::File(entry) => self.files.push(&entry.path, entry.size),
            other => self.others.push(other),
        }
    }
}

impl Discover {
    /// Walks to the end, keeping files as a [`PathList`] (about 26 bytes a file where one
    /// [`FileEntry`] each costs a heap block of its path besides): the same entries in the
    /// same order as iterating.
    pub fn into_discovered(self) -> Discovered {
        let listing = self.walk.into_listing();
        Discovered {
            files: listing.files,
            others: listing
                .others
                .into_iter()
                .map(|(_, walked)| Found::from(walked))
                .collect(),
        }
    }
}

impl Iterator for Discover {
    type Item = Found;

    fn next(&mut self) -> Option<Found> {
        self.walk.next().map(Found::from)
    }
}

// The underlying walk is fused, so this is too.
impl std::iter::FusedIterator for Discover {}

#[cfg(test)]
mod tests;
