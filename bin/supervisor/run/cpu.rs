//! `run cpu`: the seed's CPU-bound benchmark, exact, with an optional sequential comparison.

use super::{finish, open_output, supervise};
use crate::cli::{CpuArgs, Format, RunOptions};
use crate::error::CliError;
use crate::jobs::CpuJob;
use crate::output;
use crate::partition::{Share, cpu_key};
use std::time::Instant;
use supervisor_jobs::cpu::{CpuTask, plan_parts};
use supervisor_runtime::Config;

/// One task's loop, added up from its parts as they come back.
struct TaskSum {
    n: u64,
    parts_left: usize,
    sum: u128,
    attempts: u32,
    error: Option<String>,
}

/// Runs the tasks in workers, each cut into slices so that all cores finish together; with
/// `--compare`, again sequentially in this process (whole, as the seed runs them).
pub fn run(options: &RunOptions, args: CpuArgs) -> Result<u8, CliError> {
    if options.format == Format::Sums {
        return Err(CliError::Usage(
            "--format sums only applies to the hash job".into(),
        ));
    }
    if args.tasks.is_empty() {
        return Err(CliError::Usage("--tasks needs at least one number".into()));
    }
    // A partition runs whole tasks (see `partition::cpu_key`), each keeping its position.
    let partition = Share::by_hash(options);
    let (positions, tasks): (Vec<usize>, Vec<CpuTask>) = args
        .tasks
        .iter()
        .enumerate()
        .filter(|&(i, &n)| partition.is_none_or(|p| p.owns(&cpu_key(i, n))))
        .map(|(i, &n)| {
            (
                i,
                CpuTask {
                    n,
                    scale: args.scale,
                },
            )
        })
        .unzip();
    let workers = options
        .workers
        .map(|n| n as usize)
        .unwrap_or_else(Config::available_cores);
    let parts = plan_parts(&tasks, workers)
        .map_err(|e| CliError::Usage(format!("invalid --tasks/--scale: {e}")))?;
    let mut sums: Vec<TaskSum> = tasks
        .iter()
        .map(|task| TaskSum {
            n: task.n,
            parts_left: 0,
            sum: 0,
            attempts: 0,
            error: None,
        })
        .collect();
    let mut owner = Vec::new();
    for (task, mine) in parts.iter().enumerate() {
        sums[task].parts_left = mine.len();
        owner.extend(std::iter::repeat_n(task, mine.len()));
    }
    let parts: Vec<_> = parts.into_iter().flatten().collect();
    let mut parallel_results: Vec<Option<u128>> = vec![None; tasks.len()];
    let mut out = open_output(options, output::cpu::view())?;
    let report = supervise::<CpuJob>(options, (), parts, &mut out, |i, _part, outcome| {
        let index = owner[i];
        let task = &mut sums[index];
        task.attempts = task.attempts.max(outcome.attempts);
        match &outcome.result {
            Ok(result) => task.sum = task.sum.wrapping_add(*result),
            Err(failure) => {
                task.error.get_or_insert_with(|| failure.to_string());
            }
        }
        task.parts_left -= 1;
        if task.parts_left > 0 {
            return Vec::new();
        }
        let position = positions[index];
        vec![match &task.error {
            None => {
                parallel_results[index] = Some(task.sum);
                output::cpu::result(position, task.n, task.sum, task.attempts)
            }
            Some(message) => output::cpu::failure(position, task.n, message, task.attempts),
        }]
    })?;
    if args.compare {
        let started = Instant::now();
        let sequential: Vec<u128> = tasks.iter().map(CpuTask::run).collect();
        let sequential_time = started.elapsed();
        let parallel_time = report.summary.elapsed;
        let speedup = sequential_time.as_secs_f64() / parallel_time.as_secs_f64().max(1e-9);
        let agree = sequential
            .iter()
            .zip(&parallel_results)
            .all(|(s, p)| p.is_none_or(|p| p == *s));
        let workers = report.summary.slots.len();
        out.add_summary(
            "compare",
            serde_json::json!({
                "workers": workers,
                "parallel_ms": parallel_time.as_secs_f64() * 1000.0,
                "sequential_ms": sequential_time.as_secs_f64() * 1000.0,
                "speedup": speedup,
                "results_agree": agree,
            }),
            format!(
                "parallel: {:.2} s on {workers} workers, sequential: {:.2} s in one process, speedup {speedup:.2}x{}",
                parallel_time.as_secs_f64(),
                sequential_time.as_secs_f64(),
                if agree { "" } else { " (RESULTS DIFFER)" }
            ),
        );
    }
    finish(out, &report.summary, 0)
}
