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
//!
//! With [`Sizes::WherePaying`] a directory's regular files are only `stat`-ed for their sizes
//! when a sample of them (the first and every [`SAMPLE_EVERY`]th, in name order) averages at
//! least [`SIZES_PAY_FROM`] bytes; the others keep size 0. Measured on a million files of ~200
//! bytes, the `stat` of every entry was a quarter of the whole run's CPU time, and a size buys
//! nothing there: the worker `fstat`s each file it opens anyway, and a few hundred bytes hash
//! in about the same time whatever lanes they share. Where files are bigger, sizes pay for
//! their `stat`: largest-first dispatch keeps the SIMD lanes evenly filled and a big file off
//! the end of the run. The decision depends only on the directory's contents (not on the
//! partition), so discovery (and with it the journal's fingerprint of the task list) is the
//! same on every run.

use std::ffi::OsString;
use std::fs::{self, DirEntry};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rayon::prelude::*;

use super::listing::Listing;
use super::{NameFilter, Owned, Sizes, SkipReason, Walked, classify_type, error, skipped};
use crate::describe_io_error;

/// With [`Sizes::WherePaying`], the sample of a directory's files: the first and every
/// `SAMPLE_EVERY`th regular file (among those the filter keeps, in name order).
const SAMPLE_EVERY: usize = 16;

/// With [`Sizes::WherePaying`], a directory whose sampled files average at least this many
/// bytes gets every file `stat`-ed: below it, a file's hashing costs about its opening, and a
/// `stat` (about 2 µs here) would cost as much as the best order could save.
const SIZES_PAY_FROM: u64 = 1024;

/// Everything under `dir` (not `dir` itself) that `owned` keeps (all without a partition), in
/// the serial walk's order; the files held compactly (a [`Listing`]).
pub(super) fn walk_dir<F: NameFilter + Sync>(
    dir: &Path,
    filter: &F,
    owned: Option<&Owned<'_>>,
    sizes: Sizes,
) -> Listing {
    let mut out = Listing::default();
    walk_into(dir, filter, owned, sizes, &mut out);
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
    Many(Listing),
}

fn walk_into<F: NameFilter + Sync>(
    dir: &Path,
    filter: &F,
    owned: Option<&Owned<'_>>,
    sizes: Sizes,
    out: &mut Listing,
) {
    let entries = match list_sorted(dir) {
        Ok(entries) => entries,
        Err(err) => {
            if let Some(walked) = kept(error(dir, describe_io_error(&err)), owned) {
                out.push(walked);
            }
            return;
        }
    };
    let known = match sizes {
        Sizes::Every => Known::Every,
        Sizes::WherePaying => sample(&entries, filter),
    };
    let parts: Vec<Part> = entries
        .par_iter()
        .enumerate()
        .map(
            |(i, (name, entry))| match examine(name, entry, filter, owned, sizes, known.of(i)) {
                Part::One(walked) => kept(walked, owned).map_or(Part::Nothing, Part::One),
                part => part,
            },
        )
        .collect();
    for part in parts {
        match part {
            Part::Nothing => {}
            Part::One(walked) => out.push(walked),
            Part::Many(walked) => out.append(walked),
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

/// Which sizes of a directory's regular files are known or wanted.
enum Known {
    /// Every size is wanted (`stat` each file).
    Every,
    /// Only the sampled ones, already `stat`-ed: `(entry index, size)`.
    Sampled(Vec<(usize, Result<u64, String>)>),
}

/// What to do about one entry's size.
enum SizeOf<'a> {
    /// `stat` it.
    Stat,
    /// Already known from the sample.
    Known(&'a Result<u64, String>),
    /// Not worth a `stat`: 0.
    Skip,
}

impl Known {
    fn of(&self, entry: usize) -> SizeOf<'_> {
        match self {
            Known::Every => SizeOf::Stat,
            Known::Sampled(sampled) => match sampled.binary_search_by_key(&entry, |(i, _)| *i) {
                Ok(k) => SizeOf::Known(&sampled[k].1),
                Err(_) => SizeOf::Skip,
            },
        }
    }
}

/// `stat`s the sample of a directory's regular files (see [`SAMPLE_EVERY`]) and decides whether
/// the rest are worth it.
fn sample<F: NameFilter>(entries: &[(OsString, DirEntry)], filter: &F) -> Known {
    let sampled: Vec<(usize, Result<u64, String>)> = entries
        .iter()
        .enumerate()
        .filter(|(_, (name, entry))| {
            entry.file_type().is_ok_and(|t| t.is_file()) && filter.matches(name.as_bytes())
        })
        .step_by(SAMPLE_EVERY)
        .map(|(i, (_, entry))| (i, size_of(entry)))
        .collect();
    let seen: Vec<u64> = sampled
        .iter()
        .filter_map(|(_, size)| size.clone().ok())
        .collect();
    let total: u64 = seen.iter().sum();
    if !seen.is_empty() && total / seen.len() as u64 >= SIZES_PAY_FROM {
        return Known::Every;
    }
    Known::Sampled(sampled)
}

fn size_of(entry: &DirEntry) -> Result<u64, String> {
    entry
        .metadata()
        .map(|m| m.len())
        .map_err(|e| describe_io_error(&e))
}

fn examine<F: NameFilter + Sync>(
    name: &OsString,
    entry: &DirEntry,
    filter: &F,
    owned: Option<&Owned<'_>>,
    sizes: Sizes,
    size: SizeOf<'_>,
) -> Part {
    let path = entry.path();
    let file_type = match entry.file_type() {
        Ok(file_type) => file_type,
        Err(err) => return Part::One(error(&path, describe_io_error(&err))),
    };
    if file_type.is_dir() {
        return Part::Many(walk_dir(&path, filter, owned, sizes));
    }
    if !filter.matches(name.as_bytes()) {
        return Part::Nothing;
    }
    if file_type.is_symlink() {
        return Part::One(skipped(&path, SkipReason::Symlink));
    }
    let size = || match size {
        SizeOf::Stat => size_of(entry),
        SizeOf::Known(known) => known.clone(),
        SizeOf::Skip => Ok(0),
    };
    classify_type(&path, file_type, size).map_or(Part::Nothing, Part::One)
}
