//! `supervisor run`: turn a job's arguments into tasks, run them supervised, write results.

use crate::cli::{FaultArgs, Format, HashArgs, JobCommand, RunArgs, RunOptions};
use crate::error::{CliError, code};
use crate::jobs::{FaultJob, HashJob, HashOutput};
use crate::output::{self, Output, Sink};
use crate::progress::Progress;
use supervisor_jobs::fault::FaultPlan;
use supervisor_jobs::hash::{self, DiscoverOptions, Found};
use supervisor_runtime::{Chaos, Config, Job, Notice, Observer, Outcome, Report, Supervisor};

/// Runs the job and returns the process exit code.
pub fn run(args: RunArgs) -> Result<u8, CliError> {
    let options = args.options;
    match args.job {
        JobCommand::Hash(hash) => run_hash(&options, hash),
        JobCommand::Fault(fault) => run_fault(&options, fault),
    }
}

fn engine_config(options: &RunOptions) -> Config {
    let workers = options
        .workers
        .map(|n| n as usize)
        .unwrap_or_else(Config::available_cores);
    let mut config = Config::new(workers);
    config.retries = options.retries;
    if let Some(max) = options.max_restarts {
        config.max_restarts = max;
    }
    config.restart_window = options.restart_window;
    config.chaos = options.chaos_kill_every.map(|every| Chaos {
        every,
        seed: options.chaos_seed,
    });
    config
}

fn open_output(options: &RunOptions, view: output::View) -> Result<Output, CliError> {
    let sink = Sink::open(options.output.as_deref()).map_err(CliError::Output)?;
    Ok(Output::new(options.format, sink, options.quiet, view))
}

/// Runs tasks and feeds each final outcome to `record`, in completion order.
fn supervise<J: Job>(
    options: &RunOptions,
    setup: J::Setup,
    tasks: Vec<J::Task>,
    out: &mut Output,
    mut record: impl FnMut(usize, &Outcome<J::Output>) -> output::Record,
) -> Result<Report<J::Output>, CliError> {
    let costs: Vec<u64> = tasks.iter().map(J::cost).collect();
    let total_bytes = J::COST_IS_BYTES.then(|| costs.iter().sum());
    let progress = Progress::new(options.progress, tasks.len() as u64, total_bytes);
    let supervisor = Supervisor::<J>::new(engine_config(options), setup);
    let mut observer = Reporter {
        out,
        record: &mut record,
        quiet: options.quiet,
        verbose: options.verbose,
        progress,
        costs: if J::COST_IS_BYTES { costs } else { Vec::new() },
    };
    let report = supervisor.run(tasks, &mut observer);
    observer.progress.finish();
    let report = report?;
    if options.verbose {
        for (slot, s) in report.summary.slots.iter().enumerate() {
            eprintln!(
                "supervisor: slot {slot}: pids {:?}, {} tasks",
                s.pids, s.tasks
            );
        }
    }
    Ok(report)
}

/// Turns outcomes into records and worker notices into stderr lines.
struct Reporter<'a, F> {
    out: &'a mut Output,
    record: &'a mut F,
    quiet: bool,
    verbose: bool,
    progress: Progress,
    /// Bytes per task, for jobs whose cost is bytes (empty otherwise).
    costs: Vec<u64>,
}

impl<O, F: FnMut(usize, &Outcome<O>) -> output::Record> Observer<O> for Reporter<'_, F> {
    fn outcome(&mut self, index: usize, outcome: &Outcome<O>) {
        if let Some(note) = self.out.push((self.record)(index, outcome)) {
            self.progress.note(&note);
        }
        let bytes = self.costs.get(index).copied().unwrap_or(0);
        self.progress.task_done(bytes, outcome.attempts);
    }

    fn notice(&mut self, notice: &Notice<'_>) {
        match notice {
            Notice::WorkerStarted { .. } => self.progress.worker_started(),
            Notice::WorkerDied { .. } => self.progress.worker_died(),
            _ => {}
        }
        match notice {
            Notice::WorkerDied {
                slot,
                pid,
                exit,
                chaos,
                stderr_tail,
            } => {
                if self.quiet || (*chaos && !self.verbose) {
                    return;
                }
                let cause = if *chaos { " (chaos)" } else { "" };
                let last = stderr_tail.lines().last().unwrap_or("");
                let line = if last.is_empty() {
                    format!("supervisor: worker {pid} (slot {slot}) {exit}{cause}")
                } else {
                    format!("supervisor: worker {pid} (slot {slot}) {exit}{cause}: {last}")
                };
                self.progress.note(&line);
            }
            Notice::WorkerStarted { .. } => {}
            Notice::SpawnFailed { slot, message } => {
                self.progress.note(&format!(
                    "supervisor: cannot start a worker for slot {slot}: {message}"
                ));
            }
            Notice::Misbehaved { slot, pid, reason } => {
                self.progress.note(&format!(
                    "supervisor: worker {pid} (slot {slot}) killed: {reason}"
                ));
            }
        }
    }
}

/// The exit code for a finished run, after the output was written.
fn finish(
    out: Output,
    report_summary: &supervisor_runtime::Summary,
    skipped: u64,
) -> Result<u8, CliError> {
    let failed = out.failed();
    let went_away = out.reader_went_away();
    out.finish(report_summary, skipped)
        .map_err(CliError::Output)?;
    if let Some(reason) = &report_summary.gave_up {
        eprintln!("supervisor: gave up: {reason}");
        return Ok(code::GAVE_UP);
    }
    if went_away {
        return Ok(code::OK);
    }
    Ok(if failed > 0 {
        code::TASKS_FAILED
    } else {
        code::OK
    })
}

fn run_hash(options: &RunOptions, args: HashArgs) -> Result<u8, CliError> {
    let algo = args.algo;
    let mut out = open_output(options, output::hash::view())?;
    let discover = DiscoverOptions {
        extensions: args.extensions,
        follow_symlinks: args.follow_symlinks,
    };
    let mut tasks = Vec::new();
    let mut skipped = 0u64;
    for found in hash::discover(&args.paths, &discover) {
        match found {
            Found::File(entry) => tasks.push(entry),
            Found::Skipped { path, reason } => {
                skipped += 1;
                if !options.quiet {
                    eprintln!(
                        "supervisor: skipping {}: {reason}",
                        output::display_path(&path)
                    );
                }
            }
            Found::Error { path, message } => {
                if let Some(note) = out.push(output::hash::error(&path, &message, 1)) {
                    eprintln!("{note}");
                }
            }
        }
    }
    let paths: Vec<Vec<u8>> = tasks.iter().map(|t| t.path.clone()).collect();
    let report = supervise::<HashJob>(options, algo, tasks, &mut out, |i, outcome| {
        let path = &paths[i];
        match &outcome.result {
            Ok(HashOutput::Digest { size, digest }) => {
                output::hash::digest(path, *size, digest, algo, outcome.attempts)
            }
            Ok(HashOutput::Error(message)) => output::hash::error(path, message, outcome.attempts),
            Err(failure) => output::hash::error(path, &failure.to_string(), outcome.attempts),
        }
    })?;
    finish(out, &report.summary, skipped)
}

fn run_fault(options: &RunOptions, args: FaultArgs) -> Result<u8, CliError> {
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
    let report = supervise::<FaultJob>(options, (), tasks, &mut out, |i, outcome| match &outcome
        .result
    {
        Ok(o) => output::fault::value(o.item, o.value, outcome.attempts),
        Err(failure) => output::fault::failure(items[i], &failure.to_string(), outcome.attempts),
    })?;
    finish(out, &report.summary, 0)
}
