//! No orphans, no leaks, whatever ends the run: a normal end, Ctrl-C, a panic in the
//! supervisor, SIGKILL of the supervisor. Afterwards no worker survives, the run's private
//! TMPDIR is empty, /dev/shm has nothing new, and no process mentions the run. And a
//! supervisor that starts a thousand workers one after another holds no more descriptors at
//! the end than near the start.

use crate::support::{
    ChildWatch, PsView, Running, deadline, dev_shm_entries, dir_entries, fd_count,
    new_dev_shm_entries, processes_mentioning, ps_view, spawn, supervisor_run, tempdir,
    wait_for_ps, wait_until,
};
use nix::sys::signal::Signal;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Ending {
    Normal,
    Sigint,
    ParentPanic,
    Sigkill,
}

/// Runs the fault job with its own TMPDIR, ends it the way `ending` says, and checks that
/// nothing of it remains.
fn ends_without_leaks(ending: Ending) {
    let tmp = tempdir();
    let shm_before = dev_shm_entries();
    let job: &[&str] = match ending {
        Ending::Normal => &["--tasks", "60", "--sleep-ms", "5"],
        Ending::Sigint | Ending::Sigkill => &["--tasks", "400", "--sleep-ms", "20"],
        Ending::ParentPanic => &[
            "--tasks",
            "200",
            "--sleep-ms",
            "5",
            "--parent-panic-after",
            "20",
        ],
    };
    let running: Running = spawn(
        supervisor_run()
            .args(["-w", "2", "--format", "json", "fault"])
            .args(job)
            .env("TMPDIR", tmp.path()),
    );
    let parent = running.pid();
    let watch = ChildWatch::start(parent);
    if matches!(ending, Ending::Sigint | Ending::Sigkill) {
        let (ok, view) = wait_for_ps(parent, 20, |v| v.done >= 5);
        assert!(ok, "the run never got going: {view:?}");
        let signal = match ending {
            Ending::Sigint => Signal::SIGINT,
            _ => Signal::SIGKILL,
        };
        crate::support::send(parent, signal);
    }
    let done = running.finish();
    match ending {
        Ending::Normal => {
            done.assert_code(0);
        }
        Ending::Sigint => {
            done.assert_code(130);
        }
        Ending::ParentPanic => {
            done.assert_code(3);
            assert!(
                done.stderr.contains("deliberate panic in the supervisor"),
                "stderr:\n{}",
                done.stderr
            );
        }
        Ending::Sigkill => assert_eq!(done.code, None, "{done:?}"),
    }
    let workers = watch.seen();
    assert!(!workers.is_empty(), "{ending:?}: no worker was ever seen");
    crate::support::assert_all_gone(&workers);
    let needle = tmp.path().as_os_str().as_bytes().to_vec();
    assert!(
        wait_until(deadline(2), || processes_mentioning(&needle).is_empty()),
        "{ending:?}: processes of the run survive: {:?}",
        processes_mentioning(&needle)
    );
    assert!(
        wait_until(deadline(2), || dir_entries(tmp.path()).is_empty()),
        "{ending:?}: left behind in TMPDIR: {:?}",
        dir_entries(tmp.path())
    );
    let new_shm = new_dev_shm_entries(&shm_before);
    assert!(
        new_shm.is_empty(),
        "{ending:?}: new /dev/shm entries: {new_shm:?}"
    );
}

#[test]
fn a_normal_end_leaves_nothing() {
    ends_without_leaks(Ending::Normal);
}

#[test]
fn sigint_leaves_nothing() {
    ends_without_leaks(Ending::Sigint);
}

#[test]
fn a_panic_in_the_supervisor_exits_3_and_leaves_nothing() {
    ends_without_leaks(Ending::ParentPanic);
}

#[test]
fn sigkill_of_the_supervisor_leaves_nothing() {
    ends_without_leaks(Ending::Sigkill);
}

/// 1000 workers one after another (`--max-tasks-per-child 1`): the supervisor's open
/// descriptors near the start and near the end are the same within a small slack.
///
/// The count moves while a worker is being started or reaped (its handshake socket, stderr
/// pipe and channel exist only for a while), so each phase is sampled many times and the
/// minimum, the steady state with no worker in transition, is compared. A leak of even one
/// descriptor per worker would show as hundreds.
#[test]
fn descriptors_stay_flat_over_a_thousand_respawns() {
    let running = spawn(supervisor_run().args([
        "-w",
        "2",
        "--max-tasks-per-child",
        "1",
        "--format",
        "json",
        "fault",
        "--tasks",
        "1000",
    ]));
    let parent = running.pid();
    let mut early = Vec::new();
    let mut late = Vec::new();
    let end = deadline(60);
    // Each descriptor sample is taken between two `ps` views and counts for a phase only if
    // both views agree: early = at least 10 workers spawned and at most 300 results; late =
    // at least 900 results and not all 1000 yet (when the run ends, its last workers go and
    // the count drops, which is not the steady state either).
    let mut before: Option<PsView> = None;
    while std::time::Instant::now() < end && !crate::support::is_gone(parent) {
        let Some(fds) = fd_count(parent) else { break };
        let after = ps_view(parent);
        if let (Some(b), Some(a)) = (&before, &after) {
            if b.spawned >= 10 && a.done <= 300 {
                early.push(fds);
            } else if b.done >= 900 && a.done < a.total {
                late.push(fds);
            }
        }
        if after.is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        before = after;
    }
    let done = running.finish();
    done.assert_code(0);
    let doc = done.json();
    let spawned = doc["summary"]["workers_spawned"].as_u64().unwrap();
    assert!(spawned >= 1000, "{}", doc["summary"]);
    assert_eq!(doc["summary"]["ok"], 1000);
    assert!(
        !early.is_empty() && !late.is_empty(),
        "too few samples: early {early:?}, late {late:?}"
    );
    let (early_min, late_min) = (*early.iter().min().unwrap(), *late.iter().min().unwrap());
    assert!(
        late_min.abs_diff(early_min) <= 4,
        "descriptors: {early_min} early, {late_min} late (samples: early {early:?}, late {late:?})"
    );
    eprintln!(
        "fds: early min {early_min} max {:?} ({} samples), late min {late_min} max {:?} ({} samples)",
        early.iter().max(),
        early.len(),
        late.iter().max(),
        late.len()
    );
}

/// With TMPDIR unset, a worker makes its handshake socket in a memory-backed directory
/// (`$XDG_RUNTIME_DIR` here), but not in one whose socket path would be too long for a Unix
/// socket address (108 bytes): `bind` would silently cut the path short and create the socket
/// somewhere else, where nobody removes it. The workers start from the default temporary
/// directory instead, and nothing is left beside or in the directory given.
#[test]
fn workers_start_when_the_memory_backed_directory_cannot_hold_a_socket() {
    let tmp = tempdir();
    let runtime_dir = tmp.path().join("r".repeat(120));
    std::fs::create_dir(&runtime_dir).unwrap();
    let done = crate::support::run(
        supervisor_run()
            .args(["-w", "2", "--format", "json", "fault", "--tasks", "20"])
            .env_remove("TMPDIR")
            .env("XDG_RUNTIME_DIR", &runtime_dir),
    );
    done.assert_code(0);
    let doc = done.json();
    assert_eq!(doc["summary"]["ok"], 20, "{}", doc["summary"]);
    assert!(doc["summary"]["workers_spawned"].as_u64().unwrap() >= 2);
    assert_eq!(dir_entries(&runtime_dir), Vec::<std::ffi::OsString>::new());
    assert_eq!(
        dir_entries(tmp.path()),
        vec![runtime_dir.file_name().unwrap().to_os_string()]
    );
}

/// A `TMPDIR` too long for a Unix socket's address: the workers' handshake sockets go to
/// `/tmp` instead (ipc-channel would cut the path short, make every worker's socket at the same
/// wrong place, leave it there, and the second worker could not start); nothing is left beside
/// the directory either.
#[test]
fn workers_start_with_a_tmpdir_too_long_for_a_socket() {
    let tmp = tempdir();
    let long = tmp.path().join("t".repeat(120));
    std::fs::create_dir(&long).unwrap();
    let done = crate::support::run(
        supervisor_run()
            .args(["-w", "2", "--format", "json", "fault", "--tasks", "20"])
            // Tasks of 20 ms, so work is left when the crash comes and a replacement must
            // start (with instant tasks the other worker could finish them all first, and the
            // run end before the replacement was spawned).
            .args(["--sleep-ms", "20"])
            .args(["--crash-once-on", "3", "--marker-dir"])
            .arg(&long)
            .env("TMPDIR", &long),
    );
    done.assert_code(0);
    let doc = done.json();
    assert_eq!(doc["summary"]["ok"], 20, "{}", doc["summary"]);
    assert!(
        doc["summary"]["workers_spawned"].as_u64().unwrap() >= 3,
        "a crash and its replacement: {}",
        doc["summary"]
    );
    let left: Vec<_> = dir_entries(&long)
        .into_iter()
        .filter(|name| name != "3.crashed")
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(
        dir_entries(tmp.path()),
        vec![long.file_name().unwrap().to_os_string()]
    );
}
