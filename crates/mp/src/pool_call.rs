//! One call on a persistent [`crate::Pool`] (a `map`, an `apply`): its chunks, their results
//! as they arrive, and who waits for them.
//!
//! A call's arguments travel in chunks (Python's `chunksize`), each chunk one engine task
//! whose result is the sequence of its arguments' results. If a chunk's worker dies (or the
//! chunk times out), its arguments are run again one per task, so only the argument that
//! kills its worker fails: the chunk is then *split* and collects one result per argument.

use crate::error::TaskError;
use crate::function::{decode, encode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What came back for a chunk: the encoded `Vec<Result<R, String>>`, or why it has none.
pub(crate) type ChunkResult = Result<Vec<u8>, TaskError>;

/// Code to run once a call has ended (a callback), outside every lock.
pub(crate) type OnDone = Box<dyn FnOnce(&CallState) + Send>;

/// Splits a chunk's encoded arguments into one encoded one-argument chunk each.
pub(crate) type Splitter = fn(&[u8]) -> Result<Vec<Vec<u8>>, String>;

enum ChunkState {
    Pending,
    Done(ChunkResult),
    /// Its worker died: its arguments run one per task, each with its own result.
    Split {
        items: Vec<Option<ChunkResult>>,
        left: usize,
    },
}

struct Chunk {
    /// Index of its first argument in the call.
    first: usize,
    len: usize,
    /// Its arguments, kept (for chunks of several) in case they must run one by one.
    args: Option<Vec<u8>>,
    state: ChunkState,
}

impl Chunk {
    fn is_done(&self) -> bool {
        match &self.state {
            ChunkState::Pending => false,
            ChunkState::Done(_) => true,
            ChunkState::Split { left, .. } => *left == 0,
        }
    }
}

struct Inner {
    chunks: Vec<Chunk>,
    finished: usize,
    /// Finished chunks an unordered reader has not taken yet, in completion order.
    completed: VecDeque<usize>,
    on_done: Option<OnDone>,
}

/// The shared state of one call.
pub(crate) struct CallState {
    /// The registered function.
    pub(crate) function: String,
    /// Splits a chunk's arguments when its worker died (typed at the call site).
    pub(crate) split: Splitter,
    inner: Mutex<Inner>,
    changed: Condvar,
}

impl CallState {
    /// A call of `function` whose chunks hold `lens` arguments each; `args` are the chunks'
    /// encoded arguments, kept for chunks of more than one.
    pub(crate) fn new(
        function: String,
        split: Splitter,
        lens: &[usize],
        args: Vec<Option<Vec<u8>>>,
    ) -> Self {
        let mut first = 0;
        let chunks = lens
            .iter()
            .zip(args)
            .map(|(&len, args)| {
                let chunk = Chunk {
                    first,
                    len,
                    args: args.filter(|_| len > 1),
                    state: ChunkState::Pending,
                };
                first += len;
                chunk
            })
            .collect();
        CallState {
            function,
            split,
            inner: Mutex::new(Inner {
                chunks,
                finished: 0,
                completed: VecDeque::new(),
                on_done: None,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The number of chunks.
    pub(crate) fn chunks(&self) -> usize {
        self.lock().chunks.len()
    }

    /// The number of arguments.
    pub(crate) fn len(&self) -> usize {
        self.lock().chunks.iter().map(|c| c.len).sum()
    }

    /// Runs `on_done` when the call has ended; at once (on this thread) if it has.
    pub(crate) fn set_on_done(&self, on_done: OnDone) {
        let mut inner = self.lock();
        if inner.finished == inner.chunks.len() {
            drop(inner);
            on_done(self);
        } else {
            inner.on_done = Some(on_done);
        }
    }

    /// Records chunk `c`'s result; returns the call's callback if the call is now over.
    pub(crate) fn finish_chunk(&self, c: usize, result: ChunkResult) -> Option<OnDone> {
        let mut inner = self.lock();
        let chunk = &mut inner.chunks[c];
        if !matches!(chunk.state, ChunkState::Pending) {
            return None;
        }
        chunk.args = None;
        chunk.state = ChunkState::Done(result);
        self.chunk_finished(&mut inner, c)
    }

    /// Takes the arguments of chunk `c` to run them one by one, if it holds several.
    pub(crate) fn take_args_to_split(&self, c: usize) -> Option<Vec<u8>> {
        let mut inner = self.lock();
        let chunk = &mut inner.chunks[c];
        match chunk.state {
            ChunkState::Pending if chunk.len > 1 => chunk.args.take(),
            _ => None,
        }
    }

    /// Chunk `c`'s arguments now run one per task.
    pub(crate) fn mark_split(&self, c: usize) {
        let mut inner = self.lock();
        let chunk = &mut inner.chunks[c];
        let len = chunk.len;
        chunk.state = ChunkState::Split {
            items: (0..len).map(|_| None).collect(),
            left: len,
        };
    }

    /// Records the result of argument `k` of split chunk `c`.
    pub(crate) fn finish_item(&self, c: usize, k: usize, result: ChunkResult) -> Option<OnDone> {
        let mut inner = self.lock();
        let ChunkState::Split { items, left } = &mut inner.chunks[c].state else {
            return None;
        };
        let slot = items.get_mut(k).filter(|s| s.is_none())?;
        *slot = Some(result);
        *left -= 1;
        if *left > 0 {
            return None;
        }
        self.chunk_finished(&mut inner, c)
    }

    /// Fails everything without a result yet with [`TaskError::NotRun`].
    pub(crate) fn fail_pending(&self, reason: &str) -> Option<OnDone> {
        let mut inner = self.lock();
        let mut on_done = None;
        for c in 0..inner.chunks.len() {
            let chunk = &mut inner.chunks[c];
            let now_done = match &mut chunk.state {
                ChunkState::Pending => {
                    chunk.args = None;
                    chunk.state = ChunkState::Done(Err(TaskError::NotRun(reason.to_string())));
                    true
                }
                ChunkState::Split { items, left } if *left > 0 => {
                    for item in items.iter_mut().filter(|i| i.is_none()) {
                        *item = Some(Err(TaskError::NotRun(reason.to_string())));
                    }
                    *left = 0;
                    true
                }
                _ => false,
            };
            if now_done {
                on_done = on_done.or(self.chunk_finished(&mut inner, c));
            }
        }
        on_done
    }

    fn chunk_finished(&self, inner: &mut Inner, c: usize) -> Option<OnDone> {
        inner.finished += 1;
        inner.completed.push_back(c);
        self.changed.notify_all();
        if inner.finished == inner.chunks.len() {
            inner.on_done.take()
        } else {
            None
        }
    }

    /// Waits until `done(inner)` holds, at most until `deadline`; false on timeout.
    fn wait_for(&self, deadline: Option<Instant>, done: impl Fn(&Inner) -> bool) -> bool {
        let mut inner = self.lock();
        while !done(&inner) {
            inner = match deadline {
                None => self.changed.wait(inner).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        return false;
                    };
                    self.changed
                        .wait_timeout(inner, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        true
    }

    /// Waits for the whole call, at most `timeout`; false if it has not ended by then.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| Instant::now() + t);
        self.wait_for(deadline, |inner| inner.finished == inner.chunks.len())
    }

    /// True once every chunk has its results.
    pub(crate) fn is_done(&self) -> bool {
        let inner = self.lock();
        inner.finished == inner.chunks.len()
    }

    /// Waits for chunk `c`, at most `timeout`; false if it is not done by then.
    pub(crate) fn wait_chunk(&self, c: usize, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| Instant::now() + t);
        self.wait_for(deadline, |inner| inner.chunks[c].is_done())
    }

    /// The next finished chunk not yet taken (in completion order), waiting for it; `None`
    /// once all were taken or after `timeout`.
    pub(crate) fn next_completed(&self, timeout: Option<Duration>) -> Option<usize> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut inner = self.lock();
        loop {
            if let Some(c) = inner.completed.pop_front() {
                return Some(c);
            }
            if inner.finished == inner.chunks.len() {
                return None;
            }
            inner = match deadline {
                None => self.changed.wait(inner).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let left = deadline.checked_duration_since(Instant::now())?;
                    self.changed
                        .wait_timeout(inner, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    /// The index of chunk `c`'s first argument, and its results (the chunk must be done).
    pub(crate) fn results<R: DeserializeOwned>(
        &self,
        c: usize,
    ) -> (usize, Vec<Result<R, TaskError>>) {
        let inner = self.lock();
        let chunk = &inner.chunks[c];
        let results = match &chunk.state {
            ChunkState::Pending => not_run(chunk.len),
            ChunkState::Done(result) => decode_chunk(result, chunk.len),
            ChunkState::Split { items, .. } => items
                .iter()
                .map(|item| match item {
                    Some(result) => decode_chunk(result, 1)
                        .pop()
                        .unwrap_or_else(|| Err(TaskError::NotRun("lost".into()))),
                    None => Err(TaskError::NotRun("lost".into())),
                })
                .collect(),
        };
        (chunk.first, results)
    }

    /// What came back for chunk `c` as it arrived (a one-argument chunk, which is never
    /// split), for callers that decode it later.
    pub(crate) fn raw_result(&self, c: usize) -> ChunkResult {
        let inner = self.lock();
        match &inner.chunks[c].state {
            ChunkState::Done(result) => result.clone(),
            _ => Err(TaskError::NotRun("lost".into())),
        }
    }

    /// Every result, in argument order (the call must be done).
    pub(crate) fn all_results<R: DeserializeOwned>(&self) -> Vec<Result<R, TaskError>> {
        let mut all = Vec::with_capacity(self.len());
        for c in 0..self.chunks() {
            all.extend(self.results(c).1);
        }
        all
    }

    /// Whether every argument has a result and none failed; `None` while running.
    pub(crate) fn successful<R: DeserializeOwned>(&self) -> Option<bool> {
        if !self.is_done() {
            return None;
        }
        Some(self.all_results::<R>().iter().all(Result::is_ok))
    }
}

fn not_run<R>(n: usize) -> Vec<Result<R, TaskError>> {
    (0..n)
        .map(|_| Err(TaskError::NotRun("lost".into())))
        .collect()
}

/// Decodes a chunk's result into one result per argument.
fn decode_chunk<R: DeserializeOwned>(
    result: &ChunkResult,
    len: usize,
) -> Vec<Result<R, TaskError>> {
    match result {
        Ok(bytes) => match decode::<Vec<Result<R, String>>>(bytes) {
            Ok(items) if items.len() == len => items
                .into_iter()
                .map(|r| r.map_err(TaskError::Panicked))
                .collect(),
            Ok(items) => (0..len)
                .map(|_| {
                    Err(TaskError::Remote(format!(
                        "the worker returned {} results for {len} arguments",
                        items.len()
                    )))
                })
                .collect(),
            Err(e) => (0..len)
                .map(|_| Err(TaskError::Remote(format!("cannot decode the result: {e}"))))
                .collect(),
        },
        Err(e) => (0..len).map(|_| Err(e.clone())).collect(),
    }
}

/// The result of a one-argument chunk, as [`CallState::raw_result`] gave it.
pub(crate) fn decode_one<R: DeserializeOwned>(result: &ChunkResult) -> Result<R, TaskError> {
    decode_chunk(result, 1)
        .pop()
        .unwrap_or_else(|| Err(TaskError::NotRun("lost".into())))
}

/// The [`Splitter`] of one-argument chunks, which are never split.
pub(crate) fn no_split(_: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    Err("a chunk of one argument is not split".into())
}

/// [`Splitter`] for arguments of type `A`.
pub(crate) fn split_chunk<A: Serialize + DeserializeOwned>(
    bytes: &[u8],
) -> Result<Vec<Vec<u8>>, String> {
    let args: Vec<A> = decode(bytes)?;
    args.iter()
        .map(|a| encode(std::slice::from_ref(a)))
        .collect()
}
