//! The glue between the work (supervisor-jobs) and the engine (supervisor-runtime).

mod check;
pub use check::{CheckJob, CheckList, CheckOutput};

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use supervisor_jobs::cpu::CpuPart;
use supervisor_jobs::exec::{ExecOutput, ExecSetup, ExecTask, Executor};
use supervisor_jobs::fault::{FaultOutput, FaultTask};
use supervisor_jobs::hash::{
    self, Algo, DigestBytes, FileDigest, GroupDigester, HashError, ListedFile,
};
use supervisor_jobs::logs::{self, LogCounts, LogPatterns, LogTask};
use supervisor_jobs::probe::{ProbeResult, ProbeTask};
use supervisor_jobs::{PathImage, PathList};
use supervisor_runtime::worker::Registry;
use supervisor_runtime::{Job, TaskList};

/// Every job this binary can run as a worker.
pub fn registry() -> Registry {
    Registry::new()
        .register::<HashJob>()
        .register::<CheckJob>()
        .register::<LogsJob>()
        .register::<ProbeJob>()
        .register::<CpuJob>()
        .register::<FaultJob>()
        .register::<ExecJob>()
}

/// Hashes one file per task.
pub struct HashJob {
    algo: Algo,
    buf: Vec<u8>,
    group: GroupDigester,
    /// A group's paths joined, back to back (reused from group to group).
    joined: Vec<u8>,
    /// The run's path image, read once it is first needed (see [`Job::task_from_image`]).
    image: Option<&'static PathImage<'static>>,
}

/// What a hash task produced: the digest, or the file's own error (not a crash).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub enum HashOutput {
    /// The file was read to the end.
    Digest { size: u64, digest: DigestBytes },
    /// It could not be read.
    Error(String),
}

impl Job for HashJob {
    const NAME: &'static str = "hash";
    const COST_IS_BYTES: bool = true;
    /// MD5 digests the files of a group side by side (SIMD lanes); the other algorithms are
    /// single-stream SIMD already, so they go one file at a time.
    const GROUP: usize = hash::GROUP_FILES;
    /// Files from 16 KiB up go largest first (the SIMD lanes of a group stay evenly filled, no
    /// big file is left for the end); smaller ones follow in the walk's order, so a group's
    /// files share directories, opened once and each file relative to it, with their inodes
    /// and dentries close in memory. On the benchmark's mixed tree (87% of its files under
    /// 16 KiB) that was 8% less time than sorting them all (11 paired rounds: 0.92; cut at 8
    /// KiB 0.93, 32 KiB 0.94, 64 KiB 0.96, 128 KiB 1.08, 1 MiB 1.37, where lanes of one group
    /// hold very different lengths); the million small files unchanged.
    const COSTLIEST_FIRST_FROM: u64 = 16 << 10;
    type Setup = Algo;
    /// A path of the run's shared list in the parent; in a worker, the same path of the
    /// list's image (or the path itself, sent whole).
    type Task = ListedFile;
    type Output = HashOutput;

    fn start(algo: Algo) -> Result<Self, String> {
        Ok(HashJob {
            algo,
            buf: Vec::new(),
            group: GroupDigester::new(),
            joined: Vec::new(),
            image: None,
        })
    }

    /// The parent sends each file of the run's list as its index; the worker reads its path
    /// from the list's image (a million small files: 3 bytes a task on the wire instead of
    /// about 60, and nothing to allocate for one).
    const TASKS_FROM_IMAGE: bool = true;

    fn task_from_image(&mut self, image: &'static [u8], index: u64) -> Result<ListedFile, String> {
        let image = match self.image {
            Some(parsed) => parsed,
            None => {
                let parsed = PathImage::parse(image).map_err(|e| e.to_string())?;
                *self.image.insert(Box::leak(Box::new(parsed)))
            }
        };
        match u32::try_from(index) {
            Ok(index) if (index as usize) < image.len() => Ok(ListedFile::in_image(image, index)),
            _ => Err(format!(
                "task {index} is not in the image of {}",
                image.len()
            )),
        }
    }

    fn run(&mut self, task: ListedFile) -> HashOutput {
        hash::hash_file(&task.path(), self.algo, &mut self.buf).into()
    }

    fn run_group(&mut self, tasks: &[ListedFile], at: &mut dyn FnMut(usize)) -> Vec<HashOutput> {
        if self.algo != Algo::Md5 {
            return tasks
                .iter()
                .enumerate()
                .map(|(i, task)| {
                    at(i);
                    hash::hash_file(&task.path(), self.algo, &mut self.buf).into()
                })
                .collect();
        }
        // Joined from their two parts into one buffer: no allocation per path.
        self.joined.clear();
        let mut ends = Vec::with_capacity(tasks.len());
        for task in tasks {
            let (dir, name) = task.parts();
            self.joined.extend_from_slice(dir);
            self.joined.extend_from_slice(name);
            ends.push(self.joined.len());
        }
        let starts = std::iter::once(0).chain(ends.iter().copied());
        let paths: Vec<&[u8]> = starts
            .zip(&ends)
            .map(|(a, &b)| &self.joined[a..b])
            .collect();
        let digests = self.group.md5(&paths, at);
        digests.into_iter().map(HashOutput::from).collect()
    }

    fn cost(task: &ListedFile) -> u64 {
        task.size()
    }

    fn label(task: &ListedFile) -> Cow<'_, str> {
        match task.path() {
            Cow::Borrowed(path) => path_label(path),
            Cow::Owned(path) => Cow::Owned(path_label(&path).into_owned()),
        }
    }

    fn push_label(task: &ListedFile, out: &mut String) {
        // Straight from the list's two parts: no path built per task (an event log labels
        // every task).
        let (dir, name) = task.parts();
        push_parts_label(dir, name, out);
    }
}

/// The hash job's label of a listed file: its path's two parts, each as [`path_label`] makes
/// it.
fn push_parts_label(dir: &[u8], name: &[u8], out: &mut String) {
    for part in [dir, name] {
        out.push_str(&path_label(part));
    }
}

/// The hash job's tasks as the engine asks for them: the files of one [`PathList`], each
/// handed out as a [`ListedFile`] pointing into it, so the parent holds a tree's paths once,
/// compactly, and no task of its own per file.
pub struct HashTasks(Arc<PathList>);

impl HashTasks {
    /// The files of `list`; `None` when it holds more than `u32::MAX` (no parent holds so
    /// many: the list alone would take over 100 GB).
    pub fn new(list: Arc<PathList>) -> Option<Self> {
        u32::try_from(list.len()).ok().map(|_| HashTasks(list))
    }
}

impl TaskList<ListedFile> for HashTasks {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn task(&self, index: usize) -> Cow<'_, ListedFile> {
        Cow::Owned(ListedFile::at(&self.0, index as u32))
    }

    /// The list as one image: workers read each file's path from it (see
    /// [`HashJob::task_from_image`]).
    fn image(&self) -> Option<Vec<Cow<'_, [u8]>>> {
        Some(self.0.image())
    }

    /// The costs `HashJob::cost` gives (each file's size), read from the list without building
    /// a task each (which takes and drops a reference to the list: a tenth of the parent's
    /// serial time before the first worker starts, on the benchmark tree).
    fn push_costs(
        &self,
        range: std::ops::Range<usize>,
        _cost: fn(&ListedFile) -> u64,
        out: &mut Vec<u64>,
    ) {
        out.extend(range.map(|index| self.0.size(index)));
    }

    /// The labels `HashJob::push_label` makes (the only job these tasks are for), read from the
    /// list in order without building a task each, a directory's part checked once.
    fn push_labels(
        &self,
        range: std::ops::Range<usize>,
        _label: fn(&ListedFile, &mut String),
        out: &mut String,
        ends: &mut Vec<usize>,
    ) {
        let mut dir_label: Option<(&[u8], Cow<'_, str>)> = None;
        self.0.for_each_parts(range, |dir, name| {
            let same = dir_label
                .as_ref()
                .is_some_and(|(seen, _)| std::ptr::eq(*seen, dir));
            if !same {
                dir_label = Some((dir, path_label(dir)));
            }
            if let Some((_, label)) = &dir_label {
                out.push_str(label);
            }
            out.push_str(&path_label(name));
            ends.push(out.len());
        });
    }
}

impl From<Result<FileDigest, HashError>> for HashOutput {
    fn from(result: Result<FileDigest, HashError>) -> Self {
        match result {
            Ok(d) => HashOutput::Digest {
                size: d.size,
                digest: d.digest,
            },
            Err(e) => HashOutput::Error(e.message()),
        }
    }
}

/// A path as a label: borrowed when it is UTF-8 (checked word by word, which is several times
/// faster than the byte-by-byte scan of `from_utf8_lossy`; labels are made for every task, by
/// the worker and, with `--events`, by the supervisor).
fn path_label(path: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(path) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(path),
    }
}

/// Counts pattern lines in one byte range of one log file per task.
pub struct LogsJob {
    patterns: LogPatterns,
    buf: Vec<u8>,
}

/// A log range with its expected cost (bytes to read; a guess for gzip streams).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct LogsTask {
    /// The range to count.
    pub range: LogTask,
    /// Bytes it will read, for scheduling and progress.
    pub bytes: u64,
}

impl Job for LogsJob {
    const NAME: &'static str = "logs";
    const COST_IS_BYTES: bool = true;
    type Setup = LogPatterns;
    type Task = LogsTask;
    type Output = Result<LogCounts, String>;

    fn start(patterns: LogPatterns) -> Result<Self, String> {
        patterns.validate().map_err(|e| e.to_string())?;
        Ok(LogsJob {
            patterns,
            buf: Vec::new(),
        })
    }

    /// Counts in place, the file mapped: faster than reading it, but a file that shrinks
    /// meanwhile kills this worker with SIGBUS, and the task is run again by [`Job::rerun`].
    fn run(&mut self, task: LogsTask) -> Self::Output {
        logs::count_range_mapped(&task.range, &self.patterns, &mut self.buf)
            .map_err(|e| e.message())
    }

    /// After a worker died on this task (a SIGBUS from a log truncated while it was mapped, or
    /// anything else), reads it instead: a file that shrinks under a read just ends early.
    fn rerun(&mut self, task: LogsTask, _deaths: u32) -> Self::Output {
        logs::count_range(&task.range, &self.patterns, &mut self.buf).map_err(|e| e.message())
    }

    fn cost(task: &LogsTask) -> u64 {
        task.bytes
    }

    fn label(task: &LogsTask) -> Cow<'_, str> {
        path_label(&task.range.path)
    }
}

/// Probes a group of targets concurrently per task.
pub struct ProbeJob;

impl Job for ProbeJob {
    const NAME: &'static str = "probe";
    type Setup = ();
    type Task = ProbeTask;
    type Output = Vec<ProbeResult>;

    fn start(_: ()) -> Result<Self, String> {
        Ok(ProbeJob)
    }

    fn run(&mut self, task: ProbeTask) -> Vec<ProbeResult> {
        task.run()
    }

    fn cost(task: &ProbeTask) -> u64 {
        task.targets.len() as u64
    }

    fn label(task: &ProbeTask) -> Cow<'_, str> {
        task.targets
            .first()
            .map(|t| format!("{t} (+{} more)", task.targets.len() - 1))
            .unwrap_or_default()
            .into()
    }
}

/// The classic multiprocessing benchmark's sum-of-squares loop, one slice of one `n`'s loop per task (the caller adds a
/// task's slices up).
pub struct CpuJob;

impl Job for CpuJob {
    const NAME: &'static str = "cpu";
    type Setup = ();
    type Task = CpuPart;
    type Output = u128;

    fn start(_: ()) -> Result<Self, String> {
        Ok(CpuJob)
    }

    fn run(&mut self, part: CpuPart) -> u128 {
        part.run()
    }

    fn cost(part: &CpuPart) -> u64 {
        part.iterations()
    }

    fn label(part: &CpuPart) -> Cow<'_, str> {
        Cow::Owned(format!("n={} [{}..{})", part.n, part.from, part.to))
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

/// Runs one command per task (an item), as a child of the worker, in its process group.
pub struct ExecJob {
    exec: Executor,
    /// Whether `{%}` was looked up already.
    slot_known: bool,
}

impl Job for ExecJob {
    const NAME: &'static str = "exec";
    type Setup = ExecSetup;
    type Task = ExecTask;
    type Output = ExecOutput;

    fn start(setup: ExecSetup) -> Result<Self, String> {
        let mut exec = Executor::start(setup, std::os::unix::process::parent_id())
            .map_err(|e| e.to_string())?;
        // A worker that gets SIGTERM (a timeout, a stop) flushes its finished results before
        // it dies; a command killed by that same SIGTERM must not be among them.
        let terminating = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&terminating))
            .map_err(|e| format!("cannot watch for SIGTERM: {e}"))?;
        exec.watch_termination(terminating);
        Ok(ExecJob {
            exec,
            slot_known: false,
        })
    }

    fn run(&mut self, task: ExecTask) -> ExecOutput {
        if self.exec.uses_slot() && !self.slot_known {
            // Asked at the first task, not in `start`: the parent records a worker's pid in
            // its slot when the handshake is done, before it sends the first batch.
            if let Some(slot) = own_slot() {
                self.exec.set_slot(slot + 1);
                self.slot_known = true;
            }
        }
        match self.exec.run(&task) {
            Some(output) => output,
            // This worker is being terminated: it dies within its grace, reporting nothing.
            None => loop {
                std::thread::park();
            },
        }
    }

    fn label(task: &ExecTask) -> Cow<'_, str> {
        String::from_utf8_lossy(&task.item)
    }
}

/// This worker's slot, from the scoreboard of the supervisor that started it (the engine does
/// not hand it to jobs).
fn own_slot() -> Option<u32> {
    let me = std::process::id();
    let parent = std::os::unix::process::parent_id();
    supervisor_runtime::scoreboard::find_running(Some(parent))
        .into_iter()
        .find_map(|(_, board)| (0..board.slots()).find(|&slot| board.slot_view(slot).pid == me))
        .map(|slot| slot as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading a list's labels in order gives exactly what labelling each task does, names
    /// that are not UTF-8 and paths without a directory included.
    #[test]
    fn hash_labels_in_order_are_each_tasks_label() {
        let mut list = PathList::new();
        let paths: [&[u8]; 7] = [
            b"top.txt",
            b"a/b/one",
            b"a/b/two \"quoted\"",
            b"a/b/bad\xff\xfename",
            b"a/\xc3\xa9t\xc3\xa9/x",
            b"a/\xc3/y",
            b"z",
        ];
        for (i, path) in paths.iter().enumerate() {
            list.push(path, i as u64);
        }
        let tasks = HashTasks::new(Arc::new(list)).unwrap();
        for range in [0..7, 2..5, 3..4, 6..7, 4..4] {
            let (mut fast, mut fast_ends) = (String::new(), Vec::new());
            tasks.push_labels(
                range.clone(),
                HashJob::push_label,
                &mut fast,
                &mut fast_ends,
            );
            let (mut slow, mut slow_ends) = (String::new(), Vec::new());
            for i in range.clone() {
                HashJob::push_label(&tasks.task(i), &mut slow);
                slow_ends.push(slow.len());
            }
            assert_eq!((fast, fast_ends), (slow, slow_ends), "{range:?}");
        }
    }

    /// Reading a list's costs in one call gives exactly what costing each task does.
    #[test]
    fn hash_costs_read_from_the_list_are_each_tasks_cost() {
        let mut list = PathList::new();
        let sizes = [0u64, 1, 4 << 20, 17, u64::from(u32::MAX) + 5, 3];
        for (i, size) in sizes.iter().enumerate() {
            list.push(format!("d{}/f{i}", i % 2).as_bytes(), *size);
        }
        let tasks = HashTasks::new(Arc::new(list)).unwrap();
        for range in [0..6, 1..4, 5..6, 2..2] {
            let mut fast = Vec::new();
            tasks.push_costs(range.clone(), HashJob::cost, &mut fast);
            let slow: Vec<u64> = range
                .clone()
                .map(|i| HashJob::cost(&tasks.task(i)))
                .collect();
            assert_eq!(fast, slow, "{range:?}");
            assert_eq!(fast, sizes[range.clone()].to_vec(), "{range:?}");
        }
    }
}
