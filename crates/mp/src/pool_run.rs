//! The open run behind a persistent [`crate::Pool`], and the router thread that hands each
//! finished engine task to the call it belongs to.
//!
//! The pool's workers start with the pool and live for its life: one open run of the engine
//! ([`supervisor_runtime::Supervisor::open`]). Every call submits its chunks as one flow, so
//! calls share the workers fairly. The router owns the run's event stream: an outcome goes to
//! its call's [`CallState`] (found by task id), a crashed chunk of several arguments is
//! submitted again one argument per task, and when the run ends (closed and drained,
//! terminated, or given up) every call still waiting gets [`crate::TaskError::NotRun`].

use crate::error::{Error, TaskError};
use crate::job::into_result;
use crate::pool_call::{CallState, OnDone};
use crate::pool_job::{ChunkTask, PoolJob, PoolSetup};
use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use supervisor_runtime::{
    Config, Notice, OpenRun, RunEvent, RunEvents, StopMode, Stopper, Supervisor,
};

/// Where a pool stands, as its callers see it.
enum State {
    /// Taking calls.
    Running,
    /// `close()` was called: what was submitted still runs; no new calls.
    Closed,
    /// `terminate()` was called (or the pool dropped).
    Terminated,
    /// The run ended by itself (the supervisor gave up): calls fail with this reason.
    Ended(String),
}

/// The tasks `start..end` of one submission.
struct Route {
    end: u64,
    call: Arc<CallState>,
    /// `None`: task `start + c` is chunk `c`; `Some(c)`: task `start + k` is argument `k` of
    /// chunk `c`, run alone after its chunk's worker died.
    split: Option<usize>,
    /// Tasks of the route without an outcome yet.
    left: u64,
}

struct Shared {
    state: State,
    run: Option<OpenRun<PoolJob>>,
    routes: BTreeMap<u64, Route>,
    /// Calls whose submission failed because the run was ending: failed when it has ended.
    orphans: Vec<Arc<CallState>>,
    /// The last line a worker that died wrote to stderr (why a run gave up).
    last_stderr: Option<String>,
}

/// The run and what the router knows about it.
pub(crate) struct PoolRun {
    shared: Mutex<Shared>,
    stopper: Stopper,
    /// The current worker pid of each slot (0: none yet).
    pids: Mutex<Vec<u32>>,
    pids_changed: Condvar,
    /// The router thread, which must never wait for itself.
    router: std::sync::OnceLock<std::thread::ThreadId>,
    /// Set when the router has finished (every worker reaped, every call answered).
    over: Mutex<bool>,
    over_changed: Condvar,
}

impl PoolRun {
    /// Starts the workers and the router.
    pub(crate) fn start(
        config: Config,
        setup: PoolSetup,
    ) -> Result<(Arc<PoolRun>, JoinHandle<()>), Error> {
        let workers = config.workers;
        let handshake_timeout = config.handshake_timeout;
        let supervisor = Supervisor::<PoolJob>::new(config, setup);
        let stopper = supervisor.stopper();
        let (run, events) = supervisor
            .open()
            .map_err(|e| Error::Config(format!("cannot start the pool: {e}")))?;
        let pool = Arc::new(PoolRun {
            shared: Mutex::new(Shared {
                state: State::Running,
                run: Some(run),
                routes: BTreeMap::new(),
                orphans: Vec::new(),
                last_stderr: None,
            }),
            stopper,
            pids: Mutex::new(vec![0; workers]),
            pids_changed: Condvar::new(),
            router: std::sync::OnceLock::new(),
            over: Mutex::new(false),
            over_changed: Condvar::new(),
        });
        let router = Arc::clone(&pool);
        let thread = std::thread::Builder::new()
            .name("supervisor-mp-pool".into())
            .spawn(move || router.route(events));
        match thread {
            Ok(thread) => {
                let _ = pool.router.set(thread.thread().id());
                // As Python's `Pool()` returns with its processes started: every worker has
                // a pid (its initializer may still run), unless the run ended or a worker
                // takes longer than a handshake may.
                pool.wait_for_workers(handshake_timeout);
                Ok((pool, thread))
            }
            Err(e) => {
                pool.stopper
                    .stop(StopMode::Immediate, "the pool could not start");
                Err(Error::Thread(e))
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Submits a call's chunks as one flow. After `close()`/`terminate()`: `PoolNotRunning`.
    /// On a run that gave up, the call fails at once (every argument `NotRun`).
    pub(crate) fn submit(&self, call: &Arc<CallState>, tasks: Vec<ChunkTask>) -> Result<(), Error> {
        let mut on_done: Option<OnDone> = None;
        {
            let mut shared = self.lock();
            match &shared.state {
                State::Closed | State::Terminated => return Err(Error::PoolNotRunning),
                State::Ended(reason) => on_done = call.fail_pending(reason),
                State::Running => {
                    let submitted = match &shared.run {
                        Some(run) => run.submit(tasks).ok(),
                        None => None,
                    };
                    match submitted {
                        Some(range) if !range.is_empty() => {
                            shared.routes.insert(
                                range.start,
                                Route {
                                    end: range.end,
                                    call: Arc::clone(call),
                                    split: None,
                                    left: range.end - range.start,
                                },
                            );
                        }
                        Some(_) => {}
                        None => shared.orphans.push(Arc::clone(call)),
                    }
                }
            }
        }
        if let Some(on_done) = on_done {
            on_done(call);
        }
        Ok(())
    }

    /// No more calls; what was submitted still runs, then the workers exit.
    pub(crate) fn close(&self) {
        let mut shared = self.lock();
        if matches!(shared.state, State::Running) {
            shared.state = State::Closed;
        }
        if let Some(run) = &shared.run {
            run.close();
        }
    }

    /// Kills the workers now (SIGKILL); calls in progress end with `NotRun` for what had no
    /// result. Returns once every worker is reaped.
    pub(crate) fn terminate(&self) {
        self.lock().state = State::Terminated;
        self.stopper
            .stop(StopMode::Immediate, "the pool was terminated");
        self.wait_over();
    }

    /// Waits until the run has ended and every call was answered. On the router thread
    /// itself (`terminate()` or `join()` in a callback) it cannot wait for itself: it returns
    /// at once, and the run ends as soon as the callback has returned.
    pub(crate) fn wait_over(&self) {
        if self.router.get() == Some(&std::thread::current().id()) {
            return;
        }
        let over = self.over.lock().unwrap_or_else(|e| e.into_inner());
        let _over = self
            .over_changed
            .wait_while(over, |over| !*over)
            .unwrap_or_else(|e| e.into_inner());
    }

    /// Waits until every slot has had a worker connected, the run has ended, or `limit`.
    fn wait_for_workers(&self, limit: std::time::Duration) {
        let deadline = std::time::Instant::now() + limit;
        let mut pids = self.pids.lock().unwrap_or_else(|e| e.into_inner());
        while pids.contains(&0) && !*self.over.lock().unwrap_or_else(|e| e.into_inner()) {
            let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) else {
                return;
            };
            pids = self
                .pids_changed
                .wait_timeout(pids, left.min(std::time::Duration::from_millis(100)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The pids of the current workers that are alive children of this process, ascending.
    pub(crate) fn worker_pids(&self) -> Vec<u32> {
        let pids = self.pids.lock().unwrap_or_else(|e| e.into_inner());
        let mut live: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|&pid| pid != 0 && is_live_child(pid))
            .collect();
        live.sort_unstable();
        live
    }

    /// The router: runs until the run has ended.
    fn route(&self, mut events: RunEvents<Result<Vec<u8>, String>>) {
        while let Some(event) = events.recv() {
            match event {
                RunEvent::Outcome { id, outcome } => self.on_outcome(id, into_result(outcome)),
                RunEvent::Notice(notice) => match notice.notice() {
                    Notice::WorkerStarted { slot, pid } => {
                        let mut pids = self.pids.lock().unwrap_or_else(|e| e.into_inner());
                        if let Some(entry) = pids.get_mut(slot) {
                            *entry = pid;
                        }
                        self.pids_changed.notify_all();
                    }
                    Notice::WorkerDied { stderr_tail, .. } => {
                        let line = last_line(stderr_tail);
                        if line.is_some() {
                            self.lock().last_stderr = line;
                        }
                    }
                    _ => {}
                },
            }
        }
        self.on_end();
        *self.over.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.over_changed.notify_all();
        self.pids_changed.notify_all();
    }

    fn on_outcome(&self, id: u64, result: Result<Vec<u8>, TaskError>) {
        let (on_done, call) = {
            let mut shared = self.lock();
            let Some((&start, route)) = shared.routes.range_mut(..=id).next_back() else {
                return;
            };
            if id >= route.end {
                return;
            }
            let call = Arc::clone(&route.call);
            let split = route.split;
            route.left -= 1;
            if route.left == 0 {
                shared.routes.remove(&start);
            }
            let k = (id - start) as usize;
            let on_done = match split {
                Some(c) => call.finish_item(c, k, result),
                None if crashed(&result) && self.split(&mut shared, &call, k) => None,
                None => call.finish_chunk(k, result),
            };
            (on_done, call)
        };
        // Outside the lock: a callback may submit another call to this pool.
        if let Some(on_done) = on_done {
            on_done(&call);
        }
    }

    /// Runs chunk `c` of `call` again, one argument per task; false if it holds one argument
    /// or cannot be resubmitted.
    fn split(&self, shared: &mut Shared, call: &Arc<CallState>, c: usize) -> bool {
        let Some(args) = call.take_args_to_split(c) else {
            return false;
        };
        let Ok(items) = (call.split)(&args) else {
            return false;
        };
        let tasks: Vec<ChunkTask> = items
            .into_iter()
            .map(|args| ChunkTask {
                function: call.function.clone(),
                args,
                items: 1,
            })
            .collect();
        let Some(Ok(range)) = shared.run.as_ref().map(|run| run.submit(tasks)) else {
            return false;
        };
        call.mark_split(c);
        shared.routes.insert(
            range.start,
            Route {
                end: range.end,
                call: Arc::clone(call),
                split: Some(c),
                left: range.end - range.start,
            },
        );
        true
    }

    /// The run has ended: every call still waiting fails with the reason.
    fn on_end(&self) {
        let mut callbacks = Vec::new();
        {
            let mut shared = self.lock();
            let summary = shared.run.take().and_then(|run| run.finish().ok());
            let reason = match &shared.state {
                State::Terminated => "the pool was terminated".to_string(),
                _ => {
                    let why = summary
                        .as_ref()
                        .and_then(|s| s.gave_up.clone().or(s.interrupted.clone()));
                    match (why, &shared.last_stderr) {
                        (Some(why), Some(line)) => {
                            format!("the supervisor gave up: {why}; the worker said: {line}")
                        }
                        (Some(why), None) => format!("the supervisor gave up: {why}"),
                        (None, _) => "the pool's workers are gone".to_string(),
                    }
                }
            };
            if matches!(shared.state, State::Running) {
                shared.state = State::Ended(reason.clone());
            }
            let routes = std::mem::take(&mut shared.routes);
            let orphans = std::mem::take(&mut shared.orphans);
            for call in routes.into_values().map(|r| r.call).chain(orphans) {
                if let Some(on_done) = call.fail_pending(&reason) {
                    callbacks.push((on_done, call));
                }
            }
        }
        for (on_done, call) in callbacks {
            on_done(&call);
        }
    }
}

/// Whether a chunk's failure is its worker's death (or a timeout), after which its arguments
/// are worth running one by one.
fn crashed(result: &Result<Vec<u8>, TaskError>) -> bool {
    matches!(
        result,
        Err(TaskError::Signaled { .. } | TaskError::Exited { .. } | TaskError::Failed(_))
    )
}

/// The last non-empty line of a worker's stderr tail.
fn last_line(text: &str) -> Option<String> {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// Whether `pid` is a child of this process that has not exited (not a zombie).
fn is_live_child(pid: u32) -> bool {
    let Ok(id) = i32::try_from(pid) else {
        return false;
    };
    match procfs::process::Process::new(id).and_then(|p| p.stat()) {
        Ok(stat) => stat.ppid == std::process::id() as i32 && stat.state != 'Z',
        Err(_) => false,
    }
}
