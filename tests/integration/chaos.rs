//! Workers killed during a run, by the built-in chaos monkey or by the test itself: the output
//! must be exactly what an undisturbed run gives.

use crate::support::{
    RUN_LIMIT, assert_all_gone, awkward_tree, crashes_in_text_summary, deadline, maps_memfd,
    reference_sums, result_path, run, sigkill, spawn, summary_pids, supervisor_run, wait_until,
    workers_of,
};
use std::collections::BTreeSet;

#[test]
fn chaos_kills_do_not_change_the_sums() {
    // The largest file must hash well within the chaos interval even on a loaded machine:
    // near the end of a run it may be the only busy task, and the only possible victim.
    let tree = awkward_tree(300, 1 << 20);
    let expected = reference_sums("md5sum", &tree.files);
    let expected_digests: Vec<(Vec<u8>, String)> = String::from_utf8_lossy(&expected)
        .lines()
        .map(|l| l.to_owned())
        .zip(tree.files.iter())
        .map(|(line, path)| {
            let hex = line.trim_start_matches('\\')[..32].to_owned();
            (path.clone(), hex)
        })
        .collect();

    let mut sums_crashes = 0;
    let mut json_crashes = 0;
    for (seed, every) in [(1, "20ms"), (2, "10ms"), (3, "5ms"), (4, "5ms")] {
        let chaos = [
            "-w",
            "2",
            "--retries",
            "100",
            "--chaos-kill-every",
            every,
            "--chaos-seed",
            &seed.to_string(),
        ]
        .map(String::from);

        if sums_crashes == 0 {
            let done = run(supervisor_run()
                .args(&chaos)
                .args(["--format", "sums", "hash"])
                .arg(tree.root()));
            done.assert_code(0);
            assert_eq!(
                String::from_utf8_lossy(&done.stdout),
                String::from_utf8_lossy(&expected),
                "seed {seed}: sums under chaos differ from md5sum"
            );
            assert_eq!(done.stdout, expected);
            sums_crashes = crashes_in_text_summary(&done.stderr);
        }

        if json_crashes == 0 {
            let done = run(supervisor_run()
                .args(&chaos)
                .args(["--format", "json", "hash"])
                .arg(tree.root()));
            done.assert_code(0);
            let doc = done.json();
            let summary = &doc["summary"];
            assert_eq!(summary["failed"], 0, "summary: {summary}");
            assert_eq!(summary["tasks"], tree.files.len() as u64);
            let got: Vec<(Vec<u8>, String)> = doc["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    assert!(r.get("error").is_none(), "error row under chaos: {r}");
                    (result_path(r), r["digest"].as_str().unwrap().to_owned())
                })
                .collect();
            assert_eq!(got, expected_digests, "seed {seed}: json results differ");
            json_crashes = summary["worker_crashes"].as_u64().unwrap();
            if json_crashes > 0 {
                assert!(summary["chaos_kills"].as_u64().unwrap() > 0);
                assert!(summary["workers_spawned"].as_u64().unwrap() > 2);
            }
            assert_all_gone(&summary_pids(&doc));
        }
        if sums_crashes > 0 && json_crashes > 0 {
            break;
        }
    }
    assert!(sums_crashes > 0, "no chaos kill happened in any sums run");
    assert!(json_crashes > 0, "no chaos kill happened in any json run");
}

#[test]
fn workers_killed_from_outside_lose_nothing() {
    const TASKS: u64 = 200;
    const KILLS: usize = 4;
    let mut running = spawn(supervisor_run().args([
        "-w",
        "2",
        "--retries",
        "10",
        "--max-restarts",
        "100",
        "--format",
        "json",
        "fault",
        "--tasks",
        &TASKS.to_string(),
        "--sleep-ms",
        "20",
    ]));
    let parent = running.pid();
    let end = deadline(20);
    let mut killed: Vec<i32> = Vec::new();
    while killed.len() < KILLS {
        // A worker we have not killed yet that is past its start: it has mapped the run's
        // scoreboard (a memfd), which it does once its handshake is done and its setup came.
        // Killing it earlier would be a failed start rather than a crash.
        let mut victim = None;
        let found = wait_until(end, || {
            victim = workers_of(parent)
                .into_iter()
                .find(|p| !killed.contains(p) && maps_memfd(*p));
            victim.is_some() || running.child.try_wait().unwrap().is_some()
        });
        assert!(
            found,
            "no fresh worker appeared (killed so far: {killed:?})"
        );
        let Some(victim) = victim else {
            panic!("the run ended after only {} kills", killed.len())
        };
        sigkill(victim);
        killed.push(victim);
        assert_all_gone(&[victim]);
    }
    let done = running.finish_within(RUN_LIMIT);
    done.assert_code(0);
    let doc = done.json();
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len() as u64, TASKS);
    let mut items = BTreeSet::new();
    for r in results {
        let item = r["item"].as_u64().unwrap();
        assert_eq!(r["value"], item * item, "wrong or failed result: {r}");
        assert!(r.get("error").is_none(), "{r}");
        items.insert(item);
    }
    assert_eq!(items, (0..TASKS).collect::<BTreeSet<_>>());
    let summary = &doc["summary"];
    assert_eq!(summary["failed"], 0);
    assert!(
        summary["worker_crashes"].as_u64().unwrap() >= KILLS as u64,
        "killed {killed:?}; summary: {summary}\nstderr:\n{}",
        done.stderr
    );
    assert!(
        summary["retried"].as_u64().unwrap() >= 1,
        "summary: {summary}"
    );
    let retried_items = results
        .iter()
        .filter(|r| r["attempts"].as_u64().unwrap() > 1)
        .count();
    assert!(retried_items >= 1, "no result shows a second attempt");
    let pids = summary_pids(&doc);
    for pid in &killed {
        assert!(
            pids.contains(pid),
            "killed worker {pid} missing from {pids:?}"
        );
        assert!(
            done.stderr.contains(&format!("worker {pid} ")) && done.stderr.contains("SIGKILL"),
            "stderr does not report the death of {pid}:\n{}",
            done.stderr
        );
    }
    assert_all_gone(&pids);
}
