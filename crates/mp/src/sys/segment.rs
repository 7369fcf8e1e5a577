//! The synchronization primitives' shared segments (`memfd_create` + `mmap`), typed access to
//! their words, the guard of a robust mutex in one, and plain data under such a mutex.
//!
//! A memfd, not a named `/dev/shm` segment: a memfd has no name to leak. Its memory is freed
//! by the kernel when the last process holding its descriptor or a mapping ends, even if every
//! one of them is SIGKILLed (DESIGN.md §5). Another process attaches by opening
//! `/proc/<pid>/fd/<fd>` of a process that holds it (same user), checked against a random tag
//! stored in the segment.

use super::mutex::{self, LockFail, MutexKind};
use super::region::Region;
use std::ffi::CString;
use std::io;
use std::marker::PhantomData;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64};
use std::time::Instant;

/// A shared memory segment: a memfd mapped read-write, shared, for the life of this value.
/// (`Send` and `Sync` as its `Region`: every access to the bytes goes through atomics,
/// pthread mutexes or a `PlainGuard` that holds the mutex protecting them.)
pub(crate) struct Segment {
    region: Region,
    fd: OwnedFd,
}

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
        let region = Region::map(fd.as_fd(), len)?;
        Ok(Segment { region, fd })
    }

    /// Its size in bytes.
    pub(crate) fn len(&self) -> usize {
        self.region.len()
    }

    /// The descriptor number by which another process may open it (`/proc/<pid>/fd/<fd>`).
    pub(crate) fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// The address of `size` bytes at `offset`, aligned to `align`; panics otherwise.
    fn at(&self, offset: usize, size: usize, align: usize) -> *mut u8 {
        self.region.at(offset, size, align)
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
        // SAFETY: `m` points to aligned, in-bounds memory of this mapping (checked by `at`)
        // that no other thread or process uses yet: the creator initializes before sharing.
        unsafe { mutex::init(m, kind) }
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
        let abandoned = unsafe { mutex::lock(m, deadline) }?;
        let guard = MutexGuard {
            seg: Arc::clone(seg),
            offset,
            _not_send: PhantomData,
        };
        Ok((guard, abandoned))
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
        unsafe { mutex::unlock(m) }
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
