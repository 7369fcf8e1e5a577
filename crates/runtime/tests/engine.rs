//! The engine through its public API, with real worker processes: this test binary is also
//! the worker executable (its `main` routes worker mode first, as any user's binary must).

use serde::{Deserialize, Serialize};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use supervisor_runtime::handshake::Rendezvous;
use supervisor_runtime::worker::{Registry, run_if_worker};
use supervisor_runtime::{Config, Job, Notice, Observer, Outcome, Supervisor};

#[path = "engine/groups.rs"]
mod groups;
#[path = "engine/limits.rs"]
mod limits;

/// Squares numbers; the test job.
struct Square;

#[derive(Serialize, Deserialize)]
struct Offset(u64);

impl Job for Square {
    const NAME: &'static str = "square";
    type Setup = Offset;
    type Task = u64;
    type Output = u64;

    fn start(setup: Offset) -> Result<Self, String> {
        if setup.0 == u64::MAX {
            return Err("refusing this setup".into());
        }
        Ok(Square)
    }

    fn run(&mut self, n: u64) -> u64 {
        n * n
    }
}

fn intrusion_marker(parent: u32) -> PathBuf {
    std::env::temp_dir().join(format!("supervisor-engine-intrude-{parent}"))
}

/// In worker mode, when the test asked for it once: connect to our own parent's handshake
/// first with a wrong token, as a local attacker racing the real worker would.
fn maybe_intrude() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some(supervisor_runtime::WORKER_ARG) {
        return;
    }
    let marker = intrusion_marker(nix::unistd::getppid().as_raw() as u32);
    let claimed = marker.with_extension("claimed");
    if std::fs::rename(&marker, &claimed).is_ok() {
        let _ = std::fs::remove_file(&claimed);
        if let Some(server) = args.next() {
            let _ = supervisor_runtime::handshake::connect(&server, "0000-not-the-token");
        }
    }
}

fn main() -> std::process::ExitCode {
    maybe_intrude();
    let registry = Registry::new()
        .register::<Square>()
        .register::<limits::Misbehave>()
        .register::<groups::Grouped>();
    if let Some(code) = run_if_worker(&registry) {
        return code;
    }
    let basics: &[(&str, fn())] = &[
        (
            "results_come_back_in_task_order",
            results_come_back_in_task_order,
        ),
        (
            "an_intruder_is_rejected_without_disturbing_the_run",
            an_intruder_is_rejected_without_disturbing_the_run,
        ),
        (
            "a_job_that_cannot_start_stops_the_run",
            a_job_that_cannot_start_stops_the_run,
        ),
        (
            "a_missing_worker_binary_stops_the_run",
            a_missing_worker_binary_stops_the_run,
        ),
    ];
    // Last: it changes the process umask.
    let last: &[(&str, fn())] = &[(
        "handshake_dir_is_private_under_umask_000",
        handshake_dir_is_private_under_umask_000,
    )];
    let tests = basics
        .iter()
        .chain(limits::TESTS)
        .chain(groups::TESTS)
        .chain(last);
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (mut passed, mut failed) = (0, 0);
    let (started, started_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || fail_a_hung_test(started_rx));
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let _ = started.send(*name);
        match std::panic::catch_unwind(test) {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" }
    );
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// The longest any one test may take; each finishes in seconds.
const PER_TEST: Duration = Duration::from_secs(120);

/// Ends the whole run, naming the test, if one test runs past [`PER_TEST`]: a bug that
/// hangs a supervisor fails CI at once instead of holding it until its own time limit. The
/// workers go with this process (they die with their parent).
fn fail_a_hung_test(started: std::sync::mpsc::Receiver<&'static str>) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut current = None;
    loop {
        match started.recv_timeout(PER_TEST) {
            Ok(name) => current = Some(name),
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                if let Some(name) = current {
                    println!("test {name} ... FAILED: still running after {PER_TEST:?}");
                    println!("\ntest result: FAILED. a test hung");
                    std::process::exit(1);
                }
            }
        }
    }
}

#[derive(Default)]
struct Recorder {
    outcomes: Vec<(usize, u64)>,
    notices: Vec<String>,
}

impl Observer<u64, u64> for Recorder {
    fn outcome(&mut self, index: usize, _task: &u64, outcome: &Outcome<u64>) {
        self.outcomes.push((
            index,
            *outcome.result.as_ref().expect("no failures expected"),
        ));
    }

    fn notice(&mut self, notice: &Notice<'_>) {
        self.notices.push(format!("{notice:?}"));
    }
}

fn results_come_back_in_task_order() {
    let tasks: Vec<u64> = (0..5000).collect();
    let mut recorder = Recorder::default();
    let report = Supervisor::<Square>::new(Config::new(2), Offset(0))
        .run(tasks, &mut recorder)
        .unwrap();
    assert_eq!(report.outcomes.len(), 5000);
    for (i, outcome) in report.outcomes.iter().enumerate() {
        let outcome = outcome.as_ref().expect("every task has an outcome");
        assert_eq!(outcome.result.as_ref().unwrap(), &((i * i) as u64));
        assert_eq!(outcome.attempts, 1);
    }
    assert_eq!(
        recorder.outcomes.len(),
        5000,
        "each outcome is observed once"
    );
    assert_eq!(report.summary.workers_spawned, 2);
    assert_eq!(report.summary.worker_crashes, 0);
    assert_eq!(
        report.summary.slots.iter().map(|s| s.tasks).sum::<u64>(),
        5000
    );
}

fn an_intruder_is_rejected_without_disturbing_the_run() {
    let marker = intrusion_marker(std::process::id());
    std::fs::write(&marker, b"").unwrap();
    let mut recorder = Recorder::default();
    let report = Supervisor::<Square>::new(Config::new(1), Offset(0))
        .run((0..100).collect(), &mut recorder)
        .unwrap();
    assert!(!marker.exists(), "the first worker must have intruded");
    assert!(
        recorder.notices.iter().any(|n| n.contains("wrong token")),
        "the intrusion is reported: {:?}",
        recorder.notices
    );
    assert_eq!(report.summary.gave_up, None);
    assert_eq!(report.summary.completed, 100);
    assert_eq!(
        report.summary.slots[0].pids.len(),
        2,
        "the intruded worker was replaced"
    );
}

fn a_job_that_cannot_start_stops_the_run() {
    let mut config = Config::new(1);
    config.max_restarts = 2;
    let report = Supervisor::<Square>::new(config, Offset(u64::MAX))
        .run((0..10).collect(), &mut Recorder::default())
        .unwrap();
    let reason = report.summary.gave_up.expect("must give up");
    assert!(reason.contains("worker restarts"), "{reason}");
    assert_eq!(report.summary.not_run, 10);
}

fn a_missing_worker_binary_stops_the_run() {
    let mut config = Config::new(2);
    config.max_restarts = 3;
    config.worker_exe = PathBuf::from("/nonexistent/supervisor-worker");
    let mut recorder = Recorder::default();
    let report = Supervisor::<Square>::new(config, Offset(0))
        .run((0..10).collect(), &mut recorder)
        .unwrap();
    let reason = report.summary.gave_up.expect("must give up");
    assert!(
        reason.contains("/nonexistent/supervisor-worker"),
        "{reason}"
    );
    assert!(recorder.notices.iter().any(|n| n.contains("SpawnFailed")));
}

fn handshake_dir_is_private_under_umask_000() {
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let rendezvous = Rendezvous::new().unwrap();
    let dir = Path::new(rendezvous.name()).parent().unwrap();
    let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{} has mode {mode:o}", dir.display());
    // And a whole run still works under that umask.
    let report = Supervisor::<Square>::new(Config::new(2), Offset(0))
        .run((0..50).collect(), &mut Recorder::default())
        .unwrap();
    assert_eq!(report.summary.completed, 50);
}
