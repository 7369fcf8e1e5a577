//! `supervisor completions SHELL` and `supervisor man`: scripts and a roff page on stdout.

use crate::support::{RUN_LIMIT, run, stdout_text, supervisor};
use std::process::Stdio;
use std::time::Instant;

fn generate(args: &[&str]) -> String {
    let done = run(supervisor().args(args));
    done.assert_code(0);
    assert!(done.stderr.is_empty(), "{args:?}: stderr {}", done.stderr);
    let text = stdout_text(&done);
    assert!(!text.trim().is_empty(), "{args:?}: empty output");
    text
}

#[test]
fn bash_completion_defines_the_function() {
    let script = generate(&["completions", "bash"]);
    assert!(script.contains("_supervisor"), "{script}");
    assert!(
        script.contains("complete "),
        "no `complete` command:\n{script}"
    );
    // The subcommands and a run option are offered.
    for word in ["run", "ps", "--workers"] {
        assert!(script.contains(word), "bash completion lacks {word}");
    }
}

#[test]
fn zsh_and_fish_completions_are_generated() {
    let zsh = generate(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef supervisor"), "{zsh}");
    let fish = generate(&["completions", "fish"]);
    assert!(fish.contains("complete -c supervisor"), "{fish}");
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let done = run(supervisor().args(["completions", "nosuchshell"]));
    done.assert_code(2);
    assert!(done.stdout.is_empty());
    assert!(done.stderr.contains("nosuchshell"), "{}", done.stderr);
}

#[test]
fn man_prints_a_roff_page() {
    let page = generate(&["man"]);
    assert!(
        page.starts_with(".TH") || page.contains("\n.TH supervisor"),
        "no .TH header:\n{page}"
    );
    assert!(page.contains(".TH supervisor"), "{page}");
    assert!(page.contains(".SH"), "no sections:\n{page}");
}

/// Runs `supervisor ARGS` with stdout a pipe whose reader is already gone.
fn into_closed_pipe(args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut child = supervisor()
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn supervisor");
    let began = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if began.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            panic!("supervisor {args:?} hangs on a closed stdout");
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    // DESIGN §6: "A broken pipe on stdout is not an error" (e.g. `supervisor man | head`).
    let mut failures = Vec::new();
    for args in [
        &["man"][..],
        &["completions", "bash"],
        &["completions", "zsh"],
        &["completions", "fish"],
    ] {
        let (code, stderr) = into_closed_pipe(args);
        if code != Some(0) || stderr.contains("panicked") {
            let first = stderr.lines().take(3).collect::<Vec<_>>().join(" | ");
            failures.push(format!("{args:?}: exit {code:?}: {first}"));
        }
    }
    assert!(
        failures.is_empty(),
        "broken pipe on stdout treated as an error:\n{}",
        failures.join("\n")
    );
}
