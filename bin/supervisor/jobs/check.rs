//! The job behind `hash --check`: digest one listed file per task, with the algorithm its
//! checksum line asks for (a checksum file for `b2sum` may mix BLAKE2b lengths, and each
//! checksum file may be for another tool).

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::Arc;
use supervisor_jobs::PathList;
use supervisor_jobs::hash::{self, Algo, DigestBytes, FileDigest, GroupDigester, HashError};
use supervisor_runtime::{Job, TaskList};

/// A file named by a checksum line.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct CheckTask {
    /// The name as the line gives it (relative to the working directory, like `md5sum -c`).
    /// (One byte string on the wire, not a sequence of numbers: it crosses for every file.)
    #[serde(with = "serde_bytes")]
    pub path: Vec<u8>,
    /// Its size when the checksum files were read, for scheduling: 0 where it could not be
    /// seen or was not worth a `stat` ([`hash::listed_sizes`]).
    pub size: u64,
    /// The digest the line asks for.
    pub algo: Algo,
}

/// The files the checksum files name, as the engine asks for them: their names (and sizes)
/// held once in a [`PathList`] that the printer reads too, and the algorithm of each; a
/// [`CheckTask`] is made only as its file is sent.
pub struct CheckList {
    /// Each task's name and size.
    pub names: Arc<PathList>,
    /// Each task's algorithm.
    pub algos: Vec<Algo>,
}

impl TaskList<CheckTask> for CheckList {
    fn len(&self) -> usize {
        self.algos.len()
    }

    fn task(&self, index: usize) -> Cow<'_, CheckTask> {
        Cow::Owned(CheckTask {
            path: self.names.path(index),
            size: self.names.size(index),
            algo: self.algos[index],
        })
    }

    fn push_costs(
        &self,
        range: std::ops::Range<usize>,
        _cost: fn(&CheckTask) -> u64,
        out: &mut Vec<u64>,
    ) {
        // `CheckJob::cost` is the size.
        out.extend(range.map(|index| self.names.size(index)));
    }
}

/// What checking one file found.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub enum CheckOutput {
    /// The file's digest.
    Digest(DigestBytes),
    /// It could not be read; `missing` when it does not exist (`--ignore-missing` skips it).
    Unreadable { message: String, missing: bool },
}

impl From<Result<FileDigest, HashError>> for CheckOutput {
    fn from(result: Result<FileDigest, HashError>) -> Self {
        match result {
            Ok(d) => CheckOutput::Digest(d.digest),
            Err(e) => CheckOutput::Unreadable {
                missing: matches!(&e, HashError::Io(io) if io.kind() == std::io::ErrorKind::NotFound),
                message: e.message(),
            },
        }
    }
}

/// Digests listed files, MD5 ones side by side like the hash job.
pub struct CheckJob {
    buf: Vec<u8>,
    group: GroupDigester,
}

impl Job for CheckJob {
    const NAME: &'static str = "check";
    const COST_IS_BYTES: bool = true;
    const GROUP: usize = hash::GROUP_FILES;
    /// As the hash job's (see there): files from 16 KiB up largest first, the smaller ones in
    /// the checksum files' order, so a group's files share directories.
    const COSTLIEST_FIRST_FROM: u64 = super::HashJob::COSTLIEST_FIRST_FROM;
    type Setup = ();
    type Task = CheckTask;
    type Output = CheckOutput;

    fn start((): ()) -> Result<Self, String> {
        Ok(CheckJob {
            buf: Vec::new(),
            group: GroupDigester::new(),
        })
    }

    fn run(&mut self, task: CheckTask) -> CheckOutput {
        hash::hash_file(&task.path, task.algo, &mut self.buf).into()
    }

    fn run_group(&mut self, tasks: &[CheckTask], at: &mut dyn FnMut(usize)) -> Vec<CheckOutput> {
        if tasks.iter().all(|task| task.algo == Algo::Md5) {
            let paths: Vec<&[u8]> = tasks.iter().map(|task| task.path.as_slice()).collect();
            return self
                .group
                .md5(&paths, at)
                .into_iter()
                .map(CheckOutput::from)
                .collect();
        }
        tasks
            .iter()
            .enumerate()
            .map(|(i, task)| {
                at(i);
                hash::hash_file(&task.path, task.algo, &mut self.buf).into()
            })
            .collect()
    }

    fn cost(task: &CheckTask) -> u64 {
        task.size
    }

    fn label(task: &CheckTask) -> Cow<'_, str> {
        String::from_utf8_lossy(&task.path)
    }
}
