//! Synchronization primitives in shared memory (Python's `multiprocessing.synchronize` and
//! `multiprocessing.sharedctypes`): [`RLock`], [`Semaphore`], [`BoundedSemaphore`], [`Event`],
//! [`Condition`], [`Barrier`], [`Value`], [`Array`]; [`Lock`](crate::Lock) is in `lock.rs`.
//!
//! # Theory of operation
//!
//! Each primitive is one small shared segment (a memfd, see `sys::segment`; its robust mutexes
//! and futexes are `sys::mutex` and `sys::futex`, the same as the queues') laid out as a header
//! (magic, kind, a random 128-bit tag, counters of handles sent and received) followed by the
//! primitive's state: robust process-shared pthread mutexes and 32/64-bit atomic words.
//!
//! **Handles.** A handle is a serde value naming the segment by the pid of a process that
//! holds it, that process's descriptor number, and the tag. Decoding it in another process
//! opens `/proc/<pid>/fd/<fd>`, checks the tag and the kind, and maps the segment; a process
//! maps each segment once (decoding the same primitive again, as a pool worker does with every
//! task, reuses the mapping). Because a handle is often moved into a call and dropped by the
//! sender before the receiver decodes it, encoding *pins* the segment in the sending process
//! until the segment's received count catches up with its sent count (checked at the process's
//! next create, encode or decode of a primitive). Nothing has a name in `/dev/shm`: the memory
//! goes away with the last process that holds it, however it ends.
//!
//! **Waiting** is a futex wait on a word of the segment (shared, not private, futexes), so a
//! wake from any process reaches it; a waiter that dies leaves nothing to clean up.
//!
//! **Holders that die.** A mutex-based primitive (`Lock`, `RLock`, `Condition`'s lock,
//! `Value`/`Array`) is a robust mutex: the kernel hands it to the next locker with
//! `EOWNERDEAD`, reported as `Abandoned`. A [`Semaphore`]'s units are counted per holding
//! process (pid and start time) in a table of the segment, and its free count is derived from
//! that table, never stored: when an acquirer finds no unit free it takes back the units of
//! holders that are gone (checking again every [`POLL`] while it waits), and the acquirers
//! that get those units see `Abandoned`. Its state lock is a pid-word futex lock
//! (`state_lock`) that a waiter takes over from a dead owner. A [`Barrier`] party that dies
//! while waiting is noticed the same way and breaks the barrier. Internal state locks are held
//! for a few instructions and each state change is one atomic store or read-modify-write, so a
//! death while holding one leaves a consistent state.
//!
//! **Speed.** Uncontended, a `Lock`/`RLock`/`Value` acquire and release are glibc's robust
//! mutex fast path (a compare-and-swap each, in user space); a `Semaphore` acquire is the
//! state lock's compare-and-swap plus a scan of the slots in use, and its release one atomic
//! decrement of the holder's slot, with a futex wake only when someone sleeps.

mod barrier;
mod condition;
mod event;
mod rlock;
mod semaphore;
mod state_lock;
mod value;

pub use barrier::{Barrier, BrokenBarrier};
pub use condition::Condition;
pub use event::Event;
pub use rlock::{RLock, RLockGuard};
pub use semaphore::{BoundedSemaphore, ReleasedTooManyTimes, Semaphore, SemaphoreGuard};
pub use value::{Array, ArrayGuard, Value, ValueGuard};

use crate::sys::{ALIGN, Segment};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt::Debug;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How often a waiter that cannot be woken by a death (a semaphore or barrier waiter) checks
/// whether the processes it waits for are still alive.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// Why an acquire of an [`RLock`], a [`Semaphore`] or the lock of a [`Value`]/[`Array`] did not
/// return a plain guard. (A [`Lock`](crate::Lock) has its own [`LockError`](crate::LockError).)
#[derive(Debug, thiserror::Error)]
pub enum AcquireError<G: Debug> {
    /// Acquired, but a previous holder died holding it: check what it protects. The guard is
    /// here; it releases when dropped, like any other.
    #[error("acquired, but a previous holder died holding it")]
    Abandoned(G),
    /// Not acquired in time (or, for a `try_` variant, not free now).
    #[error("not acquired in time")]
    Timeout,
}

impl<G: Debug> AcquireError<G> {
    /// The guard of an `Abandoned` acquisition (`None` for a timeout): for code that treats a
    /// dead holder's leftovers as acceptable.
    pub fn into_guard(self) -> Option<G> {
        match self {
            AcquireError::Abandoned(g) => Some(g),
            AcquireError::Timeout => None,
        }
    }
}

/// What a segment holds: checked when a handle is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Lock = 1,
    RLock = 2,
    Semaphore = 3,
    Event = 4,
    Condition = 5,
    Barrier = 6,
    Value = 7,
}

const MAGIC: u64 = u64::from_le_bytes(*b"svmpsync");
const H_MAGIC: usize = 0;
const H_KIND: usize = 8;
const H_TAG: usize = 16;
/// u64: handles encoded, by any process (see [`pin`]).
const H_SENT: usize = 32;
/// u64: handles decoded (attached), by any process.
const H_RECEIVED: usize = 40;
/// Where a primitive's own layout starts.
pub(crate) const BODY: usize = ALIGN;

/// A new segment for a primitive of `kind` with `body` bytes of state after the header.
/// The caller initializes its state before any handle leaves this process.
pub(crate) fn create(kind: Kind, body: usize) -> io::Result<Arc<Segment>> {
    let name = format!("supervisor-mp-{kind:?}").to_lowercase();
    let seg = Segment::create(&name, BODY + body)?;
    let mut tag = [0u8; 16];
    getrandom::fill(&mut tag).map_err(|e| io::Error::other(e.to_string()))?;
    seg.u64_at(H_TAG).store(
        u64::from_le_bytes(tag[..8].try_into().unwrap()),
        Ordering::Relaxed,
    );
    seg.u64_at(H_TAG + 8).store(
        u64::from_le_bytes(tag[8..].try_into().unwrap()),
        Ordering::Relaxed,
    );
    seg.u64_at(H_KIND).store(kind as u64, Ordering::Relaxed);
    seg.u64_at(H_MAGIC).store(MAGIC, Ordering::Release);
    pin(None);
    let seg = Arc::new(seg);
    remember(&seg);
    Ok(seg)
}

/// The segments mapped in this process, by tag: decoding a handle of one of them again (a
/// pool worker gets the same `Lock` with every task) reuses the mapping instead of opening
/// and mapping it anew.
static MAPPED: Mutex<Vec<([u64; 2], Weak<Segment>)>> = Mutex::new(Vec::new());

fn remember(seg: &Arc<Segment>) {
    let mut mapped = MAPPED.lock().unwrap_or_else(|e| e.into_inner());
    mapped.retain(|(_, weak)| weak.strong_count() > 0);
    mapped.push((tag(seg), Arc::downgrade(seg)));
}

fn mapped(tag: [u64; 2]) -> Option<Arc<Segment>> {
    let mapped = MAPPED.lock().unwrap_or_else(|e| e.into_inner());
    mapped
        .iter()
        .find(|(t, _)| *t == tag)
        .and_then(|(_, weak)| weak.upgrade())
}

/// The segment's random identity (two segments mapped from one memfd have the same tag).
pub(crate) fn tag(seg: &Segment) -> [u64; 2] {
    [
        seg.u64_at(H_TAG).load(Ordering::Relaxed),
        seg.u64_at(H_TAG + 8).load(Ordering::Relaxed),
    ]
}

/// A primitive's handle as it crosses a process boundary.
#[derive(Serialize, Deserialize)]
struct Wire {
    pid: u32,
    fd: i32,
    tag: [u64; 2],
    kind: u8,
}

/// Segments this process has sent and must keep open until they are received: a handle
/// moved into `Process::spawn(f, lock)` is dropped here before the worker decodes it.
static PINS: Mutex<Vec<Arc<Segment>>> = Mutex::new(Vec::new());

/// Keeps `seg` open in this process until every handle encoded so far (by any process) has
/// been decoded somewhere, and forgets the pins of segments for which that is true. A handle
/// that is never decoded keeps its pin until this process ends (the memory then goes with it).
fn pin(seg: Option<&Arc<Segment>>) {
    let mut pins = PINS.lock().unwrap_or_else(|e| e.into_inner());
    pins.retain(|s| {
        s.u64_at(H_RECEIVED).load(Ordering::SeqCst) < s.u64_at(H_SENT).load(Ordering::SeqCst)
    });
    if let Some(seg) = seg {
        seg.u64_at(H_SENT).fetch_add(1, Ordering::SeqCst);
        pins.push(Arc::clone(seg));
    }
}

/// Encodes `seg` as a handle that another process can open: this process keeps the segment
/// open until the handle is decoded (see [`pin`]).
pub(crate) fn serialize<S: Serializer>(
    seg: &Arc<Segment>,
    kind: Kind,
    s: S,
) -> Result<S::Ok, S::Error> {
    pin(Some(seg));
    Wire {
        pid: std::process::id(),
        fd: seg.fd(),
        tag: tag(seg),
        kind: kind as u8,
    }
    .serialize(s)
}

/// Decodes a handle and maps its segment, checking that it is a `kind` of at least `body`
/// bytes of state.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    d: D,
    kind: Kind,
    body: usize,
) -> Result<Arc<Segment>, D::Error> {
    let wire = Wire::deserialize(d)?;
    open(&wire, kind, body).map_err(|e| {
        serde::de::Error::custom(format!(
            "cannot attach to a {kind:?} held by process {} (fd {}): {e}; the process that \
             sent it must keep its handle until this one is decoded",
            wire.pid, wire.fd
        ))
    })
}

fn open(wire: &Wire, kind: Kind, body: usize) -> io::Result<Arc<Segment>> {
    if wire.kind != kind as u8 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the handle is of another kind ({})", wire.kind),
        ));
    }
    let (seg, fresh) = match mapped(wire.tag) {
        Some(seg) => (seg, false),
        None => (Arc::new(Segment::open(wire.pid, wire.fd)?), true),
    };
    let same = seg.len() >= BODY + body
        && seg.u64_at(H_MAGIC).load(Ordering::Acquire) == MAGIC
        && seg.u64_at(H_KIND).load(Ordering::Relaxed) == kind as u64
        && tag(&seg) == wire.tag;
    if !same {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "that descriptor is no longer this primitive",
        ));
    }
    seg.u64_at(H_RECEIVED).fetch_add(1, Ordering::SeqCst);
    pin(None);
    if fresh {
        remember(&seg);
    }
    Ok(seg)
}

/// The deadline `timeout` from now (`None`: no deadline; a timeout too large to represent
/// is no deadline either).
pub(crate) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// What is left until `deadline`, capped at `cap` (`None` deadline: `cap`); `None` if it has
/// passed.
pub(crate) fn left(deadline: Option<Instant>, cap: Option<Duration>) -> Option<Option<Duration>> {
    match deadline {
        None => Some(cap),
        Some(d) => {
            let rest = d.checked_duration_since(Instant::now())?;
            if rest.is_zero() {
                return None;
            }
            Some(Some(cap.map_or(rest, |c| c.min(rest))))
        }
    }
}

/// This process as the primitives record it: (pid, start time), never 0 (0 marks a free
/// slot). Cached (see [`crate::proc_start::me`]).
pub(crate) fn me() -> (u32, u64) {
    let (pid, start) = crate::proc_start::me();
    (pid, start.max(1))
}

/// Whether the process recorded as (`pid`, `start`) is still running.
pub(crate) fn alive(pid: u32, start: u64) -> bool {
    crate::proc_start::start_time(pid).is_some_and(|s| s.max(1) == start)
}
