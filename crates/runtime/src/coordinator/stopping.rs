//! How a run ends: every task done (workers are asked to exit), a stop request (SIGTERM, grace,
//! SIGKILL), or a give-up (restart intensity). Results that arrive while workers leave are
//! kept; every worker has a SIGKILL deadline, including one whose handshake completes after
//! the end.

use super::{Command, Coordinator, Ending, Leaving, Phase, Trace, WorkerSignal};
use crate::supervisor::StopMode;
use std::time::{Duration, Instant};

impl Coordinator {
    /// Ends the run once every task has an outcome and no more can come.
    pub(super) fn check_finished<O>(&mut self, now: Instant, out: &mut Vec<Command<O>>) {
        if self.ending.is_some() || !self.closed || self.outstanding > 0 {
            return;
        }
        self.ending = Some(Ending::Finished);
        self.trace(out, || Trace::Drain);
        out.push(Command::CancelSpawns);
        let grace = self.settings.shutdown_grace;
        for slot in 0..self.slots.len() {
            let generation = self.slots[slot].generation;
            if matches!(self.slots[slot].phase, Phase::Spawning(_)) {
                self.doom_spawning(now, slot, generation, false, out);
            } else if let Phase::Running(worker) = &mut self.slots[slot].phase
                && worker.leaving.is_none()
            {
                worker.leaving = Some(Leaving::Finish);
                worker.kill_by(now + grace);
                if worker.killing.is_none() {
                    out.push(Command::Shutdown { slot, generation });
                }
            }
        }
    }

    /// Stops early on request: nothing more is dispatched or started; workers get SIGTERM and,
    /// after the kill grace (or at once for `Immediate`), SIGKILL. Their deaths charge no
    /// task; results they send meanwhile are kept.
    pub(super) fn stop<O>(
        &mut self,
        now: Instant,
        mode: StopMode,
        reason: String,
        out: &mut Vec<Command<O>>,
    ) {
        self.trace(out, || Trace::Stop {
            reason: reason.clone(),
            immediate: mode == StopMode::Immediate,
        });
        if self.summary.interrupted.is_none() {
            self.summary.interrupted = Some(reason);
        }
        if self.ending.is_none() {
            self.ending = Some(Ending::Stopped);
        }
        let grace = match mode {
            StopMode::Graceful => self.settings.kill_grace,
            StopMode::Immediate => Duration::ZERO,
        };
        self.end_workers(now, grace, out);
    }

    /// Restart intensity exceeded: stop like a graceful stop, with the reason recorded.
    pub(super) fn give_up<O>(&mut self, now: Instant, reason: String, out: &mut Vec<Command<O>>) {
        self.trace(out, || Trace::GaveUp {
            reason: reason.clone(),
        });
        self.summary.gave_up = Some(reason);
        self.ending = Some(Ending::GaveUp);
        self.end_workers(now, self.settings.kill_grace, out);
    }

    /// SIGTERM (or SIGKILL without a grace) to every worker, SIGKILL after `grace`.
    fn end_workers<O>(&mut self, now: Instant, grace: Duration, out: &mut Vec<Command<O>>) {
        self.schedule.clear();
        out.push(Command::CancelSpawns);
        let signal = if grace.is_zero() {
            WorkerSignal::Kill
        } else {
            WorkerSignal::Terminate
        };
        for slot in 0..self.slots.len() {
            let generation = self.slots[slot].generation;
            if matches!(self.slots[slot].phase, Phase::Spawning(_)) {
                self.doom_spawning(now, slot, generation, grace.is_zero(), out);
            } else if let Phase::Running(worker) = &mut self.slots[slot].phase {
                worker.leaving = Some(Leaving::Stop);
                worker.kill_by(now + grace);
                out.push(Command::Signal {
                    slot,
                    generation,
                    signal,
                });
            }
        }
    }

    /// A worker still starting when the run ended: its handshake is aborted as soon as it has
    /// a pid (the worker then removes its handshake socket and exits), and it is killed if it
    /// has not after the abort grace (at once when `immediate`).
    fn doom_spawning<O>(
        &mut self,
        now: Instant,
        slot: usize,
        generation: u64,
        immediate: bool,
        out: &mut Vec<Command<O>>,
    ) {
        if let Phase::Spawning(spawning) = &mut self.slots[slot].phase {
            if !spawning.doomed && spawning.pid.is_some() {
                out.push(Command::AbortSpawn { slot, generation });
            }
            spawning.doomed = true;
            let at = if immediate {
                now
            } else {
                now + self.settings.abort_grace()
            };
            spawning.kill_at = Some(spawning.kill_at.map_or(at, |k| k.min(at)));
            if immediate && spawning.pid.is_some() {
                spawning.kill_at = None;
                out.push(Command::Signal {
                    slot,
                    generation,
                    signal: WorkerSignal::Kill,
                });
            }
        }
    }
}
