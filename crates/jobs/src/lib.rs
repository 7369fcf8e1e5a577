//! The work that `supervisor` runs, independent of how it is run.
//!
//! # Theory of operation
//!
//! A job is split in two halves that may live in different processes:
//!
//! * **Discovery** runs in the parent. It is cheap metadata work (walking directories, reading
//!   `lstat` results, parsing targets) and yields a lazy stream of tasks, so the parent can
//!   start dispatching before the walk has finished and never holds more than it must.
//! * **The per-task work** ([`hash::hash_file`], [`logs::count_range`], [`probe::probe_group`],
//!   [`cpu::sum_of_squares`], [`fault::FaultTask::run`]) is a plain function from serde data to
//!   serde data. Any process can run it, any number of times, in any order: nothing depends on
//!   state left behind by an earlier task, which is what makes retrying a task on a fresh
//!   worker after a crash safe.
//!
//! The jobs:
//!
//! * [`hash`]: digest every regular file under some roots, print `md5sum`-style lines. MD5
//!   of many files runs side by side in SIMD lanes ([`hash::GroupDigester`]), because one MD5
//!   stream cannot use SIMD and a tree is mostly small files.
//! * [`logs`]: count lines, and lines per pattern, in log files (gzip included). A big file
//!   is split into byte ranges counted by different workers; a line belongs to the range
//!   holding its first byte, so [`logs::LogCounts::merge`] adds the ranges up exactly.
//! * [`probe`]: TCP reachability of `HOST:PORT` targets. A task is a group of targets probed
//!   concurrently inside one worker, because the work is waiting, not computing.
//! * [`cpu`]: the classic multiprocessing benchmark's sum-of-squares loop, pure CPU, with exact `u128` results.
//! * [`fault`]: tasks that crash, hang or leak on purpose.
//! * [`exec`]: any command, once per input item, with GNU parallel's replacement strings. Its
//!   per-task work starts a child process of whichever process runs it, and a guardian keeps
//!   that child's process group from outliving its runner by accident.
//!
//! [`partition`] splits a run's tasks over independent runs (scheduler array tasks) by a
//! stable hash of each task's key; the walks filter by it as they go
//! ([`hash::Discover::in_partition`], [`logs::DiscoverLogs::in_partition`]), so one partition
//! never holds the others' files.
//!
//! The `hash` and `logs` jobs share one directory walk (deterministic order, run on every core
//! when symlinks are not followed, symlinks and special files reported as [`SkipReason`]s,
//! never opened) and one way of opening a file to read: `O_NONBLOCK`, then checked to be regular on the descriptor, so a FIFO swapped in
//! since discovery cannot block a worker.
//!
//! The walk `stat`s every file for its size, or, asked to
//! ([`hash::Discover::sizes_where_paying`]), only where sizes are worth it: a run of the `hash`
//! job uses them only to dispatch the largest first, which pays for bigger files and not for a
//! directory of tiny ones (a sample of a directory's files decides, the same way on every run),
//! where the worker's own `fstat` of the open file is the only one.
//!
//! A [`hash::GroupDigester`] reads a group's small files through io_uring where the kernel
//! allows it: the group's opens in one submission, each descriptor checked to be a regular
//! file, the reads into the arena in one submission per arena-full, the closes in one more.
//! Where io_uring is missing or refused (an old kernel, `kernel.io_uring_disabled`, a seccomp
//! profile), or `SUPERVISOR_IO_URING=off`, it makes the same steps one system call at a time,
//! with the same results ([`hash::FileIo`] says which).
//!
//! Errors are values, not panics: an unreadable file is a [`hash::HashError`] or
//! [`logs::LogError`], a refused connection a [`probe::ProbeStatus::Down`], which the caller
//! reports as that task's result. The only deliberate process deaths are the ones the
//! [`fault`] job exists to produce, so that the supervisor's crash handling can be exercised
//! end to end.
//!
//! Paths cross process boundaries as raw bytes (`Vec<u8>`), never `PathBuf` or `String`, because
//! Unix file names need not be UTF-8 and must survive the trip exactly. A parent that holds a
//! whole tree keeps its paths in a [`PathList`] (a directory once per run of its files, the
//! names back to back: ~26 bytes a file with its size), which the parallel walk fills
//! directly ([`hash::Discover::into_discovered`]); each [`hash::ListedFile`] task points into it
//! and crosses to a worker exactly as a [`hash::FileEntry`] would.
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod cpu;
pub mod exec;
pub mod fault;
pub mod hash;
mod io_text;
pub mod logs;
mod open_regular;
pub mod partition;
mod path_list;
pub mod probe;
#[allow(unsafe_code)]
mod sys;
mod walk;

pub use io_text::describe_io_error;
pub use path_list::{ImageError, PathImage, PathList};
pub use walk::SkipReason;
