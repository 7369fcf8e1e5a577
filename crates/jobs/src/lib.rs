//! The work that `supervisor` runs, independent of how it is run.
//!
//! # Theory of operation
//!
//! A job is split in two halves that may live in different processes:
//!
//! * **Discovery** runs in the parent. It is cheap metadata work (walking directories, reading
//!   `lstat` results) and yields a lazy stream of tasks, so the parent can start dispatching
//!   before the walk has finished and never holds more than it must.
//! * **The per-task work** ([`hash::hash_file`], [`fault::FaultTask::run`]) is a plain function
//!   from serde data to serde data. Any process can run it, any number of times, in any order:
//!   nothing depends on state left behind by an earlier task, which is what makes retrying a
//!   task on a fresh worker after a crash safe.
//!
//! Errors are values, not panics: an unreadable file is a [`hash::HashError`] the caller reports
//! as that file's result. The only deliberate process deaths are the ones the [`fault`] job
//! exists to produce, so that the supervisor's crash handling can be exercised end to end.
//!
//! Paths cross process boundaries as raw bytes (`Vec<u8>`), never `PathBuf` or `String`, because
//! Unix file names need not be UTF-8 and must survive the trip exactly.
#![deny(missing_docs)]

pub mod fault;
pub mod hash;
mod io_text;

pub use io_text::describe_io_error;
