//! `run exec`: items from every source, arguments without a shell and quoted for one, failed
//! commands as results, `--retry-failed`, `{%}`, `--output-dir`, formats and bad input.

use crate::support::*;
use serde_json::Value;

/// `supervisor run -q ARGS...` with `stdin` as its standard input.
pub fn exec_with_stdin(args: &[&str], stdin: &[u8]) -> Finished {
    run_with_stdin(supervisor_run().arg("-q").args(args), stdin)
}

/// `supervisor run -q ARGS...` with stdin closed.
pub fn exec(args: &[&str]) -> Finished {
    run(supervisor_run().arg("-q").args(args))
}

/// `supervisor run -q exec OPTIONS -- sh -c SCRIPT ::: ITEMS...` (OPTIONS split at spaces;
/// run options may follow the job's name too).
pub fn exec_sh(options: &str, script: &str, items: &[&str]) -> Finished {
    let mut args = vec!["exec"];
    args.extend(options.split_whitespace());
    args.extend(["--", "sh", "-c", script, ":::"]);
    args.extend(items);
    exec(&args)
}

#[test]
fn items_come_from_the_command_line_a_file_stdin_or_nul_separated_input() {
    let expected = b"<a b>\n<c>\n<>\n<d>\n";
    let printf = ["exec", "--", "printf", "<%s>\\n"];
    let listed = exec(&[&printf[..], &[":::", "a b", "c", "", "d"]].concat());
    listed.assert_code(0);
    assert_eq!(listed.stdout, expected);

    let dir = tempdir();
    let file = dir.path().join("items");
    std::fs::write(&file, "a b\nc\n\nd\n").unwrap();
    let file = file.to_str().unwrap();
    let from_file = exec(&["exec", "--arg-file", file, "--", "printf", "<%s>\\n"]);
    assert_eq!(from_file.stdout, expected);
    let from_stdin = exec_with_stdin(&printf, b"a b\nc\n\nd");
    assert_eq!(from_stdin.stdout, expected);
    let dash = exec_with_stdin(
        &["exec", "-a", "-", "--", "printf", "<%s>\\n"],
        b"a b\nc\n\nd\n",
    );
    assert_eq!(dash.stdout, expected);
    // NUL-separated: an item may hold a newline.
    let nul = exec_with_stdin(&["exec", "-0", "--", "printf", "<%s>\\n"], b"x\ny\0z\0");
    assert_eq!(nul.stdout, b"<x\ny>\n<z>\n");
    // No items at all: nothing runs, and that is a success.
    exec_with_stdin(&printf, b"").assert_code(0);
}

#[test]
fn an_item_is_one_argument_without_a_shell_and_one_quoted_word_with_one() {
    let item = r#"it's "a" $HOME `id` b\c;*"#;
    let plain = exec(&["exec", "--", "printf", "<%s>\\n", ":::", item]);
    plain.assert_code(0);
    assert_eq!(plain.stdout, format!("<{item}>\n").as_bytes());
    // With --shell the words are shell code, and the item is quoted into exactly one word.
    let shell = exec(&[
        "exec",
        "--shell",
        "--",
        "printf",
        "'<%s>\\n'",
        "{}",
        "|",
        "tr",
        "a-z",
        "A-Z",
        ":::",
        item,
    ]);
    shell.assert_code(0);
    assert_eq!(
        shell.stdout,
        format!("<{}>\n", item.to_uppercase()).as_bytes()
    );
}

#[test]
fn failed_commands_are_results_and_the_exit_code_is_1() {
    let script = r#"case $0 in ok) echo fine;; three) echo out; echo err >&2; exit 3;; segv) kill -SEGV $$;; esac"#;
    let done = exec_sh("--format json", script, &["ok", "three", "segv", "missing"]);
    done.assert_code(1);
    let doc = done.json();
    let results = doc["results"].as_array().unwrap();
    let fields = |i: usize, key: &str| results[i][key].clone();
    assert_eq!(fields(0, "stdout"), "fine\n");
    assert_eq!(
        (fields(0, "exit_code"), fields(0, "signal")),
        (Value::from(0), Value::Null)
    );
    assert_eq!(fields(1, "exit_code"), 3);
    assert_eq!(
        (fields(1, "stdout"), fields(1, "stderr")),
        ("out\n".into(), "err\n".into())
    );
    assert_eq!(
        (fields(2, "exit_code"), fields(2, "signal")),
        (Value::Null, "SIGSEGV".into())
    );
    assert_eq!(
        fields(3, "exit_code"),
        0,
        "`missing` matches no case: exit 0"
    );
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["seq"], i + 1);
        assert_eq!(r["attempts"], 1);
        assert!(r["duration_ms"].as_f64().is_some(), "{r}");
    }
    assert_eq!(doc["summary"]["failed"], 2);
    assert_eq!(
        doc["summary"]["worker_crashes"], 0,
        "a failed command is no crash"
    );

    // A program that does not exist fails its own task only; the table names it on stderr.
    let done = exec(&["exec", "--", "{}", ":::", "/nonexistent/cmd", "true"]);
    done.assert_code(1);
    assert!(
        done.stderr.contains(
            "task 1 (/nonexistent/cmd): cannot run /nonexistent/cmd: No such file or directory"
        ),
        "{}",
        done.stderr
    );
}

#[test]
fn retry_failed_runs_a_failed_command_again() {
    let dir = tempdir();
    let log = dir.path().join("runs");
    // Fails until it has run three times.
    let script = r#"echo run >> "$0"; [ $(wc -l < "$0") -ge 3 ] && echo ok"#;
    let item = log.to_str().unwrap();
    let once = exec_sh("--format json", script, &[item]);
    once.assert_code(1);
    assert_eq!(once.json()["results"][0]["attempts"], 1);
    std::fs::remove_file(&log).unwrap();
    let retried = exec_sh("--format json --retry-failed 2", script, &[item]);
    retried.assert_code(0);
    let result = &retried.json()["results"][0];
    assert_eq!(
        (result["attempts"].clone(), result["stdout"].clone()),
        (3.into(), "ok\n".into())
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "run\n".repeat(3));
}

#[test]
fn the_job_slot_and_sequence_number_are_filled_in() {
    let items: Vec<String> = (1..=12).map(|i| i.to_string()).collect();
    let mut args = vec!["-w", "2", "exec", "--", "echo", "{#}", "{%}", ":::"];
    args.extend(items.iter().map(String::as_str));
    let done = exec(&args);
    done.assert_code(0);
    let text = stdout_text(&done);
    for (i, line) in text.lines().enumerate() {
        let (seq, slot) = line.split_once(' ').unwrap();
        assert_eq!(seq, (i + 1).to_string());
        assert!(slot == "1" || slot == "2", "slot {slot} of 2 workers");
    }
    assert_eq!(text.lines().count(), 12);
}

#[test]
fn output_dir_keeps_each_tasks_streams_in_files_named_by_sequence_number() {
    let dir = tempdir();
    let out = dir.path().join("results");
    let out_arg = out.to_str().unwrap();
    let script = "echo out $0; echo err $0 >&2";
    let table = exec_sh(&format!("--output-dir {out_arg}"), script, &["a", "b"]);
    table.assert_code(0);
    assert_eq!(table.stdout, b"out a\nout b\n");
    assert_eq!(std::fs::read(out.join("2.stdout")).unwrap(), b"out b\n");
    assert_eq!(std::fs::read(out.join("1.stderr")).unwrap(), b"err a\n");
    let json = exec_sh(
        &format!("--format json --output-dir {out_arg}"),
        script,
        &["a"],
    );
    let result = &json.json()["results"][0];
    let stdout_file = out.join("1.stdout");
    assert_eq!(result["stdout_file"], stdout_file.to_str().unwrap());
    assert_eq!(result["stdout_size"], 6);
    assert!(result.get("stdout").is_none(), "{result}");
}

#[test]
fn csv_and_jsonl_hold_the_streams_as_text() {
    let csv = exec(&[
        "--format",
        "csv",
        "exec",
        "--",
        "printf",
        "a,\"b\"\\n%s",
        ":::",
        "x",
    ]);
    csv.assert_code(0);
    let mut reader = csv::Reader::from_reader(csv.stdout.as_slice());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            "item",
            "seq",
            "exit_code",
            "signal",
            "stdout",
            "stderr",
            "duration_ms",
            "attempts",
            "error"
        ]
    );
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!((&row[0], &row[4], &row[7]), ("x", "a,\"b\"\nx", "1"));

    let jsonl = exec(&[
        "--format", "jsonl", "exec", "--", "printf", "\\377%s", ":::", "y",
    ]);
    let lines: Vec<Value> = stdout_text(&jsonl)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    // Not UTF-8: lossy text, and the exact bytes.
    assert_eq!(lines[0]["stdout"], "\u{fffd}y");
    assert_eq!(lines[0]["stdout_bytes"], serde_json::json!([255, 121]));
    assert_eq!(lines[1]["summary"]["tasks"], 1);
}

#[test]
fn bad_input_is_refused_with_one_line_and_exit_2() {
    let dir = tempdir();
    let missing = dir.path().join("missing");
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec![
                "exec",
                "--arg-file",
                missing.to_str().unwrap(),
                "--",
                "echo",
            ],
            format!(
                "cannot read {}: No such file or directory",
                missing.display()
            ),
        ),
        (
            vec!["exec", "--", ":::", "a"],
            "no command given before :::".into(),
        ),
        (
            vec!["exec", "--arg-file", "/dev/null", "--", "echo", ":::", "a"],
            "give the items after ::: or with --arg-file, not both".into(),
        ),
        (
            vec!["--format", "sums", "exec", "--", "echo", ":::", "a"],
            "--format sums only applies to the hash job".into(),
        ),
    ];
    for (args, message) in cases {
        let done = exec(&args);
        done.assert_code(2);
        assert_eq!(done.stderr, format!("supervisor: {message}\n"), "{args:?}");
        assert!(done.stdout.is_empty());
    }
}

#[test]
fn items_that_are_not_utf8_reach_the_command_exactly() {
    let dir = tempdir();
    let file = dir.path().join("items");
    std::fs::write(&file, b"caf\xe9\n\xff\xfe\n").unwrap();
    let done = exec(&["exec", "-a", file.to_str().unwrap(), "--", "printf", "%s|"]);
    done.assert_code(0);
    assert_eq!(done.stdout, b"caf\xe9|\xff\xfe|");
}
