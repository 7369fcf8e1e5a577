//! `run fault` (hidden): tasks that fail in chosen ways, to drive every failure path.

use super::{finish, open_output, supervise};
use crate::cli::{FaultArgs, Format, RunOptions};
use crate::error::CliError;
use crate::jobs::FaultJob;
use crate::output;
use supervisor_jobs::fault::FaultPlan;

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
    let tasks = plan.tasks();
    let items: Vec<u64> = tasks.iter().map(|t| t.item).collect();
    let mut out = open_output(options, output::fault::view())?;
    let mut finished = 0u64;
    let panic_after = args.parent_panic_after;
    let report = supervise::<FaultJob>(options, (), tasks, &mut out, |i, _task, outcome| {
        finished += 1;
        if panic_after.is_some_and(|n| finished > n) {
            // For the leak tests: the supervisor itself failing mid-run must leave nothing.
            panic!("fault job: deliberate panic in the supervisor after {finished} results");
        }
        vec![match &outcome.result {
            Ok(o) => output::fault::value(o.item, o.value, outcome.attempts),
            Err(failure) => {
                output::fault::failure(items[i], &failure.to_string(), outcome.attempts)
            }
        }]
    })?;
    finish(out, &report.summary, 0)
}
