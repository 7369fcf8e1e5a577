//! `Lock`: a mutual-exclusion lock shared between processes, served by a broker thread in the
//! creating process, that survives the death of its holder.

use crate::broker::{
    Addr, Broker, BrokerError, Client, Request, Response, read_frame, unexpected, write_frame,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const KIND: &str = "lock";

/// Python's `multiprocessing.Lock`, which does not deadlock when its holder dies.
///
/// The handle is an ordinary serde value: pass it (or a clone) as an argument to a registered
/// function. The lock lives in a broker thread of the process that called [`Lock::new`]; that
/// process must outlive every user (as with Python's `Manager`). Dropping its last handle there
/// stops the broker and removes its socket and private directory.
///
/// Each acquisition holds its own connection to the broker. If the holder's process dies (or
/// drops the connection) without releasing, the broker frees the lock and the next acquirer
/// gets it with [`LockError::Abandoned`], carrying the guard, like a poisoned `Mutex`: the
/// data it protects may be half-updated. Not reentrant: acquiring twice in one thread waits.
#[derive(Clone)]
pub struct Lock {
    client: Client,
}

/// Holds a [`Lock`]; releases it when dropped.
pub struct LockGuard {
    stream: Option<UnixStream>,
    _owner: Option<Arc<Broker>>,
}

/// Why [`Lock::acquire`] and its variants did not return a plain guard.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The lock is acquired, but the previous holder died holding it: check what it protects.
    #[error("acquired a lock whose previous holder died holding it")]
    Abandoned(LockGuard),
    /// Not acquired in time (or, for [`Lock::try_acquire`], held by someone else now).
    #[error("the lock was not acquired in time")]
    Timeout,
    /// The broker cannot be reached or refused the handle.
    #[error(transparent)]
    Broker(BrokerError),
}

impl From<BrokerError> for LockError {
    fn from(e: BrokerError) -> Self {
        match e {
            BrokerError::Timeout => LockError::Timeout,
            e => LockError::Broker(e),
        }
    }
}

impl Lock {
    /// A new unlocked lock, with its broker started in this process.
    pub fn new() -> Result<Self, BrokerError> {
        Ok(Lock {
            client: Client::create(KIND.to_string(), None)?,
        })
    }

    /// Waits for the lock as long as it takes.
    pub fn acquire(&self) -> Result<LockGuard, LockError> {
        self.acquire_with(None)
    }

    /// Takes the lock only if it is free now ([`LockError::Timeout`] otherwise).
    pub fn try_acquire(&self) -> Result<LockGuard, LockError> {
        self.acquire_with(Some(Duration::ZERO))
    }

    /// Waits for the lock at most `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<LockGuard, LockError> {
        self.acquire_with(Some(timeout))
    }

    fn acquire_with(&self, timeout: Option<Duration>) -> Result<LockGuard, LockError> {
        let stream = self.client.connect()?;
        write_frame(&stream, &Request::Acquire { timeout }).map_err(BrokerError::from)?;
        match read_frame::<Response>(&stream).map_err(BrokerError::from)? {
            Response::Acquired { abandoned } => {
                let guard = LockGuard {
                    stream: Some(stream),
                    _owner: self.client.owner(),
                };
                if abandoned {
                    Err(LockError::Abandoned(guard))
                } else {
                    Ok(guard)
                }
            }
            Response::Timeout => Err(LockError::Timeout),
            other => Err(unexpected(other).into()),
        }
    }

    /// The broker's socket (inside a private 0700 directory); for diagnostics.
    pub fn socket_path(&self) -> &Path {
        self.client.path()
    }
}

impl LockGuard {
    /// Releases the lock now (as dropping the guard does).
    pub fn release(self) {}
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            // Wait for the answer, so the release is done when this returns.
            if write_frame(&stream, &Request::Release).is_ok() {
                let _ = read_frame::<Response>(&stream);
            }
        }
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock")
            .field("socket", &self.client.path())
            .finish_non_exhaustive()
    }
}

impl Serialize for Lock {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.client.addr().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Lock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Lock {
            client: Client::remote(Addr::deserialize(deserializer)?, KIND.to_string()),
        })
    }
}
