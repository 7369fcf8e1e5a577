//! The worker's side: routing a re-executed binary into worker mode and serving tasks.
//!
//! A worker is the same executable started as `EXE __supervisor_worker`, its bootstrap on
//! stdin (see `bootstrap`). The binary's
//! `main` calls [`run_if_worker`] before anything else (no logger, signal handler or thread may
//! start first, or it would start in every worker too).
//!
//! An executable whose `main` is not its author's (a libtest test binary) is started with
//! [`crate::Config::worker_args`] as its argv instead, and the `SUPERVISOR_WORKER_SERVER`
//! environment variable set; the code that those arguments reach calls
//! [`run_if_worker_env`].

use crate::bootstrap;
use crate::events::monotonic_us;
use crate::heartbeat;
use crate::outbox::{Gone, Outbox};
use crate::process::{SERVER_ENV, WORKER_ARG};
use crate::protocol::{self, FromWorker, Setup, Span, TaskResult, ToWorker};
use crate::scoreboard::Scoreboard;
use crate::{Error, Job};
use ipc_channel::ipc::{IpcBytesReceiver, IpcBytesSender};
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::sync::Arc;

/// Exit code of a worker whose parent vanished before or during its start.
pub const ORPHAN_EXIT: u8 = 70;
/// Exit code of a worker that could not connect or set up its job.
pub const SETUP_EXIT: u8 = 71;

type ServeFn = fn(Endpoint) -> ExitCode;

/// The jobs a binary can run as a worker, by name.
#[derive(Default)]
pub struct Registry {
    jobs: HashMap<&'static str, ServeFn>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a job under [`Job::NAME`].
    pub fn register<J: Job>(mut self) -> Self {
        self.jobs.insert(J::NAME, serve::<J>);
        self
    }
}

/// If this process was started as a worker, runs it to completion and returns its exit code;
/// otherwise returns `None` at once and has done nothing.
pub fn run_if_worker(registry: &Registry) -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != WORKER_ARG {
        return None;
    }
    Some(serve_or_report(registry))
}

/// Like [`run_if_worker`], for a worker started with [`crate::Config::worker_args`]: if the
/// `SUPERVISOR_WORKER_SERVER` environment variable is set (whatever argv is), runs this process
/// as a worker to completion and returns its exit code; otherwise returns `None` at once.
pub fn run_if_worker_env(registry: &Registry) -> Option<ExitCode> {
    std::env::var_os(SERVER_ENV)?;
    Some(serve_or_report(registry))
}

fn serve_or_report(registry: &Registry) -> ExitCode {
    match start(registry) {
        Ok(code) => code,
        Err((code, message)) => {
            // stderr may be a pipe whose reader (the parent) is gone: never panic on it.
            let _ = writeln!(
                std::io::stderr(),
                "supervisor worker {}: {message}",
                std::process::id()
            );
            ExitCode::from(code)
        }
    }
}

fn start(registry: &Registry) -> Result<ExitCode, (u8, String)> {
    // Until the handshake is done, the bootstrap watches the parent itself (so that its socket
    // never outlives it); from here on a parent that dies takes us with it.
    let booted = match bootstrap::worker() {
        Ok(booted) => booted,
        // The parent hung up the bootstrap (it ended the run during our start): the normal
        // end of an aborted start, not worth a line on a stderr that may be the user's
        // terminal.
        Err(Error::Io { source, .. })
            if matches!(
                source.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ) =>
        {
            return Ok(ExitCode::from(SETUP_EXIT));
        }
        Err(e) => return Err((SETUP_EXIT, e.to_string())),
    };
    use nix::sys::signal::Signal;
    nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL)).map_err(|e| {
        (
            ORPHAN_EXIT,
            format!("cannot set the parent-death signal: {e}"),
        )
    })?;
    // The parent may have died before the death signal was armed: then we are someone
    // else's child now.
    if nix::unistd::getppid().as_raw() as u32 != booted.parent_pid {
        return Err((ORPHAN_EXIT, "the supervisor is gone".to_string()));
    }
    let first = booted
        .tasks
        .recv()
        .map_err(|e| (SETUP_EXIT, format!("no setup from the parent: {e:?}")))?;
    let setup: Setup = protocol::decode(&first).map_err(|e| (SETUP_EXIT, e.to_string()))?;
    let Some(serve) = registry.jobs.get(setup.job.as_str()) else {
        let message = Error::UnknownJob(setup.job.clone()).to_string();
        let _ = booted.results.send(
            &protocol::encode(&FromWorker::<()>::SetupFailed(message.clone())).unwrap_or_default(),
        );
        return Err((SETUP_EXIT, message));
    };
    Ok(serve(Endpoint {
        tasks: booted.tasks,
        results: booted.results,
        board: booted.board,
        image: booted.image,
        slot: booted.slot,
        setup,
    }))
}

/// A connected worker, before its job is built.
pub struct Endpoint {
    tasks: IpcBytesReceiver,
    results: IpcBytesSender,
    board: OwnedFd,
    image: Option<OwnedFd>,
    slot: usize,
    setup: Setup,
}

/// Tells the parent the job could not start, and says so on stderr.
fn setup_failed<O: serde::Serialize>(
    results: &IpcBytesSender,
    job: &str,
    message: &str,
) -> ExitCode {
    if let Ok(frame) = protocol::encode(&FromWorker::<O>::SetupFailed(message.to_string())) {
        let _ = results.send(&frame);
    }
    let _ = writeln!(
        std::io::stderr(),
        "supervisor worker: cannot start job {job}: {message}"
    );
    ExitCode::from(SETUP_EXIT)
}

fn serve<J: Job>(endpoint: Endpoint) -> ExitCode {
    let Endpoint {
        tasks,
        results,
        board,
        image,
        slot,
        setup,
    } = endpoint;
    // The run's task image, mapped for the worker's life: tasks sent by index are built from it.
    let image = match image
        .as_ref()
        .map(crate::sys::map_sealed_for_life)
        .transpose()
    {
        Ok(image) => image,
        Err(e) => {
            return setup_failed::<J::Output>(
                &results,
                J::NAME,
                &format!("cannot map the task image: {e}"),
            );
        }
    };
    // Without its scoreboard a worker could not be timed out or charged by the parent: it
    // must not run at all.
    let board = match Scoreboard::attach_fd(board) {
        Ok(board) if slot < board.slots() => Arc::new(board),
        Ok(_) => {
            return setup_failed::<J::Output>(&results, J::NAME, "slot beyond the scoreboard");
        }
        Err(e) => {
            return setup_failed::<J::Output>(
                &results,
                J::NAME,
                &format!("cannot attach the scoreboard: {e}"),
            );
        }
    };
    // Beating starts before the job is built, so a slow `J::start` is not taken for a hang.
    let heartbeat = match heartbeat::start(Arc::clone(&board), slot) {
        Ok(heartbeat) => heartbeat,
        Err(e) => {
            return setup_failed::<J::Output>(
                &results,
                J::NAME,
                &format!("cannot start the heartbeat thread: {e}"),
            );
        }
    };
    let job = protocol::decode::<J::Setup>(&setup.setup)
        .map_err(|e| e.to_string())
        .and_then(J::start);
    let job = match job {
        Ok(job) => job,
        Err(message) => return setup_failed::<J::Output>(&results, J::NAME, &message),
    };
    // Tasks are handed out only now: none waits in a worker that is still starting.
    match protocol::encode(&FromWorker::<J::Output>::Ready) {
        Ok(frame) if results.send(&frame).is_ok() => {}
        // The parent is gone (or cannot hear us): nothing to serve.
        _ => return ExitCode::SUCCESS,
    }
    let outbox = match Outbox::start(results.clone()) {
        Ok(outbox) => outbox,
        Err(e) => {
            return setup_failed::<J::Output>(
                &results,
                J::NAME,
                &format!("cannot start the result sender: {e}"),
            );
        }
    };
    drop(results);
    // On SIGTERM (a timeout, a stop), send the results already finished, then die of the
    // signal as if it had not been caught. Without the hook SIGTERM still ends the worker.
    let flusher = outbox.flusher();
    let _ = heartbeat.on_sigterm(move || flusher.flush_final());
    quiet_panics_inside_tasks();
    let mut server = Server::<J> {
        job,
        board,
        slot,
        outbox,
        timing: setup.timing,
        free_at: 0,
    };
    let code = loop {
        let Ok(bytes) = tasks.recv() else {
            // The parent closed our task channel (or died): nothing more to do.
            break ExitCode::SUCCESS;
        };
        // A rerun is a batch of one whose earlier attempts' workers died.
        let (batch, deaths) = match protocol::decode::<ToWorker<J::Task>>(&bytes) {
            Ok(ToWorker::Batch(batch)) => (Ok(batch), 0),
            Ok(ToWorker::Rerun(id, Some(task), deaths)) => (Ok(vec![(id, task)]), deaths),
            Ok(ToWorker::Rerun(id, None, deaths)) => {
                (server.tasks_from_image(image, vec![id]), deaths)
            }
            Ok(ToWorker::Indexed(ids)) => (server.tasks_from_image(image, ids), 0),
            Ok(ToWorker::Shutdown) => break ExitCode::SUCCESS,
            Err(e) => (Err(e.to_string()), 0),
        };
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "supervisor worker: {e}");
                break ExitCode::from(SETUP_EXIT);
            }
        };
        if server.run_batch(batch, deaths).is_err() {
            // The parent stopped listening: nothing more to do.
            break ExitCode::SUCCESS;
        }
        // The parent hands out more work as results come back: do not let the last results
        // of a batch wait for the gathering window.
        if server.outbox.send_now().is_err() {
            break ExitCode::SUCCESS;
        }
    };
    server.outbox.close();
    code
}

/// A worker with its job built: runs batches and hands their results to the outbox.
struct Server<J: Job> {
    job: J,
    board: Arc<Scoreboard>,
    slot: usize,
    outbox: Outbox<J::Output>,
    /// Time each task (the run has an event log): one clock read per task, the end of one
    /// task being the start of the next.
    timing: bool,
    /// When the worker became free for its next task (CLOCK_MONOTONIC µs), if timing.
    free_at: u64,
}

impl<J: Job> Server<J> {
    /// The tasks `ids` of the run's fixed list, built from its image.
    fn tasks_from_image(
        &mut self,
        image: Option<&'static [u8]>,
        ids: Vec<u64>,
    ) -> Result<Vec<(u64, J::Task)>, String> {
        let image = image.ok_or("tasks sent by index, and no task image")?;
        ids.into_iter()
            .map(|id| Ok((id, self.job.task_from_image(image, id)?)))
            .collect()
    }

    /// Runs a batch in order: alone, or in groups of up to [`Job::GROUP`] tasks. `deaths`:
    /// for a rerun (a batch of one), how many earlier attempts' workers died; else 0.
    fn run_batch(&mut self, batch: Vec<(u64, J::Task)>, deaths: u32) -> Result<(), Gone> {
        if self.timing {
            self.free_at = monotonic_us();
        }
        if J::GROUP <= 1 || batch.len() == 1 {
            for (id, task) in batch {
                self.run_one(id, task, deaths)?;
            }
            return Ok(());
        }
        let mut batch = batch.into_iter().peekable();
        while batch.peek().is_some() {
            let (ids, tasks): (Vec<u64>, Vec<J::Task>) = batch.by_ref().take(J::GROUP).unzip();
            self.run_group(ids, tasks)?;
        }
        Ok(())
    }

    /// Runs one task: through [`Job::run`], or [`Job::rerun`] after `deaths` earlier attempts
    /// ended with their worker's death.
    fn run_one(&mut self, id: u64, task: J::Task, deaths: u32) -> Result<(), Gone> {
        let cost = J::cost(&task);
        if self.timing {
            self.board.mark_start_us(self.slot, self.free_at);
        }
        self.board.begin_task(self.slot, id, &J::label(&task));
        let job = &mut self.job;
        let result = match in_task(|| match deaths {
            0 => job.run(task),
            _ => job.rerun(task, deaths),
        }) {
            Ok(output) => TaskResult::Done(output),
            Err(payload) => TaskResult::Panicked(panic_message(payload.as_ref())),
        };
        let span = self.timing.then(|| self.span_until(monotonic_us()));
        self.outbox.push(id, result, span)?;
        self.board.end_task(self.slot, cost);
        Ok(())
    }

    /// Runs tasks through [`Job::run_group`]; if that panics (or miscounts), runs them again
    /// one by one so each gets its own outcome.
    fn run_group(&mut self, ids: Vec<u64>, tasks: Vec<J::Task>) -> Result<(), Gone> {
        let (job, board, slot, timing) = (&mut self.job, &self.board, self.slot, self.timing);
        // With timing, when each task was first named: a task runs from then until the next
        // one's first naming (the last until the group's end), as the scoreboard charges them.
        // A job may name a task again (md5 names a group's first file as it opens the group's
        // directories and again as it reads it, after naming the others): its span still
        // starts at the first, or the group's opening would be charged to no task at all.
        let mut named = vec![0u64; if timing { tasks.len() } else { 0 }];
        let mut at = |i: usize| {
            if let Some(t) = named.get_mut(i) {
                if *t == 0 {
                    *t = monotonic_us();
                }
                board.mark_start_us(slot, *t);
            }
            board.begin_task(slot, ids[i], &J::label(&tasks[i]));
        };
        match in_task(|| job.run_group(&tasks, &mut at)) {
            Ok(outputs) if outputs.len() == tasks.len() => {
                let end = if timing { monotonic_us() } else { 0 };
                let cost: u64 = tasks.iter().map(J::cost).sum();
                let mut results = Vec::with_capacity(tasks.len());
                for (i, (id, output)) in ids.into_iter().zip(outputs).enumerate() {
                    let span = timing.then(|| {
                        let next = named[i + 1..].iter().copied().find(|&t| t != 0);
                        let started = if named[i] != 0 {
                            named[i]
                        } else {
                            self.free_at
                        };
                        self.free_at = started.max(self.free_at);
                        self.span_until(next.unwrap_or(end))
                    });
                    results.push((id, TaskResult::Done(output), span));
                }
                // The group's results queued under one lock and counted in one go: per task,
                // the lock and the shared counters were a few percent of a worker's own time
                // on a million small files.
                self.outbox.push_all(results)?;
                self.board.end_tasks(self.slot, tasks.len() as u64, cost);
                Ok(())
            }
            _ => {
                for (id, task) in ids.into_iter().zip(tasks) {
                    self.run_one(id, task, 0)?;
                }
                Ok(())
            }
        }
    }
}

impl<J: Job> Server<J> {
    /// The span of a task that ran from when the worker was free until `end`, which is when
    /// it is free again.
    fn span_until(&mut self, end: u64) -> Span {
        let start = self.free_at.min(end);
        self.free_at = end;
        Span {
            start_us: start,
            dur_us: end - start,
        }
    }
}

/// Runs `f` as task code: a panic in it is caught and returned, without the panic message
/// on stderr (see [`quiet_panics_inside_tasks`]).
fn in_task<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    IN_TASK.set(true);
    let caught = std::panic::catch_unwind(AssertUnwindSafe(f));
    IN_TASK.set(false);
    caught
}

thread_local! {
    static IN_TASK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A task's panic is reported as its result, so printing it too would only add noise to the
/// worker's stderr tail; a panic anywhere else still prints.
fn quiet_panics_inside_tasks() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_TASK.get() {
            default(info);
        }
    }));
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_string()
    }
}
