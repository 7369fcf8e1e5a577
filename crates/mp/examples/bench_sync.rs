//! The primitives' speed, the same program as `scripts/mp_bench_sync.py` (CPython's
//! `multiprocessing`): in one child process, N uncontended acquire/release pairs of a `Lock`,
//! an `RLock`, a `Semaphore`, and N `+= 1` under a `Value`'s lock; each loop timed inside the
//! child, three times, the fastest reported.
//!
//! ```text
//! cargo run --release -p supervisor-mp --example bench_sync -- [N]   (default 1,000,000)
//! ```
//!
//! Prints one line per primitive: `NAME: N ops in S s: R ops/s`.

use std::time::Instant;
use supervisor_mp::{Lock, Process, RLock, Semaphore, Value, task};

/// Each primitive's loop runs this many times; the fastest counts (the machine's other load
/// preempts some runs; the same rule in the Python program).
const REPEAT: usize = 3;

/// The fastest of [`REPEAT`] runs of `f`, in seconds.
fn best(mut f: impl FnMut()) -> f64 {
    (0..REPEAT)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

task!(
    fn run_all(p: (Lock, RLock, Semaphore, Value<i64>, u64)) -> Vec<(String, f64)> {
        let (lock, rlock, sem, value, n) = p;
        let lock_s = best(|| {
            for _ in 0..n {
                drop(lock.acquire().expect("lock"));
            }
        });
        let rlock_s = best(|| {
            for _ in 0..n {
                drop(rlock.acquire().expect("rlock"));
            }
        });
        let sem_s = best(|| {
            for _ in 0..n {
                drop(sem.acquire().expect("semaphore"));
            }
        });
        let value_s = best(|| {
            for _ in 0..n {
                *value.lock().expect("value") += 1;
            }
        });
        assert_eq!(value.get(), (REPEAT as u64 * n) as i64);
        vec![
            ("lock".to_string(), lock_s),
            ("rlock".to_string(), rlock_s),
            ("semaphore".to_string(), sem_s),
            ("value".to_string(), value_s),
        ]
    }
);

fn main() {
    supervisor_mp::init();
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| {
            s.replace(['_', ','], "")
                .parse()
                .expect("N must be a number")
        })
        .unwrap_or(1_000_000);
    let arg = (
        Lock::new().expect("lock"),
        RLock::new().expect("rlock"),
        Semaphore::new(1).expect("semaphore"),
        Value::new(0i64).expect("value"),
        n,
    );
    let child = Process::spawn(run_all, arg).expect("spawn");
    for (name, secs) in child.join().expect("the child's result") {
        println!(
            "{name}: {n} ops in {secs:.4} s: {:.0} ops/s",
            n as f64 / secs
        );
    }
}
