//! Which task goes to which worker next: pull-based, cost-ordered, adaptive batches, and the
//! one-task-per-message isolation of work that was in flight when a worker died.

use std::collections::VecDeque;

/// The queues of tasks that still need a worker.
pub(crate) struct Schedule {
    costs: Vec<u64>,
    /// Fresh (or requeued but never started) tasks, costliest first.
    pending: VecDeque<u64>,
    /// Tasks that were in the batch a worker died in: each is sent alone, so a task that
    /// kills its worker can only ever take itself down.
    isolated: VecDeque<u64>,
    /// Total cost of `pending` and `isolated`.
    queued_cost: u64,
    workers: u64,
    max_batch: usize,
}

impl Schedule {
    /// Tasks `0..costs.len()`, dispatched costliest first (longest-processing-time-first
    /// shortens the tail); ties keep task order.
    pub(crate) fn new(costs: Vec<u64>, workers: usize, max_batch: usize) -> Self {
        let mut order: Vec<u64> = (0..costs.len() as u64).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(costs[i as usize]));
        let queued_cost = costs.iter().sum();
        Schedule {
            costs,
            pending: order.into(),
            isolated: VecDeque::new(),
            queued_cost,
            workers: workers as u64,
            max_batch,
        }
    }

    /// The cost of task `id`.
    pub(crate) fn cost(&self, id: u64) -> u64 {
        self.costs[id as usize]
    }

    /// True when no task waits for a worker.
    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.isolated.is_empty()
    }

    /// The cost a batch aims at: a quarter of an even share of what is queued per worker.
    fn budget(&self) -> u64 {
        (self.queued_cost / (self.workers * 4)).max(1)
    }

    /// True when the next batch would hold several tasks, i.e. the next task is cheap
    /// relative to the batch budget (an isolated task never is).
    pub(crate) fn next_is_small(&self) -> bool {
        self.isolated.is_empty()
            && self
                .pending
                .front()
                .is_some_and(|&id| self.cost(id).saturating_mul(2) <= self.budget())
    }

    /// The next batch for a worker, of at most `limit` tasks (at least one is always given
    /// when any waits), or an empty one if nothing waits.
    ///
    /// A batch aims at a quarter of an even share of the remaining cost per worker, so batches
    /// shrink as the run nears its end and no worker is left holding a long tail.
    pub(crate) fn next_batch(&mut self, limit: usize) -> Vec<u64> {
        if let Some(id) = self.isolated.pop_front() {
            self.queued_cost -= self.cost(id);
            return vec![id];
        }
        let budget = self.budget();
        let mut batch = Vec::new();
        let mut cost = 0u64;
        while let Some(&id) = self.pending.front() {
            let c = self.cost(id);
            let full = batch.len() >= self.max_batch.min(limit);
            if !batch.is_empty() && (full || cost + c > budget) {
                break;
            }
            self.pending.pop_front();
            batch.push(id);
            cost += c;
        }
        self.queued_cost -= cost;
        batch
    }

    /// Puts tasks that were in a dead worker's running batch into isolation.
    pub(crate) fn isolate(&mut self, ids: impl IntoIterator<Item = u64>) {
        for id in ids {
            self.queued_cost += self.cost(id);
            self.isolated.push_back(id);
        }
    }

    /// Returns never-started tasks to the front of the ordinary queue.
    pub(crate) fn requeue(&mut self, ids: impl DoubleEndedIterator<Item = u64>) {
        for id in ids.rev() {
            self.queued_cost += self.cost(id);
            self.pending.push_front(id);
        }
    }

    /// Drops everything still queued (the run is stopping) and returns how many were dropped.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.pending.len() + self.isolated.len();
        self.pending.clear();
        self.isolated.clear();
        self.queued_cost = 0;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costliest_first_and_batches_shrink() {
        let mut costs = vec![1u64; 200];
        costs[150] = 10_000;
        let mut s = Schedule::new(costs, 2, 64);
        assert_eq!(
            s.next_batch(usize::MAX),
            vec![150],
            "the big task goes alone, first"
        );
        let b = s.next_batch(usize::MAX);
        assert!(b.len() <= 64 && !b.is_empty());
        assert_eq!(b[0], 0, "ties keep task order");
        let mut seen = b.len() + 1;
        while !s.is_empty() {
            seen += s.next_batch(usize::MAX).len();
        }
        assert_eq!(seen, 200);
    }

    #[test]
    fn isolated_tasks_go_one_at_a_time_before_the_rest() {
        let mut s = Schedule::new(vec![1; 40], 1, 64);
        let first = s.next_batch(usize::MAX);
        s.isolate(first[1..3].iter().copied());
        s.requeue(first[3..].iter().copied());
        assert_eq!(s.next_batch(usize::MAX), vec![first[1]]);
        assert_eq!(s.next_batch(usize::MAX), vec![first[2]]);
        assert_eq!(s.next_batch(usize::MAX)[0], first[3]);
    }

    #[test]
    fn a_limit_caps_the_batch() {
        let mut s = Schedule::new(vec![1; 40], 1, 64);
        assert_eq!(s.next_batch(3).len(), 3);
        assert_eq!(
            s.next_batch(0).len(),
            1,
            "never an empty batch while tasks wait"
        );
    }
}
