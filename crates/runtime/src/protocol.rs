//! What parent and worker say to each other, and how it is encoded.
//!
//! The bootstrap travels over a private socket pair (the worker's stdin), the channel ends as
//! one typed `ipc-channel` message; everything after it goes over two byte channels per worker
//! (tasks down, results up) as `bincode` frames, so the job's types are encoded exactly once
//! and the handshake does not depend on them.

use ipc_channel::ipc::{IpcBytesReceiver, IpcBytesSender};
use serde::{Deserialize, Serialize};

/// Bumped whenever a frame below changes shape; a worker from another build is refused.
pub const PROTOCOL_VERSION: u32 = 6;

/// The parent's first message, over the private socket pair that is the worker's stdin (with
/// the scoreboard's descriptor attached): who the parent is and the secret the worker must
/// see again.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct BootRequest {
    pub(crate) version: u32,
    /// Presented back by the parent when it connects to the worker's one-shot server.
    pub(crate) token: String,
    /// The worker checks it is still this process's child (PDEATHSIG race).
    pub(crate) parent_pid: u32,
    pub(crate) slot: u32,
    /// The run's task image comes attached too, after the scoreboard (see `task_image`).
    pub(crate) image: bool,
}

/// The worker's answer over the socket pair: where its one-shot server listens.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum BootReply {
    /// Ready to accept the parent's channel ends at `server`.
    Listening {
        version: u32,
        pid: u32,
        server: String,
    },
    /// The worker cannot go on (another protocol version, no scoreboard, ...).
    Refused(String),
}

/// The parent's last message over the socket pair, once it has connected to the worker's
/// one-shot server and sent the [`Hello`]: the worker's `accept` now returns at once.
pub(crate) const CONNECTED: &[u8] = b"connected";

/// What the parent sends to the worker's one-shot server: the worker's two channel ends.
#[derive(Serialize, Deserialize)]
pub(crate) struct Hello {
    pub(crate) version: u32,
    /// The token of the [`BootRequest`]: the connection is the parent's.
    pub(crate) token: String,
    /// Where the worker reads tasks (the parent keeps the sender).
    pub(crate) tasks: IpcBytesReceiver,
    /// Where the worker sends results (the parent keeps only the receiver, so the worker's
    /// death closes the channel).
    pub(crate) results: IpcBytesSender,
}

/// The first frame on the task channel: which job to build.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct Setup {
    pub(crate) job: String,
    pub(crate) setup: Vec<u8>,
    /// Measure each task's start and end (the run is traced to an event log).
    pub(crate) timing: bool,
}

/// Every later frame on the task channel.
#[derive(Serialize, Deserialize)]
pub(crate) enum ToWorker<T> {
    /// Tasks to run in order, each with its id.
    Batch(Vec<(u64, T)>),
    /// Tasks of the run's fixed list to run in order, each as its id alone, which is its
    /// index in the list: the worker builds each from the list's image.
    Indexed(Vec<u64>),
    /// One task to run through [`crate::Job::rerun`]: its id, the task (`None`: a task of the
    /// fixed list, built from its image), and how many earlier attempts at it ended with their
    /// worker's death.
    Rerun(u64, Option<T>, u32),
    /// Finish and exit 0.
    Shutdown,
}

/// Frames on the result channel.
#[derive(Serialize, Deserialize)]
pub(crate) enum FromWorker<O> {
    /// Finished tasks, in the order they were run, and when each ran (one span per result when
    /// the setup asked for timing, else none).
    Results(Vec<(u64, TaskResult<O>)>, Vec<Span>),
    /// The worker could not build its job; it exits right after.
    SetupFailed(String),
    /// The worker built its job (its initializer, if any, is done) and takes tasks now.
    Ready,
}

/// One finished task as the worker saw it.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum TaskResult<O> {
    /// The job returned.
    Done(O),
    /// The job panicked; the message is the panic payload.
    Panicked(String),
}

/// When a task ran, as its worker measured it: CLOCK_MONOTONIC microseconds, comparable across
/// the processes of one machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Span {
    pub(crate) start_us: u64,
    pub(crate) dur_us: u64,
}

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes a frame.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, crate::Error> {
    bincode::serde::encode_to_vec(value, config())
        .map_err(|e| crate::Error::Protocol(format!("cannot encode a frame: {e}")))
}

/// Decodes a frame.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, crate::Error> {
    bincode::serde::decode_from_slice(bytes, config())
        .map(|(value, _)| value)
        .map_err(|e| crate::Error::Protocol(format!("cannot decode a frame: {e}")))
}
