//! `Barrier`: a rendezvous of a fixed number of parties across processes.

use super::{BODY, Kind, POLL};
use crate::sys::{ALIGN, MutexGuard, MutexKind, Segment, futex_wait, futex_wake};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::Duration;

// Layout after the header; every field changes only under MUTEX.
const MUTEX: usize = BODY;
const PARTIES: usize = BODY + ALIGN;
/// Parties waiting in the current generation (their arrival indices are 0..COUNT).
const COUNT: usize = PARTIES + 4;
/// Bumped each time the barrier trips or is reset.
const GENERATION: usize = COUNT + 4;
/// 1 while broken (abort, a timeout, a dead party).
const BROKEN: usize = GENERATION + 4;
/// The generation that ended by a reset (its waiters get `BrokenBarrier`).
const RESET_GEN: usize = BROKEN + 4;
/// u32 futex word: bumped on every trip, break and reset.
const EPOCH: usize = RESET_GEN + 4;
/// One slot per arrival index: (pid u32, start u64) of the party waiting there.
const SLOTS_AT: usize = BODY + 2 * ALIGN;
const SLOT: usize = 16;

/// Python's `multiprocessing.Barrier` (without `action`): [`wait`](Barrier::wait) blocks until
/// `parties` processes (or threads) have called it, then all return, each with a distinct
/// arrival index in `0..parties`. Shared between processes (pass the handle to a worker).
///
/// [`abort`](Barrier::abort), a [`wait_timeout`](Barrier::wait_timeout) that times out, or a
/// waiting party that dies (even by SIGKILL; noticed within 50 ms by the others) puts the
/// barrier in the *broken* state: every waiter, and every later `wait`, fails with
/// [`BrokenBarrier`] until [`reset`](Barrier::reset). A party that dies before it arrives
/// cannot be told apart from a slow one: bound the wait with a timeout if that can happen.
#[derive(Clone)]
pub struct Barrier {
    seg: Arc<Segment>,
}

/// The barrier is broken, or was reset while waiting (Python's `BrokenBarrierError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the barrier is broken")]
pub struct BrokenBarrier;

fn body_len(parties: usize) -> usize {
    2 * ALIGN + parties * SLOT
}

impl Barrier {
    /// A barrier for `parties` (at least 1) parties.
    pub fn new(parties: usize) -> io::Result<Self> {
        let n = u32::try_from(parties)
            .ok()
            .filter(|&n| n > 0 && n < 1 << 20)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a barrier needs 1 to 2^20 parties",
                )
            })?;
        let seg = super::create(Kind::Barrier, body_len(parties))?;
        seg.init_mutex(MUTEX, MutexKind::ErrorCheck)?;
        seg.u32_at(PARTIES).store(n, Relaxed);
        seg.u32_at(RESET_GEN).store(u32::MAX, Relaxed);
        Ok(Barrier { seg })
    }

    fn word(&self, at: usize) -> &std::sync::atomic::AtomicU32 {
        self.seg.u32_at(at)
    }

    /// The state mutex; a party that died holding it may have left the state half-changed,
    /// so that breaks the barrier.
    fn state(&self) -> MutexGuard {
        match MutexGuard::lock(&self.seg, MUTEX, None) {
            Ok((guard, abandoned)) => {
                if abandoned {
                    self.word(BROKEN).store(1, Relaxed);
                    self.word(EPOCH).fetch_add(1, SeqCst);
                    futex_wake(self.word(EPOCH), u32::MAX);
                }
                guard
            }
            Err(e) => panic!("barrier: cannot lock its state: {e:?}"),
        }
    }

    /// The number of parties.
    pub fn parties(&self) -> usize {
        self.word(PARTIES).load(Relaxed) as usize
    }

    /// Parties waiting now (Python's `n_waiting`; 0 while broken).
    pub fn n_waiting(&self) -> usize {
        let _st = self.state();
        if self.word(BROKEN).load(Relaxed) != 0 {
            0
        } else {
            self.word(COUNT).load(Relaxed) as usize
        }
    }

    /// Whether the barrier is broken (Python's `broken`).
    pub fn broken(&self) -> bool {
        let _st = self.state();
        self.word(BROKEN).load(Relaxed) != 0
    }

    /// Waits for all parties; returns this party's arrival index (`0..parties`, the last to
    /// arrive gets `parties - 1`).
    pub fn wait(&self) -> Result<usize, BrokenBarrier> {
        self.wait_inner(None)
    }

    /// Like [`wait`](Barrier::wait), at most `timeout`; a timeout breaks the barrier for
    /// everyone, as in Python.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<usize, BrokenBarrier> {
        self.wait_inner(Some(timeout))
    }

    fn wait_inner(&self, timeout: Option<Duration>) -> Result<usize, BrokenBarrier> {
        let deadline = super::deadline(timeout);
        let st = self.state();
        if self.word(BROKEN).load(Relaxed) != 0 {
            return Err(BrokenBarrier);
        }
        let index = self.word(COUNT).load(Relaxed);
        let generation = self.word(GENERATION).load(Relaxed);
        if index + 1 == self.word(PARTIES).load(Relaxed) {
            self.word(COUNT).store(0, Relaxed);
            self.word(GENERATION).fetch_add(1, Relaxed);
            self.wake_all(st);
            return Ok(index as usize);
        }
        let (pid, start) = super::me();
        let slot = SLOTS_AT + index as usize * SLOT;
        self.seg.u64_at(slot + 8).store(start, Relaxed);
        self.word(slot).store(pid, Relaxed);
        self.word(COUNT).store(index + 1, Relaxed);
        let mut st = st;
        loop {
            let epoch = self.word(EPOCH).load(SeqCst);
            drop(st);
            let timed_out = match super::left(deadline, Some(POLL)) {
                Some(wait) => {
                    futex_wait(self.word(EPOCH), epoch, wait);
                    false
                }
                None => true,
            };
            st = self.state();
            if self.word(GENERATION).load(Relaxed) != generation {
                return if self.word(RESET_GEN).load(Relaxed) == generation {
                    Err(BrokenBarrier)
                } else {
                    Ok(index as usize)
                };
            }
            if self.word(BROKEN).load(Relaxed) != 0 {
                return Err(BrokenBarrier);
            }
            if timed_out || self.a_party_died(index) {
                self.break_locked(st);
                return Err(BrokenBarrier);
            }
        }
    }

    /// Whether the party that arrived just before `me` (the last one, for the first) in this
    /// generation has died. Each waiter watches one other, in a ring, so every waiting party
    /// is watched by someone at a cost of one `/proc` read per waiter per [`POLL`].
    fn a_party_died(&self, me: u32) -> bool {
        let count = self.word(COUNT).load(Relaxed);
        if count < 2 || me >= count {
            return false;
        }
        let watched = (me + count - 1) % count;
        let slot = SLOTS_AT + watched as usize * SLOT;
        !super::alive(
            self.word(slot).load(Relaxed),
            self.seg.u64_at(slot + 8).load(Relaxed),
        )
    }

    fn wake_all(&self, st: MutexGuard) {
        self.word(EPOCH).fetch_add(1, SeqCst);
        drop(st);
        futex_wake(self.word(EPOCH), u32::MAX);
    }

    fn break_locked(&self, st: MutexGuard) {
        self.word(BROKEN).store(1, Relaxed);
        self.wake_all(st);
    }

    /// Puts the barrier in the broken state: current and later waiters fail with
    /// [`BrokenBarrier`] (Python's `abort()`).
    pub fn abort(&self) {
        let st = self.state();
        self.break_locked(st);
    }

    /// Returns the barrier to its initial, empty state; parties waiting now fail with
    /// [`BrokenBarrier`] (Python's `reset()`).
    pub fn reset(&self) {
        let st = self.state();
        let generation = self.word(GENERATION).load(Relaxed);
        self.word(RESET_GEN).store(generation, Relaxed);
        self.word(COUNT).store(0, Relaxed);
        self.word(BROKEN).store(0, Relaxed);
        self.word(GENERATION).fetch_add(1, Relaxed);
        self.wake_all(st);
    }
}

impl std::fmt::Debug for Barrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties())
            .finish_non_exhaustive()
    }
}

impl Serialize for Barrier {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        super::serialize(&self.seg, Kind::Barrier, serializer)
    }
}

impl<'de> Deserialize<'de> for Barrier {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seg = super::deserialize(deserializer, Kind::Barrier, body_len(1))?;
        let parties = seg.u32_at(PARTIES).load(Relaxed) as usize;
        if seg.len() < BODY + body_len(parties) {
            return Err(serde::de::Error::custom("a barrier's memory is too small"));
        }
        Ok(Barrier { seg })
    }
}
