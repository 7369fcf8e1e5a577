use super::*;
use crate::hash::hash_file;
use md5_reference::Digest as _;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Deterministic content that differs from file to file.
fn content(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 131 + seed * 7919) % 251) as u8)
        .collect()
}

/// MD5 by an independent implementation (RustCrypto's `md-5`).
fn reference(data: &[u8]) -> String {
    hex::encode(md5_reference::Md5::digest(data))
}

fn bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

/// A digester of each kind: batched on io_uring (where this kernel allows it) and one system
/// call at a time. Every test runs on both, which must agree exactly.
fn digesters() -> [GroupDigester; 2] {
    let batched = GroupDigester::new();
    if batched.io() != &FileIo::IoUring {
        eprintln!(
            "note: io_uring unavailable here ({}): both digesters use system calls",
            batched.io()
        );
    }
    [batched, GroupDigester::without_io_uring()]
}

/// Every length where MD5 padding changes shape (around 56 and 64 bytes), a few larger ones,
/// and one past the arena's limit, which is streamed (twice in a group: side by side).
const LENGTHS: [usize; 17] = [
    0,
    1,
    3,
    55,
    56,
    57,
    63,
    64,
    65,
    119,
    120,
    128,
    1000,
    4096,
    100_003,
    (1 << 20) + 3,
    SIDE_BY_SIDE_MAX as usize + 1,
];

#[test]
fn digests_equal_an_independent_md5_and_hash_file_for_every_padding_shape() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    let mut contents = Vec::new();
    // Twice each length: equal lengths share lanes, different ones diverge.
    for (seed, &len) in LENGTHS.iter().chain(LENGTHS.iter().rev()).enumerate() {
        let path = dir.path().join(format!("f{seed}"));
        let data = content(seed, len);
        std::fs::write(&path, &data).unwrap();
        paths.push(path);
        contents.push(data);
    }
    let raw: Vec<&[u8]> = paths.iter().map(|p| bytes(p)).collect();
    for mut digester in digesters() {
        let mut seen = Vec::new();
        let got = digester.md5(&raw, &mut |i| seen.push(i));
        let mut order: Vec<usize> = Vec::new();
        for &i in &seen {
            if !order.contains(&i) {
                order.push(i);
            }
        }
        if digester.io() == &FileIo::IoUring {
            // Batched: the first file before anything, then each batch's first file and the
            // lowest one still in flight before every wait: first namings in file order.
            assert_eq!(
                seen.first(),
                Some(&0),
                "the first file named first: {seen:?}"
            );
            assert!(
                order.windows(2).all(|w| w[0] < w[1]),
                "first namings in file order: {seen:?}"
            );
        } else {
            assert_eq!(
                order,
                (0..raw.len()).collect::<Vec<_>>(),
                "every file named, first in order ({}): {seen:?}",
                digester.io()
            );
            // A big file is named again before each read of it, side by side with the others.
            let small: Vec<usize> = seen
                .iter()
                .copied()
                .filter(|&i| contents[i].len() as u64 <= SIDE_BY_SIDE_MAX)
                .collect();
            let small_order: Vec<usize> = order
                .iter()
                .copied()
                .filter(|&i| contents[i].len() as u64 <= SIDE_BY_SIDE_MAX)
                .collect();
            assert_eq!(small, small_order, "one by one: at() once per small file");
        }
        check_group(got, &contents, &raw);
    }
}

fn check_group(got: Vec<Result<FileDigest, HashError>>, contents: &[Vec<u8>], raw: &[&[u8]]) {
    for ((result, data), path) in got.into_iter().zip(contents).zip(raw) {
        let digest = result.unwrap();
        assert_eq!(digest.size, data.len() as u64);
        assert_eq!(
            digest.digest.hex(),
            reference(data),
            "length {}",
            data.len()
        );
        let alone = hash_file(path, Algo::Md5, &mut Vec::new()).unwrap();
        assert_eq!(alone, digest);
    }
}

#[test]
fn more_than_the_arena_holds_is_hashed_in_several_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let len = SIDE_BY_SIDE_MAX as usize - 5;
    let files = ARENA_BYTES / len + 3;
    let mut paths = Vec::new();
    for seed in 0..files {
        let path = dir.path().join(format!("big{seed}"));
        std::fs::write(&path, content(seed, len)).unwrap();
        paths.push(path);
    }
    let raw: Vec<&[u8]> = paths.iter().map(|p| bytes(p)).collect();
    for mut digester in digesters() {
        let got = digester.md5(&raw, &mut |_| {});
        for (seed, result) in got.into_iter().enumerate() {
            assert_eq!(result.unwrap().digest.hex(), reference(&content(seed, len)));
        }
    }
}

#[test]
fn a_bad_file_fails_alone_with_the_message_hash_file_gives() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    std::fs::write(&good, b"abc").unwrap();
    let fifo = dir.path().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let missing = dir.path().join("missing");
    let raw: Vec<&[u8]> = vec![
        bytes(&good),
        bytes(&missing),
        bytes(dir.path()),
        bytes(&fifo),
        b"/dev/null",
        bytes(&good),
    ];
    for mut digester in digesters() {
        let got = digester.md5(&raw, &mut |_| {});
        let messages: Vec<String> = got
            .iter()
            .map(|r| match r {
                Ok(d) => d.digest.hex(),
                Err(e) => e.message(),
            })
            .collect();
        assert_eq!(
            messages,
            [
                "900150983cd24fb0d6963f7d28e17f72",
                "No such file or directory",
                "Is a directory",
                "not a regular file",
                "not a regular file",
                "900150983cd24fb0d6963f7d28e17f72",
            ],
            "{}",
            digester.io()
        );
    }
}

#[test]
fn a_digester_is_reused_across_groups() {
    let dir = tempfile::tempdir().unwrap();
    for mut digester in digesters() {
        for round in 0..3 {
            let mut paths = Vec::new();
            for seed in 0..GROUP_FILES {
                let path = dir.path().join(format!("r{round}-{seed}"));
                std::fs::write(&path, content(seed + round, 500 + seed)).unwrap();
                paths.push(path);
            }
            let raw: Vec<&[u8]> = paths.iter().map(|p| bytes(p)).collect();
            for (seed, result) in digester.md5(&raw, &mut |_| {}).into_iter().enumerate() {
                assert_eq!(
                    result.unwrap().digest.hex(),
                    reference(&content(seed + round, 500 + seed))
                );
            }
        }
    }
}

#[test]
fn a_file_that_grows_or_shrinks_between_its_fstat_and_its_read_is_hashed_as_read() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<_> = (0..4).map(|i| dir.path().join(format!("f{i}"))).collect();
    let old = |i: usize| content(i, 3000);
    let new = |i: usize| content(i + 50, if i == 1 { 9000 } else { 100 });
    for mut digester in digesters() {
        for (i, path) in paths.iter().enumerate() {
            std::fs::write(path, old(i)).unwrap();
        }
        let raw: Vec<&[u8]> = paths.iter().map(|p| bytes(p)).collect();
        let last = raw.len() - 1;
        let batched = digester.io() == &FileIo::IoUring;
        let (mut changed, mut calls) = (false, 0);
        // One by one, named last: files 1 and 2 are read already. Batched, the third naming
        // (after the directory's open and the batch of opens): every file was opened and
        // `fstat`-ed, none read yet (a wait during the opens only names earlier).
        let got = digester.md5(&raw, &mut |i| {
            calls += 1;
            let now = if batched { calls == 3 } else { i == last };
            if now && !changed {
                changed = true;
                std::fs::write(&paths[1], new(1)).unwrap(); // grows (same inode)
                std::fs::write(&paths[2], new(2)).unwrap(); // shrinks
            }
        });
        assert!(
            changed,
            "the files were changed during the group ({})",
            digester.io()
        );
        for (i, result) in got.into_iter().enumerate() {
            let digest = result.unwrap();
            let want = if batched && (i == 1 || i == 2) {
                new(i)
            } else {
                old(i)
            };
            assert_eq!(
                digest.size,
                want.len() as u64,
                "file {i} ({})",
                digester.io()
            );
            assert_eq!(digest.digest.hex(), reference(&want), "file {i}");
        }
    }
}

#[test]
fn files_opened_relative_to_their_directory_give_what_their_whole_path_gives() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("d/sub")).unwrap();
    std::fs::write(root.join("d/f"), b"abc").unwrap();
    std::fs::write(root.join("d/sub/g"), content(3, 5000)).unwrap();
    std::os::unix::fs::symlink(root.join("d"), root.join("link")).unwrap();
    std::os::unix::fs::symlink("f", root.join("d/to-f")).unwrap();
    let r = |s: &str| [bytes(root), s.as_bytes()].concat();
    let raw: Vec<Vec<u8>> = vec![
        r("/d/f"),
        r("//d//f"),
        r("/d/./f"),
        r("/d/sub/../f"),
        r("/link/sub/g"),
        r("/d/to-f"),
        r("/d/f/"),
        r("/d/f/x"),
        r("/d/missing"),
        r("/nowhere/f"),
        r("/d/.."),
        r("/d/sub/."),
        [r("/d/f"), b"\0x".to_vec()].concat(),
        r("/d/sub/g"),
    ];
    let raw: Vec<&[u8]> = raw.iter().map(Vec::as_slice).collect();
    let want: Vec<String> = raw
        .iter()
        .map(|path| match hash_file(path, Algo::Md5, &mut Vec::new()) {
            Ok(d) => d.digest.hex(),
            Err(e) => e.message(),
        })
        .collect();
    assert_eq!(want[0], "900150983cd24fb0d6963f7d28e17f72");
    for mut digester in digesters() {
        let got: Vec<String> = digester
            .md5(&raw, &mut |_| {})
            .iter()
            .map(|r| match r {
                Ok(d) => d.digest.hex(),
                Err(e) => e.message(),
            })
            .collect();
        assert_eq!(got, want, "{}", digester.io());
    }
}

#[test]
fn only_a_directory_shared_by_enough_files_of_the_group_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for sub in ["a", "b"] {
        std::fs::create_dir(root.join(sub)).unwrap();
    }
    let r = |s: &str| [bytes(root), s.as_bytes()].concat();
    let mut raw: Vec<Vec<u8>> = (0..SHARED_DIR_FILES)
        .map(|i| r(&format!("/a/{i}")))
        .collect();
    raw.extend((0..SHARED_DIR_FILES - 1).map(|i| r(&format!("/b/{i}"))));
    let raw: Vec<&[u8]> = raw.iter().map(Vec::as_slice).collect();
    let names = CPaths::new(&raw);
    let mut dirs = GroupDirs::new(&raw, &names);
    for i in 0..raw.len() {
        dirs.open_dir_of(i);
    }
    let relative: Vec<bool> = (0..raw.len()).map(|i| dirs.of(i).is_some()).collect();
    let mut want = vec![true; SHARED_DIR_FILES];
    want.extend(vec![false; SHARED_DIR_FILES - 1]);
    assert_eq!(relative, want);
}
