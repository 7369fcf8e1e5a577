//! Where a command's stdout and stderr go while it runs, and how they leave the worker.
//!
//! A command writes straight into a file, as GNU parallel's `--group` does: no pipe to drain,
//! no thread per task, and a background process that keeps the descriptor cannot hold the task
//! open. The file is unnamed (`O_TMPFILE`) in the spill directory, fresh for every run, so a
//! straggler writing late can only touch its own task's file. When the command has ended, a
//! small output is read back and travels inline with the result; a big one gets a name in the
//! spill directory and only its path travels, so no IPC message and no process holds it.

use crate::describe_io_error;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Where the output of every task goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CaptureMode {
    /// Into fresh unnamed files in `dir`: up to `inline_max` bytes are sent back with the
    /// result, a bigger stream is named `supervisor-exec-<parent>-<worker>-<n>.stdout` (or
    /// `.stderr`) in `dir` and sent back as that path. The receiver removes (or keeps) it.
    Spill {
        /// The spill directory (path bytes).
        #[serde(with = "serde_bytes")]
        dir: Vec<u8>,
        /// The most bytes of one stream sent inline.
        inline_max: u64,
    },
    /// Into `dir/SEQ.stdout` and `dir/SEQ.stderr`, replaced by every run of the task.
    Files {
        /// The output directory (path bytes).
        #[serde(with = "serde_bytes")]
        dir: Vec<u8>,
    },
    /// Not captured: the command writes to this process's stdout and stderr as it runs (GNU
    /// parallel's `--ungroup`), or, with `line_buffer`, its stdout reaches this process's
    /// stdout a whole line at a time (`--line-buffer`), so lines of commands running at once
    /// are never cut into each other. The results carry no output.
    Through {
        /// Whole lines only (else bytes as the command writes them).
        line_buffer: bool,
    },
}

/// One captured stream of a finished command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Captured {
    /// All of it.
    Inline(#[serde(with = "serde_bytes")] Vec<u8>),
    /// In a file.
    File {
        /// Its path (bytes).
        #[serde(with = "serde_bytes")]
        path: Vec<u8>,
        /// Its length.
        size: u64,
    },
}

impl Captured {
    /// The stream's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Captured::Inline(bytes) => bytes.len() as u64,
            Captured::File { size, .. } => *size,
        }
    }

    /// True for an empty stream.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How every spill file's name starts.
pub const SPILL_PREFIX: &str = "supervisor-exec-";

/// The name prefix of every spill file a run's workers create: `supervisor-exec-<parent pid>-`
/// (the receiver removes what a crashed worker left behind by it).
pub fn spill_prefix(parent_pid: u32) -> String {
    format!("{SPILL_PREFIX}{parent_pid}-")
}

/// Which stream a capture file is for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn suffix(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// A file a command is writing to.
pub(crate) struct CaptureFile {
    pub(crate) file: File,
    name: Name,
    stream: Stream,
}

/// What a capture file is called.
enum Name {
    /// An unnamed (`O_TMPFILE`) file in this spill directory: named only if it is spilled.
    Unnamed(PathBuf),
    /// A spill file that had to be created with a name (the file system has no unnamed
    /// files): removed if its content goes inline.
    Temporary(PathBuf),
    /// An output-directory file: it stays, and only its path travels.
    Kept(PathBuf),
}

/// Opens capture files for one worker and turns them into [`Captured`] streams.
pub(crate) struct Capturer {
    mode: CaptureMode,
    /// `supervisor-exec-<parent>-<worker>-`.
    prefix: String,
    counter: u64,
    /// False once the spill directory refused an unnamed file.
    unnamed_files: bool,
}

impl Capturer {
    /// Whether output goes through (not captured), and then whether a line at a time.
    pub(crate) fn through(&self) -> Option<bool> {
        match self.mode {
            CaptureMode::Through { line_buffer } => Some(line_buffer),
            _ => None,
        }
    }

    pub(crate) fn new(mode: CaptureMode, parent_pid: u32) -> Self {
        Capturer {
            mode,
            prefix: format!("{}{}-", spill_prefix(parent_pid), std::process::id()),
            counter: 0,
            unnamed_files: true,
        }
    }

    /// A fresh file for one stream of one run of task `seq`.
    pub(crate) fn open(&mut self, seq: u64, stream: Stream) -> io::Result<CaptureFile> {
        match &self.mode {
            CaptureMode::Files { dir } => {
                let path = path_of(dir).join(format!("{seq}.{}", stream.suffix()));
                let file = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&path)
                    .map_err(|e| with_path(e, &path))?;
                Ok(CaptureFile {
                    file,
                    name: Name::Kept(path),
                    stream,
                })
            }
            CaptureMode::Through { .. } => Err(io::Error::other(
                "output goes through, there is nothing to capture",
            )),
            CaptureMode::Spill { dir, .. } => {
                let dir = path_of(dir).to_path_buf();
                if self.unnamed_files {
                    match unnamed_file(&dir) {
                        Ok(file) => {
                            return Ok(CaptureFile {
                                file,
                                name: Name::Unnamed(dir),
                                stream,
                            });
                        }
                        Err(e) if no_unnamed_files(&e) => self.unnamed_files = false,
                        Err(e) => return Err(with_path(e, &dir)),
                    }
                }
                let (file, path) = self.create_named(&dir, stream)?;
                Ok(CaptureFile {
                    file,
                    name: Name::Temporary(path),
                    stream,
                })
            }
        }
    }

    /// What the command wrote, inline or as a named file.
    pub(crate) fn finish(&mut self, capture: CaptureFile) -> io::Result<Captured> {
        let size = capture.file.metadata()?.len();
        let inline_max = match &self.mode {
            CaptureMode::Spill { inline_max, .. } => *inline_max,
            CaptureMode::Files { .. } | CaptureMode::Through { .. } => 0,
        };
        let file = |path: PathBuf| Captured::File {
            path: path.into_os_string().into_vec(),
            size,
        };
        match capture.name {
            Name::Kept(path) => Ok(file(path)),
            name if size <= inline_max => {
                let mut bytes = vec![0; size as usize];
                capture.file.read_exact_at(&mut bytes, 0)?;
                if let Name::Temporary(path) = name {
                    let _ = std::fs::remove_file(path);
                }
                Ok(Captured::Inline(bytes))
            }
            Name::Temporary(path) => Ok(file(path)),
            Name::Unnamed(dir) => Ok(file(self.link(&capture.file, &dir, capture.stream)?)),
        }
    }

    /// Drops what a run wrote (its output is not wanted: the run is retried).
    pub(crate) fn discard(&mut self, capture: CaptureFile) {
        if let Name::Temporary(path) = capture.name {
            let _ = std::fs::remove_file(path);
        }
    }

    fn next_name(&mut self, dir: &Path, stream: Stream) -> PathBuf {
        self.counter += 1;
        dir.join(format!(
            "{}{}.{}",
            self.prefix,
            self.counter,
            stream.suffix()
        ))
    }

    /// Names an unnamed file in the spill directory. A name left by an earlier worker with
    /// the same pid is skipped, never replaced.
    fn link(&mut self, file: &File, dir: &Path, stream: Stream) -> io::Result<PathBuf> {
        loop {
            let path = self.next_name(dir, stream);
            match crate::sys::link::link_open_file(file, &path) {
                Ok(()) => return Ok(path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(with_path(e, &path)),
            }
        }
    }

    fn create_named(&mut self, dir: &Path, stream: Stream) -> io::Result<(File, PathBuf)> {
        loop {
            let path = self.next_name(dir, stream);
            match create_new(&path) {
                Ok(file) => return Ok((file, path)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(with_path(e, &path)),
            }
        }
    }
}

/// A temp file in `dir` that has no name, so it vanishes with its last descriptor (even when
/// the process is killed): `O_TMPFILE`, or where the file system lacks it, a file created and
/// removed at once.
pub fn anonymous_file(dir: &Path) -> io::Result<File> {
    match unnamed_file(dir) {
        Err(e) if no_unnamed_files(&e) => {}
        other => return other,
    }
    for attempt in 0u32..100 {
        let path = dir.join(format!(
            ".supervisor-exec-{}-{attempt}-{:x}.tmp",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        ));
        match create_new(&path) {
            Ok(file) => {
                std::fs::remove_file(&path)?;
                return Ok(file);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from(io::ErrorKind::AlreadyExists))
}

/// A new private file at `path` (never an existing one, nor through a symlink).
fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

fn unnamed_file(dir: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(0o600)
        .open(dir)
}

/// The errors of a kernel or file system without `O_TMPFILE`.
fn no_unnamed_files(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
    )
}

fn path_of(bytes: &[u8]) -> &Path {
    Path::new(std::ffi::OsStr::from_bytes(bytes))
}

/// Adds the path to an I/O error's text, so a message names the thing.
fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("{}: {}", path.display(), describe_io_error(&e)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn spill(dir: &Path, inline_max: u64) -> Capturer {
        Capturer::new(
            CaptureMode::Spill {
                dir: dir.as_os_str().as_bytes().to_vec(),
                inline_max,
            },
            std::process::id(),
        )
    }

    #[test]
    fn small_output_comes_back_inline_and_big_output_as_a_named_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut capturer = spill(dir.path(), 4);
        let mut small = capturer.open(1, Stream::Stdout).unwrap();
        small.file.write_all(b"abcd").unwrap();
        assert_eq!(
            capturer.finish(small).unwrap(),
            Captured::Inline(b"abcd".to_vec())
        );
        let mut big = capturer.open(2, Stream::Stderr).unwrap();
        big.file.write_all(b"abcde").unwrap();
        let Captured::File { path, size } = capturer.finish(big).unwrap() else {
            panic!("not spilled")
        };
        assert_eq!(size, 5);
        let path = path_of(&path);
        assert_eq!(std::fs::read(path).unwrap(), b"abcde");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(&spill_prefix(std::process::id())),
            "{name}"
        );
        assert!(name.ends_with(".stderr"), "{name}");
        // Nothing else is left in the directory: the inline one had no name.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn output_directory_files_are_named_by_sequence_number() {
        let dir = tempfile::tempdir().unwrap();
        let mut capturer = Capturer::new(
            CaptureMode::Files {
                dir: dir.path().as_os_str().as_bytes().to_vec(),
            },
            std::process::id(),
        );
        let mut out = capturer.open(12, Stream::Stdout).unwrap();
        out.file.write_all(b"x").unwrap();
        let captured = capturer.finish(out).unwrap();
        assert_eq!(
            captured,
            Captured::File {
                path: dir.path().join("12.stdout").as_os_str().as_bytes().to_vec(),
                size: 1
            }
        );
    }

    #[test]
    fn anonymous_files_leave_no_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = anonymous_file(dir.path()).unwrap();
        file.write_all(b"data").unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
