//! The coordinator: one event loop that owns all scheduling state.
//!
//! Everything that happens to a worker arrives as an [`Event`] on one channel: a finished
//! spawn (from the spawner thread), results and the final exit status (from the worker's I/O
//! thread, which blocks on its result channel, then reaps the process). The loop reacts by
//! recording outcomes, dispatching more batches, and replacing dead workers, so all decisions
//! are made in one place, in order, without locks.

use crate::config::Config;
use crate::handshake::Connection;
use crate::observer::{Notice, Observer};
use crate::process::{ChildProcess, ExitInfo};
use crate::protocol::{self, FromWorker, TaskResult, ToWorker};
use crate::report::{Failure, Outcome, Report, SlotSummary, Summary};
use crate::schedule::Schedule;
use crate::scoreboard::{self, Scoreboard, SlotState};
use crate::spawner::{self, SpawnPlan, SpawnRequest, Spawned};
use crate::watchdog::Limits;
use crate::{Error, Job};
use ipc_channel::ipc::IpcBytesSender;
use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod dispatch;
mod endings;
mod event_loop;
mod limits;
mod results;
mod workers;

/// Batches a worker may hold at once: one running and one queued, so it never waits for a
/// round trip between batches.
const WINDOW: usize = 2;

/// Runs a job's tasks in supervised worker processes.
pub struct Supervisor<J: Job> {
    config: Config,
    setup: J::Setup,
    events_tx: Sender<Event<J::Output>>,
    events_rx: Receiver<Event<J::Output>>,
}

/// How a run should stop early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopMode {
    /// Stop dispatching, send SIGTERM to every worker, SIGKILL after the grace period.
    Graceful,
    /// SIGKILL every worker now.
    Immediate,
}

/// Asks a run to stop early, from any thread (e.g. a signal-handling thread); cheap to clone.
#[derive(Clone)]
pub struct Stopper {
    send: Arc<dyn Fn(StopMode, String) + Send + Sync>,
}

impl Stopper {
    /// Stops the run; `reason` ends up in [`Summary::interrupted`]. Harmless after the run
    /// ended or when called again (a second, `Immediate` call hurries a graceful stop).
    pub fn stop(&self, mode: StopMode, reason: impl Into<String>) {
        (self.send)(mode, reason.into());
    }
}

enum Event<O> {
    Stop {
        mode: StopMode,
        reason: String,
    },
    Spawned {
        slot: usize,
        generation: u64,
        spawned: Spawned,
    },
    Results {
        slot: usize,
        generation: u64,
        results: Vec<(u64, TaskResult<O>)>,
    },
    Garbled {
        slot: usize,
        generation: u64,
        reason: String,
    },
    SetupFailed {
        slot: usize,
        generation: u64,
        reason: String,
    },
    Exited {
        slot: usize,
        generation: u64,
        info: Result<ExitInfo, Error>,
    },
}

struct Live {
    child: Arc<ChildProcess>,
    tasks: Option<IpcBytesSender>,
    /// Task ids sent and not yet answered, in the order the worker runs them.
    inflight: VecDeque<u64>,
    /// Sizes of the batches in `inflight`, front first.
    batches: VecDeque<usize>,
    /// Results received for the front batch.
    front_done: usize,
    chaos_killed: bool,
    garbled: bool,
    /// The worker could not build its job, so it never ran a task: none is charged.
    setup_failed: bool,
    /// Tasks sent to it so far (for `max_tasks_per_child`).
    sent: u64,
    /// Set once the watchdog decided to end it.
    killing: Option<limits::Killing>,
}

enum Phase {
    Idle,
    Spawning,
    Live(Live),
    /// Asked to shut down (or killed on purpose); waiting for its exit.
    Draining(Drain),
}

/// A worker on its way out.
struct Drain {
    child: Arc<ChildProcess>,
    /// It served `max_tasks_per_child` tasks: the slot is refilled when it exits, unless the
    /// run is over by then.
    recycling: bool,
    /// When it is SIGKILLed if still alive; run-wide stops use `Run::drain_deadline` instead.
    kill_at: Option<Instant>,
}

impl Drain {
    fn new(child: Arc<ChildProcess>) -> Self {
        Drain {
            child,
            recycling: false,
            kill_at: None,
        }
    }
}

struct Slot {
    generation: u64,
    phase: Phase,
    stats: SlotSummary,
    restarts: u64,
}

impl<J: Job> Supervisor<J> {
    /// A supervisor for job `J` with run-wide `setup`.
    pub fn new(config: Config, setup: J::Setup) -> Self {
        let (events_tx, events_rx) = mpsc::channel();
        Supervisor {
            config,
            setup,
            events_tx,
            events_rx,
        }
    }

    /// A handle that stops this supervisor's run early (before or during [`Supervisor::run`]).
    pub fn stopper(&self) -> Stopper {
        let events = Mutex::new(self.events_tx.clone());
        Stopper {
            send: Arc::new(move |mode, reason| {
                let events = events.lock().unwrap_or_else(|e| e.into_inner());
                let _ = events.send(Event::Stop { mode, reason });
            }),
        }
    }

    /// Runs every task and returns one outcome per task, in task order.
    ///
    /// `observer` hears each task's final outcome as it happens (for streaming output and
    /// progress) and notices about workers. The call returns when every task has an outcome
    /// and every worker is reaped, or earlier when the restart-intensity limit is exceeded
    /// ([`Summary::gave_up`]) or a [`Stopper`] stops it ([`Summary::interrupted`]). The tasks
    /// are handed back in the report.
    pub fn run(
        self,
        tasks: Vec<J::Task>,
        observer: &mut impl Observer<J::Task, J::Output>,
    ) -> Result<Report<J::Task, J::Output>, Error> {
        let Supervisor {
            config,
            setup,
            events_tx,
            events_rx,
        } = self;
        config.validate()?;
        raise_fd_limit();
        let started = Instant::now();
        let costs: Vec<u64> = tasks.iter().map(J::cost).collect();
        let workers = config.workers.min(tasks.len()).max(1);
        let board = Scoreboard::create(workers, J::NAME)
            .map_err(|e| Error::io("cannot create the scoreboard", e))?;
        board.set_totals(tasks.len() as u64, costs.iter().sum(), J::COST_IS_BYTES);
        let (spawn_tx, spawn_rx) = mpsc::channel::<SpawnRequest>();
        let plan = SpawnPlan {
            exe: config.worker_exe.clone(),
            args: config.worker_args.clone(),
            job: J::NAME.to_string(),
            setup: protocol::encode(&setup)?,
            scoreboard: board.proc_path(),
            handshake_timeout: config.handshake_timeout,
            memory_limit: config.memory_limit,
        };
        let spawner_events = events_tx.clone();
        let spawner = std::thread::Builder::new()
            .name("supervisor-spawner".into())
            .spawn(move || {
                spawner::serve(plan, spawn_rx, spawner_events, |req, spawned| {
                    Event::Spawned {
                        slot: req.slot,
                        generation: req.generation,
                        spawned,
                    }
                })
            })
            .map_err(|e| Error::io("cannot start the spawner thread", e))?;
        let mut run: Run<J> = Run {
            config: &config,
            schedule: Schedule::new(costs, workers, config.max_batch),
            tasks,
            outcomes: Vec::new(),
            attempts: Vec::new(),
            slots: Vec::new(),
            board,
            events_tx,
            spawn_tx,
            summary: Summary::default(),
            restarts: VecDeque::new(),
            rng: fastrand::Rng::with_seed(config.chaos.map(|c| c.seed).unwrap_or(0)),
            finishing: false,
            drain_deadline: None,
            limits: Limits {
                task_timeout: config.task_timeout,
                heartbeat_timeout: config.heartbeat_timeout,
                slack_ms: scoreboard::tick_ms(),
            },
        };
        run.outcomes.resize_with(run.tasks.len(), || None);
        run.attempts = vec![0; run.tasks.len()];
        run.summary.tasks = run.tasks.len() as u64;
        let result = run.event_loop(events_rx, started, observer);
        let Run {
            outcomes,
            mut summary,
            slots,
            spawn_tx,
            tasks,
            ..
        } = run;
        drop(spawn_tx);
        let _ = spawner.join();
        result?;
        summary.elapsed = started.elapsed();
        summary.slots = slots.into_iter().map(|s| s.stats).collect();
        summary.not_run = outcomes.iter().filter(|o| o.is_none()).count() as u64;
        Ok(Report {
            tasks,
            outcomes,
            summary,
        })
    }
}

struct Run<'a, J: Job> {
    config: &'a Config,
    schedule: Schedule,
    tasks: Vec<J::Task>,
    outcomes: Vec<Option<Outcome<J::Output>>>,
    /// Times each task was running when its worker died.
    attempts: Vec<u32>,
    slots: Vec<Slot>,
    board: Scoreboard,
    events_tx: Sender<Event<J::Output>>,
    spawn_tx: Sender<SpawnRequest>,
    summary: Summary,
    /// When recent unexpected deaths happened (restart intensity).
    restarts: VecDeque<Instant>,
    rng: fastrand::Rng,
    /// Every task has an outcome, or the run gave up: no more dispatching or respawning.
    finishing: bool,
    /// When workers that were asked to stop get SIGKILL.
    drain_deadline: Option<Instant>,
    /// The timeouts the watchdog enforces.
    limits: Limits,
}

/// Each worker costs the parent a few descriptors; the default soft limit of 1024 would cap
/// a run at a few hundred workers.
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}
