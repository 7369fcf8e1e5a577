//! `run fault` (hidden): tasks that fail in chosen ways, to drive every failure path.

use super::{finish_rows, open_output, supervise};
use crate::cli::{FaultArgs, Format, RunOptions};
use crate::error::CliError;
use crate::jobs::FaultJob;
use crate::output;
use crate::output::{Needs, Record, TaskRows};
use crate::partition::{Share, fault_key};
use supervisor_jobs::fault::FaultPlan;
use supervisor_jobs::fault::{FaultOutput, FaultTask};
use supervisor_runtime::Outcome;

pub fn run(options: &RunOptions, args: FaultArgs) -> Result<u8, CliError> {
    if options.format == Format::Sums {
        return Err(CliError::Usage(
            "--format sums only applies to the hash job".into(),
        ));
    }
    let plan = FaultPlan {
        tasks: args.tasks,
        segfault_on: args.segfault_on,
        abort_on: args.abort_on,
        exit_on: args.exit_on,
        exit_code: args.exit_code,
        panic_on: args.panic_on,
        hang_on: args.hang_on,
        ignore_term_on: args.ignore_term_on,
        alloc_on: args.alloc_on,
        crash_once_on: args.crash_once_on,
        marker_dir: args.marker_dir,
        sleep_ms: args.sleep_ms,
    };
    let mut tasks = plan.tasks();
    if let Some(partition) = Share::by_hash(options) {
        tasks.retain(|task| partition.owns(&fault_key(task.item)));
    }
    let mut out = open_output(options, output::fault::view())?.streaming_only();
    let stream = options.format == Format::Jsonl;
    let mut finished = 0u64;
    let panic_after = args.parent_panic_after;
    let report = supervise::<FaultJob>(options, (), tasks, &mut out, |i, task, outcome| {
        finished += 1;
        if panic_after.is_some_and(|n| finished > n) {
            // For the leak tests: the supervisor itself failing mid-run must leave nothing.
            panic!("fault job: deliberate panic in the supervisor after {finished} results");
        }
        if stream {
            vec![record(i, task, outcome, Needs::of(Format::Jsonl))]
        } else {
            Vec::new()
        }
    })?;
    let rows = TaskRows {
        tasks: report.tasks,
        outcomes: report.outcomes,
        needs: Needs::of(options.format),
        build: record,
        is_failure: |outcome| outcome.result.is_err(),
    };
    finish_rows(out, &rows, &report.summary, 0)
}

fn record(_: usize, task: &FaultTask, outcome: &Outcome<FaultOutput>, needs: Needs) -> Record {
    match &outcome.result {
        Ok(o) => output::fault::value(o.item, o.value, outcome.attempts, needs),
        Err(failure) => output::fault::failure(task.item, &failure.to_string(), outcome.attempts),
    }
}
