//! The operating-system layer of the crate, and all of its `unsafe`: shared mappings, robust
//! process-shared pthread mutexes inside them, futex waits and wakes on their words, typed
//! access to plain data under a mutex, and the mapping of a `SharedMemory`.
//!
//! Everything it exports is safe to call: each function checks what the kernel or glibc
//! cannot (bounds, alignment, who initializes what) so that the modules above it (`lock`,
//! `sync::*`, `ring`, `shm`) need no `unsafe` of their own.
//!
//! - `region`: a `MAP_SHARED` mapping of a descriptor, unmapped on drop (under both the
//!   primitives' segments and the queues' rings).
//! - `mutex`: the robust process-shared pthread mutex (init, lock with `EOWNERDEAD`
//!   recovery and a deadline, unlock), used by both.
//! - `futex`: futex wait and wake on a shared word, used by both.
//! - `segment`: the synchronization primitives' memfd segments, their atomics, mutex guards
//!   and [`Plain`] data.
//! - `queue_mem`: the layout of a queue file (header, bookkeeping, ring) and its guard.
//! - `shmem`: the mapping under a `SharedMemory`, with bounds-checked copies.
//!
//! # Why these choices
//!
//! - **pthread robust mutexes** (`PTHREAD_MUTEX_ROBUST` + `PTHREAD_PROCESS_SHARED`): when a
//!   thread dies holding one, the kernel marks it and the next locker gets `EOWNERDEAD` and
//!   the lock. Uncontended lock and unlock are a compare-and-swap each, in user space.
//! - **futexes without `FUTEX_PRIVATE_FLAG`**: waits keyed on the shared page, so a wake in one
//!   process reaches a waiter in another. A waiter that dies leaves no state behind.
//!
//! # Trust
//!
//! The offsets passed in are constants of each layout (`lock.rs`, `sync/*.rs`, the queue
//! header), and a mutex is initialized by the memory's creator before any handle leaves it; a
//! decoded handle is checked for magic, kind, tag, size (and element type, for
//! `Value`/`Array`). What cannot be checked is the other processes' conduct: like any shared
//! memory, a mapping is only as sound as the processes that map it, which are this program's
//! own workers (same binary, same user).

mod futex;
mod mutex;
pub(crate) mod queue_mem;
mod region;
mod segment;
mod shmem;

pub(crate) use futex::{futex_wait, futex_wake};
pub(crate) use mutex::{LockFail, MutexKind};
pub use segment::Plain;
pub(crate) use segment::{ALIGN, MutexGuard, PlainGuard, Segment};
pub(crate) use shmem::SendShmem;

/// Runs `f` in the child after every `fork()` of this process (`pthread_atfork`); `f` must
/// only do async-signal-safe work (an atomic store).
pub(crate) fn at_fork_in_child(f: extern "C" fn()) {
    // SAFETY: registers a plain function pointer with no prepare/parent handlers; `f` is
    // `extern "C"`, lives for the program (a fn item), and callers keep it signal-safe.
    unsafe {
        libc::pthread_atfork(None, None, Some(f));
    }
}
