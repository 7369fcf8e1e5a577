//! `Pool`: Python's `multiprocessing.Pool` on supervised workers.

use crate::error::{Error, TaskError};
use crate::function::{Function, encode};
use crate::job::Call;
use crate::pool_call::{CallState, ChunkResult, no_split, split_chunk};
use crate::pool_job::{ChunkTask, PoolSetup};
use crate::pool_results::first_result;
pub use crate::pool_results::{AsyncResult, Imap, ImapUnordered, MapResult};
use crate::pool_run::PoolRun;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Settings shared by every run of a pool or executor.
#[derive(Clone, Debug, Default)]
pub(crate) struct Settings {
    pub(crate) retries: u32,
    pub(crate) max_tasks_per_child: Option<u64>,
    pub(crate) chunksize: Option<usize>,
    pub(crate) max_restarts: Option<u32>,
    pub(crate) task_timeout: Option<Duration>,
    /// Run once in each worker process before its first task.
    pub(crate) initializer: Option<Call>,
    /// How long the initializer may take in each worker.
    pub(crate) initializer_timeout: Option<Duration>,
    /// Where every run writes its lifecycle (JSON Lines).
    pub(crate) events: Option<crate::EventLog>,
    /// Keep the workers' stdout and stderr (for failure reports) instead of passing them on.
    pub(crate) capture_output: bool,
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

    /// The pool's default `chunksize` (Python's): how many arguments of a `map`-like call
    /// travel to a worker as one task. Default: Python's rule for [`Pool::map`] (the
    /// arguments split into about four chunks per worker), 1 for [`Pool::imap`] and
    /// [`Pool::imap_unordered`], and 1 whenever a [`PoolBuilder::task_timeout`] is set (the
    /// timeout then bounds each argument). [`Pool::with_chunksize`] sets it per call. A
    /// [`crate::ProcessPoolExecutor`] sends each call alone.
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
    /// A [`Pool`] is one run for its whole life: once it has given up, every later call fails
    /// the same way (with the reason), as something is systematically wrong (an initializer
    /// that always fails, a binary that cannot start).
    pub fn max_restarts(mut self, restarts: u32) -> Self {
        self.settings.max_restarts = Some(restarts);
        self
    }

    /// A task running longer than this has its worker killed and fails (default: none).
    pub fn task_timeout(mut self, timeout: Duration) -> Self {
        self.settings.task_timeout = Some(timeout);
        self
    }

    /// Writes the lifecycle of the pool to `log` as JSON Lines, as `supervisor run --events`
    /// does (workers started and ended, every attempt at every task, retries), for a
    /// timeline: `supervisor report EVENTS`. A [`Pool`] is one run from `build` to its end
    /// (`join`, `terminate` or drop); each [`crate::Process`] is a run of its own, numbered by
    /// `run`. Call [`crate::EventLog::finish`] to wait until all is written.
    pub fn events(mut self, log: crate::EventLog) -> Self {
        self.settings.events = Some(log);
        self
    }

    /// A registered function run once in each worker process before its first task, with
    /// `arg` (Python's `Pool(initializer=f, initargs=..)`), e.g. to set up per-process state
    /// (a `static` `OnceLock`, an environment variable, a connection).
    ///
    /// A [`Pool`]'s (and a [`crate::ProcessPoolExecutor`]'s) workers live as long as it
    /// does, so it runs once per worker process, and again in each worker that replaces a
    /// dead or recycled one (as in Python).
    /// A worker whose initializer fails, panics or overruns
    /// [`PoolBuilder::initializer_timeout`] fails to start and is replaced: the pool gives
    /// up after [`PoolBuilder::max_restarts`] such failures, and its calls end as
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

    /// With `true`, what tasks print (`println!`, `eprintln!`) is captured instead of
    /// reaching this process's stdout and stderr: only its last few KiB appear, in the
    /// failure reports of tasks whose worker died (default `false`: a worker writes to the
    /// parent's stdout, and its stderr reaches the parent's stderr line by line, as Python's
    /// children do).
    pub fn capture_output(mut self, capture: bool) -> Self {
        self.settings.capture_output = capture;
        self
    }

    /// How long the initializer may run in each worker: past it, the worker writes why to
    /// its stderr and exits, which counts as a failed start (default: no limit).
    pub fn initializer_timeout(mut self, timeout: Duration) -> Self {
        self.settings.initializer_timeout = Some(timeout);
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

    /// The pool, with its workers starting now.
    pub fn build(self) -> Result<Pool, Error> {
        let (processes, settings) = self.parts()?;
        let mut config = crate::job::config(processes, &settings);
        // `chunksize` is Python's here (arguments per task), not the engine's batch size.
        config.max_batch = supervisor_runtime::Config::new(processes).max_batch;
        let setup = PoolSetup {
            initializer: settings.initializer.clone(),
            initializer_timeout: settings.initializer_timeout,
        };
        let (run, router) = PoolRun::start(config, setup)?;
        Ok(Pool {
            processes,
            settings,
            run,
            router: Mutex::new(Some(router)),
        })
    }
}

/// A pool of worker processes (Python's `multiprocessing.Pool`).
///
/// The workers start with the pool and live as long as it does (a dead or recycled one is
/// replaced at once); the initializer runs once in each. Every call (`map`, `imap`,
/// `apply_async`, ...) is queued on the same workers, and calls share them fairly: a short
/// call runs while a long one is in progress. A task whose worker crashes fails alone (its
/// result is a [`TaskError`]); the others go on.
///
/// [`Pool::close`] then [`Pool::join`] lets the queued work finish; [`Pool::terminate`] (and
/// dropping the pool) kills the workers now, and the calls in progress return at once with
/// what had finished and [`TaskError::NotRun`] for the rest. After either, every call fails
/// with [`Error::PoolNotRunning`], as in Python.
pub struct Pool {
    processes: usize,
    settings: Settings,
    run: Arc<PoolRun>,
    router: Mutex<Option<JoinHandle<()>>>,
}

/// What a call needs to know about how to chunk its arguments.
#[derive(Clone, Copy)]
enum Chunking {
    /// Python's `map` rule: about four chunks per worker.
    Map,
    /// One argument per task (`imap`, `apply`).
    One,
    /// As the caller said.
    Exactly(usize),
}

impl Pool {
    /// A pool of `processes` workers with default settings.
    pub fn new(processes: usize) -> Result<Self, Error> {
        Pool::builder().processes(processes).build()
    }

    /// A builder, for `chunksize`, `max_tasks_per_child`, `retries`, `initializer`, ...
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// The number of worker processes.
    pub fn processes(&self) -> usize {
        self.processes
    }

    /// The calls of this pool with `chunksize` arguments per task (Python's `chunksize=`
    /// argument of `map`, `imap`, `starmap`, ...).
    pub fn with_chunksize(&self, chunksize: usize) -> Chunked<'_> {
        Chunked {
            pool: self,
            chunksize: chunksize.max(1),
        }
    }

    fn chunksize(&self, chunking: Chunking, n: usize) -> usize {
        let default = match chunking {
            Chunking::Exactly(size) => return size.max(1),
            _ if self.settings.task_timeout.is_some() => 1,
            Chunking::Map => n.div_ceil(self.processes * 4),
            Chunking::One => 1,
        };
        self.settings.chunksize.unwrap_or(default).max(1)
    }

    /// Encodes the arguments in chunks and submits them as one call.
    fn submit<F: Function>(
        &self,
        f: &F,
        args: impl IntoIterator<Item = F::Arg>,
        chunking: Chunking,
    ) -> Result<Arc<CallState>, Error> {
        crate::function::check_callable(f.name())?;
        if crate::function::lookup_chunk(f.name()).is_none() {
            return Err(Error::Config(format!(
                "function {:?} was registered without a chunk entry point \
                 (`Entry::with_chunk`, as `task!` and `register!` do): a pool cannot run it",
                f.name()
            )));
        }
        let args: Vec<F::Arg> = args.into_iter().collect();
        let size = self.chunksize(chunking, args.len());
        let mut lens = Vec::with_capacity(args.len().div_ceil(size));
        let mut kept = Vec::with_capacity(lens.capacity());
        let mut tasks = Vec::with_capacity(lens.capacity());
        for chunk in args.chunks(size) {
            let bytes = encode(chunk).map_err(Error::Encode)?;
            lens.push(chunk.len());
            kept.push((chunk.len() > 1).then(|| bytes.clone()));
            tasks.push(ChunkTask {
                function: f.name().to_string(),
                args: bytes,
                items: u32::try_from(chunk.len()).unwrap_or(u32::MAX),
            });
        }
        let call = Arc::new(CallState::new(
            f.name().to_string(),
            split_chunk::<F::Arg>,
            &lens,
            kept,
        ));
        self.run.submit(&call, tasks)?;
        Ok(call)
    }

    /// Submits one call whose argument `call.arg` is already encoded as a chunk of one (for
    /// [`crate::ProcessPoolExecutor`]); `on_done` gets what came back, on the result thread.
    pub(crate) fn submit_one(
        &self,
        call: Call,
        on_done: impl FnOnce(ChunkResult) + Send + 'static,
    ) -> Result<(), Error> {
        let state = Arc::new(CallState::new(
            call.function.clone(),
            no_split,
            &[1],
            vec![None],
        ));
        state.set_on_done(Box::new(move |state: &CallState| {
            on_done(state.raw_result(0))
        }));
        let task = ChunkTask {
            function: call.function,
            args: call.arg,
            items: 1,
        };
        self.run.submit(&state, vec![task])
    }

    fn map_chunked<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
        chunking: Chunking,
    ) -> Result<Vec<Result<F::Output, TaskError>>, Error> {
        let call = self.submit(&f, inputs, chunking)?;
        call.wait(None);
        Ok(call.all_results())
    }

    /// `f` applied to every input, in parallel; results in input order, one per input.
    /// Blocks until every task has ended. The inputs travel in chunks (see
    /// [`PoolBuilder::chunksize`]); a chunk whose worker dies is run again one input per
    /// task, so only the input that kills its worker fails.
    pub fn map<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
    ) -> Result<Vec<Result<F::Output, TaskError>>, Error> {
        self.map_chunked(f, inputs, Chunking::Map)
    }

    /// Python's `starmap`: `f` applied to every tuple of arguments (a [`crate::task!`]
    /// function of several parameters takes them as one tuple). The same as [`Pool::map`].
    pub fn starmap<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
    ) -> Result<Vec<Result<F::Output, TaskError>>, Error> {
        self.map(f, inputs)
    }

    /// Like [`Pool::map`], without waiting: the results arrive in the returned
    /// [`MapResult`] (Python's `map_async`).
    pub fn map_async<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
    ) -> Result<MapResult<F::Output>, Error> {
        Ok(MapResult::new(self.submit(&f, inputs, Chunking::Map)?))
    }

    /// Python's `starmap_async`: [`Pool::map_async`] over tuples of arguments.
    pub fn starmap_async<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
    ) -> Result<MapResult<F::Output>, Error> {
        self.map_async(f, inputs)
    }

    /// [`Pool::map_async`] with Python's callbacks: once every input has its result,
    /// `on_success` gets them all if none failed, else `on_error` gets the first failure.
    /// They run on the pool's result thread, which they hold up while they run.
    pub fn map_async_with<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
        on_success: impl FnOnce(Vec<F::Output>) + Send + 'static,
        on_error: impl FnOnce(TaskError) + Send + 'static,
    ) -> Result<MapResult<F::Output>, Error> {
        let call = self.submit(&f, inputs, Chunking::Map)?;
        call.set_on_done(Box::new(move |call: &CallState| {
            match call.all_results::<F::Output>().into_iter().collect() {
                Ok(all) => on_success(all),
                Err(e) => on_error(e),
            }
        }));
        Ok(MapResult::new(call))
    }

    /// `f` applied to every input, yielding the results in input order as they become
    /// available (Python's `imap`). Dropping the iterator early leaves the remaining tasks
    /// to run on the pool; their results are discarded.
    pub fn imap<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
    ) -> Result<Imap<'_, F::Output>, Error> {
        Ok(Imap::new(self.submit(&f, inputs, Chunking::One)?))
    }

    /// `f` applied to every input, yielding `(input index, result)` as tasks complete.
    /// Dropping the iterator early leaves the remaining tasks to run on the pool; their
    /// results are discarded.
    pub fn imap_unordered<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
    ) -> Result<ImapUnordered<'_, F::Output>, Error> {
        Ok(ImapUnordered::new(self.submit(
            &f,
            inputs,
            Chunking::One,
        )?))
    }

    /// Queues `f(arg)`; the result arrives in the returned [`AsyncResult`].
    pub fn apply_async<F: Function>(
        &self,
        f: F,
        arg: F::Arg,
    ) -> Result<AsyncResult<F::Output>, Error> {
        Ok(AsyncResult::new(self.submit(&f, [arg], Chunking::One)?))
    }

    /// [`Pool::apply_async`] with Python's `callback` and `error_callback`: `on_success`
    /// gets the result, or `on_error` the failure. They run on the pool's result thread,
    /// which they hold up while they run.
    pub fn apply_async_with<F: Function>(
        &self,
        f: F,
        arg: F::Arg,
        on_success: impl FnOnce(F::Output) + Send + 'static,
        on_error: impl FnOnce(TaskError) + Send + 'static,
    ) -> Result<AsyncResult<F::Output>, Error> {
        let call = self.submit(&f, [arg], Chunking::One)?;
        call.set_on_done(Box::new(move |call: &CallState| {
            match first_result::<F::Output>(call) {
                Ok(value) => on_success(value),
                Err(e) => on_error(e),
            }
        }));
        Ok(AsyncResult::new(call))
    }

    /// `f(arg)` in a worker, waiting for the result (Python's `apply`).
    pub fn apply<F: Function>(
        &self,
        f: F,
        arg: F::Arg,
    ) -> Result<Result<F::Output, TaskError>, Error> {
        Ok(self.apply_async(f, arg)?.get())
    }

    /// The pids of the pool's worker processes (Python: `[p.pid for p in pool._pool]`), in
    /// ascending order: stable between calls; a worker that died or was recycled is
    /// replaced by a new pid. Pass each to [`crate::process_stats`] for its memory and CPU
    /// time; a worker may end between the two calls, so that one fails with `NotFound`.
    /// Empty once the pool was terminated or joined.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.run.worker_pids()
    }

    /// No more calls ([`Error::PoolNotRunning`] from now on); those already made still run,
    /// then the workers exit. Wait for that with [`Pool::join`].
    pub fn close(&self) {
        self.run.close();
    }

    /// Waits until every call made has ended and every worker is reaped. Closes the pool
    /// first if it was not (Python requires `close()` or `terminate()` before `join()`).
    pub fn join(&self) {
        self.run.close();
        self.run.wait_over();
        self.reap_router();
    }

    /// Kills the workers now (SIGKILL) and reaps them; every call in progress returns at once
    /// with the results that had finished and [`TaskError::NotRun`] for the rest, and later
    /// calls fail with [`Error::PoolNotRunning`]. What dropping the pool does.
    pub fn terminate(&self) {
        self.run.terminate();
        self.reap_router();
    }

    fn reap_router(&self) {
        let mut slot = self.router.lock().unwrap_or_else(|e| e.into_inner());
        // In a callback (on the router thread itself), the router ends once it returns.
        if slot
            .as_ref()
            .is_some_and(|router| router.thread().id() == std::thread::current().id())
        {
            return;
        }
        let router = slot.take();
        drop(slot);
        if let Some(router) = router {
            let _ = router.join();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A [`Pool`]'s calls with a fixed `chunksize` (see [`Pool::with_chunksize`]).
#[derive(Clone, Copy)]
pub struct Chunked<'a> {
    pool: &'a Pool,
    chunksize: usize,
}

impl<'a> Chunked<'a> {
    /// [`Pool::map`] with this chunksize.
    pub fn map<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
    ) -> Result<Vec<Result<F::Output, TaskError>>, Error> {
        self.pool
            .map_chunked(f, inputs, Chunking::Exactly(self.chunksize))
    }

    /// [`Pool::starmap`] with this chunksize.
    pub fn starmap<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
    ) -> Result<Vec<Result<F::Output, TaskError>>, Error> {
        self.map(f, inputs)
    }

    /// [`Pool::map_async`] with this chunksize.
    pub fn map_async<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
    ) -> Result<MapResult<F::Output>, Error> {
        let call = self
            .pool
            .submit(&f, inputs, Chunking::Exactly(self.chunksize))?;
        Ok(MapResult::new(call))
    }

    /// [`Pool::starmap_async`] with this chunksize.
    pub fn starmap_async<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
    ) -> Result<MapResult<F::Output>, Error> {
        self.map_async(f, inputs)
    }

    /// [`Pool::imap`] with this chunksize.
    pub fn imap<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
    ) -> Result<Imap<'a, F::Output>, Error> {
        let call = self
            .pool
            .submit(&f, inputs, Chunking::Exactly(self.chunksize))?;
        Ok(Imap::new(call))
    }

    /// [`Pool::imap_unordered`] with this chunksize.
    pub fn imap_unordered<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
    ) -> Result<ImapUnordered<'a, F::Output>, Error> {
        let call = self
            .pool
            .submit(&f, inputs, Chunking::Exactly(self.chunksize))?;
        Ok(ImapUnordered::new(call))
    }
}
