//! What the hash job finds under its paths: special files, symlinks, filters, bad paths.

use crate::support::{Tree, bytes, md5_of, reference_sums, result_path, run, supervisor_run};
use nix::sys::stat::Mode;
use serde_json::Value;
use std::os::unix::fs::symlink;

/// Result rows by exact path.
fn rows(doc: &Value) -> Vec<(Vec<u8>, Value)> {
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| (result_path(r), r.clone()))
        .collect()
}

#[test]
fn a_fifo_is_skipped_with_a_note_and_does_not_hang() {
    let mut tree = Tree::empty();
    tree.add(b"a.txt", b"hello\n");
    tree.add(b"sub/b.txt", b"world\n");
    let fifo = tree.root().join("sub/pipe");
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o644)).unwrap();

    let done = run(supervisor_run()
        .args(["-w", "2", "--format", "sums", "hash"])
        .arg(tree.root()));
    done.assert_code(0);
    assert_eq!(done.stdout, reference_sums("md5sum", &tree.files));
    let note = format!("supervisor: skipping {}: is a FIFO", fifo.display());
    assert!(
        done.stderr.contains(&note),
        "no {note:?} in:\n{}",
        done.stderr
    );

    let quiet = run(supervisor_run()
        .args(["-q", "--format", "sums", "hash"])
        .arg(tree.root()));
    quiet.assert_code(0);
    assert!(
        !quiet.stderr.contains("FIFO"),
        "-q still notes: {}",
        quiet.stderr
    );
}

#[test]
fn a_dangling_symlink_is_skipped_unless_followed() {
    let mut tree = Tree::empty();
    tree.add(b"real.txt", b"real\n");
    let link = tree.root().join("dangling");
    symlink(tree.root().join("nowhere"), &link).unwrap();

    let done = run(supervisor_run()
        .args(["--format", "json", "hash"])
        .arg(tree.root()));
    done.assert_code(0);
    let doc = done.json();
    let found = rows(&doc);
    assert_eq!(found.len(), 1, "{doc}");
    assert_eq!(found[0].0, tree.files[0]);
    assert_eq!(doc["summary"]["failed"], 0);

    let done = run(supervisor_run()
        .args(["--format", "json", "hash", "--follow-symlinks"])
        .arg(tree.root()));
    done.assert_code(1);
    let doc = done.json();
    let found = rows(&doc);
    assert_eq!(found.len(), 2, "{doc}");
    let (_, row) = found
        .iter()
        .find(|(p, _)| *p == bytes(&link))
        .unwrap_or_else(|| panic!("no row for the dangling link in {doc}"));
    let error = row["error"].as_str().unwrap_or_else(|| panic!("{row}"));
    assert!(
        error.contains("dangling") || error.contains("No such file or directory"),
        "{error:?}"
    );
    assert_eq!(doc["summary"]["failed"], 1);
}

#[test]
fn a_symlink_loop_is_reported_when_following() {
    let mut tree = Tree::empty();
    tree.add(b"d/file.txt", b"x\n");
    let link = tree.root().join("d/back");
    symlink("..", &link).unwrap();

    let done = run(supervisor_run()
        .args(["--format", "json", "hash", "--follow-symlinks"])
        .arg(tree.root()));
    done.assert_code(1);
    let doc = done.json();
    let found = rows(&doc);
    let (_, row) = found
        .iter()
        .find(|(p, _)| *p == bytes(&link))
        .unwrap_or_else(|| panic!("no row for the loop in {doc}"));
    assert!(row["error"].as_str().unwrap().contains("loop"), "{row}");
    assert!(
        found
            .iter()
            .any(|(p, r)| *p == tree.files[0] && r["digest"].is_string()),
        "the real file was not hashed: {doc}"
    );

    // Not following: the link is skipped and the run succeeds.
    let done = run(supervisor_run()
        .args(["--format", "json", "hash"])
        .arg(tree.root()));
    done.assert_code(0);
    assert_eq!(rows(&done.json()).len(), 1);
}

#[test]
fn ext_filters_by_suffix_and_adds_a_missing_dot() {
    let mut tree = Tree::empty();
    for name in [&b"a.txt"[..], b"b.log", b"deep/er/c.txt", b"\xff.log"] {
        tree.add(name, name);
    }
    let wanted: Vec<Vec<u8>> = tree.files.clone();
    for name in [
        &b"catalog"[..],
        b"x.logs",
        b"y.TXT",
        b"notes.txt.gz",
        b"txt",
        b"dir.txt/inner.md",
    ] {
        tree.add(name, name);
    }
    let done = run(supervisor_run()
        .args(["--format", "sums", "hash", "--ext", ".txt", "--ext", "log"])
        .arg(tree.root()));
    done.assert_code(0);
    assert_eq!(
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&reference_sums("md5sum", &wanted))
    );
}

#[test]
fn a_missing_path_is_an_error_row_and_the_rest_is_hashed() {
    let mut tree = Tree::empty();
    let real = tree.add(b"real.bin", b"some bytes");
    let missing = tree.root().join("does-not-exist");

    let done = run(supervisor_run()
        .args(["--format", "json", "hash"])
        .arg(&missing)
        .arg(&real));
    done.assert_code(1);
    let doc = done.json();
    let found = rows(&doc);
    assert_eq!(found.len(), 2, "{doc}");
    let (_, bad) = found.iter().find(|(p, _)| *p == bytes(&missing)).unwrap();
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("No such file or directory"),
        "{bad}"
    );
    let (_, good) = found.iter().find(|(p, _)| *p == bytes(&real)).unwrap();
    assert_eq!(good["digest"], md5_of(&bytes(&real)));

    let done = run(supervisor_run()
        .args(["--format", "sums", "hash"])
        .arg(&missing)
        .arg(&real));
    done.assert_code(1);
    assert_eq!(done.stdout, reference_sums("md5sum", &[bytes(&real)]));
    let line = format!(
        "supervisor: {}: No such file or directory",
        missing.display()
    );
    assert!(
        done.stderr.contains(&line),
        "no {line:?} in {}",
        done.stderr
    );
}

#[test]
fn bad_options_exit_2_naming_the_value() {
    let tree = Tree::empty();
    for (args, bad) in [
        (&["--workers", "0"][..], "0"),
        (&["-w", "0"][..], "0"),
        (&["--algo", "crc32"][..], "crc32"),
        (&["--chaos-kill-every", "bogus"][..], "bogus"),
        (&["--format", "xml"][..], "xml"),
    ] {
        let done = run(supervisor_run().arg("hash").arg(tree.root()).args(args));
        assert_eq!(done.code, Some(2), "{args:?}: {}", done.stderr);
        assert!(
            done.stderr.contains(&format!("'{bad}'")),
            "{args:?}: stderr does not name {bad:?}: {}",
            done.stderr
        );
        assert!(done.stdout.is_empty(), "{args:?}: output on stdout");
    }
}
