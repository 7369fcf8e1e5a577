//! A supervised multi-process engine.
//!
//! # Theory of operation
//!
//! A run has one parent and N worker processes. Workers are re-executions of the parent's own
//! binary (`/proc/self/exe __supervisor_worker <server>`), routed into worker mode by
//! [`worker::run_if_worker`] before `main` does anything else, so nothing the parent set up
//! leaks into them and an upgraded binary cannot break a respawn.
//!
//! - **Bootstrap** ([`handshake`]): the parent creates an `ipc-channel` one-shot server in a
//!   private directory; the child connects, presents the protocol version, a per-spawn random
//!   token and its pid, and hands over two byte channels: tasks (down) and results (up). A guard
//!   unblocks the parent's `accept` if the child dies or hangs before connecting.
//! - **Isolation**: each worker leads its own process group, has `PR_SET_PDEATHSIG(SIGKILL)`
//!   (checked against a parent that died first), reads /dev/null, and has its stderr captured
//!   for failure reports. All workers are spawned by one long-lived thread, because the
//!   parent-death signal follows the spawning thread.
//! - **Scheduling** (`Supervisor`): pull-based. Each worker holds at most two batches; batches
//!   are sized by task cost and shrink toward the end of the run; costliest tasks go first.
//!   Results come back per task, so a crash loses only the task that was running. A job may
//!   take up to [`Job::GROUP`] consecutive tasks of a batch at once ([`Job::run_group`]: many
//!   small files hashed in SIMD lanes side by side); it names each task to the scoreboard
//!   before working on it, so charging stays per task.
//! - **Failure**: the result channel closing is the fast hint; `wait4` is the truth about how
//!   the worker ended ([`ExitKind`]). The task that was running (read from the scoreboard) is
//!   charged an attempt; the rest of the dead worker's batch is re-sent one task per message,
//!   isolating a poison task. A slot is refilled at once; more than R unexpected deaths in T
//!   seconds (restart intensity) stops the run with everything finished so far.
//! - **Limits**: a watchdog on the coordinator's timer reads each worker's scoreboard slot; a
//!   task past `task_timeout`, or a worker whose heartbeat thread went silent past
//!   `heartbeat_timeout` (stopped), gets SIGTERM then SIGKILL after `kill_grace`, and the task
//!   is charged an attempt; these deaths are the supervisor's doing and do not count toward
//!   restart intensity. `max_tasks_per_child` retires a worker (Shutdown frame) once it has
//!   answered its share, and refills the slot. `memory_limit` is an `RLIMIT_DATA` set in the
//!   child before `exec`; an allocation failure under it is reported as such.
//! - **Scoreboard** ([`scoreboard`]): a `memfd` segment of atomics, one slot per worker, each
//!   word with a single writer. The parent reads it to charge crashes and for progress; other
//!   processes (`supervisor ps`) attach it through `/proc/<pid>/fd`. A memfd cannot leak.
//! - **Journal** ([`journal`]): an append-only, checksummed file of finished outcomes, written
//!   within 50 ms of each result, so a run whose parent died can be resumed with only the
//!   missing tasks.
//!
//! The engine knows nothing about what tasks mean: a [`Job`] supplies serde types and a `run`
//! function, and output order is task order whatever happened on the way.
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod bootstrap;
mod config;
mod coordinator;
mod error;
mod executor;
mod exit;
pub mod handshake;
mod heartbeat;
mod job;
pub mod journal;
mod observer;
mod outbox;
mod process;
mod protocol;
mod report;
pub mod scoreboard;
mod spawner;
mod supervisor;
#[allow(unsafe_code)]
mod sys;
mod units;
mod watchdog;
pub mod worker;

pub use config::{Chaos, Config};
pub use coordinator::WorkerSignal;
pub use error::Error;
pub use exit::ExitKind;
pub use job::Job;
pub use observer::{Notice, Observer};
pub use process::{ExitInfo, SERVER_ENV, WORKER_ARG};
pub use protocol::PROTOCOL_VERSION;
pub use report::{Failure, Outcome, Report, SlotSummary, Summary};
pub use supervisor::{OpenRun, OwnedNotice, RunEvent, RunEvents, StopMode, Stopper, Supervisor};
