//! Which task goes to which worker next: pull-based, cost-ordered, adaptive batches, fair
//! between calls, and the one-task-per-message isolation of work that was in flight when a
//! worker died.
//!
//! Each submission (one `run`, one `map` call, one `apply`) is a *flow*. Flows take turns,
//! batch by batch, so a short call runs while a long one is in progress; within a flow the
//! costliest tasks go first (longest-processing-time-first shortens the tail).

use super::tasks::TaskTable;
use std::collections::VecDeque;

struct Flow {
    id: u32,
    /// Tasks not yet sent, costliest first (requeued ones at the front).
    pending: VecDeque<u64>,
    /// Total cost of `pending`.
    queued_cost: u64,
}

/// The queues of tasks that still need a worker.
pub(crate) struct Schedule {
    /// Tasks that were in the batch a worker died in: each is sent alone, so a task that
    /// kills its worker can only ever take itself down. They go before everything else.
    isolated: VecDeque<u64>,
    /// Flows with pending tasks, in turn order.
    flows: VecDeque<Flow>,
    next_flow: u32,
    /// Total cost of every flow's pending tasks.
    queued_cost: u64,
    workers: u64,
    max_batch: usize,
    /// Costs below this are ties in a flow's order.
    costliest_first_from: u64,
}

impl Schedule {
    pub(crate) fn new(workers: usize, max_batch: usize, costliest_first_from: u64) -> Self {
        Schedule {
            isolated: VecDeque::new(),
            flows: VecDeque::new(),
            next_flow: 0,
            queued_cost: 0,
            workers: workers.max(1) as u64,
            max_batch,
            costliest_first_from,
        }
    }

    pub(crate) fn new_flow_id(&mut self) -> u32 {
        let id = self.next_flow;
        self.next_flow = self.next_flow.wrapping_add(1);
        id
    }

    /// Queues a call's tasks as flow `id`, costliest first (ties keep their order; costs below
    /// `costliest_first_from` are all ties).
    pub(crate) fn add_flow(
        &mut self,
        id: u32,
        ids: impl IntoIterator<Item = u64>,
        tasks: &TaskTable,
    ) {
        let mut ids: Vec<u64> = ids.into_iter().collect();
        let floor = self.costliest_first_from;
        let key = |t: u64| {
            Some(tasks.cost(t))
                .filter(|&cost| cost >= floor)
                .unwrap_or(0)
        };
        let queued_cost = ids.iter().map(|&t| tasks.cost(t)).sum();
        // Equal keys (the common case for many jobs) are already in order.
        let pending = if ids.windows(2).any(|w| key(w[0]) < key(w[1])) {
            // Only the tasks with a key are sorted; those without (all ties, often most of a
            // big flow: a tree's small files) keep their order after them. A million tasks
            // sorted whole took 30 ms before the first worker had work.
            let mut keyed: Vec<u64> = ids.iter().copied().filter(|&t| key(t) > 0).collect();
            keyed.sort_by_key(|&t| std::cmp::Reverse(key(t)));
            ids.retain(|&t| key(t) == 0);
            let mut pending = VecDeque::from(ids);
            pending.reserve(keyed.len());
            for &t in keyed.iter().rev() {
                pending.push_front(t);
            }
            pending
        } else {
            ids.into()
        };
        self.queued_cost += queued_cost;
        self.flows.push_back(Flow {
            id,
            pending,
            queued_cost,
        });
    }

    /// True when no task waits for a worker.
    pub(crate) fn is_empty(&self) -> bool {
        self.isolated.is_empty() && self.flows.is_empty()
    }

    /// The cost a batch of `flow` aims at: a quarter of an even share per worker of what the
    /// flow has queued, so batches shrink as it nears its end and no worker is left holding
    /// a long tail.
    fn budget(&self, flow: &Flow) -> u64 {
        (flow.queued_cost / (self.workers * 4)).max(1)
    }

    /// True when the next task is cheap relative to an even share of all queued work (an
    /// isolated task never is): queueing it behind a running batch hides a round trip,
    /// where queueing a big one would leave it stuck while other workers idle.
    pub(crate) fn next_is_small(&self, tasks: &TaskTable) -> bool {
        if !self.isolated.is_empty() {
            return false;
        }
        let budget = (self.queued_cost / (self.workers * 4)).max(1);
        self.flows.front().is_some_and(|flow| {
            flow.pending
                .front()
                .is_some_and(|&id| tasks.cost(id).saturating_mul(2) <= budget)
        })
    }

    /// The next batch for a worker, of at most `limit` tasks (at least one is always given
    /// when any waits), or an empty one if nothing waits. The flow that gave it goes to the
    /// back of the turn order.
    pub(crate) fn next_batch(&mut self, limit: usize, tasks: &TaskTable) -> Vec<u64> {
        if let Some(id) = self.isolated.pop_front() {
            return vec![id];
        }
        let Some(mut flow) = self.flows.pop_front() else {
            return Vec::new();
        };
        let budget = self.budget(&flow);
        let mut batch = Vec::new();
        let mut cost = 0u64;
        while let Some(&id) = flow.pending.front() {
            let c = tasks.cost(id);
            let full = batch.len() >= self.max_batch.min(limit);
            if !batch.is_empty() && (full || cost + c > budget) {
                break;
            }
            flow.pending.pop_front();
            batch.push(id);
            cost += c;
        }
        flow.queued_cost -= cost;
        self.queued_cost -= cost;
        if !flow.pending.is_empty() {
            self.flows.push_back(flow);
        }
        batch
    }

    /// Puts tasks that were in a dead worker's running batch into isolation.
    pub(crate) fn isolate(&mut self, ids: impl IntoIterator<Item = u64>) {
        self.isolated.extend(ids);
    }

    /// Returns never-started tasks to the front of their flows, which take the next turns.
    pub(crate) fn requeue(&mut self, ids: &[u64], tasks: &TaskTable) {
        for &id in ids.iter().rev() {
            let entry = tasks.get(id);
            let mut flow = match self.flows.iter().position(|f| f.id == entry.flow) {
                Some(at) => self.flows.remove(at).expect("position is in range"),
                None => Flow {
                    id: entry.flow,
                    pending: VecDeque::new(),
                    queued_cost: 0,
                },
            };
            flow.pending.push_front(id);
            flow.queued_cost += entry.cost;
            self.queued_cost += entry.cost;
            self.flows.push_front(flow);
        }
    }

    /// Drops everything still queued (the run is stopping).
    pub(crate) fn clear(&mut self) {
        self.isolated.clear();
        self.flows.clear();
        self.queued_cost = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(costs: &[u64], flow: u32) -> TaskTable {
        let mut t = TaskTable::default();
        for (id, &c) in costs.iter().enumerate() {
            t.push(id as u64, c, flow);
        }
        t
    }

    fn one_flow(costs: &[u64], workers: usize, max_batch: usize) -> (Schedule, TaskTable) {
        let t = table(costs, 0);
        let mut s = Schedule::new(workers, max_batch, 0);
        let id = s.new_flow_id();
        s.add_flow(id, 0..costs.len() as u64, &t);
        (s, t)
    }

    /// The order one flow of `costs` is dispatched in, one task at a time.
    fn dispatch_order(costs: &[u64], costliest_first_from: u64) -> Vec<u64> {
        let t = table(costs, 0);
        let mut s = Schedule::new(1, 64, costliest_first_from);
        let id = s.new_flow_id();
        s.add_flow(id, 0..costs.len() as u64, &t);
        let mut order = Vec::new();
        while !s.is_empty() {
            order.extend(s.next_batch(1, &t));
        }
        order
    }

    #[test]
    fn costs_below_the_floor_are_ties_that_keep_their_order() {
        let costs = [5u64, 300, 7, 100, 2, 1000, 99, 100];
        // 1000, 300, then the two 100s in their order; the rest as submitted.
        assert_eq!(dispatch_order(&costs, 100), vec![5, 1, 3, 7, 0, 2, 4, 6]);
        // Without a floor, every cost counts.
        assert_eq!(dispatch_order(&costs, 0), vec![5, 1, 3, 7, 6, 2, 0, 4]);
    }

    #[test]
    fn the_order_is_a_stable_sort_by_key() {
        // Sorting only the keyed tasks must give what one stable sort of them all gives, with
        // and without a floor, whatever share of the tasks are ties at zero.
        let mut rng = fastrand::Rng::with_seed(7);
        for zeros in [0u32, 50, 90, 100] {
            let costs: Vec<u64> = (0..500)
                .map(|_| {
                    if rng.u32(0..100) < zeros {
                        0
                    } else {
                        rng.u64(0..40)
                    }
                })
                .collect();
            for floor in [0u64, 20] {
                let key = |c: u64| if c >= floor { c } else { 0 };
                let mut want: Vec<u64> = (0..costs.len() as u64).collect();
                want.sort_by_key(|&t| std::cmp::Reverse(key(costs[t as usize])));
                assert_eq!(
                    dispatch_order(&costs, floor),
                    want,
                    "{zeros}% zeros, floor {floor}"
                );
            }
        }
    }

    #[test]
    fn costliest_first_and_batches_shrink() {
        let mut costs = vec![1u64; 200];
        costs[150] = 10_000;
        let (mut s, t) = one_flow(&costs, 2, 64);
        assert_eq!(
            s.next_batch(usize::MAX, &t),
            vec![150],
            "the big task goes alone, first"
        );
        let b = s.next_batch(usize::MAX, &t);
        assert!(b.len() <= 64 && !b.is_empty());
        assert_eq!(b[0], 0, "ties keep task order");
        let mut seen = b.len() + 1;
        while !s.is_empty() {
            seen += s.next_batch(usize::MAX, &t).len();
        }
        assert_eq!(seen, 200);
    }

    #[test]
    fn isolated_tasks_go_one_at_a_time_before_the_rest() {
        let (mut s, t) = one_flow(&[1; 40], 1, 64);
        let first = s.next_batch(usize::MAX, &t);
        s.isolate(first[1..3].iter().copied());
        s.requeue(&first[3..], &t);
        assert_eq!(s.next_batch(usize::MAX, &t), vec![first[1]]);
        assert_eq!(s.next_batch(usize::MAX, &t), vec![first[2]]);
        assert_eq!(s.next_batch(usize::MAX, &t)[0], first[3]);
    }

    #[test]
    fn a_limit_caps_the_batch() {
        let (mut s, t) = one_flow(&[1; 40], 1, 64);
        assert_eq!(s.next_batch(3, &t).len(), 3);
        assert_eq!(
            s.next_batch(0, &t).len(),
            1,
            "never an empty batch while tasks wait"
        );
    }

    #[test]
    fn flows_take_turns() {
        let mut t = TaskTable::default();
        for id in 0..1000 {
            t.push(id, 1, 0);
        }
        t.push(1000, 1, 1);
        let mut s = Schedule::new(2, 16, 0);
        let long = s.new_flow_id();
        s.add_flow(long, 0..1000, &t);
        let short = s.new_flow_id();
        s.add_flow(short, vec![1000], &t);
        let first = s.next_batch(usize::MAX, &t);
        assert!(first.iter().all(|&id| id < 1000));
        assert_eq!(
            s.next_batch(usize::MAX, &t),
            vec![1000],
            "the short call runs next, not after the long one"
        );
    }

    #[test]
    fn requeued_tasks_return_to_their_own_flow() {
        let mut t = TaskTable::default();
        for id in 0..10 {
            t.push(id, 1, (id / 5) as u32);
        }
        let mut s = Schedule::new(1, 2, 0);
        s.add_flow(0, 0..5, &t);
        s.add_flow(1, 5..10, &t);
        let a = s.next_batch(usize::MAX, &t);
        assert!(!a.is_empty() && a.iter().all(|&id| id < 5), "{a:?}");
        s.requeue(&a, &t);
        assert_eq!(
            s.next_batch(usize::MAX, &t)[0],
            a[0],
            "requeued work goes first"
        );
        let mut all = vec![a[0]];
        while !s.is_empty() {
            all.extend(s.next_batch(usize::MAX, &t));
        }
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }
}
