//! The glue between the work (supervisor-jobs) and the engine (supervisor-runtime).

use serde::{Deserialize, Serialize};
use supervisor_jobs::fault::{FaultOutput, FaultTask};
use supervisor_jobs::hash::{self, Algo, FileEntry};
use supervisor_runtime::Job;
use supervisor_runtime::worker::Registry;

/// Every job this binary can run as a worker.
pub fn registry() -> Registry {
    Registry::new().register::<HashJob>().register::<FaultJob>()
}

/// Hashes one file per task.
pub struct HashJob {
    algo: Algo,
    buf: Vec<u8>,
}

/// What a hash task produced: the digest, or the file's own error (not a crash).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub enum HashOutput {
    /// The file was read to the end.
    Digest { size: u64, digest: String },
    /// It could not be read.
    Error(String),
}

impl Job for HashJob {
    const NAME: &'static str = "hash";
    const COST_IS_BYTES: bool = true;
    type Setup = Algo;
    type Task = FileEntry;
    type Output = HashOutput;

    fn start(algo: Algo) -> Result<Self, String> {
        Ok(HashJob {
            algo,
            buf: Vec::new(),
        })
    }

    fn run(&mut self, task: FileEntry) -> HashOutput {
        match hash::hash_file(&task.path, self.algo, &mut self.buf) {
            Ok(d) => HashOutput::Digest {
                size: d.size,
                digest: d.digest,
            },
            Err(e) => HashOutput::Error(e.message()),
        }
    }

    fn cost(task: &FileEntry) -> u64 {
        task.size
    }

    fn label(task: &FileEntry) -> String {
        String::from_utf8_lossy(&task.path).into_owned()
    }
}

/// The hidden fault-injection job.
pub struct FaultJob;

impl Job for FaultJob {
    const NAME: &'static str = "fault";
    type Setup = ();
    type Task = FaultTask;
    type Output = FaultOutput;

    fn start(_: ()) -> Result<Self, String> {
        Ok(FaultJob)
    }

    fn run(&mut self, task: FaultTask) -> FaultOutput {
        task.run()
    }
}
