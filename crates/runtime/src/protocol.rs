//! What parent and worker say to each other, and how it is encoded.
//!
//! The handshake travels as one typed `ipc-channel` message; everything after it goes over two
//! byte channels per worker (tasks down, results up) as `bincode` frames, so the job's types are
//! encoded exactly once and the handshake does not depend on them.

use ipc_channel::ipc::{IpcBytesReceiver, IpcBytesSender};
use serde::{Deserialize, Serialize};

/// Bumped whenever a frame below changes shape; a worker from another build is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// The first message a worker sends, through the one-shot server.
#[derive(Serialize, Deserialize)]
pub(crate) enum HelloFrame {
    /// A worker introducing itself.
    Hello(Hello),
    /// Sent by the parent to its own server to unblock `accept` when the child died (or hung)
    /// before connecting.
    Abort,
}

/// A worker's introduction: who it is, proof it was spawned by us, and its two channel ends.
#[derive(Serialize, Deserialize)]
pub(crate) struct Hello {
    pub(crate) version: u32,
    pub(crate) token: String,
    pub(crate) pid: u32,
    /// Where the parent sends tasks (the worker keeps the receiver).
    pub(crate) tasks: IpcBytesSender,
    /// Where the parent reads results (the worker keeps the only sender, so the worker's death
    /// closes this channel).
    pub(crate) results: IpcBytesReceiver,
}

/// The first frame on the task channel: which job to build and where the scoreboard is.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct Setup {
    pub(crate) job: String,
    pub(crate) setup: Vec<u8>,
    pub(crate) slot: u32,
    /// `/proc/<parent>/fd/<n>` of the scoreboard, if the parent has one.
    pub(crate) scoreboard: Option<String>,
}

/// Every later frame on the task channel.
#[derive(Serialize, Deserialize)]
pub(crate) enum ToWorker<T> {
    /// Tasks to run in order, each with its id.
    Batch(Vec<(u64, T)>),
    /// Finish and exit 0.
    Shutdown,
}

/// Frames on the result channel.
#[derive(Serialize, Deserialize)]
pub(crate) enum FromWorker<O> {
    /// Finished tasks, in the order they were run.
    Results(Vec<(u64, TaskResult<O>)>),
    /// The worker could not build its job; it exits right after.
    SetupFailed(String),
}

/// One finished task as the worker saw it.
#[derive(Serialize, Deserialize)]
pub(crate) enum TaskResult<O> {
    /// The job returned.
    Done(O),
    /// The job panicked; the message is the panic payload.
    Panicked(String),
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
