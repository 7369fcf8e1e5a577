//! Starting workers: one long-lived thread forks them all, and each handshake runs on a thread
//! of its own, which then stays on as the worker's reader.
//!
//! One forking thread, alive for the whole run, because `PR_SET_PDEATHSIG` fires when the
//! *thread* that spawned a child exits, not the process. Handshakes are separate so that one
//! worker that is slow to answer (or hung) delays no other slot's refill; each is bounded by
//! the handshake timeout and ends early when its child dies. A worker needs a thread that
//! reads its results for its whole life anyway: the handshake's thread becomes it (once the
//! news that the worker is ready is out, so that news comes before anything it says), which
//! saves a thread per worker.

use crate::Error;
use crate::bootstrap;
use crate::handshake::Connection;
use crate::process::{ChildProcess, ExitInfo};
use crate::protocol::{self, Setup};
use crate::scoreboard::Scoreboard;
use crate::task_image::{SharedImage, TaskImage};
use ipc_channel::ipc::{IpcBytesReceiver, IpcBytesSender};
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

/// A request to fill a slot with a new worker.
pub(crate) struct SpawnRequest {
    pub(crate) slot: usize,
    pub(crate) generation: u64,
}

/// What became of a [`SpawnRequest`], in order: `Started` (unless it failed before a process
/// existed), then `Ready` or `Failed`.
pub(crate) enum SpawnNews {
    /// The process exists; its handshake is in progress.
    Started {
        slot: usize,
        generation: u64,
        child: Arc<ChildProcess>,
        /// A copy of our end of its bootstrap pair: shutting it down aborts the handshake.
        abort: Option<OwnedFd>,
    },
    /// The worker is connected and has its setup; its results are being read.
    Ready {
        slot: usize,
        generation: u64,
        child: Arc<ChildProcess>,
        /// Where its tasks go.
        tasks: IpcBytesSender,
        /// The parent's end of the bootstrap pair, held while the worker lives.
        bootstrap: OwnedFd,
    },
    /// It could not be started; the process (if any) was killed and reaped.
    Failed {
        slot: usize,
        generation: u64,
        error: Error,
        pid: Option<u32>,
        exit: Option<ExitInfo>,
        /// Not attempted: spawning was cancelled.
        cancelled: bool,
    },
}

/// What the spawner needs to know about the run.
pub(crate) struct SpawnPlan {
    pub(crate) exe: PathBuf,
    /// [`crate::Config::worker_args`].
    pub(crate) args: Vec<OsString>,
    pub(crate) job: String,
    pub(crate) setup: Vec<u8>,
    pub(crate) board: Arc<Scoreboard>,
    /// The run's task image, built before the first worker's bootstrap.
    pub(crate) image: Arc<SharedImage>,
    pub(crate) handshake_timeout: Duration,
    /// `RLIMIT_DATA` for each worker, in bytes.
    pub(crate) memory_limit: Option<u64>,
    /// Where the workers' stdout and stderr go.
    pub(crate) output: crate::config::WorkerOutput,
    /// Workers time each task (the run has an event log).
    pub(crate) timing: bool,
    /// How long a worker whose handshake failed or was aborted may take to exit by itself
    /// (removing its handshake socket) before SIGKILL.
    pub(crate) abort_grace: Duration,
}

/// How a ready worker's results are read, on its handshake's thread: `(slot, generation,
/// child, results, news)`, until the worker is gone and reaped.
pub(crate) type ReadResults<E> = fn(usize, u64, Arc<ChildProcess>, IpcBytesReceiver, Sender<E>);

/// Serves requests until the request channel closes; `news` hears about each (`wrap` turns
/// news into the receiver's event type) and each ready worker's results (`read`). Once
/// `cancelled` is set, requests end as cancelled.
pub(crate) fn serve<E: Send + 'static>(
    plan: SpawnPlan,
    requests: Receiver<SpawnRequest>,
    news: Sender<E>,
    wrap: fn(SpawnNews) -> E,
    read: ReadResults<E>,
    cancelled: Arc<AtomicBool>,
) {
    let plan = Arc::new(plan);
    for SpawnRequest { slot, generation } in requests {
        let failed = |error, pid, exit, cancelled| SpawnNews::Failed {
            slot,
            generation,
            error,
            pid,
            exit,
            cancelled,
        };
        if cancelled.load(Ordering::Acquire) {
            let error = Error::Protocol("the run ended".into());
            if news.send(wrap(failed(error, None, None, true))).is_err() {
                return;
            }
            continue;
        }
        let started = bootstrap::pair().and_then(|(ours, theirs)| {
            let exe = plan.exe.to_string_lossy();
            ChildProcess::spawn(&exe, &plan.args, theirs, plan.memory_limit, plan.output)
                .map(|child| (ours, child))
        });
        let (ours, child) = match started {
            Ok(started) => started,
            Err(error) => {
                if news.send(wrap(failed(error, None, None, false))).is_err() {
                    return;
                }
                continue;
            }
        };
        let _ = news.send(wrap(SpawnNews::Started {
            slot,
            generation,
            child: Arc::clone(&child),
            abort: ours.try_clone().ok(),
        }));
        let plan = Arc::clone(&plan);
        let reply = news.clone();
        let handshake = std::thread::Builder::new()
            .name(format!("worker-{}-handshake", child.pid()))
            .stack_size(256 * 1024);
        let theirs = Arc::clone(&child);
        let spawned = handshake.spawn(move || match handshake_one(&plan, &ours, &theirs, slot) {
            Ok(Connection { tasks, results }) => {
                let ready = SpawnNews::Ready {
                    slot,
                    generation,
                    child: Arc::clone(&theirs),
                    tasks,
                    bootstrap: ours,
                };
                if reply.send(wrap(ready)).is_err() {
                    // Nobody will feed it: it is killed, and reaped as its channel closes.
                    theirs.kill();
                }
                read(slot, generation, theirs, results, reply);
            }
            Err(error) => {
                // A worker whose handshake failed or was aborted removes its handshake
                // socket and exits by itself; give it that moment before SIGKILL.
                theirs.wait_exit(plan.abort_grace);
                theirs.kill();
                let exit = theirs.wait().ok();
                let _ = reply.send(wrap(SpawnNews::Failed {
                    slot,
                    generation,
                    error,
                    pid: Some(theirs.pid()),
                    exit,
                    cancelled: false,
                }));
            }
        });
        if spawned.is_err() {
            child.kill();
            let exit = child.wait().ok();
            let error = Error::Protocol("cannot start a handshake thread".into());
            let _ = news.send(wrap(failed(error, Some(child.pid()), exit, false)));
        }
    }
}

fn handshake_one(
    plan: &SpawnPlan,
    sock: &OwnedFd,
    child: &ChildProcess,
    slot: usize,
) -> Result<Connection, Error> {
    let board = plan
        .board
        .fd()
        .ok_or_else(|| Error::Protocol("the scoreboard has no descriptor".into()))?;
    let image = plan.image.get_or_build().map(TaskImage::fd);
    let connection = bootstrap::parent(
        sock,
        child.pid(),
        slot,
        board,
        image,
        plan.handshake_timeout,
    )?;
    let setup = Setup {
        job: plan.job.clone(),
        setup: plan.setup.clone(),
        timing: plan.timing,
    };
    let frame = protocol::encode(&setup)?;
    connection
        .tasks
        .send(&frame)
        .map_err(|e| Error::io("cannot send the setup", e))?;
    Ok(connection)
}
