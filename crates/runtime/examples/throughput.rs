//! The engine's trivial-task throughput through its library API, for `scripts/bench.sh`:
//!
//!     cargo run --release -p supervisor-runtime --example throughput -- [TASKS] [WORKERS] [RUNS]
//!
//! Runs TASKS (default 200,000) trivial tasks (n²) on WORKERS (default 2) worker processes,
//! RUNS times (default 5), with the default configuration: cost-sized batches, one result per
//! task, a crash charged to its own task. Each run is timed from `Supervisor::run` to its
//! report, spawns and reaping included (the process start of this binary is not). Prints one
//! line: `tasks=N workers=W median_s=S rate=R` (R in tasks per second).
//!
//! Like any binary that uses the engine, `main` routes worker mode first: this executable is
//! also its own worker.

use std::time::Instant;
use supervisor_runtime::worker::{Registry, run_if_worker};
use supervisor_runtime::{Config, Supervisor};

#[path = "../benches/support/square.rs"]
mod square;
use square::Square;

fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .map(|a| a.parse().expect("arguments are numbers"))
        .unwrap_or(default)
}

fn main() -> std::process::ExitCode {
    if let Some(code) = run_if_worker(&Registry::new().register::<Square>()) {
        return code;
    }
    let (tasks, workers, runs) = (arg(1, 200_000), arg(2, 2), arg(3, 5).max(1));
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let report = Supervisor::<Square>::new(Config::new(workers as usize), ())
            .run((0..tasks).collect(), &mut |_: usize, _: &u64, _: &_| {})
            .expect("the run completes");
        times.push(started.elapsed().as_secs_f64());
        assert_eq!(report.summary.completed, tasks, "every task completed");
        for (n, outcome) in report.outcomes.iter().enumerate() {
            let outcome = outcome.as_ref().expect("every task has an outcome");
            assert_eq!(outcome.result, Ok((n as u64).wrapping_mul(n as u64)));
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "tasks={tasks} workers={workers} median_s={median:.4} rate={:.0}",
        tasks as f64 / median
    );
    std::process::ExitCode::SUCCESS
}
