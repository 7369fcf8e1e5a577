//! Python's `multiprocessing` model in Rust, on supervised worker processes that survive
//! crashes.
//!
//! # Coming from Python
//!
//! ```ignore
//! supervisor_mp::task!(fn square(x: u64) -> u64 { x * x });
//!
//! fn main() {
//!     supervisor_mp::init(); // first line: Python's `if __name__ == "__main__":`
//!     let pool = supervisor_mp::Pool::new(4).unwrap();
//!     let squares = pool.map(square, 0..10u64).unwrap();
//!     assert_eq!(squares[3], Ok(9));
//! }
//! ```
//!
//! ## Theory of operation
//!
//! A worker is a re-execution of the current binary (`/proc/self/exe`) with a hidden first
//! argument, managed by `supervisor-runtime`: each worker has its own channels, its own process
//! group, dies with its parent, and is reaped with `waitpid`, so how it ended is known exactly.
//! [`init`] routes such an invocation into worker mode before `main` does anything else.
//!
//! Functions cross the process boundary by *name*, not by pointer: [`task!`] and [`register!`]
//! add the function to a registry built at link time (`inventory`), keyed by its module path.
//! The parent and the worker are the same binary, so both have the same registry. Arguments and
//! results are serde values encoded with bincode 2. Inside the worker a single runtime job
//! ([`CallJob`]) looks the name up and calls the function.
//!
//! A [`Pool`] is one *open* run of the engine: its workers start with the pool and live as
//! long as it does, the initializer runs once in each, and every call (`map`, `imap`,
//! `apply_async`, ...) submits its tasks to the same workers as one flow; flows take turns,
//! so calls share the workers fairly. A `map`'s arguments travel in chunks (Python's
//! `chunksize`): one engine task per chunk, run in the worker by a chunk entry point that
//! [`task!`] registers beside the single one, with a panic caught per argument. A router
//! thread hands each finished task to its call; a chunk whose worker died is submitted again
//! one argument per task, so only the argument that kills its worker fails. `terminate()`
//! SIGKILLs the workers and every call still waiting ends with [`TaskError::NotRun`] for what
//! had no result. Each [`Process`] is a one-task run of its own. A [`ProcessPoolExecutor`] is a
//! persistent pool fed from a queue of submitted calls, `max_workers + 1` at a time (Python's
//! call queue), so the calls still queued can be cancelled. When a worker dies (abort, segfault, `kill -9`, out of memory), only the task it was
//! running fails, with the cause; the worker is replaced and the other tasks go on. Python's
//! `Pool` hangs in that case, and its `ProcessPoolExecutor` fails every pending future with
//! `BrokenProcessPool`.
//!
//! What a task prints reaches this process's stdout and stderr (stderr line by line), as a
//! Python child's does; [`PoolBuilder::capture_output`] keeps it for failure reports instead.
//!
//! The synchronization primitives ([`Lock`], [`RLock`], [`Semaphore`], [`BoundedSemaphore`],
//! [`Event`], [`Condition`], [`Barrier`], [`Value`], [`Array`]) are not served by anyone: each
//! is a small shared segment (a memfd: nothing in `/dev/shm`, nothing to leak when processes
//! are killed) holding robust process-shared pthread mutexes and atomic words that waiters
//! sleep on with futexes. An uncontended acquire and release is an atomic instruction each. Their
//! handles are serde values: a worker that decodes one maps the same memory (through
//! `/proc/<pid>/fd` of a process that holds it; the sender keeps it open until it is decoded).
//!
//! [`Queue`], [`SimpleQueue`], [`JoinableQueue`] and the pipes live in shared memory (a file
//! under `/dev/shm` mapped by every process that uses them): each process puts and gets items
//! itself, under a robust process-shared mutex whose updates are redone if their writer dies,
//! so a killed producer or consumer loses at most its own item. The [`Manager`] is a manager
//! process, as in Python; each proxy keeps one connection to it, and its frames use the crate's
//! one wire codec (`wire`).
//!
//! ## Names
//!
//! | Python                                         | here                                           |
//! |------------------------------------------------|------------------------------------------------|
//! | `if __name__ == "__main__":`                   | [`init()`] as the first line of `main`         |
//! | a module-level `def f(x)`                      | [`task!`]`(fn f(x: T) -> R { .. })`, [`register!`] |
//! | `def f()`, `def f(a, b)`, no `return`          | [`task!`]`(fn f() { .. })`, `task!(fn f(a: A, b: B) -> R { .. })` (the arguments as one tuple) |
//! | `Process(target=f, args=(x,)).start()`         | [`Process::spawn`]`(f, x)`                     |
//! | `p.join()`, `p.exitcode`, `p.pid`, `p.is_alive()` | [`Process::join`] (returns the result), [`Process::exitcode`], [`Process::pid`], [`Process::is_alive`] |
//! | `p.join(timeout)`                              | [`Process::join_timeout`]                      |
//! | `p.terminate()`, `p.kill()`                    | [`Process::terminate`], [`Process::kill`]      |
//! | `Pool(processes, maxtasksperchild=..)`         | [`Pool::new`], [`Pool::builder`] ([`PoolBuilder::max_tasks_per_child`]) |
//! | `Pool(initializer=f, initargs=(x,))`           | [`PoolBuilder::initializer`]`(f, x)`, [`PoolBuilder::initializer_timeout`] |
//! | `pool.map(f, xs)`, `pool.starmap(f, pairs)`    | [`Pool::map`], [`Pool::starmap`] (one result per input) |
//! | `pool.imap(f, xs)`, `it.next(timeout)`         | [`Pool::imap`] ([`Imap`], in input order), [`Imap::next_timeout`] |
//! | `pool.imap_unordered(f, xs)`                   | [`Pool::imap_unordered`] (yields `(index, result)`: [`ImapUnordered`]) |
//! | `map(f, xs, chunksize=n)` (and the others')    | [`Pool::with_chunksize`]`(n).map(f, xs)` ([`Chunked`]), [`PoolBuilder::chunksize`] |
//! | `pool.map_async(f, xs)`, `starmap_async`       | [`Pool::map_async`], [`Pool::starmap_async`] ([`MapResult`]) |
//! | `pool.apply(f, (x,))`, `apply_async(f, (x,))`  | [`Pool::apply`], [`Pool::apply_async`] ([`AsyncResult`]) |
//! | `apply_async(.., callback=, error_callback=)`, `map_async(.., callback=, error_callback=)` | [`Pool::apply_async_with`], [`Pool::map_async_with`] (run on the pool's result thread) |
//! | `res.get()`, `res.get(timeout)`, `res.wait()`, `res.ready()`, `res.successful()` | [`AsyncResult::get`], [`AsyncResult::get_timeout`], [`AsyncResult::wait`] / [`AsyncResult::wait_timeout`], [`AsyncResult::ready`], [`AsyncResult::successful`] (the same on [`MapResult`]) |
//! | `pool.close()`, `pool.join()`, `pool.terminate()`, `with Pool() as p:` | [`Pool::close`], [`Pool::join`], [`Pool::terminate`], `Drop` |
//! | `ValueError: Pool not running`                 | [`Error::PoolNotRunning`] |
//! | `[p.pid for p in pool._pool]`                  | [`Pool::worker_pids`] (stable between calls) |
//! | a child's `print` on the parent's terminal     | the same by default; [`PoolBuilder::capture_output`] to keep it |
//! | `ProcessPoolExecutor(max_workers)`             | [`ProcessPoolExecutor::new`]                   |
//! | `executor.submit(f, x)`, `future.result()`     | [`ProcessPoolExecutor::submit`], [`Future::result`] |
//! | `executor.map`, `executor.shutdown(wait, cancel_futures)` | [`ProcessPoolExecutor::map`], [`ProcessPoolExecutor::shutdown`] |
//! | `concurrent.futures.as_completed(fs)`          | [`as_completed`]                               |
//! | an exception in the worker                     | [`TaskError::Panicked`]                        |
//! | `BrokenProcessPool`, a hung pool               | [`TaskError::Signaled`] / [`TaskError::Exited`] for that task only |
//! | `Manager()`, `manager.dict()`, `manager.list()` | [`Manager::start`] (a manager process, as in Python), [`Manager::dict`], [`Manager::list`]: [`DictProxy`], [`ListProxy`] (each proxy keeps one connection; in this process it keeps the manager alive, so `Manager::start()?.dict()` works) |
//! | `manager.Namespace()`, `ns.x = v`, `ns.x`, `del ns.x` | [`Manager::namespace`]: [`NamespaceProxy::set`], [`NamespaceProxy::get`], [`NamespaceProxy::remove`], [`NamespaceProxy::names`] |
//! | `manager.Value('i', 0)`, `v.value`, `v.value = x` | [`Manager::value`]: [`ValueProxy::get`], [`ValueProxy::set`] |
//! | `manager.shutdown()`, a proxy whose manager is gone | [`Manager::shutdown`]; the operation fails with [`ManagerGone`] (an `io::Error` of kind `NotConnected`; test with [`ManagerGone::is`]) |
//! | `d[k] = v`, `d.get(k)`, `k in d`, `d.pop(k)`, `d.clear()`, `len(d)`, `d.copy()` | [`DictProxy::insert`] (owned or borrowed: [`AsValue`]), [`DictProxy::get`], [`DictProxy::contains_key`], [`DictProxy::remove`], [`DictProxy::clear`], [`DictProxy::len`], [`DictProxy::snapshot`] |
//! | `l.append(x)`, `l[i]`, `l[i] = x`, `l.clear()`, `len(l)`, `l[:]` | [`ListProxy::push`], [`ListProxy::get`], [`ListProxy::set`], [`ListProxy::clear`], [`ListProxy::len`], [`ListProxy::snapshot`] |
//! | `SharedMemory(create=True, size=n)`, `SharedMemory(name)` | [`SharedMemory::create`], [`SharedMemory::open`] |
//! | `shm.name`, `shm.size`, `shm.buf`, `shm.close()`, `shm.unlink()` | [`SharedMemory::name`], [`SharedMemory::len`], [`SharedMemory::read_at`] / [`SharedMemory::write_at`], `Drop`, [`SharedMemory::unlink`] |
//! | `psutil.Process(pid).memory_info()`, `.cpu_times()` | [`process_stats`], [`Process::stats`] ([`ProcessStats`]) |
//! | `Queue()`, `Queue(maxsize)`                    | [`Queue::new`], [`Queue::bounded`] (shared memory owned by the creating process, which must outlive the users; [`Queue::with_ring_bytes`] sizes it) |
//! | `q.put(x)`, `q.put(x, timeout=t)`, `q.put_nowait(x)` | [`Queue::put`] (owned or borrowed: [`AsValue`]), [`Queue::put_timeout`], [`Queue::put_nowait`] (`Full` is [`BrokerError::Timeout`]) |
//! | `q.get()`, `q.get(timeout=t)`, `q.get_nowait()` | [`Queue::get`], [`Queue::get_timeout`], [`Queue::get_nowait`] (`Empty` is [`BrokerError::Timeout`]) or [`Queue::try_get`] (`None`) |
//! | `q.qsize()`, `q.empty()`, `q.full()`, `q._maxsize`, `q.close()` | [`Queue::len`], [`Queue::is_empty`], [`Queue::is_full`], [`Queue::maxsize`], [`Queue::close`] (`join_thread`/`cancel_join_thread`: not needed, `put` has finished when it returns) |
//! | `SimpleQueue()`: `put`, `get`, `empty`, `close` | [`SimpleQueue::new`]: [`SimpleQueue::put`], [`SimpleQueue::get`], [`SimpleQueue::is_empty`], [`SimpleQueue::close`] |
//! | `JoinableQueue()`, `q.task_done()`, `q.join()` | [`JoinableQueue::new`], [`JoinableQueue::task_done`], [`JoinableQueue::join`] / [`JoinableQueue::join_timeout`], [`JoinableQueue::unfinished`] |
//! | a queue peer killed mid-operation (Python: a corrupted or deadlocked queue) | it loses at most its own item; a `JoinableQueue` consumer that died holding items: [`JoinableQueue::abandoned`], and `join` returns |
//! | `Pipe(duplex=False)`, `Pipe()`                 | [`pipe`] ([`Sender`], [`Receiver`]), [`duplex`] ([`Duplex`]) |
//! | `Lock()`, `lock.acquire(timeout=t)`, `with lock:` | [`Lock::new`], [`Lock::acquire`] / [`Lock::acquire_timeout`] / [`Lock::try_acquire`], [`LockGuard`] (releases on drop) |
//! | a lock whose holder died (Python: deadlock)    | [`LockError::Abandoned`] with the guard, like a poisoned `Mutex` |
//! | `RLock()`, `rlock.acquire(timeout=t)`          | [`RLock::new`], [`RLock::acquire`] / [`RLock::acquire_timeout`] / [`RLock::try_acquire`], [`RLockGuard`]; a dead holder: [`AcquireError::Abandoned`] |
//! | `Semaphore(n)`, `sem.acquire(timeout=t)`, `sem.release()`, `sem.get_value()` | [`Semaphore::new`], [`Semaphore::acquire`] / [`Semaphore::acquire_timeout`] / [`Semaphore::try_acquire`] ([`SemaphoreGuard`]: releases on drop, [`SemaphoreGuard::forget`] keeps the unit), [`Semaphore::release`], [`Semaphore::value`] |
//! | `BoundedSemaphore(n)`, `ValueError` on over-release | [`BoundedSemaphore`], [`BoundedSemaphore::release`] → [`ReleasedTooManyTimes`] |
//! | `Event()`, `set()`, `clear()`, `is_set()`, `wait(timeout)` | [`Event::new`], [`Event::set`], [`Event::clear`], [`Event::is_set`], [`Event::wait`] / [`Event::wait_timeout`] |
//! | `Condition(lock)`, `wait(timeout)`, `wait_for(pred, timeout)`, `notify(n)`, `notify_all()` | [`Condition::new`] / [`Condition::with_lock`], [`Condition::acquire`], [`Condition::wait`] / [`Condition::wait_timeout`], [`Condition::wait_for`], [`Condition::notify`] / [`Condition::notify_n`], [`Condition::notify_all`] (the guard passed in proves the lock is held) |
//! | `Barrier(parties)`, `wait(timeout)`, `abort()`, `reset()`, `parties`, `n_waiting`, `broken`, `BrokenBarrierError` | [`Barrier::new`], [`Barrier::wait`] / [`Barrier::wait_timeout`] (the arrival index), [`Barrier::abort`], [`Barrier::reset`], [`Barrier::parties`], [`Barrier::n_waiting`], [`Barrier::broken`], [`BrokenBarrier`] (also when a waiting party dies) |
//! | `Value('i', 0)`, `v.value`, `v.value = x`, `with v.get_lock():` | [`Value::new`]`(0i32)`, [`Value::get`], [`Value::set`], [`Value::lock`] ([`ValueGuard`]: `*guard += 1`) |
//! | `Array('d', n)`, `Array('i', [1, 2])`, `a[i]`, `a[i] = x`, `a[i:j]`, `a[:]`, `for x in a`, `len(a)` | [`Array::new`]`(n)`, [`Array::from_slice`], [`Array::get`], [`Array::set`], [`Array::slice`] / [`Array::write`], [`Array::to_vec`], [`Array::iter`], [`Array::len`]; [`Array::lock`] ([`ArrayGuard`]: a `[T]`) |
//! | ctypes type codes (`'i'`, `'d'`, ...)          | a [`Plain`] type: `i32`, `f64`, ..., arrays of them, or your `#[repr(C)]` struct |
//!
//! ## Pitfalls, and what happens here
//!
//! The seed article's "rakes" of `multiprocessing`, and what this library does about each:
//!
//! | pitfall (Python) | here |
//! |---|---|
//! | forgetting `if __name__ == "__main__"` (workers re-run the program) | workers re-execute the binary, so whatever `main` does before [`init`] runs in every worker too: call [`init`] first. Starting work without it fails with [`Error::NotInitialized`] instead of spawning copies of the whole program |
//! | not closing a `Pool` (`close()`/`join()` or `with`) | dropping a [`Pool`] (or a running [`Process`], a [`Manager`]) kills its workers (SIGKILL, never waiting on user code) and reaps them; no zombie or orphan survives, and workers die with the parent even if it is killed. Dropping an [`Imap`] / [`ImapUnordered`] iterator early leaves its remaining tasks to the pool, as in Python |
//! | passing large objects between processes | everything that crosses is serde data encoded with bincode, explicitly: send what the function needs (a path, a range), and share bulk data through [`SharedMemory`] |
//! | creating too many processes | [`Pool::builder`] defaults to the cores this process may use |
//! | ignoring exceptions in workers | a panic in the function is caught in the worker and becomes that task's [`TaskError::Panicked`] with the message; the worker goes on |
//! | a worker that crashes (Python: `Pool` hangs, `BrokenProcessPool` for everyone) | a task that aborts or segfaults fails alone (`killed by SIGABRT`); with [`PoolBuilder::retries`] it is first retried on a fresh worker |
//! | a lock holder that dies (Python: everyone waits forever) | the next acquire gets [`LockError::Abandoned`] with the lock (the kernel's robust futexes: [`Lock`], [`RLock`], the lock of a [`Value`] or [`Array`]); a dead [`Semaphore`] holder's units come back as [`AcquireError::Abandoned`]; a dead [`Barrier`] party breaks the barrier instead of leaving the others waiting |
//! | a queue producer or consumer killed mid-operation (Python: the pipe can hold half an item, or its lock stays taken) | the queue's lock is a robust mutex and its updates are redone after a death: the dead process loses at most its own item; a `JoinableQueue` consumer that died holding items does not block `join` |
//! | `d = Manager().dict()` then the manager is collected | proxies keep their manager alive in the process that made them; a proxy whose manager is gone fails with [`ManagerGone`] |
//! | shared memory leaked by a killed owner | the segment is recorded in a per-tree tracker directory, and the top-level process unlinks it in [`shm_sweep`] (which also runs whenever it creates or drops a segment): call [`shm_sweep`] after the workers end |
//!
//! ## Tests
//!
//! A test binary spawns itself as the worker. Two ways to make that work:
//!
//! **Ordinary `#[test]` functions** (the default libtest harness): put
//! [`enable_test_support!`]`()` once in the test file, and call [`init_for_tests`] first in
//! every test that starts processes:
//!
//! ```ignore
//! supervisor_mp::enable_test_support!();
//! supervisor_mp::task!(fn square(x: u64) -> u64 { x * x });
//!
//! #[test]
//! fn squares() {
//!     supervisor_mp::init_for_tests();
//!     let pool = supervisor_mp::Pool::new(2).unwrap();
//!     assert_eq!(pool.map(square, 0..4u64).unwrap()[3], Ok(9));
//! }
//! ```
//!
//! The macro defines a test named `__supervisor_mp_worker`. [`init_for_tests`] marks the
//! process as initialized and makes its workers start as
//! `EXE __supervisor_mp_worker --nocapture --test-threads=1 -q`, with the handshake in the
//! environment (`supervisor-runtime`'s [`Config::worker_args`](supervisor_runtime::Config)):
//! libtest then runs only that test, which serves as the worker and exits the process. Run
//! normally, the test finds no worker environment and passes at once. Tests may run in
//! parallel. Only one `enable_test_support!` per test binary, and no other test name may
//! contain `__supervisor_mp_worker`.
//!
//! **A `main` of your own**: declare the target with `harness = false` and call [`init`] first:
//!
//! ```toml
//! [[test]]
//! name = "mp"
//! path = "tests/mp.rs"
//! harness = false
//! ```
//!
//! ```ignore
//! fn main() {
//!     supervisor_mp::init();
//!     // run each test function, print the results, exit non-zero on failure
//! }
//! ```
//!
//! Calling [`init`] from a libtest test cannot work: the harness owns `main`, so a worker
//! started with the plain argv would run the test suite again instead of serving tasks.
#![deny(missing_docs)]
// `deny`, not `forbid`: the one exception is `sys`, the operating-system layer (shared
// mappings, robust mutexes, futexes, the queues' and the primitives' layouts in shared memory,
// the bytes of a `SharedMemory`), whose safe wrappers every other module calls.
#![deny(unsafe_code)]

mod as_value;
mod broker;
mod dispatch;
mod error;
mod executor;
mod function;
mod init_job;
mod job;
mod lock;
mod manager;
mod pipe;
mod pool;
mod pool_call;
mod pool_job;
mod pool_results;
mod pool_run;
mod proc_start;
mod process;
mod queue;
mod ring;
mod run;
mod shm;
mod shm_tracker;
mod stats;
mod sync;
// The crate's one module with `unsafe` code (see its docs).
#[allow(unsafe_code)]
mod sys;
mod wire;

pub use as_value::AsValue;
pub use broker::BrokerError;
pub use error::{Error, ProcessError, Result, TaskError};
pub use executor::{AsCompleted, Future, ProcessPoolExecutor, as_completed};
pub use function::{__invoke, __invoke_chunk, Entry, Func, Function, RawFn, registered};
pub use job::{Call, CallJob};
pub use lock::{Lock, LockError, LockGuard};
pub use manager::{DictProxy, ListProxy, Manager, ManagerGone, NamespaceProxy, ValueProxy};
pub use pipe::{Duplex, Receiver, Sender, duplex, pipe};
pub use pool::{AsyncResult, Chunked, Imap, ImapUnordered, MapResult, Pool, PoolBuilder};
pub use process::Process;
pub use queue::{JoinableQueue, Queue, SimpleQueue};
pub use shm::{SharedMemory, shm_sweep};
pub use stats::{ProcessStats, process_stats};
/// The event log a [`PoolBuilder::events`] writes to.
pub use supervisor_runtime::EventLog;
pub use sync::{
    AcquireError, Array, ArrayGuard, Barrier, BoundedSemaphore, BrokenBarrier, Condition, Event,
    RLock, RLockGuard, ReleasedTooManyTimes, Semaphore, SemaphoreGuard, Value, ValueGuard,
};
pub use sys::Plain;

#[doc(hidden)]
pub use inventory;

use std::ffi::OsString;
use std::sync::atomic::{AtomicBool, Ordering};
use supervisor_runtime::worker::{Registry, run_if_worker, run_if_worker_env};

static INITIALIZED: AtomicBool = AtomicBool::new(false);
/// Set by [`init_for_tests`]: workers re-enter through the [`enable_test_support!`] test.
static TEST_SUPPORT: AtomicBool = AtomicBool::new(false);

/// The name of the test that [`enable_test_support!`] defines.
#[doc(hidden)]
pub const TEST_WORKER_NAME: &str = "__supervisor_mp_worker";

/// The first line of `main`: in a worker process (a re-execution of this binary), serves
/// tasks and exits the process with the worker's code; otherwise records that it ran and
/// returns.
pub fn init() {
    init_with(Registry::new());
}

/// Like [`init`], for a binary that also runs its own `supervisor-runtime` jobs: `registry`
/// gets [`CallJob`] added.
pub fn init_with(registry: Registry) {
    if let Some(code) = run_if_worker(&with_jobs(registry)) {
        exit_with(code);
    }
    INITIALIZED.store(true, Ordering::SeqCst);
}

/// The first line of each `#[test]` function (default libtest harness) that starts processes,
/// in a test binary with [`enable_test_support!`]: records that the process is initialized and
/// makes its workers start through that macro's test. See "Tests" in the crate docs. Not for
/// binaries with their own `main`: use [`init`] there.
pub fn init_for_tests() {
    TEST_SUPPORT.store(true, Ordering::SeqCst);
    INITIALIZED.store(true, Ordering::SeqCst);
}

/// Defines the test through which the workers of a libtest test binary start: put
/// `supervisor_mp::enable_test_support!();` once in the test file, and call [`init_for_tests`]
/// first in each test. Run as a worker, the test serves tasks and exits the process; run
/// normally, it passes at once.
#[macro_export]
macro_rules! enable_test_support {
    () => {
        #[test]
        fn __supervisor_mp_worker() {
            $crate::__serve_test_worker();
        }
    };
}

/// The body of the [`enable_test_support!`] test: in a worker started by a process that called
/// [`init_for_tests`], serves tasks and exits the process; otherwise returns.
#[doc(hidden)]
pub fn __serve_test_worker() {
    if let Some(code) = run_if_worker_env(&with_jobs(Registry::new())) {
        exit_with(code);
    }
}

/// The worker argv for the runs of this process (empty: the runtime's own).
pub(crate) fn worker_args() -> Vec<OsString> {
    if TEST_SUPPORT.load(Ordering::SeqCst) {
        [TEST_WORKER_NAME, "--nocapture", "--test-threads=1", "-q"]
            .into_iter()
            .map(OsString::from)
            .collect()
    } else {
        Vec::new()
    }
}

fn with_jobs(registry: Registry) -> Registry {
    registry
        .register::<CallJob>()
        .register::<pool_job::PoolJob>()
}

fn exit_with(code: std::process::ExitCode) -> ! {
    // `ExitCode` is opaque: find its number among the u8 codes it can hold.
    let status = (0..=u8::MAX)
        .find(|&c| std::process::ExitCode::from(c) == code)
        .unwrap_or(1);
    std::process::exit(i32::from(status));
}

/// Whether [`init`] (or [`init_for_tests`]) has run in this process.
pub fn initialized() -> bool {
    INITIALIZED.load(Ordering::SeqCst)
}
