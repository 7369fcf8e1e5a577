//! The runtime job of a persistent [`crate::Pool`]: its initializer once per worker process,
//! then chunks of calls (Python's `chunksize`), each chunk one engine task.

use crate::init_job::run_initializer;
use crate::job::Call;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use supervisor_runtime::Job;

/// One engine task of a pool: `function` applied to every argument of a chunk.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ChunkTask {
    /// The registered name.
    pub(crate) function: String,
    /// The chunk's arguments, one bincode sequence (what [`crate::__invoke_chunk`] decodes).
    pub(crate) args: Vec<u8>,
    /// How many arguments the chunk holds (the engine's cost of the task).
    pub(crate) items: u32,
}

/// What each worker of a pool is started with.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct PoolSetup {
    /// Run once before the first task (Python's `initializer`, `initargs`).
    pub(crate) initializer: Option<Call>,
    /// The initializer's time limit (`PoolBuilder::initializer_timeout`).
    pub(crate) initializer_timeout: Option<std::time::Duration>,
}

/// The job: the initializer in `start`, then [`crate::__invoke_chunk`] per task. Its output
/// is the encoded sequence of per-argument results, or why the whole chunk failed.
pub(crate) struct PoolJob;

impl Job for PoolJob {
    const NAME: &'static str = "supervisor_mp::pool";
    type Setup = PoolSetup;
    type Task = ChunkTask;
    type Output = Result<Vec<u8>, String>;

    fn start(setup: PoolSetup) -> Result<Self, String> {
        run_initializer(setup.initializer, setup.initializer_timeout)?;
        Ok(PoolJob)
    }

    fn run(&mut self, task: ChunkTask) -> Self::Output {
        let f = crate::function::lookup_chunk(&task.function).ok_or_else(|| {
            format!(
                "function {:?} is not registered in the worker",
                task.function
            )
        })?;
        f(&task.args)
    }

    fn cost(task: &ChunkTask) -> u64 {
        u64::from(task.items.max(1))
    }

    fn label(task: &ChunkTask) -> Cow<'_, str> {
        Cow::Borrowed(&task.function)
    }
}
