//! The event loop: waiting for the next event or deadline, and routing each event.

use super::*;

impl<J: Job> Run<'_, J> {
    pub(super) fn event_loop(
        &mut self,
        events: Receiver<Event<J::Output>>,
        started: Instant,
        obs: &mut impl Observer<J::Task, J::Output>,
    ) -> Result<(), Error> {
        let workers = self.board.slots();
        for slot in 0..workers {
            self.slots.push(Slot {
                generation: 0,
                phase: Phase::Idle,
                stats: SlotSummary::default(),
                restarts: 0,
            });
            if !self.tasks.is_empty() {
                self.request_spawn(slot);
            }
        }
        self.check_finished();
        let mut next_chaos = self.config.chaos.map(|c| started + c.every);
        let watching = self.limits.any() || self.config.max_tasks_per_child.is_some();
        let mut next_watch: Option<Instant> = None;
        while self.slots.iter().any(|s| !matches!(s.phase, Phase::Idle)) {
            let now = Instant::now();
            let wake = [next_chaos, self.drain_deadline, next_watch]
                .into_iter()
                .flatten()
                .min();
            let event = match wake {
                Some(at) if at <= now => None,
                Some(at) => match events.recv_timeout(at - now) {
                    Ok(event) => Some(event),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                },
                None => match events.recv() {
                    Ok(event) => Some(event),
                    Err(_) => break,
                },
            };
            let had_event = event.is_some();
            match event {
                Some(event) => self.handle(event, obs),
                None => {
                    let now = Instant::now();
                    if let (Some(at), Some(chaos)) = (next_chaos, self.config.chaos)
                        && at <= now
                    {
                        self.chaos_kill();
                        next_chaos = Some(now + chaos.every);
                    }
                    if self.drain_deadline.is_some_and(|at| at <= now) {
                        self.drain_deadline = None;
                        for slot in &self.slots {
                            match &slot.phase {
                                Phase::Draining(drain) => drain.child.kill(),
                                Phase::Live(live) => live.child.kill(),
                                _ => {}
                            }
                        }
                    }
                }
            }
            if watching {
                // Events change what there is to watch (a task dispatched, a worker
                // connected), so look again soon after one; between events the watchdog
                // sleeps until the earliest deadline it computed.
                let now = Instant::now();
                if had_event {
                    let soon = now + limits::TICK;
                    next_watch = Some(next_watch.map_or(soon, |at| at.min(soon)));
                }
                if next_watch.is_some_and(|at| at <= now) {
                    next_watch = self.watch(obs);
                }
            }
            if self.finishing {
                next_chaos = None;
            }
            self.publish_progress();
        }
        Ok(())
    }

    pub(super) fn handle(
        &mut self,
        event: Event<J::Output>,
        obs: &mut impl Observer<J::Task, J::Output>,
    ) {
        match event {
            Event::Stop { mode, reason } => self.stop(mode, reason),
            Event::Spawned {
                slot,
                generation,
                spawned,
            } => self.on_spawned(slot, generation, spawned, obs),
            Event::Results {
                slot,
                generation,
                results,
            } => {
                if self.slots[slot].generation == generation {
                    self.on_results(slot, results, obs);
                }
            }
            Event::Garbled {
                slot,
                generation,
                reason,
            } => {
                if let Some(live) = self.current_live(slot, generation) {
                    let pid = live.child.pid();
                    live.garbled = true;
                    live.child.kill();
                    obs.notice(&Notice::Misbehaved { slot, pid, reason });
                }
            }
            Event::SetupFailed {
                slot,
                generation,
                reason,
            } => {
                if let Some(live) = self.current_live(slot, generation) {
                    live.setup_failed = true;
                    obs.notice(&Notice::SpawnFailed {
                        slot,
                        message: format!("the job could not start: {reason}"),
                    });
                }
            }
            Event::Exited {
                slot,
                generation,
                info,
            } => {
                if self.slots[slot].generation == generation {
                    self.on_exited(slot, info, obs);
                }
            }
        }
    }

    /// The slot's live worker, if the event (from `generation`) is about it and not about a
    /// predecessor whose news arrived late.
    pub(super) fn current_live(&mut self, slot: usize, generation: u64) -> Option<&mut Live> {
        let s = &mut self.slots[slot];
        match &mut s.phase {
            Phase::Live(live) if s.generation == generation => Some(live),
            _ => None,
        }
    }

    pub(super) fn publish_progress(&self) {
        self.board.set_progress(
            self.summary.completed + self.summary.failed,
            self.summary.failed,
            self.summary.retried,
            self.summary.worker_crashes,
            self.summary.workers_spawned,
        );
    }
}
