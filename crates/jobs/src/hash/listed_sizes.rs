//! [`listed_sizes`]: the sizes of files a checksum file names, `stat`-ed only where they pay.

use std::ffi::OsStr;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;

use rayon::prelude::*;

use crate::PathList;
use crate::walk::{sample_positions, sizes_pay};

/// The size of each file in `list` (relative paths from the working directory) for
/// scheduling, decided as the walk decides them for [`super::Discover::sizes_where_paying`]:
/// for each run of consecutive paths in one directory, a sample of a few spread evenly over
/// the run is `stat`-ed, and only where those average at least 1 KiB is every path of the run
/// `stat`-ed; the others get 0, as does a path that cannot be `stat`-ed (its worker reports
/// why). Runs are sized on every core. The sizes the list holds are not read.
///
/// `md5sum -c` over a million small files spent most of the parent's time in a `stat` per
/// listed file, one after the other, for sizes that buy nothing there: the worker `fstat`s each
/// file it opens anyway, and a few hundred bytes hash in about the same time whatever order
/// they come in. A checksum file written by `md5sum` over a tree lists each directory's files
/// together, so its runs are the tree's directories.
pub fn listed_sizes(list: &PathList) -> Vec<u64> {
    let runs: Vec<(&[u8], Range<usize>)> = list.runs().collect();
    let sized: Vec<Vec<u64>> = runs
        .par_iter()
        .map(|(_, run)| run_sizes(list, run.clone()))
        .collect();
    sized.into_iter().flatten().collect()
}

/// The sizes of one directory's run of paths: its sample's, and the rest's only if the sample
/// says they pay.
fn run_sizes(list: &PathList, run: Range<usize>) -> Vec<u64> {
    let sample: Vec<usize> = sample_positions(run.len()).collect();
    let seen: Vec<Option<u64>> = sample
        .iter()
        .map(|&i| size_of(list, run.start + i))
        .collect();
    let known: Vec<u64> = seen.iter().flatten().copied().collect();
    if sizes_pay(&known) {
        return run
            .into_par_iter()
            .map(|i| size_of(list, i).unwrap_or(0))
            .collect();
    }
    let mut sizes = vec![0; run.len()];
    for (&i, size) in sample.iter().zip(seen) {
        sizes[i] = size.unwrap_or(0);
    }
    sizes
}

/// The size of the file at path `i` (following symbolic links, as its worker will open it),
/// if it can be `stat`-ed.
fn size_of(list: &PathList, i: usize) -> Option<u64> {
    std::fs::metadata(OsStr::from_bytes(&list.path(i)))
        .ok()
        .map(|meta| meta.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_of_big_files_is_sized_whole_and_one_of_small_files_by_its_sample() {
        let root = tempfile::tempdir().unwrap();
        let (big, small) = (root.path().join("big"), root.path().join("small"));
        std::fs::create_dir(&big).unwrap();
        std::fs::create_dir(&small).unwrap();
        let mut list = PathList::new();
        for i in 0..10 {
            let path = big.join(format!("f{i}"));
            std::fs::write(&path, vec![b'x'; 2000 + i]).unwrap();
            list.push(path.as_os_str().as_bytes(), 7);
        }
        for i in 0..10 {
            let path = small.join(format!("f{i}"));
            std::fs::write(&path, vec![b'x'; 10 + i]).unwrap();
            list.push(path.as_os_str().as_bytes(), 7);
        }
        list.push(b"/nonexistent/file", 7);
        let sizes = listed_sizes(&list);
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
