//! `run exec` split into partitions: 1, 3 and 7 partitions, each a separate process, merge into
//! exactly what one run prints in every format (the table byte for byte, stdout and stderr;
//! json, jsonl and csv the same records, run times aside); every item is in exactly one
//! partition and `{#}` is its place in the whole input; big output crosses the partition file
//! exactly; a partition SIGKILLed mid-run resumes from its journal, nothing it started
//! survives, and the merge is the same.

use crate::partition::{
    clean_run, journal_holds_results, json_results, merge, os, rerun_partition_2,
    rerunnable_partition, run_partitions, split_json,
};
use crate::support::{
    Finished, assert_all_gone, deadline, processes_mentioning, run, sigkill, spawn, tempdir,
    wait_until,
};
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// One command per item: output on stderr, a failure, stdout and stderr bigger than the
/// inline limit (64 KiB; stderr not UTF-8), and `{#}` ($2) in every line.
const SCRIPT: &str = r#"case "$1" in
  err*) echo "$2 to stderr" >&2; echo "$2 out";;
  fail*) echo "$2 failing"; exit 3;;
  big) seq "$2" 40000; printf '\377\376 not UTF-8\n' >&2; seq 20000 >&2;;
  *) echo "$2 [$1]";;
esac"#;

const ITEMS: [&str; 12] = [
    "a",
    "err 1",
    "b \"quoted\"",
    "fail 1",
    "big",
    "c",
    "err 2",
    "d",
    "e",
    "fail 2",
    "f",
    "g",
];

/// `exec [OPTIONS] -- sh -c SCRIPT sh {} {#} ::: ITEMS...`.
fn exec_job(options: &[OsString]) -> Vec<OsString> {
    let mut job = os(&["exec"]);
    job.extend_from_slice(options);
    job.extend(os(&["--", "sh", "-c", SCRIPT, "sh", "{}", "{#}", ":::"]));
    job.extend(os(&ITEMS));
    job
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// A json/jsonl result line with its run time blanked (it differs between any two runs).
fn without_duration(line: &[u8]) -> Vec<u8> {
    let key = b"\"duration_ms\":";
    let at = rfind(line, key).expect("a duration_ms") + key.len();
    let end = at
        + line[at..]
            .iter()
            .position(|&b| b == b',')
            .expect("a field after it");
    [&line[..at], b"_", &line[end..]].concat()
}

fn without_durations(lines: &[Vec<u8>]) -> Vec<Vec<u8>> {
    lines.iter().map(|l| without_duration(l)).collect()
}

/// CSV records with the duration column blanked.
fn csv_without_durations(bytes: &[u8]) -> Vec<csv::ByteRecord> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes);
    reader
        .byte_records()
        .map(|record| {
            let record = record.expect("a CSV record");
            let duration = 6;
            assert_eq!(record.len(), 9, "{record:?}");
            record
                .iter()
                .enumerate()
                .map(|(i, field)| if i == duration { &b""[..] } else { field })
                .collect()
        })
        .collect()
}

/// Every item's result is in exactly one partition file; returns how many files carry a
/// stream after its result line (base64 pieces).
fn assert_each_item_once(files: &[PathBuf], items: usize) -> usize {
    let mut seqs = Vec::new();
    let mut with_pieces = 0;
    for file in files {
        let body = std::fs::read(file).unwrap();
        for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let value: Value = serde_json::from_slice(line).unwrap();
            if let Some(seq) = value["result"]["seq"].as_u64() {
                seqs.push(seq);
            }
        }
        with_pieces += usize::from(body.windows(12).any(|w| w == b"\n{\"stdout\":\""));
    }
    seqs.sort_unstable();
    let expected: Vec<u64> = (1..=items as u64).collect();
    assert_eq!(seqs, expected, "each item once, by its place in the input");
    with_pieces
}

#[test]
fn exec_partitions_merge_to_one_run_in_every_format() {
    let dir = tempdir();
    let job = exec_job(&[]);
    let formats = ["table", "json", "jsonl", "csv"];
    let single: Vec<Finished> = formats
        .iter()
        .map(|format| {
            run(clean_run()
                .args(["-w", "2", "-q", "--format", format])
                .args(&job))
        })
        .collect();
    let table = &single[0];
    table.assert_code(1);
    assert!(
        table
            .stdout
            .starts_with(b"1 [a]\n2 out\n3 [b \"quoted\"]\n4 failing\n5\n6\n7\n"),
        "{}",
        String::from_utf8_lossy(&table.stdout[..100])
    );
    assert!(
        table
            .stdout
            .ends_with(b"39999\n40000\n6 [c]\n7 out\n8 [d]\n9 [e]\n10 failing\n11 [f]\n12 [g]\n")
    );
    let json_lines = without_durations(&split_json("json", &single[1].stdout).0);
    for count in [1, 3, 7] {
        let files = run_partitions(dir.path(), &job, count);
        let with_pieces = assert_each_item_once(&files, ITEMS.len());
        assert_eq!(with_pieces, 1, "the big output follows its result line");
        for (format, one) in formats.iter().zip(&single) {
            let merged = merge(&files, format);
            let what = format!("{count} partitions, --format {format}");
            assert_eq!(merged.code, one.code, "{what}: {merged:?}");
            // The table's stderr holds the commands' stderr and a line per failed task.
            assert_eq!(merged.stderr, one.stderr, "{what}: stderr");
            match *format {
                "table" => assert!(merged.stdout == one.stdout, "{what}: output differs"),
                "csv" => assert!(
                    csv_without_durations(&merged.stdout) == csv_without_durations(&one.stdout),
                    "{what}: records differ"
                ),
                _ => {
                    let (lines, one_lines) = json_results(format, &merged, one, &what);
                    // jsonl streams in completion order; merged, it is in input order.
                    let lines = without_durations(&lines);
                    assert!(lines == json_lines, "{what}: not json's records in order");
                    let mut sorted = (without_durations(&one_lines), lines);
                    sorted.0.sort();
                    sorted.1.sort();
                    assert!(sorted.0 == sorted.1, "{what}: records differ");
                }
            }
        }
    }
}

#[test]
fn exec_partitions_with_an_output_dir_merge_from_the_shared_files() {
    let dir = tempdir();
    let shared = dir.path().join("shared");
    let alone = dir.path().join("alone");
    let with_dir = |d: &Path| exec_job(&[OsString::from("--output-dir"), d.into()]);
    let one = run(clean_run().args(["-w", "2", "-q"]).args(with_dir(&alone)));
    let files = run_partitions(dir.path(), &with_dir(&shared), 3);
    assert_eq!(
        assert_each_item_once(&files, ITEMS.len()),
        0,
        "the streams stay in their files"
    );
    let merged = merge(&files, "table");
    assert_eq!(merged.code, one.code, "{merged:?}");
    assert!(merged.stdout == one.stdout, "the table differs");
    assert_eq!(merged.stderr, one.stderr);
    // json names the files where the partitions wrote them, as one run with that directory.
    let doc = merge(&files, "json").json();
    let shared = std::fs::canonicalize(&shared).unwrap();
    for result in doc["results"].as_array().unwrap() {
        let seq = result["seq"].as_u64().unwrap();
        for stream in ["stdout", "stderr"] {
            let file = shared.join(format!("{seq}.{stream}"));
            assert_eq!(result[format!("{stream}_file")], file.to_str().unwrap());
            let size = std::fs::metadata(&file).unwrap().len();
            assert_eq!(result[format!("{stream}_size")], size, "{result}");
        }
    }
}

#[test]
fn exec_partitions_of_other_items_or_moved_results_are_refused() {
    let dir = tempdir();
    let items = |last: &str| {
        let mut job = os(&["exec", "--", "echo", ":::", "a", "b", "c", "d", "e", "f"]);
        job.push(last.into());
        job
    };
    let first = run_partitions(dir.path(), &items("g"), 2);
    let other_dir = dir.path().join("other");
    std::fs::create_dir(&other_dir).unwrap();
    let other = run_partitions(&other_dir, &items("h"), 2);
    assert_merge_refused(
        &[first[0].clone(), other[1].clone()],
        &["are not partitions of one run", "\"items\":{\"count\":7,"],
    );
    // A result moved into the other partition's file is not that partition's.
    let lines = |path: &Path| -> Vec<Vec<u8>> {
        std::fs::read(path)
            .unwrap()
            .split(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect()
    };
    let (mut one, two) = (lines(&first[0]), lines(&first[1]));
    let moved = two
        .iter()
        .find(|l| l.starts_with(b"{\"order\""))
        .expect("partition 2 of 2 has a result")
        .clone();
    one.insert(1, moved);
    std::fs::write(&first[0], one.join(&b'\n')).unwrap();
    assert_merge_refused(
        &first,
        &[":2: not a result line: task ", "is not in partition 1/2"],
    );
}

/// Merging `files` is refused: exit 2, nothing written, one line saying every one of `says`.
fn assert_merge_refused(files: &[PathBuf], says: &[&str]) {
    let done = merge(files, "table");
    done.assert_code(2);
    assert!(done.stdout.is_empty());
    assert_eq!(done.stderr.lines().count(), 1, "{}", done.stderr);
    assert!(
        says.iter().all(|s| done.stderr.contains(s)),
        "{}",
        done.stderr
    );
}

/// A process's short name.
fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

#[test]
fn an_exec_partition_killed_mid_run_resumes_from_its_journal_and_merges_identically() {
    let dir = tempdir();
    // Every task takes a moment and prints more than the inline limit, so the killed
    // partition's journal keeps output beside it (JOURNAL.outputs) for the rerun to print.
    let mut job = os(&[
        "exec",
        "--",
        "sh",
        "-c",
        r#"sleep 0.05; seq "$1" $(($1 + 14000))"#,
        "sh",
        "{#}",
        ":::",
    ]);
    job.extend((1..=24).map(|i| OsString::from(format!("item {i}"))));
    let partition = |m: u32| rerunnable_partition(dir.path(), m, &job);
    let single = spawn(clean_run().args(["-w", "2", "-q"]).args(&job));
    let others: Vec<_> = [1, 3].iter().map(|&m| spawn(&mut partition(m))).collect();

    // Partition 2 dies (SIGKILL, as its node would) with results journaled and a command
    // running. Everything it started carries a mark in its environment.
    let mark = format!("SUPERVISOR_EXEC_PARTITION_TEST={}", std::process::id());
    let (key, value) = mark.split_once('=').unwrap();
    let running = spawn(partition(2).env(key, value));
    let mut marked = Vec::new();
    let ready = wait_until(deadline(20), || {
        marked = processes_mentioning(mark.as_bytes());
        journal_holds_results(dir.path(), 2) && marked.iter().any(|&p| comm(p) == "sleep")
    });
    assert!(
        ready,
        "partition 2 never journaled a result with a command running"
    );
    assert!(
        marked.contains(&running.pid()) && marked.len() >= 4,
        "{marked:?}"
    );
    sigkill(running.pid());
    let killed = running.finish();
    assert_eq!(killed.code, None, "partition 2 was not killed: {killed:?}");
    // Its workers, their guardians and the commands are all gone.
    assert_all_gone(&marked);
    assert!(
        wait_until(deadline(5), || processes_mentioning(mark.as_bytes())
            .is_empty()),
        "left behind: {:?}",
        processes_mentioning(mark.as_bytes())
    );
    assert!(!dir.path().join("part-2.jsonl").exists());

    // The scheduler reruns the index with the same command line.
    let files = rerun_partition_2(dir.path(), partition(2), others);
    assert_each_item_once(&files, 24);
    let merged = merge(&files, "table");
    merged.assert_code(0);
    let single = single.finish();
    single.assert_code(0);
    assert!(
        merged.stdout == single.stdout,
        "the merge differs from one run"
    );
    assert!(merged.stdout.starts_with(b"1\n2\n") && merged.stdout.ends_with(b"14024\n"));
}
