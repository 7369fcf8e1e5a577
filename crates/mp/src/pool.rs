//! `Pool`: Python's `multiprocessing.Pool` on supervised workers.

use crate::dispatch::{Cell, Dispatcher};
use crate::error::{Error, TaskError};
use crate::function::{Function, call_of, decode_result, encode};
use crate::job::Call;
use crate::run::{Event, RunHandle};
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Settings shared by every run of a pool or executor.
#[derive(Clone, Debug, Default)]
pub(crate) struct Settings {
    pub(crate) retries: u32,
    pub(crate) max_tasks_per_child: Option<u64>,
    pub(crate) chunksize: Option<usize>,
    pub(crate) max_restarts: Option<u32>,
    pub(crate) task_timeout: Option<Duration>,
    /// Run once in each worker of a `map` / `imap_unordered` run before its first task.
    pub(crate) initializer: Option<Call>,
    /// Where every run writes its lifecycle (JSON Lines).
    pub(crate) events: Option<crate::EventLog>,
}

/// Builds a [`Pool`] (or a [`crate::ProcessPoolExecutor`]) with non-default settings.
#[derive(Clone, Debug, Default)]
pub struct PoolBuilder {
    processes: Option<usize>,
    settings: Settings,
    /// Why the initializer's argument could not be encoded (reported by `build`).
    initializer_error: Option<String>,
}

impl PoolBuilder {
    /// Worker processes (default: the cores this process may use).
    pub fn processes(mut self, processes: usize) -> Self {
        self.processes = Some(processes);
        self
    }

    /// Most tasks sent to a worker in one message (default: adaptive, sized by the engine).
    pub fn chunksize(mut self, chunksize: usize) -> Self {
        self.settings.chunksize = Some(chunksize);
        self
    }

    /// Each worker process runs at most this many tasks, then is replaced by a fresh one.
    pub fn max_tasks_per_child(mut self, tasks: u64) -> Self {
        self.settings.max_tasks_per_child = Some(tasks);
        self
    }

    /// How many times a task whose worker died is run again (default 0: a task that crashes
    /// its worker fails alone, with how the worker died).
    pub fn retries(mut self, retries: u32) -> Self {
        self.settings.retries = retries;
        self
    }

    /// More than this many unexpected worker deaths within 10 s stops a run; the tasks not
    /// run by then fail with [`TaskError::NotRun`] (default: twice the processes, at least 10).
    pub fn max_restarts(mut self, restarts: u32) -> Self {
        self.settings.max_restarts = Some(restarts);
        self
    }

    /// A task running longer than this has its worker killed and fails (default: none).
    pub fn task_timeout(mut self, timeout: Duration) -> Self {
        self.settings.task_timeout = Some(timeout);
        self
    }

    /// Writes the lifecycle of the pool's runs to `log` as JSON Lines, as `supervisor run
    /// --events` does (workers started and ended, every attempt at every task, retries), for
    /// a timeline: `supervisor report EVENTS`. Each run of the pool appends its own lines
    /// (numbered by `run`); call [`crate::EventLog::finish`] to wait until all is written.
    pub fn events(mut self, log: crate::EventLog) -> Self {
        self.settings.events = Some(log);
        self
    }

    /// A registered function run once in each worker process before its first task, with
    /// `arg` (Python's `Pool(initializer=f, initargs=..)`), e.g. to set up per-process state
    /// (a `static` `OnceLock`, an environment variable, a connection).
    ///
    /// It applies to every worker of the pool: those of [`Pool::map`] and
    /// [`Pool::imap_unordered`] and those that run [`Pool::apply_async`] calls (each run
    /// starts fresh workers, so it runs once per worker of each run, and again in a worker
    /// that replaces a dead or recycled one).
    /// A worker whose initializer fails or panics fails to start: the run gives up after
    /// [`PoolBuilder::max_restarts`] such failures, and its tasks end as
    /// [`TaskError::NotRun`] with the initializer's error. An unregistered `f` makes
    /// [`PoolBuilder::build`] fail with [`Error::Unregistered`].
    pub fn initializer<F: Function>(mut self, f: F, arg: F::Arg) -> Self {
        match encode(&arg) {
            Ok(arg) => {
                self.settings.initializer = Some(Call {
                    function: f.name().to_string(),
                    arg,
                });
                self.initializer_error = None;
            }
            Err(e) => self.initializer_error = Some(e),
        }
        self
    }

    pub(crate) fn parts(self) -> Result<(usize, Settings), Error> {
        if let Some(e) = self.initializer_error {
            return Err(Error::Encode(e));
        }
        if let Some(init) = &self.settings.initializer {
            crate::function::check_callable(&init.function)?;
        }
        let processes = self
            .processes
            .unwrap_or_else(supervisor_runtime::Config::available_cores);
        if processes == 0 {
            return Err(Error::Config("processes must be at least 1".into()));
        }
        if self.settings.chunksize == Some(0) {
            return Err(Error::Config("chunksize must be at least 1".into()));
        }
        if self.settings.max_tasks_per_child == Some(0) {
            return Err(Error::Config(
                "max_tasks_per_child must be at least 1".into(),
            ));
        }
        if !crate::initialized() {
            return Err(Error::NotInitialized);
        }
        Ok((processes, self.settings))
    }

    /// The pool.
    pub fn build(self) -> Result<Pool, Error> {
        let (processes, settings) = self.parts()?;
        Ok(Pool {
            processes,
            dispatcher: Dispatcher::new(processes, settings.clone())?,
            settings,
            workers: Arc::new(Mutex::new(BTreeSet::new())),
        })
    }
}

/// A pool of worker processes (Python's `multiprocessing.Pool`).
///
/// Each [`Pool::map`] / [`Pool::imap_unordered`] call is one supervised run whose workers live
/// for that call; [`Pool::apply_async`] calls are queued and run in batches on a background
/// thread, at most `processes` workers at a time. A task whose worker crashes fails alone (its
/// result is a [`TaskError`]); the others go on. Dropping the pool kills its running workers,
/// reaps them, and fails the calls not yet run ([`Pool::terminate`]).
pub struct Pool {
    processes: usize,
    settings: Settings,
    dispatcher: Dispatcher,
    /// Pids of the workers started by this pool's `map` / `imap_unordered` runs; the ones
    /// that ended are pruned by [`Pool::worker_pids`].
    workers: Arc<Mutex<BTreeSet<u32>>>,
}

impl Pool {
    /// A pool of `processes` workers with default settings.
    pub fn new(processes: usize) -> Result<Self, Error> {
        Pool::builder().processes(processes).build()
    }

    /// A builder, for `chunksize`, `max_tasks_per_child`, `retries`, ...
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// The number of worker processes.
    pub fn processes(&self) -> usize {
        self.processes
    }

    /// `f` applied to every input, results in input order; each failed task has its own
    /// [`TaskError`]. Blocks until every task has ended and every worker is reaped.
    pub fn map<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
    ) -> Result<Vec<Result<F::Output, TaskError>>, Error> {
        let iter = self.imap_unordered(f, inputs)?;
        let mut results: Vec<Option<Result<F::Output, TaskError>>> = Vec::new();
        results.resize_with(iter.remaining, || None);
        for (index, result) in iter {
            results[index] = Some(result);
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(TaskError::NotRun("lost".into()))))
            .collect())
    }

    /// `f` applied to every input, yielding `(input index, result)` as tasks complete.
    /// Dropping the iterator early kills the run's workers and reaps them.
    pub fn imap_unordered<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
    ) -> Result<ImapUnordered<'_, F::Output>, Error> {
        let calls = inputs
            .into_iter()
            .map(|arg| call_of(&f, &arg))
            .collect::<Result<Vec<_>, _>>()?;
        // Even with no inputs, an unregistered function is an error.
        crate::function::check_callable(f.name())?;
        let (tx, rx) = mpsc::channel();
        let remaining = calls.len();
        let run = if calls.is_empty() {
            None
        } else {
            let config = crate::job::config(self.processes.min(calls.len()), &self.settings);
            let workers = Arc::clone(&self.workers);
            Some(RunHandle::start_with_initializer(
                config,
                self.settings.initializer.clone(),
                calls,
                move |event| match event {
                    Event::Done(index, result) => {
                        let _ = tx.send((index, result));
                    }
                    Event::Started(pid) => {
                        lock(&workers).insert(pid);
                    }
                },
            )?)
        };
        Ok(ImapUnordered {
            rx,
            remaining,
            run,
            pool: PhantomData,
            types: PhantomData,
        })
    }

    /// Queues `f(arg)`; the result arrives in the returned [`AsyncResult`].
    pub fn apply_async<F: Function>(
        &self,
        f: F,
        arg: F::Arg,
    ) -> Result<AsyncResult<F::Output>, Error> {
        let cell = self.dispatcher.submit(call_of(&f, &arg)?)?;
        Ok(AsyncResult {
            cell,
            types: PhantomData,
        })
    }

    /// `f(arg)` in a worker, waiting for the result (Python's `apply`).
    pub fn apply<F: Function>(
        &self,
        f: F,
        arg: F::Arg,
    ) -> Result<Result<F::Output, TaskError>, Error> {
        Ok(self.apply_async(f, arg)?.get())
    }

    /// The pids of the worker processes running this pool's [`Pool::map`] /
    /// [`Pool::imap_unordered`] calls now (Python: `[p.pid for p in pool._pool]`), in
    /// ascending order: the workers the runs reported started that are still alive children
    /// of this process. Empty when no such call is in progress. Pass each to
    /// [`crate::process_stats`] for its memory and CPU time; a worker may end between the two
    /// calls, so that one fails with `NotFound`. Workers of [`Pool::apply_async`] calls are
    /// not included.
    pub fn worker_pids(&self) -> Vec<u32> {
        let mut workers = lock(&self.workers);
        workers.retain(|&pid| is_live_child(pid));
        workers.iter().copied().collect()
    }

    /// No more [`Pool::apply_async`] calls; queued ones still run.
    pub fn close(&self) {
        self.dispatcher.close();
    }

    /// Closes the pool and waits for every queued call to end and its workers to be reaped.
    pub fn join(&self) {
        self.dispatcher.join();
    }

    /// Kills the running workers, fails the queued calls with [`TaskError::NotRun`], and reaps
    /// everything. What drop does.
    pub fn terminate(&self) {
        self.dispatcher.terminate("the pool was terminated");
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The results of [`Pool::imap_unordered`], as `(input index, result)` in completion order.
pub struct ImapUnordered<'a, R> {
    rx: Receiver<(usize, Result<Vec<u8>, TaskError>)>,
    remaining: usize,
    run: Option<RunHandle>,
    pool: PhantomData<&'a Pool>,
    types: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> Iterator for ImapUnordered<'_, R> {
    type Item = (usize, Result<R, TaskError>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            if let Some(run) = self.run.take() {
                run.wait();
            }
            return None;
        }
        let (index, result) = match self.rx.recv() {
            Ok(item) => item,
            Err(_) => {
                self.remaining = 0;
                return None;
            }
        };
        self.remaining -= 1;
        if self.remaining == 0 {
            // The last result: wait until the run's workers are reaped.
            if let Some(run) = self.run.take() {
                run.wait();
            }
        }
        Some((index, decode_result(&result)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

/// The pending result of [`Pool::apply_async`]. Dropping it leaves the call to the pool.
pub struct AsyncResult<R> {
    cell: Arc<Cell>,
    types: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> AsyncResult<R> {
    /// Waits for the result.
    pub fn get(&self) -> Result<R, TaskError> {
        let result = self.cell.wait(None).expect("no timeout");
        decode_result(&result)
    }

    /// Waits at most `timeout` (`None`: not ready yet).
    pub fn get_timeout(&self, timeout: Duration) -> Option<Result<R, TaskError>> {
        self.cell.wait(Some(timeout)).map(|r| decode_result(&r))
    }

    /// Whether the call has ended.
    pub fn ready(&self) -> bool {
        self.cell.is_done()
    }

    /// Whether the call ended with a result (Python's `successful`); `None` while running.
    pub fn successful(&self) -> Option<bool> {
        self.cell.wait(Some(Duration::ZERO)).map(|r| r.is_ok())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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
