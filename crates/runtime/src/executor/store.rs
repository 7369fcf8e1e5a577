//! The tasks the executor encodes into batches: a run's fixed list (shared with the caller,
//! who gets it back in the report) and, for an open run, the tasks submitted over time, each
//! dropped as soon as it has its final outcome.

use crate::TaskList;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

pub(crate) struct TaskStore<T: Clone + 'static> {
    fixed: Arc<dyn TaskList<T>>,
    /// Id of `open[0]`.
    open_base: u64,
    open: VecDeque<Option<T>>,
}

impl<T: Clone + 'static> TaskStore<T> {
    /// A store holding `fixed` as tasks `0..fixed.len()`.
    pub(crate) fn new(fixed: Arc<dyn TaskList<T>>) -> Self {
        TaskStore {
            open_base: fixed.len() as u64,
            fixed,
            open: VecDeque::new(),
        }
    }

    /// The costs `cost` gives the fixed list's tasks, in order.
    pub(crate) fn fixed_costs(&self, cost: fn(&T) -> u64) -> Vec<u64> {
        let mut costs = Vec::with_capacity(self.fixed.len());
        self.fixed.push_costs(0..self.fixed.len(), cost, &mut costs);
        costs
    }

    /// Adds submitted tasks numbered from `first` (the next id) and returns their ids.
    pub(crate) fn add(&mut self, first: u64, tasks: Vec<T>) -> std::ops::Range<u64> {
        if self.open.is_empty() {
            self.open_base = first;
        }
        debug_assert_eq!(
            first,
            self.open_base + self.open.len() as u64,
            "ids are dense"
        );
        let n = tasks.len() as u64;
        self.open.extend(tasks.into_iter().map(Some));
        first..first + n
    }

    /// Whether task `id` is one of the fixed list's.
    pub(crate) fn is_fixed(&self, id: u64) -> bool {
        id < self.fixed.len() as u64
    }

    pub(crate) fn get(&self, id: u64) -> Cow<'_, T> {
        self.try_get(id).expect("a task is held until its outcome")
    }

    /// The task, if it is still held (an open run's task is dropped at its outcome).
    pub(crate) fn try_get(&self, id: u64) -> Option<Cow<'_, T>> {
        if id < self.fixed.len() as u64 {
            return Some(self.fixed.task(id as usize));
        }
        self.open
            .get(id.checked_sub(self.open_base)? as usize)?
            .as_ref()
            .map(Cow::Borrowed)
    }

    /// Drops an open run's task once it has its outcome.
    pub(crate) fn release(&mut self, id: u64) {
        if id < self.fixed.len() as u64 || id < self.open_base {
            return;
        }
        if let Some(slot) = self.open.get_mut((id - self.open_base) as usize) {
            *slot = None;
        }
        while self.open.front().is_some_and(Option::is_none) {
            self.open.pop_front();
            self.open_base += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_tasks_are_dropped_once_done() {
        let mut store = TaskStore::<&str>::new(Arc::new(vec!["a", "b"]));
        assert_eq!(store.add(2, vec!["c", "d", "e"]), 2..5);
        assert_eq!((*store.get(0), *store.get(3)), ("a", "d"));
        store.release(3);
        store.release(2);
        assert_eq!(store.open.len(), 1, "the done prefix is dropped");
        assert_eq!(*store.get(4), "e");
        store.release(4);
        assert!(store.open.is_empty());
        assert_eq!(store.add(5, vec!["f"]), 5..6);
        assert_eq!(*store.get(5), "f");
    }
}
