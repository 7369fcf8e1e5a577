//! `Condition`: a condition variable shared between processes, on a [`Lock`].

use super::{BODY, Kind};
use crate::sys::{ALIGN, Segment, futex_wait, futex_wake};
use crate::{Lock, LockError, LockGuard};
use serde::{Deserialize, Serialize};
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

/// u32: waiters not yet notified. Changed only with the condition's lock held.
const SLEEPERS: usize = BODY;
/// u32 futex word: notifications handed out and not yet taken by a waiter. Raised with the
/// lock held; a woken waiter takes one with a compare-and-swap, lock or not.
const TOKENS: usize = BODY + 4;
const BODY_LEN: usize = ALIGN;

/// Python's `multiprocessing.Condition`: waiters release the [`Lock`], sleep until notified,
/// and take the lock again; shared between processes (pass the handle to a worker).
///
/// As with Rust's `Condvar`, the lock's guard is passed in and given back: `wait` consumes the
/// [`LockGuard`] of this condition's lock and returns it re-acquired. [`notify`](Condition::notify)
/// wakes exactly one waiter (Python's `notify()`), [`notify_n`](Condition::notify_n) `n`,
/// [`notify_all`](Condition::notify_all) every current waiter; each takes the guard as proof
/// that the lock is held (Python raises `RuntimeError` otherwise). Passing a guard of another
/// lock panics.
///
/// If a process dies holding the lock, the waiter that takes it next gets
/// [`LockError::Abandoned`] with the guard. A waiter killed while asleep may absorb one
/// `notify` (not a `notify_all`): prefer `wait_for` with a predicate, or `notify_all`, when
/// waiters may be killed.
#[derive(Clone, Serialize, Deserialize)]
pub struct Condition {
    lock: Lock,
    state: State,
}

#[derive(Clone)]
struct State(Arc<Segment>);

impl Condition {
    /// A condition with a new lock of its own (Python's `Condition()`; Python's default lock
    /// is an `RLock`, this one a [`Lock`]).
    pub fn new() -> io::Result<Self> {
        Self::with_lock(Lock::new().map_err(io::Error::other)?)
    }

    /// A condition on an existing lock (Python's `Condition(lock)`).
    pub fn with_lock(lock: Lock) -> io::Result<Self> {
        Ok(Condition {
            lock,
            state: State(super::create(Kind::Condition, BODY_LEN)?),
        })
    }

    /// The lock (Python's `with cond:` is `let guard = cond.acquire()?`).
    pub fn lock(&self) -> &Lock {
        &self.lock
    }

    /// Acquires the lock (Python's `cond.acquire()`).
    pub fn acquire(&self) -> Result<LockGuard, LockError> {
        self.lock.acquire()
    }

    fn word(&self, at: usize) -> &std::sync::atomic::AtomicU32 {
        self.state.0.u32_at(at)
    }

    fn check(&self, guard: &LockGuard) {
        assert!(
            self.lock.owns(guard),
            "Condition: the guard passed in is not of this condition's lock"
        );
    }

    /// Releases the lock, waits until notified, takes the lock again.
    pub fn wait(&self, guard: LockGuard) -> Result<LockGuard, LockError> {
        self.wait_inner(guard, None).map(|(g, _)| g)
    }

    /// Like [`wait`](Condition::wait), at most `timeout`; the flag is false if it timed out
    /// (Python's `wait(timeout)`). The lock is held again either way.
    pub fn wait_timeout(
        &self,
        guard: LockGuard,
        timeout: Duration,
    ) -> Result<(LockGuard, bool), LockError> {
        self.wait_inner(guard, Some(timeout))
    }

    /// Waits until `predicate` (called with the lock held) is true, at most `timeout` if one is
    /// given; returns the predicate's last value (Python's `wait_for(predicate, timeout)`).
    pub fn wait_for(
        &self,
        mut guard: LockGuard,
        mut predicate: impl FnMut() -> bool,
        timeout: Option<Duration>,
    ) -> Result<(LockGuard, bool), LockError> {
        let deadline = super::deadline(timeout);
        loop {
            if predicate() {
                return Ok((guard, true));
            }
            let wait = match super::left(deadline, None) {
                Some(wait) => wait,
                None => return Ok((guard, false)),
            };
            guard = self.wait_inner(guard, wait)?.0;
        }
    }

    fn wait_inner(
        &self,
        guard: LockGuard,
        timeout: Option<Duration>,
    ) -> Result<(LockGuard, bool), LockError> {
        self.check(&guard);
        let deadline = super::deadline(timeout);
        self.word(SLEEPERS).fetch_add(1, SeqCst);
        drop(guard);
        let tokens = self.word(TOKENS);
        let mut notified = false;
        loop {
            let t = tokens.load(SeqCst);
            if t > 0 {
                if tokens.compare_exchange(t, t - 1, SeqCst, SeqCst).is_ok() {
                    notified = true;
                    break;
                }
                continue;
            }
            // In slices: `notify` wakes as many sleepers as it hands out tokens, and a
            // sleeper woken and then killed before it took its token would leave the token
            // to nobody while the others sleep on (the wake-up lost as in `sys::mutex`).
            match super::left(deadline, Some(super::POLL)) {
                Some(wait) => futex_wait(tokens, 0, wait),
                None => break,
            }
        }
        let reacquired = self.lock.acquire();
        if !notified {
            // Timed out. With the lock held, a notification handed out meanwhile is still
            // there to take (then this waiter counts as notified); otherwise it leaves the
            // sleepers, so no later notify is spent on it.
            let mut t = tokens.load(SeqCst);
            loop {
                if t == 0 {
                    self.word(SLEEPERS).fetch_sub(1, SeqCst);
                    break;
                }
                match tokens.compare_exchange(t, t - 1, SeqCst, SeqCst) {
                    Ok(_) => {
                        notified = true;
                        break;
                    }
                    Err(now) => t = now,
                }
            }
        }
        reacquired.map(|g| (g, notified))
    }

    /// Wakes one waiter, if any (Python's `notify()`).
    pub fn notify(&self, guard: &LockGuard) {
        self.notify_n(guard, 1);
    }

    /// Wakes up to `n` waiters (Python's `notify(n)`).
    pub fn notify_n(&self, guard: &LockGuard, n: usize) {
        self.check(guard);
        let sleepers = self.word(SLEEPERS).load(SeqCst);
        let k = sleepers.min(u32::try_from(n).unwrap_or(u32::MAX));
        if k == 0 {
            return;
        }
        self.word(SLEEPERS).fetch_sub(k, SeqCst);
        self.word(TOKENS).fetch_add(k, SeqCst);
        futex_wake(self.word(TOKENS), k);
    }

    /// Wakes every current waiter (Python's `notify_all()`).
    pub fn notify_all(&self, guard: &LockGuard) {
        self.notify_n(guard, usize::MAX);
    }
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condition")
            .field("lock", &self.lock)
            .finish_non_exhaustive()
    }
}

impl Serialize for State {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        super::serialize(&self.0, Kind::Condition, serializer)
    }
}

impl<'de> Deserialize<'de> for State {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(State(super::deserialize(
            deserializer,
            Kind::Condition,
            BODY_LEN,
        )?))
    }
}
