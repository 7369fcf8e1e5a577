//! The engine of [`crate::Queue`], [`crate::SimpleQueue`] and [`crate::JoinableQueue`]: a ring
//! of encoded items in a shared file (its layout and mapping: `sys::queue_mem`), operated on by
//! each process directly: no broker, no round trip per item.
//!
//! # Theory of operation
//!
//! The creator makes a private directory (mode 0700) under `/dev/shm` (or the temporary
//! directory where there is no `/dev/shm`), and in it the queue file: a header, a robust
//! process-shared mutex (`sys::mutex`, the same as the synchronization primitives'), and a
//! ring of bytes. A handle is the file's path (plus the item type, checked on open); a process
//! maps the file on its first operation.
//!
//! An item is one record in the ring: an 8-byte header (payload length, tag) and the bincode
//! payload, or, for an item larger than 8 MiB (or an eighth of a smaller ring) or one that
//! does not fit in the room left (unbounded queues), the name of a *spill file* in the same
//! directory that holds it. When not even that fits, `put` waits for room.
//!
//! Every operation is: lock, check, copy, **commit**, unlock, wake. The commit is a redo
//! record: the new values of the bookkeeping (`head`, `tail`, counts) are written to `pending`
//! with `committing = 1`, then applied, then `committing = 0`. So a process killed at any
//! instant leaves either the old state (its put never happened; its item stays at the front)
//! or a redo record that the next locker, told by the robust mutex that its holder died,
//! applies again. Bytes are written beyond `tail` before the commit and read before it, so no
//! half-written item is ever visible. A killed producer loses at most the item it was putting,
//! a killed consumer at most the item it was getting; nobody waits for a dead process.
//!
//! The ring file is sparse: a producer allocates each 1 MiB granule it is the first to enter
//! (`fallocate`, so a full `/dev/shm` is an error, not a SIGBUS) and a consumer releases each
//! granule it leaves (a punched hole), so the default ring of 1 GiB (of address space) uses
//! only the memory of the bytes in flight.
//!
//! Waiting uses futex words bumped by every put/get/task_done: a waiter notes the word under
//! the mutex, unlocks, and sleeps until it changes, so no wake-up is lost; a killed waiter
//! leaves only a waiter count behind (a spare wake-up call later). Before sleeping, a getter
//! spins a few microseconds: with a producer on another core the next item is usually there.
//!
//! When the creator drops its last handle it marks the queue closed, wakes every waiter (their
//! operations fail with [`BrokerError::Disconnected`]) and removes the directory; processes
//! still mapping it keep the memory until they drop their handles. Spill files of items that a
//! killed process had taken or half-put are removed with the directory. The directory's name
//! holds the creator's pid and start time: if the creator itself is killed, the next queue
//! created by this user (in any process) removes the dead creator's directory.

use crate::broker::BrokerError;
use crate::proc_start::start_time;
use crate::sys::queue_mem::{self, Consumer, Guard, Info, Mapping, Pending, SLOTS, State};
use crate::sys::{futex_wait, futex_wake};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The default ring size. The file is sparse: memory is allocated a granule at a time ahead
/// of the producers and given back behind the consumers, so only the bytes in flight (rounded
/// to granules) use memory.
pub(crate) const DEFAULT_RING_BYTES: u64 = 1 << 30;
/// Items larger than this (or than an eighth of a smaller ring) go to spill files: copying
/// them into the ring would hold the queue's lock too long.
const INLINE_MAX: u64 = 8 << 20;
/// The unit in which ring memory is allocated and released.
const GRANULE: u64 = 1 << 20;
/// The smallest ring accepted.
const MIN_RING_BYTES: u64 = 4096;
/// How long one sleep lasts at most before a waiter re-checks everything.
const SLICE: Duration = Duration::from_millis(200);
/// `JoinableQueue::join` looks for dead consumers this often.
const JOIN_SLICE: Duration = Duration::from_millis(50);
/// Spin iterations before sleeping (a few microseconds).
const SPINS: u32 = 4000;

const RECORD_HEADER: u64 = 8;
const TAG_INLINE: u32 = 0x51_49_4e_4c; // "QINL"
const TAG_SPILL: u32 = 0x51_53_50_4c; // "QSPL"
const RING_FILE: &str = "ring";

/// What a handle carries across processes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RingAddr {
    pub(crate) path: PathBuf,
}

/// The mapped queue, shared by the handles of one process.
struct Shared {
    map: Mapping,
    /// The queue file (for allocating and releasing ring memory).
    file: File,
    /// The creator's: marks the queue closed and removes `dir` when dropped.
    owned_dir: Option<PathBuf>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(dir) = &self.owned_dir {
            let signals = self.map.signals();
            signals.closed.store(1, Ordering::SeqCst);
            for word in [&signals.put_seq, &signals.get_seq, &signals.done_seq] {
                bump(word);
                futex_wake(word, u32::MAX);
            }
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// One handle's access to a ring.
pub(crate) struct Ring {
    addr: RingAddr,
    kind: String,
    shared: OnceLock<Arc<Shared>>,
    /// Python's `close()` on this handle.
    closed: AtomicBool,
}

fn kind_hash(kind: &str) -> u64 {
    // FNV-1a: stable across processes of the same binary (and builds).
    kind.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn random_u64() -> io::Result<u64> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(u64::from_le_bytes(bytes))
}

/// The name of a queue directory: `supervisor-mp-queue-<creator pid>-<its start time>-<random>`.
const DIR_PREFIX: &str = "supervisor-mp-queue-";

/// Removes the queue directories whose creator is dead (killed before it could remove them):
/// run whenever a queue is created. A directory whose name does not parse is left alone.
fn sweep_dead_creators(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        let mut parts = rest.split('-');
        let (Some(pid), Some(start)) = (
            parts.next().and_then(|p| p.parse::<u32>().ok()),
            parts.next().and_then(|s| s.parse::<u64>().ok()),
        ) else {
            continue;
        };
        let creator = Consumer {
            pid,
            start,
            held: 0,
        };
        // Only this user's directories (0700), and only if the creator is surely gone.
        let mine = entry.metadata().is_ok_and(|m| {
            std::os::unix::fs::MetadataExt::uid(&m) == nix::unistd::getuid().as_raw()
        });
        if mine && pid != 0 && start != 0 && !alive(&creator) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Where queue directories go: `/dev/shm` (memory) when usable, else the temporary directory.
fn base_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && nix::unistd::access(shm, nix::unistd::AccessFlags::W_OK).is_ok() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

fn disconnected(e: io::Error) -> BrokerError {
    BrokerError::Disconnected(e.to_string())
}

fn gone() -> BrokerError {
    BrokerError::Disconnected("the queue was dropped by the process that created it".into())
}

impl Ring {
    /// A new queue owned by this process.
    pub(crate) fn create(kind: String, maxsize: u64, ring_bytes: u64) -> Result<Ring, BrokerError> {
        let capacity = ring_bytes.max(MIN_RING_BYTES).next_multiple_of(GRANULE);
        let base = base_dir();
        sweep_dead_creators(&base);
        let me = me();
        let dir = base.join(format!(
            "{DIR_PREFIX}{}-{}-{:012x}",
            me.pid,
            me.start,
            random_u64().map_err(disconnected)? >> 16
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(disconnected)?;
        let path = dir.join(RING_FILE);
        let made = (|| {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            let info = Info {
                kind: kind_hash(&kind),
                capacity,
                maxsize,
            };
            Ok((Mapping::create(&file, info)?, file))
        })();
        let (map, file) = match made {
            Ok(made) => made,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(disconnected(e));
            }
        };
        let shared = OnceLock::new();
        let _ = shared.set(Arc::new(Shared {
            map,
            file,
            owned_dir: Some(dir),
        }));
        Ok(Ring {
            addr: RingAddr { path },
            kind,
            shared,
            closed: AtomicBool::new(false),
        })
    }

    /// A handle received from another process; the file is mapped on first use.
    pub(crate) fn remote(addr: RingAddr, kind: String) -> Ring {
        Ring {
            addr,
            kind,
            shared: OnceLock::new(),
            closed: AtomicBool::new(false),
        }
    }

    pub(crate) fn addr(&self) -> &RingAddr {
        &self.addr
    }

    pub(crate) fn path(&self) -> &Path {
        &self.addr.path
    }

    fn shared(&self) -> Result<&Shared, BrokerError> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(BrokerError::Disconnected(
                "this queue handle was closed".into(),
            ));
        }
        if let Some(shared) = self.shared.get() {
            return Ok(shared);
        }
        let file = File::options()
            .read(true)
            .write(true)
            .open(&self.addr.path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => gone(),
                _ => disconnected(e),
            })?;
        let map = Mapping::open(&file).map_err(|e| BrokerError::Refused(e.to_string()))?;
        if map.info().kind != kind_hash(&self.kind) {
            return Err(BrokerError::Refused(format!(
                "this queue does not hold the items of a {}",
                self.kind
            )));
        }
        let _ = self.shared.set(Arc::new(Shared {
            map,
            file,
            owned_dir: None,
        }));
        Ok(self.shared.get().expect("just set"))
    }

    /// Locks the queue, repairing it if the previous holder died mid-operation.
    fn lock<'a>(&self, shared: &'a Shared) -> Result<Guard<'a>, BrokerError> {
        if shared.map.signals().closed.load(Ordering::SeqCst) != 0 {
            return Err(gone());
        }
        let mut guard = shared.map.lock().map_err(disconnected)?;
        if guard.recovered {
            repair(guard.state());
        }
        Ok(guard)
    }

    /// Python's `close()` for this handle: its later operations fail.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    fn spill_path(&self, id: u64) -> PathBuf {
        self.addr.path.with_file_name(format!("item-{id:016x}"))
    }

    fn spill(&self, bytes: &[u8]) -> Result<u64, BrokerError> {
        let id = random_u64().map_err(disconnected)?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(self.spill_path(id))
            .map_err(disconnected)?;
        file.write_all(bytes).map_err(disconnected)?;
        Ok(id)
    }

    fn unspill(&self, id: u64) -> Result<Vec<u8>, BrokerError> {
        let path = self.spill_path(id);
        let mut bytes = Vec::new();
        let read = File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes));
        let _ = std::fs::remove_file(&path);
        read.map_err(|e| BrokerError::Disconnected(format!("reading a spilled item: {e}")))?;
        Ok(bytes)
    }

    /// Appends an encoded item, waiting for room as long as `timeout` allows.
    pub(crate) fn put(
        &self,
        bytes: &[u8],
        timeout: Option<Duration>,
        joinable: bool,
    ) -> Result<(), BrokerError> {
        let shared = self.shared()?;
        let info = shared.map.info();
        let deadline = crate::sync::deadline(timeout);
        let mut spilled: Option<u64> = None;
        if RECORD_HEADER + bytes.len() as u64 > (info.capacity / 8).min(INLINE_MAX) {
            spilled = Some(self.spill(bytes)?);
        }
        let result = (|| loop {
            let mut guard = self.lock(shared)?;
            let state = guard.state();
            let (tag, payload_len) = match spilled {
                Some(_) => (TAG_SPILL, 8),
                None => (TAG_INLINE, bytes.len() as u64),
            };
            let record = RECORD_HEADER + payload_len;
            let free = info.capacity - (state.tail - state.head);
            let items_ok = info.maxsize == 0 || state.count < info.maxsize;
            if items_ok && record <= free {
                let tail = state.tail;
                allocate(shared, tail, record)?;
                let mut header = [0u8; 8];
                header[..4].copy_from_slice(&(payload_len as u32).to_le_bytes());
                header[4..].copy_from_slice(&tag.to_le_bytes());
                guard.write_ring(tail, &header);
                match spilled {
                    Some(id) => guard.write_ring(tail + RECORD_HEADER, &id.to_le_bytes()),
                    None => guard.write_ring(tail + RECORD_HEADER, bytes),
                }
                let state = guard.state();
                let mut pending = current(state);
                pending.tail = tail + record;
                pending.count += 1;
                if joinable {
                    pending.unfinished += 1;
                }
                commit(state, pending);
                let wake = state.waiters_get > 0;
                let signals = shared.map.signals();
                bump(&signals.put_seq);
                drop(guard);
                if wake {
                    futex_wake(&signals.put_seq, u32::MAX);
                }
                return Ok(());
            }
            if items_ok && spilled.is_none() && info.maxsize == 0 {
                // Not bounded by items, and the item does not fit in the room left: it goes to
                // a spill file, whose record is small (Python's put on an unbounded queue
                // never waits; this waits only when not even that record fits).
                drop(guard);
                spilled = Some(self.spill(bytes)?);
                continue;
            }
            let signals = shared.map.signals();
            let seen = signals.get_seq.load(Ordering::SeqCst);
            let slice = slice_until(deadline)?;
            state.waiters_put += 1;
            drop(guard);
            futex_wait(&signals.get_seq, seen, Some(slice));
            let mut guard = self.lock(shared)?;
            let state = guard.state();
            state.waiters_put = state.waiters_put.saturating_sub(1);
        })();
        if let (Err(_), Some(id)) = (&result, spilled) {
            let _ = std::fs::remove_file(self.spill_path(id));
        }
        result
    }

    /// For the crash tests: puts `bytes` as far as `stage`, then aborts the process with the
    /// queue's mutex held (the next locker must recover the queue).
    pub(crate) fn crash_in_put(&self, bytes: &[u8], stage: CrashStage) -> ! {
        let shared = self.shared().expect("queue");
        let mut guard = self.lock(shared).expect("lock");
        let state = guard.state();
        let tail = state.tail;
        let record = RECORD_HEADER + bytes.len() as u64;
        assert!(record <= shared.map.info().capacity - (tail - state.head));
        allocate(shared, tail, record).expect("ring memory");
        let mut header = [0u8; 8];
        header[..4].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
        header[4..].copy_from_slice(&TAG_INLINE.to_le_bytes());
        guard.write_ring(tail, &header);
        guard.write_ring(tail + RECORD_HEADER, bytes);
        if let CrashStage::MidCommit = stage {
            let state = guard.state();
            let mut pending = current(state);
            pending.tail = tail + record;
            pending.count += 1;
            // Recorded, not applied: what a process killed inside `commit` leaves.
            state.pending = pending;
            state.committing = 1;
        }
        std::process::abort()
    }

    /// Removes the oldest item, waiting as long as `timeout` allows.
    pub(crate) fn get(
        &self,
        timeout: Option<Duration>,
        joinable: bool,
    ) -> Result<Vec<u8>, BrokerError> {
        let shared = self.shared()?;
        let signals = shared.map.signals();
        let deadline = crate::sync::deadline(timeout);
        let me = if joinable { Some(me()) } else { None };
        let mut spun = false;
        loop {
            let mut guard = self.lock(shared)?;
            let state = guard.state();
            if state.count > 0 {
                let head = state.head;
                let mut header = [0u8; 8];
                guard.read_ring(head, &mut header);
                let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
                let tag = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
                let len = u64::from(len);
                let state = guard.state();
                if (tag != TAG_INLINE && tag != TAG_SPILL)
                    || RECORD_HEADER + len > state.tail - state.head
                    || (tag == TAG_SPILL && len != 8)
                {
                    return Err(BrokerError::Codec(
                        "the queue's ring holds no valid record at its head".into(),
                    ));
                }
                let mut payload = vec![0u8; len as usize];
                guard.read_ring(head + RECORD_HEADER, &mut payload);
                let state = guard.state();
                let mut pending = current(state);
                pending.head = head + RECORD_HEADER + len;
                pending.count -= 1;
                if let Some(me) = me
                    && let Some((slot, mut consumer)) = consumer_slot(state, me)
                {
                    consumer.held += 1;
                    pending.slot = slot as u64;
                    pending.slot_value = consumer;
                }
                commit(state, pending);
                release(shared, head, pending.head, pending.tail);
                let wake = state.waiters_put > 0;
                bump(&signals.get_seq);
                drop(guard);
                if wake {
                    futex_wake(&signals.get_seq, u32::MAX);
                }
                return if tag == TAG_SPILL {
                    let id = u64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
                    self.unspill(id)
                } else {
                    Ok(payload)
                };
            }
            let seen = signals.put_seq.load(Ordering::SeqCst);
            let slice = slice_until(deadline)?;
            if !spun {
                // A producer on another core usually delivers within microseconds.
                spun = true;
                drop(guard);
                spin_while_equal(&signals.put_seq, seen);
                continue;
            }
            state.waiters_get += 1;
            drop(guard);
            futex_wait(&signals.put_seq, seen, Some(slice));
            spun = false;
            let mut guard = self.lock(shared)?;
            let state = guard.state();
            state.waiters_get = state.waiters_get.saturating_sub(1);
        }
    }

    /// Items held now.
    pub(crate) fn len(&self) -> Result<usize, BrokerError> {
        let shared = self.shared()?;
        let mut guard = self.lock(shared)?;
        Ok(guard.state().count as usize)
    }

    /// Python's `maxsize` (0: unbounded).
    pub(crate) fn maxsize(&self) -> Result<usize, BrokerError> {
        Ok(self.shared()?.map.info().maxsize as usize)
    }

    /// `JoinableQueue.task_done()`.
    pub(crate) fn task_done(&self) -> Result<(), BrokerError> {
        let shared = self.shared()?;
        let mut guard = self.lock(shared)?;
        let state = guard.state();
        if state.unfinished == 0 {
            return Err(BrokerError::Refused(
                "task_done() called more times than there were items".into(),
            ));
        }
        let mut pending = current(state);
        pending.unfinished -= 1;
        let me = me();
        if let Some(slot) = state
            .consumers
            .iter()
            .position(|c| c.pid == me.pid && c.start == me.start && c.held > 0)
        {
            let mut consumer = state.consumers[slot];
            consumer.held -= 1;
            if consumer.held == 0 {
                consumer = Consumer::default();
            }
            pending.slot = slot as u64;
            pending.slot_value = consumer;
        }
        commit(state, pending);
        let wake = state.waiters_join > 0 && state.unfinished == 0;
        let signals = shared.map.signals();
        bump(&signals.done_seq);
        drop(guard);
        if wake {
            futex_wake(&signals.done_seq, u32::MAX);
        }
        Ok(())
    }

    /// `JoinableQueue.join()`: waits until every item put has been marked done, counting the
    /// items held by consumers that died as done (see [`Ring::abandoned`]).
    pub(crate) fn join(&self, timeout: Option<Duration>) -> Result<(), BrokerError> {
        let shared = self.shared()?;
        let signals = shared.map.signals();
        let deadline = crate::sync::deadline(timeout);
        loop {
            let mut guard = self.lock(shared)?;
            let state = guard.state();
            release_dead_consumers(state);
            if state.unfinished == 0 {
                return Ok(());
            }
            let seen = signals.done_seq.load(Ordering::SeqCst);
            let slice = slice_until(deadline)?.min(JOIN_SLICE);
            state.waiters_join += 1;
            drop(guard);
            futex_wait(&signals.done_seq, seen, Some(slice));
            let mut guard = self.lock(shared)?;
            let state = guard.state();
            state.waiters_join = state.waiters_join.saturating_sub(1);
        }
    }

    /// Items put and not yet marked done (after counting dead consumers' items as done).
    pub(crate) fn unfinished(&self) -> Result<usize, BrokerError> {
        let shared = self.shared()?;
        let mut guard = self.lock(shared)?;
        let state = guard.state();
        release_dead_consumers(state);
        Ok(state.unfinished as usize)
    }

    /// Items that consumers got and died holding (counted done so `join` returns).
    pub(crate) fn abandoned(&self) -> Result<usize, BrokerError> {
        let shared = self.shared()?;
        let mut guard = self.lock(shared)?;
        let state = guard.state();
        release_dead_consumers(state);
        Ok(state.abandoned as usize)
    }
}

impl Clone for Ring {
    fn clone(&self) -> Self {
        let shared = OnceLock::new();
        if let Some(s) = self.shared.get() {
            let _ = shared.set(Arc::clone(s));
        }
        Ring {
            addr: self.addr.clone(),
            kind: self.kind.clone(),
            shared,
            closed: AtomicBool::new(false),
        }
    }
}

/// Where [`Ring::crash_in_put`] dies.
#[derive(Clone, Copy, Debug)]
pub(crate) enum CrashStage {
    /// Item bytes written, nothing committed: the put never happened.
    BeforeCommit,
    /// The redo record written, not applied: the next locker completes the put.
    MidCommit,
}

/// Allocates the ring memory for a record at `tail` of `len` bytes: each granule it is the
/// first to enter. Failing (no room left in `/dev/shm`) is an error here, where it would be a
/// SIGBUS on writing to the mapping.
fn allocate(shared: &Shared, tail: u64, len: u64) -> Result<(), BrokerError> {
    let first_new = if tail == 0 {
        0
    } else {
        (tail - 1) / GRANULE + 1
    };
    let last = (tail + len - 1) / GRANULE;
    for granule in first_new..=last {
        let at = queue_mem::HEADER_BYTES as u64 + (granule * GRANULE) % shared.map.info().capacity;
        nix::fcntl::fallocate(
            &shared.file,
            nix::fcntl::FallocateFlags::empty(),
            at as i64,
            GRANULE as i64,
        )
        .map_err(|e| BrokerError::Disconnected(format!("no memory for the queue's ring: {e}")))?;
    }
    Ok(())
}

/// Gives back the memory of the granules that `head` left behind (moving from `old` to
/// `new`), unless producers have already wrapped around into them (`tail`).
fn release(shared: &Shared, old: u64, new: u64, tail: u64) {
    let capacity = shared.map.info().capacity;
    for granule in old / GRANULE..new / GRANULE {
        if tail > granule * GRANULE + capacity {
            continue;
        }
        let at = queue_mem::HEADER_BYTES as u64 + (granule * GRANULE) % capacity;
        // Best effort: memory not released is only memory.
        let _ = nix::fcntl::fallocate(
            &shared.file,
            nix::fcntl::FallocateFlags::FALLOC_FL_PUNCH_HOLE
                | nix::fcntl::FallocateFlags::FALLOC_FL_KEEP_SIZE,
            at as i64,
            GRANULE as i64,
        );
    }
}

/// The time to sleep before the next check, or `Timeout` once the deadline has passed.
fn slice_until(deadline: Option<Instant>) -> Result<Duration, BrokerError> {
    match deadline {
        None => Ok(SLICE),
        Some(deadline) => {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                Err(BrokerError::Timeout)
            } else {
                Ok(left.min(SLICE))
            }
        }
    }
}

fn spin_while_equal(word: &AtomicU32, seen: u32) {
    for _ in 0..SPINS {
        if word.load(Ordering::Relaxed) != seen {
            return;
        }
        std::hint::spin_loop();
    }
}

/// The bookkeeping as it stands, as a redo record to modify.
fn current(state: &State) -> Pending {
    Pending {
        head: state.head,
        tail: state.tail,
        count: state.count,
        unfinished: state.unfinished,
        slot: u64::MAX,
        slot_value: Consumer::default(),
    }
}

/// Publishes `pending`: recorded first, then applied, so a death in between is redone.
fn commit(state: &mut State, pending: Pending) {
    state.pending = pending;
    state.committing = 1;
    apply(state);
    state.committing = 0;
}

fn apply(state: &mut State) {
    let p = state.pending;
    state.head = p.head;
    state.tail = p.tail;
    state.count = p.count;
    state.unfinished = p.unfinished;
    if let Some(slot) = usize::try_from(p.slot).ok().filter(|&s| s < SLOTS) {
        state.consumers[slot] = p.slot_value;
    }
}

/// After the previous holder of the mutex died: finish its commit if it was in one (a
/// commit not yet begun leaves the old state, which is consistent).
fn repair(state: &mut State) {
    if state.committing != 0 {
        apply(state);
        state.committing = 0;
    }
}

/// This process, as a consumer slot names it.
#[derive(Clone, Copy)]
struct Me {
    pid: u32,
    start: u64,
}

fn me() -> Me {
    let (pid, start) = crate::proc_start::me();
    Me { pid, start }
}

fn alive(consumer: &Consumer) -> bool {
    start_time(consumer.pid) == Some(consumer.start)
}

/// The slot of `me` (its own, a free one, or one of a dead consumer holding nothing).
fn consumer_slot(state: &State, me: Me) -> Option<(usize, Consumer)> {
    let consumers = &state.consumers;
    if let Some(i) = consumers
        .iter()
        .position(|c| c.pid == me.pid && c.start == me.start)
    {
        return Some((i, consumers[i]));
    }
    let fresh = Consumer {
        pid: me.pid,
        start: me.start,
        held: 0,
    };
    consumers
        .iter()
        .position(|c| c.pid == 0 || (c.held == 0 && !alive(c)))
        .map(|i| (i, fresh))
}

/// Counts the items held by dead consumers as done (and abandoned), freeing their slots.
fn release_dead_consumers(state: &mut State) {
    for slot in 0..SLOTS {
        let consumer = state.consumers[slot];
        if consumer.pid == 0 || alive(&consumer) {
            continue;
        }
        let mut pending = current(state);
        pending.unfinished = pending.unfinished.saturating_sub(consumer.held);
        pending.slot = slot as u64;
        pending.slot_value = Consumer::default();
        // `abandoned` is informational: counted after the commit (at worst one short).
        commit(state, pending);
        state.abandoned += consumer.held;
    }
}

/// Bumps a futex word (the waiters' "something changed").
fn bump(word: &AtomicU32) {
    word.fetch_add(1, Ordering::SeqCst);
}
