//! `Semaphore` and `BoundedSemaphore`: counters of units shared between processes, whose units
//! come back when a holding process dies.

use super::state_lock::{self, StateGuard};
use super::{AcquireError, BODY, Kind, POLL};
use crate::sys::{ALIGN, Segment, futex_wait, futex_wake};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::Duration;

// Layout after the header. Every field is changed under MUTEX, one store at a time, so a
// process that dies holding MUTEX leaves a consistent state (the value is derived, never
// stored: base minus the units the slots hold); the exceptions are a process's own slot count
// going down when its guard drops, and WAITERS, both single atomic operations.
/// u32: the state lock (see `state_lock`).
const MUTEX: usize = BODY;
/// i64: the initial value, plus plain releases, minus units forgotten by their guards.
const BASE: usize = BODY + ALIGN;
/// i64: the bound of a `BoundedSemaphore` (its initial value), or -1.
const MAX: usize = BASE + 8;
/// u32: units taken back from dead holders and not yet handed out (each reported once).
const ABANDONED: usize = MAX + 8;
/// u32 futex word: bumped on every release.
const SEQ: usize = ABANDONED + 4;
/// u32: processes sleeping on SEQ (so a release without waiters makes no system call).
const WAITERS: usize = SEQ + 4;
/// u32: slots ever claimed (a high-water mark: scans stop there).
const USED: usize = WAITERS + 4;
const SLOTS_AT: usize = BODY + 2 * ALIGN;
/// Holding processes tracked at once; units beyond that are held untracked (not returned if
/// their holder dies).
const SLOTS: usize = 128;
const SLOT: usize = 16;
const BODY_LEN: usize = 2 * ALIGN + SLOTS * SLOT;

/// Python's `multiprocessing.Semaphore`: a counter that [`acquire`](Semaphore::acquire)
/// decrements (waiting while it is zero) and releasing increments, shared between processes
/// (pass the handle to a worker).
///
/// An acquire returns a [`SemaphoreGuard`] that gives the unit back when dropped. Units held
/// by guards are counted per process in the semaphore's memory: when a holder process dies
/// (SIGKILL included), an acquirer that finds no unit free takes its units back, and the
/// acquirers that get them see [`AcquireError::Abandoned`] (with the guard). Python's style of
/// releasing elsewhere than where it acquired is [`SemaphoreGuard::forget`] then
/// [`Semaphore::release`] (such units are not returned on death). Up to 128 processes are
/// tracked as holders at once; units taken by more are counted but not returned on death.
#[derive(Clone)]
pub struct Semaphore {
    seg: Arc<Segment>,
}

/// Python's `multiprocessing.BoundedSemaphore`: a [`Semaphore`] whose value may not exceed its
/// initial value: [`release`](BoundedSemaphore::release) beyond it fails with
/// [`ReleasedTooManyTimes`] (Python's `ValueError`).
#[derive(Clone)]
pub struct BoundedSemaphore {
    inner: Semaphore,
}

/// One unit of a [`Semaphore`] or [`BoundedSemaphore`]; gives it back when dropped. It
/// borrows the handle it came from (no reference count to touch on the fast path).
pub struct SemaphoreGuard<'a> {
    seg: &'a Segment,
    /// The offset of this process's slot that counts the unit (`None`: the table was full;
    /// counted in BASE instead).
    slot: Option<usize>,
    /// Forgotten: the unit stays taken, with no holder.
    forgotten: bool,
}

/// A [`BoundedSemaphore`] released above its initial value (Python: `ValueError: semaphore or
/// lock released too many times`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("semaphore or lock released too many times")]
pub struct ReleasedTooManyTimes;

type Acquired<'a> = Result<SemaphoreGuard<'a>, AcquireError<SemaphoreGuard<'a>>>;

impl Semaphore {
    /// A semaphore holding `value` units (Python's `Semaphore(value)`).
    pub fn new(value: u32) -> io::Result<Self> {
        Self::with_max(value, -1)
    }

    fn with_max(value: u32, max: i64) -> io::Result<Self> {
        let seg = super::create(Kind::Semaphore, BODY_LEN)?;
        seg.i64_at(BASE).store(i64::from(value), Relaxed);
        seg.i64_at(MAX).store(max, Relaxed);
        Ok(Semaphore { seg })
    }

    /// Takes a unit, waiting as long as it takes.
    pub fn acquire(&self) -> Acquired<'_> {
        self.acquire_with(None)
    }

    /// Takes a unit only if one is free now.
    pub fn try_acquire(&self) -> Acquired<'_> {
        self.acquire_with(Some(Duration::ZERO))
    }

    /// Takes a unit, waiting at most `timeout` (Python's `acquire(timeout=t)`).
    pub fn acquire_timeout(&self, timeout: Duration) -> Acquired<'_> {
        self.acquire_with(Some(timeout))
    }

    /// Adds a unit (Python's `release()`), for units taken with [`SemaphoreGuard::forget`] or
    /// never taken; wakes one waiter.
    pub fn release(&self) {
        let _ = self.release_checked();
    }

    /// The number of free units now (Python's `get_value()`).
    pub fn value(&self) -> u32 {
        let st = self.state();
        let v = value(&self.seg);
        drop(st);
        u32::try_from(v.max(0)).unwrap_or(u32::MAX)
    }

    fn state(&self) -> StateGuard<'_> {
        lock_state(&self.seg)
    }

    fn release_checked(&self) -> Result<(), ReleasedTooManyTimes> {
        let st = self.state();
        let max = self.seg.i64_at(MAX).load(Relaxed);
        if max >= 0 && value(&self.seg) >= max {
            return Err(ReleasedTooManyTimes);
        }
        self.seg.i64_at(BASE).fetch_add(1, SeqCst);
        wake_one_after(&self.seg, st);
        Ok(())
    }

    fn acquire_with(&self, timeout: Option<Duration>) -> Acquired<'_> {
        let deadline = super::deadline(timeout);
        let me = super::me();
        loop {
            let st = self.state();
            let mut free = value(&self.seg);
            if free <= 0 {
                reclaim_dead(&self.seg);
                free = value(&self.seg);
            }
            let mut seq = None;
            if free <= 0 {
                // Registered as a sleeper before reading SEQ and the value again: a release
                // (which takes no mutex) either shows in that value, or bumps SEQ after it
                // was read, or sees WAITERS and wakes this acquirer.
                self.seg.u32_at(WAITERS).fetch_add(1, SeqCst);
                seq = Some(self.seg.u32_at(SEQ).load(SeqCst));
                free = value(&self.seg);
                if free > 0 {
                    self.seg.u32_at(WAITERS).fetch_sub(1, SeqCst);
                }
            }
            if free > 0 {
                return self.take(st, me);
            }
            let seq = seq.expect("registered above");
            let Some(wait) = super::left(deadline, Some(POLL)) else {
                self.seg.u32_at(WAITERS).fetch_sub(1, SeqCst);
                return Err(AcquireError::Timeout);
            };
            drop(st);
            futex_wait(self.seg.u32_at(SEQ), seq, wait);
            self.seg.u32_at(WAITERS).fetch_sub(1, SeqCst);
        }
    }

    /// Takes a free unit for this process, under the state mutex `st`.
    fn take(&self, st: StateGuard<'_>, me: (u32, u64)) -> Acquired<'_> {
        let slot = slot_of(&self.seg, me);
        match slot {
            Some(at) => {
                self.seg.u32_at(at + 4).fetch_add(1, SeqCst);
            }
            None => {
                self.seg.i64_at(BASE).fetch_sub(1, SeqCst);
            }
        }
        let abandoned = self.seg.u32_at(ABANDONED);
        let was_abandoned = abandoned.load(Relaxed) > 0;
        if was_abandoned {
            abandoned.fetch_sub(1, Relaxed);
        }
        drop(st);
        let guard = SemaphoreGuard {
            seg: &self.seg,
            slot,
            forgotten: false,
        };
        if was_abandoned {
            Err(AcquireError::Abandoned(guard))
        } else {
            Ok(guard)
        }
    }
}

/// The state lock: held for a few instructions by whoever holds it, so waiting for it is
/// brief; a death while holding it leaves a consistent state (see the layout).
fn lock_state(seg: &Segment) -> StateGuard<'_> {
    state_lock::lock(seg.u32_at(MUTEX))
}

/// Free units: BASE minus the units in the slots. Under the state mutex.
fn value(seg: &Segment) -> i64 {
    let used = seg.u32_at(USED).load(Relaxed) as usize;
    let held: i64 = (0..used.min(SLOTS))
        .map(|i| i64::from(seg.u32_at(SLOTS_AT + i * SLOT + 4).load(SeqCst)))
        .sum();
    seg.i64_at(BASE).load(SeqCst) - held
}

/// This process's slot, claiming a free one (count 0) if it has none; `None` if all are taken.
fn slot_of(seg: &Segment, (pid, start): (u32, u64)) -> Option<usize> {
    let used = (seg.u32_at(USED).load(Relaxed) as usize).min(SLOTS);
    let mut free = None;
    for i in 0..used {
        let at = SLOTS_AT + i * SLOT;
        let count = seg.u32_at(at + 4).load(Relaxed);
        if count > 0
            && seg.u32_at(at).load(Relaxed) == pid
            && seg.u64_at(at + 8).load(Relaxed) == start
        {
            return Some(at);
        }
        if count == 0 && free.is_none() {
            free = Some(at);
        }
    }
    let at = match free {
        Some(at) => at,
        None if used < SLOTS => {
            // Raised before the slot is written: a slot with count 0 is free whatever its pid
            // says, so a death between these stores leaves it free.
            seg.u32_at(USED).store(used as u32 + 1, Relaxed);
            SLOTS_AT + used * SLOT
        }
        None => return None,
    };
    seg.u64_at(at + 8).store(start, Relaxed);
    seg.u32_at(at).store(pid, Relaxed);
    Some(at)
}

/// Takes back the units of holders that are gone. Under the state mutex.
fn reclaim_dead(seg: &Segment) {
    let used = (seg.u32_at(USED).load(Relaxed) as usize).min(SLOTS);
    for i in 0..used {
        let at = SLOTS_AT + i * SLOT;
        let count = seg.u32_at(at + 4).load(Relaxed);
        if count == 0 {
            continue;
        }
        let (pid, start) = (
            seg.u32_at(at).load(Relaxed),
            seg.u64_at(at + 8).load(Relaxed),
        );
        if !super::alive(pid, start) {
            // Report first: a death between the two stores over-reports, never loses a unit.
            seg.u32_at(ABANDONED).fetch_add(count, Relaxed);
            seg.u32_at(at + 4).store(0, Relaxed);
        }
    }
}

/// Bumps the sequence, unlocks, and wakes one sleeper if there is any.
fn wake_one_after(seg: &Segment, st: StateGuard<'_>) {
    seg.u32_at(SEQ).fetch_add(1, SeqCst);
    let sleepers = seg.u32_at(WAITERS).load(SeqCst);
    drop(st);
    if sleepers > 0 {
        futex_wake(seg.u32_at(SEQ), 1);
    }
}

impl SemaphoreGuard<'_> {
    /// Gives the unit back now (as dropping the guard does).
    pub fn release(self) {}

    /// Keeps the unit taken with no guard (Python's `acquire()` without a matching `release()`
    /// here): it comes back only through [`Semaphore::release`] /
    /// [`BoundedSemaphore::release`], in any process, and not if this process dies.
    pub fn forget(mut self) {
        let st = lock_state(self.seg);
        if let Some(slot) = self.slot
            && self.seg.u32_at(slot + 4).load(Relaxed) > 0
        {
            self.seg.u32_at(slot + 4).fetch_sub(1, Relaxed);
            self.seg.i64_at(BASE).fetch_sub(1, Relaxed);
        }
        drop(st);
        self.forgotten = true;
    }
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        if self.forgotten {
            return;
        }
        // A tracked unit goes back without the state mutex: only this process changes its
        // slot's count while it lives (acquirers of other processes only read it; a slot is
        // taken back only from a dead process), and the count is an atomic.
        if let Some(slot) = self.slot
            && self
                .seg
                .u32_at(slot + 4)
                .fetch_update(SeqCst, SeqCst, |c| c.checked_sub(1))
                .is_ok()
        {
            // A sleeper registers in WAITERS before it reads the value again, so if none is
            // seen here, any later one sees this release in the value.
            if self.seg.u32_at(WAITERS).load(SeqCst) > 0 {
                self.seg.u32_at(SEQ).fetch_add(1, SeqCst);
                futex_wake(self.seg.u32_at(SEQ), 1);
            }
            return;
        }
        // Untracked (the table was full), or its slot was emptied: a plain release.
        let st = lock_state(self.seg);
        self.seg.i64_at(BASE).fetch_add(1, SeqCst);
        wake_one_after(self.seg, st);
    }
}

impl BoundedSemaphore {
    /// A bounded semaphore holding `value` units, which is also its bound (Python's
    /// `BoundedSemaphore(value)`).
    pub fn new(value: u32) -> io::Result<Self> {
        Ok(BoundedSemaphore {
            inner: Semaphore::with_max(value, i64::from(value))?,
        })
    }

    /// Takes a unit, waiting as long as it takes.
    pub fn acquire(&self) -> Acquired<'_> {
        self.inner.acquire()
    }

    /// Takes a unit only if one is free now.
    pub fn try_acquire(&self) -> Acquired<'_> {
        self.inner.try_acquire()
    }

    /// Takes a unit, waiting at most `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Acquired<'_> {
        self.inner.acquire_timeout(timeout)
    }

    /// Adds a unit (for one taken with [`SemaphoreGuard::forget`]); fails if the value would
    /// exceed the initial value, as Python's `ValueError`.
    pub fn release(&self) -> Result<(), ReleasedTooManyTimes> {
        self.inner.release_checked()
    }

    /// The number of free units now.
    pub fn value(&self) -> u32 {
        self.inner.value()
    }
}

impl std::fmt::Debug for SemaphoreGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemaphoreGuard").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Semaphore")
            .field("value", &self.value())
            .finish()
    }
}

impl std::fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("value", &self.value())
            .finish()
    }
}

fn bounded(seg: &Segment) -> bool {
    seg.i64_at(MAX).load(Relaxed) >= 0
}

fn decode<'de, D: Deserializer<'de>>(d: D, want_bounded: bool) -> Result<Arc<Segment>, D::Error> {
    let seg = super::deserialize(d, Kind::Semaphore, BODY_LEN)?;
    if bounded(&seg) != want_bounded {
        return Err(serde::de::Error::custom(
            "a Semaphore and a BoundedSemaphore handle are not interchangeable",
        ));
    }
    Ok(seg)
}

impl Serialize for Semaphore {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        super::serialize(&self.seg, Kind::Semaphore, serializer)
    }
}

impl<'de> Deserialize<'de> for Semaphore {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Semaphore {
            seg: decode(deserializer, false)?,
        })
    }
}

impl Serialize for BoundedSemaphore {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.inner.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for BoundedSemaphore {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(BoundedSemaphore {
            inner: Semaphore {
                seg: decode(deserializer, true)?,
            },
        })
    }
}
