//! A shared read-write mapping of a whole file or memfd, unmapped when dropped: the memory
//! under both the synchronization primitives' segments and the queues' rings.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

/// `len` bytes of a descriptor, mapped `MAP_SHARED` for the life of this value.
pub(crate) struct Region {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is process-wide and valid until `Drop` unmaps it; a `Region` has no
// thread-local state. What is stored in it is accessed only through the typed wrappers of
// this module (atomics, robust mutexes and the guards that hold them), never through the
// `Region` itself, so it may move to and be shared by any thread.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// Maps the first `len` bytes of `fd` (at least that long) read-write and shared.
    pub(super) fn map(fd: BorrowedFd<'_>, len: usize) -> io::Result<Region> {
        // SAFETY: a fresh shared mapping of `len` bytes of an open descriptor, at an address
        // the kernel chooses, so no existing memory is affected; checked for MAP_FAILED.
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
        Ok(Region { ptr, len })
    }

    /// Its size in bytes.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The first byte (page-aligned).
    pub(super) fn base(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The address of `size` bytes at `offset`, aligned to `align`; panics otherwise (a layout
    /// bug of this crate, never a user input: offsets are constants of each layout, checked
    /// against the length when the memory is opened).
    pub(super) fn at(&self, offset: usize, size: usize, align: usize) -> *mut u8 {
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
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`. No reference into it outlives
        // `self`: atomics and guards borrow their owner of the region or hold an `Arc` of it,
        // so a locked robust mutex is never unmapped while its guard lives (the kernel's
        // robust list of this thread would otherwise point into unmapped memory).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}
