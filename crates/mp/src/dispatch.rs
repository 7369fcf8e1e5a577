//! The queue of a [`crate::ProcessPoolExecutor`]: submitted calls wait here, cancellable,
//! and are handed to the executor's persistent pool a few at a time (as Python's executor
//! moves work items into a call queue of `max_workers + 1`): a call handed over is running
//! and can no longer be cancelled. Calls share the pool's workers with each other at once,
//! with no rounds: a short call never waits for a long one to end.

use crate::error::{Error, TaskError};
use crate::job::Call;
use crate::pool::Pool;
use std::collections::VecDeque;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

enum Status {
    Queued,
    Running,
    Done(Result<Vec<u8>, TaskError>),
}

struct CellState {
    status: Status,
    watchers: Vec<(Sender<usize>, usize)>,
}

/// The result slot of one queued call.
pub(crate) struct Cell {
    state: Mutex<CellState>,
    changed: Condvar,
}

impl Cell {
    fn new() -> Self {
        Cell {
            state: Mutex::new(CellState {
                status: Status::Queued,
                watchers: Vec::new(),
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, CellState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn finish(&self, result: Result<Vec<u8>, TaskError>) {
        let mut state = self.lock();
        if matches!(state.status, Status::Done(_)) {
            return;
        }
        state.status = Status::Done(result);
        for (tx, index) in state.watchers.drain(..) {
            let _ = tx.send(index);
        }
        self.changed.notify_all();
    }

    /// Marks a queued call as running; false if it was cancelled.
    fn start(&self) -> bool {
        let mut state = self.lock();
        if matches!(state.status, Status::Queued) {
            state.status = Status::Running;
            true
        } else {
            false
        }
    }

    /// Cancels a call that has not started; true if it is (now) cancelled.
    pub(crate) fn cancel(&self) -> bool {
        let state = self.lock();
        match &state.status {
            Status::Queued => {
                drop(state);
                self.finish(Err(TaskError::Cancelled));
                true
            }
            Status::Running => false,
            Status::Done(result) => matches!(result, Err(TaskError::Cancelled)),
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        matches!(self.lock().status, Status::Done(_))
    }

    pub(crate) fn is_running(&self) -> bool {
        matches!(self.lock().status, Status::Running)
    }

    /// Waits for the result, at most `timeout` if given.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> Option<Result<Vec<u8>, TaskError>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut state = self.lock();
        loop {
            if let Status::Done(result) = &state.status {
                return Some(result.clone());
            }
            state = match deadline {
                None => self.changed.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let left = deadline.checked_duration_since(Instant::now())?;
                    self.changed
                        .wait_timeout(state, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    /// Sends `index` on `tx` when the call is done (at once if it is).
    pub(crate) fn watch(&self, tx: Sender<usize>, index: usize) {
        let mut state = self.lock();
        if matches!(state.status, Status::Done(_)) {
            let _ = tx.send(index);
        } else {
            state.watchers.push((tx, index));
        }
    }
}

struct Queue {
    pending: VecDeque<(Call, Arc<Cell>)>,
    /// Calls handed to the pool and not yet done.
    inflight: usize,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The queue and the thread that feeds the pool from it.
pub(crate) struct Dispatcher {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Dispatcher {
    /// Feeds `pool`, at most `window` calls in flight.
    pub(crate) fn new(pool: Pool, window: usize) -> Result<Self, Error> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                pending: VecDeque::new(),
                inflight: 0,
                closed: false,
            }),
            wake: Condvar::new(),
        });
        let serving = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("supervisor-mp-dispatch".into())
            .spawn(move || feed(&serving, &pool, window.max(1)))?;
        Ok(Dispatcher {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    pub(crate) fn submit(&self, call: Call) -> Result<Arc<Cell>, Error> {
        let mut queue = self.shared.lock();
        if queue.closed {
            return Err(Error::Closed);
        }
        let cell = Arc::new(Cell::new());
        queue.pending.push_back((call, Arc::clone(&cell)));
        self.shared.wake.notify_all();
        Ok(cell)
    }

    /// No more submissions; what is queued still runs.
    pub(crate) fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_all();
    }

    /// Cancels every call not yet handed to the pool.
    pub(crate) fn cancel_pending(&self) {
        let drained: Vec<_> = self.shared.lock().pending.drain(..).collect();
        for (_, cell) in drained {
            cell.cancel();
        }
    }

    /// Closes, and waits until everything queued has run and every worker is reaped.
    pub(crate) fn join(&self) {
        self.close();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// Hands queued calls to the pool while fewer than `window` are in flight; once closed and
/// drained, closes the pool and joins it.
fn feed(shared: &Arc<Shared>, pool: &Pool, window: usize) {
    loop {
        let (call, cell) = {
            let queue = shared.lock();
            let mut queue = shared
                .wake
                .wait_while(queue, |q| {
                    !(q.closed && q.pending.is_empty())
                        && (q.pending.is_empty() || q.inflight >= window)
                })
                .unwrap_or_else(|e| e.into_inner());
            let Some((call, cell)) = queue.pending.pop_front() else {
                break;
            };
            if !cell.start() {
                // Cancelled while it waited.
                continue;
            }
            queue.inflight += 1;
            (call, cell)
        };
        let done = Arc::clone(shared);
        let finish = Arc::clone(&cell);
        let submitted = pool.submit_one(call, move |result| {
            finish.finish(result);
            done.lock().inflight -= 1;
            done.wake.notify_all();
        });
        if let Err(e) = submitted {
            cell.finish(Err(TaskError::NotRun(e.to_string())));
            shared.lock().inflight -= 1;
        }
    }
    pool.join();
}
