//! `RLock`: a reentrant lock shared between processes (a robust recursive pthread mutex).

use super::{AcquireError, BODY, Kind};
use crate::sys::{ALIGN, LockFail, MutexGuard, MutexKind, Segment};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::io;
use std::sync::Arc;
use std::time::Duration;

const MUTEX: usize = BODY;
const BODY_LEN: usize = ALIGN;

/// Python's `multiprocessing.RLock`: a lock that the thread holding it may acquire again; it is
/// free once every guard is dropped. Shared between processes like [`Lock`](crate::Lock) (pass
/// the handle to a worker), and as robust: if the holding thread or process dies, the next
/// acquirer gets it with [`AcquireError::Abandoned`], its count reset to one.
#[derive(Clone)]
pub struct RLock {
    seg: Arc<Segment>,
}

/// One level of an [`RLock`]; releases that level when dropped (on the thread that acquired
/// it: not `Send`).
pub struct RLockGuard {
    _inner: MutexGuard,
}

impl RLock {
    /// A new unlocked reentrant lock.
    pub fn new() -> io::Result<Self> {
        let seg = super::create(Kind::RLock, BODY_LEN)?;
        seg.init_mutex(MUTEX, MutexKind::Recursive)?;
        Ok(RLock { seg })
    }

    /// Waits for the lock as long as it takes (at once if this thread holds it).
    pub fn acquire(&self) -> Result<RLockGuard, AcquireError<RLockGuard>> {
        self.acquire_with(None)
    }

    /// Takes the lock only if it is free now or held by this thread.
    pub fn try_acquire(&self) -> Result<RLockGuard, AcquireError<RLockGuard>> {
        self.acquire_with(Some(Duration::ZERO))
    }

    /// Waits for the lock at most `timeout` (Python's `acquire(timeout=t)`).
    pub fn acquire_timeout(
        &self,
        timeout: Duration,
    ) -> Result<RLockGuard, AcquireError<RLockGuard>> {
        self.acquire_with(Some(timeout))
    }

    fn acquire_with(
        &self,
        timeout: Option<Duration>,
    ) -> Result<RLockGuard, AcquireError<RLockGuard>> {
        match MutexGuard::lock(&self.seg, MUTEX, super::deadline(timeout)) {
            Ok((inner, false)) => Ok(RLockGuard { _inner: inner }),
            Ok((inner, true)) => Err(AcquireError::Abandoned(RLockGuard { _inner: inner })),
            Err(LockFail::Timeout | LockFail::Deadlock) => Err(AcquireError::Timeout),
            Err(LockFail::Os(e)) => panic!("RLock: the system refused a robust mutex: {e}"),
        }
    }
}

impl RLockGuard {
    /// Releases this level now (as dropping the guard does).
    pub fn release(self) {}
}

impl std::fmt::Debug for RLockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RLockGuard").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RLock").finish_non_exhaustive()
    }
}

impl Serialize for RLock {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        super::serialize(&self.seg, Kind::RLock, serializer)
    }
}

impl<'de> Deserialize<'de> for RLock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(RLock {
            seg: super::deserialize(deserializer, Kind::RLock, BODY_LEN)?,
        })
    }
}
