//! `Queue`: a multi-producer multi-consumer FIFO shared between processes, served by a broker
//! thread in the creating process.

use crate::broker::{Addr, BrokerError, Client, Request, Response, unexpected};
use crate::function::{decode, encode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::marker::PhantomData;
use std::path::Path;
use std::time::Duration;

/// Python's `multiprocessing.Queue`: a FIFO of serde values shared by any number of producer
/// and consumer processes.
///
/// The handle is an ordinary serde value: pass it (or a clone) as an argument to a registered
/// function and the worker uses the same queue. The queue's state lives in a broker thread of
/// the process that called [`Queue::new`]; that process must outlive every user (as with
/// Python's `Manager`). When its last handle there is dropped, the broker stops, its socket and
/// private directory are removed, and other processes' operations fail with
/// [`BrokerError::Disconnected`].
///
/// A process killed in the middle of an operation loses only that operation: a `put` either
/// happened or not, an item is either delivered or stays at the front of the queue, and
/// nobody else is blocked by it.
pub struct Queue<T> {
    client: Client,
    types: PhantomData<fn(T) -> T>,
}

fn kind<T>() -> String {
    format!("queue<{}>", std::any::type_name::<T>())
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// An unbounded queue, with its broker started in this process.
    pub fn new() -> Result<Self, BrokerError> {
        Self::with_capacity(None)
    }

    /// A queue holding at most `n` items (`0` counts as 1): [`Queue::put`] blocks while full.
    pub fn bounded(n: usize) -> Result<Self, BrokerError> {
        Self::with_capacity(Some(n.max(1)))
    }

    pub(crate) fn with_capacity(capacity: Option<usize>) -> Result<Self, BrokerError> {
        Ok(Queue {
            client: Client::create(kind::<T>(), capacity)?,
            types: PhantomData,
        })
    }

    /// Appends `item`, waiting for room if the queue is bounded and full.
    pub fn put(&self, item: &T) -> Result<(), BrokerError> {
        self.put_with(item, None)
    }

    /// Like [`Queue::put`], giving up with [`BrokerError::Timeout`] after `timeout`.
    pub fn put_timeout(&self, item: &T, timeout: Duration) -> Result<(), BrokerError> {
        self.put_with(item, Some(timeout))
    }

    fn put_with(&self, item: &T, timeout: Option<Duration>) -> Result<(), BrokerError> {
        let item = encode(item).map_err(BrokerError::Codec)?;
        match self.client.call(&Request::Put { item, timeout })? {
            Response::Ok => Ok(()),
            Response::Timeout => Err(BrokerError::Timeout),
            other => Err(unexpected(other)),
        }
    }

    /// Removes and returns the oldest item, waiting as long as it takes.
    pub fn get(&self) -> Result<T, BrokerError> {
        self.get_with(None)
    }

    /// Like [`Queue::get`], giving up with [`BrokerError::Timeout`] after `timeout`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, BrokerError> {
        self.get_with(Some(timeout))
    }

    /// The oldest item if there is one now (Python's `get_nowait`).
    pub fn try_get(&self) -> Result<Option<T>, BrokerError> {
        match self.get_with(Some(Duration::ZERO)) {
            Ok(item) => Ok(Some(item)),
            Err(BrokerError::Timeout) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn get_with(&self, timeout: Option<Duration>) -> Result<T, BrokerError> {
        match self.client.call(&Request::Get { timeout })? {
            Response::Item(bytes) => decode(&bytes).map_err(BrokerError::Codec),
            Response::Timeout => Err(BrokerError::Timeout),
            other => Err(unexpected(other)),
        }
    }

    /// How many items the queue holds now.
    pub fn len(&self) -> Result<usize, BrokerError> {
        match self.client.call(&Request::Len)? {
            Response::Len(n) => Ok(n as usize),
            other => Err(unexpected(other)),
        }
    }

    /// Whether the queue holds no item now.
    pub fn is_empty(&self) -> Result<bool, BrokerError> {
        self.len().map(|n| n == 0)
    }
}

impl<T> Queue<T> {
    /// The broker's socket (inside a private 0700 directory); for diagnostics.
    pub fn socket_path(&self) -> &Path {
        self.client.path()
    }
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            client: self.client.clone(),
            types: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("socket", &self.client.path())
            .finish_non_exhaustive()
    }
}

impl<T> Serialize for Queue<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.client.addr().serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for Queue<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let addr = Addr::deserialize(deserializer)?;
        Ok(Queue {
            client: Client::remote(addr, kind::<T>()),
            types: PhantomData,
        })
    }
}
