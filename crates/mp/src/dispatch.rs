//! A queue of single calls (`apply_async`, `submit`) served by successive supervised runs.
//!
//! The engine takes a run's tasks up front, so a dispatcher thread takes everything queued,
//! runs it as one supervised run of at most `workers` processes, and then takes what was
//! queued meanwhile. The pool's process count is a bound on concurrent workers.

use crate::error::{Error, TaskError};
use crate::job::Call;
use crate::pool::Settings;
use crate::run::{Event, RunHandle};
use std::collections::VecDeque;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use supervisor_runtime::Stopper;

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
    closed: bool,
    current: Option<Stopper>,
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

/// The queue and its thread.
pub(crate) struct Dispatcher {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Dispatcher {
    pub(crate) fn new(workers: usize, settings: Settings) -> Result<Self, Error> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                pending: VecDeque::new(),
                closed: false,
                current: None,
            }),
            wake: Condvar::new(),
        });
        let serving = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("supervisor-mp-dispatch".into())
            .spawn(move || serve(&serving, workers, &settings))?;
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

    /// Cancels every call not yet started.
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

fn serve(shared: &Shared, workers: usize, settings: &Settings) {
    loop {
        let queue = shared.lock();
        let mut queue = shared
            .wake
            .wait_while(queue, |q| q.pending.is_empty() && !q.closed)
            .unwrap_or_else(|e| e.into_inner());
        if queue.pending.is_empty() {
            return;
        }
        let (calls, cells): (Vec<Call>, Vec<Arc<Cell>>) = queue
            .pending
            .drain(..)
            .filter(|(_, cell)| cell.start())
            .unzip();
        if calls.is_empty() {
            continue;
        }
        let config = crate::job::config(workers.min(calls.len()), settings);
        let sink_cells = cells.clone();
        let run = RunHandle::start_with_initializer(
            config,
            settings.initializer.clone(),
            calls,
            move |event| {
                if let Event::Done(index, result) = event {
                    sink_cells[index].finish(result);
                }
            },
        );
        match run {
            Ok(run) => {
                queue.current = Some(run.stopper());
                drop(queue);
                run.wait();
                shared.lock().current = None;
            }
            Err(e) => {
                drop(queue);
                for cell in cells {
                    cell.finish(Err(TaskError::NotRun(e.to_string())));
                }
            }
        }
    }
}
