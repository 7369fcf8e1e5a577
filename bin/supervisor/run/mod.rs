//! `supervisor run`: turn a job's arguments into tasks, run them supervised, write results.

mod check;
mod cpu;
mod fault;
mod hash;
mod journal;
mod logs;
mod probe;

use crate::cli::{JobCommand, RunArgs, RunOptions};
use crate::error::{CliError, code};
use crate::output::{self, Output, Sink};
use crate::progress::Progress;
use crate::signals::SignalGuard;
use supervisor_jobs::SkipReason;
use supervisor_runtime::journal::JournalWriter;
use supervisor_runtime::{
    Chaos, Config, Job, Notice, Observer, Outcome, Report, StopMode, Stopper, Supervisor,
};

/// Runs the job and returns the process exit code.
pub fn run(args: RunArgs) -> Result<u8, CliError> {
    let options = args.options;
    match args.job {
        JobCommand::Hash(args) => hash::run(&options, args),
        JobCommand::Logs(args) => logs::run(&options, args),
        JobCommand::Probe(args) => probe::run(&options, args),
        JobCommand::Cpu(args) => cpu::run(&options, args),
        JobCommand::Fault(args) => fault::run(&options, args),
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
    config.task_timeout = options.task_timeout;
    config.kill_grace = options.kill_grace;
    config.heartbeat_timeout = Some(options.heartbeat_timeout).filter(|d| !d.is_zero());
    config.max_tasks_per_child = options.max_tasks_per_child;
    config.memory_limit = options.memory_limit;
    config
}

pub(crate) fn open_output(options: &RunOptions, view: output::View) -> Result<Output, CliError> {
    let sink = Sink::open(options.output.as_deref()).map_err(CliError::Output)?;
    Ok(Output::new(options.format, sink, options.quiet, view))
}

/// Runs tasks and feeds each final outcome to `record`, in completion order; the records it
/// returns (none, one, or several per task) are the results.
pub(crate) fn supervise<J: Job>(
    options: &RunOptions,
    setup: J::Setup,
    tasks: Vec<J::Task>,
    out: &mut Output,
    mut record: impl FnMut(usize, &J::Task, &Outcome<J::Output>) -> Vec<output::Record>,
) -> Result<Report<J::Task, J::Output>, CliError> {
    let journal = journal::open::<J>(options, &setup, &tasks)?;
    let total = tasks.len();
    let mut outcomes: Vec<Option<Outcome<J::Output>>> = Vec::with_capacity(total);
    outcomes.resize_with(total, || None);
    let resumed = journal.restored.len();
    for (index, outcome) in journal.restored {
        let index = index as usize;
        for rec in record(index, &tasks[index], &outcome) {
            out.push(rec);
        }
        outcomes[index] = Some(outcome);
    }
    if options.resume.is_some() {
        out.add_summary(
            "resumed",
            serde_json::Value::from(resumed),
            format!(
                "resumed: {resumed} results from the journal, {} run now",
                total - resumed
            ),
        );
    }
    // Only what the journal does not have yet is run; `to_run[k]` is the task index of the
    // k-th task handed to the engine.
    let to_run: Vec<usize> = (0..total).filter(|&i| outcomes[i].is_none()).collect();
    let mut held: Vec<Option<J::Task>> = tasks.into_iter().map(Some).collect();
    let run_tasks: Vec<J::Task> = to_run.iter().filter_map(|&i| held[i].take()).collect();

    let costs: Vec<u64> = run_tasks.iter().map(J::cost).collect();
    let total_bytes = J::COST_IS_BYTES.then(|| costs.iter().sum());
    let progress = Progress::new(options.progress, run_tasks.len() as u64, total_bytes);
    let supervisor = Supervisor::<J>::new(engine_config(options), setup);
    let _signals = SignalGuard::install(supervisor.stopper())
        .map_err(|e| CliError::Usage(format!("cannot watch for signals: {e}")))?;
    let mut observer = Reporter {
        stopper: supervisor.stopper(),
        stopped_for_pipe: false,
        out,
        record: &mut record,
        quiet: options.quiet,
        verbose: options.verbose,
        progress,
        costs: if J::COST_IS_BYTES { costs } else { Vec::new() },
        to_run: &to_run,
        journal: journal.writer,
    };
    let report = supervisor.run(run_tasks, &mut observer);
    observer.progress.finish();
    if let Some(writer) = observer.journal.take()
        && let Err(e) = writer.finish()
    {
        eprintln!("supervisor: {e}");
    }
    let report = report?;
    if options.verbose {
        for (slot, s) in report.summary.slots.iter().enumerate() {
            eprintln!(
                "supervisor: slot {slot}: pids {:?}, {} tasks",
                s.pids, s.tasks
            );
        }
    }
    // Put the run's tasks and outcomes back among the journal's, in task order.
    for ((&index, task), outcome) in to_run.iter().zip(report.tasks).zip(report.outcomes) {
        held[index] = Some(task);
        outcomes[index] = outcome;
    }
    Ok(Report {
        tasks: held.into_iter().flatten().collect(),
        outcomes,
        summary: report.summary,
    })
}

/// Entries discovery skipped: FIFOs, sockets and devices each get a note; symlinks not
/// followed (often thousands in a system tree) get one line at the end unless `-v`.
pub(crate) struct Skips {
    quiet: bool,
    verbose: bool,
    /// All skipped entries.
    pub count: u64,
    symlinks: u64,
}

impl Skips {
    pub(crate) fn new(options: &RunOptions) -> Self {
        Skips {
            quiet: options.quiet,
            verbose: options.verbose,
            count: 0,
            symlinks: 0,
        }
    }

    /// Records one skipped entry, noting it on stderr where that is useful.
    pub(crate) fn note(&mut self, path: &[u8], reason: SkipReason) {
        self.count += 1;
        if reason == SkipReason::Symlink {
            self.symlinks += 1;
            if !self.verbose {
                return;
            }
        }
        if !self.quiet {
            eprintln!(
                "supervisor: skipping {}: {reason}",
                output::display_path(path)
            );
        }
    }

    /// The closing line about symlinks, if any were skipped silently.
    pub(crate) fn finish(&self) {
        if self.symlinks > 0 && !self.quiet && !self.verbose {
            eprintln!(
                "supervisor: skipped {} symbolic links (not followed; -v lists them, --follow-symlinks follows them)",
                self.symlinks
            );
        }
    }
}

/// Turns outcomes into records and worker notices into stderr lines.
struct Reporter<'a, F, O> {
    /// Stops the run when the reader of stdout goes away (`| head`).
    stopper: Stopper,
    stopped_for_pipe: bool,
    out: &'a mut Output,
    record: &'a mut F,
    quiet: bool,
    verbose: bool,
    progress: Progress,
    /// Bytes per task, for jobs whose cost is bytes (empty otherwise).
    costs: Vec<u64>,
    /// The task index of each task the engine runs (they are numbered from 0 there).
    to_run: &'a [usize],
    /// Where completed results are appended, with `--journal`/`--resume`.
    journal: Option<JournalWriter<O>>,
}

impl<T, O, F> Observer<T, O> for Reporter<'_, F, O>
where
    O: serde::Serialize,
    F: FnMut(usize, &T, &Outcome<O>) -> Vec<output::Record>,
{
    fn outcome(&mut self, run_index: usize, task: &T, outcome: &Outcome<O>) {
        let index = self.to_run[run_index];
        if let Some(writer) = &mut self.journal
            && let Err(e) = writer.append(index as u64, outcome)
        {
            // The run goes on: its output is still complete, only resuming is lost.
            eprintln!("supervisor: {e}; continuing without the journal");
            self.journal = None;
        }
        for record in (self.record)(index, task, outcome) {
            self.out.push(record);
        }
        if !self.stopped_for_pipe && self.out.reader_went_away() {
            self.stopped_for_pipe = true;
            self.stopper
                .stop(StopMode::Graceful, "standard output was closed");
        }
        let bytes = self.costs.get(run_index).copied().unwrap_or(0);
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
                let last = telling_line(stderr_tail);
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
pub(crate) fn finish(
    out: Output,
    report_summary: &supervisor_runtime::Summary,
    skipped: u64,
) -> Result<u8, CliError> {
    let written = out
        .finish(report_summary, skipped)
        .map_err(CliError::Output)?;
    exit_code(&written, report_summary)
}

/// Like [`finish`], for a job that hands over its own rows.
pub(crate) fn finish_rows(
    out: Output,
    rows: &dyn output::Rows,
    report_summary: &supervisor_runtime::Summary,
    skipped: u64,
) -> Result<u8, CliError> {
    let written = out
        .finish_rows(rows, report_summary, skipped)
        .map_err(CliError::Output)?;
    exit_code(&written, report_summary)
}

/// The exit code of a run whose output was written (see the README's table).
fn exit_code(
    written: &output::Finished,
    report_summary: &supervisor_runtime::Summary,
) -> Result<u8, CliError> {
    if written.reader_went_away {
        return Ok(code::OK);
    }
    if let Some(signal_code) = crate::signals::exit_code() {
        return Ok(signal_code);
    }
    if let Some(reason) = &report_summary.gave_up {
        eprintln!("supervisor: gave up: {reason}");
        return Ok(code::GAVE_UP);
    }
    Ok(if written.failed > 0 {
        code::TASKS_FAILED
    } else {
        code::OK
    })
}

/// The line of a dead worker's stderr that best says what happened: an allocation failure if
/// there is one, else the last line that is not Rust's advice about backtraces.
fn telling_line(stderr: &str) -> &str {
    let lines = || stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .rfind(|l| l.contains("memory allocation of"))
        .or_else(|| lines().rfind(|l| !l.starts_with("note:")))
        .unwrap_or("")
}
