//! Partitioned runs: a run split into N partitions, each a separate `supervisor run
//! --partition` process, merges into exactly what one run prints, in every format; every task
//! is in exactly one partition; `--partition auto` reads Slurm, Kubernetes and AWS Batch
//! variables; `merge` refuses files of different runs and names missing partitions; a
//! partition SIGKILLed mid-run and rerun with its journal merges identically.

use crate::support::{
    AWKWARD, ChildWatch, Finished, Running, Tree, assert_all_gone, content, deadline, run, sigkill,
    spawn, supervisor, supervisor_run, tempdir, wait_until,
};
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

const FORMATS: [&str; 5] = ["table", "sums", "json", "jsonl", "csv"];

/// The scheduler variables `--partition auto` reads: cleared around every run here.
const SCHEDULER_VARS: [&str; 7] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_STEP",
    "SLURM_ARRAY_TASK_COUNT",
    "JOB_COMPLETION_INDEX",
    "AWS_BATCH_JOB_ARRAY_INDEX",
    "AWS_BATCH_JOB_ARRAY_SIZE",
];

pub(crate) fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// `supervisor run` without any scheduler variable in its environment.
pub(crate) fn clean_run() -> std::process::Command {
    let mut cmd = supervisor_run();
    for var in SCHEDULER_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `job` as `count` partitions at once, one process each, writing `DIR/part-M.jsonl`.
pub(crate) fn run_partitions(dir: &Path, job: &[OsString], count: u32) -> Vec<PathBuf> {
    let output = dir.join(format!("n{count}-part-{{index}}.jsonl"));
    let running: Vec<Running> = (1..=count)
        .map(|m| {
            spawn(
                clean_run()
                    .args(["-w", "1", "-q", "--partition", &format!("hash:{m}/{count}")])
                    .arg("-o")
                    .arg(&output)
                    .args(job),
            )
        })
        .collect();
    let mut files = Vec::new();
    for (m, running) in (1..=count).zip(running) {
        let done = running.finish();
        assert!(
            matches!(done.code, Some(0 | 1)),
            "partition {m}/{count}: {done:?}"
        );
        files.push(dir.join(format!("n{count}-part-{m}.jsonl")));
    }
    files
}

pub(crate) fn merge(files: &[PathBuf], format: &str) -> Finished {
    run(supervisor()
        .args(["merge", "-q", "--format", format])
        .args(files))
}

/// The result lines and the summary object of a json or jsonl output.
pub(crate) fn split_json(format: &str, stdout: &[u8]) -> (Vec<Vec<u8>>, Value) {
    let text = stdout.to_vec();
    if format == "json" {
        let doc: Value = serde_json::from_slice(&text).expect("one JSON document");
        let start = text.iter().position(|&b| b == b'\n').unwrap() + 1;
        let end = find(&text, b"\n],\n\"summary\": ").expect("the json layout");
        let lines = if end <= start {
            Vec::new()
        } else {
            text[start..end]
                .split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b",").unwrap_or(l).to_vec())
                .collect()
        };
        return (lines, doc["summary"].clone());
    }
    let mut lines: Vec<Vec<u8>> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let summary: Value = serde_json::from_slice(&lines.pop().expect("a summary line")).unwrap();
    (lines, summary["summary"].clone())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The result lines of a merge and of one run in json or jsonl, their summaries checked to
/// count the same results.
pub(crate) fn json_results(
    format: &str,
    merged: &Finished,
    one: &Finished,
    what: &str,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (lines, summary) = split_json(format, &merged.stdout);
    let (one_lines, one_summary) = split_json(format, &one.stdout);
    assert_eq!(
        result_counts(&summary),
        result_counts(&one_summary),
        "{what}"
    );
    (lines, one_lines)
}

/// The summary fields that describe the results (the rest describe how a run went).
fn result_counts(summary: &Value) -> Vec<Value> {
    ["tasks", "ok", "failed", "skipped", "not_run"]
        .iter()
        .map(|k| summary[*k].clone())
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `job` once per format, then as 1, 3 and 7 partitions, and checks that merging the
/// partitions prints what the one run printed, format by format; and that each task landed in
/// exactly one partition.
fn assert_merges_to_one_run(job: &[OsString], formats: &[&str]) {
    let dir = tempdir();
    let single: Vec<Finished> = formats
        .iter()
        .map(|format| {
            run(clean_run()
                .args(["-w", "2", "-q", "--format", format])
                .args(job))
        })
        .collect();
    let json_lines = formats
        .iter()
        .position(|f| *f == "json")
        .map(|i| split_json("json", &single[i].stdout).0);
    for count in [1, 3, 7] {
        let files = run_partitions(dir.path(), job, count);
        assert_each_task_once(&files, json_lines.as_deref(), count);
        for (format, one) in formats.iter().zip(&single) {
            let merged = merge(&files, format);
            let what = format!("{job:?} as {count} partitions, --format {format}");
            assert_eq!(
                merged.code, one.code,
                "{what}: exit code\n{merged:?}\n{one:?}"
            );
            // `sums` and `csv` name every failed result on stderr, the merge too. (A run in
            // the other formats also names a missing operand on stderr as soon as its walk
            // meets it: that note is in the log of the partition that met it.)
            if matches!(*format, "sums" | "csv") {
                assert_eq!(merged.stderr, one.stderr, "{what}: stderr");
            }
            match *format {
                "json" | "jsonl" => {
                    let (lines, one_lines) = json_results(format, &merged, one, &what);
                    // jsonl streams in completion order: merged, it comes in the canonical
                    // order, which is json's, with every line byte for byte.
                    let mut sorted = (one_lines.clone(), lines.clone());
                    sorted.0.sort();
                    sorted.1.sort();
                    assert!(sorted.0 == sorted.1, "{what}: results differ");
                    let canonical = json_lines.as_ref().unwrap_or(&one_lines);
                    assert!(lines == *canonical, "{what}: not in the canonical order");
                }
                _ => assert!(
                    merged.stdout == one.stdout,
                    "{what}: output differs\nmerged:\n{}\none run:\n{}",
                    text(&merged.stdout),
                    text(&one.stdout)
                ),
            }
        }
        // Merging is deterministic: the same files in another order give the same bytes.
        let mut reversed = files.clone();
        reversed.reverse();
        assert_eq!(
            merge(&reversed, "json").stdout,
            merge(&files, "json").stdout
        );
    }
}

/// Every result of the one run is in exactly one of the partition files.
fn assert_each_task_once(files: &[PathBuf], one_run: Option<&[Vec<u8>]>, count: u32) {
    let mut seen: Vec<Vec<u8>> = Vec::new();
    for (m, file) in (1..=count).zip(files) {
        let body = std::fs::read(file).unwrap();
        let mut lines = body.split(|&b| b == b'\n').filter(|l| !l.is_empty());
        let header: Value = serde_json::from_slice(lines.next().unwrap()).unwrap();
        let header = &header["supervisor_partition"];
        assert_eq!(header["partition"], m, "{header}");
        assert_eq!(header["partitions"], count, "{header}");
        for key in [
            "job",
            "args",
            "fingerprint",
            "tool_version",
            "host",
            "started",
            "ended",
        ] {
            assert!(!header[key].is_null(), "the header lacks {key}: {header}");
        }
        for line in lines {
            let value: Value = serde_json::from_slice(line).unwrap();
            if value.get("summary").is_none() {
                seen.push(serde_json::to_vec(&value["result"]).unwrap());
            }
        }
    }
    if let Some(one_run) = one_run {
        let mut expected = one_run.to_vec();
        expected.sort();
        seen.sort();
        assert!(
            seen == expected,
            "the partitions' results are not the one run's, once each"
        );
    }
}

/// A tree with awkward names (sums escaping, non-UTF-8), nested directories and empty files.
fn hash_tree() -> Tree {
    let mut tree = Tree::empty();
    for (i, name) in AWKWARD.iter().enumerate() {
        tree.add(name, &content(i as u64, 50 * i));
    }
    for i in 0..60 {
        let name = format!("d{}/e{}/f{i:03}", i % 4, i % 3);
        tree.add(name.as_bytes(), &content(100 + i as u64, (i * 211) % 3000));
    }
    tree.add(b"empty", b"");
    tree
}

#[test]
fn hash_partitions_merge_to_one_run_in_every_format() {
    let tree = hash_tree();
    let root = tree.root();
    // A file operand and a missing operand too: an error row, and keys under other operands.
    let mut job = os(&["hash"]);
    job.extend([
        root.as_os_str().to_owned(),
        root.join("missing").into_os_string(),
        root.join("empty").into_os_string(),
    ]);
    assert_merges_to_one_run(&job, &FORMATS);
}

#[test]
fn logs_partitions_merge_to_one_run_in_every_format() {
    let mut tree = Tree::empty();
    for i in 0..24u64 {
        let mut text = Vec::new();
        for line in 0..(i * 7 % 40) {
            text.extend_from_slice(match (line + i) % 5 {
                0 => b"ERROR disk\n".as_slice(),
                1 | 2 => b"WARNING slow\r\n",
                3 => b"fine \xff\n",
                _ => b"ERROR and WARNING\n",
            });
        }
        tree.add(format!("app{}/svc{i}.log", i % 3).as_bytes(), &text);
    }
    tree.add(b"skip.txt", b"ERROR not a log\n");
    let mut job = os(&["logs"]);
    job.push(tree.root().as_os_str().to_owned());
    job.push(tree.root().join("gone").into_os_string());
    job.extend(os(&[
        "--pattern",
        "ERROR",
        "--pattern",
        "WARNING",
        "--pattern",
        "slow",
    ]));
    assert_merges_to_one_run(&job, &["table", "json", "jsonl", "csv"]);
}

#[test]
fn probe_partitions_merge_to_one_run_in_every_format() {
    // Refused connections and malformed targets give the same result every time (an open port
    // would differ by its latency); a target listed twice keeps both positions.
    let refused: Vec<String> = (1..=20)
        .map(|port| format!("127.0.0.1:{port}"))
        .filter(|t| {
            matches!(std::net::TcpStream::connect(t), Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
        })
        .collect();
    assert!(refused.len() >= 10, "too few refused ports: {refused:?}");
    let mut job = os(&["probe", "--connect-timeout", "2s"]);
    job.extend(refused.iter().map(OsString::from));
    job.extend(os(&["no-port", "bad:99999", refused[0].as_str(), "[::1"]));
    assert_merges_to_one_run(&job, &["table", "json", "jsonl", "csv"]);
}

#[test]
fn cpu_partitions_merge_to_one_run_in_every_format() {
    let job = os(&[
        "cpu",
        "--tasks",
        "5,1,4,1,5,9,2,6,5,3,5,8,9,7,9",
        "--scale",
        "20000",
    ]);
    assert_merges_to_one_run(&job, &["table", "json", "jsonl", "csv"]);
}

/// The partition `--partition auto` chose, from the output's header.
fn auto_partition(vars: &[(&str, &str)], extra: &[&str]) -> Finished {
    let mut cmd = clean_run();
    cmd.args(["-w", "1", "--partition", "auto"])
        .args(extra)
        .args(["cpu", "--tasks", "1,2,3", "--scale", "1000"]);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

fn header_of(done: &Finished) -> Value {
    let first = done.stdout.split(|&b| b == b'\n').next().unwrap();
    let header: Value =
        serde_json::from_slice(first).unwrap_or_else(|e| panic!("no header ({e}): {done:?}"));
    header["supervisor_partition"].clone()
}

/// Variables, extra options, the partition number and count expected, the scheduler named.
type AutoCase = (
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
    u64,
    u64,
    &'static str,
);

#[test]
fn auto_reads_slurm_kubernetes_and_aws_batch() {
    let cases: [AutoCase; 5] = [
        // --array=0-8:4 (a stepped array from 0): task 4 is the second of three.
        (
            &[
                ("SLURM_ARRAY_TASK_ID", "4"),
                ("SLURM_ARRAY_TASK_MIN", "0"),
                ("SLURM_ARRAY_TASK_STEP", "4"),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
                ("SLURM_JOB_ID", "1"),
            ],
            &[],
            2,
            3,
            "Slurm",
        ),
        (
            &[
                ("SLURM_ARRAY_TASK_ID", "7"),
                ("SLURM_ARRAY_TASK_MIN", "5"),
                ("SLURM_ARRAY_TASK_STEP", "1"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ],
            &[],
            3,
            4,
            "Slurm",
        ),
        (
            &[("JOB_COMPLETION_INDEX", "2")],
            &["--partitions", "3"],
            3,
            3,
            "Kubernetes",
        ),
        (
            &[
                ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
                ("AWS_BATCH_JOB_ARRAY_SIZE", "2"),
            ],
            &[],
            1,
            2,
            "AWS Batch",
        ),
        (
            &[("AWS_BATCH_JOB_ARRAY_INDEX", "6")],
            &["--partitions", "7"],
            7,
            7,
            "AWS Batch",
        ),
    ];
    for (vars, extra, number, count, scheduler) in cases {
        let done = auto_partition(vars, extra);
        done.assert_code(0);
        let header = header_of(&done);
        assert_eq!(
            (header["partition"].as_u64(), header["partitions"].as_u64()),
            (Some(number), Some(count)),
            "{vars:?}: {header}"
        );
        assert!(
            done.stderr
                .contains(&format!("partition {number}/{count} ({scheduler}: ")),
            "stderr does not say which variables it used: {}",
            done.stderr
        );
        // The same share as asking for it by number.
        let by_number = run(clean_run()
            .args(["-w", "1", "--partition", &format!("hash:{number}/{count}")])
            .args(["cpu", "--tasks", "1,2,3", "--scale", "1000"]));
        let results = |d: &Finished| -> Vec<String> {
            text(&d.stdout)
                .lines()
                .filter(|l| l.starts_with("{\"order\""))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(results(&done), results(&by_number), "{vars:?}");
    }
    // Nothing set: exit 2 with a line naming the variables.
    let done = auto_partition(&[], &[]);
    done.assert_code(2);
    assert!(done.stdout.is_empty());
    assert!(
        done.stderr.contains("SLURM_ARRAY_TASK_ID")
            && done.stderr.contains("JOB_COMPLETION_INDEX")
            && done.stderr.contains("AWS_BATCH_JOB_ARRAY_INDEX"),
        "{}",
        done.stderr
    );
    // Kubernetes without --partitions.
    let done = auto_partition(&[("JOB_COMPLETION_INDEX", "0")], &[]);
    done.assert_code(2);
    assert!(done.stderr.contains("--partitions N"), "{}", done.stderr);
}

#[test]
fn merge_refuses_mixed_runs_and_names_missing_partitions() {
    let dir = tempdir();
    let tree = hash_tree();
    let job = |algo: &str| {
        let mut job = os(&["hash", "--algo", algo]);
        job.push(tree.root().as_os_str().to_owned());
        job
    };
    let md5 = run_partitions(dir.path(), &job("md5"), 3);
    let sha_dir = dir.path().join("sha");
    std::fs::create_dir(&sha_dir).unwrap();
    let sha = run_partitions(&sha_dir, &job("sha256"), 3);

    let mixed = [md5[0].clone(), sha[1].clone(), md5[2].clone()];
    let done = merge(&mixed, "sums");
    done.assert_code(2);
    assert!(done.stdout.is_empty());
    let names = |p: &PathBuf| p.display().to_string();
    assert!(
        done.stderr.contains(&names(&md5[0])) && done.stderr.contains(&names(&sha[1])),
        "the error does not name both files: {}",
        done.stderr
    );
    assert_eq!(done.stderr.lines().count(), 1, "{}", done.stderr);

    let done = merge(&[md5[0].clone(), md5[2].clone()], "sums");
    done.assert_code(2);
    assert_eq!(
        done.stderr.trim(),
        "supervisor: missing partition 2 of 3: no file holds it"
    );

    let done = merge(
        &[
            md5[0].clone(),
            md5[1].clone(),
            md5[1].clone(),
            md5[2].clone(),
        ],
        "sums",
    );
    done.assert_code(2);
    assert!(
        done.stderr.contains("partition 2/3 is given twice"),
        "{}",
        done.stderr
    );

    // 3 partitions of another split: not one run either.
    let seven = run_partitions(dir.path(), &job("md5"), 7);
    let done = merge(&[md5[0].clone(), seven[1].clone(), md5[2].clone()], "sums");
    done.assert_code(2);
    assert!(
        done.stderr.contains("not partitions of one split"),
        "{}",
        done.stderr
    );

    // A partition that never finished (no summary line) and a file that is no partition.
    let cut = dir.path().join("cut.jsonl");
    let body = std::fs::read(&md5[1]).unwrap();
    let last = body[..body.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap();
    std::fs::write(&cut, &body[..=last]).unwrap();
    let done = merge(&[md5[0].clone(), cut.clone(), md5[2].clone()], "sums");
    done.assert_code(2);
    assert!(
        done.stderr.contains("cut.jsonl is incomplete") && done.stderr.contains("rerun it"),
        "{}",
        done.stderr
    );
    let done = merge(&[md5[0].clone(), tree.root().join("empty")], "sums");
    done.assert_code(2);
    assert!(
        done.stderr.contains("is not a partition's output"),
        "{}",
        done.stderr
    );
}

/// Partition M of 3 of `job` as an array task that a scheduler reruns: one worker, its journal
/// `DIR/part-M.journal` continued if it exists, its output `DIR/part-M.jsonl`.
pub(crate) fn rerunnable_partition(dir: &Path, m: u32, job: &[OsString]) -> std::process::Command {
    let mut cmd = clean_run();
    cmd.args(["-w", "1", "--partition", &format!("hash:{m}/3")])
        .arg("--journal")
        .arg(dir.join("part-{index}.journal"))
        .args(["--resume-if-exists", "-o"])
        .arg(dir.join("part-{index}.jsonl"))
        .args(job);
    cmd
}

/// True once partition M's journal in `dir` holds a result (more than its header).
pub(crate) fn journal_holds_results(dir: &Path, m: u32) -> bool {
    let header_len = 8 + 4 + 8 + 32 + 4;
    std::fs::metadata(dir.join(format!("part-{m}.journal"))).is_ok_and(|m| m.len() > header_len)
}

/// Partition 2 rerun after it was killed, as a scheduler reruns an index: it resumes from its
/// journal. Then the other partitions' ends; returns the three outputs.
pub(crate) fn rerun_partition_2(
    dir: &Path,
    mut rerun: std::process::Command,
    others: Vec<Running>,
) -> Vec<PathBuf> {
    run(&mut rerun).assert_code(0);
    assert_resumed(dir, 2);
    for done in others {
        done.finish().assert_code(0);
    }
    (1..=3)
        .map(|m| dir.join(format!("part-{m}.jsonl")))
        .collect()
}

/// Asserts that partition M's output in `dir` says it resumed results from its journal.
fn assert_resumed(dir: &Path, m: u32) {
    let body = std::fs::read(dir.join(format!("part-{m}.jsonl"))).unwrap();
    let last = body
        .trim_ascii_end()
        .rsplit(|&b| b == b'\n')
        .next()
        .unwrap();
    let summary: Value = serde_json::from_slice(last).unwrap();
    let resumed = summary["summary"]["resumed"].as_u64();
    assert!(
        resumed.is_some_and(|n| n > 0),
        "the rerun did not resume from the journal: {summary}"
    );
}

/// The fault job's tasks sleep, so a partition can be killed while it runs.
const SLOW: [&str; 5] = ["fault", "--tasks", "90", "--sleep-ms", "60"];

#[test]
fn a_partition_killed_mid_run_resumes_from_its_journal_and_merges_identically() {
    let dir = tempdir();
    let job = os(&SLOW);
    let partition = |m: u32| rerunnable_partition(dir.path(), m, &job);
    let single = spawn(
        clean_run()
            .args(["-w", "2", "-q", "--format", "json"])
            .args(SLOW),
    );
    let others: Vec<Running> = [1, 3].iter().map(|&m| spawn(&mut partition(m))).collect();

    // Partition 2 dies (SIGKILL, as its node would) once its journal holds results.
    let running = spawn(&mut partition(2));
    let watch = ChildWatch::start(running.pid());
    assert!(
        wait_until(deadline(20), || journal_holds_results(dir.path(), 2)),
        "partition 2 never journaled a result"
    );
    sigkill(running.pid());
    let killed = running.finish();
    assert_eq!(killed.code, None, "partition 2 was not killed: {killed:?}");
    assert_all_gone(&watch.seen());
    assert!(!dir.path().join("part-2.jsonl").exists());

    // The scheduler reruns the index with the same command line.
    let files = rerun_partition_2(dir.path(), partition(2), others);
    let merged = merge(&files, "json");
    merged.assert_code(0);
    let single = single.finish();
    single.assert_code(0);
    let (lines, summary) = split_json("json", &merged.stdout);
    let (one_lines, one_summary) = split_json("json", &single.stdout);
    assert!(lines == one_lines, "the merge differs from one run");
    assert_eq!(result_counts(&summary), result_counts(&one_summary));
    assert_eq!(lines.len(), 90);
}

#[test]
fn a_plan_balances_bytes_and_its_shares_merge_to_one_run() {
    let dir = tempdir();
    let mut tree = hash_tree();
    // One file as big as all the others together: hash partitions cannot balance it.
    tree.add(b"huge.bin", &content(7, 200_000));
    let plan = dir.path().join("plan.jsonl");
    let done = run(supervisor()
        .args(["plan", "hash", "--partitions", "3", "-o"])
        .arg(&plan)
        .arg(tree.root()));
    done.assert_code(0);
    assert!(done.stderr.contains("heaviest share: "), "{}", done.stderr);
    let header: Value = serde_json::from_slice(
        std::fs::read(&plan)
            .unwrap()
            .split(|&b| b == b'\n')
            .next()
            .unwrap(),
    )
    .unwrap();
    let shares = header["supervisor_plan"]["shares"]
        .as_array()
        .unwrap()
        .clone();
    let files: u64 = shares.iter().map(|s| s["files"].as_u64().unwrap()).sum();
    assert_eq!(files, tree.files.len() as u64);
    // LPT puts the huge file alone in its share.
    assert!(shares.iter().any(|s| s["files"] == 1), "{shares:?}");

    let parts: Vec<PathBuf> = (1..=3)
        .map(|m| {
            let out = dir.path().join(format!("share-{m}.jsonl"));
            run(clean_run()
                .args(["-w", "1", "-q", "--plan"])
                .arg(&plan)
                .args(["--partition", &format!("{m}/3"), "-o"])
                .arg(&out))
            .assert_code(0);
            out
        })
        .collect();
    for format in ["sums", "csv"] {
        let one = run(clean_run()
            .args(["-w", "2", "-q", "--format", format, "hash"])
            .arg(tree.root()));
        let merged = merge(&parts, format);
        merged.assert_code(0);
        assert!(
            merged.stdout == one.stdout,
            "plan shares, --format {format}"
        );
    }
    // merge shapes `sums` lines as `run hash` does (BSD tags, NUL ends); a partition leaves
    // that to the merge.
    let one = run(clean_run()
        .args(["-w", "2", "-q", "--format", "sums", "hash", "--tag", "-z"])
        .arg(tree.root()));
    one.assert_code(0);
    let merged = run(supervisor()
        .args(["merge", "-q", "--format", "sums", "--tag", "-z"])
        .args(&parts));
    merged.assert_code(0);
    assert!(
        merged.stdout == one.stdout,
        "merge --tag -z differs from run hash --tag -z"
    );
    let done = run(clean_run()
        .args(["-q", "--partition", "hash:1/3", "hash", "--tag"])
        .arg(tree.root()));
    done.assert_code(2);
    assert!(
        done.stderr.contains("give them to `supervisor merge"),
        "{}",
        done.stderr
    );
    // A plan edited after the fact is refused.
    let body = std::fs::read(&plan).unwrap();
    let cut = &body[..body.len() - 1];
    let cut = &cut[..=cut.iter().rposition(|&b| b == b'\n').unwrap()];
    std::fs::write(&plan, cut).unwrap();
    let done = run(clean_run()
        .args(["-q", "--plan"])
        .arg(&plan)
        .args(["--partition", "1/3"]));
    done.assert_code(2);
    assert!(done.stderr.contains("is damaged"), "{}", done.stderr);
}

#[test]
fn runs_that_cannot_be_split_are_refused_before_they_start() {
    let dir = tempdir();
    let sums = dir.path().join("MD5SUMS");
    std::fs::write(&sums, "d41d8cd98f00b204e9800998ecf8427e  empty\n").unwrap();
    let check = format!("--check={}", sums.display());
    let cases: [(&[&str], &str); 2] = [
        (&["hash", check.as_str()], "hash --check cannot be split"),
        (&["cpu", "--tasks", "1", "--compare"], "cpu --compare"),
    ];
    for (job, message) in cases {
        let done = run(clean_run().args(["--partition", "hash:1/2"]).args(job));
        done.assert_code(2);
        assert!(done.stdout.is_empty(), "{job:?}");
        assert!(done.stderr.contains(message), "{job:?}: {}", done.stderr);
    }
}
