//! Ctrl-Z: every worker is stopped with the supervisor, and the time spent stopped does not
//! count against any task or heartbeat timeout.

use super::{Command, Coordinator, Phase, Trace, WorkerSignal};
use crate::scoreboard::Vitals;
use std::time::Instant;

/// The intervals (scoreboard milliseconds) during which the run was suspended.
#[derive(Default, Debug)]
pub(crate) struct Pauses {
    intervals: Vec<(u64, u64)>,
}

impl Pauses {
    fn add(&mut self, from_ms: u64, to_ms: u64) {
        if to_ms > from_ms {
            self.intervals.push((from_ms, to_ms));
        }
    }

    /// Paused milliseconds after `since_ms`.
    fn paused_since(&self, since_ms: u64) -> u64 {
        self.intervals
            .iter()
            .map(|&(from, to)| to.saturating_sub(from.max(since_ms)))
            .sum()
    }

    /// A worker's vitals as if the pauses had not happened: its task started later by the
    /// paused time, and its heartbeat is no older than the last resume.
    pub(crate) fn adjust(&self, mut seen: Vitals) -> Vitals {
        if seen.current_task.is_some() {
            seen.task_started_ms += self.paused_since(seen.task_started_ms);
        }
        if seen.heartbeat_ms != 0
            && let Some(&(_, resumed)) = self.intervals.last()
        {
            seen.heartbeat_ms = seen.heartbeat_ms.max(resumed);
        }
        seen
    }
}

impl Coordinator {
    pub(super) fn suspend<O>(&mut self, now: Instant, now_ms: u64, out: &mut Vec<Command<O>>) {
        if self.suspended.is_some() {
            return;
        }
        self.suspended = Some((now, now_ms));
        self.trace(out, || Trace::Suspend);
        self.signal_all(WorkerSignal::Stop, out);
    }

    pub(super) fn resume<O>(&mut self, now: Instant, now_ms: u64, out: &mut Vec<Command<O>>) {
        if let Some((at, at_ms)) = self.suspended.take() {
            self.trace(out, || Trace::Resume);
            let paused = now.saturating_duration_since(at);
            self.pauses.add(at_ms, now_ms);
            let shift = |t: &mut Option<Instant>| {
                if let Some(t) = t {
                    *t += paused;
                }
            };
            shift(&mut self.next_chaos);
            shift(&mut self.next_watch);
            for slot in &mut self.slots {
                if let Phase::Running(worker) = &mut slot.phase {
                    shift(&mut worker.kill_at);
                }
            }
        }
        self.signal_all(WorkerSignal::Continue, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paused_time_is_taken_out_of_a_task_and_its_heartbeat() {
        let mut p = Pauses::default();
        p.add(1_000, 6_000);
        let seen = Vitals {
            current_task: Some(3),
            task_started_ms: 500,
            heartbeat_ms: 900,
            task_started_us: 0,
        };
        let adjusted = p.adjust(seen);
        assert_eq!(adjusted.task_started_ms, 5_500);
        assert_eq!(adjusted.heartbeat_ms, 6_000);
        let later = Vitals {
            current_task: Some(4),
            task_started_ms: 7_000,
            heartbeat_ms: 0,
            task_started_us: 0,
        };
        assert_eq!(
            p.adjust(later),
            later,
            "a task after the pause is not moved"
        );
    }
}
