//! Probing a group of targets at once: the per-task work of the `probe` job.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ProbeResult, Target, probe};

/// The most probes a group runs at once. Probing is waiting, not computing, so one process
/// can wait on many; the cap bounds threads and sockets per worker.
pub const MAX_CONCURRENT: usize = 64;

/// One task of the `probe` job: a group of targets probed together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeTask {
    /// The targets, in output order.
    pub targets: Vec<Target>,
    /// Per target: the time allowed for resolving and connecting together.
    pub timeout: Duration,
}

impl ProbeTask {
    /// [`probe_group`] over the task's targets.
    pub fn run(&self) -> Vec<ProbeResult> {
        probe_group(&self.targets, self.timeout)
    }
}

/// Probes all `targets` concurrently (up to [`MAX_CONCURRENT`] at a time), each with its own
/// `timeout`, and returns the results in input order.
///
/// A group of at most [`MAX_CONCURRENT`] targets therefore takes about one `timeout` at
/// worst, however many are unreachable. The calling thread probes too, so the group finishes
/// even if no helper thread can be started.
pub fn probe_group(targets: &[Target], timeout: Duration) -> Vec<ProbeResult> {
    let slots: Vec<OnceLock<ProbeResult>> = targets.iter().map(|_| OnceLock::new()).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(target) = targets.get(index) else {
                break;
            };
            // Each index is handed out once, so the slot is always empty here.
            let _ = slots[index].set(probe(target, timeout));
        }
    };
    let helpers = targets.len().min(MAX_CONCURRENT).saturating_sub(1);
    thread::scope(|scope| {
        for _ in 0..helpers {
            let spawned = thread::Builder::new()
                .name("probe".into())
                .spawn_scoped(scope, work);
            if spawned.is_err() {
                break;
            }
        }
        work();
    });
    slots
        .into_iter()
        .map(|slot| slot.into_inner().expect("every target was probed"))
        .collect()
}
