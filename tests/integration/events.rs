//! `--events` and `--report`: the lifecycle log of real runs (chaos kills, crashes, timeouts,
//! recycles, Ctrl-C, a give-up) against the summary the same run printed, and the report
//! command's inputs and errors.

use crate::support::{
    BIN, Tree, deadline, fault_results, run, send, spawn, supervisor_run, tempdir, wait_until,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Every line of an events file, each checked to be a JSON object of schema version 1 with a
/// time that never goes back.
pub fn read_events(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(text.ends_with('\n'), "the last line is not complete");
    let mut last_t = 0;
    text.lines()
        .enumerate()
        .map(|(n, line)| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("line {} is not JSON ({e}): {line}", n + 1));
            assert_eq!(v["v"], 2, "line {}: {line}", n + 1);
            let t = v["t"].as_u64().unwrap_or_else(|| panic!("no t: {line}"));
            assert!(t >= last_t, "line {}: time went back: {line}", n + 1);
            last_t = t;
            assert!(v["ev"].is_string(), "line {}: {line}", n + 1);
            v
        })
        .collect()
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["ev"] == kind).collect()
}

/// Exit lines counted by cause.
fn exits_by_cause(events: &[Value]) -> BTreeMap<String, u64> {
    let mut by = BTreeMap::new();
    for e in of_kind(events, "exit") {
        *by.entry(e["cause"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    by
}

/// Checks the counts an events file and the run's JSON summary must agree on.
pub fn assert_events_match_summary(events: &[Value], doc: &Value) {
    let summary = &doc["summary"];
    assert_eq!(events[0]["ev"], "run_start", "{}", events[0]);
    let end = events.last().unwrap();
    assert_eq!(end["ev"], "run_end", "{end}");
    let by = exits_by_cause(events);
    let count = |causes: &[&str]| {
        causes
            .iter()
            .map(|c| by.get(*c).copied().unwrap_or(0))
            .sum::<u64>()
    };
    let deaths = by
        .iter()
        .filter(|(cause, _)| !["finish", "recycle", "stop"].contains(&cause.as_str()))
        .map(|(_, n)| n)
        .sum::<u64>();
    assert_eq!(deaths, summary["worker_crashes"], "exits {by:?}, {summary}");
    assert_eq!(count(&["chaos"]), summary["chaos_kills"], "{by:?}");
    assert_eq!(
        count(&["timeout", "heartbeat"]),
        summary["timeouts"],
        "{by:?}"
    );
    assert_eq!(count(&["recycle"]), summary["recycled"], "{by:?}");
    // Every process spawned ends in an `exit` line, or in a `spawn_failed` one with its pid
    // (e.g. killed as the run ended while it was starting); `ready` only those that took work.
    let spawned: BTreeSet<u64> = events
        .iter()
        .filter(|e| e["ev"] == "exit" || e["ev"] == "spawn_failed")
        .filter_map(|e| e["pid"].as_u64())
        .collect();
    assert_eq!(
        spawned.len() as u64,
        summary["workers_spawned"].as_u64().unwrap(),
    );
    assert!(of_kind(events, "ready").len() <= spawned.len());
    assert_eq!(
        of_kind(events, "retry").len() as u64,
        summary["retried"].as_u64().unwrap(),
    );
    // One task line per attempt of every task that has an outcome.
    let attempts: u64 = fault_results(doc)
        .values()
        .map(|r| r["attempts"].as_u64().unwrap_or(1))
        .sum();
    let tasks = of_kind(events, "task");
    assert_eq!(tasks.len() as u64, attempts, "task lines vs attempts");
    for task in &tasks {
        let (start, dur, t) = (
            task["start"].as_u64().unwrap(),
            task["dur"].as_u64().unwrap(),
            task["t"].as_u64().unwrap(),
        );
        assert!(
            start + dur <= t,
            "an attempt logged before it ended: {task}"
        );
    }
    // The engine's summary in run_end is the same run's.
    for key in [
        "retried",
        "worker_crashes",
        "chaos_kills",
        "timeouts",
        "recycled",
        "workers_spawned",
    ] {
        assert_eq!(end["summary"][key], summary[key], "{key}");
    }
}

#[test]
fn the_events_of_a_chaos_run_agree_with_its_summary() {
    let tmp = tempdir();
    let events = tmp.path().join("events.jsonl");
    let done = run(supervisor_run()
        .args(["-w", "2", "--format", "json", "--max-restarts", "1000"])
        .args(["--chaos-kill-every", "25ms", "--events"])
        .arg(&events)
        .args(["fault", "--tasks", "120", "--sleep-ms", "2"])
        .args(["--segfault-on", "7", "--panic-on", "9"]));
    done.assert_code(1);
    let doc = done.json();
    let log = read_events(&events);
    assert_events_match_summary(&log, &doc);
    let summary = &doc["summary"];
    assert!(summary["chaos_kills"].as_u64().unwrap() > 0, "{summary}");
    assert!(
        summary["worker_crashes"].as_u64().unwrap() > summary["chaos_kills"].as_u64().unwrap(),
        "the segfaults are crashes of their own: {summary}"
    );
    // The segfaulting task: three attempts, each ending with its worker's death (by its own
    // segfault, or by chaos first), then a failure for good.
    let seven: Vec<&Value> = of_kind(&log, "task")
        .into_iter()
        .filter(|t| t["id"] == 7)
        .collect();
    assert_eq!(seven.len(), 3, "{seven:?}");
    assert!(
        seven
            .iter()
            .all(|t| t["outcome"] == "crashed" || t["outcome"] == "chaos")
    );
    assert!(seven.iter().any(|t| t["outcome"] == "crashed"), "{seven:?}");
    // Failed for good: exactly the results that are errors (chaos may take a task's last
    // attempt too).
    let failed: BTreeSet<u64> = of_kind(&log, "failed")
        .iter()
        .map(|f| f["id"].as_u64().unwrap())
        .collect();
    let errors: BTreeSet<u64> = fault_results(&doc)
        .into_iter()
        .filter(|(_, r)| r.get("error").is_some())
        .map(|(item, _)| item)
        .collect();
    assert_eq!(failed, errors);
    assert!(failed.contains(&7) && failed.contains(&9), "{failed:?}");
    let start = &log[0];
    assert_eq!(start["job"], "fault");
    assert_eq!(start["workers"], 2);
    assert_eq!(start["tool"], "supervisor");
    assert!(
        start["argv"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "--events")
    );
    assert_eq!(start["settings"]["chaos_every_ms"], 25.0);
    for ready in of_kind(&log, "ready") {
        assert!(ready["ms"].as_f64().unwrap() >= 0.0, "{ready}");
        assert!(ready["pid"].as_u64().unwrap() > 0, "{ready}");
    }
    for exit in of_kind(&log, "exit") {
        assert!(exit["max_rss"].as_u64().unwrap() > 0, "rusage of {exit}");
        assert!(
            exit.get("status").is_some() || exit.get("signal").is_some(),
            "{exit}"
        );
    }
    assert_eq!(log.last().unwrap()["how"], "finished");
}

/// The run's `tasks` lines name every task once, in id order (the hash job's results list
/// the tasks in task order), and its batch lines, whose tasks are all among them, carry no
/// labels of their own.
#[test]
fn task_labels_name_each_task_of_the_run_once() {
    let mut tree = Tree::empty();
    for i in 0..150usize {
        let name = format!("d{}/sub dir/f{i:03}.txt", i % 7);
        tree.add(name.as_bytes(), &vec![b'x'; (i * 131) % 9000]);
    }
    let tmp = tempdir();
    let events = tmp.path().join("events.jsonl");
    let done = run(supervisor_run()
        .args(["-w", "2", "--format", "json", "--events"])
        .arg(&events)
        .arg("hash")
        .arg(tree.root()));
    done.assert_code(0);
    let doc = done.json();
    let results = doc["results"].as_array().unwrap();
    let log = read_events(&events);
    let mut named = Vec::new();
    for table in of_kind(&log, "tasks") {
        assert_eq!(
            table["first"].as_u64().unwrap(),
            named.len() as u64,
            "{table}"
        );
        for label in table["labels"].as_array().unwrap() {
            named.push(label.as_str().unwrap().to_string());
        }
    }
    assert_eq!(named.len(), results.len(), "every task is named once");
    for (id, label) in named.iter().enumerate() {
        assert_eq!(results[id]["path"], label.as_str(), "task {id}");
    }
    let batches = of_kind(&log, "batch");
    assert!(!batches.is_empty());
    for batch in batches {
        assert!(batch.get("labels").is_none(), "{batch}");
    }
    // Every table line comes before the first batch.
    let first_batch = log.iter().position(|l| l["ev"] == "batch").unwrap();
    let last_table = log.iter().rposition(|l| l["ev"] == "tasks").unwrap();
    assert!(last_table < first_batch);
}

#[test]
fn timeouts_and_recycles_are_logged_with_their_cause() {
    let tmp = tempdir();
    let events = tmp.path().join("events.jsonl");
    let done = run(supervisor_run()
        .args(["-w", "2", "--format", "json", "--retries", "0"])
        .args(["--task-timeout", "300ms", "--kill-grace", "200ms"])
        .args(["--max-tasks-per-child", "4", "--events"])
        .arg(&events)
        .args(["fault", "--tasks", "16", "--hang-on", "3"]));
    done.assert_code(1);
    let doc = done.json();
    let log = read_events(&events);
    assert_events_match_summary(&log, &doc);
    let by = exits_by_cause(&log);
    assert_eq!(by.get("timeout"), Some(&1), "{by:?}");
    assert!(by.get("recycle").copied().unwrap_or(0) > 0, "{by:?}");
    let kills = of_kind(&log, "kill");
    assert_eq!(kills.len(), 1, "{kills:?}");
    assert_eq!(
        (&kills[0]["cause"], &kills[0]["task"]),
        (&"timeout".into(), &3.into())
    );
    let hung: Vec<&Value> = of_kind(&log, "task")
        .into_iter()
        .filter(|t| t["id"] == 3)
        .collect();
    assert_eq!(hung.len(), 1);
    assert_eq!(hung[0]["outcome"], "timed_out");
    assert!(
        hung[0]["dur"].as_u64().unwrap() >= 300_000,
        "it ran past the timeout: {}",
        hung[0]
    );
    let spawns = of_kind(&log, "spawn");
    assert!(
        spawns.iter().any(|s| s["reason"] == "recycle"),
        "{spawns:?}"
    );
}

#[test]
fn an_interrupted_run_leaves_a_complete_log() {
    let tmp = tempdir();
    let events = tmp.path().join("events.jsonl");
    let running = spawn(
        supervisor_run()
            .args(["-w", "2", "--format", "json", "--events"])
            .arg(&events)
            .args(["fault", "--tasks", "400", "--sleep-ms", "20"]),
    );
    // Lines reach the file within 100 ms of happening: wait for a few finished tasks.
    let started = wait_until(deadline(20), || {
        std::fs::read_to_string(&events)
            .map(|text| text.matches("\"ev\":\"task\"").count() >= 5)
            .unwrap_or(false)
    });
    assert!(started, "no task lines while the run goes on");
    send(running.pid(), nix::sys::signal::Signal::SIGINT);
    let done = running.finish_within(Duration::from_secs(15));
    done.assert_code(130);
    let log = read_events(&events);
    let signals = of_kind(&log, "signal");
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0]["signal"], "SIGINT");
    let stops = of_kind(&log, "stop");
    assert_eq!(stops[0]["mode"], "graceful");
    assert!(stops[0]["reason"].as_str().unwrap().contains("SIGINT"));
    let end = log.last().unwrap();
    assert_eq!(
        (&end["ev"], &end["how"]),
        (&"run_end".into(), &"interrupted".into())
    );
    let doc = done.json();
    let finished = of_kind(&log, "task").len();
    assert_eq!(
        finished,
        fault_results(&doc).len(),
        "one task line per result written"
    );
    for exit in of_kind(&log, "exit") {
        assert_eq!(exit["cause"], "stop", "{exit}");
    }
}

#[test]
fn a_run_that_gives_up_leaves_a_complete_log() {
    let tmp = tempdir();
    let events = tmp.path().join("events.jsonl");
    let done = run(supervisor_run()
        .args([
            "-w",
            "2",
            "--format",
            "json",
            "--max-restarts",
            "2",
            "--events",
        ])
        .arg(&events)
        .args(["fault", "--tasks", "30", "--segfault-on", "1,2,3,4,5,6,7,8"]));
    done.assert_code(3);
    let log = read_events(&events);
    let gave_up = of_kind(&log, "give_up");
    assert_eq!(gave_up.len(), 1);
    assert!(gave_up[0]["reason"].as_str().unwrap().contains("restarts"));
    let end = log.last().unwrap();
    assert_eq!(
        (&end["ev"], &end["how"]),
        (&"run_end".into(), &"gave_up".into())
    );
    assert!(end["summary"]["gave_up"].is_string());
}

#[test]
fn report_writes_one_page_beside_its_events() {
    let tmp = tempdir();
    let html = tmp.path().join("run.html");
    let done = run(supervisor_run()
        .args(["-w", "2", "--format", "json", "--report"])
        .arg(&html)
        .args(["fault", "--tasks", "40"]));
    done.assert_code(0);
    let events = tmp.path().join("run.events.jsonl");
    assert!(done.stderr.contains("run.html"), "{}", done.stderr);
    read_events(&events);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!doctype html>"));
    for outside in ["http://", "https://", "src=", "<link", "@import", "url("] {
        assert!(!page.contains(outside), "the page loads {outside}");
    }
    // `supervisor report` draws the same page from the events file: EVENTS.html by default.
    let again = run(Command::new(BIN).arg("report").arg(&events));
    again.assert_code(0);
    let default = tmp.path().join("run.events.html");
    let redrawn = std::fs::read_to_string(&default).unwrap();
    assert_eq!(redrawn.len(), page.len(), "the same events, the same page");
}

#[test]
fn report_inputs_that_cannot_work_are_refused_by_name() {
    let tmp = tempdir();
    let missing = tmp.path().join("missing.jsonl");
    let done = run(Command::new(BIN).arg("report").arg(&missing));
    done.assert_code(2);
    assert!(done.stderr.contains("missing.jsonl"), "{}", done.stderr);
    assert_eq!(done.stderr.lines().count(), 1, "{}", done.stderr);

    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "just some text\n").unwrap();
    let done = run(Command::new(BIN).arg("report").arg(&text));
    done.assert_code(2);
    assert!(
        done.stderr.contains("holds no run's events"),
        "{}",
        done.stderr
    );

    // Unwritable --events or --report: refused before any work, nothing else written.
    for option in ["--events", "--report"] {
        let done = run(supervisor_run()
            .args(["--format", "json", option])
            .arg(tmp.path().join("no/such/dir/x"))
            .args(["fault", "--tasks", "3"]));
        done.assert_code(2);
        assert!(done.stderr.contains("no/such/dir/x"), "{}", done.stderr);
        assert!(done.stdout.is_empty(), "{option}: ran anyway");
    }
}

#[test]
fn a_torn_last_line_does_not_stop_the_report() {
    let tmp = tempdir();
    let events = tmp.path().join("events.jsonl");
    run(supervisor_run()
        .args(["-w", "1", "--format", "json", "--events"])
        .arg(&events)
        .args(["fault", "--tasks", "5"]))
    .assert_code(0);
    // As if the supervisor had been killed mid-line.
    let mut text = std::fs::read(&events).unwrap();
    text.extend_from_slice(b"{\"v\":1,\"t\":99,\"ev\":\"ta");
    std::fs::write(&events, &text).unwrap();
    let html = tmp.path().join("page.html");
    let done = run(Command::new(BIN)
        .arg("report")
        .arg(&events)
        .arg("-o")
        .arg(&html));
    done.assert_code(0);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("\"skipped\":1"), "the torn line is counted");
}
