//! Results coming back, final outcomes, and the end of a run.

use super::*;

impl<J: Job> Run<'_, J> {
    pub(super) fn on_results(
        &mut self,
        slot: usize,
        results: Vec<(u64, TaskResult<J::Output>)>,
        obs: &mut impl Observer<J::Task, J::Output>,
    ) {
        for (id, result) in results {
            let Phase::Live(live) = &mut self.slots[slot].phase else {
                return;
            };
            if live.inflight.front() != Some(&id) {
                obs.notice(&Notice::Misbehaved {
                    slot,
                    pid: live.child.pid(),
                    reason: format!("answered task {id} out of order"),
                });
                live.garbled = true;
                live.child.kill();
                return;
            }
            live.inflight.pop_front();
            live.front_done += 1;
            if live.batches.front() == Some(&live.front_done) {
                live.batches.pop_front();
                live.front_done = 0;
            }
            self.slots[slot].stats.tasks += 1;
            let attempts = self.attempts[id as usize] + 1;
            let outcome = Outcome {
                result: match result {
                    TaskResult::Done(output) => Ok(output),
                    TaskResult::Panicked(message) => Err(Failure::Panicked(message)),
                },
                attempts,
            };
            self.finish_task(id, outcome, obs);
        }
        self.recycle_if_spent(slot);
        self.dispatch();
    }

    pub(super) fn finish_task(
        &mut self,
        id: u64,
        outcome: Outcome<J::Output>,
        obs: &mut impl Observer<J::Task, J::Output>,
    ) {
        match &outcome.result {
            Ok(_) => self.summary.completed += 1,
            Err(_) => self.summary.failed += 1,
        }
        obs.outcome(id as usize, &self.tasks[id as usize], &outcome);
        self.outcomes[id as usize] = Some(outcome);
        self.check_finished();
    }

    pub(super) fn check_finished(&mut self) {
        if !self.finishing && self.summary.completed + self.summary.failed == self.summary.tasks {
            self.begin_finishing();
        }
    }

    pub(super) fn begin_finishing(&mut self) {
        self.finishing = true;
        self.drain_deadline = Some(Instant::now() + self.config.shutdown_grace);
        for slot in 0..self.slots.len() {
            self.stop_slot(slot);
        }
    }
}
