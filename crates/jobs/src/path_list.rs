//! [`PathList`]: many paths (with a size each) held compactly, for a parent that keeps a
//! million files in memory while they are hashed.
//!
//! A walk yields the files of one directory one after another, and they share everything up
//! to their last `/`. So the list keeps *runs*: one prefix (the bytes up to and including the
//! last `/`) per run of consecutive paths that share it, and each path's final component back
//! to back in one buffer, with a 4-byte end offset each. A million files of a benchmark tree
//! (`/tmp/supervisor-bench/million/d00/s00/file000000.dat`, 51 bytes) cost 14 bytes of name,
//! 4 of offset and 8 of size, 26 in all, where a `Vec<u8>` per path cost 24 bytes of vector
//! and a 64-byte heap block.
//!
//! The split is on the bytes alone, so any path comes back exactly as it was pushed: prefix
//! and name concatenated are the path, whatever it contains (no normalization, no UTF-8).

use std::cmp::Ordering;

mod image;
pub use image::{ImageError, PathImage};

/// One run of consecutive paths sharing a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Run {
    /// Index of the run's first path.
    first: usize,
    /// Where the run's prefix starts and ends in `prefixes`.
    prefix: (usize, usize),
    /// Where the run's names start in `names`.
    names: usize,
}

/// Paths (raw bytes) and their sizes, in the order pushed; about 26 bytes a file for a tree's
/// files instead of a heap allocation each (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathList {
    prefixes: Vec<u8>,
    runs: Vec<Run>,
    names: Vec<u8>,
    /// End of each path's name, relative to its run's `names` start (a run is cut before it
    /// would pass `u32::MAX`).
    ends: Vec<u32>,
    sizes: Vec<u64>,
}

thread_local! {
    /// The run of the path this thread last looked up, in whichever list: a thread mostly asks
    /// for paths in order (the output, the event log's table of tasks), and then the next one
    /// is in this run or the next. Per thread, so that another thread's lookups at random
    /// (batches sent largest first) neither spoil it nor bounce its cache line. Only a hint:
    /// `run_of` checks it before use, so any value (another list's) is safe.
    static RUN_HINT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The run holding path `i` of a list (or image) of `runs` runs, run `r` starting at path
/// `first(r)` (0 for run 0, never decreasing): this thread's last answer or the run after it
/// where either holds `i`, else a binary search; the answer becomes the hint.
fn run_holding(i: usize, runs: usize, first: impl Fn(usize) -> usize) -> usize {
    let holds =
        |run: usize| run < runs && first(run) <= i && (run + 1 == runs || i < first(run + 1));
    let hint = RUN_HINT.get();
    let run = if holds(hint) {
        return hint;
    } else if holds(hint + 1) {
        hint + 1
    } else {
        // The last run starting at or before `i`: `first(low) <= i` throughout.
        let (mut low, mut high) = (0, runs);
        while high - low > 1 {
            let mid = low + (high - low) / 2;
            if first(mid) <= i {
                low = mid;
            } else {
                high = mid;
            }
        }
        low
    };
    RUN_HINT.set(run);
    run
}

/// Where a path is split: after its last `/` (0 when it has none).
fn split_point(path: &[u8]) -> usize {
    path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1)
}

impl PathList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many paths it holds.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Appends `path` with `size`.
    pub fn push(&mut self, path: &[u8], size: u64) {
        let split = split_point(path);
        self.push_split(&path[..split], &path[split..], size);
    }

    /// Appends the path `prefix` + `name`, where `prefix` is everything up to and including
    /// its last `/` (or empty) and `name` holds no `/`.
    pub(crate) fn push_parts(&mut self, prefix: &[u8], name: &[u8], size: u64) {
        debug_assert_eq!(split_point(prefix), prefix.len());
        debug_assert!(!name.contains(&b'/'));
        self.push_split(prefix, name, size);
    }

    fn push_split(&mut self, prefix: &[u8], name: &[u8], size: u64) {
        let fits = |run: &Run| {
            let used = self.names.len() - run.names;
            &self.prefixes[run.prefix.0..run.prefix.1] == prefix
                && used + name.len() <= u32::MAX as usize
        };
        if !self.runs.last().is_some_and(fits) {
            self.start_run(prefix);
        }
        let run = self.runs.last().expect("a run was just ensured");
        self.names.extend_from_slice(name);
        self.ends.push((self.names.len() - run.names) as u32);
        self.sizes.push(size);
    }

    /// Appends every path of `other`, in order: the list is exactly what pushing them one by
    /// one makes, built a run at a time (the walk appends each directory's list to its
    /// parent's; name by name, that was a fifth of the walk's serial end on a million files).
    pub fn append(&mut self, other: &PathList) {
        self.reserve_like(other);
        for run in 0..other.runs.len() {
            let (prefix, first, end) = other.run_bounds(run);
            if first == end {
                continue;
            }
            let from = other.runs[run].names;
            let block = &other.names[from..from + other.ends[end - 1] as usize];
            // The run goes on this list's last run if pushing would put it there: the same
            // prefix, and room for all of it before the run's names pass `u32::MAX`.
            let joins = self
                .runs
                .last()
                .filter(|last| &self.prefixes[last.prefix.0..last.prefix.1] == prefix)
                .map(|last| self.names.len() - last.names);
            let offset = match joins {
                Some(used) if used + block.len() <= u32::MAX as usize => used,
                Some(_) => {
                    // Pushing would cut it somewhere inside: push it the same way.
                    for i in first..end {
                        self.push_split(prefix, other.name_in(run, i), other.sizes[i]);
                    }
                    continue;
                }
                None => {
                    self.start_run(prefix);
                    0
                }
            };
            let offset = u32::try_from(offset).expect("checked to fit above");
            self.names.extend_from_slice(block);
            self.ends
                .extend(other.ends[first..end].iter().map(|&e| e + offset));
            self.sizes.extend_from_slice(&other.sizes[first..end]);
        }
    }

    /// Starts a run with `prefix` at the end of the list (its paths are pushed after).
    fn start_run(&mut self, prefix: &[u8]) {
        let start = self.prefixes.len();
        self.prefixes.extend_from_slice(prefix);
        self.runs.push(Run {
            first: self.ends.len(),
            prefix: (start, self.prefixes.len()),
            names: self.names.len(),
        });
    }

    fn reserve_like(&mut self, other: &PathList) {
        self.names.reserve(other.names.len());
        self.ends.reserve(other.ends.len());
        self.sizes.reserve(other.sizes.len());
    }

    /// Run `run`'s prefix and the range of path indices it holds.
    fn run_bounds(&self, run: usize) -> (&[u8], usize, usize) {
        let r = &self.runs[run];
        let end = self.runs.get(run + 1).map_or(self.ends.len(), |n| n.first);
        (&self.prefixes[r.prefix.0..r.prefix.1], r.first, end)
    }

    /// The name of path `i`, which is in run `run`.
    fn name_in(&self, run: usize, i: usize) -> &[u8] {
        let r = &self.runs[run];
        let start = if i == r.first {
            0
        } else {
            self.ends[i - 1] as usize
        };
        &self.names[r.names + start..r.names + self.ends[i] as usize]
    }

    fn run_of(&self, i: usize) -> usize {
        run_holding(i, self.runs.len(), |run| self.runs[run].first)
    }

    /// Path `i` in two parts: everything up to its last `/`, and the rest. Panics when `i`
    /// is out of range.
    pub fn parts(&self, i: usize) -> (&[u8], &[u8]) {
        assert!(i < self.len(), "path {i} of {}", self.len());
        let run = self.run_of(i);
        let r = &self.runs[run];
        (&self.prefixes[r.prefix.0..r.prefix.1], self.name_in(run, i))
    }

    /// Calls `f` with the two parts of each path of `range` (as [`PathList::parts`]), in order,
    /// with no lookup per path. Panics when `range` goes past the end.
    pub fn for_each_parts<'a>(
        &'a self,
        range: std::ops::Range<usize>,
        mut f: impl FnMut(&'a [u8], &'a [u8]),
    ) {
        if range.is_empty() {
            return;
        }
        assert!(range.end <= self.len(), "paths {range:?} of {}", self.len());
        let mut run = self.run_of(range.start);
        for i in range {
            while self.runs.get(run + 1).is_some_and(|next| next.first <= i) {
                run += 1;
            }
            let r = &self.runs[run];
            f(&self.prefixes[r.prefix.0..r.prefix.1], self.name_in(run, i));
        }
    }

    /// Path `i`, joined. Panics when `i` is out of range.
    pub fn path(&self, i: usize) -> Vec<u8> {
        let (prefix, name) = self.parts(i);
        let mut path = Vec::with_capacity(prefix.len() + name.len());
        path.extend_from_slice(prefix);
        path.extend_from_slice(name);
        path
    }

    /// The size pushed with path `i`. Panics when `i` is out of range.
    pub fn size(&self, i: usize) -> u64 {
        self.sizes[i]
    }

    /// Replaces path `i`'s size (a list built before its sizes were known). Panics when `i` is
    /// out of range.
    pub fn set_size(&mut self, i: usize, size: u64) {
        self.sizes[i] = size;
    }

    /// The runs of consecutive paths that share everything up to their last `/`, in order:
    /// that prefix, and the range of path indices. (A directory's run is cut in two only past
    /// 4 GiB of names.)
    pub fn runs(&self) -> impl Iterator<Item = (&[u8], std::ops::Range<usize>)> + '_ {
        (0..self.runs.len()).map(move |run| {
            let (prefix, first, end) = self.run_bounds(run);
            (prefix, first..end)
        })
    }

    /// Every path in order, as `(prefix, name, size)`, without a search per path.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8], u64)> + '_ {
        (0..self.runs.len()).flat_map(move |run| {
            let (prefix, first, end) = self.run_bounds(run);
            (first..end).map(move |i| (prefix, self.name_in(run, i), self.sizes[i]))
        })
    }

    /// Compares paths `a` and `b` byte by byte, as their joined forms would compare.
    pub fn cmp_paths(&self, a: usize, b: usize) -> Ordering {
        let (pa, na) = self.parts(a);
        let (pb, nb) = self.parts(b);
        cmp_joined(pa, na, pb, nb)
    }

    /// Compares the joined paths `a.0 + a.1` and `b.0 + b.1` byte by byte, without joining
    /// them (for callers that order paths from several lists, or from a list and elsewhere).
    pub fn cmp_parts(a: (&[u8], &[u8]), b: (&[u8], &[u8])) -> Ordering {
        cmp_joined(a.0, a.1, b.0, b.1)
    }

    /// True when every path is byte-wise no greater than the next: each directory's run of
    /// names, and each run's first path against the path before it, the runs on every core (a
    /// million paths took 9 ms in one pass, with the other core idle at the end of a run).
    pub fn is_sorted(&self) -> bool {
        use rayon::prelude::*;
        (0..self.runs.len()).into_par_iter().all(|run| {
            let (prefix, first, end) = self.run_bounds(run);
            if first == end {
                return true;
            }
            let after_previous = first == 0 || {
                let (previous_prefix, previous_name) = self.parts(first - 1);
                cmp_joined(
                    previous_prefix,
                    previous_name,
                    prefix,
                    self.name_in(run, first),
                ) != Ordering::Greater
            };
            after_previous
                && (first + 1..end).all(|i| self.name_in(run, i - 1) <= self.name_in(run, i))
        })
    }
}

/// Compares `a1 + a2` with `b1 + b2` byte-wise without joining them.
pub(crate) fn cmp_joined(a1: &[u8], a2: &[u8], b1: &[u8], b2: &[u8]) -> Ordering {
    // Compare in aligned pieces: the shorter first parts, then what is left of each.
    let (mut a, mut a_next, mut b, mut b_next) = (a1, a2, b1, b2);
    loop {
        if a.is_empty() {
            if a_next.is_empty() {
                return if b.is_empty() && b_next.is_empty() {
                    Ordering::Equal
                } else {
                    Ordering::Less
                };
            }
            a = std::mem::take(&mut a_next);
            continue;
        }
        if b.is_empty() {
            if b_next.is_empty() {
                return Ordering::Greater;
            }
            b = std::mem::take(&mut b_next);
            continue;
        }
        let n = a.len().min(b.len());
        match a[..n].cmp(&b[..n]) {
            Ordering::Equal => {
                a = &a[n..];
                b = &b[n..];
            }
            unequal => return unequal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nasty() -> Vec<Vec<u8>> {
        vec![
            b"/r/a/b.txt".to_vec(),
            b"/r/a/c".to_vec(),
            b"/r/a/".to_vec(),
            b"plain".to_vec(),
            b"".to_vec(),
            b"/".to_vec(),
            b"/r/a.b/x".to_vec(),
            b"/r/a/new\nline".to_vec(),
            b"/r/a/back\\slash".to_vec(),
            b"/r/a/\xff\xfe not utf-8".to_vec(),
            b"/r/a/d".to_vec(),
            b"rel/dir//double".to_vec(),
        ]
    }

    #[test]
    fn gives_back_exactly_what_was_pushed() {
        let mut list = PathList::new();
        for (i, path) in nasty().iter().enumerate() {
            list.push(path, i as u64 * 1000);
        }
        assert_eq!(list.len(), nasty().len());
        for (i, path) in nasty().iter().enumerate() {
            assert_eq!(&list.path(i), path, "path {i}");
            assert_eq!(list.size(i), i as u64 * 1000);
            let (prefix, name) = list.parts(i);
            assert_eq!([prefix, name].concat(), *path);
        }
        let iterated: Vec<Vec<u8>> = list.iter().map(|(p, n, _)| [p, n].concat()).collect();
        assert_eq!(iterated, nasty());
    }

    #[test]
    fn runs_are_consecutive_paths_of_one_prefix_and_sizes_can_be_set() {
        let mut list = PathList::new();
        for path in [&b"a/x"[..], b"a/y", b"b/x", b"a/z", b"top", b"other"] {
            list.push(path, 0);
        }
        let runs: Vec<(&[u8], std::ops::Range<usize>)> = list.runs().collect();
        assert_eq!(
            runs,
            [
                (&b"a/"[..], 0..2),
                (b"b/", 2..3),
                (b"a/", 3..4),
                (b"", 4..6)
            ]
        );
        assert_eq!(PathList::new().runs().count(), 0);
        list.set_size(3, 42);
        assert_eq!(
            (list.size(2), list.size(3), list.path(3)),
            (0, 42, b"a/z".to_vec())
        );
    }

    #[test]
    fn parts_in_order_are_each_paths_parts() {
        let mut list = PathList::new();
        for path in nasty() {
            list.push(&path, 0);
        }
        let n = list.len();
        for range in [0..n, 1..4, 3..3, 5..n, n - 1..n] {
            let mut got = Vec::new();
            list.for_each_parts(range.clone(), |prefix, name| got.push((prefix, name)));
            let want: Vec<_> = range.map(|i| list.parts(i)).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn files_of_one_directory_share_one_prefix() {
        let mut list = PathList::new();
        for i in 0..1000 {
            list.push(
                format!("/tmp/some/long/directory/file{i:06}.dat").as_bytes(),
                0,
            );
        }
        assert_eq!(list.runs.len(), 1);
        assert_eq!(list.prefixes.len(), "/tmp/some/long/directory/".len());
        assert_eq!(list.names.len(), 1000 * "file000000.dat".len());
        assert_eq!(list.path(999), b"/tmp/some/long/directory/file000999.dat");
    }

    #[test]
    fn append_keeps_order_and_sizes() {
        let mut a = PathList::new();
        let mut b = PathList::new();
        let all = nasty();
        for (i, path) in all.iter().enumerate() {
            let list = if i < 5 { &mut a } else { &mut b };
            list.push(path, i as u64);
        }
        a.append(&b);
        let mut whole = PathList::new();
        for (i, path) in all.iter().enumerate() {
            whole.push(path, i as u64);
        }
        assert_eq!(a, whole);
    }

    #[test]
    fn append_joins_a_run_that_goes_on_in_the_same_directory() {
        let paths: Vec<Vec<u8>> = (0..40)
            .map(|i| format!("/t/{}/f{i}", ["a", "b"][(i / 10) % 2]).into_bytes())
            .chain([b"top".to_vec(), b"/t/b/last".to_vec()])
            .collect();
        // Split at every point, so appends start inside runs, at their edges and on empty lists.
        for cut in 0..=paths.len() {
            let (mut a, mut b, mut whole) = (PathList::new(), PathList::new(), PathList::new());
            for (i, path) in paths.iter().enumerate() {
                let list = if i < cut { &mut a } else { &mut b };
                list.push(path, i as u64 * 3);
                whole.push(path, i as u64 * 3);
            }
            a.append(&b);
            assert_eq!(a, whole, "cut at {cut}");
        }
    }

    #[test]
    fn compares_as_the_joined_paths_do() {
        let mut list = PathList::new();
        let all = nasty();
        for path in &all {
            list.push(path, 0);
        }
        for a in 0..all.len() {
            for b in 0..all.len() {
                assert_eq!(list.cmp_paths(a, b), all[a].cmp(&all[b]), "{a} vs {b}");
            }
        }
        assert!(!list.is_sorted());
        let mut sorted = all.clone();
        sorted.sort();
        let mut list = PathList::new();
        for path in &sorted {
            list.push(path, 0);
        }
        assert!(list.is_sorted());
    }

    #[test]
    fn is_sorted_checks_within_and_across_directories() {
        // Every pair of neighbours, wherever it falls: inside a directory's run, at a run's
        // boundary, or one a run apart (is_sorted checks runs apart, on several threads).
        let base: Vec<Vec<u8>> = (0..40)
            .map(|i| format!("r/d{}/f{:02}", i / 7, i % 7).into_bytes())
            .collect();
        let list_of = |paths: &[Vec<u8>]| {
            let mut list = PathList::new();
            for path in paths {
                list.push(path, 0);
            }
            list
        };
        assert!(list_of(&base).is_sorted());
        for i in 1..base.len() {
            let mut swapped = base.clone();
            swapped.swap(i - 1, i);
            assert!(!list_of(&swapped).is_sorted(), "{i}-1 and {i} swapped");
        }
        assert!(list_of(&[]).is_sorted());
        assert!(list_of(&base[..1]).is_sorted());
    }

    #[test]
    fn the_walk_order_is_not_always_the_byte_order() {
        // A directory `a` is walked before its sibling `a.txt`, but `a.txt` < `a/x` in bytes.
        let mut list = PathList::new();
        list.push(b"r/a/x", 0);
        list.push(b"r/a.txt", 0);
        assert!(!list.is_sorted());
        assert_eq!(list.cmp_paths(0, 1), Ordering::Greater);
    }

    #[test]
    fn joined_comparison_handles_every_split() {
        let words: [&[u8]; 6] = [b"", b"a", b"ab", b"abc", b"b", b"a/"];
        for a1 in words {
            for a2 in words {
                for b1 in words {
                    for b2 in words {
                        let want = [a1, a2].concat().cmp(&[b1, b2].concat());
                        assert_eq!(cmp_joined(a1, a2, b1, b2), want);
                    }
                }
            }
        }
    }
}
