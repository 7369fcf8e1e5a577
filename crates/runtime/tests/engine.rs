//! The engine through its public API, with real worker processes: this test binary is also
//! the worker executable (its `main` routes worker mode first, as any user's binary must).

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use supervisor_runtime::worker::{Registry, run_if_worker};
use supervisor_runtime::{Config, Job, Notice, Observer, Outcome, Supervisor, TaskList};

#[path = "engine/groups.rs"]
mod groups;
#[path = "harness/mod.rs"]
mod harness;
#[path = "engine/images.rs"]
mod images;
#[path = "engine/limits.rs"]
mod limits;
#[path = "engine/reruns.rs"]
mod reruns;
#[path = "engine/service.rs"]
mod service;

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

fn main() -> std::process::ExitCode {
    service::delay_boot_if_asked();
    let registry = Registry::new()
        .register::<Square>()
        .register::<limits::Misbehave>()
        .register::<groups::Grouped>()
        .register::<groups::Renaming>()
        .register::<service::Service>()
        .register::<images::FromImage>()
        .register::<reruns::Rerunning>();
    if let Some(code) = run_if_worker(&registry) {
        return code;
    }
    let basics: &[(&str, fn())] = &[
        (
            "results_come_back_in_task_order",
            results_come_back_in_task_order,
        ),
        (
            "a_task_list_is_asked_for_its_tasks_and_nothing_is_kept",
            a_task_list_is_asked_for_its_tasks_and_nothing_is_kept,
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
        "workers_start_under_umask_000_and_see_it",
        workers_start_under_umask_000_and_see_it,
    )];
    let tests = basics
        .iter()
        .chain(limits::TESTS)
        .chain(groups::TESTS)
        .chain(service::TESTS)
        .chain(images::TESTS)
        .chain(reruns::TESTS)
        .chain(last)
        .copied()
        .collect::<Vec<_>>();
    harness::run(harness::plain(&tests), None)
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

/// Tasks computed on request (task `i` is `3 i`), counting the requests.
struct Thrice {
    len: usize,
    asked: AtomicUsize,
}

impl TaskList<u64> for Thrice {
    fn len(&self) -> usize {
        self.len
    }

    fn task(&self, index: usize) -> Cow<'_, u64> {
        assert!(index < self.len, "asked for task {index} of {}", self.len);
        self.asked.fetch_add(1, Ordering::Relaxed);
        Cow::Owned(3 * index as u64)
    }
}

fn a_task_list_is_asked_for_its_tasks_and_nothing_is_kept() {
    let list = Arc::new(Thrice {
        len: 5000,
        asked: AtomicUsize::new(0),
    });
    let mut seen = vec![0u32; 5000];
    let mut observer = |index: usize, task: &u64, outcome: &Outcome<u64>| {
        assert_eq!(*task, 3 * index as u64, "the observer gets task {index}");
        assert_eq!(outcome.result.as_ref().unwrap(), &(task * task));
        seen[index] += 1;
    };
    let summary = Supervisor::<Square>::new(Config::new(2), Offset(0))
        .run_list(Arc::clone(&list), &mut observer)
        .unwrap();
    assert!(
        seen.iter().all(|&n| n == 1),
        "each outcome is observed once"
    );
    assert_eq!(summary.completed, 5000);
    assert_eq!(summary.worker_crashes, 0);
    // Costed once, sent once, observed once: the engine asks, it holds nothing.
    assert_eq!(list.asked.load(Ordering::Relaxed), 3 * 5000);
    assert_eq!(Arc::strong_count(&list), 1, "the engine let go of the list");
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

/// Under the loosest umask a user can have, workers still start (the parent refuses to
/// connect to a handshake socket whose directory is not private, so every start proves the
/// worker created it private), and the worker's own code sees the umask it inherited, not the
/// one the bootstrap used for a moment.
fn workers_start_under_umask_000_and_see_it() {
    use service::{Service, Work};
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let report = Supervisor::<Service>::new(Config::new(2), service::setup())
        .run(vec![Work::Umask; 20], &mut service::Quiet)
        .unwrap();
    nix::sys::stat::umask(old);
    assert_eq!(report.summary.completed, 20, "{:?}", report.summary);
    for outcome in &report.outcomes {
        assert_eq!(
            outcome.as_ref().unwrap().result,
            Ok(0),
            "the worker's umask"
        );
    }
}
