//! The executor: the one thread that feeds the coordinator its events and carries out its
//! commands.
//!
//! Everything that happens to a run arrives on one channel as an [`Input`]: spawn news from
//! the spawner and its handshake threads, results and exits from each worker's I/O thread,
//! submissions and controls (stop, Ctrl-Z) from any thread. The executor turns each into a
//! coordinator [`Event`], adding what the coordinator cannot know by itself (the time, the
//! scoreboard's reading), and performs the [`Command`]s that come back. None of them can block
//! it: frames go to each worker's writer thread, spawns to the spawner, outcomes and notices
//! to the caller's thread in batches, and signals go straight to the worker's process group
//! through its [`ChildProcess`], which knows whether the pid is still ours.

mod store;
mod writer;

use crate::coordinator::{
    BoardUpdate, Command, Coordinator, Event, NoticeData, Trace, WorkerSignal,
};
use crate::events::{Tracer, monotonic_us};
use crate::process::{ChildProcess, ExitInfo};
use crate::protocol::{self, FromWorker, Span, TaskResult, ToWorker};
use crate::report::{Outcome, Summary};
use crate::scoreboard::{self, Scoreboard};
use crate::spawner::{SpawnNews, SpawnRequest};
use crate::supervisor::StopMode;
use crate::task_image::SharedImage;
use crate::{Error, Job};
use ipc_channel::ipc::IpcBytesReceiver;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
pub(crate) use store::TaskStore;
use writer::{NO_TASK, Writer};

/// Outcomes are handed to the caller's thread at most this long after they are known (by
/// default: [`crate::Config::deliver_after`])...
pub(crate) const DELIVER_AFTER: Duration = Duration::from_millis(1);
/// ... or as soon as this many wait (a batch stays well below the allocator's threshold for
/// mapping fresh pages, so its memory is reused rather than faulted in anew each time).
const DELIVER_COUNT: usize = 1024;

/// Something the executor hears.
pub(crate) enum Input<J: Job> {
    /// Tasks of an open run, numbered from `first`.
    Submit {
        first: u64,
        tasks: Vec<J::Task>,
    },
    /// No more submissions.
    Close,
    Control(Control),
    Spawn(SpawnNews),
    Results {
        slot: usize,
        generation: u64,
        results: Vec<(u64, TaskResult<J::Output>)>,
        spans: Vec<Span>,
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
    Ready {
        slot: usize,
        generation: u64,
    },
    Exited {
        slot: usize,
        generation: u64,
        info: Result<ExitInfo, Error>,
    },
}

/// A request from outside the run (a [`crate::Stopper`]).
pub(crate) enum Control {
    Stop {
        mode: StopMode,
        reason: String,
    },
    /// Ctrl-Z; `ack` hears once every worker was sent SIGTSTP.
    Suspend {
        ack: Option<Sender<()>>,
    },
    Resume,
    Signal(WorkerSignal),
}

/// What the caller's thread receives, in batches.
pub(crate) enum Delivery<O> {
    Outcome(u64, Outcome<O>),
    Notice(NoticeData),
}

/// The executor's link to the current process of a slot.
struct Link {
    generation: u64,
    child: Arc<ChildProcess>,
    writer: Option<Writer>,
    /// Our end of the worker's bootstrap pair: open while the worker lives, so the worker
    /// can tell a parent that died during its handshake (during the handshake: a copy that
    /// aborts it when shut down).
    bootstrap: Option<std::os::fd::OwnedFd>,
}

/// Everything the executor thread owns.
pub(crate) struct Executor<J: Job> {
    pub(crate) coord: Coordinator,
    pub(crate) inputs: Receiver<Input<J>>,
    /// Held for the run's life, so the input channel never reads as closed (the spawner and
    /// the workers' readers hold clones that come and go).
    pub(crate) inputs_tx: Sender<Input<J>>,
    pub(crate) board: Arc<Scoreboard>,
    pub(crate) spawn_tx: Sender<SpawnRequest>,
    pub(crate) spawner: JoinHandle<()>,
    /// Set by `CancelSpawns`: queued spawn requests end without a process.
    pub(crate) cancelled: Arc<AtomicBool>,
    pub(crate) store: TaskStore<J::Task>,
    /// The fixed list's image: once built, its tasks go to workers by index.
    pub(crate) image: Arc<SharedImage>,
    pub(crate) deliver: Sender<Vec<Delivery<J::Output>>>,
    /// Set when the run is over, so submitters fail fast.
    pub(crate) ended: Arc<AtomicBool>,
    pub(crate) started: Instant,
    /// The run's end of the event log, if it has one.
    pub(crate) tracer: Option<Tracer>,
    /// How long outcomes may wait to be handed over together ([`crate::Config::deliver_after`]).
    pub(crate) deliver_after: Duration,
    /// The store's fixed list, submitted once the workers are asked for (`None`: no list).
    pub(crate) list: Option<FixedList>,
}

/// A run's fixed list of tasks, not yet submitted to the coordinator.
pub(crate) struct FixedList {
    /// No tasks come after the list (a closed run).
    pub(crate) closed: bool,
}

impl<J: Job> Executor<J> {
    /// Runs until the run is over and every worker is reaped; returns the summary.
    pub(crate) fn run(self) -> Summary {
        let Executor {
            mut coord,
            inputs,
            inputs_tx,
            board,
            spawn_tx,
            spawner,
            cancelled,
            store,
            image,
            deliver,
            ended,
            started,
            tracer,
            deliver_after,
            list,
        } = self;
        let _open = inputs_tx;
        let slots = board.slots();
        let mut state = State::<J> {
            links: (0..slots).map(|_| None).collect(),
            board,
            spawn_tx,
            cancelled,
            store,
            image,
            pending: Vec::new(),
            pending_since: None,
            limits_on: false,
            tracer,
            deliver_after,
        };
        state.limits_on = coord_limits_on(&coord);
        let mut commands = Vec::new();
        coord.start(Instant::now(), &mut commands);
        state.perform(&mut commands);
        if let Some(list) = list {
            state.submit_fixed(&mut coord, list, &mut commands);
        }
        while !coord.is_done() {
            let now = Instant::now();
            let tick_at = coord.next_deadline();
            let deliver_at = state.pending_since.map(|since| since + state.deliver_after);
            let wake = [tick_at, deliver_at].into_iter().flatten().min();
            let input = match wake {
                Some(at) if at <= now => None,
                Some(at) => inputs.recv_timeout(at - now).ok(),
                None => inputs.recv().ok(),
            };
            if let Some(input) = input {
                state.accept(&mut coord, input, &mut commands);
                // Take what else is already waiting before handing results over, so a
                // burst costs one delivery.
                for _ in 0..64 {
                    match inputs.try_recv() {
                        Ok(input) => state.accept(&mut coord, input, &mut commands),
                        Err(_) => break,
                    }
                }
            }
            if tick_at.is_some_and(|at| at <= Instant::now()) {
                let vitals = if state.limits_on {
                    (0..slots).map(|s| state.board.vitals(s)).collect()
                } else {
                    Vec::new()
                };
                let tick = Event::Tick {
                    now_ms: scoreboard::now_ms(),
                    vitals,
                };
                coord.handle(Instant::now(), tick, &mut commands);
                state.perform(&mut commands);
            }
            state.deliver(&deliver, coord.is_done());
            if let Some(tracer) = &mut state.tracer {
                tracer.flush();
            }
            let s = coord.summary();
            state.board.set_progress(
                s.completed + s.failed,
                s.failed,
                s.retried,
                s.worker_crashes,
                s.workers_spawned,
            );
        }
        state.deliver(&deliver, true);
        ended.store(true, Ordering::Release);
        let tracer = state.tracer.take();
        drop(state);
        let _ = spawner.join();
        let mut summary = coord.into_summary();
        summary.elapsed = started.elapsed();
        if let Some(tracer) = tracer {
            tracer.end(&summary);
        }
        summary
    }
}

fn coord_limits_on(coord: &Coordinator) -> bool {
    coord.watches_limits()
}

/// The executor's state beside the coordinator.
struct State<J: Job> {
    links: Vec<Option<Link>>,
    board: Arc<Scoreboard>,
    spawn_tx: Sender<SpawnRequest>,
    cancelled: Arc<AtomicBool>,
    store: TaskStore<J::Task>,
    image: Arc<SharedImage>,
    pending: Vec<Delivery<J::Output>>,
    /// When the oldest undelivered outcome or notice was queued.
    pending_since: Option<Instant>,
    limits_on: bool,
    tracer: Option<Tracer>,
    deliver_after: Duration,
}

impl<J: Job> State<J> {
    /// Hands what is pending to the caller's thread once there is a lot of it, or its oldest
    /// part has waited `deliver_after` ([`DELIVER_AFTER`] by default), or `now` says so: a result reaches the observer
    /// within a millisecond, and a stream of them costs one wake-up of that thread per
    /// few thousand.
    fn deliver(&mut self, deliver: &Sender<Vec<Delivery<J::Output>>>, now: bool) {
        if self.pending.is_empty() {
            return;
        }
        let due = now
            || self.pending.len() >= DELIVER_COUNT
            || self
                .pending_since
                .is_some_and(|since| since.elapsed() >= self.deliver_after);
        if due {
            self.pending_since = None;
            let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(DELIVER_COUNT));
            let _ = deliver.send(batch);
        }
    }

    fn queue(&mut self, delivery: Delivery<J::Output>) {
        if self.pending.is_empty() {
            self.pending_since = Some(Instant::now());
        }
        self.pending.push(delivery);
    }

    /// Submits the run's fixed list (tasks `0..`) to the coordinator, and closes the run if
    /// nothing comes after it.
    fn submit_fixed(
        &mut self,
        coord: &mut Coordinator,
        list: FixedList,
        commands: &mut Vec<Command<J::Output>>,
    ) {
        let costs = self.store.fixed_costs(J::cost);
        self.board
            .add_totals(costs.len() as u64, costs.iter().sum());
        coord.handle(
            Instant::now(),
            Event::Submitted { first: 0, costs },
            commands,
        );
        if list.closed {
            coord.handle(Instant::now(), Event::Closed, commands);
        }
        self.perform(commands);
    }

    fn accept(
        &mut self,
        coord: &mut Coordinator,
        input: Input<J>,
        commands: &mut Vec<Command<J::Output>>,
    ) {
        let now = Instant::now();
        let event = match input {
            Input::Submit { first, tasks } => {
                let costs: Vec<u64> = tasks.iter().map(J::cost).collect();
                self.board
                    .add_totals(tasks.len() as u64, costs.iter().sum());
                self.store.add(first, tasks);
                Event::Submitted { first, costs }
            }
            Input::Close => Event::Closed,
            Input::Control(Control::Stop { mode, reason }) => Event::Stop { mode, reason },
            Input::Control(Control::Suspend { ack }) => {
                coord.handle(
                    now,
                    Event::Suspend {
                        now_ms: scoreboard::now_ms(),
                    },
                    commands,
                );
                self.perform(commands);
                if let Some(ack) = ack {
                    let _ = ack.send(());
                }
                return;
            }
            Input::Control(Control::Resume) => Event::Resume {
                now_ms: scoreboard::now_ms(),
            },
            Input::Control(Control::Signal(signal)) => Event::SignalAll { signal },
            Input::Spawn(news) => match self.on_spawn_news(news) {
                Some(event) => event,
                None => return,
            },
            Input::Results {
                slot,
                generation,
                results,
                spans,
            } => {
                if let Some(link) = self.links[slot]
                    .as_mut()
                    .filter(|l| l.generation == generation)
                    && let Some(writer) = &mut link.writer
                {
                    for (id, _) in &results {
                        writer.answered(*id);
                    }
                }
                Event::Results {
                    slot,
                    generation,
                    results,
                    spans,
                }
            }
            Input::Garbled {
                slot,
                generation,
                reason,
            } => Event::Garbled {
                slot,
                generation,
                reason,
            },
            Input::Ready { slot, generation } => Event::Ready { slot, generation },
            Input::SetupFailed {
                slot,
                generation,
                reason,
            } => Event::SetupFailed {
                slot,
                generation,
                reason,
            },
            Input::Exited {
                slot,
                generation,
                info,
            } => {
                let seen = self.board.vitals(slot);
                if self.links[slot]
                    .as_ref()
                    .is_some_and(|l| l.generation == generation)
                {
                    self.links[slot] = None;
                }
                let info = info.unwrap_or_else(|e| {
                    self.queue(Delivery::Notice(NoticeData::Misbehaved {
                        slot,
                        pid: 0,
                        reason: e.to_string(),
                    }));
                    ExitInfo {
                        exit: crate::ExitKind::Exited(-1),
                        max_rss_bytes: 0,
                        cpu: Duration::ZERO,
                        stderr_tail: String::new(),
                    }
                });
                Event::Exited {
                    slot,
                    generation,
                    info,
                    seen,
                }
            }
        };
        coord.handle(now, event, commands);
        self.perform(commands);
    }

    fn on_spawn_news(&mut self, news: SpawnNews) -> Option<Event<J::Output>> {
        match news {
            SpawnNews::Started {
                slot,
                generation,
                child,
                abort,
            } => {
                let pid = child.pid();
                self.links[slot] = Some(Link {
                    generation,
                    child,
                    writer: None,
                    bootstrap: abort,
                });
                Some(Event::SpawnStarted {
                    slot,
                    generation,
                    pid,
                })
            }
            SpawnNews::Ready {
                slot,
                generation,
                child,
                tasks,
                bootstrap,
            } => {
                // Its results are already being read, on the thread that did the handshake.
                let pid = child.pid();
                self.links[slot] = Some(Link {
                    generation,
                    child,
                    writer: Some(Writer::new(pid, tasks)),
                    bootstrap: Some(bootstrap),
                });
                Some(Event::Spawned {
                    slot,
                    generation,
                    pid,
                })
            }
            SpawnNews::Failed {
                slot,
                generation,
                error,
                pid,
                exit,
                cancelled,
            } => {
                if self.links[slot]
                    .as_ref()
                    .is_some_and(|l| l.generation == generation)
                {
                    self.links[slot] = None;
                }
                Some(Event::SpawnFailed {
                    slot,
                    generation,
                    pid,
                    error: error.to_string(),
                    exit,
                    cancelled,
                })
            }
        }
    }

    fn link(&self, slot: usize, generation: u64) -> Option<&Link> {
        self.links[slot]
            .as_ref()
            .filter(|l| l.generation == generation)
    }

    fn perform(&mut self, commands: &mut Vec<Command<J::Output>>) {
        // One clock read stamps every record of the step.
        let now_us = match &self.tracer {
            Some(_) if !commands.is_empty() => monotonic_us(),
            _ => 0,
        };
        for command in commands.drain(..) {
            match command {
                Command::Spawn { slot, generation } => {
                    let _ = self.spawn_tx.send(SpawnRequest { slot, generation });
                }
                Command::CancelSpawns => self.cancelled.store(true, Ordering::Release),
                Command::AbortSpawn { slot, generation } => {
                    if let Some(fd) = self
                        .link(slot, generation)
                        .and_then(|l| l.bootstrap.as_ref())
                    {
                        // The worker sees its parent's end hang up: it removes its handshake
                        // socket and exits; the handshake thread sees the same and reports it.
                        let _ = nix::sys::socket::shutdown(
                            std::os::fd::AsRawFd::as_raw_fd(fd),
                            nix::sys::socket::Shutdown::Both,
                        );
                    }
                }
                Command::Send {
                    slot,
                    generation,
                    ids,
                    deaths,
                } => {
                    // Tasks of the fixed list go by index once the workers have its image
                    // (every worker started after it was built); they are then built here
                    // only for the event log's labels.
                    let indexed = self.image.built().is_some()
                        && ids.iter().all(|&id| self.store.is_fixed(id));
                    let labels = match (&mut self.tracer, ids.first()) {
                        (Some(tracer), Some(_)) => tracer.labels_needed(ids.iter().copied()),
                        _ => false,
                    };
                    let tasks: Vec<_> = if indexed && !labels {
                        Vec::new()
                    } else {
                        ids.iter().map(|&id| self.store.get(id)).collect()
                    };
                    // The batch's record follows: its labels are read from the tasks at hand.
                    if let (Some(tracer), Some(&first), true) =
                        (&mut self.tracer, ids.first(), labels)
                    {
                        tracer.stage_labels(first, &tasks, |task, out| J::push_label(task, out));
                    }
                    let first = ids.first().copied().unwrap_or(NO_TASK);
                    // Encoding our own task types cannot fail short of a bug in a Serialize
                    // impl; the worker then holds nothing and the tasks come back when it is
                    // recycled or dies.
                    let encoded = if let ([id], 1..) = (ids.as_slice(), deaths) {
                        let task = tasks.first().filter(|_| !indexed).map(|t| t.as_ref());
                        protocol::encode(&ToWorker::Rerun(*id, task, deaths))
                    } else if indexed {
                        protocol::encode(&ToWorker::<&J::Task>::Indexed(ids))
                    } else {
                        protocol::encode(&ToWorker::Batch(
                            ids.iter()
                                .zip(&tasks)
                                .map(|(&id, task)| (id, task.as_ref()))
                                .collect::<Vec<_>>(),
                        ))
                    };
                    if let (Some(link), Ok(bytes)) = (
                        self.links[slot]
                            .as_mut()
                            .filter(|l| l.generation == generation),
                        encoded,
                    ) && let Some(writer) = &mut link.writer
                        && writer.send(first, bytes).is_err()
                    {
                        // It can never be fed its batch: end it, and its tasks come back as
                        // from any other death.
                        link.child.kill();
                    }
                }
                Command::Shutdown { slot, generation } => {
                    if let Some(link) = self.links[slot]
                        .as_mut()
                        .filter(|l| l.generation == generation)
                        && let Some(mut writer) = link.writer.take()
                        && let Ok(frame) = protocol::encode(&ToWorker::<()>::Shutdown)
                    {
                        // Dropping the writer afterwards closes the channel as well (and a
                        // worker whose shutdown cannot be queued sees it closed: it exits).
                        let _ = writer.send(NO_TASK, frame);
                    }
                }
                Command::Signal {
                    slot,
                    generation,
                    signal,
                } => {
                    if let Some(link) = self.link(slot, generation) {
                        match signal {
                            WorkerSignal::Terminate => link.child.terminate(),
                            WorkerSignal::Kill => link.child.kill(),
                            WorkerSignal::Stop => link.child.signal(libc::SIGTSTP),
                            WorkerSignal::Continue => link.child.signal(libc::SIGCONT),
                        }
                    }
                }
                Command::Board(update) => match update {
                    BoardUpdate::Process { slot, pid, state } => {
                        self.board.set_slot_process(slot, pid, state)
                    }
                    BoardUpdate::State { slot, state } => self.board.set_slot_state(slot, state),
                    BoardUpdate::Restarts { slot, restarts } => {
                        self.board.set_restarts(slot, restarts)
                    }
                    BoardUpdate::ClearMarks { slot } => self.board.clear_worker_marks(slot),
                },
                Command::Outcome { id, outcome } => {
                    self.store.release(id);
                    self.queue(Delivery::Outcome(id, outcome));
                }
                Command::Notice(notice) => self.queue(Delivery::Notice(notice)),
                Command::Trace(trace) => {
                    if let Some(tracer) = &mut self.tracer {
                        match trace {
                            // Labels were staged when the batch was encoded (just before);
                            // a task is looked up again only if they were not.
                            Trace::Batch { slot, pid, ids, .. } => {
                                let store = &self.store;
                                tracer.push_batch(now_us, slot, pid, ids, |id, out| {
                                    if let Some(task) = store.try_get(id) {
                                        J::push_label(&task, out);
                                    }
                                });
                            }
                            trace => tracer.push(now_us, trace),
                        }
                    }
                }
            }
        }
    }
}

/// Reads worker `child`'s results until its channel closes, then reaps it; runs on the thread
/// that did its handshake (see `spawner`).
pub(crate) fn read_results<J: Job>(
    slot: usize,
    generation: u64,
    child: Arc<ChildProcess>,
    results: IpcBytesReceiver,
    inputs: Sender<Input<J>>,
) {
    while let Ok(bytes) = results.recv() {
        let input = match protocol::decode::<FromWorker<J::Output>>(&bytes) {
            Ok(FromWorker::Results(results, spans)) => Input::Results {
                slot,
                generation,
                results,
                spans,
            },
            Ok(FromWorker::Ready) => Input::Ready { slot, generation },
            Ok(FromWorker::SetupFailed(reason)) => Input::SetupFailed {
                slot,
                generation,
                reason,
            },
            Err(e) => Input::Garbled {
                slot,
                generation,
                reason: e.to_string(),
            },
        };
        if inputs.send(input).is_err() {
            child.kill();
            break;
        }
    }
    // The channel closed: the worker is exiting or dead. waitpid says how.
    let info = child.wait();
    let _ = inputs.send(Input::Exited {
        slot,
        generation,
        info,
    });
}

/// Wraps spawner news as an executor input.
pub(crate) fn spawn_input<J: Job>(news: SpawnNews) -> Input<J> {
    Input::Spawn(news)
}

/// A fresh input channel.
pub(crate) fn channel<J: Job>() -> (Sender<Input<J>>, Receiver<Input<J>>) {
    mpsc::channel()
}
