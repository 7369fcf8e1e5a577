//! The hidden fault job: tasks that crash their worker in chosen ways.

use crate::support::{Finished, assert_all_gone, run, summary_pids, supervisor_run, tempdir};
use serde_json::Value;

fn fault(args: &[&str]) -> (Finished, Value) {
    let done = run(supervisor_run()
        .args(["-w", "2", "--format", "json", "fault"])
        .args(args));
    let doc = done.json();
    assert_all_gone(&summary_pids(&doc));
    (done, doc)
}

/// Results by item, checking there is exactly one per item 0..tasks.
fn by_item(doc: &Value, tasks: u64) -> Vec<Value> {
    let results = doc["results"].as_array().expect("results array");
    let mut out = vec![Value::Null; tasks as usize];
    for r in results {
        let item = r["item"].as_u64().expect("item") as usize;
        assert!(out[item].is_null(), "item {item} reported twice");
        out[item] = r.clone();
    }
    assert!(
        out.iter().all(|r| !r.is_null()),
        "missing items in {results:?}"
    );
    out
}

/// Asserts that every item but `bad` succeeded with item*item on its first attempt.
fn assert_others_ok(items: &[Value], bad: &[u64]) {
    for (i, r) in items.iter().enumerate() {
        let i = i as u64;
        if bad.contains(&i) {
            continue;
        }
        assert_eq!(r["value"], i * i, "item {i}: {r}");
        assert!(r.get("error").is_none(), "item {i}: {r}");
    }
}

fn assert_failed(item: &Value, cause: &str, attempts: u64) {
    let error = item["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {item}"));
    assert!(error.contains(cause), "{error:?} does not name {cause:?}");
    assert!(item.get("value").is_none(), "{item}");
    assert_eq!(item["attempts"], attempts, "{item}");
}

#[test]
fn a_segfaulting_task_fails_alone_after_its_retries() {
    let (done, doc) = fault(&["--tasks", "10", "--segfault-on", "3"]);
    done.assert_code(1);
    let items = by_item(&doc, 10);
    assert_failed(&items[3], "killed by SIGSEGV", 3);
    assert_others_ok(&items, &[3]);
    assert_eq!(doc["summary"]["failed"], 1);
    assert_eq!(doc["summary"]["ok"], 9);
    assert!(doc["summary"]["worker_crashes"].as_u64().unwrap() >= 3);
}

#[test]
fn a_task_that_crashes_once_succeeds_on_its_second_attempt() {
    let markers = tempdir();
    let dir = markers.path().to_str().unwrap();
    let (done, doc) = fault(&["--tasks", "10", "--crash-once-on", "4", "--marker-dir", dir]);
    done.assert_code(0);
    let items = by_item(&doc, 10);
    assert_others_ok(&items, &[]);
    assert_eq!(items[4]["attempts"], 2, "{}", items[4]);
    assert!(markers.path().join("4.crashed").exists());
    assert_eq!(doc["summary"]["failed"], 0);
    assert!(doc["summary"]["worker_crashes"].as_u64().unwrap() >= 1);
}

#[test]
fn abort_is_reported_as_sigabrt() {
    let (done, doc) = fault(&["--tasks", "6", "--abort-on", "2"]);
    done.assert_code(1);
    let items = by_item(&doc, 6);
    assert_failed(&items[2], "killed by SIGABRT", 3);
    assert_others_ok(&items, &[2]);
}

#[test]
fn exit_is_reported_with_its_status() {
    let (done, doc) = fault(&["--tasks", "6", "--exit-on", "5"]);
    done.assert_code(1);
    let items = by_item(&doc, 6);
    assert_failed(&items[5], "exited with status 3", 3);
    assert_others_ok(&items, &[5]);

    let (done, doc) = fault(&["--tasks", "3", "--exit-on", "0", "--exit-code", "7"]);
    done.assert_code(1);
    let items = by_item(&doc, 3);
    assert_failed(&items[0], "exited with status 7", 3);
    assert_others_ok(&items, &[0]);
}

#[test]
fn a_panic_is_an_error_result_not_a_crash() {
    let (done, doc) = fault(&["--tasks", "6", "--panic-on", "1"]);
    done.assert_code(1);
    let items = by_item(&doc, 6);
    assert_failed(&items[1], "panicked: ", 1);
    assert!(
        items[1]["error"]
            .as_str()
            .unwrap()
            .contains("deliberate panic on item 1"),
        "{}",
        items[1]
    );
    assert_others_ok(&items, &[1]);
}

#[test]
fn failures_in_csv_mode_go_to_stderr() {
    let done = run(supervisor_run().args([
        "-w",
        "1",
        "--format",
        "csv",
        "fault",
        "--tasks",
        "4",
        "--segfault-on",
        "2",
    ]));
    done.assert_code(1);
    assert!(
        done.stderr
            .contains("supervisor: item 2: killed by SIGSEGV (attempts: 3)"),
        "stderr:\n{}",
        done.stderr
    );
    let text = String::from_utf8(done.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "item,value,error,attempts");
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(lines[1], "0,0,,1");
    assert_eq!(lines[2], "1,1,,1");
    assert!(lines[3].starts_with("2,,killed by SIGSEGV"), "{text}");
    assert!(lines[3].ends_with(",3"), "{text}");
    assert_eq!(lines[4], "3,9,,1");
}

#[test]
fn a_crash_storm_makes_the_supervisor_give_up() {
    let every: Vec<String> = (0..30).map(|i| i.to_string()).collect();
    let (done, doc) = fault(&[
        "--tasks",
        "30",
        "--segfault-on",
        &every.join(","),
        "--max-restarts",
        "3",
    ]);
    done.assert_code(3);
    assert!(done.stderr.contains("gave up"), "stderr:\n{}", done.stderr);
    let summary = &doc["summary"];
    let reason = summary["gave_up"]
        .as_str()
        .unwrap_or_else(|| panic!("gave_up is not a reason: {summary}"));
    assert!(!reason.is_empty());
    for r in doc["results"].as_array().unwrap() {
        assert!(
            r["error"].as_str().unwrap().contains("SIGSEGV"),
            "a segfaulting item did not fail: {r}"
        );
    }
}

#[test]
fn giving_up_keeps_the_results_completed_so_far() {
    let bad: Vec<String> = (20..30).map(|i| i.to_string()).collect();
    let done = run(supervisor_run().args([
        "-w",
        "1",
        "--max-restarts",
        "3",
        "--format",
        "json",
        "fault",
        "--tasks",
        "30",
        "--segfault-on",
        &bad.join(","),
    ]));
    done.assert_code(3);
    assert!(done.stderr.contains("gave up"), "stderr:\n{}", done.stderr);
    let doc = done.json();
    assert_all_gone(&summary_pids(&doc));
    let summary = &doc["summary"];
    assert!(summary["gave_up"].is_string(), "{summary}");
    let results = doc["results"].as_array().unwrap();
    let mut ok_items = Vec::new();
    for r in results {
        let item = r["item"].as_u64().unwrap();
        if item < 20 {
            assert_eq!(r["value"], item * item, "{r}");
            ok_items.push(item);
        } else {
            assert!(r["error"].as_str().unwrap().contains("SIGSEGV"), "{r}");
        }
    }
    ok_items.sort();
    assert_eq!(
        ok_items,
        (0..20).collect::<Vec<_>>(),
        "completed results lost"
    );
    assert_eq!(summary["tasks"], results.len() as u64);
    assert_eq!(
        results.len() as u64 + summary["not_run"].as_u64().unwrap(),
        30,
        "tasks unaccounted for: {summary}"
    );
}
