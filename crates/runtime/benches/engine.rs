//! The engine's own costs, with real worker processes: `cargo bench -p supervisor-runtime`.
//!
//! This bench binary is also the worker executable the engine re-executes
//! (`/proc/self/exe __supervisor_worker ...`), so `main` routes worker mode first, exactly as
//! `tests/engine.rs` and the `supervisor` binary do, and only then runs criterion.
//!
//! - `spawn_handshake`: a whole run of 1 trivial task on 1 worker: spawn, handshake, setup, one
//!   task, shutdown and reap. Practically all of it is the worker's start.
//! - `spawn_to_ready`: from calling `run` to the worker's `WorkerStarted` notice: the spawn and
//!   checked handshake alone.
//! - `round_trip`: per task, with 1 worker and `max_batch = 1` (every task is its own message
//!   down and its own result up): a run of `iters` tasks minus the median 1-task run, divided
//!   by `iters`.
//! - `throughput_1m`: 1,000,000 trivial tasks on 2 workers with the default configuration,
//!   reported as tasks/s (criterion's "thrpt").
//! - `crash_replacement`: the extra time of a run (1 worker, 200 tasks) whose first task
//!   SIGKILLs its own worker on its first attempt (a marker file makes the retry succeed),
//!   over the same run without the crash: detection, reaping, a new spawn and handshake, and
//!   the retry. Each sample alternates a clean and a crashing run.
//!
//! Samples are few and short so the whole bench finishes in about two minutes on 2 cores.

use criterion::{BenchmarkId, Criterion, Throughput};
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use supervisor_runtime::worker::{Registry, run_if_worker};
use supervisor_runtime::{Config, Job, Outcome, Report, Supervisor};

#[path = "support/square.rs"]
mod square;
use square::Square;

/// Where a [`CrashOnce`] run keeps its marker: the first attempt of task 0 creates it and
/// SIGKILLs its own worker; the retry finds it and succeeds.
#[derive(Serialize, Deserialize)]
struct Marker(PathBuf);

/// Squares, except that task 0 kills its worker the first time it runs.
struct CrashOnce {
    marker: PathBuf,
}

impl Job for CrashOnce {
    const NAME: &'static str = "bench-crash-once";
    type Setup = Marker;
    type Task = u64;
    type Output = u64;

    fn start(setup: Marker) -> Result<Self, String> {
        Ok(CrashOnce { marker: setup.0 })
    }

    fn run(&mut self, n: u64) -> u64 {
        if n == 0 && std::fs::File::create_new(&self.marker).is_ok() {
            // Our own worker, by our own hand: the supervisor must notice and replace it.
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        }
        n.wrapping_mul(n)
    }
}

fn main() -> std::process::ExitCode {
    let registry = Registry::new().register::<Square>().register::<CrashOnce>();
    if let Some(code) = run_if_worker(&registry) {
        return code;
    }
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    spawn_handshake(&mut criterion);
    round_trip(&mut criterion);
    throughput(&mut criterion);
    crash_replacement(&mut criterion);
    criterion.final_summary();
    std::process::ExitCode::SUCCESS
}

fn ignore<T, O>(_: usize, _: &T, _: &Outcome<O>) {}

fn run_squares(config: Config, tasks: u64) -> Report<u64, u64> {
    let report = Supervisor::<Square>::new(config, ())
        .run((0..tasks).collect(), &mut ignore)
        .expect("the run must complete");
    assert_eq!(report.summary.completed, tasks, "every task completes");
    report
}

fn one_worker_batch_one() -> Config {
    let mut config = Config::new(1);
    config.max_batch = 1;
    config
}

fn spawn_handshake(c: &mut Criterion) {
    c.bench_function("spawn_handshake (1 worker, 1 task, whole run)", |b| {
        b.iter(|| black_box(run_squares(Config::new(1), 1)))
    });
    // From the call to `run` to the worker's `WorkerStarted` notice: scoreboard, spawner
    // thread, fork/exec, the worker's start, the checked handshake and its setup frame.
    c.bench_function("spawn_to_ready (run start to a connected worker)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut ready = ReadyClock {
                    start: Instant::now(),
                    ready: None,
                };
                Supervisor::<Square>::new(Config::new(1), ())
                    .run(vec![1], &mut ready)
                    .expect("the run must complete");
                total += ready.ready.expect("a worker started");
            }
            total
        })
    });
}

/// Notes when the first worker was ready.
struct ReadyClock {
    start: Instant,
    ready: Option<Duration>,
}

impl supervisor_runtime::Observer<u64, u64> for ReadyClock {
    fn outcome(&mut self, _: usize, _: &u64, _: &Outcome<u64>) {}

    fn notice(&mut self, notice: &supervisor_runtime::Notice<'_>) {
        if let supervisor_runtime::Notice::WorkerStarted { .. } = notice {
            self.ready.get_or_insert_with(|| self.start.elapsed());
        }
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn round_trip(c: &mut Criterion) {
    // The fixed cost of a run, subtracted from every sample below.
    let startup = median(
        (0..7)
            .map(|_| {
                let start = Instant::now();
                run_squares(one_worker_batch_one(), 1);
                start.elapsed()
            })
            .collect(),
    );
    eprintln!("round_trip: the 1-task run it subtracts takes {startup:?} (median of 7)");
    c.bench_function("round_trip (1 worker, max_batch 1, per task)", |b| {
        b.iter_custom(|iters| {
            let tasks = iters.max(1);
            let start = Instant::now();
            black_box(run_squares(one_worker_batch_one(), tasks));
            start.elapsed().saturating_sub(startup)
        })
    });
}

fn throughput(c: &mut Criterion) {
    const TASKS: u64 = 1_000_000;
    let mut group = c.benchmark_group("throughput");
    group.throughput(Throughput::Elements(TASKS));
    group.sampling_mode(criterion::SamplingMode::Flat);
    group.bench_function(
        BenchmarkId::new("trivial_tasks", "1M tasks, 2 workers"),
        |b| b.iter(|| black_box(run_squares(Config::new(2), TASKS))),
    );
    group.finish();
}

fn crash_replacement(c: &mut Criterion) {
    const TASKS: u64 = 200;
    let dir = tempfile::tempdir().expect("a temp dir for the markers");
    let mut round = 0u64;
    let crashing_run = |round: u64| {
        let marker = dir.path().join(format!("crashed-{round}"));
        let start = Instant::now();
        let report = Supervisor::<CrashOnce>::new(Config::new(1), Marker(marker.clone()))
            .run((0..TASKS).collect(), &mut ignore)
            .expect("the run must complete");
        let elapsed = start.elapsed();
        assert!(marker.exists(), "task 0 must have crashed its worker once");
        assert_eq!(report.summary.completed, TASKS);
        assert_eq!(report.summary.worker_crashes, 1);
        assert_eq!(report.summary.workers_spawned, 2);
        (elapsed, report.summary.elapsed)
    };
    let (wall, engine) = crashing_run(u64::MAX);
    eprintln!(
        "crash_replacement: one crashing run of {TASKS} tasks: {wall:?} wall, {engine:?} by its \
         summary, 2 workers spawned, 1 crash, every task completed"
    );
    c.bench_function("crash_replacement (extra time of one worker death)", |b| {
        b.iter_custom(|iters| {
            let mut extra = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                run_squares(Config::new(1), TASKS);
                let clean = start.elapsed();
                round += 1;
                let (crashed, _) = crashing_run(round);
                extra += crashed.saturating_sub(clean);
            }
            extra
        })
    });
}
