//! Making this process die by a signal, or ignore one (for the `fault` job).
//!
//! These go through libc because std offers no way to change a signal's disposition or to
//! raise a signal, and dying *by a signal* (rather than exiting) is what the supervisor must
//! learn to recognise.

/// Dies by SIGSEGV, as a real segmentation fault would end the process.
pub(crate) fn segfault() -> ! {
    // SAFETY: `signal` with SIG_DFL installs no Rust code as a handler, so there is no
    // async-signal-safety concern. Resetting is needed because std installs its own SIGSEGV
    // handler (for stack-overflow reports), which would otherwise catch the signal.
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
    }
    raise(libc::SIGSEGV)
}

/// Dies by SIGKILL, as if an outside `kill -9` had hit it.
pub(crate) fn kill_self() -> ! {
    raise(libc::SIGKILL)
}

/// Makes SIGTERM do nothing, so that only SIGKILL can end the process.
pub(crate) fn ignore_sigterm() {
    // SAFETY: SIG_IGN installs no handler code; changing a disposition has no memory-safety
    // effect on this process.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
    }
}

fn raise(signal: libc::c_int) -> ! {
    // SAFETY: `raise` takes a plain integer and touches no memory of ours. For a signal whose
    // disposition is the default "terminate", it does not return.
    unsafe {
        libc::raise(signal);
    }
    // Unreachable in practice (the signal is fatal and delivered synchronously to this thread);
    // abort rather than continue as if the task had succeeded.
    std::process::abort()
}
