//! Futex waits and wakes on 32-bit words of shared memory. Without `FUTEX_PRIVATE_FLAG`: the
//! waits are keyed on the shared page, so a wake in one process reaches a waiter in another,
//! and a waiter that dies leaves no state behind.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `word` holds `expected`, at most `timeout` (`None`: until woken). Returns on a
/// wake, a changed value, a signal or the timeout: callers re-check their condition.
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a valid aligned u32 for the duration of the call (borrowed, so its
    // memory stays mapped); FUTEX_WAIT reads it and sleeps; `tsp` is null or points to a live
    // timespec on this stack frame.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            tsp,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Wakes at most `n` waiters of `word` (in any process); `u32::MAX`: all of them.
pub(crate) fn futex_wake(word: &AtomicU32, n: u32) {
    let n = libc::c_int::try_from(n).unwrap_or(libc::c_int::MAX);
    // SAFETY: `word` is a valid aligned u32 (borrowed, so mapped); FUTEX_WAKE only uses its
    // address to find waiters and accesses no other memory.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            n,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}
