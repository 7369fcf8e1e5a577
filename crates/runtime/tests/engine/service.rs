//! The engine as a long-lived service whose coordinator never blocks: each test here first
//! reproduced a way the old coordinator froze, lost results or held them back.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use supervisor_runtime::{
    Config, Failure, Job, Notice, Observer, Outcome, RunEvent, StopMode, Supervisor,
};

/// What every worker of a [`Service`] run does before it serves.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Setup {
    /// `start` sleeps this long in the first worker that claims `claim` (or in every worker
    /// when `claim` is `None`).
    pub slow_start_ms: u64,
    pub claim: Option<PathBuf>,
    /// Where `Logged` tasks append their ids.
    pub log: Option<PathBuf>,
}

pub fn setup() -> Setup {
    Setup::default()
}

/// A task of the [`Service`] job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Work {
    /// Returns the payload's length.
    Payload(Vec<u8>),
    /// Sleeps, appends `id` to the log, returns `id`.
    Logged { id: u64, sleep_us: u64 },
    /// Sleeps this many milliseconds, returns them.
    Sleep(u64),
    /// Like `Sleep`, with a cost that puts it before everything else.
    Busy(u64),
    /// Never returns.
    Hang,
    /// Aborts the worker.
    Abort,
    /// Returns the worker's umask.
    Umask,
}

/// The test job for the service properties.
pub struct Service {
    log: Option<std::fs::File>,
}

impl Job for Service {
    const NAME: &'static str = "service";
    type Setup = Setup;
    type Task = Work;
    type Output = u64;

    fn cost(work: &Work) -> u64 {
        match work {
            Work::Busy(_) => 1 << 40,
            Work::Payload(bytes) => bytes.len() as u64,
            _ => 1,
        }
    }

    fn start(setup: Setup) -> Result<Self, String> {
        let slow = match &setup.claim {
            None => true,
            // The first worker to rename the marker away is the slow one.
            Some(marker) => std::fs::rename(marker, marker.with_extension("claimed")).is_ok(),
        };
        if slow && setup.slow_start_ms > 0 {
            std::thread::sleep(Duration::from_millis(setup.slow_start_ms));
        }
        let log = match &setup.log {
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(path)
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        Ok(Service { log })
    }

    fn run(&mut self, work: Work) -> u64 {
        match work {
            Work::Payload(bytes) => bytes.len() as u64,
            Work::Logged { id, sleep_us } => {
                if sleep_us > 0 {
                    std::thread::sleep(Duration::from_micros(sleep_us));
                }
                if let Some(log) = &mut self.log {
                    let line = format!("{id} {}\n", std::process::id());
                    log.write_all(line.as_bytes()).expect("log");
                }
                id
            }
            Work::Sleep(ms) | Work::Busy(ms) => {
                std::thread::sleep(Duration::from_millis(ms));
                ms
            }
            Work::Hang => loop {
                std::thread::park();
            },
            Work::Abort => std::process::abort(),
            Work::Umask => {
                use nix::sys::stat::{Mode, umask};
                let current = umask(Mode::empty());
                umask(current);
                u64::from(current.bits())
            }
        }
    }
}

/// An observer that ignores everything.
pub struct Quiet;

impl<T, O> Observer<T, O> for Quiet {
    fn outcome(&mut self, _: usize, _: &T, _: &Outcome<O>) {}
}

/// A marker file the test binary reads in worker mode before anything else: how long a worker
/// spawned by this process sleeps before its bootstrap (a slow or hung handshake).
fn boot_marker(parent: u32, all: bool) -> PathBuf {
    let which = if all { "all" } else { "one" };
    std::env::temp_dir().join(format!("supervisor-engine-slow-boot-{which}-{parent}"))
}

/// In worker mode: sleeps before the bootstrap if the test asked for it (every worker, or the
/// first to claim the marker).
pub fn delay_boot_if_asked() {
    if std::env::args().nth(1).as_deref() != Some(supervisor_runtime::WORKER_ARG) {
        return;
    }
    let parent = nix::unistd::getppid().as_raw() as u32;
    let all = boot_marker(parent, true);
    let one = boot_marker(parent, false);
    let claimed = one.with_extension("claimed");
    let ms = if let Ok(text) = std::fs::read_to_string(&all) {
        text.trim().parse().unwrap_or(0)
    } else if std::fs::rename(&one, &claimed).is_ok() {
        let ms = std::fs::read_to_string(&claimed)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        let _ = std::fs::remove_file(&claimed);
        ms
    } else {
        0
    };
    if ms > 0 {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

/// Makes workers spawned by this process sleep `ms` before their bootstrap (all of them, or
/// only the first); undone on drop.
struct SlowBoot(PathBuf);

impl SlowBoot {
    fn new(ms: u64, all: bool) -> Self {
        let path = boot_marker(std::process::id(), all);
        std::fs::write(&path, ms.to_string()).unwrap();
        SlowBoot(path)
    }
}

impl Drop for SlowBoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(self.0.with_extension("claimed"));
    }
}

pub const TESTS: &[(&str, fn())] = &[
    (
        "a_big_batch_to_a_worker_in_a_slow_start_blocks_nothing",
        a_big_batch_to_a_worker_in_a_slow_start_blocks_nothing,
    ),
    (
        "a_big_batch_to_a_worker_busy_in_a_long_task_blocks_nothing",
        a_big_batch_to_a_worker_busy_in_a_long_task_blocks_nothing,
    ),
    (
        "a_stop_while_workers_start_ends_them_within_the_grace",
        a_stop_while_workers_start_ends_them_within_the_grace,
    ),
    (
        "a_stop_while_a_worker_drains_ends_it_within_the_grace",
        a_stop_while_a_worker_drains_ends_it_within_the_grace,
    ),
    (
        "every_result_completed_before_a_stop_is_kept",
        every_result_completed_before_a_stop_is_kept,
    ),
    (
        "every_result_completed_before_a_give_up_is_kept",
        every_result_completed_before_a_give_up_is_kept,
    ),
    (
        "a_finished_result_is_not_held_behind_the_next_task",
        a_finished_result_is_not_held_behind_the_next_task,
    ),
    (
        "suspend_stops_the_workers_and_their_timers",
        suspend_stops_the_workers_and_their_timers,
    ),
    (
        "spawning_never_changes_the_umask_of_other_threads",
        spawning_never_changes_the_umask_of_other_threads,
    ),
    (
        "a_hung_handshake_delays_no_other_refill",
        a_hung_handshake_delays_no_other_refill,
    ),
    (
        "an_open_run_keeps_its_workers_between_submissions",
        an_open_run_keeps_its_workers_between_submissions,
    ),
];

/// Every pid the run used is gone (or a zombie of someone else's reuse).
fn assert_gone(summary: &supervisor_runtime::Summary) {
    crate::limits::assert_workers_gone(summary);
}

/// Observer that records each outcome's arrival and can stop the run from inside.
struct Timed {
    started: Instant,
    arrivals: Vec<(usize, Duration)>,
    stop_after: Option<(usize, supervisor_runtime::Stopper)>,
    stopped_at: Option<Instant>,
    failures: Vec<(usize, Failure)>,
}

impl Timed {
    fn new() -> Self {
        Timed {
            started: Instant::now(),
            arrivals: Vec::new(),
            stop_after: None,
            stopped_at: None,
            failures: Vec::new(),
        }
    }
}

impl Observer<Work, u64> for Timed {
    fn outcome(&mut self, index: usize, _: &Work, outcome: &Outcome<u64>) {
        self.arrivals.push((index, self.started.elapsed()));
        if let Err(failure) = &outcome.result {
            self.failures.push((index, failure.clone()));
        }
        if let Some((after, stopper)) = &self.stop_after
            && self.arrivals.len() >= *after
            && self.stopped_at.is_none()
        {
            self.stopped_at = Some(Instant::now());
            stopper.stop(StopMode::Graceful, "test stop");
        }
    }
}

/// Finding 1: a batch larger than the socket buffer, sent to a worker still in a 10 s
/// initializer, froze the coordinator: no other worker's results, no timeout, no stop.
fn a_big_batch_to_a_worker_in_a_slow_start_blocks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let claim = dir.path().join("slow");
    std::fs::write(&claim, b"").unwrap();
    let mut config = Config::new(2);
    config.task_timeout = Some(Duration::from_secs(1));
    config.kill_grace = Duration::from_millis(500);
    config.retries = 0;
    // 4,000 tasks of 2 KiB: batches of ~500 tasks, ~1 MiB each, far beyond a socket buffer.
    let mut work: Vec<Work> = (0..4000).map(|_| Work::Payload(vec![7u8; 2048])).collect();
    work.push(Work::Hang);
    let supervisor = Supervisor::<Service>::new(
        config,
        Setup {
            slow_start_ms: 10_000,
            claim: Some(claim),
            log: None,
        },
    );
    assert_the_slow_worker_held_nothing_up(supervisor, work, Duration::from_secs(9));
}

/// Runs `work`, stopping the run once 1,000 results came in (from the worker that is not
/// slow), and checks that the stop ended the run at once and the whole run took less than
/// `limit` (the slow worker would have held it up longer).
fn assert_the_slow_worker_held_nothing_up(
    supervisor: Supervisor<Service>,
    work: Vec<Work>,
    limit: Duration,
) {
    let mut observer = Timed::new();
    observer.stop_after = Some((1000, supervisor.stopper()));
    let started = Instant::now();
    let report = supervisor.run(work, &mut observer).unwrap();
    let took = started.elapsed();
    let stopped = observer
        .stopped_at
        .expect("results streamed while a worker was slow");
    assert!(
        stopped.elapsed() < Duration::from_secs(2),
        "the stop took {:?} to end the run",
        stopped.elapsed()
    );
    assert!(took < limit, "the run waited for the slow worker: {took:?}");
    assert!(report.summary.completed >= 1000, "{:?}", report.summary);
    assert_gone(&report.summary);
}

/// Finding 1 again, as it happens with a worker busy in a long task (no slow start): the
/// second batch of its window (about 1 MiB) cannot be written until the task ends; other
/// workers' results, a timeout and a stop still get through.
fn a_big_batch_to_a_worker_busy_in_a_long_task_blocks_nothing() {
    let mut config = Config::new(2);
    config.task_timeout = Some(Duration::from_secs(20));
    config.kill_grace = Duration::from_millis(500);
    config.retries = 0;
    // The long task goes first (its cost), alone; then 4,000 tasks of 2 KiB in batches of
    // ~500, the second of which is queued behind the long task.
    let mut work = vec![Work::Busy(15_000)];
    work.extend((0..4000).map(|_| Work::Payload(vec![7u8; 2048])));
    let supervisor = Supervisor::<Service>::new(config, Setup::default());
    assert_the_slow_worker_held_nothing_up(supervisor, work, Duration::from_secs(12));
}

/// Finding 2: a worker that completed its handshake after a stop was never force-killed, and
/// queued spawns still started.
fn a_stop_while_workers_start_ends_them_within_the_grace() {
    let _slow = SlowBoot::new(3_000, true);
    let mut config = Config::new(3);
    config.kill_grace = Duration::from_millis(500);
    let supervisor = Supervisor::<Service>::new(
        config,
        Setup {
            // Should one get through its bootstrap, it hangs in its start.
            slow_start_ms: 60_000,
            claim: None,
            log: None,
        },
    );
    let stopper = supervisor.stopper();
    let (tx, rx) = mpsc::channel();
    let run = std::thread::spawn(move || {
        let report = supervisor
            .run(vec![Work::Sleep(1); 30], &mut Quiet)
            .unwrap();
        let _ = tx.send(Instant::now());
        report
    });
    // Stop as soon as a worker process exists: its handshake is still ahead of it.
    wait_for_children(1, Duration::from_secs(10));
    let stop = Instant::now();
    stopper.stop(StopMode::Graceful, "test stop");
    let ended = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the run must end after a stop");
    assert!(
        ended - stop < Duration::from_secs(2),
        "ended {:?} after the stop",
        ended - stop
    );
    let report = run.join().unwrap();
    assert_eq!(report.summary.interrupted.as_deref(), Some("test stop"));
    assert_eq!(report.summary.completed, 0);
    assert_gone(&report.summary);
}

/// Polls /proc until this process has `n` children.
fn wait_for_children(n: usize, limit: Duration) {
    let me = std::process::id().to_string();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let children = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                std::fs::read_to_string(e.path().join("stat")).is_ok_and(|stat| {
                    stat.rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().nth(1).map(|p| p == me))
                        .unwrap_or(false)
                })
            })
            .count();
        if children >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("{n} worker processes did not appear within {limit:?}");
}

/// Polls the scoreboard of this process until `n` slots show a pid.
fn wait_for_pids(n: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        for (_, board) in supervisor_runtime::scoreboard::find_running(Some(std::process::id())) {
            let with_pid = (0..board.slots())
                .filter(|&s| board.slot_view(s).pid != 0)
                .count();
            if with_pid >= n {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{n} workers did not start within {limit:?}");
}

/// A worker stuck in its start when the run finishes is asked to exit (it cannot hear it);
/// a stop then ends it within the kill grace, not the (long) shutdown grace.
fn a_stop_while_a_worker_drains_ends_it_within_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let claim = dir.path().join("slow");
    std::fs::write(&claim, b"").unwrap();
    let mut config = Config::new(2);
    config.kill_grace = Duration::from_millis(500);
    config.shutdown_grace = Duration::from_secs(60);
    let supervisor = Supervisor::<Service>::new(
        config,
        Setup {
            slow_start_ms: 60_000,
            claim: Some(claim),
            log: None,
        },
    );
    let mut observer = Timed::new();
    observer.stop_after = Some((50, supervisor.stopper()));
    let report = supervisor
        .run(vec![Work::Sleep(1); 50], &mut observer)
        .unwrap();
    let stopped = observer.stopped_at.expect("every task finished");
    assert!(
        stopped.elapsed() < Duration::from_secs(3),
        "the draining worker outlived the stop by {:?}",
        stopped.elapsed()
    );
    assert_eq!(report.summary.completed, 50);
    assert_gone(&report.summary);
}

/// Ids the tasks logged as done, with the pid of the worker that ran each.
fn logged(path: &Path) -> Vec<(u64, u32)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let (id, pid) = l.split_once(' ').unwrap();
            (id.parse().unwrap(), pid.parse().unwrap())
        })
        .collect()
}

/// A log file and a setup that writes to it.
fn logging() -> (tempfile::TempDir, PathBuf, Setup) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("done.log");
    std::fs::write(&log, b"").unwrap();
    let setup = Setup {
        log: Some(log.clone()),
        ..Setup::default()
    };
    (dir, log, setup)
}

/// Every task the workers logged as done has its outcome in the report, but for at most the
/// one task per worker that was between its log line and its result when SIGTERM came, and
/// what a worker that crashed (`crashed` pids) had not sent yet: a crash loses that, and after
/// a give-up nothing is retried.
fn assert_logged_are_kept(
    report: &supervisor_runtime::Report<Work, u64>,
    log: &Path,
    workers: usize,
    crashed: &[u32],
) {
    let lost: Vec<u64> = logged(log)
        .into_iter()
        .filter(|&(id, pid)| report.outcomes[id as usize].is_none() && !crashed.contains(&pid))
        .map(|(id, _)| id)
        .collect();
    assert!(
        lost.len() <= workers,
        "{} tasks completed by a worker have no outcome: {lost:?}",
        lost.len()
    );
}

/// Finding 3: results a worker completed before a stop were dropped (those that arrived while
/// it drained, and those still buffered in it at SIGTERM).
fn every_result_completed_before_a_stop_is_kept() {
    let (_dir, log, setup) = logging();
    let mut config = Config::new(2);
    config.kill_grace = Duration::from_secs(2);
    let work: Vec<Work> = (0..20_000)
        .map(|id| Work::Logged { id, sleep_us: 20 })
        .collect();
    let supervisor = Supervisor::<Service>::new(config, setup);
    let mut observer = Timed::new();
    observer.stop_after = Some((2000, supervisor.stopper()));
    let report = supervisor.run(work, &mut observer).unwrap();
    assert!(report.summary.interrupted.is_some());
    assert!(
        report.summary.not_run > 0,
        "stopped early: {:?}",
        report.summary
    );
    assert_logged_are_kept(&report, &log, 2, &[]);
    assert_gone(&report.summary);
}

/// Records the pids of workers that died.
#[derive(Default)]
struct Deaths(Vec<u32>);

impl Observer<Work, u64> for Deaths {
    fn outcome(&mut self, _: usize, _: &Work, _: &Outcome<u64>) {}

    fn notice(&mut self, notice: &Notice<'_>) {
        if let Notice::WorkerDied { pid, .. } = notice {
            self.0.push(*pid);
        }
    }
}

/// ... and likewise when the supervisor gives up (restart intensity).
fn every_result_completed_before_a_give_up_is_kept() {
    let (_dir, log, setup) = logging();
    let mut config = Config::new(2);
    config.max_restarts = 0;
    config.kill_grace = Duration::from_secs(2);
    let mut work: Vec<Work> = (0..4000)
        .map(|id| Work::Logged { id, sleep_us: 300 })
        .collect();
    work[1500] = Work::Abort;
    let mut deaths = Deaths::default();
    let report = Supervisor::<Service>::new(config, setup)
        .run(work, &mut deaths)
        .unwrap();
    assert!(report.summary.gave_up.is_some(), "{:?}", report.summary);
    assert_eq!(deaths.0.len(), 1, "one crash, then the give-up");
    assert!(
        report.summary.not_run > 0,
        "gave up early: {:?}",
        report.summary
    );
    assert_logged_are_kept(&report, &log, 2, &deaths.0);
    assert_gone(&report.summary);
}

/// Finding 4: the worker flushed results only when a task finished, so results held back
/// waited behind the next task, however long it ran.
fn a_finished_result_is_not_held_behind_the_next_task() {
    let (_dir, log, setup) = logging();
    let mut config = Config::new(1);
    config.task_timeout = Some(Duration::from_secs(4));
    config.retries = 0;
    // The hung task sits in the middle of a batch: the tasks before it finish, then it hangs
    // until its timeout, then a fresh worker runs the rest.
    let mut work: Vec<Work> = (0..2000)
        .map(|id| Work::Logged { id, sleep_us: 0 })
        .collect();
    work[1000] = Work::Hang;
    let mut observer = Timed::new();
    let report = Supervisor::<Service>::new(config, setup)
        .run(work, &mut observer)
        .unwrap();
    assert_eq!(report.summary.completed, 1999);
    assert_eq!(observer.failures.len(), 1, "the hung task timed out");
    let done = logged(&log);
    let first_worker = done[0].1;
    let arrived: std::collections::HashMap<usize, Duration> =
        observer.arrivals.iter().copied().collect();
    let late: Vec<(u64, Duration)> = done
        .iter()
        .filter(|(_, pid)| *pid == first_worker)
        .map(|(id, _)| (*id, arrived[&(*id as usize)]))
        .filter(|(_, at)| *at >= Duration::from_secs(3))
        .collect();
    assert!(
        late.is_empty(),
        "results the hung worker had finished came out only after its hang: {late:?}"
    );
    assert_gone(&report.summary);
}

/// Process state letter of `pid` (`T` when stopped).
fn state_of(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// Finding 5: Ctrl-Z stopped the parent alone. `suspend` stops every worker's process group
/// and the timers with it: a pause longer than every timeout costs no task anything.
fn suspend_stops_the_workers_and_their_timers() {
    let mut config = Config::new(2);
    config.heartbeat_timeout = Some(Duration::from_millis(800));
    config.task_timeout = Some(Duration::from_millis(1500));
    config.retries = 0;
    let supervisor = Supervisor::<Service>::new(config, Setup::default());
    let stopper = supervisor.stopper();
    let control = std::thread::spawn(move || {
        wait_for_pids(2, Duration::from_secs(10));
        let pids: Vec<u32> = supervisor_runtime::scoreboard::find_running(Some(std::process::id()))
            .iter()
            .flat_map(|(_, board)| {
                (0..board.slots())
                    .map(|s| board.slot_view(s).pid)
                    .collect::<Vec<_>>()
            })
            .collect();
        stopper.suspend();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !pids.iter().all(|&pid| state_of(pid) == Some('T')) {
            assert!(
                Instant::now() < deadline,
                "workers not stopped: {:?}",
                pids.iter().map(|&p| state_of(p)).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // Suspended for longer than either timeout: a fixed pause is the scenario here.
        std::thread::sleep(Duration::from_millis(2500));
        assert!(
            pids.iter().all(|&pid| state_of(pid) == Some('T')),
            "still stopped"
        );
        stopper.resume();
        pids
    });
    let report = supervisor
        .run((0..40).map(|_| Work::Sleep(100)).collect(), &mut Quiet)
        .unwrap();
    let pids = control.join().unwrap();
    let s = &report.summary;
    assert_eq!(
        (s.completed, s.failed, s.timeouts, s.worker_crashes),
        (40, 0, 0, 0),
        "{s:?}"
    );
    let used: Vec<u32> = s.slots.iter().flat_map(|slot| slot.pids.clone()).collect();
    assert_eq!(used.len(), 2, "no worker was replaced");
    assert!(pids.iter().all(|p| used.contains(p)));
    assert_gone(s);
}

/// Finding 8: the umask was narrowed around every spawn, so other threads of a library user's
/// process created files with the wrong mode meanwhile.
fn spawning_never_changes_the_umask_of_other_threads() {
    use nix::sys::stat::{Mode, umask};
    let old = umask(Mode::from_bits_truncate(0o022));
    let dir = tempfile::tempdir().unwrap();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let path = dir.path().to_path_buf();
    let writer = std::thread::spawn(move || {
        let mut modes = HashSet::new();
        let mut n = 0u64;
        while stop_rx.try_recv().is_err() {
            let file = path.join(format!("f{}", n % 64));
            let _ = std::fs::remove_file(&file);
            std::fs::File::create(&file).unwrap();
            modes.insert(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777);
            n += 1;
        }
        (modes, n)
    });
    let mut config = Config::new(2);
    config.max_tasks_per_child = Some(1);
    let report = Supervisor::<Service>::new(config, Setup::default())
        .run((0..100).map(|_| Work::Sleep(0)).collect(), &mut Quiet)
        .unwrap();
    let _ = stop_tx.send(());
    let (modes, files) = writer.join().unwrap();
    umask(old);
    assert!(
        report.summary.workers_spawned >= 100,
        "{:?}",
        report.summary
    );
    assert!(
        files > 100,
        "the writer ran during the spawns ({files} files)"
    );
    assert_eq!(
        modes,
        HashSet::from([0o644]),
        "file modes seen while workers spawned"
    );
}

/// Finding 8, second half: one worker slow to answer its bootstrap held up every other
/// slot's refill behind it.
fn a_hung_handshake_delays_no_other_refill() {
    let _slow = SlowBoot::new(6_000, false);
    let mut config = Config::new(2);
    config.max_tasks_per_child = Some(2);
    let started = Instant::now();
    let report = Supervisor::<Service>::new(config, Setup::default())
        .run((0..40).map(|_| Work::Sleep(1)).collect(), &mut Quiet)
        .unwrap();
    let took = started.elapsed();
    assert_eq!(report.summary.completed, 40);
    assert!(
        took < Duration::from_secs(5),
        "the other slot waited for the slow handshake: {took:?}"
    );
    assert_gone(&report.summary);
}

/// An open run takes tasks over time; its workers live between submissions.
fn an_open_run_keeps_its_workers_between_submissions() {
    let (run, mut events) = Supervisor::<Service>::new(Config::new(2), Setup::default())
        .open()
        .unwrap();
    let mut started_pids = Vec::new();
    let mut collect = |events: &mut supervisor_runtime::RunEvents<u64>, n: usize| {
        let mut got = Vec::new();
        while got.len() < n {
            match events.recv_timeout(Duration::from_secs(20)) {
                Ok(RunEvent::Outcome { id, outcome }) => got.push((id, outcome.result.unwrap())),
                Ok(RunEvent::Notice(notice)) => {
                    if let Notice::WorkerStarted { pid, .. } = notice.notice() {
                        started_pids.push(pid);
                    }
                }
                Err(ended) => panic!("no outcome (ended: {ended})"),
            }
        }
        got.sort_unstable();
        got
    };
    let first = run.submit((0..10).map(Work::Sleep).collect()).unwrap();
    assert_eq!(first, 0..10);
    let got = collect(&mut events, 10);
    assert_eq!(got, (0..10).map(|i| (i, i)).collect::<Vec<_>>());
    let second = run
        .submit((0..10).map(|_| Work::Sleep(2)).collect())
        .unwrap();
    assert_eq!(second, 10..20);
    let got = collect(&mut events, 10);
    assert_eq!(
        got.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        (10..20).collect::<Vec<_>>()
    );
    let summary = run.finish().unwrap();
    assert!(events.recv().is_none(), "events end with the run");
    assert_eq!(summary.completed, 20);
    assert_eq!(
        summary.workers_spawned, 2,
        "the same two workers served both calls"
    );
    assert_eq!(started_pids.len(), 2);
    assert_gone(&summary);
}
