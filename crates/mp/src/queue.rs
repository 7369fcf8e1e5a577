//! `Queue`, `SimpleQueue`, `JoinableQueue`: multi-producer multi-consumer FIFOs shared between
//! processes, on shared memory (see `ring` for how they work and survive killed peers).

use crate::as_value::AsValue;
use crate::broker::BrokerError;
use crate::function::{decode, encode};
use crate::ring::{CrashStage, DEFAULT_RING_BYTES, Ring, RingAddr};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::marker::PhantomData;
use std::path::Path;
use std::time::Duration;

/// Python's `multiprocessing.Queue`: a FIFO of serde values shared by any number of producer
/// and consumer processes.
///
/// The handle is an ordinary serde value: pass it (or a clone) as an argument to a registered
/// function and the worker uses the same queue. Items live in shared memory (a file in a
/// private 0700 directory under `/dev/shm`), and every process puts and gets them itself: no
/// broker, no round trip, no feeder thread. The process that called [`Queue::new`] owns that
/// directory and must outlive every user (as with Python's `Manager`): when its last handle
/// there is dropped, the directory is removed and other processes' operations fail with
/// [`BrokerError::Disconnected`]. If it is killed instead, the next queue created (by any
/// process of the same user) removes the directory.
///
/// A process killed in the middle of an operation loses only that operation: a `put` either
/// happened or not, an item is either delivered or stays at the front of the queue, and
/// nobody else is blocked by it (the queue's lock is a robust mutex, its updates are redone by
/// the next process if their writer died half-way).
///
/// Unlike Python, `put` is synchronous: when it returns, the item is in the queue (there is
/// no feeder thread to flush, so no `join_thread`/`cancel_join_thread`). The ring holds up to
/// 1 GiB of encoded items in flight (memory is used only for those bytes; see
/// [`Queue::with_ring_bytes`]); an item over 8 MiB, or one that does not fit in what is left,
/// goes to a file beside it. When even that cannot be recorded, `put` on an unbounded queue
/// waits for consumers, as a pipe does (Python's `put` returns at once, but its process then
/// cannot exit until its feeder thread has written everything to the pipe).
pub struct Queue<T> {
    ring: Ring,
    types: PhantomData<fn(T) -> T>,
}

fn kind<T>() -> String {
    format!("queue<{}>", std::any::type_name::<T>())
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// An unbounded queue (Python's `Queue()`), created by this process.
    pub fn new() -> Result<Self, BrokerError> {
        Self::with_capacity(None)
    }

    /// A queue holding at most `n` items (Python's `Queue(maxsize=n)`; `0` counts as 1):
    /// [`Queue::put`] blocks while full.
    pub fn bounded(n: usize) -> Result<Self, BrokerError> {
        Self::with_capacity(Some(n.max(1)))
    }

    /// An unbounded queue whose ring holds `ring_bytes` of encoded items (rounded up to whole
    /// MiB; the default is 1 GiB of address space, of which only the bytes in flight use
    /// memory). Items over 8 MiB, or over an eighth of the ring, go through files beside the
    /// ring; when the ring is full, `put` waits for room.
    pub fn with_ring_bytes(ring_bytes: usize) -> Result<Self, BrokerError> {
        Ok(Queue {
            ring: Ring::create(kind::<T>(), 0, ring_bytes as u64)?,
            types: PhantomData,
        })
    }

    pub(crate) fn with_capacity(capacity: Option<usize>) -> Result<Self, BrokerError> {
        let maxsize = capacity.map_or(0, |n| n as u64);
        Ok(Queue {
            ring: Ring::create(kind::<T>(), maxsize, DEFAULT_RING_BYTES)?,
            types: PhantomData,
        })
    }

    /// Appends `item` (owned or borrowed), waiting for room if the queue is bounded and full
    /// (Python's `put(item)`).
    pub fn put(&self, item: impl AsValue<T>) -> Result<(), BrokerError> {
        self.put_with(item.as_value(), None, false)
    }

    /// Like [`Queue::put`], giving up with [`BrokerError::Timeout`] after `timeout` (Python's
    /// `put(item, timeout=t)`, which raises `Full`).
    pub fn put_timeout(&self, item: impl AsValue<T>, timeout: Duration) -> Result<(), BrokerError> {
        self.put_with(item.as_value(), Some(timeout), false)
    }

    /// Appends `item` only if there is room now, else [`BrokerError::Timeout`] (Python's
    /// `put_nowait`, which raises `Full`).
    pub fn put_nowait(&self, item: impl AsValue<T>) -> Result<(), BrokerError> {
        self.put_with(item.as_value(), Some(Duration::ZERO), false)
    }

    fn put_with(
        &self,
        item: &T,
        timeout: Option<Duration>,
        joinable: bool,
    ) -> Result<(), BrokerError> {
        let bytes = encode(item).map_err(BrokerError::Codec)?;
        self.ring.put(&bytes, timeout, joinable)
    }

    /// Removes and returns the oldest item, waiting as long as it takes (Python's `get()`).
    pub fn get(&self) -> Result<T, BrokerError> {
        self.get_with(None, false)
    }

    /// Like [`Queue::get`], giving up with [`BrokerError::Timeout`] after `timeout` (Python's
    /// `get(timeout=t)`, which raises `Empty`).
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, BrokerError> {
        self.get_with(Some(timeout), false)
    }

    /// The oldest item if there is one now (Python's `get_nowait`, with `None` for `Empty`).
    pub fn try_get(&self) -> Result<Option<T>, BrokerError> {
        match self.get_with(Some(Duration::ZERO), false) {
            Ok(item) => Ok(Some(item)),
            Err(BrokerError::Timeout) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The oldest item if there is one now, else [`BrokerError::Timeout`] (Python's
    /// `get_nowait`, which raises `Empty`; [`Queue::try_get`] gives an `Option`).
    pub fn get_nowait(&self) -> Result<T, BrokerError> {
        self.get_with(Some(Duration::ZERO), false)
    }

    fn get_with(&self, timeout: Option<Duration>, joinable: bool) -> Result<T, BrokerError> {
        let bytes = self.ring.get(timeout, joinable)?;
        decode(&bytes).map_err(BrokerError::Codec)
    }

    /// How many items the queue holds now (Python's `qsize()`).
    pub fn len(&self) -> Result<usize, BrokerError> {
        self.ring.len()
    }

    /// For crash tests only: starts putting `item`, then aborts this process while holding the
    /// queue's lock, either before the put is committed (`mid_commit == false`: the put never
    /// happened) or half-way through committing it (the next process to lock the queue
    /// completes it).
    #[doc(hidden)]
    pub fn __crash_in_put(&self, item: &T, mid_commit: bool) -> ! {
        let bytes = encode(item).expect("encode");
        let stage = if mid_commit {
            CrashStage::MidCommit
        } else {
            CrashStage::BeforeCommit
        };
        self.ring.crash_in_put(&bytes, stage)
    }

    /// Whether the queue holds no item now (Python's `empty()`).
    pub fn is_empty(&self) -> Result<bool, BrokerError> {
        self.len().map(|n| n == 0)
    }

    /// Whether a bounded queue is at its `maxsize` now (Python's `full()`; never for an
    /// unbounded queue).
    pub fn is_full(&self) -> Result<bool, BrokerError> {
        let maxsize = self.ring.maxsize()?;
        Ok(maxsize > 0 && self.len()? >= maxsize)
    }

    /// The most items the queue holds (Python's `maxsize`; `None`: unbounded).
    pub fn maxsize(&self) -> Result<Option<usize>, BrokerError> {
        Ok(Some(self.ring.maxsize()?).filter(|&n| n > 0))
    }
}

impl<T> Queue<T> {
    /// Python's `close()`: this handle takes no further part (its later operations fail with
    /// [`BrokerError::Disconnected`]); other handles, clones included, are unaffected. There
    /// is nothing to flush: every `put` has completed when it returns.
    pub fn close(&self) {
        self.ring.close();
    }

    /// The queue's shared-memory file (inside its private 0700 directory); for diagnostics.
    pub fn path(&self) -> &Path {
        self.ring.path()
    }

    /// The same as [`Queue::path`] (the name is from when a broker thread served queues).
    pub fn socket_path(&self) -> &Path {
        self.ring.path()
    }
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            ring: self.ring.clone(),
            types: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("path", &self.ring.path())
            .finish_non_exhaustive()
    }
}

impl<T> Serialize for Queue<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.ring.addr().serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for Queue<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let addr = RingAddr::deserialize(deserializer)?;
        Ok(Queue {
            ring: Ring::remote(addr, kind::<T>()),
            types: PhantomData,
        })
    }
}

/// Python's `multiprocessing.SimpleQueue`: an unbounded FIFO with only `put`, `get`, `empty`
/// and `close`. Same machinery (and crash behaviour) as [`Queue`]; a serde value.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct SimpleQueue<T> {
    queue: Queue<T>,
}

impl<T: Serialize + DeserializeOwned> SimpleQueue<T> {
    /// An empty queue, created by this process (which must outlive its users).
    pub fn new() -> Result<Self, BrokerError> {
        Ok(SimpleQueue {
            queue: Queue::new()?,
        })
    }

    /// Appends `item` (owned or borrowed); never waits.
    pub fn put(&self, item: impl AsValue<T>) -> Result<(), BrokerError> {
        self.queue.put(item)
    }

    /// Removes and returns the oldest item, waiting as long as it takes.
    pub fn get(&self) -> Result<T, BrokerError> {
        self.queue.get()
    }

    /// Whether the queue holds no item now (Python's `empty()`).
    pub fn is_empty(&self) -> Result<bool, BrokerError> {
        self.queue.is_empty()
    }
}

impl<T> SimpleQueue<T> {
    /// Python's `close()` for this handle (see [`Queue::close`]).
    pub fn close(&self) {
        self.queue.close();
    }
}

/// Python's `multiprocessing.JoinableQueue`: a [`Queue`] that also counts unfinished items.
/// Each `put` adds one; a consumer calls [`JoinableQueue::task_done`] when it has processed
/// an item it got; [`JoinableQueue::join`] waits until the count is back to zero.
///
/// A consumer that dies holding items (got, not yet done) would make Python's `join` wait
/// forever. Here the queue records which process got each item (for up to 32 consumer
/// processes at a time), and `join` counts the items of a consumer that died as done, and as
/// [`abandoned`](JoinableQueue::abandoned): call `task_done` in the process that got the item.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct JoinableQueue<T> {
    queue: Queue<T>,
}

impl<T: Serialize + DeserializeOwned> JoinableQueue<T> {
    /// An unbounded joinable queue, created by this process (which must outlive its users).
    pub fn new() -> Result<Self, BrokerError> {
        Ok(JoinableQueue {
            queue: Queue::new()?,
        })
    }

    /// A joinable queue holding at most `n` items (`0` counts as 1).
    pub fn bounded(n: usize) -> Result<Self, BrokerError> {
        Ok(JoinableQueue {
            queue: Queue::bounded(n)?,
        })
    }

    /// Appends `item` and counts it unfinished (see [`Queue::put`]).
    pub fn put(&self, item: impl AsValue<T>) -> Result<(), BrokerError> {
        self.queue.put_with(item.as_value(), None, true)
    }

    /// Like [`JoinableQueue::put`], giving up with [`BrokerError::Timeout`] after `timeout`.
    pub fn put_timeout(&self, item: impl AsValue<T>, timeout: Duration) -> Result<(), BrokerError> {
        self.queue.put_with(item.as_value(), Some(timeout), true)
    }

    /// Appends `item` only if there is room now, else [`BrokerError::Timeout`].
    pub fn put_nowait(&self, item: impl AsValue<T>) -> Result<(), BrokerError> {
        self.queue
            .put_with(item.as_value(), Some(Duration::ZERO), true)
    }

    /// Removes and returns the oldest item, waiting as long as it takes; call
    /// [`JoinableQueue::task_done`] when it is processed.
    pub fn get(&self) -> Result<T, BrokerError> {
        self.queue.get_with(None, true)
    }

    /// Like [`JoinableQueue::get`], giving up with [`BrokerError::Timeout`] after `timeout`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, BrokerError> {
        self.queue.get_with(Some(timeout), true)
    }

    /// The oldest item if there is one now, else [`BrokerError::Timeout`].
    pub fn get_nowait(&self) -> Result<T, BrokerError> {
        self.queue.get_with(Some(Duration::ZERO), true)
    }

    /// The oldest item if there is one now.
    pub fn try_get(&self) -> Result<Option<T>, BrokerError> {
        match self.get_nowait() {
            Ok(item) => Ok(Some(item)),
            Err(BrokerError::Timeout) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// How many items the queue holds now (Python's `qsize()`).
    pub fn len(&self) -> Result<usize, BrokerError> {
        self.queue.len()
    }

    /// Whether the queue holds no item now (Python's `empty()`).
    pub fn is_empty(&self) -> Result<bool, BrokerError> {
        self.queue.is_empty()
    }

    /// Whether a bounded queue is at its `maxsize` now (Python's `full()`).
    pub fn is_full(&self) -> Result<bool, BrokerError> {
        self.queue.is_full()
    }
}

impl<T> JoinableQueue<T> {
    /// Marks one item got from this queue as processed (Python's `task_done()`). More calls
    /// than items put fail with [`BrokerError::Refused`] (Python's `ValueError`).
    pub fn task_done(&self) -> Result<(), BrokerError> {
        self.queue.ring.task_done()
    }

    /// Waits until every item put has been marked done (Python's `join()`); items held by a
    /// consumer process that died count as done (see [`JoinableQueue::abandoned`]).
    pub fn join(&self) -> Result<(), BrokerError> {
        self.queue.ring.join(None)
    }

    /// Like [`JoinableQueue::join`], giving up with [`BrokerError::Timeout`] after `timeout`.
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), BrokerError> {
        self.queue.ring.join(Some(timeout))
    }

    /// Items put and not yet marked done.
    pub fn unfinished(&self) -> Result<usize, BrokerError> {
        self.queue.ring.unfinished()
    }

    /// Items that consumers got and then died without marking done: counted done so that
    /// [`JoinableQueue::join`] returns, and lost with their consumer.
    pub fn abandoned(&self) -> Result<usize, BrokerError> {
        self.queue.ring.abandoned()
    }

    /// Python's `close()` for this handle (see [`Queue::close`]).
    pub fn close(&self) {
        self.queue.close();
    }

    /// The queue's shared-memory file; for diagnostics.
    pub fn path(&self) -> &Path {
        self.queue.path()
    }
}

macro_rules! clone_debug {
    ($ty:ident) => {
        impl<T> Clone for $ty<T> {
            fn clone(&self) -> Self {
                $ty {
                    queue: self.queue.clone(),
                }
            }
        }
        impl<T> std::fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("path", &self.queue.path())
                    .finish_non_exhaustive()
            }
        }
    };
}
clone_debug!(SimpleQueue);
clone_debug!(JoinableQueue);
