//! The synchronization primitives across real worker processes: holders killed with SIGKILL
//! (the crash matrix), Event / Condition / Barrier between processes, counting under the locks,
//! CPython's `multiprocessing` side by side where Python defines the behaviour, and no memory
//! left behind. This binary is also the worker executable: `main` calls
//! `supervisor_mp::init()` first.

use std::process::Command;
use std::time::{Duration, Instant};
use supervisor_mp::{
    AcquireError, Array, Barrier, BoundedSemaphore, BrokenBarrier, Condition, Event, Lock,
    LockError, Process, RLock, ReleasedTooManyTimes, Semaphore, Value, task,
};

const WAIT: Duration = Duration::from_secs(20);

mod common;

task!(
    fn hold_lock(p: (Lock, Event)) -> () {
        let (lock, ready) = p;
        let _guard = lock.acquire().expect("acquire");
        ready.set();
        loop {
            std::thread::park();
        }
    }
);

task!(
    fn hold_rlock_twice(p: (RLock, Event)) -> () {
        let (lock, ready) = p;
        let _a = lock.acquire().expect("acquire");
        let _b = lock.try_acquire().expect("reentrant acquire");
        ready.set();
        loop {
            std::thread::park();
        }
    }
);

task!(
    fn hold_semaphore(p: (Semaphore, u32, Event)) -> () {
        let (sem, units, ready) = p;
        let _guards: Vec<_> = (0..units)
            .map(|_| sem.acquire().expect("acquire"))
            .collect();
        ready.set();
        loop {
            std::thread::park();
        }
    }
);

task!(
    fn hold_value_lock(p: (Value<u64>, Event)) -> () {
        let (value, ready) = p;
        let mut guard = value.lock().expect("lock");
        *guard = 7;
        ready.set();
        loop {
            std::thread::park();
        }
    }
);

task!(
    fn count_under_lock(p: (Lock, Value<u64>, u64)) -> () {
        let (lock, value, n) = p;
        for _ in 0..n {
            let _guard = lock.acquire().expect("acquire");
            // A read-modify-write in two separately locked steps: only the outer Lock makes
            // it atomic.
            let v = value.get();
            std::hint::black_box(v);
            value.set(v + 1);
        }
    }
);

task!(
    fn count_in_value(p: (Value<u64>, Array<f64>, u64)) -> () {
        let (value, array, n) = p;
        for _ in 0..n {
            *value.lock().expect("lock") += 1;
            let mut a = array.lock().expect("lock");
            for x in a.iter_mut() {
                *x += 0.5;
            }
        }
    }
);

task!(
    fn count_in_rlock(p: (RLock, Value<u64>, u64)) -> () {
        let (lock, value, n) = p;
        for _ in 0..n {
            let _outer = lock.acquire().expect("acquire");
            let _inner = lock.acquire().expect("reentrant acquire");
            value.set(value.get() + 1);
        }
    }
);

task!(
    fn bounded_workers(p: (Semaphore, Value<u64>, Value<u64>, u64)) -> () {
        // At most `units` inside at once: the peak of `inside` never exceeds it.
        let (sem, inside, peak, rounds) = p;
        for _ in 0..rounds {
            let _unit = sem.acquire().expect("acquire");
            let now = {
                let mut g = inside.lock().expect("lock");
                *g += 1;
                *g
            };
            {
                let mut p = peak.lock().expect("lock");
                *p = (*p).max(now);
            }
            std::thread::yield_now();
            *inside.lock().expect("lock") -= 1;
        }
    }
);

task!(
    fn wait_event_then_set(p: (Event, Event)) -> bool {
        let (go, done) = p;
        let got = go.wait_timeout(WAIT);
        done.set();
        got
    }
);

task!(
    fn wait_on_condition(p: (Condition, Value<u64>, Value<u64>)) -> bool {
        let (cond, waiting, woken) = p;
        let guard = cond.acquire().expect("acquire");
        waiting.set(waiting.get() + 1);
        let (guard, notified) = cond.wait_timeout(guard, WAIT).expect("wait");
        woken.set(woken.get() + 1);
        drop(guard);
        notified
    }
);

task!(
    fn wait_for_value(p: (Condition, Value<u64>)) -> bool {
        let (cond, value) = p;
        let guard = cond.acquire().expect("acquire");
        let (_guard, ok) = cond
            .wait_for(guard, || value.get() >= 3, Some(WAIT))
            .expect("wait_for");
        ok
    }
);

task!(
    fn barrier_wait(barrier: Barrier) -> Result<usize, String> {
        barrier.wait_timeout(WAIT).map_err(|e| e.to_string())
    }
);

task!(
    fn hammer(p: (Lock, Semaphore, Value<u64>, Event)) -> () {
        let (lock, sem, count, started) = p;
        for i in 0u64.. {
            match lock.acquire() {
                Ok(g) => drop(g),
                Err(LockError::Abandoned(g)) => drop(g),
                Err(e) => panic!("lock: {e}"),
            }
            match sem.acquire() {
                Ok(g) => drop(g),
                Err(AcquireError::Abandoned(g)) => drop(g),
                Err(e) => panic!("semaphore: {e}"),
            }
            if let Ok(mut g) | Err(AcquireError::Abandoned(mut g)) = count.lock() {
                *g += 1;
            }
            if i == 100 {
                started.set();
            }
        }
    }
);

task!(
    /// Takes and gives back `lock` as fast as it can, counting every 64th time in `count`.
    fn hammer_lock(p: (Lock, Value<u64>, Event)) -> () {
        let (lock, count, started) = p;
        for i in 0u64.. {
            match lock.acquire() {
                Ok(g) => drop(g),
                Err(LockError::Abandoned(g)) => drop(g),
                Err(e) => panic!("lock: {e}"),
            }
            if i % 64 == 0
                && let Ok(mut g) | Err(AcquireError::Abandoned(mut g)) = count.lock()
            {
                *g += 1;
            }
            if i == 1000 {
                started.set();
            }
        }
    }
);

fn main() -> std::process::ExitCode {
    supervisor_mp::init();
    let tests: &[(&str, fn())] = &[
        (
            "lock_holder_killed_waiter_gets_it",
            lock_holder_killed_waiter_gets_it,
        ),
        (
            "rlock_holder_killed_is_abandoned",
            rlock_holder_killed_is_abandoned,
        ),
        (
            "semaphore_holder_killed_returns_units",
            semaphore_holder_killed_returns_units,
        ),
        (
            "value_holder_killed_is_abandoned",
            value_holder_killed_is_abandoned,
        ),
        ("lock_counts_exactly", lock_counts_exactly),
        ("rlock_counts_exactly", rlock_counts_exactly),
        (
            "value_and_array_count_exactly",
            value_and_array_count_exactly,
        ),
        ("semaphore_bounds_concurrency", semaphore_bounds_concurrency),
        (
            "bounded_semaphore_like_python",
            bounded_semaphore_like_python,
        ),
        ("event_across_processes", event_across_processes),
        (
            "condition_notify_one_then_all",
            condition_notify_one_then_all,
        ),
        ("condition_wait_for_predicate", condition_wait_for_predicate),
        ("barrier_indices_like_python", barrier_indices_like_python),
        (
            "barrier_party_killed_breaks_it",
            barrier_party_killed_breaks_it,
        ),
        ("barrier_abort_reset_timeout", barrier_abort_reset_timeout),
        (
            "killed_at_random_points_many_times",
            killed_at_random_points_many_times,
        ),
        (
            "woken_waiter_killed_loses_no_wake_up",
            woken_waiter_killed_loses_no_wake_up,
        ),
        ("pool_tasks_share_primitives", pool_tasks_share_primitives),
        ("many_primitives_at_once", many_primitives_at_once),
        ("in_process_semantics", in_process_semantics),
        (
            "handles_of_the_wrong_kind_are_refused",
            handles_of_the_wrong_kind_are_refused,
        ),
    ];
    common::run_tests(tests)
}

/// Descriptors of this process that are segments of the primitives (memfds named
/// `supervisor-mp-*`): none may outlive the handles of a test.
fn our_memfds() -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if let Ok(target) = std::fs::read_link(entry.path()) {
            let t = target.to_string_lossy().into_owned();
            if t.starts_with("/memfd:supervisor-mp-") {
                found.push(t);
            }
        }
    }
    found
}

/// Entries in /dev/shm of this process or of a primitive (there must never be any: the
/// segments are memfds; other test binaries running at the same time may have their own).
fn our_dev_shm() -> Vec<String> {
    let me = format!("-{}-", std::process::id());
    let kinds = [
        "lock",
        "rlock",
        "semaphore",
        "event",
        "condition",
        "barrier",
        "value",
    ];
    std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    n.contains(&me)
                        || kinds
                            .iter()
                            .any(|k| n.starts_with(&format!("supervisor-mp-{k}")))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn assert_nothing_left() {
    // A process keeps the segments it sent open until they are received; it lets go of them at
    // its next create, encode or decode of a primitive.
    drop(Event::new().unwrap());
    assert_eq!(our_memfds(), Vec::<String>::new(), "segments still open");
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    assert!(
        !maps.contains("memfd:supervisor-mp-"),
        "segments still mapped"
    );
    assert_eq!(our_dev_shm(), Vec::<String>::new());
}

fn join<R: serde::de::DeserializeOwned>(p: &Process<R>) -> Result<R, supervisor_mp::ProcessError> {
    p.join_timeout(WAIT).expect("process did not end in time")
}

fn poll_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// SIGKILLs `p`, waits for it, and checks that its pid is gone from the process table.
fn kill_and_reap<R: serde::de::DeserializeOwned>(p: &Process<R>) {
    let pid = p.pid().expect("a started process has a pid");
    p.kill();
    assert!(join(p).is_err(), "a killed process has no result");
    poll_until("the killed pid to leave the process table", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
}

fn python(script: &str) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn lock_holder_killed_waiter_gets_it() {
    {
        let lock = Lock::new().unwrap();
        let ready = Event::new().unwrap();
        let holder = Process::spawn(hold_lock, (lock.clone(), ready.clone())).unwrap();
        assert!(ready.wait_timeout(WAIT));
        assert!(matches!(lock.try_acquire(), Err(LockError::Timeout)));
        // A waiter already asleep when the holder dies is woken by the kernel with the lock.
        let waiter = {
            let lock = lock.clone();
            std::thread::spawn(move || match lock.acquire_timeout(WAIT) {
                Err(LockError::Abandoned(guard)) => {
                    drop(guard);
                    "abandoned"
                }
                Ok(_) => "plain",
                Err(_) => "failed",
            })
        };
        kill_and_reap(&holder);
        assert_eq!(waiter.join().unwrap(), "abandoned");
        // Reported once: the next acquisition is a plain one.
        lock.acquire_timeout(WAIT)
            .expect("a plain lock after the abandon")
            .release();

        // And a holder killed with no one waiting: the next acquirer is told.
        ready.clear();
        let holder = Process::spawn(hold_lock, (lock.clone(), ready.clone())).unwrap();
        assert!(ready.wait_timeout(WAIT));
        kill_and_reap(&holder);
        assert!(matches!(lock.try_acquire(), Err(LockError::Abandoned(_))));
    }
    assert_nothing_left();
}

fn rlock_holder_killed_is_abandoned() {
    {
        let lock = RLock::new().unwrap();
        let ready = Event::new().unwrap();
        let holder = Process::spawn(hold_rlock_twice, (lock.clone(), ready.clone())).unwrap();
        assert!(ready.wait_timeout(WAIT));
        assert!(matches!(lock.try_acquire(), Err(AcquireError::Timeout)));
        kill_and_reap(&holder);
        let first = match lock.acquire_timeout(WAIT) {
            Err(AcquireError::Abandoned(g)) => g,
            other => panic!("expected an abandoned RLock, got {other:?}"),
        };
        // Held once now (the dead holder's count is gone) and reentrant for this thread.
        let second = lock.try_acquire().expect("reentrant");
        drop(second);
        drop(first);
        let other_thread = {
            let lock = lock.clone();
            std::thread::spawn(move || lock.try_acquire().is_ok())
        };
        assert!(other_thread.join().unwrap(), "free after both levels");
    }
    assert_nothing_left();
}

fn semaphore_holder_killed_returns_units() {
    {
        let sem = Semaphore::new(3).unwrap();
        let ready = Event::new().unwrap();
        let holder = Process::spawn(hold_semaphore, (sem.clone(), 2, ready.clone())).unwrap();
        assert!(ready.wait_timeout(WAIT));
        assert_eq!(sem.value(), 1);
        let mine = sem.try_acquire().expect("the third unit");
        assert!(matches!(sem.try_acquire(), Err(AcquireError::Timeout)));
        // A waiter asleep when the holder dies gets one of its units back.
        let waiter = {
            let sem = sem.clone();
            std::thread::spawn(move || match sem.acquire_timeout(WAIT) {
                Err(AcquireError::Abandoned(g)) => {
                    g.forget();
                    "abandoned"
                }
                Ok(_) => "plain",
                Err(AcquireError::Timeout) => "timeout",
            })
        };
        kill_and_reap(&holder);
        assert_eq!(waiter.join().unwrap(), "abandoned");
        // The second unit of the dead holder: reported as abandoned too, then plain units.
        let second = match sem.acquire_timeout(WAIT) {
            Err(AcquireError::Abandoned(g)) => g,
            other => panic!("expected the second abandoned unit, got {other:?}"),
        };
        drop(second);
        drop(mine);
        // The waiter forgot its unit (Python's acquire without release): 2 of 3 are free.
        assert_eq!(sem.value(), 2);
        sem.release();
        assert_eq!(sem.value(), 3);
        let all: Vec<_> = (0..3).map(|_| sem.try_acquire().expect("plain")).collect();
        assert!(matches!(sem.try_acquire(), Err(AcquireError::Timeout)));
        drop(all);
    }
    assert_nothing_left();
}

fn value_holder_killed_is_abandoned() {
    {
        let value = Value::new(0u64).unwrap();
        let ready = Event::new().unwrap();
        let holder = Process::spawn(hold_value_lock, (value.clone(), ready.clone())).unwrap();
        assert!(ready.wait_timeout(WAIT));
        assert!(matches!(
            value.lock_timeout(Duration::ZERO),
            Err(AcquireError::Timeout)
        ));
        kill_and_reap(&holder);
        match value.lock_timeout(WAIT) {
            Err(AcquireError::Abandoned(mut g)) => {
                assert_eq!(*g, 7, "what the dead holder wrote is there");
                *g = 8;
            }
            other => panic!("expected an abandoned value lock, got {other:?}"),
        }
        assert_eq!(value.get(), 8);
    }
    assert_nothing_left();
}

fn lock_counts_exactly() {
    {
        let (n, m) = (4, 5_000);
        let lock = Lock::new().unwrap();
        let value = Value::new(0u64).unwrap();
        let procs: Vec<_> = (0..n)
            .map(|_| Process::spawn(count_under_lock, (lock.clone(), value.clone(), m)).unwrap())
            .collect();
        for p in &procs {
            join(p).unwrap();
        }
        assert_eq!(value.get(), n * m);
    }
    assert_nothing_left();
}

fn rlock_counts_exactly() {
    {
        let (n, m) = (3, 3_000);
        let lock = RLock::new().unwrap();
        let value = Value::new(0u64).unwrap();
        let procs: Vec<_> = (0..n)
            .map(|_| Process::spawn(count_in_rlock, (lock.clone(), value.clone(), m)).unwrap())
            .collect();
        for p in &procs {
            join(p).unwrap();
        }
        assert_eq!(value.get(), n * m);
    }
    assert_nothing_left();
}

fn value_and_array_count_exactly() {
    {
        let (n, m) = (4, 5_000u64);
        let value = Value::new(0u64).unwrap();
        let array = Array::<f64>::new(3).unwrap();
        let procs: Vec<_> = (0..n)
            .map(|_| Process::spawn(count_in_value, (value.clone(), array.clone(), m)).unwrap())
            .collect();
        for p in &procs {
            join(p).unwrap();
        }
        assert_eq!(value.get(), n * m);
        let each = (n * m) as f64 * 0.5;
        assert_eq!(array.to_vec(), vec![each; 3]);
    }
    assert_nothing_left();
}

fn semaphore_bounds_concurrency() {
    {
        let sem = Semaphore::new(2).unwrap();
        let inside = Value::new(0u64).unwrap();
        let peak = Value::new(0u64).unwrap();
        let procs: Vec<_> = (0..4)
            .map(|_| {
                let arg = (sem.clone(), inside.clone(), peak.clone(), 500);
                Process::spawn(bounded_workers, arg).unwrap()
            })
            .collect();
        for p in &procs {
            join(p).unwrap();
        }
        assert_eq!(inside.get(), 0);
        assert!((1..=2).contains(&peak.get()), "peak {}", peak.get());
        assert_eq!(sem.value(), 2);
    }
    assert_nothing_left();
}

fn bounded_semaphore_like_python() {
    let py = python(
        "import multiprocessing as mp\n\
         s = mp.BoundedSemaphore(2)\n\
         s.acquire(); s.release()\n\
         try:\n    s.release()\n    print('ok')\n\
         except ValueError as e:\n    print('ValueError:', e)\n\
         t = mp.Semaphore(2)\n\
         t.release(); print('semaphore value', t.get_value())\n",
    );
    {
        let s = BoundedSemaphore::new(2).unwrap();
        s.acquire().unwrap().release();
        let ours = match s.release() {
            Ok(()) => "ok".to_string(),
            Err(e @ ReleasedTooManyTimes) => format!("ValueError: {e}"),
        };
        // A unit taken Python-style (no guard) may be released once, then no more.
        s.acquire().unwrap().forget();
        assert_eq!(s.value(), 1);
        assert_eq!(s.release(), Ok(()));
        assert_eq!(s.release(), Err(ReleasedTooManyTimes));
        let t = Semaphore::new(2).unwrap();
        t.release();
        let ours = format!("{ours}\nsemaphore value {}\n", t.value());
        assert_eq!(ours, py);
    }
    assert_nothing_left();
}

fn event_across_processes() {
    {
        let go = Event::new().unwrap();
        let done = Event::new().unwrap();
        let child = Process::spawn(wait_event_then_set, (go.clone(), done.clone())).unwrap();
        assert!(!done.wait_timeout(Duration::from_millis(50)), "not yet");
        assert!(!go.is_set());
        go.set();
        assert!(done.wait_timeout(WAIT));
        assert!(join(&child).unwrap(), "the child saw the event");
        go.clear();
        assert!(!go.is_set());
        assert!(!go.wait_timeout(Duration::from_millis(20)));
    }
    assert_nothing_left();
}

fn condition_notify_one_then_all() {
    {
        let cond = Condition::new().unwrap();
        let waiting = Value::new(0u64).unwrap();
        let woken = Value::new(0u64).unwrap();
        let procs: Vec<_> = (0..3)
            .map(|_| {
                let arg = (cond.clone(), waiting.clone(), woken.clone());
                Process::spawn(wait_on_condition, arg).unwrap()
            })
            .collect();
        // Each waiter counts itself with the lock held and waits (releasing it): once the
        // count is 3 under the lock, all three are asleep in `wait`.
        poll_until("three waiters", || {
            let _g = cond.acquire().unwrap();
            waiting.get() == 3
        });
        {
            let g = cond.acquire().unwrap();
            cond.notify(&g);
        }
        poll_until("one waiter to wake", || woken.get() >= 1);
        // Exactly one: give a wrong second wake-up time to show, then wake the rest.
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(woken.get(), 1, "notify() woke more than one waiter");
        {
            let g = cond.acquire().unwrap();
            cond.notify_all(&g);
        }
        for p in &procs {
            assert!(
                join(p).unwrap(),
                "every waiter was notified, none timed out"
            );
        }
        assert_eq!(woken.get(), 3);
        // With nobody waiting, a wait with a timeout reports the timeout, lock held again.
        let g = cond.acquire().unwrap();
        let (g, notified) = cond.wait_timeout(g, Duration::from_millis(20)).unwrap();
        assert!(!notified);
        drop(g);
    }
    assert_nothing_left();
}

fn condition_wait_for_predicate() {
    {
        let cond = Condition::new().unwrap();
        let value = Value::new(0u64).unwrap();
        let child = Process::spawn(wait_for_value, (cond.clone(), value.clone())).unwrap();
        for _ in 0..3 {
            let g = cond.acquire().unwrap();
            value.set(value.get() + 1);
            cond.notify_all(&g);
        }
        assert!(join(&child).unwrap());
        let g = cond.acquire().unwrap();
        let (_g, ok) = cond
            .wait_for(g, || value.get() > 10, Some(Duration::from_millis(20)))
            .unwrap();
        assert!(
            !ok,
            "wait_for returns the predicate's last value on a timeout"
        );
    }
    assert_nothing_left();
}

fn barrier_indices_like_python() {
    let py = python(
        "import multiprocessing as mp\n\
         def f(b, q):\n    q.put(b.wait(20))\n\
         if __name__ == '__main__':\n\
         \x20   b = mp.Barrier(4); q = mp.Queue()\n\
         \x20   ps = [mp.Process(target=f, args=(b, q)) for _ in range(3)]\n\
         \x20   [p.start() for p in ps]\n\
         \x20   got = [b.wait(20)] + [q.get(timeout=20) for _ in ps]\n\
         \x20   [p.join() for p in ps]\n\
         \x20   print(sorted(got), b.n_waiting, b.broken)\n",
    );
    {
        let barrier = Barrier::new(4).unwrap();
        let procs: Vec<_> = (0..3)
            .map(|_| Process::spawn(barrier_wait, barrier.clone()).unwrap())
            .collect();
        let mut got = vec![barrier.wait_timeout(WAIT).unwrap()];
        for p in &procs {
            got.push(join(p).unwrap().unwrap());
        }
        got.sort_unstable();
        let ours = format!(
            "{got:?} {} {}\n",
            barrier.n_waiting(),
            if barrier.broken() { "True" } else { "False" }
        );
        assert_eq!(ours, py);
        // Reusable: a second round trips too.
        let procs: Vec<_> = (0..3)
            .map(|_| Process::spawn(barrier_wait, barrier.clone()).unwrap())
            .collect();
        barrier.wait_timeout(WAIT).unwrap();
        for p in &procs {
            join(p).unwrap().unwrap();
        }
    }
    assert_nothing_left();
}

fn barrier_party_killed_breaks_it() {
    {
        let barrier = Barrier::new(3).unwrap();
        let doomed = Process::spawn(barrier_wait, barrier.clone()).unwrap();
        let survivor = Process::spawn(barrier_wait, barrier.clone()).unwrap();
        poll_until("two waiting parties", || barrier.n_waiting() == 2);
        kill_and_reap(&doomed);
        assert_eq!(
            join(&survivor).unwrap(),
            Err(BrokenBarrier.to_string()),
            "the survivor is released with BrokenBarrier, not left waiting"
        );
        assert!(barrier.broken());
        assert_eq!(barrier.wait_timeout(WAIT), Err(BrokenBarrier));
        barrier.reset();
        assert!(!barrier.broken());
        let procs: Vec<_> = (0..2)
            .map(|_| Process::spawn(barrier_wait, barrier.clone()).unwrap())
            .collect();
        barrier.wait_timeout(WAIT).expect("usable after reset");
        for p in &procs {
            join(p).unwrap().unwrap();
        }
    }
    assert_nothing_left();
}

fn barrier_abort_reset_timeout() {
    let py = python(
        "import threading, multiprocessing as mp\n\
         b = mp.Barrier(2)\n\
         try:\n    b.wait(0.05)\nexcept threading.BrokenBarrierError:\n    print('timeout: broken', b.broken)\n\
         b.reset(); print('reset: broken', b.broken)\n\
         b.abort()\n\
         try:\n    b.wait(5)\nexcept threading.BrokenBarrierError:\n    print('abort: broken', b.broken)\n",
    );
    {
        let b = Barrier::new(2).unwrap();
        let mut ours = String::new();
        let py_bool = |x: bool| if x { "True" } else { "False" };
        if b.wait_timeout(Duration::from_millis(50)) == Err(BrokenBarrier) {
            ours += &format!("timeout: broken {}\n", py_bool(b.broken()));
        }
        b.reset();
        ours += &format!("reset: broken {}\n", py_bool(b.broken()));
        b.abort();
        if b.wait_timeout(Duration::from_secs(5)) == Err(BrokenBarrier) {
            ours += &format!("abort: broken {}\n", py_bool(b.broken()));
        }
        assert_eq!(ours, py);
        // A party waiting when another resets it is released with BrokenBarrier.
        b.reset();
        let waiter = {
            let b = b.clone();
            std::thread::spawn(move || b.wait_timeout(WAIT))
        };
        poll_until("a waiting party", || b.n_waiting() == 1);
        b.reset();
        assert_eq!(waiter.join().unwrap(), Err(BrokenBarrier));
        assert_eq!(b.parties(), 2);
    }
    assert_nothing_left();
}

/// A seed from the clock (printed in failure messages, for reruns) and a small PRNG
/// (xorshift64) seeded with it: random kill points.
fn random_points() -> (u64, impl FnMut() -> u64) {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = seed;
    let next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    (seed, next)
}

/// Two processes hammer a Lock, a Semaphore(1) and a Value; one of them is SIGKILLed at a
/// random moment, many times over: after each kill every primitive is still usable, none is
/// lost (the semaphore is back to one free unit) and the survivor goes on.
fn killed_at_random_points_many_times() {
    let (seed, mut next) = random_points();
    {
        let lock = Lock::new().unwrap();
        let sem = Semaphore::new(1).unwrap();
        let count = Value::new(0u64).unwrap();
        let spawn = || {
            let started = Event::new().unwrap();
            let arg = (lock.clone(), sem.clone(), count.clone(), started.clone());
            let p = Process::spawn(hammer, arg).unwrap();
            assert!(
                started.wait_timeout(WAIT),
                "seed {seed}: the hammer did not start"
            );
            p
        };
        let mut survivor = spawn();
        for _ in 0..25 {
            let victim = spawn();
            std::thread::sleep(Duration::from_micros(next() % 5_000));
            // Either of the two dies.
            let (dead, alive) = if next() % 2 == 0 {
                (victim, survivor)
            } else {
                (survivor, victim)
            };
            kill_and_reap(&dead);
            survivor = alive;
            let before = count.get();
            poll_until("the survivor to go on", || count.get() > before + 100);
        }
        kill_and_reap(&survivor);
        // Nothing is held now: each primitive gives itself up (maybe as abandoned) at once.
        assert!(
            matches!(
                lock.acquire_timeout(WAIT),
                Ok(_) | Err(LockError::Abandoned(_))
            ),
            "seed {seed}"
        );
        let unit = sem.acquire_timeout(WAIT);
        assert!(
            matches!(unit, Ok(_) | Err(AcquireError::Abandoned(_))),
            "seed {seed}: {unit:?}"
        );
        drop(unit);
        assert_eq!(sem.value(), 1, "seed {seed}: a unit was lost");
        let value_lock = count.lock_timeout(WAIT);
        assert!(
            matches!(value_lock, Ok(_) | Err(AcquireError::Abandoned(_))),
            "seed {seed}: {value_lock:?}"
        );
        drop(value_lock);
        assert!(count.get() > 0, "seed {seed}");
    }
    assert_nothing_left();
}

/// Three processes hammer one lock; two are SIGKILLed, and the third must go on. This is the
/// race where glibc's robust mutex alone loses a wake-up: the waiter woken by an unlock is
/// killed before it takes the lock, another process takes it meanwhile (without the waiters
/// flag), and the kernel wakes nobody for the killed waiter, so the third would sleep forever
/// in an untimed wait (a few rounds in a hundred hit it). Waits in slices recover.
fn woken_waiter_killed_loses_no_wake_up() {
    let (seed, mut next) = random_points();
    {
        let lock = Lock::new().unwrap();
        let count = Value::new(0u64).unwrap();
        let spawn = || {
            let started = Event::new().unwrap();
            let arg = (lock.clone(), count.clone(), started.clone());
            let p = Process::spawn(hammer_lock, arg).unwrap();
            assert!(
                started.wait_timeout(WAIT),
                "seed {seed}: the hammer did not start"
            );
            p
        };
        for round in 0..150 {
            let mut three = [spawn(), spawn(), spawn()];
            three.rotate_left((next() % 3) as usize);
            let [first, second, third] = three;
            std::thread::sleep(Duration::from_micros(next() % 3_000));
            kill_and_reap(&first);
            std::thread::sleep(Duration::from_micros(next() % 3_000));
            kill_and_reap(&second);
            let before = count.get();
            poll_until(
                &format!("seed {seed} round {round}: the third to go on"),
                || count.get() > before + 10,
            );
            kill_and_reap(&third);
        }
    }
    assert_nothing_left();
}

/// Handles as arguments of Pool tasks: each task decodes its own copy (the worker reuses the
/// mapping); the handles given to `map` are dropped by the caller before the workers start.
fn pool_tasks_share_primitives() {
    {
        let lock = Lock::new().unwrap();
        let value = Value::new(0u64).unwrap();
        let pool = supervisor_mp::Pool::new(2).unwrap();
        let args: Vec<_> = (0..8).map(|_| (lock.clone(), value.clone(), 250)).collect();
        drop((lock, value.clone()));
        let results = pool.map(count_under_lock, args).unwrap();
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(value.get(), 8 * 250);
        drop(pool);
    }
    assert_nothing_left();
}

task!(
    fn many_locks(n: usize) -> (u64, usize) {
        // This worker's own soft limit, lowered to the common default of 1024.
        use nix::sys::resource::{Resource, getrlimit, setrlimit};
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        setrlimit(Resource::RLIMIT_NOFILE, 1024, hard).unwrap();
        let locks: Vec<Lock> = (0..n).map(|_| Lock::new().expect("Lock::new")).collect();
        let guards: Vec<_> = locks.iter().map(|l| l.try_acquire().unwrap()).collect();
        assert!(matches!(
            locks[n - 1].try_acquire(),
            Err(LockError::Timeout)
        ));
        drop(guards);
        (getrlimit(Resource::RLIMIT_NOFILE).unwrap().0, locks.len())
    }
);

/// More primitives than a soft limit of 1024 descriptors (each keeps one), in a worker: the
/// limit is raised to the hard one when it runs out (skipped where the hard limit is low).
fn many_primitives_at_once() {
    use nix::sys::resource::{Resource, getrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if hard < 4096 {
        eprintln!("many_primitives_at_once: skipped, the hard descriptor limit is {hard}");
        return;
    }
    let worker = Process::spawn(many_locks, 2000).unwrap();
    let (soft_after, made) = join(&worker).unwrap();
    assert_eq!(made, 2000);
    assert_eq!(
        soft_after, hard,
        "the soft limit was raised to the hard one"
    );
}

fn in_process_semantics() {
    {
        // Lock: not reentrant (a second acquire in the holding thread times out), released on
        // drop; a timeout waits at least that long.
        let lock = Lock::new().unwrap();
        let g = lock.acquire().unwrap();
        let start = Instant::now();
        assert!(matches!(
            lock.acquire_timeout(Duration::from_millis(30)),
            Err(LockError::Timeout)
        ));
        assert!(start.elapsed() >= Duration::from_millis(30));
        drop(g);
        drop(lock.try_acquire().unwrap());
        // Value / Array basics.
        let v = Value::new(1.5f64).unwrap();
        v.set(2.5);
        assert_eq!(v.get(), 2.5);
        let a = Array::from_slice(&[1i32, 2, 3, 4, 5]).unwrap();
        assert_eq!(a.len(), 5);
        assert_eq!(a.get(1), Some(2));
        assert_eq!(a.get(5), None);
        a.set(0, 10);
        assert_eq!(a.slice(1..3), vec![2, 3]);
        a.write(3, &[40, 50]);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![10, 2, 3, 40, 50]);
        assert_eq!((&a).into_iter().sum::<i32>(), 105);
        {
            let mut g = a.lock().unwrap();
            g[2..].iter_mut().for_each(|x| *x = 0);
            assert_eq!(&g[..], &[10, 2, 0, 0, 0]);
        }
        assert_eq!(a.to_vec(), vec![10, 2, 0, 0, 0]);
        let zeros = Array::<u64>::new(4).unwrap();
        assert_eq!(zeros.to_vec(), vec![0; 4]);
        // A value's own thread holding its guard cannot deadlock on get(): it panics instead.
        let held = v.lock().unwrap();
        let v2 = v.clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| v2.get()));
        assert!(r.is_err());
        drop(held);
        assert_eq!(v.get(), 2.5);
    }
    assert_nothing_left();
}

fn handles_of_the_wrong_kind_are_refused() {
    let cfg = bincode::config::standard();
    {
        let lock = Lock::new().unwrap();
        let bytes = bincode::serde::encode_to_vec(&lock, cfg).unwrap();
        // The same lock, decoded in this process: a second mapping of the same memory.
        let (again, _): (Lock, _) = bincode::serde::decode_from_slice(&bytes, cfg).unwrap();
        let g = again.acquire().unwrap();
        assert!(matches!(lock.try_acquire(), Err(LockError::Timeout)));
        drop(g);
        assert!(bincode::serde::decode_from_slice::<Semaphore, _>(&bytes, cfg).is_err());
        let value = Value::new(1u32).unwrap();
        let bytes = bincode::serde::encode_to_vec(&value, cfg).unwrap();
        assert!(bincode::serde::decode_from_slice::<Value<f32>, _>(&bytes, cfg).is_err());
        assert!(bincode::serde::decode_from_slice::<Value<u32>, _>(&bytes, cfg).is_ok());
        let sem = BoundedSemaphore::new(1).unwrap();
        let bytes = bincode::serde::encode_to_vec(&sem, cfg).unwrap();
        assert!(bincode::serde::decode_from_slice::<Semaphore, _>(&bytes, cfg).is_err());
        drop((lock, again));
        // A handle moved into a call and dropped by the sender before the receiver decodes it
        // still works: the sender keeps the segment until it is received...
        let lock = Lock::new().unwrap();
        let bytes = bincode::serde::encode_to_vec(&lock, cfg).unwrap();
        drop(lock);
        let (received, _): (Lock, _) = bincode::serde::decode_from_slice(&bytes, cfg).unwrap();
        drop(received);
        // ...and not longer: once it was received and every handle is gone, it fails cleanly.
        assert!(bincode::serde::decode_from_slice::<Lock, _>(&bytes, cfg).is_err());
    }
    assert_nothing_left();
}
