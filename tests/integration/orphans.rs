//! No orphans, no leaks: whatever ends the parent, its workers die and nothing stays behind.

use crate::support::{
    assert_all_gone, children_of, deadline, dev_shm_entries, maps_memfd, new_dev_shm_entries,
    processes_mentioning, run, sigcont, sigkill, sigstop, spawn, summary_pids, supervisor_run,
    tempdir, wait_until, workers_of,
};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

fn entries(dir: &Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect()
}

#[test]
fn workers_die_with_a_sigkilled_parent_and_nothing_leaks() {
    let tmp = tempdir();
    let shm_before = dev_shm_entries();
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
    let new_shm = new_dev_shm_entries(&shm_before);
    assert!(new_shm.is_empty(), "new /dev/shm entries: {new_shm:?}");
}

#[test]
fn a_normal_run_leaves_nothing_behind() {
    let tmp = tempdir();
    let shm_before = dev_shm_entries();
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
    let new_shm = new_dev_shm_entries(&shm_before);
    assert!(new_shm.is_empty(), "new /dev/shm entries: {new_shm:?}");
}

/// The parent SIGKILLed while a worker's handshake is pending: the socket directory the worker
/// created for the parent to connect to must not stay behind either (the worker sees the
/// parent's end of their bootstrap pair hang up, removes it, and exits).
#[test]
fn a_parent_killed_during_a_worker_handshake_leaves_no_socket_behind() {
    // A fast machine completes a handshake in well under a millisecond, too quick to catch by
    // polling. So the parent is frozen as soon as its handshake thread exists, then let run in
    // slices of a few microseconds (SIGCONT then SIGSTOP at once) until the worker has made its
    // socket: the frozen parent has sent its bootstrap but cannot connect, so the handshake is
    // pending. A handshake that completed within one slice is another attempt.
    for _attempt in 0..20 {
        let tmp = tempdir();
        let mut running = spawn(
            supervisor_run()
                .args(["-w", "1", "fault", "--tasks", "100", "--sleep-ms", "50"])
                .env("TMPDIR", tmp.path()),
        );
        let parent = running.pid();
        let give_up = deadline(20);
        while !handshaking(parent) {
            assert!(Instant::now() < give_up, "no worker handshake ever began");
            std::thread::yield_now();
        }
        sigstop(parent);
        let mut pending = false;
        for _slice in 0..200 {
            let worker_done = Instant::now() + Duration::from_millis(5);
            if wait_until(worker_done, || !entries(tmp.path()).is_empty()) {
                pending = true;
                break;
            }
            if !handshaking(parent) {
                break;
            }
            sigcont(parent);
            sigstop(parent);
        }
        let pending_entries = entries(tmp.path());
        let workers = children_of(parent);
        sigkill(parent);
        running.child.wait().unwrap();
        assert_all_gone(&workers);
        let needle = tmp.path().as_os_str().as_bytes().to_vec();
        assert!(
            wait_until(deadline(2), || processes_mentioning(&needle).is_empty()),
            "processes of the killed run survive: {:?}",
            processes_mentioning(&needle)
        );
        let clean = wait_until(deadline(2), || entries(tmp.path()).is_empty());
        assert!(
            clean,
            "left behind in TMPDIR: {:?} (pending when the parent was killed: {pending_entries:?})",
            entries(tmp.path())
        );
        if pending {
            return;
        }
    }
    panic!("never caught the parent during a worker handshake in 20 attempts");
}

/// Whether one of `parent`'s threads is a worker's handshake (named `worker-<pid>-handshake`,
/// which the kernel cuts to 15 bytes).
fn handshaking(parent: i32) -> bool {
    let Ok(threads) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
        return false;
    };
    threads.filter_map(Result::ok).any(|thread| {
        std::fs::read(thread.path().join("comm")).is_ok_and(|comm| comm.starts_with(b"worker-"))
    })
}
