//! How workers end: asked to, recycled, crashed, or stopped with the whole run; and what a
//! death costs (attempts, restart intensity).

use super::{
    AttemptEnd, BoardUpdate, Command, Coordinator, ExitCause, Leaving, NoticeData, Phase,
    SpawnReason, Trace, Worker, exit_state, exit_stats,
};
use crate::process::ExitInfo;
use crate::report::{Failure, Outcome};
use crate::scoreboard::{SlotState, Vitals};
use std::time::Instant;

impl Coordinator {
    pub(super) fn on_exited<O>(
        &mut self,
        now: Instant,
        slot: usize,
        info: ExitInfo,
        seen: Vitals,
        out: &mut Vec<Command<O>>,
    ) {
        let phase = std::mem::replace(&mut self.slots[slot].phase, Phase::Idle);
        let Phase::Running(worker) = phase else {
            // Exits are reported only for connected workers; anything else is stale news.
            self.slots[slot].phase = phase;
            return;
        };
        self.account_exit(slot, &info);
        out.push(Command::Board(BoardUpdate::ClearMarks { slot }));
        let pid = worker.pid;
        let leaving = |cause| Trace::Exit {
            slot,
            pid,
            cause,
            stats: exit_stats(&info),
        };
        match worker.leaving {
            Some(Leaving::Recycle) if info.exit.is_success() => {
                self.trace(out, || leaving(ExitCause::Recycle))
            }
            // An unclean exit on the way out is a crash (counted as one below).
            Some(Leaving::Recycle) => self.trace(out, || leaving(ExitCause::Crash)),
            Some(Leaving::Finish) => self.trace(out, || leaving(ExitCause::Finish)),
            Some(Leaving::Stop) => self.trace(out, || leaving(ExitCause::Stop)),
            None => {}
        }
        match worker.leaving {
            Some(Leaving::Recycle) => {
                out.push(Command::Board(BoardUpdate::State {
                    slot,
                    state: exit_state(&info.exit),
                }));
                self.on_recycled(now, slot, worker.pid, &info, out);
            }
            Some(Leaving::Finish | Leaving::Stop) => {
                // What it still held stays without an outcome: the run is over.
                out.push(Command::Board(BoardUpdate::State {
                    slot,
                    state: exit_state(&info.exit),
                }));
            }
            None => self.on_worker_death(now, slot, worker, info, seen, out),
        }
    }

    /// A recycled worker exited: refill the slot while the run goes on. It held no tasks, so
    /// nothing is requeued; an unclean exit on the way out is still reported as a crash.
    fn on_recycled<O>(
        &mut self,
        now: Instant,
        slot: usize,
        pid: u32,
        info: &ExitInfo,
        out: &mut Vec<Command<O>>,
    ) {
        if info.exit.is_success() {
            self.summary.recycled += 1;
        } else {
            self.summary.worker_crashes += 1;
            if self.ending.is_none() {
                out.push(Command::Notice(NoticeData::WorkerDied {
                    slot,
                    pid,
                    exit: info.exit,
                    chaos: false,
                    stderr_tail: info.stderr_tail.clone(),
                }));
                self.note_restart(
                    now,
                    format!("worker {pid} (slot {slot}) {}", info.exit),
                    out,
                );
            }
        }
        if self.ending.is_none() {
            // Not `replace`: a recycle is not a restart.
            self.request_spawn(slot, SpawnReason::Recycle, out);
        }
    }

    fn on_worker_death<O>(
        &mut self,
        now: Instant,
        slot: usize,
        mut worker: Worker,
        info: ExitInfo,
        seen: Vitals,
        out: &mut Vec<Command<O>>,
    ) {
        out.push(Command::Board(BoardUpdate::State {
            slot,
            state: SlotState::Dead,
        }));
        self.summary.worker_crashes += 1;
        let pid = worker.pid;
        // Which task was running: the scoreboard says, if the worker got that far; a worker
        // that never marked a task runs its tasks in order, so it was the first unanswered
        // one. A worker the watchdog killed is charged for the task it was killed for, if
        // still unanswered, and nothing else (a successor task that started during the grace
        // is not its fault).
        let killed = worker.killing.take();
        let cause = match &killed {
            Some(k) if matches!(k.failure, Failure::Unresponsive { .. }) => ExitCause::Heartbeat,
            Some(_) => ExitCause::Timeout,
            None if worker.chaos_killed => ExitCause::Chaos,
            None if worker.garbled => ExitCause::Protocol,
            None if worker.setup_failed => ExitCause::Setup,
            None => ExitCause::Crash,
        };
        self.trace(out, || Trace::Exit {
            slot,
            pid,
            cause,
            stats: exit_stats(&info),
        });
        let running = match seen.current_task {
            _ if worker.setup_failed => None,
            _ if killed.is_some() => killed
                .as_ref()
                .and_then(|k| k.task)
                .filter(|id| worker.inflight.contains(id)),
            Some(id) if worker.inflight.contains(&id) => Some(id),
            Some(_) => None,
            None if seen.heartbeat_ms == 0 => worker.inflight.front().copied(),
            None => None,
        };
        if self.ending.is_none() {
            out.push(Command::Notice(NoticeData::WorkerDied {
                slot,
                pid,
                exit: info.exit,
                chaos: worker.chaos_killed,
                stderr_tail: info.stderr_tail.clone(),
            }));
        }
        if killed.is_some() {
            // The supervisor ended it: not a sign that something is systematically wrong.
            self.summary.timeouts += 1;
        } else if worker.chaos_killed {
            self.summary.chaos_kills += 1;
        } else {
            self.note_restart(
                now,
                format!("worker {pid} (slot {slot}) {}", info.exit),
                out,
            );
        }
        // Split what the worker held: its running batch is isolated (one task per message
        // from now on), batches it never started go back to their queues.
        let front_len = worker.batches.front().map_or(0, |n| n - worker.front_done);
        let held: Vec<u64> = worker.inflight.drain(..).collect();
        let (front, rest) = held.split_at(front_len.min(held.len()));
        let mut isolate = Vec::new();
        for &id in front {
            if Some(id) == running {
                let tries = self.tasks.charge(id);
                if self.settings.trace {
                    let end = match cause {
                        ExitCause::Chaos => AttemptEnd::Chaos,
                        ExitCause::Timeout => AttemptEnd::TimedOut,
                        ExitCause::Heartbeat => AttemptEnd::Unresponsive,
                        _ => AttemptEnd::Crashed,
                    };
                    out.push(Command::Trace(Trace::Task {
                        id,
                        slot,
                        pid,
                        attempt: tries,
                        end,
                        span: None,
                        started_us: if seen.current_task == Some(id) {
                            seen.task_started_us
                        } else {
                            0
                        },
                        cost: self.tasks.cost(id),
                    }));
                }
                if tries <= self.settings.retries {
                    self.summary.retried += 1;
                    self.trace(out, || Trace::Retry {
                        id,
                        attempt: tries + 1,
                    });
                } else {
                    let failure = match &killed {
                        Some(killing) => killing.failure.clone(),
                        None => self.crash_failure(&info),
                    };
                    let outcome = Outcome {
                        result: Err(failure),
                        attempts: tries,
                    };
                    self.finish_task(now, id, outcome, out);
                    continue;
                }
            }
            isolate.push(id);
        }
        if self.ending.is_none() {
            self.schedule.isolate(isolate);
            self.schedule.requeue(rest, &self.tasks);
        }
        self.replace(slot, out);
        self.dispatch(now, out);
    }

    /// Records an unexpected death for the restart-intensity limit, giving up past it.
    pub(super) fn note_restart<O>(
        &mut self,
        now: Instant,
        reason: String,
        out: &mut Vec<Command<O>>,
    ) {
        self.restarts.push_back(now);
        while self
            .restarts
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > self.settings.restart_window)
        {
            self.restarts.pop_front();
        }
        if self.restarts.len() > self.settings.max_restarts as usize && self.ending.is_none() {
            self.give_up(
                now,
                format!(
                    "more than {} worker restarts within {:?} (last: {reason})",
                    self.settings.max_restarts, self.settings.restart_window
                ),
                out,
            );
        }
    }
}
