//! The per-worker limits the coordinator enforces: task and heartbeat timeouts (TERM, grace,
//! KILL), recycling after `max_tasks_per_child`, and naming a memory-limit death.
//!
//! All of it runs on the coordinator's thread, from its timer tick ([`Run::watch`]) or its
//! event handlers, like every other scheduling decision.

use super::{Drain, Live, Phase, Run};
use crate::Job;
use crate::observer::{Notice, Observer};
use crate::process::ExitInfo;
use crate::report::Failure;
use crate::scoreboard;
use crate::watchdog::Verdict;
use std::time::{Duration, Instant};

/// How soon the watchdog looks again when it cannot compute a deadline: a worker holds tasks
/// but has not marked one as started yet (it is between tasks), or events just changed things.
pub(super) const TICK: Duration = Duration::from_millis(100);

/// What Rust's default allocation-error handler prints before it aborts.
const ALLOC_FAILED: &str = "memory allocation of";

/// A worker the watchdog is ending: SIGTERM was sent, SIGKILL follows at `kill_at`.
pub(super) struct Killing {
    /// What the task it was killed for is charged with, if its retries run out.
    pub(super) failure: Failure,
    /// The task that overran, or that was running when the heartbeat went silent.
    pub(super) task: Option<u64>,
    /// When SIGKILL follows; `None` once sent.
    pub(super) kill_at: Option<Instant>,
}

impl<J: Job> Run<'_, J> {
    /// Checks every live worker against the timeouts and sends the SIGKILLs that are due;
    /// returns when it next needs to run (`None`: nothing to watch).
    pub(super) fn watch(&mut self, obs: &mut impl Observer<J::Task, J::Output>) -> Option<Instant> {
        let now = Instant::now();
        let now_ms = scoreboard::now_ms();
        let mut next: Option<Instant> = None;
        let mut soonest = |at: Instant| next = Some(next.map_or(at, |n| n.min(at)));
        for slot in 0..self.slots.len() {
            match &mut self.slots[slot].phase {
                Phase::Draining(Drain { child, kill_at, .. }) => {
                    if let Some(at) = *kill_at {
                        if at <= now {
                            child.kill();
                            *kill_at = None;
                        } else {
                            soonest(at);
                        }
                    }
                }
                Phase::Live(live) => {
                    if let Some(killing) = &mut live.killing {
                        if let Some(at) = killing.kill_at {
                            if at <= now {
                                live.child.kill();
                                killing.kill_at = None;
                            } else {
                                soonest(at);
                            }
                        }
                        continue;
                    }
                    if !self.limits.any() {
                        continue;
                    }
                    let vitals = self.board.vitals(slot);
                    let verdict = self.limits.judge(vitals, now_ms);
                    let (failure, task) = match verdict {
                        Verdict::Healthy { recheck_ms } => {
                            match recheck_ms {
                                Some(ms) => {
                                    soonest(now + Duration::from_millis(ms.saturating_sub(now_ms)))
                                }
                                None => soonest(now + TICK),
                            }
                            if vitals.current_task.is_none() && !live.inflight.is_empty() {
                                soonest(now + TICK);
                            }
                            continue;
                        }
                        Verdict::TaskTimedOut { task } if live.inflight.contains(&task) => {
                            let after = self.limits.task_timeout.unwrap_or_default();
                            (Failure::TimedOut { after }, Some(task))
                        }
                        Verdict::TaskTimedOut { .. } => {
                            // Already answered: the worker is about to clear its marker.
                            soonest(now + TICK);
                            continue;
                        }
                        Verdict::Silent { task } => {
                            let after = self.limits.heartbeat_timeout.unwrap_or_default();
                            let task = task.filter(|id| live.inflight.contains(id));
                            (Failure::Unresponsive { after }, task)
                        }
                    };
                    let reason = match task {
                        Some(id) => format!("task {id} {failure}"),
                        None => failure.to_string(),
                    };
                    obs.notice(&Notice::Misbehaved {
                        slot,
                        pid: live.child.pid(),
                        reason,
                    });
                    live.child.terminate();
                    let at = now + self.config.kill_grace;
                    live.killing = Some(Killing {
                        failure,
                        task,
                        kill_at: Some(at),
                    });
                    soonest(at);
                }
                Phase::Idle | Phase::Spawning => {}
            }
        }
        next
    }

    /// Asks a worker that has answered all of its `max_tasks_per_child` tasks to exit, so a
    /// fresh one takes its place.
    pub(super) fn recycle_if_spent(&mut self, slot: usize) {
        let Some(cap) = self.config.max_tasks_per_child else {
            return;
        };
        let spent = matches!(
            &self.slots[slot].phase,
            Phase::Live(Live { sent, inflight, killing: None, garbled: false, chaos_killed: false, .. })
                if *sent >= cap && inflight.is_empty()
        );
        if spent && !self.finishing {
            self.drain_slot(slot, Some(self.config.shutdown_grace));
        }
    }

    /// A recycled worker exited: refill the slot while the run goes on. It held no tasks, so
    /// nothing is requeued; an unclean exit on the way out is still reported as a crash.
    pub(super) fn on_recycled(
        &mut self,
        slot: usize,
        pid: u32,
        info: &ExitInfo,
        obs: &mut impl Observer<J::Task, J::Output>,
    ) {
        if info.exit.is_success() {
            self.summary.recycled += 1;
        } else {
            self.summary.worker_crashes += 1;
            if !self.finishing {
                obs.notice(&Notice::WorkerDied {
                    slot,
                    pid,
                    exit: info.exit,
                    chaos: false,
                    stderr_tail: &info.stderr_tail,
                });
                self.note_restart(format!("worker {pid} (slot {slot}) {}", info.exit));
            }
        }
        if !self.finishing {
            // Not `replace`: a recycle is not a restart.
            self.request_spawn(slot);
        }
    }

    /// The failure of a task whose worker died on its last attempt: an allocation failure
    /// under a memory limit is named as such, anything else by how the worker ended.
    pub(super) fn crash_failure(&self, info: &ExitInfo) -> Failure {
        match self.config.memory_limit {
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
