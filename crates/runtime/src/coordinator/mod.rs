//! The coordinator: a pure state machine that owns all of a run's accounting.
//!
//! Everything that happens arrives as an [`Event`] (a worker started, results came back, a
//! worker exited, a timer fired, a user asked to stop), and [`Coordinator::handle`] answers with
//! [`Command`]s (spawn a worker, send a batch, signal a process, report an outcome). It never
//! touches a process, a channel or a clock of its own: time comes in with each call and the
//! scoreboard readings it needs come in with the events, so every accounting path (a death
//! mid-batch, a timeout, a recycle, a stop while spawning, a give-up) is unit-tested with plain
//! event sequences and no processes (`tests.rs`). The executor (`crate::executor`) performs the
//! commands without ever blocking the machine.
//!
//! A worker slot moves through these phases:
//!
//! | phase | entered on | left on |
//! |---|---|---|
//! | `Idle` | start; the worker exited or failed to start | `Spawn` requested |
//! | `Spawning` (no pid) | `Spawn` requested | `SpawnStarted` (a pid), `SpawnFailed` |
//! | `Spawning` (pid) | `SpawnStarted` | `Spawned` (handshake done), `SpawnFailed` |
//! | `Running`, starting | `Spawned` | `Ready` (its job is built), `Exited` |
//! | `Running`, ready | `Ready` | `Exited` (always last: the exit is the truth) |
//!
//! A running worker may be *leaving* (asked to go: recycled, the run finished, the run was
//! stopped) or being *killed* by the watchdog (a task or heartbeat timeout); its results are
//! accepted until its exit either way, so nothing it completed is lost. Every worker that is
//! asked to go has a SIGKILL deadline.

use crate::config::Chaos;
use crate::exit::ExitKind;
use crate::process::ExitInfo;
use crate::protocol::{Span, TaskResult};
use crate::report::{Outcome, SlotSummary, Summary};
use crate::scoreboard::{SlotState, Vitals};
use crate::supervisor::StopMode;
use crate::watchdog::Limits;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

mod deaths;
mod dispatch;
mod limits;
mod notice;
mod pauses;
mod schedule;
mod stopping;
mod tasks;
#[cfg(test)]
mod tests;
mod trace;

pub(crate) use notice::NoticeData;
use pauses::Pauses;
use schedule::Schedule;
use tasks::TaskTable;
pub(crate) use trace::{AttemptEnd, BatchIds, ExitCause, ExitStats, KillCause, SpawnReason, Trace};

/// The longest a worker whose start is aborted (the run ended during its handshake) is given
/// to remove its handshake socket and exit before SIGKILL (see [`Settings::abort_grace`]).
const MAX_ABORT_GRACE: Duration = Duration::from_secs(1);

/// How soon the watchdog looks again when it cannot compute a deadline (a worker holds tasks
/// but has not marked one as started), and after events that change what there is to watch.
pub(crate) const WATCH_TICK: Duration = Duration::from_millis(100);

/// The fixed parameters of a run, as the coordinator needs them.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// Worker slots to fill.
    pub(crate) workers: usize,
    pub(crate) retries: u32,
    pub(crate) max_restarts: u32,
    pub(crate) restart_window: Duration,
    pub(crate) chaos: Option<Chaos>,
    /// SIGTERM to SIGKILL, for workers killed by the watchdog or stopped.
    pub(crate) kill_grace: Duration,
    /// How long a worker asked to exit (finished run, recycle) has before SIGKILL.
    pub(crate) shutdown_grace: Duration,
    pub(crate) max_tasks_per_child: Option<u64>,
    pub(crate) memory_limit: Option<u64>,
    pub(crate) limits: Limits,
    /// Batches a worker may hold at once.
    pub(crate) window: usize,
    pub(crate) max_batch: usize,
    /// Costs below this are ties in the dispatch order ([`crate::Job::COSTLIEST_FIRST_FROM`]).
    pub(crate) costliest_first_from: u64,
    /// Emit [`Command::Trace`] records (the run has an event log).
    pub(crate) trace: bool,
}

impl Settings {
    /// How long a worker whose start is aborted has to clean up and exit before SIGKILL: the
    /// kill grace, at most a second. A healthy worker takes milliseconds; the margin is for a
    /// loaded machine, where a SIGKILL mid-cleanup would leave its handshake socket behind.
    pub(crate) fn abort_grace(&self) -> Duration {
        self.kill_grace.min(MAX_ABORT_GRACE)
    }
}

/// A signal the coordinator has a worker's process group sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerSignal {
    /// SIGTERM (followed by SIGCONT, so a stopped worker wakes up to receive it).
    Terminate,
    /// SIGKILL.
    Kill,
    /// SIGTSTP: stop, as Ctrl-Z does.
    Stop,
    /// SIGCONT: continue after a stop.
    Continue,
}

/// Something that happened, as the executor reports it.
#[derive(Debug)]
pub(crate) enum Event<O> {
    /// New tasks `first..first + costs.len()` with their costs: one call's worth, shared
    /// fairly with other calls' tasks.
    Submitted { first: u64, costs: Vec<u64> },
    /// No more tasks will be submitted; the run ends once they are all done.
    Closed,
    /// Stop early.
    Stop { mode: StopMode, reason: String },
    /// Ctrl-Z: stop every worker and pause the timers.
    Suspend { now_ms: u64 },
    /// `fg`: continue every worker and the timers.
    Resume { now_ms: u64 },
    /// Send every worker this signal (a library's `terminate()`/`kill()`).
    SignalAll { signal: WorkerSignal },
    /// The slot's process exists (its handshake is in progress).
    SpawnStarted {
        slot: usize,
        generation: u64,
        pid: u32,
    },
    /// The slot's worker completed its handshake.
    Spawned {
        slot: usize,
        generation: u64,
        pid: u32,
    },
    /// The slot's worker could not be started; `cancelled`: not even tried, the run ended.
    SpawnFailed {
        slot: usize,
        generation: u64,
        pid: Option<u32>,
        error: String,
        exit: Option<ExitInfo>,
        cancelled: bool,
    },
    /// Finished tasks, in the order the worker ran them; `spans`: when each ran, if the
    /// worker measured it (one per result, or none).
    Results {
        slot: usize,
        generation: u64,
        results: Vec<(u64, TaskResult<O>)>,
        spans: Vec<Span>,
    },
    /// The worker sent something that is not a frame.
    Garbled {
        slot: usize,
        generation: u64,
        reason: String,
    },
    /// The worker built its job and takes tasks now.
    Ready { slot: usize, generation: u64 },
    /// The worker could not build its job.
    SetupFailed {
        slot: usize,
        generation: u64,
        reason: String,
    },
    /// The worker was reaped; `seen` is its scoreboard slot as it left it.
    Exited {
        slot: usize,
        generation: u64,
        info: ExitInfo,
        seen: Vitals,
    },
    /// A deadline from [`Coordinator::next_deadline`] passed; `vitals` has every slot's
    /// scoreboard reading (empty when no limit is enforced).
    Tick { now_ms: u64, vitals: Vec<Vitals> },
}

/// What the coordinator asks the executor to do.
#[derive(Debug)]
pub(crate) enum Command<O> {
    /// Start a worker for `slot`; its news carries `generation`.
    Spawn { slot: usize, generation: u64 },
    /// Start no more workers: every queued spawn request ends as cancelled.
    CancelSpawns,
    /// End the handshake of the slot's worker (the run is over): the worker removes its
    /// handshake socket and exits; SIGKILL follows if it has not after the abort grace.
    AbortSpawn { slot: usize, generation: u64 },
    /// Send these tasks to the worker as one batch.
    Send {
        slot: usize,
        generation: u64,
        ids: Vec<u64>,
        /// For a batch of one task whose earlier attempts ended with their worker's death,
        /// how many did (the worker runs it through `Job::rerun`); 0 otherwise.
        deaths: u32,
    },
    /// Ask the worker to exit once it has finished what it holds.
    Shutdown { slot: usize, generation: u64 },
    /// Signal the worker's process group (its handshake may still be in progress).
    Signal {
        slot: usize,
        generation: u64,
        signal: WorkerSignal,
    },
    /// Update the scoreboard's view of a slot.
    Board(BoardUpdate),
    /// A task's final outcome.
    Outcome { id: u64, outcome: Outcome<O> },
    /// Something to tell the user.
    Notice(NoticeData),
    /// A lifecycle record for the event log (only when `Settings::trace`).
    Trace(Trace),
}

/// Scoreboard words the parent owns.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BoardUpdate {
    Process {
        slot: usize,
        pid: u32,
        state: SlotState,
    },
    State {
        slot: usize,
        state: SlotState,
    },
    Restarts {
        slot: usize,
        restarts: u64,
    },
    /// The worker was reaped: clear what it wrote (task marker, heartbeat), before any
    /// replacement is requested.
    ClearMarks {
        slot: usize,
    },
}

/// Why the run is ending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// Every task has an outcome and no more will come.
    Finished,
    /// Restart intensity exceeded.
    GaveUp,
    /// A stop request.
    Stopped,
}

struct Slot {
    generation: u64,
    phase: Phase,
    stats: SlotSummary,
    restarts: u64,
}

enum Phase {
    Idle,
    Spawning(Spawning),
    Running(Worker),
}

struct Spawning {
    pid: Option<u32>,
    /// The run ended while it was starting: its start is aborted as soon as there is a pid.
    doomed: bool,
    /// When it gets SIGKILL if it is still starting.
    kill_at: Option<Instant>,
}

/// A connected worker and what it holds.
struct Worker {
    pid: u32,
    /// Task ids sent and not yet answered, in the order the worker runs them.
    inflight: VecDeque<u64>,
    /// Sizes of the batches in `inflight`, front first.
    batches: VecDeque<usize>,
    /// Results received for the front batch.
    front_done: usize,
    /// Tasks sent to it so far (for `max_tasks_per_child`).
    sent: u64,
    /// Its job is built (its initializer ran): only then is it sent tasks, so none waits
    /// in a worker that is still starting.
    ready: bool,
    chaos_killed: bool,
    garbled: bool,
    /// The worker could not build its job, so it never ran a task: none is charged.
    setup_failed: bool,
    /// The watchdog is ending it.
    killing: Option<limits::Killing>,
    /// It was asked to go.
    leaving: Option<Leaving>,
    /// When it gets SIGKILL if still alive.
    kill_at: Option<Instant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaving {
    /// It served `max_tasks_per_child` tasks; the slot is refilled when it exits.
    Recycle,
    /// The run is over; it was sent a Shutdown.
    Finish,
    /// The run was stopped or gave up; it was sent SIGTERM (or SIGKILL).
    Stop,
}

impl Worker {
    fn new(pid: u32) -> Self {
        Worker {
            pid,
            inflight: VecDeque::new(),
            batches: VecDeque::new(),
            front_done: 0,
            sent: 0,
            ready: false,
            chaos_killed: false,
            garbled: false,
            setup_failed: false,
            killing: None,
            leaving: None,
            kill_at: None,
        }
    }

    /// Takes more work: started, not misbehaving, not on its way out.
    fn available(&self) -> bool {
        self.ready
            && !self.garbled
            && !self.chaos_killed
            && !self.setup_failed
            && self.killing.is_none()
            && self.leaving.is_none()
    }

    fn kill_by(&mut self, at: Instant) {
        self.kill_at = Some(self.kill_at.map_or(at, |k| k.min(at)));
    }
}

/// The accounting of one run.
pub(crate) struct Coordinator {
    settings: Settings,
    tasks: TaskTable,
    schedule: Schedule,
    slots: Vec<Slot>,
    summary: Summary,
    /// When recent unexpected deaths happened (restart intensity).
    restarts: VecDeque<Instant>,
    rng: fastrand::Rng,
    /// No more tasks will be submitted.
    closed: bool,
    ending: Option<Ending>,
    /// Submitted tasks without a final outcome.
    outstanding: u64,
    next_chaos: Option<Instant>,
    next_watch: Option<Instant>,
    /// Since when the run is suspended (Ctrl-Z), by both clocks.
    suspended: Option<(Instant, u64)>,
    pauses: Pauses,
    started: bool,
}

impl Coordinator {
    pub(crate) fn new(settings: Settings) -> Self {
        let slots = (0..settings.workers)
            .map(|_| Slot {
                generation: 0,
                phase: Phase::Idle,
                stats: SlotSummary::default(),
                restarts: 0,
            })
            .collect();
        Coordinator {
            schedule: Schedule::new(
                settings.workers,
                settings.max_batch,
                settings.costliest_first_from,
            ),
            rng: fastrand::Rng::with_seed(settings.chaos.map_or(0, |c| c.seed)),
            settings,
            tasks: TaskTable::default(),
            slots,
            summary: Summary::default(),
            restarts: VecDeque::new(),
            closed: false,
            ending: None,
            outstanding: 0,
            next_chaos: None,
            next_watch: None,
            suspended: None,
            pauses: Pauses::default(),
            started: false,
        }
    }

    /// Fills every slot (unless the run is already over: no tasks and closed).
    pub(crate) fn start<O>(&mut self, now: Instant, out: &mut Vec<Command<O>>) {
        self.started = true;
        self.next_chaos = self.settings.chaos.map(|c| now + c.every);
        if self.ending.is_some() {
            return;
        }
        for slot in 0..self.slots.len() {
            self.request_spawn(slot, SpawnReason::Start, out);
        }
    }

    /// Reacts to one event at `now`; the commands to carry out are appended to `out`.
    pub(crate) fn handle<O>(&mut self, now: Instant, event: Event<O>, out: &mut Vec<Command<O>>) {
        let ticked = matches!(event, Event::Tick { .. });
        match event {
            Event::Submitted { first, costs } => self.on_submitted(now, first, costs, out),
            Event::Closed => {
                self.closed = true;
                self.check_finished(now, out);
            }
            Event::Stop { mode, reason } => self.stop(now, mode, reason, out),
            Event::Suspend { now_ms } => self.suspend(now, now_ms, out),
            Event::Resume { now_ms } => self.resume(now, now_ms, out),
            Event::SignalAll { signal } => self.signal_all(signal, out),
            Event::SpawnStarted {
                slot,
                generation,
                pid,
            } => self.on_spawn_started(now, slot, generation, pid, out),
            Event::Spawned {
                slot,
                generation,
                pid,
            } => self.on_spawned(now, slot, generation, pid, out),
            Event::SpawnFailed {
                slot,
                generation,
                pid,
                error,
                exit,
                cancelled,
            } => self.on_spawn_failed(now, slot, generation, pid, error, exit, cancelled, out),
            Event::Results {
                slot,
                generation,
                results,
                spans,
            } => {
                if self.slots[slot].generation == generation {
                    self.on_results(now, slot, results, spans, out);
                }
            }
            Event::Garbled {
                slot,
                generation,
                reason,
            } => self.garbled(slot, generation, reason, out),
            Event::Ready { slot, generation } => {
                if let Some(worker) = self.running(slot, generation) {
                    worker.ready = true;
                    let pid = worker.pid;
                    self.trace(out, || Trace::Ready { slot, pid });
                    self.dispatch(now, out);
                }
            }
            Event::SetupFailed {
                slot,
                generation,
                reason,
            } => {
                if let Some(worker) = self.running(slot, generation) {
                    worker.setup_failed = true;
                    out.push(Command::Notice(NoticeData::SpawnFailed {
                        slot,
                        message: format!("the job could not start: {reason}"),
                    }));
                }
            }
            Event::Exited {
                slot,
                generation,
                info,
                seen,
            } => {
                if self.slots[slot].generation == generation {
                    self.on_exited(now, slot, info, seen, out);
                }
            }
            Event::Tick { now_ms, vitals } => self.on_tick(now, now_ms, &vitals, out),
        }
        if !ticked && self.settings.limits.any() && self.suspended.is_none() {
            // Events change what there is to watch (a task dispatched, a worker connected):
            // look again soon.
            let soon = now + WATCH_TICK;
            self.next_watch = Some(self.next_watch.map_or(soon, |at| at.min(soon)));
        }
    }

    /// The earliest moment a [`Event::Tick`] is due; `None`: only events can change anything.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.suspended.is_some() {
            return None;
        }
        let chaos = self.next_chaos.filter(|_| self.ending.is_none());
        let kills = self.slots.iter().filter_map(|s| match &s.phase {
            Phase::Running(w) => w.kill_at,
            Phase::Spawning(sp) => sp.kill_at.filter(|_| sp.pid.is_some()),
            Phase::Idle => None,
        });
        [chaos, self.next_watch]
            .into_iter()
            .flatten()
            .chain(kills)
            .min()
    }

    /// True when the run is over: it ended and every slot is empty.
    pub(crate) fn is_done(&self) -> bool {
        self.ending.is_some() && self.slots.iter().all(|s| matches!(s.phase, Phase::Idle))
    }

    /// The counts so far (for progress displays).
    pub(crate) fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The final summary, with per-slot statistics; `not_run` counts tasks without an outcome.
    pub(crate) fn into_summary(self) -> Summary {
        let mut summary = self.summary;
        summary.not_run = self.outstanding;
        summary.slots = self.slots.into_iter().map(|s| s.stats).collect();
        summary
    }

    /// True when task or heartbeat timeouts are enforced ([`Event::Tick`] needs vitals).
    pub(crate) fn watches_limits(&self) -> bool {
        self.settings.limits.any()
    }

    /// Emits a lifecycle record if the run is traced (built only then).
    fn trace<O>(&self, out: &mut Vec<Command<O>>, record: impl FnOnce() -> Trace) {
        if self.settings.trace {
            out.push(Command::Trace(record()));
        }
    }

    fn running(&mut self, slot: usize, generation: u64) -> Option<&mut Worker> {
        let s = &mut self.slots[slot];
        match &mut s.phase {
            Phase::Running(worker) if s.generation == generation => Some(worker),
            _ => None,
        }
    }

    fn on_submitted<O>(
        &mut self,
        now: Instant,
        first: u64,
        costs: Vec<u64>,
        out: &mut Vec<Command<O>>,
    ) {
        if costs.is_empty() {
            return;
        }
        let n = costs.len() as u64;
        self.summary.tasks += n;
        self.outstanding += n;
        if self.ending.is_some() {
            // Too late to run: they stay without an outcome (counted as not run).
            return;
        }
        let flow = self.schedule.new_flow_id();
        self.tasks.extend(first, &costs, flow);
        self.schedule.add_flow(flow, first..first + n, &self.tasks);
        self.dispatch(now, out);
    }

    fn request_spawn<O>(&mut self, slot: usize, reason: SpawnReason, out: &mut Vec<Command<O>>) {
        self.trace(out, || Trace::Spawn { slot, reason });
        let s = &mut self.slots[slot];
        s.generation += 1;
        s.phase = Phase::Spawning(Spawning {
            pid: None,
            doomed: false,
            kill_at: None,
        });
        out.push(Command::Board(BoardUpdate::Process {
            slot,
            pid: 0,
            state: SlotState::Starting,
        }));
        out.push(Command::Spawn {
            slot,
            generation: s.generation,
        });
    }

    /// The worker broke the protocol: it is killed and never trusted again.
    fn garbled<O>(
        &mut self,
        slot: usize,
        generation: u64,
        reason: String,
        out: &mut Vec<Command<O>>,
    ) {
        if let Some(worker) = self.running(slot, generation) {
            worker.garbled = true;
            let pid = worker.pid;
            out.push(Command::Signal {
                slot,
                generation,
                signal: WorkerSignal::Kill,
            });
            out.push(Command::Notice(NoticeData::Misbehaved {
                slot,
                pid,
                reason,
            }));
            self.trace(out, || Trace::Kill {
                slot,
                pid,
                cause: KillCause::Protocol,
                task: None,
            });
        }
    }

    fn on_spawn_started<O>(
        &mut self,
        now: Instant,
        slot: usize,
        generation: u64,
        pid: u32,
        out: &mut Vec<Command<O>>,
    ) {
        let s = &mut self.slots[slot];
        if s.generation != generation {
            return;
        }
        if let Phase::Spawning(spawning) = &mut s.phase {
            spawning.pid = Some(pid);
            if spawning.doomed {
                out.push(Command::AbortSpawn { slot, generation });
                let grace = self.settings.abort_grace();
                spawning.kill_at = Some(spawning.kill_at.unwrap_or(now + grace));
            } else if self.suspended.is_some() {
                out.push(Command::Signal {
                    slot,
                    generation,
                    signal: WorkerSignal::Stop,
                });
            }
        }
    }

    fn on_spawned<O>(
        &mut self,
        now: Instant,
        slot: usize,
        generation: u64,
        pid: u32,
        out: &mut Vec<Command<O>>,
    ) {
        let s = &mut self.slots[slot];
        if s.generation != generation {
            return;
        }
        let doomed = matches!(&s.phase, Phase::Spawning(sp) if sp.doomed);
        self.summary.workers_spawned += 1;
        s.stats.pids.push(pid);
        out.push(Command::Board(BoardUpdate::Process {
            slot,
            pid,
            state: SlotState::Running,
        }));
        let mut worker = Worker::new(pid);
        if doomed || self.ending.is_some() {
            // Connected after the run ended: it gets nothing, is asked to exit, and is
            // killed if it has not shortly (it may be in a slow initializer).
            worker.leaving = Some(Leaving::Stop);
            worker.kill_by(now + self.settings.abort_grace());
            out.push(Command::Shutdown { slot, generation });
            s.phase = Phase::Running(worker);
            return;
        }
        s.phase = Phase::Running(worker);
        out.push(Command::Notice(NoticeData::WorkerStarted { slot, pid }));
        self.dispatch(now, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_spawn_failed<O>(
        &mut self,
        now: Instant,
        slot: usize,
        generation: u64,
        pid: Option<u32>,
        error: String,
        exit: Option<ExitInfo>,
        cancelled: bool,
        out: &mut Vec<Command<O>>,
    ) {
        if self.slots[slot].generation != generation {
            return;
        }
        let doomed = matches!(&self.slots[slot].phase, Phase::Spawning(sp) if sp.doomed);
        if let Some(pid) = pid {
            self.slots[slot].stats.pids.push(pid);
            self.summary.workers_spawned += 1;
        }
        if let Some(exit) = &exit {
            self.account_exit(slot, exit);
        }
        if !cancelled || pid.is_some() {
            self.trace(out, || Trace::SpawnFailed {
                slot,
                pid,
                error: error.clone(),
                exit: exit.as_ref().map(exit_stats),
            });
        }
        self.slots[slot].phase = Phase::Idle;
        out.push(Command::Board(BoardUpdate::State {
            slot,
            state: SlotState::Dead,
        }));
        if cancelled || doomed || self.ending.is_some() {
            return;
        }
        let detail = match &exit {
            Some(info) if !info.stderr_tail.is_empty() => {
                format!("{error} ({})", last_line(&info.stderr_tail))
            }
            _ => error,
        };
        out.push(Command::Notice(NoticeData::SpawnFailed {
            slot,
            message: detail.clone(),
        }));
        self.note_restart(now, format!("worker start failed: {detail}"), out);
        self.replace(slot, out);
    }

    fn on_results<O>(
        &mut self,
        now: Instant,
        slot: usize,
        results: Vec<(u64, TaskResult<O>)>,
        spans: Vec<Span>,
        out: &mut Vec<Command<O>>,
    ) {
        let generation = self.slots[slot].generation;
        let mut spans = spans.into_iter();
        for (id, result) in results {
            let span = spans.next();
            let Phase::Running(worker) = &mut self.slots[slot].phase else {
                return;
            };
            if worker.killing.as_ref().is_some_and(|k| k.task == Some(id)) {
                // The watchdog is ending this worker for this task: its verdict stands (a
                // command that died of the same SIGTERM must not pass for a result), and
                // whatever the worker finished after it is run again.
                return;
            }
            if worker.inflight.front() != Some(&id) {
                let reason = format!("answered task {id} out of order");
                self.garbled(slot, generation, reason, out);
                return;
            }
            worker.inflight.pop_front();
            worker.front_done += 1;
            if worker.batches.front() == Some(&worker.front_done) {
                worker.batches.pop_front();
                worker.front_done = 0;
            }
            let pid = worker.pid;
            self.slots[slot].stats.tasks += 1;
            let attempts = u32::from(self.tasks.get(id).attempts) + 1;
            if self.settings.trace {
                let end = match result {
                    TaskResult::Done(_) => AttemptEnd::Done,
                    TaskResult::Panicked(_) => AttemptEnd::Panicked,
                };
                out.push(Command::Trace(Trace::Task {
                    id,
                    slot,
                    pid,
                    attempt: attempts,
                    end,
                    span,
                    started_us: 0,
                    cost: self.tasks.cost(id),
                }));
            }
            let outcome = Outcome {
                result: match result {
                    TaskResult::Done(output) => Ok(output),
                    TaskResult::Panicked(message) => Err(crate::report::Failure::Panicked(message)),
                },
                attempts,
            };
            self.finish_task(now, id, outcome, out);
        }
        self.recycle_if_spent(now, slot, out);
        self.dispatch(now, out);
    }

    /// Records a task's final outcome.
    fn finish_task<O>(
        &mut self,
        now: Instant,
        id: u64,
        outcome: Outcome<O>,
        out: &mut Vec<Command<O>>,
    ) {
        if !self.tasks.finish(id) {
            return;
        }
        match &outcome.result {
            Ok(_) => self.summary.completed += 1,
            Err(failure) => {
                self.summary.failed += 1;
                self.trace(out, || Trace::Failed {
                    id,
                    attempts: outcome.attempts,
                    error: failure.to_string(),
                });
            }
        }
        self.outstanding -= 1;
        out.push(Command::Outcome { id, outcome });
        self.check_finished(now, out);
    }

    fn account_exit(&mut self, slot: usize, info: &ExitInfo) {
        let stats = &mut self.slots[slot].stats;
        stats.max_rss_bytes = stats.max_rss_bytes.max(info.max_rss_bytes);
        stats.cpu += info.cpu;
    }

    fn on_tick<O>(
        &mut self,
        now: Instant,
        now_ms: u64,
        vitals: &[Vitals],
        out: &mut Vec<Command<O>>,
    ) {
        if self.suspended.is_some() {
            return;
        }
        if let (Some(at), Some(chaos)) = (self.next_chaos, self.settings.chaos)
            && at <= now
        {
            if self.ending.is_none() {
                self.chaos_kill(out);
            }
            self.next_chaos = Some(now + chaos.every);
        }
        for slot in 0..self.slots.len() {
            let generation = self.slots[slot].generation;
            let kill_at = match &mut self.slots[slot].phase {
                Phase::Running(worker) => &mut worker.kill_at,
                Phase::Spawning(spawning) if spawning.pid.is_some() => &mut spawning.kill_at,
                _ => continue,
            };
            if kill_at.is_some_and(|at| at <= now) {
                *kill_at = None;
                out.push(Command::Signal {
                    slot,
                    generation,
                    signal: WorkerSignal::Kill,
                });
            }
        }
        if self.next_watch.is_some_and(|at| at <= now) {
            self.next_watch = None;
            if self.settings.limits.any() {
                self.next_watch = self.watch(now, now_ms, vitals, out);
            }
        }
    }

    fn signal_all<O>(&mut self, signal: WorkerSignal, out: &mut Vec<Command<O>>) {
        for (slot, s) in self.slots.iter().enumerate() {
            let has_process = match &s.phase {
                Phase::Spawning(sp) => sp.pid.is_some(),
                Phase::Running(_) => true,
                Phase::Idle => false,
            };
            if has_process {
                out.push(Command::Signal {
                    slot,
                    generation: s.generation,
                    signal,
                });
            }
        }
    }

    fn replace<O>(&mut self, slot: usize, out: &mut Vec<Command<O>>) {
        if self.ending.is_some() {
            return;
        }
        let s = &mut self.slots[slot];
        s.restarts += 1;
        out.push(Command::Board(BoardUpdate::Restarts {
            slot,
            restarts: s.restarts,
        }));
        self.request_spawn(slot, SpawnReason::Restart, out);
    }
}

/// What an exit cost, for a lifecycle record.
fn exit_stats(info: &ExitInfo) -> ExitStats {
    ExitStats {
        exit: info.exit,
        max_rss_bytes: info.max_rss_bytes,
        cpu: info.cpu,
    }
}

fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or("")
}

/// How a worker's exit looks to the scoreboard.
fn exit_state(exit: &ExitKind) -> SlotState {
    if exit.is_success() {
        SlotState::Exited
    } else {
        SlotState::Dead
    }
}
