//! How workers end: asked to, recycled, crashed, or stopped with the whole run; and what a death costs (attempts, restart intensity).

use super::*;

impl<J: Job> Run<'_, J> {
    /// Asks a live worker to exit (closing its task channel) and waits for it.
    ///
    /// A slot still spawning is left alone: its worker is stopped as soon as it is ready.
    pub(super) fn stop_slot(&mut self, slot: usize) {
        self.drain_slot(slot, None);
    }

    /// Sends a live worker the Shutdown frame and moves it to draining; `recycle_grace` marks
    /// a recycle (the slot is refilled on exit) and bounds how long the worker has to exit.
    pub(super) fn drain_slot(&mut self, slot: usize, recycle_grace: Option<Duration>) {
        let s = &mut self.slots[slot];
        if !matches!(s.phase, Phase::Live(_)) {
            return;
        }
        if let Phase::Live(live) = std::mem::replace(&mut s.phase, Phase::Idle) {
            if let Some(tasks) = &live.tasks
                && let Ok(frame) = protocol::encode(&ToWorker::<()>::Shutdown)
            {
                let _ = tasks.send(&frame);
            }
            // A worker the watchdog is killing keeps its SIGKILL time: it is stuck and will
            // not read the frame.
            let killing_at = live.killing.as_ref().and_then(|k| k.kill_at);
            s.phase = Phase::Draining(Drain {
                child: live.child,
                recycling: recycle_grace.is_some(),
                kill_at: recycle_grace.map(|g| Instant::now() + g).or(killing_at),
            });
        }
    }

    pub(super) fn on_exited(
        &mut self,
        slot: usize,
        info: Result<ExitInfo, Error>,
        obs: &mut impl Observer<J::Task, J::Output>,
    ) {
        let phase = std::mem::replace(&mut self.slots[slot].phase, Phase::Idle);
        let info = match info {
            Ok(info) => info,
            Err(e) => {
                obs.notice(&Notice::Misbehaved {
                    slot,
                    pid: 0,
                    reason: e.to_string(),
                });
                ExitInfo {
                    exit: crate::ExitKind::Exited(-1),
                    max_rss_bytes: 0,
                    cpu: Duration::ZERO,
                    stderr_tail: String::new(),
                }
            }
        };
        self.account_exit(slot, &info);
        match phase {
            Phase::Draining(drain) => {
                let state = if info.exit.is_success() {
                    SlotState::Exited
                } else {
                    SlotState::Dead
                };
                self.board.set_slot_state(slot, state);
                self.board.clear_worker_marks(slot);
                if drain.recycling {
                    self.on_recycled(slot, drain.child.pid(), &info, obs);
                }
            }
            Phase::Live(live) => self.on_worker_death(slot, live, info, obs),
            Phase::Idle | Phase::Spawning => {}
        }
    }

    pub(super) fn account_exit(&mut self, slot: usize, info: &ExitInfo) {
        let stats = &mut self.slots[slot].stats;
        stats.max_rss_bytes = stats.max_rss_bytes.max(info.max_rss_bytes);
        stats.cpu += info.cpu;
    }

    pub(super) fn on_worker_death(
        &mut self,
        slot: usize,
        mut live: Live,
        info: ExitInfo,
        obs: &mut impl Observer<J::Task, J::Output>,
    ) {
        self.board.set_slot_state(slot, SlotState::Dead);
        self.summary.worker_crashes += 1;
        let pid = live.child.pid();
        // Which task was running: the scoreboard says, if the worker got that far; a worker
        // without one runs its tasks in order, so it was the first unanswered one. A worker
        // the watchdog killed is charged for the task it was killed for, if still unanswered,
        // and nothing else (a successor task that started during the grace is not its fault).
        let view = self.board.slot_view(slot);
        self.board.clear_worker_marks(slot);
        let killed = live.killing.take();
        let running = match view.current_task {
            _ if live.setup_failed => None,
            _ if killed.is_some() => killed
                .as_ref()
                .and_then(|k| k.task)
                .filter(|id| live.inflight.contains(id)),
            Some(id) if live.inflight.contains(&id) => Some(id),
            Some(_) => None,
            None if view.heartbeat_ms == 0 => live.inflight.front().copied(),
            None => None,
        };
        if !self.finishing {
            obs.notice(&Notice::WorkerDied {
                slot,
                pid,
                exit: info.exit,
                chaos: live.chaos_killed,
                stderr_tail: &info.stderr_tail,
            });
        }
        if killed.is_some() {
            // The supervisor ended it: not a sign that something is systematically wrong.
            self.summary.timeouts += 1;
        } else if live.chaos_killed {
            self.summary.chaos_kills += 1;
        } else {
            self.note_restart(format!("worker {pid} (slot {slot}) {}", info.exit));
        }
        // Split what the worker held: its running batch is isolated (one task per message from
        // now on), batches it never started go back to the ordinary queue.
        let front_len = live.batches.front().map_or(0, |n| n - live.front_done);
        let held: Vec<u64> = live.inflight.drain(..).collect();
        let (front, rest) = held.split_at(front_len.min(held.len()));
        let mut isolate = Vec::new();
        for &id in front {
            if Some(id) == running {
                self.attempts[id as usize] += 1;
                let tries = self.attempts[id as usize];
                if tries <= self.config.retries {
                    self.summary.retried += 1;
                } else {
                    let failure = match &killed {
                        Some(killing) => killing.failure.clone(),
                        None => self.crash_failure(&info),
                    };
                    let outcome = Outcome {
                        result: Err(failure),
                        attempts: tries,
                    };
                    self.finish_task(id, outcome, obs);
                    continue;
                }
            }
            isolate.push(id);
        }
        if self.finishing {
            // The run already gave up: these stay without an outcome.
        } else {
            self.schedule.isolate(isolate);
            self.schedule.requeue(rest.iter().copied());
        }
        self.replace(slot);
        self.dispatch();
    }

    /// Records an unexpected death for the restart-intensity limit, giving up past it.
    pub(super) fn note_restart(&mut self, reason: String) {
        let now = Instant::now();
        self.restarts.push_back(now);
        while self
            .restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.config.restart_window)
        {
            self.restarts.pop_front();
        }
        if self.restarts.len() > self.config.max_restarts as usize && !self.finishing {
            self.give_up(format!(
                "more than {} worker restarts within {:?} (last: {reason})",
                self.config.max_restarts, self.config.restart_window
            ));
        }
    }

    /// Stops early on request: nothing more is dispatched or respawned; workers get SIGTERM
    /// and, after the grace period (or at once for `Immediate`), SIGKILL. Their deaths are
    /// not crashes and charge no task.
    pub(super) fn stop(&mut self, mode: StopMode, reason: String) {
        if self.summary.interrupted.is_none() {
            self.summary.interrupted = Some(reason);
        }
        self.schedule.clear();
        self.finishing = true;
        let signal = match mode {
            StopMode::Graceful => libc::SIGTERM,
            StopMode::Immediate => libc::SIGKILL,
        };
        let grace = match mode {
            StopMode::Graceful => self.config.kill_grace,
            StopMode::Immediate => Duration::ZERO,
        };
        let deadline = Instant::now() + grace;
        self.drain_deadline = Some(self.drain_deadline.map_or(deadline, |d| d.min(deadline)));
        for slot in &mut self.slots {
            let phase = std::mem::replace(&mut slot.phase, Phase::Idle);
            slot.phase = match phase {
                Phase::Live(live) => {
                    live.child.signal(signal);
                    Phase::Draining(Drain::new(live.child))
                }
                Phase::Draining(drain) => {
                    drain.child.signal(signal);
                    Phase::Draining(drain)
                }
                other => other,
            };
        }
    }

    pub(super) fn give_up(&mut self, reason: String) {
        self.summary.gave_up = Some(reason);
        self.schedule.clear();
        self.finishing = true;
        self.drain_deadline = Some(Instant::now() + self.config.shutdown_grace);
        for slot in 0..self.slots.len() {
            if let Phase::Live(live) = &self.slots[slot].phase {
                live.child.kill();
            }
            self.stop_slot(slot);
        }
    }
}
