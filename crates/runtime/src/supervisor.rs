//! The public face of the engine: [`Supervisor`] runs a job's tasks, either as one batch
//! ([`Supervisor::run`]) or as an open run that takes tasks over time ([`Supervisor::open`]).
//! Both start the same executor thread around the same coordinator; the batch form is an open
//! run whose tasks are all submitted up front and that is closed at once.

use crate::config::Config;
use crate::coordinator::{Coordinator, NoticeData, Settings, WorkerSignal};
use crate::events::{RunInfo, RunSettings, TaskLabels};
use crate::executor::{self, Control, Delivery, Executor, FixedList, Input, TaskStore};
use crate::observer::{Notice, Observer};
use crate::protocol;
use crate::report::{Outcome, Report, Summary};
use crate::scoreboard::{self, Scoreboard};
use crate::spawner::{self, SpawnPlan};
use crate::task_image::{SharedImage, TaskImage};
use crate::task_list::TaskList;
use crate::watchdog::Limits;
use crate::{Error, Job};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Batches a worker may hold at once: one running and one queued, so it never waits for a
/// round trip between batches.
const WINDOW: usize = 2;

/// How long [`Stopper::suspend`] waits for the workers to be told.
const SUSPEND_ACK: Duration = Duration::from_secs(1);

/// Runs a job's tasks in supervised worker processes.
pub struct Supervisor<J: Job> {
    config: Config,
    setup: J::Setup,
    inputs_tx: Sender<Input<J>>,
    inputs_rx: Receiver<Input<J>>,
}

/// How a run should stop early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopMode {
    /// Stop dispatching, send SIGTERM to every worker, SIGKILL after the grace period.
    Graceful,
    /// SIGKILL every worker now.
    Immediate,
}

/// Controls a run from any thread (e.g. a signal-handling thread): stop it, suspend and resume
/// its workers, signal them. Cheap to clone; harmless after the run ended.
#[derive(Clone)]
pub struct Stopper {
    send: Arc<dyn Fn(Control) + Send + Sync>,
}

impl Stopper {
    fn new<J: Job>(inputs: Sender<Input<J>>) -> Self {
        let inputs = Mutex::new(inputs);
        Stopper {
            send: Arc::new(move |control| {
                let inputs = inputs.lock().unwrap_or_else(|e| e.into_inner());
                let _ = inputs.send(Input::Control(control));
            }),
        }
    }

    /// Stops the run; `reason` ends up in [`Summary::interrupted`]. Harmless after the run
    /// ended or when called again (a second, `Immediate` call hurries a graceful stop).
    /// Results that workers send while they stop are kept.
    pub fn stop(&self, mode: StopMode, reason: impl Into<String>) {
        (self.send)(Control::Stop {
            mode,
            reason: reason.into(),
        });
    }

    /// Stops every worker (SIGTSTP to its process group) and pauses the run's timers, as
    /// Ctrl-Z does to a foreground job; returns once the workers were signalled (or after a
    /// second). Time spent suspended does not count against task or heartbeat timeouts.
    pub fn suspend(&self) {
        let (ack, acked) = mpsc::channel();
        (self.send)(Control::Suspend { ack: Some(ack) });
        let _ = acked.recv_timeout(SUSPEND_ACK);
    }

    /// Continues the workers (SIGCONT) and the timers after [`Stopper::suspend`].
    pub fn resume(&self) {
        (self.send)(Control::Resume);
    }

    /// Sends `signal` to every worker's process group, through the engine, so that a pid that
    /// was already reaped (and may be reused) is never signalled. A worker that dies of it is
    /// handled like any other death.
    pub fn signal_workers(&self, signal: WorkerSignal) {
        (self.send)(Control::Signal(signal));
    }
}

impl<J: Job> Supervisor<J> {
    /// A supervisor for job `J` with run-wide `setup`.
    pub fn new(config: Config, setup: J::Setup) -> Self {
        let (inputs_tx, inputs_rx) = executor::channel::<J>();
        Supervisor {
            config,
            setup,
            inputs_tx,
            inputs_rx,
        }
    }

    /// A handle that controls this supervisor's run (before or during it).
    pub fn stopper(&self) -> Stopper {
        Stopper::new(self.inputs_tx.clone())
    }

    /// Runs every task and returns one outcome per task, in task order.
    ///
    /// `observer` hears each task's final outcome as it happens (for streaming output and
    /// progress) and notices about workers, on the calling thread; however slow it is, it
    /// never holds up the run. The call returns when every task has an outcome and every
    /// worker is reaped, or earlier when the restart-intensity limit is exceeded
    /// ([`Summary::gave_up`]) or a [`Stopper`] stops it ([`Summary::interrupted`]). The tasks
    /// are handed back in the report.
    pub fn run(
        self,
        tasks: Vec<J::Task>,
        observer: &mut impl Observer<J::Task, J::Output>,
    ) -> Result<Report<J::Task, J::Output>, Error> {
        let tasks = Arc::new(tasks);
        let (outcomes, summary) = self.drive(&tasks, observer, true)?;
        let tasks = Arc::try_unwrap(tasks).unwrap_or_else(|shared| (*shared).clone());
        Ok(Report {
            tasks,
            outcomes,
            summary,
        })
    }

    /// Runs every task of `tasks` like [`Supervisor::run`], for a caller that holds its tasks
    /// in its own compact form ([`TaskList`]) and keeps what it needs of each outcome itself
    /// (the observer hears every one): the engine holds neither the tasks nor the outcomes,
    /// only what it schedules by (a cost and a few counters per task). For the CLI's hash
    /// job over a million files that is 72 MB less than [`Supervisor::run`] would hold.
    pub fn run_list<L: TaskList<J::Task>>(
        self,
        tasks: Arc<L>,
        observer: &mut impl Observer<J::Task, J::Output>,
    ) -> Result<Summary, Error> {
        self.drive(&tasks, observer, false)
            .map(|(_, summary)| summary)
    }

    /// The run behind [`Supervisor::run`] and [`Supervisor::run_list`]: the outcomes (only
    /// with `keep`) and the summary.
    #[allow(clippy::type_complexity)]
    fn drive<L: TaskList<J::Task>>(
        self,
        tasks: &Arc<L>,
        observer: &mut impl Observer<J::Task, J::Output>,
        keep: bool,
    ) -> Result<(Vec<Option<Outcome<J::Output>>>, Summary), Error> {
        let workers = self.config.workers.min(tasks.len()).max(1);
        let n = tasks.len();
        let stopper = self.stopper();
        let shared: Arc<dyn TaskList<J::Task>> = Arc::clone(tasks) as Arc<dyn TaskList<J::Task>>;
        let started = self.start(workers, shared, true)?;
        // Should the observer panic, the run is stopped at once and its workers reaped
        // before the panic goes on.
        let mut guard = StopOnDrop {
            stopper,
            thread: Some(started.thread),
        };
        let mut outcomes: Vec<Option<Outcome<J::Output>>> = Vec::new();
        if keep {
            outcomes.resize_with(n, || None);
        }
        for batch in started.deliveries {
            for delivery in batch {
                match delivery {
                    Delivery::Outcome(id, outcome) => {
                        let index = id as usize;
                        observer.outcome(index, &tasks.task(index), &outcome);
                        if keep {
                            outcomes[index] = Some(outcome);
                        }
                    }
                    Delivery::Notice(notice) => observer.notice(&notice.as_notice()),
                }
            }
        }
        let thread = guard.thread.take().expect("joined once");
        let summary = thread
            .join()
            .map_err(|_| Error::Protocol("the run's executor thread panicked".into()))?;
        Ok((outcomes, summary))
    }

    /// Starts an open run: `config.workers` workers start now and live until the run ends;
    /// tasks are submitted over time through the returned [`OpenRun`], and their outcomes
    /// arrive through [`RunEvents`]. The run ends when it is closed and every submitted task
    /// has its outcome (or when it is stopped, or gives up).
    pub fn open(self) -> Result<(OpenRun<J>, RunEvents<J::Output>), Error> {
        let workers = self.config.workers.max(1);
        let inputs = self.inputs_tx.clone();
        let stopper = self.stopper();
        let started = self.start(workers, Arc::new(Vec::new()), false)?;
        Ok((
            OpenRun {
                submit: Mutex::new(Submitter { inputs, next_id: 0 }),
                ended: started.ended,
                stopper,
                thread: Mutex::new(Some(started.thread)),
            },
            RunEvents {
                deliveries: started.deliveries,
                buffered: std::collections::VecDeque::new(),
            },
        ))
    }

    /// Creates the scoreboard, the spawner and the executor thread.
    fn start(
        self,
        workers: usize,
        fixed: Arc<dyn TaskList<J::Task>>,
        closed: bool,
    ) -> Result<Started<J>, Error> {
        let Supervisor {
            config,
            setup,
            inputs_tx,
            inputs_rx,
        } = self;
        config.validate()?;
        raise_fd_limit();
        let started = Instant::now();
        let board = Arc::new(
            Scoreboard::create(workers, J::NAME)
                .map_err(|e| Error::io("cannot create the scoreboard", e))?,
        );
        board.set_cost_is_bytes(J::COST_IS_BYTES);
        let tracer = config.events.as_ref().and_then(|log| {
            log.start_run(run_info::<J>(&config, workers), task_labels::<J>(&fixed))
        });
        let mut settings = settings(&config, workers);
        settings.trace = tracer.is_some();
        settings.costliest_first_from = J::COSTLIEST_FIRST_FROM;
        let abort_grace = settings.abort_grace();
        let mut coord = Coordinator::new(settings);
        // A list's tasks are costed and scheduled on the coordinator's thread once it has
        // asked for the workers, while they start (a million take about as long as a worker
        // takes to start, ~30 ms). A closed run with no tasks is over before any is asked for.
        let list = (!fixed.is_empty()).then_some(FixedList { closed });
        if closed && list.is_none() {
            let mut ignored = Vec::new();
            coord.handle(
                started,
                crate::coordinator::Event::<J::Output>::Closed,
                &mut ignored,
            );
        }
        let (spawn_tx, spawn_rx) = mpsc::channel();
        let cancelled = Arc::new(AtomicBool::new(false));
        // Built by the spawner before its first worker, while this run's coordinator costs
        // the same list (see `task_image`).
        let image = Arc::new(if J::TASKS_FROM_IMAGE && !fixed.is_empty() {
            let list = Arc::clone(&fixed);
            SharedImage::new(Box::new(move || {
                list.image()
                    .and_then(|pieces| TaskImage::create(&pieces).ok())
            }))
        } else {
            SharedImage::none()
        });
        let plan = SpawnPlan {
            exe: config.worker_exe.clone(),
            args: config.worker_args.clone(),
            job: J::NAME.to_string(),
            setup: protocol::encode(&setup)?,
            board: Arc::clone(&board),
            image: Arc::clone(&image),
            handshake_timeout: config.handshake_timeout,
            memory_limit: config.memory_limit,
            output: config.output,
            timing: tracer.is_some(),
            abort_grace,
        };
        let news = inputs_tx.clone();
        let spawner_cancelled = Arc::clone(&cancelled);
        let spawner = std::thread::Builder::new()
            .name("supervisor-spawner".into())
            .spawn(move || {
                spawner::serve(
                    plan,
                    spawn_rx,
                    news,
                    executor::spawn_input::<J>,
                    executor::read_results::<J>,
                    spawner_cancelled,
                )
            })
            .map_err(|e| Error::io("cannot start the spawner thread", e))?;
        let (deliver, deliveries) = mpsc::channel();
        let ended = Arc::new(AtomicBool::new(false));
        let executor = Executor::<J> {
            coord,
            inputs: inputs_rx,
            inputs_tx,
            board,
            spawn_tx,
            spawner,
            cancelled,
            store: TaskStore::new(fixed),
            image,
            deliver,
            ended: Arc::clone(&ended),
            started,
            tracer,
            deliver_after: config.deliver_after,
            list,
        };
        let thread = std::thread::Builder::new()
            .name("supervisor-coordinator".into())
            .spawn(move || executor.run())
            .map_err(|e| Error::io("cannot start the coordinator thread", e))?;
        Ok(Started {
            thread,
            deliveries,
            ended,
        })
    }
}

struct Started<J: Job> {
    thread: JoinHandle<Summary>,
    deliveries: Receiver<Vec<Delivery<J::Output>>>,
    ended: Arc<AtomicBool>,
}

fn settings(config: &Config, workers: usize) -> Settings {
    Settings {
        workers,
        retries: config.retries,
        max_restarts: config.max_restarts,
        restart_window: config.restart_window,
        chaos: config.chaos,
        kill_grace: config.kill_grace,
        shutdown_grace: config.shutdown_grace,
        max_tasks_per_child: config.max_tasks_per_child,
        memory_limit: config.memory_limit,
        limits: Limits {
            task_timeout: config.task_timeout,
            heartbeat_timeout: config.heartbeat_timeout,
            slack_ms: scoreboard::tick_ms(),
        },
        window: WINDOW,
        max_batch: config.max_batch,
        costliest_first_from: 0,
        trace: false,
    }
}

/// The labels of the tasks a run has from its start, for the event log's `tasks` lines.
fn task_labels<J: Job>(fixed: &Arc<dyn TaskList<J::Task>>) -> Option<TaskLabels> {
    if fixed.is_empty() {
        return None;
    }
    let tasks = Arc::clone(fixed);
    Some(TaskLabels {
        count: tasks.len() as u64,
        labels: Box::new(move |range, out, ends| {
            tasks.push_labels(range, J::push_label, out, ends)
        }),
    })
}

/// What the event log's `run_start` line says about a run.
fn run_info<J: Job>(config: &Config, workers: usize) -> RunInfo {
    let ms = |d: Duration| d.as_millis() as u64;
    RunInfo {
        tool: String::new(),
        version: String::new(),
        argv: std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        job: J::NAME.to_string(),
        workers,
        host: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default(),
        pid: std::process::id(),
        wall_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        settings: RunSettings {
            retries: config.retries,
            max_restarts: config.max_restarts,
            restart_window_ms: ms(config.restart_window),
            chaos_every_ms: config.chaos.map(|c| c.every.as_secs_f64() * 1000.0),
            chaos_seed: config.chaos.map(|c| c.seed),
            task_timeout_ms: config.task_timeout.map(ms),
            heartbeat_timeout_ms: config.heartbeat_timeout.map(ms),
            kill_grace_ms: ms(config.kill_grace),
            max_tasks_per_child: config.max_tasks_per_child,
            memory_limit: config.memory_limit,
            cost_is_bytes: J::COST_IS_BYTES,
        },
    }
}

/// Stops the run at once and waits for it, unless defused by taking the thread.
struct StopOnDrop {
    stopper: Stopper,
    thread: Option<JoinHandle<Summary>>,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stopper.stop(StopMode::Immediate, "abandoned");
            let _ = thread.join();
        }
    }
}

struct Submitter<J: Job> {
    inputs: Sender<Input<J>>,
    next_id: u64,
}

/// The submitting side of an open run (see [`Supervisor::open`]). Shareable between threads.
///
/// Dropping it stops the run at once (SIGKILL to every worker) unless it was closed and has
/// ended; [`OpenRun::finish`] waits for the end instead.
pub struct OpenRun<J: Job> {
    submit: Mutex<Submitter<J>>,
    ended: Arc<AtomicBool>,
    stopper: Stopper,
    thread: Mutex<Option<JoinHandle<Summary>>>,
}

impl<J: Job> OpenRun<J> {
    /// Submits tasks as one call: they share the workers fairly with other calls' tasks
    /// (calls take turns, batch by batch). Returns their ids, which their outcomes carry.
    /// Fails once the run has ended (closed and drained, stopped, or gave up).
    pub fn submit(&self, tasks: Vec<J::Task>) -> Result<Range<u64>, Error> {
        let mut submit = self.submit.lock().unwrap_or_else(|e| e.into_inner());
        if self.ended.load(Ordering::Acquire) {
            return Err(Error::Config("the run has ended".into()));
        }
        let first = submit.next_id;
        let n = tasks.len() as u64;
        if n == 0 {
            return Ok(first..first);
        }
        submit
            .inputs
            .send(Input::Submit { first, tasks })
            .map_err(|_| Error::Config("the run has ended".into()))?;
        submit.next_id += n;
        Ok(first..first + n)
    }

    /// No more tasks: the run ends once every submitted task has its outcome.
    pub fn close(&self) {
        let submit = self.submit.lock().unwrap_or_else(|e| e.into_inner());
        let _ = submit.inputs.send(Input::Close);
    }

    /// A handle that stops, suspends or signals this run.
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// True once the run is over (every worker reaped).
    pub fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Closes the run, waits for it to end, and returns its summary. Tasks without an outcome
    /// (the run was stopped or gave up) are counted in [`Summary::not_run`].
    pub fn finish(self) -> Result<Summary, Error> {
        self.close();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        match thread {
            Some(thread) => thread
                .join()
                .map_err(|_| Error::Protocol("the run's executor thread panicked".into())),
            None => Err(Error::Config("the run was already finished".into())),
        }
    }
}

impl<J: Job> Drop for OpenRun<J> {
    fn drop(&mut self) {
        let thread = self
            .thread
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(thread) = thread {
            if !self.ended.load(Ordering::Acquire) {
                self.stopper.stop(StopMode::Immediate, "dropped");
            }
            let _ = thread.join();
        }
    }
}

/// Something an open run reports.
#[derive(Debug)]
pub enum RunEvent<O> {
    /// Task `id` reached its final outcome (exactly once per task).
    Outcome {
        /// The id [`OpenRun::submit`] gave it.
        id: u64,
        /// Its outcome.
        outcome: Outcome<O>,
    },
    /// Something happened to a worker.
    Notice(OwnedNotice),
}

/// A [`Notice`] that owns its text, as [`RunEvent::Notice`] carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedNotice(NoticeData);

impl OwnedNotice {
    /// The notice.
    pub fn notice(&self) -> Notice<'_> {
        self.0.as_notice()
    }
}

/// The receiving side of an open run: its events, in order, until it ends.
pub struct RunEvents<O> {
    deliveries: Receiver<Vec<Delivery<O>>>,
    buffered: std::collections::VecDeque<Delivery<O>>,
}

impl<O> RunEvents<O> {
    /// The next event, waiting for it; `None` once the run has ended and every event was
    /// received.
    pub fn recv(&mut self) -> Option<RunEvent<O>> {
        loop {
            if let Some(delivery) = self.buffered.pop_front() {
                return Some(event(delivery));
            }
            self.buffered.extend(self.deliveries.recv().ok()?);
        }
    }

    /// Like [`RunEvents::recv`], waiting at most `timeout`: `Err(true)` when the run has
    /// ended and every event was received, `Err(false)` on timeout.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<RunEvent<O>, bool> {
        let until = Instant::now() + timeout;
        loop {
            if let Some(delivery) = self.buffered.pop_front() {
                return Ok(event(delivery));
            }
            let left = until.saturating_duration_since(Instant::now());
            match self.deliveries.recv_timeout(left) {
                Ok(batch) => self.buffered.extend(batch),
                Err(mpsc::RecvTimeoutError::Timeout) => return Err(false),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(true),
            }
        }
    }
}

impl<O> Iterator for RunEvents<O> {
    type Item = RunEvent<O>;

    fn next(&mut self) -> Option<RunEvent<O>> {
        self.recv()
    }
}

fn event<O>(delivery: Delivery<O>) -> RunEvent<O> {
    match delivery {
        Delivery::Outcome(id, outcome) => RunEvent::Outcome { id, outcome },
        Delivery::Notice(notice) => RunEvent::Notice(OwnedNotice(notice)),
    }
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
