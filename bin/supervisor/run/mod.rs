//! `supervisor run`: turn a job's arguments into tasks, run them supervised, write results.

mod check;
mod cpu;
mod events;
mod exec;
mod fault;
mod hash;
mod hash_results;
mod journal;
mod logs;
mod probe;

use crate::cli::{JobCommand, RunArgs, RunOptions};
use crate::error::{CliError, code};
use crate::output::{self, Output, Sink};
use crate::progress::Progress;
use crate::signals::SignalGuard;
use std::sync::Arc;
use supervisor_jobs::SkipReason;
use supervisor_runtime::journal::JournalWriter;
use supervisor_runtime::{
    Chaos, Config, Job, Notice, Observer, Outcome, Report, StopMode, Stopper, Summary, Supervisor,
    TaskList,
};

pub(crate) use exec::command_words as exec_command_words;
pub(crate) use logs::patterns as logs_patterns;

/// Runs the job and returns the process exit code.
pub fn run(args: RunArgs) -> Result<u8, CliError> {
    // --algo before the job's name joins the hash job's; then a partitioned run resolves its
    // share (and, with --plan, its job).
    let job = match (args.job, args.algo) {
        (Some(job), algo) => Some(hash::take_run_level_algo(job, algo)?),
        (None, Some(_)) => {
            return Err(CliError::Usage(
                "--algo is an option of the hash job (a --plan names the job and its arguments)"
                    .into(),
            ));
        }
        (None, None) => None,
    };
    let (options, job) = crate::partition::prepare(args.options, job)?;
    match job {
        JobCommand::Hash(args) => hash::run(&options, args),
        JobCommand::Logs(args) => logs::run(&options, args),
        JobCommand::Probe(args) => probe::run(&options, args),
        JobCommand::Cpu(args) => cpu::run(&options, args),
        JobCommand::Fault(args) => fault::run(&options, args),
        JobCommand::Exec(args) => exec::run(&options, args),
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
    if options.forward_output {
        config.output = supervisor_runtime::WorkerOutput::Forward;
    }
    config
}

pub(crate) fn open_output(options: &RunOptions, view: output::View) -> Result<Output, CliError> {
    let sink = Sink::open(options.output.as_deref()).map_err(CliError::Output)?;
    Ok(Output::new(options.format, sink, options.quiet, view)
        .for_share(options.cluster.share.clone()))
}

/// Where a run's records go as its tasks finish: the shared [`Output`], or a job's own
/// writer (`exec` streams bytes that are no [`output::Record`]).
pub(crate) trait Collect {
    /// What the job's `record` callback makes of an outcome.
    type Record;
    /// Takes one record, in completion order.
    fn push(&mut self, record: Self::Record);
    /// True when stdout was closed by its reader (`| head`): the run stops.
    fn reader_went_away(&self) -> bool;
    /// Adds a job-specific entry to the summary (`key` in JSON, `line` in text).
    fn add_summary(&mut self, key: &str, value: serde_json::Value, line: String);
}

impl Collect for Output {
    type Record = output::Record;

    fn push(&mut self, record: output::Record) {
        Output::push(self, record);
    }

    fn reader_went_away(&self) -> bool {
        Output::reader_went_away(self)
    }

    fn add_summary(&mut self, key: &str, value: serde_json::Value, line: String) {
        Output::add_summary(self, key, value, line);
    }
}

/// Runs tasks and feeds each final outcome to `record`, in completion order; the records it
/// returns (none, one, or several per task) are the results.
pub(crate) fn supervise<J: Job>(
    options: &RunOptions,
    setup: J::Setup,
    tasks: Vec<J::Task>,
    out: &mut Output,
    record: impl FnMut(usize, &J::Task, &Outcome<J::Output>) -> Vec<output::Record>,
) -> Result<Report<J::Task, J::Output>, CliError> {
    let identity = journal::encode(&setup)?;
    supervise_into::<J, Output>(options, setup, &identity, tasks, out, record)
}

/// [`supervise`] into any [`Collect`]; `identity` is what a journal of the run is bound to
/// besides the job's name and the tasks (the encoded setup, or the part of it that matters
/// for the results).
pub(crate) fn supervise_into<J: Job, C: Collect>(
    options: &RunOptions,
    setup: J::Setup,
    identity: &[u8],
    tasks: Vec<J::Task>,
    out: &mut C,
    mut record: impl FnMut(usize, &J::Task, &Outcome<J::Output>) -> Vec<C::Record>,
) -> Result<Report<J::Task, J::Output>, CliError> {
    let journal = journal::open::<J, _>(options, identity, &tasks)?;
    let timeline = events::Timeline::open(options)?;
    note_resumed(out, tasks.len(), journal.resumed, journal.restored.len());
    // Without restored results every task runs, in place: no second copy of a million tasks.
    let (mut resume, tasks) = if !journal.restored.is_empty() {
        (Some(Resume::new(tasks, journal.restored)), Vec::new())
    } else {
        (None, tasks)
    };
    let run_tasks = match &mut resume {
        Some(resume) => {
            for (index, outcome) in resume.outcomes.iter().enumerate() {
                if let (Some(outcome), Some(task)) = (outcome, &resume.held[index]) {
                    for rec in record(index, task, outcome) {
                        out.push(rec);
                    }
                }
            }
            resume.take_missing()
        }
        None => tasks,
    };
    let total_bytes = J::COST_IS_BYTES.then(|| run_tasks.iter().map(J::cost).sum());
    let engine = Engine {
        options,
        timeline,
        journal: journal.writer,
        to_run: resume.as_ref().map(|r| r.to_run.as_slice()),
        count: run_tasks.len(),
        total_bytes,
    };
    let report = engine.run::<J, C, _, _>(setup, out, &mut record, |supervisor, observer| {
        supervisor.run(run_tasks, observer)
    })?;
    print_slots(options, &report.summary);
    Ok(match resume {
        Some(resume) => resume.merge(report),
        None => report,
    })
}

/// [`supervise`] for a job that holds its tasks compactly ([`TaskList`]) and whose `record`
/// callback keeps what it needs of every outcome (restored from a journal or run now): neither
/// the engine nor this function holds the tasks or the outcomes. Returns the run's summary.
pub(crate) fn supervise_list<J: Job, L: TaskList<J::Task>>(
    options: &RunOptions,
    setup: J::Setup,
    tasks: Arc<L>,
    out: &mut Output,
    mut record: impl FnMut(usize, &J::Task, &Outcome<J::Output>) -> Vec<output::Record>,
) -> Result<Summary, CliError> {
    let identity = journal::encode(&setup)?;
    let journal = journal::open::<J, L>(options, &identity, &*tasks)?;
    let timeline = events::Timeline::open(options)?;
    let total = tasks.len();
    note_resumed(out, total, journal.resumed, journal.restored.len());
    let mut done = vec![
        false;
        if journal.restored.is_empty() {
            0
        } else {
            total
        }
    ];
    for (index, outcome) in &journal.restored {
        let index = *index as usize;
        done[index] = true;
        for rec in record(index, &tasks.task(index), outcome) {
            out.push(rec);
        }
    }
    // A resumed run runs a list of only the missing tasks (`to_run` maps them back).
    let to_run: Option<Vec<usize>> =
        (!journal.restored.is_empty()).then(|| (0..total).filter(|&i| !done[i]).collect());
    drop(done);
    let cost = |i: usize| J::cost(&tasks.task(i));
    let (count, total_bytes) = match &to_run {
        Some(to_run) => (
            to_run.len(),
            J::COST_IS_BYTES.then(|| to_run.iter().map(|&i| cost(i)).sum()),
        ),
        None => (total, J::COST_IS_BYTES.then(|| total_cost::<J, L>(&tasks))),
    };
    let engine = Engine {
        options,
        timeline,
        journal: journal.writer,
        to_run: to_run.as_deref(),
        count,
        total_bytes,
    };
    let summary = match &to_run {
        Some(to_run) => {
            let missing: Vec<J::Task> =
                to_run.iter().map(|&i| tasks.task(i).into_owned()).collect();
            engine.run::<J, Output, _, _>(setup, out, &mut record, |supervisor, observer| {
                supervisor.run_list(Arc::new(missing), observer)
            })?
        }
        None => {
            engine.run::<J, Output, _, _>(setup, out, &mut record, |supervisor, observer| {
                supervisor.run_list(Arc::clone(&tasks), observer)
            })?
        }
    };
    print_slots(options, &summary);
    Ok(summary)
}

/// The sum of every task's cost, read as the engine reads costs ([`TaskList::push_costs`], a
/// piece at a time): building each of a million tasks to cost it took 15 ms of the parent's
/// serial start.
fn total_cost<J: Job, L: TaskList<J::Task>>(tasks: &L) -> u64 {
    const PIECE: usize = 64 << 10;
    let mut costs = Vec::with_capacity(PIECE.min(tasks.len()));
    (0..tasks.len())
        .step_by(PIECE)
        .map(|start| {
            costs.clear();
            tasks.push_costs(start..(start + PIECE).min(tasks.len()), J::cost, &mut costs);
            costs.iter().sum::<u64>()
        })
        .sum()
}

/// Says in the summary how much a resumed journal held.
fn note_resumed<C: Collect>(out: &mut C, total: usize, resumed: bool, restored: usize) {
    if resumed {
        out.add_summary(
            "resumed",
            serde_json::Value::from(restored),
            format!(
                "resumed: {restored} results from the journal, {} run now",
                total - restored
            ),
        );
    }
}

/// With `-v`, the pids and task counts of every worker slot.
fn print_slots(options: &RunOptions, summary: &Summary) {
    if options.verbose {
        for (slot, s) in summary.slots.iter().enumerate() {
            eprintln!(
                "supervisor: slot {slot}: pids {:?}, {} tasks",
                s.pids, s.tasks
            );
        }
    }
}

/// What a run needs around the engine: the timeline, the journal, the progress display.
struct Engine<'a, O> {
    options: &'a RunOptions,
    timeline: events::Timeline,
    journal: Option<JournalWriter<O>>,
    /// The task index of each task the engine runs, when some were restored from a journal.
    to_run: Option<&'a [usize]>,
    /// How many tasks the engine runs, and their bytes (for jobs whose cost is bytes).
    count: usize,
    total_bytes: Option<u64>,
}

impl<'a, O: serde::Serialize> Engine<'a, O> {
    /// Starts the supervisor, hands it and the observer to `run`, and finishes the progress
    /// display, the timeline and the journal whatever `run` returned.
    fn run<J, C, F, R>(
        self,
        setup: J::Setup,
        out: &mut C,
        record: &mut F,
        run: impl FnOnce(
            Supervisor<J>,
            &mut Reporter<'_, F, J::Task, O, C>,
        ) -> Result<R, supervisor_runtime::Error>,
    ) -> Result<R, CliError>
    where
        J: Job<Output = O>,
        C: Collect,
        F: FnMut(usize, &J::Task, &Outcome<O>) -> Vec<C::Record>,
    {
        let options = self.options;
        let progress = Progress::new(options.progress, self.count as u64, self.total_bytes);
        let mut config = engine_config(options);
        config.events = self.timeline.log();
        let supervisor = Supervisor::<J>::new(config, setup);
        let _signals = SignalGuard::install(supervisor.stopper(), self.timeline.log())
            .map_err(|e| CliError::Usage(format!("cannot watch for signals: {e}")))?;
        let mut observer = Reporter {
            stopper: supervisor.stopper(),
            stopped_for_pipe: false,
            out,
            record,
            quiet: options.quiet,
            verbose: options.verbose,
            progress,
            to_run: self.to_run,
            bytes: J::COST_IS_BYTES.then_some(J::cost as fn(&J::Task) -> u64),
            journal: self.journal,
        };
        let result = run(supervisor, &mut observer);
        observer.progress.finish();
        self.timeline.finish(options.quiet);
        if let Some(writer) = observer.journal.take()
            && let Err(e) = writer.finish()
        {
            eprintln!("supervisor: {e}");
        }
        Ok(result?)
    }
}

/// A resumed run: the journal's outcomes, and which tasks still run.
struct Resume<T, O> {
    held: Vec<Option<T>>,
    outcomes: Vec<Option<Outcome<O>>>,
    /// `to_run[k]` is the task index of the k-th task handed to the engine.
    to_run: Vec<usize>,
}

impl<T, O> Resume<T, O> {
    fn new(tasks: Vec<T>, restored: Vec<(u64, Outcome<O>)>) -> Self {
        let mut outcomes: Vec<Option<Outcome<O>>> = Vec::with_capacity(tasks.len());
        outcomes.resize_with(tasks.len(), || None);
        for (index, outcome) in restored {
            outcomes[index as usize] = Some(outcome);
        }
        let to_run = (0..tasks.len())
            .filter(|&i| outcomes[i].is_none())
            .collect();
        Resume {
            held: tasks.into_iter().map(Some).collect(),
            outcomes,
            to_run,
        }
    }

    /// The tasks without an outcome, in task order.
    fn take_missing(&mut self) -> Vec<T> {
        let held = &mut self.held;
        self.to_run.iter().filter_map(|&i| held[i].take()).collect()
    }

    /// The run's tasks and outcomes put back among the journal's, in task order.
    fn merge(mut self, report: Report<T, O>) -> Report<T, O> {
        let ran = self.to_run.iter().zip(report.tasks).zip(report.outcomes);
        for ((&index, task), outcome) in ran {
            self.held[index] = Some(task);
            self.outcomes[index] = outcome;
        }
        Report {
            tasks: self.held.into_iter().flatten().collect(),
            outcomes: self.outcomes,
            summary: report.summary,
        }
    }
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
struct Reporter<'a, F, T, O, C> {
    /// Stops the run when the reader of stdout goes away (`| head`).
    stopper: Stopper,
    stopped_for_pipe: bool,
    out: &'a mut C,
    record: &'a mut F,
    quiet: bool,
    verbose: bool,
    progress: Progress,
    /// The task index of each task the engine runs (they are numbered from 0 there), when
    /// some tasks were restored from a journal; `None`: the same numbering.
    to_run: Option<&'a [usize]>,
    /// A task's size in bytes, for jobs whose cost is bytes (progress shows MB/s).
    bytes: Option<fn(&T) -> u64>,
    /// Where completed results are appended, with `--journal`/`--resume`.
    journal: Option<JournalWriter<O>>,
}

impl<T, O, F, C> Observer<T, O> for Reporter<'_, F, T, O, C>
where
    O: serde::Serialize,
    C: Collect,
    F: FnMut(usize, &T, &Outcome<O>) -> Vec<C::Record>,
{
    fn outcome(&mut self, run_index: usize, task: &T, outcome: &Outcome<O>) {
        let index = self.to_run.map_or(run_index, |to_run| to_run[run_index]);
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
        let bytes = self.bytes.map_or(0, |size| size(task));
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
