//! The error of the queues, pipes and locks. Its name is from when a broker thread served all
//! of them; they now live in shared memory (`ring`, `sys`), with no broker left, and the name
//! stays because it is in users' code.

use std::io;

/// Why an operation on a [`crate::Queue`] (or [`crate::SimpleQueue`],
/// [`crate::JoinableQueue`]), a pipe or a [`crate::Lock`] failed. (The name is from when a
/// broker thread served all of them; queues and pipes now live in shared memory.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The operation did not complete in time (or, for `try_*` and `*_nowait`, not at once:
    /// Python's `Full` and `Empty`).
    #[error("timed out")]
    Timeout,
    /// The primitive cannot be reached: the creating process dropped it or died, this handle
    /// was closed ([`crate::Queue::close`]), or a queue found no memory left in `/dev/shm`.
    #[error("unreachable: {0}")]
    Disconnected(String),
    /// A value could not be encoded or decoded.
    #[error("cannot encode or decode a value: {0}")]
    Codec(String),
    /// The handle was refused (wrong token or wrong item type), or the call was not allowed
    /// ([`crate::JoinableQueue::task_done`] more times than items: Python's `ValueError`).
    #[error("refused: {0}")]
    Refused(String),
}

impl From<io::Error> for BrokerError {
    fn from(e: io::Error) -> Self {
        BrokerError::Disconnected(e.to_string())
    }
}
