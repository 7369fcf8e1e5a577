//! `ProcessPoolExecutor`: Python's `concurrent.futures` on supervised workers.

use crate::dispatch::{Cell, Dispatcher};
use crate::error::{Error, TaskError};
use crate::function::{Function, check_callable, encode};
use crate::job::Call;
use crate::pool::PoolBuilder;
use crate::pool_call::decode_one;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// Runs submitted calls in `max_workers` worker processes that live as long as the executor
/// (a persistent [`crate::Pool`]; the builder's initializer runs once per worker).
///
/// Submitted calls wait in a queue, where they can be cancelled, and are handed to the workers
/// a few at a time (`max_workers + 1` in flight, as Python's call queue): a handed-over call is
/// running. A call whose worker crashes fails alone; pending futures are never thrown away (no
/// `BrokenProcessPool`). Dropping the executor is [`ProcessPoolExecutor::shutdown`]`(true,
/// false)`, like leaving Python's `with` block.
pub struct ProcessPoolExecutor {
    max_workers: usize,
    dispatcher: Dispatcher,
}

impl ProcessPoolExecutor {
    /// An executor of `max_workers` processes.
    pub fn new(max_workers: usize) -> Result<Self, Error> {
        Self::with(PoolBuilder::default().processes(max_workers))
    }

    /// An executor with the settings of `builder` (retries, `max_tasks_per_child`, ...).
    pub fn with(builder: PoolBuilder) -> Result<Self, Error> {
        let pool = builder.build()?;
        let max_workers = pool.processes();
        Ok(ProcessPoolExecutor {
            max_workers,
            dispatcher: Dispatcher::new(pool, max_workers + 1)?,
        })
    }

    /// The most worker processes at a time.
    pub fn max_workers(&self) -> usize {
        self.max_workers
    }

    /// Schedules `f(arg)`.
    pub fn submit<F: Function>(&self, f: F, arg: F::Arg) -> Result<Future<F::Output>, Error> {
        check_callable(f.name())?;
        // As a pool's chunk of one argument.
        let call = Call {
            function: f.name().to_string(),
            arg: encode(std::slice::from_ref(&arg)).map_err(Error::Encode)?,
        };
        let cell = self.dispatcher.submit(call)?;
        Ok(Future {
            cell,
            types: PhantomData,
        })
    }

    /// `f` applied to every input; results in input order.
    pub fn map<F: Function>(
        &self,
        f: F,
        inputs: impl IntoIterator<Item = F::Arg>,
    ) -> Result<Vec<Result<F::Output, TaskError>>, Error> {
        let futures = inputs
            .into_iter()
            .map(|arg| self.submit(&f, arg))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(futures.iter().map(Future::result).collect())
    }

    /// Accepts no more calls; with `cancel_futures`, cancels those not started; with `wait`,
    /// waits until the rest have ended and every worker is reaped.
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        if cancel_futures {
            self.dispatcher.cancel_pending();
        }
        self.dispatcher.close();
        if wait {
            self.dispatcher.join();
        }
    }
}

impl Drop for ProcessPoolExecutor {
    fn drop(&mut self) {
        self.shutdown(true, false);
    }
}

/// The pending result of [`ProcessPoolExecutor::submit`]; cheap to clone.
pub struct Future<R> {
    cell: Arc<Cell>,
    types: PhantomData<fn() -> R>,
}

impl<R> Clone for Future<R> {
    fn clone(&self) -> Self {
        Future {
            cell: Arc::clone(&self.cell),
            types: PhantomData,
        }
    }
}

impl<R: DeserializeOwned> Future<R> {
    /// Waits for the result.
    pub fn result(&self) -> Result<R, TaskError> {
        decode_one(&self.cell.wait(None).expect("no timeout"))
    }

    /// Waits at most `timeout` (`None`: not done yet).
    pub fn result_timeout(&self, timeout: Duration) -> Option<Result<R, TaskError>> {
        self.cell.wait(Some(timeout)).map(|r| decode_one(&r))
    }

    /// Whether the call has ended (or was cancelled).
    pub fn done(&self) -> bool {
        self.cell.is_done()
    }

    /// Whether the call is running now.
    pub fn running(&self) -> bool {
        self.cell.is_running()
    }

    /// Cancels the call if it has not started; true if it is cancelled.
    pub fn cancel(&self) -> bool {
        self.cell.cancel()
    }
}

/// Yields the futures as they complete (Python's `concurrent.futures.as_completed`).
pub fn as_completed<R>(futures: impl IntoIterator<Item = Future<R>>) -> AsCompleted<R> {
    let (tx, rx) = mpsc::channel();
    let futures: Vec<Option<Future<R>>> = futures.into_iter().map(Some).collect();
    for (index, future) in futures.iter().enumerate() {
        if let Some(future) = future {
            future.cell.watch(tx.clone(), index);
        }
    }
    AsCompleted {
        remaining: futures.len(),
        futures,
        rx,
    }
}

/// The iterator of [`as_completed`].
pub struct AsCompleted<R> {
    futures: Vec<Option<Future<R>>>,
    remaining: usize,
    rx: Receiver<usize>,
}

impl<R> Iterator for AsCompleted<R> {
    type Item = Future<R>;

    fn next(&mut self) -> Option<Future<R>> {
        while self.remaining > 0 {
            let index = self.rx.recv().ok()?;
            if let Some(future) = self.futures[index].take() {
                self.remaining -= 1;
                return Some(future);
            }
        }
        None
    }
}
