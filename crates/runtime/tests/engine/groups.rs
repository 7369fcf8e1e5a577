//! Jobs that run several tasks at once ([`Job::run_group`]): order, and a panic, a crash or a
//! hang inside a group charged to its own task only.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use supervisor_runtime::{Config, EventLog, Failure, Job, Notice, Observer, Outcome, Supervisor};

use crate::limits::assert_workers_gone;

/// What a [`Grouped`] task does.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub enum Step {
    /// Returns n².
    Square(u64),
    /// Panics.
    Panic,
    /// Aborts the worker process (SIGABRT).
    Abort,
    /// Never returns; SIGTERM ends it.
    Hang,
}

/// Runs tasks in groups of up to [`Grouped::GROUP`]; each output says the size of the group
/// it ran in, so the tests can tell grouped runs from lone ones.
pub struct Grouped;

impl Grouped {
    fn step(step: Step) -> u64 {
        match step {
            Step::Square(n) => n * n,
            Step::Panic => panic!("step panicked"),
            Step::Abort => std::process::abort(),
            Step::Hang => loop {
                std::thread::park();
            },
        }
    }
}

impl Job for Grouped {
    const NAME: &'static str = "grouped";
    const GROUP: usize = 8;
    type Setup = ();
    type Task = Step;
    type Output = (u64, usize);

    fn start((): ()) -> Result<Self, String> {
        Ok(Grouped)
    }

    fn run(&mut self, step: Step) -> (u64, usize) {
        (Self::step(step), 1)
    }

    fn run_group(&mut self, steps: &[Step], at: &mut dyn FnMut(usize)) -> Vec<(u64, usize)> {
        steps
            .iter()
            .enumerate()
            .map(|(i, &step)| {
                at(i);
                (Self::step(step), steps.len())
            })
            .collect()
    }
}

/// How long [`Renaming`] works on a group after naming its first task, before it names them
/// all in order.
const OPENING: Duration = Duration::from_millis(3);

/// Names the first task of a group, works for [`OPENING`], then names every task in order, the
/// first one again: what the md5 job does (a group's directories are opened for its first
/// file, which is named again when it is read, after the others were opened). Each output is
/// the task's place in its group and the group's size.
pub struct Renaming;

impl Job for Renaming {
    const NAME: &'static str = "renaming";
    const GROUP: usize = 4;
    type Setup = ();
    type Task = u64;
    type Output = (usize, usize);

    fn start((): ()) -> Result<Self, String> {
        Ok(Renaming)
    }

    fn run(&mut self, _: u64) -> (usize, usize) {
        (0, 1)
    }

    fn run_group(&mut self, tasks: &[u64], at: &mut dyn FnMut(usize)) -> Vec<(usize, usize)> {
        at(0);
        let opened = Instant::now();
        while opened.elapsed() < OPENING {
            std::hint::spin_loop();
        }
        (0..tasks.len())
            .map(|i| {
                at(i);
                (i, tasks.len())
            })
            .collect()
    }
}

pub const TESTS: &[(&str, fn())] = &[
    (
        "a_task_named_twice_in_a_group_is_timed_from_its_first_naming",
        a_task_named_twice_in_a_group_is_timed_from_its_first_naming,
    ),
    (
        "grouped_tasks_come_back_in_order",
        grouped_tasks_come_back_in_order,
    ),
    (
        "a_panic_in_a_group_fails_only_its_task",
        a_panic_in_a_group_fails_only_its_task,
    ),
    (
        "a_crash_in_a_group_is_charged_to_its_task_only",
        a_crash_in_a_group_is_charged_to_its_task_only,
    ),
    (
        "a_hang_in_a_group_times_out_its_task_only",
        a_hang_in_a_group_times_out_its_task_only,
    ),
];

struct Quiet;

impl<T, O> Observer<T, O> for Quiet {
    fn outcome(&mut self, _: usize, _: &T, _: &Outcome<O>) {}
    fn notice(&mut self, _: &Notice<'_>) {}
}

/// `Square(i)` everywhere but at `at`.
fn steps(n: u64, at: u64, special: Step) -> Vec<Step> {
    (0..n)
        .map(|i| if i == at { special } else { Step::Square(i) })
        .collect()
}

fn run(config: Config, steps: &[Step]) -> supervisor_runtime::Report<Step, (u64, usize)> {
    Supervisor::<Grouped>::new(config, ())
        .run(steps.to_vec(), &mut Quiet)
        .unwrap()
}

/// Every task but `except` gave i² on its first attempt; returns the largest group seen.
fn assert_squares(report: &supervisor_runtime::Report<Step, (u64, usize)>, except: u64) -> usize {
    let mut largest = 0;
    for (i, outcome) in report.outcomes.iter().enumerate() {
        if i as u64 == except {
            continue;
        }
        let outcome = outcome.as_ref().expect("every task has an outcome");
        let (value, group) = outcome.result.clone().expect("an innocent task succeeded");
        assert_eq!(value, (i * i) as u64, "task {i}");
        assert_eq!(outcome.attempts, 1, "task {i}");
        largest = largest.max(group);
    }
    largest
}

fn grouped_tasks_come_back_in_order() {
    let steps = steps(300, u64::MAX, Step::Panic);
    let report = run(Config::new(2), &steps);
    let largest = assert_squares(&report, u64::MAX);
    assert_eq!(largest, Grouped::GROUP, "tasks really ran in groups");
    assert_eq!(report.summary.completed, 300);
    assert_workers_gone(&report.summary);
}

fn a_panic_in_a_group_fails_only_its_task() {
    let steps = steps(300, 123, Step::Panic);
    let report = run(Config::new(2), &steps);
    assert_squares(&report, 123);
    let failed = report.outcomes[123].as_ref().unwrap();
    assert_eq!(
        failed.result,
        Err(Failure::Panicked("step panicked".into()))
    );
    assert_eq!(report.summary.failed, 1);
    assert_eq!(report.summary.worker_crashes, 0);
    assert_workers_gone(&report.summary);
}

fn a_crash_in_a_group_is_charged_to_its_task_only() {
    let mut config = Config::new(2);
    // No retries: a task charged for its neighbour's crash would fail.
    config.retries = 0;
    let steps = steps(300, 77, Step::Abort);
    let report = run(config, &steps);
    assert_squares(&report, 77);
    let failed = report.outcomes[77].as_ref().unwrap();
    let failure = failed.result.as_ref().unwrap_err();
    assert!(matches!(failure, Failure::Crashed { .. }), "{failure:?}");
    assert!(failure.to_string().contains("SIGABRT"), "{failure}");
    assert_eq!(report.summary.worker_crashes, 1);
    assert_workers_gone(&report.summary);
}

fn a_hang_in_a_group_times_out_its_task_only() {
    let mut config = Config::new(2);
    config.retries = 0;
    config.task_timeout = Some(Duration::from_millis(500));
    config.kill_grace = Duration::from_secs(2);
    let steps = steps(200, 150, Step::Hang);
    let report = run(config, &steps);
    assert_squares(&report, 150);
    let failed = report.outcomes[150].as_ref().unwrap();
    assert_eq!(
        failed.result,
        Err(Failure::TimedOut {
            after: Duration::from_millis(500)
        })
    );
    assert_eq!(report.summary.timeouts, 1);
    assert_workers_gone(&report.summary);
}

/// The event log's span of a group's first task starts where the job first named it, so the
/// group's opening is charged to that task: the next task starts at least [`OPENING`] later.
/// (Timed from the last naming instead, the first task began just before the second.)
fn a_task_named_twice_in_a_group_is_timed_from_its_first_naming() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let log = EventLog::create(&path).unwrap();
    let mut config = Config::new(1);
    config.events = Some(log.clone());
    let tasks: Vec<u64> = (0..40).collect();
    let report = Supervisor::<Renaming>::new(config, ())
        .run(tasks, &mut Quiet)
        .unwrap();
    log.finish().unwrap();
    assert_workers_gone(&report.summary);

    let mut start = vec![None; 40];
    for line in std::fs::read_to_string(&path).unwrap().lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        if event["ev"] == "task" {
            let id = event["id"].as_u64().unwrap() as usize;
            start[id] = Some(event["start"].as_u64().unwrap());
        }
    }
    let mut groups = 0;
    for (id, outcome) in report.outcomes.iter().enumerate() {
        let (place, size) = outcome.as_ref().unwrap().result.clone().unwrap();
        if place == 0 && size > 1 {
            groups += 1;
            let (first, second) = (start[id].unwrap(), start[id + 1].unwrap());
            assert!(
                second >= first + OPENING.as_micros() as u64,
                "task {id} starts at {first} µs, the next task of its group at {second} µs"
            );
        }
    }
    assert!(groups > 0, "some tasks ran in groups");
}
