//! `Event`: a flag shared between processes that waiters sleep on.

use super::{BODY, Kind};
use crate::sys::{ALIGN, Segment, futex_wait, futex_wake};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

/// u32 futex word: 1 when set.
const FLAG: usize = BODY;
const BODY_LEN: usize = ALIGN;

/// Python's `multiprocessing.Event`: a flag that [`set`](Event::set) raises (waking every
/// waiter), [`clear`](Event::clear) lowers, and [`wait`](Event::wait) waits for. Shared between
/// processes (pass the handle to a worker). One atomic word and a futex: no lock, so nothing
/// to abandon; a waiter that dies leaves nothing behind.
#[derive(Clone)]
pub struct Event {
    seg: Arc<Segment>,
}

impl Event {
    /// A new event, not set.
    pub fn new() -> io::Result<Self> {
        Ok(Event {
            seg: super::create(Kind::Event, BODY_LEN)?,
        })
    }

    fn flag(&self) -> &std::sync::atomic::AtomicU32 {
        self.seg.u32_at(FLAG)
    }

    /// Whether the flag is set (Python's `is_set()`).
    pub fn is_set(&self) -> bool {
        self.flag().load(SeqCst) != 0
    }

    /// Sets the flag and wakes every waiter, in every process.
    pub fn set(&self) {
        if self.flag().swap(1, SeqCst) == 0 {
            futex_wake(self.flag(), u32::MAX);
        }
    }

    /// Clears the flag: later waits block until the next [`set`](Event::set).
    pub fn clear(&self) {
        self.flag().store(0, SeqCst);
    }

    /// Waits until the flag is set; returns at once if it is.
    pub fn wait(&self) {
        while !self.is_set() {
            futex_wait(self.flag(), 0, None);
        }
    }

    /// Waits at most `timeout` for the flag; returns whether it is set (Python's
    /// `wait(timeout)`: `False` on a timeout).
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = super::deadline(Some(timeout));
        while !self.is_set() {
            match super::left(deadline, None) {
                Some(wait) => futex_wait(self.flag(), 0, wait),
                None => return self.is_set(),
            }
        }
        true
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        super::serialize(&self.seg, Kind::Event, serializer)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Event {
            seg: super::deserialize(deserializer, Kind::Event, BODY_LEN)?,
        })
    }
}
