//! The mapping under a [`crate::SharedMemory`]: a `shared_memory::Shmem` (POSIX `shm_open` +
//! `mmap`) that may move between threads, with bounds-checked copies in and out.

use std::ops::{Deref, DerefMut};

/// A `Shmem` that is `Send` (not `Sync`: writes take `&mut self`).
pub(crate) struct SendShmem(shared_memory::Shmem);

// SAFETY: `Shmem` holds a raw pointer to a mapping that stays valid until the `Shmem` is
// dropped, in whatever thread; it has no thread-local state. Moving it to another thread is
// sound. (Not `Sync`: the bytes are written through `&mut self`.)
unsafe impl Send for SendShmem {}

impl SendShmem {
    pub(crate) fn new(shmem: shared_memory::Shmem) -> Self {
        SendShmem(shmem)
    }

    /// Copies `buf.len()` bytes starting at `offset` out of the mapping; panics if that is
    /// outside it (callers check first, to report an error).
    pub(crate) fn read_at(&self, offset: usize, buf: &mut [u8]) {
        self.assert_within(offset, buf.len());
        // SAFETY: the mapping is `self.0.len()` bytes long and valid while `self.0` lives;
        // the range is inside it (checked above); `buf` is a distinct Rust buffer, so the
        // ranges do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(self.0.as_ptr().add(offset), buf.as_mut_ptr(), buf.len());
        }
    }

    /// Copies `data` into the mapping starting at `offset`; panics if that is outside it.
    pub(crate) fn write_at(&mut self, offset: usize, data: &[u8]) {
        self.assert_within(offset, data.len());
        // SAFETY: as in `read_at`: in bounds, valid mapping, distinct buffers.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.0.as_ptr().add(offset), data.len());
        }
    }

    fn assert_within(&self, offset: usize, len: usize) {
        assert!(
            offset
                .checked_add(len)
                .is_some_and(|end| end <= self.0.len()),
            "shared memory access {offset}+{len} outside {} bytes",
            self.0.len()
        );
    }
}

impl Deref for SendShmem {
    type Target = shared_memory::Shmem;

    fn deref(&self) -> &shared_memory::Shmem {
        &self.0
    }
}

impl DerefMut for SendShmem {
    fn deref_mut(&mut self) -> &mut shared_memory::Shmem {
        &mut self.0
    }
}
