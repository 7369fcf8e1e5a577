//! `run exec` side by side with GNU parallel: the same items and command give the same bytes.
//!
//! Our default (no shell, each word one argument) is `parallel -q`; `--shell` is plain
//! `parallel` (words joined into a shell line, replacements quoted). Without GNU parallel
//! these tests report themselves ignored, with the reason.

use crate::harness::Test;
use crate::support::{run_with_stdin, supervisor_run, tempdir};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub fn tests() -> Vec<Test> {
    let tests: [(&'static str, fn()); 5] = [
        (
            "exec_parallel::replacement_strings_match_gnu_parallel_for_every_input_source",
            replacement_strings_match_gnu_parallel_for_every_input_source,
        ),
        (
            "exec_parallel::nul_separated_items_with_newlines_match_gnu_parallel",
            nul_separated_items_with_newlines_match_gnu_parallel,
        ),
        (
            "exec_parallel::the_shell_line_quotes_items_as_gnu_parallel_does",
            the_shell_line_quotes_items_as_gnu_parallel_does,
        ),
        (
            "exec_parallel::seq_echo_is_byte_identical_to_parallel_k",
            seq_echo_is_byte_identical_to_parallel_k,
        ),
        (
            "exec_parallel::line_buffer_prints_the_lines_parallel_line_buffer_prints",
            line_buffer_prints_the_lines_parallel_line_buffer_prints,
        ),
    ];
    tests
        .into_iter()
        .map(|(name, body)| Test::when(name, needs_gnu_parallel, body))
        .collect()
}

/// `None` when GNU parallel runs here (moreutils ships another `parallel`); otherwise why not.
fn needs_gnu_parallel() -> Option<String> {
    static MISSING: OnceLock<Option<String>> = OnceLock::new();
    MISSING
        .get_or_init(|| {
            let gnu = Command::new("parallel")
                .arg("--version")
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("GNU parallel"));
            (!gnu).then(|| "GNU parallel is not installed (apt-get install parallel)".into())
        })
        .clone()
}

/// Paths with dots, slashes and spaces, and the corners of GNU parallel's Perl.
const ITEMS: &[&[u8]] = &[
    b"a b/c d.e",
    b"dir.x/file",
    b"a/b.c/d.e.f",
    b".bashrc",
    b"a/.hidden",
    b"a.tar.gz",
    b"/abs/path.txt",
    b"noext",
    b"a/b/",
    b"/",
    b"x/",
    b"./y.z",
    b"a..b",
    b"trail.",
    b"//x",
    b"a//b",
    b"  spaced  /  name . ext ",
    b"it's \"quoted\" $HOME/`x`.sh",
    b"caf\xe9/\xff\xfe.bin",
    b"",
];

/// Every replacement string but `{%}` (which worker runs a task is up to the scheduler).
const PRINT_ALL: &[&str] = &[
    "printf",
    "%s|%s|%s|%s|%s|%s\\n",
    "{}",
    "{.}",
    "{/}",
    "{//}",
    "{/.}",
    "{#}",
];

/// `parallel --will-cite -k ARGS...` with `stdin`: its stdout, checking that as many jobs
/// failed as expected (its exit status is that number).
fn parallel_failing(args: &[OsString], stdin: &[u8], failures: i32) -> Vec<u8> {
    let done = run_with_stdin(
        Command::new("parallel")
            .args(["--will-cite", "-k"])
            .args(args),
        stdin,
    );
    done.assert_code(failures);
    done.stdout
}

/// `parallel --will-cite -k ARGS...` with `stdin`, where every job succeeds: its stdout.
fn parallel(args: &[OsString], stdin: &[u8]) -> Vec<u8> {
    parallel_failing(args, stdin, 0)
}

/// Our `run -q ARGS...` (OsStrings, for items that are not UTF-8): its stdout, checking the
/// exit code.
fn ours_exiting(args: &[OsString], stdin: &[u8], code: i32) -> Vec<u8> {
    let done = run_with_stdin(supervisor_run().arg("-q").args(args), stdin);
    done.assert_code(code);
    done.stdout
}

/// Our `run -q ARGS...`, which must succeed: its stdout.
fn ours(args: &[OsString], stdin: &[u8]) -> Vec<u8> {
    ours_exiting(args, stdin, 0)
}

fn os(words: &[&str]) -> Vec<OsString> {
    words.iter().map(OsString::from).collect()
}

fn items() -> Vec<OsString> {
    ITEMS
        .iter()
        .map(|i| OsStr::from_bytes(i).to_os_string())
        .collect()
}

fn replacement_strings_match_gnu_parallel_for_every_input_source() {
    let command = os(PRINT_ALL);
    let listed: Vec<OsString> = [command.clone(), os(&[":::"]), items()].concat();
    let theirs = parallel(&[os(&["-q"]), listed.clone()].concat(), b"");
    assert_eq!(theirs.iter().filter(|&&b| b == b'\n').count(), ITEMS.len());
    let mine = ours(&[os(&["exec", "--"]), listed].concat(), b"");
    assert_eq!(
        String::from_utf8_lossy(&mine),
        String::from_utf8_lossy(&theirs)
    );
    assert_eq!(mine, theirs);

    // The same items as lines of a file, and on stdin (the empty line is an empty item).
    let mut lines = ITEMS.join(&b'\n');
    lines.push(b'\n');
    let dir = tempdir();
    let file = dir.path().join("items");
    std::fs::write(&file, &lines).unwrap();
    let from_file = [os(&["-a"]), vec![file.clone().into_os_string()]].concat();
    let theirs_file = parallel(
        &[os(&["-q"]), from_file.clone(), command.clone()].concat(),
        b"",
    );
    assert_eq!(theirs_file, theirs);
    let mine_file = ours(
        &[os(&["exec"]), from_file, os(&["--"]), command.clone()].concat(),
        b"",
    );
    assert_eq!(mine_file, theirs_file);
    let mine_stdin = ours(&[os(&["exec", "--"]), command.clone()].concat(), &lines);
    assert_eq!(mine_stdin, theirs_file);
}

fn nul_separated_items_with_newlines_match_gnu_parallel() {
    let items: &[&[u8]] = &[
        b"a\nb/c.d",
        b"x/a\nb/c",
        b"a.b\n",
        b"a.b\nc.d",
        b"dir\n/f.e",
    ];
    let mut input = items.join(&0u8);
    input.push(0);
    let dir = tempdir();
    let file = dir.path().join("items0");
    std::fs::write(&file, &input).unwrap();
    let file = file.into_os_string();
    let theirs = parallel(
        &[os(&["-q", "-0", "-a"]), vec![file.clone()], os(PRINT_ALL)].concat(),
        b"",
    );
    let mine = ours(
        &[
            os(&["exec", "-0", "-a"]),
            vec![file],
            os(&["--"]),
            os(PRINT_ALL),
        ]
        .concat(),
        b"",
    );
    assert_eq!(
        String::from_utf8_lossy(&mine),
        String::from_utf8_lossy(&theirs)
    );
}

fn the_shell_line_quotes_items_as_gnu_parallel_does() {
    // Shell code in the words (a pipe, a redirection), awkward items in the replacements.
    let command = os(&["echo", "[{}]", "[{/.}]", "2>&1", "|", "tr", "a-z", "A-Z"]);
    let listed: Vec<OsString> = [command, os(&[":::"]), items()].concat();
    let theirs = parallel(&listed, b"");
    let mine = ours(&[os(&["exec", "--shell", "--"]), listed].concat(), b"");
    assert_eq!(
        String::from_utf8_lossy(&mine),
        String::from_utf8_lossy(&theirs)
    );
    assert_eq!(mine, theirs);
    // Without replacement strings, the item is appended as one quoted word.
    let appended: Vec<OsString> = [os(&["printf", "'<%s>'", ":::"]), items()].concat();
    let theirs = parallel(&appended, b"");
    let mine = ours(&[os(&["exec", "--shell", "--"]), appended].concat(), b"");
    assert_eq!(mine, theirs);
}

fn seq_echo_is_byte_identical_to_parallel_k() {
    let seq: Vec<u8> = (1..=100)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect();
    let theirs = parallel(&os(&["echo", "{}.x"]), &seq);
    let mine = ours(&os(&["exec", "--", "echo", "{}.x"]), &seq);
    assert_eq!(mine, theirs);
    // Stderr is grouped per task too, and a failure changes nothing on stdout.
    let script = "echo out $0; echo err $0 >&2; exit $(( $0 % 3 ))";
    let theirs = parallel_failing(
        &os(&["-q", "sh", "-c", script, ":::", "1", "2", "3", "4"]),
        b"",
        3,
    );
    let mine = ours_exiting(
        &os(&["exec", "--", "sh", "-c", script, ":::", "1", "2", "3", "4"]),
        b"",
        1,
    );
    assert_eq!(mine, theirs);
}

/// `--line-buffer` and `--ungroup`: in whatever order the commands' lines come, the same lines
/// as GNU parallel's, each whole with `--line-buffer` (sorted, since the order is the
/// scheduler's), and a command's own lines in its order.
fn line_buffer_prints_the_lines_parallel_line_buffer_prints() {
    let script =
        r#"for n in 1 2 3; do printf "task $0 line $n "; sleep 0.01; printf "end\n"; done"#;
    let items: Vec<String> = (1..=8).map(|i| i.to_string()).collect();
    let items: Vec<&str> = items.iter().map(String::as_str).collect();
    let sorted = |out: Vec<u8>| {
        let text = String::from_utf8(out).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines.sort();
        lines
    };
    let args = |tool: &[&str]| [os(tool), os(&["sh", "-c", script, ":::"]), os(&items)].concat();
    let theirs = sorted(parallel(&args(&["-j4", "--line-buffer", "-q"]), b""));
    assert_eq!(theirs.len(), 24, "{theirs:?}");
    let mine = sorted(ours(
        &args(&["-w", "4", "exec", "--line-buffer", "--"]),
        b"",
    ));
    assert_eq!(mine, theirs);
    let ungrouped = sorted(ours(&args(&["-w", "1", "exec", "-u", "--"]), b""));
    assert_eq!(ungrouped, theirs);
}
