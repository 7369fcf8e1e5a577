//! Handing batches to workers, and the chaos monkey.

use super::{BatchIds, Command, Coordinator, KillCause, Phase, Trace, WorkerSignal};
use std::time::Instant;

impl Coordinator {
    /// Hands batches to every available worker with room in its window.
    pub(super) fn dispatch<O>(&mut self, _now: Instant, out: &mut Vec<Command<O>>) {
        if self.ending.is_some() {
            return;
        }
        loop {
            let mut progressed = false;
            for slot in 0..self.slots.len() {
                if self.schedule.is_empty() {
                    return;
                }
                let generation = self.slots[slot].generation;
                let Phase::Running(worker) = &mut self.slots[slot].phase else {
                    continue;
                };
                if worker.batches.len() >= self.settings.window || !worker.available() {
                    continue;
                }
                // A worker being recycled gets no more than its share in all.
                let room = match self.settings.max_tasks_per_child {
                    Some(cap) => cap.saturating_sub(worker.sent),
                    None => u64::MAX,
                };
                if room == 0 {
                    continue;
                }
                // A second, queued batch only pays off for small tasks (it hides the round
                // trip); a big task queued behind another would be stuck while other workers
                // idle, which ruins largest-first balancing.
                if !worker.batches.is_empty() && !self.schedule.next_is_small(&self.tasks) {
                    continue;
                }
                let batch = self
                    .schedule
                    .next_batch(usize::try_from(room).unwrap_or(usize::MAX), &self.tasks);
                if batch.is_empty() {
                    return;
                }
                worker.inflight.extend(batch.iter().copied());
                worker.sent += batch.len() as u64;
                worker.batches.push_back(batch.len());
                // The record follows the send: the executor reads the labels right after
                // encoding the same tasks.
                let trace = self.settings.trace.then(|| {
                    Command::Trace(Trace::Batch {
                        slot,
                        pid: worker.pid,
                        ids: BatchIds::of(&batch),
                        labels: Vec::new(),
                    })
                });
                // Only an isolated task (a batch of one) can have been charged an attempt.
                let deaths = match batch.as_slice() {
                    [id] => u32::from(self.tasks.get(*id).attempts),
                    _ => 0,
                };
                out.push(Command::Send {
                    slot,
                    generation,
                    ids: batch,
                    deaths,
                });
                out.extend(trace);
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
    }

    /// SIGKILLs a random busy worker (`--chaos-kill-every`).
    pub(super) fn chaos_kill<O>(&mut self, out: &mut Vec<Command<O>>) {
        let busy: Vec<usize> = (0..self.slots.len())
            .filter(|&s| match &self.slots[s].phase {
                Phase::Running(w) => !w.inflight.is_empty() && w.available(),
                _ => false,
            })
            .collect();
        if busy.is_empty() {
            return;
        }
        let slot = busy[self.rng.usize(..busy.len())];
        let generation = self.slots[slot].generation;
        if let Phase::Running(worker) = &mut self.slots[slot].phase {
            worker.chaos_killed = true;
            let pid = worker.pid;
            out.push(Command::Signal {
                slot,
                generation,
                signal: WorkerSignal::Kill,
            });
            self.trace(out, || Trace::Kill {
                slot,
                pid,
                cause: KillCause::Chaos,
                task: None,
            });
        }
    }
}
