//! The runtime's only `unsafe` code: shared mappings, the one `wait4` call, the hook that
//! limits a worker's memory between `fork` and `exec`, and taking ownership of a descriptor
//! received over a socket.
//!
//! Everything here is a thin, audited wrapper; callers see safe functions and plain Rust types
//! (no `libc`/`nix` types leave this crate's public API).

use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// A `MAP_SHARED` read-write mapping of a whole file, viewed as 64-bit atomics.
pub(crate) struct SharedWords {
    ptr: NonNull<AtomicU64>,
    words: usize,
}

// SAFETY: the mapping is plain shared memory accessed only through atomics, so it may be used
// from any thread; the pointer stays valid until `Drop` unmaps it.
unsafe impl Send for SharedWords {}
// SAFETY: as above; `&SharedWords` only hands out `&AtomicU64`, which is `Sync`.
unsafe impl Sync for SharedWords {}

impl SharedWords {
    /// Maps `words * 8` bytes of `fd` shared and writable (or read-only when `writable` is false).
    pub(crate) fn map(fd: impl AsFd, words: usize, writable: bool) -> std::io::Result<Self> {
        use nix::sys::mman::{MapFlags, ProtFlags, mmap};
        let len = std::num::NonZeroUsize::new(words * 8)
            .ok_or_else(|| std::io::Error::other("empty shared mapping"))?;
        let prot = if writable {
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE
        } else {
            ProtFlags::PROT_READ
        };
        // SAFETY: a fresh mapping chosen by the kernel (no address hint) cannot alias any Rust
        // object; the caller sized the file to at least `len` bytes, so every word is backed.
        let ptr = unsafe { mmap(None, len, prot, MapFlags::MAP_SHARED, fd, 0) }
            .map_err(std::io::Error::from)?;
        Ok(SharedWords {
            ptr: ptr.cast(),
            words,
        })
    }

    /// The mapping as a slice of atomics.
    pub(crate) fn words(&self) -> &[AtomicU64] {
        // SAFETY: `ptr` is page-aligned (so 8-aligned), valid for `words` u64s for the life of
        // `self`, and only ever accessed through atomics, by this and other processes alike.
        // A read-only mapping is only read: `Scoreboard` never stores through a reader.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.words) }
    }
}

impl Drop for SharedWords {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the region `map` created; no reference into it outlives `self`
        // because `words()` borrows `self`.
        let _ = unsafe { nix::sys::mman::munmap(self.ptr.cast(), self.words * 8) };
    }
}

/// Maps the whole of `fd`, a sealed file (a `memfd` with `F_SEAL_WRITE` and `F_SEAL_SHRINK`),
/// read-only for the rest of the process's life. Refuses a file without both seals.
pub(crate) fn map_sealed_for_life(fd: &OwnedFd) -> std::io::Result<&'static [u8]> {
    use nix::fcntl::{FcntlArg, SealFlag, fcntl};
    use nix::sys::mman::{MapFlags, ProtFlags, mmap};
    let seals = SealFlag::from_bits_truncate(
        fcntl(fd, FcntlArg::F_GET_SEALS).map_err(std::io::Error::from)?,
    );
    if !seals.contains(SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_SHRINK) {
        return Err(std::io::Error::other("the image is not sealed"));
    }
    let len = nix::sys::stat::fstat(fd)
        .map_err(std::io::Error::from)?
        .st_size;
    let len = usize::try_from(len).map_err(std::io::Error::other)?;
    let Some(nonzero) = std::num::NonZeroUsize::new(len) else {
        return Ok(&[]);
    };
    // SAFETY: a fresh mapping chosen by the kernel (no address hint) aliases no Rust object.
    // The seals (checked above, and irrevocable) mean no one can write the file or shrink it
    // below `len`, by `write` or through any mapping, so the bytes never change and every
    // page stays backed: no SIGBUS. It is never unmapped, so `'static` holds.
    let ptr = unsafe {
        mmap(
            None,
            nonzero,
            ProtFlags::PROT_READ,
            MapFlags::MAP_SHARED,
            fd,
            0,
        )
    }
    .map_err(std::io::Error::from)?;
    // SAFETY: `ptr` is valid for `len` bytes, readable, immutable and never unmapped (above).
    Ok(unsafe { std::slice::from_raw_parts(ptr.as_ptr().cast::<u8>(), len) })
}

/// How a reaped child ended and what it cost.
pub(crate) struct Reaped {
    /// Raw wait status, decoded by the caller with the `libc` macros.
    pub(crate) exit: crate::ExitKind,
    /// Peak resident set size in bytes.
    pub(crate) max_rss_bytes: u64,
    /// User plus system CPU time.
    pub(crate) cpu: Duration,
}

/// Reaps `pid` (blocking) and returns its status and resource usage, like `wait4(2)`.
///
/// This is the one place a worker is reaped; callers guarantee it happens once per pid.
pub(crate) fn reap(pid: i32) -> std::io::Result<Reaped> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both out-pointers point to live, writable locals of the right types.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let exit = if libc::WIFSIGNALED(status) {
        crate::ExitKind::Signaled {
            signal: libc::WTERMSIG(status),
            core_dumped: libc::WCOREDUMP(status),
        }
    } else {
        crate::ExitKind::Exited(libc::WEXITSTATUS(status))
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Ok(Reaped {
        exit,
        max_rss_bytes: usage.ru_maxrss as u64 * 1024,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
    })
}

/// Makes the process that `command` starts have `RLIMIT_DATA` (soft and hard) of `bytes`.
///
/// `RLIMIT_DATA` rather than `RLIMIT_AS`: glibc and Rust reserve large virtual areas (malloc
/// arenas, thread stacks) that are never touched, so an address-space limit would kill a
/// healthy worker; since Linux 4.7 the data limit counts private writable mappings, i.e. what
/// the heap really grows into. Set in the child, before `exec`, so it binds the worker from
/// its first instruction and the parent is never limited.
pub(crate) fn limit_data_before_exec(command: &mut Command, bytes: u64) {
    let limit = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: bytes as libc::rlim_t,
    };
    let hook = move || {
        // SAFETY: `setrlimit` is async-signal-safe and reads only `limit`, a plain struct
        // copied into this closure before the fork.
        if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    // SAFETY: the hook runs in the forked child, where only async-signal-safe calls are
    // allowed: it calls `setrlimit` and reads `errno` (`last_os_error` does no allocation),
    // takes no locks and touches no state shared with other threads of the parent.
    unsafe {
        command.pre_exec(hook);
    }
}

/// Takes ownership of a descriptor the kernel just installed in this process for a received
/// `SCM_RIGHTS` message.
pub(crate) fn own_received_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: `recvmsg` installed `fd` in our descriptor table for this message alone; nothing
    // else in the process knows its number, so this is its only owner and it is open.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Runs `f` with `TMPDIR` set to `dir`, then puts it back as it was (unset, or its value):
/// `ipc-channel` creates a one-shot server's socket directory under `std::env::temp_dir()` and
/// has no other way to be told where.
///
/// Only for a worker's bootstrap, which runs before the engine starts any thread in the worker
/// and before any task code.
pub(crate) fn with_tmpdir_as<T>(dir: &std::path::Path, f: impl FnOnce() -> T) -> T {
    let before = std::env::var_os("TMPDIR");
    // SAFETY: changing the environment races only with a concurrent read of it by non-Rust
    // code on another thread (Rust's own reads take std's environment lock). A worker calls
    // this from its bootstrap, first thing in `main` (`init` must come first), when no thread of
    // the engine exists yet and no task code has run, so nothing reads the environment
    // concurrently; the variable is as it was again before any such code can run.
    unsafe { std::env::set_var("TMPDIR", dir) };
    let out = f();
    match before {
        // SAFETY: as above.
        Some(value) => unsafe { std::env::set_var("TMPDIR", value) },
        // SAFETY: as above.
        None => unsafe { std::env::remove_var("TMPDIR") },
    }
    out
}
