//! What every `harness = false` test binary of this crate shares: the runner (each test, then
//! a check that it left no child process behind) and the /proc scan behind that check.

use std::time::{Duration, Instant};

#[path = "../../../runtime/tests/harness/mod.rs"]
mod harness;

/// Runs `tests` with libtest's command line (filters, `--list`, `--exact`, `--ignored`; see
/// the shared harness), each followed by [`assert_no_children`].
pub fn run_tests(tests: &[(&'static str, fn())]) -> std::process::ExitCode {
    harness::run(harness::plain(tests), Some(assert_no_children))
}

/// Pids whose parent is this process (zombies included).
pub fn children() -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The fields after the command name (which may hold spaces) start after the last ')'.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u32>().ok());
        if ppid == Some(me) {
            found.push(pid);
        }
    }
    found
}

/// Waits (up to 5 s) until this process has no child left; panics naming those that remain.
pub fn assert_no_children() {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = children();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "child processes remain: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
