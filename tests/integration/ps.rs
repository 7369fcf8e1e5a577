//! `supervisor ps`: the live view of a running supervisor's workers, read from its scoreboard
//! by another process, and what it says once the run is over.

use crate::support::{
    deadline, maps_memfd, run, spawn, stat, stdout_text, supervisor, supervisor_run, wait_until,
    workers_of,
};

/// One worker row of a `ps` section: slot, pid, state.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    slot: usize,
    pid: i32,
    state: String,
}

/// The rows of the section `supervisor PID: ...` in `ps` output, or `None` if it is absent.
fn section(text: &str, pid: i32) -> Option<Vec<Row>> {
    let head = format!("supervisor {pid}: ");
    let mut lines = text.lines().skip_while(|l| !l.starts_with(&head));
    lines.next()?;
    let header = lines
        .next()
        .expect("a column header after the section line");
    assert!(header.starts_with("SLOT"), "unexpected header {header:?}");
    Some(
        lines
            .take_while(|l| !l.trim().is_empty() && !l.starts_with("supervisor "))
            .map(|l| {
                let fields: Vec<&str> = l.split_whitespace().collect();
                assert!(fields.len() >= 3, "short row {l:?} in:\n{text}");
                Row {
                    slot: fields[0]
                        .parse()
                        .unwrap_or_else(|_| panic!("slot in {l:?}")),
                    pid: fields[1].parse().unwrap_or_else(|_| panic!("pid in {l:?}")),
                    state: fields[2].to_owned(),
                }
            })
            .collect(),
    )
}

/// The pids of every `supervisor PID:` section.
fn listed(text: &str) -> Vec<i32> {
    text.lines()
        .filter_map(|l| {
            l.strip_prefix("supervisor ")?
                .split_once(':')?
                .0
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn ps_shows_a_running_supervisor_and_its_workers_then_forgets_it() {
    let running = spawn(supervisor_run().args([
        "-w",
        "2",
        "--format",
        "json",
        "fault",
        "--tasks",
        "400",
        "--sleep-ms",
        "25",
    ]));
    let parent = running.pid();

    // Both workers started and attached to the scoreboard.
    let up = wait_until(deadline(15), || {
        let workers = workers_of(parent);
        workers.len() == 2 && workers.iter().all(|&p| maps_memfd(p))
    });
    assert!(up, "the two workers of {parent} did not come up");

    // The scoreboard may still show a slot starting: poll ps until both rows are running.
    let mut text = String::new();
    let mut rows = Vec::new();
    let shown = wait_until(deadline(10), || {
        let done = run(supervisor().arg("ps"));
        done.assert_code(0);
        text = stdout_text(&done);
        rows = section(&text, parent).unwrap_or_default();
        rows.len() == 2 && rows.iter().all(|r| r.state == "running" && r.pid > 0)
    });
    assert!(
        shown,
        "ps never showed 2 running workers of {parent}:\n{text}"
    );
    assert_eq!(
        rows.iter().map(|r| r.slot).collect::<Vec<_>>(),
        [0, 1],
        "{text}"
    );
    for row in &rows {
        let (state, ppid) = stat(row.pid)
            .unwrap_or_else(|| panic!("worker {} shown by ps does not exist:\n{text}", row.pid));
        assert_ne!(state, 'Z', "worker {} is a zombie", row.pid);
        assert_eq!(
            ppid, parent,
            "worker {} is not a child of {parent}:\n{text}",
            row.pid
        );
    }
    // Workers map the scoreboard too, but are not supervisors.
    let supervisors = listed(&text);
    for row in &rows {
        assert!(
            !supervisors.contains(&row.pid),
            "worker {} listed as a supervisor:\n{text}",
            row.pid
        );
    }

    // `ps PID` shows that supervisor only.
    let done = run(supervisor().args(["ps", &parent.to_string()]));
    done.assert_code(0);
    let only = stdout_text(&done);
    assert_eq!(listed(&only), [parent], "{only}");
    assert_eq!(section(&only, parent).map(|r| r.len()), Some(2), "{only}");

    let finished = running.finish();
    finished.assert_code(0);
    assert_eq!(finished.json()["summary"]["failed"], 0);

    let done = run(supervisor().args(["ps", &parent.to_string()]));
    done.assert_code(1);
    assert_eq!(
        stdout_text(&done),
        format!("no running supervisor with pid {parent}\n")
    );
    let done = run(supervisor().arg("ps"));
    done.assert_code(0);
    let after = stdout_text(&done);
    assert!(
        !listed(&after).contains(&parent),
        "{parent} still listed after it ended:\n{after}"
    );
}

#[test]
fn ps_of_a_process_that_is_not_a_supervisor_exits_1() {
    let me = std::process::id();
    let done = run(supervisor().args(["ps", &me.to_string()]));
    done.assert_code(1);
    assert_eq!(
        stdout_text(&done),
        format!("no running supervisor with pid {me}\n")
    );
}
