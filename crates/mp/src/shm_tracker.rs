//! The shared-memory tracker (Python's resource tracker, without a process): it removes the
//! `/dev/shm` entries of segments whose owner was killed before it could unlink them.
//!
//! # How it works
//!
//! - Every process of a tree shares one **tracker directory**,
//!   `$TMPDIR/supervisor-mp-shm-<top pid>/` (mode 0700, owned by this user), where `<top pid>`
//!   is the pid of the top-level process. The rule for finding it: a process that called
//!   [`init`](crate::init) and returned from it (the program's own `main`), or that is not a
//!   worker at all, is the top level; a worker's top level is its direct parent, named by the
//!   runtime's `SUPERVISOR_PARENT_PID` variable. Workers cannot start workers of their own
//!   (that fails with `Error::NotInitialized`), so the tree is never deeper than that.
//! - When a process [creates](crate::SharedMemory::create) a segment, it writes a marker file
//!   named after the segment into that directory, holding its pid and start time; when it
//!   unlinks the segment (drop or `unlink`) it removes the marker.
//! - [`sweep`] (public as [`shm_sweep`](crate::shm_sweep)) looks at every marker whose owner is
//!   gone (no `/proc/<pid>`, a zombie, or a different process that reused the pid), unlinks the
//!   segment and removes the marker. In the top-level process it also removes the tracker
//!   directory once it is empty, and cleans up tracker directories left by earlier top-level
//!   processes that are themselves dead. It runs automatically whenever the top-level process
//!   creates or drops a `SharedMemory` (its own tree only), and whenever
//!   [`shm_sweep`](crate::shm_sweep) is called (also the dead trees).
//!
//! Gaps: an owner killed between creating the segment and writing its marker (a few
//! microseconds) still leaks; nothing runs at the very end of `main`, so call
//! [`shm_sweep`](crate::shm_sweep) after the last worker that may own segments has ended.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

const PREFIX: &str = "supervisor-mp-shm-";
/// The runtime's variable naming a worker's parent (see `supervisor-runtime`'s process.rs).
const PARENT_ENV: &str = "SUPERVISOR_PARENT_PID";

/// Pid of the top-level process of this tree (see the module docs for the rule).
fn top_pid() -> u32 {
    if crate::initialized() {
        return std::process::id();
    }
    std::env::var(PARENT_ENV)
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .unwrap_or_else(std::process::id)
}

/// Whether this process is the top level of its tree (the one that cleans up).
pub(crate) fn is_top_level() -> bool {
    top_pid() == std::process::id()
}

fn dir_of(top: u32) -> PathBuf {
    std::env::temp_dir().join(format!("{PREFIX}{top}"))
}

/// A directory we may trust: a real directory (not a link), ours, and private.
fn trusted(dir: &Path) -> bool {
    match fs::symlink_metadata(dir) {
        Ok(meta) => {
            meta.is_dir()
                && meta.uid() == nix::unistd::geteuid().as_raw()
                && meta.mode() & 0o077 == 0
        }
        Err(_) => false,
    }
}

/// Creates (if needed) and returns the tracker directory, or `None` if it is not trustworthy.
fn ensure_dir() -> Option<PathBuf> {
    let dir = dir_of(top_pid());
    match fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(_) => return None,
    }
    trusted(&dir).then_some(dir)
}

/// `pid start-time` of a live, non-zombie process, from `/proc/<pid>/stat`.
fn identity(pid: u32) -> Option<String> {
    crate::proc_start::start_time(pid).map(|start| format!("{pid} {start}"))
}

fn alive(marker: &str) -> bool {
    let mut words = marker.split_whitespace();
    let Some(pid) = words.next().and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    identity(pid).is_some_and(|id| id.trim() == marker.trim())
}

/// Records that this process owns segment `name`; returns the marker's path.
pub(crate) fn track(name: &str) -> Option<PathBuf> {
    let me = identity(std::process::id())?;
    // The top level may remove an empty directory at any moment: retry once it is recreated.
    for _ in 0..5 {
        let dir = ensure_dir()?;
        let path = dir.join(name);
        match fs::write(&path, &me) {
            Ok(()) => return Some(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(_) => return None,
        }
    }
    None
}

/// Forgets a marker written by [`track`].
pub(crate) fn untrack(marker: &Path) {
    let _ = fs::remove_file(marker);
}

fn unlink_segment(name: &str) {
    let _ = nix::sys::mman::shm_unlink(format!("/{name}").as_str());
}

/// Unlinks the segments of dead owners recorded in `dir`; returns how many were unlinked.
fn sweep_dir(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let path = entry.path();
        let Ok(marker) = fs::read_to_string(&path) else {
            continue;
        };
        // An empty marker is one being written right now: leave it.
        if marker.is_empty() || alive(&marker) {
            continue;
        }
        unlink_segment(&name);
        let _ = fs::remove_file(&path);
        removed += 1;
    }
    removed
}

/// Sweeps this tree's tracker directory (see the module docs); with `stale_trees`, in the
/// top-level process, also the directories of dead earlier trees (a scan of the temp dir).
/// Returns how many leaked segments were unlinked.
pub(crate) fn sweep(stale_trees: bool) -> usize {
    let top = top_pid();
    let dir = dir_of(top);
    let mut removed = 0;
    if trusted(&dir) {
        removed += sweep_dir(&dir);
    }
    if top == std::process::id() {
        let _ = fs::remove_dir(&dir);
        if stale_trees {
            removed += sweep_stale_trees();
        }
    }
    removed
}

/// Tracker directories of top-level processes that are gone (killed with their whole tree).
fn sweep_stale_trees() -> usize {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        if pid == std::process::id() || identity(pid).is_some() || !trusted(&dir) {
            continue;
        }
        removed += sweep_dir(&dir);
        let _ = fs::remove_dir(&dir);
    }
    removed
}
