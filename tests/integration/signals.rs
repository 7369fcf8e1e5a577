//! Ctrl-C, SIGTERM and a closed stdout during a run: partial but correct results, the
//! documented exit code, and no worker left behind.

use crate::support::{
    ChildWatch, Tree, assert_all_gone, assert_fault_ok, bytes, content, deadline, dir_entries,
    fault_results, ignores_sigterm, is_gone, md5_of, processes_mentioning, send, spawn,
    summary_pids, supervisor_run, tempdir, wait_for_ps, wait_until, workers_of,
};
use nix::sys::signal::Signal;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Interrupts a busy 400-task run with `signal` once some results are in, and checks what a
/// user gets: exit `code`, a valid JSON document with only correct results, the reason, the
/// tasks not run, and no surviving worker.
fn interrupt_mid_run(signal: Signal, code: i32, name: &str) {
    let tmp = tempdir();
    let running = spawn(
        supervisor_run()
            .args(["-w", "2", "--format", "json", "fault"])
            .args(["--tasks", "400", "--sleep-ms", "20"])
            .env("TMPDIR", tmp.path()),
    );
    let parent = running.pid();
    let watch = ChildWatch::start(parent);
    let (started, view) = wait_for_ps(parent, 20, |v| v.done >= 10);
    assert!(started, "the run never got 10 results done: {view:?}");
    send(parent, signal);
    let done = running.finish_within(Duration::from_secs(15));
    let mut pids = watch.seen();
    done.assert_code(code);

    let doc = done.json();
    let results = fault_results(&doc);
    assert!(
        results.len() >= 10,
        "results done before the signal are missing: {} results",
        results.len()
    );
    for (&item, r) in &results {
        assert!(item < 400, "{r}");
        assert_fault_ok(item, r);
    }
    let summary = &doc["summary"];
    let reason = summary["interrupted"]
        .as_str()
        .unwrap_or_else(|| panic!("summary.interrupted is not a reason: {summary}"));
    assert!(reason.contains(name), "{reason:?} does not name {name}");
    let not_run = summary["not_run"].as_u64().unwrap();
    assert!(not_run > 0, "{summary}");
    assert_eq!(
        results.len() as u64 + not_run,
        400,
        "tasks unaccounted for: {summary}"
    );
    assert_eq!(summary["failed"], 0, "an interrupted task is not a failure");

    pids.extend(summary_pids(&doc));
    assert!(!pids.is_empty());
    assert_all_gone(&pids);
    let needle = tmp.path().as_os_str().as_bytes().to_vec();
    assert!(
        wait_until(deadline(2), || processes_mentioning(&needle).is_empty()),
        "processes of the run survive: {:?}",
        processes_mentioning(&needle)
    );
}

#[test]
fn sigint_mid_run_prints_partial_correct_results_and_exits_130() {
    interrupt_mid_run(Signal::SIGINT, 130, "SIGINT");
}

#[test]
fn sigterm_mid_run_prints_partial_correct_results_and_exits_143() {
    interrupt_mid_run(Signal::SIGTERM, 143, "SIGTERM");
}

/// A closed terminal (SIGHUP) is handled like SIGTERM.
#[test]
fn sighup_mid_run_prints_partial_correct_results_and_exits_129() {
    interrupt_mid_run(Signal::SIGHUP, 129, "SIGHUP");
}

/// Ctrl-Z (SIGTSTP) stops the workers with the supervisor, their timers pause (a stop longer
/// than the heartbeat timeout costs nothing), and `fg` (SIGCONT) resumes a run whose output is
/// the same as an undisturbed one's.
#[test]
fn ctrl_z_stops_the_workers_too_and_fg_resumes_with_identical_results() {
    let args = [
        "-w",
        "2",
        "--format",
        "json",
        "--heartbeat-timeout",
        "1s",
        "--task-timeout",
        "3s",
        "fault",
        "--tasks",
        "150",
        "--sleep-ms",
        "10",
    ];
    let clean = crate::support::run(supervisor_run().args(args));
    clean.assert_code(0);
    let running = spawn(supervisor_run().args(args));
    let parent = running.pid();
    let watch = ChildWatch::start(parent);
    let (started, view) = wait_for_ps(parent, 20, |v| v.done >= 10);
    assert!(started, "the run never got 10 results done: {view:?}");
    let workers = workers_of(parent);
    assert_eq!(workers.len(), 2, "{workers:?}");
    send(parent, Signal::SIGTSTP);
    let stopped = |pid: i32| matches!(crate::support::stat(pid), Some(('T', _)));
    assert!(
        wait_until(deadline(5), || stopped(parent)
            && workers.iter().all(|&w| stopped(w))),
        "not everything stopped: parent {:?}, workers {:?}",
        crate::support::stat(parent),
        workers
            .iter()
            .map(|&w| crate::support::stat(w))
            .collect::<Vec<_>>()
    );
    // Stopped for longer than the heartbeat timeout: the scenario, not a hope.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        workers.iter().all(|&w| stopped(w)),
        "the workers stay stopped"
    );
    crate::support::sigcont(parent);
    let done = running.finish_within(Duration::from_secs(30));
    let mut pids = watch.seen();
    done.assert_code(0);
    let doc = done.json();
    assert_eq!(
        doc["results"],
        clean.json()["results"],
        "same results as an undisturbed run"
    );
    let summary = &doc["summary"];
    assert_eq!(summary["worker_crashes"], 0, "{summary}");
    assert_eq!(
        summary["workers_spawned"], 2,
        "no worker was replaced: {summary}"
    );
    pids.extend(summary_pids(&doc));
    assert_all_gone(&pids);
}

/// The first Ctrl-C is graceful (SIGTERM, then SIGKILL after a 5 s grace); a worker that
/// ignores SIGTERM would keep the run alive that long. A second Ctrl-C must end it at once.
#[test]
fn a_second_sigint_ends_the_run_at_once() {
    let running = spawn(supervisor_run().args([
        "-w",
        "2",
        "--format",
        "json",
        "fault",
        "--tasks",
        "2",
        "--ignore-term-on",
        "0",
        "--hang-on",
        "1",
    ]));
    let parent = running.pid();
    let watch = ChildWatch::start(parent);
    // Two workers, one of them in the task that ignores SIGTERM.
    let mut workers = Vec::new();
    let ready = wait_until(deadline(20), || {
        workers = workers_of(parent);
        workers.len() == 2 && workers.iter().filter(|&&w| ignores_sigterm(w)).count() == 1
    });
    assert!(ready, "never saw a worker ignoring SIGTERM: {workers:?}");
    let stubborn = *workers.iter().find(|&&w| ignores_sigterm(w)).unwrap();
    let other = *workers.iter().find(|&&w| w != stubborn).unwrap();

    let first = Instant::now();
    send(parent, Signal::SIGINT);
    // The first signal was handled: the worker that obeys SIGTERM is gone...
    assert!(
        wait_until(deadline(4), || is_gone(other)),
        "worker {other} survived the first SIGINT"
    );
    // ... while the run still waits for the stubborn one.
    assert!(
        !is_gone(parent) && !is_gone(stubborn),
        "the run ended without a second signal (the test cannot tell anything)"
    );
    send(parent, Signal::SIGINT);
    let done = running.finish_within(Duration::from_secs(30));
    let took = first.elapsed();
    done.assert_code(130);
    assert!(
        took < Duration::from_secs(4),
        "the second SIGINT did not end the run at once ({took:?} after the first; the \
         graceful stop alone takes 5 s)"
    );
    let doc = done.json();
    assert!(
        doc["summary"]["interrupted"]
            .as_str()
            .is_some_and(|r| r.contains("SIGINT")),
        "{}",
        doc["summary"]
    );
    assert_eq!(doc["summary"]["not_run"], 2, "{}", doc["summary"]);
    let mut pids = watch.seen();
    pids.extend([stubborn, other]);
    pids.extend(summary_pids(&doc));
    assert_all_gone(&pids);
}

/// Starts `cmd` with stdout piped to the test (which reads it itself) and stderr collected.
fn spawn_reading(cmd: &mut Command) -> (Child, std::thread::JoinHandle<String>) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start supervisor");
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    (child, errors)
}

/// A finished result is written at once, not held until the task after it ends: with one
/// worker, the 150 results before a task that hangs for 4 s all come out well before its
/// timeout (the reproduction: 14 of them came out only when the hang was killed).
#[test]
fn jsonl_results_come_out_while_the_next_task_hangs() {
    let (mut child, errors) = spawn_reading(supervisor_run().args([
        "-w",
        "1",
        "--format",
        "jsonl",
        "--task-timeout",
        "4s",
        "--retries",
        "0",
        "fault",
        "--tasks",
        "200",
        "--hang-on",
        "150",
    ]));
    let started = Instant::now();
    let reader = BufReader::new(child.stdout.take().unwrap());
    let mut arrivals = Vec::new();
    for line in reader.lines().map_while(Result::ok) {
        let doc: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        if let Some(item) = doc["item"].as_u64() {
            arrivals.push((item, started.elapsed()));
        }
    }
    let code = wait_within(&mut child, Duration::from_secs(30));
    let stderr = errors.join().unwrap();
    assert_eq!(code, Some(1), "the hung task fails: {stderr}");
    let before: Vec<_> = arrivals.iter().filter(|(item, _)| *item < 150).collect();
    assert_eq!(before.len(), 150, "{arrivals:?}");
    let late: Vec<_> = before
        .iter()
        .filter(|(_, at)| *at >= Duration::from_secs(3))
        .collect();
    assert!(
        late.is_empty(),
        "{} results finished before the hang came out only after it was killed: {late:?}",
        late.len()
    );
}

/// Waits for `child` to exit within `limit`, killing it and failing past that.
fn wait_within(child: &mut Child, limit: Duration) -> Option<i32> {
    let end = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the supervisor did not exit within {limit:?} after its stdout was closed");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `supervisor run hash DIR --format sums | head -1`: the output (over 64 KiB, more than a
/// pipe holds) meets a closed pipe; that is exit 0, and nothing of the run remains.
#[test]
fn sums_into_a_closed_pipe_exit_0() {
    let mut tree = Tree::empty();
    for i in 0..1500 {
        let name = format!("many/d{:02}/f{i:04}.dat", i % 13);
        tree.add(name.as_bytes(), &content(i, (i % 97) as usize));
    }
    // The premise: the sums are more than a pipe holds, so writing them meets the closed end.
    let output_len: usize = tree.files.iter().map(|f| 32 + 2 + f.len() + 1).sum();
    assert!(output_len > 96 << 10, "only {output_len} bytes of sums");
    let tmp = tempdir();
    let (mut child, errors) = spawn_reading(
        supervisor_run()
            .args(["-w", "2", "--format", "sums", "hash"])
            .arg(tree.root())
            .env("TMPDIR", tmp.path()),
    );
    let parent = child.id() as i32;
    let watch = ChildWatch::start(parent);
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).unwrap();
    drop(reader);
    let code = wait_within(&mut child, Duration::from_secs(20));
    let stderr = errors.join().unwrap();
    assert_eq!(code, Some(0), "stderr:\n{stderr}");

    // The one line read is a correct sums line for a file of the tree.
    let line = line.strip_suffix(b"\n").expect("a whole line");
    let (digest, path) = line.split_at(32);
    let path = path
        .strip_prefix(b"  ")
        .expect("two spaces after the digest");
    assert!(tree.files.iter().any(|f| f == path), "{line:?}");
    assert_eq!(
        std::str::from_utf8(digest).unwrap(),
        md5_of(path),
        "{}",
        String::from_utf8_lossy(line)
    );

    assert_all_gone(&watch.seen());
    let needle = bytes(tmp.path());
    assert!(
        wait_until(deadline(2), || processes_mentioning(&needle).is_empty()),
        "processes of the run survive: {:?}",
        processes_mentioning(&needle)
    );
    assert!(
        wait_until(deadline(2), || dir_entries(tmp.path()).is_empty()),
        "left behind in TMPDIR: {:?}",
        dir_entries(tmp.path())
    );
}

/// A streaming run (`--format jsonl`) whose reader goes away stops early, exits 0 and takes
/// its workers with it (the whole run would take 10 s).
#[test]
fn a_streaming_run_stops_early_when_stdout_is_closed() {
    let tmp = tempdir();
    let (mut child, errors) = spawn_reading(
        supervisor_run()
            .args(["-w", "2", "--format", "jsonl", "fault"])
            .args(["--tasks", "4000", "--sleep-ms", "5"])
            .env("TMPDIR", tmp.path()),
    );
    let parent = child.id() as i32;
    let watch = ChildWatch::start(parent);
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    drop(reader);
    let closed = Instant::now();
    let code = wait_within(&mut child, Duration::from_secs(8));
    let stderr = errors.join().unwrap();
    assert_eq!(code, Some(0), "stderr:\n{stderr}");
    assert!(
        closed.elapsed() < Duration::from_secs(8),
        "the run went on after its reader left"
    );
    let first: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
    let item = first["item"].as_u64().unwrap_or_else(|| panic!("{first}"));
    assert_fault_ok(item, &first);

    let seen = watch.seen();
    assert!(!seen.is_empty(), "no worker was ever seen");
    assert_all_gone(&seen);
    let needle = bytes(tmp.path());
    assert!(
        wait_until(deadline(2), || processes_mentioning(&needle).is_empty()),
        "processes of the run survive: {:?}",
        processes_mentioning(&needle)
    );
}
