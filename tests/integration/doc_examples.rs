//! The documented command lines run: every `supervisor ...` line of the README and of the
//! `--help` examples that can run on a temporary tree does, and succeeds. (The binary's unit
//! test `every_documented_command_line_parses` parses all of them, these included.)
//!
//! The paths the documentation uses (`/srv`, `/var/log`, ...) are replaced by a small tree
//! and a log directory in a temporary directory, where the checksum files the examples read
//! (MD5SUMS, SHA256SUMS, SHA512SUMS) are made first with coreutils; `> FILE` and `< FILE`
//! are honoured inside it. Lines that cannot run here are listed with the reason: a probe
//! of names other than the loopback address (tests touch 127.0.0.1 only), `ps --watch`
//! (runs until stopped), the full-scale CPU benchmark, `exec` of programs on the user's own
//! files and hosts (tests/integration/exec*.rs run it).

use crate::doc_commands::{DocCommand, from_help, from_markdown};
use crate::support::{BIN, RUN_LIMIT, deadline, tempdir, wait_until};
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

/// The help texts of `supervisor` and all its subcommands, found through their "Commands:"
/// lists.
fn help_texts(path: &[String], out: &mut Vec<(String, String)>) {
    let shown = Command::new(BIN)
        .args(path)
        .arg("--help")
        .output()
        .expect("run supervisor --help");
    let text = String::from_utf8_lossy(&shown.stdout).into_owned();
    let subcommands: Vec<String> = text
        .lines()
        .skip_while(|line| line.trim() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    out.push((format!("supervisor {} --help", path.join(" ")), text));
    for sub in subcommands {
        let mut deeper = path.to_vec();
        deeper.push(sub);
        help_texts(&deeper, out);
    }
}

/// Where a documented path points in the temporary directory.
fn substitute(path: &str) -> Option<&'static str> {
    Some(match path {
        "/srv" | "/usr/share/doc" | "/tmp/tree" | "/tmp/million" => "tree",
        "/var/log" => "var-log",
        _ => return None,
    })
}

/// Why a command cannot run here, or `None` when it can.
fn why_not(command: &DocCommand) -> Option<&'static str> {
    let args = &command.args;
    let has = |word: &str| args.iter().any(|a| a == word);
    match args.first().map(String::as_str) {
        Some("run") => {
            if has("probe") {
                let loopback_only = !has("--targets-file")
                    && args
                        .iter()
                        .skip_while(|a| *a != "probe")
                        .skip(1)
                        .filter(|a| !a.starts_with('-') && a.contains(':'))
                        .all(|a| a.starts_with("127.0.0.1:"));
                return (!loopback_only).then_some("probes names other than 127.0.0.1");
            }
            if has("cpu") && !has("--tasks") {
                return Some("the full-scale CPU benchmark (seconds in a debug build)");
            }
            if has("exec") {
                return Some("runs other programs on the user's own files and hosts");
            }
        }
        Some("ps") if has("--watch") => return Some("runs until stopped"),
        _ => {}
    }
    let outside = args
        .iter()
        .any(|a| a.starts_with('/') && substitute(a).is_none());
    outside.then_some("names a path outside the temporary tree")
}

/// A temporary directory with the tree, the logs and the checksum files the examples use.
fn workspace() -> tempfile::TempDir {
    let dir = tempdir();
    let files: [(&str, &str); 5] = [
        ("tree/a.log", "ERROR one\n"),
        ("tree/b.txt", "text\n"),
        ("tree/sub/c.dat", "data"),
        ("var-log/app.log", "ERROR x\nWARNING y\nok\n"),
        ("var-log/old.log.1", "not matched by the globs\n"),
    ];
    for (name, contents) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    let made = Command::new("sh")
        .arg("-c")
        .arg(
            "md5sum tree/a.log tree/b.txt tree/sub/c.dat > MD5SUMS && \
             sha256sum --tag tree/a.log tree/b.txt tree/sub/c.dat > SHA256SUMS && \
             sha512sum tree/a.log tree/b.txt tree/sub/c.dat > SHA512SUMS",
        )
        .current_dir(dir.path())
        .status()
        .expect("run coreutils");
    assert!(made.success());
    dir
}

/// Runs `command` in `dir`; its exit code and stderr.
fn run_in(dir: &Path, command: &DocCommand) -> (Option<i32>, String) {
    let args: Vec<&str> = command
        .args
        .iter()
        .map(|a| substitute(a).unwrap_or(a))
        .collect();
    // Output files land in the directory whatever path the documentation gives.
    let local = |name: &str| {
        dir.join(
            Path::new(name)
                .file_name()
                .expect("a redirection names a file"),
        )
    };
    let stdout = match &command.stdout {
        Some(name) => Stdio::from(File::create(local(name)).unwrap()),
        None => Stdio::null(),
    };
    let stdin = match &command.stdin {
        Some(name) => Stdio::from(File::open(local(name)).unwrap()),
        None => Stdio::null(),
    };
    let mut child = Command::new(BIN)
        .args(&args)
        .current_dir(dir)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start supervisor");
    let mut status = None;
    let ended = wait_until(deadline(RUN_LIMIT.as_secs()), || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    if !ended {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{}: {args:?} did not finish", command.source);
    }
    let mut stderr = String::new();
    use std::io::Read;
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    (status.and_then(|s| s.code()), stderr)
}

#[test]
fn documented_command_lines_run_on_a_temporary_tree() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    let mut commands = from_markdown("README.md", &readme);
    let mut texts = Vec::new();
    help_texts(&[], &mut texts);
    for (source, text) in &texts {
        commands.extend(from_help(source, text));
    }
    let dir = workspace();
    let mut ran = 0;
    let mut failures = Vec::new();
    for command in commands.iter().filter(|c| !c.is_synopsis()) {
        // Inline mentions of a command name (`supervisor run`) are not command lines.
        if command.inline && command.args.len() < 2 {
            continue;
        }
        if let Some(reason) = why_not(command) {
            eprintln!(
                "not run ({reason}): {}: supervisor {}",
                command.source,
                command.args.join(" ")
            );
            continue;
        }
        let (code, stderr) = run_in(dir.path(), command);
        ran += 1;
        if code != Some(0) {
            failures.push(format!(
                "{}: supervisor {} exited {code:?}\n{stderr}",
                command.source,
                command.args.join(" ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The README alone has more than ten that can run; fewer means the extraction broke.
    assert!(ran >= 12, "only {ran} documented command lines ran");
}
