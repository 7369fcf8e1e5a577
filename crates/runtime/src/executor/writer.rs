//! A worker's task channel, written without ever blocking the executor.
//!
//! `ipc-channel` blocks a send until the worker reads when the socket's queue is full, and a
//! worker reads its task channel only between batches (not while it runs a long task or a
//! slow initializer, not at all while it is stopped). So a frame is written directly only
//! when it provably fits: nothing is queued behind the writer thread, and the frames the
//! worker has not read yet plus this one stay well within the socket's send buffer and queue
//! length. Anything else goes to a thread of the worker's own, started the first time a frame
//! needs it, which may wait as long as it likes; later frames follow it there, so order is
//! kept.

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
    pid: u32,
    channel: Arc<IpcBytesSender>,
    /// The thread's queue, once a frame needed it: most workers' frames all fit, so most
    /// workers never have the thread (a thread per worker is a tenth of a short `Process`).
    frames: Option<Sender<Vec<u8>>>,
    /// Frames handed to the thread and not yet written.
    queued: Arc<AtomicUsize>,
    /// Frames written or queued that the worker has not started on: (first task, bytes).
    unread: VecDeque<(u64, usize)>,
    unread_bytes: usize,
}

/// The writer thread could not be started: the frame was not sent, and the worker can no
/// longer be fed in order.
#[derive(Debug)]
pub(crate) struct NoWriter;

impl Writer {
    /// The writer of worker `pid`'s task channel.
    pub(crate) fn new(pid: u32, tasks: IpcBytesSender) -> Self {
        Writer {
            pid,
            channel: Arc::new(tasks),
            frames: None,
            queued: Arc::new(AtomicUsize::new(0)),
            unread: VecDeque::new(),
            unread_bytes: 0,
        }
    }

    /// Starts the thread that writes the frames that may block.
    fn start_thread(&mut self) -> std::io::Result<Sender<Vec<u8>>> {
        let (frames, queue) = mpsc::channel::<Vec<u8>>();
        let (theirs, their_queued) = (Arc::clone(&self.channel), Arc::clone(&self.queued));
        std::thread::Builder::new()
            .name(format!("worker-{}-writer", self.pid))
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
        Ok(frames)
    }

    /// Writes a frame whose first task is `first` (or [`NO_TASK`]); never blocks.
    pub(crate) fn send(&mut self, first: u64, frame: Vec<u8>) -> Result<(), NoWriter> {
        let len = frame.len();
        let fits = self.queued.load(Ordering::Acquire) == 0
            && self.unread.len() < DIRECT_MESSAGES
            && self.unread_bytes + len <= *DIRECT_BYTES;
        if fits {
            // A worker that died cannot be written to; its exit is on its way.
            let _ = self.channel.send(&frame);
        } else {
            let frames = match &self.frames {
                Some(frames) => frames,
                None => {
                    let started = self.start_thread().map_err(|_| NoWriter)?;
                    self.frames.insert(started)
                }
            };
            self.queued.fetch_add(1, Ordering::AcqRel);
            let _ = frames.send(frame);
        }
        self.unread.push_back((first, len));
        self.unread_bytes += len;
        Ok(())
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
