//! Part of a file mapped read-only, for the `logs` job's counting in place.
//!
//! Mapping saves the copy `read(2)` makes from the page cache into our buffer: the scan reads
//! the cached pages themselves. The price is a hazard `read` does not have: a file that
//! shrinks while mapped (`copytruncate`) makes any touch of a page past its new end raise
//! SIGBUS, which kills the process. Only a process whose death is contained should map; the
//! `logs` job does so in supervised workers, and reads when it runs a task again after its
//! worker died (the engine's `Job::rerun`).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::OnceLock;

/// `len` bytes of a file from a page-aligned offset, mapped shared and read-only, and unmapped
/// on drop.
pub(crate) struct Mapped {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapped {
    /// Maps `len` bytes (more than 0) of `file` from `offset`, a multiple of [`page_size`].
    ///
    /// The whole range is mapped now (`MAP_POPULATE`: the pages the file has cached go into
    /// the page table in one pass, and a cold file's are read first), not page fault by page
    /// fault as the scan touches them: on the bench's logs, counting in windows of 32 MiB
    /// took 0.86 of reading's CPU time populated and 0.90 faulted in (`scripts/ab_paired.py`,
    /// 15 rounds each). Pages the file no longer has are left out, without an error; touching
    /// one raises SIGBUS.
    pub(crate) fn new(file: &File, offset: u64, len: usize) -> io::Result<Self> {
        let offset = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))?;
        // SAFETY: a new mapping at an address the kernel chooses (no MAP_FIXED) replaces
        // nothing of ours; the descriptor is open for the call, and the mapping stays valid
        // after it is closed.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                file.as_raw_fd(),
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(Mapped { ptr, len })
    }

    /// The mapped bytes.
    ///
    /// They are the file's: a process writing to the file while it is mapped changes them
    /// under the borrow, as it would change what a `read` returns between two calls. The scan
    /// reads them as plain bytes and keeps no invariant about their contents (ripgrep's
    /// memory-mapped search takes the same stance). A page past a shrunken file's new end
    /// raises SIGBUS when touched (see the module's documentation).
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is a live PROT_READ mapping of `len` bytes until `self` is dropped,
        // which the borrow of `self` prevents while the slice lives.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping `new` made, and no slice of it outlives `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// The system's page size, which a mapping's file offset must be a multiple of.
pub(crate) fn page_size() -> u64 {
    static PAGE: OnceLock<u64> = OnceLock::new();
    *PAGE.get_or_init(|| {
        nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| n.is_power_of_two())
            .unwrap_or(4096)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapped_window_holds_the_file_bytes_from_its_offset() {
        let page = page_size() as usize;
        let data: Vec<u8> = (0..3 * page + 100).map(|i| (i % 251) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        let map = Mapped::new(&file, page as u64, 2 * page + 100).unwrap();
        assert_eq!(map.bytes(), &data[page..]);
        drop(file);
        // The mapping outlives the descriptor.
        assert_eq!(map.bytes()[0], data[page]);
    }

    #[test]
    fn what_cannot_be_mapped_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::open(dir.path()).unwrap();
        assert!(Mapped::new(&file, 0, 4096).is_err(), "a directory");
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        let file = File::open(&path).unwrap();
        assert!(Mapped::new(&file, 1, 4096).is_err(), "an unaligned offset");
    }
}
