//! The lock that guards a semaphore's internal state: a futex word holding the owner's pid,
//! cheaper than a robust pthread mutex (a compare-and-swap to lock, a swap to unlock) and as
//! robust for what it guards.
//!
//! It is held only for the few instructions of a state change, never while user code runs,
//! and each of those changes is one atomic store or read-modify-write, so a holder that dies
//! leaves a consistent state. A waiter that finds the same owner still in place after a sleep
//! checks whether that process is alive (`/proc/<pid>/stat`) and, if not, takes the lock over.

use crate::proc_start::start_time;
use crate::sys::{futex_wait, futex_wake};
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::Duration;

/// Set in the word while someone sleeps on it (the unlocker then wakes one).
const SLEEPERS: u32 = 1 << 31;
/// How long a waiter sleeps before it checks whether the owner is alive.
const CHECK: Duration = Duration::from_millis(10);

/// Holds the state lock; unlocks when dropped.
pub(crate) struct StateGuard<'a> {
    word: &'a AtomicU32,
}

/// Locks `word` (0: free, else the owner's pid, with [`SLEEPERS`]).
pub(crate) fn lock(word: &AtomicU32) -> StateGuard<'_> {
    let me = super::me().0;
    if word.compare_exchange(0, me, Acquire, Relaxed).is_err() {
        lock_slow(word, me);
    }
    StateGuard { word }
}

fn lock_slow(word: &AtomicU32, me: u32) {
    for _ in 0..100 {
        std::hint::spin_loop();
        if word.load(Relaxed) == 0 && word.compare_exchange(0, me, Acquire, Relaxed).is_ok() {
            return;
        }
    }
    loop {
        let cur = word.load(Relaxed);
        if cur == 0 {
            // Taken after sleeping: keep the flag, others may still sleep.
            if word
                .compare_exchange(0, me | SLEEPERS, Acquire, Relaxed)
                .is_ok()
            {
                return;
            }
            continue;
        }
        let flagged = cur | SLEEPERS;
        if cur != flagged
            && word
                .compare_exchange(cur, flagged, Relaxed, Relaxed)
                .is_err()
        {
            continue;
        }
        futex_wait(word, flagged, Some(CHECK));
        if word.load(Relaxed) == flagged
            && start_time(flagged & !SLEEPERS).is_none()
            && word
                .compare_exchange(flagged, me | SLEEPERS, Acquire, Relaxed)
                .is_ok()
        {
            // Its owner died holding it: the state is consistent (see the module docs).
            return;
        }
    }
}

impl Drop for StateGuard<'_> {
    fn drop(&mut self) {
        if self.word.swap(0, Release) & SLEEPERS != 0 {
            futex_wake(self.word, 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::Ordering::SeqCst;

    #[test]
    fn a_dead_owner_is_taken_over() {
        // The pid of a process that has ended and been reaped.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let word = AtomicU32::new(dead);
        let guard = lock(&word);
        assert_eq!(word.load(SeqCst) & !SLEEPERS, super::super::me().0);
        drop(guard);
        assert_eq!(word.load(SeqCst), 0);
    }

    #[test]
    fn a_live_owner_is_waited_for() {
        let word = Arc::new(AtomicU32::new(0));
        let counter = Arc::new(AtomicU32::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (word, counter) = (Arc::clone(&word), Arc::clone(&counter));
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        let _g = lock(&word);
                        // A non-atomic increment in two steps: only the lock keeps it exact.
                        let v = counter.load(SeqCst);
                        counter.store(v + 1, SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(counter.load(SeqCst), 40_000);
        assert_eq!(word.load(SeqCst), 0);
    }
}
