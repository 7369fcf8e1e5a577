//! What the coordinator knows of each task: its cost, its call (flow), the attempts its
//! workers' deaths cost it, and whether it has its final outcome.
//!
//! Ids are dense and increasing; finished tasks at the front are dropped, so a long-lived open
//! run holds only the tasks still in progress (and those submitted after the oldest of them).

use std::collections::VecDeque;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub(crate) cost: u64,
    pub(crate) flow: u32,
    /// Times the task was running when its worker died (saturating).
    pub(crate) attempts: u16,
    pub(crate) done: bool,
}

#[derive(Default)]
pub(crate) struct TaskTable {
    /// Id of `entries[0]`.
    base: u64,
    entries: VecDeque<Entry>,
}

impl TaskTable {
    /// Adds tasks `first..` with `costs`; `first` must follow the last id added.
    pub(crate) fn extend(&mut self, first: u64, costs: &[u64], flow: u32) {
        if self.entries.is_empty() && first >= self.base {
            self.base = first;
        }
        debug_assert_eq!(
            first,
            self.base + self.entries.len() as u64,
            "ids are dense"
        );
        self.entries.reserve(costs.len());
        self.entries.extend(costs.iter().map(|&cost| Entry {
            cost,
            flow,
            attempts: 0,
            done: false,
        }));
    }

    /// Adds task `id`, which must be the next id after the last one added.
    #[cfg(test)]
    pub(crate) fn push(&mut self, id: u64, cost: u64, flow: u32) {
        if self.entries.is_empty() && id >= self.base {
            self.base = id;
        }
        debug_assert_eq!(id, self.base + self.entries.len() as u64, "ids are dense");
        self.entries.push_back(Entry {
            cost,
            flow,
            attempts: 0,
            done: false,
        });
    }

    pub(crate) fn get(&self, id: u64) -> &Entry {
        &self.entries[(id - self.base) as usize]
    }

    pub(crate) fn cost(&self, id: u64) -> u64 {
        self.get(id).cost
    }

    /// Charges one attempt to `id` and returns how many it has now.
    pub(crate) fn charge(&mut self, id: u64) -> u32 {
        let entry = &mut self.entries[(id - self.base) as usize];
        entry.attempts = entry.attempts.saturating_add(1);
        u32::from(entry.attempts)
    }

    /// Marks `id` done; false if it already was (or is unknown).
    pub(crate) fn finish(&mut self, id: u64) -> bool {
        let Some(index) = id.checked_sub(self.base) else {
            return false;
        };
        let Some(entry) = self.entries.get_mut(index as usize) else {
            return false;
        };
        if entry.done {
            return false;
        }
        entry.done = true;
        while self.entries.front().is_some_and(|e| e.done) {
            self.entries.pop_front();
            self.base += 1;
        }
        true
    }

    /// Entries held (for tests of the memory bound).
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.entries.len()
    }
}
