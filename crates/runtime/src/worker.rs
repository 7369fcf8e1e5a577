//! The worker's side: routing a re-executed binary into worker mode and serving tasks.
//!
//! A worker is the same executable started as `EXE __supervisor_worker <server>`. The binary's
//! `main` calls [`run_if_worker`] before anything else (no logger, signal handler or thread may
//! start first, or it would start in every worker too).
//!
//! An executable whose `main` is not its author's (a libtest test binary) is started with
//! [`crate::Config::worker_args`] as its argv instead, and the server name in the
//! `SUPERVISOR_WORKER_SERVER` environment variable; the code that those arguments reach calls
//! [`run_if_worker_env`].

use crate::handshake;
use crate::heartbeat;
use crate::process::{PARENT_ENV, SERVER_ENV, TOKEN_ENV, WORKER_ARG};
use crate::protocol::{self, FromWorker, Setup, TaskResult, ToWorker};
use crate::scoreboard::{self, Scoreboard};
use crate::{Error, Job};
use ipc_channel::ipc::{IpcBytesReceiver, IpcBytesSender};
use std::collections::HashMap;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::sync::Arc;

/// Exit code of a worker whose parent vanished before or during its start.
pub const ORPHAN_EXIT: u8 = 70;
/// Exit code of a worker that could not connect or set up its job.
pub const SETUP_EXIT: u8 = 71;

/// Results are held back at most this long (by the scoreboard's coarse clock, so up to a
/// kernel tick more), so many tiny tasks share a message.
const FLUSH_AFTER_MS: u64 = 2;
/// ... and at most this many.
const FLUSH_COUNT: usize = 1024;

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
    let server = args.next().and_then(|s| s.into_string().ok());
    Some(serve_or_report(server, registry))
}

/// Like [`run_if_worker`], for a worker started with [`crate::Config::worker_args`]: if the
/// `SUPERVISOR_WORKER_SERVER` environment variable is set (whatever argv is), runs this process
/// as a worker to completion and returns its exit code; otherwise returns `None` at once.
pub fn run_if_worker_env(registry: &Registry) -> Option<ExitCode> {
    let server = std::env::var_os(SERVER_ENV)?;
    Some(serve_or_report(server.into_string().ok(), registry))
}

fn serve_or_report(server: Option<String>, registry: &Registry) -> ExitCode {
    match start(server, registry) {
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

fn start(server: Option<String>, registry: &Registry) -> Result<ExitCode, (u8, String)> {
    let server = server.ok_or((SETUP_EXIT, "missing handshake server name".to_string()))?;
    let token =
        std::env::var(TOKEN_ENV).map_err(|_| (SETUP_EXIT, format!("missing {TOKEN_ENV}")))?;
    let connected = handshake::connect(&server, &token);
    // The socket's directory is removed by the parent only after `accept`; a parent killed
    // before that would leave it behind. Once we have connected (or failed to), nobody else
    // needs the path, so remove it here too: whichever side comes first wins.
    handshake::remove_socket_dir(&server);
    guard_against_orphaning()?;
    let (tasks, results) = connected.map_err(|e| (SETUP_EXIT, e.to_string()))?;
    let first = tasks
        .recv()
        .map_err(|e| (SETUP_EXIT, format!("no setup from the parent: {e:?}")))?;
    let setup: Setup = protocol::decode(&first).map_err(|e| (SETUP_EXIT, e.to_string()))?;
    let Some(serve) = registry.jobs.get(setup.job.as_str()) else {
        let message = Error::UnknownJob(setup.job.clone()).to_string();
        let _ = results.send(
            &protocol::encode(&FromWorker::<()>::SetupFailed(message.clone())).unwrap_or_default(),
        );
        return Err((SETUP_EXIT, message));
    };
    Ok(serve(Endpoint {
        tasks,
        results,
        setup,
    }))
}

/// Dies with the parent (PDEATHSIG), and closes the race where the parent died before that
/// was armed by checking we are still the child of the pid that spawned us.
fn guard_against_orphaning() -> Result<(), (u8, String)> {
    use nix::sys::signal::Signal;
    nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL)).map_err(|e| {
        (
            ORPHAN_EXIT,
            format!("cannot set the parent-death signal: {e}"),
        )
    })?;
    let expected = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|s| s.parse::<i32>().ok())
        .ok_or((SETUP_EXIT, format!("missing {PARENT_ENV}")))?;
    if nix::unistd::getppid().as_raw() != expected {
        return Err((ORPHAN_EXIT, "the supervisor is gone".to_string()));
    }
    Ok(())
}

/// A connected worker, before its job is built.
pub struct Endpoint {
    tasks: IpcBytesReceiver,
    results: IpcBytesSender,
    setup: Setup,
}

fn serve<J: Job>(endpoint: Endpoint) -> ExitCode {
    let Endpoint {
        tasks,
        results,
        setup,
    } = endpoint;
    // A worker without a scoreboard still works; the parent then charges crashes by order
    // (and cannot apply timeouts to it).
    let board = setup
        .scoreboard
        .as_deref()
        .and_then(|path| Scoreboard::attach(path, true).ok())
        .map(Arc::new);
    let slot = setup.slot as usize;
    // Beating starts before the job is built, so a slow `J::start` is not taken for a hang.
    let beating = match &board {
        Some(board) => heartbeat::start(Arc::clone(board), slot)
            .map_err(|e| format!("cannot start the heartbeat thread: {e}")),
        None => Ok(()),
    };
    let job_setup = beating
        .and_then(|()| protocol::decode::<J::Setup>(&setup.setup).map_err(|e| e.to_string()));
    let job = job_setup.and_then(J::start);
    let job = match job {
        Ok(job) => job,
        Err(message) => {
            if let Ok(frame) =
                protocol::encode(&FromWorker::<J::Output>::SetupFailed(message.clone()))
            {
                let _ = results.send(&frame);
            }
            let _ = writeln!(
                std::io::stderr(),
                "supervisor worker: cannot start job {}: {message}",
                J::NAME
            );
            return ExitCode::from(SETUP_EXIT);
        }
    };
    quiet_panics_inside_tasks();
    let mut server = Server::<J> {
        job,
        board,
        slot,
        results,
        pending: Vec::new(),
        last_flush_ms: scoreboard::now_ms(),
    };
    loop {
        let Ok(bytes) = tasks.recv() else {
            // The parent closed our task channel (or died): nothing more to do.
            return ExitCode::SUCCESS;
        };
        let batch = match protocol::decode::<ToWorker<J::Task>>(&bytes) {
            Ok(ToWorker::Batch(batch)) => batch,
            Ok(ToWorker::Shutdown) => return ExitCode::SUCCESS,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "supervisor worker: {e}");
                return ExitCode::from(SETUP_EXIT);
            }
        };
        if server.run_batch(batch).is_err() || server.flush().is_err() {
            // The parent stopped listening: nothing more to do.
            return ExitCode::SUCCESS;
        }
    }
}

/// The parent hung up our result channel.
struct Gone;

/// A worker with its job built: runs batches and sends their results back.
struct Server<J: Job> {
    job: J,
    board: Option<Arc<Scoreboard>>,
    slot: usize,
    results: IpcBytesSender,
    pending: Vec<(u64, TaskResult<J::Output>)>,
    last_flush_ms: u64,
}

impl<J: Job> Server<J> {
    /// Runs a batch in order: alone, or in groups of up to [`Job::GROUP`] tasks.
    fn run_batch(&mut self, batch: Vec<(u64, J::Task)>) -> Result<(), Gone> {
        if J::GROUP <= 1 || batch.len() == 1 {
            for (id, task) in batch {
                self.run_one(id, task)?;
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

    fn run_one(&mut self, id: u64, task: J::Task) -> Result<(), Gone> {
        let cost = J::cost(&task);
        if let Some(board) = &self.board {
            board.begin_task(self.slot, id, &J::label(&task));
        }
        let job = &mut self.job;
        let result = match in_task(|| job.run(task)) {
            Ok(output) => TaskResult::Done(output),
            Err(payload) => TaskResult::Panicked(panic_message(payload.as_ref())),
        };
        self.push(id, result)?;
        if let Some(board) = &self.board {
            board.end_task(self.slot, cost);
        }
        Ok(())
    }

    /// Runs tasks through [`Job::run_group`]; if that panics (or miscounts), runs them again
    /// one by one so each gets its own outcome.
    fn run_group(&mut self, ids: Vec<u64>, tasks: Vec<J::Task>) -> Result<(), Gone> {
        let (job, board, slot) = (&mut self.job, self.board.as_deref(), self.slot);
        let mut at = |i: usize| {
            if let Some(board) = board {
                board.begin_task(slot, ids[i], &J::label(&tasks[i]));
            }
        };
        match in_task(|| job.run_group(&tasks, &mut at)) {
            Ok(outputs) if outputs.len() == tasks.len() => {
                for ((id, task), output) in ids.into_iter().zip(&tasks).zip(outputs) {
                    self.push(id, TaskResult::Done(output))?;
                    if let Some(board) = &self.board {
                        board.end_task(self.slot, J::cost(task));
                    }
                }
                Ok(())
            }
            _ => {
                for (id, task) in ids.into_iter().zip(tasks) {
                    self.run_one(id, task)?;
                }
                Ok(())
            }
        }
    }

    /// Queues a result, sending the queue when it is full or old enough.
    fn push(&mut self, id: u64, result: TaskResult<J::Output>) -> Result<(), Gone> {
        self.pending.push((id, result));
        if self.pending.len() >= FLUSH_COUNT
            || scoreboard::now_ms().saturating_sub(self.last_flush_ms) >= FLUSH_AFTER_MS
        {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends every queued result in one message.
    fn flush(&mut self) -> Result<(), Gone> {
        self.last_flush_ms = scoreboard::now_ms();
        if self.pending.is_empty() {
            return Ok(());
        }
        let frame = FromWorker::Results(std::mem::take(&mut self.pending));
        let bytes = protocol::encode(&frame).map_err(|_| Gone)?;
        self.results.send(&bytes).map_err(|_| Gone)
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
