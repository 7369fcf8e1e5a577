//! The process-group guardian of the `exec` job: a tiny forked child that outlives its parent
//! just long enough to kill what the parent's tasks left in the process group.
//!
//! See [`crate::exec`] for why it exists. Everything here runs through libc because std can
//! neither fork without exec nor wait for signals.

use std::io;
use std::time::Duration;

/// The signal the parent sends to make the guardian exit without killing anything (the
/// parent is ending normally). Its number is below the death signal's, so when both are
/// pending the stand-down is taken first.
const STAND_DOWN: libc::c_int = libc::SIGUSR1;

/// The parent-death signal: a real-time signal, delivered after every standard signal that is
/// pending with it (SIGTERM sent to the whole group must be seen first).
fn death_signal() -> libc::c_int {
    libc::SIGRTMIN()
}

/// Forks the guardian into the caller's process group and returns its pid, or `None` when
/// the caller does not lead its own process group: then the group is someone else's (a
/// shell's, a test runner's) and must never be killed.
///
/// The guardian closes every descriptor (it must not keep the caller's sockets or pipes
/// open), arms `PR_SET_PDEATHSIG`, and sleeps in `sigwaitinfo`. When the caller dies it kills
/// the whole process group with SIGKILL: at once if the death was unannounced (SIGKILL from
/// outside, a crash), or after `grace` if SIGTERM reached the group first (a timeout or a
/// stop: the commands got the same SIGTERM and deserve the same grace as the caller had).
pub(crate) fn start(grace: Duration) -> io::Result<Option<libc::pid_t>> {
    let caller = std::process::id() as libc::pid_t;
    // SAFETY: getpgrp takes no arguments and cannot fail.
    if unsafe { libc::getpgrp() } != caller {
        return Ok(None);
    }
    let death = death_signal();
    // Everything the child needs is prepared here: after fork, a multi-threaded process's
    // child may only make async-signal-safe calls (no allocation, no locks).
    // SAFETY: a zeroed sigset_t is a valid argument for sigemptyset, which initializes it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, owned sigset_t; the signal numbers are valid.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, STAND_DOWN);
        libc::sigaddset(&mut set, death);
    }
    let grace = libc::timespec {
        tv_sec: grace.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: grace.subsec_nanos() as libc::c_long,
    };
    // SAFETY: fork has no memory-safety preconditions in the parent. In the child, `guard`
    // makes only async-signal-safe system calls on data prepared above and never returns.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => guard(caller, &set, death, grace),
        pid => Ok(Some(pid)),
    }
}

/// The guardian's whole life, in the forked child.
fn guard(
    caller: libc::pid_t,
    set: &libc::sigset_t,
    death: libc::c_int,
    grace: libc::timespec,
) -> ! {
    // SAFETY (whole block): only async-signal-safe system calls on valid pointers to stack
    // data; the process has a single thread here, and none of these touch Rust-managed memory
    // except through the pointers given.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, set, std::ptr::null_mut());
        if libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) != 0 {
            for fd in 0..4096 {
                libc::close(fd);
            }
        }
        libc::prctl(libc::PR_SET_NAME, c"exec-guardian".as_ptr());
        libc::prctl(libc::PR_SET_PDEATHSIG, death as libc::c_ulong);
        if libc::getppid() != caller {
            // The caller died before the death signal was armed.
            kill_group();
        }
        let mut terminating = false;
        loop {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let signal = libc::sigwaitinfo(set, &mut info);
            if signal == libc::SIGTERM {
                terminating = true;
            } else if signal == STAND_DOWN && info.si_pid() == caller {
                libc::_exit(0);
            } else if signal == death {
                if terminating {
                    let mut left = grace;
                    while libc::nanosleep(&left, &mut left) != 0 {}
                }
                kill_group();
            }
        }
    }
}

/// SIGKILLs every process of the calling process's group, the caller included.
fn kill_group() -> ! {
    // SAFETY: kill(0, ..) and _exit take plain integers.
    unsafe {
        libc::kill(0, libc::SIGKILL);
        libc::_exit(0)
    }
}

/// True while the guardian `pid` (a child of this process, not yet reaped) runs; reaps it once
/// it has ended.
pub(crate) fn is_running(pid: libc::pid_t) -> bool {
    let mut status = 0;
    // SAFETY: waitpid writes one int through a valid pointer. `pid` is our own child, so the
    // call cannot reap anything else.
    let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    reaped == 0
}

/// Tells the guardian `pid` that its parent ends normally, then reaps it (waiting at most
/// `patience`).
pub(crate) fn stand_down(pid: libc::pid_t, patience: Duration) {
    // SAFETY: `pid` is our unreaped child, so the signal cannot reach a recycled pid.
    unsafe {
        libc::kill(pid, STAND_DOWN);
    }
    let deadline = std::time::Instant::now() + patience;
    while is_running(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}
