//! A worker's task channel, written without ever blocking the executor.
//!
//! `ipc-channel` blocks a send until the worker reads when the socket's queue is full, and a
//! worker reads its task channel only between batches (not while it runs a long task or a
//! slow initializer, not at all while it is stopped). So a frame is written directly only
//! when it provably fits: nothing is queued behind the writer thread, and the frames the
//! worker has not read yet plus this one stay well within the socket's send buffer and queue
//! length. Anything else goes to a thread of the worker's own, which may wait as long as it
//! likes; later frames follow it there, so order is kept.

use ipc_channel::ipc::IpcBytesSender;
use ipc_channel::platform::OsIpcSender;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, LazyLock};

/// Unread bytes a direct write may leave in the socket: a quarter of what one message may
/// carry without blocking (the send buffer less the kernel's reserve), for the kernel's
/// per-message overhead and safety.
static DIRECT_BYTES: LazyLock<usize> = LazyLock::new(|| OsIpcSender::get_max_fragment_size() / 4);

/// Unread messages a direct write may leave queued (the kernel's default queue holds 10).
const DIRECT_MESSAGES: usize = 4;

/// A frame whose first task id is this never counts as read (a Shutdown).
pub(crate) const NO_TASK: u64 = u64::MAX;

/// The executor's end of a worker's task channel.
pub(crate) struct Writer {
    channel: Arc<IpcBytesSender>,
    frames: Sender<Vec<u8>>,
    /// Frames handed to the thread and not yet written.
    queued: Arc<AtomicUsize>,
    /// Frames written or queued that the worker has not started on: (first task, bytes).
    unread: VecDeque<(u64, usize)>,
    unread_bytes: usize,
}

impl Writer {
    /// Starts the thread that writes the frames that may block.
    pub(crate) fn start(pid: u32, tasks: IpcBytesSender) -> std::io::Result<Self> {
        let channel = Arc::new(tasks);
        let (frames, queue) = mpsc::channel::<Vec<u8>>();
        let queued = Arc::new(AtomicUsize::new(0));
        let (theirs, their_queued) = (Arc::clone(&channel), Arc::clone(&queued));
        std::thread::Builder::new()
            .name(format!("worker-{pid}-writer"))
            .stack_size(128 * 1024)
            .spawn(move || {
                for frame in queue {
                    // A worker that died cannot be written to; its exit is on its way.
                    let sent = theirs.send(&frame);
                    their_queued.fetch_sub(1, Ordering::Release);
                    if sent.is_err() {
                        return;
                    }
                }
            })?;
        Ok(Writer {
            channel,
            frames,
            queued,
            unread: VecDeque::new(),
            unread_bytes: 0,
        })
    }

    /// Writes a frame whose first task is `first` (or [`NO_TASK`]); never blocks.
    pub(crate) fn send(&mut self, first: u64, frame: Vec<u8>) {
        let len = frame.len();
        let fits = self.queued.load(Ordering::Acquire) == 0
            && self.unread.len() < DIRECT_MESSAGES
            && self.unread_bytes + len <= *DIRECT_BYTES;
        self.unread.push_back((first, len));
        self.unread_bytes += len;
        if fits {
            // A worker that died cannot be written to; its exit is on its way.
            let _ = self.channel.send(&frame);
        } else {
            self.queued.fetch_add(1, Ordering::AcqRel);
            let _ = self.frames.send(frame);
        }
    }

    /// The worker answered task `id`: if it starts a frame, the worker has read that frame.
    pub(crate) fn answered(&mut self, id: u64) {
        while self.unread.front().is_some_and(|&(first, _)| first == id) {
            if let Some((_, len)) = self.unread.pop_front() {
                self.unread_bytes -= len;
            }
        }
    }
}
