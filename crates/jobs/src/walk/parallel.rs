//! The walk of one real directory on every core: each directory is read (names and types from
//! the directory entries themselves), its subdirectories are walked in parallel (rayon), opened
//! relative to their parent's descriptor, and the parts are joined in exactly the order the
//! serial walk yields them: depth-first, entries sorted by name.
//!
//! A directory's files cost no allocation of their own: their names are read into one buffer,
//! sorted by index, and pushed straight into the directory's [`Listing`] (its [`PathList`] keeps
//! the directory once and the names back to back). Where a size is wanted it is an `fstatat`
//! relative to the directory, on every core when a directory has many files. Measured on a
//! million files of ~200 bytes in 3,007 directories: 0.53 s of CPU for the walk when each entry
//! was a rayon task with a `DirEntry`, a joined `PathBuf` and a path `Vec` of its own, against
//! find's 0.22 s.
//!
//! With a partition, each entry is kept or dropped where it is examined, so the walk of one
//! partition holds only that partition's entries.
//!
//! Used when symlinks are not followed. Following them needs the serial walk's loop detection
//! (the ancestors of each directory), so that mode stays serial.
//!
//! With [`Sizes::WherePaying`] a directory's regular files are only `stat`-ed for their sizes
//! when a sample of them ([`SAMPLES`] spread evenly over them in name order) averages at
//! least [`SIZES_PAY_FROM`] bytes; the others keep size 0. Measured on a million files of ~200
//! bytes, the `stat` of every entry was a quarter of the whole run's CPU time, and a size buys
//! nothing there: the worker `fstat`s each file it opens anyway, and a few hundred bytes hash
//! in about the same time whatever lanes they share. Where files are bigger, sizes pay for
//! their `stat`: largest-first dispatch keeps the SIMD lanes evenly filled and a big file off
//! the end of the run. The decision depends only on the directory's contents (not on the
//! partition), so discovery (and with it the journal's fingerprint of the task list) is the
//! same on every run.
//!
//! [`PathList`]: crate::PathList

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag, fstatat};
use rayon::prelude::*;

use super::listing::Listing;
use super::{NameFilter, Owned, Sizes, SkipReason, Walked};
use crate::describe_io_error;
use crate::sys::dirents::{EntryType, for_each_entry};

/// With [`Sizes::WherePaying`], the sample of a directory's files: this many regular files
/// (among those the filter keeps), spread evenly over them in name order, the first included.
/// Measured on a million files of ~200 bytes in 3,007 directories: the walk took 0.25 s when
/// it sampled the first and every 16th file (62,500 `stat`s of cold inodes), 0.22 s with the
/// first file only.
const SAMPLES: usize = 4;

/// With [`Sizes::WherePaying`], a directory whose sampled files average at least this many
/// bytes gets every file `stat`-ed: below it, a file's hashing costs about its opening, and a
/// `stat` (about 2 µs here) would cost as much as the best order could save.
const SIZES_PAY_FROM: u64 = 1024;

/// A directory with more files than this to `stat` spreads the `stat`s over every core.
const PARALLEL_STATS_FROM: usize = 64;

/// Everything under `dir` (not `dir` itself) that `owned` keeps (all without a partition), in
/// the serial walk's order; the files held compactly (a [`Listing`]).
pub(super) fn walk_dir<F: NameFilter + Sync>(
    dir: &Path,
    filter: &F,
    owned: Option<&Owned<'_>>,
    sizes: Sizes,
) -> Listing {
    let mut out = Listing::default();
    let path = dir.as_os_str().as_bytes();
    let walk = Walker {
        filter,
        owned,
        sizes,
    };
    match nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(handle) => walk.walk_into(handle, path, &mut out),
        Err(errno) => walk.keep(error(path, &errno), &mut out),
    }
    out
}

/// What a directory entry is, from its `d_type` (or an `fstatat` where the file system does
/// not say).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink,
    Special(SkipReason),
}

impl Kind {
    fn of_type(t: EntryType) -> Option<Kind> {
        Some(match t {
            EntryType::Dir => Kind::Dir,
            EntryType::File => Kind::File,
            EntryType::Symlink => Kind::Symlink,
            EntryType::Fifo => Kind::Special(SkipReason::Fifo),
            EntryType::Socket => Kind::Special(SkipReason::Socket),
            EntryType::Device => Kind::Special(SkipReason::Device),
            EntryType::Unknown => return None,
        })
    }

    fn of_stat(stat: &FileStat) -> Kind {
        match SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits()) {
            SFlag::S_IFDIR => Kind::Dir,
            SFlag::S_IFREG => Kind::File,
            SFlag::S_IFLNK => Kind::Symlink,
            SFlag::S_IFIFO => Kind::Special(SkipReason::Fifo),
            SFlag::S_IFSOCK => Kind::Special(SkipReason::Socket),
            _ => Kind::Special(SkipReason::Device),
        }
    }
}

/// One directory's entries: names back to back, sorted by index.
struct Entries {
    names: Vec<u8>,
    /// `(start, end)` of each name in `names`, its kind (`None`: not yet known), in name order.
    items: Vec<(usize, usize, Option<Kind>)>,
}

impl Entries {
    fn name(&self, i: usize) -> &[u8] {
        let (start, end, _) = self.items[i];
        &self.names[start..end]
    }
}

/// Reads a directory's entries (without `.` and `..`), sorted by name bytes as the serial walk
/// sorts them.
fn list_sorted(dir: BorrowedFd<'_>) -> io::Result<Entries> {
    let mut names = Vec::new();
    let mut items = Vec::new();
    for_each_entry(dir, |name, kind| {
        if name == b"." || name == b".." {
            return;
        }
        let start = names.len();
        names.extend_from_slice(name);
        items.push((start, names.len(), Kind::of_type(kind)));
    })?;
    items.sort_unstable_by(|a, b| names[a.0..a.1].cmp(&names[b.0..b.1]));
    Ok(Entries { names, items })
}

/// `dir` + `/` + `name`, as `Path::join` makes it (no second `/` after one that ends `dir`).
fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut path = Vec::with_capacity(dir.len() + 1 + name.len());
    path.extend_from_slice(dir);
    if !dir.ends_with(b"/") {
        path.push(b'/');
    }
    path.extend_from_slice(name);
    path
}

fn io_error(errno: &nix::Error) -> String {
    describe_io_error(&io::Error::from_raw_os_error(*errno as i32))
}

fn error(path: &[u8], errno: &nix::Error) -> Walked {
    Walked::Error {
        path: path.to_vec(),
        message: io_error(errno),
    }
}

fn size_at(dir: BorrowedFd<'_>, name: &[u8]) -> Result<u64, String> {
    fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map(|stat| stat.st_size as u64)
        .map_err(|errno| io_error(&errno))
}

/// Which sizes of a directory's regular files are known or wanted.
enum Known {
    /// Every size is wanted (`stat` each file).
    Every,
    /// Only the sampled ones: `(entry index, size)`, in entry order; the rest are 0.
    Sampled(Vec<(usize, Result<u64, String>)>),
}

struct Walker<'a, F> {
    filter: &'a F,
    owned: Option<&'a Owned<'a>>,
    sizes: Sizes,
}

impl<F: NameFilter + Sync> Walker<'_, F> {
    /// Adds `walked` to `out` if this partition keeps it.
    fn keep(&self, walked: Walked, out: &mut Listing) {
        if self.owned.is_none_or(|o| o.keeps(&walked)) {
            out.push(walked);
        }
    }

    fn walk_into(&self, dir: OwnedFd, path: &[u8], out: &mut Listing) {
        let fd = dir.as_fd();
        let mut entries = match list_sorted(fd) {
            Ok(entries) => entries,
            Err(err) => {
                let message = describe_io_error(&err);
                return self.keep(
                    Walked::Error {
                        path: path.to_vec(),
                        message,
                    },
                    out,
                );
            }
        };
        // A file system that gives no type in its entries: one `fstatat` each tells.
        let mut unknown = Vec::new();
        for i in 0..entries.items.len() {
            if entries.items[i].2.is_none() {
                match fstatat(fd, entries.name(i), AtFlags::AT_SYMLINK_NOFOLLOW) {
                    Ok(stat) => entries.items[i].2 = Some(Kind::of_stat(&stat)),
                    Err(errno) => unknown.push((i, io_error(&errno))),
                }
            }
        }
        let wanted = |i: usize| -> bool {
            let kind = entries.items[i].2;
            kind != Some(Kind::Dir) && self.filter.matches(entries.name(i))
        };
        let files: Vec<usize> = (0..entries.items.len())
            .filter(|&i| entries.items[i].2 == Some(Kind::File) && wanted(i))
            .collect();
        let known = match self.sizes {
            Sizes::Every => Known::Every,
            Sizes::WherePaying => sample(fd, &entries, &files),
        };
        let sizes: Vec<Result<u64, String>> = match &known {
            Known::Every if files.len() > PARALLEL_STATS_FROM => files
                .par_iter()
                .map(|&i| size_at(fd, entries.name(i)))
                .collect(),
            Known::Every => files
                .iter()
                .map(|&i| size_at(fd, entries.name(i)))
                .collect(),
            Known::Sampled(_) => Vec::new(),
        };
        let subdirs: Vec<usize> = (0..entries.items.len())
            .filter(|&i| entries.items[i].2 == Some(Kind::Dir))
            .collect();
        let mut walked: Vec<Listing> = subdirs
            .par_iter()
            .map(|&i| {
                let mut part = Listing::default();
                let sub = join(path, entries.name(i));
                let flags =
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                match nix::fcntl::openat(fd, entries.name(i), flags, Mode::empty()) {
                    Ok(handle) => self.walk_into(handle, &sub, &mut part),
                    Err(errno) => self.keep(error(&sub, &errno), &mut part),
                }
                part
            })
            .collect();
        let mut walked = walked.drain(..);
        let prefix = join(path, b"");
        let (mut next_file, mut next_unknown) = (0, 0);
        for i in 0..entries.items.len() {
            if unknown.get(next_unknown).is_some_and(|(u, _)| *u == i) {
                // Its type is unknown, so it may have been a directory: always reported.
                let message = std::mem::take(&mut unknown[next_unknown].1);
                next_unknown += 1;
                let path = join(path, entries.name(i));
                self.keep(Walked::Error { path, message }, out);
                continue;
            }
            let name = entries.name(i);
            match entries.items[i].2 {
                Some(Kind::Dir) => out.append(walked.next().expect("one walk per subdirectory")),
                Some(Kind::File) if files.get(next_file) == Some(&i) => {
                    let k = next_file;
                    next_file += 1;
                    let size = match &known {
                        Known::Every => sizes[k].clone(),
                        Known::Sampled(sampled) => sampled
                            .binary_search_by_key(&i, |(j, _)| *j)
                            .map_or(Ok(0), |s| sampled[s].1.clone()),
                    };
                    match (size, self.owned) {
                        (Ok(size), None) => out.files.push_parts(&prefix, name, size),
                        (Ok(size), Some(_)) => {
                            let path = join(path, name);
                            self.keep(Walked::File { path, size }, out);
                        }
                        (Err(message), _) => {
                            let path = join(path, name);
                            self.keep(Walked::Error { path, message }, out);
                        }
                    }
                }
                Some(Kind::Symlink) if wanted(i) => {
                    let path = join(path, name);
                    self.keep(skipped(path, SkipReason::Symlink), out);
                }
                Some(Kind::Special(reason)) if wanted(i) => {
                    self.keep(skipped(join(path, name), reason), out);
                }
                _ => {}
            }
        }
    }
}

fn skipped(path: Vec<u8>, reason: SkipReason) -> Walked {
    Walked::Skipped { path, reason }
}

/// `stat`s the sample of a directory's regular files (see [`SAMPLES`]) and decides whether
/// the rest are worth it.
fn sample(dir: BorrowedFd<'_>, entries: &Entries, files: &[usize]) -> Known {
    let sampled: Vec<(usize, Result<u64, String>)> = sample_positions(files.len())
        .map(|k| files[k])
        .map(|i| (i, size_at(dir, entries.name(i))))
        .collect();
    let seen: Vec<u64> = sampled
        .iter()
        .filter_map(|(_, size)| size.clone().ok())
        .collect();
    if sizes_pay(&seen) {
        return Known::Every;
    }
    Known::Sampled(sampled)
}

/// Which of `n` files in name order are the sample: [`SAMPLES`] of them spread evenly, the
/// first included.
pub(crate) fn sample_positions(n: usize) -> impl Iterator<Item = usize> {
    let picks = SAMPLES.min(n);
    (0..picks).map(move |k| k * n / picks)
}

/// Whether the sizes a sample found say every file's size pays for its `stat`: they average
/// at least [`SIZES_PAY_FROM`] (none found: no).
pub(crate) fn sizes_pay(seen: &[u64]) -> bool {
    !seen.is_empty() && seen.iter().sum::<u64>() / seen.len() as u64 >= SIZES_PAY_FROM
}
