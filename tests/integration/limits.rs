//! Per-worker limits: task timeouts (TERM, grace, KILL), recycling after N tasks, and the
//! memory limit, and the heartbeat timeout. Each run's worker pids must all be gone afterwards.

use crate::support::{
    Finished, Tree, assert_all_gone, assert_fault_ok, content, deadline, fault_results,
    reference_sums, run, sigstop, spawn, summary_pids, supervisor_run, wait_for_ps, wait_until,
    workers_of,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Runs the fault job with `-w 2 --format json`, returning the run, its document and its
/// wall time; every worker pid the summary lists must be gone.
fn fault(options: &[&str], job: &[&str]) -> (Finished, Value, Duration) {
    let started = Instant::now();
    let done = spawn(
        supervisor_run()
            .args(["-w", "2", "--format", "json"])
            .args(options)
            .arg("fault")
            .args(job),
    )
    .finish();
    let took = started.elapsed();
    let doc = done.json();
    assert_all_gone(&summary_pids(&doc));
    (done, doc, took)
}

#[test]
fn a_hung_task_and_one_that_ignores_sigterm_both_time_out() {
    let (done, doc, took) = fault(
        &[
            "--task-timeout",
            "1s",
            "--kill-grace",
            "500ms",
            "--retries",
            "0",
        ],
        &["--tasks", "12", "--hang-on", "3", "--ignore-term-on", "5"],
    );
    done.assert_code(1);
    // Two 1 s timeouts (possibly in parallel) plus a 500 ms grace; 10 s leaves room for a
    // loaded machine but not for a kill that never comes (the tasks would hang forever, and
    // a worker that ignores SIGTERM would need the default 2 s grace at least).
    assert!(took < Duration::from_secs(10), "the run took {took:?}");
    let results = fault_results(&doc);
    assert_eq!(
        results.keys().copied().collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>(),
        "{doc}"
    );
    for (&item, r) in &results {
        if item == 3 || item == 5 {
            assert_eq!(r["error"], "timed out after 1s", "item {item}: {r}");
            assert!(r.get("value").is_none(), "{r}");
            assert_eq!(r["attempts"], 1, "--retries 0 allows one attempt: {r}");
        } else {
            assert_fault_ok(item, r);
        }
    }
    let summary = &doc["summary"];
    assert!(summary["timeouts"].as_u64().unwrap() >= 2, "{summary}");
    assert_eq!(summary["failed"], 2, "{summary}");
    assert_eq!(summary["ok"], 10, "{summary}");
    assert_eq!(summary["not_run"], 0, "{summary}");
    for item in [3, 5] {
        let line = format!("task {item} timed out after 1s");
        assert!(
            done.stderr.contains(&line),
            "no {line:?} on stderr:\n{}",
            done.stderr
        );
    }
    // The worker that ignored SIGTERM had to be killed with SIGKILL after the grace period.
    assert!(
        done.stderr.contains("killed by SIGKILL"),
        "the SIGTERM-ignoring worker was not SIGKILLed:\n{}",
        done.stderr
    );
}

#[test]
fn max_tasks_per_child_recycles_workers_without_losing_results() {
    let (done, doc, _) = fault(&["--max-tasks-per-child", "3"], &["--tasks", "100"]);
    done.assert_code(0);
    let results = fault_results(&doc);
    assert_eq!(results.len(), 100, "{doc}");
    for (&item, r) in &results {
        assert_fault_ok(item, r);
        assert_eq!(r["attempts"], 1, "{r}");
    }
    let summary = &doc["summary"];
    let spawned = summary["workers_spawned"].as_u64().unwrap();
    let recycled = summary["recycled"].as_u64().unwrap();
    // 100 tasks at most 3 per worker need at least 34 workers. Every worker is recycled but
    // those still serving when the run ends: at most one per slot (how the last tasks split
    // between the two slots depends on timing).
    assert!(spawned >= 34, "workers_spawned {spawned}: {summary}");
    assert!(
        recycled + 2 >= spawned,
        "recycled {recycled} of {spawned}: {summary}"
    );
    assert_eq!(summary["worker_crashes"], 0, "{summary}");
    assert_eq!(summary["retried"], 0, "{summary}");
    // Every spawned worker is listed once; no worker ran more than 3 tasks, so a slot ran at
    // most 3 per pid it had; and the slots account for all 100 tasks.
    let pids = summary_pids(&doc);
    let distinct: BTreeSet<i32> = pids.iter().copied().collect();
    assert_eq!(distinct.len(), pids.len(), "a pid listed twice: {pids:?}");
    assert_eq!(pids.len() as u64, spawned, "{summary}");
    let mut slot_tasks = 0;
    for w in summary["workers"].as_array().unwrap() {
        let tasks = w["tasks"].as_u64().unwrap();
        let workers = w["pids"].as_array().unwrap().len() as u64;
        assert!(
            tasks <= 3 * workers,
            "slot ran {tasks} tasks with {workers} workers: {w}"
        );
        slot_tasks += tasks;
    }
    assert_eq!(slot_tasks, 100, "{summary}");
}

#[test]
fn a_task_over_the_memory_limit_fails_alone() {
    // NEVER run --alloc-on without --memory-limit: it allocates without bound.
    let (done, doc, _) = fault(
        &["--memory-limit", "64M", "--retries", "0"],
        &["--tasks", "6", "--alloc-on", "2"],
    );
    done.assert_code(1);
    let results = fault_results(&doc);
    assert_eq!(results.len(), 6, "{doc}");
    for (&item, r) in &results {
        if item == 2 {
            let error = r["error"]
                .as_str()
                .unwrap_or_else(|| panic!("item 2 did not fail: {r}"));
            assert!(
                error.contains("exceeded --memory-limit of 64 MiB"),
                "the failure does not name the memory limit: {error:?}"
            );
            assert_eq!(r["attempts"], 1, "{r}");
        } else {
            assert_fault_ok(item, r);
        }
    }
    assert_eq!(doc["summary"]["failed"], 1, "{}", doc["summary"]);
    assert_eq!(doc["summary"]["ok"], 5, "{}", doc["summary"]);
}

/// A worker that stops responding (SIGSTOPped, so its heartbeat thread is silent too) is
/// killed after --heartbeat-timeout and replaced; its tasks are run again elsewhere and no
/// result is lost.
#[test]
fn a_stopped_worker_is_killed_after_the_heartbeat_timeout() {
    let running = spawn(supervisor_run().args([
        "-w",
        "2",
        "--heartbeat-timeout",
        "1s",
        "--kill-grace",
        "200ms",
        "--format",
        "json",
        "fault",
        "--tasks",
        "60",
        "--sleep-ms",
        "50",
    ]));
    let parent = running.pid();
    let (busy, view) = wait_for_ps(parent, 20, |v| v.done >= 4);
    assert!(busy, "the run never got going: {view:?}");
    let mut workers = Vec::new();
    assert!(
        wait_until(deadline(10), || {
            workers = workers_of(parent);
            !workers.is_empty()
        }),
        "no worker"
    );
    let stopped = workers[0];
    sigstop(stopped);
    let done = running.finish();
    done.assert_code(0);
    let doc = done.json();
    let mut pids = summary_pids(&doc);
    assert!(pids.contains(&stopped), "{stopped} not in {pids:?}");
    pids.push(stopped);
    assert_all_gone(&pids);
    let results = fault_results(&doc);
    assert_eq!(results.len(), 60, "{doc}");
    for (&item, r) in &results {
        assert_fault_ok(item, r);
    }
    assert!(
        done.stderr.contains(&format!("worker {stopped} (slot ")),
        "stderr:\n{}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains("stopped responding (no heartbeat for 1s)"),
        "stderr:\n{}",
        done.stderr
    );
    let summary = &doc["summary"];
    assert!(
        summary["workers_spawned"].as_u64().unwrap() >= 3,
        "the stopped worker was not replaced: {summary}"
    );
}

#[test]
fn md5_side_by_side_fits_a_small_memory_limit() {
    // Groups of files read whole into an arena: under a limit too small for the whole arena
    // the files must be streamed instead, with no allocation failure and no crash.
    let mut tree = Tree::empty();
    for i in 0..40u64 {
        tree.add(
            format!("f{i:02}").as_bytes(),
            &content(i, (1 << 20) - i as usize),
        );
    }
    let done = run(supervisor_run()
        .args([
            "-w",
            "2",
            "--memory-limit",
            "12M",
            "--format",
            "sums",
            "hash",
        ])
        .arg(tree.root()));
    done.assert_code(0);
    assert_eq!(
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&reference_sums("md5sum", &tree.files))
    );
    assert!(done.stderr.contains(", 0 crashes"), "{}", done.stderr);
}
