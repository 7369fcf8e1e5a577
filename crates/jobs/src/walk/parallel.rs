//! The walk of one real directory on every core: each directory is listed and its entries
//! examined (`fstatat` relative to the directory, no path resolution from the root) as rayon
//! tasks, subdirectories in parallel, and the parts are joined in exactly the order the serial
//! walk yields them: depth-first, entries sorted by name.
//!
//! With a partition, each entry is kept or dropped where it is examined, so the walk of one
//! partition holds only that partition's entries.
//!
//! Used when symlinks are not followed. Following them needs the serial walk's loop detection
//! (the ancestors of each directory), so that mode stays serial.

use std::ffi::OsString;
use std::fs::{self, DirEntry};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rayon::prelude::*;

use super::{NameFilter, Owned, SkipReason, Walked, classify_type, error, skipped};
use crate::describe_io_error;

/// Everything under `dir` (not `dir` itself) that `owned` keeps (all without a partition), in
/// the serial walk's order.
pub(super) fn walk_dir<F: NameFilter + Sync>(
    dir: &Path,
    filter: &F,
    owned: Option<&Owned<'_>>,
) -> Vec<Walked> {
    let mut out = Vec::new();
    walk_into(dir, filter, owned, &mut out);
    out
}

fn kept(walked: Walked, owned: Option<&Owned<'_>>) -> Option<Walked> {
    owned.is_none_or(|o| o.keeps(&walked)).then_some(walked)
}

/// What one entry of a directory contributed.
enum Part {
    Nothing,
    One(Walked),
    /// A subdirectory's whole walk.
    Many(Vec<Walked>),
}

fn walk_into<F: NameFilter + Sync>(
    dir: &Path,
    filter: &F,
    owned: Option<&Owned<'_>>,
    out: &mut Vec<Walked>,
) {
    let entries = match list_sorted(dir) {
        Ok(entries) => entries,
        Err(err) => {
            out.extend(kept(error(dir, describe_io_error(&err)), owned));
            return;
        }
    };
    let parts: Vec<Part> = entries
        .par_iter()
        .map(|(name, entry)| match examine(name, entry, filter, owned) {
            Part::One(walked) => kept(walked, owned).map_or(Part::Nothing, Part::One),
            part => part,
        })
        .collect();
    for part in parts {
        match part {
            Part::Nothing => {}
            Part::One(walked) => out.push(walked),
            Part::Many(walked) => out.extend(walked),
        }
    }
}

/// The entries of `dir` sorted by name (byte order, as the serial walk sorts them).
fn list_sorted(dir: &Path) -> std::io::Result<Vec<(OsString, DirEntry)>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        entries.push((entry.file_name(), entry));
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

fn examine<F: NameFilter + Sync>(
    name: &OsString,
    entry: &DirEntry,
    filter: &F,
    owned: Option<&Owned<'_>>,
) -> Part {
    let path = entry.path();
    let file_type = match entry.file_type() {
        Ok(file_type) => file_type,
        Err(err) => return Part::One(error(&path, describe_io_error(&err))),
    };
    if file_type.is_dir() {
        return Part::Many(walk_dir(&path, filter, owned));
    }
    if !filter.matches(name.as_bytes()) {
        return Part::Nothing;
    }
    if file_type.is_symlink() {
        return Part::One(skipped(&path, SkipReason::Symlink));
    }
    let size = || {
        entry
            .metadata()
            .map(|m| m.len())
            .map_err(|e| describe_io_error(&e))
    };
    classify_type(&path, file_type, size).map_or(Part::Nothing, Part::One)
}
