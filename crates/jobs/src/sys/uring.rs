//! Batched file I/O on io_uring for the `hash` job: many opens, reads and closes per system
//! call instead of one system call each.
//!
//! The safe surface is [`Uring::run`]: a list of operations on behalf of the files of a group,
//! run to completion before it returns. Every buffer and path the kernel reads or writes is
//! borrowed for the whole call and the call never returns while an operation is in flight, so
//! the kernel can never touch memory the caller has given back; an opened descriptor comes
//! back as an [`OwnedFd`], so none can leak or be closed twice.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};

use io_uring::{IoUring, opcode, squeue, types};

/// Submission queue entries; the completion queue has twice as many, and at most this many
/// operations are in flight at once.
const ENTRIES: u32 = 128;

/// Flags of every open: read-only; non-blocking, so a FIFO swapped in for a listed file
/// cannot hang the open; never a controlling terminal; not inherited by anything we start.
const OPEN_FLAGS: i32 = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;

/// One operation on behalf of one file of a group (the `usize` beside it in [`Uring::run`]).
pub(crate) enum Op<'a> {
    /// Open the path, relative to the directory when one is given (as
    /// [`crate::open_regular`] does, without its type check, which the caller makes on the
    /// returned descriptor before reading).
    Open(Option<BorrowedFd<'a>>, &'a CStr),
    /// Read at the file position into the buffer, as much as it holds, advancing the position
    /// as `read(2)` does (one read: io_uring itself completes a short buffered read of a
    /// regular file).
    Read(BorrowedFd<'a>, &'a mut [u8]),
    /// Close the descriptor.
    Close(OwnedFd),
}

/// How one operation ended.
#[derive(Debug)]
pub(crate) enum Done {
    /// An open gave this descriptor.
    Opened(OwnedFd),
    /// A read gave this many bytes.
    Read(usize),
    /// A close ended (its outcome does not matter for a file only read).
    Closed,
    /// The operation failed.
    Failed(io::Error),
}

/// An io_uring instance for batched file I/O.
pub(crate) struct Uring {
    ring: IoUring,
    /// The kernel can post no completion for a successful close (5.17+).
    skip_closed: bool,
    /// Calls of [`Uring::run`] so far, which tag their completions.
    calls: u32,
}

impl std::fmt::Debug for Uring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uring").finish_non_exhaustive()
    }
}

impl Uring {
    /// A ring, or why there is none: the kernel has no io_uring (`ENOSYS`), it is switched
    /// off or refused (`EPERM`, `EACCES`: `kernel.io_uring_disabled`, a seccomp profile), or it
    /// lacks one of the operations this module uses.
    pub(crate) fn new() -> io::Result<Uring> {
        // No interrupting IPIs for completions where the kernel allows it (5.19+); a plain ring
        // otherwise. (Not SINGLE_ISSUER: a digester may move to another thread.)
        let ring = IoUring::builder()
            .setup_coop_taskrun()
            .build(ENTRIES)
            .or_else(|_| IoUring::new(ENTRIES))?;
        let mut probe = io_uring::Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        for code in [
            opcode::OpenAt::CODE,
            opcode::Read::CODE,
            opcode::Close::CODE,
        ] {
            if !probe.is_supported(code) {
                return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP));
            }
        }
        let skip_closed = ring.params().is_feature_skip_cqe_on_success();
        Ok(Uring {
            ring,
            skip_closed,
            calls: 0,
        })
    }

    /// Runs `ops` (each with the index of the file it is for) and returns how each ended, in
    /// the same order.
    ///
    /// `at(file)` is called before the first submission with the first operation's file, and
    /// before every wait with the lowest file whose operation is still running, so a hang
    /// inside the kernel (a dead NFS server, a stuck FUSE daemon) is charged to a file it
    /// concerns. Operations that can run at once run inside the submitting call; only those
    /// that would block are waited for.
    pub(crate) fn run(
        &mut self,
        ops: Vec<(usize, Op<'_>)>,
        at: &mut dyn FnMut(usize),
    ) -> Vec<Done> {
        let n = ops.len();
        // Each operation's file, kind and (once it completed) outcome, in `ops`' order.
        let mut slots: Vec<(usize, Kind, Option<Done>)> = Vec::with_capacity(n);
        let mut ops = ops.into_iter();
        // Completions are told apart from any a previous call left behind by this tag.
        self.calls = self.calls.wrapping_add(1);
        let tag = u64::from(self.calls) << 32;
        let mut running = 0usize;
        if let Some((first, _)) = ops.as_slice().first() {
            at(*first);
        }
        while slots.len() < n || running > 0 {
            let mut pushed = false;
            {
                let mut sq = self.ring.submission();
                while slots.len() < n && running < ENTRIES as usize && !sq.is_full() {
                    let (file, op) = ops.next().expect("one operation per slot");
                    let k = slots.len();
                    let kind = Kind::of(&op);
                    let mut entry = entry(op).user_data(tag | k as u64);
                    if kind == Kind::Close && self.skip_closed {
                        // A close that succeeds posts no completion: it counts as done now
                        // (it names no memory of ours, so nothing waits on it).
                        entry = entry.flags(squeue::Flags::SKIP_SUCCESS);
                        slots.push((file, kind, Some(Done::Closed)));
                    } else {
                        slots.push((file, kind, None));
                        running += 1;
                    }
                    // SAFETY: every pointer in the entry (a path, a buffer, a descriptor, the
                    // directory an open is relative to) is borrowed from `ops` for the whole
                    // of this call, and this call does not return before the operation's
                    // completion has been reaped below (or the process aborts in `enter`), so
                    // the kernel only ever uses live memory and open descriptors; a close
                    // whose success posts nothing uses no memory of ours. The user data is
                    // this call's tag and the operation's index, used for nothing but
                    // finding its slot.
                    unsafe { sq.push(&entry) }.expect("the queue has room");
                    pushed = true;
                }
            }
            let wait = if pushed || running == 0 {
                0
            } else {
                if let Some(lowest) = lowest_running(&slots) {
                    at(lowest);
                }
                1
            };
            enter(&self.ring, wait);
            for cqe in self.ring.completion() {
                let data = cqe.user_data();
                let k = (data & u64::from(u32::MAX)) as usize;
                if data & !u64::from(u32::MAX) != tag || k >= slots.len() {
                    // A skipped close of an earlier call that failed after all: nothing to do.
                    continue;
                }
                let result = cqe.result();
                let slot = &mut slots[k];
                if slot.2.is_none() {
                    running -= 1;
                }
                slot.2 = Some(if result < 0 {
                    Done::Failed(io::Error::from_raw_os_error(-result))
                } else {
                    finished(slot.1, result)
                });
            }
        }
        slots
            .into_iter()
            .map(|(_, _, done)| done.expect("every operation completed"))
            .collect()
    }
}

/// The submission entry for an operation (its user data still to be set).
fn entry(op: Op<'_>) -> squeue::Entry {
    match op {
        Op::Open(dir, path) => {
            let dir = dir.map_or(libc::AT_FDCWD, |dir| dir.as_raw_fd());
            opcode::OpenAt::new(types::Fd(dir), path.as_ptr())
                .flags(OPEN_FLAGS)
                .build()
        }
        Op::Read(fd, buf) => {
            let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
            opcode::Read::new(types::Fd(fd.as_raw_fd()), buf.as_mut_ptr(), len)
                // -1: the file position, as read(2) uses it (kernel 5.6+, as the operation).
                .offset(u64::MAX)
                .build()
        }
        // The descriptor is given up to the kernel here; its completion says it is closed.
        Op::Close(fd) => opcode::Close::new(types::Fd(fd.into_raw_fd())).build(),
    }
}

/// Which operation an entry is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Open,
    Read,
    Close,
}

impl Kind {
    fn of(op: &Op<'_>) -> Kind {
        match op {
            Op::Open(..) => Kind::Open,
            Op::Read(..) => Kind::Read,
            Op::Close(_) => Kind::Close,
        }
    }
}

/// What a successful completion (`result` ≥ 0) of an operation of `kind` means.
fn finished(kind: Kind, result: i32) -> Done {
    match kind {
        Kind::Open => {
            // SAFETY: a successful open's result is a new descriptor that nothing else in this
            // process knows of; wrapping it makes it closed exactly once.
            Done::Opened(unsafe { OwnedFd::from_raw_fd(result) })
        }
        Kind::Read => Done::Read(result as usize),
        Kind::Close => Done::Closed,
    }
}

/// The lowest file whose operation has not completed yet.
fn lowest_running(slots: &[(usize, Kind, Option<Done>)]) -> Option<usize> {
    slots
        .iter()
        .filter(|(_, _, done)| done.is_none())
        .map(|(file, _, _)| *file)
        .min()
}

/// Submits what is queued and waits for `wait` completions; retried when interrupted, and
/// left to the caller's next round (after it reaps) when the kernel is short of resources.
/// Any other failure leaves operations in flight whose memory we could not keep alive, so it
/// ends the process (the task is then retried on a fresh worker, alone, through the plain
/// system calls).
fn enter(ring: &IoUring, wait: usize) {
    loop {
        match ring.submit_and_wait(wait) {
            Ok(_) => return,
            Err(err) if err.raw_os_error() == Some(libc::EINTR) => continue,
            Err(err) if matches!(err.raw_os_error(), Some(libc::EAGAIN | libc::EBUSY)) => {
                std::thread::yield_now();
                return;
            }
            Err(err) => {
                eprintln!("supervisor worker: io_uring failed with operations in flight: {err}");
                std::process::abort();
            }
        }
    }
}
