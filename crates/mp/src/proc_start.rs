//! Which process a pid names: its start time, so that a reused pid is not mistaken for a dead
//! process (used by the queues' consumer slots, the semaphores' holders and the shared memory
//! tracker).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Start time of process `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`), if
/// it is alive and not a zombie: with the pid, it names one process for good.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // `rest` starts at field 3 (state): field 22 is the 20th from here.
    fields.nth(18)?.parse().ok()
}

static ME_PID: AtomicU32 = AtomicU32::new(0);
static ME_START: AtomicU64 = AtomicU64::new(0);

/// This process: its pid and start time (0 if `/proc` cannot tell). Cached, as a semaphore
/// acquire or a queue get must not cost a system call; a child made by `fork` forgets the
/// cache.
pub(crate) fn me() -> (u32, u64) {
    let pid = ME_PID.load(Ordering::Acquire);
    if pid != 0 {
        return (pid, ME_START.load(Ordering::Relaxed));
    }
    static FORK_HOOK: std::sync::Once = std::sync::Once::new();
    FORK_HOOK.call_once(|| crate::sys::at_fork_in_child(forget_me));
    let pid = std::process::id();
    let start = start_time(pid).unwrap_or(0);
    ME_START.store(start, Ordering::Relaxed);
    ME_PID.store(pid, Ordering::Release);
    (pid, start)
}

extern "C" fn forget_me() {
    ME_PID.store(0, Ordering::Release);
}
