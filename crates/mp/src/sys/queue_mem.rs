//! The shared memory under a [`crate::Queue`]: one file mapped `MAP_SHARED` by every process
//! that uses the queue. It holds the queue's fixed description, a robust process-shared
//! mutex, the bookkeeping that mutex guards, a few futex words, and the ring of item bytes.
//!
//! The mapping, the mutex and the futexes are the crate's ones (`Region`, `mutex`,
//! `futex`), shared with the synchronization primitives. Everything above this module is safe
//! code that sees the locked bookkeeping as `&mut State` only while it holds the mutex
//! ([`Guard`]), the futex words only as atomics, and the ring only through bounds-checked
//! copies.
//!
//! Layout: a [`Header`] in the first [`HEADER_BYTES`], then `capacity` bytes of ring.
//!
//! The mutex is `PTHREAD_MUTEX_ROBUST`: when its holder dies (SIGKILL included), the kernel
//! marks it and the next locker gets `EOWNERDEAD`; [`Mapping::lock`] then makes it consistent
//! and reports `recovered`, and the caller repairs the state from its redo record before
//! anyone else can see it. Waiting is done on futex words with no registration the kernel
//! would not drop by itself when a waiter dies, so a killed waiter leaves nothing behind.

use super::mutex::{self, LockFail, MutexKind};
use super::region::Region;
use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::os::fd::AsFd;
use std::sync::atomic::AtomicU32;

/// Bytes reserved for the header before the ring starts (a page).
pub(crate) const HEADER_BYTES: usize = 4096;
const MAGIC: u64 = 0x7375_702d_6d70_7131; // "sup-mpq1"
const VERSION: u64 = 1;
/// How many consumer processes a `JoinableQueue` tracks by pid (see `State::consumers`).
pub(crate) const SLOTS: usize = 32;

/// What never changes after creation.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Info {
    /// A hash of the item type's name: a handle of another type is refused.
    pub(crate) kind: u64,
    /// Ring bytes.
    pub(crate) capacity: u64,
    /// Python's `maxsize`: most items held at once (0: no limit but the ring's bytes).
    pub(crate) maxsize: u64,
}

/// A consumer process of a `JoinableQueue` and the items it got but has not marked done.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Consumer {
    /// 0: a free slot.
    pub(crate) pid: u32,
    /// Its start time (from `/proc/PID/stat`), so a reused pid is not mistaken for it.
    pub(crate) start: u64,
    pub(crate) held: u64,
}

/// The values an operation is about to set, written before the first of them is changed:
/// whoever finds `committing` set after the previous holder died applies them again.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Pending {
    pub(crate) head: u64,
    pub(crate) tail: u64,
    pub(crate) count: u64,
    pub(crate) unfinished: u64,
    /// `u64::MAX`: no consumer slot changes.
    pub(crate) slot: u64,
    pub(crate) slot_value: Consumer,
}

/// The bookkeeping guarded by the mutex.
#[repr(C)]
pub(crate) struct State {
    /// Byte positions in the ring, counted from creation (never wrap in practice): items live
    /// in `head..tail`, at `position % capacity`.
    pub(crate) head: u64,
    pub(crate) tail: u64,
    /// Items held.
    pub(crate) count: u64,
    /// `JoinableQueue`: items put and not yet marked done.
    pub(crate) unfinished: u64,
    /// Items counted done because the consumer holding them died.
    pub(crate) abandoned: u64,
    pub(crate) committing: u64,
    pub(crate) pending: Pending,
    /// Processes waiting on `Signals::put_seq` / `get_seq` / `done_seq` (a waiter killed while
    /// waiting leaves its count behind: that costs a spare wake-up call, nothing else).
    pub(crate) waiters_get: u32,
    pub(crate) waiters_put: u32,
    pub(crate) waiters_join: u32,
    pub(crate) consumers: [Consumer; SLOTS],
}

/// Futex words, touched only atomically.
#[repr(C)]
pub(crate) struct Signals {
    /// Bumped by every put (consumers wait on it).
    pub(crate) put_seq: AtomicU32,
    /// Bumped by every get (bounded producers wait on it).
    pub(crate) get_seq: AtomicU32,
    /// Bumped by every `task_done` (`join` waits on it).
    pub(crate) done_seq: AtomicU32,
    /// Set by the creator when it drops the queue: every operation then fails.
    pub(crate) closed: AtomicU32,
}

#[repr(C)]
struct Header {
    magic: u64,
    version: u64,
    info: Info,
    signals: Signals,
    mutex: libc::pthread_mutex_t,
    state: State,
}

const _: () = assert!(std::mem::size_of::<Header>() <= HEADER_BYTES);

/// A mapped queue file. (`Send` and `Sync` as its `Region`: `&Mapping` only hands out
/// atomics and the mutex-guarded `Guard`.)
pub(crate) struct Mapping {
    region: Region,
    info: Info,
}

impl Mapping {
    /// Sizes `file` (new and empty) for a ring of `info.capacity` bytes, maps it, and
    /// initializes the header and its robust mutex.
    pub(crate) fn create(file: &File, info: Info) -> io::Result<Mapping> {
        let len = HEADER_BYTES + usize::try_from(info.capacity).map_err(io::Error::other)?;
        file.set_len(len as u64)?;
        let map = Self::map(file, len, info)?;
        let header = map.header();
        // SAFETY: the file was just created and sized by this process and its name has not
        // been handed to anyone, so nothing else accesses the header while it is initialized;
        // the pointers are in bounds and aligned (page-aligned base, `repr(C)` header). The
        // file is zero-filled, so `State` starts all zeros (an empty queue).
        unsafe {
            (&raw mut (*header).magic).write(MAGIC);
            (&raw mut (*header).version).write(VERSION);
            (&raw mut (*header).info).write(info);
            mutex::init(&raw mut (*header).mutex, MutexKind::Normal)?;
        }
        Ok(map)
    }

    /// Maps an existing queue file and checks its header.
    pub(crate) fn open(file: &File) -> io::Result<Mapping> {
        let len = usize::try_from(file.metadata()?.len()).map_err(io::Error::other)?;
        let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_string());
        if len < HEADER_BYTES {
            return Err(bad("not a queue file (too short)"));
        }
        let mut map = Self::map(
            file,
            len,
            Info {
                kind: 0,
                capacity: 0,
                maxsize: 0,
            },
        )?;
        let header = map.header();
        // SAFETY: in bounds and aligned (checked length, page-aligned base); these fields are
        // written once by the creator before the file's name is handed out, and never again.
        let (magic, version, info) = unsafe {
            (
                (&raw const (*header).magic).read(),
                (&raw const (*header).version).read(),
                (&raw const (*header).info).read(),
            )
        };
        if magic != MAGIC || version != VERSION {
            return Err(bad("not a queue file of this version"));
        }
        if (HEADER_BYTES as u64).checked_add(info.capacity) != Some(len as u64) {
            return Err(bad("queue file of the wrong size"));
        }
        map.info = info;
        Ok(map)
    }

    fn map(file: &File, len: usize, info: Info) -> io::Result<Mapping> {
        let region = Region::map(file.as_fd(), len)?;
        Ok(Mapping { region, info })
    }

    fn header(&self) -> *mut Header {
        self.region.base().cast::<Header>()
    }

    pub(crate) fn info(&self) -> Info {
        self.info
    }

    pub(crate) fn signals(&self) -> &Signals {
        // SAFETY: in bounds and aligned; `Signals` holds only atomics, which are accessed only
        // as atomics by every process, so a shared reference is sound for the mapping's life.
        unsafe { &(*self.header()).signals }
    }

    /// Locks the mutex (as long as it takes). `recovered` in the guard says the previous holder
    /// died holding it: the caller must repair the state before relying on it.
    pub(crate) fn lock(&self) -> io::Result<Guard<'_>> {
        // SAFETY: in bounds and aligned (page-aligned base, `repr(C)` header).
        let m = unsafe { &raw mut (*self.header()).mutex };
        // SAFETY: the mutex was initialized by the creator as process-shared and robust, lives
        // at a fixed place in the mapping, and is only ever used through these calls; the
        // guard borrows the mapping, so it stays mapped until the guard unlocks.
        let recovered = unsafe { mutex::lock(m, None) }.map_err(|fail| match fail {
            LockFail::Os(e) => io::Error::new(e.kind(), format!("locking the queue: {e}")),
            // Neither happens to a normal mutex locked without a deadline.
            other => io::Error::other(format!("locking the queue: {other:?}")),
        })?;
        Ok(Guard {
            map: self,
            recovered,
            not_send: PhantomData,
        })
    }
}

/// The queue's mutex, held; unlocks on drop. Not `Send`: a pthread mutex is unlocked by the
/// thread that locked it.
pub(crate) struct Guard<'a> {
    map: &'a Mapping,
    /// The previous holder died holding the mutex (see [`Mapping::lock`]).
    pub(crate) recovered: bool,
    not_send: PhantomData<*const ()>,
}

impl Guard<'_> {
    /// The bookkeeping, exclusively while the mutex is held.
    pub(crate) fn state(&mut self) -> &mut State {
        // SAFETY: `State` is only ever accessed through a `Guard`, i.e. by the one thread (of
        // all processes) holding the mutex, and the borrow ends with the guard's; in bounds
        // and aligned. Every bit pattern of its integer fields is valid.
        unsafe { &mut (*self.map.header()).state }
    }

    fn ring(&self) -> *mut u8 {
        // SAFETY: `HEADER_BYTES` is within the mapping (checked at open and create).
        unsafe { self.map.region.base().add(HEADER_BYTES) }
    }

    /// Copies `data` into the ring at stream position `pos`, wrapping at the end. The caller
    /// writes only the free part of the ring (beyond `tail`), which nobody reads.
    pub(crate) fn write_ring(&mut self, pos: u64, data: &[u8]) {
        let capacity = self.map.info.capacity;
        assert!(data.len() as u64 <= capacity, "write larger than the ring");
        let start = (pos % capacity) as usize;
        let first = data.len().min(capacity as usize - start);
        // SAFETY: `start + first <= capacity` and `data.len() - first <= capacity`, so both
        // copies stay inside the ring; the source is a Rust slice, which cannot overlap the
        // mapping's free region handed out under the mutex.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ring().add(start), first);
            std::ptr::copy_nonoverlapping(
                data.as_ptr().add(first),
                self.ring(),
                data.len() - first,
            );
        }
    }

    /// Copies `out.len()` bytes from the ring at stream position `pos`, wrapping at the end.
    pub(crate) fn read_ring(&self, pos: u64, out: &mut [u8]) {
        let capacity = self.map.info.capacity;
        assert!(out.len() as u64 <= capacity, "read larger than the ring");
        let start = (pos % capacity) as usize;
        let first = out.len().min(capacity as usize - start);
        // SAFETY: as in `write_ring`, both copies stay inside the ring; the destination is a
        // Rust slice outside the mapping.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ring().add(start), out.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(
                self.ring(),
                out.as_mut_ptr().add(first),
                out.len() - first,
            );
        }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        // SAFETY: this thread locked the mutex in `Mapping::lock` (the guard is not `Send`)
        // and has not unlocked it; the guard borrows the mapping, so it is mapped.
        unsafe { mutex::unlock(&raw mut (*self.map.header()).mutex) }
    }
}
