//! `supervisor run hash` side by side with the installed coreutils (`md5sum`, `sha*sum`,
//! `b2sum`): every case of [`cases`] runs both on the same inputs in the same directory and
//! compares stdout, stderr and the exit status.
//!
//! The only rewriting before the comparison is in [`as_ours`]: a message's program name
//! (`md5sum: ` becomes `supervisor: `) and, for a usage error, coreutils' exit status 1 and
//! its "Try 'md5sum --help'" line (we exit 2, the project's documented code for usage
//! errors, after the same message).

mod cases;

use crate::support::{BIN, Finished, run, tempdir};
use cases::Case;
use std::path::Path;
use std::process::Command;

/// Which `supervisor` command a case runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Variant {
    /// `--algo` names the reference tool's algorithm.
    Explicit,
    /// No `--algo`: the algorithm is guessed from the checksum files.
    Guessed,
}

/// The `--algo` of a reference tool.
fn algo_of(tool: &str) -> &'static str {
    match tool {
        "md5sum" => "md5",
        "sha1sum" => "sha1",
        "sha224sum" => "sha224",
        "sha256sum" => "sha256",
        "sha384sum" => "sha384",
        "sha512sum" => "sha512",
        "b2sum" => "blake2b",
        other => panic!("no algorithm for {other}"),
    }
}

/// True when the arguments verify checksum files.
fn checks(args: &str) -> bool {
    args.split_whitespace()
        .any(|word| word == "-c" || word == "--check")
}

/// Runs `script` with `sh` in `dir`.
fn shell(dir: &Path, script: &str, locale: &str) -> Finished {
    run(Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("LC_ALL", locale)
        .env("SUPERVISOR", BIN))
}

/// The reference tool's output rewritten as `supervisor` words it: the one place where the
/// two may legitimately differ.
fn as_ours(case: &Case, reference: &Finished) -> (Vec<u8>, String, Option<i32>) {
    let prefix = format!("{}: ", case.tool);
    let try_help = format!("Try '{} --help' for more information.", case.tool);
    let mut stderr = String::new();
    for line in reference.stderr.split_inclusive('\n') {
        if case.usage && line.trim_end() == try_help {
            continue;
        }
        match line.strip_prefix(&prefix) {
            Some(rest) => {
                stderr.push_str("supervisor: ");
                stderr.push_str(rest);
            }
            None => stderr.push_str(line),
        }
    }
    let code = match reference.code {
        Some(1) if case.usage => Some(2),
        other => other,
    };
    (reference.stdout.clone(), stderr, code)
}

/// Runs one case in one variant; the differences, if any.
fn compare(case: &Case, variant: Variant) -> Result<(), String> {
    let dir = tempdir();
    for (name, contents) in case.files {
        std::fs::write(dir.path().join(name), contents).expect("write a case's file");
    }
    if !case.setup.is_empty() {
        let made = shell(dir.path(), case.setup, "C");
        if made.code != Some(0) {
            return Err(format!("setup failed: {}", made.stderr));
        }
    }
    let locale = if case.utf8 { "C.UTF-8" } else { "C" };
    let reference = shell(
        dir.path(),
        &format!("exec {} {}", case.tool, case.args),
        locale,
    );
    let algo = match variant {
        Variant::Explicit => format!("--algo {}", algo_of(case.tool)),
        Variant::Guessed => String::new(),
    };
    let args = case.ours.unwrap_or(case.args);
    let ours = if checks(case.args) {
        format!("exec \"$SUPERVISOR\" run hash {algo} {args}")
    } else {
        format!("exec \"$SUPERVISOR\" run --format sums -q hash {algo} {args}")
    };
    let got = shell(dir.path(), &ours, locale);
    let (stdout, stderr, code) = as_ours(case, &reference);
    let mut problems = Vec::new();
    if got.stdout != stdout {
        problems.push(format!(
            "stdout:\n  expected {:?}\n  got      {:?}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&got.stdout)
        ));
    }
    if got.stderr != stderr {
        problems.push(format!(
            "stderr:\n  expected {stderr:?}\n  got      {:?}",
            got.stderr
        ));
    }
    if got.code != code {
        problems.push(format!("exit: expected {code:?}, got {:?}", got.code));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// The comparisons a case makes.
fn variants(case: &Case) -> Vec<Variant> {
    if checks(case.args) && case.guess {
        vec![Variant::Explicit, Variant::Guessed]
    } else {
        vec![Variant::Explicit]
    }
}

/// Runs every case of `table` and fails listing each one that differs.
fn run_table(name: &str, table: &[Case]) {
    let mut compared = 0;
    let mut failures = Vec::new();
    for case in table {
        for variant in variants(case) {
            compared += 1;
            if let Err(problem) = compare(case, variant) {
                failures.push(format!(
                    "{} ({variant:?}): {} {}\n{problem}",
                    case.id, case.tool, case.args
                ));
            }
        }
    }
    eprintln!(
        "{name}: {compared} comparisons, {} identical",
        compared - failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {compared} comparisons differ from coreutils:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every table, with its name.
const TABLES: &[(&str, &[Case])] = &[
    ("md5sum.pl", cases::MD5SUM_PL),
    ("sha*sum.pl", cases::SHA_PL),
    (
        "md5sum-newline.pl, md5sum-bsd.sh, md5sum-parallel.sh",
        cases::MD5SUM_SH,
    ),
    ("cksum-c.sh", cases::CKSUM_C),
    ("b2sum.sh", cases::B2SUM_SH),
    ("ours", cases::OURS),
    ("algorithms", cases::ALGORITHMS),
];

#[test]
fn md5sum_pl_cases_match_md5sum() {
    run_table("md5sum.pl", cases::MD5SUM_PL);
}

#[test]
fn sha_pl_cases_match_sha_sums() {
    run_table("sha*sum.pl", cases::SHA_PL);
}

#[test]
fn md5sum_shell_test_cases_match_md5sum() {
    run_table("md5sum-*.sh", cases::MD5SUM_SH);
}

#[test]
fn cksum_c_cases_match_the_single_algorithm_tools() {
    run_table("cksum-c.sh", cases::CKSUM_C);
}

#[test]
fn b2sum_sh_cases_match_b2sum() {
    run_table("b2sum.sh", cases::B2SUM_SH);
}

#[test]
fn our_own_check_cases_match_md5sum() {
    run_table("ours", cases::OURS);
}

#[test]
fn every_algorithm_matches_its_tool() {
    run_table("algorithms", cases::ALGORITHMS);
}

/// The README states how many comparisons there are and how many came from coreutils'
/// tests; this keeps the statement true.
#[test]
fn the_readme_states_the_case_count() {
    let count = |tables: &[(&str, &[Case])]| -> usize {
        tables
            .iter()
            .flat_map(|(_, table)| table.iter())
            .map(|case| variants(case).len())
            .sum()
    };
    let all = count(TABLES);
    let ported = count(&TABLES[..5]);
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    let statement = format!("{all} comparisons ({ported} of them ported from coreutils' tests)");
    assert!(
        readme.contains(&statement),
        "README.md should say \"{statement}\""
    );
}
