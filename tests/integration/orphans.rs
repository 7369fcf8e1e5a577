//! No orphans, no leaks: whatever ends the parent, its workers die and nothing stays behind.

use crate::support::{
    assert_all_gone, deadline, maps_memfd, processes_mentioning, run, sigkill, sigstop, spawn,
    stat, summary_pids, supervisor_run, tempdir, wait_until, workers_of,
};
use std::collections::BTreeSet;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn dev_shm() -> BTreeSet<std::ffi::OsString> {
    std::fs::read_dir("/dev/shm")
        .map(|d| d.filter_map(|e| Some(e.ok()?.file_name())).collect())
        .unwrap_or_default()
}

fn entries(dir: &Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect()
}

#[test]
fn workers_die_with_a_sigkilled_parent_and_nothing_leaks() {
    let tmp = tempdir();
    let shm_before = dev_shm();
    let mut running = spawn(
        supervisor_run()
            .args(["-w", "2", "fault", "--tasks", "1000", "--sleep-ms", "50"])
            .env("TMPDIR", tmp.path()),
    );
    let parent = running.pid();
    let mut workers = Vec::new();
    // Mid-run: both workers started (handshake socket gone, scoreboard mapped).
    assert!(
        wait_until(deadline(20), || {
            workers = workers_of(parent);
            workers.len() >= 2 && workers.iter().all(|&w| maps_memfd(w))
        }),
        "two started workers never appeared (found {workers:?})"
    );
    // Also every process started from this run (its sockets live in our private TMPDIR).
    let needle = tmp.path().as_os_str().as_bytes().to_vec();
    let mentioning = processes_mentioning(&needle);
    assert!(
        workers.iter().all(|w| mentioning.contains(w)),
        "workers {workers:?} do not mention TMPDIR (found {mentioning:?})"
    );

    sigkill(parent);
    let status = running.child.wait().unwrap();
    assert!(!status.success());

    assert_all_gone(&workers);
    assert!(
        wait_until(deadline(2), || processes_mentioning(&needle).is_empty()),
        "processes of the killed run survive: {:?}",
        processes_mentioning(&needle)
    );
    assert!(
        wait_until(deadline(2), || entries(tmp.path()).is_empty()),
        "left behind in TMPDIR: {:?}",
        entries(tmp.path())
    );
    let new_shm: Vec<_> = dev_shm().difference(&shm_before).cloned().collect();
    assert!(new_shm.is_empty(), "new /dev/shm entries: {new_shm:?}");
}

#[test]
fn a_normal_run_leaves_nothing_behind() {
    let tmp = tempdir();
    let shm_before = dev_shm();
    let done = run(supervisor_run()
        .args([
            "-w",
            "2",
            "--format",
            "json",
            "fault",
            "--tasks",
            "40",
            "--crash-once-on",
            "7",
            "--marker-dir",
        ])
        .arg(tmp.path())
        .env("TMPDIR", tmp.path()));
    done.assert_code(0);
    let doc = done.json();
    assert_all_gone(&summary_pids(&doc));
    let left: Vec<_> = entries(tmp.path())
        .into_iter()
        .filter(|name| name != "7.crashed")
        .collect();
    assert!(left.is_empty(), "left behind in TMPDIR: {left:?}");
    let new_shm: Vec<_> = dev_shm().difference(&shm_before).cloned().collect();
    assert!(new_shm.is_empty(), "new /dev/shm entries: {new_shm:?}");
}

/// The parent SIGKILLed while a worker's handshake is pending: the socket directory the worker
/// created for the parent to connect to must not stay behind either (the worker sees the
/// parent's end of their bootstrap pair hang up, removes it, and exits).
#[test]
fn a_parent_killed_during_a_worker_handshake_leaves_no_socket_behind() {
    for _attempt in 0..10 {
        let tmp = tempdir();
        let mut running = spawn(
            supervisor_run()
                .args(["-w", "1", "fault", "--tasks", "100", "--sleep-ms", "50"])
                .env("TMPDIR", tmp.path()),
        );
        let parent = running.pid();
        // The first child of the parent, caught as early as possible (even before its exec).
        let mut child = None;
        assert!(
            wait_until(deadline(20), || {
                child = children_of(parent).into_iter().next();
                child.is_some()
            }),
            "no worker was ever started"
        );
        // Freeze the parent: it cannot connect to a worker any more, so what is in TMPDIR now
        // is a handshake still pending.
        sigstop(parent);
        let pending = entries(tmp.path());
        sigkill(parent);
        running.child.wait().unwrap();
        let child = child.unwrap();
        assert_all_gone(&[child]);
        let needle = tmp.path().as_os_str().as_bytes().to_vec();
        assert!(
            wait_until(deadline(2), || processes_mentioning(&needle).is_empty()),
            "processes of the killed run survive: {:?}",
            processes_mentioning(&needle)
        );
        let clean = wait_until(deadline(2), || entries(tmp.path()).is_empty());
        assert!(
            clean,
            "left behind in TMPDIR: {:?} (pending when the parent was killed: {pending:?})",
            entries(tmp.path())
        );
        if !pending.is_empty() {
            return;
        }
        // The handshake had already completed: try again to hit the window.
    }
    panic!("never caught the parent during a worker handshake in 10 attempts");
}

/// Every live child of `parent`, whatever it runs.
fn children_of(parent: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&pid| matches!(stat(pid), Some((state, ppid)) if ppid == parent && state != 'Z'))
        .collect()
}
