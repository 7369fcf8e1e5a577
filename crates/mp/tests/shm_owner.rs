//! `SharedMemory` owned by a process that is SIGKILLed: the top-level process's tracker
//! (`supervisor_mp::shm_sweep`) unlinks the segment. This test binary is also the worker
//! executable, so its `main` calls `supervisor_mp::init()` first.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use supervisor_mp::{Process, SharedMemory, shm_sweep, task};

const TIMEOUT: Duration = Duration::from_secs(30);

task!(
    /// Creates a segment, writes `data` into it, reports its name in the file `path`, and
    /// hangs while still owning it.
    fn create_and_hang(arg: (String, Vec<u8>)) -> () {
        let (path, data) = arg;
        let mut shm = SharedMemory::create(data.len()).expect("create");
        shm.write_at(0, &data).expect("write");
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, shm.name()).expect("write name");
        std::fs::rename(&tmp, &path).expect("publish name");
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
);

task!(
    /// Creates a segment and drops it normally; returns its name.
    fn create_and_drop(size: usize) -> String {
        let shm = SharedMemory::create(size).expect("create");
        assert!(shm.is_owner());
        shm.name().to_string()
    }
);

fn shm_path(name: &str) -> PathBuf {
    Path::new("/dev/shm").join(name.trim_start_matches('/'))
}

fn tracker_dir() -> PathBuf {
    std::env::temp_dir().join(format!("supervisor-mp-shm-{}", std::process::id()))
}

/// Polls `done` until it holds, failing after `TIMEOUT`.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn killed_owner_segment_is_swept() {
    let report = std::env::temp_dir().join(format!("shm-owner-test-{}", std::process::id()));
    let _ = std::fs::remove_file(&report);
    let data = b"owned by a process about to die".to_vec();
    let p = Process::<()>::spawn(
        create_and_hang,
        (report.to_string_lossy().into_owned(), data.clone()),
    )
    .expect("spawn");
    wait_until("the child's segment name", || report.exists());
    let name = std::fs::read_to_string(&report).expect("read name");
    let _ = std::fs::remove_file(&report);
    let child = p.pid().expect("child pid");
    // The child's ownership is recorded in the tracker directory.
    let marker = tracker_dir().join(name.trim_start_matches('/'));
    assert!(marker.exists(), "no tracker marker {}", marker.display());
    // The owner is alive: a sweep leaves its segment alone.
    shm_sweep();
    assert!(
        shm_path(&name).exists(),
        "segment of a live owner was swept"
    );

    p.kill();
    assert!(p.join().is_err(), "a killed child cannot succeed");
    wait_until("the child to be reaped", || {
        !Path::new(&format!("/proc/{child}")).exists()
    });
    // The segment outlives its killed owner: still readable.
    {
        let shm = SharedMemory::open(&name).expect("open after the owner died");
        assert!(!shm.is_owner());
        let mut buf = vec![0u8; data.len()];
        shm.read_at(0, &mut buf).expect("read");
        assert_eq!(buf, data);
        assert!(shm_path(&name).exists());
    }
    wait_until("the sweep to unlink the segment", || {
        shm_sweep();
        !shm_path(&name).exists()
    });
    assert!(!marker.exists(), "marker left: {}", marker.display());
    assert!(
        SharedMemory::open(&name).is_err(),
        "opened an unlinked name"
    );
    assert!(!tracker_dir().exists(), "tracker directory left");
}

fn owner_drop_removes_immediately() {
    // In a child.
    let p = Process::<String>::spawn(create_and_drop, 64).expect("spawn");
    let name = p.join().expect("child result");
    assert!(!shm_path(&name).exists(), "dropped segment still exists");
    assert!(!tracker_dir().join(&name).exists(), "marker left by a drop");
    // In this process.
    let shm = SharedMemory::create(16).expect("create");
    let name = shm.name().to_string();
    assert!(shm_path(&name).exists());
    assert!(tracker_dir().join(&name).exists(), "creation not recorded");
    drop(shm);
    assert!(!shm_path(&name).exists(), "dropped segment still exists");
    assert!(!tracker_dir().exists(), "tracker directory left");
    // `unlink` forgets the marker too.
    let mut shm = SharedMemory::create(16).expect("create");
    let name = shm.name().to_string();
    shm.unlink().expect("unlink");
    assert!(!shm_path(&name).exists());
    assert!(!tracker_dir().join(&name).exists(), "marker left by unlink");
    drop(shm);
    assert!(!tracker_dir().exists(), "tracker directory left");
}

mod common;

fn main() -> std::process::ExitCode {
    supervisor_mp::init();
    let tests: &[(&str, fn())] = &[
        (
            "killed_owner_segment_is_swept",
            killed_owner_segment_is_swept,
        ),
        (
            "owner_drop_removes_immediately",
            owner_drop_removes_immediately,
        ),
    ];
    common::run_tests(tests)
}
