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

mod limits;

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
    /// When its spawn was requested (scoreboard clock): a heartbeat not later than this is
    /// its predecessor's.
    born_ms: u64,
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
    /// When the current generation's spawn was requested (scoreboard clock).
    requested_ms: u64,
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

impl<J: Job> Run<'_, J> {
    fn event_loop(
        &mut self,
        events: Receiver<Event<J::Output>>,
        started: Instant,
        obs: &mut impl Observer<J::Task, J::Output>,
    ) -> Result<(), Error> {
        let workers = self.board.slots();
        for slot in 0..workers {
            self.slots.push(Slot {
                generation: 0,
                requested_ms: 0,
                phase: Phase::Idle,
                stats: SlotSummary::default(),
                restarts: 0,
            });
            if !self.tasks.is_empty() {
                self.request_spawn(slot);
            }
        }
        self.check_finished();
        let mut next_chaos = self.config.chaos.map(|c| started + c.every);
        let watching = self.limits.any() || self.config.max_tasks_per_child.is_some();
        let mut next_watch: Option<Instant> = None;
        while self.slots.iter().any(|s| !matches!(s.phase, Phase::Idle)) {
            let now = Instant::now();
            let wake = [next_chaos, self.drain_deadline, next_watch]
                .into_iter()
                .flatten()
                .min();
            let event = match wake {
                Some(at) if at <= now => None,
                Some(at) => match events.recv_timeout(at - now) {
                    Ok(event) => Some(event),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                },
                None => match events.recv() {
                    Ok(event) => Some(event),
                    Err(_) => break,
                },
            };
            let had_event = event.is_some();
            match event {
                Some(event) => self.handle(event, obs),
                None => {
                    let now = Instant::now();
                    if let (Some(at), Some(chaos)) = (next_chaos, self.config.chaos)
                        && at <= now
                    {
                        self.chaos_kill();
                        next_chaos = Some(now + chaos.every);
                    }
                    if self.drain_deadline.is_some_and(|at| at <= now) {
                        self.drain_deadline = None;
                        for slot in &self.slots {
                            match &slot.phase {
                                Phase::Draining(drain) => drain.child.kill(),
                                Phase::Live(live) => live.child.kill(),
                                _ => {}
                            }
                        }
                    }
                }
            }
            if watching {
                // Events change what there is to watch (a task dispatched, a worker
                // connected), so look again soon after one; between events the watchdog
                // sleeps until the earliest deadline it computed.
                let now = Instant::now();
                if had_event {
                    let soon = now + limits::TICK;
                    next_watch = Some(next_watch.map_or(soon, |at| at.min(soon)));
                }
                if next_watch.is_some_and(|at| at <= now) {
                    next_watch = self.watch(obs);
                }
            }
            if self.finishing {
                next_chaos = None;
            }
            self.publish_progress();
        }
        Ok(())
    }

    fn handle(&mut self, event: Event<J::Output>, obs: &mut impl Observer<J::Task, J::Output>) {
        match event {
            Event::Stop { mode, reason } => self.stop(mode, reason),
            Event::Spawned {
                slot,
                generation,
                spawned,
            } => self.on_spawned(slot, generation, spawned, obs),
            Event::Results {
                slot,
                generation,
                results,
            } => {
                if self.slots[slot].generation == generation {
                    self.on_results(slot, results, obs);
                }
            }
            Event::Garbled {
                slot,
                generation,
                reason,
            } => {
                if let Some(live) = self.current_live(slot, generation) {
                    let pid = live.child.pid();
                    live.garbled = true;
                    live.child.kill();
                    obs.notice(&Notice::Misbehaved { slot, pid, reason });
                }
            }
            Event::SetupFailed {
                slot,
                generation,
                reason,
            } => {
                if let Some(live) = self.current_live(slot, generation) {
                    live.setup_failed = true;
                    obs.notice(&Notice::SpawnFailed {
                        slot,
                        message: format!("the job could not start: {reason}"),
                    });
                }
            }
            Event::Exited {
                slot,
                generation,
                info,
            } => {
                if self.slots[slot].generation == generation {
                    self.on_exited(slot, info, obs);
                }
            }
        }
    }

    /// The slot's live worker, if the event (from `generation`) is about it and not about a
    /// predecessor whose news arrived late.
    fn current_live(&mut self, slot: usize, generation: u64) -> Option<&mut Live> {
        let s = &mut self.slots[slot];
        match &mut s.phase {
            Phase::Live(live) if s.generation == generation => Some(live),
            _ => None,
        }
    }

    fn request_spawn(&mut self, slot: usize) {
        let s = &mut self.slots[slot];
        s.generation += 1;
        s.requested_ms = scoreboard::now_ms();
        s.phase = Phase::Spawning;
        self.board.set_slot_process(slot, 0, SlotState::Starting);
        let _ = self.spawn_tx.send(SpawnRequest {
            slot,
            generation: s.generation,
        });
    }

    fn on_spawned(
        &mut self,
        slot: usize,
        generation: u64,
        spawned: Spawned,
        obs: &mut impl Observer<J::Task, J::Output>,
    ) {
        debug_assert_eq!(self.slots[slot].generation, generation);
        match spawned {
            Spawned::Ready { child, connection } => {
                self.summary.workers_spawned += 1;
                let Connection { tasks, results } = connection;
                let pid = child.pid();
                self.slots[slot].stats.pids.push(pid);
                self.board.set_slot_process(slot, pid, SlotState::Running);
                obs.notice(&Notice::WorkerStarted { slot, pid });
                self.start_io_thread(slot, generation, Arc::clone(&child), results);
                let live = Live {
                    child,
                    tasks: Some(tasks),
                    inflight: VecDeque::new(),
                    batches: VecDeque::new(),
                    front_done: 0,
                    chaos_killed: false,
                    garbled: false,
                    setup_failed: false,
                    born_ms: self.slots[slot].requested_ms,
                    sent: 0,
                    killing: None,
                };
                self.slots[slot].phase = Phase::Live(live);
                if self.finishing {
                    self.stop_slot(slot);
                } else {
                    self.dispatch();
                }
            }
            Spawned::Failed { error, pid, exit } => {
                if let Some(pid) = pid {
                    self.slots[slot].stats.pids.push(pid);
                    self.summary.workers_spawned += 1;
                }
                if let Some(exit) = &exit {
                    self.account_exit(slot, exit);
                }
                self.slots[slot].phase = Phase::Idle;
                self.board.set_slot_state(slot, SlotState::Dead);
                let detail = match &exit {
                    Some(info) if !info.stderr_tail.is_empty() => {
                        format!("{error} ({})", last_line(&info.stderr_tail))
                    }
                    _ => error.to_string(),
                };
                obs.notice(&Notice::SpawnFailed {
                    slot,
                    message: detail.clone(),
                });
                self.note_restart(format!("worker start failed: {detail}"));
                self.replace(slot);
            }
        }
    }

    fn start_io_thread(
        &self,
        slot: usize,
        generation: u64,
        child: Arc<ChildProcess>,
        results: ipc_channel::ipc::IpcBytesReceiver,
    ) {
        let events = self.events_tx.clone();
        let fallback = Arc::clone(&child);
        let spawned = std::thread::Builder::new()
            .name(format!("worker-{}-io", child.pid()))
            .spawn(move || {
                while let Ok(bytes) = results.recv() {
                    let event = match protocol::decode::<FromWorker<J::Output>>(&bytes) {
                        Ok(FromWorker::Results(results)) => Event::Results {
                            slot,
                            generation,
                            results,
                        },
                        Ok(FromWorker::SetupFailed(reason)) => Event::SetupFailed {
                            slot,
                            generation,
                            reason,
                        },
                        Err(e) => Event::Garbled {
                            slot,
                            generation,
                            reason: e.to_string(),
                        },
                    };
                    if events.send(event).is_err() {
                        child.kill();
                        break;
                    }
                }
                // The channel closed: the worker is exiting or dead. waitpid says how.
                let info = child.wait();
                let _ = events.send(Event::Exited {
                    slot,
                    generation,
                    info,
                });
            });
        if spawned.is_err() {
            // Without its I/O thread the worker can never be heard from: end it now, so its
            // tasks are requeued like any other death.
            fallback.kill();
            let info = fallback.wait();
            let _ = self.events_tx.send(Event::Exited {
                slot,
                generation,
                info,
            });
        }
    }

    fn on_results(
        &mut self,
        slot: usize,
        results: Vec<(u64, TaskResult<J::Output>)>,
        obs: &mut impl Observer<J::Task, J::Output>,
    ) {
        for (id, result) in results {
            let Phase::Live(live) = &mut self.slots[slot].phase else {
                return;
            };
            if live.inflight.front() != Some(&id) {
                obs.notice(&Notice::Misbehaved {
                    slot,
                    pid: live.child.pid(),
                    reason: format!("answered task {id} out of order"),
                });
                live.garbled = true;
                live.child.kill();
                return;
            }
            live.inflight.pop_front();
            live.front_done += 1;
            if live.batches.front() == Some(&live.front_done) {
                live.batches.pop_front();
                live.front_done = 0;
            }
            self.slots[slot].stats.tasks += 1;
            let attempts = self.attempts[id as usize] + 1;
            let outcome = Outcome {
                result: match result {
                    TaskResult::Done(output) => Ok(output),
                    TaskResult::Panicked(message) => Err(Failure::Panicked(message)),
                },
                attempts,
            };
            self.finish_task(id, outcome, obs);
        }
        self.recycle_if_spent(slot);
        self.dispatch();
    }

    fn finish_task(
        &mut self,
        id: u64,
        outcome: Outcome<J::Output>,
        obs: &mut impl Observer<J::Task, J::Output>,
    ) {
        match &outcome.result {
            Ok(_) => self.summary.completed += 1,
            Err(_) => self.summary.failed += 1,
        }
        obs.outcome(id as usize, &self.tasks[id as usize], &outcome);
        self.outcomes[id as usize] = Some(outcome);
        self.check_finished();
    }

    fn check_finished(&mut self) {
        if !self.finishing && self.summary.completed + self.summary.failed == self.summary.tasks {
            self.begin_finishing();
        }
    }

    fn begin_finishing(&mut self) {
        self.finishing = true;
        self.drain_deadline = Some(Instant::now() + self.config.shutdown_grace);
        for slot in 0..self.slots.len() {
            self.stop_slot(slot);
        }
    }

    /// Asks a live worker to exit (closing its task channel) and waits for it.
    ///
    /// A slot still spawning is left alone: its worker is stopped as soon as it is ready.
    fn stop_slot(&mut self, slot: usize) {
        self.drain_slot(slot, None);
    }

    /// Sends a live worker the Shutdown frame and moves it to draining; `recycle_grace` marks
    /// a recycle (the slot is refilled on exit) and bounds how long the worker has to exit.
    fn drain_slot(&mut self, slot: usize, recycle_grace: Option<Duration>) {
        let s = &mut self.slots[slot];
        if !matches!(s.phase, Phase::Live(_)) {
            return;
        }
        if let Phase::Live(live) = std::mem::replace(&mut s.phase, Phase::Idle) {
            if let Some(tasks) = &live.tasks
                && let Ok(frame) = protocol::encode(&ToWorker::<()>::Shutdown)
            {
                let _ = tasks.send(&frame);
            }
            // A worker the watchdog is killing keeps its SIGKILL time: it is stuck and will
            // not read the frame.
            let killing_at = live.killing.as_ref().and_then(|k| k.kill_at);
            s.phase = Phase::Draining(Drain {
                child: live.child,
                recycling: recycle_grace.is_some(),
                kill_at: recycle_grace.map(|g| Instant::now() + g).or(killing_at),
            });
        }
    }

    fn on_exited(
        &mut self,
        slot: usize,
        info: Result<ExitInfo, Error>,
        obs: &mut impl Observer<J::Task, J::Output>,
    ) {
        let phase = std::mem::replace(&mut self.slots[slot].phase, Phase::Idle);
        let info = match info {
            Ok(info) => info,
            Err(e) => {
                obs.notice(&Notice::Misbehaved {
                    slot,
                    pid: 0,
                    reason: e.to_string(),
                });
                ExitInfo {
                    exit: crate::ExitKind::Exited(-1),
                    max_rss_bytes: 0,
                    cpu: Duration::ZERO,
                    stderr_tail: String::new(),
                }
            }
        };
        self.account_exit(slot, &info);
        match phase {
            Phase::Draining(drain) => {
                let state = if info.exit.is_success() {
                    SlotState::Exited
                } else {
                    SlotState::Dead
                };
                self.board.set_slot_state(slot, state);
                if drain.recycling {
                    self.on_recycled(slot, drain.child.pid(), &info, obs);
                }
            }
            Phase::Live(live) => self.on_worker_death(slot, live, info, obs),
            Phase::Idle | Phase::Spawning => {}
        }
    }

    fn account_exit(&mut self, slot: usize, info: &ExitInfo) {
        let stats = &mut self.slots[slot].stats;
        stats.max_rss_bytes = stats.max_rss_bytes.max(info.max_rss_bytes);
        stats.cpu += info.cpu;
    }

    fn on_worker_death(
        &mut self,
        slot: usize,
        mut live: Live,
        info: ExitInfo,
        obs: &mut impl Observer<J::Task, J::Output>,
    ) {
        self.board.set_slot_state(slot, SlotState::Dead);
        self.summary.worker_crashes += 1;
        let pid = live.child.pid();
        // Which task was running: the scoreboard says, if the worker got that far; a worker
        // without one runs its tasks in order, so it was the first unanswered one. A worker
        // the watchdog killed is charged for the task it was killed for, if still unanswered,
        // and nothing else (a successor task that started during the grace is not its fault).
        let view = self.board.slot_view(slot);
        self.board.clear_current(slot);
        let killed = live.killing.take();
        let running = match view.current_task {
            _ if live.setup_failed => None,
            _ if killed.is_some() => killed
                .as_ref()
                .and_then(|k| k.task)
                .filter(|id| live.inflight.contains(id)),
            Some(id) if live.inflight.contains(&id) => Some(id),
            Some(_) => None,
            None if view.heartbeat_ms == 0 => live.inflight.front().copied(),
            None => None,
        };
        if !self.finishing {
            obs.notice(&Notice::WorkerDied {
                slot,
                pid,
                exit: info.exit,
                chaos: live.chaos_killed,
                stderr_tail: &info.stderr_tail,
            });
        }
        if killed.is_some() {
            // The supervisor ended it: not a sign that something is systematically wrong.
            self.summary.timeouts += 1;
        } else if live.chaos_killed {
            self.summary.chaos_kills += 1;
        } else {
            self.note_restart(format!("worker {pid} (slot {slot}) {}", info.exit));
        }
        // Split what the worker held: its running batch is isolated (one task per message from
        // now on), batches it never started go back to the ordinary queue.
        let front_len = live.batches.front().map_or(0, |n| n - live.front_done);
        let held: Vec<u64> = live.inflight.drain(..).collect();
        let (front, rest) = held.split_at(front_len.min(held.len()));
        let mut isolate = Vec::new();
        for &id in front {
            if Some(id) == running {
                self.attempts[id as usize] += 1;
                let tries = self.attempts[id as usize];
                if tries <= self.config.retries {
                    self.summary.retried += 1;
                } else {
                    let failure = match &killed {
                        Some(killing) => killing.failure.clone(),
                        None => self.crash_failure(&info),
                    };
                    let outcome = Outcome {
                        result: Err(failure),
                        attempts: tries,
                    };
                    self.finish_task(id, outcome, obs);
                    continue;
                }
            }
            isolate.push(id);
        }
        if self.finishing {
            // The run already gave up: these stay without an outcome.
        } else {
            self.schedule.isolate(isolate);
            self.schedule.requeue(rest.iter().copied());
        }
        self.replace(slot);
        self.dispatch();
    }

    /// Records an unexpected death for the restart-intensity limit, giving up past it.
    fn note_restart(&mut self, reason: String) {
        let now = Instant::now();
        self.restarts.push_back(now);
        while self
            .restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.config.restart_window)
        {
            self.restarts.pop_front();
        }
        if self.restarts.len() > self.config.max_restarts as usize && !self.finishing {
            self.give_up(format!(
                "more than {} worker restarts within {:?} (last: {reason})",
                self.config.max_restarts, self.config.restart_window
            ));
        }
    }

    /// Stops early on request: nothing more is dispatched or respawned; workers get SIGTERM
    /// and, after the grace period (or at once for `Immediate`), SIGKILL. Their deaths are
    /// not crashes and charge no task.
    fn stop(&mut self, mode: StopMode, reason: String) {
        if self.summary.interrupted.is_none() {
            self.summary.interrupted = Some(reason);
        }
        self.schedule.clear();
        self.finishing = true;
        let signal = match mode {
            StopMode::Graceful => libc::SIGTERM,
            StopMode::Immediate => libc::SIGKILL,
        };
        let grace = match mode {
            StopMode::Graceful => self.config.kill_grace,
            StopMode::Immediate => Duration::ZERO,
        };
        let deadline = Instant::now() + grace;
        self.drain_deadline = Some(self.drain_deadline.map_or(deadline, |d| d.min(deadline)));
        for slot in &mut self.slots {
            let phase = std::mem::replace(&mut slot.phase, Phase::Idle);
            slot.phase = match phase {
                Phase::Live(live) => {
                    live.child.signal(signal);
                    Phase::Draining(Drain::new(live.child))
                }
                Phase::Draining(drain) => {
                    drain.child.signal(signal);
                    Phase::Draining(drain)
                }
                other => other,
            };
        }
    }

    fn give_up(&mut self, reason: String) {
        self.summary.gave_up = Some(reason);
        self.schedule.clear();
        self.finishing = true;
        self.drain_deadline = Some(Instant::now() + self.config.shutdown_grace);
        for slot in 0..self.slots.len() {
            if let Phase::Live(live) = &self.slots[slot].phase {
                live.child.kill();
            }
            self.stop_slot(slot);
        }
    }

    fn replace(&mut self, slot: usize) {
        if self.finishing {
            return;
        }
        self.slots[slot].restarts += 1;
        self.board.set_restarts(slot, self.slots[slot].restarts);
        self.request_spawn(slot);
    }

    /// Hands batches to every live worker with room in its window.
    fn dispatch(&mut self) {
        if self.finishing {
            return;
        }
        loop {
            let mut progressed = false;
            for slot in 0..self.slots.len() {
                if self.schedule.is_empty() {
                    return;
                }
                let Phase::Live(live) = &mut self.slots[slot].phase else {
                    continue;
                };
                if live.batches.len() >= WINDOW
                    || live.garbled
                    || live.chaos_killed
                    || live.killing.is_some()
                {
                    continue;
                }
                // A worker being recycled gets no more than its share in all.
                let room = match self.config.max_tasks_per_child {
                    Some(cap) => cap.saturating_sub(live.sent),
                    None => u64::MAX,
                };
                if room == 0 {
                    continue;
                }
                // A second, queued batch only pays off for small tasks (it hides the round
                // trip); a big task queued behind another would be stuck while other workers
                // idle, which ruins largest-first balancing.
                if !live.batches.is_empty() && !self.schedule.next_is_small() {
                    continue;
                }
                let Some(sender) = &live.tasks else { continue };
                let batch = self
                    .schedule
                    .next_batch(usize::try_from(room).unwrap_or(usize::MAX));
                if batch.is_empty() {
                    return;
                }
                let frame = ToWorker::Batch(
                    batch
                        .iter()
                        .map(|&id| (id, &self.tasks[id as usize]))
                        .collect(),
                );
                let encoded = match protocol::encode(&frame) {
                    Ok(bytes) => bytes,
                    // Encoding our own task types cannot fail short of a bug in a Serialize impl;
                    // leave the tasks queued rather than lose them.
                    Err(_) => return,
                };
                // A send to a dead worker fails; the tasks stay in flight and are requeued
                // when its exit arrives.
                let _ = sender.send(&encoded);
                live.inflight.extend(batch.iter().copied());
                live.sent += batch.len() as u64;
                live.batches.push_back(batch.len());
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
    }

    fn chaos_kill(&mut self) {
        let busy: Vec<usize> = (0..self.slots.len())
            .filter(|&s| match &self.slots[s].phase {
                Phase::Live(live) => {
                    !live.inflight.is_empty() && !live.chaos_killed && live.killing.is_none()
                }
                _ => false,
            })
            .collect();
        if busy.is_empty() {
            return;
        }
        let slot = busy[self.rng.usize(..busy.len())];
        if let Phase::Live(live) = &mut self.slots[slot].phase {
            live.chaos_killed = true;
            live.child.kill();
        }
    }

    fn publish_progress(&self) {
        self.board.set_progress(
            self.summary.completed + self.summary.failed,
            self.summary.failed,
            self.summary.retried,
            self.summary.worker_crashes,
            self.summary.workers_spawned,
        );
    }
}

fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or("")
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
