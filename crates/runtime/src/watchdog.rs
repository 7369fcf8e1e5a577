//! Judging a live worker from its scoreboard slot: has its task run past the task timeout, or
//! has its heartbeat gone silent, and if neither, when is the earliest it could?
//!
//! Pure arithmetic on the scoreboard's millisecond clock, so the rules are tested without
//! processes; the coordinator does the killing.

use crate::scoreboard::Vitals;
use std::time::Duration;

/// The limits being enforced.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) task_timeout: Option<Duration>,
    pub(crate) heartbeat_timeout: Option<Duration>,
    /// Added to every deadline: the clock's resolution, by which a measured interval can
    /// fall short of the true one ([`crate::scoreboard::tick_ms`]).
    pub(crate) slack_ms: u64,
}

/// What the watchdog concluded about one worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within its limits; nothing can be overdue before `recheck_ms` (ms since the epoch).
    /// `None`: no deadline is known yet (no task marked as started, no heartbeat yet), so
    /// the caller polls.
    Healthy { recheck_ms: Option<u64> },
    /// `task` has run longer than the task timeout.
    TaskTimedOut { task: u64 },
    /// No heartbeat for longer than the heartbeat timeout; `task` was running, if any.
    Silent { task: Option<u64> },
}

impl Limits {
    /// True when there is anything to enforce.
    pub(crate) fn any(&self) -> bool {
        self.task_timeout.is_some() || self.heartbeat_timeout.is_some()
    }

    /// Judges a worker whose slot reads `vitals`, at `now_ms`.
    ///
    /// A worker with no heartbeat yet (the parent clears a slot's beat when its worker exits)
    /// is not judged by its heartbeat until it has beaten once, since one that cannot (its
    /// scoreboard failed to attach) would otherwise be killed over and over, charging nothing.
    /// A deadline is passed only when `now_ms` is strictly beyond it, and deadlines include
    /// the clock's resolution, so that a task is never cut short of its full timeout.
    pub(crate) fn judge(&self, vitals: Vitals, now_ms: u64) -> Verdict {
        let deadline = |from_ms: u64, timeout: Duration| {
            let ms = timeout.as_millis().min(u64::MAX as u128) as u64;
            from_ms.saturating_add(ms).saturating_add(self.slack_ms)
        };
        let task_deadline = match (self.task_timeout, vitals.current_task) {
            (Some(timeout), Some(task)) => Some((task, deadline(vitals.task_started_ms, timeout))),
            _ => None,
        };
        let beat_deadline = self
            .heartbeat_timeout
            .filter(|_| vitals.heartbeat_ms != 0)
            .map(|timeout| deadline(vitals.heartbeat_ms, timeout));
        if let Some((task, at)) = task_deadline
            && now_ms > at
            && beat_deadline.is_none_or(|beat| at <= beat)
        {
            return Verdict::TaskTimedOut { task };
        }
        if beat_deadline.is_some_and(|at| now_ms > at) {
            return Verdict::Silent {
                task: vitals.current_task,
            };
        }
        let recheck = [task_deadline.map(|(_, at)| at), beat_deadline]
            .into_iter()
            .flatten()
            .min()
            .map(|at| at + 1);
        Verdict::Healthy {
            recheck_ms: recheck,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        task_timeout: Some(Duration::from_secs(2)),
        heartbeat_timeout: Some(Duration::from_secs(5)),
        slack_ms: 0,
    };

    fn vitals(task: Option<u64>, started: u64, beat: u64) -> Vitals {
        Vitals {
            current_task: task,
            task_started_ms: started,
            heartbeat_ms: beat,
            task_started_us: 0,
        }
    }

    #[test]
    fn a_task_times_out_only_past_its_full_timeout() {
        let v = vitals(Some(7), 1_000, 2_900);
        assert_eq!(
            LIMITS.judge(v, 3_000),
            Verdict::Healthy {
                recheck_ms: Some(3_001)
            }
        );
        assert_eq!(LIMITS.judge(v, 3_001), Verdict::TaskTimedOut { task: 7 });
    }

    #[test]
    fn an_idle_worker_is_only_watched_for_its_heartbeat() {
        let v = vitals(None, 0, 10_000);
        assert_eq!(
            LIMITS.judge(v, 12_000),
            Verdict::Healthy {
                recheck_ms: Some(15_001)
            }
        );
        assert_eq!(LIMITS.judge(v, 15_001), Verdict::Silent { task: None });
    }

    #[test]
    fn a_stopped_worker_is_silent_and_its_task_named() {
        let limits = Limits {
            task_timeout: None,
            heartbeat_timeout: Some(Duration::from_secs(1)),
            slack_ms: 0,
        };
        let v = vitals(Some(3), 500, 600);
        assert_eq!(limits.judge(v, 1_601), Verdict::Silent { task: Some(3) });
    }

    #[test]
    fn a_worker_is_judged_by_its_heartbeat_only_once_it_has_beaten() {
        let v = vitals(None, 0, 0);
        assert_eq!(
            LIMITS.judge(v, 90_000),
            Verdict::Healthy { recheck_ms: None }
        );
        // One beat, even in the very millisecond the worker was spawned, is enough.
        let v = vitals(None, 0, 50_000);
        assert_eq!(LIMITS.judge(v, 90_000), Verdict::Silent { task: None });
    }

    #[test]
    fn deadlines_include_the_clock_resolution() {
        let coarse = Limits {
            slack_ms: 4,
            ..LIMITS
        };
        let v = vitals(Some(7), 1_000, 2_900);
        assert_eq!(
            coarse.judge(v, 3_004),
            Verdict::Healthy {
                recheck_ms: Some(3_005)
            }
        );
        assert_eq!(coarse.judge(v, 3_005), Verdict::TaskTimedOut { task: 7 });
    }

    #[test]
    fn whichever_limit_passed_first_is_reported() {
        // Stopped while running: the heartbeat went silent before the task's time was up.
        let v = vitals(Some(1), 1_000, 1_000);
        let limits = Limits {
            task_timeout: Some(Duration::from_secs(10)),
            heartbeat_timeout: Some(Duration::from_secs(1)),
            slack_ms: 0,
        };
        assert_eq!(limits.judge(v, 20_000), Verdict::Silent { task: Some(1) });
        assert_eq!(LIMITS.judge(v, 20_000), Verdict::TaskTimedOut { task: 1 });
    }

    #[test]
    fn without_limits_nothing_is_due() {
        let none = Limits {
            task_timeout: None,
            heartbeat_timeout: None,
            slack_ms: 0,
        };
        assert!(!none.any());
        assert_eq!(
            none.judge(vitals(Some(1), 0, 0), u64::MAX),
            Verdict::Healthy { recheck_ms: None }
        );
    }
}
