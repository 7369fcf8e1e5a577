//! The HTML report in a real browser: a chaos run's page rendered by headless Chromium, whose
//! DOM (after the page's script ran) must show one row per worker slot, a death marker for
//! every worker crash the summary counts, every retried task, and no script error.

use crate::harness::Test;
use crate::support::{Finished, run, spawn, supervisor_run, tempdir};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub fn tests() -> Vec<Test> {
    vec![Test::when(
        "report::a_chaos_run_renders_in_chromium",
        needs_chromium,
        a_chaos_run_renders_in_chromium,
    )]
}

/// `None` when Chromium can be run.
fn needs_chromium() -> Option<String> {
    let found = Command::new("chromium")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!found).then(|| "chromium is not installed (apt-get install chromium)".to_string())
}

/// The page's DOM after its scripts ran, from headless Chromium without network or profile.
pub fn rendered_dom(page: &Path) -> String {
    let profile = tempdir();
    let done: Finished = spawn(
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--window-size=1200,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--dump-dom")
            .arg(format!("file://{}", page.display())),
    )
    .finish_within(Duration::from_secs(60));
    done.assert_code(0);
    String::from_utf8(done.stdout).expect("the DOM is UTF-8")
}

/// How many times `needle` occurs in `text`.
fn count(text: &str, needle: &str) -> u64 {
    text.matches(needle).count() as u64
}

fn a_chaos_run_renders_in_chromium() {
    let tmp = tempdir();
    let html = tmp.path().join("report.html");
    let events = tmp.path().join("events.jsonl");
    let done = run(supervisor_run()
        .args(["-w", "3", "--format", "json", "--max-restarts", "1000"])
        .args(["--chaos-kill-every", "20ms", "--events"])
        .arg(&events)
        .arg("--report")
        .arg(&html)
        .args([
            "fault",
            "--tasks",
            "150",
            "--sleep-ms",
            "3",
            "--segfault-on",
            "11",
        ]));
    done.assert_code(1);
    let summary = done.json()["summary"].clone();
    let crashes = summary["worker_crashes"].as_u64().unwrap();
    assert!(summary["chaos_kills"].as_u64().unwrap() > 0, "{summary}");

    let dom = rendered_dom(&html);
    assert!(
        dom.contains("data-rendered=\"ok\""),
        "the script did not finish:\n{dom}"
    );
    assert!(!dom.contains("data-errors="), "script errors:\n{dom}");
    assert!(
        dom.contains("<div id=\"errors\" role=\"alert\"></div>"),
        "{dom}"
    );
    assert_eq!(count(&dom, "class=\"row-label\""), 3, "one row per slot");
    assert_eq!(
        count(&dom, "class=\"mark death "),
        crashes,
        "a death marker per worker crash ({summary})"
    );
    // Every task the log says was retried is listed, with all its attempts.
    let text = std::fs::read_to_string(&events).unwrap();
    let retried: BTreeSet<u64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["ev"] == "retry")
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert!(retried.contains(&11), "the segfaulting task was retried");
    for id in &retried {
        assert!(
            dom.contains(&format!("class=\"retry jump\" data-id=\"{id}\"")),
            "retried task {id} is not listed"
        );
    }
    assert!(
        dom.contains("class=\"retry jump\" data-id=\"11\" data-run=\"0\" data-attempts=\"3\""),
        "task 11's three attempts"
    );
}
