//! Handing batches to workers, and the chaos monkey.

use super::*;

impl<J: Job> Run<'_, J> {
    /// Hands batches to every live worker with room in its window.
    pub(super) fn dispatch(&mut self) {
        if self.finishing {
            return;
        }
        loop {
            let mut progressed = false;
            for slot in 0..self.slots.len() {
                if self.schedule.is_empty() {
                    return;
                }
                let Phase::Live(live) = &mut self.slots[slot].phase else {
                    continue;
                };
                if live.batches.len() >= WINDOW
                    || live.garbled
                    || live.chaos_killed
                    || live.killing.is_some()
                {
                    continue;
                }
                // A worker being recycled gets no more than its share in all.
                let room = match self.config.max_tasks_per_child {
                    Some(cap) => cap.saturating_sub(live.sent),
                    None => u64::MAX,
                };
                if room == 0 {
                    continue;
                }
                // A second, queued batch only pays off for small tasks (it hides the round
                // trip); a big task queued behind another would be stuck while other workers
                // idle, which ruins largest-first balancing.
                if !live.batches.is_empty() && !self.schedule.next_is_small() {
                    continue;
                }
                let Some(sender) = &live.tasks else { continue };
                let batch = self
                    .schedule
                    .next_batch(usize::try_from(room).unwrap_or(usize::MAX));
                if batch.is_empty() {
                    return;
                }
                let frame = ToWorker::Batch(
                    batch
                        .iter()
                        .map(|&id| (id, &self.tasks[id as usize]))
                        .collect(),
                );
                let encoded = match protocol::encode(&frame) {
                    Ok(bytes) => bytes,
                    // Encoding our own task types cannot fail short of a bug in a Serialize impl;
                    // leave the tasks queued rather than lose them.
                    Err(_) => return,
                };
                // A send to a dead worker fails; the tasks stay in flight and are requeued
                // when its exit arrives.
                let _ = sender.send(&encoded);
                live.inflight.extend(batch.iter().copied());
                live.sent += batch.len() as u64;
                live.batches.push_back(batch.len());
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
    }

    pub(super) fn chaos_kill(&mut self) {
        let busy: Vec<usize> = (0..self.slots.len())
            .filter(|&s| match &self.slots[s].phase {
                Phase::Live(live) => {
                    !live.inflight.is_empty() && !live.chaos_killed && live.killing.is_none()
                }
                _ => false,
            })
            .collect();
        if busy.is_empty() {
            return;
        }
        let slot = busy[self.rng.usize(..busy.len())];
        if let Phase::Live(live) = &mut self.slots[slot].phase {
            live.chaos_killed = true;
            live.child.kill();
        }
    }
}
