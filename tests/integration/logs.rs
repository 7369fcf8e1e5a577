//! `run logs`: exact per-file line and pattern counts over awkward logs (CRLF, invalid UTF-8,
//! no final newline, gzip, a file big enough to be split into ranges), with one or two workers
//! and with workers killed by the chaos monkey.
//!
//! Every expectation comes from how the test writes the files: each generated line carries
//! the pattern it counts for, decided by hand, never by searching the bytes.

use crate::support::{Finished, Tree, run, stdout_text, supervisor_run};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;
use std::io::Write;

/// Which count a line belongs to with the default patterns (`ERROR`, then `WARNING`).
#[derive(Clone, Copy, Debug)]
enum Hit {
    Error,
    Warning,
    Neither,
}

use Hit::{Error, Neither, Warning};

/// Lines, errors, warnings: what the product must report for one file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Expect {
    lines: u64,
    errors: u64,
    warnings: u64,
}

impl Expect {
    fn add(&mut self, hit: Hit, times: u64) {
        self.lines += times;
        match hit {
            Error => self.errors += times,
            Warning => self.warnings += times,
            Neither => {}
        }
    }

    fn plus(self, other: Expect) -> Expect {
        Expect {
            lines: self.lines + other.lines,
            errors: self.errors + other.errors,
            warnings: self.warnings + other.warnings,
        }
    }
}

/// The bytes of `lines` (each given with its own line end, or none for a last line) and
/// their expected counts.
fn build(lines: &[(&[u8], Hit)]) -> (Vec<u8>, Expect) {
    let mut data = Vec::new();
    let mut expect = Expect::default();
    for (line, hit) in lines {
        data.extend_from_slice(line);
        expect.add(*hit, 1);
    }
    (data, expect)
}

/// ERROR and WARNING in all combinations, lowercase look-alikes, an empty line, and a last
/// line without a newline.
const MIXED: &[(&[u8], Hit)] = &[
    (b"2024-01-01 ERROR disk full\n", Error),
    (b"2024-01-01 WARNING low memory\n", Warning),
    (b"ERROR and WARNING on one line\n", Error),
    (b"WARNING first, then ERROR\n", Error),
    (b"lowercase error is not counted\n", Neither),
    (b"lowercase warning neither\n", Neither),
    (b"Error ErRoR eRROR Warning\n", Neither),
    (b"\n", Neither),
    (b"ERRORERROR twice, counted once\n", Error),
    (b"last line without a newline ERROR", Error),
];

/// CRLF line ends, a lone CR inside a line, a last line ending in CR but no LF.
const CRLF: &[(&[u8], Hit)] = &[
    (b"ERROR one\r\n", Error),
    (b"ok\r\n", Neither),
    (b"WARNING two\r\n", Warning),
    (b"\r\n", Neither),
    (b"WARNING\rERROR\r\n", Error),
    (b"trailing WARNING\r", Warning),
];

/// Invalid UTF-8 and NUL bytes around and inside the patterns.
const BINARY: &[(&[u8], Hit)] = &[
    (b"\xff\xfe ERROR \xc3\x28\n", Error),
    (b"\x80\x81WARNING\xff\n", Warning),
    (b"\xff\xff\xff\xff\n", Neither),
    (b"ERR\xffOR split by a bad byte\n", Neither),
    (b"\x00\x00 NUL bytes ERROR\x00\n", Error),
    (b"WARN\xc3\xa9ING accent inside\n", Neither),
];

const QUIET: &[(&[u8], Hit)] = &[
    (b"all good\n", Neither),
    (b"error: lowercase only\n", Neither),
    (b"warning: lowercase only\n", Neither),
];

const NESTED: &[(&[u8], Hit)] = &[
    (b"svc ERROR\n", Error),
    (b"svc WARNING\n", Warning),
    (b"svc WARNING\n", Warning),
];

/// One repetition of the rotated, gzip-compressed log.
const GZ_BLOCK: &[(&[u8], Hit)] = &[
    (b"gz ERROR one\n", Error),
    (b"gz WARNING two\n", Warning),
    (b"gz plain\n", Neither),
    (b"gz ERROR WARNING\n", Error),
];
const GZ_REPS: u64 = 5_000;
const GZ_TAIL: (&[u8], Hit) = (b"gz tail WARNING", Warning);

/// One repetition of the big log (the long line makes lines cross read pieces and ranges).
fn big_block() -> Vec<(Vec<u8>, Hit)> {
    let mut long = vec![b'x'; 1500];
    long.extend_from_slice(b"ERROR\n");
    vec![
        (b"INFO request served in 12ms\n".to_vec(), Neither),
        (b"ERROR upstream timeout, WARNING retry\n".to_vec(), Error),
        (b"WARNING slow query\n".to_vec(), Warning),
        (b"debug: error lowercase\n".to_vec(), Neither),
        (b"\xffbad\xfe WARNING\r\n".to_vec(), Warning),
        (long, Error),
        (b"WARNINGERROR\n".to_vec(), Error),
    ]
}
const BIG_MIN: u64 = 40 << 20;
const BIG_TAIL: (&[u8], Hit) = (b"big tail ERROR", Error);

/// The generated tree and, per counted file (sorted by path), its expected counts.
struct Logs {
    tree: Tree,
    expected: Vec<(String, Expect)>,
}

impl Logs {
    fn root_arg(&self) -> &std::path::Path {
        self.tree.root()
    }

    fn total(&self) -> Expect {
        self.expected
            .iter()
            .fold(Expect::default(), |sum, (_, e)| sum.plus(*e))
    }

    fn path(&self, relative: &str) -> String {
        format!("{}/{relative}", self.tree.root().display())
    }

    fn expect(&mut self, relative: &str, expect: Expect) {
        let path = self.path(relative);
        self.expected.push((path, expect));
        self.expected
            .sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    }

    fn add(&mut self, relative: &str, lines: &[(&[u8], Hit)]) {
        let (data, expect) = build(lines);
        self.tree.add(relative.as_bytes(), &data);
        self.expect(relative, expect);
    }
}

/// The small awkward logs, plus files the globs must leave out.
fn small_logs() -> Logs {
    let mut logs = Logs {
        tree: Tree::empty(),
        expected: Vec::new(),
    };
    logs.add("mixed.log", MIXED);
    logs.add("crlf.log", CRLF);
    logs.add("binary.log", BINARY);
    logs.add("quiet.log", QUIET);
    logs.add("empty.log", &[]);
    logs.add("nested/deeper/svc.log", NESTED);
    // Not matched by `*.log` nor `*.log.*.gz`: never counted.
    logs.tree
        .add(b"notes.txt", b"ERROR in a file no glob matches\n");
    logs.tree
        .add(b"app.log.2", b"ERROR in an uncompressed rotation\n");
    logs
}

/// [`small_logs`] plus the gzip rotation and the big file.
fn all_logs() -> Logs {
    let mut logs = small_logs();

    let mut plain = Vec::new();
    let mut expect = Expect::default();
    for _ in 0..GZ_REPS {
        for (line, hit) in GZ_BLOCK {
            plain.extend_from_slice(line);
            expect.add(*hit, 1);
        }
    }
    plain.extend_from_slice(GZ_TAIL.0);
    expect.add(GZ_TAIL.1, 1);
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(&plain).unwrap();
    logs.tree.add(b"app.log.1.gz", &encoder.finish().unwrap());
    logs.expect("app.log.1.gz", expect);

    let block = big_block();
    let block_bytes: Vec<u8> = block.iter().flat_map(|(l, _)| l.clone()).collect();
    let reps = BIG_MIN.div_ceil(block_bytes.len() as u64);
    let path = logs.tree.root().join("big.log");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut expect = Expect::default();
    for _ in 0..reps {
        file.write_all(&block_bytes).unwrap();
    }
    for (_, hit) in &block {
        expect.add(*hit, reps);
    }
    file.write_all(BIG_TAIL.0).unwrap();
    expect.add(BIG_TAIL.1, 1);
    file.into_inner().unwrap().sync_all().unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() >= BIG_MIN);
    logs.expect("big.log", expect);
    logs
}

const GLOBS: [&str; 4] = ["--glob", "*.log", "--glob", "*.log.*.gz"];

/// `run [options] --format json logs ROOT --glob ... [extra]`.
fn logs_json(logs: &Logs, options: &[&str], extra: &[&str]) -> Finished {
    run(supervisor_run()
        .args(options)
        .args(["--format", "json", "logs"])
        .arg(logs.root_arg())
        .args(GLOBS)
        .args(extra))
}

/// The (path, counts) of every result, with a clear message for an error row.
fn counted(doc: &Value) -> Vec<(String, Expect)> {
    doc["results"]
        .as_array()
        .expect("results is an array")
        .iter()
        .map(|r| {
            assert!(r.get("error").is_none(), "error row: {r}");
            let counts = r["counts"].as_object().expect("counts is an object");
            let keys: Vec<&str> = counts.keys().map(String::as_str).collect();
            let mut sorted_keys = keys.clone();
            sorted_keys.sort_unstable();
            assert_eq!(sorted_keys, ["ERROR", "WARNING"], "{r}");
            (
                r["path"].as_str().expect("path is a string").to_owned(),
                Expect {
                    lines: r["lines"].as_u64().expect("lines is a number"),
                    errors: counts["ERROR"].as_u64().expect("a count"),
                    warnings: counts["WARNING"].as_u64().expect("a count"),
                },
            )
        })
        .collect()
}

fn tasks_run(doc: &Value) -> u64 {
    doc["summary"]["workers"]
        .as_array()
        .expect("summary.workers")
        .iter()
        .map(|w| w["tasks"].as_u64().expect("tasks is a number"))
        .sum()
}

fn show(done: &Finished) -> String {
    format!(
        "exit {:?}\nstderr:\n{}\nstdout (start):\n{}",
        done.code,
        done.stderr,
        stdout_text(done).chars().take(4000).collect::<String>()
    )
}

#[test]
fn logs_counts_are_exact_with_one_two_and_killed_workers() {
    let logs = all_logs();
    let files = logs.expected.len() as u64;
    assert_eq!(files, 8);

    for workers in ["1", "2"] {
        let done = logs_json(&logs, &["-w", workers], &[]);
        done.assert_code(0);
        let doc = done.json();
        assert_eq!(
            counted(&doc),
            logs.expected,
            "-w {workers}: per-file counts differ"
        );
        let summary = &doc["summary"];
        assert_eq!(summary["tasks"], files, "-w {workers}: {summary}");
        assert_eq!(summary["failed"], 0, "-w {workers}: {summary}");
        assert_eq!(summary["worker_crashes"], 0, "-w {workers}: {summary}");
        // The big file was split: more tasks ran than there are files.
        let tasks = tasks_run(&doc);
        assert!(
            tasks > files,
            "-w {workers}: {tasks} tasks for {files} files, the 40 MiB file was not split: {summary}"
        );
        assert_eq!(
            summary["workers"].as_array().unwrap().len(),
            workers.parse::<usize>().unwrap()
        );
    }

    // Killed workers: a killed range is counted again from scratch, never twice. How long an
    // 8 MiB range takes varies a hundredfold between machines (the jobs crate is optimized
    // even in test builds: a few ms on a fast idle machine, ~0.3 s on a loaded one).
    let attempts = chaos_until_a_crash(&logs, 200);
    eprintln!("chaos runs over the big logs: {attempts:?}");
}

/// Runs `logs` on 2 workers under the chaos monkey, seed after seed, until a run both crashed
/// a worker and completed, starting with a kill every `start_ms`. The monkey kills a busy worker
/// every interval, so an interval shorter than a task starves it (a file runs out of retries:
/// the interval is lengthened) and one longer than the whole run kills nothing (it is halved,
/// down to 1 ms). Every run, complete or not, must count exactly every file it reports.
/// Returns what each run did.
fn chaos_until_a_crash(logs: &Logs, start_ms: u64) -> Vec<String> {
    let files = logs.expected.len() as u64;
    let mut attempts = Vec::new();
    let mut every_ms = start_ms;
    for seed in 1..=16 {
        let every = format!("{every_ms}ms");
        let every = every.as_str();
        let seed = seed.to_string();
        let done = logs_json(
            logs,
            &[
                "-w",
                "2",
                "--retries",
                "50",
                "--chaos-kill-every",
                every,
                "--chaos-seed",
                &seed,
            ],
            &[],
        );
        let doc = done.json();
        let summary = doc["summary"].clone();
        let crashes = summary["worker_crashes"].as_u64().unwrap();
        let results = doc["results"].as_array().unwrap();
        assert_eq!(results.len() as u64, files, "{}", show(&done));
        for (r, (path, expect)) in results.iter().zip(&logs.expected) {
            assert_eq!(r["path"], path.as_str(), "{r}");
            if let Some(error) = r.get("error") {
                // Only the monkey may have cost a file: its retries ran out.
                assert!(
                    error.as_str().unwrap().contains("SIGKILL"),
                    "chaos {every}: unexpected error: {r}"
                );
                continue;
            }
            let got = Expect {
                lines: r["lines"].as_u64().unwrap(),
                errors: r["counts"]["ERROR"].as_u64().unwrap(),
                warnings: r["counts"]["WARNING"].as_u64().unwrap(),
            };
            assert_eq!(got, *expect, "chaos {every} seed {seed}: {path} miscounted");
        }
        attempts.push(format!("{every}: exit {:?}, {crashes} crashes", done.code));
        if done.code == Some(0) {
            assert_eq!(counted(&doc), logs.expected);
            assert_eq!(summary["failed"], 0);
            if crashes > 0 {
                assert!(summary["chaos_kills"].as_u64().unwrap() > 0, "{summary}");
                assert!(
                    summary["workers_spawned"].as_u64().unwrap() > 2,
                    "{summary}"
                );
                return attempts;
            }
            every_ms = (every_ms / 2).max(1);
        } else {
            done.assert_code(1);
            every_ms = every_ms * 3 / 2 + 1;
        }
    }
    panic!("no chaos run both crashed a worker and completed: {attempts:?}");
}

#[test]
fn logs_chaos_on_many_small_files_changes_nothing() {
    // Many small files, each counted in well under the 20 ms interval.
    let mut logs = Logs {
        tree: Tree::empty(),
        expected: Vec::new(),
    };
    let filler = [b'.'; 200];
    for i in 0..300u64 {
        let mut data = Vec::new();
        let mut expect = Expect::default();
        let mut line = |text: &[u8], hit: Hit, newline: bool| {
            data.extend_from_slice(text);
            data.extend_from_slice(&filler[..(i as usize * 7) % 200]);
            if newline {
                data.push(b'\n');
            }
            expect.add(hit, 1);
        };
        for _ in 0..(i % 7) {
            line(b"ERROR alone ", Error, true);
        }
        for _ in 0..(i % 5) {
            line(b"a WARNING ", Warning, true);
        }
        for _ in 0..(i % 3) {
            line(b"WARNING before ERROR ", Error, true);
        }
        for _ in 0..(20 + i % 11) {
            line(b"plain error warning ", Neither, true);
        }
        if i % 2 == 0 {
            line(b"unterminated WARNING", Warning, false);
        }
        let name = format!("d{:02}/f{i:03}.log", i % 13);
        logs.tree.add(name.as_bytes(), &data);
        logs.expect(&name, expect);
    }

    // On a fast idle machine the whole run takes a few milliseconds: the interval halves
    // from 20 ms until a kill lands.
    let attempts = chaos_until_a_crash(&logs, 20);
    eprintln!("chaos runs over the small logs: {attempts:?}");
}

#[test]
fn logs_table_lists_matching_files_by_path_then_the_total() {
    let logs = small_logs();
    let done = run(supervisor_run()
        .args(["-w", "2", "logs"])
        .arg(logs.root_arg())
        .args(GLOBS));
    done.assert_code(0);
    let text = stdout_text(&done);
    let mut expected: Vec<String> = logs
        .expected
        .iter()
        .filter(|(_, e)| e.errors + e.warnings > 0)
        .map(|(path, e)| format!("{path}: {} ERROR, {} WARNING", e.errors, e.warnings))
        .collect();
    // Files without a match (quiet.log, empty.log) have no row but count in the total.
    assert_eq!(expected.len(), 4);
    let total = logs.total();
    expected.push(format!(
        "total: {} files, {} lines: {} ERROR, {} WARNING",
        logs.expected.len(),
        total.lines,
        total.errors,
        total.warnings
    ));
    let got: Vec<&str> = text.lines().take(expected.len()).collect();
    assert_eq!(got, expected, "table:\n{text}");
    assert!(!text.contains("quiet.log"), "{text}");
    assert!(!text.contains("empty.log"), "{text}");
    assert!(!text.contains("notes.txt"), "{text}");
    assert!(!text.contains("app.log.2"), "{text}");
    assert!(
        text.lines()
            .nth(expected.len())
            .is_some_and(|l| l.starts_with(&format!("{} results: ", logs.expected.len()))),
        "no summary after the total:\n{text}"
    );
}

#[test]
fn logs_pattern_order_decides_the_count_of_a_line() {
    let mut tree = Tree::empty();
    // For each line, the count it belongs to under three pattern lists: the default
    // [ERROR, WARNING], then [WARNING, ERROR], then [disk, ERROR] ("-": none).
    let lines: &[(&[u8], [&str; 3])] = &[
        (b"ERROR and WARNING\n", ["ERROR", "WARNING", "ERROR"]),
        (b"WARNING and ERROR\n", ["ERROR", "WARNING", "ERROR"]),
        (b"only ERROR\n", ["ERROR", "ERROR", "ERROR"]),
        (b"only WARNING\n", ["WARNING", "WARNING", "-"]),
        (b"disk full\n", ["-", "-", "disk"]),
        (b"ERROR disk WARNING\n", ["ERROR", "WARNING", "disk"]),
        (b"nothing\n", ["-", "-", "-"]),
        (b"disk WARNING", ["WARNING", "WARNING", "disk"]),
    ];
    let data: Vec<u8> = lines.iter().flat_map(|l| l.0.to_vec()).collect();
    let path = tree.add(b"order.log", &data);
    let path = path.display().to_string();

    let count = |case: usize, pattern: &str| lines.iter().filter(|l| l.1[case] == pattern).count();
    let cases: [&[&str]; 3] = [&[], &["WARNING", "ERROR"], &["disk", "ERROR"]];
    for (case, patterns) in cases.into_iter().enumerate() {
        let shown: Vec<&str> = if patterns.is_empty() {
            vec!["ERROR", "WARNING"]
        } else {
            patterns.to_vec()
        };
        let mut cmd = supervisor_run();
        cmd.args(["-w", "1", "logs"]).arg(tree.root());
        for p in patterns {
            cmd.args(["--pattern", p]);
        }
        let done = run(&mut cmd);
        done.assert_code(0);
        let text = stdout_text(&done);
        let counts: Vec<String> = shown
            .iter()
            .map(|p| format!("{} {p}", count(case, p)))
            .collect();
        let row = format!("{path}: {}", counts.join(", "));
        let total = format!(
            "total: 1 files, {} lines: {}",
            lines.len(),
            counts.join(", ")
        );
        let got: Vec<&str> = text.lines().take(2).collect();
        assert_eq!(got, [row, total], "patterns {shown:?}:\n{text}");

        // JSON: the counts object has exactly the patterns, in the order given.
        let mut cmd = supervisor_run();
        cmd.args(["-w", "1", "--format", "json", "logs"])
            .arg(tree.root());
        for p in patterns {
            cmd.args(["--pattern", p]);
        }
        let done = run(&mut cmd);
        done.assert_code(0);
        let raw = stdout_text(&done);
        let doc = done.json();
        let result = &doc["results"][0];
        assert_eq!(result["lines"], lines.len() as u64, "{result}");
        let object = result["counts"].as_object().unwrap();
        assert_eq!(object.len(), shown.len(), "{result}");
        for p in &shown {
            assert_eq!(object[*p], count(case, p) as u64, "{p}: {result}");
        }
        let positions: Vec<usize> = shown
            .iter()
            .map(|p| raw.find(&format!("\"{p}\":")).expect("pattern key in json"))
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "counts keys are not in pattern order {shown:?}:\n{raw}"
        );
    }
}

/// A log of 64 MiB to cut down as `copytruncate` does: its bytes, where the cut falls (the end
/// of the last whole line within the first `keep` bytes), and the counts of the kept part and
/// of the whole file.
fn log_to_truncate(keep: usize) -> (Vec<u8>, usize, Expect, Expect) {
    let line = |i: u64| -> (Vec<u8>, Hit) {
        match i % 4 {
            0 => (format!("{i} ERROR disk\n").into_bytes(), Error),
            1 => (format!("{i} WARNING slow\n").into_bytes(), Warning),
            _ => (
                format!("{i} INFO fine and dandy, nothing to see here\n").into_bytes(),
                Neither,
            ),
        }
    };
    let mut data = Vec::new();
    let mut kept = Expect::default();
    let mut whole = Expect::default();
    let mut kept_len = 0;
    for i in 0.. {
        let (bytes, hit) = line(i);
        if data.len() + bytes.len() <= keep {
            kept.add(hit, 1);
            kept_len = data.len() + bytes.len();
        }
        whole.add(hit, 1);
        data.extend_from_slice(&bytes);
        if data.len() >= 64 << 20 {
            break;
        }
    }
    (data, kept_len, kept, whole)
}

/// Cuts the file at `path` down to `len` bytes, in place.
fn truncate(path: &std::path::Path, len: usize) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len as u64)
        .unwrap();
}

/// Starts `run -w WORKERS --format json logs` over `tree` and waits for its first worker.
fn start_counting(tree: &Tree, workers: &str) -> (crate::support::Running, i32) {
    let running = crate::support::spawn(
        supervisor_run()
            .args(["-w", workers, "--format", "json", "logs"])
            .arg(tree.root()),
    );
    let mut worker = None;
    assert!(
        crate::support::wait_until(crate::support::deadline(20), || {
            worker = crate::support::workers_of(running.pid()).first().copied();
            worker.is_some()
        }),
        "no worker started"
    );
    (running, worker.unwrap())
}

/// The one file's counts in a finished run over a log cut down to its `kept` part, checked
/// to be no fewer than that part's (ranges counted before the cut saw more), with every
/// worker gone.
fn counted_after_the_cut(done: &Finished, kept: Expect) -> Expect {
    done.assert_code(0);
    let doc = done.json();
    crate::support::assert_all_gone(&crate::support::summary_pids(&doc));
    let counts = counted(&doc);
    assert_eq!(counts.len(), 1, "{}", show(done));
    let got = counts[0].1;
    assert!(
        got.lines >= kept.lines && got.errors >= kept.errors && got.warnings >= kept.warnings,
        "fewer than the kept part's {kept:?}: {got:?}"
    );
    got
}

#[test]
fn a_log_truncated_while_it_is_counted_gives_the_count_of_what_was_read_and_no_failure() {
    // copytruncate: the log is cut down while workers count its ranges. Each range counts the
    // lines it read (none past the new end), so the total lies between the counts of the kept
    // part and of the whole file, and nothing fails. A range counted in place when the cut
    // came kills its worker with SIGBUS, and is counted again by reading: every crash is
    // retried.
    let mut tree = Tree::empty();
    let (data, kept_len, kept, whole) = log_to_truncate(16 << 20);
    // The cut must land while the ranges are counted, not after: a machine quick enough to
    // count the whole file first gets another try.
    for _attempt in 0..10 {
        let path = tree.add(b"app.log", &data);
        let (running, _) = start_counting(&tree, "2");
        truncate(&path, kept_len);
        let done = running.finish_within(crate::support::RUN_LIMIT);
        let got = counted_after_the_cut(&done, kept);
        assert!(got.lines <= whole.lines, "{got:?} > {whole:?}");
        let doc = done.json();
        let summary = &doc["summary"];
        assert_eq!(summary["failed"], 0, "{}", show(&done));
        assert_eq!(
            summary["retried"],
            summary["worker_crashes"],
            "{}",
            show(&done)
        );
        if got.lines < whole.lines {
            return;
        }
    }
    panic!("the cut came after the whole file was counted in 10 attempts: nothing was tested");
}

#[test]
fn a_log_truncated_under_its_mapping_kills_only_its_worker_and_the_rerun_reads_it() {
    // The worker is stopped while it has the log mapped, the log is cut to its first MiB,
    // and the worker resumes: its range still had pages past the cut to read, so it dies of
    // SIGBUS. The engine runs that range again, and the `logs` job reads it this time.
    let mut tree = Tree::empty();
    let (data, kept_len, kept, whole) = log_to_truncate(1 << 20);
    // A worker stopped after the last page it touches of its last range would see no SIGBUS;
    // that window is microseconds wide, so a second try is all it could take.
    for _attempt in 0..5 {
        let path = tree.add(b"app.log", &data);
        let (running, worker) = start_counting(&tree, "1");
        let name = path.as_os_str().as_encoded_bytes().to_vec();
        let mapped = crate::support::step_until(worker, 20, || {
            std::fs::read(format!("/proc/{worker}/maps"))
                .is_ok_and(|maps| maps.windows(name.len()).any(|w| w == name))
        });
        if !mapped {
            // It counted the whole file between two looks: nothing was tested this time.
            running
                .finish_within(crate::support::RUN_LIMIT)
                .assert_code(0);
            continue;
        }
        truncate(&path, kept_len);
        crate::support::sigcont(worker);
        let done = running.finish_within(crate::support::RUN_LIMIT);
        // Ranges counted before the cut saw the whole file; the rerun and the ranges after it
        // see the kept part.
        let got = counted_after_the_cut(&done, kept);
        let doc = done.json();
        let summary = &doc["summary"];
        if summary["worker_crashes"] == 0 {
            continue;
        }
        assert_eq!(summary["worker_crashes"], 1, "{}", show(&done));
        assert_eq!(summary["retried"], 1, "{}", show(&done));
        assert_eq!(summary["failed"], 0, "{}", show(&done));
        assert!(
            crate::support::is_gone(worker),
            "the worker that read past the cut is gone"
        );
        assert!(
            done.stderr
                .contains(&format!("worker {worker} (slot 0) killed by SIGBUS")),
            "{}",
            show(&done)
        );
        assert!(got.lines < whole.lines, "{got:?} is the whole file's");
        return;
    }
    panic!("in 5 attempts, no worker was caught with the log mapped and killed by SIGBUS");
}
