//! `run cpu`: the seed's CPU-bound benchmark, exact, with an optional sequential comparison.

use super::{finish, open_output, supervise};
use crate::cli::{CpuArgs, Format, RunOptions};
use crate::error::CliError;
use crate::jobs::CpuJob;
use crate::output;
use std::time::Instant;
use supervisor_jobs::cpu::CpuTask;

/// Runs the tasks in workers; with `--compare`, again sequentially in this process.
pub fn run(options: &RunOptions, args: CpuArgs) -> Result<u8, CliError> {
    if options.format == Format::Sums {
        return Err(CliError::Usage(
            "--format sums only applies to the hash job".into(),
        ));
    }
    if args.tasks.is_empty() {
        return Err(CliError::Usage("--tasks needs at least one number".into()));
    }
    let tasks: Vec<CpuTask> = args
        .tasks
        .iter()
        .map(|&n| CpuTask {
            n,
            scale: args.scale,
        })
        .collect();
    for task in &tasks {
        task.iterations()
            .map_err(|e| CliError::Usage(format!("invalid --tasks/--scale: {e}")))?;
    }
    let ns: Vec<u64> = args.tasks.clone();
    let mut parallel_results: Vec<Option<u128>> = vec![None; tasks.len()];
    let mut out = open_output(options, output::cpu::view())?;
    let report = supervise::<CpuJob>(options, (), tasks.clone(), &mut out, |i, _task, outcome| {
        vec![match &outcome.result {
            Ok(result) => {
                parallel_results[i] = Some(*result);
                output::cpu::result(i, ns[i], *result, outcome.attempts)
            }
            Err(failure) => output::cpu::failure(i, ns[i], &failure.to_string(), outcome.attempts),
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
