use super::*;
use std::os::unix::fs::PermissionsExt;

/// Keeps every file name.
#[derive(Debug)]
struct All;

impl NameFilter for All {
    fn matches(&self, _: &[u8]) -> bool {
        true
    }
}

/// Keeps names ending in ".log".
#[derive(Debug)]
struct Logs;

impl NameFilter for Logs {
    fn matches(&self, name: &[u8]) -> bool {
        name.ends_with(b".log")
    }
}

fn walk<F: NameFilter + Sync>(roots: &[PathBuf], filter: F, serial: bool) -> Vec<Walked> {
    SERIAL_ONLY.set(serial);
    let walked = Walk::new(roots, filter, false).collect();
    SERIAL_ONLY.set(false);
    walked
}

/// A tree with everything the walk distinguishes: nested and empty directories, names whose
/// byte order differs from any locale's, symlinks to files and directories, a dangling one,
/// FIFOs, and (when not root) an unreadable directory.
fn tricky_tree(root: &Path) {
    for dir in ["a/b/c", "a/empty", "B", "z/y", "a/b/c/deep/deeper"] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    for (i, file) in [
        "a/1.log",
        "a/b/2.txt",
        "a/b/c/3.log",
        "a/b/c/deep/deeper/4.log",
        "B/5.txt",
        "z/y/6.log",
        "z/_7.log",
        "z/Z8.log",
        "top.log",
    ]
    .iter()
    .enumerate()
    {
        fs::write(root.join(file), vec![b'x'; i * 10]).unwrap();
    }
    std::os::unix::fs::symlink("../top.log", root.join("a/link.log")).unwrap();
    std::os::unix::fs::symlink("b", root.join("a/dirlink")).unwrap();
    std::os::unix::fs::symlink("nowhere", root.join("z/dangling.log")).unwrap();
    for fifo in ["a/b/pipe.log", "pipe2"] {
        let status = std::process::Command::new("mkfifo")
            .arg(root.join(fifo))
            .status()
            .unwrap();
        assert!(status.success());
    }
    let locked = root.join("z/locked");
    fs::create_dir(&locked).unwrap();
    fs::write(locked.join("hidden.log"), b"x").unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
}

/// Roots over [`tricky_tree`]: the tree, a file in it, a subtree of it (walked twice) and a
/// missing path.
fn tricky_roots(root: &Path) -> Vec<PathBuf> {
    vec![
        root.to_path_buf(),
        root.join("top.log"),
        root.join("a/b"),
        root.join("missing"),
    ]
}

/// Lets the temp dir of [`tricky_tree`] be removed.
fn unlock(root: &Path) {
    fs::set_permissions(root.join("z/locked"), fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_parallel_walk_yields_exactly_what_the_serial_walk_yields() {
    let dir = tempfile::tempdir().unwrap();
    tricky_tree(dir.path());
    let roots = tricky_roots(dir.path());
    let parallel = walk(&roots, All, false);
    let serial = walk(&roots, All, true);
    assert_eq!(parallel, serial);
    assert!(parallel.len() > 15, "{parallel:?}");
    let parallel = walk(&roots, Logs, false);
    assert_eq!(parallel, walk(&roots, Logs, true));
    assert!(
        parallel.iter().any(|w| matches!(
            w,
            Walked::Skipped {
                reason: SkipReason::Fifo,
                ..
            }
        )),
        "{parallel:?}"
    );
    unlock(dir.path());
}

#[test]
fn a_wide_and_deep_tree_keeps_the_serial_order() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..40 {
        let sub = dir.path().join(format!("d{:02}/s{}", i % 7, i));
        fs::create_dir_all(&sub).unwrap();
        for j in 0..25 {
            fs::write(sub.join(format!("f{j}")), vec![0u8; j]).unwrap();
        }
    }
    let roots = vec![dir.path().to_path_buf()];
    let parallel = walk(&roots, All, false);
    assert_eq!(parallel.len(), 1000);
    assert_eq!(parallel, walk(&roots, All, true));
}

#[test]
fn a_big_directory_and_odd_roots_keep_the_serial_order_and_paths() {
    // More files than one thread `stat`s, names around `/` in byte order, and roots spelled
    // with a trailing slash or two, and through `.`.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    fs::create_dir_all(big.join("a")).unwrap();
    fs::write(big.join("a/x"), b"x").unwrap();
    for j in 0..300 {
        fs::write(big.join(format!("a{j}.dat")), vec![1u8; j % 7]).unwrap();
    }
    fs::write(big.join("a.txt"), b"t").unwrap();
    fs::write(big.join("a-b"), b"t").unwrap();
    let spelled = |s: &str| PathBuf::from(format!("{}{s}", big.display()));
    let roots = vec![spelled(""), spelled("/"), spelled("//"), spelled("/./a")];
    let parallel = walk(&roots, All, false);
    assert_eq!(parallel.len(), 3 * 303 + 1);
    assert_eq!(parallel, walk(&roots, All, true));
    let listing = Walk::new(&roots, All, false).into_listing();
    assert_eq!(listing.files.len(), parallel.len());
    let sampled = Walk::new(&roots, All, false)
        .sizes_where_paying()
        .into_listing();
    let paths =
        |l: &Listing| -> Vec<Vec<u8>> { l.files.iter().map(|(p, n, _)| [p, n].concat()).collect() };
    assert_eq!(paths(&sampled), paths(&listing));
}

#[test]
fn partitions_split_the_walk_exactly_in_both_walks() {
    let dir = tempfile::tempdir().unwrap();
    tricky_tree(dir.path());
    let roots = tricky_roots(dir.path());
    let whole = walk(&roots, All, false);
    for count in [1, 3, 7] {
        for serial in [false, true] {
            let mut shares: Vec<Vec<Walked>> = Vec::new();
            for number in 1..=count {
                let partition = Partition::new(u64::from(number), count).unwrap();
                SERIAL_ONLY.set(serial);
                let share: Vec<Walked> = Walk::new(&roots, All, false)
                    .in_partition(partition)
                    .collect();
                SERIAL_ONLY.set(false);
                shares.push(share);
            }
            // Every entry is in exactly one share (the roots overlap, so some entries are
            // there twice, as in the whole walk), and each share keeps the walk's order.
            let mut merged: Vec<String> =
                shares.iter().flatten().map(|w| format!("{w:?}")).collect();
            let mut expected: Vec<String> = whole.iter().map(|w| format!("{w:?}")).collect();
            merged.sort();
            expected.sort();
            assert_eq!(merged, expected, "{count} partitions, serial {serial}");
            for share in &shares {
                let mut rest = whole.iter();
                assert!(
                    share.iter().all(|w| rest.any(|x| x == w)),
                    "a share out of the walk's order: {share:?}"
                );
            }
            if count == 7 {
                assert!(shares.iter().filter(|s| !s.is_empty()).count() > 3);
            }
        }
    }
    unlock(dir.path());
}
