//! Task timeouts, heartbeats, recycling and memory limits, with a job whose tasks hang, ignore
//! SIGTERM or allocate without bound on chosen inputs.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use supervisor_runtime::{Config, Failure, Job, Notice, Observer, Outcome, Summary, Supervisor};

/// What a [`Misbehave`] task does.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub enum Act {
    /// Returns n².
    Square(u64),
    /// Sleeps this many milliseconds, then returns the number.
    Sleep(u64),
    /// Never returns; SIGTERM ends it.
    Hang,
    /// Never returns, and survives SIGTERM: only SIGKILL ends it.
    HangIgnoringTerm,
    /// Allocates and touches memory until an allocation fails.
    Allocate,
}

/// The misbehaving test job.
pub struct Misbehave;

impl Job for Misbehave {
    const NAME: &'static str = "misbehave";
    type Setup = ();
    type Task = Act;
    type Output = u64;

    fn start((): ()) -> Result<Self, String> {
        Ok(Misbehave)
    }

    fn run(&mut self, act: Act) -> u64 {
        match act {
            Act::Square(n) => n * n,
            Act::Sleep(ms) => {
                std::thread::sleep(Duration::from_millis(ms));
                ms
            }
            Act::Hang => hang(),
            Act::HangIgnoringTerm => {
                use nix::sys::signal::{SigHandler, Signal, signal};
                // SAFETY: SIG_IGN installs no handler code, so nothing can run in signal
                // context; it replaces the worker's own SIGTERM handling for this process,
                // which is the point: a task that will not die of SIGTERM.
                unsafe { signal(Signal::SIGTERM, SigHandler::SigIgn) }
                    .expect("cannot ignore SIGTERM");
                hang()
            }
            Act::Allocate => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    // Filled, so every page is really backed.
                    hoard.push(std::hint::black_box(vec![1u8; 4 << 20]));
                }
            }
        }
    }
}

fn hang() -> ! {
    loop {
        std::thread::park();
    }
}

pub const TESTS: &[(&str, fn())] = &[
    (
        "a_hanging_task_times_out_and_the_rest_complete",
        a_hanging_task_times_out_and_the_rest_complete,
    ),
    (
        "a_task_ignoring_sigterm_is_killed_after_the_grace",
        a_task_ignoring_sigterm_is_killed_after_the_grace,
    ),
    (
        "workers_are_recycled_after_max_tasks_per_child",
        workers_are_recycled_after_max_tasks_per_child,
    ),
    (
        "a_runaway_allocation_fails_only_its_task",
        a_runaway_allocation_fails_only_its_task,
    ),
    (
        "a_stopped_worker_is_detected_by_its_heartbeat",
        a_stopped_worker_is_detected_by_its_heartbeat,
    ),
];

#[derive(Default)]
struct Notices(Vec<String>);

impl Observer<Act, u64> for Notices {
    fn outcome(&mut self, _index: usize, _task: &Act, _outcome: &Outcome<u64>) {}

    fn notice(&mut self, notice: &Notice<'_>) {
        self.0.push(match notice {
            Notice::WorkerDied { pid, exit, .. } => format!("worker {pid} {exit}"),
            Notice::Misbehaved { pid, reason, .. } => format!("worker {pid} killed: {reason}"),
            other => format!("{other:?}"),
        });
    }
}

/// `Square(i)` for every index except the misbehaving ones.
fn tasks(n: u64, special: &[(u64, Act)]) -> Vec<Act> {
    (0..n)
        .map(|i| {
            special
                .iter()
                .find(|(at, _)| *at == i)
                .map_or(Act::Square(i), |(_, act)| *act)
        })
        .collect()
}

/// Every task but `except` succeeded with its expected value on its first attempt.
fn assert_others_ok(outcomes: &[Option<Outcome<u64>>], acts: &[Act], except: &[usize]) {
    for (i, (outcome, act)) in outcomes.iter().zip(acts).enumerate() {
        if except.contains(&i) {
            continue;
        }
        let outcome = outcome.as_ref().expect("every task has an outcome");
        let expected = match act {
            Act::Square(n) => n * n,
            Act::Sleep(ms) => *ms,
            other => panic!("task {i} ({other:?}) is not expected to succeed"),
        };
        assert_eq!(outcome.result, Ok(expected), "task {i}");
        assert_eq!(outcome.attempts, 1, "task {i}");
    }
}

/// No worker of the run survives it: each pid is gone, a zombie, or (reused) not our child.
pub fn assert_workers_gone(summary: &Summary) {
    let me = std::process::id().to_string();
    for pid in summary.slots.iter().flat_map(|s| &s.pids) {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The fields after the parenthesized command name: state, ppid, ...
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let (state, ppid) = (fields.first(), fields.get(1));
        assert!(
            state == Some(&"Z") || ppid != Some(&me.as_str()),
            "worker {pid} is still alive: {stat}"
        );
    }
}

fn a_hanging_task_times_out_and_the_rest_complete() {
    let mut config = Config::new(2);
    config.task_timeout = Some(Duration::from_secs(1));
    config.kill_grace = Duration::from_secs(2);
    config.retries = 0;
    let acts = tasks(40, &[(5, Act::Hang)]);
    let mut notices = Notices::default();
    let started = Instant::now();
    let report = Supervisor::<Misbehave>::new(config, ())
        .run(acts.clone(), &mut notices)
        .unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(1), "took only {took:?}");
    assert!(took < Duration::from_secs(1 + 2 + 5), "took {took:?}");
    let hung = report.outcomes[5].as_ref().unwrap();
    let failure = hung.result.as_ref().unwrap_err();
    assert_eq!(
        failure,
        &Failure::TimedOut {
            after: Duration::from_secs(1)
        }
    );
    assert_eq!(failure.to_string(), "timed out after 1s");
    assert_eq!(hung.attempts, 1);
    assert_others_ok(&report.outcomes, &acts, &[5]);
    let s = &report.summary;
    assert_eq!((s.timeouts, s.worker_crashes, s.failed), (1, 1, 1));
    assert_eq!(s.gave_up, None);
    assert!(
        notices.0.iter().any(|n| n.contains("killed by SIGTERM")),
        "SIGTERM was enough: {:?}",
        notices.0
    );
    assert!(
        notices
            .0
            .iter()
            .any(|n| n.contains("task 5 timed out after 1s")),
        "{:?}",
        notices.0
    );
    assert_workers_gone(s);
}

fn a_task_ignoring_sigterm_is_killed_after_the_grace() {
    let mut config = Config::new(2);
    config.task_timeout = Some(Duration::from_millis(500));
    config.kill_grace = Duration::from_secs(1);
    config.retries = 1;
    let acts = tasks(20, &[(3, Act::HangIgnoringTerm)]);
    let mut notices = Notices::default();
    let started = Instant::now();
    let report = Supervisor::<Misbehave>::new(config, ())
        .run(acts.clone(), &mut notices)
        .unwrap();
    let took = started.elapsed();
    // Two attempts, each the timeout plus the whole grace.
    let least = 2 * Duration::from_millis(1500);
    assert!(took >= least, "took only {took:?}");
    assert!(took < least + Duration::from_secs(5), "took {took:?}");
    let stubborn = report.outcomes[3].as_ref().unwrap();
    assert_eq!(
        stubborn.result.as_ref().unwrap_err().to_string(),
        "timed out after 500ms"
    );
    assert_eq!(stubborn.attempts, 2);
    assert_others_ok(&report.outcomes, &acts, &[3]);
    let s = &report.summary;
    assert_eq!((s.timeouts, s.worker_crashes, s.retried), (2, 2, 1));
    let sigkills = notices
        .0
        .iter()
        .filter(|n| n.ends_with("killed by SIGKILL"))
        .count();
    assert_eq!(sigkills, 2, "{:?}", notices.0);
    assert_workers_gone(s);
}

fn workers_are_recycled_after_max_tasks_per_child() {
    let mut config = Config::new(2);
    config.max_tasks_per_child = Some(3);
    // Recycling is no restart: 33+ recycles against a limit of 3 would trip it if they
    // counted (a limit of 0 would also trip on a rare failed spawn of a loaded machine).
    config.max_restarts = 3;
    let acts = tasks(100, &[]);
    let report = Supervisor::<Misbehave>::new(config, ())
        .run(acts.clone(), &mut Notices::default())
        .unwrap();
    assert_others_ok(&report.outcomes, &acts, &[]);
    let s = &report.summary;
    assert_eq!(s.gave_up, None);
    assert_eq!(s.completed, 100);
    // At least 34 workers for 100 tasks at 3 each; all recycled but those still serving when
    // the run ended (at most one per slot: how the last tasks split depends on timing).
    assert!(s.workers_spawned >= 34, "{} spawned", s.workers_spawned);
    assert!(
        s.recycled + 2 >= s.workers_spawned,
        "{} recycled of {} spawned",
        s.recycled,
        s.workers_spawned
    );
    assert_eq!(s.worker_crashes, 0);
    assert_eq!(s.slots.iter().map(|slot| slot.tasks).sum::<u64>(), 100);
    assert_workers_gone(s);
}

fn a_runaway_allocation_fails_only_its_task() {
    let mut config = Config::new(2);
    config.memory_limit = Some(64 << 20);
    config.retries = 1;
    let acts = tasks(30, &[(7, Act::Allocate)]);
    let report = Supervisor::<Misbehave>::new(config, ())
        .run(acts.clone(), &mut Notices::default())
        .unwrap();
    let runaway = report.outcomes[7].as_ref().unwrap();
    let failure = runaway.result.as_ref().unwrap_err();
    assert!(
        matches!(failure, Failure::OutOfMemory { limit, .. } if *limit == 64 << 20),
        "{failure:?}"
    );
    assert_eq!(
        failure.to_string(),
        "exceeded --memory-limit of 64 MiB (killed by SIGABRT)"
    );
    assert_eq!(runaway.attempts, 2);
    assert_others_ok(&report.outcomes, &acts, &[7]);
    let s = &report.summary;
    assert_eq!((s.worker_crashes, s.timeouts, s.failed), (2, 0, 1));
    assert_workers_gone(s);
}

fn a_stopped_worker_is_detected_by_its_heartbeat() {
    const TARGET: u64 = 4;
    let mut config = Config::new(2);
    config.heartbeat_timeout = Some(Duration::from_secs(1));
    config.kill_grace = Duration::from_secs(1);
    // A backstop only: should the heartbeat go unwatched, the stopped task ends as a
    // timeout (and the assertions below fail) instead of the run waiting forever.
    config.task_timeout = Some(Duration::from_secs(30));
    let acts = tasks(10, &[(TARGET, Act::Sleep(1500))]);
    // Stops whichever worker runs the target task, once, as `kill -STOP` from a shell would.
    let stopper = std::thread::spawn(|| -> Option<u32> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            for (_, board) in supervisor_runtime::scoreboard::find_running(Some(std::process::id()))
            {
                for slot in 0..board.slots() {
                    let view = board.slot_view(slot);
                    if view.current_task == Some(TARGET) && view.pid != 0 {
                        let pid = nix::unistd::Pid::from_raw(view.pid as i32);
                        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).ok()?;
                        return Some(view.pid);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    });
    let mut notices = Notices::default();
    let report = Supervisor::<Misbehave>::new(config, ())
        .run(acts.clone(), &mut notices)
        .unwrap();
    let stopped = stopper
        .join()
        .unwrap()
        .expect("the target task was seen running");
    let target = report.outcomes[TARGET as usize].as_ref().unwrap();
    assert_eq!(target.result, Ok(1500), "retried on a fresh worker");
    assert_eq!(target.attempts, 2);
    assert_others_ok(&report.outcomes, &acts, &[TARGET as usize]);
    assert!(
        notices.0.iter().any(|n| n
            == &format!(
                "worker {stopped} killed: task {TARGET} stopped responding (no heartbeat for 1s)"
            )),
        "{:?}",
        notices.0
    );
    let s = &report.summary;
    assert_eq!((s.timeouts, s.worker_crashes, s.retried), (1, 1, 1));
    assert!(s.slots.iter().any(|slot| slot.pids.contains(&stopped)));
    assert_workers_gone(s);
}
