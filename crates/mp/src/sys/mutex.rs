//! Robust, process-shared pthread mutexes in shared memory: the one implementation under the
//! synchronization primitives' locks and the queues' lock.
//!
//! `PTHREAD_MUTEX_ROBUST` + `PTHREAD_PROCESS_SHARED`: glibc keeps each thread's robust list
//! registered with the kernel (`set_robust_list`), so when a thread dies holding one, the
//! kernel marks the lock word `FUTEX_OWNER_DIED` and wakes a waiter, who gets `EOWNERDEAD` and
//! the lock; [`lock`] then marks it consistent and reports it. Uncontended lock and unlock are
//! a compare-and-swap each, in user space. A contended [`lock`] waits in slices (see [`SLICE`]
//! for the wake-up that glibc's robust mutex alone can lose when a waiter is killed).

use std::io;
use std::time::{Duration, Instant};

/// How a mutex behaves when the thread that holds it locks it again.
#[derive(Clone, Copy, Debug)]
pub(crate) enum MutexKind {
    /// Waits (forever, or until the timeout): Python's `Lock`, and the queues' lock.
    Normal,
    /// Fails with [`LockFail::Deadlock`].
    ErrorCheck,
    /// Counts: Python's `RLock`.
    Recursive,
}

/// Why a mutex was not locked.
#[derive(Debug)]
pub(crate) enum LockFail {
    /// Not free before the deadline (or, for a deadline already past, not free now).
    Timeout,
    /// This thread holds it already (an error-checking mutex).
    Deadlock,
    /// Anything else the system reported.
    Os(io::Error),
}

/// An error code of a pthread call, as an `io::Error` that names the call.
fn os_error(what: &str, code: i32) -> io::Error {
    let e = io::Error::from_raw_os_error(code);
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn check(what: &str, code: libc::c_int) -> io::Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(os_error(what, code))
    }
}

/// Initializes a robust, process-shared mutex of `kind` at `m`.
///
/// # Safety
///
/// `m` points to aligned, writable memory of a `pthread_mutex_t` that stays mapped, and no
/// thread of any process uses it during the call (its creator initializes it once, before
/// any handle to the memory leaves this process).
pub(super) unsafe fn init(m: *mut libc::pthread_mutex_t, kind: MutexKind) -> io::Result<()> {
    let kind = match kind {
        MutexKind::Normal => libc::PTHREAD_MUTEX_NORMAL,
        MutexKind::ErrorCheck => libc::PTHREAD_MUTEX_ERRORCHECK,
        MutexKind::Recursive => libc::PTHREAD_MUTEX_RECURSIVE,
    };
    let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
    let a = attr.as_mut_ptr();
    // SAFETY: `attr` is initialized by pthread_mutexattr_init before any other use and
    // destroyed at the end; `m` is valid and unused by anyone else (the caller's contract).
    unsafe {
        check("pthread_mutexattr_init", libc::pthread_mutexattr_init(a))?;
        let result = check(
            "pthread_mutexattr_setpshared",
            libc::pthread_mutexattr_setpshared(a, libc::PTHREAD_PROCESS_SHARED),
        )
        .and_then(|()| {
            check(
                "pthread_mutexattr_setrobust",
                libc::pthread_mutexattr_setrobust(a, libc::PTHREAD_MUTEX_ROBUST),
            )
        })
        .and_then(|()| {
            check(
                "pthread_mutexattr_settype",
                libc::pthread_mutexattr_settype(a, kind),
            )
        })
        .and_then(|()| check("pthread_mutex_init", libc::pthread_mutex_init(m, a)));
        libc::pthread_mutexattr_destroy(a);
        result
    }
}

/// How long one wait for a mutex lasts before the lock is tried again.
///
/// glibc's robust mutex wakes one waiter per unlock (and the kernel one per owner death), and
/// that waiter must set `FUTEX_WAITERS` again when it takes the lock, on behalf of the others.
/// A waiter killed after being woken and before taking the lock drops that duty: if another
/// thread took the lock in between (without the flag, as a thread that did not wait does),
/// the kernel's exit handling of the killed waiter wakes nobody, no later unlock calls the
/// kernel, and the remaining waiters sleep on a wake-up that never comes. An untimed
/// `pthread_mutex_lock` then waits forever (reproduced in C with three processes hammering one
/// mutex, two of them SIGKILLed: 9 stuck survivors in 1000 rounds). Waiting in slices bounds
/// what such a death costs to one slice.
const SLICE: Duration = Duration::from_millis(100);

/// Locks the mutex at `m`, waiting until `deadline` (`None`: forever; a deadline already
/// past: only if it is free now). `Ok(true)`: its previous holder died holding it; it is now
/// marked consistent and held by this thread. On an error it is not held.
///
/// # Safety
///
/// `m` points to a mutex initialized by [`init`], in memory that stays mapped until the
/// matching [`unlock`] (the caller's guard keeps it mapped).
pub(super) unsafe fn lock(
    m: *mut libc::pthread_mutex_t,
    deadline: Option<Instant>,
) -> Result<bool, LockFail> {
    // The uncontended case first: one compare-and-swap, no clock read.
    // SAFETY: `m` is an initialized robust process-shared mutex (the caller's contract).
    let mut rc = unsafe { libc::pthread_mutex_trylock(m) };
    while rc == libc::EBUSY {
        let left = match deadline {
            None => SLICE,
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left.min(SLICE),
                _ => return Err(LockFail::Timeout),
            },
        };
        let abs = realtime_after(left);
        // SAFETY: as above; `abs` lives for the call.
        rc = match unsafe { libc::pthread_mutex_timedlock(m, &abs) } {
            // A slice ended (or the clock moved): try again, or give up at the deadline.
            libc::ETIMEDOUT => libc::EBUSY,
            rc => rc,
        };
    }
    match rc {
        0 => Ok(false),
        libc::EOWNERDEAD => {
            // SAFETY: this thread holds `m` (EOWNERDEAD means it was acquired).
            let rc = unsafe { libc::pthread_mutex_consistent(m) };
            if rc != 0 {
                // SAFETY: this thread holds `m`; give it back rather than keep it forever.
                unsafe { unlock(m) };
                return Err(LockFail::Os(io::Error::from_raw_os_error(rc)));
            }
            Ok(true)
        }
        libc::EDEADLK => Err(LockFail::Deadlock),
        rc => Err(LockFail::Os(io::Error::from_raw_os_error(rc))),
    }
}

/// Unlocks the mutex at `m`.
///
/// # Safety
///
/// This thread locked `m` with [`lock`] and has not unlocked it since; it is still mapped.
pub(super) unsafe fn unlock(m: *mut libc::pthread_mutex_t) {
    // SAFETY: the caller's contract.
    unsafe {
        libc::pthread_mutex_unlock(m);
    }
}

/// `CLOCK_REALTIME` now plus `d`, for `pthread_mutex_timedlock` (which takes that clock).
fn realtime_after(d: Duration) -> libc::timespec {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid out-pointer; CLOCK_REALTIME always exists.
    unsafe {
        libc::clock_gettime(libc::CLOCK_REALTIME, &mut now);
    }
    let nanos = now.tv_nsec as u64 + u64::from(d.subsec_nanos());
    let secs = (now.tv_sec as u64)
        .saturating_add(d.as_secs())
        .saturating_add(nanos / 1_000_000_000);
    libc::timespec {
        tv_sec: libc::time_t::try_from(secs).unwrap_or(libc::time_t::MAX),
        tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
    }
}
