//! The fault job's data: the plan, the tasks it yields and their outputs.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What one fault task does after its initial sleep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultAction {
    /// Return `item * item`.
    Succeed,
    /// Die by SIGSEGV.
    Segfault,
    /// Die by SIGABRT via `std::process::abort`.
    Abort,
    /// Exit with this status without returning a result.
    Exit(i32),
    /// Panic with a message naming the item.
    Panic,
    /// Never return.
    SleepForever,
    /// Ignore SIGTERM, then never return: only SIGKILL ends it.
    IgnoreTermAndSleep,
    /// Allocate and touch memory without bound, until a memory limit kills the process.
    Allocate,
    /// Die by SIGKILL on the first attempt for this item, succeed on later ones (needs a
    /// marker directory shared by all attempts).
    CrashOnce,
}

/// One task of the fault job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultTask {
    /// The item number; the output is `item * item`.
    pub item: u64,
    /// What to do after sleeping.
    pub action: FaultAction,
    /// Milliseconds to sleep before acting, so tests can keep workers busy.
    pub sleep_ms: u64,
    /// Directory (raw path bytes) where [`FaultAction::CrashOnce`] records first attempts.
    pub marker_dir: Option<Vec<u8>>,
}

/// The result of a fault task that succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultOutput {
    /// The task's item.
    pub item: u64,
    /// `item * item` (wrapping, so huge items cannot panic by accident).
    pub value: u64,
}

/// Which items of a run misbehave, and how.
///
/// An item listed under several actions gets the first in field order: segfault, abort, exit,
/// panic, hang, ignore-term, alloc, crash-once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Number of tasks; items are `0..tasks`.
    pub tasks: u64,
    /// Items that die by SIGSEGV.
    pub segfault_on: Vec<u64>,
    /// Items that abort.
    pub abort_on: Vec<u64>,
    /// Items that exit with [`FaultPlan::exit_code`].
    pub exit_on: Vec<u64>,
    /// The status used by `exit_on` items.
    pub exit_code: i32,
    /// Items that panic.
    pub panic_on: Vec<u64>,
    /// Items that sleep forever.
    pub hang_on: Vec<u64>,
    /// Items that ignore SIGTERM and sleep forever.
    pub ignore_term_on: Vec<u64>,
    /// Items that allocate without bound.
    pub alloc_on: Vec<u64>,
    /// Items that crash on their first attempt only.
    pub crash_once_on: Vec<u64>,
    /// Where crash-once markers go; must be shared by all worker processes of the run.
    pub marker_dir: Option<PathBuf>,
    /// Sleep before acting, for every task.
    pub sleep_ms: u64,
}

impl FaultPlan {
    /// The tasks of this plan, items `0..tasks` in order.
    pub fn tasks(&self) -> Vec<FaultTask> {
        let marker_dir = self
            .marker_dir
            .as_ref()
            .map(|dir| dir.as_os_str().as_bytes().to_vec());
        (0..self.tasks)
            .map(|item| FaultTask {
                item,
                action: self.action_for(item),
                sleep_ms: self.sleep_ms,
                marker_dir: marker_dir.clone(),
            })
            .collect()
    }

    fn action_for(&self, item: u64) -> FaultAction {
        let rules = [
            (&self.segfault_on, FaultAction::Segfault),
            (&self.abort_on, FaultAction::Abort),
            (&self.exit_on, FaultAction::Exit(self.exit_code)),
            (&self.panic_on, FaultAction::Panic),
            (&self.hang_on, FaultAction::SleepForever),
            (&self.ignore_term_on, FaultAction::IgnoreTermAndSleep),
            (&self.alloc_on, FaultAction::Allocate),
            (&self.crash_once_on, FaultAction::CrashOnce),
        ];
        rules
            .into_iter()
            .find(|(items, _)| items.contains(&item))
            .map_or(FaultAction::Succeed, |(_, action)| action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_plan_is_all_success() {
        let plan = FaultPlan {
            tasks: 3,
            sleep_ms: 5,
            ..FaultPlan::default()
        };
        let tasks = plan.tasks();
        assert_eq!(tasks.len(), 3);
        for (i, task) in tasks.iter().enumerate() {
            assert_eq!(task.item, i as u64);
            assert_eq!(task.action, FaultAction::Succeed);
            assert_eq!(task.sleep_ms, 5);
            assert_eq!(task.marker_dir, None);
        }
    }

    #[test]
    fn each_list_maps_to_its_action() {
        let plan = FaultPlan {
            tasks: 10,
            segfault_on: vec![1],
            abort_on: vec![2],
            exit_on: vec![3],
            exit_code: 7,
            panic_on: vec![4],
            hang_on: vec![5],
            ignore_term_on: vec![6],
            alloc_on: vec![7],
            crash_once_on: vec![8],
            marker_dir: Some(PathBuf::from("/tmp/markers")),
            sleep_ms: 0,
        };
        let actions: Vec<_> = plan.tasks().iter().map(|t| t.action).collect();
        assert_eq!(
            actions,
            [
                FaultAction::Succeed,
                FaultAction::Segfault,
                FaultAction::Abort,
                FaultAction::Exit(7),
                FaultAction::Panic,
                FaultAction::SleepForever,
                FaultAction::IgnoreTermAndSleep,
                FaultAction::Allocate,
                FaultAction::CrashOnce,
                FaultAction::Succeed,
            ]
        );
        assert!(
            plan.tasks()
                .iter()
                .all(|t| t.marker_dir.as_deref() == Some(b"/tmp/markers".as_slice()))
        );
    }

    #[test]
    fn first_listed_action_wins_and_out_of_range_items_are_ignored() {
        let plan = FaultPlan {
            tasks: 2,
            panic_on: vec![1, 99],
            segfault_on: vec![1],
            ..FaultPlan::default()
        };
        let tasks = plan.tasks();
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[1].action, FaultAction::Segfault);
    }

    #[test]
    fn tasks_round_trip_through_bincode() {
        let config = bincode::config::standard();
        let task = FaultTask {
            item: 42,
            action: FaultAction::Exit(-3),
            sleep_ms: 9,
            marker_dir: Some(b"/tmp/\xff".to_vec()),
        };
        let bytes = bincode::serde::encode_to_vec(&task, config).unwrap();
        let (back, _): (FaultTask, usize) =
            bincode::serde::decode_from_slice(&bytes, config).unwrap();
        assert_eq!(back, task);
    }
}
