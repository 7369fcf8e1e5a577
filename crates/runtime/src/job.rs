//! The contract between the engine and the work it runs.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::borrow::Cow;

/// A kind of work the engine can run in worker processes.
///
/// The parent only needs the types (and [`Job::cost`]); a worker builds the job once from its
/// [`Job::Setup`] and then calls [`Job::run`] for every task it is sent. Everything that crosses
/// the process boundary is serde data, so the engine knows nothing of what a task means.
pub trait Job: Sized + 'static {
    /// The name a worker uses to find this job in its [`crate::worker::Registry`].
    const NAME: &'static str;
    /// True when [`Job::cost`] is a byte count, so displays may show it as bytes.
    const COST_IS_BYTES: bool = false;
    /// Run-wide parameters, sent once to each worker (e.g. the hash algorithm).
    type Setup: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// One unit of work (cloned only by the default [`Job::run_group`]).
    type Task: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;
    /// The result of one task. Ordinary task errors (permission denied, connection refused)
    /// belong in here: they are results, not crashes, and are never retried.
    type Output: Serialize + DeserializeOwned + Send + 'static;

    /// Builds the job inside a worker. An `Err` ends the worker with the message as its report.
    fn start(setup: Self::Setup) -> Result<Self, String>;

    /// Runs one task. A panic is caught and reported as that task's failure.
    fn run(&mut self, task: Self::Task) -> Self::Output;

    /// Runs a task again after `deaths` earlier attempts at it ended with their worker's death
    /// (a crash, or a kill for a timeout or a hang), in a worker that may be another one.
    ///
    /// For jobs with a fast path that a hostile input can turn into a crash: a file mapped
    /// into memory kills its reader with SIGBUS when the file shrinks under it, so the `logs`
    /// job maps on the first attempt and reads here. Like [`Job::run`], a panic is caught and
    /// reported as the task's failure. The default runs the task through [`Job::run`].
    fn rerun(&mut self, task: Self::Task, deaths: u32) -> Self::Output {
        let _ = deaths;
        self.run(task)
    }

    /// The most consecutive tasks of a batch a worker hands to one [`Job::run_group`] call.
    /// 1 (the default) runs every task alone through [`Job::run`].
    const GROUP: usize = 1;

    /// Runs several consecutive tasks of a batch together and returns one output per task, in
    /// order: for work that is faster side by side than one after the other (many small files
    /// hashed in the lanes of one SIMD register). The default runs each through [`Job::run`].
    ///
    /// `at(i)` must be called before anything that may block, fail or crash on behalf of
    /// `tasks[i]` (opening it, reading it): the scoreboard then names that task, so a timeout,
    /// a hang or a crash is charged to it. Work after the last `at` is charged to the task it
    /// named, and the rest of a group whose worker died is retried one task per message, so
    /// no task can fail for another's sake unless retries are exhausted. A panic makes the
    /// worker run the group's tasks again one by one through [`Job::run`], each with its own
    /// outcome; tasks must therefore be safe to run twice (as retries already require).
    fn run_group(&mut self, tasks: &[Self::Task], at: &mut dyn FnMut(usize)) -> Vec<Self::Output> {
        tasks
            .iter()
            .enumerate()
            .map(|(i, task)| {
                at(i);
                self.run(task.clone())
            })
            .collect()
    }

    /// Tasks that cost at least this are dispatched costliest first; cheaper ones all count as
    /// ties and follow them in the order they were submitted. For work whose cheap tasks are
    /// better kept next to their neighbours than sorted (small files of one directory, opened
    /// relative to it, with their metadata close in memory), while the costly ones still go
    /// first so none is left for the end. 0 (the default): every cost counts.
    const COSTLIEST_FIRST_FROM: u64 = 0;

    /// An estimate of the task's cost in arbitrary units (bytes for a file). Costlier tasks are
    /// dispatched first (see [`Job::COSTLIEST_FIRST_FROM`]) and batches are sized by cost; the
    /// worker also adds it to its scoreboard byte counter.
    fn cost(_task: &Self::Task) -> u64 {
        1
    }

    /// A short human-readable name of the task (e.g. its path), shown by live views such as
    /// `supervisor ps`. Only the last 128 bytes are kept. Called for every task, so borrow
    /// from the task where possible.
    fn label(_task: &Self::Task) -> Cow<'_, str> {
        Cow::Borrowed("")
    }

    /// Appends [`Job::label`] to `out` (what an event log writes for every task). Override it
    /// where the label can be written without being built first.
    fn push_label(task: &Self::Task, out: &mut String) {
        out.push_str(&Self::label(task));
    }

    /// True when this job's workers build the tasks of a run's fixed list from the list's
    /// image ([`crate::TaskList::image`]) with [`Job::task_from_image`], so the parent sends
    /// each such task as its index alone. Off by default: tasks are sent whole.
    const TASKS_FROM_IMAGE: bool = false;

    /// Task `index` of the run's fixed list, built in a worker from the list's image: the
    /// bytes [`crate::TaskList::image`] gave, mapped read-only (and immutable) for the
    /// worker's whole life. It must be the task the list itself gives for `index`. Called only
    /// when [`Job::TASKS_FROM_IMAGE`] is true; an `Err` (the image is not what the job
    /// expects) ends the worker, and its tasks are retried.
    fn task_from_image(&mut self, image: &'static [u8], index: u64) -> Result<Self::Task, String> {
        let _ = (image, index);
        Err(format!(
            "the {} job builds no task from an image",
            Self::NAME
        ))
    }
}
