//! The operating-system layer of the synchronization primitives, and all their `unsafe`: a
//! shared segment (`memfd_create` + `mmap`), robust process-shared pthread mutexes inside it,
//! futex waits and wakes on its words, and typed access to plain data under a mutex.
//!
//! Everything here is `pub(crate)` and safe to call: each function checks what the kernel or
//! glibc cannot (bounds, alignment, who initializes what) so that the modules above it (`lock`,
//! `sync::*`) need no `unsafe` of their own.
//!
//! # Why these choices
//!
//! - **memfd, not a named `/dev/shm` segment**: a memfd has no name to leak. Its memory is
//!   freed by the kernel when the last process holding its descriptor or a mapping ends, even
//!   if every one of them is SIGKILLed (DESIGN.md §5). Another process attaches by opening
//!   `/proc/<pid>/fd/<fd>` of a process that holds it (same user), checked against a random
//!   tag stored in the segment.
//! - **pthread robust mutexes** (`PTHREAD_MUTEX_ROBUST` + `PTHREAD_PROCESS_SHARED`): glibc
//!   keeps each thread's robust list registered with the kernel (`set_robust_list`), so when a
//!   thread dies holding one, the kernel marks the lock word `FUTEX_OWNER_DIED` and wakes a
//!   waiter, who gets `EOWNERDEAD` and the lock. Uncontended lock and unlock are a
//!   compare-and-swap each, in user space.
//! - **futexes without `FUTEX_PRIVATE_FLAG`**: waits keyed on the shared page, so a wake in one
//!   process reaches a waiter in another. A waiter that dies leaves no state behind.
//!
//! # Trust
//!
//! The offsets passed in are constants of each primitive's layout (`lock.rs`, `sync/*.rs`),
//! and a mutex is initialized by the segment's creator before any handle leaves it; a decoded
//! handle is checked for magic, kind, tag, size (and element type, for `Value`/`Array`). What
//! cannot be checked is the other processes' conduct: like any shared memory, a segment is
//! only as sound as the processes that map it, which are this program's own workers (same
//! binary, same user).

use std::ffi::CString;
use std::io;
use std::marker::PhantomData;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64};
use std::time::{Duration, Instant};

/// A shared memory segment: a memfd mapped read-write, shared, for the life of this value.
pub(crate) struct Segment {
    ptr: NonNull<u8>,
    len: usize,
    fd: OwnedFd,
}

// SAFETY: the mapping is process-wide and valid until `Drop` unmaps it; `Segment` has no
// thread-local state, and every access to the bytes goes through atomics, pthread mutexes or a
// `PlainGuard` that holds the mutex protecting them.
unsafe impl Send for Segment {}
// SAFETY: as above: shared access is only through atomics and mutex-protected guards.
unsafe impl Sync for Segment {}

/// Every structure placed in a segment starts at a multiple of this (a cache line).
pub(crate) const ALIGN: usize = 64;

impl Segment {
    /// A new zero-filled segment of `len` bytes (rounded up to a page by the kernel), named
    /// `name` in `/proc/<pid>/fd` listings (`memfd:<name>`).
    pub(crate) fn create(name: &str, len: usize) -> io::Result<Self> {
        let cname = CString::new(name).map_err(io::Error::other)?;
        let raw = with_fd_room(|| {
            // SAFETY: `cname` is a valid NUL-terminated string; the flags are valid.
            unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) }
        })?;
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let size = libc::off_t::try_from(len).map_err(io::Error::other)?;
        // SAFETY: `fd` is an open memfd; ftruncate has no memory-safety preconditions.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), size) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Self::map(fd, len)
    }

    /// Attaches to the segment that process `pid` holds as descriptor `fd`.
    pub(crate) fn open(pid: u32, fd: i32) -> io::Result<Self> {
        let path = CString::new(format!("/proc/{pid}/fd/{fd}")).map_err(io::Error::other)?;
        let raw = with_fd_room(|| {
            // SAFETY: `path` is a valid NUL-terminated string; the flags are valid.
            unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) }
        })?;
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let file = std::fs::File::from(fd);
        let meta = file.metadata()?;
        let len = usize::try_from(meta.len()).map_err(io::Error::other)?;
        if len < ALIGN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a segment of supervisor-mp (too small)",
            ));
        }
        Self::map(OwnedFd::from(file), len)
    }

    fn map(fd: OwnedFd, len: usize) -> io::Result<Self> {
        // SAFETY: a fresh shared mapping of an open descriptor of at least `len` bytes, at an
        // address the kernel chooses; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap: null"))?;
        Ok(Segment { ptr, len, fd })
    }

    /// Its size in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The descriptor number by which another process may open it (`/proc/<pid>/fd/<fd>`).
    pub(crate) fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// The address of `size` bytes at `offset`, aligned to `align`; panics otherwise (a layout
    /// bug of this crate, never a user input: offsets are constants of each primitive's layout,
    /// checked against the segment's length when it is opened).
    fn at(&self, offset: usize, size: usize, align: usize) -> *mut u8 {
        assert!(
            offset.checked_add(size).is_some_and(|end| end <= self.len),
            "segment access {offset}+{size} outside {} bytes",
            self.len
        );
        // SAFETY: in bounds of the mapping (checked above).
        let p = unsafe { self.ptr.as_ptr().add(offset) };
        assert!(
            (p as usize).is_multiple_of(align),
            "misaligned segment access"
        );
        p
    }

    /// The 32-bit atomic at `offset`.
    pub(crate) fn u32_at(&self, offset: usize) -> &AtomicU32 {
        let p = self.at(offset, size_of::<AtomicU32>(), align_of::<AtomicU32>());
        // SAFETY: in bounds and aligned (checked by `at`); the mapping lives as long as `self`;
        // the memory is only ever accessed atomically (or by the kernel's futex code, which
        // reads it atomically); any bit pattern is a valid u32.
        unsafe { AtomicU32::from_ptr(p.cast()) }
    }

    /// The 64-bit atomic at `offset`.
    pub(crate) fn u64_at(&self, offset: usize) -> &AtomicU64 {
        let p = self.at(offset, size_of::<AtomicU64>(), align_of::<AtomicU64>());
        // SAFETY: as in `u32_at`.
        unsafe { AtomicU64::from_ptr(p.cast()) }
    }

    /// The signed 64-bit atomic at `offset`.
    pub(crate) fn i64_at(&self, offset: usize) -> &AtomicI64 {
        let p = self.at(offset, size_of::<AtomicI64>(), align_of::<AtomicI64>());
        // SAFETY: as in `u32_at`.
        unsafe { AtomicI64::from_ptr(p.cast()) }
    }

    fn mutex_ptr(&self, offset: usize) -> *mut libc::pthread_mutex_t {
        self.at(
            offset,
            size_of::<libc::pthread_mutex_t>(),
            align_of::<libc::pthread_mutex_t>(),
        )
        .cast()
    }

    /// Initializes the robust, process-shared mutex at `offset`. Only the creator calls this,
    /// once, before any handle to the segment leaves this process.
    pub(crate) fn init_mutex(&self, offset: usize, kind: MutexKind) -> io::Result<()> {
        let m = self.mutex_ptr(offset);
        let kind = match kind {
            MutexKind::Normal => libc::PTHREAD_MUTEX_NORMAL,
            MutexKind::ErrorCheck => libc::PTHREAD_MUTEX_ERRORCHECK,
            MutexKind::Recursive => libc::PTHREAD_MUTEX_RECURSIVE,
        };
        let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        // SAFETY: `attr` is initialized by pthread_mutexattr_init before any other use and
        // destroyed at the end; `m` points to zeroed, aligned, in-bounds memory that no other
        // process uses yet (the creator initializes before sharing).
        unsafe {
            check(libc::pthread_mutexattr_init(attr.as_mut_ptr()))?;
            let a = attr.as_mut_ptr();
            let result = check(libc::pthread_mutexattr_setpshared(
                a,
                libc::PTHREAD_PROCESS_SHARED,
            ))
            .and_then(|()| {
                check(libc::pthread_mutexattr_setrobust(
                    a,
                    libc::PTHREAD_MUTEX_ROBUST,
                ))
            })
            .and_then(|()| check(libc::pthread_mutexattr_settype(a, kind)))
            .and_then(|()| check(libc::pthread_mutex_init(m, a)));
            libc::pthread_mutexattr_destroy(a);
            result
        }
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`. No reference into it outlives
        // `self`: atomics and guards borrow the segment or hold an `Arc` of it, so a locked
        // robust mutex is never unmapped while its guard lives (the kernel's robust list of
        // this thread would otherwise point into unmapped memory).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// Runs `open` (a call returning a new descriptor or -1); if the process is out of
/// descriptors (each primitive keeps one, where Python's keep none), raises the soft limit to
/// the hard one, once, as Go's runtime does, and tries again.
fn with_fd_room(mut open: impl FnMut() -> libc::c_int) -> io::Result<libc::c_int> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let raw = open();
    if raw >= 0 {
        return Ok(raw);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::EMFILE) {
        return Err(err);
    }
    let raised = getrlimit(Resource::RLIMIT_NOFILE)
        .ok()
        .filter(|(soft, hard)| soft < hard)
        .is_some_and(|(_, hard)| setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok());
    if !raised {
        return Err(err);
    }
    let raw = open();
    if raw < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(raw)
    }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// How a mutex behaves when the thread that holds it locks it again.
#[derive(Clone, Copy, Debug)]
pub(crate) enum MutexKind {
    /// Waits (forever, or until the timeout): Python's `Lock`.
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

/// A locked robust mutex in a segment; unlocks when dropped. Not `Send`: a pthread mutex is
/// owned by the thread that locked it.
pub(crate) struct MutexGuard {
    seg: Arc<Segment>,
    offset: usize,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing `&MutexGuard` between threads gives access to nothing but the `Arc` (no
// method of the guard touches the mutex through `&self`); only dropping it unlocks, and that
// needs ownership, which stays on the locking thread (`!Send`).
unsafe impl Sync for MutexGuard {}

impl MutexGuard {
    /// Locks the mutex at `offset` of `seg`, waiting until `deadline` (`None`: forever; a
    /// deadline already past: only if it is free now). `Ok((guard, true))`: its previous
    /// holder died holding it; it is now marked consistent and held by this thread.
    pub(crate) fn lock(
        seg: &Arc<Segment>,
        offset: usize,
        deadline: Option<Instant>,
    ) -> Result<(MutexGuard, bool), LockFail> {
        let m = seg.mutex_ptr(offset);
        // SAFETY: `m` is an initialized robust process-shared mutex (the creator initialized
        // it before sharing the segment; `open` checked the layout), in memory mapped as long
        // as `seg` lives, which the guard keeps alive until it unlocks.
        let rc = unsafe {
            match deadline {
                None => libc::pthread_mutex_lock(m),
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    None => libc::pthread_mutex_trylock(m),
                    Some(left) if left.is_zero() => libc::pthread_mutex_trylock(m),
                    Some(left) => {
                        let abs = realtime_after(left);
                        libc::pthread_mutex_timedlock(m, &abs)
                    }
                },
            }
        };
        let guard = || MutexGuard {
            seg: Arc::clone(seg),
            offset,
            _not_send: PhantomData,
        };
        match rc {
            0 => Ok((guard(), false)),
            libc::EOWNERDEAD => {
                // SAFETY: this thread holds `m` (EOWNERDEAD means it was acquired).
                let rc = unsafe { libc::pthread_mutex_consistent(m) };
                let g = guard();
                check(rc).map_err(LockFail::Os)?;
                Ok((g, true))
            }
            libc::EBUSY | libc::ETIMEDOUT => Err(LockFail::Timeout),
            libc::EDEADLK => Err(LockFail::Deadlock),
            rc => Err(LockFail::Os(io::Error::from_raw_os_error(rc))),
        }
    }

    /// The segment this guard's mutex lives in.
    pub(crate) fn segment(&self) -> &Arc<Segment> {
        &self.seg
    }
}

impl Drop for MutexGuard {
    fn drop(&mut self) {
        let m = self.seg.mutex_ptr(self.offset);
        // SAFETY: this thread locked `m` (the guard is not `Send`) and has not unlocked it;
        // the mapping is alive (`self.seg`).
        unsafe {
            libc::pthread_mutex_unlock(m);
        }
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
    // SAFETY: `word` is a valid aligned u32 for the duration of the call; FUTEX_WAIT reads it
    // and sleeps; `tsp` is null or points to a live timespec.
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

/// Wakes at most `n` waiters of `word` (in any process).
pub(crate) fn futex_wake(word: &AtomicU32, n: u32) {
    let n = libc::c_int::try_from(n).unwrap_or(libc::c_int::MAX);
    // SAFETY: `word` is a valid aligned u32; FUTEX_WAKE does not access other memory.
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

/// Plain data that may live in shared memory: copied bit for bit, with no pointers, no
/// destructor, and **every bit pattern a valid value** (so a value half-written by a process
/// that died is still a value, and zeroed memory is one). Implemented for the integer and
/// floating-point types and for arrays of `Plain`; Python's ctypes type codes (`'i'`, `'d'`,
/// ...) map to these.
///
/// # Safety
///
/// Implement it only for a `#[repr(C)]` (or `#[repr(transparent)]`) type made of `Plain`
/// fields, without references, pointers, `bool`, `char` or enums, for which any bit pattern is
/// valid.
pub unsafe trait Plain: Copy + Send + Sync + 'static {}

macro_rules! plain {
    ($($t:ty),*) => {$(
        // SAFETY: a primitive number: no pointers, every bit pattern is a valid value.
        unsafe impl Plain for $t {}
    )*};
}
plain!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64
);
// SAFETY: an array of plain values is plain (no padding between elements, each element any
// bit pattern).
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}

/// `len` values of `T` at `offset` of a segment, accessible only while the mutex at
/// `mutex_offset` is held: the only way to the bytes of a `Value` or `Array`.
pub(crate) struct PlainGuard<T: Plain> {
    _mutex: MutexGuard,
    data: NonNull<T>,
    len: usize,
}

// SAFETY: as for `MutexGuard`: shared references give read access to data that only the
// holder of the mutex (this thread) can change, and only through `&mut self`.
unsafe impl<T: Plain> Sync for PlainGuard<T> {}

impl<T: Plain> PlainGuard<T> {
    /// Locks the mutex at `mutex_offset`, then gives access to `len` values of `T` at
    /// `offset`. Every access to that region goes through a `PlainGuard` of the same mutex
    /// (the `Value`/`Array` layouts guarantee it), so the references it hands out are unique.
    pub(crate) fn lock(
        seg: &Arc<Segment>,
        mutex_offset: usize,
        offset: usize,
        len: usize,
        deadline: Option<Instant>,
    ) -> Result<(Self, bool), LockFail> {
        let size = size_of::<T>()
            .checked_mul(len)
            .expect("array size overflows usize");
        let data = seg.at(offset, size, align_of::<T>()).cast::<T>();
        let data = NonNull::new(data).expect("a mapping is never at null");
        let (mutex, abandoned) = MutexGuard::lock(seg, mutex_offset, deadline)?;
        Ok((
            PlainGuard {
                _mutex: mutex,
                data,
                len,
            },
            abandoned,
        ))
    }

    /// The values, read-only.
    pub(crate) fn as_slice(&self) -> &[T] {
        // SAFETY: `data..data+len` is in bounds and aligned (checked in `lock`), mapped while
        // `self._mutex` keeps the segment alive; this thread holds the mutex that every access
        // to the region takes, so no one writes it meanwhile; any bit pattern is a valid `T`.
        unsafe { std::slice::from_raw_parts(self.data.as_ptr(), self.len) }
    }

    /// The values, writable.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in `as_slice`, and `&mut self` makes this the only reference handed out
        // by this guard; no other guard of the region exists while this one holds the mutex.
        unsafe { std::slice::from_raw_parts_mut(self.data.as_ptr(), self.len) }
    }
}

/// Runs `f` in the child after every `fork()` of this process (`pthread_atfork`); `f` must
/// only do async-signal-safe work (an atomic store).
pub(crate) fn at_fork_in_child(f: extern "C" fn()) {
    // SAFETY: registers a plain function pointer with no prepare/parent handlers; `f` is
    // `extern "C"`, lives for the program (a fn item), and callers keep it signal-safe.
    unsafe {
        libc::pthread_atfork(None, None, Some(f));
    }
}

/// Start time of process `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`), if
/// it is alive and not a zombie: with the pid, it names one process for good.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // `rest` starts at field 3 (state); the start time is field 22.
    fields.nth(18)?.parse().ok()
}
