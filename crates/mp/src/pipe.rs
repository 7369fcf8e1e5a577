//! Pipes: Python's `multiprocessing.Pipe`, built on [`Queue`]s (one per direction), so they
//! share the queues' shared memory and crash behaviour.

use crate::as_value::AsValue;
use crate::broker::BrokerError;
use crate::queue::Queue;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The sending end of a one-way [`pipe`] (Python's `Pipe(duplex=False)[1]`). A serde value:
/// pass it to a registered function.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Sender<T> {
    queue: Queue<T>,
}

/// The receiving end of a one-way [`pipe`] (Python's `Pipe(duplex=False)[0]`). A serde value:
/// pass it to a registered function.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Receiver<T> {
    queue: Queue<T>,
}

/// One end of a two-way [`duplex`] pipe (Python's `Pipe()`): what one end sends, the other
/// receives. A serde value: pass it to a registered function.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Duplex<T> {
    tx: Queue<T>,
    rx: Queue<T>,
}

/// A one-way pipe created by this process, which must outlive the ends' users.
/// Any number of processes may send and receive; each value is received once.
pub fn pipe<T: Serialize + DeserializeOwned>() -> Result<(Sender<T>, Receiver<T>), BrokerError> {
    let queue = Queue::new()?;
    Ok((
        Sender {
            queue: queue.clone(),
        },
        Receiver { queue },
    ))
}

/// A two-way pipe created by this process, which must outlive the ends' users.
pub fn duplex<T: Serialize + DeserializeOwned>() -> Result<(Duplex<T>, Duplex<T>), BrokerError> {
    let (a, b) = (Queue::new()?, Queue::new()?);
    Ok((
        Duplex {
            tx: a.clone(),
            rx: b.clone(),
        },
        Duplex { tx: b, rx: a },
    ))
}

impl<T: Serialize + DeserializeOwned> Sender<T> {
    /// Sends `value` (owned or borrowed; Python's `send`); does not wait for a receiver.
    pub fn send(&self, value: impl AsValue<T>) -> Result<(), BrokerError> {
        self.queue.put(value)
    }
}

impl<T: Serialize + DeserializeOwned> Receiver<T> {
    /// Waits for the next value (Python's `recv`).
    pub fn recv(&self) -> Result<T, BrokerError> {
        self.queue.get()
    }

    /// Like [`Receiver::recv`], giving up with [`BrokerError::Timeout`] after `timeout`
    /// (Python's `poll(timeout)` then `recv`).
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, BrokerError> {
        self.queue.get_timeout(timeout)
    }

    /// The next value if one is there now.
    pub fn try_recv(&self) -> Result<Option<T>, BrokerError> {
        self.queue.try_get()
    }
}

impl<T: Serialize + DeserializeOwned> Duplex<T> {
    /// Sends `value` (owned or borrowed) to the other end.
    pub fn send(&self, value: impl AsValue<T>) -> Result<(), BrokerError> {
        self.tx.put(value)
    }

    /// Waits for the next value from the other end.
    pub fn recv(&self) -> Result<T, BrokerError> {
        self.rx.get()
    }

    /// Like [`Duplex::recv`], giving up with [`BrokerError::Timeout`] after `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, BrokerError> {
        self.rx.get_timeout(timeout)
    }

    /// The next value from the other end if one is there now.
    pub fn try_recv(&self) -> Result<Option<T>, BrokerError> {
        self.rx.try_get()
    }
}

macro_rules! clone_debug {
    ($ty:ident { $($field:ident),* }) => {
        impl<T> Clone for $ty<T> {
            fn clone(&self) -> Self {
                $ty { $($field: self.$field.clone()),* }
            }
        }
        impl<T> std::fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))$(.field(stringify!($field), &self.$field))*.finish()
            }
        }
    };
}
clone_debug!(Sender { queue });
clone_debug!(Receiver { queue });
clone_debug!(Duplex { tx, rx });
