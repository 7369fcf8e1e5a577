//! What a [`Pool`] call returns while its tasks run: [`AsyncResult`] and [`MapResult`]
//! (Python's `AsyncResult`), [`Imap`] and [`ImapUnordered`] (Python's `imap` iterators), all
//! views of the call's shared [`CallState`].

use crate::error::TaskError;
use crate::pool::Pool;
use crate::pool_call::CallState;
use serde::de::DeserializeOwned;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// The result of a one-argument call.
pub(crate) fn first_result<R: DeserializeOwned>(call: &CallState) -> Result<R, TaskError> {
    call.all_results::<R>()
        .pop()
        .unwrap_or_else(|| Err(TaskError::NotRun("lost".into())))
}

/// The results of [`Pool::imap`], in input order, each as soon as it and those before it
/// are done.
pub struct Imap<'a, R> {
    call: Arc<CallState>,
    next_chunk: usize,
    ready: VecDeque<Result<R, TaskError>>,
    remaining: usize,
    pool: PhantomData<&'a Pool>,
}

impl<R: DeserializeOwned> Imap<'_, R> {
    pub(crate) fn new(call: Arc<CallState>) -> Self {
        Imap {
            remaining: call.len(),
            call,
            next_chunk: 0,
            ready: VecDeque::new(),
            pool: PhantomData,
        }
    }

    /// The next result, waiting at most `timeout` for it (Python's `next(timeout)`):
    /// `Err(())` on timeout (call again to keep waiting), `Ok(None)` at the end.
    #[allow(clippy::result_unit_err)]
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Result<R, TaskError>>, ()> {
        self.advance(Some(timeout)).map(|()| self.take())
    }

    fn take(&mut self) -> Option<Result<R, TaskError>> {
        let item = self.ready.pop_front()?;
        self.remaining -= 1;
        Some(item)
    }

    /// Fills `ready` from the next chunk if it is empty; `Err` on timeout.
    fn advance(&mut self, timeout: Option<Duration>) -> Result<(), ()> {
        while self.ready.is_empty() && self.next_chunk < self.call.chunks() {
            if !self.call.wait_chunk(self.next_chunk, timeout) {
                return Err(());
            }
            self.ready.extend(self.call.results::<R>(self.next_chunk).1);
            self.next_chunk += 1;
        }
        Ok(())
    }
}

impl<R: DeserializeOwned> Iterator for Imap<'_, R> {
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        let _ = self.advance(None);
        self.take()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

/// The results of [`Pool::imap_unordered`], as `(input index, result)` in completion order.
pub struct ImapUnordered<'a, R> {
    call: Arc<CallState>,
    ready: VecDeque<(usize, Result<R, TaskError>)>,
    remaining: usize,
    pool: PhantomData<&'a Pool>,
}

impl<R: DeserializeOwned> ImapUnordered<'_, R> {
    pub(crate) fn new(call: Arc<CallState>) -> Self {
        ImapUnordered {
            remaining: call.len(),
            call,
            ready: VecDeque::new(),
            pool: PhantomData,
        }
    }
}

impl<R: DeserializeOwned> Iterator for ImapUnordered<'_, R> {
    type Item = (usize, Result<R, TaskError>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() {
            let c = self.call.next_completed(None)?;
            let (first, results) = self.call.results::<R>(c);
            self.ready
                .extend(results.into_iter().enumerate().map(|(i, r)| (first + i, r)));
        }
        let item = self.ready.pop_front()?;
        self.remaining -= 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

/// The pending result of [`Pool::apply_async`] (Python's `AsyncResult`). Dropping it leaves
/// the call to the pool.
pub struct AsyncResult<R> {
    call: Arc<CallState>,
    types: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> AsyncResult<R> {
    pub(crate) fn new(call: Arc<CallState>) -> Self {
        AsyncResult {
            call,
            types: PhantomData,
        }
    }

    /// Waits for the result.
    pub fn get(&self) -> Result<R, TaskError> {
        self.call.wait(None);
        first_result(&self.call)
    }

    /// Waits at most `timeout` (`None`: not ready yet; Python's `get(timeout)` raising
    /// `TimeoutError`). The call goes on either way.
    pub fn get_timeout(&self, timeout: Duration) -> Option<Result<R, TaskError>> {
        self.call
            .wait(Some(timeout))
            .then(|| first_result(&self.call))
    }

    /// Waits until the call has ended.
    pub fn wait(&self) {
        self.call.wait(None);
    }

    /// Waits at most `timeout` for the call to end; true if it has.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.call.wait(Some(timeout))
    }

    /// Whether the call has ended.
    pub fn ready(&self) -> bool {
        self.call.is_done()
    }

    /// Whether the call ended with a result (Python's `successful`); `None` while running.
    pub fn successful(&self) -> Option<bool> {
        self.call.successful::<R>()
    }
}

/// The pending results of [`Pool::map_async`] / [`Pool::starmap_async`] (Python's
/// `AsyncResult` of a map): one result per input, in input order.
pub struct MapResult<R> {
    call: Arc<CallState>,
    types: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> MapResult<R> {
    pub(crate) fn new(call: Arc<CallState>) -> Self {
        MapResult {
            call,
            types: PhantomData,
        }
    }

    /// Waits for every result.
    pub fn get(&self) -> Vec<Result<R, TaskError>> {
        self.call.wait(None);
        self.call.all_results()
    }

    /// Waits at most `timeout` for every result (`None`: not all ready yet; Python's
    /// `get(timeout)` raising `TimeoutError`). The call goes on either way.
    pub fn get_timeout(&self, timeout: Duration) -> Option<Vec<Result<R, TaskError>>> {
        self.call
            .wait(Some(timeout))
            .then(|| self.call.all_results())
    }

    /// Waits until every input has its result.
    pub fn wait(&self) {
        self.call.wait(None);
    }

    /// Waits at most `timeout`; true if every input has its result.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.call.wait(Some(timeout))
    }

    /// Whether every input has its result.
    pub fn ready(&self) -> bool {
        self.call.is_done()
    }

    /// Whether every input succeeded (Python's `successful`); `None` while running.
    pub fn successful(&self) -> Option<bool> {
        self.call.successful::<R>()
    }
}
