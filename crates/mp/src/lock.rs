//! `Lock`: a mutual-exclusion lock shared between processes, a robust pthread mutex in shared
//! memory, that survives the death of its holder.

use crate::broker::BrokerError;
use crate::sync::{self, BODY, Kind};
use crate::sys::{LockFail, MutexGuard, MutexKind, Segment};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where the mutex sits in a lock's segment.
const MUTEX: usize = BODY;
const BODY_LEN: usize = crate::sys::ALIGN;

/// Python's `multiprocessing.Lock`, which does not deadlock when its holder dies.
///
/// A robust, process-shared pthread mutex in a small shared segment (a memfd): acquiring and
/// releasing it uncontended is one atomic instruction each, with no system call; a waiter
/// sleeps on the kernel's futex. The handle is an ordinary serde value: pass it (or a clone) as
/// an argument to a registered function, and the worker maps the same segment. The process
/// that sends a handle must keep one until the receiver has decoded it; the memory is freed
/// when the last process holding it ends, however it ends.
///
/// If the holder's thread or process dies without releasing, the kernel frees the lock and the
/// next acquirer gets it with [`LockError::Abandoned`], carrying the guard, like a poisoned
/// `Mutex`: the data it protects may be half-updated. Not reentrant: acquiring twice in one
/// thread waits (forever with [`Lock::acquire`], as in Python; use [`RLock`](crate::RLock)).
/// The guard releases it and must be dropped by the thread that acquired it (it is not
/// `Send`): unlike Python's `Lock`, another thread or process cannot release it.
#[derive(Clone)]
pub struct Lock {
    seg: Arc<Segment>,
    path: PathBuf,
}

/// Holds a [`Lock`]; releases it when dropped.
pub struct LockGuard {
    inner: MutexGuard,
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
    /// The system refused the operation (the lock itself no longer lives in a broker; the name
    /// of this variant is kept for existing code).
    #[error(transparent)]
    Broker(BrokerError),
}

impl Lock {
    /// A new unlocked lock.
    pub fn new() -> Result<Self, BrokerError> {
        let seg = sync::create(Kind::Lock, BODY_LEN)?;
        seg.init_mutex(MUTEX, MutexKind::Normal)?;
        Ok(Self::wrap(seg))
    }

    fn wrap(seg: Arc<Segment>) -> Self {
        let path = PathBuf::from(format!("/proc/{}/fd/{}", std::process::id(), seg.fd()));
        Lock { seg, path }
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
        match MutexGuard::lock(&self.seg, MUTEX, sync::deadline(timeout)) {
            Ok((inner, false)) => Ok(LockGuard { inner }),
            Ok((inner, true)) => Err(LockError::Abandoned(LockGuard { inner })),
            // (A `Normal` mutex relocked by its holder waits, as in Python: never `Deadlock`.)
            Err(LockFail::Timeout | LockFail::Deadlock) => Err(LockError::Timeout),
            Err(LockFail::Os(e)) => Err(LockError::Broker(e.into())),
        }
    }

    /// Where the lock's memory can be seen: `/proc/<pid>/fd/<fd>` of this process (a memfd;
    /// nothing is ever created in `/dev/shm`). For diagnostics.
    #[deprecated(
        note = "the lock is no longer served by a broker over a socket: this is the \
                         /proc path of its shared memory"
    )]
    pub fn socket_path(&self) -> &Path {
        &self.path
    }

    /// Whether `guard` holds this lock (the same shared lock, through any handle).
    pub(crate) fn owns(&self, guard: &LockGuard) -> bool {
        sync::tag(guard.inner.segment()) == sync::tag(&self.seg)
    }
}

impl LockGuard {
    /// Releases the lock now (as dropping the guard does).
    pub fn release(self) {}
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock")
            .field("memory", &self.path)
            .finish_non_exhaustive()
    }
}

impl Serialize for Lock {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        sync::serialize(&self.seg, Kind::Lock, serializer)
    }
}

impl<'de> Deserialize<'de> for Lock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::wrap(sync::deserialize(
            deserializer,
            Kind::Lock,
            BODY_LEN,
        )?))
    }
}
