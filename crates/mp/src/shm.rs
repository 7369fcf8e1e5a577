//! `SharedMemory`: named shared-memory segments (Python's
//! `multiprocessing.shared_memory.SharedMemory`), on the `shared_memory` crate (POSIX
//! `shm_open` + `mmap`, visible as `/dev/shm/<name>`).
//!
//! # Ownership
//!
//! - The process that [`create`](SharedMemory::create)s a segment **owns its name**: dropping
//!   the owner (normal exit, or unwinding from a panic) unlinks the name, and so does
//!   [`unlink`](SharedMemory::unlink). A segment [`open`](SharedMemory::open)ed by name never
//!   unlinks it.
//! - Unlinking removes only the *name*: every process that already has the segment attached
//!   keeps using the same memory until it drops its handle (POSIX `shm_unlink` semantics), so a
//!   segment is never destroyed under a process that uses it. After the name is gone, `open`
//!   fails. A child killed while attached leaves nothing behind (the kernel unmaps it).
//! - **Killed owners (no leak):** if the owner is killed by SIGKILL, no destructor runs. Every
//!   segment is therefore recorded by its creator in a per-tree tracker directory
//!   (`$TMPDIR/supervisor-mp-shm-<top-level pid>/<name>`, holding the owner's pid and start
//!   time; removed again when the owner unlinks). The top-level process (the one whose `main`
//!   called [`init`](crate::init)) sweeps it: each marker whose owner is dead has its segment
//!   unlinked. The sweep runs whenever the top-level process creates or drops a
//!   `SharedMemory`, and on [`shm_sweep`](crate::shm_sweep), which a program should call after
//!   its workers have ended (nothing runs at exit). `shm_sweep` also cleans the directories of
//!   earlier trees whose top-level process was itself killed. An owner killed in the few
//!   microseconds between creating a segment and recording it still leaks its entry.
//!
//! # Concurrency
//!
//! The bytes are plain memory shared with other processes, with no synchronization: agree on a
//! protocol (e.g. one writer per region, and a join or a message before reading).

use std::io;

/// A named shared-memory segment (`/dev/shm/<name>`).
///
/// The creator owns the name and unlinks it when dropped (normal exit or panic) or on
/// [`unlink`](SharedMemory::unlink); handles from [`open`](SharedMemory::open) never unlink.
/// Unlinking removes only the name: processes already attached keep the memory until they drop
/// it. If the owner is SIGKILLed, the `/dev/shm` entry is removed by the next sweep of the
/// top-level process ([`shm_sweep`](crate::shm_sweep); see the module docs). The bytes are
/// unsynchronized: agree on who writes where and when.
pub struct SharedMemory {
    shmem: crate::sys::SendShmem,
    name: String,
    len: usize,
    /// The tracker marker recording that this handle owns the name (owner only).
    marker: Option<std::path::PathBuf>,
}

/// Unlinks the segments whose owner was killed before it could unlink them (Python's resource
/// tracker): see [`SharedMemory`]'s module docs. Call it in the top-level process after workers
/// that may have owned segments have ended; it also runs whenever the top-level process
/// creates or drops a `SharedMemory`. In a worker it only cleans up after dead owners of its
/// tree. Returns how many leaked segments it unlinked.
pub fn shm_sweep() -> usize {
    crate::shm_tracker::sweep(true)
}

fn error(e: shared_memory::ShmemError) -> io::Error {
    io::Error::other(format!("shared memory: {e}"))
}

fn os_name(name: &str) -> String {
    if name.starts_with('/') {
        name.to_string()
    } else {
        format!("/{name}")
    }
}

impl SharedMemory {
    /// Creates a zero-filled segment of `size` bytes (at least 1) with a fresh random name;
    /// this handle owns the name.
    pub fn create(size: usize) -> io::Result<Self> {
        if size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a shared memory segment needs at least one byte",
            ));
        }
        let shmem = shared_memory::ShmemConf::new()
            .size(size)
            .create()
            .map_err(error)?;
        let mut shm = Self::wrap(shmem, size);
        shm.marker = crate::shm_tracker::track(&shm.name);
        if crate::shm_tracker::is_top_level() {
            crate::shm_tracker::sweep(false);
        }
        Ok(shm)
    }

    /// Attaches to the segment called `name` (as returned by [`SharedMemory::name`]; a leading
    /// `/` is optional). The handle does not own the name.
    pub fn open(name: &str) -> io::Result<Self> {
        let mut shmem = shared_memory::ShmemConf::new()
            .os_id(os_name(name))
            .open()
            .map_err(error)?;
        shmem.set_owner(false);
        let len = shmem.len();
        Ok(Self::wrap(shmem, len))
    }

    fn wrap(shmem: shared_memory::Shmem, len: usize) -> Self {
        let name = shmem.get_os_id().trim_start_matches('/').to_string();
        SharedMemory {
            shmem: crate::sys::SendShmem::new(shmem),
            name,
            len,
            marker: None,
        }
    }

    /// The segment's name (its file in `/dev/shm`), to pass to [`SharedMemory::open`] in
    /// another process.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a segment has at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether this handle owns the name (it created the segment and has not unlinked it).
    pub fn is_owner(&self) -> bool {
        self.shmem.is_owner()
    }

    fn check(&self, offset: usize, len: usize) -> io::Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "range {offset}..{} is outside the segment of {} bytes",
                    offset.saturating_add(len),
                    self.len
                ),
            )),
        }
    }

    /// Copies `buf.len()` bytes starting at `offset` out of the segment.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> io::Result<()> {
        self.check(offset, buf.len())?;
        self.shmem.read_at(offset, buf);
        Ok(())
    }

    /// Copies `data` into the segment starting at `offset`.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> io::Result<()> {
        self.check(offset, data.len())?;
        self.shmem.write_at(offset, data);
        Ok(())
    }

    /// A copy of the whole segment.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut buf = vec![0u8; self.len];
        self.read_at(0, &mut buf)
            .expect("the whole segment is in bounds");
        buf
    }

    /// Removes the name now (Python's `shm.unlink()`), whether or not this handle owns it;
    /// attached processes keep their mapping. This handle no longer owns the name afterwards.
    pub fn unlink(&mut self) -> io::Result<()> {
        self.shmem.set_owner(false);
        let result =
            nix::sys::mman::shm_unlink(format!("/{}", self.name).as_str()).map_err(io::Error::from);
        if let Some(marker) = self.marker.take() {
            crate::shm_tracker::untrack(&marker);
        }
        result
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // The owner unlinks the name (before the `Shmem` field unmaps it), then forgets its
        // tracker marker; the top-level process then sweeps after killed owners.
        if self.shmem.is_owner() {
            let _ = self.unlink();
        } else if let Some(marker) = self.marker.take() {
            crate::shm_tracker::untrack(&marker);
        }
        if crate::shm_tracker::is_top_level() {
            crate::shm_tracker::sweep(false);
        }
    }
}

impl std::fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedMemory")
            .field("name", &self.name)
            .field("len", &self.len)
            .field("owner", &self.shmem.is_owner())
            .finish()
    }
}
