//! Discovery for the `logs` job: log files under some roots, chosen by file-name globs.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::partition::Partition;
use crate::walk::{NameFilter, SkipReason, Walk, Walked};

/// The glob used when none is given: the seed's `Path(dir).glob('*.log')`.
pub const DEFAULT_GLOB: &str = "*.log";

/// One thing log discovery met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogFound {
    /// A regular file to count.
    File {
        /// The path as the walk produced it, raw bytes.
        path: Vec<u8>,
        /// Size at discovery time (compressed size for gzip), used to plan ranges.
        size: u64,
        /// Whether the name ends with `.gz`, so the file is read through a gzip decoder.
        gzip: bool,
    },
    /// An entry that is deliberately not read.
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
        /// What went wrong, e.g. `"No such file or directory"`.
        message: String,
    },
}

impl From<Walked> for LogFound {
    fn from(walked: Walked) -> Self {
        match walked {
            Walked::File { path, size } => LogFound::File {
                gzip: path.ends_with(b".gz"),
                path,
                size,
            },
            Walked::Skipped { path, reason } => LogFound::Skipped { path, reason },
            Walked::Error { path, message } => LogFound::Error { path, message },
        }
    }
}

/// A `--glob` that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid glob {glob:?}: {reason}")]
pub struct GlobError {
    /// The glob as given.
    pub glob: String,
    /// What is wrong with it, as globset words it.
    pub reason: String,
}

/// File-name globs, matched against the final path component only (so `*.log` never needs a
/// `**/`, and `*` may match any byte of a name, a `/` never being part of one).
struct GlobFilter {
    globs: Vec<String>,
    set: GlobSet,
}

impl GlobFilter {
    fn new(globs: &[String]) -> Result<Self, GlobError> {
        let globs = if globs.is_empty() {
            vec![DEFAULT_GLOB.to_owned()]
        } else {
            globs.to_vec()
        };
        let mut builder = GlobSetBuilder::new();
        for glob in &globs {
            let parsed = Glob::new(glob).map_err(|err| GlobError {
                glob: glob.clone(),
                reason: err.kind().to_string(),
            })?;
            builder.add(parsed);
        }
        let set = builder.build().map_err(|err| GlobError {
            glob: err.glob().unwrap_or_default().to_owned(),
            reason: err.kind().to_string(),
        })?;
        Ok(GlobFilter { globs, set })
    }
}

impl fmt::Debug for GlobFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GlobFilter").field(&self.globs).finish()
    }
}

impl NameFilter for GlobFilter {
    fn matches(&self, file_name: &[u8]) -> bool {
        // On Unix a path is bytes, so a non-UTF-8 name is matched exactly, not lossily.
        self.set.is_match(OsStr::from_bytes(file_name))
    }
}

/// Walks `roots` for log files: recursive, every directory sorted by file name (byte order),
/// symlinks inside the tree not followed (reported as skipped when their name matches).
///
/// A file is kept when its file name matches any of `globs` ([`DEFAULT_GLOB`] when empty); a
/// root that is itself a regular file (or a symlink to one) is always kept. FIFOs, sockets and
/// devices are skipped with a reason and never opened; a missing root or an unreadable
/// directory is an [`LogFound::Error`] and the walk goes on.
///
/// Fails only when a glob does not parse, before anything is walked.
pub fn discover_logs(roots: &[PathBuf], globs: &[String]) -> Result<DiscoverLogs, GlobError> {
    Ok(DiscoverLogs {
        walk: Walk::new(roots, GlobFilter::new(globs)?, false),
    })
}

/// The lazy stream returned by [`discover_logs`].
pub struct DiscoverLogs {
    walk: Walk<GlobFilter>,
}

impl fmt::Debug for DiscoverLogs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DiscoverLogs").field(&self.walk).finish()
    }
}

impl DiscoverLogs {
    /// Yields only the entries of `partition` (see [`crate::hash::Discover::in_partition`]).
    pub fn in_partition(self, partition: Partition) -> Self {
        DiscoverLogs {
            walk: self.walk.in_partition(partition),
        }
    }
}

impl Iterator for DiscoverLogs {
    type Item = LogFound;

    fn next(&mut self) -> Option<LogFound> {
        self.walk.next().map(LogFound::from)
    }
}

// The underlying walk is fused, so this is too.
impl std::iter::FusedIterator for DiscoverLogs {}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;
    use std::process::Command;

    use super::*;

    fn b(path: &Path) -> Vec<u8> {
        path.as_os_str().as_bytes().to_vec()
    }

    fn run(roots: &[PathBuf], globs: &[&str]) -> Vec<LogFound> {
        let globs: Vec<String> = globs.iter().map(|g| g.to_string()).collect();
        discover_logs(roots, &globs).unwrap().collect()
    }

    fn file(path: &Path, size: u64, gzip: bool) -> LogFound {
        LogFound::File {
            path: b(path),
            size,
            gzip,
        }
    }

    fn tree(root: &Path) {
        fs::create_dir_all(root.join("nginx")).unwrap();
        fs::write(root.join("app.log"), b"a\n").unwrap();
        fs::write(root.join("app.log.1.gz"), b"gz").unwrap();
        fs::write(root.join("catalog"), b"").unwrap();
        fs::write(root.join("nginx/access.log"), b"xyz").unwrap();
        fs::write(root.join("nginx/error.log.2.gz"), b"").unwrap();
        fs::write(root.join("notes.txt"), b"n").unwrap();
    }

    #[test]
    fn default_glob_is_star_dot_log_on_file_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        tree(root);
        assert_eq!(
            run(&[root.to_path_buf()], &[]),
            [
                file(&root.join("app.log"), 2, false),
                file(&root.join("nginx/access.log"), 3, false),
            ]
        );
    }

    #[test]
    fn several_globs_and_gzip_detection() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        tree(root);
        assert_eq!(
            run(&[root.to_path_buf()], &["*.log", "*.log.*.gz"]),
            [
                file(&root.join("app.log"), 2, false),
                file(&root.join("app.log.1.gz"), 2, true),
                file(&root.join("nginx/access.log"), 3, false),
                file(&root.join("nginx/error.log.2.gz"), 0, true),
            ]
        );
    }

    #[test]
    fn file_roots_are_always_kept_and_missing_roots_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        tree(root);
        let missing = root.join("gone");
        let roots = [root.join("notes.txt"), missing.clone()];
        assert_eq!(
            run(&roots, &[]),
            [
                file(&root.join("notes.txt"), 1, false),
                LogFound::Error {
                    path: b(&missing),
                    message: "No such file or directory".into(),
                },
            ]
        );
    }

    #[test]
    fn special_files_and_symlinks_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let status = Command::new("mkfifo")
            .arg(root.join("pipe.log"))
            .status()
            .unwrap();
        assert!(status.success());
        std::os::unix::fs::symlink("/etc/hostname", root.join("link.log")).unwrap();
        fs::write(root.join("real.log"), b"").unwrap();
        assert_eq!(
            run(&[root.to_path_buf()], &[]),
            [
                LogFound::Skipped {
                    path: b(&root.join("link.log")),
                    reason: SkipReason::Symlink,
                },
                LogFound::Skipped {
                    path: b(&root.join("pipe.log")),
                    reason: SkipReason::Fifo,
                },
                file(&root.join("real.log"), 0, false),
            ]
        );
    }

    #[test]
    fn non_utf8_names_match_globs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join(OsStr::from_bytes(b"\xff\xfe.log")), b"").unwrap();
        let found = run(&[root.to_path_buf()], &[]);
        let mut expected = b(root);
        expected.extend_from_slice(b"/\xff\xfe.log");
        assert_eq!(
            found,
            [LogFound::File {
                path: expected,
                size: 0,
                gzip: false
            }]
        );
    }

    #[test]
    fn bad_glob_is_refused_up_front() {
        let err = discover_logs(&[], &["[unclosed".to_owned()]).unwrap_err();
        assert_eq!(err.glob, "[unclosed");
        assert!(
            err.to_string().starts_with("invalid glob \"[unclosed\": "),
            "{err}"
        );
    }
}
