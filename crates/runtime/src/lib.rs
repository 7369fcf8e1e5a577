//! A supervised multi-process engine.
//!
//! # Theory of operation
//!
//! A run has one parent and N worker processes. Workers are re-executions of the parent's own
//! binary (`/proc/self/exe __supervisor_worker`), routed into worker mode by
//! [`worker::run_if_worker`] before `main` does anything else, so nothing the parent set up
//! leaks into them and an upgraded binary cannot break a respawn.
//!
//! ## Three parts, one direction of control
//!
//! - **The coordinator** (a pure state machine): every fact about the run arrives as an event
//!   (`handle(now, Event) -> [Command]`): a worker's process exists, it finished its
//!   handshake, results came back, it exited (with the scoreboard reading at that moment), a
//!   deadline passed, a user asked to stop or suspend. It owns all accounting: slots and
//!   their generations, batches in flight, attempts, deaths, timeouts, recycling, restart
//!   intensity, stop, drain and give-up, and it answers with commands (spawn, send a batch,
//!   signal a process group, report an outcome). It never touches a process, a channel or
//!   the clock, so every accounting path is unit-tested with plain event sequences.
//! - **The executor**: one thread that turns inputs into events and performs the commands,
//!   and is the only part that touches the outside world. Nothing it does can block it:
//!   batches go to a *writer thread* per worker (a worker busy in a long task or a slow
//!   initializer stops reading its channel; a big batch then waits in that thread, not in the
//!   coordinator), spawns go to the spawner, signals go straight to a process group through
//!   the worker's `ChildProcess` handle, which knows whether the pid is still ours, and outcomes and
//!   notices go in batches to the caller's thread, where the [`Observer`] runs. However slow
//!   an observer or a worker, Ctrl-C, timeouts and other workers' results always get through.
//! - **The workers**: each reads batches, runs them, and hands each result to a sender thread
//!   that ships it within about 2 ms (or as soon as a thousand wait), so a finished result
//!   never waits behind the next task; on SIGTERM it sends what it finished, then dies of the
//!   signal.
//!
//! ## A worker slot's phases
//!
//! | phase | entered on | left on |
//! |---|---|---|
//! | idle | start; its worker exited or failed to start | a spawn is requested |
//! | spawning, no process yet | spawn requested (queued at the spawner) | the process exists; the spawn failed or was cancelled |
//! | spawning, handshake | the process exists (pid known) | handshake done (running); it failed (idle, respawn) |
//! | running | handshake done | its exit (always last: `wait4` is the truth) |
//! | running, leaving | recycled, run finished (Shutdown sent), stopped or gave up (SIGTERM) | its exit; SIGKILL at its deadline |
//! | running, being killed | a task or heartbeat timeout (SIGTERM) | its exit; SIGKILL after the kill grace |
//!
//! Every slot has a generation; news about an older generation is ignored. A worker that
//! finishes its handshake after the run ended is killed at once; one whose process exists
//! when the run stops is killed without waiting for its handshake. Results that arrive while
//! a worker leaves are kept.
//!
//! ## Spawning
//!
//! - **Bootstrap** (`bootstrap`): the worker's stdin is one end of a fresh socket pair. The
//!   parent sends a protocol version, a random token, its pid and the scoreboard's descriptor
//!   over it; the worker, which has run no user code yet, creates `ipc-channel`'s one-shot
//!   server under umask 077 (private from birth; nothing process-wide changes in the parent)
//!   and answers with its name; the parent connects and hands over the two byte channels
//!   (tasks down, results up) with the token. No name is exposed before it is private, and a
//!   worker that dies or hangs before answering cannot block the parent.
//! - **Spawner**: one long-lived thread forks every worker (the parent-death signal follows
//!   the thread that forked); each handshake runs on a thread of its own, so one slow worker
//!   delays no other slot's refill.
//! - **Isolation**: each worker leads its own process group, has `PR_SET_PDEATHSIG(SIGKILL)`
//!   (armed after the handshake and checked against a parent that died first), reads
//!   /dev/null, and has its output captured for failure reports (or, with
//!   [`Config::output`] set to [`WorkerOutput::Forward`], written where the parent writes:
//!   its stdout shared, its stderr passed on line by line with the tail still kept).
//!
//! ## Scheduling and failure
//!
//! - **Pull-based, fair**: each worker holds at most two batches; batches are sized by task
//!   cost and shrink toward the end; costliest tasks go first. Each submission (a whole
//!   [`Supervisor::run`], or one [`OpenRun::submit`]) is a flow, and flows take turns batch
//!   by batch, so a short call runs while a long one is in progress. A job may take up to
//!   [`Job::GROUP`] consecutive tasks of a batch at once ([`Job::run_group`]); it names each
//!   task to the scoreboard before working on it, so charging stays per task.
//! - **Failure**: the result channel closing is the fast hint; `wait4` is the truth about how
//!   the worker ended ([`ExitKind`]). The task that was running (read from the scoreboard) is
//!   charged an attempt; the rest of the dead worker's batch is re-sent one task per message,
//!   isolating a poison task. The charged task's next attempt goes through [`Job::rerun`],
//!   told how many earlier attempts' workers died, so a job can leave a fast path that an
//!   input crashes (the `logs` job maps files, and reads them on a rerun after a SIGBUS). A
//!   slot is refilled at once; more than R unexpected deaths in T seconds (restart
//!   intensity) stops the run with everything finished so far.
//! - **Limits**: on its timer the coordinator judges each worker's scoreboard reading; a task
//!   past `task_timeout`, or a worker whose heartbeat went silent past `heartbeat_timeout`,
//!   gets SIGTERM then SIGKILL after `kill_grace`, and the task is charged an attempt; these
//!   deaths do not count toward restart intensity. `max_tasks_per_child` retires a worker
//!   once it has answered its share. `memory_limit` is an `RLIMIT_DATA` set in the child
//!   before `exec`. [`Stopper::suspend`] (Ctrl-Z) stops every worker's process group and the
//!   timers with them; the time suspended counts against no timeout.
//! - **Open runs**: [`Supervisor::open`] keeps the workers for the run's life and takes tasks
//!   over time; it ends when closed and drained. [`Supervisor::run`] is the same machinery
//!   with every task submitted up front.
//! - **Big runs**: [`Supervisor::run`] holds every task and every outcome until it returns
//!   them. [`Supervisor::run_list`] holds neither: the caller keeps its tasks in whatever
//!   compact form suits it ([`TaskList`]: task `i` is asked for when it is costed, sent and
//!   observed) and keeps what it needs of each outcome from its observer; the engine keeps
//!   only what it schedules by (a cost and a few counters per task). The CLI's hash job holds
//!   a million files this way in under half the memory.
//! - **Tasks by index**: a list may also give itself as one image ([`TaskList::image`]) to a
//!   job that builds tasks from it ([`Job::TASKS_FROM_IMAGE`], [`Job::task_from_image`]).
//!   The spawner writes the image once into a sealed `memfd` before its first worker starts
//!   and attaches it to every worker's bootstrap; each worker maps it read-only for its life,
//!   and the list's tasks then cross as their indices alone. The hash job's million small
//!   files: 3 bytes a task on the wire instead of about 60, nothing to decode or allocate per
//!   task in the worker, and 0.95× the run's time.
//!
//! ## Shared state
//!
//! - **Task image** (`task_image`): the sealed `memfd` above, immutable once written, so a
//!   worker may read it as plain bytes for its whole life.
//! - **Scoreboard** ([`scoreboard`]): a `memfd` segment of atomics, one slot per worker, each
//!   word with a single writer, sealed against resizing (a worker cannot truncate it under the
//!   parent). The parent reads it to charge crashes and judge heartbeats; `supervisor ps`
//!   attaches it through `/proc/<pid>/fd`. A memfd cannot leak.
//! - **Journal** ([`journal`]): an append-only, checksummed file of finished outcomes, written
//!   within 50 ms of each result, so a run whose parent died can be resumed with only the
//!   missing tasks.
//! - **Event log** ([`events`]): with [`Config::events`], the coordinator also emits a typed
//!   record of each lifecycle decision (spawn, batch, attempt, kill, exit, retry, stop), the
//!   workers time each task, and a thread of the log's own writes them as JSON Lines, so a
//!   timeline of the run can be drawn afterwards without slowing it down.
//!
//! The engine knows nothing about what tasks mean: a [`Job`] supplies serde types and a `run`
//! function, and output order is task order whatever happened on the way.
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod bootstrap;
mod config;
mod coordinator;
mod error;
pub mod events;
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
mod task_image;
mod task_list;
mod units;
mod watchdog;
pub mod worker;

pub use config::{Chaos, Config, WorkerOutput};
pub use coordinator::WorkerSignal;
pub use error::Error;
pub use events::EventLog;
pub use exit::ExitKind;
pub use job::Job;
pub use observer::{Notice, Observer};
pub use process::{ExitInfo, SERVER_ENV, WORKER_ARG};
pub use protocol::PROTOCOL_VERSION;
pub use report::{Failure, Outcome, Report, SlotSummary, Summary};
pub use supervisor::{OpenRun, OwnedNotice, RunEvent, RunEvents, StopMode, Stopper, Supervisor};
pub use task_list::TaskList;
