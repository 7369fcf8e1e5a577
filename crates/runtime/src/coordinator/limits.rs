//! The per-worker limits: task and heartbeat timeouts (TERM, grace, KILL), recycling after
//! `max_tasks_per_child`, and naming a memory-limit death.

use super::{
    Command, Coordinator, KillCause, Leaving, NoticeData, Phase, Trace, WATCH_TICK, WorkerSignal,
};
use crate::process::ExitInfo;
use crate::report::Failure;
use crate::scoreboard::Vitals;
use crate::watchdog::Verdict;
use std::time::{Duration, Instant};

/// What Rust's default allocation-error handler prints before it aborts.
const ALLOC_FAILED: &str = "memory allocation of";

/// A worker the watchdog is ending: SIGTERM was sent, SIGKILL follows at the worker's
/// `kill_at`.
#[derive(Debug)]
pub(super) struct Killing {
    /// What the task it was killed for is charged with, if its retries run out.
    pub(super) failure: Failure,
    /// The task that overran, or that was running when the heartbeat went silent.
    pub(super) task: Option<u64>,
}

impl Coordinator {
    /// Judges every running worker against the timeouts; returns when to look next.
    pub(super) fn watch<O>(
        &mut self,
        now: Instant,
        now_ms: u64,
        vitals: &[Vitals],
        out: &mut Vec<Command<O>>,
    ) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut soonest = |at: Instant| next = Some(next.map_or(at, |n| n.min(at)));
        for slot in 0..self.slots.len() {
            let generation = self.slots[slot].generation;
            let Phase::Running(worker) = &mut self.slots[slot].phase else {
                continue;
            };
            if worker.killing.is_some() || worker.leaving.is_some() {
                continue;
            }
            let Some(&seen) = vitals.get(slot) else {
                continue;
            };
            let seen = self.pauses.adjust(seen);
            let (failure, task) = match self.settings.limits.judge(seen, now_ms) {
                Verdict::Healthy { recheck_ms } => {
                    match recheck_ms {
                        Some(ms) => soonest(now + Duration::from_millis(ms.saturating_sub(now_ms))),
                        None => soonest(now + WATCH_TICK),
                    }
                    if seen.current_task.is_none() && !worker.inflight.is_empty() {
                        soonest(now + WATCH_TICK);
                    }
                    continue;
                }
                Verdict::TaskTimedOut { task } if worker.inflight.contains(&task) => {
                    let after = self.settings.limits.task_timeout.unwrap_or_default();
                    (Failure::TimedOut { after }, Some(task))
                }
                Verdict::TaskTimedOut { .. } => {
                    // Already answered: the worker is about to clear its marker.
                    soonest(now + WATCH_TICK);
                    continue;
                }
                Verdict::Silent { task } => {
                    let after = self.settings.limits.heartbeat_timeout.unwrap_or_default();
                    let task = task.filter(|id| worker.inflight.contains(id));
                    (Failure::Unresponsive { after }, task)
                }
            };
            let reason = match task {
                Some(id) => format!("task {id} {failure}"),
                None => failure.to_string(),
            };
            out.push(Command::Notice(NoticeData::Misbehaved {
                slot,
                pid: worker.pid,
                reason,
            }));
            out.push(Command::Signal {
                slot,
                generation,
                signal: WorkerSignal::Terminate,
            });
            if self.settings.trace {
                let cause = match failure {
                    Failure::Unresponsive { .. } => KillCause::Heartbeat,
                    _ => KillCause::Timeout,
                };
                out.push(Command::Trace(Trace::Kill {
                    slot,
                    pid: worker.pid,
                    cause,
                    task,
                }));
            }
            worker.killing = Some(Killing { failure, task });
            worker.kill_by(now + self.settings.kill_grace);
        }
        next
    }

    /// Asks a worker that has answered all of its `max_tasks_per_child` tasks to exit, so a
    /// fresh one takes its place.
    pub(super) fn recycle_if_spent<O>(
        &mut self,
        now: Instant,
        slot: usize,
        out: &mut Vec<Command<O>>,
    ) {
        let Some(cap) = self.settings.max_tasks_per_child else {
            return;
        };
        if self.ending.is_some() {
            return;
        }
        let generation = self.slots[slot].generation;
        let grace = self.settings.shutdown_grace;
        if let Phase::Running(worker) = &mut self.slots[slot].phase
            && worker.sent >= cap
            && worker.inflight.is_empty()
            && worker.available()
        {
            worker.leaving = Some(Leaving::Recycle);
            worker.kill_by(now + grace);
            out.push(Command::Shutdown { slot, generation });
        }
    }

    /// The failure of a task whose worker died on its last attempt: an allocation failure
    /// under a memory limit is named as such, anything else by how the worker ended.
    pub(super) fn crash_failure(&self, info: &ExitInfo) -> Failure {
        match self.settings.memory_limit {
            Some(limit) if info.stderr_tail.contains(ALLOC_FAILED) => Failure::OutOfMemory {
                limit,
                exit: info.exit,
            },
            _ => Failure::Crashed {
                exit: info.exit,
                stderr: info.stderr_tail.clone(),
            },
        }
    }
}
