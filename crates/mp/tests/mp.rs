//! supervisor-mp through its public API with real worker processes: this test binary is also
//! the worker executable, so its `main` calls `supervisor_mp::init()` before anything else.

use std::time::{Duration, Instant};
use supervisor_mp::{
    Error, Func, Pool, Process, ProcessPoolExecutor, TaskError, as_completed, task,
};

task!(
    fn sum_squares(n: u64) -> u128 {
        (0..n as u128).map(|i| i * i).sum()
    }
);

task!(
    /// The seed's `cpu_bound_task(n)`: Σ i² for i < n·1_000_000, as a real loop. Written for
    /// debug builds: plain `u64` arithmetic in chunks of 16 (each chunk's sum of squares fits
    /// in a `u64`, as i < 2^32), added into a `u128` per chunk; `black_box` on the bound only,
    /// so the compiler cannot fold the loop into the closed form.
    fn cpu_bound_task(n: u64) -> u128 {
        let end = std::hint::black_box(n * 1_000_000);
        assert!(end <= 1 << 32, "i² must fit in a u64");
        let mut total: u128 = 0;
        let mut i: u64 = 0;
        while i < end {
            let stop = end.min(i + 16);
            let mut chunk: u64 = 0;
            while i < stop {
                chunk = chunk.wrapping_add(i.wrapping_mul(i));
                i += 1;
            }
            total += chunk as u128;
        }
        total
    }
);

fn cube(x: u64) -> u64 {
    x * x * x
}
supervisor_mp::register!(CUBE = cube: fn(u64) -> u64);

task!(
    fn abort_on_3(x: u64) -> u64 {
        if x == 3 {
            std::process::abort();
        }
        x + 1
    }
);

task!(
    fn exit_with(code: i32) -> () {
        std::process::exit(code)
    }
);

static MARKER: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

task!(
    fn set_marker(value: u64) -> () {
        MARKER
            .set(value)
            .expect("the initializer runs once per worker");
    }
);

task!(
    fn failing_initializer(_x: u64) -> () {
        panic!("cannot initialize");
    }
);

task!(
    /// The marker the initializer set in this worker, and the worker's pid.
    fn read_marker(_x: u64) -> (Option<u64>, u32) {
        (MARKER.get().copied(), std::process::id())
    }
);

task!(
    /// Starts `sleep 60` as a child (in this worker's process group), writes its pid to
    /// `pidfile`, then never returns.
    fn spawn_sleeper(pidfile: String) -> u32 {
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("sleep");
        std::fs::write(&pidfile, child.id().to_string()).expect("pidfile");
        std::thread::spawn(move || child.wait());
        loop {
            std::thread::park();
        }
    }
);

mod common;
#[path = "common/tasks.rs"]
mod tasks;
use tasks::{kill_self_on_5, panic_on_odd, sleep_ms, square};

fn main() -> std::process::ExitCode {
    supervisor_mp::init();
    let tests: &[(&str, fn())] = &[
        (
            "pool_map_cpu_task_matches_closed_form",
            pool_map_cpu_task_matches_closed_form,
        ),
        (
            "pool_map_seed_cpu_bound_task_full_scale",
            pool_map_seed_cpu_bound_task_full_scale,
        ),
        ("an_aborting_task_fails_alone", an_aborting_task_fails_alone),
        ("a_pool_logs_its_events", a_pool_logs_its_events),
        (
            "a_sigkilled_worker_fails_only_its_task",
            a_sigkilled_worker_fails_only_its_task,
        ),
        ("panics_become_task_errors", panics_become_task_errors),
        ("pool_builder_settings_work", pool_builder_settings_work),
        (
            "imap_unordered_yields_every_index_once",
            imap_unordered_yields_every_index_once,
        ),
        (
            "dropping_imap_early_reaps_workers",
            dropping_imap_early_reaps_workers,
        ),
        (
            "process_join_returns_the_result",
            process_join_returns_the_result,
        ),
        (
            "process_exit_code_is_reported",
            process_exit_code_is_reported,
        ),
        (
            "process_kill_and_join_timeout",
            process_kill_and_join_timeout,
        ),
        (
            "process_terminate_reports_sigterm",
            process_terminate_reports_sigterm,
        ),
        (
            "process_terminate_reaches_what_the_function_started",
            process_terminate_reaches_what_the_function_started,
        ),
        ("apply_async_gets_results", apply_async_gets_results),
        (
            "dropping_a_pool_kills_pending_work",
            dropping_a_pool_kills_pending_work,
        ),
        (
            "executor_submit_and_as_completed",
            executor_submit_and_as_completed,
        ),
        (
            "executor_map_and_shutdown_cancel",
            executor_map_and_shutdown_cancel,
        ),
        (
            "unregistered_function_is_an_error",
            unregistered_function_is_an_error,
        ),
        (
            "pool_initializer_runs_in_each_worker_first",
            pool_initializer_runs_in_each_worker_first,
        ),
        (
            "a_failing_initializer_fails_the_run",
            a_failing_initializer_fails_the_run,
        ),
        (
            "worker_pids_and_stats_during_a_run",
            worker_pids_and_stats_during_a_run,
        ),
    ];
    common::run_tests(tests)
}

fn pool_map_cpu_task_matches_closed_form() {
    let pool = Pool::new(3).unwrap();
    let inputs: Vec<u64> = [100u64, 200, 300, 400, 500]
        .iter()
        .map(|n| n * 1000)
        .collect();
    let results = pool.map(sum_squares, inputs.clone()).unwrap();
    for (n, result) in inputs.iter().zip(results) {
        let n = *n as u128;
        // Σ i² for i < n = (n-1) n (2n-1) / 6
        assert_eq!(result.unwrap(), (n - 1) * n * (2 * n - 1) / 6);
    }
}

/// The seed's `pool.map(cpu_bound_task, [100, 200, 300, 400, 500])` at full scale, against the
/// numbers Python prints. 1.5·10⁹ real loop iterations (the workspace builds this package
/// optimized even in the dev profile, so it takes about a second).
fn pool_map_seed_cpu_bound_task_full_scale() {
    let pool = Pool::new(5).unwrap();
    let results = pool
        .map(cpu_bound_task, [100u64, 200, 300, 400, 500])
        .unwrap();
    let python: [u128; 5] = [
        333333328333333350000000,
        2666666646666666700000000,
        8999999955000000050000000,
        21333333253333333400000000,
        41666666541666666750000000,
    ];
    for (result, expected) in results.into_iter().zip(python) {
        assert_eq!(result.unwrap(), expected);
    }
}

fn an_aborting_task_fails_alone() {
    let pool = Pool::new(2).unwrap();
    let results = pool.map(abort_on_3, 0..8u64).unwrap();
    for (i, result) in results.into_iter().enumerate() {
        if i == 3 {
            let err = result.unwrap_err();
            assert_eq!(err.signal_name().as_deref(), Some("SIGABRT"), "{err}");
            assert_eq!(err.to_string(), "killed by SIGABRT");
        } else {
            assert_eq!(result.unwrap(), i as u64 + 1);
        }
    }
}

fn a_pool_logs_its_events() {
    let path = std::env::temp_dir().join(format!("mp-events-{}.jsonl", std::process::id()));
    let log = supervisor_mp::EventLog::create(&path).unwrap();
    let pool = Pool::builder()
        .processes(2)
        .events(log.clone())
        .build()
        .unwrap();
    let results = pool.map(abort_on_3, 0..8u64).unwrap();
    assert!(results[3].is_err());
    drop(pool);
    log.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let kind = |k: &str| lines.iter().filter(|l| l["ev"] == k).count();
    assert_eq!(kind("run_start"), 1, "{text}");
    assert_eq!(kind("run_end"), 1, "{text}");
    let tasks: Vec<&serde_json::Value> = lines.iter().filter(|l| l["ev"] == "task").collect();
    assert_eq!(tasks.len(), 8, "one line per attempt: {text}");
    let crashed: Vec<_> = tasks.iter().filter(|t| t["outcome"] == "crashed").collect();
    assert_eq!(crashed.len(), 1, "{text}");
    assert_eq!(crashed[0]["id"], 3);
    // Its label (the function's name) travels with the batch that carried it.
    let labels: Vec<serde_json::Value> = lines
        .iter()
        .filter(|l| l["ev"] == "batch")
        .flat_map(|l| l["labels"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(labels.len() >= 8, "{text}");
    assert!(
        labels
            .iter()
            .all(|label| label.as_str().unwrap().ends_with("abort_on_3")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["ev"] == "exit" && l["cause"] == "crash" && l["signal"] == "SIGABRT")
    );
}

fn a_sigkilled_worker_fails_only_its_task() {
    let pool = Pool::builder().processes(2).chunksize(4).build().unwrap();
    let results = pool.map(kill_self_on_5, 0..20u64).unwrap();
    assert_eq!(results.len(), 20);
    for (i, result) in results.into_iter().enumerate() {
        if i == 5 {
            let err = result.unwrap_err();
            assert!(
                matches!(err, TaskError::Signaled { signal: 9, .. }),
                "{err:?}"
            );
        } else {
            assert_eq!(result.unwrap(), i as u64 * 10);
        }
    }
}

fn panics_become_task_errors() {
    let pool = Pool::new(2).unwrap();
    let results = pool.map(panic_on_odd, 0..6u64).unwrap();
    for (i, result) in results.into_iter().enumerate() {
        if i % 2 == 1 {
            assert_eq!(
                result.unwrap_err(),
                TaskError::Panicked(format!("odd input {i}"))
            );
        } else {
            assert_eq!(result.unwrap(), i as u64);
        }
    }
}

fn pool_builder_settings_work() {
    let pool = Pool::builder()
        .processes(2)
        .max_tasks_per_child(3)
        .chunksize(2)
        .build()
        .unwrap();
    let results = pool.map(square, 0..50u64).unwrap();
    let squares: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(squares, (0..50u64).map(|x| x * x).collect::<Vec<_>>());
    assert!(matches!(
        Pool::new(0),
        Err(Error::Config(message)) if message.contains("processes")
    ));
    // The same function through a handle by name and through a reference.
    let by_ref = pool.map(&square, [7u64]).unwrap();
    assert_eq!(by_ref, vec![Ok(49)]);
    assert_eq!(pool.map(&CUBE, [2u64, 3]).unwrap(), vec![Ok(8), Ok(27)]);
}

fn imap_unordered_yields_every_index_once() {
    let pool = Pool::new(3).unwrap();
    let mut seen: Vec<(usize, u64)> = pool
        .imap_unordered(square, 0..100u64)
        .unwrap()
        .map(|(i, r)| (i, r.unwrap()))
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..100).map(|i| (i, (i * i) as u64)).collect::<Vec<_>>()
    );
    assert_eq!(pool.imap_unordered(square, Vec::new()).unwrap().count(), 0);
}

fn dropping_imap_early_reaps_workers() {
    let pool = Pool::new(2).unwrap();
    let mut iter = pool
        .imap_unordered(sleep_ms, [0u64, 5000, 5000, 5000])
        .unwrap();
    let (index, result) = iter.next().unwrap();
    assert_eq!((index, result.unwrap()), (0, 0));
    let started = Instant::now();
    drop(iter);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "drop must kill, not wait"
    );
}

fn process_join_returns_the_result() {
    let process = Process::spawn(square, 12).unwrap();
    let pid = process.pid().expect("a started process has a pid");
    assert!(pid > 0 && pid != std::process::id());
    assert_eq!(process.join(), Ok(144));
    assert!(!process.is_alive());
    assert_eq!(process.exitcode(), Some(0));
}

fn process_exit_code_is_reported() {
    let process = Process::spawn(exit_with, 3).unwrap();
    let err = process.join().unwrap_err();
    assert!(matches!(err, TaskError::Exited { code: 3, .. }), "{err:?}");
    assert_eq!(err.to_string(), "exited with status 3");
    assert_eq!(process.exitcode(), Some(3));
}

fn process_kill_and_join_timeout() {
    let process = Process::spawn(sleep_ms, 30_000).unwrap();
    assert!(process.is_alive());
    assert!(process.join_timeout(Duration::from_millis(100)).is_none());
    process.kill();
    let err = process
        .join_timeout(Duration::from_secs(10))
        .expect("a killed process ends")
        .unwrap_err();
    assert_eq!(err.to_string(), "killed by SIGKILL");
    assert_eq!(process.exitcode(), Some(-9));
    assert!(!process.is_alive());
}

fn process_terminate_reports_sigterm() {
    let process = Process::spawn(sleep_ms, 30_000).unwrap();
    process.terminate();
    let err = process.join().unwrap_err();
    assert_eq!(err.signal_name().as_deref(), Some("SIGTERM"));
    // Dropping a running process kills and reaps it.
    let running = Process::spawn(sleep_ms, 30_000).unwrap();
    drop(running);
}

/// `terminate()` goes through the engine to the worker's whole process group, so a process the
/// function started dies with it (it once signalled the bare worker pid, which left the child
/// running and could hit a pid already reaped and reused).
fn process_terminate_reaches_what_the_function_started() {
    let dir = std::env::temp_dir().join(format!("mp-sleeper-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let process = Process::spawn(spawn_sleeper, dir.to_string_lossy().into_owned()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let sleeper: u32 = loop {
        if let Some(pid) = std::fs::read_to_string(&dir)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "the function did not start its child"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    process.terminate();
    let err = process.join().unwrap_err();
    assert_eq!(err.signal_name().as_deref(), Some("SIGTERM"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{sleeper}")).exists()
        && !std::fs::read_to_string(format!("/proc/{sleeper}/stat"))
            .is_ok_and(|s| s.contains(") Z "))
    {
        assert!(
            Instant::now() < deadline,
            "the function's child {sleeper} survived terminate()"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = std::fs::remove_file(&dir);
}

fn apply_async_gets_results() {
    let pool = Pool::new(2).unwrap();
    let results: Vec<_> = (0..10u64)
        .map(|x| pool.apply_async(square, x).unwrap())
        .collect();
    for (x, result) in results.iter().enumerate() {
        assert_eq!(result.get(), Ok((x * x) as u64));
        assert!(result.ready());
    }
    let slow = pool.apply_async(sleep_ms, 300).unwrap();
    assert!(slow.get_timeout(Duration::from_millis(10)).is_none());
    assert_eq!(slow.get_timeout(Duration::from_secs(10)), Some(Ok(300)));
    let crash = pool.apply_async(abort_on_3, 3).unwrap();
    assert_eq!(crash.get().unwrap_err().to_string(), "killed by SIGABRT");
    assert_eq!(pool.apply(square, 9).unwrap(), Ok(81));
    pool.close();
    assert!(matches!(
        pool.apply_async(square, 1),
        Err(Error::PoolNotRunning)
    ));
    pool.join();
}

fn dropping_a_pool_kills_pending_work() {
    let pool = Pool::new(1).unwrap();
    let running = pool.apply_async(sleep_ms, 30_000).unwrap();
    // Wait until it is running in a worker.
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::children().is_empty() {
        assert!(Instant::now() < deadline, "no worker started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let started = Instant::now();
    drop(pool);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(matches!(running.get(), Err(TaskError::NotRun(_))));
}

fn executor_submit_and_as_completed() {
    let executor = ProcessPoolExecutor::new(2).unwrap();
    let futures: Vec<_> = [300u64, 0, 100]
        .iter()
        .map(|&ms| executor.submit(sleep_ms, ms).unwrap())
        .collect();
    let mut done: Vec<u64> = as_completed(futures.clone())
        .map(|f| f.result().unwrap())
        .collect();
    done.sort_unstable();
    assert_eq!(done, vec![0, 100, 300]);
    assert!(futures.iter().all(|f| f.done()));
    let crashed = executor.submit(kill_self_on_5, 5).unwrap();
    let fine = executor.submit(square, 4).unwrap();
    assert_eq!(
        crashed.result().unwrap_err().to_string(),
        "killed by SIGKILL"
    );
    assert_eq!(fine.result(), Ok(16));
    assert_eq!(fine.result_timeout(Duration::from_millis(1)), Some(Ok(16)));
}

fn executor_map_and_shutdown_cancel() {
    let executor = ProcessPoolExecutor::new(2).unwrap();
    let results = executor.map(square, 0..10u64).unwrap();
    assert_eq!(results, (0..10u64).map(|x| Ok(x * x)).collect::<Vec<_>>());
    let first = executor.submit(sleep_ms, 200).unwrap();
    // Give the dispatcher time to take the first call; later ones may be cancelled.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !first.running() && !first.done() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    let later: Vec<_> = (0..5u64)
        .map(|x| executor.submit(square, x).unwrap())
        .collect();
    executor.shutdown(true, true);
    assert_eq!(first.result(), Ok(200));
    for (x, future) in later.iter().enumerate() {
        match future.result() {
            Ok(v) => assert_eq!(v, (x * x) as u64),
            Err(e) => assert_eq!(e, TaskError::Cancelled),
        }
    }
    assert!(matches!(executor.submit(square, 1), Err(Error::Closed)));
}

fn unregistered_function_is_an_error() {
    const MISSING: Func<u64, u64> = Func::named("nowhere::missing");
    let pool = Pool::new(1).unwrap();
    match pool.map(MISSING, [1u64]) {
        Err(Error::Unregistered(name)) => assert_eq!(name, "nowhere::missing"),
        other => panic!("expected Unregistered, got {:?}", other.map(|v| v.len())),
    }
    assert!(matches!(
        pool.map(MISSING, Vec::new()),
        Err(Error::Unregistered(_))
    ));
    assert!(matches!(
        Process::spawn(MISSING, 1),
        Err(Error::Unregistered(_))
    ));
    assert!(matches!(
        pool.apply_async(MISSING, 1),
        Err(Error::Unregistered(_))
    ));
    let message = Error::NotInitialized.to_string();
    assert!(message.contains("supervisor_mp::init()"), "{message}");
}

fn pool_initializer_runs_in_each_worker_first() {
    let pool = Pool::builder()
        .processes(3)
        .initializer(&set_marker, 42)
        .build()
        .unwrap();
    let results = pool.map(read_marker, 0..12u64).unwrap();
    let mut pids = std::collections::BTreeSet::new();
    for result in results {
        let (marker, pid) = result.unwrap();
        assert_eq!(marker, Some(42), "the initializer ran in worker {pid}");
        assert_ne!(pid, std::process::id());
        pids.insert(pid);
    }
    assert!(!pids.is_empty());
    // apply_async calls run on the pool's workers too, so they see it as well.
    let (marker, pid) = pool.apply_async(&read_marker, 0).unwrap().get().unwrap();
    assert_eq!(
        marker,
        Some(42),
        "the initializer ran in apply_async worker {pid}"
    );
    // Without an initializer, the marker is unset in the workers.
    let plain = Pool::new(2).unwrap();
    for result in plain.map(read_marker, 0..4u64).unwrap() {
        assert_eq!(result.unwrap().0, None);
    }
    // An unregistered initializer is refused up front.
    let missing = Pool::builder()
        .initializer(Func::<u64, ()>::named("no::such::init"), 1)
        .build();
    assert!(matches!(missing, Err(Error::Unregistered(_))));
}

fn a_failing_initializer_fails_the_run() {
    let pool = Pool::builder()
        .processes(2)
        .max_restarts(1)
        .initializer(&failing_initializer, 0)
        .build()
        .unwrap();
    let results = pool.map(square, 0..4u64).unwrap();
    assert_eq!(results.len(), 4);
    for result in results {
        match result {
            Err(TaskError::NotRun(reason)) => {
                assert!(reason.contains("cannot initialize"), "{reason}");
            }
            other => panic!("expected NotRun, got {other:?}"),
        }
    }
}

fn worker_pids_and_stats_during_a_run() {
    let pool = Pool::new(2).unwrap();
    // The workers start with the pool, and stay.
    let deadline = Instant::now() + Duration::from_secs(20);
    let pids = loop {
        let pids = pool.worker_pids();
        if pids.len() == 2 {
            break pids;
        }
        assert!(
            Instant::now() < deadline,
            "the workers did not start: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    for &pid in &pids {
        let stats = supervisor_mp::process_stats(pid).unwrap();
        assert_eq!(stats.pid, pid);
        assert!(stats.rss_bytes > 0, "{stats:?}");
    }
    let mut iter = pool.imap_unordered(sleep_ms, vec![200u64; 4]).unwrap();
    let first = iter.next().unwrap();
    assert_eq!(first.1, Ok(200));
    assert_eq!(iter.by_ref().count(), 3);
    drop(iter);
    assert_eq!(pool.worker_pids(), pids, "the same workers between calls");
    pool.terminate();
    assert!(pool.worker_pids().is_empty(), "{:?}", pool.worker_pids());
}
