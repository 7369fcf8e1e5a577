//! `--journal` / `--resume`: a run whose supervisor was SIGKILLed is finished by running only
//! what the journal lacks, with the output of an uninterrupted run; journals that do not fit
//! are refused.

use crate::support::{
    ChildWatch, Tree, assert_all_gone, assert_fault_ok, content, deadline, fault_results, ps_view,
    run, sigkill, spawn, step_until, summary_pids, supervisor_run, tempdir, wait_until, workers_of,
};
use std::path::Path;

/// Header of a journal file (magic, version, task count, fingerprint, checksum): a longer file
/// holds records.
const HEADER_LEN: u64 = 8 + 4 + 8 + 32 + 4;

fn len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// SIGKILLs the supervisor `parent` of `running` and waits until it and every worker it was
/// seen with are gone.
fn kill_run(running: crate::support::Running, watch: ChildWatch) {
    sigkill(running.pid());
    let killed = running.finish();
    assert_eq!(
        killed.code, None,
        "the supervisor was not killed: {killed:?}"
    );
    let workers = watch.seen();
    assert!(!workers.is_empty(), "no worker was seen");
    assert_all_gone(&workers);
}

const FAULT_600: [&str; 7] = [
    "fault",
    "--tasks",
    "600",
    "--sleep-ms",
    "5",
    "--format",
    "json",
];

#[test]
fn a_killed_run_resumes_to_the_uninterrupted_results() {
    let dir = tempdir();
    let journal = dir.path().join("run.journal");
    // The uninterrupted run, alongside (its tasks mostly sleep).
    let reference = spawn(supervisor_run().args(["-w", "2"]).args(FAULT_600));
    let running = spawn(
        supervisor_run()
            .args(["-w", "2", "--journal"])
            .arg(&journal)
            .args(FAULT_600),
    );
    let watch = ChildWatch::start(running.pid());
    assert!(
        wait_until(deadline(20), || len(&journal) > HEADER_LEN),
        "the journal never got a record (length {})",
        len(&journal)
    );
    kill_run(running, watch);

    let resumed = run(supervisor_run()
        .args(["-w", "2", "--resume"])
        .arg(&journal)
        .args(FAULT_600));
    resumed.assert_code(0);
    let doc = resumed.json();
    assert_all_gone(&summary_pids(&doc));
    let reference = reference.finish();
    reference.assert_code(0);
    let expected = reference.json();
    assert_eq!(
        doc["results"], expected["results"],
        "resumed results differ from the uninterrupted run's"
    );
    let results = fault_results(&doc);
    assert_eq!(results.len(), 600);
    for (&item, r) in &results {
        assert_fault_ok(item, r);
    }
    let summary = &doc["summary"];
    let from_journal = summary["resumed"]
        .as_u64()
        .unwrap_or_else(|| panic!("no summary.resumed: {summary}"));
    assert!(
        from_journal > 0 && from_journal < 600,
        "resumed {from_journal} of 600: {summary}"
    );
    assert_eq!(summary["tasks"], 600, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
}

/// The hash job in `sums` format: the resumed output is byte-identical to an uninterrupted
/// run's. The single worker is run in short slices (SIGCONT/SIGSTOP) until some results are
/// in, so the kill lands mid-run however fast the machine hashes.
#[test]
fn a_killed_hash_run_resumes_to_identical_sums() {
    let mut tree = Tree::empty();
    for i in 0..1000u64 {
        let name = format!("d{:02}/f{i:04}", i % 7);
        tree.add(name.as_bytes(), &content(i, ((i * 1031) % 16384) as usize));
    }
    let dir = tempdir();
    let journal = dir.path().join("hash.journal");
    let uninterrupted = run(supervisor_run()
        .args(["-w", "1", "--format", "sums", "hash"])
        .arg(tree.root()));
    uninterrupted.assert_code(0);
    assert_eq!(
        uninterrupted.stdout.iter().filter(|&&b| b == b'\n').count(),
        1000
    );

    let running = spawn(
        supervisor_run()
            .args(["-w", "1", "--format", "sums", "--journal"])
            .arg(&journal)
            .arg("hash")
            .arg(tree.root()),
    );
    let parent = running.pid();
    let watch = ChildWatch::start(parent);
    let mut worker = None;
    assert!(
        wait_until(deadline(20), || {
            worker = workers_of(parent).first().copied();
            worker.is_some()
        }),
        "no worker started"
    );
    let worker = worker.unwrap();
    let mut view = None;
    let some_done = step_until(worker, 20, || {
        view = ps_view(parent);
        view.as_ref().is_some_and(|v| v.done >= 1)
    });
    assert!(some_done, "no result came in: {view:?}");
    // The worker is stopped now; what it sent reaches the journal within ~50 ms.
    assert!(
        wait_until(deadline(10), || len(&journal) > HEADER_LEN),
        "the journal never got a record"
    );
    let view = ps_view(parent).expect("the supervisor is still running");
    assert!(
        view.total == 1000 && view.done < view.total,
        "the run finished before it could be killed: {view:?}"
    );
    kill_run(running, watch);

    let resumed = run(supervisor_run()
        .args(["-w", "1", "--format", "sums", "--resume"])
        .arg(&journal)
        .arg("hash")
        .arg(tree.root()));
    resumed.assert_code(0);
    assert!(
        resumed.stdout == uninterrupted.stdout,
        "resumed sums differ from the uninterrupted run's\nstderr:\n{}",
        resumed.stderr
    );
    let line = resumed
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("resumed: "))
        .unwrap_or_else(|| panic!("no 'resumed:' line:\n{}", resumed.stderr));
    let count: u64 = line
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read {line:?}"));
    assert!(count > 0 && count < 1000, "resumed {count} of 1000: {line}");
}

/// A journal whose last record was torn (the file cut a few bytes short) loses only that
/// record: the resumed run redoes it, the output is complete, and the journal is repaired.
#[test]
fn a_journal_with_a_torn_tail_resumes_fine() {
    let dir = tempdir();
    let journal = dir.path().join("torn.journal");
    let job = ["-w", "2", "--format", "json", "fault", "--tasks", "100"];
    let first = run(supervisor_run().arg("--journal").arg(&journal).args(job));
    first.assert_code(0);
    let expected = first.json();
    let full = len(&journal);
    assert!(full > HEADER_LEN + 100 * 8, "journal of {full} bytes");
    // Every record is longer than 8 bytes (length and checksum words), so cutting 3 bytes
    // tears exactly the last one.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&journal)
        .unwrap()
        .set_len(full - 3)
        .unwrap();

    let resumed = run(supervisor_run().arg("--resume").arg(&journal).args(job));
    resumed.assert_code(0);
    let doc = resumed.json();
    assert_all_gone(&summary_pids(&doc));
    assert_eq!(doc["results"], expected["results"]);
    assert_eq!(doc["summary"]["resumed"], 99, "{}", doc["summary"]);
    assert_eq!(doc["summary"]["tasks"], 100, "{}", doc["summary"]);

    // The torn record was cut away and the redone task appended: all 100 are there now.
    let again = run(supervisor_run().arg("--resume").arg(&journal).args(job));
    again.assert_code(0);
    let doc = again.json();
    assert_eq!(doc["results"], expected["results"]);
    assert_eq!(doc["summary"]["resumed"], 100, "{}", doc["summary"]);
}

#[test]
fn a_journal_of_other_arguments_or_a_missing_one_is_refused() {
    let dir = tempdir();
    let journal = dir.path().join("j");
    let done = run(supervisor_run()
        .arg("--journal")
        .arg(&journal)
        .args(["-w", "2", "--format", "json", "fault", "--tasks", "600"]));
    done.assert_code(0);
    let before = std::fs::read(&journal).unwrap();

    // Other arguments: a different task count, then a different job.
    let markers = tempdir();
    let other_tasks = run(supervisor_run()
        .arg("--resume")
        .arg(&journal)
        .args(["-w", "2", "--format", "json", "fault", "--tasks", "601"])
        .args(["--crash-once-on", "0,600", "--marker-dir"])
        .arg(markers.path()));
    let other_job = run(supervisor_run()
        .arg("--resume")
        .arg(&journal)
        .args(["--format", "json", "cpu", "--tasks", "1", "--scale", "1"]));
    for refused in [&other_tasks, &other_job] {
        refused.assert_code(2);
        assert!(
            refused.stderr.contains("different job or arguments")
                && refused.stderr.contains(&journal.display().to_string()),
            "stderr:\n{}",
            refused.stderr
        );
        assert!(refused.stdout.is_empty(), "output of a refused run");
    }
    assert!(
        std::fs::read_dir(markers.path()).unwrap().next().is_none(),
        "a task ran although the journal was refused"
    );
    assert_eq!(
        std::fs::read(&journal).unwrap(),
        before,
        "a refused resume changed the journal"
    );

    // A journal cut inside its header.
    let cut = dir.path().join("cut");
    std::fs::write(&cut, &before[..30]).unwrap();
    let damaged = run(supervisor_run()
        .arg("--resume")
        .arg(&cut)
        .args(["-w", "2", "--format", "json", "fault", "--tasks", "600"]));
    damaged.assert_code(2);
    assert!(
        damaged.stderr.contains(&cut.display().to_string()) && damaged.stderr.contains("header"),
        "stderr:\n{}",
        damaged.stderr
    );

    // A --resume file that does not exist.
    let missing = dir.path().join("no-such-journal");
    let absent = run(supervisor_run()
        .arg("--resume")
        .arg(&missing)
        .args(["-w", "2", "--format", "json", "fault", "--tasks", "5"]));
    absent.assert_code(2);
    assert!(
        absent.stderr.contains(&missing.display().to_string())
            && absent.stderr.contains("No such file or directory"),
        "stderr:\n{}",
        absent.stderr
    );
    assert!(absent.stdout.is_empty());
    assert!(!missing.exists(), "--resume created the missing file");
}
