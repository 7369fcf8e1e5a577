//! [`listed_sizes`]: the sizes of files a checksum file names, `stat`-ed only where they pay.

use std::ffi::OsStr;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;

use rayon::prelude::*;

use crate::walk::{SAMPLES, SIZES_PAY_FROM};

/// The size of each file in `paths` (raw bytes of Unix paths, relative ones from the working
/// directory) for scheduling, decided as the walk decides them for
/// [`super::Discover::sizes_where_paying`]: for each run of consecutive paths in one
/// directory, a sample of a few spread evenly over the run is `stat`-ed, and only where those
/// average at least 1 KiB is every path of the run `stat`-ed; the others get 0, as does a
/// path that cannot be `stat`-ed (its worker reports why). Runs are sized on every core.
///
/// `md5sum -c` over a million small files spent most of the parent's time in a `stat` per
/// listed file, one after the other, for sizes that buy nothing there: the worker `fstat`s each
/// file it opens anyway, and a few hundred bytes hash in about the same time whatever order
/// they come in. A checksum file written by `md5sum` over a tree lists each directory's files
/// together, so its runs are the tree's directories.
pub fn listed_sizes(paths: &[&[u8]]) -> Vec<u64> {
    let runs = directory_runs(paths);
    let sized: Vec<Vec<u64>> = runs
        .par_iter()
        .map(|run| run_sizes(&paths[run.clone()]))
        .collect();
    sized.into_iter().flatten().collect()
}

/// The runs of consecutive paths with the same directory part (up to the last `/`), in order.
fn directory_runs(paths: &[&[u8]]) -> Vec<Range<usize>> {
    let dir = |path: &[u8]| -> usize { memchr::memrchr(b'/', path).map_or(0, |slash| slash + 1) };
    let mut runs: Vec<Range<usize>> = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        match runs.last_mut() {
            Some(run)
                if {
                    let previous = paths[run.start];
                    previous[..dir(previous)] == path[..dir(path)]
                } =>
            {
                run.end = i + 1
            }
            _ => runs.push(i..i + 1),
        }
    }
    runs
}

/// The sizes of one directory's run of paths: its sample's, and the rest's only if the sample
/// says they pay.
fn run_sizes(run: &[&[u8]]) -> Vec<u64> {
    let picks = SAMPLES.min(run.len());
    let sample: Vec<usize> = (0..picks).map(|k| k * run.len() / picks).collect();
    let seen: Vec<Option<u64>> = sample.iter().map(|&i| size_of(run[i])).collect();
    let known: Vec<u64> = seen.iter().flatten().copied().collect();
    let pays =
        !known.is_empty() && known.iter().sum::<u64>() / known.len() as u64 >= SIZES_PAY_FROM;
    if pays {
        return run
            .par_iter()
            .map(|path| size_of(path).unwrap_or(0))
            .collect();
    }
    let mut sizes = vec![0; run.len()];
    for (&i, size) in sample.iter().zip(seen) {
        sizes[i] = size.unwrap_or(0);
    }
    sizes
}

/// The size of the file at `path` (following symbolic links, as its worker will open it), if
/// it can be `stat`-ed.
fn size_of(path: &[u8]) -> Option<u64> {
    std::fs::metadata(OsStr::from_bytes(path))
        .ok()
        .map(|meta| meta.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_consecutive_paths_of_one_directory() {
        let paths: [&[u8]; 7] = [b"a/x", b"a/y", b"b/x", b"a/z", b"top", b"other", b"/r/s/t"];
        assert_eq!(
            directory_runs(&paths),
            vec![0..2, 2..3, 3..4, 4..6, 6..7],
            "`top` and `other` share the working directory"
        );
        assert_eq!(directory_runs(&[]), Vec::<Range<usize>>::new());
    }

    #[test]
    fn a_directory_of_big_files_is_sized_whole_and_one_of_small_files_by_its_sample() {
        let root = tempfile::tempdir().unwrap();
        let (big, small) = (root.path().join("big"), root.path().join("small"));
        std::fs::create_dir(&big).unwrap();
        std::fs::create_dir(&small).unwrap();
        let mut paths: Vec<Vec<u8>> = Vec::new();
        for i in 0..10 {
            let path = big.join(format!("f{i}"));
            std::fs::write(&path, vec![b'x'; 2000 + i]).unwrap();
            paths.push(path.as_os_str().as_bytes().to_vec());
        }
        for i in 0..10 {
            let path = small.join(format!("f{i}"));
            std::fs::write(&path, vec![b'x'; 10 + i]).unwrap();
            paths.push(path.as_os_str().as_bytes().to_vec());
        }
        paths.push(b"/nonexistent/file".to_vec());
        let refs: Vec<&[u8]> = paths.iter().map(|p| p.as_slice()).collect();
        let sizes = listed_sizes(&refs);
        assert_eq!(sizes.len(), 21);
        let every: Vec<u64> = (0..10).map(|i| 2000 + i).collect();
        assert_eq!(sizes[..10], every[..], "every big file sized");
        // The sample of 4 among 10: 0, 2, 5, 7 (k × 10 / 4).
        let sampled: Vec<u64> = (0..10)
            .map(|i| if [0, 2, 5, 7].contains(&i) { 10 + i } else { 0 })
            .collect();
        assert_eq!(
            sizes[10..20],
            sampled[..],
            "only the sample of the small files"
        );
        assert_eq!(sizes[20], 0, "a file that cannot be seen");
    }
}
