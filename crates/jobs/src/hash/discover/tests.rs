use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

fn b(path: &Path) -> Vec<u8> {
    path.as_os_str().as_bytes().to_vec()
}

fn run(roots: &[PathBuf], extensions: &[&str], follow: bool) -> Vec<Found> {
    let opts = DiscoverOptions {
        extensions: extensions.iter().map(|e| e.to_string()).collect(),
        follow_symlinks: follow,
    };
    let found: Vec<Found> = discover(roots, &opts).collect();
    // The compact form of the same walk holds the same entries in the same order.
    let discovered = discover(roots, &opts).into_discovered();
    let files: Vec<Found> = discovered
        .files
        .iter()
        .map(|(prefix, name, size)| {
            Found::File(FileEntry {
                path: [prefix, name].concat(),
                size,
            })
        })
        .collect();
    let (want_files, want_others): (Vec<Found>, Vec<Found>) = found
        .iter()
        .cloned()
        .partition(|f| matches!(f, Found::File(_)));
    assert_eq!(files, want_files, "into_discovered's files");
    assert_eq!(
        discovered.others, want_others,
        "into_discovered's other entries"
    );
    found
}

fn file(path: &Path, size: u64) -> Found {
    Found::File(FileEntry {
        path: b(path),
        size,
    })
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

/// A tree whose names sort differently by bytes than by creation order.
fn nested_tree(root: &Path) {
    fs::create_dir_all(root.join("b/deep")).unwrap();
    fs::create_dir_all(root.join("a")).unwrap();
    fs::write(root.join("z.txt"), b"zz").unwrap();
    fs::write(root.join("b/deep/x.log"), b"xxx").unwrap();
    fs::write(root.join("b/c.log"), b"c").unwrap();
    fs::write(root.join("a/one.txt"), b"1").unwrap();
    fs::write(root.join("B.txt"), b"").unwrap();
}

#[test]
fn nested_tree_in_sorted_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    nested_tree(root);
    let found = run(&[root.to_path_buf()], &[], false);
    assert_eq!(
        found,
        [
            file(&root.join("B.txt"), 0),
            file(&root.join("a/one.txt"), 1),
            file(&root.join("b/c.log"), 1),
            file(&root.join("b/deep/x.log"), 3),
            file(&root.join("z.txt"), 2),
        ]
    );
}

#[test]
fn sizes_are_taken_only_where_a_sample_says_they_pay() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("small")).unwrap();
    fs::create_dir_all(root.join("large")).unwrap();
    for i in 0..40 {
        fs::write(root.join(format!("small/f{i:02}")), vec![b's'; i]).unwrap();
        fs::write(root.join(format!("large/f{i:02}")), vec![b'l'; 2000 + i]).unwrap();
    }
    let sampled = |follow| {
        let opts = DiscoverOptions {
            extensions: Vec::new(),
            follow_symlinks: follow,
        };
        discover(&[root.to_path_buf()], &opts)
            .sizes_where_paying()
            .collect::<Vec<Found>>()
    };
    let found = sampled(false);
    assert_eq!(found, sampled(false), "deterministic");
    assert_eq!(
        run(&[root.to_path_buf()], &[], false)[41],
        file(&root.join("small/f01"), 1),
        "by default every size is taken"
    );
    let sizes: Vec<(Vec<u8>, u64)> = found
        .iter()
        .map(|f| match f {
            Found::File(entry) => (entry.path.clone(), entry.size),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(sizes.len(), 80);
    for (i, (path, size)) in sizes[..40].iter().enumerate() {
        assert_eq!(path, &b(&root.join(format!("large/f{i:02}"))));
        assert_eq!(*size, 2000 + i as u64, "big enough: every size is taken");
    }
    for (i, (path, size)) in sizes[40..].iter().enumerate() {
        assert_eq!(path, &b(&root.join(format!("small/f{i:02}"))));
        // Tiny files: only the sample (four spread evenly, the first included) was `stat`-ed.
        let sampled = i % 10 == 0;
        assert_eq!(*size, if sampled { i as u64 } else { 0 }, "small/f{i:02}");
    }
    // Following symlinks walks serially, which takes every size.
    let serial = sampled(true);
    assert_eq!(serial.len(), 80);
    assert_eq!(serial[41], file(&root.join("small/f01"), 1));
}

#[test]
fn roots_keep_their_order_and_files_are_roots_too() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    nested_tree(root);
    let roots = [root.join("z.txt"), root.join("b"), root.join("a/one.txt")];
    // Explicit file roots are kept even though the filter would not match them.
    let found = run(&roots, &["log"], false);
    assert_eq!(
        found,
        [
            file(&root.join("z.txt"), 2),
            file(&root.join("b/c.log"), 1),
            file(&root.join("b/deep/x.log"), 3),
            file(&root.join("a/one.txt"), 1),
        ]
    );
}

#[test]
fn extension_filter_with_and_without_dot() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    nested_tree(root);
    fs::write(root.join("catalog"), b"").unwrap();
    let found = run(&[root.to_path_buf()], &["log", ".txt", "txt"], false);
    // Each file once, even though two extensions match the .txt files.
    assert_eq!(
        found,
        [
            file(&root.join("B.txt"), 0),
            file(&root.join("a/one.txt"), 1),
            file(&root.join("b/c.log"), 1),
            file(&root.join("b/deep/x.log"), 3),
            file(&root.join("z.txt"), 2),
        ]
    );
}

#[test]
fn missing_root_is_an_error_and_the_walk_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    fs::write(dir.path().join("f"), b"abc").unwrap();
    let found = run(&[missing.clone(), dir.path().join("f")], &[], false);
    assert_eq!(
        found,
        [
            Found::Error {
                path: b(&missing),
                message: "No such file or directory".into(),
            },
            file(&dir.path().join("f"), 3),
        ]
    );
}

#[test]
fn special_files_are_skipped_never_opened() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    mkfifo(&root.join("pipe"));
    let _listener = UnixListener::bind(root.join("sock")).unwrap();
    fs::write(root.join("regular"), b"r").unwrap();
    let found = run(
        &[root.to_path_buf(), PathBuf::from("/dev/null")],
        &[],
        false,
    );
    assert_eq!(
        found,
        [
            Found::Skipped {
                path: b(&root.join("pipe")),
                reason: SkipReason::Fifo,
            },
            file(&root.join("regular"), 1),
            Found::Skipped {
                path: b(&root.join("sock")),
                reason: SkipReason::Socket,
            },
            Found::Skipped {
                path: b"/dev/null".to_vec(),
                reason: SkipReason::Device,
            },
        ]
    );
    assert_eq!(SkipReason::Fifo.to_string(), "is a FIFO");
}

#[test]
fn skips_outside_the_filter_are_not_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    mkfifo(&root.join("pipe"));
    mkfifo(&root.join("pipe.log"));
    symlink("nowhere", root.join("link")).unwrap();
    let found = run(&[root.to_path_buf()], &["log"], false);
    assert_eq!(
        found,
        [Found::Skipped {
            path: b(&root.join("pipe.log")),
            reason: SkipReason::Fifo,
        }]
    );
}

/// Links to a file, to a directory and to nothing, all met while walking.
fn tree_with_links(root: &Path) {
    fs::create_dir(root.join("real")).unwrap();
    fs::write(root.join("real/f"), b"ff").unwrap();
    symlink("real/f", root.join("to_file")).unwrap();
    symlink("real", root.join("to_dir")).unwrap();
    symlink("missing", root.join("dangling")).unwrap();
}

#[test]
fn symlinks_are_not_followed_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tree_with_links(root);
    let found = run(&[root.to_path_buf()], &[], false);
    let link = |name: &str| Found::Skipped {
        path: b(&root.join(name)),
        reason: SkipReason::Symlink,
    };
    assert_eq!(
        found,
        [
            link("dangling"),
            file(&root.join("real/f"), 2),
            link("to_dir"),
            link("to_file"),
        ]
    );
    assert_eq!(SkipReason::Symlink.to_string(), "symlink (not followed)");
}

#[test]
fn explicit_root_symlink_to_file_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tree_with_links(root);
    let found = run(&[root.join("to_file"), root.join("to_dir")], &[], false);
    assert_eq!(
        found,
        [
            file(&root.join("to_file"), 2),
            file(&root.join("to_dir/f"), 2)
        ]
    );
}

#[test]
fn following_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tree_with_links(root);
    let found = run(&[root.to_path_buf()], &[], true);
    assert_eq!(
        found,
        [
            Found::Error {
                path: b(&root.join("dangling")),
                message: "dangling symlink".into(),
            },
            file(&root.join("real/f"), 2),
            file(&root.join("to_dir/f"), 2),
            file(&root.join("to_file"), 2),
        ]
    );
}

#[test]
fn dangling_root_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("dangling");
    symlink("missing", &link).unwrap();
    for follow in [false, true] {
        assert_eq!(
            run(std::slice::from_ref(&link), &[], follow),
            [Found::Error {
                path: b(&link),
                message: "dangling symlink".into(),
            }]
        );
    }
}

#[test]
fn symlink_loop_is_reported_not_walked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir(root.join("d")).unwrap();
    fs::write(root.join("d/f"), b"").unwrap();
    symlink("..", root.join("d/up")).unwrap();
    symlink("self", root.join("self")).unwrap();
    let found = run(&[root.to_path_buf()], &[], true);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[0], file(&root.join("d/f"), 0));
    match &found[1] {
        Found::Error { path, message } => {
            assert_eq!(path, &b(&root.join("d/up")));
            assert!(message.contains("loop"), "{message}");
            assert!(message.contains(&root.display().to_string()), "{message}");
        }
        other => panic!("expected a loop error, got {other:?}"),
    }
    assert_eq!(
        found[2],
        Found::Error {
            path: b(&root.join("self")),
            message: "Too many levels of symbolic links".into(),
        }
    );
}

#[test]
fn invalid_utf8_names_are_kept_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let name = OsStr::from_bytes(b"bad\xff\xfe.log");
    fs::write(root.join(name), b"12345").unwrap();
    let found = run(&[root.to_path_buf()], &["log"], false);
    let mut expected = b(root);
    expected.extend_from_slice(b"/bad\xff\xfe.log");
    assert_eq!(
        found,
        [Found::File(FileEntry {
            path: expected,
            size: 5,
        })]
    );
}

#[test]
fn unreadable_directory_is_an_error_and_the_walk_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir(root.join("locked")).unwrap();
    fs::write(root.join("locked/secret"), b"s").unwrap();
    fs::write(root.join("open"), b"o").unwrap();
    fs::set_permissions(root.join("locked"), fs::Permissions::from_mode(0o000)).unwrap();
    // Root (as in CI containers) reads the directory anyway; the check is then meaningless.
    let denied = fs::read_dir(root.join("locked")).is_err();
    let found = run(&[root.to_path_buf()], &[], false);
    fs::set_permissions(root.join("locked"), fs::Permissions::from_mode(0o755)).unwrap();
    if denied {
        assert_eq!(
            found,
            [
                Found::Error {
                    path: b(&root.join("locked")),
                    message: "Permission denied".into(),
                },
                file(&root.join("open"), 1),
            ]
        );
    } else {
        assert_eq!(found.len(), 2);
        assert_eq!(found[1], file(&root.join("open"), 1));
    }
}

#[test]
fn iterator_is_lazy_and_fused_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("f"), b"").unwrap();
    let mut it = discover(&[dir.path().to_path_buf()], &DiscoverOptions::default());
    assert!(matches!(it.next(), Some(Found::File(_))));
    assert_eq!(it.next(), None);
    assert_eq!(it.next(), None);
}
