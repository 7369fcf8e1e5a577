//! [`Job::rerun`]: a task whose worker died is run again through it, told how many earlier
//! attempts' workers died, so a job can leave a fast path that crashed for a safe one.

use supervisor_runtime::{Config, Job, Supervisor};

use crate::limits::assert_workers_gone;

/// Its first attempt always kills its worker: a fast path that this input crashes.
fn crashes_first(n: u64) -> bool {
    n % 100 == 7
}

/// Also kills the worker of its first rerun: the third attempt is its last allowed one.
const CRASHES_TWICE: u64 = 407;

/// Returns each task with the deaths its rerun was told of (0: it ran through `run`).
pub struct Rerunning;

impl Job for Rerunning {
    const NAME: &'static str = "rerunning";
    type Setup = ();
    type Task = u64;
    type Output = (u64, u32);

    fn start((): ()) -> Result<Self, String> {
        Ok(Rerunning)
    }

    fn run(&mut self, n: u64) -> (u64, u32) {
        if crashes_first(n) {
            std::process::abort();
        }
        (n, 0)
    }

    fn rerun(&mut self, n: u64, deaths: u32) -> (u64, u32) {
        if n == CRASHES_TWICE && deaths == 1 {
            std::process::abort();
        }
        (n, deaths)
    }
}

fn a_task_whose_worker_died_is_rerun_and_told_how_many_died() {
    let tasks: Vec<u64> = (0..500).collect();
    let report = Supervisor::<Rerunning>::new(Config::new(2), ())
        .run(tasks, &mut crate::service::Quiet)
        .unwrap();
    assert_workers_gone(&report.summary);
    for (n, outcome) in report.outcomes.iter().enumerate() {
        let n = n as u64;
        let outcome = outcome.as_ref().expect("an outcome");
        let deaths = match n {
            CRASHES_TWICE => 2,
            _ if crashes_first(n) => 1,
            _ => 0,
        };
        assert_eq!(outcome.result.as_ref().unwrap(), &(n, deaths), "task {n}");
        assert_eq!(outcome.attempts, deaths + 1, "task {n}");
    }
    // Tasks 7, 107, 207, 307 and 407 once each, and 407 again.
    assert_eq!(report.summary.worker_crashes, 6);
    assert_eq!(report.summary.retried, 6);
    assert_eq!(report.summary.failed, 0);
}

pub const TESTS: &[(&str, fn())] = &[(
    "a_task_whose_worker_died_is_rerun_and_told_how_many_died",
    a_task_whose_worker_died_is_rerun_and_told_how_many_died,
)];
