//! The executor with real commands, in the test process (which leads no process group of its
//! own, so no guardian starts here; the integration tests cover it in real workers).

use super::*;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn setup(command: &[&str], shell: bool, retry_failed: u32, spill: &Path) -> ExecSetup {
    ExecSetup {
        command: command.iter().map(|w| w.as_bytes().to_vec()).collect(),
        shell,
        retry_failed,
        capture: CaptureMode::Spill {
            dir: spill.as_os_str().as_bytes().to_vec(),
            inline_max: INLINE_MAX,
        },
        kill_grace: Duration::from_secs(2),
    }
}

fn run(command: &[&str], shell: bool, item: &str) -> ExecOutput {
    let dir = tempfile::tempdir().unwrap();
    let mut exec = Executor::start(setup(command, shell, 0, dir.path()), std::process::id())
        .expect("executor starts");
    exec.run(&ExecTask {
        seq: 1,
        item: item.as_bytes().to_vec(),
    })
    .expect("a result")
}

fn inline(captured: &Captured) -> &[u8] {
    match captured {
        Captured::Inline(bytes) => bytes,
        other => panic!("not inline: {other:?}"),
    }
}

#[test]
fn an_item_with_spaces_and_quotes_is_one_argument_without_a_shell() {
    let item = r#"it's "a" $HOME b\c"#;
    let out = run(&["printf", "<%s>\\n"], false, item);
    assert_eq!(out.end, CommandEnd::Exited(0));
    assert_eq!(inline(&out.stdout), format!("<{item}>\n").as_bytes());
}

#[test]
fn with_a_shell_the_item_is_quoted_into_one_word() {
    let item = r#"it's "a" $HOME `x` b\c"#;
    let out = run(&["printf '<%s>\\n'", "{}"], true, item);
    assert_eq!(out.end, CommandEnd::Exited(0), "{:?}", out);
    assert_eq!(inline(&out.stdout), format!("<{item}>\n").as_bytes());
    // The words' own text is shell syntax: a pipe works.
    let out = run(&["echo", "{}.x", "|", "tr", "a-z", "A-Z"], true, "b");
    assert_eq!(inline(&out.stdout), b"B.X\n");
}

#[test]
fn stdout_and_stderr_are_kept_apart() {
    let out = run(&["sh", "-c", "echo out; echo err >&2; exit 3"], false, "");
    assert_eq!(out.end, CommandEnd::Exited(3));
    assert_eq!(inline(&out.stdout), b"out\n");
    assert_eq!(inline(&out.stderr), b"err\n");
    assert_eq!(out.runs, 1);
}

#[test]
fn a_signal_is_a_failed_result() {
    let out = run(&["sh", "-c", "kill -SEGV $$"], false, "");
    assert!(matches!(out.end, CommandEnd::Signaled { signal: 11, .. }));
    assert!(!out.end.is_success());
}

#[test]
fn a_missing_program_is_a_failed_result_naming_it() {
    let out = run(&["/nonexistent/program"], false, "x");
    assert_eq!(
        out.end,
        CommandEnd::Error("cannot run /nonexistent/program: No such file or directory".into())
    );
}

#[test]
fn a_failed_command_runs_again_under_retry_failed() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    // Fails the first time only.
    let script = format!(
        "if [ -e '{0}' ]; then echo second; else touch '{0}'; echo first; exit 1; fi",
        marker.display()
    );
    let mut exec = Executor::start(
        setup(&["sh", "-c", &script], false, 2, dir.path()),
        std::process::id(),
    )
    .unwrap();
    let out = exec
        .run(&ExecTask {
            seq: 1,
            item: Vec::new(),
        })
        .unwrap();
    assert_eq!(out.end, CommandEnd::Exited(0));
    assert_eq!(inline(&out.stdout), b"second\n");
    assert_eq!(out.runs, 2);
    // One that always fails runs 1 + 2 times and keeps the last run's output.
    let out = exec
        .run(&ExecTask {
            seq: 2,
            item: Vec::new(),
        })
        .unwrap();
    assert_eq!(out.runs, 1, "it succeeds now");
    let mut exec = Executor::start(
        setup(
            &["sh", "-c", "echo again >> \"$0\"; exit 4"],
            false,
            2,
            dir.path(),
        ),
        std::process::id(),
    )
    .unwrap();
    let count = dir.path().join("count");
    let out = exec
        .run(&ExecTask {
            seq: 3,
            item: count.as_os_str().as_bytes().to_vec(),
        })
        .unwrap();
    assert_eq!((out.end, out.runs), (CommandEnd::Exited(4), 3));
    assert_eq!(
        std::fs::read_to_string(&count).unwrap(),
        "again\n".repeat(3)
    );
}

#[test]
fn big_output_is_spilled_to_a_named_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut exec = Executor::start(
        setup(&["head", "-c", "200000", "{}"], false, 0, dir.path()),
        std::process::id(),
    )
    .unwrap();
    let out = exec
        .run(&ExecTask {
            seq: 1,
            item: b"/dev/zero".to_vec(),
        })
        .unwrap();
    let Captured::File { path, size } = &out.stdout else {
        panic!("not spilled: {:?}", out.stdout)
    };
    assert_eq!(*size, 200_000);
    let data = std::fs::read(std::ffi::OsStr::from_bytes(path)).unwrap();
    assert!(data.len() == 200_000 && data.iter().all(|&b| b == 0));
    assert_eq!(out.stderr, Captured::Inline(Vec::new()));
}

#[test]
fn the_slot_must_be_known_when_the_command_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut exec = Executor::start(
        setup(&["echo", "{%}"], false, 0, dir.path()),
        std::process::id(),
    )
    .unwrap();
    let task = ExecTask {
        seq: 1,
        item: Vec::new(),
    };
    assert!(matches!(exec.run(&task).unwrap().end, CommandEnd::Error(_)));
    exec.set_slot(2);
    assert_eq!(inline(&exec.run(&task).unwrap().stdout), b"2\n");
}

#[test]
fn an_empty_command_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Executor::start(setup(&[], false, 0, dir.path()), 1),
        Err(ExecError::NoCommand)
    ));
}

#[test]
fn a_command_killed_by_our_own_sigterm_is_no_result() {
    let dir = tempfile::tempdir().unwrap();
    let mut exec = Executor::start(
        setup(&["sh", "-c", "kill -TERM $$"], false, 3, dir.path()),
        std::process::id(),
    )
    .unwrap();
    let task = ExecTask {
        seq: 1,
        item: Vec::new(),
    };
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    exec.watch_termination(flag.clone());
    // Not terminating: its death by SIGTERM is its own failed result (after its retries).
    let out = exec.run(&task).unwrap();
    assert_eq!(out.runs, 4);
    assert!(matches!(out.end, CommandEnd::Signaled { signal: 15, .. }));
    // This process "got" SIGTERM too: nothing to report, and no retry.
    flag.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(exec.run(&task).is_none());
}
