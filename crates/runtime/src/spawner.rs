//! The long-lived thread that starts every worker of a run.
//!
//! One thread, alive for the whole run, because `PR_SET_PDEATHSIG` fires when the *thread*
//! that spawned a child exits, not the process. It also keeps the (guarded) handshake off the
//! coordinator's event loop.

use crate::Error;
use crate::handshake::{Connection, Rendezvous};
use crate::process::{ChildProcess, ExitInfo};
use crate::protocol::{self, Setup};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

/// A request to fill a slot with a new worker.
pub(crate) struct SpawnRequest {
    pub(crate) slot: usize,
    pub(crate) generation: u64,
}

/// What became of a [`SpawnRequest`].
pub(crate) enum Spawned {
    /// The worker is connected and has its setup.
    Ready {
        child: Arc<ChildProcess>,
        connection: Connection,
    },
    /// It could not be started; the process (if any) was killed and reaped.
    Failed {
        error: Error,
        pid: Option<u32>,
        exit: Option<ExitInfo>,
    },
}

/// What the spawner needs to know about the run.
pub(crate) struct SpawnPlan {
    pub(crate) exe: PathBuf,
    /// [`crate::Config::worker_args`].
    pub(crate) args: Vec<OsString>,
    pub(crate) job: String,
    pub(crate) setup: Vec<u8>,
    pub(crate) scoreboard: Option<String>,
    pub(crate) handshake_timeout: Duration,
    /// `RLIMIT_DATA` for each worker, in bytes.
    pub(crate) memory_limit: Option<u64>,
}

/// Serves requests until the request channel closes; each answer goes to `reply`.
pub(crate) fn serve<E>(
    plan: SpawnPlan,
    requests: Receiver<SpawnRequest>,
    reply: Sender<E>,
    wrap: impl Fn(SpawnRequest, Spawned) -> E,
) {
    for request in requests {
        let outcome = spawn_one(&plan, request.slot);
        if reply.send(wrap(request, outcome)).is_err() {
            return;
        }
    }
}

fn spawn_one(plan: &SpawnPlan, slot: usize) -> Spawned {
    let rendezvous = match Rendezvous::new() {
        Ok(r) => r,
        Err(error) => {
            return Spawned::Failed {
                error,
                pid: None,
                exit: None,
            };
        }
    };
    let exe = plan.exe.to_string_lossy();
    let child = match ChildProcess::spawn(
        &exe,
        &plan.args,
        rendezvous.name(),
        rendezvous.token(),
        plan.memory_limit,
    ) {
        Ok(child) => child,
        Err(error) => {
            return Spawned::Failed {
                error,
                pid: None,
                exit: None,
            };
        }
    };
    let watched = Arc::clone(&child);
    let connected = rendezvous
        .accept(child.pid(), plan.handshake_timeout, move || {
            watched.has_exited()
        })
        .and_then(|connection| {
            let setup = Setup {
                job: plan.job.clone(),
                setup: plan.setup.clone(),
                slot: slot as u32,
                scoreboard: plan.scoreboard.clone(),
            };
            let frame = protocol::encode(&setup)?;
            connection
                .tasks
                .send(&frame)
                .map_err(|e| Error::io("cannot send the setup", e))?;
            Ok(connection)
        });
    match connected {
        Ok(connection) => Spawned::Ready { child, connection },
        Err(error) => {
            child.kill();
            let exit = child.wait().ok();
            Spawned::Failed {
                error,
                pid: Some(child.pid()),
                exit,
            }
        }
    }
}
