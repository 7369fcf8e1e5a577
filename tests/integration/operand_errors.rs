//! A path operand that does not exist is named on stderr in every format, one line, and
//! stays in the results where the format has results; the run exits 1 (some tasks failed)
//! and everything else is still done.

use crate::support::{run, supervisor_run, tempdir};

const FORMATS: [&str; 5] = ["table", "json", "jsonl", "csv", "sums"];

/// `supervisor run -q --format FORMAT JOB TYPO GOOD` inside a directory holding GOOD.
fn run_with_typo(job: &str, format: &str) -> (crate::support::Finished, String) {
    let dir = tempdir();
    std::fs::write(dir.path().join("good.log"), "ERROR one\n").unwrap();
    let done = run(supervisor_run()
        .args(["-q", "--format", format, job, "typo/nope.log", "good.log"])
        .current_dir(dir.path()));
    let stdout = String::from_utf8_lossy(&done.stdout).into_owned();
    (done, stdout)
}

fn check(job: &str, formats: &[&str]) {
    for &format in formats {
        let (done, stdout) = run_with_typo(job, format);
        done.assert_code(1);
        assert_eq!(
            done.stderr, "supervisor: typo/nope.log: No such file or directory\n",
            "{job} --format {format}: one line on stderr naming the operand"
        );
        // The good file is still there, and the error too where the format has results.
        assert!(stdout.contains("good.log"), "{job} {format}: {stdout}");
        if format != "sums" {
            assert!(stdout.contains("typo/nope.log"), "{job} {format}: {stdout}");
        }
    }
}

#[test]
fn hash_names_a_missing_operand_on_stderr_in_every_format() {
    check("hash", &FORMATS);
}

#[test]
fn logs_names_a_missing_operand_on_stderr_in_every_format() {
    // `--format sums` is the hash job's.
    check("logs", &FORMATS[..4]);
}
