//! `hash --check SUMSFILE`: verifying a file made by the real `md5sum`/`sha256sum`, reporting
//! as `md5sum -c` does (same stdout, same warnings, same exit code).

use crate::support::{Finished, content, run, supervisor_run, tempdir};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Relative names of the files checked.
const NAMES: [&str; 4] = ["a.txt", "b.bin", "with space.txt", "sub/c.dat"];

/// A directory with [`NAMES`] and a sums file `SUMS` made by `tool` run inside it.
fn sums_dir(tool: &str, names: &[&[u8]]) -> tempfile::TempDir {
    let dir = tempdir();
    for (i, name) in names.iter().enumerate() {
        let path = dir.path().join(OsStr::from_bytes(name));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content(40 + i as u64, 1000 + 4321 * i)).unwrap();
    }
    let made = Command::new(tool)
        .args(names.iter().map(|n| OsStr::from_bytes(n)))
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    assert!(made.status.success(), "{tool}: {made:?}");
    std::fs::write(dir.path().join("SUMS"), made.stdout).unwrap();
    dir
}

/// Changes one bit of the file at `path`, at byte `at`.
fn flip_a_bit(path: &Path, at: usize) {
    let mut data = std::fs::read(path).unwrap();
    data[at] ^= 0x01;
    std::fs::write(path, data).unwrap();
}

fn plain_names() -> Vec<&'static [u8]> {
    NAMES.iter().map(|n| n.as_bytes()).collect()
}

/// `supervisor run hash --check SUMS` inside `dir`.
fn check(dir: &Path) -> Finished {
    run(supervisor_run()
        .args(["hash", "--check", "SUMS"])
        .current_dir(dir))
}

/// `TOOL -c SUMS` inside `dir`.
fn reference(tool: &str, dir: &Path) -> Output {
    Command::new(tool)
        .args(["-c", "SUMS"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} -c: {e}"))
}

fn lines(done: &Finished) -> Vec<String> {
    String::from_utf8_lossy(&done.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Our stdout and exit code equal `tool -c`'s on the same sums file.
fn assert_same_as(tool: &str, dir: &Path, done: &Finished) {
    let theirs = reference(tool, dir);
    assert_eq!(
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&theirs.stdout),
        "stdout differs from `{tool} -c`"
    );
    assert_eq!(done.stdout, theirs.stdout);
    assert_eq!(
        done.code,
        theirs.status.code(),
        "exit code differs from `{tool} -c`; our stderr:\n{}",
        done.stderr
    );
}

#[test]
fn md5sum_file_verifies() {
    let dir = sums_dir("md5sum", &plain_names());
    let done = check(dir.path());
    done.assert_code(0);
    let expected: Vec<String> = NAMES.iter().map(|n| format!("{n}: OK")).collect();
    assert_eq!(lines(&done), expected);
    assert!(!done.stderr.contains("WARNING"), "{}", done.stderr);
    assert_same_as("md5sum", dir.path(), &done);
}

#[test]
fn one_changed_byte_is_one_failure() {
    let dir = sums_dir("md5sum", &plain_names());
    flip_a_bit(&dir.path().join("with space.txt"), 500);

    let done = check(dir.path());
    done.assert_code(1);
    let expected: Vec<String> = NAMES
        .iter()
        .map(|&n| {
            if n == "with space.txt" {
                format!("{n}: FAILED")
            } else {
                format!("{n}: OK")
            }
        })
        .collect();
    assert_eq!(lines(&done), expected);
    assert!(
        done.stderr
            .contains("WARNING: 1 computed checksum did NOT match"),
        "{}",
        done.stderr
    );
    assert!(
        !done.stderr.contains("could not be read"),
        "{}",
        done.stderr
    );
    assert_same_as("md5sum", dir.path(), &done);
}

/// A check journaled to its end and resumed prints, from the journal, exactly what md5sum
/// prints (a failed line included), with the same exit code.
#[test]
fn a_resumed_check_prints_what_md5sum_prints() {
    let dir = sums_dir("md5sum", &plain_names());
    flip_a_bit(&dir.path().join("b.bin"), 10);
    let journal = dir.path().join("check.journal");
    let first = run(supervisor_run()
        .arg("--journal")
        .arg(&journal)
        .args(["hash", "--check", "SUMS"])
        .current_dir(dir.path()));
    assert_same_as("md5sum", dir.path(), &first);
    assert!(lines(&first).contains(&"b.bin: FAILED".to_owned()));
    let resumed = run(supervisor_run()
        .arg("-v")
        .arg("--resume")
        .arg(&journal)
        .args(["hash", "--check", "SUMS"])
        .current_dir(dir.path()));
    assert!(
        resumed
            .stderr
            .contains("resumed: 4 results from the journal, 0 run now"),
        "{}",
        resumed.stderr
    );
    assert_same_as("md5sum", dir.path(), &resumed);
}

#[test]
fn a_missing_file_is_failed_open_or_read() {
    let dir = sums_dir("md5sum", &plain_names());
    std::fs::remove_file(dir.path().join("b.bin")).unwrap();

    let done = check(dir.path());
    done.assert_code(1);
    let expected: Vec<String> = NAMES
        .iter()
        .map(|&n| {
            if n == "b.bin" {
                format!("{n}: FAILED open or read")
            } else {
                format!("{n}: OK")
            }
        })
        .collect();
    assert_eq!(lines(&done), expected);
    assert!(
        done.stderr
            .contains("WARNING: 1 listed file could not be read"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("b.bin"), "{}", done.stderr);
    assert!(!done.stderr.contains("did NOT match"), "{}", done.stderr);
    assert_same_as("md5sum", dir.path(), &done);
}

#[test]
fn a_garbage_line_is_improperly_formatted() {
    let dir = sums_dir("md5sum", &plain_names());
    let sums = dir.path().join("SUMS");
    let mut text = std::fs::read(&sums).unwrap();
    text.extend_from_slice(b"this is not a checksum line\n");
    std::fs::write(&sums, text).unwrap();

    let done = check(dir.path());
    let expected: Vec<String> = NAMES.iter().map(|n| format!("{n}: OK")).collect();
    assert_eq!(lines(&done), expected);
    assert!(
        done.stderr
            .contains("WARNING: 1 line is improperly formatted"),
        "{}",
        done.stderr
    );
    assert_same_as("md5sum", dir.path(), &done);
}

#[test]
fn a_sha256sum_file_is_recognised_by_its_digest_length() {
    let dir = sums_dir("sha256sum", &plain_names());
    let done = check(dir.path());
    done.assert_code(0);
    let expected: Vec<String> = NAMES.iter().map(|n| format!("{n}: OK")).collect();
    assert_eq!(lines(&done), expected);
    assert!(!done.stderr.contains("WARNING"), "{}", done.stderr);
    assert_same_as("sha256sum", dir.path(), &done);

    // And a change is caught with the sha256 digests.
    flip_a_bit(&dir.path().join("a.txt"), 0);
    let done = check(dir.path());
    done.assert_code(1);
    assert_eq!(lines(&done)[0], "a.txt: FAILED");
    assert_same_as("sha256sum", dir.path(), &done);
}

#[test]
fn escaped_names_are_reported_like_md5sum_c() {
    // md5sum escapes a name with a backslash or a newline in the sums file ("\HEX  NAME");
    // the check must find those files and print the names as `md5sum -c` does.
    let mut names = plain_names();
    names.extend([&b"back\\slash"[..], b"new\nline"]);
    let dir = sums_dir("md5sum", &names);
    let done = check(dir.path());
    done.assert_code(0);
    // One line per file: a newline in a name is printed as a backslash and `n`.
    let got = lines(&done);
    assert_eq!(got.len(), names.len(), "{got:?}");
    assert!(got.iter().all(|l| l.ends_with(": OK")), "{got:?}");
    assert_same_as("md5sum", dir.path(), &done);
}

#[test]
fn workers_killed_during_a_check_change_nothing() {
    // Many files digested in parallel while the chaos monkey kills busy workers: the output
    // is still md5sum -c's, in the sums file's order.
    let tree = crate::support::awkward_tree(300, 1 << 20);
    let sums = crate::support::reference_sums("md5sum", &tree.files);
    let dir = tempdir();
    std::fs::write(dir.path().join("SUMS"), &sums).unwrap();
    let expected = reference("md5sum", dir.path());
    assert_eq!(expected.status.code(), Some(0));
    let mut crashes = 0;
    for (seed, every) in [(1, "10ms"), (2, "5ms"), (3, "5ms"), (4, "2ms")] {
        let done = run(supervisor_run()
            .args([
                "-v",
                "-w",
                "2",
                "--retries",
                "100",
                "--chaos-kill-every",
                every,
            ])
            .args(["--chaos-seed", &seed.to_string()])
            .args(["hash", "--check", "SUMS"])
            .current_dir(dir.path()));
        done.assert_code(0);
        assert_eq!(
            String::from_utf8_lossy(&done.stdout),
            String::from_utf8_lossy(&expected.stdout),
            "seed {seed}: check output under chaos differs from md5sum -c"
        );
        crashes = crate::support::crashes_in_text_summary(&done.stderr);
        if crashes > 0 {
            break;
        }
    }
    assert!(crashes > 0, "no chaos kill happened in any run");
}
