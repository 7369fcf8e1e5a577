//! `run exec` when things go wrong: a worker killed mid-task, a task past its timeout with a
//! whole process tree, a task printing 200 MB, the supervisor itself SIGKILLed and resumed.
//!
//! Every process a run starts carries a marker in its environment (commands inherit the
//! supervisor's), so "nothing is left behind" is checked over all of them, grandchildren
//! included, without mistaking another run's processes for ours.

use crate::support::*;
use std::collections::BTreeSet;
use std::process::{Command, Stdio};

const MARK: &str = "SUPERVISOR_EXEC_TEST_MARK";

/// A marker unique to this test process and `name`.
fn mark(name: &str) -> String {
    format!("{}-{name}", std::process::id())
}

/// Live processes whose environment holds `MARK=mark`.
fn marked(mark: &str) -> Vec<i32> {
    let entry = format!("{MARK}={mark}");
    std::fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            !is_gone(pid)
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == entry.as_bytes()))
        })
        .collect()
}

/// A process's short name (`/proc/PID/comm`).
fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// A process's process group, from /proc/PID/stat.
fn pgid(pid: i32) -> Option<i32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

#[test]
fn a_worker_killed_during_a_task_reruns_it_and_nothing_it_started_survives() {
    let mark = mark("worker-kill");
    let dir = tempdir();
    // Task 2 hangs on its first attempt only (the directory exists on the second).
    let script =
        r#"if [ "$0" = 2 ] && mkdir "$ONCE" 2>/dev/null; then sleep 1000; fi; echo done $0"#;
    let mut cmd = supervisor_run();
    cmd.env(MARK, &mark)
        .env("ONCE", dir.path().join("once"))
        .args([
            "-w", "2", "exec", "--", "sh", "-c", script, ":::", "1", "2", "3", "4",
        ]);
    let running = spawn(&mut cmd);
    let sup = running.pid();
    let mut hang = None;
    let found = wait_until(deadline(20), || {
        hang = marked(&mark).into_iter().find(|&p| comm(p) == "sleep");
        hang.is_some()
    });
    assert!(found, "task 2's sleep never started");
    let hang = hang.unwrap();
    let worker = pgid(hang).expect("the sleep's process group");
    assert!(
        workers_of(sup).contains(&worker),
        "the command runs in its worker's process group"
    );
    let before = marked(&mark);
    // Only the worker: its command and the command's child are not signalled by us.
    sigkill(worker);
    let done = running.finish();
    done.assert_code(0);
    assert_eq!(stdout_text(&done), "done 1\ndone 2\ndone 3\ndone 4\n");
    assert!(
        done.stderr.contains(&format!("worker {worker} (slot")),
        "{}",
        done.stderr
    );
    // The sleep would run for 1000 s: the group's guardian killed it with its worker.
    let all: BTreeSet<i32> = before.into_iter().chain(marked(&mark)).collect();
    assert!(all.contains(&hang));
    assert_all_gone(&all.into_iter().collect::<Vec<_>>());
}

#[test]
fn task_timeout_kills_the_whole_process_tree() {
    let mark = mark("timeout");
    // `deaf` ignores SIGTERM, and so do its children: only the SIGKILL after the grace ends it.
    let script = r#"if [ "$0" = deaf ]; then trap '' TERM; fi; sleep 100 & sleep 100"#;
    let mut cmd = supervisor_run();
    cmd.env(MARK, &mark)
        .args("-w 2 --retries 0 --task-timeout 1s --kill-grace 300ms --format json".split(' '))
        .args(["exec", "--", "sh", "-c", script, ":::", "plain", "deaf"]);
    let running = spawn(&mut cmd);
    let mut tree = Vec::new();
    let started = wait_until(deadline(20), || {
        tree = marked(&mark);
        tree.iter().filter(|&&p| comm(p) == "sleep").count() == 4
    });
    assert!(started, "the four sleeps never ran: {tree:?}");
    let done = running.finish();
    done.assert_code(1);
    let doc = done.json();
    for result in doc["results"].as_array().unwrap() {
        assert_eq!(result["error"], "timed out after 1s", "{result}");
    }
    let all: BTreeSet<i32> = tree.into_iter().chain(marked(&mark)).collect();
    assert_all_gone(&all.into_iter().collect::<Vec<_>>());
}

#[test]
fn a_task_printing_200_mb_keeps_the_supervisor_small() {
    const SIZE: u64 = 200_000_000;
    let dir = tempdir();
    let spill = dir.path().join("tmp");
    std::fs::create_dir(&spill).unwrap();
    let out_path = dir.path().join("out");
    let err_path = dir.path().join("err");
    let mut child = Command::new(BIN)
        .args([
            "run",
            "-q",
            "-w",
            "1",
            "exec",
            "--",
            "head",
            "-c",
            &SIZE.to_string(),
            "{}",
        ])
        .args([":::", "/dev/zero"])
        .env("TMPDIR", &spill)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("start supervisor");
    // wait4: the peak RSS of the supervisor and of the workers it reaped (the largest).
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: our own child's pid; both pointers are valid for the call.
    let reaped = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(reaped, child.id() as i32, "wait4");
    let _ = child.try_wait();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status}: {stderr}"
    );
    let peak_mb = usage.ru_maxrss as f64 / 1024.0;
    assert!(
        peak_mb < 100.0,
        "peak RSS {peak_mb:.1} MB for 200 MB of output"
    );
    let out = std::fs::read(&out_path).unwrap();
    assert_eq!(out.len() as u64, SIZE);
    assert!(out.iter().all(|&b| b == 0));
    // The spill file went to TMPDIR, and was removed once read.
    assert_eq!(dir_entries(&spill), Vec::<std::ffi::OsString>::new());
}

#[test]
fn resume_after_the_supervisor_was_killed_runs_only_unfinished_items() {
    let mark = mark("resume");
    let dir = tempdir();
    let journal = dir.path().join("journal");
    // Every run of a command is logged; item 3 also prints more than goes inline.
    let script = r#"echo $0 >> "$RAN"; sleep 0.05; [ $0 = 3 ] && head -c 100000 /dev/zero | tr '\0' x; echo out $0"#;
    let items: Vec<String> = (1..=40).map(|i| i.to_string()).collect();
    let command = |journal_flag: &str, ran: &str| {
        let mut cmd = supervisor_run();
        cmd.env(MARK, &mark)
            .env("RAN", dir.path().join(ran))
            .args(["-w", "2", journal_flag])
            .arg(&journal)
            .args(["exec", "--", "sh", "-c", script, ":::"])
            .args(&items);
        cmd
    };
    let ran = |name: &str| -> Vec<String> {
        std::fs::read_to_string(dir.path().join(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let mut first = spawn(&mut command("--journal", "ran1"));
    assert!(
        wait_until(deadline(30), || ran("ran1").len() >= 12),
        "the first run never got going"
    );
    first.child.kill().expect("SIGKILL the supervisor");
    let killed = first.finish();
    assert_eq!(killed.code, None, "killed by a signal");
    // Its workers, their guardians and commands all die with it.
    assert_all_gone(&marked(&mark));

    let second = run(&mut command("--resume", "ran2"));
    second.assert_code(0);
    let mut expected = String::new();
    for i in 1..=40 {
        if i == 3 {
            expected.push_str(&"x".repeat(100_000));
        }
        expected.push_str(&format!("out {i}\n"));
    }
    assert!(
        stdout_text(&second) == expected,
        "the resumed output differs"
    );
    let line = second
        .stderr
        .lines()
        .find(|l| l.starts_with("resumed: "))
        .unwrap_or_else(|| panic!("no resumed line: {}", second.stderr));
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let (restored, rerun) = (numbers[0], numbers[1]);
    assert!(restored > 0 && restored + rerun == 40, "{line}");
    let second_runs = ran("ran2");
    assert_eq!(
        second_runs.len(),
        rerun,
        "only unfinished items ran: {line}"
    );
    let distinct: BTreeSet<&String> = second_runs.iter().collect();
    assert_eq!(distinct.len(), rerun);
}
