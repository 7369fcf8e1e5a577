//! The persistent `Pool` with real worker processes, and side by side with CPython's
//! `multiprocessing.Pool` where Python defines the behaviour. This binary is also the worker
//! executable, so its `main` calls `supervisor_mp::init()` before anything else.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use supervisor_mp::{Error, Pool, TaskError, task};

mod common;
#[path = "common/tasks.rs"]
mod tasks;
use tasks::{kill_self_on_5, panic_on_odd, sleep_ms, square};

task!(
    /// Appends this worker's pid to the file `path` (one line per run of the initializer).
    fn record_pid(path: String) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("the pid file");
        // One write(2) per line: `writeln!` may split it in two, and the lines of two workers
        // appending at once would then interleave ("123456\n\n").
        file.write_all(format!("{}\n", std::process::id()).as_bytes())
            .expect("write the pid");
    }
);

task!(
    /// Records the pid like `record_pid`, then sleeps `ms`.
    fn record_pid_then_sleep(path: String, ms: u64) {
        record_pid::call(path);
        std::thread::sleep(Duration::from_millis(ms));
    }
);

task!(
    fn add(a: u64, b: u64) -> u64 {
        a + b
    }
);

task!(
    fn forty_two() -> u64 {
        42
    }
);

task!(
    fn nothing() {}
);

task!(
    fn bytes_len(data: Vec<u8>) -> usize {
        data.len()
    }
);

task!(
    /// Prints a line to stdout and one to stderr.
    fn chatty(x: u64) -> u64 {
        println!("out {x}");
        eprintln!("err {x}");
        x
    }
);

task!(
    fn say_and_abort(word: String) {
        eprintln!("last words: {word}");
        std::process::abort();
    }
);

task!(
    fn my_pid() -> u32 {
        std::process::id()
    }
);

/// Set in a copy of this binary that runs a pool whose tasks print (see
/// `task_output_reaches_the_terminal_as_in_python`): `forward` or `capture`.
const OUTPUT_CHILD: &str = "MP_POOL_TEST_OUTPUT_CHILD";

fn main() -> std::process::ExitCode {
    supervisor_mp::init();
    if let Ok(mode) = std::env::var(OUTPUT_CHILD) {
        let pool = Pool::builder()
            .processes(2)
            .capture_output(mode == "capture")
            .build()
            .unwrap();
        let results = pool.map(chatty, 0..4u64).unwrap();
        assert!(results.iter().all(Result::is_ok));
        pool.close();
        pool.join();
        return std::process::ExitCode::SUCCESS;
    }
    let tests: &[(&str, fn())] = &[
        (
            "the_initializer_runs_once_per_worker_as_in_python",
            the_initializer_runs_once_per_worker_as_in_python,
        ),
        (
            "terminate_during_a_slow_initializer_returns_at_once",
            terminate_during_a_slow_initializer_returns_at_once,
        ),
        (
            "calls_after_close_or_terminate_fail",
            calls_after_close_or_terminate_fail,
        ),
        (
            "map_async_get_timeout_times_out",
            map_async_get_timeout_times_out,
        ),
        (
            "a_worker_killed_in_its_initializer_is_replaced",
            a_worker_killed_in_its_initializer_is_replaced,
        ),
        (
            "initializer_timeout_bounds_the_initializer",
            initializer_timeout_bounds_the_initializer,
        ),
        (
            "a_short_call_runs_during_a_long_one",
            a_short_call_runs_during_a_long_one,
        ),
        (
            "callbacks_get_results_and_errors",
            callbacks_get_results_and_errors,
        ),
        ("imap_yields_in_input_order", imap_yields_in_input_order),
        ("task_forms_and_starmap", task_forms_and_starmap),
        (
            "chunks_isolate_a_crash_and_a_panic",
            chunks_isolate_a_crash_and_a_panic,
        ),
        (
            "join_after_close_waits_for_the_calls",
            join_after_close_waits_for_the_calls,
        ),
        (
            "task_output_reaches_the_terminal_as_in_python",
            task_output_reaches_the_terminal_as_in_python,
        ),
        (
            "executor_calls_do_not_wait_for_a_round",
            executor_calls_do_not_wait_for_a_round,
        ),
        (
            "task_timeout_bounds_each_argument_of_a_map",
            task_timeout_bounds_each_argument_of_a_map,
        ),
        (
            "a_callback_may_terminate_its_pool",
            a_callback_may_terminate_its_pool,
        ),
        (
            "forwarded_stderr_still_reaches_the_failure_report",
            forwarded_stderr_still_reaches_the_failure_report,
        ),
    ];
    common::run_tests(tests)
}

/// A fresh path in the temp dir for this test (removed first).
fn temp_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("mp-pool-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

fn pids_in(path: &Path) -> Vec<u32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().parse().expect("a pid"))
        .collect()
}

/// Waits until `pid` is gone (or a zombie that is not ours to reap), panicking past 10 s.
fn wait_gone(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !stat.contains(") Z "))
    {
        assert!(Instant::now() < deadline, "process {pid} survived");
        std::thread::sleep(Duration::from_millis(5));
    }
}

const PYTHON_INITIALIZER: &str = r#"
import multiprocessing as mp, os, sys

def init(path):
    with open(path, "a") as f:
        f.write(f"{os.getpid()}\n")

def square(x):
    return x * x

if __name__ == "__main__":
    path = sys.argv[1]
    with mp.Pool(2, initializer=init, initargs=(path,)) as pool:
        pids = []
        for _ in range(3):
            pool.map(square, range(8))
            pids.append(sorted(p.pid for p in pool._pool))
    runs = [int(l) for l in open(path).read().split()]
    same = all(p == pids[0] for p in pids)
    print(len(runs), len(set(runs)), str(sorted(set(runs)) == pids[0]).lower(), str(same).lower())
"#;

/// Python's `Pool(2, initializer=...)` with three `map` calls runs the initializer twice, in
/// the two workers it keeps; so does this one.
fn the_initializer_runs_once_per_worker_as_in_python() {
    let ours = temp_path("init-ours");
    let pool = Pool::builder()
        .processes(2)
        .initializer(record_pid, ours.to_string_lossy().into_owned())
        .build()
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let squares = pool.map(square, 0..8u64).unwrap();
        assert_eq!(squares, (0..8u64).map(|x| Ok(x * x)).collect::<Vec<_>>());
        seen.push(pool.worker_pids());
    }
    // On a loaded machine one worker can run all three maps while the other is still in its
    // initializer: wait (bounded) until both have recorded theirs, then count them all.
    let deadline = Instant::now() + Duration::from_secs(20);
    while pids_in(&ours).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let runs = pids_in(&ours);
    let mut distinct = runs.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let ours_line = format!(
        "{} {} {} {}",
        runs.len(),
        distinct.len(),
        distinct == seen[0],
        seen.iter().all(|p| *p == seen[0])
    );

    let theirs = temp_path("init-python");
    let script = temp_path("init.py");
    std::fs::write(&script, PYTHON_INITIALIZER).unwrap();
    let python = std::process::Command::new("python3")
        .arg(&script)
        .arg(&theirs)
        .output()
        .expect("python3 must be installed to compare with CPython");
    assert!(python.status.success(), "{python:?}");
    let python_line = String::from_utf8_lossy(&python.stdout).trim().to_string();
    for path in [&ours, &theirs, &script] {
        let _ = std::fs::remove_file(path);
    }
    assert_eq!(python_line, "2 2 true true", "CPython's behaviour");
    assert_eq!(ours_line, python_line, "the same as CPython");
}

/// `terminate()` while every worker is in a 10 s initializer and a `map` of 64 arguments of
/// 100 KB waits for them: the map returns at once with `NotRun` for every argument, and no
/// worker is left.
fn terminate_during_a_slow_initializer_returns_at_once() {
    let path = temp_path("slow-init");
    let pool = Pool::builder()
        .processes(2)
        .initializer(
            record_pid_then_sleep,
            (path.to_string_lossy().into_owned(), 10_000),
        )
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while pids_in(&path).len() < 2 {
        assert!(Instant::now() < deadline, "the initializers did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    let workers = pids_in(&path);
    // `map` is `map_async` and a wait: submitted here, so it is in progress for certain
    // when `terminate()` comes, and waited for on another thread, as a blocking `map` is.
    let pending = pool
        .map_async(bytes_len, vec![vec![7u8; 100_000]; 64])
        .unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        let pending = &pending;
        scope.spawn(move || tx.send(pending.get()).unwrap());
        let started = Instant::now();
        pool.terminate();
        let results = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the map returned on terminate()");
        // Far below the initializer's 10 s: terminate() did not wait for it.
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(results.len(), 64);
        for result in results {
            assert!(matches!(result, Err(TaskError::NotRun(_))), "{result:?}");
        }
    });
    for pid in workers {
        wait_gone(pid);
    }
    assert!(common::children().is_empty(), "{:?}", common::children());
    let _ = std::fs::remove_file(&path);
}

/// As in Python: after `close()` or `terminate()`, every call fails (`ValueError: Pool not
/// running` there).
fn calls_after_close_or_terminate_fail() {
    let pool = Pool::new(1).unwrap();
    assert_eq!(pool.apply(square, 3).unwrap(), Ok(9));
    pool.close();
    assert!(matches!(
        pool.map(square, [1u64]),
        Err(Error::PoolNotRunning)
    ));
    assert!(matches!(
        pool.apply_async(square, 1),
        Err(Error::PoolNotRunning)
    ));
    assert!(matches!(
        pool.imap(square, [1u64]),
        Err(Error::PoolNotRunning)
    ));
    assert!(matches!(
        pool.starmap(add, [(1u64, 2u64)]),
        Err(Error::PoolNotRunning)
    ));
    pool.join();
    assert!(pool.worker_pids().is_empty());

    let pool = Pool::new(1).unwrap();
    pool.terminate();
    assert!(matches!(
        pool.map(square, [1u64]),
        Err(Error::PoolNotRunning)
    ));
    assert!(matches!(
        pool.map_async(square, [1u64]),
        Err(Error::PoolNotRunning)
    ));
    assert_eq!(
        Error::PoolNotRunning.to_string(),
        "Pool not running: it was closed or terminated and takes no more calls"
    );
}

/// `map_async(...).get(timeout)` gives up after the timeout while the call goes on, and the
/// results are there later.
fn map_async_get_timeout_times_out() {
    let pool = Pool::new(2).unwrap();
    let pending = pool.map_async(sleep_ms, [1_500u64, 1_500]).unwrap();
    let started = Instant::now();
    assert!(pending.get_timeout(Duration::from_millis(100)).is_none());
    assert!(started.elapsed() >= Duration::from_millis(100), "it waited");
    assert!(!pending.ready());
    assert_eq!(pending.successful(), None);
    assert!(!pending.wait_timeout(Duration::from_millis(10)));
    assert_eq!(pending.get(), vec![Ok(1_500), Ok(1_500)]);
    assert!(pending.ready());
    assert_eq!(pending.successful(), Some(true));
    let single = pool.apply_async(sleep_ms, 1_000).unwrap();
    assert!(single.get_timeout(Duration::from_millis(10)).is_none());
    single.wait();
    assert_eq!(single.get(), Ok(1_000));
}

/// A worker SIGKILLed while it runs its initializer is replaced; the replacement runs the
/// initializer again and serves the calls.
fn a_worker_killed_in_its_initializer_is_replaced() {
    let path = temp_path("killed-init");
    let pool = Pool::builder()
        .processes(1)
        .initializer(
            record_pid_then_sleep,
            (path.to_string_lossy().into_owned(), 1_000),
        )
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while pids_in(&path).is_empty() {
        assert!(Instant::now() < deadline, "the initializer did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    let first = pids_in(&path)[0];
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let squares = pool.map(square, 0..4u64).unwrap();
    assert_eq!(squares, vec![Ok(0), Ok(1), Ok(4), Ok(9)]);
    let runs = pids_in(&path);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0], first);
    assert_eq!(pool.worker_pids(), vec![runs[1]], "the replacement serves");
    assert_eq!(pool.apply(my_pid, ()).unwrap(), Ok(runs[1]));
    wait_gone(first);
    drop(pool);
    wait_gone(runs[1]);
    let _ = std::fs::remove_file(&path);
}

/// An initializer that overruns `initializer_timeout` fails its worker's start; past the
/// restart limit, the calls fail with the reason.
fn initializer_timeout_bounds_the_initializer() {
    let path = temp_path("init-timeout");
    let pool = Pool::builder()
        .processes(1)
        .max_restarts(1)
        .initializer(
            record_pid_then_sleep,
            (path.to_string_lossy().into_owned(), 60_000),
        )
        .initializer_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let results = pool.map(square, 0..3u64).unwrap();
    for result in results {
        match result {
            Err(TaskError::NotRun(reason)) => {
                assert!(reason.contains("did not finish within"), "{reason}");
            }
            other => panic!("expected NotRun, got {other:?}"),
        }
    }
    // Two workers tried (the first and one replacement), and both are gone.
    let runs = pids_in(&path);
    assert_eq!(runs.len(), 2, "{runs:?}");
    for pid in runs {
        wait_gone(pid);
    }
    let _ = std::fs::remove_file(&path);
}

/// Calls share the workers: a short call submitted during a long one ends first.
fn a_short_call_runs_during_a_long_one() {
    let pool = Pool::new(2).unwrap();
    let long = pool
        .with_chunksize(1)
        .map_async(sleep_ms, vec![300u64; 12])
        .unwrap();
    assert_eq!(pool.apply(square, 5).unwrap(), Ok(25));
    assert!(!long.ready(), "the short call waited for the long one");
    assert!(long.get().iter().all(|r| *r == Ok(300)));
}

fn callbacks_get_results_and_errors() {
    let pool = Pool::new(2).unwrap();
    let (tx, rx) = mpsc::channel();
    let ok = tx.clone();
    let err = tx.clone();
    let result = pool
        .apply_async_with(
            square,
            7,
            move |v| ok.send(format!("ok {v}")).unwrap(),
            move |e| err.send(format!("error {e}")).unwrap(),
        )
        .unwrap();
    assert_eq!(result.get(), Ok(49));
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "ok 49");
    let ok = tx.clone();
    let err = tx.clone();
    let failed = pool
        .apply_async_with(
            panic_on_odd,
            3,
            move |v| ok.send(format!("ok {v}")).unwrap(),
            move |e| err.send(format!("error {e}")).unwrap(),
        )
        .unwrap();
    assert_eq!(failed.successful_after_wait(), Some(false));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "error panicked: odd input 3"
    );
    let ok = tx.clone();
    let err = tx;
    pool.map_async_with(
        square,
        0..4u64,
        move |all| ok.send(format!("ok {all:?}")).unwrap(),
        move |e| err.send(format!("error {e}")).unwrap(),
    )
    .unwrap()
    .wait();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "ok [0, 1, 4, 9]"
    );
}

trait WaitThenSuccessful {
    fn successful_after_wait(&self) -> Option<bool>;
}

impl<R: serde::de::DeserializeOwned> WaitThenSuccessful for supervisor_mp::AsyncResult<R> {
    fn successful_after_wait(&self) -> Option<bool> {
        self.wait();
        self.successful()
    }
}

fn imap_yields_in_input_order() {
    let pool = Pool::new(2).unwrap();
    // Later inputs finish first; imap still yields in input order.
    let inputs = [400u64, 300, 200, 100, 0];
    let got: Vec<u64> = pool
        .imap(sleep_ms, inputs)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, inputs);
    let mut iter = pool.imap(sleep_ms, [1_000u64]).unwrap();
    assert!(iter.next_timeout(Duration::from_millis(10)).is_err());
    assert_eq!(
        iter.next_timeout(Duration::from_secs(10)),
        Ok(Some(Ok(1_000)))
    );
    assert_eq!(iter.next(), None);
    let chunked: Vec<u64> = pool
        .with_chunksize(3)
        .imap(square, 0..10u64)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(chunked, (0..10u64).map(|x| x * x).collect::<Vec<_>>());
}

fn task_forms_and_starmap() {
    let pool = Pool::new(2).unwrap();
    assert_eq!(
        pool.starmap(add, [(1u64, 2u64), (3, 4)]).unwrap(),
        vec![Ok(3), Ok(7)]
    );
    assert_eq!(
        pool.starmap_async(add, [(5u64, 6u64)]).unwrap().get(),
        vec![Ok(11)]
    );
    assert_eq!(pool.apply(forty_two, ()).unwrap(), Ok(42));
    assert_eq!(pool.apply(nothing, ()).unwrap(), Ok(()));
    assert_eq!(add::call(2, 3), 5);
    assert_eq!(forty_two::call(), 42);
}

/// A chunk whose worker dies runs again one input per task: only the input that kills its
/// worker fails. A panic fails only its input, inside the chunk.
fn chunks_isolate_a_crash_and_a_panic() {
    let pool = Pool::new(2).unwrap();
    let results = pool
        .with_chunksize(8)
        .map(kill_self_on_5, 0..20u64)
        .unwrap();
    for (i, result) in results.into_iter().enumerate() {
        if i == 5 {
            assert!(
                matches!(result, Err(TaskError::Signaled { signal: 9, .. })),
                "{result:?}"
            );
        } else {
            assert_eq!(result, Ok(i as u64 * 10));
        }
    }
    let results = pool.with_chunksize(4).map(panic_on_odd, 0..8u64).unwrap();
    for (i, result) in results.into_iter().enumerate() {
        if i % 2 == 1 {
            assert_eq!(result, Err(TaskError::Panicked(format!("odd input {i}"))));
        } else {
            assert_eq!(result, Ok(i as u64));
        }
    }
    let mut unordered: Vec<(usize, u64)> = pool
        .with_chunksize(7)
        .imap_unordered(square, 0..50u64)
        .unwrap()
        .map(|(i, r)| (i, r.unwrap()))
        .collect();
    unordered.sort_unstable();
    assert_eq!(
        unordered,
        (0..50usize)
            .map(|i| (i, (i * i) as u64))
            .collect::<Vec<_>>()
    );
}

/// `close()` then `join()`: the calls made before still complete.
fn join_after_close_waits_for_the_calls() {
    let pool = Pool::new(2).unwrap();
    let pending = pool.map_async(sleep_ms, [200u64, 200, 200]).unwrap();
    let pids = pool.worker_pids();
    pool.close();
    pool.join();
    assert!(pending.ready());
    assert_eq!(pending.get(), vec![Ok(200), Ok(200), Ok(200)]);
    for pid in pids {
        wait_gone(pid);
    }
}

const PYTHON_OUTPUT: &str = r#"
import multiprocessing as mp, sys

def chatty(x):
    # One write per line: print() writes the text and its newline apart, so two workers'
    # lines can interleave on a shared pipe.
    sys.stdout.write(f"out {x}\n")
    sys.stdout.flush()
    sys.stderr.write(f"err {x}\n")
    sys.stderr.flush()
    return x

if __name__ == "__main__":
    with mp.Pool(2) as pool:
        assert pool.map(chatty, range(4)) == [0, 1, 2, 3]
"#;

/// The sorted lines of `bytes` that start with `prefix`.
fn lines_with(bytes: &[u8], prefix: &str) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// What a task prints reaches the parent's stdout and stderr, whole lines, as a Python
/// child's does; with `capture_output(true)` nothing does.
fn task_output_reaches_the_terminal_as_in_python() {
    let run = |mode: &str| {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .env(OUTPUT_CHILD, mode)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        (
            lines_with(&output.stdout, "out "),
            lines_with(&output.stderr, "err "),
        )
    };
    let script = temp_path("output.py");
    std::fs::write(&script, PYTHON_OUTPUT).unwrap();
    let python = std::process::Command::new("python3")
        .arg(&script)
        .output()
        .expect("python3 must be installed to compare with CPython");
    let _ = std::fs::remove_file(&script);
    assert!(python.status.success(), "{python:?}");
    let expected = (
        vec!["out 0", "out 1", "out 2", "out 3"],
        vec!["err 0", "err 1", "err 2", "err 3"],
    );
    let theirs = (
        lines_with(&python.stdout, "out "),
        lines_with(&python.stderr, "err "),
    );
    assert_eq!(theirs.0, expected.0, "CPython's behaviour");
    assert_eq!(theirs.1, expected.1, "CPython's behaviour");
    assert_eq!(run("forward"), theirs, "the same as CPython");
    assert_eq!(run("capture"), (Vec::new(), Vec::new()));
}

/// A `ProcessPoolExecutor` hands each call to its persistent workers at once: a short call
/// submitted while a long one runs ends first (it used to wait for the long one's round).
fn executor_calls_do_not_wait_for_a_round() {
    let executor = supervisor_mp::ProcessPoolExecutor::new(2).unwrap();
    let long = executor.submit(sleep_ms, 1_500).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !long.running() {
        assert!(Instant::now() < deadline, "the long call did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    let short = executor.submit(square, 3).unwrap();
    assert_eq!(short.result(), Ok(9));
    assert!(!long.done(), "the short call waited for the long one");
    assert_eq!(long.result(), Ok(1_500));
    executor.shutdown(true, false);
}

/// With a task timeout, a `map` sends its arguments one per task, so the timeout bounds each
/// argument and an overrun fails only that one; the pool goes on with a fresh worker.
fn task_timeout_bounds_each_argument_of_a_map() {
    let pool = Pool::builder()
        .processes(2)
        .task_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let results = pool.map(sleep_ms, [0u64, 30_000, 10, 20]).unwrap();
    assert_eq!(results[0], Ok(0));
    match &results[1] {
        Err(TaskError::Failed(reason)) => assert!(reason.contains("timed out"), "{reason}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(results[2..], [Ok(10), Ok(20)]);
    assert_eq!(pool.apply(square, 4).unwrap(), Ok(16));
}

/// A callback runs on the pool's result thread; terminating (or dropping) the pool there
/// must not wait for that thread itself.
fn a_callback_may_terminate_its_pool() {
    let pool = std::sync::Arc::new(Pool::new(1).unwrap());
    let pids = pool.worker_pids();
    let theirs = std::sync::Arc::clone(&pool);
    let (tx, rx) = mpsc::channel();
    let result = pool
        .apply_async_with(
            square,
            2,
            move |v| {
                theirs.terminate();
                tx.send(v).unwrap();
            },
            |e| panic!("{e}"),
        )
        .unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 4);
    assert_eq!(result.get(), Ok(4));
    assert!(matches!(
        pool.map(square, [1u64]),
        Err(Error::PoolNotRunning)
    ));
    for pid in pids {
        wait_gone(pid);
    }
    pool.join();
    assert!(pool.worker_pids().is_empty());
}

/// With output passed on (the default), what a worker wrote to stderr before it died is still
/// in its task's failure, as with captured output.
fn forwarded_stderr_still_reaches_the_failure_report() {
    for capture in [false, true] {
        let pool = Pool::builder()
            .processes(1)
            .capture_output(capture)
            .build()
            .unwrap();
        match pool.apply(say_and_abort, "farewell".to_string()).unwrap() {
            Err(TaskError::Signaled { signal: 6, stderr }) => {
                assert!(stderr.contains("last words: farewell"), "{stderr:?}");
            }
            other => panic!("expected SIGABRT, got {other:?}"),
        }
        assert_eq!(
            pool.apply(square, 5).unwrap(),
            Ok(25),
            "a fresh worker serves"
        );
    }
}
