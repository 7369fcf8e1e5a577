//! A worker's task channel, written from a thread of its own.
//!
//! `ipc-channel` blocks a send until the worker reads when a message does not fit the socket
//! buffer, and a worker reads its task channel only between batches (not while it runs a long
//! task or a slow initializer, not at all while it is stopped). The coordinator's thread must
//! never wait for that, so it hands frames to this thread and goes on.

use ipc_channel::ipc::IpcBytesSender;
use std::sync::mpsc::{self, Sender};

/// The coordinator's end of a worker's writer thread.
pub(crate) struct Writer {
    frames: Sender<Vec<u8>>,
}

impl Writer {
    /// Starts the thread that owns `tasks`.
    pub(crate) fn start(pid: u32, tasks: IpcBytesSender) -> std::io::Result<Self> {
        let (frames, queue) = mpsc::channel::<Vec<u8>>();
        std::thread::Builder::new()
            .name(format!("worker-{pid}-writer"))
            .stack_size(128 * 1024)
            .spawn(move || {
                for frame in queue {
                    // A worker that died cannot be written to; its exit is on its way.
                    if tasks.send(&frame).is_err() {
                        return;
                    }
                }
                // The coordinator dropped us: `tasks` closes here, which a worker reads as
                // "no more work".
            })?;
        Ok(Writer { frames })
    }

    /// Queues a frame; never blocks.
    pub(crate) fn send(&self, frame: Vec<u8>) {
        let _ = self.frames.send(frame);
    }
}
