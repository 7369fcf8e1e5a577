//! [`TaskList`]: a run's tasks as something the engine asks for one task at a time, so a
//! caller may keep a million of them in whatever compact form suits it.

use std::borrow::Cow;

/// The tasks of a run given to [`crate::Supervisor::run_list`]: task `i` is produced when the
/// engine needs it (to cost it once at the start, to send it to a worker, to hand its outcome
/// to the observer), not held by the engine.
///
/// A `Vec<T>` is one (its tasks are lent, never cloned); a caller with many tasks that share
/// most of their data (the files of a tree share their directories) can hold them compactly
/// and build each on request. `task(i)` must give the same task every time it is asked for
/// `i`, for `i < len()`: a retry is the same task again.
pub trait TaskList<T: Clone>: Send + Sync + 'static {
    /// How many tasks there are.
    fn len(&self) -> usize;

    /// True when there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Task `index` (below [`TaskList::len`]).
    fn task(&self, index: usize) -> Cow<'_, T>;

    /// Appends the labels of tasks `range` to `out`, in order, pushing where each ends
    /// (`out.len()` after it) to `ends`; `label` is the job's [`crate::Job::push_label`]. An
    /// event log writes the labels of a run's tasks this way, once, in order. The default builds
    /// each task with [`TaskList::task`] and labels it; override it where the labels can be read
    /// in order more cheaply, and keep them exactly what `label` makes of each task.
    fn push_labels(
        &self,
        range: std::ops::Range<usize>,
        label: fn(&T, &mut String),
        out: &mut String,
        ends: &mut Vec<usize>,
    ) {
        for index in range {
            label(&self.task(index), out);
            ends.push(out.len());
        }
    }

    /// Appends the costs of tasks `range` to `out`, in order; `cost` is the job's
    /// [`crate::Job::cost`]. A run costs every task once, at its start, before any worker has
    /// work: the default builds each task with [`TaskList::task`] and costs it; override it
    /// where the costs can be read more cheaply, and keep them exactly what `cost` makes of
    /// each task.
    fn push_costs(&self, range: std::ops::Range<usize>, cost: fn(&T) -> u64, out: &mut Vec<u64>) {
        out.extend(range.map(|index| cost(&self.task(index))));
    }

    /// The whole list as one image, in pieces to be written back to back, from which a
    /// worker builds any of its tasks by index ([`crate::Job::task_from_image`]). Asked for
    /// once per run, and only where the job sets [`crate::Job::TASKS_FROM_IMAGE`]: the engine
    /// writes it into memory that every worker maps read-only, and then sends each task of
    /// the list as its index. `None` (the default): tasks are sent whole.
    fn image(&self) -> Option<Vec<Cow<'_, [u8]>>> {
        None
    }
}

impl<T: Clone + Send + Sync + 'static> TaskList<T> for Vec<T> {
    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn task(&self, index: usize) -> Cow<'_, T> {
        Cow::Borrowed(&self[index])
    }
}
