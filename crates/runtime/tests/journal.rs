//! The durable journal: round trips, torn tails at every byte, corruption, refusals, and a real
//! SIGKILL of a writing process.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use supervisor_runtime::journal::{Fingerprint, JournalError, JournalWriter, resume};
use supervisor_runtime::{ExitKind, Failure, Outcome};

type Out = (u64, String);

fn fingerprint() -> Fingerprint {
    Fingerprint::new("test-job", &[b"setup", b"task list"])
}

/// A deterministic mix of successes and every failure shape.
fn outcome(i: u64) -> Outcome<Out> {
    let result = match i % 4 {
        0 | 1 => Ok((
            i * 7,
            format!("output of task {i} ").repeat((i % 5) as usize),
        )),
        2 => Err(Failure::Crashed {
            exit: if i % 8 == 2 {
                ExitKind::Signaled {
                    signal: 9,
                    core_dumped: false,
                }
            } else {
                ExitKind::Exited(3)
            },
            stderr: format!("stderr line of {i}"),
        }),
        _ => Err(Failure::Panicked(format!("panic {i}"))),
    };
    Outcome {
        result,
        attempts: (i % 3 + 1) as u32,
    }
}

fn assert_same(got: &[(u64, Outcome<Out>)], want: &[(u64, Outcome<Out>)]) {
    assert_eq!(got.len(), want.len(), "number of recovered outcomes");
    for ((gi, g), (wi, w)) in got.iter().zip(want) {
        assert_eq!(gi, wi);
        assert_eq!(g.result, w.result, "task {gi}");
        assert_eq!(g.attempts, w.attempts, "task {gi}");
    }
}

fn expected(indices: impl IntoIterator<Item = u64>) -> Vec<(u64, Outcome<Out>)> {
    indices.into_iter().map(|i| (i, outcome(i))).collect()
}

/// Writes records `0..n`, returning the file length after the header and after each record.
fn write_journal(path: &Path, total: u64, n: u64) -> Vec<u64> {
    let mut writer = JournalWriter::create(path, fingerprint(), total).unwrap();
    let mut ends = vec![fs::metadata(path).unwrap().len()];
    for i in 0..n {
        writer.append(i, &outcome(i)).unwrap();
        writer.flush().unwrap();
        ends.push(fs::metadata(path).unwrap().len());
    }
    writer.finish().unwrap();
    ends
}

#[test]
fn round_trip_of_many_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.journal");
    let total = 2000;
    let mut writer = JournalWriter::create(&path, fingerprint(), total).unwrap();
    // Out of order, as workers finish.
    let order: Vec<u64> = (0..total).map(|i| (i * 7919) % total).collect();
    for &i in &order {
        writer.append(i, &outcome(i)).unwrap();
    }
    writer.finish().unwrap();

    let (writer, got) = resume::<Out>(&path, fingerprint(), total).unwrap();
    assert_eq!(writer.discarded_bytes(), 0);
    assert_same(&got, &expected(0..total));
}

#[test]
fn dropping_the_writer_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.journal");
    let mut writer = JournalWriter::create(&path, fingerprint(), 10).unwrap();
    for i in 0..5 {
        writer.append(i, &outcome(i)).unwrap();
    }
    drop(writer);
    let (_, got) = resume::<Out>(&path, fingerprint(), 10).unwrap();
    assert_same(&got, &expected(0..5));
}

#[test]
fn duplicate_indices_keep_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.journal");
    let mut writer = JournalWriter::create(&path, fingerprint(), 10).unwrap();
    writer.append(3, &outcome(1)).unwrap();
    writer.append(5, &outcome(5)).unwrap();
    writer.append(3, &outcome(3)).unwrap();
    writer.finish().unwrap();
    let (_, got) = resume::<Out>(&path, fingerprint(), 10).unwrap();
    assert_same(&got, &expected([3, 5]));
}

#[test]
fn torn_tail_at_every_byte_of_the_last_record() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.journal");
    let n = 6;
    let total = 10;
    let ends = write_journal(&full, total, n);
    let bytes = fs::read(&full).unwrap();
    let (last_start, last_end) = (ends[n as usize - 1], ends[n as usize]);
    assert_eq!(last_end, bytes.len() as u64);

    let path = dir.path().join("torn.journal");
    for cut in last_start..last_end {
        fs::write(&path, &bytes[..cut as usize]).unwrap();
        let (mut writer, got) = resume::<Out>(&path, fingerprint(), total).unwrap();
        assert_same(&got, &expected(0..n - 1));
        assert_eq!(writer.discarded_bytes(), cut - last_start, "cut at {cut}");
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            last_start,
            "cut at {cut}"
        );

        // Appending after the cut continues cleanly: the torn task again, plus a new one.
        writer.append(n - 1, &outcome(n - 1)).unwrap();
        writer.append(n, &outcome(n)).unwrap();
        writer.finish().unwrap();
        let (writer, got) = resume::<Out>(&path, fingerprint(), total).unwrap();
        assert_eq!(writer.discarded_bytes(), 0, "cut at {cut}");
        assert_same(&got, &expected(0..=n));
    }
}

#[test]
fn corrupt_middle_record_stops_recovery_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.journal");
    let total = 10;
    let ends = write_journal(&path, total, 5);
    let mut bytes = fs::read(&path).unwrap();
    // The middle of record 2's payload (its 8-byte frame comes first).
    let (start, end) = (ends[2] as usize, ends[3] as usize);
    let flip = (start + 8 + end) / 2;
    bytes[flip] ^= 0x5a;
    fs::write(&path, &bytes).unwrap();

    let (writer, got) = resume::<Out>(&path, fingerprint(), total).unwrap();
    assert_eq!(got.len(), 2, "recovered records 0 and 1 only");
    assert_same(&got, &expected(0..2));
    assert_eq!(writer.discarded_bytes(), bytes.len() as u64 - ends[2]);
    assert_eq!(fs::metadata(&path).unwrap().len(), ends[2]);
}

#[test]
fn record_with_an_index_out_of_range_ends_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.journal");
    let mut writer = JournalWriter::create(&path, fingerprint(), 4).unwrap();
    writer.append(0, &outcome(0)).unwrap();
    writer.append(9, &outcome(9)).unwrap();
    writer.finish().unwrap();
    let (_, got) = resume::<Out>(&path, fingerprint(), 4).unwrap();
    assert_same(&got, &expected([0]));
}

#[test]
fn another_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.journal");
    write_journal(&path, 10, 3);
    let before = fs::read(&path).unwrap();

    let other = Fingerprint::new("test-job", &[b"setup", b"other task list"]);
    let err = resume::<Out>(&path, other, 10).err().expect("refused");
    assert!(matches!(err, JournalError::Mismatch { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("run.journal"), "{message}");
    assert!(message.contains("different job or arguments"), "{message}");

    let err = resume::<Out>(&path, fingerprint(), 11)
        .err()
        .expect("refused");
    assert!(matches!(err, JournalError::Mismatch { .. }), "{err}");
    // A refused resume leaves the file alone.
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn a_file_that_is_not_a_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    fs::write(
        &path,
        "just some text, long enough to hold a header and more\n",
    )
    .unwrap();
    let err = resume::<Out>(&path, fingerprint(), 10)
        .err()
        .expect("refused");
    assert!(matches!(err, JournalError::NotAJournal(_)), "{err}");
    assert!(err.to_string().contains("notes.txt"), "{err}");

    fs::write(&path, "").unwrap();
    let err = resume::<Out>(&path, fingerprint(), 10)
        .err()
        .expect("refused");
    assert!(matches!(err, JournalError::NotAJournal(_)), "{err}");

    let err = resume::<Out>(dir.path().join("missing"), fingerprint(), 10)
        .err()
        .expect("refused");
    assert!(matches!(err, JournalError::Io { .. }), "{err}");
}

#[test]
fn a_damaged_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.journal");
    let ends = write_journal(&path, 10, 1);
    let bytes = fs::read(&path).unwrap();
    for cut in 9..ends[0] as usize {
        fs::write(&path, &bytes[..cut]).unwrap();
        let err = resume::<Out>(&path, fingerprint(), 10)
            .err()
            .expect("refused");
        assert!(matches!(err, JournalError::DamagedHeader { .. }), "{err}");
    }
    let mut flipped = bytes.clone();
    flipped[30] ^= 1;
    fs::write(&path, &flipped).unwrap();
    let err = resume::<Out>(&path, fingerprint(), 10)
        .err()
        .expect("refused");
    assert!(matches!(err, JournalError::DamagedHeader { .. }), "{err}");
}

#[test]
fn fingerprints_separate_their_parts() {
    let fp = |job: &str, parts: &[&[u8]]| Fingerprint::new(job, parts);
    assert_eq!(fp("j", &[b"ab", b"c"]), fp("j", &[b"ab", b"c"]));
    assert_ne!(fp("j", &[b"ab", b"c"]), fp("j", &[b"a", b"bc"]));
    assert_ne!(fp("ja", &[b"b"]), fp("j", &[b"ab"]));
    assert_ne!(fp("j", &[b""]), fp("j", &[]));
    let mut builder = Fingerprint::builder("j");
    builder.add(b"ab").add(b"c");
    assert_eq!(builder.finish(), fp("j", &[b"ab", b"c"]));
    assert_eq!(fp("j", &[]).to_string().len(), 64);
}

const CRASH_PATH: &str = "SUPERVISOR_JOURNAL_CRASH_PATH";
const CRASH_MODE: &str = "SUPERVISOR_JOURNAL_CRASH_MODE";
const CRASH_TOTAL: u64 = 1_000_000;
/// How many records the "idle" writer appends before going quiet (not a multiple of 32, so
/// only the 50 ms timer can write the last group).
const IDLE_AFTER: u64 = 45;

/// Not a test: the writer process of the crash tests, run by them as a child. It appends
/// records and prints "appended N" after each, then is SIGKILLed.
#[test]
#[ignore = "helper process for the crash tests"]
fn crash_writer_helper() {
    let Ok(path) = std::env::var(CRASH_PATH) else {
        return;
    };
    let idle = std::env::var(CRASH_MODE).as_deref() == Ok("idle");
    let mut writer = JournalWriter::create(&path, fingerprint(), CRASH_TOTAL).unwrap();
    let mut stdout = std::io::stdout().lock();
    for i in 0..CRASH_TOTAL {
        if idle && i == IDLE_AFTER {
            writeln!(stdout, "idle").unwrap();
            stdout.flush().unwrap();
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        writer.append(i, &outcome(i)).unwrap();
        // Direct writes to stdout, not `println!`, which the test harness would capture.
        writeln!(stdout, "appended {}", i + 1).unwrap();
        stdout.flush().unwrap();
        // Slow enough that groups are written by the 50 ms rule, not the 32-record one.
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// Runs the helper in `mode`, calls `wait_for` on each line it prints until it returns the
/// number of records the helper has certainly appended, waits (polling a copy of the journal)
/// until the writer's background thread has put that many in the file, SIGKILLs the helper,
/// and returns that number.
fn kill_writer(path: &Path, mode: &str, mut wait_for: impl FnMut(&str) -> Option<u64>) -> u64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_writer_helper",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CRASH_PATH, path)
        .env(CRASH_MODE, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A reader thread keeps draining the pipe, so the child never blocks on a full pipe while
    // we wait, and the wait below can time out.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let appended = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|e| {
            let _ = child.kill();
            panic!("the writer did not report progress: {e}")
        });
        if let Some(n) = wait_for(&line) {
            break n;
        }
    };
    // The writer flushes on its own (within 50 ms of an append): poll until the file holds
    // what was appended, reading a copy so the live journal is not touched.
    let copy = path.with_extension("copy");
    let on_disk = |copy: &Path| {
        fs::copy(path, copy).ok()?;
        resume::<Out>(copy, fingerprint(), CRASH_TOTAL)
            .ok()
            .map(|(_, got)| got.len() as u64)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while on_disk(&copy).is_none_or(|n| n < appended) {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the writer never wrote {appended} records to the file on its own");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = fs::remove_file(&copy);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    drop(rx);
    reader.join().unwrap();
    appended
}

fn appended(line: &str) -> Option<u64> {
    line.strip_prefix("appended ")?.parse().ok()
}

#[test]
fn sigkill_while_appending_keeps_every_record_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.journal");
    let appended = kill_writer(&path, "stream", |line| appended(line).filter(|&n| n >= 300));

    let (mut writer, got) = resume::<Out>(&path, fingerprint(), CRASH_TOTAL).unwrap();
    assert!(
        got.len() as u64 >= appended,
        "recovered {} records, but {appended} were in the file before the kill",
        got.len()
    );
    // Whatever came back is a gap-free prefix, intact.
    assert_same(&got, &expected(0..got.len() as u64));

    // The run resumes: append the rest of a small range and read it all back.
    let next = got.len() as u64;
    for i in next..next + 10 {
        writer.append(i, &outcome(i)).unwrap();
    }
    writer.finish().unwrap();
    let (_, got) = resume::<Out>(&path, fingerprint(), CRASH_TOTAL).unwrap();
    assert_same(&got, &expected(0..next + 10));
}

#[test]
fn sigkill_of_an_idle_writer_loses_nothing_buffered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idle.journal");
    let appended = kill_writer(&path, "idle", |line| (line == "idle").then_some(IDLE_AFTER));
    assert_eq!(appended, IDLE_AFTER);

    let (writer, got) = resume::<Out>(&path, fingerprint(), CRASH_TOTAL).unwrap();
    assert_eq!(writer.discarded_bytes(), 0);
    assert_same(&got, &expected(0..IDLE_AFTER));
}

#[test]
fn appends_reach_the_file_within_50ms() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.journal");
    let mut writer = JournalWriter::create(&path, fingerprint(), 10).unwrap();
    let header = fs::metadata(&path).unwrap().len();
    writer.append(0, &outcome(0)).unwrap();
    // Poll: the background thread writes it once it is 50 ms old.
    let deadline = Instant::now() + Duration::from_secs(5);
    while fs::metadata(&path).unwrap().len() == header {
        assert!(
            Instant::now() < deadline,
            "the record never reached the file"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // 32 records are written at once, without waiting for the timer.
    let mut writer2 = JournalWriter::create(dir.path().join("b"), fingerprint(), 100).unwrap();
    let header2 = fs::metadata(dir.path().join("b")).unwrap().len();
    for i in 0..32 {
        writer2.append(i, &outcome(i)).unwrap();
    }
    assert!(fs::metadata(dir.path().join("b")).unwrap().len() > header2);
    writer.finish().unwrap();
    writer2.finish().unwrap();
}
