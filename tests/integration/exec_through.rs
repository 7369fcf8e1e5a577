//! `exec --line-buffer` and `--ungroup`: the commands' output goes through as it comes,
//! not captured and held until the task ends.

use crate::exec::{exec, exec_sh};
use crate::support::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

/// Commands that write each line in two halves with a pause between, several at once: with
/// `--line-buffer` every line comes out whole, whatever the interleaving of the commands.
#[test]
fn line_buffer_never_cuts_a_line_of_one_command_into_another() {
    let items: Vec<String> = (1..=12).map(|i| i.to_string()).collect();
    let items: Vec<&str> = items.iter().map(String::as_str).collect();
    let script =
        r#"for n in 1 2 3; do printf "task $0 line $n "; sleep 0.01; printf "end\n"; done"#;
    let done = exec_sh("-w 4 --line-buffer", script, &items);
    done.assert_code(0);
    let text = String::from_utf8(done.stdout.clone()).unwrap();
    let mut got: Vec<&str> = text.lines().collect();
    got.sort();
    let mut want: Vec<String> = (1..=12)
        .flat_map(|i| (1..=3).map(move |n| format!("task {i} line {n} end")))
        .collect();
    want.sort();
    assert_eq!(got, want, "a line was cut:\n{text}");
    // Each command's own lines stay in its order.
    for i in 1..=12 {
        let mine: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("task {i} ")))
            .collect();
        assert_eq!(
            mine,
            (1..=3)
                .map(|n| format!("task {i} line {n} end"))
                .collect::<Vec<_>>()
        );
    }
}

/// The command's stderr reaches stderr, a failed command is a failed result (exit 1), and a
/// last line without a newline is printed when its command ends.
#[test]
fn line_buffer_keeps_stderr_failures_and_an_unfinished_last_line() {
    let done = exec_sh(
        "-w 2 --line-buffer",
        r#"printf "out $0"; echo "err $0" >&2; exit "$0""#,
        &["0", "3"],
    );
    done.assert_code(1);
    let out = String::from_utf8(done.stdout.clone()).unwrap();
    assert!(out.contains("out 0") && out.contains("out 3"), "{out:?}");
    assert_eq!(out.len(), "out 0out 3".len(), "{out:?}");
    let err = &done.stderr;
    assert!(err.contains("err 0") && err.contains("err 3"), "{err}");
    assert!(err.contains("exited with status 3"), "{err}");
}

/// With `--ungroup` a command's output is on stdout while the command still runs.
#[test]
fn ungroup_output_arrives_while_the_command_still_runs() {
    let mut child = supervisor_run()
        .args(["-q", "-w", "1", "exec", "-u", "--", "sh", "-c"])
        .arg("echo started $0; exec sleep 60")
        .args([":::", "x"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let parent = child.id() as i32;
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(20));
    let running = child.try_wait().unwrap().is_none();
    let workers = workers_of(parent);
    send(parent, nix::sys::signal::Signal::SIGINT);
    let status = child.wait().unwrap();
    assert_eq!(first.as_deref(), Ok("started x"));
    assert!(running, "the run had ended before its output was read");
    assert_eq!(status.code(), Some(130));
    assert_all_gone(&workers);
}

#[test]
fn line_buffer_and_ungroup_refuse_what_would_capture_or_record_output() {
    for flag in ["--line-buffer", "-u"] {
        for extra in [
            &["--format", "json"][..],
            &["-o", "/dev/null"],
            &["--partition", "hash:1/2"],
            // A clap conflict (its usage lines follow the error).
            &["--output-dir", "/tmp"],
        ] {
            let mut args = vec!["exec", flag];
            args.extend(extra);
            args.extend(["--", "echo", ":::", "a"]);
            let done = exec(&args);
            done.assert_code(2);
            let err = &done.stderr;
            if !args.contains(&"--output-dir") {
                assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
            }
            assert!(done.stdout.is_empty(), "{args:?}");
        }
    }
}
